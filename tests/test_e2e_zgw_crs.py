"""The demo upstream requires ``Accept-Crs`` (and ``Content-Crs`` with a body) on the zaak resource,
as Open Zaak does (412 otherwise), and answers with ``Content-Crs``. A client request without them
gets the upstream's 412 passed on as a problem (not a 502), recorded with its status; the sidecar's
own look-ups (creating a rol reads its zaak, an update reads the current zaak) carry their own CRS
headers, whatever the client sent."""

from __future__ import annotations

import json

from tests.helpers import HULP, ROLLEN, SEED, ZAKEN, Reply, Running, rol_body, send, unique, upstream_rol, upstream_zaak

MINE = SEED["examples"]["zvh_overdracht"]  # bijstand: c.jansen is its behandelaar


def _exact(run: Running, method: str, target: str, h: dict[str, str], body: bytes | None = None,
           **extra: str) -> Reply:
    """Through the sidecar with exactly these headers (Running.proxy would add the CRS headers)."""
    return send(run.stack.ports.proxy, method, target, {**h, **extra}, body)


def test_the_demo_upstream_requires_accept_crs_like_open_zaak(knmg: Running) -> None:
    bare = knmg.upstream("GET", f"{ZAKEN}/{MINE}", headers={"Accept-Crs": "EPSG:4326"})
    assert bare.status == 200 and bare.headers["content-crs"] == "EPSG:4326"
    missing = send(knmg.stack.ports.upstream, "GET", f"{ZAKEN}/{MINE}")
    assert missing.status == 412 and missing.json()["code"] == "missing-accept-crs-header"
    assert missing.headers["content-type"] == "application/problem+json"
    other = send(knmg.stack.ports.upstream, "GET", f"{ZAKEN}/{MINE}", {"Accept-Crs": "EPSG:28992"})
    assert other.status == 406


def test_a_client_request_without_accept_crs_gets_the_upstreams_412(knmg: Running) -> None:
    h = knmg.headers("consulent", HULP)
    r = _exact(knmg, "GET", f"{ZAKEN}/{MINE}", h)
    assert r.status == 412, r.body[:300]
    assert r.headers["content-type"] == "application/problem+json"
    assert "Accept-Crs" in r.body.decode()
    last = knmg.records_of(r)[-1]
    assert last["status"] == 412 and last["reasons"] == ["UPSTREAM_REJECTED"]
    # With it: allowed, and the answer says its CRS.
    ok = knmg.proxy("GET", f"{ZAKEN}/{MINE}", h)
    assert ok.status == 200 and ok.headers["content-crs"] == "EPSG:4326"
    # An update without Content-Crs: refused by the upstream (the sidecar's own read of the current
    # zaak worked), passed on, nothing changed.
    before = knmg.upstream("GET", f"{ZAKEN}/{MINE}").json()["toelichting"]
    body = json.dumps({"toelichting": "zonder content-crs"}).encode()
    r = _exact(knmg, "PATCH", f"{ZAKEN}/{MINE}", h, body, **{"Content-Type": "application/json",
                                                              "Accept-Crs": "EPSG:4326"})
    assert r.status == 412 and "Content-Crs" in r.body.decode()
    assert knmg.records_of(r)[-1]["reasons"] == ["UPSTREAM_REJECTED"]
    assert knmg.upstream("GET", f"{ZAKEN}/{MINE}").json()["toelichting"] == before


def test_the_sidecars_own_lookups_work_whatever_the_client_sent(knmg: Running) -> None:
    zaak = upstream_zaak(knmg)
    lead = unique("consulent")
    upstream_rol(knmg, zaak["url"], "behandelaar", medewerker=lead)
    h = knmg.headers("consulent", HULP, sub=lead)
    for accept_crs in (None, "EPSG:28992"):
        extra = {"Content-Type": "application/json"} | ({"Accept-Crs": accept_crs} if accept_crs else {})
        # Creating a rol reads its zaak first (the sidecar's look-up, with its own Accept-Crs).
        created = _exact(knmg, "POST", ROLLEN, h, rol_body(knmg, zaak["url"], "initiator", medewerker=unique("x")),
                         **extra)
        assert created.status == 201, created.body[:300]
