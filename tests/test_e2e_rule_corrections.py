"""The legal review's rule corrections, end to end: one test (or one group) per finding.

Real OPA, the demo upstream and the sidecar over HTTP; where the profiles differ, both. Each
test builds a zaak of its own in the upstream with senders, readers and organisations no other
test uses, so that what it sends in and links stays out of the other tests' way and the readers
relate to exactly what the test gives them (need-to-know).

The findings: (1) "sent in by a provider" is any writer that is not a college role of a
controlling organisation; (2) every ingest proves its ground, the mayor's included, and a
conflict of duties always needs six conditions and goes to the FG; (3) the sender's judgement
(lid2, cvp, motivering) is kept and recorded, and motivering is required; (4) lid1/lid2 only for
the purposes of ``lid_grond_doelen``; (5) what a secrecy holder sent is gated like medisch
(``geheimhouder_data_medisch``); (6) consent names its data subject, is purpose-bound, and can be
withdrawn (I10); (7) ``sidecar serve`` refuses a config without a coordinator roltype; (8) L1
only for the FG of a controlling organisation.
"""

from __future__ import annotations

import base64
import json
import random
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from sidecar.auth import Identity
from sidecar.call import Call
from sidecar.devtools.keys import DEMO_ORG
from sidecar.opa_input import InputBuilder, resource
from sidecar.records import pseudonymise
from sidecar.routes import RouteSpec
from sidecar.tracing import from_header
from tests.helpers import (
    DOCS,
    HULP,
    ZIO,
    Reply,
    Running,
    catalogue_base,
    document_body,
    unique,
    upstream_posts,
    upstream_rol,
    upstream_zaak,
    uuid_of,
)

PROFILES = ["knmg", "wetsvoorstel"]
CVP6 = "toestemming_gevraagd ernstige_schade gewetensnood geen_andere_weg schade_voorkomen minimale_doorbreking"
CVP5 = "toestemming_gevraagd ernstige_schade gewetensnood geen_andere_weg schade_voorkomen"
COORDINATIE = "gecoordineerde_aanpak"


def _bsn() -> str:
    """A BSN that passes the elfproef and that no other test uses (so its records are this test's)."""
    while True:
        digits = [random.randint(1, 9)] + [random.randint(0, 9) for _ in range(7)]  # noqa: S311 (test data)
        last = sum(d * w for d, w in zip(digits, range(9, 1, -1), strict=True)) % 11
        if last < 10:
            return "".join(map(str, digits)) + str(last)


@dataclass
class Case:
    """A zaak of the test's own and everyone related to it: a provider, a casusoverleg
    participant's organisation, the mayor's office and a ZVH by organisation; a consulent, a
    medical adviser and a coordinator by ``sub``."""

    run: Running
    zaak: dict[str, Any]
    provider: str
    participant: str
    mayor: str
    zvh: str
    consulent: str
    adviser: str
    coordinator: str

    @property
    def url(self) -> str:
        return str(self.zaak["url"])

    def headers(self, role: str, purpose: str, *, sub: str | None = None, org: str | None = None,
                secrecy: str | None = None, herkomst: str | None = None) -> dict[str, str]:
        """A request as ``role``; the ``sub`` is the case's user of that role unless given (the
        organisations' employees get a ``sub`` of their own)."""
        own = {"consulent": self.consulent, "medisch_adviseur": self.adviser, "coordinator": self.coordinator}
        h = self.run.headers(role, purpose, sub=sub or own.get(role) or unique(role), org=org or DEMO_ORG,
                             secrecy=secrecy)
        h["Content-Type"] = "application/json"
        if herkomst is not None:
            h["X-Herkomst"] = herkomst
        return h

    def send(self, headers: dict[str, str], category: str, titel: str | None = None) -> Reply:
        """Create a document through the sidecar as the caller of ``headers``."""
        body = document_body(f"{catalogue_base(self.run)}/informatieobjecttypen/{category}",
                             titel or unique("correctie"), inhoud=base64.b64encode(b"inhoud").decode())
        return self.run.proxy("POST", DOCS, headers, body)

    def link(self, headers: dict[str, str], document: Reply) -> None:
        """The sender links what it sent to the case (N4: a sender links what it wrote itself)."""
        h = {k: v for k, v in headers.items() if k != "X-Herkomst"}
        body = json.dumps({"zaak": self.url, "informatieobject": document.json()["url"]}).encode()
        linked = self.run.proxy("POST", ZIO, h, body)
        assert linked.status == 201, linked.body

    def send_and_link(self, headers: dict[str, str], category: str) -> Reply:
        sent = self.send(headers, category)
        assert sent.status == 201, (sent.body, self.run.records_of(sent)[-1]["reasons"])
        self.link(headers, sent)
        return sent

    def read(self, role: str, purpose: str, document: Reply, **who: str) -> Reply:
        return self.run.proxy("GET", f"{DOCS}/{uuid_of(document.json())}",
                              {k: v for k, v in self.headers(role, purpose, **who).items() if k != "Content-Type"})


