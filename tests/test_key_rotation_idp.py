"""Rotation of the identity provider's signing keys (docs/key-rotation.md).

Through the real sidecar with a JWKS endpoint the test controls: the IdP publishes the new key
beside the old one, starts signing with it, and later withdraws the old one. A kid the sidecar
has not seen makes it refresh the JWKS at once (at most once per ``jwks_min_refresh_seconds``);
a withdrawn kid stops working once the cached JWKS is refreshed. With PEM keys (no JWKS) every
configured kid is accepted, and a removed one is refused."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from sidecar.auth import Authenticator, AuthError
from sidecar.devtools.keys import DEMO_AUDIENCE, DEMO_ISSUER, DEMO_ORG
from sidecar.settings import JwtSettings, PemKey
from tests.helpers import HULP, ZAKEN, LoopbackServer, Running, send_json, start_stack, wait_for

CACHE_S = 3
MIN_REFRESH_S = 1


def _jwk(key: ec.EllipticCurvePrivateKey, kid: str) -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid=kid, use="sig", alg="ES256")
    return jwk


def _token(key: ec.EllipticCurvePrivateKey, kid: str, sub: str = "c.rotatie") -> str:
    now = int(time.time())
    claims = {"iss": DEMO_ISSUER, "aud": DEMO_AUDIENCE, "sub": sub, "role": "consulent", "org": DEMO_ORG,
              "iat": now, "exp": now + 600}
    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": kid})


class Idp(LoopbackServer):
    """The IdP's JWKS endpoint: publishes ``keys`` (changed by the test) and counts fetches."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.fetches = 0

    def start(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.fetches += 1
                send_json(self, {"keys": list(outer.keys)})

            def log_message(self, *args: Any) -> None:
                pass

        self.serve(Handler)


@pytest.fixture
def idp_stack(tmp_path: Path) -> Iterator[tuple[Running, Idp]]:
    idp = Idp()
    idp.start()
    stack = start_stack(tmp_path / "stack", "knmg", workers=1, config_extra={"jwt": {
        "issuer": DEMO_ISSUER, "audience": DEMO_AUDIENCE, "algorithms": ["ES256"],
        "jwks_url": f"http://127.0.0.1:{idp.port}/jwks.json", "jwks_cache_seconds": CACHE_S,
        "jwks_min_refresh_seconds": MIN_REFRESH_S, "jwks_timeout": {"connect": 0.5, "read": 0.5}}})
    yield Running(stack), idp
    stack.stop()
    idp.stop()


def _get(run: Running, token: str) -> int:
    return run.proxy("GET", ZAKEN, {"Authorization": f"Bearer {token}", "X-Doelbinding": HULP}).status


def test_jwks_rotation_overlap_then_withdrawal(idp_stack: tuple[Running, Idp]) -> None:
    run, idp = idp_stack
    old, new = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    idp.keys = [_jwk(old, "idp-2026-01")]
    assert _get(run, _token(old, "idp-2026-01")) == 200

    # 1. The IdP publishes the new key beside the old one and starts signing with it. The sidecar
    #    has not seen the kid: it refreshes the JWKS on it (rate-limited), before its cache expires.
    idp.keys = [_jwk(old, "idp-2026-01"), _jwk(new, "idp-2026-07")]
    fetches, attempts = idp.fetches, 0

    def new_accepted() -> bool:
        nonlocal attempts
        attempts += 1
        return _get(run, _token(new, "idp-2026-07", sub=f"c.nieuw-{attempts}")) == 200

    wait_for("a token of the newly published kid", new_accepted, timeout=30)
    assert 1 <= idp.fetches - fetches <= attempts  # refreshed for it; never more than once per attempt
    # Both kids are accepted while both are published (tokens of the old key are still about).
    assert _get(run, _token(old, "idp-2026-01", sub="c.oud")) == 200
    assert _get(run, _token(new, "idp-2026-07", sub="c.nieuw")) == 200

    # 2. The IdP withdraws the old key. Once the cached JWKS has been refreshed (at its expiry, or
    #    on the next unknown kid), the old kid is refused with 401, a cached token of it too.
    cached_old = _token(old, "idp-2026-01", sub="c.oud-cached")
    assert _get(run, cached_old) == 200
    idp.keys = [_jwk(new, "idp-2026-07")]
    wait_for("the withdrawn kid refused", lambda: _get(run, cached_old) == 401, timeout=30)
    reply = run.proxy("GET", ZAKEN, {"Authorization": f"Bearer {_token(old, 'idp-2026-01', sub='c.oud-2')}",
                                     "X-Doelbinding": HULP})
    assert reply.status == 401 and "kid" in reply.body.decode()
    assert _get(run, _token(new, "idp-2026-07", sub="c.nieuw-2")) == 200


def _pem(tmp_path: Path, key: ec.EllipticCurvePrivateKey, name: str) -> Path:
    path = tmp_path / f"{name}.pem"
    path.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo))
    return path


def test_pem_keys_several_kids_then_the_old_one_removed(tmp_path: Path) -> None:
    old, new = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    keys = [PemKey(kid="pem-old", file=_pem(tmp_path, old, "old")),
            PemKey(kid="pem-new", file=_pem(tmp_path, new, "new"))]
    both = Authenticator(JwtSettings(issuer=DEMO_ISSUER, audience=DEMO_AUDIENCE, algorithms=["ES256"], keys=keys))
    old_token, new_token = _token(old, "pem-old"), _token(new, "pem-new")
    assert both.authenticate(f"Bearer {old_token}").sub == both.authenticate(f"Bearer {new_token}").sub
    # A token must name the key that signed it: the new key under the old kid is refused.
    with pytest.raises(AuthError):
        both.authenticate(f"Bearer {_token(new, 'pem-old')}")
    # After the old key is removed from the configuration (and the sidecar reloaded):
    only_new = Authenticator(JwtSettings(issuer=DEMO_ISSUER, audience=DEMO_AUDIENCE, algorithms=["ES256"],
                                         keys=[PemKey(kid="pem-new", file=_pem(tmp_path, new, "new"))]))
    with pytest.raises(AuthError) as err:
        only_new.authenticate(f"Bearer {old_token}")
    assert err.value.code == "AUTHN_KID"
    assert only_new.authenticate(f"Bearer {new_token}").sub == "c.rotatie"


def test_jwks_file_is_read_again_when_the_authenticator_is_made(tmp_path: Path) -> None:
    """A JWKS file (jwt.jwks_file) is read when a worker starts: after SIGHUP the new workers see
    the file's new keys without a configuration change."""
    old, new = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "jwks.json"
    settings = JwtSettings(issuer=DEMO_ISSUER, audience=DEMO_AUDIENCE, algorithms=["ES256"], jwks_file=path)
    path.write_text(json.dumps({"keys": [_jwk(old, "f-old")]}))
    before = Authenticator(settings)
    path.write_text(json.dumps({"keys": [_jwk(old, "f-old"), _jwk(new, "f-new")]}))
    with pytest.raises(AuthError):
        before.authenticate(f"Bearer {_token(new, 'f-new')}")
    after = Authenticator(settings)
    assert after.authenticate(f"Bearer {_token(new, 'f-new')}").sub == "c.rotatie"
    assert after.authenticate(f"Bearer {_token(old, 'f-old')}").sub == "c.rotatie"
