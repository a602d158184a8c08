"""A case-worker application's everyday writes through the sidecar (real OPA, the demo upstream):
setting a status, recording a resultaat, adding, changing and removing a zaakobject. Each is a
write to its zaak, decided like a rol on the zaak's category and the caller's relation to it: a
related case worker gets the upstream's answer with the sidecar's links, an unrelated one a 403
(N1) before anything reaches the upstream, and an upstream refusal passes on with its reason,
recorded with the upstream's status."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

from tests.helpers import HULP, SEED, UNRELATED_SUB, ZAKEN, Reply, Running, catalogue_base, zaken_of

Z = "/zaken/api/v1"
MINE = SEED["examples"]["zvh_overdracht"]  # bijstand (algemeen): c.jansen is its behandelaar
NOT_MINE = SEED["examples"]["unrelated"]["algemeen"]  # only b.smit relates to it
TYPES = {"statussen": "status", "resultaten": "resultaat", "zaakobjecten": "zaakobject"}
BODIES = {
    "statussen": lambda run: {"statustype": f"{catalogue_base(run)}/statustypen/afgehandeld",
                              "datumStatusGezet": "2026-03-02T09:00:00Z", "statustoelichting": "afgesloten"},
    "resultaten": lambda run: {"resultaattype": f"{catalogue_base(run)}/resultaattypen/toegekend"},
    "zaakobjecten": lambda run: {"objectType": "adres", "object": "https://bag.example/adressen/2"},
}


def _proxy_base(run: Running) -> str:
    return f"http://127.0.0.1:{run.stack.ports.proxy}"


def _upstream_base(run: Running) -> str:
    return f"http://127.0.0.1:{run.stack.ports.upstream}"


def _json(run: Running, **kw: Any) -> dict[str, str]:
    return {**run.headers("consulent", HULP, **kw), "Content-Type": "application/json"}


def _on_upstream(run: Running, kind: str, zaak_uuid: str) -> set[str]:
    """The uuids of a zaak's objects of ``kind`` in the upstream itself, every page."""
    zaak = quote(f"{_upstream_base(run)}{ZAKEN}/{zaak_uuid}", safe="")
    return {o["uuid"] for o in run.upstream_list(f"{Z}/{kind}?zaak={zaak}")}


def _writes_since(run: Running, mark: int, kind: str) -> list[str]:
    return [ln for ln in run.upstream_since(mark)
            if f"/{kind}" in ln and any(f'"{m} ' in ln for m in ("POST", "PUT", "PATCH", "DELETE"))]


def _denied_n1(run: Running, reply: Reply) -> None:
    assert reply.status == 403, reply.body[:300]
    assert (reply.header("Content-Type") or "").startswith("application/problem+json")
    last = run.records_of(reply)[-1]
    assert last["decision"] == "deny" and "N1" in last["reasons"], last


@pytest.mark.parametrize("kind", sorted(BODIES))
def test_a_related_case_worker_creates_and_an_unrelated_one_cannot(knmg: Running, kind: str) -> None:
    body = {"zaak": f"{_proxy_base(knmg)}{ZAKEN}/{MINE}", **BODIES[kind](knmg)}
    mark = knmg.mark_upstream()
    r = knmg.proxy("POST", f"{Z}/{kind}", _json(knmg), json.dumps(body).encode())
    assert r.status == 201, r.body[:300]
    # The filter the denials below rely on sees a write that did reach the upstream.
    assert len(_writes_since(knmg, mark, kind)) == 1
    made = r.json()
    # The upstream's answer, its links leading back through the sidecar (Location too).
    assert made["url"] == f"{_proxy_base(knmg)}{Z}/{kind}/{made['uuid']}" == r.header("Location")
    assert made["zaak"] == f"{_proxy_base(knmg)}{ZAKEN}/{MINE}"
    # Type URLs of the catalogue (not proxied) and other registers' URLs are left as they were.
    assert {k: made[k] for k in BODIES[kind](knmg)} == BODIES[kind](knmg)
    # One record, the allow, durable before the write was forwarded (so its status is not yet
    # known: null); only a refusal of the upstream adds one with the upstream's status.
    (last,) = knmg.records_of(r)
    assert last["decision"] == "allow" and last["status"] is None and last["action"] == "create", last
    assert last["resource"]["type"] == TYPES[kind] and last["resource"]["category"] == "algemeen"
    # Written upstream, on the upstream's own URL of the zaak; and read back through the sidecar.
    there = knmg.upstream("GET", f"{Z}/{kind}/{made['uuid']}").json()
    assert there["zaak"] == f"{_upstream_base(knmg)}{ZAKEN}/{MINE}"
    assert knmg.proxy("GET", f"{Z}/{kind}/{made['uuid']}", knmg.headers("consulent", HULP)).status == 200
    # Not related: a zaak only b.smit relates to, and c.jansen's zaak for a caller related to nothing.
    for headers, zaak in ((_json(knmg), NOT_MINE), (_json(knmg, sub=UNRELATED_SUB), MINE)):
        before = _on_upstream(knmg, kind, zaak)
        mark = knmg.mark_upstream()
        denied = knmg.proxy("POST", f"{Z}/{kind}", headers,
                            json.dumps({**body, "zaak": f"{_proxy_base(knmg)}{ZAKEN}/{zaak}"}).encode())
        _denied_n1(knmg, denied)
        assert knmg.records_of(denied)[-1]["resource"]["type"] == TYPES[kind]
        assert not _writes_since(knmg, mark, kind), "nothing reached the upstream"
        assert _on_upstream(knmg, kind, zaak) == before


