"""The benchmark's verdicts: bench/targets.py (the speed issue's targets, the need-to-know table),
the report's new sections and bench/cpu.py's counter deltas, on hand-made results. No timing."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from bench import metrics as prom
from bench import report, targets
from bench.cpu import sidecar_counts

REPO = Path(__file__).resolve().parents[1]


def _counts(requests: float, opa: float, writes: float, hit: float, miss: float, lookups: float = 0.0,
            rel_hit: float = 0.0, rel_miss: float = 0.0) -> dict[str, float]:
    return {"requests": requests, "opa_calls": opa, "record_writes": writes, "records": 2 * writes,
            "request_phase_hit": hit, "request_phase_miss": miss, "relation_lookups": lookups,
            "relation_cache_hit": rel_hit, "relation_cache_miss": rel_miss}


def _scenario(key: str, *, rate: float, added: tuple[float, float], counts: dict[str, float] | None = None,
              **extra: Any) -> dict[str, Any]:
    n = (counts or {}).get("requests", 100.0)
    s: dict[str, Any] = {
        "key": key, "title": key, "group": "main", "rate": rate, "extra": {},
        "added_ms": {"p50": added[0], "p90": added[1], "p99": added[1]},
        "open_loop": {"targets": {"direct": {"latency_ms": {"p50": 2.0, "p99": 5.0}},
                                  "sidecar": {"latency_ms": {"p50": 2.0 + added[0], "p99": 5.0 + added[1]}}}},
        "sidecar_metrics": {"requests": n, "opa_calls_per_request": 1.0, "record_writes_per_request": 1.0,
                            "opa_ms": {"count": n, "mean": 2.0, "p50": 1.5, "p99": 6.0},
                            "record_write_ms": {"count": n, "mean": 0.5, "p50": 0.4, "p99": 2.0},
                            "records_written": 2 * n, "request_ms": {"count": n, "p50": 6.0},
                            "histograms": {"opa": {"count": n, "sum": n * 0.002},
                                           "record_write": {"count": n, "sum": n * 0.0005}},
                            "counts": counts or _counts(n, n, n, n, 0)},
    }
    s.update(extra)
    return s


def _case(key: str, wall: float, cpu: dict[str, float], sidecar: dict[str, float] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"key": key, "case": key.replace("_", " "), "requests": 100, "wall_ms": wall, "cpu_ms": cpu}
    if sidecar is not None:
        out["sidecar"] = sidecar
    return out


def good_doc() -> dict[str, Any]:
    """A run in which every speed target is met."""
    read_allow = _scenario(
        "read_allow", rate=200, added=(2.0, 9.0), counts=_counts(1000, 1004, 1000, 996, 4),
        cpu_ms_per_sidecar_request={"sidecar": 2.0, "opa": 1.0}, floor_cpu_ms_per_request=1.6,
        max_throughput={"tool": "wrk", "targets": {"direct": {"throughput_rps": 1000.0},
                                                   "sidecar": {"throughput_rps": 330.0},
                                                   "floor": {"throughput_rps": 500.0}}})
    read_50 = _scenario("read_allow_50", rate=50, added=(2.4, 8.0), counts=_counts(250, 251, 250, 249, 1),
                        floor_added_ms={"p50": 1.2, "p90": 3.0, "p99": 5.0})
    list_0 = _scenario("list_0", rate=5, added=(4.0, 8.0), extra={"items": 0, "released": 0})
    list_50 = _scenario("list_50", rate=5, added=(9.0, 20.0), extra={"items": 50, "released": 40})
    batch = {"key": "opa_batch_50", "title": "batch", "group": "opa", "rate": 5,
             "open_loop": {"targets": {"opa": {"latency_ms": {"p50": 4.0, "p99": 9.0}}}}}
    cold_read = _scenario("read_cold", rate=10, added=(30.0, 60.0),
                          counts=_counts(80, 80, 80, 80, 0, lookups=720, rel_miss=560),
                          warm_added_ms={"p50": 6.0, "p90": 8.0, "p99": 9.0},
                          warm_counts=_counts(80, 80, 80, 80, 0, rel_hit=560))
    seq = [
        _case("read_direct", 2.0, {"upstream": 1.5}),
        _case("read_floor", 3.0, {"passthrough": 1.5, "upstream": 1.5}),
        _case("read_sidecar", 8.0, {"sidecar": 2.0, "opa": 0.9, "upstream": 1.5},
              _counts(100, 100, 100, 100, 0, rel_hit=700)),
        _case("read_cold", 40.0, {"sidecar_cold": 10.0, "opa": 0.9, "upstream": 20.0},
              _counts(100, 100, 100, 100, 0, lookups=900, rel_miss=700)),
    ]
    return {"date": "2026-12-01", "generated": "x", "quick": False, "duration_s": 1.0,
            "machine": {"nproc": 2, "cpu_model": "test", "mem_total_mb": 1, "kernel": "k", "python": "3",
                        "opa": "Version: 1", "gunicorn": "1", "git_commit": "0" * 40, "sidecar_workers": 2,
                        "sidecar_threads": 8, "upstream": "u", "opa_pinned": "1"},
            "opa_bench": {"batch_50": {"eval_median_us": 1500.0}},
            "rss_per_worker": [{"pid": 1, "rss_kb": 80 * 1024, "hwm_kb": 90 * 1024, "pss_kb": 1}],
            "fsync_floor": [], "scenarios": [read_allow, read_50, list_0, list_50, batch, cold_read],
            "sequential": seq}


def _verdicts(doc: dict[str, Any]) -> dict[str, targets.Target]:
    return {t.name: t for t in targets.speed_targets(doc)}


def test_every_speed_target_is_checked_and_met_on_a_good_run() -> None:
    found = targets.speed_targets(good_doc())
    assert len(found) == 7
    assert [t.met for t in found] == [True] * 7, [(t.name, t.measured) for t in found]
    assert all(not t.in_the_way for t in found)
    by = {t.name: t for t in found}
    # The steady state sums both single-read scenarios: 1255 decisions for 1250 reads.
    assert by["OPA decisions per single-object read (steady state)"].measured.startswith("1.004 (1250 reads")
    cpu = by["(sidecar + OPA) CPU per single-object read, against the pass-through floor's"]
    assert cpu.measured.startswith("1.93 ")  # (2.0 + 0.9) / 1.5
    assert "66 % of the floor's" in by["max throughput through the sidecar, single-object read"].measured
    doc = good_doc()
    mt = doc["scenarios"][0]["max_throughput"]["targets"]
    mt["sidecar"]["rounds"], mt["floor"]["rounds"] = [300.0, 360.0], [500.0, 500.0]
    name = "max throughput through the sidecar, single-object read"
    assert "round by round 60, 72 %" in _verdicts(doc)[name].measured


def test_each_target_misses_with_the_cost_in_the_way() -> None:
    doc = good_doc()
    k = {s["key"]: s for s in doc["scenarios"]}
    k["read_allow"]["sidecar_metrics"]["counts"] = _counts(1000, 2000, 2000, 0, 1000)  # no cache at all
    k["read_allow_50"]["sidecar_metrics"]["counts"] = _counts(250, 500, 500, 0, 250)
    doc["sequential"][2]["cpu_ms"] = {"sidecar": 4.0, "opa": 2.0, "upstream": 1.5}
    k["read_allow"]["max_throughput"]["targets"]["sidecar"]["throughput_rps"] = 200.0
    k["list_50"]["added_ms"]["p50"] = 14.0  # 10 ms response phase against a 4 ms batch call
    k["read_allow_50"]["added_ms"]["p50"] = 6.0
    doc["rss_per_worker"][0]["rss_kb"] = 120 * 1024
    found = targets.speed_targets(doc)
    assert [t.met for t in found] == [False] * 7
    by = {t.name: t for t in found}
    assert "1.000 request-phase cache misses per read" in by[
        "OPA decisions per single-object read (steady state)"].in_the_way
    assert "over the budget of 3.00 ms" in by[
        "(sidecar + OPA) CPU per single-object read, against the pass-through floor's"].in_the_way
    # (floor 1.5 + upstream 1.5) / (sidecar 4 + OPA 2 + upstream 1.5)
    assert "caps the ratio near 40 %" in by["max throughput through the sidecar, single-object read"].in_the_way
    assert "the batch decision" in by["list of 50: what the response phase adds"].in_the_way
    assert "the OPA call" in by["added latency p50, single-object read at 50/s"].in_the_way
    assert by["RSS per sidecar worker (VmRSS at the end of the run)"].in_the_way == "10 MB over"


def test_list_target_with_the_wasm_engine_is_against_its_in_process_batch_evaluation() -> None:
    """With opa.engine: wasm the sidecar pays no OPA round trip, so the bound is the engine's own
    batch evaluation measured in the same run (wasm_eval), not the REST call's 4 ms."""
    name = "list of 50: what the response phase adds"
    doc = good_doc()
    doc["machine"]["engine"] = "wasm"
    doc["wasm_eval"] = {"batch_50": {"n": 500, "p50_ms": 2.0, "p99_ms": 3.0, "cpu_ms": 2.0}}
    t = _verdicts(doc)[name]  # 5 ms response phase against a 2 ms evaluation
    assert t.met is False and "in-process" in t.bound
    assert t.measured.startswith("5.00 ms = 2.50 \u00d7 the in-process batch evaluation's 2.00 ms")
    assert "the batch decision" in t.in_the_way and "opa bench" not in t.in_the_way
    assert "a 50-item batch: p50 2.000 ms, p99 3.000 ms, 2.000 ms CPU per decision (500 decisions)" \
        in report._opa_bench_text(doc)
    doc["wasm_eval"]["batch_50"]["p50_ms"] = 4.0
    assert _verdicts(doc)[name].met is True
    del doc["wasm_eval"]
    t = _verdicts(doc)[name]
    assert t.met is None and "wasm_eval" in t.measured


