"""One validated settings object: a YAML file plus ``SIDECAR_*`` environment overrides.

Every value the sidecar uses at run time comes from here, checked once at start-up. A bad value
stops start-up with a message that names the key and says what was expected
(:class:`ConfigError`), never a stack trace and never a silent default for something that
matters to security (keys, issuer, audience, profile).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sidecar.pseudonyms import MAX_VERSION, Keyring
from sidecar.routes import DEFAULT_ROUTES, RouteSpec
from sidecar.vocab import MAPPED_CATEGORIES as CATEGORIES

ENV_PREFIX = "SIDECAR_"
# SIDECAR_* variables that are not config overrides (read by the demo and tools, not by serve).
NON_CONFIG_ENV = frozenset({"SIDECAR_CONFIG", "SIDECAR_OPA_BIN", "SIDECAR_DEMO_WORKDIR", "SIDECAR_INSTANCE"})
SUPPORTED_ALGS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")


class ConfigError(Exception):
    """Start-up configuration is invalid; the message is meant for the operator."""


class _Strict(BaseModel):
    # Unknown keys are errors: a misspelt key must not silently fall back to a default. A field's
    # docstring is its description: docs/configuration.md is generated from them.
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


def _parse_hostport(value: str) -> tuple[str, int]:
    m = re.fullmatch(r"\[?([^\[\]]+?)\]?:(\d{1,5})", value)
    if not m or not 0 <= int(m.group(2)) <= 65535:
        raise ValueError(f"expected HOST:PORT, got {value!r}")
    return m.group(1), int(m.group(2))


class Timeouts(_Strict):
    connect: float = Field(default=2.0, gt=0, le=60)
    """Seconds to wait for a connection."""
    read: float = Field(default=30.0, gt=0, le=600)
    """Seconds to wait for an answer once connected."""


class OpaTimeouts(Timeouts):
    # A decision on loopback takes well under a millisecond; waiting longer only queues requests.
    connect: float = Field(default=0.25, gt=0, le=60)
    """Seconds to wait for a connection to OPA."""
    read: float = Field(default=1.0, gt=0, le=600)
    """Seconds to wait for OPA's decision. With engine wasm: how long one evaluation may run before
    it is interrupted, and how long a decision waits for a free instance (either fails closed)."""


class JwksTimeouts(Timeouts):
    connect: float = Field(default=1.0, gt=0, le=60)
    """Seconds to wait for a connection to the JWKS endpoint."""
    read: float = Field(default=2.0, gt=0, le=600)
    """Seconds to wait for the JWKS endpoint's answer."""


class ListenTlsSettings(_Strict):
    """TLS on the sidecar's own listeners (docs/tls.md): the proxy and the console always, the
    admin listener only with ``admin: true``. One certificate serves them all."""

    cert_file: Path
    """PEM certificate chain the listeners present (the server certificate first)."""
    key_file: Path
    """PEM private key of that certificate (unencrypted; readable only by the sidecar)."""
    client_ca_file: Path | None = None
    """PEM CA certificate(s); when set, every client must present a certificate they signed."""
    minimum_version: Literal["TLSv1.2", "TLSv1.3"] = "TLSv1.2"
    """Lowest TLS version accepted from clients."""
    admin: bool = False
    """Serve the admin listener with TLS too (probes and scrapers then need https, and a client
    certificate when client_ca_file is set); off, it stays plain HTTP."""


class ListenSettings(_Strict):
    proxy: str = "127.0.0.1:8080"
    """HOST:PORT the proxy (client requests) listens on."""
    admin: str = "127.0.0.1:9180"
    """HOST:PORT of the admin listener (health, readiness, metrics); never the proxy's port."""
    public_url: str | None = Field(default=None, pattern=r"^https?://[^/?#]+(/[^?#]*)?$")
    """The sidecar's base URL as clients reach it (behind an ingress: its external URL). Links in
    answers are rewritten to it; unset, it is taken from each request's scheme and Host."""
    tls: ListenTlsSettings | None = None
    """TLS on the proxy and console listeners (and optionally admin); unset, they speak plain HTTP."""

    @field_validator("proxy", "admin")
    @classmethod
    def _hostport(cls, v: str) -> str:
        _parse_hostport(v)
        return v

    @model_validator(mode="after")
    def _distinct(self) -> ListenSettings:
        if _parse_hostport(self.proxy)[1] == _parse_hostport(self.admin)[1] != 0:
            raise ValueError("proxy and admin must listen on different ports "
                             "(metrics are never served on the proxy port)")
        return self

    @property
    def proxy_addr(self) -> tuple[str, int]:
        return _parse_hostport(self.proxy)

    @property
    def admin_addr(self) -> tuple[str, int]:
        return _parse_hostport(self.admin)


class ServerSettings(_Strict):
    workers: int = Field(default=2, ge=1, le=64)
    """Gunicorn worker processes."""
    threads: int = Field(default=8, ge=1, le=256)
    """Threads per worker (requests one worker serves at once)."""
    graceful_timeout: float = Field(default=10, gt=0)
    """Seconds a worker gets to finish its requests on shutdown or restart."""


