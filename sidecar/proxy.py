"""The Policy Enforcement Point: one function per request, in the order of DESIGN.md.

1 canonicalise  2 classify (route map)  3 authenticate  4 read the body (bounded)
5 decide (request phase)  6 read metadata where the decision needs the object's category
7 forward  8 decide on what came back (response phase)  9 release, filtered.

Every exit before an allow is a problem+json; nothing is forwarded or released unless the
decision allowed it and its record is on disk.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

import orjson
from flask import Request
from werkzeug.wrappers import Response

from sidecar import metrics
from sidecar.auth import Authenticator, AuthError
from sidecar.canonical import REPEATED_HEADERS_MARKER, SINGLE_HEADERS, BadTarget, query_params, split_target
from sidecar.classify import TYPE_FIELD, Catalogue
from sidecar.coordinatie import CoordinatieError, parse_coordinatie
from sidecar.enforce import Call, Enforcer, FailClosed, Outcome
from sidecar.herkomst import HerkomstError, parse_herkomst
from sidecar.labels import LabelStore, LabelStoreError, key_for_url
from sidecar.problem import problem
from sidecar.records import pseudonymise
from sidecar.routes import METHODS, RouteMap
from sidecar.settings import Settings
from sidecar.tracing import from_header
from sidecar.upstream import (
    UpstreamClient,
    UpstreamError,
    UpstreamResponse,
    filter_request_headers,
    filter_response_headers,
    valid_host,
)

log = logging.getLogger("sidecar.proxy")

_PURPOSE_RX = re.compile(r"[a-z][a-z0-9_]{0,63}")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_UUID_TAIL = re.compile(r"/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/?$")
_REPEATED_ENVIRON = "HTTP_" + REPEATED_HEADERS_MARKER.upper().replace("-", "_")  # set by serve.py's pre_request


def _id_from_url(url: Any) -> str | None:
    if not isinstance(url, str):
        return None
    m = _UUID_TAIL.search(url)
    return m.group(1) if m else None


_UNREADABLE = "Het antwoord van de achterliggende dienst kan niet worden beoordeeld."


def _unclassifiable(detail: str = _UNREADABLE) -> FailClosed:
    """An upstream answer the sidecar cannot decide on is never released (counted, 502)."""
    metrics.fail_closed_total.labels("unclassifiable").inc()
    return FailClosed(502, "antwoord-niet-te-beoordelen", detail, cause="unclassifiable")


def _public_labels(label: dict[str, Any] | None) -> dict[str, Any] | None:
    """The labels as the policy sees them: without the data subject's pseudonym (not its business)."""
    if label is None:
        return None
    return {k: v for k, v in label.items() if k != "betrokkene"}


def _json_response(body: bytes, status: int, headers: list[tuple[str, str]]) -> Response:
    resp = Response(body, status=status)
    for k, v in headers:
        if k.lower() != "content-type":
            resp.headers.add(k, v)
    resp.headers["Content-Type"] = "application/json"
    resp.headers["Cache-Control"] = "no-store"
    return resp


