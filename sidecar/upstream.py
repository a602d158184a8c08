"""The upstream client: pooled, timed, strict about which headers cross; and :class:`Upstream`,
the upstream as the request flow uses it (forwarding headers, reading answers, failing closed).

A read whose pooled keep-alive connection turns out closed is sent once more on a new
connection; a write is never resent, and nothing is retried after a timeout.

Request headers are forwarded from an allow-list, not stripped from a deny-list: a header the
sidecar does not know (an identity header, a method override, ``X-Forwarded-*`` from the
client) never reaches the upstream. The sidecar sets forwarding and trace headers itself.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import jwt
import orjson
import urllib3
from flask import Request
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from werkzeug.wrappers import Response

from sidecar import metrics
from sidecar.call import Call
from sidecar.failures import FailClosed
from sidecar.problem import problem
from sidecar.settings import UpstreamSettings
from sidecar.tls import client_context, inherited

# The sidecar's own look-ups ask for JSON and name the CRS ZGW zaken require (412 without).
LOOKUP_HEADERS = {"Accept": "application/json", "Accept-Crs": "EPSG:4326"}
# End-to-end request headers that are safe and useful for a ZGW upstream.
FORWARDED_REQUEST_HEADERS = frozenset({
    "accept", "accept-language", "accept-crs", "content-crs", "content-type", "if-match",
    "if-none-match", "if-modified-since", "if-unmodified-since", "user-agent", "tracestate",
})
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "trailers", "transfer-encoding", "upgrade", "proxy-connection",
})
# Response headers never passed back: hop-by-hop plus what the sidecar recomputes.
_DROP_RESPONSE = HOP_BY_HOP | {"content-length", "server", "date", "content-encoding"}
log = logging.getLogger("sidecar.upstream")
_HOST_RX = re.compile(r"[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]{2,45}\](:[0-9]{1,5})?")


class UpstreamError(Exception):
    """``kind`` is a bounded metric label value."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class UpstreamResponse:
    status: int
    headers: list[tuple[str, str]]
    raw: urllib3.BaseHTTPResponse

    def read_limited(self, limit: int) -> bytes:
        """The whole (decoded) body, or :class:`UpstreamError` past ``limit`` bytes."""
        chunks: list[bytes] = []
        total = 0
        try:
            for chunk in self.raw.stream(64 * 1024, decode_content=True):
                total += len(chunk)
                if total > limit:
                    raise UpstreamError("unreadable", f"upstream body larger than {limit} bytes")
                chunks.append(chunk)
        except urllib3.exceptions.HTTPError as exc:
            raise UpstreamError("unreadable", f"upstream body unreadable: {exc}") from None
        finally:
            self.release()
        return b"".join(chunks)

    def stream(self) -> Iterator[bytes]:
        try:
            yield from self.raw.stream(64 * 1024, decode_content=False)
        finally:
            self.release()

    def release(self) -> None:
        self.raw.release_conn()


def filter_request_headers(headers: list[tuple[str, str]]) -> dict[str, str]:
    connection_named: set[str] = set()
    for k, v in headers:
        if k.lower() == "connection":
            connection_named.update(t.strip().lower() for t in v.split(","))
    out: dict[str, str] = {}
    for k, v in headers:
        low = k.lower()
        if low in FORWARDED_REQUEST_HEADERS and low not in connection_named and low not in HOP_BY_HOP:
            out[k] = v
    return out


def filter_response_headers(headers: list[tuple[str, str]], *, keep_length: bool) -> list[tuple[str, str]]:
    connection_named: set[str] = set()
    for k, v in headers:
        if k.lower() == "connection":
            connection_named.update(t.strip().lower() for t in v.split(","))
    drop = (_DROP_RESPONSE - ({"content-length", "content-encoding"} if keep_length else set()))
    return [(k, v) for k, v in headers if k.lower() not in drop and k.lower() not in connection_named]


def valid_host(value: str | None) -> bool:
    return value is not None and _HOST_RX.fullmatch(value) is not None


