"""Property-based tests of the one canonical request target (sidecar.canonical.split_target).

The sidecar routes and decides on the string split_target returns, and forwards exactly that
string. These properties say that nothing an upstream could decode or normalise differently
survives acceptance: an accepted target is a fixed point, contains no encoded '/', no dot
segments, no empty segments, and routes the same whether or not a server decodes it again.
"""

from __future__ import annotations

import posixpath
import string
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sidecar.canonical import BadTarget, canonical_query, split_target
from sidecar.routes import DEFAULT_ROUTES, METHODS, RouteMap

ROUTES = RouteMap(DEFAULT_ROUTES)
UUID = "4f0d6a1e-7a2b-4c3d-8e9f-0123456789ab"

# Building blocks an attacker combines: real path words, every spelling of '/', '.', '%',
# separators, control and non-ASCII characters, and the UUID in both cases.
FRAGMENTS = [
    "/", "zaken", "api", "v1", "documenten", "enkelvoudiginformatieobjecten", "download", "rollen",
    UUID, UUID.upper(), ".", "..", "%2F", "%2f", "%2e", "%2E", "%252F", "%25", "%7A", "%7a", "%41",
    "%5C", "%00", "%ff", "%C3%A9", ";", ";v=1", "?", "&", "=", "#", "\\", " ", "\t", "\x00", "é",
    "~", "-", "_", "+", "expand", "%65xpand", "_zoek", ":", "@", "*", "ZAKEN",
]
targets = st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=14).map("".join)
fuzzy = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x2FF), max_size=80)
# What gunicorn hands over is the raw request target decoded as latin-1: any byte value.
latin1 = st.binary(max_size=80).map(lambda b: b.decode("latin-1"))
any_target = st.one_of(targets, targets.map(lambda t: "/" + t), fuzzy.map(lambda t: "/" + t), latin1)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(any_target)
@example("/zaken/api/v1/%7Aaken")
@example("/zaken/api/v1/zaken?%65xpand=zaaktype")
def test_split_target_only_raises_badtarget(target: str) -> None:
    try:
        split_target(target)
    except BadTarget as exc:
        assert exc.status in (400, 414)
        assert str(exc)  # a user-facing reason, never empty


@settings(max_examples=800, suppress_health_check=[HealthCheck.too_slow])
@given(any_target)
@example("/zaken/api/v1/%7Aaken?a=b+c")
def test_accepted_targets_are_canonical(target: str) -> None:
    try:
        path, query = split_target(target)
    except BadTarget:
        return
    forwarded = path + (f"?{query}" if query else "")
    # Fixed point: what is forwarded is accepted again and means the same.
    assert split_target(forwarded) == (path, query)
    # Nothing an upstream could decode: no percent-encoding at all in the path.
    assert "%" not in path and unquote(path) == path
    # No dot segments, no empty segments, no trailing tricks a normaliser would fold.
    segments = path.split("/")[1:]
    assert "." not in segments and ".." not in segments
    assert "//" not in path
    assert posixpath.normpath(path) == path.rstrip("/") or path == "/"
    assert not set(path) - set(string.ascii_letters + string.digits + "-._~/")
    if query:
        assert canonical_query(query) == query
        assert all(0x21 <= ord(c) <= 0x7E for c in query)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(any_target, st.sampled_from(sorted(METHODS)))
def test_routing_of_accepted_equals_routing_of_forwarded(target: str, method: str) -> None:
    """The route (and so the resource, action and id the policy sees) of the accepted path is
    the route of the string the upstream receives, also after the upstream decodes it."""
    try:
        path, query = split_target(target)
    except BadTarget:
        return
    forwarded = path + (f"?{query}" if query else "")
    upstream_view = unquote(forwarded.partition("?")[0])
    a, b = ROUTES.match(method, path), ROUTES.match(method, upstream_view)
    assert (a and (a.route.name, a.resource_id)) == (b and (b.route.name, b.resource_id))


@given(st.sampled_from(["/zaken/api/v1/zaken", "/documenten/api/v1/enkelvoudiginformatieobjecten"]),
       st.lists(st.sampled_from(["%2F", "%2f", "%252F", "%2e%2e", "%2E", "/..", "/.", "//", ";a=b",
                                 "%5C", "\\", "%00", "%0d%0a", "%C0%AF"]), min_size=1, max_size=3))
def test_encoded_separators_never_reach_a_route(base: str, tricks: list[str]) -> None:
    with pytest.raises(BadTarget):
        # Each trick is a whole segment: "zaken%2e%2e" is an ordinary (unknown) name, "%2e%2e" is not.
        split_target(base + "/" + "/".join(tricks) + "/" + UUID)


@given(st.text(alphabet="abcXYZ019-_. =&+%", max_size=40))
def test_canonical_query_is_idempotent(q: str) -> None:
    try:
        once = canonical_query(q)
    except BadTarget:
        return
    assert canonical_query(once) == once


@given(st.sampled_from(["EXPAND", "Expand", "expand%20", "%20expand", "eXpand"]),
       st.sampled_from(["", "a=1&", "page=2&"]))
def test_widening_query_parameters_in_other_spellings_are_refused(key: str, prefix: str) -> None:
    with pytest.raises(BadTarget):
        split_target(f"/zaken/api/v1/zaken?{prefix}{key}=zaaktype")


@given(st.sampled_from(["expand", "%65xpand", "exp%61nd"]), st.sampled_from(["", "a=1&", "page=2&"]))
def test_widening_query_parameters_have_one_spelling(key: str, prefix: str) -> None:
    """What passes is the one spelling the proxy checks against the route's allowed expansions."""
    _, query = split_target(f"/zaken/api/v1/zaken?{prefix}{key}=rollen")
    assert query.endswith("expand=rollen")


def test_overlong_targets_are_414() -> None:
    with pytest.raises(BadTarget) as exc:
        split_target("/zaken/api/v1/zaken?" + "a=b&" * 2000)
    assert exc.value.status == 414