def test_a_body_that_names_no_zaak_of_this_upstream_is_refused(knmg: Running) -> None:
    mark = knmg.mark_upstream()
    for zaak in (None, "geen-url", f"{_proxy_base(knmg)}{Z}/rollen/{MINE}"):
        r = knmg.proxy("POST", f"{Z}/statussen", _json(knmg),
                       json.dumps({"zaak": zaak, **BODIES["statussen"](knmg)}).encode())
        assert r.status == 400 and "zaak" in r.json()["detail"], r.body[:300]
    assert not _writes_since(knmg, mark, "statussen")


def test_an_upstream_refusal_passes_on_with_its_reason(knmg: Running) -> None:
    """Allowed by the policy, refused by the upstream (a status without its statustype): the
    client gets the upstream's 400 with the field named, and the record says 400."""
    body = {"zaak": f"{_proxy_base(knmg)}{ZAKEN}/{MINE}", "datumStatusGezet": "2026-03-02T09:00:00Z"}
    before = _on_upstream(knmg, "statussen", MINE)
    r = knmg.proxy("POST", f"{Z}/statussen", _json(knmg), json.dumps(body).encode())
    assert r.status == 400, r.body[:300]
    assert (r.header("Content-Type") or "").startswith("application/problem+json")
    assert [p["name"] for p in r.json()["invalidParams"]] == ["statustype"]
    last = knmg.records_of(r)[-1]
    assert last["status"] == 400 and last["reasons"] == ["UPSTREAM_REJECTED"] and last["decision"] == "deny"
    assert _on_upstream(knmg, "statussen", MINE) == before


@pytest.mark.parametrize("kind", ["resultaten", "zaakobjecten"])
def test_changing_and_removing_follow_the_zaak(knmg: Running, kind: str) -> None:
    field = {"resultaten": "toelichting", "zaakobjecten": "relatieomschrijving"}[kind]
    made = knmg.upstream("POST", f"{Z}/{kind}", json.dumps(
        {"zaak": f"{_upstream_base(knmg)}{ZAKEN}/{MINE}", **BODIES[kind](knmg)}).encode()).json()
    path = f"{Z}/{kind}/{made['uuid']}"
    # An unrelated caller changes and removes nothing.
    for method in ("PATCH", "DELETE"):
        mark = knmg.mark_upstream()
        denied = knmg.proxy(method, path, _json(knmg, sub=UNRELATED_SUB),
                            json.dumps({field: "niet van mij"}).encode() if method == "PATCH" else None)
        _denied_n1(knmg, denied)
        assert not _writes_since(knmg, mark, kind)
    assert knmg.upstream("GET", path).json()[field] == made[field]
    # The related case worker changes it: the upstream's answer with the sidecar's links.
    r = knmg.proxy("PATCH", path, _json(knmg), json.dumps({field: "bijgewerkt"}).encode())
    assert r.status == 200, r.body[:300]
    assert r.json()[field] == "bijgewerkt" and r.json()["url"] == f"{_proxy_base(knmg)}{path}"
    assert [(x["decision"], x["status"]) for x in knmg.records_of(r)] == [("allow", None), ("allow", None)]
    assert knmg.upstream("GET", path).json()[field] == "bijgewerkt"
    # Moving it to a zaak the caller does not relate to is a write there too: denied before the upstream.
    mark = knmg.mark_upstream()
    moved = knmg.proxy("PATCH", path, _json(knmg),
                       json.dumps({"zaak": f"{_proxy_base(knmg)}{ZAKEN}/{NOT_MINE}"}).encode())
    _denied_n1(knmg, moved)
    assert not _writes_since(knmg, mark, kind)
    # To another zaak of its own the policy allows it; the upstream keeps a zaak's objects its own
    # (400, as Open Zaak does for a link) and the refusal passes on with its reason.
    other = next(z for z in zaken_of("c.jansen") if z != MINE and knmg.upstream(
        "GET", f"{ZAKEN}/{z}").json()["zaaktype"].endswith("/algemeen"))
    refused = knmg.proxy("PATCH", path, _json(knmg),
                         json.dumps({"zaak": f"{_proxy_base(knmg)}{ZAKEN}/{other}"}).encode())
    assert refused.status == 400 and refused.json()["invalidParams"][0]["code"] == "wijzigen-niet-toegelaten"
    assert knmg.records_of(refused)[-1]["status"] == 400
    assert knmg.records_of(refused)[-1]["reasons"] == ["UPSTREAM_REJECTED"]
    # And removes it.
    gone = knmg.proxy("DELETE", path, knmg.headers("consulent", HULP))
    assert gone.status == 204 and knmg.records_of(gone)[-1]["decision"] == "allow"
    assert knmg.upstream("GET", path).status == 404


def test_a_status_is_not_changed_or_removed(knmg: Running) -> None:
    """The Zaken API has no PUT, PATCH or DELETE of a status (a new status replaces it): not
    mapped, so never forwarded."""
    made = knmg.upstream("POST", f"{Z}/statussen", json.dumps(
        {"zaak": f"{_upstream_base(knmg)}{ZAKEN}/{MINE}", **BODIES["statussen"](knmg)}).encode()).json()
    mark = knmg.mark_upstream()
    for method in ("PUT", "PATCH", "DELETE"):
        r = knmg.proxy(method, f"{Z}/statussen/{made['uuid']}", _json(knmg), b"{}")
        assert r.status == 403 and r.json()["type"].endswith("onbekende-route")
    assert not _writes_since(knmg, mark, "statussen")