class ZgwJwtSettings(_Strict):
    """Credentials for a real ZGW upstream (JWT-ZGW, HS256, one token per request)."""

    client_id: str = Field(min_length=1)
    """The sidecar's client_id at the upstream (claims iss and client_id of the tokens it signs)."""
    secret: str | None = None
    """The shared HS256 secret (prefer secret_file); exactly one of secret and secret_file."""
    secret_file: Path | None = None
    """File holding the shared secret (relative to the config file's folder)."""
    ttl_seconds: int = Field(default=300, ge=10, le=3600)
    """Lifetime of each token the sidecar signs."""

    @model_validator(mode="after")
    def _one_secret(self) -> ZgwJwtSettings:
        if (self.secret is None) == (self.secret_file is None):
            raise ValueError("set exactly one of secret and secret_file")
        return self

    def secret_bytes(self) -> bytes:
        if self.secret is not None:
            return self.secret.encode()
        assert self.secret_file is not None
        return self.secret_file.read_bytes().strip()


class UpstreamTlsSettings(_Strict):
    """How the sidecar verifies an https upstream and proves itself to it (docs/tls.md)."""

    ca_file: Path | None = None
    """PEM CA bundle that verifies the upstream's certificate instead of the system's CAs."""
    client_cert_file: Path | None = None
    """PEM client certificate for mutual TLS with the upstream (with client_key_file, or the key
    in the same file)."""
    client_key_file: Path | None = None
    """PEM private key of client_cert_file (unencrypted)."""

    @model_validator(mode="after")
    def _pair(self) -> UpstreamTlsSettings:
        if self.client_key_file is not None and self.client_cert_file is None:
            raise ValueError("client_key_file needs client_cert_file")
        return self


class UpstreamSettings(_Strict):
    url: str = "http://127.0.0.1:8081"
    """Base URL of the ZGW upstream (Open Zaak) requests are forwarded to."""
    advertised_url: str | None = Field(default=None, pattern=r"^https?://[^/?#]+(/[^?#]*)?$")
    """The base the upstream writes into its own URLs, when it differs from ``url`` (Open Zaak's
    configured domain, while the sidecar reaches it on an internal address)."""
    timeout: Timeouts = Timeouts()
    """Timeouts of upstream calls."""
    pool_size: int = Field(default=16, ge=1, le=1024)
    """Pooled connections to the upstream, per worker process."""
    max_request_body_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    """Largest request body accepted from a client; a larger one is refused (body_too_large)."""
    max_inspected_response_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    """Largest upstream answer the sidecar reads to decide on; a larger one is not released."""
    zgw_jwt: ZgwJwtSettings | None = None
    """Credentials for a real ZGW upstream (JWT-ZGW, HS256, one token per request); unset, no
    Authorization is sent upstream."""
    resolve_zaak_betrokkenen: bool = True
    """On a zaak detail read, look up its rollen so the record names the data subjects (one extra
    upstream call per zaak read; lists of zaken are not resolved)."""
    tls: UpstreamTlsSettings | None = None
    """CA bundle and client certificate for an https upstream; unset, the system's CAs verify it."""

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not re.fullmatch(r"https?://[^/?#\s]+(/[^?#\s]*)?", v):
            raise ValueError(f"expected an http(s) URL without query, got {v!r}")
        return v.rstrip("/")

    @model_validator(mode="after")
    def _tls_needs_https(self) -> UpstreamSettings:
        if self.tls is not None and not self.url.startswith("https://"):
            # Certificates for a plain-HTTP upstream would be silently unused.
            raise ValueError("tls is set but url is not https://")
        return self


class BundlePolling(_Strict):
    # As OPA's bundle polling (deploy/opa/config.yaml): a random delay spreads replicas' requests.
    min_delay_seconds: float = Field(default=30.0, gt=0, le=86400)
    """Shortest wait between two downloads of the bundle."""
    max_delay_seconds: float = Field(default=120.0, gt=0, le=86400)
    """Longest wait between two downloads of the bundle (also the longest back-off after a failure)."""

    @model_validator(mode="after")
    def _order(self) -> BundlePolling:
        if self.max_delay_seconds < self.min_delay_seconds:
            raise ValueError("max_delay_seconds is below min_delay_seconds")
        return self


