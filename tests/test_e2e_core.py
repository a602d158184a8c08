"""End to end through the running sidecar: reads, lists, downloads, denies, 401s, records, metrics."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from sidecar.records import verify
from tests.conftest import DOCS, ZAKEN, Running

HULP = "onderzoek_hulpvraag"


def _trace(reply_headers: dict[str, str]) -> str:
    return reply_headers["traceparent"].split("-")[1]


# -- reads ---------------------------------------------------------------------------------------

def test_consulent_reads_general_document(knmg: Running) -> None:
    doc = knmg.doc_of("algemeen")
    r = knmg.proxy("GET", f"{DOCS}/{doc['url'].rsplit('/', 1)[1]}", knmg.headers("consulent", HULP))
    assert r.status == 200, r.body
    assert r.json()["titel"] == doc["titel"]
    recs = knmg.records_for_trace(_trace(r.headers))
    assert [(x["phase"], x["decision"]) for x in recs] == [("request", "allow"), ("response", "allow")]
    assert recs[1]["resource"]["category"] == "algemeen"
    assert recs[1]["policy"]["profile"] == "knmg" and recs[1]["policy"]["revision"]


def test_consulent_is_denied_medical_document_in_knmg(knmg: Running) -> None:
    doc = knmg.doc_of("medisch")
    r = knmg.proxy("GET", f"{DOCS}/{doc['url'].rsplit('/', 1)[1]}", knmg.headers("consulent", HULP))
    assert r.status == 403
    assert r.header("content-type") == "application/problem+json"
    problem = r.json()
    assert {"type", "title", "detail", "decision_id"} <= problem.keys()
    assert doc["titel"] not in r.body.decode()  # no data in the deny
    recs = knmg.records_for_trace(_trace(r.headers))
    assert recs[-1]["decision"] == "deny" and recs[-1]["decision_id"] == problem["decision_id"]
    assert recs[-1]["resource"]["category"] == "medisch"


def test_medical_adviser_reads_medical_document(knmg: Running) -> None:
    doc = knmg.doc_of("medisch")
    r = knmg.proxy("GET", f"{DOCS}/{doc['url'].rsplit('/', 1)[1]}", knmg.headers("medisch_adviseur", HULP))
    assert r.status == 200
    assert r.json()["titel"] == doc["titel"]


def test_handhaving_is_denied_before_anything_is_forwarded(knmg: Running) -> None:
    before = len(knmg.upstream_requests())
    r = knmg.proxy("GET", DOCS, knmg.headers("handhaving", "handhaving"))
    assert r.status == 403
    assert "P1" in knmg.records_for_trace(_trace(r.headers))[-1]["reasons"]
    assert len(knmg.upstream_requests()) == before


def test_missing_purpose_is_denied_p2(knmg: Running) -> None:
    r = knmg.proxy("GET", DOCS, knmg.headers("consulent"))
    assert r.status == 403
    rec = knmg.records_for_trace(_trace(r.headers))[-1]
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
    assert got["count"] == direct["count"] - removed
    recs = knmg.records_for_trace(_trace(r.headers))
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
    ok = knmg.doc_of("algemeen")
    uid = ok["url"].rsplit("/", 1)[1]
    direct = knmg.upstream("GET", f"{DOCS}/{uid}/download")
    r = knmg.proxy("GET", f"{DOCS}/{uid}/download", knmg.headers("consulent", HULP))
    assert r.status == 200 and r.body == direct.body
    recs = knmg.records_for_trace(_trace(r.headers))
    assert recs[-1]["phase"] == "response" and recs[-1]["resource"]["category"] == "algemeen"

    med = knmg.doc_of("medisch")
    uid = med["url"].rsplit("/", 1)[1]
    before = [ln for ln in knmg.upstream_requests() if f"{uid}/download" in ln]
    r = knmg.proxy("GET", f"{DOCS}/{uid}/download", knmg.headers("consulent", HULP))
    assert r.status == 403
    after = [ln for ln in knmg.upstream_requests() if f"{uid}/download" in ln]
    assert before == after  # the content was never fetched


# -- writes --------------------------------------------------------------------------------------

def _new_document(type_url: str, titel: str) -> bytes:
    return json.dumps({
        "bronorganisatie": "123456782", "creatiedatum": "2026-11-29", "titel": titel,
        "auteur": "test", "taal": "nld", "informatieobjecttype": type_url,
        "vertrouwelijkheidaanduiding": "intern", "formaat": "text/plain", "bestandsnaam": "t.txt",
        "inhoud": base64.b64encode(b"hallo").decode(),
    }).encode()


def test_denied_create_writes_nothing_upstream(knmg: Running) -> None:
    type_url = knmg.doc_of("algemeen")["informatieobjecttype"]
    h = knmg.headers("handhaving", "handhaving")
    h["Content-Type"] = "application/json"
    r = knmg.proxy("POST", DOCS, h, _new_document(type_url, "mag-niet-bestaan-1"))
    assert r.status == 403
    assert all(d["titel"] != "mag-niet-bestaan-1" for d in knmg.seed_documents())


def test_bad_json_body_is_400_and_not_forwarded(knmg: Running) -> None:
    h = knmg.headers("consulent", HULP)
    h["Content-Type"] = "application/json"
    r = knmg.proxy("POST", DOCS, h, b"{not json")
    assert r.status == 400 and r.header("content-type") == "application/problem+json"


def test_body_over_the_limit_is_413_before_anything_is_read(knmg: Running) -> None:
    import socket

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
    "/zaken/api/v1/statussen", "/metrics", "/-/readyz", f"{ZAKEN}/", "/",
])
def test_unknown_routes_are_denied_not_forwarded(knmg: Running, target: str) -> None:
    before = len(knmg.upstream_requests())
    r = knmg.proxy("GET", target, knmg.headers("consulent", HULP))
    assert r.status == 403 and r.header("content-type") == "application/problem+json"
    assert len(knmg.upstream_requests()) == before


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

def _unsigned(claims: dict[str, object]) -> str:
    def b64(d: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()
    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."


def _hs256(claims: dict[str, object], secret: bytes, kid: str) -> str:
    """The classic key-confusion token: HMAC keyed with the server's *public* key."""
    import hashlib
    import hmac

    def b64(b: bytes) -> str:
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    signing_input = f"{b64(json.dumps({'alg': 'HS256', 'kid': kid}).encode())}.{b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"


