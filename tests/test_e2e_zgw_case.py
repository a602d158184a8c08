"""What a case-worker application reads of a zaak, through the sidecar against the demo upstream:
statussen, resultaten and zaakobjecten are decided like a rol (the zaak's category and the
caller's relation to it), the zaak's audit trail and each of its entries like the zaak itself;
the Catalogi API stays closed (403, never forwarded). Writing them: test_e2e_zgw_casework."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from tests.helpers import HULP, SEED, UNRELATED_SUB, ZAKEN, Running, catalogue_base

Z = "/zaken/api/v1"
MINE = SEED["examples"]["zvh_overdracht"]  # bijstand (algemeen): c.jansen is its behandelaar
NOT_MINE = SEED["examples"]["unrelated"]["algemeen"]  # only b.smit relates to it

KINDS = {
    "statussen": lambda run: {"statustype": f"{catalogue_base(run)}/statustypen/ontvangen",
                              "datumStatusGezet": "2026-03-02T09:00:00Z"},
    "resultaten": lambda run: {"resultaattype": f"{catalogue_base(run)}/resultaattypen/toegekend"},
    "zaakobjecten": lambda run: {"objectType": "adres", "object": "https://bag.example/adressen/1"},
}


def _make(run: Running, kind: str, zaak_uuid: str) -> dict[str, Any]:
    zaak = f"http://127.0.0.1:{run.stack.ports.upstream}{ZAKEN}/{zaak_uuid}"
    r = run.upstream("POST", f"{Z}/{kind}", json.dumps({"zaak": zaak, **KINDS[kind](run)}).encode())
    assert r.status == 201, r.body
    obj: dict[str, Any] = r.json()
    return obj


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_objects_of_a_zaak_follow_the_zaak(knmg: Running, kind: str) -> None:
    proxy_base = f"http://127.0.0.1:{knmg.stack.ports.proxy}"
    mine, not_mine = _make(knmg, kind, MINE), _make(knmg, kind, NOT_MINE)
    h = knmg.headers("consulent", HULP)
    # Filtered by the zaak (the sidecar's URL of it, as a client sends it back).
    r = knmg.proxy("GET", f"{Z}/{kind}?zaak={quote(f'{proxy_base}{ZAKEN}/{MINE}', safe='')}", h)
    assert r.status == 200, r.body[:300]
    page = r.json()
    assert mine["uuid"] in {o["uuid"] for o in page["results"]}
    assert all(o["url"].startswith(proxy_base) and o["zaak"] == f"{proxy_base}{ZAKEN}/{MINE}" for o in page["results"])
    # Every page of the unfiltered list: the unrelated zaak's object is left out.
    seen: set[str] = set()
    target: str | None = f"{Z}/{kind}"
    while target:
        r = knmg.proxy("GET", target, h)
        assert r.status == 200, r.body[:300]
        seen |= {o["uuid"] for o in r.json()["results"]}
        nxt = r.json()["next"]
        target = urlsplit(nxt).path + "?" + urlsplit(nxt).query if nxt else None
    assert mine["uuid"] in seen and not_mine["uuid"] not in seen
    # In detail: released for the related, N1 for the unrelated zaak and for an unrelated caller.
    assert knmg.proxy("GET", f"{Z}/{kind}/{mine['uuid']}", h).status == 200
    for who, uuid in ((h, not_mine["uuid"]), (knmg.headers("consulent", HULP, sub=UNRELATED_SUB), mine["uuid"])):
        denied = knmg.proxy("GET", f"{Z}/{kind}/{uuid}", who)
        assert denied.status == 403 and "N1" in knmg.records_of(denied)[-1]["reasons"]
        assert knmg.records_of(denied)[-1]["resource"]["type"] == {"statussen": "status", "resultaten": "resultaat",
                                                                   "zaakobjecten": "zaakobject"}[kind]


def test_the_audit_trail_is_read_as_the_zaak(knmg: Running) -> None:
    proxy_base = f"http://127.0.0.1:{knmg.stack.ports.proxy}"
    h = knmg.headers("consulent", HULP)
    patched = knmg.proxy("PATCH", f"{ZAKEN}/{MINE}", {**h, "Content-Type": "application/json"},
                         json.dumps({"toelichting": "voor de audittrail"}).encode())
    assert patched.status == 200, patched.body[:300]
    r = knmg.proxy("GET", f"{ZAKEN}/{MINE}/audittrail", h)
    assert r.status == 200, r.body[:300]
    trail = r.json()
    assert any(e["wijzigingen"]["nieuw"]["toelichting"] == "voor de audittrail" for e in trail)
    assert all(e["hoofdObject"] == f"{proxy_base}{ZAKEN}/{MINE}" for e in trail)
    (rec,) = [x for x in knmg.records_of(r) if x["phase"] == "response"]
    assert rec["resource"] == {"type": "zaak", "id": MINE, "category": "algemeen"} and rec["decision"] == "allow"
    # Not related: denied on the zaak before the audit trail is asked for.
    for who, zaak in ((knmg.headers("consulent", HULP, sub=UNRELATED_SUB), MINE), (h, NOT_MINE)):
        mark = knmg.mark_upstream()
        denied = knmg.proxy("GET", f"{ZAKEN}/{zaak}/audittrail", who)
        assert denied.status == 403 and "N1" in knmg.records_of(denied)[-1]["reasons"]
        assert not [ln for ln in knmg.upstream_since(mark) if "audittrail" in ln]
    # A single entry: decided on its zaak too, before it is fetched.
    entry_id = trail[-1]["uuid"]
    entry = knmg.proxy("GET", f"{ZAKEN}/{MINE}/audittrail/{entry_id}", h)
    assert entry.status == 200, entry.body[:300]
    assert entry.json()["uuid"] == entry_id and entry.json()["hoofdObject"] == f"{proxy_base}{ZAKEN}/{MINE}"
    (rec,) = [x for x in knmg.records_of(entry) if x["phase"] == "response"]
    assert rec["resource"] == {"type": "zaak", "id": MINE, "category": "algemeen"} and rec["decision"] == "allow"
    mark = knmg.mark_upstream()
    denied = knmg.proxy("GET", f"{ZAKEN}/{MINE}/audittrail/{entry_id}", knmg.headers("consulent", HULP,
                                                                                     sub=UNRELATED_SUB))
    assert denied.status == 403 and "N1" in knmg.records_of(denied)[-1]["reasons"]
    assert not [ln for ln in knmg.upstream_since(mark) if "audittrail" in ln]
    # An entry asked for under another zaak: decided on that zaak (here: not related, so 403).
    assert knmg.proxy("GET", f"{ZAKEN}/{NOT_MINE}/audittrail/{entry_id}", h).status == 403


@pytest.mark.parametrize("target", ["/catalogi/api/v1/zaaktypen", "/catalogi/api/v1/informatieobjecttypen/medisch",
                                    "/catalogi/api/v1/statustypen/afgehandeld"])
def test_the_catalogue_stays_closed(knmg: Running, target: str) -> None:
    mark = knmg.mark_upstream()
    r = knmg.proxy("GET", target, knmg.headers("consulent", HULP))
    assert r.status == 403 and r.json()["type"].endswith("onbekende-route")
    assert not [ln for ln in knmg.upstream_since(mark) if "/catalogi/" in ln]


def _pages(run: Running, target: str, h: dict[str, str]) -> list[dict[str, Any]]:
    out = []
    nxt: str | None = target
    while nxt:
        r = run.proxy("GET", nxt, h)
        assert r.status == 200, r.body[:300]
        out.append(r.json())
        link = r.json()["next"]
        nxt = urlsplit(link).path + "?" + urlsplit(link).query if link else None
    return out


def test_list_counts_are_what_the_page_releases(knmg: Running) -> None:
    """A page whose items were all withheld says count 0 (not the upstream's total less this page's
    removals) and still leads on; no count includes a denied item; a one-page list counts exactly
    what it releases."""
    first = knmg.upstream("GET", f"{Z}/statussen?page=1").json()
    per_page = len(first["results"]) if first["next"] else 100  # the demo upstream's page size
    hidden = NOT_MINE  # only b.smit relates to it
    for _ in range(per_page + 1):
        _make(knmg, "statussen", hidden)
    proxy_base = f"http://127.0.0.1:{knmg.stack.ports.proxy}"
    target = f"{Z}/statussen?zaak={quote(f'{proxy_base}{ZAKEN}/{hidden}', safe='')}"
    direct = knmg.upstream("GET", f"{Z}/statussen?zaak={quote(f'{proxy_base}{ZAKEN}/{hidden}', safe='')}").json()
    assert direct["count"] > per_page and direct["next"]  # the upstream's total, over two pages
    h = knmg.headers("consulent", HULP)
    pages = _pages(knmg, target, h)
    assert len(pages) >= 2 and pages[0]["next"]
    assert all(p["results"] == [] and p["count"] == 0 for p in pages)
    # Its related user sees them all, each page counting its own.
    smit = knmg.headers("consulent", HULP, sub="b.smit")
    pages = _pages(knmg, target, smit)
    assert [p["count"] for p in pages] == [len(p["results"]) for p in pages]
    assert sum(p["count"] for p in pages) == direct["count"]
    # A one-page list: count is exactly what was released, though the upstream counted more.
    _make(knmg, "statussen", MINE)
    one = knmg.proxy("GET", f"{Z}/statussen?zaak={quote(f'{proxy_base}{ZAKEN}/{MINE}', safe='')}",
                     knmg.headers("consulent", HULP, sub=UNRELATED_SUB)).json()
    assert one["next"] is None and one["previous"] is None and one["count"] == 0 == len(one["results"])
