"""Policy authors' tools: the shared case list through OPA's REST API (the second runner of
policies/testdata/cases), `sidecar explain`, `sidecar profiles diff|check`, and a third profile."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sidecar.devtools.demo import Stack
from sidecar.opa import OpaClient
from sidecar.settings import OpaSettings
from tests.helpers import HULP, ZAKEN, Running, new_ports, start_not_ready

REPO = Path(__file__).resolve().parents[1]
# Need-to-know: the caller's relation to the object's zaken, for an explained read that may be allowed.
RELATED = json.dumps({"kinds": ["behandelaar"], "zaken": [], "writer": False})
CASES = json.loads((REPO / "policies" / "testdata" / "cases" / "data.json").read_text())


def _sidecar(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sidecar", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_fixture_case_through_the_opa_server(knmg: Running, case: dict[str, Any]) -> None:
    """The same case list the Rego tests use, evaluated by the running OPA server over HTTP."""
    client = OpaClient(OpaSettings(url=f"http://127.0.0.1:{knmg.stack.ports.opa}"))
    doc = json.loads(json.dumps(case["input"]))
    doc["context"]["profile"] = case["profile"]
    result = client.query("wams/authz/decision", doc)
    expect = case["expect"]
    assert result["decision"] == expect["decision"]
    assert set(expect.get("reasons_include", [])) <= set(result["reasons"])
    assert not set(expect.get("reasons_exclude", [])) & set(result["reasons"])
    if "reasons" in expect:
        assert result["reasons"] == expect["reasons"]


def test_explain_shows_both_phases_and_the_rules() -> None:
    out = _sidecar("explain", "--workdir", "/nonexistent", "--method", "GET",
                   "--path", "/documenten/api/v1/enkelvoudiginformatieobjecten/4f0d6a1e-8c1b-4e5a-9d55-0c2f3b7a1e01",
                   "--role", "consulent", "--header", "X-Doelbinding: onderzoek_hulpvraag", "--category", "medisch",
                   "--relation", RELATED)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["route"] == "document_read"
    req, resp = doc["phases"]
    assert req["input"]["context"]["purpose"] == "onderzoek_hulpvraag"
    assert req["input"]["subject"]["properties"]["controlling_org"] is True
    assert req["decision"]["decision"] is True
    assert resp["input"]["resource"]["properties"]["category"] == "medisch"
    assert resp["decision"]["decision"] is False and "R2" in resp["decision"]["reasons"]
    # Same request under the other profile: R2 allows.
    out = _sidecar("explain", "--workdir", "/nonexistent", "--profile", "wetsvoorstel", "--method", "GET",
                   "--path", "/documenten/api/v1/enkelvoudiginformatieobjecten/4f0d6a1e-8c1b-4e5a-9d55-0c2f3b7a1e01",
                   "--role", "consulent", "--header", "X-Doelbinding: onderzoek_hulpvraag", "--category", "medisch",
                   "--relation", RELATED)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["phases"][1]["decision"]["decision"] is True


def test_explain_from_a_json_file_with_herkomst(tmp_path: Path) -> None:
    req = {"method": "POST", "path": "/documenten/api/v1/enkelvoudiginformatieobjecten",
           "headers": {"X-Doelbinding": "onderzoek_hulpvraag",
                       "X-Herkomst": 'grondslag=lid2, lid2=(a b c), motivering="zorgen om het gezin"'},
           "claims": {"role": "aanbieder", "org": "huisarts", "secrecy": "wettelijk"},
           "body": {"informatieobjecttype": "http://x/informatieobjecttypen/medisch"}}
    f = tmp_path / "req.json"
    f.write_text(json.dumps(req))
    out = _sidecar("explain", "--workdir", "/nonexistent", "--file", str(f))
    assert out.returncode == 0, out.stderr
    phase = json.loads(out.stdout)["phases"][0]
    assert phase["input"]["context"]["herkomst"]["lid2"] == ["a", "b", "c"]
    assert phase["input"]["context"]["herkomst"]["motivering"] == "zorgen om het gezin"
    # No catalogue configured: an unknown type is onbekend, never algemeen.
    assert phase["input"]["resource"]["properties"]["category"] == "onbekend"


def test_explain_unknown_route_says_so() -> None:
    # klantcontacten: a Zaken API route the sidecar does not serve (statussen now has a route).
    out = _sidecar("explain", "--workdir", "/nonexistent", "--path", "/zaken/api/v1/klantcontacten",
                   "--role", "consulent")
    assert out.returncode == 1 and "403" in out.stderr


def test_profiles_diff_lists_the_differing_cases() -> None:
    out = _sidecar("profiles", "diff", "wetsvoorstel", "knmg", "--json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    by_case = {r["case"]: r for r in rows}
    assert by_case["R2 consulent leest medisch"]["knmg"]["decision"] == "deny"
    assert by_case["R2 consulent leest medisch"]["wetsvoorstel"]["decision"] == "allow"
    assert "R2" in by_case["R2 consulent leest medisch"]["knmg"]["reasons"]
    assert not any(r["case"].startswith("P1") for r in rows)  # P1 denies in both
    same = _sidecar("profiles", "diff", "knmg", "knmg")
    assert same.returncode == 0 and "no case differs" in same.stdout


def _policies_with(tmp_path: Path, name: str, profile: dict[str, Any]) -> Path:
    dst = tmp_path / "policies"
    shutil.copytree(REPO / "policies", dst)
    (dst / "profiles" / name).mkdir()
    (dst / "profiles" / name / "data.json").write_text(json.dumps(profile))
    return dst


def test_a_third_profile_is_one_json_file(tmp_path: Path) -> None:
    knmg = json.loads((REPO / "policies" / "profiles" / "knmg" / "data.json").read_text())
    policies = _policies_with(tmp_path, "gemeente_x", {**knmg, "medisch_alleen_adviseur": False})
    out = _sidecar("profiles", "check", "--policies", str(policies))
    assert out.returncode == 0 and "gemeente_x: ok" in out.stdout
    diff = json.loads(_sidecar("profiles", "diff", "knmg", "gemeente_x", "--policies", str(policies), "--json").stdout)
    # medisch_alleen_adviseur also opens what a secrecy holder sent (geheimhouder_data_medisch: gated like medisch).
    assert {r["case"] for r in diff} == {"R2 consulent leest medisch",
                                         "R2 consulent leest algemeen van een geheimhouder",
                                         "R2 consulent leest algemeen van een beroepscode-houder"}


def test_a_misspelt_switch_is_an_error_at_load(tmp_path: Path) -> None:
    knmg = json.loads((REPO / "policies" / "profiles" / "knmg" / "data.json").read_text())
    broken = {k: v for k, v in knmg.items() if k != "medisch_alleen_adviseur"}
    broken["medisch_alleen_adviser"] = True
    policies = _policies_with(tmp_path, "gemeente_y", broken)
    out = _sidecar("profiles", "check", "--policies", str(policies))
    assert out.returncode == 1
    assert "missing switch medisch_alleen_adviseur" in out.stdout
    assert "unknown switch medisch_alleen_adviser" in out.stdout


def test_sidecar_with_a_broken_profile_stays_not_ready_and_denies(tmp_path: Path) -> None:
    knmg = json.loads((REPO / "policies" / "profiles" / "knmg" / "data.json").read_text())
    policies = _policies_with(tmp_path, "gemeente_y", {**knmg, "beroepscode_als_wettelijk": "ja"})
    stack = Stack(workdir=tmp_path / "stack", ports=new_ports(), profile="gemeente_y", policies=policies,
                  workers=1)
    try:
        ready = start_not_ready(stack)
        assert ready.status == 503
        assert "beroepscode_als_wettelijk" in ready.body.decode()
        run = Running(stack)
        r = run.proxy("GET", ZAKEN, run.headers("consulent", HULP))
        assert r.status == 403 and run.records()[-1]["reasons"] == ["PROFILE"]
    finally:
        stack.stop()