def _claims(**over: object) -> dict[str, object]:
    now = int(time.time())
    c = {"iss": "https://idp.demo.wams.local", "aud": "wams-sidecar", "sub": "x", "role": "consulent",
         "org": "gemeente-demo", "iat": now, "exp": now + 600}
    c.update(over)
    return c


def _bad_tokens(knmg: Running) -> dict[str, str]:
    from sidecar.devtools.keys import kid_of, load_private

    key = load_private(knmg.workdir)
    kid = kid_of(key.public_key())
    pub_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    other = ec.generate_private_key(ec.SECP256R1())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {
        "garbage": "not-a-token",
        "alg_none": _unsigned(_claims()),
        "hs256_with_public_key": _hs256(_claims(), pub_pem, kid),
        "expired": jwt.encode(_claims(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200), key,
                              algorithm="ES256", headers={"kid": kid}),
        "not_yet_valid": jwt.encode(_claims(nbf=int(time.time()) + 3600), key, algorithm="ES256",
                                    headers={"kid": kid}),
        "iat_in_future": jwt.encode(_claims(iat=int(time.time()) + 3600), key, algorithm="ES256",
                                    headers={"kid": kid}),
        "wrong_aud": jwt.encode(_claims(aud="someone-else"), key, algorithm="ES256", headers={"kid": kid}),
        "wrong_iss": jwt.encode(_claims(iss="https://evil"), key, algorithm="ES256", headers={"kid": kid}),
        "unknown_kid": jwt.encode(_claims(), key, algorithm="ES256", headers={"kid": "nope"}),
        "no_kid": jwt.encode(_claims(), key, algorithm="ES256"),
        "other_key_same_kid": jwt.encode(_claims(), other, algorithm="ES256", headers={"kid": kid}),
        "rs256_other_key": jwt.encode(_claims(), rsa_key, algorithm="RS256", headers={"kid": kid}),
        "missing_org": jwt.encode({k: v for k, v in _claims().items() if k != "org"}, key, algorithm="ES256",
                                  headers={"kid": kid}),
        "bad_secrecy": jwt.encode(_claims(secrecy="soms"), key, algorithm="ES256", headers={"kid": kid}),
        "oversized": jwt.encode(_claims(pad="x" * 9000), key, algorithm="ES256", headers={"kid": kid}),
    }


