"""Upstream responses and faults, with a fake upstream of our own (OPA stays real).

The fake answers gzip, chunked, truncated, oversized, invalid or unclassifiable bodies, sleeps
past the read timeout or is stopped; it records every request it receives, so the tests see
exactly what crossed the sidecar (method, path, headers, body).
"""

from __future__ import annotations

import contextlib
import gzip
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.helpers import (
    DOCS,
    HULP,
    PROVIDER_ORG,
    LoopbackServer,
    Running,
    raw_exchange,
    send_json,
    start_stack_before,
)

ALG = "11111111-1111-4111-8111-111111111111"
MED = "22222222-2222-4222-8222-222222222222"
ZAAK = "/zaken/api/v1/zaken/33333333-3333-4333-8333-333333333333"
RELATION_LISTS = ("/zaken/api/v1/rollen", "/zaken/api/v1/zaakinformatieobjecten")
SECRET = "GEHEIM-MEDISCH-DOSSIER"  # the marker that must never reach a consulent


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeUpstream(LoopbackServer):
    """``mode`` picks how the next responses are shaped; ``requests`` lists what arrived."""

    mode: str = "plain"
    delay: float = 0.0
    requests: list[Seen] = field(default_factory=list)
    relation_lookups: list[str] = field(default_factory=list)
    port: int = 0

    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @contextlib.contextmanager
    def answering(self, mode: str) -> Iterator[None]:
        """Shape the responses as ``mode`` for the ``with`` block, then plain again."""
        self.mode = mode
        try:
            yield
        finally:
            self.mode = "plain"

    def doc(self, uid: str, category: str, titel: str) -> dict[str, Any]:
        return {"url": f"{self.base()}{DOCS}/{uid}", "titel": titel, "vertrouwelijkheidaanduiding": "vertrouwelijk",
                "informatieobjecttype": f"{self.base()}/catalogi/api/v1/informatieobjecttypen/{category}"}

    def body_for(self, path: str) -> Any:
        if path.startswith(f"{DOCS}/{MED}"):
            return self.doc(MED, "medisch", SECRET)
        if path.startswith(f"{DOCS}/{ALG}"):
            return self.doc(ALG, "algemeen", "gewone brief")
        return {"count": 2, "next": None, "previous": None,
                "results": [self.doc(ALG, "algemeen", "gewone brief"), self.doc(MED, "medisch", SECRET)]}

    def start(self, port: int = 0) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if urlsplit(self.path).path in RELATION_LISTS:
                    outer.relations(self)
                    return
                outer.requests.append(Seen(self.command, self.path, dict(self.headers.items()), body))
                if outer.delay:
                    time.sleep(outer.delay)
                outer.respond(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

        self.serve(Handler, port)

    def relations(self, h: BaseHTTPRequestHandler) -> None:
        """Need-to-know look-ups, answered plainly whatever the mode (the modes shape the
        documents): every caller has one rol, on the one zaak that holds both documents."""
        self.relation_lookups.append(h.path)
        path, query = urlsplit(h.path).path, parse_qs(urlsplit(h.path).query)
        if path.endswith("/zaakinformatieobjecten"):
            body: Any = [{"url": f"{self.base()}/zaken/api/v1/zaakinformatieobjecten/{uid}", "zaak": self.base() + ZAAK,
                          "informatieobject": f"{self.base()}{DOCS}/{uid}"} for uid in (ALG, MED)]
        else:
            sub = query.get("betrokkeneIdentificatie__medewerker__identificatie")
            rollen = [{"url": f"{self.base()}/zaken/api/v1/rollen/r", "zaak": self.base() + ZAAK,
                       "roltype": f"{self.base()}/catalogi/api/v1/roltypen/behandelaar",
                       "betrokkeneType": "medewerker",
                       "betrokkeneIdentificatie": {"identificatie": sub[0]}}] if sub else []
            body = {"count": len(rollen), "next": None, "previous": None, "results": rollen}
        send_json(h, body)

    def respond(self, h: BaseHTTPRequestHandler) -> None:
        mode = self.mode
        if h.path.endswith("/download"):
            payload = SECRET.encode()
            h.send_response(200)
            h.send_header("Content-Type", "application/octet-stream")
            h.send_header("Content-Length", str(len(payload)))
            h.end_headers()
            h.wfile.write(payload)
            return
        data = json.dumps(self.body_for(h.path)).encode()
        status, headers, out = 200, [("Content-Type", "application/json")], data
        if mode == "gzip":
            out = gzip.compress(data)
            headers.append(("Content-Encoding", "gzip"))
        elif mode == "gzip-twice":
            out = gzip.compress(gzip.compress(data))
            headers.append(("Content-Encoding", "gzip, gzip"))
        elif mode == "unknown-encoding":
            headers.append(("Content-Encoding", "x-secret-sauce"))
        elif mode == "invalid-json":
            out = data[:-5] + b"<html>"
        elif mode == "html":
            headers = [("Content-Type", "text/html")]
            out = f"<html>{SECRET}</html>".encode()
        elif mode == "no-type":
            doc = self.body_for(h.path)
            (doc["results"] if "results" in doc else [doc])[-1].pop("informatieobjecttype")
            out = json.dumps(doc).encode()
        elif mode == "unknown-type":
            doc = self.body_for(h.path)
            for d in doc["results"] if "results" in doc else [doc]:
                d["informatieobjecttype"] = f"{self.base()}/catalogi/api/v1/informatieobjecttypen/nieuw"
            out = json.dumps(doc).encode()
        elif mode == "unasked-expand":
            # Embedded objects the request did not ask for (no ?expand=): never released unseen.
            doc = self.body_for(h.path)
            for d in doc["results"] if "results" in doc else [doc]:
                d["_expand"] = {"informatieobjecttype": {"omschrijving": SECRET}}
            out = json.dumps(doc).encode()
        elif mode == "array":
            out = json.dumps([self.body_for(h.path)]).encode()
        elif mode == "list-without-results":
            doc = self.body_for(h.path)
            out = json.dumps({"items": doc.get("results", [doc])}).encode()
        elif mode == "bomb":
            out = gzip.compress(b'{"titel": "' + b"A" * 5_000_000 + b'"}')
            headers.append(("Content-Encoding", "gzip"))
        elif mode == "redirect":
            status, out = 302, b""
            headers.append(("Location", f"{self.base()}{DOCS}/{MED}"))
        elif mode == "error-500":
            status = 500
            out = json.dumps({"detail": SECRET}).encode()
        elif mode == "error-403-with-data":
            status = 403
        h.send_response(status)
        for k, v in headers:
            h.send_header(k, v)
        if mode in ("chunked", "chunked-gzip"):
            if mode == "chunked-gzip":
                out = gzip.compress(out)
                h.send_header("Content-Encoding", "gzip")
            h.send_header("Transfer-Encoding", "chunked")
            h.end_headers()
            for i in range(0, len(out), 7):
                piece = out[i:i + 7]
                h.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            h.wfile.write(b"0\r\n\r\n")
            return
        if mode == "truncated":
            h.send_header("Content-Length", str(len(out) + 100))
            h.send_header("Connection", "close")
            h.end_headers()
            h.wfile.write(out)
            h.close_connection = True
            return
        h.send_header("Content-Length", str(len(out)))
        h.end_headers()
        h.wfile.write(out)


@pytest.fixture(scope="module")
def faked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, FakeUpstream]]:
    fake = FakeUpstream()
    fake.start()
    try:
        stack = start_stack_before(fake.port, tmp_path_factory.mktemp("fake-upstream"), workers=1, upstream={
            "timeout": {"connect": 0.5, "read": 0.7}, "max_request_body_bytes": 2048,
            "max_inspected_response_bytes": 65536})
    except BaseException:
        fake.stop()
        raise
    yield Running(stack), fake
    stack.stop()
    fake.stop()


