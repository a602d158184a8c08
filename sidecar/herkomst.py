"""Strict parsing of the ``X-Herkomst`` header (RFC 8941 structured-field dictionary).

Example: ``grondslag=toestemming, toestemming="TS-2026-0042", voorwaarden=(geen_verdere_verstrekking)``.
Unknown keys, wrong value types, unknown tokens and parameters are errors: provenance that
cannot be read exactly is not provenance, and the write it came with is refused (400).
"""

from __future__ import annotations

import re
from typing import Any

from http_sfv.dictionary import Dictionary
from http_sfv.item import InnerList, Item
from http_sfv.types import Token

from sidecar.sfv import repeated_keys
from sidecar.vocab import CVP_CONDITIONS as CVP
from sidecar.vocab import GRONDSLAGEN, VOORWAARDEN
from sidecar.vocab import LID2_CONDITIONS as LID2

MAX_HEADER_BYTES = 4096
_BSN = re.compile(r"[0-9]{9}")


class HerkomstError(ValueError):
    """User-facing (Dutch) description of what is wrong with the header."""


def _bsn_ok(bsn: str) -> bool:
    # The BSN "elfproef": 9*d1 + 8*d2 + … + 2*d8 - 1*d9 must be divisible by 11.
    if not _BSN.fullmatch(bsn):
        return False
    digits = [int(c) for c in bsn]
    total = sum(d * w for d, w in zip(digits[:8], range(9, 1, -1), strict=True)) - digits[8]
    return total % 11 == 0


def _token(key: str, member: Any, allowed: tuple[str, ...]) -> str:
    if not isinstance(member, Item) or not isinstance(member.value, Token):
        raise HerkomstError(f"'{key}' moet een token zijn")
    if member.params:
        raise HerkomstError(f"'{key}' mag geen parameters hebben")
    value = str(member.value)
    if value not in allowed:
        raise HerkomstError(f"'{key}' heeft onbekende waarde '{value}'; toegestaan: {', '.join(allowed)}")
    return value


def _string(key: str, member: Any, max_len: int = 512) -> str:
    if not isinstance(member, Item) or not isinstance(member.value, str) \
            or isinstance(member.value, Token):
        raise HerkomstError(f"'{key}' moet een string tussen aanhalingstekens zijn")
    if member.params:
        raise HerkomstError(f"'{key}' mag geen parameters hebben")
    if not member.value or len(member.value) > max_len:
        raise HerkomstError(f"'{key}' is leeg of te lang")
    return str(member.value)


def _tokens(key: str, member: Any, allowed: tuple[str, ...]) -> list[str]:
    if not isinstance(member, InnerList):
        raise HerkomstError(f"'{key}' moet een lijst tussen haakjes zijn, bv. {key}=({allowed[0]})")
    if member.params:
        raise HerkomstError(f"'{key}' mag geen parameters hebben")
    out = [_token(key, item, allowed) for item in member]
    if len(set(out)) != len(out):
        raise HerkomstError(f"'{key}' noemt een waarde dubbel")
    return out


def parse_herkomst(value: str) -> tuple[dict[str, Any], str | None]:
    """Returns (the parsed dictionary for the OPA input, the BSN or ``None``)."""
    raw = value.encode("latin-1", errors="replace")
    if len(raw) > MAX_HEADER_BYTES:
        raise HerkomstError("X-Herkomst is te lang")
    parsed = Dictionary()
    try:
        parsed.parse(raw)
    except ValueError:
        raise HerkomstError("X-Herkomst is geen geldige RFC 8941 dictionary") from None
    repeated = repeated_keys(raw.decode("latin-1"))
    if repeated:
        raise HerkomstError(f"X-Herkomst noemt {', '.join(repeated)} meer dan eens "
                            "(de header mag maar één keer voorkomen)")
    out: dict[str, Any] = {}
    bsn: str | None = None
    for key, member in parsed.items():
        if key == "grondslag":
            out[key] = _token(key, member, GRONDSLAGEN)
        elif key in ("toestemming", "motivering"):
            out[key] = _string(key, member, 128 if key == "toestemming" else 2000)
        elif key == "lid2":
            out[key] = _tokens(key, member, LID2)
        elif key == "cvp":
            out[key] = _tokens(key, member, CVP)
        elif key == "voorwaarden":
            out[key] = _tokens(key, member, VOORWAARDEN)
        elif key == "betrokkene":
            bsn = _string(key, member, 9)
            if not _bsn_ok(bsn):
                raise HerkomstError("'betrokkene' is geen geldig BSN (9 cijfers, elfproef)")
        else:
            raise HerkomstError(f"onbekende sleutel '{key}' in X-Herkomst")
    if "grondslag" not in out:
        raise HerkomstError("X-Herkomst mist 'grondslag'")
    grondslag = out["grondslag"]
    if grondslag in ("lid2", "conflict_van_plichten") and "motivering" not in out:
        # The provider's own judgement is what the FG reviews: without its reasons there is nothing to review.
        raise HerkomstError(f"'motivering' is verplicht bij grondslag={grondslag}")
    if grondslag == "toestemming":
        # A consent is someone's: without the data subject it cannot be found again, or withdrawn.
        if "toestemming" not in out:
            raise HerkomstError("'toestemming' (de referentie van de toestemming) is verplicht bij "
                                "grondslag=toestemming")
        if bsn is None:
            raise HerkomstError("'betrokkene' (wiens toestemming) is verplicht bij grondslag=toestemming")
    out["betrokkene_present"] = bsn is not None
    return out, bsn
