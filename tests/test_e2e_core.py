"""End to end through the running sidecar: reads, lists, downloads, denies, 401s, records, metrics."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from sidecar.records import verify
from tests.helpers import DOCS, HULP, PROVIDER_ORG, ZAKEN, Running, document_body, uuid_of

# -- reads ---------------------------------------------------------------------------------------

def test_consulent_reads_general_document(knmg: Running) -> None:
    doc = knmg.doc_of("algemeen")
    r = knmg.proxy("GET", f"{DOCS}/{uuid_of(doc)}", knmg.headers("consulent", HULP))
    assert r.status == 200, r.body
    assert r.json()["titel"] == doc["titel"]
    recs = knmg.records_of(r)
    assert [(x["phase"], x["decision"]) for x in recs] == [("request", "allow"), ("response", "allow")]
    assert recs[1]["resource"]["category"] == "algemeen"
    assert recs[1]["policy"]["profile"] == "knmg" and recs[1]["policy"]["revision"]


def test_consulent_is_denied_medical_document_in_knmg(knmg: Running) -> None:
    doc = knmg.doc_of("medisch")
    r = knmg.proxy("GET", f"{DOCS}/{uuid_of(doc)}", knmg.headers("consulent", HULP))
    assert r.status == 403
    assert r.header("content-type") == "application/problem+json"
    problem = r.json()
    assert {"type", "title", "detail", "decision_id"} <= problem.keys()
    assert doc["titel"] not in r.body.decode()  # no data in the deny
    recs = knmg.records_of(r)
    assert recs[-1]["decision"] == "deny" and recs[-1]["decision_id"] == problem["decision_id"]
    assert recs[-1]["resource"]["category"] == "medisch"


def test_medical_adviser_reads_medical_document(knmg: Running) -> None:
    doc = knmg.doc_of("medisch")
    r = knmg.proxy("GET", f"{DOCS}/{uuid_of(doc)}", knmg.headers("medisch_adviseur", HULP))
    assert r.status == 200
    assert r.json()["titel"] == doc["titel"]


def test_handhaving_is_denied_before_anything_is_forwarded(knmg: Running) -> None:
    before = knmg.mark_upstream()
    r = knmg.proxy("GET", DOCS, knmg.headers("handhaving", "handhaving"))
    assert r.status == 403
    assert "P1" in knmg.records_of(r)[-1]["reasons"]
    assert knmg.upstream_since(before) == []


def test_missing_purpose_is_denied_p2(knmg: Running) -> None:
    r = knmg.proxy("GET", DOCS, knmg.headers("consulent"))
    assert r.status == 403
    rec = knmg.records_of(r)[-1]
    assert rec["reasons"] == ["P2"] and rec["purpose"] is None


def test_malformed_purpose_is_400(knmg: Running) -> None:
    r = knmg.proxy("GET", DOCS, knmg.headers("consulent", "ONDERZOEK; DROP"))
    assert r.status == 400


# -- lists ---------------------------------------------------------------------------------------

def test_list_is_filtered_in_one_decision_with_counts_corrected(knmg: Running) -> None:
    direct = knmg.upstream("GET", DOCS).json()
    counted = ("sidecar_decisions_total", {"phase": "response", "action": "list"})

    def per_item_metrics() -> tuple[float, float, float, float]:
        return (knmg.metric(counted[0], decision="allow", **counted[1]),
                knmg.metric(counted[0], decision="deny", **counted[1]),
                knmg.metric(counted[0], decision="deny", category="medisch", **counted[1]),
                knmg.metric("sidecar_denies_total", role="consulent"))

    before = per_item_metrics()
    r = knmg.proxy("GET", DOCS, knmg.headers("consulent", HULP))
    assert r.status == 200
    got = r.json()
    categories = {d["informatieobjecttype"].rsplit("/", 1)[1] for d in got["results"]}
    assert "algemeen" in categories
    assert "medisch" not in categories and "wvggz_wzd" not in categories
    removed = len(direct["results"]) - len(got["results"])
    assert removed > 0
    assert got["count"] == len(got["results"])  # what this page releases (README "Lists")
    recs = knmg.records_of(r)
    response_recs = [x for x in recs if x["phase"] == "response"]
    assert len(response_recs) == len(direct["results"])  # one record per item
    assert sum(x["decision"] == "deny" for x in response_recs) == removed
    # Alike items are counted in one increment each group; the totals are still one per item.
    allow, deny, deny_medisch, denies = (a - b for a, b in zip(per_item_metrics(), before, strict=True))
    assert (allow, deny, denies) == (len(got["results"]), removed, removed)
    assert deny_medisch == sum(x["decision"] == "deny" and x["resource"]["category"] == "medisch"
                               for x in response_recs) > 0


def test_list_for_medical_adviser_keeps_medical_items(knmg: Running) -> None:
    r = knmg.proxy("GET", DOCS, knmg.headers("medisch_adviseur", HULP))
    assert r.status == 200
    categories = {d["informatieobjecttype"].rsplit("/", 1)[1] for d in r.json()["results"]}
    assert "medisch" in categories


def test_zaken_list_and_head(knmg: Running) -> None:
    r = knmg.proxy("GET", ZAKEN, knmg.headers("consulent", HULP))
    assert r.status == 200 and "results" in r.json()
    h = knmg.proxy("HEAD", ZAKEN, knmg.headers("consulent", HULP))
    assert h.status == 200 and h.body == b""


# -- downloads -----------------------------------------------------------------------------------

def test_download_released_only_after_metadata_decision(knmg: Running) -> None:
    uid = uuid_of(knmg.doc_of("algemeen"))
    direct = knmg.upstream("GET", f"{DOCS}/{uid}/download")
    r = knmg.proxy("GET", f"{DOCS}/{uid}/download", knmg.headers("consulent", HULP))
    assert r.status == 200 and r.body == direct.body
    recs = knmg.records_of(r)
    assert recs[-1]["phase"] == "response" and recs[-1]["resource"]["category"] == "algemeen"

    uid = uuid_of(knmg.doc_of("medisch"))
    before = knmg.mark_upstream()
    r = knmg.proxy("GET", f"{DOCS}/{uid}/download", knmg.headers("consulent", HULP))
    assert r.status == 403
    assert not [ln for ln in knmg.upstream_since(before) if "/download" in ln]  # the content was never fetched


# -- writes --------------------------------------------------------------------------------------

def test_denied_create_writes_nothing_upstream(knmg: Running) -> None:
    type_url = knmg.doc_of("algemeen")["informatieobjecttype"]
    h = knmg.headers("handhaving", "handhaving")
    h["Content-Type"] = "application/json"
    before = knmg.mark_upstream()
    r = knmg.proxy("POST", DOCS, h, document_body(type_url, "mag-niet-bestaan-1", vertrouwelijkheidaanduiding="intern"))
    assert r.status == 403
    assert knmg.upstream_since(before) == []
    assert "mag-niet-bestaan-1" not in knmg.document_titles()


def test_bad_json_body_is_400_and_not_forwarded(knmg: Running) -> None:
    h = knmg.headers("consulent", HULP)
    h["Content-Type"] = "application/json"
    before = knmg.mark_upstream()
    r = knmg.proxy("POST", DOCS, h, b"{not json")
    assert r.status == 400 and r.header("content-type") == "application/problem+json"
    assert knmg.upstream_since(before) == []


def test_body_over_the_limit_is_413_before_anything_is_read(knmg: Running) -> None:
    tok = knmg.token("consulent")
    head = (f"POST {DOCS} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {tok}\r\n"
            f"X-Doelbinding: {HULP}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {20 * 1024 * 1024 + 1}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", knmg.stack.ports.proxy), timeout=10) as s:
        s.sendall(head + b"{")  # the body never comes: the answer must not wait for it
        reply = s.recv(65536).decode("latin-1")
    assert reply.startswith("HTTP/1.1 413")


# -- routes and headers --------------------------------------------------------------------------

@pytest.mark.parametrize("target", [
    "/zaken/api/v1/klantcontacten", "/metrics", "/-/readyz", f"{ZAKEN}/", "/",
])
def test_unknown_routes_are_denied_not_forwarded(knmg: Running, target: str) -> None:
    before = knmg.mark_upstream()
    r = knmg.proxy("GET", target, knmg.headers("consulent", HULP))
    assert r.status == 403 and r.header("content-type") == "application/problem+json"
    assert knmg.upstream_since(before) == []


@pytest.mark.parametrize("target", [f"{DOCS}%2F..%2F", "/zaken/../metrics", "//zaken/api/v1/zaken",
                                    "/zaken/api/v1/zaken;x=1"])
def test_ambiguous_paths_are_400(knmg: Running, target: str) -> None:
    r = knmg.proxy("GET", target, knmg.headers("consulent", HULP))
    assert r.status == 400


def test_unknown_method_is_denied(knmg: Running) -> None:
    r = knmg.proxy("PROPFIND", DOCS, knmg.headers("consulent", HULP))
    assert r.status == 405


def test_duplicate_purpose_header_is_rejected(knmg: Running) -> None:
    tok = knmg.token("consulent")
    r = knmg.proxy("GET", DOCS, [("Authorization", f"Bearer {tok}"), ("X-Doelbinding", HULP),
                                 ("X-Doelbinding", "casusoverleg")])
    assert r.status == 400


def test_traceparent_is_propagated(knmg: Running) -> None:
    tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    h = knmg.headers("consulent", HULP)
    h["traceparent"] = tp
    r = knmg.proxy("GET", ZAKEN, h)
    assert r.status == 200
    traceparent = r.header("traceparent")
    assert traceparent is not None
    assert traceparent.startswith("00-0af7651916cd43dd8448eb211c80319c-")
    assert knmg.records_for_trace("0af7651916cd43dd8448eb211c80319c")


# -- authentication ------------------------------------------------------------------------------

def test_missing_or_non_bearer_credentials_are_401_never_forwarded(knmg: Running) -> None:
    """No token, or Basic credentials. Forged, stale and misdirected bearer tokens are
    test_attack_tokens.py's (each one 401, recorded and not forwarded)."""
    before = knmg.mark_upstream()
    for name, h in (("no Authorization", {"X-Doelbinding": HULP}),
                    ("Basic", {"Authorization": "Basic dXNlcjpwdw==", "X-Doelbinding": HULP})):
        r = knmg.proxy("GET", ZAKEN, h)
        assert r.status == 401, name
        www_authenticate = r.header("www-authenticate")
        assert www_authenticate is not None and www_authenticate.startswith("Bearer"), name
        assert r.header("content-type") == "application/problem+json", name
    assert knmg.upstream_since(before) == []


