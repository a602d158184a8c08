"""End to end with a real Prometheus (Debian's package, from `make deps-prometheus`).

Prometheus scrapes the admin port of a real stack (OPA + demo upstream + sidecar under gunicorn
with two workers, multiprocess metrics) every second and loads the shipped alert rules. After
allowed and denied traffic, every query of the Grafana dashboard must return data through
Prometheus's HTTP API, and the key ones the values that traffic implies.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from sidecar.cli import main
from sidecar.devtools.demo import free_ports, stop_process
from tests.helpers import (
    DEFAULT_SUBJECT,
    DOCS,
    GRAFANA_VARIABLES,
    HULP,
    ZAKEN,
    Running,
    queries,
    start_stack,
    substitute,
)

ROOT = Path(__file__).resolve().parents[1]
JOB = GRAFANA_VARIABLES["$job"]  # the dashboard's job is the one Prometheus scrapes here


class Prometheus:
    def __init__(self, workdir: Path, target: str, opa_target: str) -> None:
        exe = shutil.which("prometheus")
        assert exe, "prometheus not found: run 'make deps-prometheus' (installs Debian's prometheus package)"
        workdir.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / "deploy" / "prometheus" / "alerts.yaml", workdir / "alerts.yaml")
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "rule_files": ["alerts.yaml"],
            # OPA's own metrics too (job wams-opa: WamsOpaMetricsDown); the demo's OPA serves them on
            # its API address (deployments use its diagnostic port, 8282).
            "scrape_configs": [{"job_name": JOB, "static_configs": [{"targets": [target]}]},
                               {"job_name": "wams-opa", "static_configs": [{"targets": [opa_target]}]}],
        }
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.port = free_ports(1)[0]
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "prometheus.log"
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [exe, f"--config.file={workdir / 'prometheus.yml'}", f"--storage.tsdb.path={workdir / 'data'}",
                 f"--web.listen-address=127.0.0.1:{self.port}", "--storage.tsdb.retention.time=1h"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=workdir)
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"prometheus exited: {self.log.read_text()[-2000:]}"
            try:
                with urllib.request.urlopen(f"{self.base}/-/ready", timeout=1) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        raise AssertionError(f"prometheus not ready within 30s; log:\n{self.log.read_text()[-2000:]}")

    def api(self, path: str, **params: str) -> Any:
        url = f"{self.base}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                doc = json.loads(r.read())
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"{path} {params}: HTTP {exc.code} {exc.read()[:500]!r}") from None
        assert doc["status"] == "success", doc
        return doc["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.api("query", query=expr)["result"]
        return result

    def stop(self) -> None:
        stop_process(self.proc)


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, Prometheus]]:
    tmp = tmp_path_factory.mktemp("e2e-prometheus")
    # Healthy includes verified records: the nightly verify's result, exported on the admin /metrics
    # (records.verify_status_file), keeps WamsSidecarRecordsVerifyStale quiet.
    (tmp / "stack" / "records").mkdir(parents=True)
    status = tmp / "stack" / "records-verify.prom"
    stack = start_stack(tmp / "stack", "knmg", config_extra={"records": {
        "path": "records/records.jsonl", "verify_status_file": str(status)}})
    assert main(["records", "verify", str(tmp / "stack" / "records"), "--metrics-file", str(status)]) == 0
    prom: Prometheus | None = None
    try:
        prom = Prometheus(tmp / "prometheus", f"127.0.0.1:{stack.ports.admin}", f"127.0.0.1:{stack.ports.opa}")
        yield Running(stack), prom
    finally:
        if prom is not None:
            prom.stop()
        stack.stop()


def drive_traffic(run: Running) -> None:
    """Allowed and denied requests, and one without a token."""
    for _ in range(3):
        assert run.proxy("GET", DOCS, run.headers("consulent", HULP)).status == 200
        assert run.proxy("GET", ZAKEN, run.headers("consulent", HULP)).status == 200
        assert run.proxy("GET", DOCS, run.headers("handhaving", "handhaving")).status == 403  # P1
        assert run.proxy("GET", ZAKEN, run.headers("consulent")).status in (400, 403)  # no purpose (P2)
        assert run.proxy("GET", ZAKEN).status == 401


def wait_until_scraped(prom: Prometheus, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        up = prom.query(f'up{{job="{JOB}"}}')
        if up and up[0]["value"][1] == "1" and prom.query("sidecar_opa_up == 1"):
            return
        time.sleep(0.5)
    raise AssertionError(f"Prometheus has not scraped the sidecar with OPA up: {prom.query('up')}")


def test_dashboard_queries_return_data(observed: tuple[Running, Prometheus]) -> None:
    run, prom = observed
    wait_until_scraped(prom)
    # Traffic after the first scrape, so that rates over the last minute see it.
    drive_traffic(run)

    # "Comparison" queries look a day or a week back: no data can exist in a fresh Prometheus.
    checked = [(title, substitute(e)) for title, e in queries() if " offset " not in e]
    assert len(checked) >= 30
    pending = dict(checked)
    results: dict[str, list[dict[str, Any]]] = {}
    deadline = time.monotonic() + 60
    while pending and time.monotonic() < deadline:
        for expr in list(pending.values()):
            res = prom.query(expr)
            if res:
                results[expr] = res
                pending = {t: e for t, e in pending.items() if e != expr}
        if pending:
            drive_traffic(run)  # keep the rate windows filled while we wait
            time.sleep(1)
    assert not pending, "dashboard queries without data:\n" + "\n".join(f"  {t}: {e}" for t, e in pending.items())

    # The values the traffic implies, not just "something".
    by_reason = {r["metric"].get("reason"): float(r["value"][1]) for r in results[substitute(
        next(e for t, e in checked if t == "Denies by reason (rule id)"))]}
    assert by_reason.get("P1", 0) > 0, by_reason
    by_role = {r["metric"].get("role"): float(r["value"][1]) for r in results[substitute(
        next(e for t, e in checked if t == "Denies by role"))]}
    assert by_role.get("handhaving", 0) > 0, by_role
    # No user ids in any label value (the subs drive_traffic's tokens carry).
    assert not [sub for sub in (DEFAULT_SUBJECT["consulent"]["sub"], "test-handhaving") if sub in json.dumps(results)]
    opa_up = results[next(e for t, e in checked if t == "OPA up (all instances)")]
    assert float(opa_up[0]["value"][1]) == 1
    p99 = results[next(e for t, e in checked if t == "OPA decision latency p50 / p99" and "0.99" in e)]
    assert 0 < float(p99[0]["value"][1]) < 1
    authn = results[next(e for t, e in checked if t.startswith("Authentication failures"))]
    assert {r["metric"]["reason"] for r in authn} == {"AUTHN_MISSING"}
    profile = results[next(e for t, e in checked if t == "Policy profile per instance")]
    assert profile[0]["metric"]["profile"] == "knmg"


def test_alert_rules_load_and_stay_quiet_on_a_healthy_stack(observed: tuple[Running, Prometheus]) -> None:
    run, prom = observed
    wait_until_scraped(prom)
    deadline = time.monotonic() + 30
    groups: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        groups = prom.api("rules")["groups"]
        rules = [r for g in groups for r in g["rules"]]
        if rules and all(r.get("lastEvaluation", "").startswith("20") and r["health"] == "ok" for r in rules):
            break
        time.sleep(0.5)
    rules = [r for g in groups for r in g["rules"]]
    assert {r["name"] for r in rules} >= {"WamsSidecarOpaUnreachable", "WamsSidecarRecordWriteErrors"}
    bad = [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"]
    assert not bad, bad
    # A healthy stack: nothing firing or pending. Latency alerts may go pending on a loaded test
    # machine (their `for:` of 10 minutes keeps them from firing), so they are not held against it.
    load_sensitive = {"WamsSidecarOpaSlow", "WamsSidecarLatencyHigh"}
    active = [(a["labels"]["alertname"], a["state"]) for a in prom.api("alerts")["alerts"]
              if a["labels"]["alertname"] not in load_sensitive or a["state"] == "firing"]
    assert not active, active
    assert run.admin("/-/readyz").status == 200
