"""Signed policy bundles with the real OPA and the shipped deploy/opa/config.yaml.

A tiny loopback HTTP server plays the bundle server. The bundles are built by ``make bundle``
(the operators' command), so these tests also cover the Makefile target. OPA must
(a) load a correctly signed bundle, (b) refuse an unsigned one, a tampered one and one signed
with another key — and a sidecar in front of such an OPA stays not-ready and answers 503 —
and (c) pick up a new revision while the sidecar keeps running, the records naming it.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sidecar.devtools.demo import REPO_ROOT, Stack, build_bundle, find_opa, free_ports, stop_process, write_config
from tests.helpers import (
    DOCS,
    HULP,
    BundleServer,
    Running,
    make_bundle,
    new_ports,
    rsa_keypair,
    start_sidecar_not_ready,
    wait_for,
)

OPA_CONFIG = REPO_ROOT / "deploy" / "opa" / "config.yaml"
# A request-phase input (docs/decision-api.md) that every profile denies under P1: enforcement
# (handhaving) may never use Wams data. It proves the loaded policy really answers.
P1_INPUT = {
    "subject": {"type": "user", "id": "bundle-test", "properties": {
        "role": "handhaving", "org": "gemeente-demo", "secrecy": "geen", "controlling_org": True}},
    "action": {"name": "list", "properties": {"method": "GET", "phase": "request"}},
    "resource": {"type": "zaak", "id": None, "properties": {
        "category": None, "vertrouwelijkheidaanduiding": None, "labels": None}},
    "context": {"purpose": "handhaving", "profile": "knmg", "herkomst": None, "retention_configured": True},
}


# ---- helpers -------------------------------------------------------------------------------

def tamper(signed: Path, out: Path) -> Path:
    """Copy of a signed bundle with one policy file changed after signing (signature kept)."""
    changed = False
    with tarfile.open(signed, "r:gz") as src, tarfile.open(out, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read() if member.isfile() else None  # type: ignore[union-attr]
            if data is not None and member.name.endswith("authz.rego") and not changed:
                data += b"\n# changed after signing\n"
                member.size = len(data)
                changed = True
            dst.addfile(member, io.BytesIO(data) if data is not None else None)
    assert changed, "no authz.rego in the bundle to tamper with"
    return out


class Opa:
    """OPA started with the shipped config file, the public key passed with --set-file."""

    def __init__(self, workdir: Path, port: int, service_url: str, pubkey: Path) -> None:
        self.port = port
        self.log = workdir / "opa.log"
        cmd = [find_opa(), "run", "--server", "--addr", f"127.0.0.1:{port}",
               "--config-file", str(OPA_CONFIG),
               "--set-file", f"keys.wams-bundle.key={pubkey}",
               # Fast polling for the test; the shipped file polls every 30 to 120 s.
               "--set", "bundles.wams.polling.min_delay_seconds=1",
               "--set", "bundles.wams.polling.max_delay_seconds=1",
               "--skip-version-check", "--log-level", "info", "--log-format", "json",
               "--shutdown-grace-period", "1"]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         cwd=workdir, env={**os.environ, "BUNDLE_SERVICE_URL": service_url})

    def get(self, path: str) -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=2) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, None
        except (urllib.error.URLError, OSError):
            return 0, None

    def decide_revision(self) -> Any:
        body = json.dumps({"input": P1_INPUT})
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/v1/data/wams/authz/decision?provenance=true",
                                     data=body.encode(), headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=2) as r:
            doc = json.loads(r.read())
        return doc.get("result"), doc["provenance"]["bundles"]["wams"]["revision"]

    def log_lines(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log.read_text(errors="replace").splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out

    def stop(self) -> None:
        stop_process(self.proc, timeout=10)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bundle-keys")
    priv, pub = rsa_keypair(d, "signer")
    other, _ = rsa_keypair(d, "other")
    return {"priv": priv, "pub": pub, "other": other}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[BundleServer]:
    folder = tmp_path / "srv"
    folder.mkdir()
    srv = BundleServer(folder)
    yield srv
    srv.close()


class _SidecarStack:
    """The demo upstream + sidecar from :class:`Stack`, in front of *our* OPA (not the Stack's)."""

    def __init__(self, workdir: Path, opa_port: int) -> None:
        self.stack = Stack(workdir=workdir, ports=new_ports(opa=opa_port), workers=1)
        workdir.mkdir(parents=True, exist_ok=True)
        # OPA over REST: these tests are about the bundles OPA loads or refuses.
        write_config(workdir, self.stack.ports, profile="knmg", workers=1, extra={"opa": {"engine": "rest"}})
        self.running = Running(self.stack)

    def start_upstream(self) -> None:
        self.stack.start_upstream()

    def start_sidecar_expect_ready(self) -> None:
        self.stack.start_sidecar()

    def start_sidecar_not_ready(self) -> None:
        """Start the sidecar and wait only until it answers, not until it is ready."""
        start_sidecar_not_ready(self.stack, timeout=60)

    def stop(self) -> None:
        self.stack.stop()


# ---- (a) a signed bundle loads -------------------------------------------------------------

def test_make_bundle_is_signed_and_opa_loads_it(tmp_path: Path, keys: dict[str, Path],
                                                served: BundleServer) -> None:
    bundle = make_bundle(tmp_path / "b.tar.gz", keys["priv"], "rev-a1")
    with tarfile.open(bundle) as tf:
        names = {m.name.lstrip("/") for m in tf.getmembers()}
        manifest = json.loads(tf.extractfile(next(m for m in tf.getmembers()  # type: ignore[union-attr]
                                                  if m.name.lstrip("/") == ".manifest")).read())
    assert ".signatures.json" in names
    assert manifest["revision"] == "rev-a1"
    assert not [n for n in names if n.endswith("_test.rego") or "testdata" in n or ".regal" in n]

    served.publish(bundle)
    opa = Opa(tmp_path, free_ports(1)[0], served.url, keys["pub"])
    try:
        wait_for("OPA to activate the signed bundle", lambda: opa.get("/health?bundles=true")[0] == 200)
        result, revision = opa.decide_revision()
        assert revision == "rev-a1"
        assert result["decision"] is False and result["deny_reason"] == "P1"
    finally:
        opa.stop()


# ---- (b) unsigned, tampered, wrongly signed: refused; the sidecar fails closed ---------------

@pytest.mark.parametrize("kind", ["unsigned", "tampered", "other_key"])
def test_opa_refuses_bad_bundle_and_sidecar_stays_not_ready(kind: str, tmp_path: Path, keys: dict[str, Path],
                                                            served: BundleServer) -> None:
    if kind == "unsigned":
        bad = tmp_path / "unsigned.tar.gz"
        build_bundle(find_opa(), REPO_ROOT / "policies", bad, revision="rev-unsigned")
    elif kind == "tampered":
        bad = tamper(make_bundle(tmp_path / "good.tar.gz", keys["priv"], "rev-t"), tmp_path / "tampered.tar.gz")
    else:
        bad = make_bundle(tmp_path / "other.tar.gz", keys["other"], "rev-other")
    served.publish(bad)

    opa_port = free_ports(1)[0]
    opa = Opa(tmp_path, opa_port, served.url, keys["pub"])
    side = _SidecarStack(tmp_path / "stack", opa_port)
    try:
        # OPA itself is up (it answers /health), but after several download attempts it has not
        # activated the bundle and says why.
        wait_for("OPA to answer /health", lambda: opa.get("/health")[0] == 200)
        wait_for("two bundle downloads", lambda: served.requests >= 2)
        why = {"unsigned": "bundle missing .signatures.json", "tampered": "digest mismatch",
               "other_key": "failed to verify JWT signature"}[kind]
        wait_for(f"OPA to log 'Bundle load failed: … {why}'", lambda: [
            ln for ln in opa.log_lines()
            if ln.get("level") == "error" and "Bundle load failed" in ln.get("msg", "") and why in ln["msg"]])
        assert not [ln for ln in opa.log_lines() if "activated successfully" in ln.get("msg", "")]
        assert opa.get("/health?bundles=true")[0] != 200
        assert "result" not in (opa.get("/v1/data/wams/authz/decision")[1] or {})  # no policy loaded

        side.start_upstream()
        side.start_sidecar_not_ready()
        run = side.running
        ready = run.admin("/-/readyz")
        assert ready.status == 503, ready.body
        assert "opa" in json.dumps(ready.json()["problems"])
        before_upstream = run.mark_upstream()
        reply = run.proxy("GET", DOCS, run.headers("consulent", HULP))
        assert reply.status == 503
        assert reply.header("content-type") == "application/problem+json"
        assert run.upstream_since(before_upstream) == []  # nothing forwarded
        # Still refused a few polls later: "stays" not-ready, no fallback to anything.
        seen = served.requests
        wait_for("more bundle downloads", lambda: served.requests >= seen + 2)
        assert run.admin("/-/readyz").status == 503
        assert opa.get("/health?bundles=true")[0] != 200
    finally:
        side.stop()
        opa.stop()


# ---- (c) a new revision is picked up without restarting the sidecar --------------------------

def test_new_revision_is_picked_up_without_restart(tmp_path: Path, keys: dict[str, Path],
                                                   served: BundleServer) -> None:
    served.publish(make_bundle(tmp_path / "r1.tar.gz", keys["priv"], "rev-one"))
    opa_port = free_ports(1)[0]
    opa = Opa(tmp_path, opa_port, served.url, keys["pub"])
    side = _SidecarStack(tmp_path / "stack", opa_port)
    try:
        wait_for("OPA to activate revision one", lambda: opa.get("/health?bundles=true")[0] == 200)
        side.start_upstream()
        side.start_sidecar_expect_ready()
        run = side.running
        sidecar_pid = run.stack.procs["sidecar"].pid
        opa_pid = opa.proc.pid

        assert run.proxy("GET", DOCS, run.headers("consulent", HULP)).status == 200
        assert run.records()[-1]["policy"]["revision"] == "rev-one"

        served.publish(make_bundle(tmp_path / "r2.tar.gz", keys["priv"], "rev-two"))

        def latest_revision_is_two() -> bool:
            assert run.proxy("GET", DOCS, run.headers("consulent", HULP)).status == 200
            revision: str = run.records()[-1]["policy"]["revision"]
            return revision == "rev-two"

        wait_for("a decision record with revision rev-two", latest_revision_is_two, timeout=30, interval=0.5)
        revisions = [r["policy"]["revision"] for r in run.records()]
        assert revisions[0] == "rev-one" and revisions[-1] == "rev-two"
        assert set(revisions) == {"rev-one", "rev-two"}
        # Neither process was restarted to get there.
        assert run.stack.procs["sidecar"].pid == sidecar_pid and run.stack.procs["sidecar"].poll() is None
        assert opa.proc.pid == opa_pid and opa.proc.poll() is None
        assert run.admin("/-/readyz").status == 200

        # A tampered update is refused and OPA keeps serving the last verified revision: the
        # sidecar stays ready and keeps deciding with rev-two.
        failures_before = sum("digest mismatch" in ln.get("msg", "") for ln in opa.log_lines())
        served.publish(tamper(make_bundle(tmp_path / "r3.tar.gz", keys["priv"], "rev-three"),
                              tmp_path / "r3-tampered.tar.gz"))
        wait_for("OPA to refuse the tampered update", lambda: sum(
            "digest mismatch" in ln.get("msg", "") for ln in opa.log_lines()) > failures_before)
        assert run.proxy("GET", DOCS, run.headers("consulent", HULP)).status == 200
        assert run.records()[-1]["policy"]["revision"] == "rev-two"
        assert run.admin("/-/readyz").status == 200
    finally:
        side.stop()
        opa.stop()
