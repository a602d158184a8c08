"""Need-to-know end to end (rules N1-N4, R5): access follows the case relations the upstream holds.

Real OPA, the demo upstream and the sidecar over HTTP, under both profiles. Who relates to what
comes from the demo upstream's seed (``sidecar.devtools.upstream.relations()``/``manifest()``),
never from hard-coded uuids. Tests that change relations build a zaak of their own in the
upstream (with users and organisations no other test uses), so the shared stacks' seed
relations stay as documented. The cache tests run on a stack of their own with a short
``relations.cache_ttl_seconds`` and a small ``relations.max_items``.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest

from sidecar.devtools.keys import DEMO_ORG, mint
from sidecar.devtools.upstream import seed
from tests.helpers import (
    DOCS,
    HULP,
    ROLLEN,
    ZAKEN,
    ZIO,
    Reply,
    Running,
    catalogue_base,
    document_body,
    rol_body,
    start_stack,
    unique,
    upstream_posts,
    upstream_rol,
    upstream_zaak,
    uuid_of,
)

PROFILES = ["knmg", "wetsvoorstel"]
REL: dict[str, Any] = seed.relations()
EXAMPLES: dict[str, Any] = REL["examples"]
USERS: dict[str, str] = REL["users"]
ORGS: dict[str, str] = REL["orgs"]
CATEGORIES = ("algemeen", "medisch", "wvggz_wzd", "coordinatiedossier")
# What a consulent may read by category, whatever its relation (R1, R2, R4, R5): the profile
# decides medical and Wvggz/Wzd data. The list tests subtract exactly this, so that what is
# left to compare is the relation alone.
CONSULENT_READS = {"knmg": {"algemeen", "coordinatiedossier"}, "wetsvoorstel": set(CATEGORIES)}
# The stack of this module's cache tests: relations cached briefly, few items per look-up.
TTL = 4.0
MAX_ITEMS = 10
SLOW = (f"the read right after the upstream write missed the relation cache: its entry ({TTL:.0f} s) expired "
        "in between, so this machine is too slow to show the cached state")


# ---- the seed as the upstream serves it ------------------------------------------------------

def _manifest(run: Running) -> dict[str, Any]:
    return seed.manifest(catalogue_base(run))


def _category_of_document(run: Running) -> dict[str, str]:
    return {d["uuid"]: d["category"] for d in _manifest(run)["documenten"]}


def _category_of_zaak(run: Running) -> dict[str, str]:
    return {z["uuid"]: z["category"] for z in _manifest(run)["zaken"]}


def _seed_zaken_of(*, sub: str | None = None, teams: tuple[str, ...] = (), org: str | None = None) -> set[str]:
    """The seeded zaken a caller relates to, by the seed's own table of relations."""
    betrokkenen = REL["betrokkenen"]
    out: set[str] = set()
    if sub is not None:
        out |= set(betrokkenen.get("medewerker", {}).get(sub, {}))
    for team in teams:
        out |= set(betrokkenen.get("organisatorische_eenheid", {}).get(team, {}))
    if org is not None:
        for btype in ("niet_natuurlijk_persoon", "vestiging"):
            out |= set(betrokkenen.get(btype, {}).get(org, {}))
    return out


def _seed_documents_of(zaken: set[str]) -> set[str]:
    return {doc for doc, linked in REL["document_zaken"].items() if set(linked) & zaken}


def _a_rol_of(run: Running, zaak: str) -> str:
    return next(str(r["uuid"]) for r in _manifest(run)["rollen"] if r["zaak"] == zaak)


def _a_document_of(run: Running, zaak: str, category: str) -> str:
    cats = _category_of_document(run)
    return next(str(d) for d in REL["zaak_documenten"][zaak] if cats[d] == category)


# ---- requests --------------------------------------------------------------------------------

def _headers(run: Running, role: str, purpose: str, *, sub: str, org: str | None = None,
             teams: list[str] | None = None, secrecy: str | None = None, body: bool = False) -> dict[str, str]:
    extra = {"teams": teams} if teams is not None else None
    token = mint(run.workdir, sub=sub, role=role, org=org or DEMO_ORG, secrecy=secrecy, extra=extra)
    h = {"Authorization": f"Bearer {token}", "X-Doelbinding": purpose}
    if body:
        h["Content-Type"] = "application/json"
    return h


