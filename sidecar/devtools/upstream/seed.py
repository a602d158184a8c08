"""Deterministic seed data for the demo upstream (fictional people, fictional municipality).

UUIDs are ``uuid5(SEED_NAMESPACE, "<kind>/<key>")``, so they are the same on every machine.
Documents are interleaved by category so that any page size >= 4 has one document of each
category (algemeen, medisch, wvggz_wzd, coordinatiedossier) on the first page; there are 16,
well within the default page size of 100. BSNs are from the test range (99999xxxx, 11-test).

Need-to-know: every document is linked to a zaak (``zaakinformatieobjecten``), and rollen relate
the demo users (:data:`DEMO_USERS`), a team and external organisations to some zaken and not to
others. :func:`relations` says who relates to what; ``README.md`` has the table. Objects are
only ever added at the end of their table, so the first seeded object of each kind or category
stays the same (tests pick "the first algemeen document" and so on).
"""

from __future__ import annotations

import hashlib
import sqlite3
import uuid
from dataclasses import dataclass
from typing import Any

from . import catalogue, store

SEED_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:wams-sidecar:demo-upstream:seed")

#: Fictional "Gemeente Voorbeeldstad"; a 9-digit RSIN that passes the 11-test.
GEMEENTE_RSIN = "001234560"
BSN_DE_VRIES = "999990019"
BSN_EL_AMRANI = "999990020"
BSN_HENDRIKS = "999990032"
BSN_BOS = "999990044"
BSN_YILMAZ = "999990056"
BSN_DE_BOER = "999990068"
ONE_MIB = 1024 * 1024

#: Bumped when seed objects are added: a database seeded by an older version gets the objects it
#: lacks once (see ``Store.initialise``), so an existing demo workdir keeps working.
SEED_VERSION = 2

# --- who the seed relates (token ``sub``, ``teams`` and ``org`` values) ----------------------

#: Medewerker ``identificatie`` = the token's ``sub``.
CONSULENT = "c.jansen"
MEDISCH_ADVISEUR = "m.bakker"
COORDINATOR = "regisseur-014"
#: A consulent and a coordinator of another team: the only ones related to the "afgeschermd"
#: zaken, so that the users above have examples of zaken they do not relate to.
OTHER_CONSULENT = "b.smit"
OTHER_COORDINATOR = "regisseur-021"
#: The common test user per role: related to every seeded zaak except the afgeschermd ones, the
#: team's zaak (``jeugd``) and, for the coordinator, the externally coordinated one.
DEMO_USERS: dict[str, str] = {
    "consulent": CONSULENT,
    "medisch_adviseur": MEDISCH_ADVISEUR,
    "coordinator": COORDINATOR,
}
#: Organisatorische eenheid ``identificatie`` = an entry of the token's ``teams``.
TEAM_JEUGD = "team-jeugd"
#: Niet-natuurlijk persoon ``annIdentificatie`` / vestiging ``vestigingsNummer`` = the token's
#: ``org``. The controlling organisation (``gemeente-demo``) is never named in a rol: that would
#: relate every employee to the zaak.
CONTROLLING_ORG = "gemeente-demo"
ZVH_ORG = "zvh-midden"
CASUSOVERLEG_ORG = "wijkteam-noord"
EXTERNAL_COORDINATOR_ORG = "wijkteam-oost"
PROVIDER_ORG = "huisarts-de-linde"
PROVIDER_VESTIGING = "thuiszorg-zuid"

#: The key of ``betrokkeneIdentificatie`` that names the betrokkene, per ``betrokkeneType``.
BETROKKENE_KEY: dict[str, str] = {
    "natuurlijk_persoon": "inpBsn",
    "niet_natuurlijk_persoon": "annIdentificatie",
    "vestiging": "vestigingsNummer",
    "organisatorische_eenheid": "identificatie",
    "medewerker": "identificatie",
}


def seed_uuid(kind: str, key: str) -> str:
    return str(uuid.uuid5(SEED_NAMESPACE, f"{kind}/{key}"))


@dataclass(frozen=True, slots=True)
class SeedZaak:
    key: str
    zaaktype: str  # catalogue code
    identificatie: str
    omschrijving: str
    toelichting: str
    startdatum: str
    vertrouwelijkheidaanduiding: str

    @property
    def uuid(self) -> str:
        return seed_uuid("zaak", self.key)


@dataclass(frozen=True, slots=True)
class SeedRol:
    key: str
    zaak_key: str
    roltype: str  # catalogue code
    betrokkene_type: str
    roltoelichting: str
    identificatie: tuple[tuple[str, str], ...]
    registratiedatum: str

    @property
    def uuid(self) -> str:
        return seed_uuid("rol", self.key)

    @property
    def betrokkene(self) -> str:
        """The value that names the betrokkene (see :data:`BETROKKENE_KEY`)."""
        return dict(self.identificatie)[BETROKKENE_KEY[self.betrokkene_type]]


