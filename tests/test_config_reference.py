"""docs/configuration.md is generated from the settings model and kept current; every setting has a
description, and the environment variables it names are the ones load_settings reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from sidecar.devtools import config_reference as ref
from sidecar.settings import ConfigError, Settings, _env_overrides, load_settings
from tests.helpers import minimal_config, write_yaml_config


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_yaml_config(tmp_path, minimal_config(tmp_path))


def _rows() -> dict[str, ref.Row]:
    return {r.key: r for r in ref.rows()}


def test_the_reference_is_current() -> None:
    current = ref.DEFAULT_OUTPUT.read_text(encoding="utf-8") if ref.DEFAULT_OUTPUT.is_file() else ""
    assert current == ref.render(), "docs/configuration.md is stale: run make config-docs"


def test_every_setting_has_a_description() -> None:
    missing = ref.missing_descriptions()
    assert missing == [], f"settings without a description (add a docstring under the field): {missing}"


class _Undocumented(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    documented: int = 1
    """Has one."""
    bare: int = 2


class _Extended(Settings):
    extra_knob: int = 3
    """A setting the reference does not know yet."""


def test_the_checks_can_fail() -> None:
    """A field without a docstring is reported; a new setting changes the reference (so the
    staleness test fails until it is regenerated), with its key and variable."""
    assert ref.missing_descriptions(_Undocumented) == ["bare"]
    text = ref.render(_Extended)
    assert text != ref.render()
    assert "| `extra_knob` | integer | `3` | — | `SIDECAR_EXTRA_KNOB` | A setting the reference does not know yet. |" \
        in text


def test_check_exits_1_when_stale(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "configuration.md"
    out.write_text("# old\n")
    assert ref.main(["--check", "--output", str(out)]) == 1
    assert "run make config-docs" in capsys.readouterr().err
    assert ref.main(["--output", str(out)]) == 0
    assert ref.main(["--check", "--output", str(out)]) == 0
    assert out.read_text() == ref.render()


def test_every_setting_is_listed() -> None:
    """Each leaf of the model, nested sections included, has a row with a type and a default."""
    rows = _rows()
    for key in ("upstream.timeout.read", "opa.timeout.connect", "jwt.jwks_timeout.read", "jwt.claims.teams",
                "upstream.zgw_jwt.client_id", "jwt.keys[].kid", "catalogue.defaults", "route_overrides",
                "routes", "coordination_retention_days"):
        assert key in rows, key
    assert rows["catalogue.defaults"].default == "`{rol: algemeen}`"
    assert rows["opa.timeout.read"].default == "`1.0`"          # the section's own default, not Timeouts'
    assert rows["upstream.timeout.read"].default == "`30.0`"
    assert rows["jwt.issuer"].default == "required"
    assert rows["log_level"].allowed == "one of `debug`, `info`, `warning`, `error`"
    assert rows["jwt.keys[].kid"].env is None                   # inside a list: set the whole list


def test_every_documented_variable_names_its_key() -> None:
    """The variable in the reference, read by the settings' own parser, addresses the row's key."""
    checked = 0
    for row in ref.rows():
        if row.env is None:
            continue
        assert _env_overrides({row.env: "1"}) == [(row.key.split("."), 1)], row.key
        checked += 1
    assert checked >= 80  # every setting outside a list has a variable (91 of 96 rows today)


# key, value as set in the environment, the value it must have in the loaded settings
OVERRIDES: list[tuple[str, str, Any]] = [
    ("opa.timeout.read", "0.5", 0.5),
    ("upstream.max_request_body_bytes", "2048", 2048),
    ("catalogue.defaults", "{rol: medisch}", {"rol": "medisch"}),
    ("log_level", "debug", "debug"),
    ("controlling_orgs", "[gemeente-a, gemeente-b]", ["gemeente-a", "gemeente-b"]),
    ("jwt.claims.role", "rol", "rol"),
]


@pytest.mark.parametrize(("key", "raw", "expected"), OVERRIDES)
def test_documented_variables_override(config: Path, key: str, raw: str, expected: Any) -> None:
    env = _rows()[key].env
    assert env is not None
    before = load_settings(config, env={})
    s = load_settings(config, env={env: raw})
    value: Any = s
    old: Any = before
    for part in key.split("."):
        value, old = getattr(value, part), getattr(old, part)
    assert value == expected and old != expected


def test_route_override_variable(config: Path) -> None:
    """The reference's example: one route in shadow mode from the environment."""
    assert "SIDECAR_ROUTE_OVERRIDES__DOCUMENT_READ__ENFORCE=false" in ref.render()
    s = load_settings(config, env={"SIDECAR_ROUTE_OVERRIDES__DOCUMENT_READ__ENFORCE": "false"})
    assert [r.name for r in s.routes if not r.enforce] == ["document_read"]


def test_a_bad_variable_is_named(config: Path) -> None:
    with pytest.raises(ConfigError, match=r"opa\.timeout\.read"):
        load_settings(config, env={_rows()["opa.timeout.read"].env or "": "-1"})