def _denied(run: Running, reply: Reply, rule: str) -> dict[str, Any]:
    """A 403 without data whose decision, recorded with the id the client got, names ``rule``."""
    assert reply.status == 403, reply.body
    assert reply.header("content-type") == "application/problem+json"
    problem = reply.json()
    assert set(problem) == {"type", "title", "status", "detail", "decision_id"}
    rec = run.records_of(reply)[-1]
    assert rec["decision"] == "deny" and rule in rec["reasons"], rec["reasons"]
    assert rec["decision_id"] == problem["decision_id"]
    return rec


def _allowed(run: Running, reply: Reply) -> dict[str, Any]:
    assert reply.status == 200, reply.body
    rec = run.records_of(reply)[-1]
    assert rec["decision"] == "allow" and rec["phase"] == "response"
    return rec


def _list_all(run: Running, target: str, headers: dict[str, str]) -> tuple[list[dict[str, Any]], list[Reply]]:
    """Every item a caller gets from a sidecar list, all pages, and the replies (for the records)."""
    items: list[dict[str, Any]] = []
    replies: list[Reply] = []
    nxt: str | None = target
    while nxt:
        reply = run.proxy("GET", nxt, headers)
        assert reply.status == 200, reply.body
        replies.append(reply)
        page = reply.json()
        items.extend(page["results"])
        link = page.get("next")
        nxt = None
        if link:
            parts = urllib.parse.urlsplit(link)
            nxt = parts.path + (f"?{parts.query}" if parts.query else "")
    return items, replies


# ---- objects of a test's own, written straight into the upstream -------------------------------

def _upstream_document(run: Running, zaak_url: str, category: str = "algemeen") -> dict[str, Any]:
    titel = unique("ntk-doc")
    reply = run.upstream("POST", DOCS, document_body(f"{catalogue_base(run)}/informatieobjecttypen/{category}", titel))
    assert reply.status == 201, reply.body
    doc: dict[str, Any] = reply.json()
    link = run.upstream("POST", ZIO, json.dumps({"zaak": zaak_url, "informatieobject": doc["url"]}).encode())
    assert link.status == 201, link.body
    return doc


def _rollen_of(run: Running, zaak_url: str) -> list[dict[str, Any]]:
    return run.upstream_list(f"{ROLLEN}?{urllib.parse.urlencode({'zaak': zaak_url})}")


# ---- N1: detail reads of a zaak, a rol, a document and a coordination dossier ------------------

@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("kind", ["zaak", "rol", "document"])
def test_detail_read_needs_a_relation(request: pytest.FixtureRequest, profile: str, kind: str) -> None:
    """The consulent of the handed-over zaak (bijstand) reads its zaak, rol and general document;
    the same object of a zaak only another team's consulent relates to is denied under N1, and
    that consulent reads it: the difference is the relation, not the object."""
    run: Running = request.getfixturevalue(profile)
    related, unrelated = EXAMPLES["zvh_overdracht"], EXAMPLES["unrelated"]["algemeen"]
    assert related in _seed_zaken_of(sub=USERS["consulent"])
    assert unrelated not in _seed_zaken_of(sub=USERS["consulent"])
    assert unrelated in _seed_zaken_of(sub=USERS["other_consulent"])

    def target(zaak: str) -> str:
        if kind == "zaak":
            return f"{ZAKEN}/{zaak}"
        if kind == "rol":
            return f"{ROLLEN}/{_a_rol_of(run, zaak)}"
        return f"{DOCS}/{_a_document_of(run, zaak, 'algemeen')}"

    mine = run.proxy("GET", target(related), _headers(run, "consulent", HULP, sub=USERS["consulent"]))
    assert "R1" in _allowed(run, mine)["reasons"]
    theirs = run.proxy("GET", target(unrelated), _headers(run, "consulent", HULP, sub=USERS["consulent"]))
    rec = _denied(run, theirs, "N1")
    assert rec["phase"] == "response"
    unrelated_title = run.upstream("GET", target(unrelated)).json().get("titel")
    if unrelated_title:
        assert unrelated_title.encode() not in theirs.body
    other = run.proxy("GET", target(unrelated), _headers(run, "consulent", HULP, sub=USERS["other_consulent"]))
    _allowed(run, other)
    # The default test user relates to nothing at all.
    nobody = run.proxy("GET", target(related), _headers(run, "consulent", HULP, sub=unique("nobody")))
    _denied(run, nobody, "N1")


