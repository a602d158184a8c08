"""Authenticator unit tests: the verified-token cache never outlives a token's validity."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from sidecar.auth import Authenticator, AuthError
from sidecar.settings import JwtSettings, PemKey


@pytest.fixture
def key_and_auth(tmp_path: Path) -> tuple[ec.EllipticCurvePrivateKey, Authenticator]:
    key = ec.generate_private_key(ec.SECP256R1())
    pub = tmp_path / "pub.pem"
    pub.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo))
    settings = JwtSettings(issuer="iss", audience="aud", algorithms=["ES256"], leeway_seconds=0,
                           keys=[PemKey(kid="k1", file=pub)])
    return key, Authenticator(settings)


def _token(key: ec.EllipticCurvePrivateKey, ttl: float, **extra: object) -> str:
    now = int(time.time())
    claims = {"iss": "iss", "aud": "aud", "sub": "u", "role": "consulent", "org": "o", "iat": now,
              "exp": now + ttl, **extra}
    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": "k1"})


def test_cached_token_expires_on_time(key_and_auth: tuple[ec.EllipticCurvePrivateKey, Authenticator]) -> None:
    key, auth = key_and_auth
    tok = _token(key, 1)
    assert auth.authenticate(f"Bearer {tok}").sub == "u"
    assert auth.authenticate(f"Bearer {tok}").sub == "u"  # from the cache
    time.sleep(2.1)
    with pytest.raises(AuthError) as exc:
        auth.authenticate(f"Bearer {tok}")
    assert exc.value.code == "AUTHN_EXPIRED"


def test_cache_is_keyed_on_the_whole_token(key_and_auth: tuple[ec.EllipticCurvePrivateKey, Authenticator]) -> None:
    key, auth = key_and_auth
    tok = _token(key, 600)
    auth.authenticate(f"Bearer {tok}")
    sig = tok.split(".")[2]
    forged = jwt.encode({"iss": "iss", "aud": "aud", "sub": "admin", "role": "fg", "org": "o",
                         "iat": int(time.time()), "exp": int(time.time()) + 600},
                        ec.generate_private_key(ec.SECP256R1()), algorithm="ES256", headers={"kid": "k1"})
    with pytest.raises(AuthError):
        auth.authenticate(f"Bearer {forged}")
    with pytest.raises(AuthError):  # a valid token's signature on another body
        auth.authenticate(f"Bearer {forged.split('.')[0]}.{forged.split('.')[1]}.{sig}")
