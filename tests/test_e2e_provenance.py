"""Provenance that sticks: ingest grounds, sticky conditions, onward disclosure, data-subject access.

Everything goes over HTTP through the running sidecar (real OPA, demo upstream), under both profiles.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sidecar.routes import DEFAULT_ROUTES
from tests.helpers import (
    DEFAULT_SUBJECT,
    DOCS,
    HULP,
    PROVIDER_ORG,
    ROLLEN,
    SEED,
    ZAKEN,
    ZVH_ORG,
    Running,
    ingest,
    link_document,
    start_stack,
    uuid_of,
    zaak_of,
    zaken_of,
)

CVP6 = "toestemming_gevraagd ernstige_schade gewetensnood geen_andere_weg schade_voorkomen minimale_doorbreking"
CVP5 = "toestemming_gevraagd ernstige_schade gewetensnood geen_andere_weg schade_voorkomen"


GROUNDS = [
    # (name, herkomst, secrecy, category, wetsvoorstel status, knmg status, rule)
    # Consent names the data subject (I2); 111222333 passes the elfproef.
    ("consent", 'grondslag=toestemming, toestemming="TS-2026-0042", betrokkene="111222333"', "wettelijk", "medisch",
     201, 201, "I2"),
    ("lid1", "grondslag=lid1", "geen", "algemeen", 201, 201, "I1"),
    ("lid2 a b c", 'grondslag=lid2, lid2=(a b c), motivering="zorgen"', "wettelijk", "medisch", 201, 403, "I3"),
    ("lid2 b c", 'grondslag=lid2, lid2=(b c), motivering="zorgen"', "wettelijk", "medisch", 403, 403, "I4"),
    ("cvp six", f'grondslag=conflict_van_plichten, cvp=({CVP6}), motivering="acuut gevaar"', "wettelijk",
     "medisch", 201, 201, "I6"),
    ("cvp five", f'grondslag=conflict_van_plichten, cvp=({CVP5}), motivering="acuut gevaar"', "wettelijk",
     "medisch", 403, 403, "I7"),
    ("beroepscode lid1", "grondslag=lid1", "beroepscode", "medisch", 201, 403, "I8"),
    ("none", None, "wettelijk", "medisch", 400, 400, "I9"),
]


@pytest.mark.parametrize("profile", ["wetsvoorstel", "knmg"])
@pytest.mark.parametrize(("name", "herkomst", "secrecy", "category", "st_w", "st_k", "rule"), GROUNDS,
                         ids=[g[0] for g in GROUNDS])
def test_ingest_grounds(request: pytest.FixtureRequest, profile: str, name: str, herkomst: str | None,
                        secrecy: str, category: str, st_w: int, st_k: int, rule: str) -> None:
    run: Running = request.getfixturevalue(profile)
    expected = st_w if profile == "wetsvoorstel" else st_k
    reply, titel = ingest(run, herkomst, secrecy=secrecy, category=category)
    assert reply.status == expected, reply.body
    assert (titel in run.document_titles()) == (expected == 201)
    rec = run.records_of(reply)[-1]
    assert rule in rec["reasons"]
    assert rec["policy"]["profile"] == profile
    if expected == 201:
        created = run.upstream("GET", f"{DOCS}/{uuid_of(reply.json())}").json()
        assert "TS-2026" not in json.dumps(created)  # labels never go upstream
    else:
        assert reply.header("content-type") == "application/problem+json"


# Need-to-know: an ingested document is linked by its sender to the zaak the sender relates to
# (the provider's: medisch-wmo), and from there by a related medical adviser to the zaak handed
# over to the ZVH (bijstand), so that what a ZVH is refused is refused for the data, not for N2.
PROVIDER_ZAAK = zaak_of(PROVIDER_ORG)
HANDED_OVER = SEED["examples"]["zvh_overdracht"]


def _also_in(run: Running, reply: Any, zaak: str) -> None:
    link = link_document(run, reply.json()["url"], zaak, run.headers("medisch_adviseur", HULP))
    assert link.status == 201, link.body


def test_break_glass_ingest_carries_review_and_sticky_no_onward_disclosure(knmg: Running) -> None:
    before = knmg.metric("sidecar_break_glass_total")
    reply, _ = ingest(knmg, f'grondslag=conflict_van_plichten, cvp=({CVP6}), motivering="acuut gevaar"',
                      category="algemeen", link_to=PROVIDER_ZAAK)
    assert reply.status == 201
    rec = knmg.records_of(reply)[-1]
    assert {o["type"] for o in rec["obligations"]} >= {"review_by_fg"}
    assert knmg.metric("sidecar_break_glass_total") - before == 1
    _also_in(knmg, reply, HANDED_OVER)
    # Even general data sent under break-glass may not go on to a ZVH (implicit condition).
    r = knmg.proxy("GET", f"{DOCS}/{uuid_of(reply.json())}",
                   knmg.headers("zvh_medewerker", "zvh_overdracht", org=ZVH_ORG))
    assert r.status == 403
    assert "O1" in knmg.records_of(r)[-1]["reasons"]


@pytest.mark.parametrize("profile", ["wetsvoorstel", "knmg"])
def test_labelled_document_by_adviser_consulent_and_zvh(request: pytest.FixtureRequest, profile: str) -> None:
    run: Running = request.getfixturevalue(profile)
    reply, titel = ingest(run, 'grondslag=toestemming, toestemming="TS-9", betrokkene="111222333", '
                               'voorwaarden=(geen_verdere_verstrekking)', link_to=PROVIDER_ZAAK)
    assert reply.status == 201
    _also_in(run, reply, HANDED_OVER)
    path = f"{DOCS}/{uuid_of(reply.json())}"
    adviser = run.proxy("GET", path, run.headers("medisch_adviseur", HULP))
    assert adviser.status == 200 and adviser.json()["titel"] == titel
    consulent = run.proxy("GET", path, run.headers("consulent", HULP))
    assert consulent.status == (200 if profile == "wetsvoorstel" else 403)  # R2
    zvh = run.proxy("GET", path, run.headers("zvh_medewerker", "zvh_overdracht", org=ZVH_ORG))
    assert zvh.status == 403  # O1: the provider forbade onward disclosure, in both profiles
    # knmg (toestemming_doelgebonden): the consent was given for HULP, so I2 already denies in the
    # request phase, before the response phase would add O1.
    assert ("O1" if profile == "wetsvoorstel" else "I2") in run.records_of(zvh)[-1]["reasons"]
    download = run.proxy("GET", f"{path}/download", run.headers("zvh_medewerker", "zvh_overdracht", org=ZVH_ORG))
    assert download.status == 403


@pytest.mark.parametrize("profile", ["wetsvoorstel", "knmg"])
def test_onward_disclosure_records_the_recipient(request: pytest.FixtureRequest, profile: str) -> None:
    run: Running = request.getfixturevalue(profile)
    doc = run.doc_of("algemeen")  # not sent in by a provider: O3 allows it to a ZVH
    r = run.proxy("GET", f"{DOCS}/{uuid_of(doc)}",
                  run.headers("zvh_medewerker", "zvh_overdracht", org=ZVH_ORG))
    assert r.status == 200
    rec = run.records_of(r)[-1]
    assert rec["recipient"] == ZVH_ORG and "O3" in rec["reasons"]


def test_sticky_condition_filters_lists(knmg: Running) -> None:
    reply, titel = ingest(knmg, 'grondslag=lid1, voorwaarden=(alleen_medisch_adviseur)', secrecy="geen",
                          category="algemeen", link_to=PROVIDER_ZAAK)
    assert reply.status == 201
    as_consulent = knmg.proxy("GET", DOCS, knmg.headers("consulent", HULP)).json()
    assert titel not in {d["titel"] for d in as_consulent["results"]}
    as_adviser = knmg.proxy("GET", DOCS, knmg.headers("medisch_adviseur", HULP)).json()
    assert titel in {d["titel"] for d in as_adviser["results"]}


def _query(run: Running, bsn: str, *extra: str) -> list[dict[str, Any]]:
    out = subprocess.run([sys.executable, "-m", "sidecar", "records", "query", "--betrokkene", bsn,
                          "--workdir", str(run.workdir), *extra], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def random_bsn() -> str:
    """A fresh BSN that passes the elfproef, so no other test's records can match it."""
    import random

    while True:
        digits = [random.randint(0, 9) for _ in range(8)]  # noqa: S311 (test data)
        last = sum(d * w for d, w in zip(digits, range(9, 1, -1), strict=True)) % 11
        if last < 10 and digits[0] != 0:
            return "".join(map(str, digits)) + str(last)


