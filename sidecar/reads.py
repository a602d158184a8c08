"""Reads: the response phase and the release.

A read is decided twice: on who asks for what before anything is forwarded (request phase),
and on what the upstream actually returned (response phase: the object's category, labels and
data subjects). Lists, search results and embedded objects (``expand``) are decided item by
item in one OPA call; denied items are left out. Downloads are decided on the document's
metadata before a byte of content is fetched.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Request
from werkzeug.wrappers import Response

from sidecar.call import Call
from sidecar.enforce import Enforcer
from sidecar.failures import FailClosed
from sidecar.objects import Objects
from sidecar.opa_input import resource
from sidecar.routes import RouteMap
from sidecar.upstream import Upstream, filter_response_headers, json_response
from sidecar.urls import UrlRewriter

Embedded = list[tuple[str, int, Any]]  # (expansion, index, object)


class Reads:
    def __init__(self, *, enforcer: Enforcer, upstream: Upstream, objects: Objects, routes: RouteMap,
                 resolve_zaak_betrokkenen: bool, urls: UrlRewriter) -> None:
        self._urls = urls
        self._enforcer = enforcer
        self._upstream = upstream
        self._objects = objects
        self._routes = routes
        self._resolve_zaak_betrokkenen = resolve_zaak_betrokkenen

    def request_phase(self, call: Call) -> None:
        """Who may ask this at all (role, purpose, route, action): one cached decision, its record
        written with the response phase's."""
        self._enforcer.request_phase(call)

    def read(self, request: Request, call: Call, body: bytes | None) -> Response:
        """A detail read, a list, or a search (its JSON body goes upstream as it was checked)."""
        assert call.route is not None
        self.request_phase(call)
        if call.route.metadata_of is not None:
            return self._read_as_its_object(request, call)
        method = "GET" if call.method in ("GET", "HEAD") else call.method
        resp = self._upstream.send(request, call, method, call.target, body, inspect=True)
        failure = self._upstream.failure(call, resp)
        if failure is not None:
            return failure
        doc = self._upstream.read_json(resp)
        headers = filter_response_headers(resp.headers, keep_length=False)
        # Decided on the upstream's own URLs (labels and relations are keyed on them); released with
        # the links pointing back through the sidecar.
        if call.route.action == "list":
            doc = self._filter_list(call, doc)
        else:
            self._release_detail(request, call, doc)
        return self._release(call, doc, headers)

    def _release(self, call: Call, doc: Any, headers: list[tuple[str, str]]) -> Response:
        """An answer the policy allowed, with its links on the sidecar's base (HEAD: headers only)."""
        out_body = self._urls.public_json(doc, call.public_base)
        out = json_response(b"" if call.method == "HEAD" else out_body, 200, headers)
        if call.method == "HEAD":
            out.headers["Content-Length"] = str(len(out_body))
        return out

    def _read_as_its_object(self, request: Request, call: Call) -> Response:
        """A sub-resource as sensitive as its object (a zaak's audit trail): decided on the object's
        metadata before it is fetched, released whole with its links on the sidecar's base."""
        self.metadata(request, call)
        resp = self._upstream.send(request, call, "GET", call.target, None, inspect=True)
        failure = self._upstream.failure(call, resp)
        if failure is not None:
            return failure
        doc = self._upstream.read_json(resp)
        headers = filter_response_headers(resp.headers, keep_length=False)
        return self._release(call, doc, headers)

    def _release_detail(self, request: Request, call: Call, doc: Any) -> None:
        assert call.route is not None
        embedded = self._embedded(call, doc)  # checked before anything is decided, as for a list
        (res, subjects), = self._objects.resources(call, [call.route.resource], [doc])
        if call.route.resource == "zaak" and self._resolve_zaak_betrokkenen:
            subjects += self._zaak_subjects(request, call, doc)
        self._enforcer.require(call, "response", res, betrokkenen=subjects)
        if embedded:
            self._decide_embedded(call, [(doc, embedded)])

    def _decide_items(self, call: Call, pairs: list[tuple[dict[str, Any], list[str]]]) -> list[bool]:
        """One OPA call for a page of objects: which of them may be released."""
        assert call.route is not None
        outcome = self._enforcer.require(call, "response", resource(call.route.resource, None),
                                         [r for r, _ in pairs], item_betrokkenen=[s for _, s in pairs])
        return [release for release, _ in outcome.items]

    def _filter_list(self, call: Call, doc: Any) -> Any:
        """A ZGW page (``count``/``next``/``results``) or a plain array (some ZGW lists, such as
        zaakinformatieobjecten, are not paginated), with the denied items left out."""
        assert call.route is not None
        page = call.route.paginated
        if not (isinstance(doc, dict) and isinstance(doc.get("results"), list) if page else isinstance(doc, list)):
            raise FailClosed("unclassifiable", "Het antwoord van de achterliggende dienst is geen ZGW-lijst.")
        items: list[Any] = doc["results"] if page else doc
        embedded = [self._embedded(call, item) for item in items]  # checked before anything is decided
        kept_pairs: list[tuple[Any, Embedded]] = []
        if items:
            pairs = self._objects.resources(call, [call.route.resource] * len(items), items)
            releases = self._decide_items(call, pairs)
            kept_pairs = [(item, emb) for item, emb, release in zip(items, embedded, releases, strict=True)
                          if release]
            # With expand, one more call for the objects embedded in the released items (only
            # those, so that no record claims an object was released inside a withheld one).
            self._decide_embedded(call, kept_pairs)
        kept = [item for item, _ in kept_pairs]
        if not page:
            return kept
        doc["results"] = kept
        # ZGW's count is the total over all pages, the denied items included: a number that tells
        # the caller how much exists that it may not see, and that the sidecar cannot correct
        # without deciding every page. So count is what this answer releases: the whole list's
        # total when it is the only page (no next, no previous), otherwise this page's alone. A
        # page whose items were all withheld says 0 and still offers next (README "Lists").
        doc["count"] = len(kept)
        return doc

    def _embedded(self, call: Call, obj: Any) -> Embedded:
        """Objects the upstream embedded under ``_expand``. Only the expansions the request asked
        for and the route allows may be there; anything else is an answer the sidecar cannot
        classify, and is not released."""
        exp = obj.get("_expand") if isinstance(obj, dict) else None
        if exp is None:
            return []
        if not isinstance(exp, dict) or not set(exp) <= set(call.expand):
            raise FailClosed("unclassifiable", "Het antwoord bevat ingesloten objecten die niet beoordeeld kunnen "
                                               "worden.")
        out: Embedded = []
        for name, value in exp.items():
            for i, item in enumerate(value if isinstance(value, list) else [value]):
                out.append((name, i, item))
        return out

    def _decide_embedded(self, call: Call, parents: list[tuple[Any, Embedded]]) -> None:
        """Decide the embedded objects of released parents, each as its own resource type, in one
        call; remove the denied ones (a single embedded object becomes null)."""
        assert call.route is not None
        flat = [e for _, emb in parents for e in emb]
        if not flat:
            return
        pairs = self._objects.resources(call, [call.route.expand[name] for name, _, _ in flat], [o for _, _, o in flat])
        releases = self._decide_items(call, pairs)
        for parent, emb in parents:
            mine, releases = releases[:len(emb)], releases[len(emb):]
            if not emb:
                continue
            exp = parent["_expand"]
            denied = {(name, i) for (name, i, _), release in zip(emb, mine, strict=True) if not release}
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
        resp = self._upstream.send(request, call, "GET", "/zaken/api/v1/rollen?" + urlencode({"zaak": url}), None,
                                   inspect=True, lookup=True)
        self._upstream.require_ok(resp, "De betrokkenen van de zaak konden niet worden bepaald.")
        doc = self._upstream.read_json(resp)
        results = doc.get("results") if isinstance(doc, dict) else None
        out: list[str] = []
        for rol in results if isinstance(results, list) else []:
            out.extend(self._objects.subjects(rol, None))
        return out

    def metadata(self, request: Request, call: Call,
                 object_id: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        """Read the object's detail (for downloads and writes) and decide on it; returns the
        object and the resource it was decided as. ``object_id`` names the object when the path's
        id is not its own (a bestandsdeel's document)."""
        assert call.route is not None and call.resource_id is not None
        path = self._routes.metadata_path(call.route, object_id or call.resource_id)
        resp = self._upstream.send(request, call, "GET", path, None, inspect=True, lookup=True)
        if resp.status == 404:
            resp.release()
            raise FailClosed("not_found")
        self._upstream.require_ok(resp, "De achterliggende dienst gaf een fout.")
        doc = self._upstream.read_json(resp)
        if not isinstance(doc, dict):
            raise FailClosed("unclassifiable")
        (res, subjects), = self._objects.resources(call, [call.route.resource], [doc])
        self._enforcer.require(call, "response", res, betrokkenen=subjects)
        return doc, res

    def download(self, request: Request, call: Call) -> Response:
        self.request_phase(call)
        self.metadata(request, call)
        resp = self._upstream.send(request, call, "GET", call.target, None, inspect=False)
        failure = self._upstream.failure(call, resp)
        if failure is not None:
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
