"""The upstream client: pooled, timed, no retries, and strict about which headers cross.

Request headers are forwarded from an allow-list, not stripped from a deny-list: a header the
sidecar does not know (an identity header, a method override, ``X-Forwarded-*`` from the
client) never reaches the upstream. The sidecar sets forwarding and trace headers itself.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jwt
import urllib3
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from sidecar.settings import UpstreamSettings

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

    def header(self, name: str) -> str | None:
        low = name.lower()
        for k, v in self.headers:
            if k.lower() == low:
                return v
        return None

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
        pool_cls = HTTPSConnectionPool if u.scheme == "https" else HTTPConnectionPool
        self._pool: HTTPConnectionPool = pool_cls(
            u.host or "127.0.0.1", u.port or (443 if u.scheme == "https" else 80),
            maxsize=settings.pool_size, block=False, retries=False, timeout=timeout)
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
