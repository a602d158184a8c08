"""The demo upstream's minimal catalogue (a tiny stand-in for the ZGW Catalogi API).

One ``informatieobjecttype`` and one ``zaaktype`` per data category, their URLs ending in the
category code, and the ``roltypen`` the sidecar's need-to-know check maps to relation kinds (URLs
ending in the roltype code). Type URLs are ``{catalogue_base}/<kind>/<code>``;
they are identifiers (the sidecar's catalogue mapping turns them into categories), so they are
built from the configured ``catalogue_base``, never from the request's host.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DEFAULT_CATALOGUE_BASE = "http://127.0.0.1:8081/catalogi/api/v1"

#: Data categories of docs/rules.md that the catalogue knows (``onbekend`` is the sidecar's, not ours).
CATEGORIES: tuple[str, ...] = ("algemeen", "medisch", "wvggz_wzd", "coordinatiedossier")


@dataclass(frozen=True, slots=True)
class TypeEntry:
    code: str
    omschrijving: str
    vertrouwelijkheidaanduiding: str
    omschrijving_generiek: str | None = None  # roltypen only


INFORMATIEOBJECTTYPEN: dict[str, TypeEntry] = {
    "algemeen": TypeEntry("algemeen", "Algemeen document sociaal domein", "zaakvertrouwelijk"),
    "medisch": TypeEntry(
        "medisch", "Medisch gegeven (gegevens over gezondheid, AVG art. 9)", "vertrouwelijk"
    ),
    "wvggz_wzd": TypeEntry(
        "wvggz_wzd", "Document verplichte zorg (Wvggz/Wzd)", "confidentieel"
    ),
    "coordinatiedossier": TypeEntry(
        "coordinatiedossier", "Coördinatiedossier meervoudige problematiek", "vertrouwelijk"
    ),
}

ZAAKTYPEN: dict[str, TypeEntry] = {
    "algemeen": TypeEntry("algemeen", "Algemene zaak sociaal domein", "zaakvertrouwelijk"),
    "medisch": TypeEntry(
        "medisch", "Medische advisering sociaal domein (gegevens over gezondheid)", "vertrouwelijk"
    ),
    "wvggz_wzd": TypeEntry("wvggz_wzd", "Verplichte zorg (Wvggz/Wzd)", "confidentieel"),
    "coordinatiedossier": TypeEntry(
        "coordinatiedossier", "Coördinatie meervoudige problematiek (Wams)", "vertrouwelijk"
    ),
}

#: ``omschrijvingGeneriek`` is one of the eight values the ZGW specs allow, so it does not tell
#: ``medisch_adviseur`` from ``casusoverleg`` (both ``adviseur``) nor ``zvh_overdracht`` from
#: ``behandelaar``: a relation kind comes from the roltype URL, never from this field.
ROLTYPEN: dict[str, TypeEntry] = {
    "initiator": TypeEntry("initiator", "Aanvrager", "zaakvertrouwelijk", "initiator"),
    "belanghebbende": TypeEntry(
        "belanghebbende", "Betrokkene", "zaakvertrouwelijk", "belanghebbende"
    ),
    "behandelaar": TypeEntry("behandelaar", "Consulent", "zaakvertrouwelijk", "behandelaar"),
    "zaakcoordinator": TypeEntry(
        "zaakcoordinator", "Regisseur", "zaakvertrouwelijk", "zaakcoordinator"
    ),
    "medisch_adviseur": TypeEntry(
        "medisch_adviseur", "Medisch adviseur", "zaakvertrouwelijk", "adviseur"
    ),
    "casusoverleg": TypeEntry(
        "casusoverleg", "Deelnemer casusoverleg", "zaakvertrouwelijk", "adviseur"
    ),
    "zvh_overdracht": TypeEntry(
        "zvh_overdracht", "Overdracht aan Zorg- en Veiligheidshuis", "zaakvertrouwelijk",
        "behandelaar",
    ),
}

KINDS: dict[str, dict[str, TypeEntry]] = {
    "informatieobjecttypen": INFORMATIEOBJECTTYPEN,
    "zaaktypen": ZAAKTYPEN,
    "roltypen": ROLTYPEN,
}


def normalise_base(catalogue_base: str) -> str:
    return catalogue_base.rstrip("/")


def type_url(catalogue_base: str, kind: str, code: str) -> str:
    """``{catalogue_base}/{kind}/{code}``, e.g. ``.../informatieobjecttypen/medisch``."""
    return f"{normalise_base(catalogue_base)}/{kind}/{code}"


def lookup(catalogue_base: str, kind: str, url: str) -> TypeEntry | None:
    """The entry whose URL is exactly ``url`` (a type URL of this catalogue), else ``None``."""
    prefix = f"{normalise_base(catalogue_base)}/{kind}/"
    if not url.startswith(prefix):
        return None
    return KINDS[kind].get(url[len(prefix):])


def render(catalogue_base: str, kind: str, entry: TypeEntry) -> dict[str, Any]:
    out: dict[str, Any] = {
        "url": type_url(catalogue_base, kind, entry.code),
        "omschrijving": entry.omschrijving,
    }
    if entry.omschrijving_generiek is not None:
        out["omschrijvingGeneriek"] = entry.omschrijving_generiek
    else:
        out["vertrouwelijkheidaanduiding"] = entry.vertrouwelijkheidaanduiding
    return out