class UpstreamClient:
    def __init__(self, settings: UpstreamSettings) -> None:
        self._s = settings
        u = urllib3.util.parse_url(settings.url)
        self._prefix = (u.path or "").rstrip("/")
        timeout = urllib3.Timeout(connect=settings.timeout.connect, read=settings.timeout.read)
        host, port = u.host or "127.0.0.1", u.port or (443 if u.scheme == "https" else 80)
        self._pool: HTTPConnectionPool
        if u.scheme == "https":
            # One context for every upstream call (forwarded requests and the sidecar's own
            # look-ups alike): upstream.tls's CA instead of the system's, its client certificate.
            self._pool = HTTPSConnectionPool(
                host, port, maxsize=settings.pool_size, block=False, retries=False, timeout=timeout,
                ssl_context=inherited("upstream.tls") or client_context(settings.tls, "upstream.tls"))
        else:
            self._pool = HTTPConnectionPool(host, port, maxsize=settings.pool_size, block=False,
                                            retries=False, timeout=timeout)
        self._host_header = u.netloc or ""
        self._zgw = settings.zgw_jwt
        self._zgw_secret = settings.zgw_jwt.secret_bytes() if settings.zgw_jwt else b""

    def _zgw_token(self, user_id: str) -> str:
        assert self._zgw is not None
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self._zgw.client_id, "client_id": self._zgw.client_id, "iat": now,
            "exp": now + self._zgw.ttl_seconds, "user_id": user_id, "user_representation": user_id,
        }
        return jwt.encode(claims, self._zgw_secret, algorithm="HS256")

    def request(self, method: str, target: str, *, headers: dict[str, str], body: bytes | None,
                user_id: str, inspect: bool) -> UpstreamResponse:
        """Send one request. ``target`` is the canonical path+query the policy decided on."""
        h = dict(headers)
        h["Host"] = self._host_header
        if inspect:
            # Ask for an identity body; a compressed one is still decoded before inspection.
            h["Accept-Encoding"] = "identity"
        if self._zgw is not None:
            h["Authorization"] = f"Bearer {self._zgw_token(user_id)}"

        def send() -> urllib3.BaseHTTPResponse:
            return self._pool.urlopen(method, self._prefix + target, body=body, headers=h,
                                      retries=False, redirect=False, preload_content=False,
                                      decode_content=False, assert_same_host=False)

        try:
            try:
                raw = send()
            except urllib3.exceptions.ProtocolError:
                # A pooled keep-alive connection the upstream closed fails before any answer;
                # a read (GET/HEAD) is sent once more on a new connection. Writes are never
                # resent: the first attempt may have reached the upstream.
                if method not in ("GET", "HEAD"):
                    raise
                raw = send()
        except urllib3.exceptions.NewConnectionError as exc:
            # Checked first: urllib3 derives "connection refused" from ConnectTimeoutError.
            raise UpstreamError("connect", f"upstream unreachable: {exc}") from None
        except (urllib3.exceptions.ReadTimeoutError, urllib3.exceptions.ConnectTimeoutError,
                TimeoutError) as exc:
            raise UpstreamError("timeout", f"upstream timed out: {exc}") from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise UpstreamError("connect", f"upstream unreachable: {exc}") from None
        return UpstreamResponse(raw.status, list(raw.headers.items()), raw)


def json_response(body: bytes, status: int, headers: list[tuple[str, str]]) -> Response:
    resp = Response(body, status=status)
    for k, v in headers:
        if k.lower() != "content-type":
            resp.headers.add(k, v)
    resp.headers["Content-Type"] = "application/json"
    resp.headers["Cache-Control"] = "no-store"
    return resp


