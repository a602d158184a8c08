"""The demo's dev identity provider: an ES256 key pair as PEM files, and token minting.

The ``kid`` is the RFC 7638 JWK thumbprint of the public key, so it follows from the key
itself and needs no extra file; the sidecar's demo config names the same kid.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

DEMO_ISSUER = "https://idp.demo.wams.local"
DEMO_AUDIENCE = "wams-sidecar"
DEMO_ORG = "gemeente-demo"


def _b64(n: int, size: int) -> str:
    return base64.urlsafe_b64encode(n.to_bytes(size, "big")).rstrip(b"=").decode()


def kid_of(public_key: ec.EllipticCurvePublicKey) -> str:
    nums = public_key.public_numbers()
    jwk = {"crv": "P-256", "kty": "EC", "x": _b64(nums.x, 32), "y": _b64(nums.y, 32)}
    digest = hashlib.sha256(json.dumps(jwk, separators=(",", ":"), sort_keys=True).encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def key_paths(workdir: Path) -> tuple[Path, Path]:
    return workdir / "keys" / "jwt.key.pem", workdir / "keys" / "jwt.pub.pem"


def ensure_keypair(workdir: Path) -> str:
    """Create the dev key pair once (kept across demo runs, so minted tokens stay valid)."""
    priv_path, pub_path = key_paths(workdir)
    if not priv_path.exists():
        priv_path.parent.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        fd = os.open(priv_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        pub_path.write_bytes(key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return kid_of(load_private(workdir).public_key())


def load_private(workdir: Path) -> ec.EllipticCurvePrivateKey:
    priv_path, _ = key_paths(workdir)
    key = serialization.load_pem_private_key(priv_path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{priv_path} is not an EC private key")
    return key


def mint(workdir: Path, *, sub: str, role: str, org: str = DEMO_ORG, secrecy: str | None = None,
         ttl: int = 3600, issuer: str = DEMO_ISSUER, audience: str = DEMO_AUDIENCE,
         extra: dict[str, Any] | None = None) -> str:
    key = load_private(workdir)
    now = int(time.time())
    claims: dict[str, Any] = {"iss": issuer, "aud": audience, "sub": sub, "role": role, "org": org,
                              "iat": now, "exp": now + ttl}
    if secrecy is not None:
        claims["secrecy"] = secrecy
    claims.update(extra or {})
    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": kid_of(key.public_key())})