class OpaSettings(_Strict):
    url: str = "http://127.0.0.1:8181"
    """OPA's address: http://HOST:PORT or unix:///PATH (a Unix socket)."""
    decision_path: str = "wams/authz/decision"
    """The rule that gives the decision, as a slash-separated path."""
    timeout: OpaTimeouts = OpaTimeouts()
    """Timeouts of calls to OPA."""
    pool_size: int = Field(default=16, ge=1, le=1024)
    """Pooled connections to OPA, per worker process."""
    engine: Literal["rest", "wasm"] = "wasm"
    """Who decides for the proxy: OPA's Wasm compilation of the policies in this process (needs
    wasm_bundle or wasm_bundle_url), or OPA over its REST API at url (rest). explain, the decision
    API and the console always ask the OPA server at ``url``."""
    wasm_bundle: Path | None = None
    """The Wasm bundle (output of opa build -t wasm; make wasm-bundle); with wasm_bundle_url, where
    the last verified download is kept (it survives a restart while the bundle server is down)."""
    wasm_bundle_url: str | None = None
    """http(s) URL of the signed Wasm bundle on the bundle server (make bundle publishes it as
    bundle-wasm.tar.gz), downloaded in the background; needs wasm_bundle and wasm_bundle_public_key."""
    wasm_bundle_ca_file: Path | None = None
    """PEM CA bundle that verifies an https wasm_bundle_url instead of the system's CAs."""
    wasm_bundle_token_file: Path | None = None
    """File holding a bearer token sent with every download of wasm_bundle_url (Authorization:
    Bearer), for a bundle server that needs one, as OPA's credentials.bearer; read at each download,
    so a rotated token needs no restart. Needs wasm_bundle_url."""
    wasm_bundle_polling: BundlePolling = BundlePolling()
    """How often wasm_bundle_url is asked for a new bundle (a random delay between the two)."""
    wasm_bundle_timeout: Timeouts = Timeouts(connect=5.0, read=30.0)
    """Timeouts of downloading wasm_bundle_url."""
    wasm_instances: int = Field(default=2, ge=1, le=64)
    """Wasm instances per worker process, shared by its threads (each holds a copy of the policy data;
    more than the cores buys nothing); a decision that finds none free within timeout.read fails closed."""
    wasm_reload_seconds: float = Field(default=5.0, gt=0, le=3600)
    """How often the Wasm bundle file is checked for a new version."""
    wasm_bundle_public_key: Path | None = None
    """A PEM public key; when set, only Wasm bundles signed with it load."""
    wasm_bundle_signing_alg: Literal["RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                                     "ES256", "ES384", "ES512"] = "RS256"
    """Signature algorithm of signed Wasm bundles."""

    @model_validator(mode="after")
    def _wasm(self) -> OpaSettings:
        # An engine wasm without a bundle is refused by Settings (_wasm_bundle), not here: an
        # OpaSettings(url=...) alone also configures a client of the OPA server (explain, tools).
        if self.wasm_bundle_url is not None:
            if not re.fullmatch(r"https?://[^/?#\s]+(/\S*)?", self.wasm_bundle_url):
                raise ValueError("opa.wasm_bundle_url: expected an http:// or https:// URL, "
                                 f"got {self.wasm_bundle_url!r}")
            if self.wasm_bundle is None:
                raise ValueError("opa.wasm_bundle_url needs opa.wasm_bundle (the file that keeps the last "
                                 "verified download)")
            # Nothing fetched over the network is used unverified.
            if self.wasm_bundle_public_key is None:
                raise ValueError("opa.wasm_bundle_url needs opa.wasm_bundle_public_key (downloaded bundles "
                                 "must be signed)")
        if self.wasm_bundle_ca_file is not None and not (self.wasm_bundle_url or "").startswith("https://"):
            raise ValueError("opa.wasm_bundle_ca_file is set but opa.wasm_bundle_url is not https://")
        if self.wasm_bundle_token_file is not None and self.wasm_bundle_url is None:
            raise ValueError("opa.wasm_bundle_token_file is set but opa.wasm_bundle_url is not")
        return self

    def wasm_bundle_token(self) -> str | None:
        """The bearer token for wasm_bundle_url, read now (None without a token file). Raises
        OSError when the file cannot be read, ValueError when it holds no usable token."""
        if self.wasm_bundle_token_file is None:
            return None
        try:
            token = self.wasm_bundle_token_file.read_bytes().decode("utf-8").strip()
        except UnicodeDecodeError:  # its message would quote a byte of the secret
            raise ValueError(f"{self.wasm_bundle_token_file} is not UTF-8 text") from None
        if not token or any(c.isspace() or not c.isprintable() for c in token):
            raise ValueError(f"{self.wasm_bundle_token_file} does not hold one token (empty, or with spaces or "
                             f"control characters)")
        return token

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if v.startswith("unix://"):
            if not v[len("unix://"):].startswith("/"):
                raise ValueError("a unix socket URL needs an absolute path: unix:///run/opa.sock")
            return v
        if not re.fullmatch(r"https?://[^/?#\s]+/?", v):
            raise ValueError(f"expected http://HOST:PORT or unix:///PATH, got {v!r}")
        return v.rstrip("/")

    @field_validator("decision_path")
    @classmethod
    def _path(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*", v):
            raise ValueError(f"expected a slash-separated rule path like wams/authz/decision, got {v!r}")
        return v


class PemKey(_Strict):
    kid: str = Field(min_length=1)
    """The key id a token's header names (kid)."""
    file: Path
    """PEM public key file (relative to the config file's folder)."""


class ClaimNames(_Strict):
    sub: str = "sub"
    """Claim with the user's identifier."""
    role: str = "role"
    """Claim with the user's role."""
    org: str = "org"
    """Claim with the user's organisation identifier."""
    secrecy: str = "secrecy"
    """Claim with the user's duty of secrecy (wettelijk, beroepscode, geen; absent: geen)."""
    teams: str = "teams"
    """Claim with the organisational units the user works in (a list; optional)."""


class JwtSettings(_Strict):
    issuer: str = Field(min_length=1)
    """The iss every token must carry."""
    audience: str = Field(min_length=1)
    """The aud every token must carry."""
    algorithms: list[str] = ["RS256", "ES256"]
    """Accepted signature algorithms (HS* and none are refused)."""
    leeway_seconds: int = Field(default=30, ge=0, le=300)
    """Clock skew allowed on exp, nbf and iat."""
    max_token_bytes: int = Field(default=8192, ge=512, le=65536)
    """Longest bearer token accepted."""
    keys: list[PemKey] = []
    """Static public keys, each {kid, file}; at least one of keys, jwks_file and jwks_url."""
    jwks_file: Path | None = None
    """A JWKS file with the public keys."""
    jwks_url: str | None = None
    """A JWKS endpoint; its keys are fetched and cached."""
    jwks_cache_seconds: int = Field(default=300, ge=1)
    """How long keys fetched from jwks_url are used before they are fetched again."""
    jwks_min_refresh_seconds: int = Field(default=30, ge=1)
    """Least time between two fetches of jwks_url (a token with an unknown kid causes no fetch storm)."""
    jwks_timeout: JwksTimeouts = JwksTimeouts()
    """Timeouts of fetching jwks_url."""
    jwks_ca_file: Path | None = None
    """PEM CA bundle that verifies an https jwks_url instead of the system's CAs."""
    claims: ClaimNames = ClaimNames()
    """The names of the claims the sidecar reads, when the identity provider uses others."""

    @field_validator("algorithms")
    @classmethod
    def _algs(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("at least one algorithm is needed")
        bad = [a for a in v if a not in SUPPORTED_ALGS]
        if bad:
            # HS* and none are refused on purpose: a public key must never double as an HMAC
            # secret, and unsigned tokens are not tokens.
            raise ValueError(f"unsupported {bad}; allowed: {', '.join(SUPPORTED_ALGS)}")
        return v

    @model_validator(mode="after")
    def _jwks_ca(self) -> JwtSettings:
        if self.jwks_ca_file is not None and not (self.jwks_url or "").startswith("https://"):
            raise ValueError("jwks_ca_file is set but jwks_url is not https://")
        return self

    @model_validator(mode="after")
    def _some_key(self) -> JwtSettings:
        if not (self.keys or self.jwks_file or self.jwks_url):
            raise ValueError("configure keys (PEM files with a kid), jwks_file or jwks_url")
        return self


class CatalogueSettings(_Strict):
    """Type URL → data category. Unknown types become ``onbekend``, never ``algemeen``."""

    informatieobjecttypen: dict[str, str] = {}
    """Informatieobjecttype URL → category of documents of that type; a type not listed is onbekend."""
    zaaktypen: dict[str, str] = {}
    """Zaaktype URL → category of zaken of that type (and of their rollen, statussen, resultaten,
    …); a type not listed is onbekend."""
    defaults: dict[str, str] = {"rol": "algemeen"}
    """Resource type → category, for resource types without a type field (a ``rol`` names its
    zaak, not a type). Replaces the default as a whole. The sidecar gives a rol it reads or creates
    its zaak's category (onbekend when it names no zaak of this upstream); this is the fallback.
    A resource type not listed is onbekend."""
    coordinator_roltypen: list[str] = []
    """Roltype URLs whose creation is a coordinator appointment (rules K1, K2); empty, serve
    refuses to start."""
    roltypen: dict[str, str] = {}
    """Roltype URL → the relation kind the policy sees for a rol of that type naming the caller
    (need-to-know: behandelaar, coordinator, medisch_adviseur, casusoverleg, zvh_overdracht, …).
    A coordinator roltype is kind ``coordinator`` unless mapped here; any other roltype ``overig``."""

    @field_validator("roltypen", mode="after")
    @classmethod
    def _kinds(cls, v: dict[str, str]) -> dict[str, str]:
        for url, kind in v.items():
            if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", kind) or kind in ("creator", "writer"):
                raise ValueError(f"{url}: a relation kind is a lower-case code (not creator/writer), got {kind!r}")
        return v

    @field_validator("informatieobjecttypen", "zaaktypen", "defaults", mode="after")
    @classmethod
    def _cats(cls, v: dict[str, str]) -> dict[str, str]:
        for url, cat in v.items():
            if cat not in CATEGORIES:
                raise ValueError(f"{url}: category must be one of {', '.join(CATEGORIES)}, got {cat!r}")
        return v


class PolicySettings(_Strict):
    profile: str = Field(default="knmg", pattern=r"^[a-z][a-z0-9_]{0,63}$")
    """The policy profile: a folder of policies/profiles/ (knmg, wetsvoorstel)."""


class RecordSettings(_Strict):
    path: Path = Path("records.jsonl")
    """The processing-record file (JSON lines, hash-chained), relative to the config file's folder."""
    per_instance: bool = False
    """One file per replica: records.jsonl becomes records-<instance>.jsonl in the same folder
    (instance: SIDECAR_INSTANCE, else the host name), so replicas on a shared volume never
    share a chain, and a restarted replica of the same name continues its own."""
    head_log_interval_seconds: float = Field(default=60, gt=0)
    """How often the chain's head (hash of the last record) is logged (event records_head)."""
    rotate_max_bytes: int | None = Field(default=None, ge=4096)
    """Rotate the live records file once it holds this many bytes (off when unset): it is renamed to
    <name>.<UTC time>.jsonl and the new file continues its chain (docs/records.md)."""
    rotate_daily: bool = False
    """Rotate the live records file at the first write of a new UTC day."""
    checkpoint_interval_seconds: float = Field(default=300, gt=0)
    """How often each worker notes the live file's size and head in the instance's manifest, so
    that records verify notices a truncation of the file since then."""
    verify_status_file: Path | None = None
    """The Prometheus text file the nightly records verify --metrics-file writes; the admin /metrics
    exports its gauges (Kubernetes; systemd hosts use node_exporter's textfile collector instead)."""


def _read_pseudonym_key(key: str | None, key_file: Path | None) -> bytes:
    raw = key.encode() if key is not None else key_file.read_bytes().strip()  # type: ignore[union-attr]
    if len(raw) < 16:
        raise ValueError("the pseudonymisation key must be at least 16 bytes")
    return raw


class PseudonymKey(_Strict):
    """One version of the pseudonymisation key (docs/key-rotation.md)."""

    version: int = Field(ge=1, le=MAX_VERSION)
    """The key's version: pseudonyms under version 1 look as before versions existed
    (hmac-sha256:HEX), later ones name it (hmac-sha256:vN:HEX)."""
    key: str | None = None
    """The key (at least 16 bytes; prefer key_file); exactly one of key and key_file."""
    key_file: Path | None = None
    """File holding the key (relative to the config file's folder)."""

    @model_validator(mode="after")
    def _one(self) -> PseudonymKey:
        if (self.key is None) == (self.key_file is None):
            raise ValueError("set exactly one of key and key_file")
        return self

    def key_bytes(self) -> bytes:
        return _read_pseudonym_key(self.key, self.key_file)


class PseudonymSettings(_Strict):
    key: str | None = None
    """The key that pseudonymises BSNs in records (HMAC, at least 16 bytes; prefer key_file);
    exactly one of key, key_file and keys. A single key is key version 1."""
    key_file: Path | None = None
    """File holding the key (relative to the config file's folder)."""
    keys: list[PseudonymKey] = []
    """Rotation: the active key versions, the current one (used for writing) first; every one is
    still used to find data by BSN. Instead of key/key_file (docs/key-rotation.md)."""

    @model_validator(mode="after")
    def _one(self) -> PseudonymSettings:
        if sum((self.key is not None, self.key_file is not None, bool(self.keys))) != 1:
            raise ValueError("set exactly one of key, key_file and keys")
        versions = [k.version for k in self.keys]
        if len(set(versions)) != len(versions):
            raise ValueError(f"keys: each version may appear once, got {versions}")
        return self

    def key_bytes(self) -> bytes:
        """The current key (the one pseudonyms are written under)."""
        if self.keys:
            return self.keys[0].key_bytes()
        return _read_pseudonym_key(self.key, self.key_file)

    def keyring(self) -> Keyring:
        """Every active key version, the current one first."""
        if not self.keys:
            return Keyring(((1, self.key_bytes()),))
        ring = [(k.version, k.key_bytes()) for k in self.keys]
        if len({key for _, key in ring}) != len(ring):
            raise ValueError("keys: two versions have the same key (a new version needs a new key)")
        return Keyring(tuple(ring))


class LabelSettings(_Strict):
    dsn: str = "sqlite:///labels.sqlite3"
    """The label store: sqlite:///PATH (relative to the config file's folder) or postgresql://…."""

    @field_validator("dsn")
    @classmethod
    def _dsn(cls, v: str) -> str:
        if not (v.startswith("sqlite:///") or v.startswith("postgresql://")):
            raise ValueError("expected sqlite:///PATH or postgresql://…")
        return v


class RelationSettings(_Strict):
    """Need-to-know: the caller's relations to zaken, read from the upstream (rollen,
    zaakinformatieobjecten) with the sidecar's own credentials and cached per caller and per
    zaak. A rol removed directly in the upstream keeps its access for at most ``cache_ttl_seconds``;
    writes through the sidecar invalidate the caches of every worker at once."""

    cache_ttl_seconds: float = Field(default=30.0, ge=0, le=3600)
    """Seconds the relations of a caller and of a zaak are cached (0: not cached)."""
    max_items: int = Field(default=5000, ge=10, le=1_000_000)
    """Upper bound of rollen / links read for one caller; more is treated as an inconsistent answer."""


class MetricsSettings(_Strict):
    multiproc_dir: Path | None = None
    """Folder where the workers keep their Prometheus metrics; unset, a temporary folder."""


class ReviewSettings(_Strict):
    """Break-glass review by the FG: how long a document may wait for it before the alert
    WamsSidecarReviewOverdue fires (exported as sidecar_review_max_open_age_seconds)."""

    max_open_days: int = Field(default=14, ge=1, le=3650)
    """Days a break-glass document may wait for the FG's review before the alert fires."""


class ConsoleSettings(_Strict):
    """The FG console (sidecar/console/): a web page on its own listener, off unless ``listen`` is
    set. Only a token with role fg of a controlling organisation logs in."""

    listen: str | None = None
    """HOST:PORT of the FG console; unset, the console is off."""

    @field_validator("listen")
    @classmethod
    def _hostport(cls, v: str | None) -> str | None:
        if v is not None:
            _parse_hostport(v)
        return v

    @property
    def addr(self) -> tuple[str, int] | None:
        return _parse_hostport(self.listen) if self.listen is not None else None


class Settings(_Strict):
    upstream: UpstreamSettings = UpstreamSettings()
    """The ZGW upstream the sidecar protects."""
    listen: ListenSettings = ListenSettings()
    """Where the sidecar listens."""
    server: ServerSettings = ServerSettings()
    """The gunicorn process model."""
    opa: OpaSettings = OpaSettings()
    """The policy engine."""
    jwt: JwtSettings
    """How callers' bearer tokens are validated."""
    routes: list[RouteSpec] = list(DEFAULT_ROUTES)
    """The route map: a request that matches no route is denied. Set, it replaces every default route."""
    route_overrides: dict[str, dict[str, Any]] = {}
    """Route name → fields that replace that route's own, merged over ``routes`` (e.g.
    ``{document_read: {enforce: false}}`` puts one route in shadow mode); the other routes stay as
    they are. An unknown route name or field stops start-up."""
    catalogue: CatalogueSettings = CatalogueSettings()
    """Type URL → data category, and the roltypen the policies know."""
    controlling_orgs: list[str] = Field(min_length=1)
    """Identifiers (org claim) of the controlling organisations (verwerkingsverantwoordelijken)."""
    policy: PolicySettings = PolicySettings()
    """Which policy profile applies."""
    records: RecordSettings = RecordSettings()
    """The processing records."""
    pseudonymisation: PseudonymSettings
    """The key that pseudonymises BSNs."""
    labels: LabelSettings = LabelSettings()
    """The label store (provenance and conditions of documents)."""
    relations: RelationSettings = RelationSettings()
    """Need-to-know: caching of the caller's relations to zaken."""
    metrics: MetricsSettings = MetricsSettings()
    """Prometheus metrics."""
    console: ConsoleSettings = ConsoleSettings()
    """The FG console."""
    review: ReviewSettings = ReviewSettings()
    """Break-glass review by the FG."""
    coordination_retention_days: int | None = Field(default=None, ge=1)
    """Retention period of coordination dossiers (rule K3); unset, no write to a coordination dossier is allowed."""
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    """Log level."""

    def serve_problems(self) -> list[str]:
        """What keeps this configuration from serving, beyond its types: settings without which a
        rule the policies always apply could be side-stepped by omission."""
        out = []
        if not self.catalogue.coordinator_roltypen:
            # Without it no rol creation is a coordinator appointment, so K1/K2 (client agreement,
            # a willing and separate coordinator) would never be asked; both profiles apply them.
            out.append("catalogue.coordinator_roltypen is empty: the coordinator rules (K1, K2) would never "
                       "apply; list the roltype URL(s) of the Wams coordinator")
        return out

    @model_validator(mode="after")
    def _wasm_bundle(self) -> Settings:
        o = self.opa
        if o.engine == "wasm" and o.wasm_bundle is None and o.wasm_bundle_url is None:
            raise ValueError("opa.engine wasm (the default) needs opa.wasm_bundle (the path of an opa build -t "
                             "wasm bundle) or opa.wasm_bundle_url (with opa.wasm_bundle), or set opa.engine: rest")
        return self

    @model_validator(mode="after")
    def _console_port(self) -> Settings:
        addr = self.console.addr
        if addr is not None and addr[1] != 0 and addr[1] in (self.listen.proxy_addr[1], self.listen.admin_addr[1]):
            raise ValueError("console.listen must use a port of its own (requests are told apart by local port)")
        return self

    @field_validator("routes")
    @classmethod
    def _routes(cls, v: list[RouteSpec]) -> list[RouteSpec]:
        names = [r.name for r in v]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"duplicate route names: {sorted(dupes)}")
        return v

    @model_validator(mode="after")
    def _route_overrides(self) -> Settings:
        if not self.route_overrides:
            return self
        by_name = {r.name: r for r in self.routes}
        unknown = sorted(set(self.route_overrides) - by_name.keys())
        if unknown:
            raise ValueError(f"route_overrides: no route named {', '.join(unknown)}; "
                             f"the routes are: {', '.join(by_name)}")
        merged = []
        for route in self.routes:
            fields = self.route_overrides.get(route.name)
            if fields is None:
                merged.append(route)
                continue
            if "name" in fields:
                raise ValueError(f"route_overrides.{route.name}.name: a route cannot be renamed (override "
                                 "its other fields, or replace routes)")
            try:
                merged.append(RouteSpec.model_validate({**route.model_dump(), **fields}))
            except ValidationError as exc:
                raise ValueError("; ".join(
                    f"route_overrides.{route.name}.{'.'.join(str(p) for p in e['loc'])}: "
                    + ("unknown key (misspelt?)" if e["type"] == "extra_forbidden" else e["msg"])
                    for e in exc.errors())) from None
        # The model is frozen, and validation is still under way: nobody has seen the unmerged
        # routes yet. Assigning in place (not returning a copy) also holds for Settings(...).
        object.__setattr__(self, "routes", merged)
        return self


def _set_path(tree: dict[str, Any], dotted: list[str], value: Any) -> None:
    node = tree
    for part in dotted[:-1]:
        nxt = node.setdefault(part, {})
        if not isinstance(nxt, dict):
            raise ConfigError(f"{'.'.join(dotted)}: cannot override inside a non-mapping value")
        node = nxt
    node[dotted[-1]] = value


def _env_overrides(env: Mapping[str, str]) -> list[tuple[list[str], Any]]:
    """``SIDECAR_OPA__TIMEOUT__READ=0.5`` → ``opa.timeout.read = 0.5`` (values parsed as YAML)."""
    out = []
    for name, raw in sorted(env.items()):
        if not name.startswith(ENV_PREFIX) or name in NON_CONFIG_ENV:
            continue
        parts = [p.lower() for p in name[len(ENV_PREFIX):].split("__")]
        if not all(parts):
            raise ConfigError(f"{name}: empty key segment (use __ between levels)")
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError as exc:
            raise ConfigError(f"{name}: not a valid YAML scalar: {exc}") from None
        out.append((parts, value))
    return out


def _format_error(exc: ValidationError, origin: str) -> str:
    lines = [f"invalid configuration ({origin}):"]
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key (misspelt?)"
        elif err["type"] == "missing":
            msg = "required key is missing"
        got = err.get("input")
        show = err["type"] not in ("missing", "extra_forbidden") and not isinstance(got, dict | list)
        suffix = f" (got {got!r})" if show else ""
        lines.append(f"  {loc}: {msg}{suffix}")
    return "\n".join(lines)


def load_settings(path: str | Path | None, env: Mapping[str, str] | None = None) -> Settings:
    """Read, merge and validate. Relative file paths are resolved against the config's folder."""
    env = os.environ if env is None else env
    data: dict[str, Any] = {}
    base = Path.cwd()
    origin = "environment"
    if path is not None:
        p = Path(path)
        origin = str(p)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read config file {p}: {exc.strerror}") from None
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{p}: not valid YAML: {exc}") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{p}: expected a mapping at the top level")
        data = loaded
        base = p.resolve().parent
    for parts, value in _env_overrides(env):
        _set_path(data, parts, value)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_error(exc, origin)) from None
    return _resolve_paths(settings, base, env)


