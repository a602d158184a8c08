"""The Makefile and Regal: Regal cannot be built on this project's machines (the Go module proxy
serves no version of it), so `make test` never tries; `make lint-rego` runs a `regal` found on
PATH (and fails on its findings) and says plainly when there is none. The gate stays opa fmt,
opa check --strict and the METADATA/rule-id tests."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _path_without_regal(extra: Path | None = None) -> str:
    dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep)
            if d and not (Path(d) / "regal").exists()]
    return os.pathsep.join(([str(extra)] if extra else []) + dirs)


def _make(*args: str, path: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE") and k != "MFLAGS"}
    env["PATH"] = path
    return subprocess.run(["make", "--no-print-directory", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def _fake_regal(bindir: Path, exit_code: int) -> Path:
    """A stand-in `regal` that logs its arguments and exits with ``exit_code``."""
    bindir.mkdir(parents=True, exist_ok=True)
    log = bindir / "regal.log"
    script = bindir / "regal"
    script.write_text(f'#!/bin/sh\necho "$@" >> "{log}"\necho "fake regal finding" >&2\nexit {exit_code}\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return log


def test_test_and_tools_never_build_regal() -> None:
    # -n prints every recipe line (and runs recursive makes), so a `go install …regal` anywhere
    # in what `make test` would do shows up here.
    out = _make("-n", "tools", "lint-rego", path=_path_without_regal())
    assert out.returncode == 0, out.stderr
    assert "open-policy-agent/regal" not in out.stdout + out.stderr
    assert "go install" not in "\n".join(ln for ln in out.stdout.splitlines() if "regal" in ln.lower())
    no_rule = _make("-n", ".tools/bin/regal", path=_path_without_regal())
    assert no_rule.returncode != 0 and "No rule to make target" in no_rule.stderr


def test_lint_rego_says_plainly_when_regal_is_not_on_path() -> None:
    out = _make("lint-rego", path=_path_without_regal())
    assert out.returncode == 0, out.stdout + out.stderr
    assert "opa check --strict" in out.stdout
    assert "regal lint: SKIPPED" in out.stdout and "no 'regal' on PATH" in out.stdout


def test_lint_rego_runs_regal_from_path_and_fails_on_its_findings(tmp_path: Path) -> None:
    clean = tmp_path / "clean"
    log = _fake_regal(clean, 0)
    out = _make("lint-rego", path=_path_without_regal(clean))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "==> regal lint" in out.stdout and "SKIPPED" not in out.stdout
    assert log.read_text().split() == ["lint", "--config-file", "policies/.regal/config.yaml", "policies/"]

    findings = tmp_path / "findings"
    _fake_regal(findings, 3)
    out = _make("lint-rego", path=_path_without_regal(findings))
    assert out.returncode != 0
    assert "fake regal finding" in out.stderr
