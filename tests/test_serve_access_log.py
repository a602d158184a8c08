"""``sidecar serve``'s gunicorn builds no access-log data per request: ``gunicorn.access`` goes
nowhere (logconfig_dict) and the sidecar logs each request itself (sidecar.proxy)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from gunicorn.glogging import Logger

from sidecar import serve
from sidecar.settings import Settings


def _app() -> Any:
    settings = Settings.model_validate({
        "upstream": {"url": "http://upstream.invalid"},
        "jwt": {"issuer": "i", "audience": "a", "jwks_url": "http://x/j"},
        "controlling_orgs": ["gemeente"], "pseudonymisation": {"key": "k" * 32},
        "opa": {"engine": "rest"}})  # no Wasm bundle here: OPA over REST
    return serve._Gunicorn(settings)  # configured only; nothing is started before run()


def test_the_access_log_is_off_and_its_atoms_are_never_built(monkeypatch: pytest.MonkeyPatch) -> None:
    app = _app()
    logger = app.cfg.logger_class(app.cfg)
    assert isinstance(logger, Logger) and logger.access_log_enabled is False

    def atoms(*args: Any) -> dict[str, Any]:
        raise AssertionError("access-log atoms built")

    monkeypatch.setattr(logger, "atoms", atoms)
    logger.access(object(), object(), {}, timedelta(milliseconds=2))


def test_the_rest_of_gunicorns_logging_is_as_configured() -> None:
    app = _app()
    logger = app.cfg.logger_class(app.cfg)
    # The plain gunicorn logger would build the atoms with this configuration (that is the work saved).
    assert Logger(app.cfg).access_log_enabled is True
    assert app.cfg.accesslog is None and app.cfg.logconfig_dict["loggers"]["gunicorn.access"]["handlers"] == []
    assert [type(h.formatter).__name__ for h in logging.getLogger("gunicorn.error").handlers] == ["JsonFormatter"]
    assert logger.error_log is logging.getLogger("gunicorn.error")
