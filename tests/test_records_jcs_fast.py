"""The orjson path of :func:`sidecar.jcs.canonicalize` writes exactly the bytes of the plain JCS
writer (:func:`sidecar.jcs.canonicalize_plain`, the definition) and of an independent JCS library
(``rfc8785``): for every code point in a string, for floats at the notation boundaries, for
arbitrary JSON with ASCII keys (the shapes it takes), and for every kind of record the sidecar
builds. Shapes it does not take fall back to the plain writer and still agree (or are refused)."""

from __future__ import annotations

import enum
from collections import OrderedDict
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from sidecar import jcs
from sidecar.opa import Decision
from sidecar.records import GENESIS, build_record, hashed_form


def fast_path_takes(value: Any) -> bool:
    try:
        jcs._for_orjson(value)
    except jcs._NotPlain:
        return False
    return True


def test_every_code_point_in_a_string_is_written_as_jcs_writes_it() -> None:
    every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    assert fast_path_takes(every)
    assert jcs.canonicalize(every) == jcs.canonicalize_plain(every) == rfc8785.dumps(every)
    # Escapes are per character; the control characters once more each on their own, and in keys.
    for c in [*map(chr, range(0x20)), '"', "\\", "\x7f", "\u2028", "\u2029", "/"]:
        value = {"k" + c if c.isascii() else "k": c}
        assert jcs.canonicalize(value) == jcs.canonicalize_plain(value) == rfc8785.dumps(value), repr(c)


@pytest.mark.parametrize("x", [
    1e-4, 0.0001, 0.00009999999999999999, 1e-5, 1e-6, 1e-7, 1e15, 1e16, 9999999999999998.0, 1e16 + 2,
    123456789012345.6, 1e20, 1e21, 0.1, 0.3, 1 / 3, 2 / 3, 5e-324, 1.7976931348623157e308, 100.0, 0.5, 12.0,
    -0.0, 0.0, -1e-4, -123.25, 2.0**53, 2.0**60,
])
def test_floats_at_the_notation_boundaries(x: float) -> None:
    assert jcs.number(x).encode() == rfc8785.dumps(x)
    values: list[Any] = [x, [x], {"a": x}, {"a": [1, {"b": x}], "c": "d"}]
    for value in values:
        assert jcs.canonicalize(value) == jcs.canonicalize_plain(value) == rfc8785.dumps(value)


@settings(max_examples=2000, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_number_is_ecmascripts_for_any_float(x: float) -> None:
    assert jcs.number(x).encode() == rfc8785.dumps(x)


_ascii_json = st.recursive(
    st.none() | st.booleans() | st.text()
    | st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=5)
    | st.dictionaries(st.text(st.characters(max_codepoint=0x7F), max_size=8), inner, max_size=5),
    max_leaves=30,
)


@settings(max_examples=1000, deadline=None)
@given(_ascii_json)
def test_the_orjson_path_agrees_with_the_definition_and_an_independent_library(value: Any) -> None:
    assert fast_path_takes(value)
    assert jcs.canonicalize(value) == jcs.canonicalize_plain(value) == rfc8785.dumps(value)


def test_floats_are_replaced_in_a_copy_the_value_itself_is_not_changed() -> None:
    value = {"a": [1.0, {"b": 2.5}], "c": 3.0}
    before = repr(value)
    assert jcs.canonicalize(value) == b'{"a":[1,{"b":2.5}],"c":3}'
    assert repr(value) == before


class _Kind(enum.IntEnum):
    A = 1


@pytest.mark.parametrize("value", [
    {"\u20ac": 1, "\U0001f600": 3, "\ufb33": 4},  # non-ASCII keys: UTF-16 order is not code point order
    {"a": {"\U0001f600": 1, "\ufb33": 2}},
    2**53 - 1, -(2**53 - 1), [True, False, None], (1, "x", 2.5),
    OrderedDict([("b", 1), ("a", 2)]),
])
def test_shapes_outside_the_orjson_path_still_agree(value: Any) -> None:
    assert jcs.canonicalize(value) == jcs.canonicalize_plain(value) == rfc8785.dumps(value)


def test_an_int_enum_takes_the_plain_writer() -> None:
    assert not fast_path_takes({"a": _Kind.A})
    assert jcs.canonicalize({"a": _Kind.A}) == jcs.canonicalize_plain({"a": _Kind.A})


@pytest.mark.parametrize("value", [
    float("nan"), float("inf"), 2**53, -(2**53), {1: "x"}, "\ud800", {"a": ["\udfff"]}, object(),
    {"a": float("-inf")}, [2**64],
])
def test_values_without_a_canonical_form_are_still_refused(value: Any) -> None:
    with pytest.raises(jcs.CanonicalizationError):
        jcs.canonicalize(value)


def _decision(**kw: Any) -> Decision:
    args: dict[str, Any] = {
        "allow": True, "reasons": ["N1", "R3"], "reason_user": "", "obligations": [{"type": "log_access"}],
        "grondslag": "wgbo", "processing_activity": "zaakbehandeling", "revision": "c7f4aaf",
        "duration_s": 0.000734}
    args.update(kw)
    return Decision(**args)


_SUBJECT = {"id": "c.jansen", "role": "behandelaar", "org": "ziekenhuis-noord"}
_RECORDS: dict[str, dict[str, Any]] = {
    "read allow": {"decision": _decision(), "resource": {"type": "zaak", "id": "z-1",
                                                          "properties": {"category": "medisch"}}},
    "deny": {"allow": False, "decision": _decision(allow=False, reasons=["N1"], obligations=[]), "status": 403},
    "sidecar deny": {"allow": False, "decision": None, "reasons": ["AUTHN_MISSING"], "subject": None,
                     "status": 401, "duration_s": 0.0},
    "recipient and review": {"decision": _decision(obligations=[
        {"type": "record_recipient", "recipient": "huisarts-zuid"}, {"type": "review_by_fg"}])},
    "herkomst": {"herkomst": {"grondslag": "toestemming", "toestemming": "TS-1", "lid2": False,
                              "voorwaarden": ["a", "b"], "betrokkene_present": True}},
    "float obligation": {"decision": _decision(obligations=[{"type": "retain", "days": 30.0, "share": 0.25}])},
    "non-ASCII text": {"purpose": "zorg\u00e9\u20ac\U0001f600", "reasons": ["R\n\t\"\\"]},
    "long duration": {"duration_s": 12345.6789},
}


@pytest.mark.parametrize("kind", list(_RECORDS))
def test_every_kind_of_record_takes_the_orjson_path_byte_for_byte(kind: str) -> None:
    args: dict[str, Any] = {
        "time": "2026-11-30T16:30:42.123456Z", "decision_id": "d-1", "trace_id": "t" * 32, "span_id": "s" * 16,
        "phase": "response", "allow": True, "enforced": True, "status": None, "subject": _SUBJECT,
        "purpose": "zorgverlening", "action": "read", "resource": None, "resource_type": "zaak",
        "betrokkene": "hmac-sha256:" + "ab" * 32, "decision": _decision(), "reasons": ["N1"], "profile": "knmg",
        "duration_s": 0.000734}
    args.update(_RECORDS[kind])
    record = {**build_record(**args), "prev_hash": GENESIS}
    body = {k: v for k, v in record.items() if k != "hash"}
    assert fast_path_takes(body)
    assert hashed_form(record) == jcs.canonicalize_plain(body) == rfc8785.dumps(body)
