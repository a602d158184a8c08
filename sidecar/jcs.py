"""RFC 8785 JSON Canonicalization Scheme (JCS): the byte form a record format 3 hash covers.

Python's ``json.dumps(sort_keys=True)`` is not a standard: it writes ``0.0`` where JavaScript and
every JCS library write ``0``, ``1e-07`` where they write ``1e-7``, and sorts keys by code point
instead of UTF-16 code unit. JCS fixes all three, so an auditor can recompute a record's hash
with any JCS library in any language:

- numbers as ECMAScript's ``Number.prototype.toString`` (shortest round-trip digits; integers
  beyond 2**53 - 1 cannot be represented exactly and are refused, as are NaN and infinities);
- strings with the minimal escaping (``\\"``, ``\\\\``, ``\\b \\f \\n \\r \\t``, other control
  characters as ``\\u00xx``), everything else as UTF-8;
- object keys sorted by their UTF-16 code units; no whitespace.

Records are canonicalised on the request path (one per item of a list page), so
:func:`canonicalize` first tries orjson, in C, where its output is provably the JCS form: for
every string (orjson escapes exactly ``\\"``, ``\\\\``, ``\\b \\f \\n \\r \\t`` and other control
characters as lower-case ``\\u00xx``, and writes everything else as UTF-8, as JCS does: checked
for every code point by tests/test_records_jcs.py), for integers within 2**53 - 1, booleans,
null, arrays, and objects whose keys are all ASCII (``OPT_SORT_KEYS`` sorts by code point, which
is UTF-16 order for ASCII). Floats differ between encoders (orjson writes ``1.0`` and ``1e+16``
where JCS writes ``1`` and ``10000000000000000``), so each float is written by :func:`number`
and spliced in as an ``orjson.Fragment``. Anything else (a non-ASCII key, a big integer, a
subclass such as an IntEnum, a lone surrogate) takes the plain Python writer below, which is the
definition.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import orjson

_MAX_SAFE_INT = 2**53 - 1  # Number.MAX_SAFE_INTEGER: larger integers may not round-trip
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f]')
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


class CanonicalizationError(ValueError):
    """The value has no JCS form (NaN, an infinity, an inexact integer, a non-string key, a lone
    surrogate, a type JSON does not have)."""


def canonicalize(value: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of ``value`` (dict, list, str, int, float, bool, None)."""
    try:
        return orjson.dumps(_for_orjson(value), option=orjson.OPT_SORT_KEYS)
    except (_NotPlain, orjson.JSONEncodeError):
        pass  # not a shape orjson writes as JCS does (or no canonical form): the definition decides
    return canonicalize_plain(value)


def canonicalize_plain(value: Any) -> bytes:
    """:func:`canonicalize` by the plain Python writer alone (the definition the fast path is
    checked against)."""
    out: list[str] = []
    _write(value, out)
    try:
        return "".join(out).encode("utf-8")
    except UnicodeEncodeError:
        raise CanonicalizationError("a string holds a lone surrogate (not valid Unicode)") from None


class _NotPlain(Exception):
    """The value is not of a shape the orjson path writes exactly as JCS."""


def _for_orjson(v: Any) -> Any:
    """``v`` with every float replaced by its JCS text as an ``orjson.Fragment`` (containers are
    copied only when something in them is replaced), or :class:`_NotPlain`."""
    t = type(v)
    if t is str or t is bool or v is None:
        return v
    if t is int:
        if -_MAX_SAFE_INT <= v <= _MAX_SAFE_INT:
            return v
        raise _NotPlain
    if t is float:
        return orjson.Fragment(number(v))
    if t is dict:
        copy: dict[str, Any] | None = None
        for k, x in v.items():
            if type(k) is not str or not k.isascii():
                raise _NotPlain
            tx = type(x)
            if tx is str or x is None or tx is bool:
                continue  # the common case, without a call
            y = _for_orjson(x)
            if y is not x:
                if copy is None:
                    copy = dict(v)
                copy[k] = y
        return v if copy is None else copy
    if t is list or t is tuple:
        items: list[Any] | None = None
        for i, x in enumerate(v):
            tx = type(x)
            if tx is str or x is None or tx is bool:
                continue
            y = _for_orjson(x)
            if y is not x:
                if items is None:
                    items = list(v)
                items[i] = y
        return v if items is None else items
    raise _NotPlain


def number(x: float | int) -> str:
    """ECMAScript ``Number.prototype.toString`` of ``x`` (ECMA-262, Number::toString)."""
    if isinstance(x, int):
        if abs(x) > _MAX_SAFE_INT:
            raise CanonicalizationError(f"integer {x} is beyond 2**53 - 1 and has no exact JSON number form")
        return str(x)  # below 1e21 an integral Number prints as its plain digits
    if x != x or x in (float("inf"), float("-inf")):
        raise CanonicalizationError(f"{x!r} is not a JSON number")
    if x == 0:
        return "0"  # also -0
    if x < 0:
        return "-" + number(-x)
    r = repr(x)
    if "e" not in r:
        # Python's repr is fixed-point for 1e-4 <= x < 1e16, ECMAScript's for 1e-6 <= x < 1e21,
        # both with the shortest round-trip digits: in Python's range they agree except that
        # Python writes an integral value with ".0".
        return r[:-2] if r.endswith(".0") else r
    # repr() gives the shortest digits that round-trip (the same digits ECMAScript picks).
    sign, digits_t, exp = Decimal(r).as_tuple()
    assert isinstance(exp, int) and sign == 0
    digits = "".join(map(str, digits_t)).lstrip("0")
    stripped = digits.rstrip("0")
    exp += len(digits) - len(stripped)
    digits = stripped
    k = len(digits)
    n = exp + k  # value = 0.digits * 10**n
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * -n + digits
    e = n - 1
    mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
    return f"{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"


def _escape(m: re.Match[str]) -> str:
    ch = m.group()
    return _ESCAPES.get(ch) or f"\\u{ord(ch):04x}"


def string(s: str) -> str:
    """The JCS form of a string, quotes included."""
    # Records are written on the request path: most strings need no escaping at all.
    return '"' + (_NEEDS_ESCAPE.sub(_escape, s) if _NEEDS_ESCAPE.search(s) else s) + '"'


def _utf16_key(k: str) -> bytes:
    # Big-endian UTF-16 bytes compare exactly as the code-unit sequences do ("surrogatepass" so a
    # lone surrogate is sorted here and refused when the whole is encoded).
    return k.encode("utf-16-be", "surrogatepass")


def _write(v: Any, out: list[str]) -> None:
    if isinstance(v, str):
        out.append(string(v))
    elif v is None:
        out.append("null")
    elif v is True:
        out.append("true")
    elif v is False:
        out.append("false")
    elif isinstance(v, int | float):
        out.append(number(v))
    elif isinstance(v, dict):
        for key in v:
            if not isinstance(key, str):
                raise CanonicalizationError(f"object key {key!r} is not a string")
        out.append("{")
        # Code point order equals UTF-16 order for ASCII keys (the usual case: cheaper to sort).
        keys = sorted(v) if all(k.isascii() for k in v) else sorted(v, key=_utf16_key)
        for i, key in enumerate(keys):
            if i:
                out.append(",")
            out.append(string(key))
            out.append(":")
            _write(v[key], out)
        out.append("}")
    elif isinstance(v, list | tuple):
        out.append("[")
        for i, item in enumerate(v):
            if i:
                out.append(",")
            _write(item, out)
        out.append("]")
    else:
        raise CanonicalizationError(f"{type(v).__name__} is not a JSON type")
