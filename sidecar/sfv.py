"""Helpers for the RFC 8941 structured-field headers the sidecar reads strictly.

``http_sfv`` follows the RFC, which lets a later dictionary member overwrite an earlier one with
the same key. The sidecar's own headers (``X-Herkomst``, ``X-Coordinatie``) carry facts a
decision rests on, so each parser refuses a repeated key; this module finds them.
"""

from __future__ import annotations

import re


def top_level_keys(raw: str) -> list[str]:
    """The member keys of a dictionary that already parsed, in order, duplicates included.

    RFC 8941 lets a later member overwrite an earlier one with the same key, and a proxy or
    WSGI server joins a repeated header with a comma: ``grondslag=lid1`` sent twice becomes
    one valid dictionary. A fact must not be decided by whichever copy came last, so the
    caller refuses any repeated key. Only called on input the parser accepted, so a simple
    scan (commas outside quoted strings and inner lists) finds exactly the members.
    """
    keys: list[str] = []
    member: list[str] = []
    in_string = escaped = False
    depth = 0
    for ch in raw + ",":
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            text = "".join(member).strip(" \t")
            keys.append(re.split(r"[=;]", text, maxsplit=1)[0])
            member = []
            continue
        member.append(ch)
    return keys


def repeated_keys(raw: str) -> list[str]:
    """The keys that occur more than once among :func:`top_level_keys`, sorted."""
    keys = top_level_keys(raw)
    return sorted({k for k in keys if keys.count(k) > 1})
