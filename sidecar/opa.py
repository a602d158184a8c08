"""OPA client: one pooled, thread-safe HTTP connection pool with connect and read timeouts.

Everything that is not a well-formed decision becomes an :class:`OpaError`, which the caller
turns into a deny (503). A query whose pooled keep-alive connection OPA had closed is sent once
more on a new connection (it has no side effects); nothing is retried after a timeout or an
answer, since a retry doubles the worst-case latency.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
import urllib3
from urllib3.connection import HTTPConnection
from urllib3.connectionpool import HTTPConnectionPool

from sidecar import vocab
from sidecar.settings import OpaSettings

KNOWN_OBLIGATIONS = frozenset(vocab.OBLIGATION_TYPES)


class OpaError(Exception):
    """OPA trouble. ``kind`` is a bounded metric label value."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


# "engine": the in-process (wasm) evaluation failed or has no bundle (sidecar.wasm_engine).
OPA_ERROR_KINDS = ("connect", "timeout", "http", "undefined", "malformed", "obligation", "engine")


@dataclass(frozen=True, slots=True)
class Decision:
    allow: bool
    reasons: list[str]
    reason_user: str
    obligations: list[dict[str, Any]]
    grondslag: str | None
    processing_activity: str | None
    revision: str | None
    duration_s: float
    evaluations: list[Decision] = field(default_factory=list)
    deny_reason: str | None = None


class _UnixConnection(HTTPConnection):
    def __init__(self, *args: Any, socket_path: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._socket_path = socket_path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout if isinstance(self.timeout, int | float) else None)
        sock.connect(self._socket_path)
        self.sock = sock


class _UnixPool(HTTPConnectionPool):
    ConnectionCls = _UnixConnection


def _parse_one(obj: Any, revision: str | None, duration_s: float) -> Decision:
    if not isinstance(obj, dict):
        raise OpaError("malformed", "decision is not an object")
    allow = obj.get("decision")
    if not isinstance(allow, bool):
        raise OpaError("malformed", "decision.decision is not a boolean")
    reasons = obj.get("reasons", [])
    if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
        raise OpaError("malformed", "decision.reasons is not a list of strings")
    reason_user = obj.get("reason_user", "")
    if not isinstance(reason_user, str):
        raise OpaError("malformed", "decision.reason_user is not a string")
    obligations = obj.get("obligations", [])
    if not isinstance(obligations, list) or not all(
            isinstance(o, dict) and isinstance(o.get("type"), str) for o in obligations):
        raise OpaError("malformed", "decision.obligations is not a list of objects with a type")
    if allow:
        unknown = sorted({o["type"] for o in obligations} - KNOWN_OBLIGATIONS)
        if unknown:
            # AuthZEN lets a PEP reject an allow whose context it does not understand; we must.
            raise OpaError("obligation", f"unknown obligation(s) {unknown}")
    grond = obj.get("grondslag")
    pa = obj.get("processing_activity")
    if grond is not None and not isinstance(grond, str):
        raise OpaError("malformed", "decision.grondslag is not a string")
    if pa is not None and not isinstance(pa, str):
        raise OpaError("malformed", "decision.processing_activity is not a string")
    deny_reason = obj.get("deny_reason")
    if deny_reason is not None and not isinstance(deny_reason, str):
        raise OpaError("malformed", "decision.deny_reason is not a string")
    return Decision(allow, reasons, reason_user, obligations, grond, pa, revision, duration_s,
                    deny_reason=deny_reason)


def parse_decision(result: Any, opa_input: dict[str, Any], revision: str | None, duration_s: float) -> Decision:
    """The checked :class:`Decision` of a defined decision document, with one per batch item
    when the input had ``evaluations``; shared by the REST client and the wasm engine."""
    decision = _parse_one(result, revision, duration_s)
    if "evaluations" in opa_input:
        items = result.get("evaluations")
        if not isinstance(items, list) or len(items) != len(opa_input["evaluations"]):
            raise OpaError("malformed", "decision.evaluations does not match the batch")
        # A page's items mostly decide alike: each distinct item document is checked once, and
        # alike items share its (frozen) Decision. Nothing changes a Decision or its lists later.
        seen: dict[bytes, Decision] = {}
        for item in items:
            key = orjson.dumps(item)  # a decoded JSON value: always encodes
            one = seen.get(key)
            if one is None:
                one = seen[key] = _parse_one(item, revision, 0.0)
            decision.evaluations.append(one)
    return decision


