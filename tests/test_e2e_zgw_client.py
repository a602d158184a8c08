"""The sidecar as a ZGW API a case-worker application can use: its links lead back through the
sidecar, updates of related cases work, a search can expand rollen in its body, and a request the
upstream refused is recorded with the upstream's status. (The demo upstream writes URLs on its own
host, as Open Zaak does.)"""

from __future__ import annotations

import json
from urllib.parse import quote, urlsplit

from tests.helpers import DOCS, HULP, SEED, ZAKEN, ZIO, Running


def _proxy_base(run: Running) -> str:
    return f"http://127.0.0.1:{run.stack.ports.proxy}"


def _upstream_base(run: Running) -> str:
    return f"http://127.0.0.1:{run.stack.ports.upstream}"


def test_links_in_answers_lead_back_through_the_sidecar(knmg: Running) -> None:
    h = knmg.headers("consulent", HULP)
    r = knmg.proxy("GET", f"{DOCS}?page=1", h)
    assert r.status == 200
    raw = r.body.decode()
    # Only the catalogue's type URLs (not proxied) keep the upstream's host.
    assert raw.count(_upstream_base(knmg)) == raw.count(_upstream_base(knmg) + "/catalogi/api/v1/") > 0
    doc = r.json()["results"][0]
    assert doc["url"].startswith(_proxy_base(knmg) + DOCS + "/")
    assert doc["informatieobjecttype"].startswith(_upstream_base(knmg) + "/catalogi/api/v1/")  # not proxied
    if doc.get("inhoud"):
        # The download link is the sidecar's, and following it goes through the decision.
        down = knmg.proxy("GET", urlsplit(doc["inhoud"]).path, h)
        assert doc["inhoud"].startswith(_proxy_base(knmg)) and down.status == 200
    zaak = knmg.proxy("GET", f"{ZAKEN}/{SEED['examples']['zvh_overdracht']}", h)
    assert zaak.status == 200 and zaak.json()["url"].startswith(_proxy_base(knmg))
    assert all(rol.startswith(_proxy_base(knmg)) for rol in zaak.json()["rollen"])


def test_the_sidecars_urls_work_in_requests(knmg: Running) -> None:
    """A client sends back what it got: the sidecar's URLs in a query filter reach the upstream as
    its own, and the answer holds the sidecar's again."""
    zaak_uuid = SEED["examples"]["zvh_overdracht"]
    sidecar_zaak = f"{_proxy_base(knmg)}{ZAKEN}/{zaak_uuid}"
    r = knmg.proxy("GET", f"{ZIO}?zaak={quote(sidecar_zaak, safe='')}", knmg.headers("consulent", HULP))
    assert r.status == 200, r.body[:300]
    links = r.json()
    # Exactly the zaak's links the consulent may see (all of them here: it relates to the zaak),
    # whatever other tests linked to it meanwhile: the upstream's own list says which there are.
    upstream_zaak = f"{_upstream_base(knmg)}{ZAKEN}/{zaak_uuid}"
    there = knmg.upstream("GET", f"{ZIO}?zaak={quote(upstream_zaak, safe='')}").json()
    want = {link["informatieobject"].rsplit("/", 1)[1] for link in there}
    assert set(SEED["zaak_documenten"][zaak_uuid]) <= want
    assert {link["informatieobject"].rsplit("/", 1)[1] for link in links} == want
    assert all(link["zaak"] == sidecar_zaak for link in links)


def test_a_search_expands_rollen_from_its_body(knmg: Running) -> None:
    zaak_uuid = SEED["examples"]["zvh_overdracht"]
    h = {**knmg.headers("consulent", HULP), "Content-Type": "application/json"}
    ident = knmg.upstream("GET", f"{ZAKEN}/{zaak_uuid}").json()["identificatie"]
    r = knmg.proxy("POST", f"{ZAKEN}/_zoek", h, json.dumps({"identificatie": ident, "expand": ["rollen"]}).encode())
    assert r.status == 200, r.body[:300]
    (zaak,) = r.json()["results"]
    assert zaak["_expand"]["rollen"], "the embedded rollen were decided and released"
    bad = knmg.proxy("POST", f"{ZAKEN}/_zoek", h, json.dumps({"expand": ["status"]}).encode())
    assert bad.status == 400


def test_a_related_case_worker_updates_a_zaak_and_an_unrelated_one_cannot(knmg: Running) -> None:
    h = {**knmg.headers("consulent", HULP), "Content-Type": "application/json"}
    mine = SEED["examples"]["zvh_overdracht"]  # bijstand: c.jansen is its behandelaar
    r = knmg.proxy("PATCH", f"{ZAKEN}/{mine}", h, json.dumps({"toelichting": "bijgewerkt"}).encode())
    assert r.status == 200, r.body[:300]
    assert knmg.upstream("GET", f"{ZAKEN}/{mine}").json()["toelichting"] == "bijgewerkt"
    not_mine = SEED["examples"]["unrelated"]["algemeen"]
    before = knmg.upstream("GET", f"{ZAKEN}/{not_mine}").json()["toelichting"]
    denied = knmg.proxy("PATCH", f"{ZAKEN}/{not_mine}", h, json.dumps({"toelichting": "niet van mij"}).encode())
    assert denied.status == 403 and "N1" in knmg.records_of(denied)[-1]["reasons"]
    assert knmg.upstream("GET", f"{ZAKEN}/{not_mine}").json()["toelichting"] == before


def test_a_request_the_upstream_refused_is_recorded_with_its_status(knmg: Running) -> None:
    h = {**knmg.headers("consulent", HULP), "Content-Type": "application/json"}
    mine = SEED["examples"]["zvh_overdracht"]
    r = knmg.proxy("PATCH", f"{ZAKEN}/{mine}", h, json.dumps({"startdatum": "geen datum"}).encode())
    assert r.status == 400, r.body[:300]
    last = knmg.records_of(r)[-1]
    assert last["status"] == 400 and last["reasons"] == ["UPSTREAM_REJECTED"] and last["decision"] == "deny"