def test_identity_and_override_headers_do_not_steer_the_upstream(knmg: Running) -> None:
    """What the demo upstream shows of them: it saw only GETs (the override was not obeyed), and
    the links in the answer point at the sidecar's own address, whatever forwarding headers the
    client sent (the sidecar rewrites them). Which headers cross, header by header, is
    test_faults_upstream.py's test_only_allow_listed_headers_cross (its upstream records them)."""
    h = knmg.headers("consulent", HULP)
    h.update({"X-Forwarded-Host": "evil.example", "X-HTTP-Method-Override": "DELETE",
              "X-Remote-User": "admin", "X-Herkomst": "grondslag=lid1"})
    before = knmg.mark_upstream()
    r = knmg.proxy("GET", ZAKEN, h)
    assert r.status == 200
    seen = knmg.upstream_since(before)
    assert seen and all('"GET ' in ln for ln in seen), seen
    proxy_base = f"http://127.0.0.1:{knmg.stack.ports.proxy}/zaken/api/v1/zaken/"
    assert all(z["url"].startswith(proxy_base) for z in r.json()["results"])


# -- records -------------------------------------------------------------------------------------

def test_every_decision_is_recorded_and_the_chain_verifies(knmg: Running) -> None:
    r = knmg.proxy("GET", ZAKEN, knmg.headers("consulent", HULP))
    assert r.status == 200
    mine = {(x["phase"], x["decision"]) for x in knmg.records_of(r)}
    assert ("request", "allow") in mine and ("response", "allow") in mine, mine
    recs = knmg.records()
    keys = {"time", "decision_id", "trace_id", "phase", "decision", "enforced", "subject", "purpose",
            "action", "resource", "betrokkene", "grondslag", "reasons", "obligations", "policy",
            "duration_ms", "prev_hash", "hash"}
    assert recs and all(keys <= rec.keys() for rec in recs)
    assert verify(knmg.workdir / "records.jsonl").ok
    out = subprocess.run([sys.executable, "-m", "sidecar", "records", "verify", "--workdir", str(knmg.workdir)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "chain intact" in out.stdout


def test_tampered_record_file_is_detected(knmg: Running, tmp_path: Path) -> None:
    knmg.proxy("GET", ZAKEN, knmg.headers("consulent", HULP))
    lines = (knmg.workdir / "records.jsonl").read_text().splitlines()
    assert len(lines) >= 3
    rec = json.loads(lines[1])
    rec["decision"] = "allow" if rec["decision"] == "deny" else "deny"
    lines[1] = json.dumps(rec)
    copy = tmp_path / "tampered.jsonl"
    copy.write_text("\n".join(lines) + "\n")
    out = subprocess.run([sys.executable, "-m", "sidecar", "records", "verify", str(copy)],
                         capture_output=True, text=True)
    assert out.returncode == 1
    assert "line 2" in out.stdout
    # Dropping a line breaks the chain at the line after it.
    del lines[1]
    copy.write_text("\n".join(json.loads(json.dumps(ln)) for ln in lines) + "\n")
    out = subprocess.run([sys.executable, "-m", "sidecar", "records", "verify", str(copy)],
                         capture_output=True, text=True)
    assert out.returncode == 1 and "line 2" in out.stdout


# -- admin port ----------------------------------------------------------------------------------

def test_metrics_count_decisions(knmg: Running) -> None:
    before = knmg.metric("sidecar_decisions_total", decision="deny", phase="request", action="list")
    for _ in range(3):
        assert knmg.proxy("GET", ZAKEN, knmg.headers("handhaving", "handhaving")).status == 403
    after = knmg.metric("sidecar_decisions_total", decision="deny", phase="request", action="list")
    assert after - before == 3


def test_every_metric_family_is_exported(knmg: Running) -> None:
    body = knmg.admin("/metrics").body.decode()
    for family in ("sidecar_decisions_total", "sidecar_opa_request_duration_seconds",
                   "sidecar_request_duration_seconds", "sidecar_opa_errors_total",
                   "sidecar_upstream_errors_total", "sidecar_records_write_errors_total"):
        assert f"# TYPE {family.removesuffix('_total')}" in body, family
    assert 'sidecar_opa_request_duration_seconds_bucket{le="0.0001"}' in body
    assert 'sidecar_opa_errors_total{kind="timeout"}' in body


def test_probes(knmg: Running) -> None:
    assert knmg.admin("/-/healthz").status == 200
    ready = knmg.admin("/-/readyz")
    assert ready.status == 200 and ready.json()["status"] == "ready"


def test_repeated_herkomst_headers_are_rejected_even_when_they_merge_cleanly(knmg: Running) -> None:
    """Two X-Herkomst headers with different keys would join into one valid dictionary (consent
    with its reference and its data subject, as the parser requires)."""
    tok = knmg.token("aanbieder", org=PROVIDER_ORG, secrecy="wettelijk")
    titel = "dubbele-herkomst"
    body = document_body(knmg.doc_of("medisch")["informatieobjecttype"], titel)
    before = knmg.mark_upstream()
    r = knmg.proxy("POST", DOCS, [("Authorization", f"Bearer {tok}"), ("X-Doelbinding", HULP),
                                  ("Content-Type", "application/json"),
                                  ("X-Herkomst", 'grondslag=toestemming, betrokkene="111222333"'),
                                  ("X-Herkomst", 'toestemming="TS-1"')], body)
    assert r.status == 400
    assert "X-Herkomst" in r.json()["detail"] and "één keer" in r.json()["detail"], r.json()  # refused as repeated
    assert knmg.upstream_since(before) == []
    assert titel not in knmg.document_titles()


def test_a_client_cannot_forge_the_repeated_headers_marker(knmg: Running) -> None:
    h = knmg.headers("consulent", HULP)
    h["X-Sidecar-Repeated-Headers"] = "AUTHORIZATION"
    assert knmg.proxy("GET", ZAKEN, h).status == 200