class OpaClient:
    def __init__(self, settings: OpaSettings) -> None:
        self._timeout = urllib3.Timeout(connect=settings.timeout.connect, read=settings.timeout.read)
        self._path = f"/v1/data/{settings.decision_path}?provenance=true"
        self._base_path = "/v1/data/"
        if settings.url.startswith("unix://"):
            self._pool: HTTPConnectionPool = _UnixPool(
                "localhost", maxsize=settings.pool_size, block=False, retries=False,
                timeout=self._timeout, socket_path=settings.url[len("unix://"):])
        else:
            u = urllib3.util.parse_url(settings.url)
            self._pool = HTTPConnectionPool(
                u.host or "127.0.0.1", u.port or 80, maxsize=settings.pool_size, block=False,
                retries=False, timeout=self._timeout)

    def _urlopen(self, path: str, payload: bytes) -> urllib3.BaseHTTPResponse:
        try:
            return self._pool.urlopen("POST", path, body=payload, headers={"Content-Type": "application/json"},
                                      retries=False, timeout=self._timeout)
        except urllib3.exceptions.ProtocolError:
            # A pooled keep-alive connection that OPA closed (idle timeout, restart) fails before
            # any answer. A decision query has no side effects, so it is sent once more on a new
            # connection; timeouts are never retried (they would double the wait).
            return self._pool.urlopen("POST", path, body=payload, headers={"Content-Type": "application/json"},
                                      retries=False, timeout=self._timeout)

    def _post(self, path: str, payload: bytes) -> Any:
        try:
            resp = self._urlopen(path, payload)
        except urllib3.exceptions.NewConnectionError as exc:
            # Checked first: urllib3 derives "connection refused" from ConnectTimeoutError.
            raise OpaError("connect", f"OPA unreachable: {exc}") from None
        except (urllib3.exceptions.ReadTimeoutError, urllib3.exceptions.ConnectTimeoutError,
                TimeoutError) as exc:
            raise OpaError("timeout", f"OPA timed out: {exc}") from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise OpaError("connect", f"OPA unreachable: {exc}") from None
        if resp.status != 200:
            raise OpaError("http", f"OPA answered HTTP {resp.status}")
        try:
            return orjson.loads(resp.data)
        except ValueError:
            raise OpaError("malformed", "OPA answered with invalid JSON") from None

    def decide(self, opa_input: dict[str, Any]) -> Decision:
        started = time.perf_counter()
        doc = self._post(self._path, orjson.dumps({"input": opa_input}))
        elapsed = time.perf_counter() - started
        if not isinstance(doc, dict) or "result" not in doc:
            raise OpaError("undefined", "the decision is undefined (policy not loaded?)")
        return parse_decision(doc["result"], opa_input, _revision(doc.get("provenance")), elapsed)

    def query(self, path: str, opa_input: dict[str, Any] | None = None) -> Any:
        """Evaluate any rule (readiness, profile checks, explain). Undefined → ``None``."""
        body = orjson.dumps({"input": opa_input} if opa_input is not None else {})
        doc = self._post(self._base_path + path, body)
        return doc.get("result") if isinstance(doc, dict) else None

    def get(self, path: str) -> Any:
        """GET a path of OPA's REST API and return its JSON ``result`` (the FG console reads the
        rules' METADATA from ``/v1/policies``). Any trouble is an :class:`OpaError`."""
        try:
            resp = self._pool.urlopen("GET", path, retries=False, timeout=self._timeout)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise OpaError("connect", f"OPA unreachable: {exc}") from None
        if resp.status != 200:
            raise OpaError("http", f"OPA answered HTTP {resp.status}")
        try:
            doc = orjson.loads(resp.data)
        except ValueError:
            raise OpaError("malformed", "OPA answered with invalid JSON") from None
        return doc.get("result") if isinstance(doc, dict) else None

    def healthy(self) -> bool:
        try:
            resp = self._pool.urlopen("GET", "/health?bundles=true", retries=False, timeout=self._timeout)
        except (urllib3.exceptions.HTTPError, OSError):
            return False
        return resp.status == 200


def _revision(provenance: Any) -> str | None:
    if not isinstance(provenance, dict):
        return None
    bundles = provenance.get("bundles")
    if isinstance(bundles, dict):
        revs = sorted(str(b.get("revision")) for b in bundles.values()
                      if isinstance(b, dict) and b.get("revision"))
        if revs:
            return ",".join(revs)
    return None