# mode → (status for a consulent reading the medical document, status reading the general one)
RESPONSE_CASES = {
    "plain": (403, 200),
    "gzip": (403, 200),
    "gzip-twice": (403, 200),
    "chunked": (403, 200),
    "chunked-gzip": (403, 200),
    "unknown-encoding": (403, 200),
    "invalid-json": (502, 502),
    "html": (502, 502),
    "array": (403, 403),
    "unasked-expand": (502, 502),
    "truncated": (502, 502),
    "bomb": (502, 502),
    "redirect": (502, 502),
    "error-500": (502, 502),
}


@pytest.mark.parametrize("mode", sorted(RESPONSE_CASES))
def test_protected_responses_are_inspected(faked: tuple[Running, FakeUpstream], mode: str) -> None:
    run, fake = faked
    with fake.answering(mode):
        for uid, want in zip((MED, ALG), RESPONSE_CASES[mode], strict=True):
            r = run.proxy("GET", f"{DOCS}/{uid}", run.headers("consulent", HULP))
            assert r.status == want, (mode, uid, r.status, r.body[:200])
            assert SECRET.encode() not in r.body, (mode, "medical content released")
            recs = run.records_of(r)
            assert recs and recs[0]["phase"] == "request"
            if r.status == 200:
                # Released only with a durable response-phase allow, and decoded (no gzip bytes).
                assert recs[-1]["phase"] == "response" and recs[-1]["decision"] == "allow"
                assert r.json()["titel"] == "gewone brief"
                assert "content-encoding" not in r.headers