@pytest.mark.parametrize("profile", PROFILES)
def test_coordination_dossier_follows_the_appointment(request: pytest.FixtureRequest, profile: str) -> None:
    """The coordinator appointed on a dossier zaak reads the zaak and its dossier documents (R5);
    a coordinator appointed elsewhere does not (N1), and vice versa."""
    run: Running = request.getfixturevalue(profile)
    own, foreign = EXAMPLES["coordinator_medewerker"], EXAMPLES["unrelated"]["coordinatiedossier"]
    assert _category_of_zaak(run)[own] == _category_of_zaak(run)[foreign] == "coordinatiedossier"
    for coordinator, readable, not_readable in ((USERS["coordinator"], own, foreign),
                                                (USERS["other_coordinator"], foreign, own)):
        h = _headers(run, "coordinator", "gecoordineerde_aanpak", sub=coordinator)
        for target in (f"{ZAKEN}/{readable}", f"{DOCS}/{_a_document_of(run, readable, 'coordinatiedossier')}"):
            rec = _allowed(run, run.proxy("GET", target, h))
            assert "R5" in rec["reasons"] and rec["recipient"] is None  # its own organisation: no recipient
        for target in (f"{ZAKEN}/{not_readable}", f"{DOCS}/{_a_document_of(run, not_readable, 'coordinatiedossier')}"):
            _denied(run, run.proxy("GET", target, h), "N1")


# ---- teams --------------------------------------------------------------------------------------

@pytest.mark.parametrize("profile", PROFILES)
def test_a_team_in_the_token_relates_its_members(request: pytest.FixtureRequest, profile: str) -> None:
    """jeugd is handled by team-jeugd as a team: any member (the token's ``teams``) reads it, a
    user without the claim or of another team does not."""
    run: Running = request.getfixturevalue(profile)
    team, zaak = REL["teams"]["jeugd"], EXAMPLES["team_only"]
    assert _seed_zaken_of(teams=(team,)) == {zaak}
    doc = _a_document_of(run, zaak, "algemeen")
    member = unique("jeugdwerker")
    for target in (f"{ZAKEN}/{zaak}", f"{DOCS}/{doc}"):
        _allowed(run, run.proxy("GET", target, _headers(run, "consulent", HULP, sub=member, teams=["team-x", team])))
        _denied(run, run.proxy("GET", target, _headers(run, "consulent", HULP, sub=member)), "N1")
        _denied(run, run.proxy("GET", target, _headers(run, "consulent", HULP, sub=member, teams=["team-x"])), "N1")
    # The team relates no member to anything else.
    listed, _ = _list_all(run, ZAKEN, _headers(run, "consulent", HULP, sub=member, teams=[team]))
    assert {uuid_of(z) for z in listed} == {zaak}


# ---- R5: an external coordinator and its own dossier -------------------------------------------

@pytest.mark.parametrize("profile", PROFILES)
def test_external_coordinator_reads_only_its_own_dossier(request: pytest.FixtureRequest, profile: str) -> None:
    run: Running = request.getfixturevalue(profile)
    ext_org, zaak = ORGS["external_coordinator"], EXAMPLES["coordinator_external"]
    assert zaak in _seed_zaken_of(org=ext_org)
    doc = _a_document_of(run, zaak, "coordinatiedossier")
    h = _headers(run, "coordinator", "gecoordineerde_aanpak", sub=unique("regisseur-oost"), org=ext_org)
    for target in (f"{ZAKEN}/{zaak}", f"{DOCS}/{doc}"):
        rec = _allowed(run, run.proxy("GET", target, h))
        # Not an onward disclosure, but recorded with its organisation as recipient (R5).
        assert "R5" in rec["reasons"] and rec["recipient"] == ext_org
        assert not {"O1", "O2", "O3", "O4"} & set(rec["reasons"])
    # The same organisation was not appointed on the municipality's own dossier.
    other = EXAMPLES["coordinator_medewerker"]
    for target in (f"{ZAKEN}/{other}", f"{DOCS}/{_a_document_of(run, other, 'coordinatiedossier')}"):
        _denied(run, run.proxy("GET", target, h), "N1")
    # Another external organisation, and the municipality's coordinator not appointed there.
    for who in (_headers(run, "coordinator", "gecoordineerde_aanpak", sub=unique("regisseur"), org="wijkteam-west"),
                _headers(run, "coordinator", "gecoordineerde_aanpak", sub=USERS["coordinator"])):
        assert zaak not in _seed_zaken_of(sub=USERS["coordinator"])
        _denied(run, run.proxy("GET", f"{DOCS}/{doc}", who), "N1")


