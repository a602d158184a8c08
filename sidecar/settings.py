"""One validated settings object: a YAML file plus ``SIDECAR_*`` environment overrides.

Every value the sidecar uses at run time comes from here, checked once at start-up. A bad value
stops start-up with a message that names the key and says what was expected
(:class:`ConfigError`), never a stack trace and never a silent default for something that
matters to security (keys, issuer, audience, profile).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sidecar.routes import DEFAULT_ROUTES, RouteSpec
from sidecar.vocab import MAPPED_CATEGORIES as CATEGORIES

ENV_PREFIX = "SIDECAR_"
# SIDECAR_* variables that are not config overrides (read by the demo and tools, not by serve).
NON_CONFIG_ENV = frozenset({"SIDECAR_CONFIG", "SIDECAR_OPA_BIN", "SIDECAR_DEMO_WORKDIR", "SIDECAR_INSTANCE"})
SUPPORTED_ALGS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")


class ConfigError(Exception):
    """Start-up configuration is invalid; the message is meant for the operator."""


class _Strict(BaseModel):
    # Unknown keys are errors: a misspelt key must not silently fall back to a default.
    model_config = ConfigDict(extra="forbid", frozen=True)


def _parse_hostport(value: str) -> tuple[str, int]:
    m = re.fullmatch(r"\[?([^\[\]]+?)\]?:(\d{1,5})", value)
    if not m or not 0 <= int(m.group(2)) <= 65535:
        raise ValueError(f"expected HOST:PORT, got {value!r}")
    return m.group(1), int(m.group(2))


class Timeouts(_Strict):
    connect: float = Field(default=2.0, gt=0, le=60)
    read: float = Field(default=30.0, gt=0, le=600)


class OpaTimeouts(Timeouts):
    # A decision on loopback takes well under a millisecond; waiting longer only queues requests.
    connect: float = Field(default=0.25, gt=0, le=60)
    read: float = Field(default=1.0, gt=0, le=600)


class JwksTimeouts(Timeouts):
    connect: float = Field(default=1.0, gt=0, le=60)
    read: float = Field(default=2.0, gt=0, le=600)


class ListenSettings(_Strict):
    proxy: str = "127.0.0.1:8080"
    admin: str = "127.0.0.1:9180"
    # The sidecar's base URL as clients reach it (behind an ingress: its external URL). Links in
    # answers are rewritten to it; unset, it is taken from each request's scheme and Host.
    public_url: str | None = Field(default=None, pattern=r"^https?://[^/?#]+(/[^?#]*)?$")

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
    threads: int = Field(default=8, ge=1, le=256)
    graceful_timeout: float = Field(default=10, gt=0)


class ZgwJwtSettings(_Strict):
    """Credentials for a real ZGW upstream (JWT-ZGW, HS256, one token per request)."""

    client_id: str = Field(min_length=1)
    secret: str | None = None
    secret_file: Path | None = None
    ttl_seconds: int = Field(default=300, ge=10, le=3600)

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


class UpstreamSettings(_Strict):
    url: str = "http://127.0.0.1:8081"
    # The base the upstream writes into its own URLs, when it differs from ``url`` (Open Zaak's
    # configured domain, while the sidecar reaches it on an internal address).
    advertised_url: str | None = Field(default=None, pattern=r"^https?://[^/?#]+(/[^?#]*)?$")
    timeout: Timeouts = Timeouts()
    pool_size: int = Field(default=16, ge=1, le=1024)
    max_request_body_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    max_inspected_response_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    zgw_jwt: ZgwJwtSettings | None = None
    # On a zaak detail read, look up its rollen so the record names the data subjects (one extra
    # upstream call per zaak read; lists of zaken are not resolved).
    resolve_zaak_betrokkenen: bool = True

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not re.fullmatch(r"https?://[^/?#\s]+(/[^?#\s]*)?", v):
            raise ValueError(f"expected an http(s) URL without query, got {v!r}")
        return v.rstrip("/")


class OpaSettings(_Strict):
    url: str = "http://127.0.0.1:8181"
    decision_path: str = "wams/authz/decision"
    timeout: OpaTimeouts = OpaTimeouts()
    pool_size: int = Field(default=16, ge=1, le=1024)
    # Who decides for the proxy: OPA over its REST API, or OPA's Wasm compilation of the same
    # policies in this process (sidecar/wasm_engine.py). explain, the console and records queries
    # always ask the OPA server at ``url``.
    engine: Literal["rest", "wasm"] = "rest"
    wasm_bundle: Path | None = None  # opa build -t wasm output (make wasm-bundle)
    wasm_reload_seconds: float = Field(default=5.0, gt=0, le=3600)
    wasm_bundle_public_key: Path | None = None  # PEM; when set, only bundles signed with it load
    wasm_bundle_signing_alg: Literal["RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                                     "ES256", "ES384", "ES512"] = "RS256"

    @model_validator(mode="after")
    def _wasm(self) -> OpaSettings:
        if self.engine == "wasm" and self.wasm_bundle is None:
            raise ValueError("opa.engine wasm needs opa.wasm_bundle (the path of an opa build -t wasm bundle)")
        return self

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
    file: Path


class ClaimNames(_Strict):
    sub: str = "sub"
    role: str = "role"
    org: str = "org"
    secrecy: str = "secrecy"
    teams: str = "teams"


class JwtSettings(_Strict):
    issuer: str = Field(min_length=1)
    audience: str = Field(min_length=1)
    algorithms: list[str] = ["RS256", "ES256"]
    leeway_seconds: int = Field(default=30, ge=0, le=300)
    max_token_bytes: int = Field(default=8192, ge=512, le=65536)
    keys: list[PemKey] = []
    jwks_file: Path | None = None
    jwks_url: str | None = None
    jwks_cache_seconds: int = Field(default=300, ge=1)
    jwks_min_refresh_seconds: int = Field(default=30, ge=1)
    jwks_timeout: JwksTimeouts = JwksTimeouts()
    claims: ClaimNames = ClaimNames()

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
    def _some_key(self) -> JwtSettings:
        if not (self.keys or self.jwks_file or self.jwks_url):
            raise ValueError("configure keys (PEM files with a kid), jwks_file or jwks_url")
        return self


class CatalogueSettings(_Strict):
    """Type URL → data category. Unknown types become ``onbekend``, never ``algemeen``."""

    informatieobjecttypen: dict[str, str] = {}
    zaaktypen: dict[str, str] = {}
    # Resource types without a type field (a ``rol`` names its zaak, not a type).
    defaults: dict[str, str] = {"rol": "algemeen"}
    # Roltype URLs whose creation is a coordinator appointment (rules K1, K2).
    coordinator_roltypen: list[str] = []
    # Roltype URL → the relation kind the policy sees for a rol of that type naming the caller
    # (need-to-know: behandelaar, coordinator, medisch_adviseur, casusoverleg, zvh_overdracht, …).
    # A coordinator roltype is kind ``coordinator`` unless mapped here; any other roltype ``overig``.
    roltypen: dict[str, str] = {}

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


class RecordSettings(_Strict):
    path: Path = Path("records.jsonl")
    # One file per replica: records.jsonl becomes records-<instance>.jsonl in the same folder
    # (instance: SIDECAR_INSTANCE, else the host name), so replicas on a shared volume never
    # share a chain, and a restarted replica of the same name continues its own.
    per_instance: bool = False
    head_log_interval_seconds: float = Field(default=60, gt=0)


class PseudonymSettings(_Strict):
    key: str | None = None
    key_file: Path | None = None

    @model_validator(mode="after")
    def _one(self) -> PseudonymSettings:
        if (self.key is None) == (self.key_file is None):
            raise ValueError("set exactly one of key and key_file")
        return self

    def key_bytes(self) -> bytes:
        raw = self.key.encode() if self.key is not None else self.key_file.read_bytes().strip()  # type: ignore[union-attr]
        if len(raw) < 16:
            raise ValueError("the pseudonymisation key must be at least 16 bytes")
        return raw


class LabelSettings(_Strict):
    dsn: str = "sqlite:///labels.sqlite3"

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
    # Upper bound of rollen / links read for one caller; more is treated as an inconsistent answer.
    max_items: int = Field(default=5000, ge=10, le=1_000_000)


class MetricsSettings(_Strict):
    multiproc_dir: Path | None = None


class ReviewSettings(_Strict):
    """Break-glass review by the FG: how long a document may wait for it before the alert
    WamsSidecarReviewOverdue fires (exported as sidecar_review_max_open_age_seconds)."""

    max_open_days: int = Field(default=14, ge=1, le=3650)


class ConsoleSettings(_Strict):
    """The FG console (sidecar/console/): a web page on its own listener, off unless ``listen`` is
    set. Only a token with role fg of a controlling organisation logs in."""

    listen: str | None = None

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
    listen: ListenSettings = ListenSettings()
    server: ServerSettings = ServerSettings()
    opa: OpaSettings = OpaSettings()
    jwt: JwtSettings
    routes: list[RouteSpec] = list(DEFAULT_ROUTES)
    catalogue: CatalogueSettings = CatalogueSettings()
    controlling_orgs: list[str] = Field(min_length=1)
    policy: PolicySettings = PolicySettings()
    records: RecordSettings = RecordSettings()
    pseudonymisation: PseudonymSettings
    labels: LabelSettings = LabelSettings()
    relations: RelationSettings = RelationSettings()
    metrics: MetricsSettings = MetricsSettings()
    console: ConsoleSettings = ConsoleSettings()
    review: ReviewSettings = ReviewSettings()
    coordination_retention_days: int | None = Field(default=None, ge=1)
    log_level: Literal["debug", "info", "warning", "error"] = "info"

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
    records = s.records.model_copy(update={"path": records_path})
    pseudo = s.pseudonymisation.model_copy(update={"key_file": r(s.pseudonymisation.key_file)})
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
                                   "wasm_bundle_public_key": r(s.opa.wasm_bundle_public_key)})
    resolved = s.model_copy(update={"jwt": jwt, "records": records, "pseudonymisation": pseudo,
                                    "labels": labels, "upstream": upstream, "metrics": metrics, "opa": opa})
    _check_files(resolved)
    return resolved


def _check_files(s: Settings) -> None:
    """Fail at start-up, not on the first request, when a key file is missing or unreadable."""
    for k in s.jwt.keys:
        if not k.file.is_file():
            raise ConfigError(f"jwt.keys[kid={k.kid}].file: no such file: {k.file}")
    if s.jwt.jwks_file is not None and not s.jwt.jwks_file.is_file():
        raise ConfigError(f"jwt.jwks_file: no such file: {s.jwt.jwks_file}")
    try:
        s.pseudonymisation.key_bytes()
    except OSError as exc:
        raise ConfigError(f"pseudonymisation.key_file: cannot read: {exc.strerror}") from None
    except ValueError as exc:
        raise ConfigError(f"pseudonymisation: {exc}") from None
    if s.upstream.zgw_jwt is not None:
        try:
            s.upstream.zgw_jwt.secret_bytes()
        except OSError as exc:
            raise ConfigError(f"upstream.zgw_jwt.secret_file: cannot read: {exc.strerror}") from None
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
