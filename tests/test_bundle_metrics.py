"""A refused or new policy bundle is visible in the metrics: real OPA with the shipped
deploy/opa/config.yaml (``status: {prometheus: true}``) serving its bundle status on the
diagnostic port, and the sidecar under ``sidecar serve`` with two gunicorn workers (multiprocess
metrics) showing the revision it decides under in ``sidecar_policy_revision_info``.

One story: revision one activates; revision two is published and replaces it in both OPA's
metrics and the sidecar's (without traffic: the scrape itself refreshes it); a tampered revision
three is refused and counted, revision two stays. OPA's status goes to Prometheus only: the
bundle server never receives a status report.
"""

from __future__ import annotations

import os
import re
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from sidecar.devtools.demo import REPO_ROOT, Stack, find_opa, free_ports, stop_process
from tests.helpers import (
    DOCS,
    HULP,
    OPA_BUNDLE_SERIES,
    BundleServer,
    Running,
    make_bundle,
    new_ports,
    rsa_keypair,
    wait_for,
)
from tests.test_bundles import tamper

OPA_CONFIG = REPO_ROOT / "deploy" / "opa" / "config.yaml"
SAMPLE = re.compile(r'^(?P<name>[a-z_]+)(?:\{(?P<labels>.*)\})? (?P<value>\S+)$')
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


class CountingBundleServer(BundleServer):
    """The bundle server, also counting anything OPA sends to it (a status report would be a POST)."""

    def __init__(self, folder: Path) -> None:
        self.posts = 0
        super().__init__(folder)

    class _Handler(BundleServer._Handler):
        def do_POST(self) -> None:
            owner = self._owner
            assert isinstance(owner, CountingBundleServer)
            owner.posts += 1
            self.send_response(200)
            self.end_headers()

        do_PUT = do_POST


def samples(body: str, name: str) -> list[tuple[dict[str, str], float]]:
    out = []
    for line in body.splitlines():
        m = SAMPLE.match(line)
        if m and m["name"] == name:
            out.append((dict(LABEL.findall(m["labels"] or "")), float(m["value"])))
    return out


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=3) as r:
        body: str = r.read().decode()
        return body


class DiagOpa:
    """OPA with the shipped config file, its API on loopback and /metrics on the diagnostic address
    (as in deploy/kubernetes and deploy/systemd)."""

    def __init__(self, workdir: Path, service_url: str, pubkey: Path) -> None:
        self.port, self.diag = free_ports(2)
        cmd = [find_opa(), "run", "--server", f"--addr=127.0.0.1:{self.port}",
               f"--diagnostic-addr=127.0.0.1:{self.diag}", f"--config-file={OPA_CONFIG}",
               f"--set-file=keys.wams-bundle.key={pubkey}",
               # Fast polling for the test; the shipped file polls every 30 to 120 s.
               "--set=bundles.wams.polling.min_delay_seconds=1", "--set=bundles.wams.polling.max_delay_seconds=1",
               "--skip-version-check", "--log-format=json", "--shutdown-grace-period=1"]
        self.log = workdir / "opa.log"
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         cwd=workdir, env={**os.environ, "BUNDLE_SERVICE_URL": service_url})

    def metrics(self) -> str:
        assert self.proc.poll() is None, self.log.read_text()[-2000:]
        return get(f"http://127.0.0.1:{self.diag}/metrics")

    def active_revisions(self) -> list[str]:
        return [labels["active_revision"] for labels, _ in samples(self.metrics(), "last_success_bundle_activation")
                if labels.get("name") == "wams"]

    def activated(self) -> bool:
        try:
            get(f"http://127.0.0.1:{self.diag}/health?bundles=true")
            return True
        except OSError:
            return False

    def stop(self) -> None:
        stop_process(self.proc, timeout=10)


def sidecar_revisions(run: Running) -> dict[str, float]:
    """revision → value of sidecar_policy_revision_info (profile knmg), from one scrape."""
    found = samples(run.admin("/metrics").body.decode(), "sidecar_policy_revision_info")
    assert all(labels["profile"] == "knmg" for labels, _ in found), found
    return {labels["revision"]: value for labels, value in found}


def active(revisions: dict[str, float]) -> set[str]:
    return {rev for rev, value in revisions.items() if value == 1}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[CountingBundleServer]:
    folder = tmp_path / "srv"
    folder.mkdir()
    srv = CountingBundleServer(folder)
    yield srv
    srv.close()


