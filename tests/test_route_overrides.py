"""route_overrides: change one route by its name (e.g. shadow mode) without copying the others."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sidecar.routes import DEFAULT_ROUTES
from sidecar.settings import ConfigError, Settings, load_settings
from tests.helpers import DOCS, HULP, Running, minimal_config, start_stack, uuid_of, write_yaml_config


@pytest.fixture
def base(tmp_path: Path) -> dict[str, Any]:
    return minimal_config(tmp_path)


def _load(tmp_path: Path, cfg: dict[str, Any], env: dict[str, str] | None = None) -> Settings:
    return load_settings(write_yaml_config(tmp_path, cfg), env=env or {})


def test_one_route_in_shadow_mode_keeps_the_others(tmp_path: Path, base: dict[str, Any]) -> None:
    s = _load(tmp_path, {**base, "route_overrides": {"document_read": {"enforce": False}}})
    assert [r.name for r in s.routes] == [r.name for r in DEFAULT_ROUTES]  # same routes, same order
    changed = [r for r in s.routes if r != DEFAULT_ROUTES[[d.name for d in DEFAULT_ROUTES].index(r.name)]]
    assert [(r.name, r.enforce) for r in changed] == [("document_read", False)]
    assert s.routes[[r.name for r in s.routes].index("document_read")].path == \
        next(r.path for r in DEFAULT_ROUTES if r.name == "document_read")


def test_several_fields_and_routes(tmp_path: Path, base: dict[str, Any]) -> None:
    s = _load(tmp_path, {**base, "route_overrides": {
        "zaak_read": {"enforce": False, "expand": {}},
        "rollen_list": {"methods": ["get"]},
    }})
    by_name = {r.name: r for r in s.routes}
    assert by_name["zaak_read"].enforce is False and by_name["zaak_read"].expand == {}
    assert by_name["rollen_list"].methods == ["GET"]  # validated like any route (upper-cased)
    assert by_name["zaken_list"].enforce is True


def test_from_the_environment(tmp_path: Path, base: dict[str, Any]) -> None:
    s = _load(tmp_path, base, env={"SIDECAR_ROUTE_OVERRIDES__ZAAK_READ__ENFORCE": "false"})
    assert [r.name for r in s.routes if not r.enforce] == ["zaak_read"]


def test_over_replaced_routes(tmp_path: Path, base: dict[str, Any]) -> None:
    """Overrides apply to ``routes`` as configured, not only to the defaults."""
    routes = [{"name": "only", "methods": ["GET"], "path": "/a", "resource": "zaak", "action": "list"}]
    s = _load(tmp_path, {**base, "routes": routes, "route_overrides": {"only": {"enforce": False}}})
    assert [(r.name, r.enforce) for r in s.routes] == [("only", False)]
    with pytest.raises(ConfigError, match="no route named zaak_read; the routes are: only"):
        _load(tmp_path, {**base, "routes": routes, "route_overrides": {"zaak_read": {"enforce": False}}})


def test_no_overrides_leaves_the_defaults(tmp_path: Path, base: dict[str, Any]) -> None:
    assert _load(tmp_path, base).routes == list(DEFAULT_ROUTES)


def test_constructed_settings_apply_them_too(base: dict[str, Any]) -> None:
    s = Settings(**{**base, "route_overrides": {"document_read": {"enforce": False}}})
    assert [r.name for r in s.routes if not r.enforce] == ["document_read"]


@pytest.mark.parametrize(("overrides", "needle"), [
    ({"documnet_read": {"enforce": False}}, "route_overrides: no route named documnet_read; the routes are: "
                                            "zaken_list, zaken_create"),
    ({"document_read": {"shadow": True}}, "route_overrides.document_read.shadow: unknown key"),
    ({"document_read": {"enforce": "maybe"}}, "route_overrides.document_read.enforce"),
    ({"document_read": {"action": "peek"}}, "route_overrides.document_read.action"),
    ({"document_read": {"path": "/x/{id}"}}, "route_overrides.document_read.path: Value error, unknown path "
                                             "parameter"),
    ({"document_read": {"name": "other"}}, "route_overrides.document_read.name: a route cannot be renamed"),
    ({"document_read": True}, "route_overrides.document_read"),
])
def test_a_bad_override_stops_start_up(tmp_path: Path, base: dict[str, Any], overrides: dict[str, Any],
                                       needle: str) -> None:
    with pytest.raises(ConfigError) as exc:
        _load(tmp_path, {**base, "route_overrides": overrides})
    assert needle in str(exc.value)


def test_shadow_mode_by_override_end_to_end(tmp_path: Path) -> None:
    """One route in shadow mode through route_overrides: a read the policy denies goes through and
    is recorded as not enforced; the download of the same document (another route) is still refused."""
    stack = start_stack(tmp_path / "shadow", "knmg", workers=1,
                        config_extra={"route_overrides": {"document_read": {"enforce": False}}})
    run = Running(stack)
    try:
        doc = run.doc_of("medisch")
        r = run.proxy("GET", f"{DOCS}/{uuid_of(doc)}", run.headers("consulent", HULP))
        assert r.status == 200  # shadow: not enforced
        rec = run.records_of(r)[-1]
        assert rec["decision"] == "deny" and rec["enforced"] is False
        d = run.proxy("GET", f"{DOCS}/{uuid_of(doc)}/download", run.headers("consulent", HULP))
        assert d.status == 403
        recs = run.records_of(d)
        assert recs and recs[-1]["decision"] == "deny" and recs[-1]["enforced"] is True
    finally:
        stack.stop()
