"""The relations resolver (need-to-know) against a scripted upstream: it reads what the upstream
says, caches it, drops the cache when a relation is written anywhere, and fails closed on any
answer that does not add up. (End-to-end behaviour with the real demo upstream and OPA is in
tests/test_e2e_need_to_know.py.)"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest

from sidecar.auth import Identity
from sidecar.classify import Catalogue
from sidecar.failures import FailClosed
from sidecar.labels import SqliteLabelStore
from sidecar.relations import CallerRelations, Relations
from sidecar.settings import CatalogueSettings, Settings
from sidecar.upstream import UpstreamClient

CAT = "http://catalogus.example/catalogi/api/v1"
ZAAK_1 = "/zaken/api/v1/zaken/11111111-1111-4111-8111-111111111111"
ZAAK_2 = "/zaken/api/v1/zaken/22222222-2222-4222-8222-222222222222"
DOC_A = "/documenten/api/v1/enkelvoudiginformatieobjecten/aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"

Handler = Callable[[str, dict[str, list[str]]], tuple[int, Any]]


class Upstream:
    """A WSGI server on loopback whose answers each test scripts; it counts requests."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.handler: Handler = lambda path, q: (404, {})

        def app(environ: dict[str, Any], start: Callable[..., Any]) -> list[bytes]:
            path, query = environ["PATH_INFO"], environ.get("QUERY_STRING", "")
            self.requests.append(f"{path}?{query}")
            status, body = self.handler(path, parse_qs(query))
            start(f"{status} X", [("Content-Type", "application/json")])
            return [json.dumps(body).encode()]

        class Quiet(WSGIRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

        self.server: WSGIServer = make_server("127.0.0.1", 0, app, handler_class=Quiet)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def rol(self, zaak: str, roltype: str, *, btype: str = "medewerker", ident: dict[str, str] | None = None,
            host: str | None = None) -> dict[str, Any]:
        return {"url": f"{host or self.base}/zaken/api/v1/rollen/r", "zaak": f"{self.base}{zaak}",
                "roltype": f"{CAT}/roltypen/{roltype}", "betrokkeneType": btype,
                "betrokkeneIdentificatie": ident or {"identificatie": "u-1"}}


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    up = Upstream()
    yield up
    up.server.shutdown()


def _relations(upstream: Upstream, tmp_path: Path, ttl: float = 60.0, max_items: int = 5000) -> Relations:
    settings = Settings.model_validate({
        "upstream": {"url": upstream.base}, "jwt": {"issuer": "i", "audience": "a", "jwks_url": "http://x/j"},
        "controlling_orgs": ["gemeente"], "pseudonymisation": {"key": "k" * 32},
        "opa": {"engine": "rest"},  # no Wasm bundle here: OPA over REST
        "catalogue": {"zaaktypen": {f"{CAT}/zaaktypen/medisch": "medisch"},
                      "roltypen": {f"{CAT}/roltypen/behandelaar": "behandelaar"},
                      "coordinator_roltypen": [f"{CAT}/roltypen/zaakcoordinator"]},
        "relations": {"cache_ttl_seconds": ttl, "max_items": max_items}})
    return Relations(client=UpstreamClient(settings.upstream), labels=SqliteLabelStore(tmp_path / "l.sqlite3"),
                     catalogue=Catalogue(settings.catalogue), settings=settings)


ME = Identity(sub="u-1", role="consulent", org="gemeente", secrecy="geen", teams=("team-a",))
TP = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def _page(results: list[Any], nxt: str | None = None) -> dict[str, Any]:
    return {"count": len(results), "next": nxt, "previous": None, "results": results}


def test_kinds_come_from_the_roltype_of_every_rol_naming_the_caller(upstream: Upstream, tmp_path: Path) -> None:
    def handler(path: str, q: dict[str, list[str]]) -> tuple[int, Any]:
        if "betrokkeneIdentificatie__medewerker__identificatie" in q:
            return 200, _page([upstream.rol(ZAAK_1, "behandelaar"), upstream.rol(ZAAK_2, "zaakcoordinator")])
        if "betrokkeneIdentificatie__organisatorischeEenheid__identificatie" in q:
            return 200, _page([upstream.rol(ZAAK_2, "initiator", btype="organisatorische_eenheid",
                                            ident={"identificatie": "team-a"})])
        return 200, _page([])

    upstream.handler = handler
    rel = _relations(upstream, tmp_path).of_caller(ME, TP)
    assert rel.zaken == {ZAAK_1: frozenset({"behandelaar"}), ZAAK_2: frozenset({"coordinator", "overig"})}
    assert rel.relation([ZAAK_2], None) == {"kinds": ["coordinator", "overig"],
                                            "zaken": ["22222222-2222-4222-8222-222222222222"], "writer": False}
    assert rel.relation(["/zaken/api/v1/zaken/other"], None) == {"kinds": [], "zaken": [], "writer": False}


def test_pages_are_followed(upstream: Upstream, tmp_path: Path) -> None:
    def handler(path: str, q: dict[str, list[str]]) -> tuple[int, Any]:
        if "betrokkeneIdentificatie__medewerker__identificatie" not in q:
            return 200, _page([])
        if q.get("page") == ["2"]:
            return 200, _page([upstream.rol(ZAAK_2, "behandelaar")])
        return 200, _page([upstream.rol(ZAAK_1, "behandelaar")],
                          nxt=f"{upstream.base}/zaken/api/v1/rollen?betrokkeneIdentificatie__medewerker__"
                              "identificatie=u-1&page=2")

    upstream.handler = handler
    assert set(_relations(upstream, tmp_path).of_caller(ME, TP).zaken) == {ZAAK_1, ZAAK_2}


def test_a_warm_read_costs_no_upstream_call_and_a_relation_write_drops_the_cache(
        upstream: Upstream, tmp_path: Path) -> None:
    upstream.handler = lambda path, q: (200, _page([]))
    relations = _relations(upstream, tmp_path)
    relations.of_caller(ME, TP)
    cold = len(upstream.requests)
    assert cold == 4  # one look-up per identifier: sub, one team, org as nnp and as vestiging
    relations.of_caller(ME, TP)
    assert len(upstream.requests) == cold
    # Another worker (a second resolver on the same label store) writes a rol through the sidecar.
    other = Relations(client=relations._client, labels=relations._labels, catalogue=relations._catalogue,
                      settings=_settings_of(upstream))
    other.invalidate()
    relations.of_caller(ME, TP)
    assert len(upstream.requests) == 2 * cold


def _settings_of(upstream: Upstream) -> Settings:
    return Settings.model_validate({
        "upstream": {"url": upstream.base}, "jwt": {"issuer": "i", "audience": "a", "jwks_url": "http://x/j"},
        "controlling_orgs": ["gemeente"], "pseudonymisation": {"key": "k" * 32},
        "opa": {"engine": "rest"}})  # no Wasm bundle here: OPA over REST


def test_creator_and_writer_come_from_the_label_store(upstream: Upstream, tmp_path: Path) -> None:
    upstream.handler = lambda path, q: (200, _page([]))
    relations = _relations(upstream, tmp_path)
    relations.remember(ZAAK_1, ME, "creator")
    relations.remember(DOC_A, ME, "writer")
    rel = relations.of_caller(ME, TP)
    assert rel.zaken[ZAAK_1] == {"creator"}
    assert rel.relation([], DOC_A)["writer"] is True
    assert relations.of_caller(Identity(sub="u-2", role="consulent", org="gemeente", secrecy="geen"),
                               TP).zaken == {}


def test_documents_of_the_callers_zaken(upstream: Upstream, tmp_path: Path) -> None:
    def handler(path: str, q: dict[str, list[str]]) -> tuple[int, Any]:
        if path.endswith("/rollen") and "betrokkeneIdentificatie__medewerker__identificatie" in q:
            return 200, _page([upstream.rol(ZAAK_1, "behandelaar")])
        if path.endswith("/zaakinformatieobjecten"):
            assert urlsplit(q["zaak"][0]).path == ZAAK_1
            return 200, [{"url": f"{upstream.base}/zaken/api/v1/zaakinformatieobjecten/z",
                          "zaak": f"{upstream.base}{ZAAK_1}", "informatieobject": f"{upstream.base}{DOC_A}"}]
        return 200, _page([])

    upstream.handler = handler
    relations = _relations(upstream, tmp_path)
    caller = relations.of_caller(ME, TP)
    assert relations.zaken_of_documents(caller, TP) == {DOC_A: [ZAAK_1]}


@pytest.mark.parametrize("bad", ["no_zaak", "other_host", "not_me", "not_a_list", "status_500", "too_many"])
def test_an_answer_that_does_not_add_up_fails_closed(upstream: Upstream, tmp_path: Path, bad: str) -> None:
    def handler(path: str, q: dict[str, list[str]]) -> tuple[int, Any]:
        if "betrokkeneIdentificatie__medewerker__identificatie" not in q:
            return 200, _page([])
        rol = upstream.rol(ZAAK_1, "behandelaar")
        if bad == "no_zaak":
            del rol["zaak"]
        elif bad == "other_host":
            rol = upstream.rol(ZAAK_1, "behandelaar", host="http://elders.example")
        elif bad == "not_me":  # the upstream ignored the filter
            rol["betrokkeneIdentificatie"] = {"identificatie": "someone-else"}
        elif bad == "not_a_list":
            return 200, {"detail": "?"}
        elif bad == "status_500":
            return 500, {}
        elif bad == "too_many":
            return 200, _page([rol] * 11)
        return 200, _page([rol])

    upstream.handler = handler
    with pytest.raises(FailClosed) as exc:
        _relations(upstream, tmp_path, max_items=10).of_caller(ME, TP)
    assert exc.value.name == "relations_inconsistent" and exc.value.status == 502


def test_an_unreachable_upstream_fails_closed(upstream: Upstream, tmp_path: Path) -> None:
    relations = _relations(upstream, tmp_path)
    upstream.server.shutdown()
    upstream.server.server_close()
    with pytest.raises(FailClosed) as exc:
        relations.of_caller(ME, TP)
    assert exc.value.name == "relations" and exc.value.status == 503


def test_kind_mapping_defaults() -> None:
    cat = CatalogueSettings(roltypen={f"{CAT}/roltypen/x": "behandelaar"},
                            coordinator_roltypen=[f"{CAT}/roltypen/c"])
    assert cat.roltypen[f"{CAT}/roltypen/x"] == "behandelaar"
    with pytest.raises(ValueError, match="relation kind"):
        CatalogueSettings(roltypen={f"{CAT}/roltypen/x": "creator"})


# -- the document → zaken map of a warm read (cached per set of zaken) ---------------------------

DOC_B = "/documenten/api/v1/enkelvoudiginformatieobjecten/bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"


class _Documents:
    """An upstream where the caller has a rol on ZAAK_1 and ZAAK_2; ``links`` says which documents
    each zaak links (changed by a test); ``fail`` makes the zaakinformatieobjecten answer 500."""

    def __init__(self, upstream: Upstream) -> None:
        self.links: dict[str, list[str]] = {ZAAK_1: [DOC_A], ZAAK_2: []}
        self.fail = False
        self.during_read: Callable[[], None] = lambda: None
        upstream.handler = self.handle
        self._up = upstream

    def handle(self, path: str, q: dict[str, list[str]]) -> tuple[int, Any]:
        if path.endswith("/rollen") and "betrokkeneIdentificatie__medewerker__identificatie" in q:
            return 200, _page([self._up.rol(ZAAK_1, "behandelaar"), self._up.rol(ZAAK_2, "behandelaar")])
        if path.endswith("/zaakinformatieobjecten"):
            self.during_read()
            if self.fail:
                return 500, {}
            zaak = urlsplit(q["zaak"][0]).path
            return 200, [{"url": f"{self._up.base}/zaken/api/v1/zaakinformatieobjecten/z",
                          "zaak": f"{self._up.base}{zaak}", "informatieobject": f"{self._up.base}{d}"}
                         for d in self.links[zaak]]
        return 200, _page([])

    def zio_reads(self) -> int:
        return sum("/zaakinformatieobjecten?" in r for r in self._up.requests)


class _Clock:
    """Stands in for the ``time`` module in sidecar.relations: the TTLs run on this."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    import sidecar.relations

    c = _Clock()
    monkeypatch.setattr(sidecar.relations, "time", c)
    return c


def test_a_warm_document_map_costs_no_upstream_call(upstream: Upstream, tmp_path: Path) -> None:
    docs = _Documents(upstream)
    relations = _relations(upstream, tmp_path)
    first = relations.zaken_of_documents(relations.of_caller(ME, TP), TP)
    assert first == {DOC_A: [ZAAK_1]} and docs.zio_reads() == 2  # one per zaak
    before = len(upstream.requests)
    again = relations.zaken_of_documents(relations.of_caller(ME, TP), TP)
    assert again == first and len(upstream.requests) == before


def test_a_relation_written_through_any_sidecar_drops_the_document_map(upstream: Upstream, tmp_path: Path) -> None:
    docs = _Documents(upstream)
    relations = _relations(upstream, tmp_path)
    assert relations.zaken_of_documents(relations.of_caller(ME, TP), TP) == {DOC_A: [ZAAK_1]}
    # A zaakinformatieobject linking DOC_B to ZAAK_2 is written through this sidecar …
    docs.links[ZAAK_2] = [DOC_B]
    relations.invalidate()
    assert relations.zaken_of_documents(relations.of_caller(ME, TP), TP) == {DOC_A: [ZAAK_1], DOC_B: [ZAAK_2]}
    # … and then one linking DOC_B to ZAAK_1 through another worker (its own resolver, same label store).
    docs.links[ZAAK_1] = [DOC_A, DOC_B]
    other = Relations(client=relations._client, labels=relations._labels, catalogue=relations._catalogue,
                      settings=_settings_of(upstream))
    other.invalidate()
    assert relations.zaken_of_documents(relations.of_caller(ME, TP), TP) == {
        DOC_A: [ZAAK_1], DOC_B: [ZAAK_1, ZAAK_2]}
    assert docs.zio_reads() == 6


def test_the_document_map_lives_no_longer_than_its_earliest_zaak(
        upstream: Upstream, tmp_path: Path, clock: _Clock) -> None:
    docs = _Documents(upstream)
    relations = _relations(upstream, tmp_path, ttl=60.0)
    caller = relations.of_caller(ME, TP)
    relations.zaken_of_documents(caller, TP)
    assert docs.zio_reads() == 2
    clock.now += 59.0
    docs.links[ZAAK_2] = [DOC_B]  # changed directly in the upstream: seen once the TTL has run out
    assert relations.zaken_of_documents(caller, TP) == {DOC_A: [ZAAK_1]} and docs.zio_reads() == 2
    clock.now += 2.0
    assert relations.zaken_of_documents(caller, TP) == {DOC_A: [ZAAK_1], DOC_B: [ZAAK_2]}
    assert docs.zio_reads() == 4


def test_a_document_map_made_from_partly_expired_entries_expires_with_the_oldest(
        upstream: Upstream, tmp_path: Path, clock: _Clock) -> None:
    docs = _Documents(upstream)
    relations = _relations(upstream, tmp_path, ttl=60.0)
    one = CallerRelations({ZAAK_1: frozenset({"behandelaar"})}, {})
    both = relations.of_caller(ME, TP)
    relations.zaken_of_documents(one, TP)  # ZAAK_1's documents read at t=0
    clock.now += 40.0
    relations.zaken_of_documents(both, TP)  # ZAAK_2's read at t=40; the map holds ZAAK_1's from t=0
    assert docs.zio_reads() == 2
    docs.links[ZAAK_1] = []
    clock.now += 21.0  # t=61: ZAAK_1's entry has expired, so the map made at t=40 has too
    assert relations.zaken_of_documents(both, TP) == {}
    assert docs.zio_reads() == 3  # ZAAK_1 again; ZAAK_2's entry is still fresh


def test_without_a_ttl_nothing_is_kept(upstream: Upstream, tmp_path: Path) -> None:
    docs = _Documents(upstream)
    relations = _relations(upstream, tmp_path, ttl=0.0)
    caller = relations.of_caller(ME, TP)
    relations.zaken_of_documents(caller, TP)
    relations.zaken_of_documents(caller, TP)
    assert docs.zio_reads() == 4


def test_documents_that_cannot_be_read_mean_no_data_and_nothing_cached(upstream: Upstream, tmp_path: Path) -> None:
    docs = _Documents(upstream)
    relations = _relations(upstream, tmp_path)
    caller = relations.of_caller(ME, TP)
    docs.fail = True
    with pytest.raises(FailClosed) as exc:
        relations.zaken_of_documents(caller, TP)
    assert exc.value.name == "relations_inconsistent"
    docs.fail = False
    assert relations.zaken_of_documents(caller, TP) == {DOC_A: [ZAAK_1]}
    # Warm, then a relation write drops it and the upstream fails: no stale map, a refusal.
    relations.invalidate()
    docs.fail = True
    with pytest.raises(FailClosed):
        relations.zaken_of_documents(relations.of_caller(ME, TP), TP)


def test_a_map_made_while_the_caches_were_dropped_is_not_kept(upstream: Upstream, tmp_path: Path) -> None:
    docs = _Documents(upstream)
    relations = _relations(upstream, tmp_path)
    caller = relations.of_caller(ME, TP)
    docs.during_read = relations.invalidate  # a relation written by another thread mid-way
    assert relations.zaken_of_documents(caller, TP) == {DOC_A: [ZAAK_1]}
    assert relations._doc_maps == {}  # made from entries read before the drop: not kept
    docs.during_read = lambda: None
    relations.zaken_of_documents(relations.of_caller(ME, TP), TP)
    assert list(relations._doc_maps) == [(ZAAK_1, ZAAK_2)]