def test_steady_state_slack_is_only_the_request_phase_refills() -> None:
    doc = good_doc()
    k = {s["key"]: s for s in doc["scenarios"]}
    k["read_allow"]["sidecar_metrics"]["counts"] = _counts(1000, 1030, 1000, 970, 30)
    k["read_allow_50"]["sidecar_metrics"]["counts"] = _counts(250, 250, 250, 250, 0)
    t = _verdicts(doc)["OPA decisions per single-object read (steady state)"]
    assert t.met is False  # 1.024 > 1.02


def test_a_run_without_a_piece_says_not_measured() -> None:
    doc = good_doc()
    doc["sequential"] = []
    doc["scenarios"] = [s for s in doc["scenarios"] if s["key"] not in ("list_0", "read_allow_50")]
    by = _verdicts(doc)
    for name in ("(sidecar + OPA) CPU per single-object read, against the pass-through floor's",
                 "list of 50: what the response phase adds", "added latency p50, single-object read at 50/s"):
        assert by[name].met is None and by[name].measured.startswith("not measured")
    # The steady state is still there from the read that was measured.
    assert by["OPA decisions per single-object read (steady state)"].met is True


def test_need_to_know_rows_warm_and_cold() -> None:
    rows = {(r["request"], r["caches"]): r for r in targets.need_to_know(good_doc())}
    warm, cold = rows[("single-object read", "warm")], rows[("single-object read", "cold")]
    assert warm["lookups"] == 0 and warm["hits"] == 7 and warm["misses"] == 0
    assert cold["lookups"] == 9 and cold["misses"] == 7 and cold["sidecar_cpu_ms"] == 10.0
    # Under load: both from the cold scenario's rounds (warm target beside the cold one).
    assert warm["added_p50"] == 6.0 and cold["added_p50"] == 30.0
    assert cold["loaded_lookups"] == 9 and warm["loaded_lookups"] == 0
    table = targets.need_to_know_table(good_doc())
    assert "| single-object read | cold | 9.00 | 0.00 / 7.00 |" in table
    assert "| 20.00 (+18.50) |" in table  # the upstream answering the look-ups