@pytest.mark.parametrize("mode", ["plain", "gzip", "chunked", "chunked-gzip", "unknown-type", "no-type"])
def test_lists_are_filtered_whatever_the_transfer_shape(faked: tuple[Running, FakeUpstream], mode: str) -> None:
    run, fake = faked
    with fake.answering(mode):
        r = run.proxy("GET", DOCS, run.headers("consulent", HULP))
    assert r.status == 200, r.body[:300]
    assert SECRET.encode() not in r.body
    titles = [d["titel"] for d in r.json()["results"]]
    assert titles == ([] if mode == "unknown-type" else ["gewone brief"])
    recs = run.records_of(r)
    assert [x["decision"] for x in recs if x["phase"] == "response"] == (
        ["deny", "deny"] if mode == "unknown-type" else ["allow", "deny"])


@pytest.mark.parametrize("mode", ["list-without-results", "invalid-json", "html", "array", "unasked-expand"])
def test_unclassifiable_lists_are_not_released(faked: tuple[Running, FakeUpstream], mode: str) -> None:
    run, fake = faked
    before = run.metric("sidecar_fail_closed_total", cause="unclassifiable")
    with fake.answering(mode):
        r = run.proxy("GET", DOCS, run.headers("consulent", HULP))
    assert r.status == 502 and SECRET.encode() not in r.body
    assert run.metric("sidecar_fail_closed_total", cause="unclassifiable") == before + 1


def test_unasked_embedded_objects_are_refused_before_the_response_is_decided(
        faked: tuple[Running, FakeUpstream]) -> None:
    run, fake = faked
    with fake.answering("unasked-expand"):
        r = run.proxy("GET", f"{DOCS}/{ALG}", run.headers("consulent", HULP))
    assert r.status == 502 and SECRET.encode() not in r.body
    recs = run.records_of(r)
    # No response-phase allow for an answer that was then withheld: only the request phase and
    # the refusal.
    assert [(x["phase"], x["decision"]) for x in recs] == [("request", "allow"), ("request", "deny")]


def test_upstream_4xx_body_with_object_data_is_not_released(faked: tuple[Running, FakeUpstream]) -> None:
    run, fake = faked
    with fake.answering("error-403-with-data"):
        r = run.proxy("GET", f"{DOCS}/{MED}", run.headers("consulent", HULP))
    assert r.status == 502 and SECRET.encode() not in r.body


def test_only_allow_listed_headers_cross(faked: tuple[Running, FakeUpstream]) -> None:
    run, fake = faked
    tok = run.token("consulent")
    h = {"Authorization": f"Bearer {tok}", "X-Doelbinding": HULP, "X-HTTP-Method-Override": "DELETE",
         "X-HTTP-Method": "DELETE", "X-Method-Override": "DELETE", "X-Forwarded-For": "10.6.6.6",
         "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https", "Forwarded": "for=10.6.6.6",
         "X-Original-URL": f"{DOCS}/{MED}", "X-Rewrite-URL": f"{DOCS}/{MED}", "X-Real-IP": "10.6.6.6",
         "X-Remote-User": "admin", "X-User-Id": "admin", "Cookie": "session=abc", "Proxy-Authorization": "Basic eA==",
         "X-Herkomst": "grondslag=lid1", "Accept-Encoding": "gzip", "Connection": "keep-alive, Accept",
         "Accept": "application/json", "traceparent": "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"}
    n = len(fake.requests)
    r = run.proxy("GET", f"{DOCS}/{ALG}", h)
    assert r.status == 200
    seen = fake.requests[n:]
    assert [(s.method, s.path) for s in seen] == [("GET", f"{DOCS}/{ALG}")]
    got = {k.lower(): v for k, v in seen[0].headers.items()}
    forbidden = {"authorization", "x-doelbinding", "x-http-method-override", "x-http-method", "x-method-override",
                 "forwarded", "x-original-url", "x-rewrite-url", "x-real-ip", "x-remote-user", "x-user-id", "cookie",
                 "proxy-authorization", "x-herkomst", "accept"}
    assert not forbidden & got.keys(), forbidden & got.keys()
    assert got["x-forwarded-for"] == "127.0.0.1"
    assert got["x-forwarded-proto"] == "http"
    # No X-Forwarded-Host at all: the sidecar rewrites the upstream's links itself (sidecar/urls.py).
    assert "x-forwarded-host" not in got
    assert got["accept-encoding"] == "identity"
    assert got["traceparent"].split("-")[1] == "ab" * 16 and got["traceparent"].split("-")[2] != "cd" * 8


