"""The Policy Enforcement Point: the request flow, in the order of docs/architecture.md.

1 canonicalise the target  2 classify (route map)  3 authenticate  4 read the body (bounded)
then by action: reads (:mod:`sidecar.reads`: request phase, forward, response phase, release)
or writes (:mod:`sidecar.writes`: decide, forward, store labels).

Every exit before an allow is a problem+json made in one place, :meth:`Proxy.handle`, from a
:class:`sidecar.failures.FailClosed`; nothing is forwarded or released unless the decision
allowed it and its record is on disk.
"""

from __future__ import annotations

import logging
import re
import time

import orjson
from flask import Request
from werkzeug.wrappers import Response

from sidecar import metrics
from sidecar.auth import Authenticator, AuthError
from sidecar.call import Call
from sidecar.canonical import REPEATED_HEADERS_MARKER, SINGLE_HEADERS, BadTarget, query_params, split_target
from sidecar.enforce import Enforcer
from sidecar.failures import FailClosed
from sidecar.labels import LabelStore
from sidecar.objects import Objects
from sidecar.problem import problem
from sidecar.reads import Reads
from sidecar.routes import METHODS, RouteMap
from sidecar.settings import Settings
from sidecar.tracing import from_header
from sidecar.upstream import Upstream, UpstreamClient
from sidecar.urls import UrlRewriter
from sidecar.writes import Writes, json_body

log = logging.getLogger("sidecar.proxy")

_PURPOSE_RX = re.compile(r"[a-z][a-z0-9_]{0,63}")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_REPEATED_ENVIRON = "HTTP_" + REPEATED_HEADERS_MARKER.upper().replace("-", "_")  # set by serve.py's pre_request