@dataclass(frozen=True, slots=True)
class SeedDocument:
    key: str
    category: str  # informatieobjecttype code
    identificatie: str
    titel: str
    vertrouwelijkheidaanduiding: str
    auteur: str
    status: str
    formaat: str
    bestandsnaam: str
    creatiedatum: str
    beschrijving: str
    text: str  # content (text/plain as is, PDFs render it; the 1 MiB file ignores it)

    @property
    def uuid(self) -> str:
        return seed_uuid("document", self.key)


@dataclass(frozen=True, slots=True)
class SeedLink:
    """A zaakinformatieobject: the document belongs to the zaak."""

    document_key: str
    zaak_key: str

    @property
    def uuid(self) -> str:
        return seed_uuid("zaakinformatieobject", f"{self.document_key}@{self.zaak_key}")


ZAKEN: tuple[SeedZaak, ...] = (
    SeedZaak(
        "bijstand", "algemeen", "ZAAK-2026-0000101",
        "Aanvraag bijzondere bijstand woonkosten",
        "Aanvraag na huurachterstand; beslistermijn acht weken.",
        "2026-01-12", "zaakvertrouwelijk",
    ),
    SeedZaak(
        "wmo", "algemeen", "ZAAK-2026-0000117",
        "Aanvraag Wmo-maatwerkvoorziening huishoudelijke ondersteuning",
        "Melding via het sociaal wijkteam; keukentafelgesprek gepland.",
        "2026-01-26", "zaakvertrouwelijk",
    ),
    SeedZaak(
        "coordinatie", "coordinatiedossier", "ZAAK-2026-0000123",
        "Coördinatie meervoudige problematiek huishouden De Vries",
        "Wams-coördinatie: schulden, zorg en wonen. Regisseur aangewezen in het casusoverleg.",
        "2026-02-03", "vertrouwelijk",
    ),
    SeedZaak(
        "medisch-wmo", "medisch", "ZAAK-2026-0000131",
        "Medische advisering Wmo-indicatie De Vries",
        "Advies van de medisch adviseur over de beperkingen; gegevens over gezondheid.",
        "2026-01-28", "vertrouwelijk",
    ),
    SeedZaak(
        "wvggz", "wvggz_wzd", "ZAAK-2026-0000134",
        "Verkennend onderzoek Wvggz na melding",
        "Melding bij de gemeente (art. 5:1 Wvggz); verkennend onderzoek, aanvraag zorgmachtiging.",
        "2026-02-04", "confidentieel",
    ),
    SeedZaak(
        "jeugd", "algemeen", "ZAAK-2026-0000140",
        "Vraag om opvoedondersteuning gezin Bos",
        "Behandeld door het jeugdteam als team; geen vaste consulent.",
        "2026-02-09", "zaakvertrouwelijk",
    ),
    SeedZaak(
        "coordinatie-extern", "coordinatiedossier", "ZAAK-2026-0000146",
        "Coördinatie meervoudige problematiek gezin Yilmaz",
        "Regie belegd bij Wijkteam Oost, een organisatie buiten de gemeente.",
        "2026-02-12", "vertrouwelijk",
    ),
    SeedZaak(
        "afgeschermd-algemeen", "algemeen", "ZAAK-2026-0000151",
        "Aanvraag schuldhulpverlening De Boer",
        "Behandeld door een ander team; de demo-gebruikers zijn er niet bij betrokken.",
        "2026-02-17", "zaakvertrouwelijk",
    ),
    SeedZaak(
        "afgeschermd-medisch", "medisch", "ZAAK-2026-0000152",
        "Medische advisering De Boer",
        "Behandeld door een ander team; de demo-gebruikers zijn er niet bij betrokken.",
        "2026-02-18", "vertrouwelijk",
    ),
    SeedZaak(
        "afgeschermd-wvggz", "wvggz_wzd", "ZAAK-2026-0000153",
        "Zorgmachtiging Wvggz De Boer",
        "Behandeld door een ander team; de demo-gebruikers zijn er niet bij betrokken.",
        "2026-02-19", "confidentieel",
    ),
    SeedZaak(
        "afgeschermd-coordinatie", "coordinatiedossier", "ZAAK-2026-0000154",
        "Coördinatie meervoudige problematiek De Boer",
        "Behandeld door een ander team; de demo-gebruikers zijn er niet bij betrokken.",
        "2026-02-20", "vertrouwelijk",
    ),
)

#: The zaken that none of :data:`DEMO_USERS` (nor a team or organisation) relates to, one per
#: zaaktype category; only :data:`OTHER_CONSULENT` (and :data:`OTHER_COORDINATOR`) do.
UNRELATED_ZAKEN: dict[str, str] = {
    "algemeen": "afgeschermd-algemeen",
    "medisch": "afgeschermd-medisch",
    "wvggz_wzd": "afgeschermd-wvggz",
    "coordinatiedossier": "afgeschermd-coordinatie",
}

