"""What the policy is told about an object: its category (catalogue), its stored provenance
(label store) and its data subjects (keyed pseudonyms), turned into an OPA resource."""

from __future__ import annotations

import logging
import re
from typing import Any

from sidecar.call import Call
from sidecar.classify import Catalogue
from sidecar.failures import FailClosed
from sidecar.labels import LabelStore, LabelStoreError, key_for_url
from sidecar.opa_input import public_labels, resource
from sidecar.pseudonyms import Keyring
from sidecar.relations import ZAAK_BOUND, ZAAK_PARTS, CallerRelations, Relations

log = logging.getLogger("sidecar.objects")

_UUID_TAIL = re.compile(r"/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/?$")


def id_from_url(url: Any) -> str | None:
    if not isinstance(url, str):
        return None
    m = _UUID_TAIL.search(url)
    return m.group(1) if m else None


def url_of(obj: Any) -> str | None:
    url = obj.get("url") if isinstance(obj, dict) else None
    return url if isinstance(url, str) else None


class Objects:
    def __init__(self, *, labels: LabelStore, catalogue: Catalogue, pseudonyms: Keyring,
                 relations: Relations) -> None:
        self._labels = labels
        self.catalogue = catalogue
        self._pseudonyms = pseudonyms
        self.relations = relations

    def labels_for_keys(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        try:
            return self._labels.get_many(keys)
        except LabelStoreError as exc:
            log.error("label store failed", extra={"event": "labels_error", "error": str(exc)})
            raise FailClosed("labels") from None

    def resources(self, call: Call, rtypes: list[str], objs: list[Any]) -> list[tuple[dict[str, Any], list[str]]]:
        """The OPA resources for upstream objects (of types ``rtypes``) and their data subjects:
        category, labels (read in one look-up) and, for zaak-bound types, the caller's relation."""
        urls = [url_of(o) for o in objs]
        keys = [key_for_url(u) if u else None for u in urls]  # each object's URL parsed once
        labels = self.labels_for_keys([k for k in keys if k is not None])
        out = []
        for rtype, obj, url, key in zip(rtypes, objs, urls, keys, strict=True):
            label = labels.get(key) if key is not None else None
            props = self.catalogue.classify(rtype, obj)
            if rtype in ZAAK_BOUND:
                zaak_keys = self._zaken_of(call, rtype, obj, key)
                props["relation"] = self.caller(call).relation(zaak_keys, key)
                if rtype in ZAAK_PARTS:
                    # As sensitive as its zaak; one that names no zaak of this upstream is onbekend.
                    props["category"] = self.zaak_category(call, zaak_keys[0]) if zaak_keys else "onbekend"
            out.append((resource(rtype, id_from_url(url), props, public_labels(label)), self.subjects(obj, label)))
        return out

    def caller(self, call: Call) -> CallerRelations:
        """The caller's relations, read once per request."""
        if call.relations is None:
            assert call.identity is not None
            call.relations = self.relations.of_caller(call.identity, call.trace.traceparent)
        return call.relations

    def document_zaken(self, call: Call, doc_key: str) -> list[str]:
        """The caller's zaken a document is linked to."""
        if call.document_zaken is None:
            call.document_zaken = self.relations.zaken_of_documents(self.caller(call), call.trace.traceparent)
        return call.document_zaken.get(doc_key, [])

    def zaak_category(self, call: Call, zaak_key: str) -> str:
        """A rol or link is as sensitive as its zaak. The zaak is read (cached) only when the caller
        relates to it; otherwise the object is ``onbekend``, the strictest category, and need-to-know
        denies it anyway."""
        if zaak_key not in self.caller(call).zaken:
            return "onbekend"
        return self.relations.zaak_category(zaak_key, call.trace.traceparent)

    def _zaken_of(self, call: Call, rtype: str, obj: Any, key: str | None) -> list[str]:
        """The zaken (keys) an object belongs to; ``key`` is the object's own."""
        if rtype == "zaak":
            return [key] if key is not None else []
        if rtype == "enkelvoudiginformatieobject":
            return self.document_zaken(call, key) if key is not None else []
        if not isinstance(obj, dict):
            raise FailClosed("unclassifiable")
        if rtype == "objectinformatieobject":
            # The Documenten API's link names its zaak as ``object``; a link to a besluit or verzoek
            # belongs to no zaak the sidecar knows: no relation, and so denied under need-to-know.
            if obj.get("objectType") != "zaak":
                return []
            return [self.relations.zaak_key({"zaak": obj.get("object"), "url": obj.get("url")})]
        return [self.relations.zaak_key(obj)]

    def subjects(self, obj: Any, label: dict[str, Any] | None) -> list[str]:
        """Data subjects: the BSN stored with the labels at ingest, and any BSN the object itself
        carries (a rol's ``betrokkeneIdentificatie.inpBsn``). Only pseudonyms leave this function."""
        out: list[str] = []
        if label and isinstance(label.get("betrokkene"), str):
            out.append(label["betrokkene"])
        if isinstance(obj, dict):
            ident = obj.get("betrokkeneIdentificatie")
            bsn = ident.get("inpBsn") if isinstance(ident, dict) else None
            if isinstance(bsn, str) and bsn.isdigit() and len(bsn) == 9:
                out.append(self._pseudonyms.current(bsn))
        return out
