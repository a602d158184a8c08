"""`sidecar records export --format opa|ldv`: the records as OPA decision-log events and as
Logboek Dataverwerkingen entries, one JSON line each, from a file or a folder, only read; the LDV
entries carry the data subject's pseudonym and never a user identity."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import sidecar
from sidecar.opa import Decision
from sidecar.records import RecordWriter, build_record, pseudonymise
from sidecar.records_export import DATA_SUBJECT_ID_TYPE
from tests.helpers import HULP, SEED, ZAKEN, Running, read_records

KEY = b"k" * 32
PSEUDONYM = pseudonymise(KEY, "999990019")
OPA_KEYS = {"decision_id", "labels", "path", "erased", "result", "timestamp", "trace_id", "span_id", "metrics",
            "bundles"}
LDV_KEYS = {"trace_id", "span_id", "parent_span_id", "name", "start_time", "end_time", "status_code", "resource",
            "attributes"}


def _rec(i: int, *, allow: bool = True, betrokkene: str | None = PSEUDONYM) -> dict[str, Any]:
    decision = Decision(allow=allow, reasons=["R1"] if allow else ["N1"], reason_user="", obligations=[],
                        grondslag="avg_6_1_e" if allow else None,
                        processing_activity=f"urn:wams:verwerking:{HULP}", revision="rev-42", duration_s=0.0015)
    return build_record(time=f"2026-11-30T10:00:0{i}.000Z", decision_id=f"d-{i}", trace_id=f"{i + 1:032x}",
                        span_id=f"{i + 1:016x}", phase="response", allow=allow, enforced=True,
                        status=200 if allow else 403,
                        subject={"id": "c.jansen", "role": "consulent", "org": "gemeente-demo"}, purpose=HULP,
                        action="read", resource={"type": "zaak", "id": f"z-{i}", "properties": {"category": "medisch"}},
                        resource_type="zaak", betrokkene=betrokkene, decision=decision, reasons=decision.reasons,
                        profile="knmg", duration_s=0.0015)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    d = tmp_path / "records"
    d.mkdir()
    files = {"records-a.jsonl": [_rec(0), _rec(1, allow=False)], "records-b.jsonl": [_rec(2, betrokkene=None)]}
    for name, recs in files.items():
        w = RecordWriter(d / name)
        try:
            w.write_many(recs)
        finally:
            w.close()
    return d


def _export(fmt: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sidecar", "records", "export", "--format", fmt, *args],
                          capture_output=True, text=True, timeout=120)


def test_opa_decision_log_events(folder: Path) -> None:
    before = {f.name: f.read_bytes() for f in folder.iterdir()}
    out = _export("opa", str(folder))
    assert out.returncode == 0, out.stderr
    events = [json.loads(x) for x in out.stdout.splitlines()]
    records = [r for f in sorted(folder.iterdir()) for r in read_records(f)]
    assert [e["decision_id"] for e in events] == [r["decision_id"] for r in records] == ["d-0", "d-1", "d-2"]
    for event, rec in zip(events, records, strict=True):
        assert set(event) == OPA_KEYS and "input" not in event and event["erased"] == ["/input"]
        assert event["path"] == "wams/authz/decision"
        assert event["timestamp"] == rec["time"] and event["trace_id"] == rec["trace_id"]
        assert event["labels"] == {"id": rec["writer"]["instance"], "version": sidecar.__version__,
                                   "app": "wams-sidecar", "profile": "knmg"}
        assert event["bundles"] == {"wams": {"revision": "rev-42"}}
        assert event["metrics"] == {"timer_sidecar_decision_ns": 1_500_000}
        assert event["result"]["allow"] is (rec["decision"] == "allow")
        assert event["result"]["reasons"] == rec["reasons"] and event["result"]["grondslag"] == rec["grondslag"]
    assert {f.name: f.read_bytes() for f in folder.iterdir()} == before  # only read


def test_ldv_entries_carry_the_pseudonym_and_no_user_identity(folder: Path) -> None:
    out = _export("ldv", str(folder))
    assert out.returncode == 0, out.stderr
    entries = [json.loads(x) for x in out.stdout.splitlines()]
    records = [r for f in sorted(folder.iterdir()) for r in read_records(f)]
    assert len(entries) == 3
    for entry, rec in zip(entries, records, strict=True):
        assert set(entry) == LDV_KEYS
        assert re.fullmatch(r"[0-9a-f]{32}", entry["trace_id"]) and entry["trace_id"] == rec["trace_id"]
        assert re.fullmatch(r"[0-9a-f]{16}", entry["span_id"]) and entry["parent_span_id"] == rec["span_id"]
        assert entry["name"] == "read zaak"
        assert entry["end_time"] == rec["time"] and entry["start_time"] < entry["end_time"]
        assert entry["resource"] == {"name": "wams-sidecar", "version": sidecar.__version__}
        attrs = entry["attributes"]
        assert attrs["dpl.core.processing_activity_id"] == f"urn:wams:verwerking:{HULP}"
        assert attrs["wams.decision_id"] == rec["decision_id"]
    assert [e["status_code"] for e in entries] == ["STATUS_CODE_OK", "STATUS_CODE_ERROR", "STATUS_CODE_OK"]
    assert entries[0]["attributes"]["dpl.core.data_subject_id"] == PSEUDONYM
    assert entries[0]["attributes"]["dpl.core.data_subject_id_type"] == DATA_SUBJECT_ID_TYPE
    assert "dpl.core.data_subject_id" not in entries[2]["attributes"]  # no data subject, none named
    assert len({e["span_id"] for e in entries}) == 3
    for forbidden in ("c.jansen", "consulent", "gemeente-demo", "999990019"):
        assert forbidden not in out.stdout


def test_a_line_that_is_no_record_is_named_and_the_rest_exported(folder: Path) -> None:
    with (folder / "records-b.jsonl").open("a") as f:
        f.write("{torn")
    out = _export("ldv", str(folder))
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "records-b.jsonl line 2: not a JSON object" in out.stderr
    assert len(out.stdout.splitlines()) == 3


def test_export_of_nothing_exits_2(tmp_path: Path) -> None:
    out = _export("opa", str(tmp_path / "gone"))
    assert out.returncode == 2 and "Traceback" not in out.stderr and "gone" in out.stderr


def test_export_of_a_live_stack_s_records(knmg: Running) -> None:
    # Real records (request, response, sidecar denies, ...) of the shared stack, from its configuration.
    read = knmg.proxy("GET", f"{ZAKEN}/{SEED['examples']['zvh_overdracht']}", knmg.headers("consulent", HULP))
    assert read.status == 200
    lines = read_records(knmg.workdir / "records.jsonl")
    subjects = {r["subject"]["id"] for r in lines if r.get("subject") and r["subject"].get("id")}
    assert subjects
    for fmt in ("opa", "ldv"):
        out = _export(fmt, "--workdir", str(knmg.workdir))
        assert out.returncode == 0, out.stderr
        exported = [json.loads(x) for x in out.stdout.splitlines()]
        assert len(exported) >= len(lines)
        if fmt == "ldv":
            assert any(e["trace_id"] == read.trace_id for e in exported)
            text = out.stdout
            assert not [s for s in subjects if f'"{s}"' in text], "a user identity was exported"
        else:
            assert any(e["trace_id"] == read.trace_id and e["result"]["allow"] for e in exported)
