"""The benchmark's stack: :class:`sidecar.devtools.demo.Stack` with the demo upstream under gunicorn.

``sidecar demo`` runs the demo upstream on werkzeug's threaded development server, which logs
every request and is much slower than a production server. Measuring the sidecar's *added*
latency against that would flatter the sidecar (the direct path would be slow) and would make
the upstream, not the sidecar, the bottleneck of the throughput comparison. So the benchmark
runs the same Flask app (``sidecar.devtools.upstream.app:create_app``, same database and catalogue
base as the sidecar config that ``Stack`` writes) under gunicorn with gthread workers, the way
the sidecar itself runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from sidecar.devtools.demo import Ports, Stack, _wait_http, find_opa, write_config


@dataclass
class BenchStack(Stack):
    upstream_workers: int = 2
    upstream_threads: int = 8
    # The pass-through floor (bench/passthrough.py) listens here when started (0: not started).
    passthrough_port: int = 0
    # OPA serving a constant decision (the floor of any OPA round trip), when started.
    opa_floor_port: int = 0
    # A second sidecar whose relation caches never hold anything (``relations.cache_ttl_seconds: 0``),
    # when started: every request reads the caller's relations from the upstream (need-to-know, cold).
    cold_ports: Ports | None = None

    @property
    def sidecar_threads(self) -> int:
        """Threads per sidecar worker (``server.threads`` in the config, 8 when not set)."""
        threads: int = (self.config_extra or {}).get("server", {}).get("threads", 8)
        return threads

    @property
    def catalogue_base(self) -> str:
        # Must equal the base write_config() puts in the sidecar's catalogue mapping.
        return f"http://127.0.0.1:{self.ports.upstream}/catalogi/api/v1"

    def _spawn(self, name: str, cmd: list[str], env: dict[str, str] | None = None) -> Path:
        log = self.workdir / f"{name}.log"
        base = dict(os.environ)
        if name.startswith("sidecar"):
            # The Makefile exports SIDECAR_OPA_BIN (for find_opa); the sidecar's settings read
            # every SIDECAR_* variable as an override and refuse the unknown key `opa_bin`.
            base.pop("SIDECAR_OPA_BIN", None)
        with log.open("ab") as out:
            self.procs[name] = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**base, **(env or {})}, cwd=self.workdir)
        return log

    def start_upstream(self) -> None:
        db = str(self.workdir / "upstream.sqlite3")
        factory = f"sidecar.devtools.upstream.app:create_app(db_path={db!r}, catalogue_base={self.catalogue_base!r})"
        log = self._spawn("upstream", [
            sys.executable, "-m", "gunicorn",
            # --preload: create (and seed) the database once, in the master, before forking.
            "--preload", "--worker-class", "gthread",
            "--workers", str(self.upstream_workers), "--threads", str(self.upstream_threads),
            "--bind", f"127.0.0.1:{self.ports.upstream}", "--keep-alive", "5",
            "--no-control-socket", "--log-level", "warning", factory,
        ])
        _wait_http(f"http://127.0.0.1:{self.ports.upstream}/zaken/api/v1/zaken", 30,
                   self.procs["upstream"], "demo upstream (gunicorn)", log)

    def start_passthrough(self, port: int) -> None:
        """The floor: the same gunicorn set-up as the sidecar, forwarding without any decision."""
        self.passthrough_port = port
        factory = f"bench.passthrough:create_app(upstream='http://127.0.0.1:{self.ports.upstream}')"
        log = self._spawn("passthrough", [
            sys.executable, "-m", "gunicorn", "--worker-class", "gthread",
            "--workers", str(self.workers), "--threads", str(self.sidecar_threads),
            "--bind", f"127.0.0.1:{port}", "--keep-alive", "5",
            "--no-control-socket", "--log-level", "warning", factory,
        ], env={"PYTHONPATH": str(Path(__file__).resolve().parents[1])})
        _wait_http(f"http://127.0.0.1:{port}/zaken/api/v1/zaken", 30, self.procs["passthrough"],
                   "pass-through floor (gunicorn)", log)

    def start_opa_floor(self, port: int) -> None:
        """The same OPA binary and flags, serving a policy that returns a constant decision of the
        usual shape: what an OPA round trip costs on this machine before any rule is evaluated."""
        self.opa_floor_port = port
        policy = self.workdir / "floor" / "floor.rego"
        policy.parent.mkdir(parents=True, exist_ok=True)
        policy.write_text(CONSTANT_POLICY)
        log = self._spawn("opa_floor", [find_opa(), "run", "--server", "--addr", f"127.0.0.1:{port}",
                                        "--skip-version-check", "--log-level", "error", str(policy.parent)])
        _wait_http(f"http://127.0.0.1:{port}/health", 30, self.procs["opa_floor"], "OPA (constant policy)", log)

    def start_cold_sidecar(self, proxy: int, admin: int) -> None:
        """The same sidecar (same OPA, upstream, keys, workers and threads) in a folder of its own
        (records, label store and metrics apart), with ``relations.cache_ttl_seconds: 0``: the
        need-to-know cost of a request whose relations are not cached."""
        cold = self.workdir / "cold"
        cold.mkdir(parents=True, exist_ok=True)
        # The same keys: tokens minted for the main sidecar are valid here, pseudonyms are alike.
        shutil.copytree(self.workdir / "keys", cold / "keys", dirs_exist_ok=True)
        self.cold_ports = Ports(proxy=proxy, admin=admin, opa=self.ports.opa, upstream=self.ports.upstream)
        extra = {**(self.config_extra or {}), "relations": {"cache_ttl_seconds": 0}}
        # The same policies (and, with the default wasm engine, a Wasm bundle of them of its own).
        write_config(cold, self.cold_ports, profile=self.profile, workers=self.workers, extra=extra,
                     policies=self.policies)
        log = self._spawn("sidecar_cold", [sys.executable, "-m", "sidecar", "serve", "--config",
                                           str(cold / "config.yaml")])
        _wait_http(f"http://127.0.0.1:{admin}/-/readyz", 60, self.procs["sidecar_cold"],
                   "sidecar (relation caches off)", log)

    def stop(self) -> None:
        self.stop_one("sidecar_cold")
        self.stop_one("passthrough")
        self.stop_one("opa_floor")
        super().stop()


CONSTANT_POLICY = '''package wams.authz

# Benchmark floor only: the shape of an allow, no rule evaluated; a batch gets the same
# allow for every item, so the answer is as long as the real one.
allow := {
	"decision": true, "reasons": ["R1"], "reason_user": "Toegestaan.", "obligations": [],
	"grondslag": null, "processing_activity": "urn:wams:verwerking:onderzoek_hulpvraag", "deny_reason": null,
}

decision := object.union(allow, {"evaluations": [allow | some _ in input.evaluations]}) if {
	is_array(input.evaluations)
} else := allow
'''


# -- processes -----------------------------------------------------------------------------------

_TICKS = os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (gunicorn workers of a master)."""
    out: list[int] = []
    task_dir = Path(f"/proc/{pid}/task")
    try:
        for task in task_dir.iterdir():
            text = (task / "children").read_text()
            out.extend(int(x) for x in text.split())
    except OSError:
        pass
    return sorted(set(out))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (all its threads), in seconds."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    # The command name may contain spaces; fields after it are space-separated.
    fields = raw[raw.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def status_kb(pid: int, key: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def tree_cpu(pid: int) -> float:
    """CPU seconds of a master and its current children (workers)."""
    return cpu_seconds(pid) + sum(cpu_seconds(c) for c in children(pid))


def pss_kb(pid: int) -> int | None:
    """Proportional set size: shared pages (code, copy-on-write after fork) split between the
    processes that share them; fairer than RSS when several workers run the same code."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None
