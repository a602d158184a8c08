"""Unit tests of the ``X-Coordinatie`` parser (sidecar/coordinatie.py) and of the shared
repeated-key scan it uses with ``X-Herkomst`` (sidecar/sfv.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sidecar.coordinatie import KEYS, CoordinatieError, parse_coordinatie
from sidecar.herkomst import HerkomstError, parse_herkomst
from sidecar.sfv import repeated_keys, top_level_keys


def test_absent_header_leaves_every_fact_unknown() -> None:
    assert parse_coordinatie(None) == dict.fromkeys(KEYS.values())


def test_valid_header_is_parsed() -> None:
    assert parse_coordinatie("instemming=?1, bereid=?0") == {
        "client_agreement": True, "coordinator_willing": False, "coordinator_is_treating_provider": None}


@pytest.mark.parametrize("value", [
    "instemming=?0, instemming=?1",       # RFC 8941 would keep the last: agreement "given"
    "instemming=?1, instemming=?1",       # even the same value twice: the header was sent twice
    "instemming=?1, bereid=?1, eigen_behandelaar=?0, instemming=?1, bereid=?1, eigen_behandelaar=?0",
    "bereid, bereid=?0",                  # bare key (true) then false
])
def test_repeated_key_is_refused_and_named(value: str) -> None:
    with pytest.raises(CoordinatieError) as exc:
        parse_coordinatie(value)
    repeated = repeated_keys(value)
    assert repeated
    for key in repeated:
        assert key in str(exc.value)
    assert "meer dan eens" in str(exc.value)


@given(st.permutations(list(KEYS)), st.lists(st.booleans(), min_size=3, max_size=3), st.sampled_from(list(KEYS)),
       st.booleans())
def test_any_repeated_key_is_refused(order: list[str], values: list[bool], again: str, value: bool) -> None:
    members = [f"{k}=?{int(v)}" for k, v in zip(order, values, strict=True)]
    parse_coordinatie(", ".join(members))  # the header once is fine
    with pytest.raises(CoordinatieError, match=again):
        parse_coordinatie(", ".join([*members, f"{again}=?{int(value)}"]))


def test_top_level_keys_skip_commas_in_strings_and_inner_lists() -> None:
    raw = 'a="x, b=1", c=(d e), f;g=1, h=?1'
    assert top_level_keys(raw) == ["a", "c", "f", "h"]
    assert repeated_keys(raw) == []
    assert repeated_keys('a="\\"a=1, a", b, a') == ["a"]


def test_herkomst_still_refuses_a_repeated_key() -> None:
    # The scan moved to sidecar/sfv.py; X-Herkomst keeps refusing what it refused.
    with pytest.raises(HerkomstError, match="grondslag"):
        parse_herkomst("grondslag=lid1, grondslag=lid1")
