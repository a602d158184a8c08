"""Authentication: verify the caller's JWT and turn its claims into an identity.

Rules that matter for security, in one place:
- Every token must name a ``kid`` that matches a configured key, even when only one key is
  configured, so a rotated-out key cannot keep working by accident.
- The algorithm must be on the allow-list *and* fit the key type: an RSA public key is never
  used as an HMAC secret, ``none`` is never accepted.
- ``iss``, ``aud``, ``exp``, ``iat`` and ``sub`` are required; ``iat``/``nbf`` in the future
  (past the leeway) are rejected.
- A JWKS URL is fetched with timeouts and cached; an unknown ``kid`` triggers at most one
  refresh per ``jwks_min_refresh_seconds`` (no fetch storm on random kids); when the endpoint
  is down and the cache has expired, verification fails closed.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

import jwt
import urllib3
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from sidecar.settings import JwtSettings
from sidecar.tls import ca_context, inherited
from sidecar.vocab import SECRECY_VALUES

log = logging.getLogger("sidecar.auth")

_TOKEN_RX = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_ALG_FAMILY = {"RS": "RSA", "PS": "RSA", "ES": "EC"}
_CACHE_ENTRIES = 4096
_CACHE_SECONDS = 60.0
_EC_CURVE_ALG = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}


class AuthError(Exception):
    """401. ``detail`` is user-facing (Dutch); ``code`` is the record's reason."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Identity:
    sub: str
    role: str
    org: str
    secrecy: str
    # Organisational units the user works in (claim ``teams``, optional): a rol naming one of
    # them as ``organisatorische_eenheid`` relates the user to that zaak.
    teams: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Key:
    key: Any
    family: str
    curve_alg: str | None


def _wrap_key(key: Any) -> _Key:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < 2048:
            raise ValueError("RSA keys shorter than 2048 bits are refused")
        return _Key(key, "RSA", None)
    if isinstance(key, ec.EllipticCurvePublicKey):
        return _Key(key, "EC", _EC_CURVE_ALG.get(key.curve.name))
    raise ValueError(f"unsupported public key type {type(key).__name__}")


def load_pem_public_key(data: bytes) -> Any:
    from cryptography.hazmat.primitives.serialization import load_pem_public_key as _load

    return _load(data)


def _keys_from_jwks(doc: Any) -> dict[str, _Key]:
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
        raise ValueError("a JWKS is an object with a 'keys' list")
    out: dict[str, _Key] = {}
    for jwk in doc["keys"]:
        if not isinstance(jwk, dict) or not isinstance(jwk.get("kid"), str):
            continue  # keys without kid can never be selected
        if jwk.get("use", "sig") != "sig":
            continue
        kty = jwk.get("kty")
        text = json.dumps(jwk)
        if kty == "RSA":
            out[jwk["kid"]] = _wrap_key(RSAAlgorithm.from_jwk(text))
        elif kty == "EC":
            out[jwk["kid"]] = _wrap_key(ECAlgorithm.from_jwk(text))
    return out


class _JwksCache:
    def __init__(self, url: str, settings: JwtSettings) -> None:
        self._url = url
        self._ttl = settings.jwks_cache_seconds
        self._min_refresh = settings.jwks_min_refresh_seconds
        self._http = urllib3.PoolManager(
            num_pools=1, maxsize=2, retries=False,
            # jwt.jwks_ca_file instead of the system's CAs when set (an IdP with an internal CA).
            ssl_context=inherited("jwt.jwks_ca_file") or ca_context(settings.jwks_ca_file, "jwt.jwks_ca_file"),
            timeout=urllib3.Timeout(connect=settings.jwks_timeout.connect,
                                    read=settings.jwks_timeout.read))
        self._keys: dict[str, _Key] = {}
        self._fetched_at = float("-inf")
        self._attempted_at = float("-inf")
        self._lock = threading.Lock()

    def _refresh(self, now: float) -> None:
        self._attempted_at = now
        try:
            resp = self._http.request("GET", self._url, headers={"Accept": "application/json"})
            if resp.status != 200:
                raise ValueError(f"HTTP {resp.status}")
            self._keys = _keys_from_jwks(json.loads(resp.data))
            self._fetched_at = now
        except Exception as exc:  # network errors, bad JSON, bad keys: all mean "no fresh keys"
            from sidecar import metrics  # imported late: prometheus' multiprocess dir is set by then

            metrics.jwks_fetch_errors_total.inc()
            log.warning("jwks fetch failed", extra={"event": "jwks_fetch_failed", "error": str(exc)})

    def get(self, kid: str) -> _Key | None:
        with self._lock:
            now = time.monotonic()
            expired = now - self._fetched_at > self._ttl
            unknown = kid not in self._keys
            if (expired or unknown) and now - self._attempted_at >= self._min_refresh:
                self._refresh(now)
            if now - self._fetched_at > self._ttl:
                return None  # fail closed: no key material we may still trust
            return self._keys.get(kid)


