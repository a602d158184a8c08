"""Need-to-know: the caller's relations to zaken, read from the upstream itself.

The upstream is the only source of truth: a caller relates to a zaak when one of its ``rollen``
names the caller — ``medewerker`` with ``identificatie`` = the token's ``sub``,
``organisatorische_eenheid`` with ``identificatie`` in the token's ``teams``, or
``niet_natuurlijk_persoon``/``vestiging`` naming the token's ``org`` — and the rol's roltype
gives the relation kind (``catalogue.roltypen``). A document belongs to every zaak a
``zaakinformatieobject`` links it to. The label store adds what the sidecar itself saw: who
created a zaak (kind ``creator``) and who wrote a document (``writer``).

Cost: a caller's zaken are read once (rollen filtered by the caller's identifiers, all pages)
and cached per caller; the documents of a zaak once per zaak; a zaak's category once per zaak.
A list page therefore costs no upstream call per item, and a warm read none at all. The
document → zaken map a document read needs is kept too, per set of zaken, for as long as the
earliest of the per-zaak entries it was made from (so it is never older than they may be). Every
write of rollen or zaakinformatieobjecten through any sidecar worker or replica raises a
counter in the label store that every worker checks per request, so the caches are dropped at
once; a rol changed directly in the upstream is seen within ``relations.cache_ttl_seconds``.

Anything that cannot be read or does not add up (an upstream error, a rol without zaak, a zaak
URL on another host than its rol, too many items) raises :class:`sidecar.failures.FailClosed`:
no relation is ever assumed.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import orjson

from sidecar import metrics
from sidecar.auth import Identity
from sidecar.classify import Catalogue
from sidecar.failures import FailClosed
from sidecar.labels import LabelStore, LabelStoreError, key_for_url
from sidecar.settings import Settings
from sidecar.upstream import LOOKUP_HEADERS, UpstreamClient, UpstreamError

log = logging.getLogger("sidecar.relations")

ZAKEN = "/zaken/api/v1"
ROLLEN = f"{ZAKEN}/rollen"
ZIO = f"{ZAKEN}/zaakinformatieobjecten"
# Which rol filter names the caller by which identifier (ZGW Zaken API list filters).
_FILTERS = (
    ("sub", "betrokkeneIdentificatie__medewerker__identificatie"),
    ("team", "betrokkeneIdentificatie__organisatorischeEenheid__identificatie"),
    ("org", "betrokkeneIdentificatie__nietNatuurlijkPersoon__annIdentificatie"),
    ("org", "betrokkeneIdentificatie__vestiging__vestigingsNummer"),
)
_SIDECAR_USER = "wams-sidecar"
_MAX_PAGES = 200
_DOC_MAPS_MAX = 1024  # document → zaken maps kept per worker (one per distinct set of zaken)

# Resource types that belong to one zaak: as sensitive as it (its category) and read with the
# caller's relation to it. objectinformatieobject is the Documenten API's mirror of a
# zaakinformatieobject.
ZAAK_PARTS = frozenset({"rol", "zaakinformatieobject", "objectinformatieobject", "status", "resultaat",
                        "zaakobject"})
# Resource types whose access follows a zaak.
ZAAK_BOUND = frozenset({"zaak", "enkelvoudiginformatieobject"}) | ZAAK_PARTS


@dataclass(frozen=True)
class CallerRelations:
    zaken: dict[str, frozenset[str]]  # zaak key (its URL's path) → relation kinds
    made: dict[str, set[str]]  # object key → {"creator"} / {"writer"}

    def relation(self, zaak_keys: list[str], object_key: str | None) -> dict[str, Any]:
        """The ``relation`` the policy sees for an object belonging to ``zaak_keys``."""
        kinds: set[str] = set()
        via: list[str] = []
        for z in zaak_keys:
            k = self.zaken.get(z)
            if k:
                kinds |= k
                via.append(z.rstrip("/").rsplit("/", 1)[-1])
        writer = object_key is not None and bool(self.made.get(object_key, set()) & {"writer", "creator"})
        return {"kinds": sorted(kinds), "zaken": sorted(set(via)), "writer": writer}


class _Cache:
    """A small TTL cache; one per kind of look-up, shared by the threads of a worker."""

    def __init__(self, name: str, ttl: float) -> None:
        self._name = name
        self._ttl = ttl
        self._data: dict[Any, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        hit = self.entry(key)
        return hit[1] if hit is not None else None

    def entry(self, key: Any) -> tuple[float, Any] | None:
        """(expiry, value), or None when absent or expired."""
        with self._lock:
            hit = self._data.get(key)
        if hit is not None and hit[0] > time.monotonic():
            metrics.child(metrics.relation_cache_total, self._name, "hit").inc()
            return hit
        metrics.child(metrics.relation_cache_total, self._name, "miss").inc()
        return None

    def put(self, key: Any, value: Any) -> float | None:
        """Store ``value``; returns its expiry (None: not stored, the TTL is 0)."""
        if self._ttl <= 0:
            return None
        expiry = time.monotonic() + self._ttl
        with self._lock:
            if len(self._data) > 10_000:
                self._data.clear()  # bounded memory: a burst of callers starts over
            self._data[key] = (expiry, value)
        return expiry

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


class Relations:
    def __init__(self, *, client: UpstreamClient, labels: LabelStore, catalogue: Catalogue, settings: Settings) -> None:
        self._client = client
        self._labels = labels
        self._catalogue = catalogue
        ttl = settings.relations.cache_ttl_seconds
        self._max_items = settings.relations.max_items
        self._kinds = dict(settings.catalogue.roltypen)
        for url in settings.catalogue.coordinator_roltypen:
            self._kinds.setdefault(url, "coordinator")
        u = urlsplit(settings.upstream.url)
        self._origin = f"{u.scheme}://{u.netloc}"
        self._prefix = u.path.rstrip("/")
        self._callers = _Cache("caller", ttl)
        self._documents = _Cache("zaak_documents", ttl)
        self._categories = _Cache("zaak_category", ttl)
        # document key → zaken, per tuple of a caller's zaak keys: (expiry, map). Dropped with the
        # per-zaak document cache; _epoch tells a map made from entries dropped meanwhile.
        self._doc_maps: dict[tuple[str, ...], tuple[float, dict[str, list[str]]]] = {}
        self._epoch = 0
        self._generation: int | None = None
        self._gen_lock = threading.Lock()

    def kind_of(self, roltype: Any) -> str:
        return self._kinds.get(roltype, "overig") if isinstance(roltype, str) else "overig"

    # -- entry points --------------------------------------------------------------------------

    def of_caller(self, ident: Identity, traceparent: str) -> CallerRelations:
        try:
            generation, made = self._labels.relation_state(ident.sub)
        except LabelStoreError as exc:
            log.error("label store failed", extra={"event": "labels_error", "error": str(exc)})
            raise FailClosed("labels") from None
        with self._gen_lock:
            if generation != self._generation:
                # A relation was written through some sidecar since: every cached relation may be stale.
                self._drop_cached()
                self._generation = generation
        key = (ident.sub, ident.teams, ident.org)
        zaken = self._callers.get(key)
        if zaken is None:
            zaken = self._read_caller_zaken(ident, traceparent)
            self._callers.put(key, zaken)
        merged = dict(zaken)
        for obj_key, kinds in made.items():
            if "creator" in kinds:
                merged[obj_key] = merged.get(obj_key, frozenset()) | {"creator"}
        return CallerRelations(merged, made)

    def zaken_of_documents(self, caller: CallerRelations, traceparent: str) -> dict[str, list[str]]:
        """document key → the caller's zaken it is linked to (only those: a document linked to no
        zaak of the caller is unrelated whatever else it is linked to).

        The map is shared between requests: read it, never change it."""
        zaak_keys = tuple(caller.zaken)
        with self._gen_lock:
            made = self._doc_maps.get(zaak_keys)
            epoch = self._epoch
        if made is not None and made[0] > time.monotonic():
            # Counted as the per-zaak hits it stands for, so the metric reads as without this map.
            metrics.child(metrics.relation_cache_total, "zaak_documents", "hit").inc(len(zaak_keys))
            return made[1]
        out: dict[str, list[str]] = {}
        expiry: float | None = float("inf")
        for zaak_key in zaak_keys:
            hit = self._documents.entry(zaak_key)
            if hit is None:
                docs = self._read_documents(zaak_key, traceparent)
                until = self._documents.put(zaak_key, docs)
            else:
                until, docs = hit
            expiry = None if until is None or expiry is None else min(expiry, until)
            for doc in docs:
                out.setdefault(doc, []).append(zaak_key)
        if expiry is not None:
            with self._gen_lock:
                if epoch == self._epoch:  # not made from entries dropped meanwhile
                    if len(self._doc_maps) >= _DOC_MAPS_MAX:
                        self._doc_maps.clear()
                    self._doc_maps[zaak_keys] = (expiry, out)
        return out

    def zaak_category(self, zaak_key: str, traceparent: str) -> str:
        """The category of a zaak by its zaaktype (catalogue), cached per zaak."""
        cat = self._categories.get(zaak_key)
        if cat is None:
            doc = self._get_json(self._target(zaak_key), traceparent)
            if not isinstance(doc, dict):
                raise self._inconsistent("a zaak is not a JSON object")
            cat = self._catalogue.category_of_type("zaak", doc.get("zaaktype"))
            self._categories.put(zaak_key, cat)
        return str(cat)

    def remember(self, key: str, ident: Identity, kind: str) -> None:
        """The caller created (``creator``) or wrote (``writer``) this object through the sidecar."""
        try:
            self._labels.add_link(key, ident.sub, kind)
        except LabelStoreError as exc:
            log.error("label store write failed after create",
                      extra={"event": "labels_write_failed", "error": str(exc), "key": key})
            raise FailClosed("labels_not_stored") from None

    def invalidate(self) -> None:
        """A rol or zaakinformatieobject was written through this sidecar: every worker of every
        replica drops its cached relations before its next decision."""
        with self._gen_lock:
            self._drop_cached()
        try:
            self._labels.bump_generation()
        except LabelStoreError as exc:
            # The write already happened upstream; other workers keep their caches for at most the TTL.
            log.error("relation invalidation not shared", extra={"event": "labels_write_failed", "error": str(exc)})

    def _drop_cached(self) -> None:
        """Drop the callers' zaken and the zaken's documents (under ``_gen_lock``)."""
        self._callers.clear()
        self._documents.clear()
        self._doc_maps.clear()
        self._epoch += 1

    # -- upstream look-ups ---------------------------------------------------------------------

    def _target(self, key: str) -> str:
        """A request target for the upstream client (which adds the upstream's path prefix)."""
        path = urlsplit(key).path if "://" in key else key
        if self._prefix and path.startswith(self._prefix + "/"):
            path = path[len(self._prefix):]
        return path

    def _absolute(self, key: str) -> str:
        return self._origin + key

    @staticmethod
    def _inconsistent(what: str) -> FailClosed:
        log.error("relation look-up inconsistent", extra={"event": "relations_error", "error": what})
        return FailClosed("relations_inconsistent", f"De relaties met de zaak zijn niet eenduidig: {what}.")

    def _get_json(self, target: str, traceparent: str) -> Any:
        metrics.relation_lookups_total.inc()
        try:
            resp = self._client.request("GET", target, headers={**LOOKUP_HEADERS, "traceparent": traceparent},
                                        body=None, user_id=_SIDECAR_USER, inspect=True)
        except UpstreamError as exc:
            metrics.upstream_errors_total.labels(exc.kind).inc()
            log.error("relation look-up failed", extra={"event": "relations_error", "kind": exc.kind,
                                                        "error": str(exc)})
            raise FailClosed("relations") from None
        if not 200 <= resp.status < 300:
            resp.release()
            raise self._inconsistent(f"the upstream answered {resp.status}")
        try:
            return orjson.loads(resp.read_limited(16 * 1024 * 1024))
        except (UpstreamError, ValueError):
            raise self._inconsistent("the upstream's answer is not JSON") from None

    def _pages(self, target: str, traceparent: str) -> list[Any]:
        """Every item of a ZGW list (a paginated page chain, or a plain array)."""
        items: list[Any] = []
        for _ in range(_MAX_PAGES):
            doc = self._get_json(target, traceparent)
            if isinstance(doc, list):
                items.extend(doc)
                nxt = None
            elif isinstance(doc, dict) and isinstance(doc.get("results"), list):
                items.extend(doc["results"])
                nxt = doc.get("next")
            else:
                raise self._inconsistent("a list is not a ZGW list")
            if len(items) > self._max_items:
                raise self._inconsistent(f"more than {self._max_items} items")
            if not nxt:
                return items
            if not isinstance(nxt, str):
                raise self._inconsistent("a next link is not a URL")
            parts = urlsplit(nxt)
            target = self._target(parts.path) + (f"?{parts.query}" if parts.query else "")
        raise self._inconsistent(f"more than {_MAX_PAGES} pages")

    def _read_caller_zaken(self, ident: Identity, traceparent: str) -> dict[str, frozenset[str]]:
        values = {"sub": [ident.sub], "team": list(ident.teams), "org": [ident.org]}
        zaken: dict[str, set[str]] = {}
        for which, name in _FILTERS:
            for value in values[which]:
                for rol in self._pages(f"{ROLLEN}?{urlencode({name: value})}", traceparent):
                    if not self._names(rol, which, value):
                        # The upstream ignored or widened the filter: never take its word for it.
                        raise self._inconsistent("a rol does not name the caller it was asked for")
                    zaken.setdefault(self.zaak_key(rol), set()).add(self.kind_of(rol.get("roltype")))
        return {k: frozenset(v) for k, v in zaken.items()}

    @staticmethod
    def _names(rol: Any, which: str, value: str) -> bool:
        if not isinstance(rol, dict):
            return False
        ident = rol.get("betrokkeneIdentificatie")
        if not isinstance(ident, dict):
            return False
        btype = rol.get("betrokkeneType")
        if which == "sub":
            return btype == "medewerker" and ident.get("identificatie") == value
        if which == "team":
            return btype == "organisatorische_eenheid" and ident.get("identificatie") == value
        return ((btype == "niet_natuurlijk_persoon" and ident.get("annIdentificatie") == value)
                or (btype == "vestiging" and ident.get("vestigingsNummer") == value))

    def zaak_key(self, obj: dict[str, Any]) -> str:
        """The key of the zaak an object (rol, zaakinformatieobject) belongs to, checked."""
        zaak, url = obj.get("zaak"), obj.get("url")
        if not isinstance(zaak, str) or not zaak.startswith(("http://", "https://")):
            raise self._inconsistent("an object has no zaak")
        if isinstance(url, str) and urlsplit(url).netloc != urlsplit(zaak).netloc:
            raise self._inconsistent("a zaak URL is on another host than the object naming it")
        key = key_for_url(zaak)
        if not key.startswith(self._prefix + ZAKEN + "/zaken/"):
            raise self._inconsistent("a zaak URL is not a zaak of this upstream")
        return key

    def _read_documents(self, zaak_key: str, traceparent: str) -> frozenset[str]:
        docs: set[str] = set()
        for zio in self._pages(f"{ZIO}?{urlencode({'zaak': self._absolute(zaak_key)})}", traceparent):
            if not isinstance(zio, dict) or self.zaak_key(zio) != zaak_key:
                raise self._inconsistent("a zaakinformatieobject does not belong to the zaak asked for")
            doc = zio.get("informatieobject")
            if not isinstance(doc, str):
                raise self._inconsistent("a zaakinformatieobject names no document")
            docs.add(key_for_url(doc))
        return frozenset(docs)