def test_report_renders_the_new_sections() -> None:
    page = report.render(good_doc())
    for heading in ("## Targets (speed issue)", "## Need-to-know: what relations cost", "## One request at a time",
                    "## Absolute bounds (issue 7)"):
        assert heading in page
    assert "| read sidecar | 100 | 8.00 |" in page


def test_report_still_renders_a_results_file_from_before() -> None:
    """bench/results/ keeps older runs; `make bench-report` must render them (targets then say what
    that run did not measure)."""
    old = sorted((REPO / "bench" / "results").glob("????-??-??.json"))[0]
    doc = json.loads(old.read_text())
    page = report.render(copy.deepcopy(doc))
    assert "## Targets (speed issue)" in page and "not measured" in page


def test_sidecar_counts_are_deltas_of_the_sidecar_metrics() -> None:
    before = prom.parse("""
sidecar_requests_total{route="documenten",status_class="2xx"} 10
sidecar_opa_request_duration_seconds_count 12
sidecar_record_write_duration_seconds_count 10
sidecar_records_written_total 20
sidecar_request_phase_cache_total{result="hit"} 8
sidecar_request_phase_cache_total{result="miss"} 2
sidecar_relation_lookups_total 9
sidecar_relation_cache_total{cache="caller",result="miss"} 1
sidecar_relation_cache_total{cache="zaak_documents",result="miss"} 6
""")
    after = prom.parse("""
sidecar_requests_total{route="documenten",status_class="2xx"} 15
sidecar_requests_total{route="documenten",status_class="4xx"} 5
sidecar_opa_request_duration_seconds_count 22
sidecar_record_write_duration_seconds_count 20
sidecar_records_written_total 40
sidecar_request_phase_cache_total{result="hit"} 18
sidecar_request_phase_cache_total{result="miss"} 2
sidecar_relation_lookups_total 9
sidecar_relation_cache_total{cache="caller",result="hit"} 10
sidecar_relation_cache_total{cache="caller",result="miss"} 1
sidecar_relation_cache_total{cache="zaak_documents",result="hit"} 60
sidecar_relation_cache_total{cache="zaak_documents",result="miss"} 6
""")
    c = sidecar_counts(before, after)
    assert c == {"requests": 10, "opa_calls": 10, "record_writes": 10, "records": 20, "request_phase_hit": 10,
                 "request_phase_miss": 0, "relation_lookups": 0, "relation_cache_hit": 70,
                 "relation_cache_miss": 0}


@pytest.mark.parametrize("missing", ["read_floor", "read_sidecar"])
def test_cpu_target_needs_both_one_at_a_time_reads(missing: str) -> None:
    doc = good_doc()
    doc["sequential"] = [c for c in doc["sequential"] if c["key"] != missing]
    assert _verdicts(doc)["(sidecar + OPA) CPU per single-object read, against the pass-through floor's"].met is None
