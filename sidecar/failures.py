"""Why a request was refused without data: one table of causes, one exception, one place that counts.

Every refusal that is not the policy's own deny of an allowed-to-ask request is a
:class:`FailClosed` naming a cause of :data:`CAUSES`. The cause says the HTTP status, the problem
slug, the Dutch text for the user, the ``sidecar_fail_closed_total`` label (only for failures
of the machinery: OPA, records, labels, upstream, an answer that cannot be judged, an internal
error) and the reason written in the sidecar's own deny record. :meth:`sidecar.proxy.Proxy.handle`
turns it into the response, writes the record when none was written yet, and counts it: once.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Cause:
    status: int
    slug: str  # the problem type: PROBLEM_BASE + slug
    detail: str  # Dutch, for the user; a raise may give a more precise one
    metric: str | None  # sidecar_fail_closed_total{cause}; None for a refusal of bad input
    reason: str | None  # the sidecar deny record's reason; None when the decision was recorded already


CAUSES: dict[str, Cause] = {
    # The request itself is not acceptable (bad input): 4xx, recorded, not a failure.
    "request_target": Cause(400, "ongeldig-verzoekadres", "Het verzoekadres is niet canoniek.", None,
                            "REQUEST_TARGET"),
    "method": Cause(405, "methode-niet-toegestaan", "Deze methode wordt niet ondersteund.", None, "METHOD"),
    "header_duplicate": Cause(400, "dubbele-header", "Een header mag maar één keer voorkomen.", None,
                              "HEADER_DUPLICATE"),
    "route_unknown": Cause(403, "onbekende-route", "Dit adres wordt niet door de toegangscontrole ondersteund.",
                           None, "ROUTE_UNKNOWN"),
    "expand": Cause(400, "expand-niet-ondersteund", "Deze expand wordt op dit adres niet ondersteund.", None,
                    "REQUEST_TARGET"),
    "authn": Cause(401, "niet-geauthenticeerd", "Er is geen geldig token meegestuurd.", None, "AUTHN"),
    "purpose_malformed": Cause(400, "ongeldige-doelbinding",
                               "X-Doelbinding moet een doelcode zijn, bijvoorbeeld onderzoek_hulpvraag.", None, "P2"),
    "body_unexpected": Cause(400, "onverwachte-body", "Dit verzoek heeft geen body.", None, "REQUEST_BODY"),
    "body_too_large": Cause(413, "body-te-groot", "De body is te groot.", "body_too_large", "REQUEST_BODY_TOO_LARGE"),
    "body_invalid": Cause(400, "ongeldige-body", "De body moet een JSON-object zijn.", None, "REQUEST_BODY"),
    "herkomst_invalid": Cause(400, "ongeldige-herkomst", "X-Herkomst is ongeldig.", None, "I9"),
    "coordinatie_invalid": Cause(400, "ongeldige-coordinatie", "X-Coordinatie is ongeldig.", None, "REQUEST_HEADER"),
    "not_found": Cause(404, "niet-gevonden", "Het object bestaat niet.", None, "NOT_FOUND"),
    # The upstream refused a look-up the sidecar made for the request (its status is kept): the
    # client can act on it, so it is not a failure of the machinery.
    "upstream_rejected": Cause(400, "upstream-afgewezen", "De achterliggende dienst weigerde het verzoek.", None,
                               "UPSTREAM_REJECTED"),
    # The policy refused (recorded with the decision): no further record, not a failure.
    "policy_deny": Cause(403, "geen-toegang", "U heeft geen toegang tot deze gegevens.", None, None),
    "herkomst_missing": Cause(400, "herkomst-ontbreekt", "X-Herkomst ontbreekt.", None, None),
    # The machinery failed: counted, and the request is refused without data.
    "opa": Cause(503, "beslissing-niet-mogelijk",
                 "De toegangsbeslissing kon niet worden genomen; probeer het later opnieuw.", "opa", None),
    "records": Cause(503, "record-niet-geschreven",
                     "De beslissing kon niet worden vastgelegd; er worden geen gegevens vrijgegeven.", "records", None),
    "labels": Cause(503, "labels-niet-beschikbaar",
                    "De herkomstgegevens zijn niet beschikbaar; er worden geen gegevens vrijgegeven.", "labels",
                    "LABELS"),
    "labels_not_stored": Cause(503, "labels-niet-opgeslagen", "De herkomst kon niet worden vastgelegd.", "labels",
                               "LABELS"),
    "upstream": Cause(502, "upstream-fout", "De achterliggende dienst is niet bereikbaar.", "upstream", "UPSTREAM"),
    "upstream_timeout": Cause(504, "upstream-fout", "De achterliggende dienst reageert niet op tijd.", "upstream",
                              "UPSTREAM"),
    "relations": Cause(503, "relaties-niet-beschikbaar",
                       "De relaties met de zaak konden niet worden gelezen; er worden geen gegevens vrijgegeven.",
                       "relations", "RELATIONS"),
    "relations_inconsistent": Cause(502, "relaties-niet-eenduidig",
                                    "De relaties met de zaak zijn niet eenduidig; er worden geen gegevens vrijgegeven.",
                                    "relations", "RELATIONS"),
    "unclassifiable": Cause(502, "antwoord-niet-te-beoordelen",
                            "Het antwoord van de achterliggende dienst kan niet worden beoordeeld.", "unclassifiable",
                            "UNCLASSIFIABLE"),
    "internal": Cause(503, "interne-fout",
                      "Er ging iets mis in de toegangscontrole; er zijn geen gegevens vrijgegeven.", "internal",
                      "INTERNAL"),
}

# The bounded label values of sidecar_fail_closed_total.
FAIL_CLOSED_CAUSES: tuple[str, ...] = tuple(sorted({c.metric for c in CAUSES.values() if c.metric}))
# The sidecar's own record reasons (rule ids aside), for the deny metrics.
SIDECAR_REASONS: tuple[str, ...] = tuple(sorted({c.reason for c in CAUSES.values() if c.reason} - {"P2", "I9"}))


class FailClosed(Exception):
    """Stop here: nothing is forwarded or released. ``cause`` is a key of :data:`CAUSES`;
    ``detail`` replaces its text, ``reason`` its record reason (an authentication failure names
    its code), ``decision_id`` says the refusal was recorded already."""

    def __init__(self, cause: str, detail: str | None = None, *, decision_id: str | None = None,
                 reason: str | None = None, status: int | None = None) -> None:
        self.cause = CAUSES[cause]
        self.name = cause
        self.detail = detail or self.cause.detail
        super().__init__(self.detail)
        self.status = status or self.cause.status
        self.decision_id = decision_id
        self.reason = reason or self.cause.reason