_DE_VRIES: tuple[tuple[str, str], ...] = (
    ("inpBsn", BSN_DE_VRIES),
    ("geslachtsnaam", "Vries"),
    ("voorvoegselGeslachtsnaam", "de"),
    ("voorletters", "J."),
    ("voornamen", "Jan"),
    ("geslachtsaanduiding", "m"),
    ("geboortedatum", "1984-05-17"),
)

#: The rollen of the first seed version (kept first, with their uuids).
_ROLLEN_V1: tuple[SeedRol, ...] = (
    SeedRol(
        "bijstand-aanvrager", "bijstand", "initiator", "natuurlijk_persoon",
        "Aanvrager bijzondere bijstand",
        (
            ("inpBsn", BSN_EL_AMRANI),
            ("geslachtsnaam", "El Amrani"),
            ("voorletters", "F."),
            ("voornamen", "Fatima"),
            ("geslachtsaanduiding", "v"),
            ("geboortedatum", "1991-09-03"),
        ),
        "2026-01-12T10:15:00Z",
    ),
    SeedRol(
        "wmo-aanvrager", "wmo", "initiator", "natuurlijk_persoon",
        "Aanvrager Wmo-maatwerkvoorziening", _DE_VRIES, "2026-01-26T14:02:00Z",
    ),
    SeedRol(
        "coordinatie-betrokkene", "coordinatie", "belanghebbende", "natuurlijk_persoon",
        "Betrokkene bij wie meervoudige problematiek speelt", _DE_VRIES,
        "2026-02-03T09:00:00Z",
    ),
    SeedRol(
        "coordinatie-regisseur", "coordinatie", "zaakcoordinator", "medewerker",
        "Regisseur meervoudige problematiek",
        (
            ("identificatie", "regisseur-014"),
            ("achternaam", "Jansen"),
            ("voorletters", "M."),
        ),
        "2026-02-03T09:05:00Z",
    ),
)

_ZAAK_DATES = {z.key: z.startdatum for z in ZAKEN}


def _person(bsn: str, naam: str, voorvoegsel: str, voorletters: str, voornamen: str,
            geslacht: str, geboren: str) -> tuple[tuple[str, str], ...]:
    fields = [("inpBsn", bsn), ("geslachtsnaam", naam)]
    if voorvoegsel:
        fields.append(("voorvoegselGeslachtsnaam", voorvoegsel))
    fields += [("voorletters", voorletters), ("voornamen", voornamen),
               ("geslachtsaanduiding", geslacht), ("geboortedatum", geboren)]
    return tuple(fields)


_HENDRIKS = _person(BSN_HENDRIKS, "Hendriks", "", "P.", "Pieter", "m", "1979-11-02")
_BOS = _person(BSN_BOS, "Bos", "", "S.", "Sanne", "v", "1988-03-21")
_YILMAZ = _person(BSN_YILMAZ, "Yilmaz", "", "A.", "Ahmet", "m", "1975-07-14")
_DE_BOER = _person(BSN_DE_BOER, "Boer", "de", "K.", "Karin", "v", "1969-12-30")

#: ``medewerker`` identifications: identificatie (= sub), achternaam, voorletters.
_MEDEWERKERS: dict[str, tuple[tuple[str, str], ...]] = {
    CONSULENT: (("identificatie", CONSULENT), ("achternaam", "Jansen"), ("voorletters", "C.")),
    MEDISCH_ADVISEUR: (
        ("identificatie", MEDISCH_ADVISEUR), ("achternaam", "Bakker"), ("voorletters", "M."),
    ),
    COORDINATOR: (("identificatie", COORDINATOR), ("achternaam", "Jansen"), ("voorletters", "M.")),
    OTHER_CONSULENT: (
        ("identificatie", OTHER_CONSULENT), ("achternaam", "Smit"), ("voorletters", "B."),
    ),
    OTHER_COORDINATOR: (
        ("identificatie", OTHER_COORDINATOR), ("achternaam", "Peters"), ("voorletters", "D."),
    ),
}

_TOELICHTING = {
    "behandelaar": "Behandelend consulent",
    "medisch_adviseur": "Medisch adviseur van de gemeente",
    "zaakcoordinator": "Regisseur meervoudige problematiek",
    "casusoverleg": "Deelnemer aan het casusoverleg",
    "zvh_overdracht": "Zaak overgedragen aan het Zorg- en Veiligheidshuis",
    "initiator": "Aanvrager",
    "belanghebbende": "Betrokkene",
}


def _rol(key: str, zaak_key: str, roltype: str, betrokkene_type: str,
         identificatie: tuple[tuple[str, str], ...], minute: int) -> SeedRol:
    return SeedRol(key, zaak_key, roltype, betrokkene_type, _TOELICHTING[roltype], identificatie,
                   f"{_ZAAK_DATES[zaak_key]}T10:{minute:02d}:00Z")


