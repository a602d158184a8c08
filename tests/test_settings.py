"""Config validation: a bad value stops start-up with a message naming the key."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sidecar.settings import ConfigError, load_settings
from tests.helpers import minimal_config, write_yaml_config


@pytest.fixture
def base(tmp_path: Path) -> dict[str, Any]:
    return minimal_config(tmp_path)


def _write(tmp_path: Path, cfg: dict[str, Any]) -> Path:
    return write_yaml_config(tmp_path, cfg)


def test_minimal_config_loads_with_defaults(tmp_path: Path, base: dict[str, Any]) -> None:
    s = load_settings(_write(tmp_path, base), env={})
    assert s.listen.proxy == "127.0.0.1:8080"
    assert s.listen.admin == "127.0.0.1:9180"
    assert s.opa.url == "http://127.0.0.1:8181"
    assert s.policy.profile == "knmg"
    assert s.jwt.keys[0].file == tmp_path / "pub.pem"  # relative to the config file
    assert s.records.path == tmp_path / "records.jsonl"
    assert [r.name for r in s.routes][:2] == ["zaken_list", "zaken_create"]


@pytest.mark.parametrize(("mutate", "needle"), [
    (lambda c: c["jwt"].update(algorithms=["HS256"]), "jwt.algorithms"),
    (lambda c: c["jwt"].update(algorithms=["none"]), "jwt.algorithms"),
    (lambda c: c.update(opa={"url": "ftp://x"}), "opa.url"),
    (lambda c: c.update(opa={"timeout": {"connect": 0, "read": 1}}), "opa.timeout.connect"),
    (lambda c: c.update(opa={"decision_path": "wams/../x"}), "opa.decision_path"),
    (lambda c: c.update(listen={"proxy": "localhost"}), "listen.proxy"),
    (lambda c: c.update(listen={"proxy": "127.0.0.1:9180", "admin": "127.0.0.1:9180"}), "different ports"),
    (lambda c: c.update(upstream={"url": "not a url"}), "upstream.url"),
    (lambda c: c.update(catalogue={"informatieobjecttypen": {"http://x/t": "geheim"}}),
     "catalogue.informatieobjecttypen"),
    (lambda c: c.update(controlling_orgs=[]), "controlling_orgs"),
    (lambda c: c.pop("jwt"), "jwt: required key is missing"),
    (lambda c: c.update(polcy={"profile": "knmg"}), "polcy: unknown key"),
    (lambda c: c.update(policy={"profile": "Knmg!"}), "policy.profile"),
    (lambda c: c.update(routes=[{"name": "x", "methods": ["GET"], "path": "/a/{id}", "resource": "zaak",
                                 "action": "read"}]), "unknown path parameter"),
    (lambda c: c.update(routes=[{"name": "x", "methods": ["TRACE"], "path": "/a", "resource": "zaak",
                                 "action": "read"}]), "methods"),
    (lambda c: c["jwt"].update(keys=[{"kid": "k1", "file": "missing.pem"}]), "jwt.keys[kid=k1].file"),
    (lambda c: c.update(pseudonymisation={"key": "short"}), "at least 16 bytes"),
    (lambda c: c.update(records={"path": "/nonexistent-dir/records.jsonl"}), "records.path"),
])
def test_bad_values_name_the_key(tmp_path: Path, base: dict[str, Any],
                                 mutate: Callable[[dict[str, Any]], object], needle: str) -> None:
    mutate(base)
    with pytest.raises(ConfigError) as exc:
        load_settings(_write(tmp_path, base), env={})
    assert needle in str(exc.value)


def test_env_overrides_nested_keys(tmp_path: Path, base: dict[str, Any]) -> None:
    s = load_settings(_write(tmp_path, base), env={"SIDECAR_OPA__TIMEOUT__READ": "0.5",
                                                   "SIDECAR_POLICY__PROFILE": "wetsvoorstel",
                                                   "SIDECAR_OPA_BIN": "/usr/bin/opa",  # make exports it
                                                   "SIDECAR_DEMO_WORKDIR": "/tmp/d",
                                                   "UNRELATED": "1"})
    assert s.opa.timeout.read == 0.5
    assert s.policy.profile == "wetsvoorstel"


def test_env_override_is_validated_too(tmp_path: Path, base: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=r"opa\.timeout\.read"):
        load_settings(_write(tmp_path, base), env={"SIDECAR_OPA__TIMEOUT__READ": "slow"})
    with pytest.raises(ConfigError, match=r"opaa: unknown key"):
        load_settings(_write(tmp_path, base), env={"SIDECAR_OPAA__URL": "http://x"})


def test_unreadable_or_invalid_yaml_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(tmp_path / "nope.yaml", env={})
    p = tmp_path / "bad.yaml"
    p.write_text("jwt: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(p, env={})
