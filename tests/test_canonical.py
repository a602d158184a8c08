"""One canonical request target: what is routed is what is forwarded, or it is refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sidecar.canonical import BadTarget, canonical_query, split_target
from sidecar.routes import DEFAULT_ROUTES, RouteMap

ROUTES = RouteMap(DEFAULT_ROUTES)


@pytest.mark.parametrize("target", [
    "/zaken/api/v1/%7Aaken",  # decodes to an unreserved char: accepted, canonicalised
])
def test_unreserved_percent_encoding_is_decoded(target: str) -> None:
    assert split_target(target)[0] == "/zaken/api/v1/zaken"


@pytest.mark.parametrize("target", [
    "/zaken/api/v1%2Fzaken", "/zaken/api/v1%2fzaken", "/zaken/%2e%2e/admin", "/zaken/../metrics",
    "/zaken/./api", "//zaken/api/v1/zaken", "/zaken//api", "/zaken/api;v=1/zaken", "/zaken\\api",
    "/zaken/%252Fapi", "/zaken/%zz", "/zaken/%", "/zak en", "/zaken/\x00", "/zaken/\xe9",
    "http://evil/zaken", "*", "/a#frag", "/zaken?x=%ff", "/zaken?a&&b",
])
def test_ambiguous_targets_are_refused(target: str) -> None:
    with pytest.raises(BadTarget):
        split_target(target)


def test_overlong_target_is_414() -> None:
    with pytest.raises(BadTarget) as exc:
        split_target("/" + "a" * 5000)
    assert exc.value.status == 414


def test_query_is_reencoded_canonically() -> None:
    assert canonical_query("a=1&b=x%20y&c=") == "a=1&b=x%20y&c="
    assert canonical_query("b=x+y") == "b=x%20y"


@given(st.text(min_size=0, max_size=60))
def test_canonical_paths_are_fixed_points(s: str) -> None:
    """Whatever is accepted is already canonical: canonicalising again changes nothing,
    so routing and forwarding cannot disagree."""
    target = "/" + s
    try:
        path, query = split_target(target)
    except BadTarget:
        return
    assert split_target(path) == (path, "")
    assert "//" not in path and "/../" not in path + "/" and "%" not in path
    if query:
        assert canonical_query(query) == query


@given(st.sampled_from(["/zaken/api/v1/zaken", "/documenten/api/v1/enkelvoudiginformatieobjecten"]),
       st.sampled_from(["%2F", "%2f", "/.", "/..", "//", ";x", "%00", "%2E%2E", "\\", "%252F"]))
def test_no_encoding_trick_reaches_another_route(base: str, trick: str) -> None:
    try:
        path, _ = split_target(base + trick + "x")
    except BadTarget:
        return
    # If accepted at all, it routes exactly as the literal path does.
    assert ROUTES.match("GET", path) is None or path.startswith(base)