def _medewerker(zaak_key: str, roltype: str, sub: str, minute: int) -> SeedRol:
    return _rol(f"{zaak_key}-{roltype}-{sub}", zaak_key, roltype, "medewerker",
                _MEDEWERKERS[sub], minute)


def _nnp(zaak_key: str, roltype: str, org: str, naam: str, minute: int) -> SeedRol:
    return _rol(f"{zaak_key}-{roltype}-{org}", zaak_key, roltype, "niet_natuurlijk_persoon",
                (("annIdentificatie", org), ("statutaireNaam", naam)), minute)


#: The zaken the common test users relate to directly (as medewerker).
_COMMON_ZAKEN = ("bijstand", "wmo", "coordinatie", "medisch-wmo", "wvggz")

ROLLEN: tuple[SeedRol, ...] = (
    *_ROLLEN_V1,
    # the common test users (the coordinatie zaak already has its regisseur, regisseur-014)
    *(
        rol
        for zaak_key in _COMMON_ZAKEN
        for rol in (
            _medewerker(zaak_key, "behandelaar", CONSULENT, 1),
            _medewerker(zaak_key, "medisch_adviseur", MEDISCH_ADVISEUR, 2),
            *(() if zaak_key == "coordinatie"
              else (_medewerker(zaak_key, "zaakcoordinator", COORDINATOR, 3),)),
        )
    ),
    # organisations: casusoverleg and ZVH handover on the zaak of the first algemeen document,
    # the household's GP (a provider) and a home-care branch (vestiging)
    _nnp("bijstand", "casusoverleg", CASUSOVERLEG_ORG, "Stichting Wijkteam Noord", 4),
    _nnp("bijstand", "zvh_overdracht", ZVH_ORG, "Zorg- en Veiligheidshuis Midden", 5),
    _rol(f"wmo-behandelaar-{PROVIDER_VESTIGING}", "wmo", "behandelaar", "vestiging",
         (("vestigingsNummer", PROVIDER_VESTIGING),), 4),
    _rol("medisch-wmo-betrokkene", "medisch-wmo", "belanghebbende", "natuurlijk_persoon",
         _DE_VRIES, 0),
    _nnp("medisch-wmo", "behandelaar", PROVIDER_ORG, "Huisartsenpraktijk De Linde", 4),
    _rol("wvggz-betrokkene", "wvggz", "belanghebbende", "natuurlijk_persoon", _HENDRIKS, 0),
    # related only through a team
    _rol("jeugd-aanvrager", "jeugd", "initiator", "natuurlijk_persoon", _BOS, 0),
    _rol(f"jeugd-behandelaar-{TEAM_JEUGD}", "jeugd", "behandelaar", "organisatorische_eenheid",
         (("identificatie", TEAM_JEUGD), ("naam", "Jeugdteam Voorbeeldstad")), 1),
    # a coordination zaak whose coordinator is an external organisation
    _rol("coordinatie-extern-betrokkene", "coordinatie-extern", "belanghebbende",
         "natuurlijk_persoon", _YILMAZ, 0),
    _medewerker("coordinatie-extern", "behandelaar", CONSULENT, 1),
    _medewerker("coordinatie-extern", "medisch_adviseur", MEDISCH_ADVISEUR, 2),
    _nnp("coordinatie-extern", "zaakcoordinator", EXTERNAL_COORDINATOR_ORG,
         "Stichting Wijkteam Oost", 3),
    # zaken only another team relates to
    *(
        rol
        for zaak_key in UNRELATED_ZAKEN.values()
        for rol in (
            _rol(f"{zaak_key}-betrokkene", zaak_key, "belanghebbende", "natuurlijk_persoon",
                 _DE_BOER, 0),
            _medewerker(zaak_key, "behandelaar", OTHER_CONSULENT, 1),
        )
    ),
    _medewerker("afgeschermd-coordinatie", "zaakcoordinator", OTHER_COORDINATOR, 2),
)

_GEM = "Gemeente Voorbeeldstad"

