"""The attack corpus (tests/attack_corpus.json) through the running sidecar.

Every case asserts the status *and* that nothing unexpected reached the upstream (the demo
upstream's request log), and that a request the application saw left a decision record under
its trace id. Raw cases are written to the socket byte for byte, for what http.client refuses
to send (bare CR, NUL, non-ASCII targets, smuggling shapes).
"""

from __future__ import annotations

import base64
import json
import socket
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DOCS, ZAKEN, Running

HULP = "onderzoek_hulpvraag"
CORPUS = json.loads((Path(__file__).parent / "attack_corpus.json").read_text())["cases"]


def raw_exchange(port: int, data: bytes, timeout: float = 5.0) -> list[tuple[int, dict[str, str], bytes]]:
    """Write ``data`` as is; return every response read until the server closes or goes quiet."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        buf = b""
        s.settimeout(1.0)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                break
            except ConnectionResetError:
                break
            if not chunk:
                break
            buf += chunk
    return parse_responses(buf)


def parse_responses(buf: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    out = []
    while buf.startswith(b"HTTP/"):
        head, _, rest = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
        length = int(headers.get("content-length", "0") or 0)
        out.append((status, headers, rest[:length]))
        buf = rest[length:]
    return out


def mark_upstream(run: Running) -> int:
    """Number of upstream log lines, after a marker request proved the log is up to date."""
    marker = uuid.uuid4().hex
    run.upstream("GET", f"{ZAKEN}?marker={marker}")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = run.upstream_requests()
        if any(marker in ln for ln in lines):
            return len(lines)
        time.sleep(0.02)
    raise AssertionError("the demo upstream did not log the marker request")


def new_lines(run: Running, before: int) -> list[str]:
    """Upstream request lines since ``before``, without this helper's own marker requests."""
    after = mark_upstream(run)
    return [ln for ln in run.upstream_requests()[before:after] if "marker=" not in ln]


def _uuid(doc: dict[str, Any]) -> str:
    return str(doc["url"].rsplit("/", 1)[1])


@pytest.fixture(scope="module")
def env(knmg: Running) -> dict[str, str]:
    type_url = knmg.doc_of("medisch")["informatieobjecttype"]
    zaak = knmg.upstream("GET", ZAKEN).json()["results"][0]
    tok = knmg.token("consulent")
    med = _uuid(knmg.doc_of("medisch"))
    smuggled = (f"DELETE {ZAKEN}/{_uuid(zaak)} HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer {tok}\r\n"
                f"X-Doelbinding: {HULP}\r\n\r\n")
    return {
        "ZAKEN": ZAKEN, "DOCS": DOCS, "ALG": _uuid(knmg.doc_of("algemeen")), "MED": med,
        "MED_UPPER": med.upper(), "ZAAK": _uuid(zaak), "TOKEN": tok, "PURPOSE": HULP,
        "LONG4000": "a" * 4000, "LONG9000": "a" * 9000, "LONG20000": "a" * 20000,
        "MANY_HEADERS": "".join(f"X-H{i}: {i}\r\n" for i in range(150)),
        "SMUGGLED": smuggled, "SMUGGLED_LEN": str(len(smuggled)),
        "NEWDOC": json.dumps({
            "bronorganisatie": "123456782", "creatiedatum": "2026-11-29", "titel": "aanval-dubbele-herkomst",
            "auteur": "test", "taal": "nld", "informatieobjecttype": type_url,
            "vertrouwelijkheidaanduiding": "vertrouwelijk", "formaat": "text/plain", "bestandsnaam": "t.txt",
            "inhoud": base64.b64encode(b"hallo").decode()}),
    }


def fill(text: str, env: dict[str, str]) -> str:
    for k, v in env.items():
        text = text.replace("{" + k + "}", v)
    return text


@pytest.mark.parametrize("case", CORPUS, ids=[c["name"] for c in CORPUS])
def test_attack_corpus(knmg: Running, env: dict[str, str], case: dict[str, Any]) -> None:
    before = mark_upstream(knmg)
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
    forwarded = new_lines(knmg, before)
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


def test_method_override_did_not_delete(knmg: Running, env: dict[str, str]) -> None:
    """After the corpus (which sent X-HTTP-Method-Override: DELETE and smuggled a DELETE),
    the zaak still exists upstream and the upstream never saw a DELETE."""
    r = knmg.upstream("GET", f"{ZAKEN}/{env['ZAAK']}")
    assert r.status == 200
    assert not [ln for ln in knmg.upstream_requests() if '"DELETE ' in ln]


def test_duplicate_herkomst_wrote_nothing(knmg: Running) -> None:
    titles = [d["titel"] for d in knmg.upstream("GET", f"{DOCS}?page=1").json()["results"]]
    assert "aanval-dubbele-herkomst" not in titles


@pytest.mark.parametrize("role", ["consulent", "medisch_adviseur", "handhaving"])
def test_head_is_decided_as_get(knmg: Running, env: dict[str, str], role: str) -> None:
    """HEAD is a read: the same status and the same decisions as GET, and never a body."""
    purpose = "handhaving" if role == "handhaving" else HULP
    for target in (ZAKEN, DOCS, f"{DOCS}/{env['ALG']}", f"{DOCS}/{env['MED']}",
                   f"{DOCS}/{env['ALG']}/download", f"{DOCS}/{env['MED']}/download", f"{ZAKEN}/{env['ZAAK']}"):
        outcomes = {}
        for method in ("GET", "HEAD"):
            r = knmg.proxy(method, target, knmg.headers(role, purpose))
            recs = knmg.records_for_trace(r.headers["traceparent"].split("-")[1])
            outcomes[method] = (r.status, [(x["phase"], x["decision"], x["action"]) for x in recs])
            if method == "HEAD":
                assert r.body == b""
        assert outcomes["GET"] == outcomes["HEAD"], (target, outcomes)
