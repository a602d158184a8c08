"""Property-based tests of the request headers the sidecar parses itself:
X-Herkomst (RFC 8941 dictionary), traceparent (W3C) and Authorization (Bearer JWT).

Each parser must turn arbitrary bytes into either a value or its own user-facing error,
never an unexpected exception (a 500 is a bug and, worse, an unrecorded decision).
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from sidecar.auth import Authenticator, AuthError, Identity
from sidecar.devtools.keys import DEMO_AUDIENCE, DEMO_ISSUER, ensure_keypair, key_paths, mint
from sidecar.herkomst import HerkomstError, parse_herkomst
from sidecar.settings import JwtSettings, PemKey
from sidecar.tracing import from_header
from sidecar.vocab import CVP_CONDITIONS as CVP
from sidecar.vocab import GRONDSLAGEN, VOORWAARDEN
from sidecar.vocab import LID2_CONDITIONS as LID2
from tests.helpers import b64url

# -- X-Herkomst ----------------------------------------------------------------------------------

SF_STRING_CHARS = "".join(chr(c) for c in range(0x20, 0x7F))  # RFC 8941 sf-string: printable ASCII


def _sf_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


@st.composite
def bsns(draw: st.DrawFn) -> str:
    digits = draw(st.lists(st.integers(0, 9), min_size=8, max_size=8))
    check = sum(d * w for d, w in zip(digits, range(9, 1, -1), strict=True)) % 11
    assume(check < 10)
    return "".join(map(str, digits)) + str(check)


def _subset(options: tuple[str, ...]) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(options), min_size=1, max_size=len(options), unique=True)


@st.composite
def herkomst(draw: st.DrawFn) -> tuple[str, dict[str, Any], str | None]:
    """A valid header (keys in random order, random optional whitespace) and what it means.

    Valid means with what its ground requires: consent its reference and the data subject
    (``toestemming``, ``betrokkene``), ``lid2`` and the conflict of duties the sender's
    ``motivering``; every other key is optional."""
    members: list[tuple[str, str]] = []
    expected: dict[str, Any] = {}
    g = draw(st.sampled_from(GRONDSLAGEN))
    members.append(("grondslag", g))
    expected["grondslag"] = g
    if g == "toestemming" or draw(st.booleans()):
        t = draw(st.text(SF_STRING_CHARS, min_size=1, max_size=128))
        members.append(("toestemming", _sf_string(t)))
        expected["toestemming"] = t
    if g in ("lid2", "conflict_van_plichten") or draw(st.booleans()):
        m = draw(st.text(SF_STRING_CHARS, min_size=1, max_size=300))
        members.append(("motivering", _sf_string(m)))
        expected["motivering"] = m
    for key, options in (("lid2", LID2), ("cvp", CVP), ("voorwaarden", VOORWAARDEN)):
        if draw(st.booleans()):
            items = draw(_subset(options))
            members.append((key, "(" + " ".join(items) + ")"))
            expected[key] = items
    bsn = draw(bsns() if g == "toestemming" else st.one_of(st.none(), bsns()))
    if bsn is not None:
        members.append(("betrokkene", _sf_string(bsn)))
    expected["betrokkene_present"] = bsn is not None
    order = draw(st.permutations(members))
    seps = [draw(st.sampled_from([",", ", ", " ,", " , ", ",\t"])) for _ in order]
    text = "".join(f"{k}={v}" + (seps[i] if i < len(order) - 1 else "") for i, (k, v) in enumerate(order))
    return text, expected, bsn


@settings(max_examples=400)
@given(herkomst())
@example(('grondslag=toestemming, toestemming="TS-2026-0042", betrokkene="111222333", '
          'voorwaarden=(geen_verdere_verstrekking)',
          {"grondslag": "toestemming", "toestemming": "TS-2026-0042",
           "voorwaarden": ["geen_verdere_verstrekking"], "betrokkene_present": True}, "111222333"))
def test_valid_herkomst_round_trips(case: tuple[str, dict[str, Any], str | None]) -> None:
    text, expected, bsn = case
    assert parse_herkomst(text) == (expected, bsn)


@settings(max_examples=150)
@given(herkomst(), st.data())
def test_repeated_member_is_refused(case: tuple[str, dict[str, Any], str | None], data: st.DataObject) -> None:
    """A header sent twice arrives comma-joined; RFC 8941 would let the last copy win."""
    text, _, _ = case
    other, _, _ = data.draw(herkomst())
    with pytest.raises(HerkomstError):
        parse_herkomst(f"{text}, {other}")


@settings(max_examples=800, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
                 st.text(max_size=200),
                 st.lists(st.sampled_from(["grondslag", "=", "toestemming", "lid1", "lid2", "(", ")", ",",
                                           " ", '"', "\\", ";", "a", "b", "c", "betrokkene", "?1", ":YQ==:",
                                           "123456782", "*", "1.5", "-", "voorwaarden", "cvp", "\x00"]),
                          max_size=30).map("".join)))
@example("grondslag=lid1, grondslag=lid1")
@example("grondslag=lid1;x=1")
@example("grondslag=lid2, lid2=(a a)")
@example('grondslag=lid1, betrokkene="123456789"')
@example("grondslag=lid1, " + "x" * 5000)
def test_random_input_raises_only_herkomst_error(value: str) -> None:
    try:
        out, bsn = parse_herkomst(value)
    except HerkomstError as exc:
        assert str(exc)
        return
    # Accepted: it must be one of the documented shapes.
    assert out["grondslag"] in GRONDSLAGEN
    assert set(out) <= {"grondslag", "toestemming", "motivering", "lid2", "cvp", "voorwaarden",
                        "betrokkene_present"}
    assert out["betrokkene_present"] is (bsn is not None)
    assert bsn is None or re.fullmatch(r"[0-9]{9}", bsn)


# -- traceparent ---------------------------------------------------------------------------------

hex_lower = st.text("0123456789abcdef", min_size=1, max_size=1)


@given(st.text("0123456789abcdef", min_size=32, max_size=32),
       st.text("0123456789abcdef", min_size=16, max_size=16),
       st.text("0123456789abcdef", min_size=2, max_size=2))
def test_valid_traceparent_is_continued(trace_id: str, parent: str, flags: str) -> None:
    assume(trace_id != "0" * 32 and parent != "0" * 16)
    t = from_header(f"00-{trace_id}-{parent}-{flags}")
    assert (t.trace_id, t.parent_span_id, t.flags) == (trace_id, parent, flags)
    assert re.fullmatch(rf"00-{trace_id}-[0-9a-f]{{16}}-{flags}", t.traceparent)
    assert t.span_id != parent


TP_OUT = re.compile(r"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")


@settings(max_examples=200)
@given(st.one_of(st.none(), st.text(max_size=120), st.binary(max_size=120).map(lambda b: b.decode("latin-1")),
                 st.from_regex(r"[0-9a-fA-F]{2}-[0-9a-fA-F]{32}-[0-9a-fA-F]{16}-[0-9a-fA-F]{2}.{0,3}",
                               fullmatch=True)))
@example("00-" + "0" * 32 + "-" + "1" * 16 + "-01")
@example("00-" + "A" * 32 + "-" + "1" * 16 + "-01")
@example("00-" + "a" * 32 + "-" + "1" * 16 + "-01\r\nX-Injected: 1")
def test_any_traceparent_gives_a_clean_one(value: str | None) -> None:
    """Never raises; whatever came in, what goes upstream and into the record is well-formed
    (so a header value can never smuggle CR/LF or another header into the upstream request)."""
    t = from_header(value)
    assert TP_OUT.fullmatch(t.traceparent)
    assert t.trace_id != "0" * 32
    if value is not None and t.trace_id in value:
        assert t.parent_span_id is not None and t.parent_span_id in value


# -- Authorization -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Authenticator]]:
    wd = tmp_path_factory.mktemp("idp")
    kid = ensure_keypair(wd)
    _, pub = key_paths(wd)
    auth = Authenticator(JwtSettings(issuer=DEMO_ISSUER, audience=DEMO_AUDIENCE, algorithms=["ES256"],
                                     keys=[PemKey(kid=kid, file=pub)]))
    yield wd, auth


@settings(max_examples=800, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300).map(lambda b: b.decode("latin-1")),
                 st.text(string.ascii_letters + string.digits + "-_.", max_size=300).map(lambda t: "Bearer " + t)))
@example("Bearer")
@example("Bearer ")
@example("Bearer a.b.c")
@example("bearer ..")
@example("Basic dXNlcjpwYXNz")
@example("Bearer " + "A" * 70000)
def test_random_authorization_raises_only_auth_error(idp: tuple[Path, Authenticator], header: str) -> None:
    _, auth = idp
    with pytest.raises(AuthError) as exc:
        auth.authenticate(header)
    assert exc.value.code.startswith("AUTHN_") and exc.value.detail


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.fixed_dictionaries({}, optional={
    "alg": st.sampled_from(["none", "None", "NONE", "HS256", "HS512", "RS256", "ES256", "ES384", "PS256", "", "EdDSA"]),
    "kid": st.one_of(st.text(max_size=40), st.integers(), st.none(), st.just("../../etc/passwd")),
    "typ": st.sampled_from(["JWT", "at+jwt"]),
    "jku": st.just("http://127.0.0.1:1/jwks.json"),
    "crit": st.lists(st.text(max_size=5), max_size=2),
}), st.binary(max_size=96))
def test_forged_headers_are_refused(idp: tuple[Path, Authenticator], header: dict[str, Any], sig: bytes) -> None:
    wd, auth = idp
    good = mint(wd, sub="u", role="consulent")
    payload = good.split(".")[1]
    with pytest.raises(AuthError):
        auth.authenticate(f"Bearer {b64url(header)}.{payload}.{b64url(sig)}")


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_mutated_token_is_refused_or_unchanged(idp: tuple[Path, Authenticator], data: st.DataObject) -> None:
    """Changing any one character either breaks the token or (base64 padding bits) means the
    very same token: it can never yield another identity."""
    wd, auth = idp
    token = mint(wd, sub="u-1", role="consulent")
    original = auth.authenticate(f"Bearer {token}")
    i = data.draw(st.integers(0, len(token) - 1))
    c = data.draw(st.sampled_from(string.ascii_letters + string.digits + "-_.="))
    assume(c != token[i])
    mutated = token[:i] + c + token[i + 1:]
    try:
        ident = auth.authenticate(f"Bearer {mutated}")
    except AuthError:
        return
    assert ident == original


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(["sub", "role", "org", "secrecy", "iss", "aud", "exp", "iat", "nbf"]),
                       st.one_of(st.none(), st.integers(-2**40, 2**40), st.text(max_size=20),
                                 st.lists(st.text(max_size=5), max_size=2), st.booleans(),
                                 st.floats(allow_nan=True))))
def test_claims_of_any_shape_raise_only_auth_error(idp: tuple[Path, Authenticator], overrides: dict[str, Any]) -> None:
    """Correctly signed tokens with claims of the wrong type or value: AuthError or a sane identity."""
    wd, auth = idp
    from sidecar.devtools.keys import kid_of, load_private

    key = load_private(wd)
    import time

    now = int(time.time())
    claims: dict[str, Any] = {"iss": DEMO_ISSUER, "aud": DEMO_AUDIENCE, "sub": "u", "role": "consulent",
                              "org": "gemeente-demo", "iat": now, "exp": now + 60}
    claims.update(overrides)
    try:
        token = jwt.encode(claims, key, algorithm="ES256", headers={"kid": kid_of(key.public_key())})
    except (TypeError, ValueError):
        return  # not encodable (NaN): cannot be sent either
    try:
        ident = auth.authenticate(f"Bearer {token}")
    except AuthError:
        return
    assert isinstance(ident, Identity)
    assert all(isinstance(v, str) and v for v in (ident.sub, ident.role, ident.org))
    assert ident.secrecy in ("wettelijk", "beroepscode", "geen")
    assert claims["iss"] == DEMO_ISSUER and claims["exp"] > now - 31