DOCUMENTEN: tuple[SeedDocument, ...] = (
    SeedDocument(
        "aanvraag-bijstand", "algemeen", "DOC-2026-0000201",
        "Aanvraagformulier bijzondere bijstand", "zaakvertrouwelijk", "F. El Amrani",
        "definitief", "text/plain", "aanvraag-bijzondere-bijstand.txt", "2026-01-12",
        "Ingevuld aanvraagformulier met toelichting op de woonkosten.",
        "Aanvraag bijzondere bijstand\n\nIk vraag bijzondere bijstand aan voor de huurachterstand"
        " van de maanden november en december. Bijgevoegd: huurspecificatie en bankafschriften.\n",
    ),
    SeedDocument(
        "medisch-advies", "medisch", "DOC-2026-0000202",
        "Medisch advies Wmo-indicatie", "vertrouwelijk", "GGD Voorbeeldregio, arts M&G",
        "definitief", "application/pdf", "medisch-advies-wmo.pdf", "2026-02-02",
        "Advies van de GGD-arts over beperkingen in het huishouden.",
        "Medisch advies Wmo-indicatie\n"
        "Betrokkene heeft door chronische rugklachten beperkingen bij zwaar huishoudelijk werk.\n"
        "Advies: huishoudelijke ondersteuning, drie uur per week, herbeoordeling na een jaar.\n",
    ),
    SeedDocument(
        "zorgmachtiging", "wvggz_wzd", "DOC-2026-0000203",
        "Beschikking zorgmachtiging Wvggz", "confidentieel", "Rechtbank Voorbeeldstad",
        "definitief", "application/pdf", "beschikking-zorgmachtiging.pdf", "2026-02-10",
        "Beschikking van de rechtbank over verplichte ggz.",
        "Beschikking zorgmachtiging (Wet verplichte ggz)\n"
        "De rechtbank verleent een zorgmachtiging voor de duur van zes maanden.\n"
        "Vormen van verplichte zorg: toedienen van medicatie, opname in een accommodatie.\n",
    ),
    SeedDocument(
        "plan-van-aanpak", "coordinatiedossier", "DOC-2026-0000204",
        "Plan van aanpak meervoudige problematiek", "vertrouwelijk",
        "M. Jansen, regisseur sociaal domein", "concept", "text/plain", "plan-van-aanpak.txt",
        "2026-02-16", "Gezamenlijk plan van aanpak voor het huishouden De Vries.",
        "Plan van aanpak\n\n1. Schulden: aanmelding schuldhulpverlening, budgetbeheer.\n"
        "2. Wonen: betalingsregeling met de woningcorporatie, huisuitzetting voorkomen.\n"
        "3. Zorg: afstemming met behandelaar ggz over de voortgang (alleen met toestemming).\n",
    ),
    SeedDocument(
        "brief-huurachterstand", "algemeen", "DOC-2026-0000205",
        "Brief woningcorporatie over huurachterstand", "zaakvertrouwelijk",
        "Woonstichting Voorbeeldstad", "definitief", "application/pdf",
        "brief-huurachterstand.pdf", "2026-01-20",
        "Aanmaning met voorstel voor een betalingsregeling.",
        "Betreft: huurachterstand\n"
        "Wij constateren een achterstand van twee maanden huur.\n"
        "Wij bieden u een betalingsregeling aan; neem binnen veertien dagen contact op.\n",
    ),
    SeedDocument(
        "ontslagbrief", "medisch", "DOC-2026-0000206",
        "Ontslagbrief ziekenhuis (samenvatting)", "vertrouwelijk",
        "Ziekenhuis Voorbeeldstad, afdeling interne geneeskunde", "definitief", "text/plain",
        "ontslagbrief-samenvatting.txt", "2026-02-05",
        "Samenvatting van de ontslagbrief, gedeeld met toestemming van betrokkene.",
        "Ontslagbrief (samenvatting)\n\nOpname wegens ontregelde diabetes. Medicatie aangepast."
        " Controle bij de internist over zes weken. Thuiszorg voor insulinetoediening.\n",
    ),
    SeedDocument(
        "verkennend-onderzoek", "wvggz_wzd", "DOC-2026-0000207",
        "Rapportage verkennend onderzoek Wvggz", "confidentieel",
        "GGD Voorbeeldregio, team verkennend onderzoek", "definitief", "text/plain",
        "verkennend-onderzoek-wvggz.txt", "2026-02-06",
        "Verkennend onderzoek na een melding bij de gemeente (art. 5:2 Wvggz).",
        "Rapportage verkennend onderzoek\n\nNa de melding is betrokkene twee keer bezocht."
        " Er zijn aanwijzingen voor ernstig nadeel; advies: aanvraag zorgmachtiging bij de"
        " officier van justitie.\n",
    ),
    SeedDocument(
        "verslag-casusoverleg", "coordinatiedossier", "DOC-2026-0000208",
        "Verslag casusoverleg 19 februari 2026", "vertrouwelijk",
        "M. Jansen, regisseur sociaal domein", "definitief", "application/pdf",
        "verslag-casusoverleg-2026-02-19.pdf", "2026-02-19",
        "Verslag van het casusoverleg met wijkteam, schuldhulp en woningcorporatie.",
        "Verslag casusoverleg 19 februari 2026\n"
        "Aanwezig: wijkteam, schuldhulpverlening, woningcorporatie, regisseur.\n"
        "Afspraken: betalingsregeling loopt, volgende overleg over vier weken.\n",
    ),
    SeedDocument(
        "folder-schuldhulp", "algemeen", "DOC-2026-0000209",
        "Informatiefolder schuldhulpverlening", "openbaar", _GEM, "definitief",
        "application/pdf", "folder-schuldhulpverlening.pdf", "2026-01-05",
        "Algemene folder over schuldhulpverlening in Voorbeeldstad.",
        "Schulden? Wij helpen u.\n"
        "Bel het sociaal wijkteam of kom langs op het spreekuur in het wijkcentrum.\n",
    ),
    SeedDocument(
        "benchmark-1mib", "algemeen", "DOC-2026-0000210",
        "Benchmarkbestand 1 MiB", "intern", f"{_GEM}, team ICT", "definitief",
        "application/octet-stream", "benchmark-1mib.bin", "2026-01-02",
        "Testbestand van precies 1 MiB voor downloadmetingen.",
        "",
    ),
    SeedDocument(
        "gezinsplan-bos", "algemeen", "DOC-2026-0000211",
        "Gezinsplan opvoedondersteuning", "zaakvertrouwelijk", "Jeugdteam Voorbeeldstad",
        "definitief", "text/plain", "gezinsplan-bos.txt", "2026-02-11",
        "Afspraken met het gezin Bos over opvoedondersteuning.",
        "Gezinsplan\n\nDoel: meer rust en structuur in huis. Wekelijks gesprek met het"
        " jeugdteam; na drie maanden evaluatie.\n",
    ),
    SeedDocument(
        "plan-van-aanpak-yilmaz", "coordinatiedossier", "DOC-2026-0000212",
        "Plan van aanpak gezin Yilmaz", "vertrouwelijk", "Wijkteam Oost, regisseur", "concept",
        "text/plain", "plan-van-aanpak-yilmaz.txt", "2026-02-13",
        "Plan van aanpak van de externe regisseur.",
        "Plan van aanpak\n\n1. Inkomen: aanvraag bijstand afronden.\n"
        "2. Zorg: afstemming met de huisarts (alleen met toestemming).\n",
    ),
    SeedDocument(
        "afgeschermd-aanvraag", "algemeen", "DOC-2026-0000213",
        "Aanvraag schuldhulpverlening De Boer", "zaakvertrouwelijk", "K. de Boer", "definitief",
        "application/pdf", "aanvraag-schuldhulpverlening.pdf", "2026-02-17",
        "Aanvraagformulier schuldhulpverlening.",
        "Aanvraag schuldhulpverlening\nIk vraag hulp bij mijn schulden.\n",
    ),
    SeedDocument(
        "afgeschermd-medisch-advies", "medisch", "DOC-2026-0000214",
        "Medisch advies De Boer", "vertrouwelijk", "GGD Voorbeeldregio, arts M&G", "definitief",
        "text/plain", "medisch-advies-de-boer.txt", "2026-02-18",
        "Advies van de GGD-arts.",
        "Medisch advies\n\nBeperkingen door een chronische aandoening; advies volgt de"
        " indicatie.\n",
    ),
    SeedDocument(
        "afgeschermd-wvggz", "wvggz_wzd", "DOC-2026-0000215",
        "Medische verklaring Wvggz De Boer", "confidentieel", "Onafhankelijk psychiater",
        "definitief", "text/plain", "medische-verklaring-wvggz.txt", "2026-02-19",
        "Medische verklaring van de onafhankelijk psychiater (art. 5:8 Wvggz).",
        "Medische verklaring\n\nEr is sprake van een psychische stoornis die ernstig nadeel"
        " veroorzaakt.\n",
    ),
    SeedDocument(
        "afgeschermd-plan", "coordinatiedossier", "DOC-2026-0000216",
        "Plan van aanpak De Boer", "vertrouwelijk", "D. Peters, regisseur sociaal domein",
        "concept", "text/plain", "plan-van-aanpak-de-boer.txt", "2026-02-20",
        "Plan van aanpak van het andere team.",
        "Plan van aanpak\n\n1. Schulden: schuldhulpverlening.\n2. Zorg: volgt.\n",
    ),
)

