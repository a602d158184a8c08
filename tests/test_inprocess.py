"""The sidecar in this process: the WSGI app from ``create_app`` driven with werkzeug's test
client, and the OPA client on its own, both against a real OPA and the demo upstream.

Only public entry points are used (``create_app``, ``OpaClient.decide``/``query``, ``Settings``),
so these tests hold while the modules behind them are reorganised. One OPA and one demo upstream
serve the whole module; the app, its records file and its label store are per test.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client, TestResponse

from sidecar.app import create_app
from sidecar.devtools.demo import REPO_ROOT, Stack, free_ports
from sidecar.devtools.upstream import manifest, relations
from sidecar.opa import OpaClient, OpaError
from sidecar.settings import OpaSettings, Settings, load_settings
from tests.helpers import DOCS, HULP, Running, new_ports, read_records, uuid_of

CASES = json.loads((REPO_ROOT / "policies" / "testdata" / "cases" / "data.json").read_text())


@dataclass
class Peers:
    """OPA and the demo upstream (real processes); ``run`` reads what the upstream saw."""

    run: Running
    settings: Settings  # as `sidecar demo` writes them (config.yaml), pointing at these peers

    @property
    def stack(self) -> Stack:
        return self.run.stack

    def opa_url(self) -> str:
        return f"http://127.0.0.1:{self.stack.ports.opa}"


@pytest.fixture(scope="module")
def peers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Peers]:
    # The stack's config and keys, its OPA and its demo upstream; the sidecar itself is not
    # started: it runs in this process, per test.
    stack = Stack(workdir=tmp_path_factory.mktemp("inprocess"), ports=new_ports(), workers=1)
    stack.prepare()
    try:
        stack.start_opa()
        stack.start_upstream()
        # env={}: no SIDECAR_* variable of the machine running the tests may change the config.
        yield Peers(Running(stack), load_settings(stack.config_path, env={}))
    finally:
        stack.stop()


def app_settings(peers: Peers, tmp_path: Path, **opa: Any) -> Settings:
    """The demo settings with this test's own records file and label store (``opa``: OPA
    settings to change, e.g. its URL)."""
    s = peers.settings
    return s.model_copy(update={
        "records": s.records.model_copy(update={"path": tmp_path / "records.jsonl"}),
        "labels": s.labels.model_copy(update={"dsn": f"sqlite:///{tmp_path / 'labels.sqlite3'}"}),
        "opa": s.opa.model_copy(update=opa),
    })


def proxy_client(settings: Settings) -> Client:
    """A test client for the proxy port: the app tells its two ports apart by the local port
    (PortDispatcher), which is ``SERVER_PORT`` outside gunicorn; the base URL sets it."""
    return Client(create_app(settings), TestResponse)


def get(client: Client, settings: Settings, target: str, headers: dict[str, str]) -> TestResponse:
    host, port = settings.listen.proxy_addr
    resp: TestResponse = client.get(target, base_url=f"http://{host}:{port}", headers=headers)
    return resp


def records_of(settings: Settings, resp: TestResponse) -> list[dict[str, Any]]:
    trace_id = resp.headers["traceparent"].split("-")[1]
    return [r for r in read_records(settings.records.path) if r["trace_id"] == trace_id]


def seeded(peers: Peers) -> tuple[str, dict[str, str]]:
    """The demo consulent's ``sub``, and per category one seeded document of a zaak that
    consulent is related to (so need-to-know cannot be why a read is refused)."""
    rel = relations()
    sub: str = rel["users"]["consulent"]
    mine = {doc for zaak in rel["betrokkenen"]["medewerker"][sub] for doc in rel["zaak_documenten"][zaak]}
    category = {d["uuid"]: d["category"] for d in manifest("http://127.0.0.1/catalogi/api/v1")["documenten"]}
    by_category: dict[str, str] = {}
    for uid in sorted(mine):
        by_category.setdefault(category[uid], uid)
    return sub, by_category


# ---- the WSGI app --------------------------------------------------------------------------------

def test_allowed_read_is_released_with_its_records(peers: Peers, tmp_path: Path) -> None:
    settings = app_settings(peers, tmp_path)
    sub, docs = seeded(peers)
    uid = docs["algemeen"]
    resp = get(proxy_client(settings), settings, f"{DOCS}/{uid}", peers.run.headers("consulent", HULP, sub=sub))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.json is not None and resp.json["url"].endswith(f"/{uid}")
    assert peers.run.upstream("GET", f"{DOCS}/{uid}").json()["titel"] == resp.json["titel"]
    recs = records_of(settings, resp)
    assert [(r["phase"], r["decision"]) for r in recs] == [("request", "allow"), ("response", "allow")]
    assert recs[-1]["resource"]["category"] == "algemeen" and recs[-1]["resource"]["id"] == uid
    assert recs[-1]["subject"]["id"] == sub and recs[-1]["purpose"] == HULP


def test_denied_read_is_a_problem_with_the_recorded_decision_id(peers: Peers, tmp_path: Path) -> None:
    """Enforcement (handhaving) may never use Wams data (P1): refused before anything is asked of
    the upstream, the problem names the decision, and the record says why."""
    settings = app_settings(peers, tmp_path)
    _, docs = seeded(peers)
    uid = docs["algemeen"]
    before = peers.run.mark_upstream()
    resp = get(proxy_client(settings), settings, f"{DOCS}/{uid}", peers.run.headers("handhaving", "handhaving"))
    assert resp.status_code == 403
    assert resp.mimetype == "application/problem+json"
    problem = resp.json
    assert problem is not None and {"type", "title", "detail", "decision_id"} <= problem.keys()
    assert not [ln for ln in peers.run.upstream_since(before) if f'"GET {DOCS}/{uid}' in ln]
    recs = records_of(settings, resp)
    assert recs[-1]["decision"] == "deny" and recs[-1]["phase"] == "request"
    assert recs[-1]["decision_id"] == problem["decision_id"]
    assert "P1" in recs[-1]["reasons"]


def test_list_is_filtered_by_category(peers: Peers, tmp_path: Path) -> None:
    """Under knmg a consulent's list of documents loses the medical and Wvggz/Wzd items; each
    item has its own response-phase record, and the removed medical ones are denies."""
    settings = app_settings(peers, tmp_path)
    sub, _ = seeded(peers)
    direct = peers.run.upstream("GET", DOCS).json()
    upstream_items = direct["results"]
    resp = get(proxy_client(settings), settings, DOCS, peers.run.headers("consulent", HULP, sub=sub))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.json is not None
    released = {uuid_of(d): d["informatieobjecttype"].rsplit("/", 1)[1] for d in resp.json["results"]}
    assert released and not {"medisch", "wvggz_wzd"} & set(released.values())
    assert resp.json["count"] == len(released)  # what this page releases (README "Lists")
    per_item = {r["resource"]["id"]: r for r in records_of(settings, resp) if r["phase"] == "response"}
    medical = [uuid_of(d) for d in upstream_items if d["informatieobjecttype"].endswith("/medisch")]
    assert medical, "the seed's first page has medical documents"
    for uid in medical:
        assert per_item[uid]["decision"] == "deny" and per_item[uid]["resource"]["category"] == "medisch"
    assert all(per_item[uid]["decision"] == "allow" for uid in released)


def test_opa_outage_is_503_and_a_recorded_deny(peers: Peers, tmp_path: Path) -> None:
    closed = free_ports(1)[0]  # nothing listens there: connection refused
    settings = app_settings(peers, tmp_path, url=f"http://127.0.0.1:{closed}", engine="rest")
    sub, docs = seeded(peers)
    uid = docs["algemeen"]
    before = peers.run.mark_upstream()
    resp = get(proxy_client(settings), settings, f"{DOCS}/{uid}", peers.run.headers("consulent", HULP, sub=sub))
    assert resp.status_code == 503
    assert resp.mimetype == "application/problem+json"
    assert resp.json is not None and resp.json.get("decision_id")
    assert not [ln for ln in peers.run.upstream_since(before) if f'"GET {DOCS}/{uid}' in ln]  # never fetched
    recs = records_of(settings, resp)
    assert recs and recs[-1]["decision"] == "deny" and recs[-1]["phase"] == "request"
    assert recs[-1]["reasons"] == ["OPA_CONNECT"] and recs[-1]["decision_id"] == resp.json["decision_id"]


# ---- the OPA client ------------------------------------------------------------------------------

def _case(decision: bool) -> dict[str, Any]:
    """The first request-phase case of the shared fixture list (policies/testdata/cases) with
    this expected decision, as the sidecar would send it."""
    for c in CASES:
        if c["expect"]["decision"] is decision and c["input"]["action"]["properties"]["phase"] == "request":
            doc: dict[str, Any] = json.loads(json.dumps(c["input"]))
            doc["context"]["profile"] = c["profile"]
            return {"name": c["name"], "input": doc, "expect": c["expect"]}
    raise AssertionError(f"no request-phase case expecting {decision}")


@pytest.mark.parametrize("decision", [True, False], ids=["allow", "deny"])
def test_opa_client_decides_a_well_formed_input(peers: Peers, decision: bool) -> None:
    case = _case(decision)
    got = OpaClient(OpaSettings(url=peers.opa_url())).decide(case["input"])
    assert got.allow is decision, case["name"]
    assert set(case["expect"].get("reasons_include", [])) <= set(got.reasons), (case["name"], got.reasons)
    assert all(isinstance(r, str) for r in got.reasons)
    assert got.revision, "the bundle's revision comes with every decision (provenance)"
    if not decision:
        assert got.reasons and got.reason_user, "a deny says why, to the record and to the user"


def test_opa_client_query_reads_any_rule(peers: Peers) -> None:
    client = OpaClient(OpaSettings(url=peers.opa_url()))
    assert isinstance(client.query("profiles/knmg"), dict)
    assert client.query("wams/authz/no_such_rule") is None  # undefined: None, not an error


def test_opa_client_undefined_decision_is_an_error(peers: Peers) -> None:
    client = OpaClient(OpaSettings(url=peers.opa_url(), decision_path="wams/authz/no_such_decision"))
    with pytest.raises(OpaError) as exc:
        client.decide(_case(True)["input"])
    assert exc.value.kind == "undefined"


def test_opa_client_connection_refused_is_a_connect_error() -> None:
    client = OpaClient(OpaSettings(url=f"http://127.0.0.1:{free_ports(1)[0]}"))
    with pytest.raises(OpaError) as exc:
        client.decide(_case(True)["input"])
    assert exc.value.kind == "connect"