class Authenticator:
    def __init__(self, settings: JwtSettings) -> None:
        self._s = settings
        self._static: dict[str, _Key] = {}
        for k in settings.keys:
            self._static[k.kid] = _wrap_key(load_pem_public_key(k.file.read_bytes()))
        if settings.jwks_file is not None:
            self._static.update(_keys_from_jwks(json.loads(settings.jwks_file.read_bytes())))
        self._jwks = _JwksCache(settings.jwks_url, settings) if settings.jwks_url else None
        self._allowed = frozenset(settings.algorithms)
        # Verified tokens: a signature check costs more than the rest of authentication, and
        # clients send the same token many times. Keyed on the whole token; time claims are
        # still checked on every use, and an entry lives at most _CACHE_SECONDS.
        self._verified: dict[str, tuple[Identity, float, float, float, str, _Key]] = {}
        self._verified_lock = threading.Lock()

    def _key_for(self, kid: str) -> _Key | None:
        key = self._static.get(kid)
        if key is None and self._jwks is not None:
            key = self._jwks.get(kid)
        return key

    def authenticate(self, header: str | None) -> Identity:
        if header is None:
            raise AuthError("AUTHN_MISSING", "Er is geen Bearer-token meegestuurd.")
        if len(header) > self._s.max_token_bytes + 7:
            raise AuthError("AUTHN_OVERSIZED", "Het token is te groot.")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not _TOKEN_RX.fullmatch(token):
            raise AuthError("AUTHN_MALFORMED", "De Authorization-header is geen geldig Bearer-token.")
        cached = self._verified.get(token)
        if cached is not None:
            ident, exp, not_before, stored_until, kid, key = cached
            now = time.time()
            leeway = self._s.leeway_seconds
            # The key must still be trusted right now: a JWKS whose cache expired (endpoint
            # down) or that no longer lists the kid (rotation) ends the token's validity here
            # too, not up to _CACHE_SECONDS later. For JWKS keys this lookup is what triggers
            # the (rate-limited) refresh.
            if now < stored_until and now <= exp + leeway and now >= not_before - leeway \
                    and self._key_for(kid) is key:
                return ident
            with self._verified_lock:
                self._verified.pop(token, None)
            if now > exp + leeway:
                raise AuthError("AUTHN_EXPIRED", "Het token is verlopen.")
        ident, claims, kid, key = self._verify(token)
        exp = float(claims["exp"])
        not_before = max(float(claims.get("nbf", 0) or 0), float(claims["iat"]))
        with self._verified_lock:
            if len(self._verified) >= _CACHE_ENTRIES:
                self._verified.pop(next(iter(self._verified)))  # oldest first
            self._verified[token] = (ident, exp, not_before, time.time() + _CACHE_SECONDS, kid, key)
        return ident

    def _verify(self, token: str) -> tuple[Identity, dict[str, Any], str, _Key]:
        """Check the token fully; returns its identity, claims, and the kid and key it was verified with."""
        try:
            head = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthError("AUTHN_MALFORMED", "Het token kan niet worden gelezen.") from None
        alg, kid = head.get("alg"), head.get("kid")
        if not isinstance(alg, str) or alg not in self._allowed:
            raise AuthError("AUTHN_ALG", "Het algoritme van het token is niet toegestaan.")
        if not isinstance(kid, str) or not kid:
            raise AuthError("AUTHN_KID", "Het token noemt geen bekende sleutel (kid).")
        key = self._key_for(kid)
        if key is None:
            raise AuthError("AUTHN_KID", "Het token noemt geen bekende sleutel (kid).")
        if _ALG_FAMILY.get(alg[:2]) != key.family or (key.curve_alg and alg != key.curve_alg):
            raise AuthError("AUTHN_ALG", "Het algoritme past niet bij de sleutel.")
        try:
            claims = jwt.decode(
                token, key.key, algorithms=[alg], audience=self._s.audience, issuer=self._s.issuer,
                leeway=self._s.leeway_seconds,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]})
        except jwt.ExpiredSignatureError:
            raise AuthError("AUTHN_EXPIRED", "Het token is verlopen.") from None
        except jwt.ImmatureSignatureError:
            raise AuthError("AUTHN_NOT_YET_VALID", "Het token is nog niet geldig.") from None
        except (jwt.InvalidAudienceError, jwt.InvalidIssuerError):
            raise AuthError("AUTHN_ISS_AUD", "Het token is niet voor deze dienst uitgegeven.") from None
        except jwt.PyJWTError:
            raise AuthError("AUTHN_INVALID", "Het token is ongeldig.") from None
        iat = claims.get("iat")
        if not isinstance(iat, int | float) or iat > time.time() + self._s.leeway_seconds:
            raise AuthError("AUTHN_NOT_YET_VALID", "Het token is nog niet geldig.")
        if not isinstance(claims.get("exp"), int | float):
            raise AuthError("AUTHN_INVALID", "Het token is ongeldig.")
        return self._identity(claims), claims, kid, key

    def _identity(self, claims: dict[str, Any]) -> Identity:
        names = self._s.claims
        sub, role, org = claims.get(names.sub), claims.get(names.role), claims.get(names.org)
        secrecy = claims.get(names.secrecy, "geen")
        for label, value in (("sub", sub), ("role", role), ("org", org)):
            if not isinstance(value, str) or not value or len(value) > 256:
                raise AuthError("AUTHN_CLAIMS", f"Het token mist een geldige claim '{label}'.")
        if secrecy not in SECRECY_VALUES:
            raise AuthError("AUTHN_CLAIMS", "De claim 'secrecy' heeft een onbekende waarde.")
        teams = claims.get(names.teams, [])
        if not isinstance(teams, list) or len(teams) > 64 or not all(
                isinstance(t, str) and t and len(t) <= 256 for t in teams):
            raise AuthError("AUTHN_CLAIMS", "De claim 'teams' moet een lijst van team-identificaties zijn.")
        assert isinstance(sub, str) and isinstance(role, str) and isinstance(org, str)
        return Identity(sub=sub, role=role, org=org, secrecy=str(secrecy), teams=tuple(dict.fromkeys(teams)))
