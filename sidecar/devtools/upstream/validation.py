"""Request-body validation for the demo upstream, with ZGW-style (DRF) error codes.

Each resource declares the writable fields it accepts as a table of :class:`F`; the constraints
(max lengths, enums, formats) are copied from the ZGW specs (Zaken API 1.5.1, Documenten API
1.5.0). Unknown fields are ignored, as the real APIs do; read-only fields are ignored too.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

Kind = Literal[
    "str", "date", "datetime", "uri", "enum", "bool", "int", "base64", "strlist", "rsin", "bsn"
]

VERTROUWELIJKHEID: tuple[str, ...] = (
    "openbaar", "beperkt_openbaar", "intern", "zaakvertrouwelijk",
    "vertrouwelijk", "confidentieel", "geheim", "zeer_geheim",
)


@dataclass(frozen=True, slots=True)
class F:
    kind: Kind
    required: bool = False
    max_length: int | None = None
    min_length: int | None = None
    choices: tuple[str, ...] = ()
    allow_blank: bool = True  # "" accepted (for enums: the spec's BlankEnum)
    nullable: bool = False
    pattern: str | None = None


@dataclass(frozen=True, slots=True)
class InvalidParam:
    name: str
    code: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "code": self.code, "reason": self.reason}


class ValidationFailed(Exception):
    """One or more invalid fields; rendered as a ZGW ``ValidatieFout`` (400)."""

    def __init__(self, params: list[InvalidParam], code: str = "invalid") -> None:
        super().__init__(", ".join(f"{p.name}: {p.code}" for p in params))
        self.params = params
        self.code = code


def is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and " " not in value


def elfproef(digits: str) -> bool:
    """The 11-test of RSIN and BSN (9 digits)."""
    if not re.fullmatch(r"[0-9]{9}", digits):
        return False
    total = sum(int(digits[i]) * (9 - i) for i in range(8)) - int(digits[8])
    return total % 11 == 0


def _check(name: str, spec: F, value: Any) -> tuple[Any, InvalidParam | None]:
    def bad(code: str, reason: str) -> tuple[Any, InvalidParam]:
        return None, InvalidParam(name, code, reason)

    if value is None:
        if spec.nullable:
            return None, None
        return bad("null", "Dit veld mag niet leeg zijn.")
    if spec.kind == "bool":
        if not isinstance(value, bool):
            return bad("invalid", "Moet een geldige boolean zijn.")
        return value, None
    if spec.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return bad("invalid", "Vul een geldig geheel getal (>= 0) in.")
        return value, None
    if spec.kind == "strlist":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return bad("not_a_list", "Verwachtte een lijst met teksten.")
        for v in value:
            if not v or (spec.max_length is not None and len(v) > spec.max_length):
                return bad("invalid", f"Elk item moet 1 tot {spec.max_length} tekens hebben.")
        return list(value), None
    if not isinstance(value, str):
        return bad("invalid", "Geen geldige tekst.")
    if value == "":
        if spec.kind in ("str", "enum") and spec.allow_blank:
            return "", None
        return bad("blank", "Dit veld mag niet leeg zijn.")
    if spec.max_length is not None and len(value) > spec.max_length:
        return bad(
            "max_length",
            f"Zorg ervoor dat dit veld niet meer dan {spec.max_length} karakters bevat.",
        )
    if spec.min_length is not None and len(value) < spec.min_length:
        return bad(
            "min_length",
            f"Zorg ervoor dat dit veld minimaal {spec.min_length} karakters bevat.",
        )
    if spec.pattern is not None and not re.fullmatch(spec.pattern, value):
        return bad("invalid", "Ongeldige waarde.")
    if spec.kind == "enum" and value not in spec.choices:
        return bad("invalid_choice", f'"{value}" is een ongeldige keuze.')
    if spec.kind == "date":
        try:
            if len(value) != 10:
                raise ValueError(value)
            dt.date.fromisoformat(value)
        except ValueError:
            return bad("invalid", "Datum heeft het verkeerde formaat (JJJJ-MM-DD).")
    if spec.kind == "datetime":
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is None or "T" not in value or parsed.tzinfo is None:
            return bad("invalid", "Datetime heeft het verkeerde formaat (ISO 8601 met tijdzone).")
    if spec.kind == "uri" and not is_http_url(value):
        return bad("invalid", "Voer een geldige URL in.")
    if spec.kind == "rsin":
        if not re.fullmatch(r"[0-9]{9}", value):
            return bad("invalid-length", "Een RSIN bestaat uit 9 cijfers.")
        if not elfproef(value):
            return bad("invalid", "Onjuist RSIN (elfproef).")
    if spec.kind == "bsn" and not elfproef(value):
        return bad("invalid", "Onjuist BSN (9 cijfers, elfproef).")
    if spec.kind == "base64":
        try:
            return base64.b64decode(value, validate=True), None
        except (binascii.Error, ValueError):
            return bad("invalid", "Bestand kon niet worden gedecodeerd (base64).")
    return value, None


def clean(
    body: Mapping[str, Any], fields: Mapping[str, F], *, partial: bool, prefix: str = ""
) -> dict[str, Any]:
    """Validate ``body`` against ``fields``; return the cleaned known fields.

    ``partial`` (PATCH) skips the required-field check. Raises :class:`ValidationFailed`
    with every problem found.
    """
    out: dict[str, Any] = {}
    problems: list[InvalidParam] = []
    for name, spec in fields.items():
        if name not in body:
            if spec.required and not partial:
                problems.append(InvalidParam(prefix + name, "required", "Dit veld is vereist."))
            continue
        value, problem = _check(prefix + name, spec, body[name])
        if problem is not None:
            problems.append(problem)
        else:
            out[name] = value
    if problems:
        raise ValidationFailed(problems)
    return out


# --- Zaken API 1.5.1 -------------------------------------------------------------------------

ZAAK_FIELDS: dict[str, F] = {
    "identificatie": F("str", max_length=40),
    "bronorganisatie": F("rsin", required=True, allow_blank=False),
    "omschrijving": F("str", max_length=80),
    "toelichting": F("str", max_length=1000),
    "zaaktype": F("uri", required=True, max_length=1000, allow_blank=False),
    "registratiedatum": F("date"),
    "verantwoordelijkeOrganisatie": F("rsin", required=True, allow_blank=False),
    "startdatum": F("date", required=True, allow_blank=False),
    "einddatumGepland": F("date", nullable=True),
    "uiterlijkeEinddatumAfdoening": F("date", nullable=True),
    "publicatiedatum": F("date", nullable=True),
    "vertrouwelijkheidaanduiding": F("enum", choices=VERTROUWELIJKHEID, allow_blank=False),
    "betalingsindicatie": F("enum", choices=("nvt", "nog_niet", "gedeeltelijk", "geheel")),
    "archiefnominatie": F("enum", choices=("blijvend_bewaren", "vernietigen"), nullable=True),
    "archiefstatus": F(
        "enum",
        choices=(
            "nog_te_archiveren", "gearchiveerd",
            "gearchiveerd_procestermijn_onbekend", "overgedragen",
        ),
        allow_blank=False,
    ),
}

BETROKKENE_TYPES: tuple[str, ...] = (
    "natuurlijk_persoon", "niet_natuurlijk_persoon", "vestiging",
    "organisatorische_eenheid", "medewerker",
)

ROL_FIELDS: dict[str, F] = {
    "zaak": F("uri", required=True, max_length=1000, allow_blank=False),
    "betrokkene": F("uri", max_length=1000),
    "betrokkeneType": F("enum", required=True, choices=BETROKKENE_TYPES, allow_blank=False),
    "roltype": F("uri", required=True, max_length=1000, allow_blank=False),
    "roltoelichting": F("str", required=True, max_length=1000, allow_blank=False),
    "afwijkendeNaamBetrokkene": F("str", max_length=625),
    "indicatieMachtiging": F("enum", choices=("gemachtigde", "machtiginggever")),
}

#: The spec's ``omschrijvingGeneriek`` values (the ``rollen`` list filter's enum).
OMSCHRIJVING_GENERIEK: tuple[str, ...] = (
    "adviseur", "behandelaar", "belanghebbende", "beslisser", "initiator", "klantcontacter",
    "zaakcoordinator", "mede_initiator",
)

#: Writable fields of a zaakinformatieobject (``status`` is left out: no statussen here).
ZIO_FIELDS: dict[str, F] = {
    "zaak": F("uri", required=True, max_length=1000, allow_blank=False),
    "informatieobject": F("uri", required=True, max_length=1000, allow_blank=False),
    "titel": F("str", max_length=200),
    "beschrijving": F("str"),
    "vernietigingsdatum": F("datetime", nullable=True),
}

#: ``betrokkeneIdentificatie`` per ``betrokkeneType`` (subset: flat string fields only).
BETROKKENE_IDENTIFICATIE: dict[str, dict[str, F]] = {
    "natuurlijk_persoon": {
        "inpBsn": F("bsn", max_length=9),
        "anpIdentificatie": F("str", max_length=17),
        "inpA_nummer": F("str", max_length=10, pattern=r"[1-9][0-9]{9}"),
        "geslachtsnaam": F("str", max_length=200),
        "voorvoegselGeslachtsnaam": F("str", max_length=80),
        "voorletters": F("str", max_length=20),
        "voornamen": F("str", max_length=200),
        "geslachtsaanduiding": F("enum", choices=("m", "v", "o")),
        "geboortedatum": F("str", max_length=18),
    },
    "niet_natuurlijk_persoon": {
        "innNnpId": F("str", max_length=9),
        "annIdentificatie": F("str", max_length=17),
        "statutaireNaam": F("str", max_length=500),
        "bezoekadres": F("str", max_length=1000),
    },
    "vestiging": {
        "vestigingsNummer": F("str", max_length=24),
        "handelsnaam": F("strlist", max_length=625),
        "kvkNummer": F("str", max_length=8),
    },
    "organisatorische_eenheid": {
        "identificatie": F("str", max_length=24),
        "naam": F("str", max_length=50),
        "isGehuisvestIn": F("str", max_length=24),
    },
    "medewerker": {
        "identificatie": F("str", max_length=24),
        "achternaam": F("str", max_length=200),
        "voorletters": F("str", max_length=20),
        "voorvoegselAchternaam": F("str", max_length=10),
    },
}

# --- Documenten API 1.5.0 --------------------------------------------------------------------

STATUS_CHOICES: tuple[str, ...] = (
    "in_bewerking", "concept", "definitief", "ter_vaststelling", "vastgesteld", "gearchiveerd",
)

EIO_FIELDS: dict[str, F] = {
    "identificatie": F("str", max_length=40),
    "bronorganisatie": F("rsin", required=True, allow_blank=False),
    "creatiedatum": F("date", required=True, allow_blank=False),
    "titel": F("str", required=True, max_length=200, allow_blank=False),
    "vertrouwelijkheidaanduiding": F("enum", choices=VERTROUWELIJKHEID),
    "auteur": F("str", required=True, max_length=200, allow_blank=False),
    "status": F("enum", choices=STATUS_CHOICES),
    "formaat": F("str", max_length=255),
    "taal": F("str", required=True, min_length=3, max_length=3, allow_blank=False),
    "bestandsnaam": F("str", max_length=255),
    "inhoud": F("base64", nullable=True),
    "bestandsomvang": F("int", nullable=True),
    "link": F("uri", max_length=200),
    "beschrijving": F("str", max_length=1000),
    "indicatieGebruiksrecht": F("bool", nullable=True),
    "informatieobjecttype": F("uri", required=True, max_length=200, allow_blank=False),
    "trefwoorden": F("strlist", max_length=100, nullable=True),
}

#: Fields the real APIs refuse to change after creation (``IsImmutableValidator``).
IMMUTABLE = {"zaak": ("zaaktype",), "eio": ("informatieobjecttype",)}
