"""Deterministic seed data for the demo upstream (fictional people, fictional municipality).

UUIDs are ``uuid5(SEED_NAMESPACE, "<kind>/<key>")``, so they are the same on every machine.
Documents are interleaved by category so that any page size >= 4 has one document of each
category (algemeen, medisch, wvggz_wzd, coordinatiedossier) on the first page; there are 10,
well within the default page size of 100. BSNs are from the test range (999990019, 999990020).
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
ONE_MIB = 1024 * 1024


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
)

_DE_VRIES: tuple[tuple[str, str], ...] = (
    ("inpBsn", BSN_DE_VRIES),
    ("geslachtsnaam", "Vries"),
    ("voorvoegselGeslachtsnaam", "de"),
    ("voorletters", "J."),
    ("voornamen", "Jan"),
    ("geslachtsaanduiding", "m"),
    ("geboortedatum", "1984-05-17"),
)

ROLLEN: tuple[SeedRol, ...] = (
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


def manifest(catalogue_base: str) -> dict[str, list[dict[str, str]]]:
    """What the seed holds, for docs and tests: uuid, category/code and type URL per object."""
    base = catalogue.normalise_base(catalogue_base)
    return {
        "zaken": [
            {"uuid": z.uuid, "category": z.zaaktype,
             "zaaktype": catalogue.type_url(base, "zaaktypen", z.zaaktype)}
            for z in ZAKEN
        ],
        "rollen": [
            {"uuid": r.uuid, "zaak": seed_uuid("zaak", r.zaak_key),
             "roltype": catalogue.type_url(base, "roltypen", r.roltype)}
            for r in ROLLEN
        ],
        "documenten": [
            {"uuid": d.uuid, "category": d.category,
             "informatieobjecttype": catalogue.type_url(base, "informatieobjecttypen", d.category)}
            for d in DOCUMENTEN
        ],
    }


def seed(conn: sqlite3.Connection, catalogue_base: str) -> None:
    """Insert the seed objects (called inside a write transaction on a fresh database)."""
    base = catalogue.normalise_base(catalogue_base)
    for z in ZAKEN:
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
        roltype = catalogue.ROLTYPEN[r.roltype]
        zaak_uuid = seed_uuid("zaak", r.zaak_key)
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