#: Every document belongs to at least one zaak; two belong to two zaken.
LINKS: tuple[SeedLink, ...] = (
    SeedLink("aanvraag-bijstand", "bijstand"),
    SeedLink("medisch-advies", "medisch-wmo"),
    SeedLink("medisch-advies", "wmo"),
    SeedLink("zorgmachtiging", "wvggz"),
    SeedLink("plan-van-aanpak", "coordinatie"),
    SeedLink("brief-huurachterstand", "bijstand"),
    SeedLink("ontslagbrief", "medisch-wmo"),
    SeedLink("verkennend-onderzoek", "wvggz"),
    SeedLink("verslag-casusoverleg", "coordinatie"),
    SeedLink("folder-schuldhulp", "bijstand"),
    SeedLink("folder-schuldhulp", "coordinatie"),
    SeedLink("benchmark-1mib", "bijstand"),
    SeedLink("gezinsplan-bos", "jeugd"),
    SeedLink("plan-van-aanpak-yilmaz", "coordinatie-extern"),
    SeedLink("afgeschermd-aanvraag", "afgeschermd-algemeen"),
    SeedLink("afgeschermd-medisch-advies", "afgeschermd-medisch"),
    SeedLink("afgeschermd-wvggz", "afgeschermd-wvggz"),
    SeedLink("afgeschermd-plan", "afgeschermd-coordinatie"),
)