# ---- N2: a Zorg- en Veiligheidshuis before and after the handover ------------------------------

@pytest.mark.parametrize("profile", PROFILES)
def test_zvh_sees_a_zaak_only_after_its_coordinator_handed_it_over(request: pytest.FixtureRequest,
                                                                    profile: str) -> None:
    run: Running = request.getfixturevalue(profile)
    zaak = upstream_zaak(run)
    coordinator, consulent, zvh = unique("regisseur"), unique("consulent"), unique("zvh")
    upstream_rol(run, zaak["url"], "zaakcoordinator", medewerker=coordinator)
    upstream_rol(run, zaak["url"], "behandelaar", medewerker=consulent)
    doc = _upstream_document(run, zaak["url"])
    zvh_h = _headers(run, "zvh_medewerker", "zvh_overdracht", sub=unique("zvh-medewerker"), org=zvh)
    for target in (f"{ZAKEN}/{uuid_of(zaak)}", f"{DOCS}/{uuid_of(doc)}"):
        _denied(run, run.proxy("GET", target, zvh_h), "N2")

    handover = rol_body(run, zaak["url"], "zvh_overdracht", org=zvh)
    # Nobody but the zaak's own coordinator hands it over: not its consulent, not a coordinator of
    # another zaak. Nothing reaches the upstream.
    for who, role, purpose in ((consulent, "consulent", HULP), (consulent, "consulent", "gecoordineerde_aanpak"),
                               (USERS["coordinator"], "coordinator", "gecoordineerde_aanpak")):
        mark = run.mark_upstream()
        refused = run.proxy("POST", ROLLEN, _headers(run, role, purpose, sub=who, body=True), handover)
        _denied(run, refused, "N2")
        assert upstream_posts(run, mark) == []
    # A handover rol that names no organisation cannot record its recipient: refused too.
    nameless = rol_body(run, zaak["url"], "zvh_overdracht", medewerker=unique("iemand"))
    _denied(run, run.proxy("POST", ROLLEN, _headers(run, "coordinator", "gecoordineerde_aanpak", sub=coordinator,
                                                    body=True), nameless), "N2")
    assert not any(r["roltype"].endswith("/zvh_overdracht") for r in _rollen_of(run, zaak["url"]))

    done = run.proxy("POST", ROLLEN, _headers(run, "coordinator", "gecoordineerde_aanpak", sub=coordinator, body=True),
                     handover)
    assert done.status == 201, done.body
    rec = run.records_of(done)[-1]
    assert rec["decision"] == "allow" and "N2" in rec["reasons"] and rec["recipient"] == zvh
    assert [r["roltype"].rsplit("/", 1)[1] for r in _rollen_of(run, zaak["url"])].count("zvh_overdracht") == 1

    for target in (f"{ZAKEN}/{uuid_of(zaak)}", f"{DOCS}/{uuid_of(doc)}"):
        rec = _allowed(run, run.proxy("GET", target, zvh_h))
        assert rec["recipient"] == zvh and "O3" in rec["reasons"]
        # Handed over to one house, not to every house.
        other = _headers(run, "zvh_medewerker", "zvh_overdracht", sub=unique("zvh-medewerker"), org=unique("zvh"))
        _denied(run, run.proxy("GET", target, other), "N2")


# ---- N3: the casusoverleg ------------------------------------------------------------------------