class Upstream:
    """The upstream as one request sees it: every call carries the forwarding and trace headers
    the sidecar sets, and every failure becomes a :class:`FailClosed`."""

    def __init__(self, client: UpstreamClient, max_inspect: int,
                 record_refusal: Callable[[Call, int], None]) -> None:
        self._client = client
        self._max_inspect = max_inspect
        self._record_refusal = record_refusal

    @staticmethod
    def _forward_headers(request: Request, call: Call) -> dict[str, str]:
        headers = filter_request_headers(list(request.headers.items()))
        # No X-Forwarded-Host: the sidecar rewrites the upstream's URLs itself (sidecar.urls); an
        # upstream that honoured it would move its catalogue's type URLs to the sidecar's host too.
        headers["X-Forwarded-Proto"] = request.scheme
        headers["X-Forwarded-For"] = request.environ.get("REMOTE_ADDR", "")
        headers["traceparent"] = call.trace.traceparent
        return headers

    def send(self, request: Request, call: Call, method: str, target: str, body: bytes | None,
             *, inspect: bool, lookup: bool = False) -> UpstreamResponse:
        """Forward the client's request, or (``lookup``) make one of the sidecar's own look-ups for
        it, which carry the headers a ZGW upstream requires whatever the client sent (Open Zaak
        answers 412 to a zaken request without Accept-Crs)."""
        assert call.identity is not None
        headers = self._forward_headers(request, call)
        if lookup:
            headers = {k: v for k, v in headers.items() if k.lower() not in ("accept", "accept-crs")}
            headers.update(LOOKUP_HEADERS)
        try:
            return self._client.request(method, target, headers=headers,
                                        body=body, user_id=call.identity.sub, inspect=inspect)
        except UpstreamError as exc:
            metrics.upstream_errors_total.labels(exc.kind).inc()
            log.error("upstream failed", extra={"event": "upstream_error", "kind": exc.kind,
                                                "error": str(exc), "trace_id": call.trace.trace_id})
            raise FailClosed("upstream_timeout" if exc.kind == "timeout" else "upstream") from None

    def read_json(self, resp: UpstreamResponse) -> Any:
        """Read and parse an inspected body; anything unreadable is not released."""
        try:
            raw = resp.read_limited(self._max_inspect)
        except UpstreamError as exc:
            metrics.upstream_errors_total.labels(exc.kind).inc()
            raise FailClosed("unclassifiable") from None
        try:
            return orjson.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise FailClosed("unclassifiable") from None

    def require_ok(self, resp: UpstreamResponse, detail: str) -> None:
        """The sidecar's own look-ups (metadata, a rol's zaak, a zaak's rollen): anything but a 2xx
        means the decision cannot be made, so the request fails closed. A ZGW error the client can
        act on (a 400 or 412 about its request) is passed on as a problem with the upstream's
        reason; anything else is a 502."""
        if 200 <= resp.status < 300:
            return
        if 400 <= resp.status < 500 and resp.status not in (401, 403, 404):
            doc = self.read_json(resp)
            reason = doc.get("detail") or doc.get("title") if isinstance(doc, dict) else None
            metrics.upstream_errors_total.labels("status_4xx").inc()
            raise FailClosed("upstream_rejected", f"De achterliggende dienst weigerde het verzoek: {reason}"
                             if isinstance(reason, str) else None, status=resp.status)
        resp.release()
        if resp.status >= 500:
            metrics.upstream_errors_total.labels("status_5xx").inc()
        raise FailClosed("upstream", detail)

    def failure(self, call: Call, resp: UpstreamResponse) -> Response | None:
        """Non-2xx from upstream: 5xx and redirects become 502; a ZGW error object passes. Either
        way the request did not take effect, and its record says so with the upstream's status."""
        if 200 <= resp.status < 300:
            return None
        self._record_refusal(call, resp.status)
        if resp.status >= 500 or resp.status < 400:
            resp.release()
            metrics.upstream_errors_total.labels("status_5xx" if resp.status >= 500 else "unreadable").inc()
            return problem(502, "upstream-fout", "De achterliggende dienst gaf een fout.")
        doc = self.read_json(resp)
        if not isinstance(doc, dict) or "results" in doc or "url" in doc:
            return problem(502, "upstream-fout", "De achterliggende dienst gaf een onverwacht antwoord.")
        out = json_response(orjson.dumps(doc), resp.status, [])
        out.headers["Content-Type"] = "application/problem+json"  # a ZGW Fout is problem details (RFC 7807)
        return out