def _resolve_paths(s: Settings, base: Path, env: Mapping[str, str]) -> Settings:
    def r(p: Path | None) -> Path | None:
        return None if p is None else (p if p.is_absolute() else base / p)

    jwt = s.jwt.model_copy(update={
        "keys": [k.model_copy(update={"file": r(k.file)}) for k in s.jwt.keys],
        "jwks_file": r(s.jwt.jwks_file),
        "jwks_ca_file": r(s.jwt.jwks_ca_file),
    })
    records_path = r(s.records.path)
    assert records_path is not None
    if s.records.per_instance:
        from sidecar.instance import check_instance_name, instance_name

        try:
            name = check_instance_name(instance_name(env))
        except ValueError as exc:
            raise ConfigError(f"records.per_instance: {exc}") from None
        records_path = records_path.with_name(f"{records_path.stem}-{name}{records_path.suffix}")
    records = s.records.model_copy(update={"path": records_path,
                                           "verify_status_file": r(s.records.verify_status_file)})
    pseudo = s.pseudonymisation.model_copy(update={
        "key_file": r(s.pseudonymisation.key_file),
        "keys": [k.model_copy(update={"key_file": r(k.key_file)}) for k in s.pseudonymisation.keys]})
    labels = s.labels
    if labels.dsn.startswith("sqlite:///"):
        lp = Path(labels.dsn[len("sqlite:///"):])
        labels = labels.model_copy(update={"dsn": f"sqlite:///{r(lp)}"})
    upstream = s.upstream
    if upstream.zgw_jwt is not None and upstream.zgw_jwt.secret_file is not None:
        upstream = upstream.model_copy(update={
            "zgw_jwt": upstream.zgw_jwt.model_copy(update={"secret_file": r(upstream.zgw_jwt.secret_file)})})
    metrics = s.metrics.model_copy(update={"multiproc_dir": r(s.metrics.multiproc_dir)})
    opa = s.opa.model_copy(update={"wasm_bundle": r(s.opa.wasm_bundle),
                                   "wasm_bundle_public_key": r(s.opa.wasm_bundle_public_key),
                                   "wasm_bundle_ca_file": r(s.opa.wasm_bundle_ca_file),
                                   "wasm_bundle_token_file": r(s.opa.wasm_bundle_token_file)})
    resolved = s.model_copy(update={"jwt": jwt, "records": records, "pseudonymisation": pseudo,
                                    "labels": labels, "upstream": upstream, "metrics": metrics, "opa": opa})
    resolved = _resolve_tls_paths(resolved, r)
    _check_files(resolved)
    return resolved