@pytest.mark.parametrize("profile", PROFILES)
def test_casusoverleg_participant_sees_only_the_zaken_discussed_with_it(request: pytest.FixtureRequest,
                                                                        profile: str) -> None:
    run: Running = request.getfixturevalue(profile)
    org, discussed, other = ORGS["casusoverleg"], EXAMPLES["casusoverleg"], EXAMPLES["team_only"]
    assert _seed_zaken_of(org=org) == {discussed}
    h = _headers(run, "casusoverleg_deelnemer", "casusoverleg", sub=unique("deelnemer"), org=org)
    for target in (f"{ZAKEN}/{discussed}", f"{DOCS}/{_a_document_of(run, discussed, 'algemeen')}"):
        rec = _allowed(run, run.proxy("GET", target, h))
        assert "C1" in rec["reasons"] and rec["recipient"] == org
    for target in (f"{ZAKEN}/{other}", f"{DOCS}/{_a_document_of(run, other, 'algemeen')}"):
        _denied(run, run.proxy("GET", target, h), "N3")
    # A participant of another organisation has no casusoverleg rol on the discussed zaak.
    stranger = _headers(run, "casusoverleg_deelnemer", "casusoverleg", sub=unique("deelnemer"), org="wijkteam-west")
    _denied(run, run.proxy("GET", f"{ZAKEN}/{discussed}", stranger), "N3")


# ---- lists: exactly the related objects ----------------------------------------------------------

def _subject_links(run: Running, sub: str) -> dict[str, set[str]]:
    """What ``sub`` created or wrote through the sidecar (the label store's own table), by kind."""
    con = sqlite3.connect(f"file:{run.workdir / 'labels.sqlite3'}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT key, kind FROM subject_links WHERE subject = ?", (sub,)).fetchall()
    finally:
        con.close()
    out: dict[str, set[str]] = {}
    for key, kind in rows:
        out.setdefault(kind, set()).add(str(key).rstrip("/").rsplit("/", 1)[-1])
    return out


def _live_relations(run: Running, sub: str, teams: tuple[str, ...]) -> tuple[set[str], set[str]]:
    """The zaken and documents ``sub`` relates to now, read straight from the upstream (and what it
    made through the sidecar): for objects other tests added after the seed."""
    filters = [("betrokkeneIdentificatie__medewerker__identificatie", sub),
               *(("betrokkeneIdentificatie__organisatorischeEenheid__identificatie", t) for t in teams),
               ("betrokkeneIdentificatie__nietNatuurlijkPersoon__annIdentificatie", DEMO_ORG),
               ("betrokkeneIdentificatie__vestiging__vestigingsNummer", DEMO_ORG)]
    zaken: set[str] = set()
    for name, value in filters:
        query = {name: value, "betrokkeneType": _BTYPES[name.split("__")[1]]}
        rollen = run.upstream_list(f"{ROLLEN}?{urllib.parse.urlencode(query)}")
        zaken |= {uuid_of(r["zaak"]) for r in rollen}
    made = _subject_links(run, sub)
    zaken |= made.get("creator", set())
    docs = set(made.get("writer", set()))
    base = f"http://127.0.0.1:{run.stack.ports.upstream}"
    for zaak in zaken:
        links = run.upstream("GET", f"{ZIO}?{urllib.parse.urlencode({'zaak': f'{base}{ZAKEN}/{zaak}'})}").json()
        docs |= {uuid_of(link["informatieobject"]) for link in links}
    return zaken, docs


_BTYPES = {"medewerker": "medewerker", "organisatorischeEenheid": "organisatorische_eenheid",
           "nietNatuurlijkPersoon": "niet_natuurlijk_persoon", "vestiging": "vestiging"}

