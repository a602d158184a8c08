"""Record format 3: the hash is SHA-256 over the RFC 8785 (JCS) canonical form, so anyone can
recompute it. sidecar/jcs.py is checked against an independent JCS implementation (the
``rfc8785`` package from PyPI), on arbitrary JSON and on every kind of record the sidecar writes,
made through the real code paths."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from sidecar import jcs
from sidecar.call import Call
from sidecar.cli import main
from sidecar.opa_input import resource
from sidecar.records import (
    FORMAT_VERSION,
    GENESIS,
    RecordWriter,
    build_record,
    canonical_json,
    record_hash,
    verify,
)
from sidecar.records_access import decide_and_record
from sidecar.routes import RouteSpec
from sidecar.settings import load_settings
from sidecar.tracing import from_header
from tests.helpers import DOCS, HULP, PROVIDER_ORG, SEED, ZAKEN, Running, ingest, read_records, unique


def independent_hash(line: dict[str, Any]) -> str:
    """What an auditor computes with any JCS library: the line without ``hash``, canonicalised."""
    return hashlib.sha256(rfc8785.dumps({k: v for k, v in line.items() if k != "hash"})).hexdigest()


_json = st.recursive(
    st.none() | st.booleans() | st.text()
    | st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=30,
)


@settings(max_examples=600, deadline=None)
@given(_json)
def test_the_canonicaliser_agrees_with_an_independent_jcs_implementation(value: Any) -> None:
    assert jcs.canonicalize(value) == rfc8785.dumps(value)


@pytest.mark.parametrize("value", [
    0.0, -0.0, 1.0, 100.0, 1e21, 1e20, 123456789012345680000.0, 1e-7, 1e-6, 0.000001234, 5e-324,
    1.7976931348623157e308, 0.1, 1234.5678, -3.5, 333333333.3333333, 2**53 - 1,
    {"\u20ac": 1, "\r": 2, "\U0001f600": 3, "\ufb33": 4, "1": [True, None, "\x7f\x1f\u2028<>\"\\/"]},
])
def test_rfc8785_edge_cases(value: Any) -> None:
    # Exponent boundaries, shortest digits, -0, keys sorted by UTF-16 code units (U+1F600 is a
    # surrogate pair and sorts before U+FB33), minimal escaping.
    assert jcs.canonicalize(value) == rfc8785.dumps(value)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 2**53, {1: "x"}, "\ud800", object()])
def test_values_without_a_canonical_form_are_refused(value: Any) -> None:
    with pytest.raises(jcs.CanonicalizationError):
        jcs.canonicalize(value)


def _built(**kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "time": "2026-11-30T10:00:00.000Z", "decision_id": "d-1", "trace_id": "t" * 32, "span_id": "s" * 16,
        "phase": "request", "allow": True, "enforced": True, "status": None,
        "subject": {"id": "u", "role": "consulent", "org": "gemeente-demo"}, "purpose": HULP,
        "action": "read", "resource": None, "resource_type": "zaak", "betrokkene": None, "decision": None,
        "reasons": ["R1"], "profile": "knmg", "duration_s": 0.0}
    args.update(kw)
    return build_record(**args)


def test_a_format_3_hash_is_the_jcs_hash_not_pythons(tmp_path: Path) -> None:
    # duration_ms 0.0 is "0.0" in Python's JSON and "0" in JCS: the two hashes differ.
    path = tmp_path / "r.jsonl"
    built = [_built(), _built(duration_s=0.0000123, decision_id="d-2")]
    w = RecordWriter(path)
    try:
        w.write_many(built)
    finally:
        w.close()
    text = path.read_text()
    assert '"duration_ms":0,' in text and '"duration_ms":0.012,' in text
    lines = [json.loads(x) for x in text.splitlines()]
    assert FORMAT_VERSION == 3 and all(line["format"] == 3 for line in lines)
    assert lines[0]["prev_hash"] == GENESIS and lines[1]["prev_hash"] == lines[0]["hash"]
    for line in lines:
        assert line["hash"] == independent_hash(line)
    legacy = hashlib.sha256(canonical_json({k: v for k, v in built[0].items() if k != "hash"})).hexdigest()
    assert built[0]["hash"] == lines[0]["hash"] != legacy
    assert verify(path).ok


def test_format_2_lines_keep_their_python_hash_and_a_file_mixing_formats_verifies(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    old = {**_built(), "format": 2, "prev_hash": GENESIS}
    old["hash"] = hashlib.sha256(canonical_json(old)).hexdigest()
    path.write_text(json.dumps(old) + "\n")
    assert record_hash(old) == old["hash"]
    w = RecordWriter(path)
    try:
        w.write(_built(decision_id="d-3"))
    finally:
        w.close()
    res = verify(path)
    assert res.ok and res.lines == 2, res
    # A format 2 line re-labelled as format 3 no longer verifies: the rule follows the format.
    relabelled = {**old, "format": 3}
    path.write_text(json.dumps(relabelled) + "\n")
    assert not verify(path).ok


def test_a_line_without_a_canonical_form_is_reported_not_raised(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    line = {**_built(), "prev_hash": GENESIS, "duration_ms": 2**60, "hash": "0" * 64}
    path.write_text(json.dumps(line) + "\n")
    res = verify(path)
    assert not res.ok and res.line_no == 1 and "canonical form" in (res.error or "")


def test_every_kind_of_record_the_sidecar_writes_hashes_as_any_jcs_library_computes(fresh: Running) -> None:
    run = fresh
    h = run.headers("consulent", HULP)
    kinds: dict[str, list[dict[str, Any]]] = {}
    read = run.proxy("GET", f"{ZAKEN}/{SEED['examples']['zvh_overdracht']}", h)
    assert read.status == 200, read.body[:300]
    kinds["request and response"] = run.records_of(read)
    listed = run.proxy("GET", f"{DOCS}?page=1", h)
    assert listed.status == 200
    kinds["list items"] = [r for r in run.records_of(listed) if r["phase"] == "response"]
    anonymous = run.proxy("GET", ZAKEN, {"X-Doelbinding": HULP})
    assert anonymous.status == 401
    kinds["sidecar deny"] = run.records_of(anonymous)
    refused = run.proxy("PATCH", f"{ZAKEN}/{SEED['examples']['zvh_overdracht']}",
                        {**h, "Content-Type": "application/json"}, json.dumps({"startdatum": "geen datum"}).encode())
    assert refused.status == 400
    kinds["upstream refusal"] = [r for r in run.records_of(refused) if r["reasons"] == ["UPSTREAM_REJECTED"]]

    ref, bsn = unique("TS"), "123456782"
    sent, _ = ingest(run, f'grondslag=toestemming, toestemming="{ref}", betrokkene="{bsn}"', org=PROVIDER_ORG)
    assert sent.status == 201, sent.body[:300]
    kinds["ingest (herkomst)"] = [r for r in run.records_of(sent) if r.get("herkomst")]
    assert main(["records", "query", "--betrokkene", bsn, "--door", "auditor", "--workdir", str(run.workdir)]) == 0
    assert main(["consent", "revoke", "--toestemming", ref, "--door", "loket", "--workdir", str(run.workdir)]) == 0
    # A console action (the FG's review), through the one path the console records it by.
    settings = load_settings(run.workdir / "config.yaml", env={})
    from sidecar.auth import Identity

    call = Call(trace=from_header(None), method="POST", started=time.perf_counter(),
                route=RouteSpec(name="review", methods=["POST"], path="/review", resource="review", action="update"),
                identity=Identity(sub="fg.test", role="fg", org=settings.controlling_orgs[0], secrecy="geen"),
                purpose="verantwoording")
    call.extra_context["review"] = {"besluit": "akkoord"}
    access = decide_and_record(settings, call, resource("review", "item-1", None, {}),
                               subject={"id": "fg.test", "role": "fg", "org": settings.controlling_orgs[0]})
    assert access.decision_id is not None

    lines = read_records(run.workdir / "records.jsonl")
    kinds["records access"] = [r for r in lines if r["resource"]["type"] == "records"]
    kinds["consent revoke"] = [r for r in lines if r["resource"]["type"] == "toestemming"]
    kinds["console action"] = [r for r in lines if r["decision_id"] == access.decision_id]
    for kind, recs in kinds.items():
        assert recs, f"no {kind} record was written"
    for line in lines:
        assert line["format"] == 3
        assert line["hash"] == independent_hash(line), line
    assert verify(run.workdir / "records.jsonl").ok


def test_the_recipe_in_docs_records_md_checks_a_file_and_catches_a_change(tmp_path: Path) -> None:
    import re
    import subprocess
    import sys

    from sidecar.devtools.demo import REPO_ROOT

    doc = (REPO_ROOT / "docs" / "records.md").read_text()
    (script,) = re.findall(r"```python\n(.*?)```", doc, re.S)
    (tmp_path / "check.py").write_text(script)
    path = tmp_path / "r.jsonl"
    old = {**_built(decision_id="old"), "format": 2, "prev_hash": GENESIS}
    old["hash"] = hashlib.sha256(canonical_json(old)).hexdigest()
    path.write_text(json.dumps(old) + "\n")
    w = RecordWriter(path)
    try:
        w.write_many([_built(decision_id=f"d-{i}", duration_s=i / 7) for i in range(3)])
    finally:
        w.close()
    ok = subprocess.run([sys.executable, str(tmp_path / "check.py"), str(path)], capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout.strip() == f"ok, head {verify(path).head}", ok.stderr
    path.write_text(path.read_text().replace('"d-1"', '"d-9"'))
    bad = subprocess.run([sys.executable, str(tmp_path / "check.py"), str(path)], capture_output=True, text=True)
    assert bad.returncode != 0 and "line 3: content changed" in bad.stderr