def _resolve_tls_paths(s: Settings, r: Callable[[Path | None], Path | None]) -> Settings:
    update: dict[str, Any] = {}
    if s.listen.tls is not None:
        t = s.listen.tls
        update["listen"] = s.listen.model_copy(update={"tls": t.model_copy(update={
            "cert_file": r(t.cert_file), "key_file": r(t.key_file), "client_ca_file": r(t.client_ca_file)})})
    if s.upstream.tls is not None:
        u = s.upstream.tls
        update["upstream"] = s.upstream.model_copy(update={"tls": u.model_copy(update={
            "ca_file": r(u.ca_file), "client_cert_file": r(u.client_cert_file),
            "client_key_file": r(u.client_key_file)})})
    return s.model_copy(update=update) if update else s


def _check_tls_files(s: Settings) -> None:
    """Load every TLS context once: an unreadable, malformed or mismatched file stops start-up
    with the setting that names it, not the first handshake."""
    from sidecar.tls import TlsFileError, ca_context, client_context, server_context

    try:
        if s.listen.tls is not None:
            server_context(s.listen.tls)
        if s.upstream.tls is not None:
            client_context(s.upstream.tls, "upstream.tls")
        if s.jwt.jwks_ca_file is not None:
            ca_context(s.jwt.jwks_ca_file, "jwt.jwks_ca_file")
        if s.opa.wasm_bundle_ca_file is not None:
            ca_context(s.opa.wasm_bundle_ca_file, "opa.wasm_bundle_ca_file")
    except TlsFileError as exc:
        raise ConfigError(str(exc)) from None