#: The seeded document of exactly 1 MiB (``application/octet-stream``, category algemeen).
BENCHMARK_DOCUMENT_UUID = seed_uuid("document", "benchmark-1mib")


def _pdf_escape(line: str) -> bytes:
    raw = line.encode("cp1252", errors="replace")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def minimal_pdf(text: str) -> bytes:
    """A small, valid one-page PDF (Helvetica, WinAnsi) showing ``text``; deterministic."""
    ops = [b"BT /F1 11 Tf 72 770 Td 15 TL"]
    for line in text.splitlines():
        ops.append(b"(" + _pdf_escape(line) + b") Tj T*")
    ops.append(b"ET")
    stream = b"\n".join(ops)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842]"
        b" /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    ).encode()
    return bytes(out)


def benchmark_bytes() -> bytes:
    """Exactly 1 MiB of deterministic, incompressible bytes (SHA-256 counter stream)."""
    data = b"".join(hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(ONE_MIB // 32))
    assert len(data) == ONE_MIB
    return data


def document_content(doc: SeedDocument) -> bytes:
    if doc.formaat == "application/pdf":
        return minimal_pdf(doc.text)
    if doc.formaat == "application/octet-stream":
        return benchmark_bytes()
    return doc.text.encode("utf-8")


def relations() -> dict[str, Any]:
    """Who relates to which seeded zaak and which documents belong to which zaken (uuids).

    - ``betrokkenen``: ``betrokkeneType`` → naming value (``sub``, team or org) → zaak uuid →
      roltype codes. Natuurlijke personen (the data subjects) are left out: they are no relation.
    - ``zaak_documenten`` / ``document_zaken``: the zaakinformatieobjecten, both ways.
    - ``users``, ``teams``, ``orgs``: the names used; ``examples``: the zaken (and documents) the
      README's table singles out.
    """
    betrokkenen: dict[str, dict[str, dict[str, list[str]]]] = {}
    for r in ROLLEN:
        if r.betrokkene_type == "natuurlijk_persoon":
            continue
        zaken = betrokkenen.setdefault(r.betrokkene_type, {}).setdefault(r.betrokkene, {})
        zaken.setdefault(seed_uuid("zaak", r.zaak_key), []).append(r.roltype)
    zaak_documenten: dict[str, list[str]] = {z.uuid: [] for z in ZAKEN}
    document_zaken: dict[str, list[str]] = {d.uuid: [] for d in DOCUMENTEN}
    for link in LINKS:
        zaak_uuid, doc_uuid = seed_uuid("zaak", link.zaak_key), seed_uuid("document", link.document_key)
        zaak_documenten[zaak_uuid].append(doc_uuid)
        document_zaken[doc_uuid].append(zaak_uuid)
    zaak = {z.key: z.uuid for z in ZAKEN}
    unrelated = {zaak[key] for key in UNRELATED_ZAKEN.values()}
    return {
        "users": {**DEMO_USERS, "other_consulent": OTHER_CONSULENT,
                  "other_coordinator": OTHER_COORDINATOR},
        "teams": {"jeugd": TEAM_JEUGD},
        "orgs": {
            "controlling": CONTROLLING_ORG, "zvh": ZVH_ORG, "casusoverleg": CASUSOVERLEG_ORG,
            "external_coordinator": EXTERNAL_COORDINATOR_ORG, "provider": PROVIDER_ORG,
            "provider_vestiging": PROVIDER_VESTIGING,
        },
        "betrokkenen": betrokkenen,
        "zaak_documenten": zaak_documenten,
        "document_zaken": document_zaken,
        "examples": {
            # per zaaktype category: a zaak none of DEMO_USERS, teams or orgs relates to
            "unrelated": {cat: zaak[key] for cat, key in UNRELATED_ZAKEN.items()},
            # per document category: a document that belongs only to such a zaak
            "unrelated_documenten": {
                d.category: d.uuid for d in DOCUMENTEN
                if document_zaken[d.uuid] and set(document_zaken[d.uuid]) <= unrelated
            },
            "team_only": zaak["jeugd"],
            "zvh_overdracht": zaak["bijstand"],
            "casusoverleg": zaak["bijstand"],
            "coordinator_external": zaak["coordinatie-extern"],
            "coordinator_medewerker": zaak["coordinatie"],
            "document_in_two_zaken": seed_uuid("document", "medisch-advies"),
        },
    }


def manifest(catalogue_base: str) -> dict[str, Any]:
    """What the seed holds, for docs and tests: uuid, category/code and type URL per object,
    plus :func:`relations` under ``"relations"``."""
    base = catalogue.normalise_base(catalogue_base)
    return {
        "zaken": [
            {"uuid": z.uuid, "category": z.zaaktype,
             "zaaktype": catalogue.type_url(base, "zaaktypen", z.zaaktype)}
            for z in ZAKEN
        ],
        "rollen": [
            {"uuid": r.uuid, "zaak": seed_uuid("zaak", r.zaak_key),
             "roltype": catalogue.type_url(base, "roltypen", r.roltype),
             "betrokkeneType": r.betrokkene_type, "betrokkene": r.betrokkene}
            for r in ROLLEN
        ],
        "documenten": [
            {"uuid": d.uuid, "category": d.category,
             "informatieobjecttype": catalogue.type_url(base, "informatieobjecttypen", d.category)}
            for d in DOCUMENTEN
        ],
        "zaakinformatieobjecten": [
            {"uuid": link.uuid, "zaak": seed_uuid("zaak", link.zaak_key),
             "informatieobject": seed_uuid("document", link.document_key)}
            for link in LINKS
        ],
        "relations": relations(),
    }


def seed(conn: sqlite3.Connection, catalogue_base: str) -> None:
    """Insert the seed objects that are missing (called inside a write transaction).

    On a fresh database that is all of them; on one seeded by an older :data:`SEED_VERSION`,
    the objects added since. Rollen and links whose zaak or document was deleted are skipped.
    """
    base = catalogue.normalise_base(catalogue_base)
    for z in ZAKEN:
        if store.exists(conn, "zaken", z.uuid):
            continue
        data: dict[str, Any] = {
            "identificatie": z.identificatie,
            "bronorganisatie": GEMEENTE_RSIN,
            "omschrijving": z.omschrijving,
            "toelichting": z.toelichting,
            "zaaktype": catalogue.type_url(base, "zaaktypen", z.zaaktype),
            "registratiedatum": z.startdatum,
            "verantwoordelijkeOrganisatie": GEMEENTE_RSIN,
            "startdatum": z.startdatum,
            "vertrouwelijkheidaanduiding": z.vertrouwelijkheidaanduiding,
            "archiefstatus": "nog_te_archiveren",
        }
        store.insert(conn, "zaken", z.uuid, data)
    for r in ROLLEN:
        zaak_uuid = seed_uuid("zaak", r.zaak_key)
        if store.exists(conn, "rollen", r.uuid) or not store.exists(conn, "zaken", zaak_uuid):
            continue
        roltype = catalogue.ROLTYPEN[r.roltype]
        rol: dict[str, Any] = {
            "_zaak": zaak_uuid,
            "betrokkeneType": r.betrokkene_type,
            "roltype": catalogue.type_url(base, "roltypen", r.roltype),
            "omschrijving": roltype.omschrijving,
            "omschrijvingGeneriek": roltype.omschrijving_generiek or "",
            "roltoelichting": r.roltoelichting,
            "registratiedatum": r.registratiedatum,
            "betrokkeneIdentificatie": dict(r.identificatie),
        }
        store.insert(conn, "rollen", r.uuid, rol, zaak_uuid=zaak_uuid)
    for d in DOCUMENTEN:
        if store.exists(conn, "documenten", d.uuid):
            continue
        content = document_content(d)
        doc: dict[str, Any] = {
            "identificatie": d.identificatie,
            "bronorganisatie": GEMEENTE_RSIN,
            "creatiedatum": d.creatiedatum,
            "titel": d.titel,
            "vertrouwelijkheidaanduiding": d.vertrouwelijkheidaanduiding,
            "auteur": d.auteur,
            "status": d.status,
            "formaat": d.formaat,
            "taal": "nld",
            "bestandsnaam": d.bestandsnaam,
            "bestandsomvang": len(content),
            "beschrijving": d.beschrijving,
            "indicatieGebruiksrecht": False,
            "informatieobjecttype": catalogue.type_url(base, "informatieobjecttypen", d.category),
            "versie": 1,
            "beginRegistratie": f"{d.creatiedatum}T09:30:00Z",
            "_inhoud": True,
        }
        store.insert(conn, "documenten", d.uuid, doc, inhoud=content)
    titles = {d.key: d.titel for d in DOCUMENTEN}
    for link in LINKS:
        zaak_uuid = seed_uuid("zaak", link.zaak_key)
        doc_uuid = seed_uuid("document", link.document_key)
        if (store.exists(conn, "zaakinformatieobjecten", link.uuid)
                or not store.exists(conn, "zaken", zaak_uuid)
                or not store.exists(conn, "documenten", doc_uuid)
                or store.zio_pair(conn, zaak_uuid, doc_uuid)):
            continue
        zio: dict[str, Any] = {
            "_zaak": zaak_uuid,
            "_document": doc_uuid,
            "titel": titles[link.document_key],
            "beschrijving": "",
            "registratiedatum": f"{_ZAAK_DATES[link.zaak_key]}T11:00:00Z",
        }
        store.insert(conn, "zaakinformatieobjecten", link.uuid, zio,
                     zaak_uuid=zaak_uuid, document_uuid=doc_uuid)
