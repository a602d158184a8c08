"""Writes: creates (ingest, with provenance labels), updates and deletes.

Nothing is written upstream before the policy allowed it and the decision's record is durable.
A create is decided on the body's type (catalogue) and ``X-Herkomst``; its labels are stored
after the upstream created the object. An update or delete is decided on the object's current
metadata (and on the new type, if the write changes it) before the write is forwarded.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

import orjson
from flask import Request
from werkzeug.wrappers import Response

from sidecar.call import Call
from sidecar.canonical import BadTarget, split_target
from sidecar.classify import TYPE_FIELD
from sidecar.coordinatie import CoordinatieError, parse_coordinatie
from sidecar.enforce import Enforcer, Outcome
from sidecar.failures import FailClosed
from sidecar.herkomst import HerkomstError, parse_herkomst
from sidecar.labels import LabelStore, LabelStoreError, key_for_url
from sidecar.objects import Objects, id_from_url
from sidecar.opa_input import resource
from sidecar.pseudonyms import Keyring
from sidecar.reads import Reads
from sidecar.routes import RouteMap
from sidecar.upstream import Upstream, UpstreamResponse, filter_response_headers, json_response
from sidecar.urls import UrlRewriter
from sidecar.vocab import COLLEGE_ROLES

log = logging.getLogger("sidecar.writes")

#: A zaak's case work (Zaken API): written to its zaak, decided on the zaak's category and the
#: caller's relation to it. None of them changes who relates to a zaak.
ZAAK_CASEWORK = frozenset({"status", "resultaat", "zaakobject"})

#: Label-store key prefix of the bestandsdeel → document map (not a URL path, so never an object's key).
PART_KEY = "bestandsdeel:"


def json_body(body: bytes | None) -> dict[str, Any]:
    try:
        obj = orjson.loads(body or b"")
    except (ValueError, UnicodeDecodeError):
        obj = None
    if not isinstance(obj, dict):
        raise FailClosed("body_invalid")
    return obj


class Writes:
    def __init__(self, *, enforcer: Enforcer, upstream: Upstream, objects: Objects, reads: Reads, routes: RouteMap,
                 labels: LabelStore, pseudonyms: Keyring, coordinator_roltypen: frozenset[str],
                 urls: UrlRewriter) -> None:
        self._urls = urls
        self._enforcer = enforcer
        self._upstream = upstream
        self._objects = objects
        self._reads = reads
        self._routes = routes
        self._labels = labels
        self._pseudonyms = pseudonyms
        self._coordinator_roltypen = coordinator_roltypen

    def _own_urls(self, call: Call, body: bytes | None) -> tuple[dict[str, Any], bytes]:
        """The JSON body with the sidecar's URLs of proxied resources on the upstream's base: what
        is decided on and what is forwarded."""
        obj = self._urls.to_upstream(json_body(body), call.public_base)
        return obj, orjson.dumps(obj)

    def _answer(self, call: Call, doc: Any, resp: UpstreamResponse) -> Response:
        """The upstream's answer to a write, its links (and Location) pointing back through the sidecar."""
        headers = [(k, self._urls.header_to_public(v, call.public_base) if k.lower() == "location" else v)
                   for k, v in filter_response_headers(resp.headers, keep_length=False)]
        return json_response(self._urls.public_json(doc, call.public_base), resp.status, headers)

    def create(self, request: Request, call: Call, body: bytes | None) -> Response:
        assert call.route is not None
        obj, body = self._own_urls(call, body)
        herkomst = request.headers.get("X-Herkomst")
        bsn = None
        if herkomst is not None:
            try:
                call.herkomst, bsn = parse_herkomst(herkomst)
            except HerkomstError as exc:
                raise FailClosed("herkomst_invalid", f"X-Herkomst: {exc}") from None
        if bsn is not None:
            call.betrokkene = self._pseudonyms.current(bsn)
        catalogue = self._objects.catalogue
        if call.route.resource == "rol":
            props = self._rol_context(request, call, obj)
        elif call.route.resource == "zaakinformatieobject":
            props = self._link_context(call, obj)
        elif call.route.resource in ZAAK_CASEWORK:
            props = self._part_context(call, obj)
        elif call.route.resource in TYPE_FIELD:
            props = catalogue.classify(call.route.resource, obj)
        else:
            props = {"category": catalogue.category_of_type(call.route.resource, None)}
        if call.herkomst is not None and not self._labels.ping():
            # The provenance must be storable before anything is written upstream.
            raise FailClosed("labels", "De herkomst kan niet worden vastgelegd; er is niets opgeslagen.")
        outcome = self._enforcer.require(call, "request", resource(call.route.resource, None, props))
        resp = self._upstream.send(request, call, call.method, call.target, body, inspect=True)
        failure = self._upstream.failure(call, resp)
        if failure is not None:
            return failure
        doc = self._upstream.read_json(resp)
        url = doc.get("url") if isinstance(doc, dict) else None
        if isinstance(url, str):
            self._remember(call, url)
        if call.route.resource == "zaakinformatieobject" and isinstance(doc, dict):
            self._review_zaak(doc)
        if call.herkomst is not None and isinstance(url, str):
            self._store_labels(call, url, outcome, doc if isinstance(doc, dict) else {}, props.get("category"))
        self._remember_parts(call, doc)
        # The writer sent this content: its own response goes back without a second decision.
        return self._answer(call, doc, resp)

    def _remember(self, call: Call, url: str) -> None:
        """Need-to-know after a create: its creator relates to a new zaak, its writer to a new
        document; a new rol or link changes relations, so every cached one is dropped."""
        assert call.route is not None and call.identity is not None
        rtype = call.route.resource
        if rtype == "zaak":
            self._objects.relations.remember(key_for_url(url), call.identity, "creator")
        elif rtype == "enkelvoudiginformatieobject":
            self._objects.relations.remember(key_for_url(url), call.identity, "writer")
        elif rtype in ("rol", "zaakinformatieobject"):
            self._objects.relations.invalidate()

    def _review_zaak(self, link: dict[str, Any]) -> None:
        """A break-glass document awaiting review learns its zaak from its first link (the FG
        console shows it). Only a convenience for the reviewer: a failure is logged, not fatal."""
        zaak, doc = link.get("zaak"), link.get("informatieobject")
        if isinstance(zaak, str) and isinstance(doc, str):
            try:
                self._labels.review_link_zaak(key_for_url(doc), key_for_url(zaak))
            except LabelStoreError as exc:
                log.warning("review item zaak not stored", extra={"event": "review_zaak_failed", "error": str(exc)})

    def _link_context(self, call: Call, obj: dict[str, Any]) -> dict[str, Any]:
        """Linking a document to a zaak (N4): the caller's relation to the zaak and to the document."""
        zaak, doc = obj.get("zaak"), obj.get("informatieobject")
        if not isinstance(zaak, str) or not isinstance(doc, str) or not doc.startswith(("http://", "https://")):
            raise FailClosed("body_invalid", "Een zaakinformatieobject noemt een zaak en een informatieobject (URL's).")
        try:
            zaak_key = self._objects.relations.zaak_key(obj)
        except FailClosed:
            raise FailClosed("body_invalid", "Het veld 'zaak' is geen zaak van deze dienst.") from None
        caller = self._objects.caller(call)
        doc_key = key_for_url(doc)
        return {"category": self._objects.zaak_category(call, zaak_key),
                "relation": caller.relation([zaak_key], None),
                "document_relation": caller.relation(self._objects.document_zaken(call, doc_key), doc_key)}

    def _part_context(self, call: Call, obj: dict[str, Any]) -> dict[str, Any]:
        """A status, resultaat or zaakobject is written to its zaak: decided like a rol, on the zaak's
        category and the caller's relation to it (N1), before anything is written. Setting the
        final status closes the zaak (its einddatum), which changes no relation and no category:
        the closed zaak is read and written under the same rules, so nothing cached is dropped."""
        try:
            zaak_key = self._objects.relations.zaak_key({"zaak": obj.get("zaak")})
        except FailClosed:
            raise FailClosed("body_invalid", "Het veld 'zaak' is geen zaak van deze dienst.") from None
        return {"category": self._objects.zaak_category(call, zaak_key),
                "relation": self._objects.caller(call).relation([zaak_key], None)}

    def _rol_context(self, request: Request, call: Call, obj: dict[str, Any]) -> dict[str, Any]:
        """A rol is as sensitive as its zaak: read the zaak (and decide on nothing yet) to learn
        its category; the caller's relation to the zaak decides who may add people to it (N1, N2);
        a coordinator appointment also carries the X-Coordinatie facts (K1, K2), a handover to a
        Zorg- en Veiligheidshuis its recipient."""
        zaak_url = obj.get("zaak")
        try:
            zaak_path, _ = split_target(urlsplit(zaak_url).path) if isinstance(zaak_url, str) else ("", "")
        except BadTarget:
            zaak_path = ""
        m = self._routes.match("GET", zaak_path)
        if m is None or m.route.resource != "zaak" or m.resource_id is None:
            raise FailClosed("body_invalid", "Een rol moet naar een bestaande zaak verwijzen (veld 'zaak').")
        resp = self._upstream.send(request, call, "GET", zaak_path, None, inspect=True, lookup=True)
        if resp.status == 404:
            resp.release()
            raise FailClosed("body_invalid", "De zaak van deze rol bestaat niet.")
        self._upstream.require_ok(resp, "De achterliggende dienst gaf een fout.")
        props = self._objects.catalogue.classify("zaak", self._upstream.read_json(resp))
        props["relation"] = self._objects.caller(call).relation([key_for_url(str(zaak_url))], None)
        if self._objects.relations.kind_of(obj.get("roltype")) == "zvh_overdracht":
            ident = obj.get("betrokkeneIdentificatie")
            recipient = None
            if isinstance(ident, dict):
                recipient = ident.get("annIdentificatie") or ident.get("vestigingsNummer")
            call.extra_context["handover"] = True
            call.extra_context["handover_recipient"] = recipient if isinstance(recipient, str) else None
        if obj.get("roltype") in self._coordinator_roltypen:
            call.extra_context["coordinator_appointment"] = True
            try:
                call.extra_context.update(parse_coordinatie(request.headers.get("X-Coordinatie")))
            except CoordinatieError as exc:
                raise FailClosed("coordinatie_invalid", f"X-Coordinatie: {exc}") from None
        return props

    def _store_labels(self, call: Call, url: str, outcome: Outcome, doc: dict[str, Any],
                      category: str | None) -> None:
        assert call.herkomst is not None and call.identity is not None
        conditions: list[str] = list(call.herkomst.get("voorwaarden", []))
        for ob in outcome.decision.obligations:
            if ob["type"] == "sticky_conditions":
                conditions.extend(c for c in ob.get("conditions", []) if isinstance(c, str))
        ident = call.identity
        controlling = self._enforcer.inputs.controlling(ident.org)
        labels = {
            "grondslag": call.herkomst.get("grondslag"),
            "toestemming": call.herkomst.get("toestemming"),
            "voorwaarden": sorted(set(conditions)),
            # Sent in by a provider: anyone but a college role of a controlling organisation (O1).
            "provider_sent": not (ident.role in COLLEGE_ROLES and controlling),
            "review_by_fg": any(o["type"] == "review_by_fg" for o in outcome.decision.obligations),
            "source_role": ident.role,
            "source_org": ident.org,
            "source_controlling_org": controlling,
            "source_secrecy": ident.secrecy,
            # The purpose it was sent for (a consent is for that purpose only, where the profile says so).
            "purpose": call.purpose,
            # The sender's judgement, for the FG to review: lid 2's conditions, the six conflict-of-duties
            # conditions, and the reasons given.
            "lid2": call.herkomst.get("lid2"),
            "cvp": call.herkomst.get("cvp"),
            "motivering": call.herkomst.get("motivering"),
            "betrokkene": call.betrokkene,
        }
        try:
            if labels["review_by_fg"]:
                # Break-glass: the FG must review it; until then the profile's switch
                # breakglass_voor_review decides who may use it (rules B1, B2). Labels and review
                # item are stored in one transaction: never one without the other.
                labels["review_status"] = "open"
                titel = doc.get("titel")
                self._labels.put_with_review(key_for_url(url), labels, {
                    "grondslag": labels["grondslag"], "cvp": labels["cvp"], "motivering": labels["motivering"],
                    "voorwaarden": labels["voorwaarden"], "category": category,
                    "titel": titel if isinstance(titel, str) else None,
                    "writer": {"id": ident.sub, "role": ident.role, "org": ident.org},
                    "decision_id": outcome.decision_id, "trace_id": call.trace.trace_id})
            else:
                self._labels.put(key_for_url(url), labels)
        except LabelStoreError as exc:
            # The upstream already holds the object; without its labels it must not be readable
            # as unlabelled data. Log loudly; reads of it will find no labels, so the operator
            # must repair (documented in the runbook).
            log.error("label store write failed after create",
                      extra={"event": "labels_write_failed", "error": str(exc), "url": url})
            raise FailClosed("labels_not_stored") from None

    def _remember_parts(self, call: Call, doc: Any) -> None:
        """A document's answer that lists bestandsdelen (a create or update with ``inhoud`` null and
        ``bestandsomvang``): the sidecar keeps which document each part belongs to, because an
        upload (``PUT /bestandsdelen/{uuid}``) names only the part and the Documenten API has no
        way to ask a part for its document. The map is kept in the label store (shared by every
        worker and replica) under a key that is no object URL, and only ever from the upstream's
        own answers."""
        assert call.route is not None
        parts = doc.get("bestandsdelen") if isinstance(doc, dict) else None
        doc_id = id_from_url(doc.get("url")) if isinstance(doc, dict) else None
        if call.route.resource != "enkelvoudiginformatieobject" or not parts or doc_id is None:
            return
        for part in parts if isinstance(parts, list) else []:
            part_id = id_from_url(part.get("url")) if isinstance(part, dict) else None
            if part_id is None:
                continue
            try:
                self._labels.put(PART_KEY + part_id, {"bestandsdeel_van": doc_id})
            except LabelStoreError as exc:
                # The document exists upstream, the upload of this part will be refused (404):
                # the client starts over; nothing is released or written without a decision.
                log.error("bestandsdeel map not stored", extra={"event": "labels_write_failed", "error": str(exc)})
                raise FailClosed("labels_not_stored") from None

    def _document_of_part(self, call: Call) -> str:
        assert call.resource_id is not None
        found = self._objects.labels_for_keys([PART_KEY + call.resource_id]).get(PART_KEY + call.resource_id)
        doc_id = found.get("bestandsdeel_van") if found else None
        if not isinstance(doc_id, str):
            # A part the sidecar never saw being created (or one of another upstream): its document,
            # and so the decision, is unknown.
            raise FailClosed("not_found", "Dit bestandsdeel is niet bekend bij de toegangscontrole: maak het "
                                          "document (of de nieuwe versie) via de toegangscontrole aan.")
        return doc_id

    def write_existing(self, request: Request, call: Call, body: bytes | None) -> Response:
        assert call.route is not None
        self._reads.request_phase(call)
        # A bestandsdeel is written to its document: decided on the document's metadata.
        object_id = self._document_of_part(call) if call.route.bestandsdeel else None
        current, decided = self._reads.metadata(request, call, object_id)
        new: dict[str, Any] | None = None
        if call.route.bestandsdeel:
            pass  # multipart (the part's bytes and the lock): forwarded as sent, no URLs in it
        elif body is not None and not (call.method == "POST" and not body.strip()):
            # (a lock request may come without a body)
            new, body = self._own_urls(call, body)
        if new is not None and call.route.resource in TYPE_FIELD:
            field = TYPE_FIELD[call.route.resource]
            if field in new and new[field] != current.get(field):
                # Changing the type changes the category: the new category must be allowed too, for
                # the same object (its labels and the caller's relation to it stay what they are).
                props = {**decided["properties"], **self._objects.catalogue.classify(call.route.resource, new)}
                self._enforcer.require(call, "request", {**decided, "properties": props})
        if new is not None and call.route.resource in ZAAK_CASEWORK and "zaak" in new \
                and new["zaak"] != current.get("zaak"):
            # Moving a resultaat or zaakobject to another zaak writes to that zaak as well: the
            # caller must be allowed there too (its category, the caller's relation to it).
            props = {**decided["properties"], **self._part_context(call, new)}
            self._enforcer.require(call, "request", {**decided, "properties": props})
        resp = self._upstream.send(request, call, call.method, call.target, body, inspect=True)
        failure = self._upstream.failure(call, resp)
        if failure is not None:
            return failure
        if call.route.resource in ("rol", "zaakinformatieobject"):
            self._objects.relations.invalidate()
        if resp.status == 204 or call.method == "DELETE":
            resp.release()
            return Response(b"", status=resp.status)
        doc = self._upstream.read_json(resp)
        self._remember_parts(call, doc)
        return self._answer(call, doc, resp)
