"""The ``X-Coordinatie`` header: facts about a coordinator appointment (rules K1, K2).

A ZGW ``rol`` does not say whether the client agreed to a coordinated approach, whether the
coordinator is willing, or whether the coordinator is the client's own treating provider. The
appointing application states them in an RFC 8941 dictionary of booleans::

    X-Coordinatie: instemming=?1, bereid=?1, eigen_behandelaar=?0

Absent keys stay unknown (``null``), which the policy treats as "not established" (deny).
"""

from __future__ import annotations

from http_sfv.dictionary import Dictionary
from http_sfv.item import Item

from sidecar.sfv import repeated_keys

KEYS = {"instemming": "client_agreement", "bereid": "coordinator_willing",
        "eigen_behandelaar": "coordinator_is_treating_provider"}


class CoordinatieError(ValueError):
    """User-facing (Dutch) description of what is wrong with the header."""


def parse_coordinatie(value: str | None) -> dict[str, bool | None]:
    out: dict[str, bool | None] = dict.fromkeys(KEYS.values())
    if value is None:
        return out
    if len(value) > 512:
        raise CoordinatieError("X-Coordinatie is te lang")
    raw = value.encode("latin-1", errors="replace")
    parsed = Dictionary()
    try:
        parsed.parse(raw)
    except ValueError:
        raise CoordinatieError("X-Coordinatie is geen geldige RFC 8941 dictionary") from None
    # The parser keeps the last of a repeated key; a coordinator appointment must not rest on
    # whichever copy of "instemming" came last (a joined repeated header looks the same).
    repeated = repeated_keys(raw.decode("latin-1"))
    if repeated:
        raise CoordinatieError(f"X-Coordinatie noemt {', '.join(repeated)} meer dan eens "
                               "(de header mag maar één keer voorkomen)")
    for key, member in parsed.items():
        if key not in KEYS:
            raise CoordinatieError(f"onbekende sleutel '{key}' in X-Coordinatie")
        if not isinstance(member, Item) or not isinstance(member.value, bool) or member.params:
            raise CoordinatieError(f"'{key}' moet ?1 of ?0 zijn")
        out[KEYS[key]] = member.value
    return out
