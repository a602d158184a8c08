"""The record format is versioned: records verify accepts every earlier version, and a version
that adds a field does not break files written before it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sidecar.opa import Decision
from sidecar.records import (
    FORMAT_VERSION,
    GENESIS,
    REQUIRED_KEYS,
    RecordWriter,
    build_record,
    record_hash,
    verify,
)


def _chain(path: Path, records: list[dict[str, Any]]) -> None:
    """Write records as an older sidecar would have: hash-chained, whatever their keys."""
    prev = GENESIS
    with path.open("w") as f:
        for rec in records:
            rec = {**rec, "prev_hash": prev}
            rec["hash"] = prev = record_hash(rec)
            f.write(json.dumps(rec) + "\n")


def _v1(i: int) -> dict[str, Any]:
    rec: dict[str, Any] = dict.fromkeys(k for k in REQUIRED_KEYS[1] if k not in ("prev_hash", "hash"))
    rec.update({"decision_id": f"v1-{i}", "decision": "allow", "reasons": []})
    return rec


def _built(**kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "time": "2026-11-30T10:00:00.000Z", "decision_id": "d-1", "trace_id": "t" * 32, "span_id": "s" * 16,
        "phase": "request", "allow": True, "enforced": True, "status": None,
        "subject": {"id": "u", "role": "consulent", "org": "gemeente-demo"}, "purpose": "onderzoek_hulpvraag",
        "action": "read", "resource": None, "resource_type": "zaak", "betrokkene": None, "decision": None,
        "reasons": ["R1"], "profile": "knmg", "duration_s": 0.0}
    args.update(kw)
    return build_record(**args)


def test_a_version_1_file_still_verifies(tmp_path: Path) -> None:
    path = tmp_path / "old.jsonl"
    _chain(path, [_v1(i) for i in range(3)])
    assert verify(path).ok


def test_new_records_append_to_a_version_1_file_and_the_chain_holds(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    _chain(path, [_v1(i) for i in range(2)])
    writer = RecordWriter(path)
    try:
        writer.write(_built())
    finally:
        writer.close()
    res = verify(path)
    assert res.ok and res.lines == 3, res
    last = json.loads(path.read_text().splitlines()[-1])
    assert last["format"] == FORMAT_VERSION


def test_every_built_record_has_exactly_the_keys_of_its_version() -> None:
    rec = _built()
    assert set(rec) | {"prev_hash", "hash"} == set(REQUIRED_KEYS[FORMAT_VERSION])


def test_a_record_missing_a_key_of_its_version_fails(tmp_path: Path) -> None:
    rec = _built()
    del rec["purpose"]
    _chain(tmp_path / "r.jsonl", [rec])
    res = verify(tmp_path / "r.jsonl")
    assert not res.ok and res.line_no == 1 and "purpose" in (res.error or "")


def test_a_version_1_record_without_a_v1_key_fails(tmp_path: Path) -> None:
    rec = _v1(0)
    del rec["recipient"]
    _chain(tmp_path / "r.jsonl", [rec])
    assert not verify(tmp_path / "r.jsonl").ok


def test_an_unknown_format_fails_naming_it(tmp_path: Path) -> None:
    _chain(tmp_path / "r.jsonl", [{**_built(), "format": 99}])
    res = verify(tmp_path / "r.jsonl")
    assert not res.ok and "99" in (res.error or "")


def test_extra_fields_do_not_break_verification(tmp_path: Path) -> None:
    _chain(tmp_path / "r.jsonl", [{**_built(), "a_later_field": 1}])
    assert verify(tmp_path / "r.jsonl").ok


def test_recipient_is_recorded_only_for_an_allow_with_the_obligation() -> None:
    ob = [{"type": "record_recipient", "recipient": "zvh-1"}]
    dec = Decision(True, ["O3"], "Toegestaan.", ob, None, None, "rev", 0.001)
    assert _built(decision=dec)["recipient"] == "zvh-1"
    plain = Decision(True, ["O3"], "Toegestaan.", [{"type": "record_recipient"}], None, None, "rev", 0.0)
    assert _built(decision=plain)["recipient"] == "gemeente-demo"
    assert _built(decision=dec, allow=False)["recipient"] is None
    assert _built(decision=None)["recipient"] is None
