"""The benchmark's stack and its one-at-a-time cases against real OPA, the demo upstream (gunicorn)
and two sidecars (relation caches warm and off): the list documents are seeded where the bench
user may read them, and the counters the speed and need-to-know figures come from say what the
design promises. Counts only; no timing."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.cpu import run_cases
from bench.run import DOCS, consulent_headers, http, seed_lists
from bench.stack import BenchStack
from sidecar.devtools.demo import Ports, free_ports
from sidecar.devtools.upstream import DEMO_USERS, relations


@pytest.fixture(scope="module")
def bench_stack() -> Iterator[tuple[BenchStack, dict[int, str]]]:
    tmp = Path(tempfile.mkdtemp(prefix="sidecar-test-bench-"))
    p = free_ports(7)
    stack = BenchStack(workdir=tmp / "stack", ports=Ports(proxy=p[0], admin=p[1], opa=p[2], upstream=p[3]),
                       profile="knmg", workers=1, upstream_workers=1, upstream_threads=4)
    stack.start()
    try:
        stack.start_passthrough(p[4])
        stack.start_cold_sidecar(p[5], p[6])
        yield stack, seed_lists(stack)
    finally:
        stack.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def test_the_cold_sidecar_caches_no_relation_and_shares_the_keys(bench_stack: tuple[BenchStack, Any]) -> None:
    stack, _ = bench_stack
    cold = yaml.safe_load((stack.workdir / "cold" / "config.yaml").read_text())
    assert cold["relations"] == {"cache_ttl_seconds": 0}
    assert cold["opa"]["url"].endswith(f":{stack.ports.opa}") and cold["upstream"]["url"].endswith(
        f":{stack.ports.upstream}")
    assert (stack.workdir / "cold" / "keys" / "jwt.pub.pem").read_bytes() == (
        stack.workdir / "keys" / "jwt.pub.pem").read_bytes()


def test_list_documents_are_released_to_the_bench_user(bench_stack: tuple[BenchStack, dict[int, str]]) -> None:
    """Need-to-know: the seeded list documents belong to a zaak the bench user relates to, so the
    consulent's list of 50 loses only the medisch ones (one in five), warm and cold alike."""
    stack, orgs = bench_stack
    assert DEMO_USERS["consulent"] in relations()["betrokkenen"]["medewerker"]
    assert stack.cold_ports is not None
    for port in (stack.ports.proxy, stack.cold_ports.proxy):
        status, body = http(port, "GET", f"{DOCS}?bronorganisatie={orgs[50]}", consulent_headers(stack.workdir))
        assert status == 200, body[:300]
        assert len(json.loads(body)["results"]) == 40


def test_one_at_a_time_counts(bench_stack: tuple[BenchStack, dict[int, str]]) -> None:
    stack, orgs = bench_stack
    res = {c["key"]: c for c in run_cases(stack, orgs, 20, echo=False, warmup=3)}
    assert {"read_direct", "read_floor", "read_sidecar", "read_cold", "list_50_direct", "list_50_sidecar",
            "list_50_cold", "list_0_direct", "list_0_sidecar", "opa_single", "opa_batch_50"} <= set(res)
    warm, cold = res["read_sidecar"]["sidecar"], res["read_cold"]["sidecar"]
    for c in (warm, cold):
        assert c["requests"] == 20
        # One decision per read once the request phase is cached (a refill is a request-phase miss),
        # and one record write for both phases' records.
        assert c["opa_calls"] == c["requests"] + c["request_phase_miss"]
        assert c["record_writes"] == c["requests"] and c["records"] == 2 * c["requests"]
    # Warm: the relations come from the caches; cold: every read asks the upstream, the same
    # number of times each (the caller's rollen, then the documents of each related zaak).
    assert warm["relation_lookups"] == 0 and warm["relation_cache_miss"] == 0 and warm["relation_cache_hit"] > 0
    zaken = len(relations()["betrokkenen"]["medewerker"][DEMO_USERS["consulent"]])
    per_read = cold["relation_lookups"] / cold["requests"]
    assert per_read == int(per_read) and per_read > zaken and cold["relation_cache_hit"] == 0
    # A list of 50 costs no upstream call per item: as many as a single read.
    lst = res["list_50_cold"]["sidecar"]
    assert lst["relation_lookups"] / lst["requests"] == per_read
    assert res["list_50_sidecar"]["sidecar"]["relation_lookups"] == 0
    # Every case reports CPU per process, the sidecar cases their own sidecar's.
    assert "sidecar" in res["read_sidecar"]["cpu_ms"] and "sidecar_cold" in res["read_cold"]["cpu_ms"]