def test_records_query_finds_exactly_that_person(knmg: Running) -> None:
    person, other = random_bsn(), random_bsn()
    mine, _ = ingest(knmg, f'grondslag=toestemming, toestemming="TS-1", betrokkene="{person}"',
                     link_to=PROVIDER_ZAAK)
    theirs, _ = ingest(knmg, f'grondslag=toestemming, toestemming="TS-2", betrokkene="{other}"')
    assert mine.status == theirs.status == 201
    read = knmg.proxy("GET", f"{DOCS}/{uuid_of(mine.json())}", knmg.headers("medisch_adviseur", HULP))
    assert read.status == 200
    raw = (knmg.workdir / "records.jsonl").read_text()
    assert person not in raw and other not in raw  # only keyed pseudonyms are written

    rows = _query(knmg, person)
    assert len(rows) == 2  # the ingest and the read (its request and response phase merged)
    assert [r["action"] for r in rows] == ["create", "read"]
    assert all(r["decision"] == "allow" for r in rows)
    assert all("subject" not in r for r in rows)  # no employee identities for the data subject
    assert {r["purpose"] for r in rows} == {HULP}
    assert {r["category"] for r in rows} == {"medisch"}
    assert any(r["grondslag"] == "toestemming" for r in rows)

    # The query itself is recorded (L2), and the FG's query shows employees (L1).
    assert knmg.records()[-1]["reasons"] == ["L2"]
    fg_rows = _query(knmg, person, "--met-medewerkers", "--door", "fg-1")
    assert any(r.get("subject") and r["subject"]["role"] == "medisch_adviseur" for r in fg_rows)
    assert knmg.records()[-1]["reasons"] == ["L1"] and knmg.records()[-1]["subject"]["id"] == "fg-1"
    assert _query(knmg, "123456782") == []  # nobody: empty result, exit 0


