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
    item_record,
    record_base,
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


def test_a_batchs_records_share_one_base_and_each_is_what_build_record_makes(tmp_path: Path) -> None:
    """A page's records are made from one :func:`record_base` (the caller, moment and phase they
    share) and completed per item; each must be exactly the record :func:`build_record` makes for
    that item, stay independent of the others when written, and leave the base as it was."""
    common: dict[str, Any] = {
        "time": "2026-11-30T10:00:00.000Z", "trace_id": "t" * 32, "span_id": "s" * 16, "phase": "response",
        "enforced": True, "status": None, "subject": {"id": "u", "role": "consulent", "org": "gemeente-demo"},
        "purpose": "onderzoek_hulpvraag", "action": "list", "profile": "knmg", "duration_s": 0.0012345,
        "herkomst": {"grondslag": "toestemming", "betrokkene_present": True}}
    allowed = Decision(True, ["N1"], "", [{"type": "record_recipient", "recipient": "zvh-1"}], "Wmo art. 5.1.1",
                       "va-1", "rev-2", 0.0)
    denied = Decision(False, ["M1"], "Nee.", [], None, None, "rev-2", 0.0, deny_reason="M1")
    items: list[dict[str, Any]] = [
        {"decision_id": "i-1", "allow": True, "decision": allowed, "reasons": allowed.reasons, "betrokkene": "p1:aa",
         "resource": {"type": "enkelvoudiginformatieobject", "id": "d-1", "properties": {"category": "algemeen"}}},
        {"decision_id": "i-2", "allow": False, "decision": denied, "reasons": denied.reasons, "betrokkene": None,
         "resource": {"type": "enkelvoudiginformatieobject", "id": "d-2", "properties": {"category": "medisch"}}},
        {"decision_id": "i-3", "allow": True, "decision": None, "reasons": [], "betrokkene": "p1:bb",
         "resource": None},
    ]
    base = record_base(**common)
    base_before = json.loads(json.dumps(base))
    batch = [item_record(base, resource_type="zaak", **item) for item in items]
    for rec, item in zip(batch, items, strict=True):
        assert rec == build_record(resource_type="zaak", **common, **item)
    assert [r["recipient"] for r in batch] == ["zvh-1", None, None]
    assert [r["policy"] for r in batch] == [{"profile": "knmg", "revision": "rev-2"}] * 2 + [
        {"profile": "knmg", "revision": None}]
    assert batch[0]["herkomst"] == {"grondslag": "toestemming"}
    assert base == base_before and "decision_id" not in base
    # Written by an anchored writer (which names its manifest in each record's writer), every
    # line keeps its own item and the chain verifies.
    path = tmp_path / "records.jsonl"
    writer = RecordWriter(path, anchored=True)
    try:
        writer.write_many(batch)
    finally:
        writer.close()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [x["decision_id"] for x in lines] == ["i-1", "i-2", "i-3"]
    assert all(x["writer"].get("manifest") for x in lines) and "manifest" not in base["writer"]
    assert verify(path).ok