def test_request_body_over_the_limit_is_413_and_not_forwarded(faked: tuple[Running, FakeUpstream]) -> None:
    run, fake = faked
    n = len(fake.requests)
    too_large = run.metric("sidecar_fail_closed_total", cause="body_too_large")
    h = run.headers("aanbieder", HULP, org=PROVIDER_ORG)
    # A valid X-Herkomst (consent names its data subject): only the body's size is wrong.
    h.update({"Content-Type": "application/json",
              "X-Herkomst": 'grondslag=toestemming, toestemming="T-1", betrokkene="111222333"'})
    big = json.dumps({"titel": "x" * 5000}).encode()
    r = run.proxy("POST", DOCS, h, big)
    assert r.status == 413
    # Chunked, no Content-Length: the limit holds while reading.
    tok = h["Authorization"]
    chunks = b"".join(f"{len(big[i:i + 1000]):x}\r\n".encode() + big[i:i + 1000] + b"\r\n"
                      for i in range(0, len(big), 1000)) + b"0\r\n\r\n"
    head = (f"POST {DOCS} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {tok}\r\nX-Doelbinding: {HULP}\r\n"
            f"Content-Type: application/json\r\nX-Herkomst: {h['X-Herkomst']}\r\n"
            "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n").encode()
    replies = raw_exchange(run.stack.ports.proxy, head + chunks)
    assert replies[0][0] == 413
    assert fake.requests[n:] == []
    assert run.metric("sidecar_fail_closed_total", cause="body_too_large") == too_large + 2


def test_upstream_slow_is_504_and_down_is_502(faked: tuple[Running, FakeUpstream]) -> None:
    run, fake = faked
    before = run.metric("sidecar_upstream_errors_total", kind="timeout")
    fake.delay = 1.5  # past upstream.timeout.read (0.7 s)
    try:
        r = run.proxy("GET", f"{DOCS}/{ALG}", run.headers("consulent", HULP))
        assert r.status == 504  # the read timeout, not the upstream's answer, ended the wait
    finally:
        fake.delay = 0.0
    assert run.metric("sidecar_upstream_errors_total", kind="timeout") == before + 1
    recs = run.records_of(r)
    # Decided and recorded (the allow), then the failure recorded as a deny with its status;
    # no response-phase allow, so nothing was released.
    assert [(x["phase"], x["decision"]) for x in recs] == [("request", "allow"), ("request", "deny")]
    assert recs[-1]["status"] == 504

    port = fake.port
    fake.stop()
    try:
        before = run.metric("sidecar_upstream_errors_total", kind="connect")
        r = run.proxy("GET", f"{DOCS}/{ALG}", run.headers("consulent", HULP))
        assert r.status == 502 and r.header("content-type") == "application/problem+json"
        assert run.metric("sidecar_upstream_errors_total", kind="connect") == before + 1
    finally:
        fake.start(port)
    log = run.log()
    assert '"upstream_error"' in log and '"timeout"' in log and '"connect"' in log
    assert run.proxy("GET", f"{DOCS}/{ALG}", run.headers("consulent", HULP)).status == 200


def test_download_is_decided_on_metadata_before_bytes_flow(faked: tuple[Running, FakeUpstream]) -> None:
    run, fake = faked
    n = len(fake.requests)
    r = run.proxy("GET", f"{DOCS}/{MED}/download", run.headers("consulent", HULP))
    assert r.status == 403 and SECRET.encode() not in r.body
    assert [s.path for s in fake.requests[n:]] == [f"{DOCS}/{MED}"]  # metadata only, never the bytes
    r = run.proxy("GET", f"{DOCS}/{MED}/download", run.headers("medisch_adviseur", HULP))
    assert r.status == 200 and r.body == SECRET.encode()