def test_shadow_mode_lets_through_but_records_the_deny(tmp_path: Path) -> None:
    routes = [r.model_dump() for r in DEFAULT_ROUTES]
    for route in routes:
        if route["name"] == "document_read":
            route["enforce"] = False
    stack = start_stack(tmp_path / "shadow", "knmg", workers=1, config_extra={"routes": routes})
    run = Running(stack)
    try:
        doc = run.doc_of("medisch")
        before = run.metric("sidecar_shadow_decisions_total", action="read", category="medisch")
        r = run.proxy("GET", f"{DOCS}/{uuid_of(doc)}", run.headers("consulent", HULP))
        assert r.status == 200  # shadow: not enforced
        rec = run.records_of(r)[-1]
        assert rec["decision"] == "deny" and rec["enforced"] is False
        assert run.metric("sidecar_shadow_decisions_total", action="read", category="medisch") - before == 1
        # Other routes are still enforced.
        listed = run.proxy("GET", DOCS, run.headers("consulent", HULP)).json()
        assert all(not d["informatieobjecttype"].endswith("/medisch") for d in listed["results"])
    finally:
        stack.stop()


def test_reading_a_zaak_records_its_data_subjects(knmg: Running) -> None:
    """The BSNs in a zaak's rollen become keyed pseudonyms in the records: one line per person."""
    from sidecar.records import pseudonymise

    rollen = knmg.upstream("GET", ROLLEN).json()["results"]
    by_zaak: dict[str, set[str]] = {}
    for rol in rollen:
        bsn = (rol.get("betrokkeneIdentificatie") or {}).get("inpBsn")
        if bsn:
            by_zaak.setdefault(uuid_of(rol["zaak"]), set()).add(bsn)
    # A zaak the consulent relates to (need-to-know).
    mine = zaken_of(DEFAULT_SUBJECT["consulent"]["sub"])
    zaak_id, bsns = next((z, b) for z, b in by_zaak.items() if z in mine)
    r = knmg.proxy("GET", f"{ZAKEN}/{zaak_id}", knmg.headers("consulent", HULP))
    assert r.status == 200
    recs = [x for x in knmg.records_of(r) if x["phase"] == "response"]
    key = (knmg.workdir / "keys" / "pseudonym.key").read_bytes().strip()
    assert {x["betrokkene"] for x in recs} == {pseudonymise(key, b) for b in bsns}
    assert len({x["decision_id"] for x in recs}) == 1  # one decision, one line per data subject