def test_bundle_status_and_policy_revision_are_exported(tmp_path: Path, served: CountingBundleServer) -> None:
    priv, pub = rsa_keypair(tmp_path, "signer")
    served.publish(make_bundle(tmp_path / "r1.tar.gz", priv, "rev-m1"))
    opa = DiagOpa(tmp_path, served.url, pub)
    stack = Stack(workdir=tmp_path / "stack", ports=new_ports(opa=opa.port), workers=2,
                  config_extra={"opa": {"engine": "rest"}})  # the revision OPA's bundle carries
    stack.prepare()
    run = Running(stack)
    try:
        wait_for("OPA to activate rev-m1", opa.activated, timeout=30)
        # OPA's bundle status on /metrics, under the names deploy/prometheus/alerts.yaml may use.
        body = opa.metrics()
        loaded = {m["name"] for line in body.splitlines() if (m := SAMPLE.match(line))}
        assert OPA_BUNDLE_SERIES - {"bundle_failed_load_counter"} <= loaded, OPA_BUNDLE_SERIES - loaded
        assert opa.active_revisions() == ["rev-m1"]
        assert next(v for labels, v in samples(body, "bundle_loaded_counter") if labels == {"name": "wams"}) >= 1
        assert ({"name": "bundle", "status": "OK"}, 1.0) in samples(body, "plugin_status_gauge")

        stack.start_upstream()
        stack.start_sidecar()
        for _ in range(8):  # decisions in both workers under rev-m1
            assert run.proxy("GET", DOCS, run.headers("consulent", HULP)).status == 200
        assert run.records()[-1]["policy"]["revision"] == "rev-m1"
        assert sidecar_revisions(run) == {"rev-m1": 1.0}

        # Revision two: with no traffic at all, the scrape (readiness probe) shows it, and only it.
        served.publish(make_bundle(tmp_path / "r2.tar.gz", priv, "rev-m2"))
        wait_for("OPA to activate rev-m2", lambda: opa.active_revisions() == ["rev-m2"], timeout=30)
        wait_for("the sidecar's metrics to show rev-m2", lambda: active(sidecar_revisions(run)) == {"rev-m2"},
                 timeout=30)
        assert sidecar_revisions(run) == {"rev-m1": 0.0, "rev-m2": 1.0}
        for _ in range(8):
            assert run.proxy("GET", DOCS, run.headers("consulent", HULP)).status == 200
        assert run.records()[-1]["policy"]["revision"] == "rev-m2"
        for _ in range(4):  # whichever worker answers the scrape: one active revision for the replica
            assert sidecar_revisions(run) == {"rev-m1": 0.0, "rev-m2": 1.0}

        # A tampered revision three is refused, counted with OPA's reason; rev-m2 stays in force.
        served.publish(tamper(make_bundle(tmp_path / "r3.tar.gz", priv, "rev-m3"), tmp_path / "r3-bad.tar.gz"))

        def failures() -> list[tuple[dict[str, str], float]]:
            return [(labels, v) for labels, v in samples(opa.metrics(), "bundle_failed_load_counter")
                    if labels.get("name") == "wams" and "digest mismatch" in labels.get("message", "")]

        wait_for("OPA to count the refused bundle", lambda: bool(failures()) and failures()[0][1] >= 2, timeout=30)
        assert opa.active_revisions() == ["rev-m2"]
        assert run.proxy("GET", DOCS, run.headers("consulent", HULP)).status == 200
        assert run.records()[-1]["policy"]["revision"] == "rev-m2"
        assert active(sidecar_revisions(run)) == {"rev-m2"}
        assert run.admin("/-/readyz").status == 200

        # The status went to Prometheus only: the bundle server got downloads and nothing else.
        assert served.requests >= 3
        assert served.posts == 0
    finally:
        stack.stop()
        opa.stop()


WORKER = """
import sys
from sidecar import metrics
for line in sys.stdin:
    metrics.saw_policy_revision("knmg", line.strip() or None)
    print("done", flush=True)
"""


def test_revision_info_across_worker_processes(tmp_path: Path) -> None:
    """Two gunicorn-like worker processes sharing one multiprocess folder: worker A moves from r1
    to r2 while worker B last saw r1. The replica must show r2 only (the value set last wins),
    not r1 and r2 at once (which a max across workers would)."""
    import sys

    from prometheus_client import CollectorRegistry, generate_latest, multiprocess

    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    workers = [subprocess.Popen([sys.executable, "-c", WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                text=True, env=env, cwd=REPO_ROOT) for _ in range(2)]

    def see(worker: subprocess.Popen[str], revision: str) -> None:
        assert worker.stdin is not None and worker.stdout is not None
        worker.stdin.write(revision + "\n")
        worker.stdin.flush()
        assert worker.stdout.readline().strip() == "done"

    def scrape() -> dict[str, float]:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(tmp_path))  # type: ignore[no-untyped-call]
        found = samples(generate_latest(registry).decode(), "sidecar_policy_revision_info")
        return {labels["revision"]: value for labels, value in found}

    a, b = workers
    try:
        see(a, "r1")
        see(b, "r1")
        assert scrape() == {"r1": 1.0}
        see(a, "r2")
        assert scrape() == {"r1": 0.0, "r2": 1.0}
        see(b, "r2")
        see(b, "r2")  # unchanged: nothing written
        assert scrape() == {"r1": 0.0, "r2": 1.0}
        see(a, "")  # OPA answered without a revision: an empty label value, still one active series
        assert scrape() == {"r1": 0.0, "r2": 0.0, "": 1.0}
    finally:
        for w in workers:
            assert w.stdin is not None
            w.stdin.close()
            w.wait(timeout=10)