def _case(run: Running, category: str = "algemeen") -> Case:
    zaak = upstream_zaak(run, category)
    # Organisation names stay within annIdentificatie's 17 characters.
    case = Case(run, zaak, provider=unique("arts"), participant=unique("wijk"), mayor=unique("bgm"),
                zvh=unique("zvh"), consulent=unique("consulent"), adviser=unique("adviseur"),
                coordinator=unique("regisseur"))
    for roltype, who in (("behandelaar", {"org": case.provider}), ("casusoverleg", {"org": case.participant}),
                         ("behandelaar", {"org": case.mayor}), ("zvh_overdracht", {"org": case.zvh}),
                         ("behandelaar", {"medewerker": case.consulent}),
                         ("medisch_adviseur", {"medewerker": case.adviser}),
                         ("zaakcoordinator", {"medewerker": case.coordinator})):
        upstream_rol(run, case.url, roltype, **who)
    return case


def _labels(run: Running, document: Reply) -> dict[str, Any]:
    """The labels the sidecar stored for a document (its SQLite label store, read-only)."""
    key = urllib.parse.urlsplit(document.json()["url"]).path
    con = sqlite3.connect(f"file:{run.workdir / 'labels.sqlite3'}?mode=ro", uri=True)
    try:
        row = con.execute("SELECT labels FROM labels WHERE key = ?", (key,)).fetchone()
    finally:
        con.close()
    assert row is not None, f"no labels stored for {key}"
    labels: dict[str, Any] = json.loads(row[0])
    return labels


def _decision(run: Running, reply: Reply) -> dict[str, Any]:
    return run.records_of(reply)[-1]


def _refused(run: Running, reply: Reply, rule: str, status: int = 403) -> dict[str, Any]:
    assert reply.status == status, reply.body
    assert reply.header("content-type") == "application/problem+json"
    rec = _decision(run, reply)
    assert rec["decision"] == "deny" and rule in rec["reasons"], rec["reasons"]
    assert rec["decision_id"] == reply.json()["decision_id"]
    return rec