LIST_CALLERS = [
    # (id, sub, teams)
    ("c.jansen", USERS["consulent"], ()),
    ("b.smit", USERS["other_consulent"], ()),
    ("team-jeugd", "member-of-team-jeugd", (REL["teams"]["jeugd"],)),
]


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize(("sub", "teams"), [c[1:] for c in LIST_CALLERS], ids=[c[0] for c in LIST_CALLERS])
@pytest.mark.parametrize("what", ["documents", "zaken"])
def test_a_list_shows_exactly_the_related_objects(request: pytest.FixtureRequest, profile: str, sub: str,
                                                  teams: tuple[str, ...], what: str) -> None:
    """Of the seeded objects a consulent's list shows exactly those of the zaken the seed relates
    it to (less the categories its role may not read in this profile); anything added later that
    shows up is related too. Each unrelated seeded item has its own deny record naming N1."""
    run: Running = request.getfixturevalue(profile)
    readable = CONSULENT_READS[profile]
    seed_zaken = _seed_zaken_of(sub=sub, teams=teams)
    assert seed_zaken, "the seed relates this caller to some zaak"
    if what == "documents":
        target, cats = DOCS, _category_of_document(run)
        related_seed = _seed_documents_of(seed_zaken)
    else:
        target, cats = ZAKEN, _category_of_zaak(run)
        related_seed = seed_zaken
    expected = {u for u in related_seed if cats[u] in readable}
    assert expected, "something related and readable to compare"

    live_zaken, live_docs = _live_relations(run, sub, teams)
    items, replies = _list_all(run, target, _headers(run, "consulent", HULP, sub=sub, teams=list(teams)))
    shown = {uuid_of(i) for i in items}
    assert shown & set(cats) == expected
    later = shown - set(cats)
    assert later <= (live_docs if what == "documents" else live_zaken), later

    decided = {(r["resource"] or {}).get("id"): r for rep in replies for r in run.records_of(rep)
               if r["phase"] == "response"}
    unrelated = set(cats) - related_seed
    assert unrelated, "the seed holds objects this caller does not relate to"
    for u in unrelated:
        assert decided[u]["decision"] == "deny" and "N1" in decided[u]["reasons"], (u, decided[u]["reasons"])


# ---- a document linked to no zaak ---------------------------------------------------------------

@pytest.mark.parametrize("profile", PROFILES)
def test_a_document_linked_to_no_zaak_is_read_only_by_its_writer(request: pytest.FixtureRequest,
                                                                 profile: str) -> None:
    run: Running = request.getfixturevalue(profile)
    writer = unique("consulent")
    titel = unique("los-document")
    body = document_body(f"{catalogue_base(run)}/informatieobjecttypen/algemeen", titel)
    created = run.proxy("POST", DOCS, _headers(run, "consulent", HULP, sub=writer, body=True), body)
    assert created.status == 201, created.body
    doc = uuid_of(created.json())
    assert run.upstream("GET", f"{ZIO}?informatieobject={created.json()['url']}").json() == []

    mine = run.proxy("GET", f"{DOCS}/{doc}", _headers(run, "consulent", HULP, sub=writer))
    _allowed(run, mine)
    assert mine.json()["titel"] == titel
    for role, sub in (("consulent", USERS["consulent"]), ("medisch_adviseur", USERS["medisch_adviseur"]),
                      ("consulent", unique("consulent"))):
        _denied(run, run.proxy("GET", f"{DOCS}/{doc}", _headers(run, role, HULP, sub=sub)), "N1")
    listed, _ = _list_all(run, DOCS, _headers(run, "consulent", HULP, sub=writer))
    assert {uuid_of(d) for d in listed} == {doc}
    others, _ = _list_all(run, DOCS, _headers(run, "consulent", HULP, sub=USERS["consulent"]))
    assert doc not in {uuid_of(d) for d in others}


# ---- N4: the linking attack --------------------------------------------------------------------

@pytest.mark.parametrize("profile", PROFILES)
def test_linking_a_document_of_an_unrelated_zaak_into_ones_own_is_refused(request: pytest.FixtureRequest,
                                                                          profile: str) -> None:
    run: Running = request.getfixturevalue(profile)
    base = f"http://127.0.0.1:{run.stack.ports.upstream}"
    own = EXAMPLES["zvh_overdracht"]
    foreign_doc = EXAMPLES["unrelated_documenten"]["algemeen"]
    own_doc = _a_document_of(run, own, "algemeen")
    foreign_zaak = EXAMPLES["unrelated"]["algemeen"]
    h = _headers(run, "consulent", HULP, sub=USERS["consulent"], body=True)
    for zaak, doc in ((own, foreign_doc), (foreign_zaak, own_doc)):
        pair = {"zaak": f"{base}{ZAKEN}/{zaak}", "informatieobject": f"{base}{DOCS}/{doc}"}
        mark = run.mark_upstream()
        refused = run.proxy("POST", ZIO, h, json.dumps(pair).encode())
        rec = _denied(run, refused, "N4")
        assert rec["phase"] == "request"
        assert upstream_posts(run, mark) == []
        assert run.upstream("GET", f"{ZIO}?{urllib.parse.urlencode(pair)}").json() == []
    # And the document stays out of the caller's sight.
    _denied(run, run.proxy("GET", f"{DOCS}/{foreign_doc}", _headers(run, "consulent", HULP, sub=USERS["consulent"])),
            "N1")


