"""The attack corpus (tests/attack_corpus.json) through the running sidecar.

Every case asserts the status *and* that nothing unexpected reached the upstream (the demo
upstream's request log), and that a request the application saw left a decision record under
its trace id. Raw cases are written to the socket byte for byte, for what http.client refuses
to send (bare CR, NUL, non-ASCII targets, smuggling shapes).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import DOCS, HULP, ZAKEN, Running, document_body, raw_exchange, uuid_of

CORPUS = json.loads((Path(__file__).parent / "attack_corpus.json").read_text())["cases"]
CASES = {c["name"]: c for c in CORPUS}
DUPLICATE_HERKOMST_TITLE = "aanval-dubbele-herkomst"


@pytest.fixture(scope="module")
def env(knmg: Running) -> dict[str, str]:
    type_url = knmg.doc_of("medisch")["informatieobjecttype"]
    zaak = knmg.upstream("GET", ZAKEN).json()["results"][0]
    tok = knmg.token("consulent")
    med = uuid_of(knmg.doc_of("medisch"))
    smuggled = (f"DELETE {ZAKEN}/{uuid_of(zaak)} HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer {tok}\r\n"
                f"X-Doelbinding: {HULP}\r\n\r\n")
    return {
        "ZAKEN": ZAKEN, "DOCS": DOCS, "ALG": uuid_of(knmg.doc_of("algemeen")), "MED": med,
        "MED_UPPER": med.upper(), "ZAAK": uuid_of(zaak), "TOKEN": tok, "PURPOSE": HULP,
        "LONG4000": "a" * 4000, "LONG9000": "a" * 9000, "LONG20000": "a" * 20000,
        "MANY_HEADERS": "".join(f"X-H{i}: {i}\r\n" for i in range(150)),
        "SMUGGLED": smuggled, "SMUGGLED_LEN": str(len(smuggled)),
        "NEWDOC": document_body(type_url, DUPLICATE_HERKOMST_TITLE).decode(),
    }


def fill(text: str, env: dict[str, str]) -> str:
    for k, v in env.items():
        text = text.replace("{" + k + "}", v)
    return text


def run_case(knmg: Running, env: dict[str, str], case: dict[str, Any]) -> None:
    """Send one corpus case and check its answer, what reached the upstream and its records."""
    before = knmg.mark_upstream()
    records_before = len(knmg.records())
    if "raw" in case:
        replies = raw_exchange(knmg.stack.ports.proxy, fill(case["raw"], env).encode("latin-1"))
        assert replies, "no HTTP response at all"
        status, headers, body = replies[0]
        # A second response on the same connection would be a smuggled request: it must not
        # have succeeded either.
        assert all(r[0] != 200 for r in replies[1:]), [r[0] for r in replies]
    else:
        headers_out: list[tuple[str, str]] = []
        if "auth" not in case:
            role = case.get("role", "consulent")
            tok = knmg.token(role, org=case.get("org"))
            headers_out += [("Authorization", f"Bearer {tok}"), ("X-Doelbinding", HULP)]
        headers_out += [(k, fill(v, env)) for k, v in case.get("extra_headers", [])]
        body_bytes = fill(case["body"], env).encode() if "body" in case else None
        reply = knmg.proxy(case.get("method", "GET"), fill(case["target"], env), headers_out, body_bytes)
        status, headers, body = reply.status, reply.headers, reply.body

    assert status in case["expect"], f"{case['name']}: got {status} {body[:300]!r}"
    forwarded = knmg.upstream_since(before)
    if case.get("forwarded", False):
        assert forwarded and all('"GET ' in ln for ln in forwarded), forwarded
    else:
        assert forwarded == [], f"{case['name']}: reached the upstream: {forwarded}"
    if status >= 400:
        # No data in a refusal: nothing from the upstream's documents or cases.
        assert b'"results"' not in body and b'"titel"' not in body
    recorded = case.get("recorded", True)
    tp = headers.get("traceparent")
    if recorded is True:
        assert tp, f"{case['name']}: answered outside the sidecar application (no traceparent)"
    if tp:
        trace_id = tp.split("-")[1]
        recs = knmg.records_for_trace(trace_id)
        assert recs, f"{case['name']}: no decision record for trace {trace_id}"
        if status >= 400:
            assert recs[-1]["decision"] == "deny"
    elif recorded is False:
        assert len(knmg.records()) == records_before  # gunicorn refused it: the app never ran


@pytest.mark.parametrize("case", CORPUS, ids=[c["name"] for c in CORPUS])
def test_attack_corpus(knmg: Running, env: dict[str, str], case: dict[str, Any]) -> None:
    run_case(knmg, env, case)


# The two checks below send their own attacks: they must not depend on the corpus having run
# before them (alone, they would otherwise pass without testing anything).

def test_method_override_did_not_delete(knmg: Running, env: dict[str, str]) -> None:
    """A GET that asks for DELETE in override headers, and a DELETE smuggled in a GET's body:
    the zaak still exists upstream and the upstream never saw a DELETE."""
    before = knmg.mark_upstream()
    for name in ("DELETE with GET override", "GET with body smuggling a DELETE"):
        run_case(knmg, env, CASES[name])
    assert not [ln for ln in knmg.upstream_since(before) if '"DELETE ' in ln]
    assert knmg.upstream("GET", f"{ZAKEN}/{env['ZAAK']}").status == 200


def test_duplicate_herkomst_wrote_nothing(knmg: Running, env: dict[str, str]) -> None:
    """Two X-Herkomst headers, or one with a repeated key: refused, and no document written."""
    for name in ("duplicate X-Herkomst", "X-Herkomst repeated key in one header"):
        run_case(knmg, env, CASES[name])
    assert DUPLICATE_HERKOMST_TITLE not in knmg.document_titles()


@pytest.mark.parametrize("role", ["consulent", "medisch_adviseur", "handhaving"])
def test_head_is_decided_as_get(knmg: Running, env: dict[str, str], role: str) -> None:
    """HEAD is a read: the same status and the same decisions as GET, and never a body."""
    purpose = "handhaving" if role == "handhaving" else HULP
    for target in (ZAKEN, DOCS, f"{DOCS}/{env['ALG']}", f"{DOCS}/{env['MED']}",
                   f"{DOCS}/{env['ALG']}/download", f"{DOCS}/{env['MED']}/download", f"{ZAKEN}/{env['ZAAK']}"):
        outcomes = {}
        for method in ("GET", "HEAD"):
            r = knmg.proxy(method, target, knmg.headers(role, purpose))
            recs = knmg.records_of(r)
            outcomes[method] = (r.status, [(x["phase"], x["decision"], x["action"]) for x in recs])
            if method == "HEAD":
                assert r.body == b""
        assert outcomes["GET"] == outcomes["HEAD"], (target, outcomes)