class Proxy:
    def __init__(self, settings: Settings, *, authenticator: Authenticator, enforcer: Enforcer,
                 upstream: UpstreamClient, labels: LabelStore, catalogue: Catalogue) -> None:
        self._s = settings
        self._routes = RouteMap(settings.routes)
        self._auth = authenticator
        self._enforcer = enforcer
        self._upstream = upstream
        self._labels = labels
        self._catalogue = catalogue
        self._pseudo_key = settings.pseudonymisation.key_bytes()
        self._max_body = settings.upstream.max_request_body_bytes
        self._max_inspect = settings.upstream.max_inspected_response_bytes
        self._coordinator_roltypen = frozenset(settings.catalogue.coordinator_roltypen)

    # -- entry -------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        environ = request.environ
        call = Call(trace=from_header(request.headers.get("traceparent")),
                    method=request.method.upper(), started=time.perf_counter())
        try:
            resp = self._handle(request, call)
        except FailClosed as fc:
            decision_id = fc.decision_id
            if decision_id is None and fc.cause != "records":
                # A failure outside a decision (upstream, labels, an unreadable answer) still gets
                # its deny record, so every request can be found in the records.
                decision_id = self._enforcer.record_sidecar_deny(
                    call, (fc.cause or fc.kind).upper().replace("-", "_"), fc.status)
            resp = problem(fc.status, fc.kind, fc.detail, decision_id=decision_id,
                           headers={"WWW-Authenticate": 'Bearer realm="wams"'} if fc.status == 401 else None)
        except Exception:
            # A bug must never become a leak or a stack trace: deny, and log it for the operator.
            log.exception("unhandled error", extra={"event": "internal_error", "trace_id": call.trace.trace_id})
            metrics.fail_closed_total.labels("unclassifiable").inc()
            try:
                decision_id = self._enforcer.record_sidecar_deny(call, "INTERNAL", 503)
            except Exception:
                decision_id = None
            resp = problem(503, "interne-fout",
                           "Er ging iets mis in de toegangscontrole; er zijn geen gegevens vrijgegeven.",
                           decision_id=decision_id)
        resp.headers["traceparent"] = call.trace.traceparent
        elapsed = time.perf_counter() - call.started
        metrics.request_duration.labels(call.route_name).observe(elapsed)
        metrics.requests_total.labels(call.route_name, f"{resp.status_code // 100}xx").inc()
        log.info("request", extra={
            "event": "request", "trace_id": call.trace.trace_id, "method": call.method,
            "route": call.route_name, "status": resp.status_code,
            "duration_ms": round(elapsed * 1000, 3), "remote": environ.get("REMOTE_ADDR")})
        return resp

    def _deny_early(self, call: Call, status: int, kind: str, reason: str, detail: str) -> FailClosed:
        decision_id = self._enforcer.record_sidecar_deny(call, reason, status)
        return FailClosed(status, kind, detail, decision_id=decision_id)

    # -- the request -------------------------------------------------------------------------

    def _handle(self, request: Request, call: Call) -> Response:
        environ = request.environ
        raw_target = environ.get("RAW_URI") or environ.get("REQUEST_URI")
        if not raw_target:
            q = environ.get("QUERY_STRING", "")
            raw_target = request.script_root + environ.get("PATH_INFO", "") + (f"?{q}" if q else "")
        try:
            call.path, call.query = split_target(raw_target)
        except BadTarget as exc:
            raise self._deny_early(call, exc.status, "ongeldig-verzoekadres", "REQUEST_TARGET", str(exc)) from None
        if call.method not in METHODS:
            raise self._deny_early(call, 405, "methode-niet-toegestaan", "METHOD",
                                   f"De methode {call.method[:16]!r} wordt niet ondersteund.")
        repeated = environ.get(_REPEATED_ENVIRON)
        for name in SINGLE_HEADERS:
            if (repeated and name.upper() in repeated.split(",")) or (
                    name in ("Authorization", "X-Doelbinding") and "," in request.headers.get(name, "")):
                # gunicorn joins repeated headers with a comma; neither header may contain one.
                raise self._deny_early(call, 400, "dubbele-header", "HEADER_DUPLICATE",
                                       f"De header {name} mag maar één keer voorkomen.")
        match = self._routes.match(call.method, call.path)
        if match is None:
            raise self._deny_early(call, 403, "onbekende-route", "ROUTE_UNKNOWN",
                                   "Dit adres wordt niet door de toegangscontrole ondersteund.")
        call.route, call.resource_id = match.route, match.resource_id
        expand = query_params(call.query).get("expand")
        if expand is not None:
            names = [n for v in expand for n in v.split(",")]
            if not names or any(n not in call.route.expand for n in names):
                allowed = ", ".join(sorted(call.route.expand)) or "geen"
                raise self._deny_early(call, 400, "expand-niet-ondersteund", "REQUEST_TARGET",
                                       f"expand={','.join(names)} wordt op dit adres niet ondersteund "
                                       f"(toegestaan: {allowed}).")
            call.expand = names
        try:
            call.identity = self._auth.authenticate(request.headers.get("Authorization"))
        except AuthError as exc:
            metrics.authn_failures_total.labels(exc.code).inc()
            raise self._deny_early(call, 401, "niet-geauthenticeerd", exc.code, exc.detail) from None
        purpose = request.headers.get("X-Doelbinding")
        if purpose is not None and not _PURPOSE_RX.fullmatch(purpose.strip()):
            raise self._deny_early(call, 400, "ongeldige-doelbinding", "P2",
                                   "X-Doelbinding moet een doelcode zijn, bijvoorbeeld onderzoek_hulpvraag.")
        call.purpose = purpose.strip() if purpose is not None else None
        body = self._read_body(request, call)
        action = call.route.action
        if action == "create":
            return self._create(request, call, body)
        if action in ("update", "delete"):
            return self._write_existing(request, call, body)
        if action == "download":
            return self._download(request, call)
        return self._read(request, call, body)

    def _read_body(self, request: Request, call: Call) -> bytes | None:
        length = request.content_length
        chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
        if call.method not in _BODY_METHODS:
            if (length or 0) > 0 or chunked:
                raise self._deny_early(call, 400, "onverwachte-body", "REQUEST_BODY",
                                       f"Een {call.method}-verzoek heeft geen body.")
            return None
        if length is not None and length > self._max_body:
            metrics.fail_closed_total.labels("body_too_large").inc()
            raise self._deny_early(call, 413, "body-te-groot", "REQUEST_BODY_TOO_LARGE",
                                   f"De body is groter dan {self._max_body} bytes.")
        stream = request.environ["wsgi.input"]
        data = stream.read(self._max_body + 1) if (chunked or length) else b""
        if len(data) > self._max_body:
            metrics.fail_closed_total.labels("body_too_large").inc()
            raise self._deny_early(call, 413, "body-te-groot", "REQUEST_BODY_TOO_LARGE",
                                   f"De body is groter dan {self._max_body} bytes.")
        return bytes(data)

    def _json_body(self, call: Call, body: bytes | None) -> dict[str, Any]:
        try:
            obj = orjson.loads(body or b"")
        except (ValueError, UnicodeDecodeError):
            obj = None
        if not isinstance(obj, dict):
            raise self._deny_early(call, 400, "ongeldige-body", "REQUEST_BODY",
                                   "De body moet een JSON-object zijn.")
        return obj

    # -- building blocks ---------------------------------------------------------------------

    def _resource(self, call: Call, rid: str | None, props: dict[str, Any] | None = None,
                  labels: dict[str, Any] | None = None) -> dict[str, Any]:
        assert call.route is not None
        p: dict[str, Any] = {"category": None, "vertrouwelijkheidaanduiding": None}
        p.update(props or {})
        p["labels"] = labels
        return {"type": call.route.resource, "id": rid, "properties": p}

    def _labels_for(self, urls: list[str]) -> dict[str, dict[str, Any]]:
        return self._labels_for_keys([key_for_url(u) for u in urls])

    def _labels_for_keys(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        try:
            return self._labels.get_many(keys)
        except LabelStoreError as exc:
            metrics.fail_closed_total.labels("labels").inc()
            log.error("label store failed", extra={"event": "labels_error", "error": str(exc)})
            raise FailClosed(503, "labels-niet-beschikbaar",
                             "De herkomstgegevens zijn niet beschikbaar; er worden geen gegevens vrijgegeven.",
                             cause="labels") from None

    def _object_resource(self, call: Call, obj: Any,
                         labels: dict[str, dict[str, Any]]) -> tuple[dict[str, Any], list[str]]:
        """The OPA resource for an upstream object, and its data subjects (keyed pseudonyms)."""
        assert call.route is not None
        url = obj.get("url") if isinstance(obj, dict) else None
        props = self._catalogue.classify(call.route.resource, obj)
        label = labels.get(key_for_url(url)) if isinstance(url, str) else None
        return self._resource(call, _id_from_url(url), props, _public_labels(label)), self._subjects(obj, label)

    def _subjects(self, obj: Any, label: dict[str, Any] | None) -> list[str]:
        """Data subjects: the BSN stored with the labels at ingest, and any BSN the object itself
        carries (a rol's ``betrokkeneIdentificatie.inpBsn``). Only pseudonyms leave this function."""
        out: list[str] = []
        if label and isinstance(label.get("betrokkene"), str):
            out.append(label["betrokkene"])
        if isinstance(obj, dict):
            ident = obj.get("betrokkeneIdentificatie")
            bsn = ident.get("inpBsn") if isinstance(ident, dict) else None
            if isinstance(bsn, str) and bsn.isdigit() and len(bsn) == 9:
                out.append(pseudonymise(self._pseudo_key, bsn))
        return out

    def _known_labels(self, call: Call) -> tuple[dict[str, Any] | None, list[str]]:
        """Labels of the object a request names, for the request phase (before any upstream call)."""
        assert call.route is not None
        if call.resource_id is None:
            return None, []
        key = (self._routes.metadata_path(call.route, call.resource_id)
               if call.route.metadata_of is not None else call.path)
        label = self._labels_for_keys([key]).get(key)
        return _public_labels(label), self._subjects(None, label)

    def _decide(self, call: Call, phase: str, resource: dict[str, Any],
                evaluations: list[dict[str, Any]] | None = None, *,
                betrokkenen: list[str] | None = None,
                item_betrokkenen: list[list[str]] | None = None) -> Outcome:
        outcome = self._enforcer.decide(call, phase, resource, evaluations, betrokkenen=betrokkenen,
                                        item_betrokkenen=item_betrokkenen)
        if not outcome.enforced_allow:
            # I9 (ingest without provenance) is a malformed request rather than a refusal.
            status = 400 if "I9" in outcome.decision.reasons else 403
            raise FailClosed(status, "geen-toegang" if status == 403 else "herkomst-ontbreekt",
                             outcome.decision.reason_user or "U heeft geen toegang tot deze gegevens.",
                             decision_id=outcome.decision_id)
        return outcome

    def _forward_headers(self, request: Request, call: Call) -> dict[str, str]:
        headers = filter_request_headers(list(request.headers.items()))
        host = request.headers.get("Host")
        if valid_host(host):
            assert host is not None
            headers["X-Forwarded-Host"] = host
        headers["X-Forwarded-Proto"] = request.scheme
        headers["X-Forwarded-For"] = request.environ.get("REMOTE_ADDR", "")
        headers["traceparent"] = call.trace.traceparent
        return headers

    def _send(self, request: Request, call: Call, method: str, target: str, body: bytes | None,
              *, inspect: bool) -> UpstreamResponse:
        assert call.identity is not None
        try:
            return self._upstream.request(method, target, headers=self._forward_headers(request, call),
                                          body=body, user_id=call.identity.sub, inspect=inspect)
        except UpstreamError as exc:
            metrics.upstream_errors_total.labels(exc.kind).inc()
            metrics.fail_closed_total.labels("upstream").inc()
            log.error("upstream failed", extra={"event": "upstream_error", "kind": exc.kind,
                                                "error": str(exc), "trace_id": call.trace.trace_id})
            status = 504 if exc.kind == "timeout" else 502
            raise FailClosed(status, "upstream-fout", "De achterliggende dienst is niet bereikbaar.",
                             cause="upstream") from None

    def _target(self, call: Call) -> str:
        return call.path + (f"?{call.query}" if call.query else "")

    def _read_json(self, call: Call, resp: UpstreamResponse) -> Any:
        """Read and parse an inspected body; anything unreadable is not released."""
        try:
            raw = resp.read_limited(self._max_inspect)
        except UpstreamError as exc:
            metrics.upstream_errors_total.labels(exc.kind).inc()
            raise _unclassifiable() from None
        try:
            return orjson.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise _unclassifiable() from None

    @staticmethod
    def _require_ok(resp: UpstreamResponse, detail: str) -> None:
        """The sidecar's own look-ups (metadata, a rol's zaak, a zaak's rollen): anything but a 2xx
        means the decision cannot be made, so the request fails closed (502)."""
        if 200 <= resp.status < 300:
            return
        resp.release()
        if resp.status >= 500:
            metrics.upstream_errors_total.labels("status_5xx").inc()
        raise FailClosed(502, "upstream-fout", detail, cause="upstream")

    def _upstream_failure(self, call: Call, resp: UpstreamResponse) -> Response | None:
        """Non-2xx from upstream: 5xx and redirects become 502; a ZGW error object passes."""
        if 200 <= resp.status < 300:
            return None
        if resp.status >= 500 or resp.status < 400:
            resp.release()
            metrics.upstream_errors_total.labels("status_5xx" if resp.status >= 500 else "unreadable").inc()
            return problem(502, "upstream-fout", "De achterliggende dienst gaf een fout.")
        doc = self._read_json(call, resp)
        if not isinstance(doc, dict) or "results" in doc or "url" in doc:
            return problem(502, "upstream-fout", "De achterliggende dienst gaf een onverwacht antwoord.")
        return _json_response(orjson.dumps(doc), resp.status, [])

    # -- reads -------------------------------------------------------------------------------

    def _request_phase(self, call: Call) -> None:
        labels, subjects = self._known_labels(call)
        self._decide(call, "request", self._resource(call, call.resource_id, labels=labels), betrokkenen=subjects)

    def _read(self, request: Request, call: Call, body: bytes | None = None) -> Response:
        assert call.route is not None
        if body is not None:
            # A search (POST …/_zoek): its JSON criteria go upstream, the result is decided as a list.
            body = orjson.dumps(self._json_body(call, body))
        self._request_phase(call)
        method = "GET" if call.method in ("GET", "HEAD") else call.method
        resp = self._send(request, call, method, self._target(call), body, inspect=True)
        failure = self._upstream_failure(call, resp)
        if failure is not None:
            return failure
        doc = self._read_json(call, resp)
        headers = filter_response_headers(resp.headers, keep_length=False)
        if call.route.action == "list":
            body = self._filter_list(call, doc)
        else:
            embedded = self._embedded(call, doc)  # checked before anything is decided, as for a list
            labels = self._labels_for([doc["url"]] if isinstance(doc, dict) and isinstance(doc.get("url"), str) else [])
            resource, subjects = self._object_resource(call, doc, labels)
            if call.route.resource == "zaak" and self._s.upstream.resolve_zaak_betrokkenen:
                subjects += self._zaak_subjects(request, call, doc)
            self._decide(call, "response", resource, betrokkenen=subjects)
            if embedded:
                # Embedded objects (expand) are decided like list items: one call, denied ones removed.
                pairs = self._embedded_resources(call, embedded)
                outcome = self._decide(call, "response", self._resource(call, None), [r for r, _ in pairs],
                                       item_betrokkenen=[s for _, s in pairs])
                self._drop_embedded(doc, embedded, [release for release, _ in outcome.items])
            body = orjson.dumps(doc)
        out = _json_response(b"" if call.method == "HEAD" else body, 200, headers)
        if call.method == "HEAD":
            out.headers["Content-Length"] = str(len(body))
        return out

    def _filter_list(self, call: Call, doc: Any) -> bytes:
        if not isinstance(doc, dict) or not isinstance(doc.get("results"), list):
            raise _unclassifiable("Het antwoord van de achterliggende dienst is geen ZGW-lijst.")
        items = doc["results"]
        urls = [i["url"] for i in items if isinstance(i, dict) and isinstance(i.get("url"), str)]
        labels = self._labels_for(urls)
        embedded = [self._embedded(call, item) for item in items]  # checked before anything is decided
        pairs = [self._object_resource(call, item, labels) for item in items]
        resources = [r for r, _ in pairs]
        if resources:
            # One OPA call for the page.
            outcome = self._decide(call, "response", self._resource(call, None), resources,
                                   item_betrokkenen=[s for _, s in pairs])
            kept_pairs = [(item, emb) for item, emb, (release, _) in zip(items, embedded, outcome.items, strict=True)
                          if release]
            kept = [item for item, _ in kept_pairs]
            flat = [e for _, emb in kept_pairs for e in emb]
            if flat:
                # With expand, one more call for the objects embedded in the released items (only
                # those, so that no record claims an object was released inside a withheld one).
                emb_pairs = self._embedded_resources(call, flat)
                emb_outcome = self._decide(call, "response", self._resource(call, None), [r for r, _ in emb_pairs],
                                           item_betrokkenen=[s for _, s in emb_pairs])
                releases = [release for release, _ in emb_outcome.items]
                for item, emb in kept_pairs:
                    self._drop_embedded(item, emb, releases[:len(emb)])
                    releases = releases[len(emb):]
        else:
            kept = []
        removed = len(items) - len(kept)
        doc["results"] = kept
        if isinstance(doc.get("count"), int):
            # ZGW's count is the total over all pages; only this page's removals are known.
            doc["count"] = max(0, doc["count"] - removed)
        return orjson.dumps(doc)

    def _embedded(self, call: Call, obj: Any) -> list[tuple[str, int, Any]]:
        """Objects the upstream embedded under ``_expand``: (expansion, index, object). Only the
        expansions the request asked for and the route allows may be there; anything else is an
        answer the sidecar cannot classify, and is not released."""
        assert call.route is not None
        exp = obj.get("_expand") if isinstance(obj, dict) else None
        if exp is None:
            return []
        asked = set(call.expand)
        if not isinstance(exp, dict) or not set(exp) <= asked:
            raise _unclassifiable("Het antwoord bevat ingesloten objecten die niet beoordeeld kunnen worden.")
        out: list[tuple[str, int, Any]] = []
        for name, value in exp.items():
            for i, item in enumerate(value if isinstance(value, list) else [value]):
                out.append((name, i, item))
        return out

    def _embedded_resources(self, call: Call, embedded: list[tuple[str, int, Any]]
                            ) -> list[tuple[dict[str, Any], list[str]]]:
        assert call.route is not None
        urls = [o["url"] for _, _, o in embedded if isinstance(o, dict) and isinstance(o.get("url"), str)]
        labels = self._labels_for(urls) if urls else {}
        out = []
        for name, _, obj in embedded:
            rtype = call.route.expand[name]
            url = obj.get("url") if isinstance(obj, dict) else None
            label = labels.get(key_for_url(url)) if isinstance(url, str) else None
            resource = {"type": rtype, "id": _id_from_url(url),
                        "properties": {**self._catalogue.classify(rtype, obj), "labels": _public_labels(label)}}
            out.append((resource, self._subjects(obj, label)))
        return out

    @staticmethod
    def _drop_embedded(obj: Any, embedded: list[tuple[str, int, Any]], releases: list[bool]) -> None:
        """Remove the embedded objects that were denied (a single embedded object becomes null)."""
        if not embedded:
            return
        exp = obj["_expand"]
        denied = {(name, i) for (name, i, _), release in zip(embedded, releases, strict=True) if not release}
        for name in list(exp):
            value = exp[name]
            if isinstance(value, list):
                exp[name] = [o for i, o in enumerate(value) if (name, i) not in denied]
            elif (name, 0) in denied:
                exp[name] = None

    def _zaak_subjects(self, request: Request, call: Call, zaak: Any) -> list[str]:
        """The data subjects of a zaak are in its rollen (``betrokkeneIdentificatie.inpBsn``): ask
        the upstream (ZGW filter ``rollen?zaak=``) so the record names them, as pseudonyms."""
        url = zaak.get("url") if isinstance(zaak, dict) else None
        if not isinstance(url, str):
            return []
        resp = self._send(request, call, "GET", "/zaken/api/v1/rollen?" + urlencode({"zaak": url}), None,
                          inspect=True)
        self._require_ok(resp, "De betrokkenen van de zaak konden niet worden bepaald.")
        doc = self._read_json(call, resp)
        results = doc.get("results") if isinstance(doc, dict) else None
        out: list[str] = []
        for rol in results if isinstance(results, list) else []:
            out.extend(self._subjects(rol, None))
        return out

    def _metadata(self, request: Request, call: Call) -> dict[str, Any]:
        """Read the object's detail (for downloads and writes) and decide on it."""
        assert call.route is not None and call.resource_id is not None
        path = self._routes.metadata_path(call.route, call.resource_id)
        resp = self._send(request, call, "GET", path, None, inspect=True)
        if resp.status == 404:
            resp.release()
            raise FailClosed(404, "niet-gevonden", "Het object bestaat niet.", cause="not_found")
        self._require_ok(resp, "De achterliggende dienst gaf een fout.")
        doc = self._read_json(call, resp)
        if not isinstance(doc, dict):
            raise _unclassifiable()
        labels = self._labels_for([doc["url"]] if isinstance(doc.get("url"), str) else [])
        resource, subjects = self._object_resource(call, doc, labels)
        self._decide(call, "response", resource, betrokkenen=subjects)
        return doc

    def _download(self, request: Request, call: Call) -> Response:
        self._request_phase(call)
        self._metadata(request, call)
        resp = self._send(request, call, "GET", self._target(call), None, inspect=False)
        if not 200 <= resp.status < 300:
            failure = self._upstream_failure(call, resp)
            assert failure is not None
            return failure
        headers = filter_response_headers(resp.headers, keep_length=True)
        if call.method == "HEAD":
            resp.release()
            out = Response(b"", status=resp.status)
        else:
            out = Response(resp.stream(), status=resp.status, direct_passthrough=True)
        for k, v in headers:
            out.headers[k] = v
        out.headers["Cache-Control"] = "no-store"
        return out

    # -- writes ------------------------------------------------------------------------------

    def _create(self, request: Request, call: Call, body: bytes | None) -> Response:
        assert call.route is not None
        obj = self._json_body(call, body)
        herkomst = request.headers.get("X-Herkomst")
        bsn = None
        if herkomst is not None:
            try:
                call.herkomst, bsn = parse_herkomst(herkomst)
            except HerkomstError as exc:
                raise self._deny_early(call, 400, "ongeldige-herkomst", "I9", f"X-Herkomst: {exc}") from None
        if bsn is not None:
            call.betrokkene = pseudonymise(self._pseudo_key, bsn)
        if call.route.resource == "rol":
            props = self._rol_context(request, call, obj)
        elif call.route.resource in TYPE_FIELD:
            props = self._catalogue.classify(call.route.resource, obj)
        else:
            props = {"category": self._catalogue.category_of_type(call.route.resource, None)}
        if call.herkomst is not None and not self._labels.ping():
            # The provenance must be storable before anything is written upstream.
            metrics.fail_closed_total.labels("labels").inc()
            raise FailClosed(503, "labels-niet-beschikbaar",
                             "De herkomst kan niet worden vastgelegd; er is niets opgeslagen.", cause="labels")
        outcome = self._decide(call, "request", self._resource(call, None, props))
        resp = self._send(request, call, call.method, self._target(call), body, inspect=True)
        failure = self._upstream_failure(call, resp)
        if failure is not None:
            return failure
        doc = self._read_json(call, resp)
        if call.herkomst is not None and isinstance(doc, dict) and isinstance(doc.get("url"), str):
            self._store_labels(call, doc["url"], outcome)
        # The writer sent this content: its own response goes back without a second decision.
        return _json_response(orjson.dumps(doc), resp.status,
                              filter_response_headers(resp.headers, keep_length=False))

    def _rol_context(self, request: Request, call: Call, obj: dict[str, Any]) -> dict[str, Any]:
        """A rol is as sensitive as its zaak: read the zaak (and decide on nothing yet) to learn
        its category; a coordinator appointment also carries the X-Coordinatie facts (K1, K2)."""
        zaak_url = obj.get("zaak")
        try:
            zaak_path, _ = split_target(urlsplit(zaak_url).path) if isinstance(zaak_url, str) else ("", "")
        except BadTarget:
            zaak_path = ""
        m = self._routes.match("GET", zaak_path)
        if m is None or m.route.resource != "zaak" or m.resource_id is None:
            raise self._deny_early(call, 400, "ongeldige-body", "REQUEST_BODY",
                                   "Een rol moet naar een bestaande zaak verwijzen (veld 'zaak').")
        resp = self._send(request, call, "GET", zaak_path, None, inspect=True)
        if resp.status == 404:
            resp.release()
            raise self._deny_early(call, 400, "ongeldige-body", "REQUEST_BODY", "De zaak van deze rol bestaat niet.")
        self._require_ok(resp, "De achterliggende dienst gaf een fout.")
        props = self._catalogue.classify("zaak", self._read_json(call, resp))
        if obj.get("roltype") in self._coordinator_roltypen:
            call.extra_context["coordinator_appointment"] = True
            try:
                call.extra_context.update(parse_coordinatie(request.headers.get("X-Coordinatie")))
            except CoordinatieError as exc:
                raise self._deny_early(call, 400, "ongeldige-coordinatie", "REQUEST_HEADER",
                                       f"X-Coordinatie: {exc}") from None
        return props

    def _store_labels(self, call: Call, url: str, outcome: Outcome) -> None:
        assert call.herkomst is not None and call.identity is not None
        conditions: list[str] = list(call.herkomst.get("voorwaarden", []))
        for ob in outcome.decision.obligations:
            if ob["type"] == "sticky_conditions":
                conditions.extend(c for c in ob.get("conditions", []) if isinstance(c, str))
        labels = {
            "grondslag": call.herkomst.get("grondslag"),
            "toestemming": call.herkomst.get("toestemming"),
            "voorwaarden": sorted(set(conditions)),
            "provider_sent": call.identity.role == "aanbieder",
            "review_by_fg": any(o["type"] == "review_by_fg" for o in outcome.decision.obligations),
            "source_role": call.identity.role,
            "source_org": call.identity.org,
            "betrokkene": call.betrokkene,
        }
        try:
            self._labels.put(key_for_url(url), labels)
        except LabelStoreError as exc:
            # The upstream already holds the object; without its labels it must not be readable
            # as unlabelled data. Log loudly; reads of it will find no labels, so the operator
            # must repair (documented in the runbook).
            metrics.fail_closed_total.labels("labels").inc()
            log.error("label store write failed after create",
                      extra={"event": "labels_write_failed", "error": str(exc), "url": url})
            raise FailClosed(503, "labels-niet-opgeslagen",
                             "De herkomst kon niet worden vastgelegd.", cause="labels") from None

    def _write_existing(self, request: Request, call: Call, body: bytes | None) -> Response:
        assert call.route is not None
        self._request_phase(call)
        current = self._metadata(request, call)
        if body is not None and call.route.resource in TYPE_FIELD:
            new = self._json_body(call, body)
            field = TYPE_FIELD[call.route.resource]
            if field in new and new[field] != current.get(field):
                # Changing the type changes the category: the new category must be allowed too.
                self._decide(call, "request", self._resource(
                    call, call.resource_id, self._catalogue.classify(call.route.resource, new)))
        resp = self._send(request, call, call.method, self._target(call), body, inspect=True)
        failure = self._upstream_failure(call, resp)
        if failure is not None:
            return failure
        if resp.status == 204 or call.method == "DELETE":
            resp.release()
            return Response(b"", status=resp.status)
        doc = self._read_json(call, resp)
        return _json_response(orjson.dumps(doc), resp.status,
                              filter_response_headers(resp.headers, keep_length=False))