# ---- the relation cache -------------------------------------------------------------------------

def _caller_cache_hits(run: Running) -> float:
    return run.metric("sidecar_relation_cache_total", cache="caller", result="hit")


def _warm(run: Running, target: str, headers: dict[str, str], status: int, times: int = 6) -> None:
    """Read ``times`` times expecting ``status``: the caller's relations are then cached in the
    workers that answered (the shared stacks run two)."""
    for _ in range(times):
        reply = run.proxy("GET", target, headers)
        assert reply.status == status, reply.body


@pytest.mark.parametrize("profile", PROFILES)
def test_a_rol_created_through_the_sidecar_is_seen_at_once(request: pytest.FixtureRequest, profile: str) -> None:
    run: Running = request.getfixturevalue(profile)
    zaak = upstream_zaak(run)
    lead, newcomer = unique("consulent"), unique("nieuw")
    upstream_rol(run, zaak["url"], "behandelaar", medewerker=lead)
    target, h = f"{ZAKEN}/{uuid_of(zaak)}", _headers(run, "consulent", HULP, sub=newcomer)
    hits = _caller_cache_hits(run)
    _warm(run, target, h, 403)
    assert _caller_cache_hits(run) > hits, "the newcomer's (empty) relations were cached"

    created = run.proxy("POST", ROLLEN, _headers(run, "consulent", HULP, sub=lead, body=True),
                        rol_body(run, zaak["url"], "behandelaar", medewerker=newcomer))
    assert created.status == 201, created.body
    _warm(run, target, h, 200)


@pytest.mark.parametrize("profile", PROFILES)
def test_a_rol_deleted_through_the_sidecar_is_seen_at_once(request: pytest.FixtureRequest, profile: str) -> None:
    run: Running = request.getfixturevalue(profile)
    zaak = upstream_zaak(run)
    lead, member = unique("consulent"), unique("lid")
    upstream_rol(run, zaak["url"], "behandelaar", medewerker=lead)
    rol = upstream_rol(run, zaak["url"], "behandelaar", medewerker=member)
    target, h = f"{ZAKEN}/{uuid_of(zaak)}", _headers(run, "consulent", HULP, sub=member)
    _warm(run, target, h, 200)

    deleted = run.proxy("DELETE", f"{ROLLEN}/{uuid_of(rol)}", _headers(run, "consulent", HULP, sub=lead))
    assert deleted.status == 204, (deleted.body, run.records_of(deleted)[-1]["reasons"])
    assert run.upstream("GET", f"{ROLLEN}/{uuid_of(rol)}").status == 404
    for _ in range(6):
        _denied(run, run.proxy("GET", target, h), "N1")