def _check_files(s: Settings) -> None:
    """Fail at start-up, not on the first request, when a key file is missing or unreadable."""
    for k in s.jwt.keys:
        if not k.file.is_file():
            raise ConfigError(f"jwt.keys[kid={k.kid}].file: no such file: {k.file}")
    if s.jwt.jwks_file is not None and not s.jwt.jwks_file.is_file():
        raise ConfigError(f"jwt.jwks_file: no such file: {s.jwt.jwks_file}")
    try:
        s.pseudonymisation.keyring()
    except OSError as exc:
        where = "keys[].key_file" if s.pseudonymisation.keys else "key_file"
        raise ConfigError(f"pseudonymisation.{where}: cannot read {exc.filename}: {exc.strerror}") from None
    except ValueError as exc:
        raise ConfigError(f"pseudonymisation: {exc}") from None
    if s.upstream.zgw_jwt is not None:
        try:
            s.upstream.zgw_jwt.secret_bytes()
        except OSError as exc:
            raise ConfigError(f"upstream.zgw_jwt.secret_file: cannot read: {exc.strerror}") from None
    try:
        s.opa.wasm_bundle_token()
    except OSError as exc:
        raise ConfigError(f"opa.wasm_bundle_token_file: cannot read: {exc.strerror}") from None
    except ValueError as exc:
        raise ConfigError(f"opa.wasm_bundle_token_file: {exc}") from None
    key = s.opa.wasm_bundle_public_key
    if key is not None:
        # The bundle itself may be missing at start-up (the sidecar is then not ready); its key may not.
        from cryptography.hazmat.primitives.serialization import load_pem_public_key
        try:
            load_pem_public_key(key.read_bytes())
        except OSError as exc:
            raise ConfigError(f"opa.wasm_bundle_public_key: cannot read: {exc.strerror}") from None
        except ValueError:
            raise ConfigError(f"opa.wasm_bundle_public_key: {key} is not a PEM public key") from None
    parent = s.records.path.parent
    if not parent.is_dir():
        raise ConfigError(f"records.path: folder does not exist: {parent}")
    _check_tls_files(s)
