"""Alert rules: promtool check + promtool unit tests, required fields, runbook links, and only
metric names the sidecar exports. promtool comes from `make deps-prometheus` (Debian package)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from sidecar.records_status import VERIFY_METRICS
from tests.helpers import OPA_BUNDLE_SERIES, PROMETHEUS_SERIES, exported_metric_names, selectors

ROOT = Path(__file__).resolve().parents[1]
PROM = ROOT / "deploy" / "prometheus"
RUNBOOK = ROOT / "docs" / "runbook.md"
REQUIRED_ALERTS = {
    "WamsSidecarOpaUnreachable", "WamsSidecarOpaErrors", "WamsSidecarFailingClosed",
    "WamsSidecarRecordWriteErrors", "WamsSidecarDenyRateSpike", "WamsSidecarBreakGlassIngest",
    "WamsSidecarLatencyHigh",
}


def promtool(*args: str, cwd: Path = PROM) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("promtool")
    assert exe, "promtool not found: run 'make deps-prometheus' (installs Debian's prometheus package)"
    return subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load((PROM / "alerts.yaml").read_text())
    return [r for g in doc["groups"] for r in g["rules"]]


def github_anchors(markdown: str) -> set[str]:
    """Anchors GitHub/GitLab make for headings: lower case, punctuation dropped, spaces → '-'."""
    out = set()
    for m in re.finditer(r"^#{1,6}\s+(.+?)\s*$", markdown, re.M):
        slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
        out.add(slug)
    return out


def test_promtool_check_rules() -> None:
    res = promtool("check", "rules", "alerts.yaml")
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"SUCCESS: {len(rules())} rules found" in res.stdout


def test_promtool_unit_tests() -> None:
    res = promtool("test", "rules", "alerts_test.yaml")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "SUCCESS" in res.stdout + res.stderr


def test_promtool_check_example_config() -> None:
    res = promtool("check", "config", "prometheus.yml")
    assert res.returncode == 0, res.stdout + res.stderr


def test_unit_tests_catch_a_changed_threshold(tmp_path: Path) -> None:
    """The rule unit tests are not vacuous: a weakened rule makes them fail."""
    shutil.copy(PROM / "alerts_test.yaml", tmp_path)
    text = (PROM / "alerts.yaml").read_text()
    weakened = text.replace("(rate(sidecar_upstream_errors_total[5m])) > 0.05",
                            "(rate(sidecar_upstream_errors_total[5m])) > 0.5")
    assert weakened != text
    (tmp_path / "alerts.yaml").write_text(weakened)
    res = promtool("test", "rules", "alerts_test.yaml", cwd=tmp_path)
    assert res.returncode != 0
    assert "WamsSidecarUpstreamErrors" in res.stdout + res.stderr


def test_every_alert_is_complete_and_tested() -> None:
    anchors = github_anchors(RUNBOOK.read_text())
    tested = yaml.safe_load((PROM / "alerts_test.yaml").read_text())
    fired_in_tests = {case["alertname"] for t in tested["tests"] for case in t["alert_rule_test"]
                      if case.get("exp_alerts")}
    names = [r["alert"] for r in rules()]
    assert len(names) == len(set(names))
    assert REQUIRED_ALERTS <= set(names), REQUIRED_ALERTS - set(names)
    for r in rules():
        name = r["alert"]
        assert "for" in r, f"{name}: no 'for:'"
        assert r["labels"]["severity"] in ("critical", "warning", "info"), name
        for key in ("summary", "description", "runbook_url"):
            assert r["annotations"].get(key), f"{name}: annotations.{key} missing"
        m = re.fullmatch(r"docs/runbook\.md#([a-z0-9-]+)", r["annotations"]["runbook_url"])
        assert m, f"{name}: runbook_url must point into docs/runbook.md#<anchor>"
        assert m.group(1) in anchors, f"{name}: docs/runbook.md has no section #{m.group(1)}"
        assert m.group(1) == name.lower(), f"{name}: runbook anchor should be the alert name"
        assert name in fired_in_tests, f"{name}: alerts_test.yaml never shows it firing"


def test_rules_use_only_exported_metrics() -> None:
    # The nightly records verify's gauges come from its --metrics-file (sidecar/records_status.py),
    # exported by node_exporter's textfile collector or the sidecar's /metrics.
    allowed = exported_metric_names() | PROMETHEUS_SERIES | OPA_BUNDLE_SERIES | set(VERIFY_METRICS)
    for r in rules():
        names = {s.name for s in selectors(r["expr"])}
        assert names, r["alert"]
        assert names <= allowed, f"{r['alert']}: {names - allowed} not exported by sidecar/metrics.py or OPA"


def test_records_verify_alerts_fire_on_failure_and_on_staleness(tmp_path: Path) -> None:
    """Both alerts exist and are tested; the stale one also covers a result never reported, and a
    weakened threshold (days instead of 26 hours) fails its unit test."""
    by_name = {r["alert"]: r for r in rules()}
    assert "sidecar_records_verify_success" in by_name["WamsSidecarRecordsVerifyFailed"]["expr"]
    stale = by_name["WamsSidecarRecordsVerifyStale"]["expr"]
    assert "26 * 3600" in stale and "absent(sidecar_records_verify_last_success_timestamp_seconds)" in stale
    shutil.copy(PROM / "alerts_test.yaml", tmp_path)
    text = (PROM / "alerts.yaml").read_text()
    weakened = text.replace("> 26 * 3600", "> 48 * 3600")
    assert weakened != text
    (tmp_path / "alerts.yaml").write_text(weakened)
    res = promtool("test", "rules", "alerts_test.yaml", cwd=tmp_path)
    assert res.returncode != 0 and "WamsSidecarRecordsVerifyStale" in res.stdout + res.stderr


def test_policy_alerts_watch_the_bundle_and_the_revision() -> None:
    """A refused bundle and replicas on different revisions alert: on OPA's own bundle status and
    on the revision the sidecars decide under, only the active revision (value 1) counted."""
    by_name = {r["alert"]: r for r in rules()}
    assert "bundle_failed_load_counter" in by_name["WamsOpaBundleNotActivated"]["expr"]
    revisions = by_name["WamsPolicyRevisionsDiffer"]["expr"]
    assert "sidecar_policy_revision_info == 1" in revisions and "by (job, revision)" in revisions
    assert "by (job, profile)" in by_name["WamsPolicyProfileDiffers"]["expr"]
    for name in ("WamsOpaBundleNotActivated", "WamsPolicyRevisionsDiffer", "WamsPolicyProfileDiffers"):
        # Longer than a rollout: OPA polls every 30 to 120 s (deploy/opa/config.yaml).
        assert by_name[name]["for"] in ("10m", "15m"), name


def test_prometheus_scrapes_opa_on_its_diagnostic_port_only() -> None:
    """OPA's bundle metrics come from its read-only diagnostic address, never its API port."""
    cfg = yaml.safe_load((PROM / "prometheus.yml").read_text())
    opa = next(j for j in cfg["scrape_configs"] if j["job_name"] == "wams-opa")
    targets = [t for sc in opa["static_configs"] for t in sc["targets"]]
    assert targets == ["127.0.0.1:8282"]
    unit = (ROOT / "deploy" / "systemd" / "opa.service").read_text()
    assert "--diagnostic-addr=127.0.0.1:8282" in unit and "--addr=127.0.0.1:8181" in unit
    text = (PROM / "prometheus.yml").read_text()
    assert "#       regex: opa-diag" in text  # the Kubernetes example keeps only OPA's diagnostic port


def test_runbook_has_the_four_parts_per_alert() -> None:
    text = RUNBOOK.read_text()
    sections = re.split(r"^## ", text, flags=re.M)[1:]
    by_title = {s.splitlines()[0].strip(): s for s in sections}
    for r in rules():
        body = by_title.get(r["alert"])
        assert body is not None, f"docs/runbook.md: no '## {r['alert']}' section"
        for part in ("Meaning", "Impact", "What to check", "How to fix"):
            assert f"**{part}**" in body, f"docs/runbook.md#{r['alert'].lower()}: no **{part}**"


@pytest.mark.parametrize("path", ["alerts.yaml", "alerts_test.yaml", "prometheus.yml"])
def test_yaml_files_parse(path: str) -> None:
    assert isinstance(yaml.safe_load((PROM / path).read_text()), dict)


def test_operations_guide_links_every_alert_to_its_runbook_section() -> None:
    ops = (ROOT / "docs" / "operations.md").read_text()
    for r in rules():
        assert f"| {r['alert']} |" in ops, f"docs/operations.md: alert table lacks {r['alert']}"
        assert f"(runbook.md#{r['alert'].lower()})" in ops, f"docs/operations.md: no runbook link for {r['alert']}"