@pytest.fixture(scope="module")
def short_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One worker (so "cached" means one cache), relations cached for TTL seconds, at most
    MAX_ITEMS items per relation look-up."""
    stack = start_stack(tmp_path_factory.mktemp("ntk-cache"), "knmg", workers=1,
                        config_extra={"relations": {"cache_ttl_seconds": TTL, "max_items": MAX_ITEMS}})
    yield Running(stack)
    stack.stop()


def _read_counting_hits(run: Running, target: str, headers: dict[str, str]) -> tuple[Reply, bool]:
    """A read, and whether it was answered from the caller cache (one worker, one request)."""
    hits = _caller_cache_hits(run)
    reply = run.proxy("GET", target, headers)
    return reply, _caller_cache_hits(run) > hits


def test_a_rol_written_directly_in_the_upstream_is_seen_after_the_ttl(short_cache: Running) -> None:
    run = short_cache
    zaak = upstream_zaak(run)
    user = unique("consulent")
    target, h = f"{ZAKEN}/{uuid_of(zaak)}", _headers(run, "consulent", HULP, sub=user)
    _denied(run, run.proxy("GET", target, h), "N1")  # caches: no relations

    rol = upstream_rol(run, zaak["url"], "behandelaar", medewerker=user)
    stale, cached = _read_counting_hits(run, target, h)
    assert cached, SLOW
    # Within the TTL the cached answer stands: the documented staleness of a direct upstream write.
    _denied(run, stale, "N1")
    time.sleep(TTL + 0.5)
    fresh, cached = _read_counting_hits(run, target, h)
    assert not cached
    _allowed(run, fresh)

    assert run.upstream("DELETE", f"{ROLLEN}/{uuid_of(rol)}").status == 204
    stale, cached = _read_counting_hits(run, target, h)
    assert cached, SLOW
    _allowed(run, stale)
    time.sleep(TTL + 0.5)
    gone, cached = _read_counting_hits(run, target, h)
    assert not cached
    _denied(run, gone, "N1")


def test_a_relation_look_up_over_max_items_fails_closed(short_cache: Running) -> None:
    """More rollen name the caller than relations.max_items: its relations cannot be read whole,
    so nothing is released (502), and the refusal is recorded."""
    run = short_cache
    zaak = upstream_zaak(run)
    user = unique("veel-rollen")
    for _ in range(MAX_ITEMS + 1):
        upstream_rol(run, zaak["url"], "behandelaar", medewerker=user)
    h = _headers(run, "consulent", HULP, sub=user)
    before = run.metric("sidecar_fail_closed_total", cause="relations")
    for target in (f"{ZAKEN}/{uuid_of(zaak)}", ZAKEN, f"{DOCS}/{run.doc_of('algemeen')['url'].rsplit('/', 1)[1]}"):
        reply = run.proxy("GET", target, h)
        assert reply.status == 502, (target, reply.status, reply.body)
        assert reply.header("content-type") == "application/problem+json"
        assert zaak["identificatie"].encode() not in reply.body and b"results" not in reply.body
        rec = run.records_of(reply)[-1]
        assert rec["decision"] == "deny" and rec["status"] == 502 and "RELATIONS" in rec["reasons"]
        assert reply.json()["decision_id"] == rec["decision_id"]
    assert run.metric("sidecar_fail_closed_total", cause="relations") - before == 3
    # A caller within the limit is served as before.
    _allowed(run, run.proxy("GET", f"{ZAKEN}/{EXAMPLES['zvh_overdracht']}",
                            _headers(run, "consulent", HULP, sub=USERS["consulent"])))


# ---- sidecar explain --relation ----------------------------------------------------------------

def _explain(run: Running, *args: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "sidecar", "explain", "--workdir", str(run.workdir),
                          "--opa-url", f"http://127.0.0.1:{run.stack.ports.opa}", *args],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    doc: dict[str, Any] = json.loads(out.stdout)
    return doc


@pytest.mark.parametrize("profile", PROFILES)
def test_explain_puts_the_relation_in_the_input(request: pytest.FixtureRequest, profile: str) -> None:
    run: Running = request.getfixturevalue(profile)
    zaak = EXAMPLES["zvh_overdracht"]
    common = ["--method", "GET", "--path", f"{ZAKEN}/{zaak}", "--role", "consulent", "--sub", USERS["consulent"],
              "--header", f"X-Doelbinding: {HULP}", "--category", "algemeen"]
    for relation, allow in (({"kinds": ["behandelaar"], "zaken": [zaak], "writer": False}, True),
                            ({"kinds": [], "zaken": [], "writer": False}, False)):
        out = _explain(run, *common, "--relation", json.dumps(relation))
        response = next(p for p in out["phases"] if p["phase"] == "response")
        assert response["input"]["resource"]["properties"]["relation"] == relation
        assert response["input"]["context"]["profile"] == profile
        assert response["decision"]["decision"] is allow
        assert ("N1" in response["decision"]["reasons"]) is not allow