class Proxy:
    def __init__(self, settings: Settings, *, authenticator: Authenticator, enforcer: Enforcer,
                 upstream: UpstreamClient, labels: LabelStore, objects: Objects, routes: RouteMap) -> None:
        self._routes = routes
        self._auth = authenticator
        self._enforcer = enforcer
        self._max_body = settings.upstream.max_request_body_bytes
        gateway = Upstream(upstream, settings.upstream.max_inspected_response_bytes,
                           record_refusal=enforcer.record_upstream_refusal)
        self._urls = UrlRewriter(upstream_url=settings.upstream.url, advertised_url=settings.upstream.advertised_url,
                                 public_url=settings.listen.public_url, routes=settings.routes)
        self._reads = Reads(enforcer=enforcer, upstream=gateway, objects=objects, routes=self._routes,
                            resolve_zaak_betrokkenen=settings.upstream.resolve_zaak_betrokkenen, urls=self._urls)
        self._writes = Writes(enforcer=enforcer, upstream=gateway, objects=objects, reads=self._reads,
                              routes=self._routes, labels=labels, urls=self._urls,
                              pseudonyms=settings.pseudonymisation.keyring(),
                              coordinator_roltypen=frozenset(settings.catalogue.coordinator_roltypen))

    # -- entry: every response is made here ----------------------------------------------------

    def handle(self, request: Request) -> Response:
        call = Call(trace=from_header(request.headers.get("traceparent")),
                    method=request.method.upper(), started=time.perf_counter())
        try:
            resp = self._flow(request, call)
            # Nothing leaves before every record of this request is durable.
            self._enforcer.flush(call)
        except FailClosed as fc:
            resp = self._refuse(call, fc)
        except Exception:
            # A bug must never become a leak or a stack trace: deny, and log it for the operator.
            log.exception("unhandled error", extra={"event": "internal_error", "trace_id": call.trace.trace_id})
            resp = self._refuse(call, FailClosed("internal"))
        resp.headers["traceparent"] = call.trace.traceparent
        elapsed = time.perf_counter() - call.started
        metrics.child(metrics.request_duration, call.route_name).observe(elapsed)
        metrics.child(metrics.requests_total, call.route_name, f"{resp.status_code // 100}xx").inc()
        log.info("request", extra={
            "event": "request", "trace_id": call.trace.trace_id, "method": call.method,
            "route": call.route_name, "status": resp.status_code,
            "duration_ms": round(elapsed * 1000, 3), "remote": request.environ.get("REMOTE_ADDR")})
        return resp

    def _refuse(self, call: Call, fc: FailClosed) -> Response:
        """The one place a refusal is counted, recorded (when its decision was not) and answered."""
        if fc.cause.metric is not None:
            metrics.fail_closed_total.labels(fc.cause.metric).inc()
        decision_id = fc.decision_id
        if decision_id is None and fc.reason is not None:
            # A refusal outside a decision (bad input, upstream, labels, an unreadable answer, a
            # bug) still gets its deny record, so every request can be found in the records.
            try:
                decision_id = self._enforcer.record_sidecar_deny(call, fc.reason, fc.status)
            except Exception:
                log.exception("sidecar deny not recorded", extra={"event": "internal_error",
                                                                  "trace_id": call.trace.trace_id})
        return problem(fc.status, fc.cause.slug, fc.detail, decision_id=decision_id,
                       headers={"WWW-Authenticate": 'Bearer realm="wams"'} if fc.status == 401 else None)

    # -- the request flow --------------------------------------------------------------------

    def _flow(self, request: Request, call: Call) -> Response:
        environ = request.environ
        raw_target = environ.get("RAW_URI") or environ.get("REQUEST_URI")
        if not raw_target:
            q = environ.get("QUERY_STRING", "")
            raw_target = request.script_root + environ.get("PATH_INFO", "") + (f"?{q}" if q else "")
        try:
            call.path, call.query = split_target(raw_target)
        except BadTarget as exc:
            raise FailClosed("request_target", str(exc), status=exc.status) from None
        if call.method not in METHODS:
            raise FailClosed("method", f"De methode {call.method[:16]!r} wordt niet ondersteund.")
        repeated = environ.get(_REPEATED_ENVIRON)
        for name in SINGLE_HEADERS:
            if (repeated and name.upper() in repeated.split(",")) or (
                    name in ("Authorization", "X-Doelbinding") and "," in request.headers.get(name, "")):
                # gunicorn joins repeated headers with a comma; neither header may contain one.
                raise FailClosed("header_duplicate", f"De header {name} mag maar één keer voorkomen.")
        match = self._routes.match(call.method, call.path)
        if match is None:
            raise FailClosed("route_unknown")
        call.route, call.resource_id = match.route, match.resource_id
        call.public_base = self._urls.public_base(request)
        call.query = self._urls.query_to_upstream(call.query, call.public_base)
        expand = query_params(call.query).get("expand")
        if expand is not None:
            self._set_expand(call, [n for v in expand for n in v.split(",")])
        try:
            call.identity = self._auth.authenticate(request.headers.get("Authorization"))
        except AuthError as exc:
            metrics.authn_failures_total.labels(exc.code).inc()
            raise FailClosed("authn", exc.detail, reason=exc.code) from None
        purpose = request.headers.get("X-Doelbinding")
        if purpose is not None and not _PURPOSE_RX.fullmatch(purpose.strip()):
            raise FailClosed("purpose_malformed")
        call.purpose = purpose.strip() if purpose is not None else None
        body = self._read_body(request, call)
        action = call.route.action
        if action == "create":
            return self._writes.create(request, call, body)
        if action in ("update", "delete"):
            return self._writes.write_existing(request, call, body)
        if action == "download":
            return self._reads.download(request, call)
        if body is not None:
            # A search (POST …/_zoek): its JSON criteria go upstream, the result is decided as a list;
            # an "expand" in the body (the Zaken API's way for a search) is checked like the query's.
            criteria = self._urls.to_upstream(json_body(body), call.public_base)
            if "expand" in criteria:
                names = criteria["expand"]
                if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                    raise FailClosed("expand", 'expand in de zoekvraag is een lijst van namen, bv. ["rollen"].')
                self._set_expand(call, [*call.expand, *names])
            body = orjson.dumps(criteria)
        return self._reads.read(request, call, body)

    @staticmethod
    def _set_expand(call: Call, names: list[str]) -> None:
        """ZGW expansions the route allows (each embedded object is decided as its own resource);
        anything else is refused before the upstream is asked."""
        assert call.route is not None
        if not names or any(n not in call.route.expand for n in names):
            allowed = ", ".join(sorted(call.route.expand)) or "geen"
            raise FailClosed("expand", f"expand={','.join(names)} wordt op dit adres niet ondersteund "
                                       f"(toegestaan: {allowed}).")
        call.expand = list(dict.fromkeys(names))

    def _read_body(self, request: Request, call: Call) -> bytes | None:
        length = request.content_length
        chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
        if call.method not in _BODY_METHODS:
            if (length or 0) > 0 or chunked:
                raise FailClosed("body_unexpected", f"Een {call.method}-verzoek heeft geen body.")
            return None
        too_large = f"De body is groter dan {self._max_body} bytes."
        if length is not None and length > self._max_body:
            raise FailClosed("body_too_large", too_large)
        stream = request.environ["wsgi.input"]
        data = stream.read(self._max_body + 1) if (chunked or length) else b""
        if len(data) > self._max_body:
            raise FailClosed("body_too_large", too_large)
        return bytes(data)
