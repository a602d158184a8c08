"""The Grafana dashboard: stable uid, templated datasource, and every query valid PromQL over
metric names the sidecar really exports (sidecar/metrics.py is the only source of truth)."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.helpers import (
    DASHBOARD,
    PROMETHEUS_SERIES,
    dashboard,
    exported_metric_names,
    panels,
    queries,
    selectors,
    substitute,
)

PROVISIONING = DASHBOARD.parents[1] / "provisioning"


def test_uid_title_and_datasource_variable() -> None:
    d = dashboard()
    assert d["uid"] == "wams-sidecar"
    assert d["title"] == "Wams sidecar"
    variables = {v["name"]: v for v in d["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    assert variables["job"]["current"]["value"] == "wams-sidecar"  # the job name of prometheus.yml
    assert variables["instance"]["includeAll"] and variables["instance"]["allValue"] == ".*"


def test_every_panel_uses_the_templated_datasource() -> None:
    text = DASHBOARD.read_text()
    # No datasource uid may be hard-wired anywhere (a provisioned copy must work with any Prometheus).
    uids = set(re.findall(r'"uid":\s*"([^"]*)"', text))
    assert uids == {"wams-sidecar", "${datasource}", "-- Grafana --"}, uids
    for p in panels(dashboard()):
        if p["type"] == "row":
            continue
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]
        assert p["targets"], f"panel {p['title']!r} has no query"
        for t in p["targets"]:
            assert t["datasource"]["uid"] == "${datasource}", p["title"]


def test_panel_ids_unique_and_layout_sane() -> None:
    ps = panels(dashboard())
    ids = [p["id"] for p in ps]
    assert len(ids) == len(set(ids))
    for p in ps:
        g = p["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24 and g["h"] > 0, p["title"]
        if p["type"] != "row":
            assert p.get("description"), f"panel {p['title']!r} needs a description (what it answers)"


@pytest.mark.parametrize(("title", "expr"), queries())
def test_query_parses_and_uses_only_exported_metrics(title: str, expr: str) -> None:
    allowed = exported_metric_names() | PROMETHEUS_SERIES
    concrete = substitute(expr)
    try:
        found = selectors(concrete)
    except (ValueError, RuntimeError) as exc:  # promql_parser raises ValueError on bad syntax
        pytest.fail(f"panel {title!r}: invalid PromQL {concrete!r}: {exc}")
    assert found, f"panel {title!r}: no metric selector in {expr!r}"
    for sel in found:
        assert sel.name, f"panel {title!r}: selector without a metric name in {expr!r}"
        assert sel.name in allowed, f"panel {title!r}: {sel.name} is not exported by sidecar/metrics.py"
    # Only bounded labels: never filter on something that could carry a path, user or BSN.
    assert not re.search(r"\b(path|user|sub|bsn|betrokkene)\s*[=!~]", concrete), title


def test_the_checks_would_catch_a_bad_query() -> None:
    """The helpers above must reject a misspelt metric and a syntax error (else they prove nothing)."""
    allowed = exported_metric_names()
    assert {s.name for s in selectors("rate(sidecar_denys_total[5m])")} - allowed == {"sidecar_denys_total"}
    with pytest.raises(ValueError):
        selectors("sum by (reason (rate(sidecar_denies_total[5m]))")


def test_dashboard_answers_the_operators_questions() -> None:
    """One panel at least per question the dashboard exists for."""
    used = {sel.name for _, e in queries() for sel in selectors(substitute(e))}
    by_expr = " ".join(e for _, e in queries())
    for name in ("sidecar_denies_total", "sidecar_opa_up", "sidecar_opa_request_duration_seconds_bucket",
                 "sidecar_opa_errors_total", "sidecar_fail_closed_total", "sidecar_records_write_errors_total",
                 "sidecar_shadow_decisions_total", "sidecar_break_glass_total",
                 "sidecar_request_duration_seconds_bucket", "sidecar_upstream_errors_total"):
        assert name in used, f"no panel uses {name}"
    for grouping in ("by (reason)", "by (role)", "by (category)", "by (kind)", "by (cause)"):
        assert grouping in by_expr, f"no panel breaks down {grouping}"
    assert "histogram_quantile(0.5, sum by (le) (rate(sidecar_opa_request_duration_seconds_bucket" in by_expr
    assert "histogram_quantile(0.99, sum by (le) (rate(sidecar_opa_request_duration_seconds_bucket" in by_expr
    assert "offset 1d" in by_expr  # "more than usual" needs a comparison


def test_provisioning_files() -> None:
    ds = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yaml").read_text())
    assert ds["apiVersion"] == 1 and ds["datasources"][0]["type"] == "prometheus"
    prov = yaml.safe_load((PROVISIONING / "dashboards" / "wams-sidecar.yaml").read_text())
    assert prov["apiVersion"] == 1
    provider = prov["providers"][0]
    assert provider["type"] == "file" and provider["options"]["path"].startswith("/")