def _list_decisions(run: Running, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The per-item decisions of a documents list (all pages), by document uuid."""
    out: dict[str, dict[str, Any]] = {}
    target: str | None = DOCS
    h = {k: v for k, v in headers.items() if k != "Content-Type"}
    while target:
        page = run.proxy("GET", target, h)
        assert page.status == 200, page.body
        for rec in run.records_of(page):
            if rec["phase"] == "response" and (rec["resource"] or {}).get("id"):
                out[rec["resource"]["id"]] = rec
        link = page.json().get("next")
        target = None
        if link:
            parts = urllib.parse.urlsplit(link)
            target = f"{parts.path}?{parts.query}"
    return out


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sidecar", *args], capture_output=True, text=True, timeout=120)


# ---- (1) provider data: anyone not a college role of a controlling organisation ------------------

@pytest.mark.parametrize("profile", PROFILES)
def test_participant_and_mayor_data_is_provider_data(request: pytest.FixtureRequest, profile: str) -> None:
    """What a casusoverleg participant (with or without secrecy) and the mayor's office send in
    is "sent in by a provider": under knmg (standaard_geen_verdere_verstrekking) O1 keeps it from
    the ZVH the zaak was handed over to; under the bill it goes there. The college's own document
    on the same zaak goes to the ZVH in both profiles: the difference is who sent it."""
    run: Running = request.getfixturevalue(profile)
    case = _case(run)
    sent = {
        "participant with secrecy": case.send_and_link(case.headers(
            "casusoverleg_deelnemer", "casusoverleg", org=case.participant, secrecy="wettelijk",
            herkomst=f'grondslag=toestemming, toestemming="{unique("TS")}", betrokkene="{_bsn()}"'), "algemeen"),
        "participant without secrecy": case.send_and_link(case.headers(
            "casusoverleg_deelnemer", "casusoverleg", org=case.participant, secrecy="geen",
            herkomst="grondslag=lid1"), "algemeen"),
        "mayor": case.send_and_link(case.headers(
            "burgemeester_wvggz", HULP, org=case.mayor, herkomst="grondslag=lid1"), "wvggz_wzd"),
    }
    for who, doc in sent.items():
        labels = _labels(run, doc)
        assert labels["provider_sent"] is True and labels["source_controlling_org"] is False, who
    college = case.send_and_link(case.headers("consulent", HULP), "algemeen")

    zvh = case.headers("zvh_medewerker", "zvh_overdracht", org=case.zvh)
    decided = _list_decisions(run, zvh)
    for who, doc in sent.items():
        rec = decided[uuid_of(doc.json())]
        if profile == "knmg":
            assert rec["decision"] == "deny" and "O1" in rec["reasons"], (who, rec["reasons"])
        else:
            assert rec["decision"] == "allow" and rec["recipient"] == case.zvh, (who, rec["reasons"])
    rec = decided[uuid_of(college.json())]
    assert rec["decision"] == "allow" and "O3" in rec["reasons"] and rec["recipient"] == case.zvh
    # The detail read is decided the same way (the participant's lid1 document: no consent purpose in the way).
    detail = case.read("zvh_medewerker", "zvh_overdracht", sent["participant without secrecy"], org=case.zvh)
    if profile == "knmg":
        _refused(run, detail, "O1")
    else:
        assert detail.status == 200 and _decision(run, detail)["recipient"] == case.zvh


# ---- (2) the mayor's ingest proves its ground; a conflict of duties needs six conditions --------

@pytest.mark.parametrize("profile", PROFILES)
def test_mayor_ingest_needs_a_ground_and_six_conditions(request: pytest.FixtureRequest, profile: str) -> None:
    run: Running = request.getfixturevalue(profile)
    case = _case(run)

    def mayor(herkomst: str, purpose: str = HULP) -> dict[str, str]:
        return case.headers("burgemeester_wvggz", purpose, org=case.mayor, herkomst=herkomst)

    for herkomst in ('grondslag=conflict_van_plichten, motivering="acuut gevaar"',
                     f'grondslag=conflict_van_plichten, cvp=({CVP5}), motivering="acuut gevaar"'):
        mark = run.mark_upstream()
        _refused(run, case.send(mayor(herkomst), "wvggz_wzd"), "I7")
        assert upstream_posts(run, mark) == []

    breakglass = case.send(mayor(f'grondslag=conflict_van_plichten, cvp=({CVP6}), motivering="acuut gevaar"'),
                           "wvggz_wzd")
    assert breakglass.status == 201, breakglass.body
    rec = _decision(run, breakglass)
    assert {"I6", "W1"} <= set(rec["reasons"])
    assert {"review_by_fg", "highest_record_level"} <= {o["type"] for o in rec["obligations"]}
    labels = _labels(run, breakglass)
    assert labels["review_by_fg"] is True and labels["review_status"] == "open"
    assert "geen_verdere_verstrekking" in labels["voorwaarden"]

    # The mayor also sends for the investigation, on the ground of lid 1 (W1 with I1).
    investigation = case.send(mayor("grondslag=lid1"), "wvggz_wzd")
    assert investigation.status == 201, investigation.body
    assert {"I1", "W1"} <= set(_decision(run, investigation)["reasons"])


# ---- (3) the sender's judgement is kept, and motivering is required ------------------------------

@pytest.mark.parametrize("profile", PROFILES)
def test_judgement_is_kept_in_the_labels_and_the_ingest_record(request: pytest.FixtureRequest,
                                                               profile: str) -> None:
    run: Running = request.getfixturevalue(profile)
    case = _case(run)
    bsn = _bsn()
    cvp = case.send(case.headers("aanbieder", HULP, org=case.provider, secrecy="wettelijk", herkomst=(
        f'grondslag=conflict_van_plichten, cvp=({CVP6}), motivering="kind in gevaar", betrokkene="{bsn}"')),
        "medisch")
    assert cvp.status == 201, cvp.body
    labels = _labels(run, cvp)
    assert labels["grondslag"] == "conflict_van_plichten" and labels["cvp"] == CVP6.split()
    assert labels["motivering"] == "kind in gevaar" and labels["lid2"] is None
    assert labels["source_secrecy"] == "wettelijk" and labels["purpose"] == HULP
    herkomst = _decision(run, cvp)["herkomst"]
    assert herkomst["grondslag"] == "conflict_van_plichten" and herkomst["cvp"] == CVP6.split()
    assert herkomst["motivering"] == "kind in gevaar"
    assert bsn not in json.dumps(run.records_of(cvp))  # the data subject only as a pseudonym

    lid2 = case.send(case.headers("aanbieder", HULP, org=case.provider, secrecy="wettelijk",
                                  herkomst='grondslag=lid2, lid2=(a b c), motivering="zorgen om het gezin"'),
                     "medisch")
    rec = _decision(run, lid2)
    # The judgement is in the record whether or not the profile accepts the ground (knmg: I3 denies).
    assert rec["herkomst"]["lid2"] == ["a", "b", "c"] and rec["herkomst"]["motivering"] == "zorgen om het gezin"
    if profile == "knmg":
        _refused(run, lid2, "I3")
    else:
        assert lid2.status == 201, lid2.body
        labels = _labels(run, lid2)
        assert labels["lid2"] == ["a", "b", "c"] and labels["motivering"] == "zorgen om het gezin"


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("herkomst", ["grondslag=lid2, lid2=(a b c)", f"grondslag=conflict_van_plichten, cvp=({CVP6})"],
                         ids=["lid2", "conflict_van_plichten"])
def test_motivering_missing_is_400_naming_it(request: pytest.FixtureRequest, profile: str, herkomst: str) -> None:
    run: Running = request.getfixturevalue(profile)
    case = _case(run)
    titel = unique("zonder-motivering")
    mark = run.mark_upstream()
    reply = case.send(case.headers("aanbieder", HULP, org=case.provider, secrecy="wettelijk", herkomst=herkomst),
                      "medisch", titel)
    rec = _refused(run, reply, "I9", status=400)
    assert "motivering" in reply.json()["detail"]
    assert rec["status"] == 400 and rec["action"] == "create"  # the attempt is recorded
    assert upstream_posts(run, mark) == []
    assert titel not in run.document_titles()


# ---- (4) lid 1 only for the purposes of lid_grond_doelen ----------------------------------------

@pytest.mark.parametrize("profile", PROFILES)
def test_lid1_is_no_ground_for_the_coordinated_approach(request: pytest.FixtureRequest, profile: str) -> None:
    run: Running = request.getfixturevalue(profile)
    case = _case(run)

    def provider(purpose: str) -> dict[str, str]:
        return case.headers("aanbieder", purpose, org=case.provider, secrecy="geen", herkomst="grondslag=lid1")

    mark = run.mark_upstream()
    _refused(run, case.send(provider(COORDINATIE), "algemeen"), "I5")
    assert upstream_posts(run, mark) == []
    for purpose in (HULP, "casusoverleg"):
        allowed = case.send(provider(purpose), "algemeen")
        assert allowed.status == 201, (purpose, allowed.body)
        assert "I1" in _decision(run, allowed)["reasons"]


# ---- (5) what a secrecy holder sent is gated like medisch ---------------------------------------

@pytest.mark.parametrize("profile", PROFILES)
def test_general_data_from_a_secrecy_holder_is_gated_like_medisch(request: pytest.FixtureRequest,
                                                                  profile: str) -> None:
    run: Running = request.getfixturevalue(profile)
    case = _case(run)
    holder = case.send_and_link(case.headers(
        "aanbieder", HULP, org=case.provider, secrecy="wettelijk",
        herkomst=f'grondslag=toestemming, toestemming="{unique("TS")}", betrokkene="{_bsn()}"'), "algemeen")
    plain = case.send_and_link(case.headers("aanbieder", HULP, org=case.provider, secrecy="geen",
                                            herkomst="grondslag=lid1"), "algemeen")

    consulent = case.read("consulent", HULP, holder)
    if profile == "knmg":
        _refused(run, consulent, "R2")
    else:
        assert consulent.status == 200 and "R1" in _decision(run, consulent)["reasons"]
    adviser = case.read("medisch_adviseur", HULP, holder)
    assert adviser.status == 200, adviser.body
    assert ("R3" if profile == "knmg" else "R1") in _decision(run, adviser)["reasons"]
    # The same category from a sender without secrecy is general data for the consulent.
    ordinary = case.read("consulent", HULP, plain)
    assert ordinary.status == 200 and "R1" in _decision(run, ordinary)["reasons"]


# ---- (6) consent: its data subject, its purpose, its withdrawal ---------------------------------

@pytest.mark.parametrize("profile", PROFILES)
def test_consent_without_its_data_subject_is_400(request: pytest.FixtureRequest, profile: str) -> None:
    run: Running = request.getfixturevalue(profile)
    case = _case(run)
    titel = unique("toestemming-zonder-betrokkene")
    mark = run.mark_upstream()
    reply = case.send(case.headers("aanbieder", HULP, org=case.provider, secrecy="wettelijk",
                                   herkomst=f'grondslag=toestemming, toestemming="{unique("TS")}"'),
                      "medisch", titel)
    _refused(run, reply, "I9", status=400)
    assert "betrokkene" in reply.json()["detail"]
    assert upstream_posts(run, mark) == []
    assert titel not in run.document_titles()


@pytest.mark.parametrize("profile", PROFILES)
def test_consent_data_is_used_only_for_its_purpose(request: pytest.FixtureRequest, profile: str) -> None:
    run: Running = request.getfixturevalue(profile)
    case = _case(run)
    doc = case.send_and_link(case.headers(
        "aanbieder", HULP, org=case.provider, secrecy="wettelijk",
        herkomst=f'grondslag=toestemming, toestemming="{unique("TS")}", betrokkene="{_bsn()}"'), "medisch")
    assert _labels(run, doc)["purpose"] == HULP
    same = case.read("medisch_adviseur", HULP, doc)
    assert same.status == 200, same.body
    other = case.read("medisch_adviseur", COORDINATIE, doc)
    if profile == "knmg":
        _refused(run, other, "I2")
    else:
        assert other.status == 200, other.body


@pytest.mark.parametrize("profile", PROFILES)
def test_withdrawn_consent_releases_nothing_but_to_the_fg(request: pytest.FixtureRequest, profile: str) -> None:
    """`sidecar consent revoke` marks every label of the consent withdrawn: the medical adviser's
    document and the coordinator's dossier document given under it are read by nobody any more
    (I10), except the FG for verantwoording; withdrawing twice is harmless, an unknown reference
    exits 2, and every withdrawal is recorded per data subject."""
    run: Running = request.getfixturevalue(profile)
    case = _case(run)
    ref, bsn = unique("TS"), _bsn()
    herkomst = f'grondslag=toestemming, toestemming="{ref}", betrokkene="{bsn}"'
    medical = case.send_and_link(case.headers("aanbieder", HULP, org=case.provider, secrecy="wettelijk",
                                              herkomst=herkomst), "medisch")
    dossier = case.send(case.headers("coordinator", COORDINATIE, herkomst=herkomst), "coordinatiedossier")
    assert dossier.status == 201, dossier.body
    readers = [("medisch_adviseur", HULP, medical), ("coordinator", COORDINATIE, dossier)]
    for role, purpose, doc in readers:
        assert case.read(role, purpose, doc).status == 200, role
    fg = {"sub": unique("fg")}
    assert case.read("fg", "verantwoording", dossier, **fg).status == 200

    done = _cli("consent", "revoke", "--toestemming", ref, "--door", "loket-1", "--workdir", str(run.workdir))
    assert done.returncode == 0, done.stderr
    assert "2 object(s)" in done.stdout
    assert _labels(run, medical)["toestemming_ingetrokken"] is True
    for role, purpose, doc in readers:
        _refused(run, case.read(role, purpose, doc), "I10")
    listed = _list_decisions(run, case.headers("medisch_adviseur", HULP))
    assert listed[uuid_of(medical.json())]["decision"] == "deny" and "I10" in listed[uuid_of(medical.json())]["reasons"]
    accountable = case.read("fg", "verantwoording", dossier, **fg)
    assert accountable.status == 200, accountable.body
    assert "I10" not in _decision(run, accountable)["reasons"]

    again = _cli("consent", "revoke", "--toestemming", ref, "--workdir", str(run.workdir))
    assert again.returncode == 0, again.stderr
    unknown = _cli("consent", "revoke", "--toestemming", unique("TS-onbekend"), "--workdir", str(run.workdir))
    assert unknown.returncode == 2 and "nothing withdrawn" in unknown.stderr

    key = (run.workdir / "keys" / "pseudonym.key").read_bytes().strip()
    withdrawals = [r for r in run.records() if (r["resource"] or {}).get("type") == "toestemming"
                   and r["resource"]["id"] == ref]
    assert len(withdrawals) == 2
    assert all(r["reasons"] == ["I10"] and r["betrokkene"] == pseudonymise(key, bsn) for r in withdrawals)
    assert withdrawals[0]["subject"]["id"] == "loket-1"


# ---- (7) sidecar serve refuses a config without a coordinator roltype -----------------------------

def test_serve_check_refuses_a_config_without_coordinator_roltypen(knmg: Running) -> None:
    config = yaml.safe_load(knmg.stack.config_path.read_text())
    assert config["catalogue"]["coordinator_roltypen"], "the demo config names the coordinator roltype"
    good = _cli("serve", "--config", str(knmg.stack.config_path), "--check")
    assert good.returncode == 0, good.stderr
    # Beside the stack's own config, so that its relative paths (keys, records) resolve the same.
    bad_path = knmg.workdir / f"{unique('zonder-coordinator')}.yaml"
    config["catalogue"]["coordinator_roltypen"] = []
    bad_path.write_text(yaml.safe_dump(config, sort_keys=False))
    try:
        bad = _cli("serve", "--config", str(bad_path), "--check")
    finally:
        bad_path.unlink()
    assert bad.returncode == 2, (bad.stdout, bad.stderr)
    assert "catalogue.coordinator_roltypen" in bad.stderr
    assert "ok:" not in bad.stdout


# ---- (8) L1: only the FG of a controlling organisation ----------------------------------------

def _records_decision(run: Running, org: str) -> dict[str, Any]:
    """What OPA (the stack's own, over its REST API) decides on an FG of ``org`` reading the
    records for verantwoording, with the input the sidecar builds for a records query."""
    config = yaml.safe_load(run.stack.config_path.read_text())
    builder = InputBuilder(profile=config["policy"]["profile"], controlling_orgs=config["controlling_orgs"],
                           retention_configured=True)
    route = RouteSpec(name="records_query", methods=["GET"], path="/records", resource="records", action="read")
    call = Call(trace=from_header(None), method="GET", started=time.perf_counter(), route=route,
                identity=Identity(sub=unique("fg"), role="fg", org=org, secrecy="geen"), purpose="verantwoording")
    doc = json.dumps({"input": builder.build(call, "request", resource("records", None))}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{run.stack.ports.opa}/v1/data/wams/authz/decision", data=doc,
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        result: dict[str, Any] = json.loads(resp.read())["result"]
    return result


@pytest.mark.parametrize("profile", PROFILES)
def test_records_with_employees_only_for_the_fg_of_a_controlling_org(request: pytest.FixtureRequest,
                                                                     profile: str) -> None:
    run: Running = request.getfixturevalue(profile)
    case = _case(run)
    bsn = _bsn()
    case.send_and_link(case.headers("aanbieder", HULP, org=case.provider, secrecy="wettelijk",
                                     herkomst=f'grondslag=toestemming, toestemming="{unique("TS")}", '
                                              f'betrokkene="{bsn}"'), "medisch")
    fg = unique("fg")
    out = _cli("records", "query", "--betrokkene", bsn, "--met-medewerkers", "--door", fg,
               "--workdir", str(run.workdir))
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    assert rows and all("subject" in r for r in rows)
    assert any(r["subject"]["role"] == "aanbieder" and r["action"] == "create" for r in rows)
    controlling = yaml.safe_load(run.stack.config_path.read_text())["controlling_orgs"]
    query = [r for r in run.records() if (r["subject"] or {}).get("id") == fg]
    assert len(query) == 1
    assert query[0]["reasons"] == ["L1"] and query[0]["decision"] == "allow"
    assert query[0]["subject"] == {"id": fg, "role": "fg", "org": controlling[0]}
    assert query[0]["processing_activity"] == "urn:wams:verwerking:verantwoording"

    own = _records_decision(run, controlling[0])
    assert own["decision"] is True and own["reasons"] == ["L1"]
    elsewhere = _records_decision(run, "gemeente-elders")
    assert elsewhere["decision"] is False and "L1" in elsewhere["reasons"]
