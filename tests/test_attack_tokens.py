"""Forged, stale and misdirected tokens: all 401 with WWW-Authenticate, none forwarded, all
recorded. And a JWKS endpoint that goes down or slow: keys keep working until the cache
expires, then verification fails closed; random kids cause no fetch storm."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from sidecar.devtools.keys import DEMO_AUDIENCE, DEMO_ISSUER, kid_of, load_private
from tests.helpers import (
    HULP,
    ZAKEN,
    LoopbackServer,
    Running,
    b64url,
    hs256_with_public_key,
    jwt_claims,
    send_json,
    start_stack,
    unsigned_token,
)


def _claims(**over: Any) -> dict[str, Any]:
    """An attacker who would like to be a medical adviser."""
    return jwt_claims(**{"sub": "aanvaller", "role": "medisch_adviseur", **over})


def _forgeries(wd: Path) -> dict[str, Callable[[], str]]:
    key = load_private(wd)
    kid = kid_of(key.public_key())
    pub_pem = (wd / "keys" / "jwt.pub.pem").read_bytes()

    def es(claims: dict[str, Any], headers: dict[str, Any] | None = None, k: Any = key) -> str:
        return jwt.encode(claims, k, algorithm="ES256", headers={"kid": kid, **(headers or {})})

    def resigned_payload() -> str:
        good = es(_claims(role="consulent"))
        h, _, s = good.split(".")
        return f"{h}.{b64url(_claims(role='medisch_adviseur'))}.{s}"

    def embedded_jwk() -> str:
        attacker = ec.generate_private_key(ec.SECP256R1())
        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(attacker.public_key()))
        return jwt.encode(_claims(), attacker, algorithm="ES256", headers={"kid": kid, "jwk": jwk})

    def rs256_attacker_key_right_kid() -> str:
        attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return jwt.encode(_claims(), attacker, algorithm="RS256", headers={"kid": kid})

    return {
        "garbage": lambda: "not-a-token",
        "alg none": lambda: unsigned_token({"alg": "none", "typ": "JWT", "kid": kid}, _claims()),
        "alg None with signature": lambda: unsigned_token({"alg": "None", "kid": kid}, _claims(), b"x" * 64),
        "HS256 signed with the public key": lambda: hs256_with_public_key(_claims(), pub_pem, kid),
        "expired": lambda: es(_claims(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)),
        "expired just past leeway": lambda: es(_claims(exp=int(time.time()) - 40)),
        "not yet valid (nbf)": lambda: es(_claims(nbf=int(time.time()) + 3600)),
        "issued in the future (iat)": lambda: es(_claims(iat=int(time.time()) + 3600)),
        "no exp": lambda: es(_claims(exp=None)),
        "no iat": lambda: es(_claims(iat=None)),
        "wrong aud": lambda: es(_claims(aud="other-service")),
        "aud list without us": lambda: es(_claims(aud=["other-a", "other-b"])),
        "wrong iss": lambda: es(_claims(iss="https://evil.example")),
        "no sub": lambda: es(_claims(sub=None)),
        "no org": lambda: es(_claims(org=None)),
        "role not a string": lambda: es(_claims(role=["medisch_adviseur"])),
        "unknown secrecy": lambda: es(_claims(secrecy="alles")),
        "unknown kid, own key": lambda: jwt.encode(_claims(), ec.generate_private_key(ec.SECP256R1()),
                                                   algorithm="ES256", headers={"kid": secrets.token_hex(8)}),
        "right key, unknown kid": lambda: jwt.encode(_claims(), key, algorithm="ES256",
                                                     headers={"kid": "not-" + kid}),
        "no kid": lambda: jwt.encode(_claims(), key, algorithm="ES256"),
        "kid path traversal": lambda: jwt.encode(_claims(), key, algorithm="ES256",
                                                 headers={"kid": "../../keys/jwt.pub.pem"}),
        "attacker key, right kid": lambda: es(_claims(), k=ec.generate_private_key(ec.SECP256R1())),
        "embedded jwk header": embedded_jwk,
        "RS256 with attacker key and right kid": rs256_attacker_key_right_kid,
        "payload swapped under a valid signature": resigned_payload,
        "oversized (above max_token_bytes)": lambda: es(_claims(pad="x" * 9000)),
        "signature stripped": lambda: es(_claims()).rsplit(".", 1)[0] + ".",
        "two dots extra": lambda: es(_claims()) + ".e30",
    }


FORGERY_NAMES = sorted([
    "garbage", "alg none", "alg None with signature", "HS256 signed with the public key", "expired",
    "expired just past leeway", "not yet valid (nbf)", "issued in the future (iat)", "no exp", "no iat",
    "wrong aud", "aud list without us", "wrong iss", "no sub", "no org", "role not a string", "unknown secrecy",
    "unknown kid, own key", "right key, unknown kid", "no kid", "kid path traversal",
    "attacker key, right kid", "embedded jwk header", "RS256 with attacker key and right kid",
    "payload swapped under a valid signature", "oversized (above max_token_bytes)", "signature stripped",
    "two dots extra"])


def test_forgery_list_is_complete(knmg: Running) -> None:
    assert sorted(_forgeries(knmg.workdir)) == FORGERY_NAMES


@pytest.mark.parametrize("name", FORGERY_NAMES)
def test_forged_token_is_401_and_not_forwarded(knmg: Running, name: str) -> None:
    token = _forgeries(knmg.workdir)[name]()
    before = knmg.mark_upstream()
    failures_before = knmg.metric("sidecar_authn_failures_total")
    r = knmg.proxy("GET", ZAKEN, {"Authorization": f"Bearer {token}", "X-Doelbinding": HULP})
    assert r.status == 401, (name, r.body)
    assert (r.header("www-authenticate") or "").startswith("Bearer"), name
    assert r.header("content-type") == "application/problem+json"
    assert knmg.upstream_since(before) == []
    recs = knmg.records_of(r)
    assert recs and recs[-1]["decision"] == "deny" and recs[-1]["reasons"][0].startswith("AUTHN_")
    assert recs[-1]["subject"] is None  # an unverified token names nobody
    assert knmg.metric("sidecar_authn_failures_total") == failures_before + 1


def test_token_larger_than_the_header_limit_is_refused(knmg: Running) -> None:
    token = _forgeries(knmg.workdir)["oversized (above max_token_bytes)"]().replace("x" * 9000, "x" * 20000)
    before = knmg.mark_upstream()
    r = knmg.proxy("GET", ZAKEN, {"Authorization": f"Bearer {token}", "X-Doelbinding": HULP})
    assert r.status in (400, 401, 431)
    assert knmg.upstream_since(before) == []


# -- JWKS down, slow, storms ---------------------------------------------------------------------

class JwksServer(LoopbackServer):
    """A JWKS endpoint we control: serves the demo key; can be slowed, stopped and restarted."""

    def __init__(self, jwk: dict[str, Any]) -> None:
        self.jwk = jwk
        self.fetches: list[float] = []
        self.delay = 0.0

    def start(self, port: int = 0) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.fetches.append(time.monotonic())
                if outer.delay:
                    time.sleep(outer.delay)
                try:
                    send_json(self, {"keys": [outer.jwk]})
                except OSError:
                    pass  # the client gave up (slow mode)

            def log_message(self, *args: Any) -> None:
                pass

        self.serve(Handler, port)


CACHE_S = 3
MIN_REFRESH_S = 1


@pytest.fixture
def jwks_stack(tmp_path: Path) -> Iterator[tuple[Running, JwksServer]]:
    # The key pair must exist before the JWKS can serve it: make it where the stack will live.
    from sidecar.devtools.keys import ensure_keypair

    wd = tmp_path / "stack"
    wd.mkdir()
    ensure_keypair(wd)
    key = load_private(wd)
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid=kid_of(key.public_key()), use="sig", alg="ES256")
    srv = JwksServer(jwk)
    srv.start()
    stack = start_stack(wd, "knmg", workers=1, config_extra={"jwt": {
        "issuer": DEMO_ISSUER, "audience": DEMO_AUDIENCE, "algorithms": ["ES256"],
        "jwks_url": f"http://127.0.0.1:{srv.port}/jwks.json", "jwks_cache_seconds": CACHE_S,
        "jwks_min_refresh_seconds": MIN_REFRESH_S, "jwks_timeout": {"connect": 0.5, "read": 0.5}}})
    yield Running(stack), srv
    stack.stop()
    srv.stop()


def _get(run: Running, token: str) -> int:
    return run.proxy("GET", ZAKEN, {"Authorization": f"Bearer {token}", "X-Doelbinding": HULP}).status


def test_jwks_down_slow_and_storm(jwks_stack: tuple[Running, JwksServer]) -> None:
    run, srv = jwks_stack
    good = run.token("consulent")
    assert _get(run, good) == 200
    assert len(srv.fetches) == 1

    # A storm of random kids: at most one refresh per jwks_min_refresh_seconds.
    n_before = len(srv.fetches)
    started = time.monotonic()
    key = load_private(run.workdir)
    for _ in range(30):
        forged = jwt.encode(_claims(), key, algorithm="ES256", headers={"kid": secrets.token_hex(8)})
        assert _get(run, forged) == 401
    elapsed = time.monotonic() - started
    fetched = len(srv.fetches) - n_before
    assert fetched <= int(elapsed / MIN_REFRESH_S) + 1, (fetched, elapsed)

    # JWKS down: the cached key keeps working until the cache expires …
    srv.stop()
    last_ok_fetch = srv.fetches[-1]
    assert time.monotonic() - last_ok_fetch < CACHE_S - 0.5, "test too slow to see the cache at work"
    assert _get(run, good) == 200
    # … then verification fails closed.
    time.sleep(max(0.0, last_ok_fetch + CACHE_S + MIN_REFRESH_S + 0.3 - time.monotonic()))
    before = run.mark_upstream()
    kid_failures = run.metric("sidecar_authn_failures_total", reason="AUTHN_KID")
    assert _get(run, good) == 401
    assert run.upstream_since(before) == []
    assert run.metric("sidecar_authn_failures_total", reason="AUTHN_KID") == kid_failures + 1
    assert "jwks_fetch_failed" in run.log()

    # JWKS slow (past its read timeout): still 401 (the fetch gives up at its timeout; how long that
    # takes is a matter for benchmarks, not for this test).
    srv.delay = 3.0
    srv.start(srv.port)
    time.sleep(MIN_REFRESH_S + 0.1)
    assert _get(run, good) == 401

    # Back to normal: recovers on its own within the refresh interval.
    srv.delay = 0.0
    time.sleep(MIN_REFRESH_S + 0.1)
    assert _get(run, good) == 200