def test_token_problems_are_401_never_forwarded(knmg: Running) -> None:
    before = len(knmg.upstream_requests())
    for name, tok in _bad_tokens(knmg).items():
        r = knmg.proxy("GET", ZAKEN, {"Authorization": f"Bearer {tok}", "X-Doelbinding": HULP})
        assert r.status == 401, name
        www_authenticate = r.header("www-authenticate")
        assert www_authenticate is not None and www_authenticate.startswith("Bearer"), name
        assert r.header("content-type") == "application/problem+json", name
    r = knmg.proxy("GET", ZAKEN, {"X-Doelbinding": HULP})
    assert r.status == 401
    r = knmg.proxy("GET", ZAKEN, {"Authorization": "Basic dXNlcjpwdw==", "X-Doelbinding": HULP})
    assert r.status == 401
    assert len(knmg.upstream_requests()) == before


def test_identity_and_override_headers_never_reach_upstream(knmg: Running) -> None:
    h = knmg.headers("consulent", HULP)
    h.update({"X-Forwarded-Host": "evil.example", "X-HTTP-Method-Override": "DELETE",
              "X-Remote-User": "admin", "X-Herkomst": "grondslag=lid1"})
    r = knmg.proxy("GET", ZAKEN, h)
    assert r.status == 200
    # Object URLs are built from X-Forwarded-Host: the sidecar set it from Host, not the client's copy.
    assert all("evil.example" not in z["url"] for z in r.json()["results"])


# -- records -------------------------------------------------------------------------------------

def test_every_decision_is_recorded_and_the_chain_verifies(knmg: Running) -> None:
    r = knmg.proxy("GET", ZAKEN, knmg.headers("consulent", HULP))
    assert r.status == 200
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
    """Two X-Herkomst headers with different keys would join into one valid dictionary."""
    tok = knmg.token("aanbieder", org="huisarts-de-linde", secrecy="wettelijk")
    titel = "dubbele-herkomst"
    type_url = knmg.doc_of("medisch")["informatieobjecttype"]
    body = json.dumps({"bronorganisatie": "001234560", "creatiedatum": "2026-11-29", "titel": titel,
                       "auteur": "t", "taal": "nld", "informatieobjecttype": type_url,
                       "vertrouwelijkheidaanduiding": "vertrouwelijk", "formaat": "text/plain",
                       "inhoud": base64.b64encode(b"x").decode()}).encode()
    r = knmg.proxy("POST", DOCS, [("Authorization", f"Bearer {tok}"), ("X-Doelbinding", HULP),
                                  ("Content-Type", "application/json"), ("X-Herkomst", "grondslag=toestemming"),
                                  ("X-Herkomst", 'toestemming="TS-1"')], body)
    assert r.status == 400
    assert all(d["titel"] != titel for d in knmg.seed_documents())


def test_a_client_cannot_forge_the_repeated_headers_marker(knmg: Running) -> None:
    h = knmg.headers("consulent", HULP)
    h["X-Sidecar-Repeated-Headers"] = "AUTHORIZATION"
    assert knmg.proxy("GET", ZAKEN, h).status == 200
