"""One canonical request target, used for both routing and forwarding.

The policy must decide on exactly what the upstream will receive. Instead of trying to mimic
every upstream's URL decoding, the sidecar accepts only a small, unambiguous alphabet in paths
and rejects the rest (400): encoded slashes and dots, dot segments, repeated slashes, ``;``
parameters, backslashes, control or non-ASCII bytes, double encoding. What passes is forwarded
byte for byte as it was routed.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote

MAX_TARGET_BYTES = 4096

# RFC 3986 unreserved characters plus "/" : enough for every ZGW path (words and UUIDs).
_PATH_OK = re.compile(r"/[A-Za-z0-9\-._~/]*")
_PCT = re.compile(r"%([0-9A-Fa-f]{2})")
_NOT_VISIBLE_ASCII = re.compile(r"[^\x21-\x7e]")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# Query parameters that make a ZGW API embed *other* objects in the response (``expand`` puts
# related objects under ``_expand``). Only the exact lower-case spelling passes (``%65xpand``
# decodes to it); other spellings (``EXPAND``, ``expand ``) are refused, because an upstream
# may read them as ``expand`` while the sidecar would not. Which expansions a route allows, and
# how their embedded objects are decided, is the route map's and the proxy's business.
WIDENING_PARAMS = frozenset({"expand"})
# Headers a client may send at most once: a second copy is an attempt to confuse someone.
# gunicorn joins repeated headers into one environ value, and for a structured header
# (X-Herkomst) a joined value can parse as one valid dictionary. So serve.py's pre_request hook
# counts repeats on gunicorn's raw header list and names them in REPEATED_HEADERS_MARKER (a
# client's own copy of the marker is dropped), and the proxy refuses the request.
SINGLE_HEADERS = ("Authorization", "X-Doelbinding", "X-Herkomst", "X-Coordinatie", "traceparent",
                  "Content-Length", "Host")
REPEATED_HEADERS_MARKER = "X-Sidecar-Repeated-Headers"


class BadTarget(ValueError):
    """The request target is not in canonical form; the message is user-facing."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _decode_unreserved(raw: str) -> str:
    # Only %XX of unreserved characters is decoded (RFC 3986 §6.2.2.2 says they are equivalent);
    # anything else percent-encoded in a path is refused rather than interpreted.
    def sub(m: re.Match[str]) -> str:
        ch = chr(int(m.group(1), 16))
        if ch not in _UNRESERVED:
            raise BadTarget(f"versleuteld teken %{m.group(1)} is niet toegestaan in het pad")
        return ch

    return _PCT.sub(sub, raw)


def canonical_path(raw_path: str) -> str:
    if "%" in raw_path:
        raw_path = _decode_unreserved(raw_path)
        if "%" in raw_path:
            raise BadTarget("ongeldige procent-codering in het pad")
    if not _PATH_OK.fullmatch(raw_path):
        raise BadTarget("het pad bevat niet-toegestane tekens")
    if "//" in raw_path:
        raise BadTarget("het pad bevat een lege padcomponent (//)")
    for seg in raw_path.split("/")[1:]:
        if seg in (".", ".."):
            raise BadTarget("het pad bevat een . of .. component")
    return raw_path


def canonical_query(raw_query: str) -> str:
    """Parse strictly and re-encode, so that the upstream sees one spelling of each parameter."""
    if not raw_query:
        return ""
    try:
        pairs = parse_qsl(raw_query, keep_blank_values=True, strict_parsing=True,
                          encoding="utf-8", errors="strict", separator="&")
    except (ValueError, UnicodeDecodeError):
        raise BadTarget("de query-string is ongeldig") from None
    for k, v in pairs:
        if any(ord(c) < 0x20 or c == "\x7f" for c in k + v):
            raise BadTarget("de query-string bevat stuurtekens")
        if k.strip().lower() in WIDENING_PARAMS and k not in WIDENING_PARAMS:
            raise BadTarget(f"de query-parameter {k!r} moet precies {k.strip().lower()!r} heten")
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)


def query_params(canonical_q: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if canonical_q:
        for k, v in parse_qsl(canonical_q, keep_blank_values=True):
            out.setdefault(k, []).append(v)
    return out


def split_target(raw_target: str) -> tuple[str, str]:
    """Split an origin-form request target (``/path?query``) into canonical path and query."""
    if len(raw_target) > MAX_TARGET_BYTES:
        raise BadTarget("het verzoekadres is te lang", status=414)
    if not raw_target.startswith("/"):
        raise BadTarget("alleen origin-form verzoekadressen (/pad?query) worden geaccepteerd")
    if _NOT_VISIBLE_ASCII.search(raw_target):
        # gunicorn hands the raw target over as latin-1; anything outside visible ASCII
        # (spaces, control bytes, non-UTF-8 or raw UTF-8 bytes) has no single meaning.
        raise BadTarget("het verzoekadres bevat niet-ASCII- of stuurtekens")
    if "#" in raw_target:
        raise BadTarget("een fragment (#) hoort niet in een verzoekadres")
    path, sep, query = raw_target.partition("?")
    return canonical_path(path), canonical_query(query) if sep else ""
