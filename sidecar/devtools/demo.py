"""``sidecar demo``: real OPA, the demo upstream and the sidecar, together in the foreground.

The same :class:`Stack` starts the integration tests' processes, so the tests exercise what a
newcomer runs. The sidecar decides with the in-process Wasm engine on a signed bundle built at
start (the default ``opa.engine``), the same policies and revision as the OPA server's bundle. OPA
is a direct child process that serves explain, the decision API and the console; if it dies, the
demo keeps running, the proxy keeps deciding, and nothing restarts OPA silently. (With
``opa.engine: rest`` the sidecar then fails closed: 503 and not-ready.)
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sidecar.devtools.keys import DEMO_AUDIENCE, DEMO_ISSUER, DEMO_ORG, ensure_keypair, key_paths
from sidecar.devtools.upstream.seed import relations as seed_relations
from sidecar.vocab import MAPPED_CATEGORIES as CATEGORIES

OPA_VERSION = "1.22.3"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_WORKDIR = Path(os.environ.get("SIDECAR_DEMO_WORKDIR",
                                      Path.home() / ".local" / "state" / "wams-sidecar" / "demo"))
ZAAKTYPEN = CATEGORIES
# The demo upstream's roltypen (URL ends in the code) → the relation kind the policy sees.
ROLTYPE_KINDS = {"behandelaar": "behandelaar", "zaakcoordinator": "coordinator",
                 "medisch_adviseur": "medisch_adviseur", "casusoverleg": "casusoverleg",
                 "zvh_overdracht": "zvh_overdracht", "initiator": "overig", "belanghebbende": "overig"}
# Excluded from the policy bundle: tests, their fixtures, lint config.
BUNDLE_IGNORE = ("*_test.rego", "testdata", ".regal", "*.md")


class DemoError(Exception):
    pass


def _die_with_parent() -> None:
    """Runs in each child before exec: on Linux, ask the kernel to SIGTERM the child when the
    demo process dies, even by SIGKILL, so no OPA or server is left behind on the demo ports."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def find_opa() -> str:
    """``SIDECAR_OPA_BIN``, then ``opa`` on PATH if it is the pinned version, then ``.tools/bin``."""
    env = os.environ.get("SIDECAR_OPA_BIN")
    if env:
        return env
    on_path = shutil.which("opa")
    if on_path:
        try:
            out = subprocess.run([on_path, "version"], capture_output=True, text=True, timeout=10).stdout
            if f"Version: {OPA_VERSION}" in out:
                return on_path
        except (OSError, subprocess.TimeoutExpired):
            pass
    local = REPO_ROOT / ".tools" / "bin" / "opa"
    if local.exists():
        return str(local)
    raise DemoError(f"OPA {OPA_VERSION} not found: run 'make tools' (builds it into .tools/bin), "
                    "put the release binary on PATH, or set SIDECAR_OPA_BIN")


def policy_revision(policies: Path) -> str:
    """Content hash of the policy files: the revision every record names."""
    h = hashlib.sha256()
    for p in sorted(policies.rglob("*")):
        rel = p.relative_to(policies).as_posix()
        if p.is_file() and not p.name.endswith("_test.rego") and "testdata" not in rel \
                and not rel.startswith(".") and p.suffix in (".rego", ".json"):
            h.update(rel.encode() + b"\0" + p.read_bytes() + b"\0")
    return "sha256-" + h.hexdigest()[:16]


def build_bundle(opa: str, policies: Path, out: Path, revision: str | None = None) -> str:
    revision = revision or policy_revision(policies)
    cmd = [opa, "build", "-b", str(policies), "--revision", revision, "-o", str(out)]
    for pattern in BUNDLE_IGNORE:
        cmd += ["--ignore", pattern]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if res.returncode != 0:
        raise DemoError(f"opa build failed:\n{res.stderr or res.stdout}")
    return revision


# The rule the wasm engine (opa.engine: wasm) evaluates. Only the decision: wams/profile/errors
# builds its messages with sprintf, a builtin the engine does not provide. Keep in step with mk/wasm.mk.
WASM_ENTRYPOINTS = ("wams/authz/decision",)


def build_wasm_bundle(opa: str, policies: Path, out: Path, revision: str | None = None,
                      signing_key: Path | None = None, signing_alg: str = "RS256") -> str:
    """``opa build -t wasm`` of the policies (what ``make wasm-bundle`` runs), signed when a
    private key is given."""
    revision = revision or policy_revision(policies)
    # -b (bundle mode), as build_bundle: signing needs it, and file names stay relative.
    cmd = [opa, "build", "-b", "-t", "wasm", str(policies), "--revision", revision, "-o", str(out)]
    for entrypoint in WASM_ENTRYPOINTS:
        cmd += ["-e", entrypoint]
    for pattern in BUNDLE_IGNORE:
        cmd += ["--ignore", pattern]
    if signing_key is not None:
        cmd += ["--signing-key", str(signing_key), "--signing-alg", signing_alg]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if res.returncode != 0:
        raise DemoError(f"opa build -t wasm failed:\n{res.stderr or res.stdout}")
    return revision


WASM_BUNDLE_FILE = "policy-wasm.tar.gz"  # in the workdir: the demo's signed Wasm bundle
# The demo's bundle-signing key: generated once per workdir, like the dev identity provider's key.
BUNDLE_KEY_FILES = ("keys/bundle-signing.key.pem", "keys/bundle-signing.pub.pem")
DEMO_BUNDLE_SIGNING_ALG = "ES256"  # an EC key: generated instantly, verified as OPA does


def ensure_bundle_signing_key(workdir: Path) -> tuple[Path, Path]:
    """The demo's (private, public) bundle-signing key files, created once (never for production:
    there the key lives where bundles are built, see docs/operations.md)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    priv, pub = (workdir / f for f in BUNDLE_KEY_FILES)
    if not priv.exists():
        priv.parent.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        fd = os.open(priv, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        pub.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo))
    return priv, pub


def prepare_wasm_engine(workdir: Path, policies: Path) -> dict[str, Any]:
    """Build the signed Wasm bundle of ``policies`` (same revision as the OPA server's bundle,
    :func:`build_bundle`) and return the ``opa`` settings that make the sidecar decide with it."""
    priv, _ = ensure_bundle_signing_key(workdir)
    build_wasm_bundle(find_opa(), policies, workdir / WASM_BUNDLE_FILE, signing_key=priv,
                      signing_alg=DEMO_BUNDLE_SIGNING_ALG)
    return {"engine": "wasm", "wasm_bundle": WASM_BUNDLE_FILE, "wasm_bundle_public_key": BUNDLE_KEY_FILES[1],
            "wasm_bundle_signing_alg": DEMO_BUNDLE_SIGNING_ALG}


def _ephemeral_range() -> tuple[int, int]:
    """The kernel's range for outgoing connections' local ports (Linux; a common default elsewhere)."""
    try:
        lo, hi = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(lo), int(hi)
    except (OSError, ValueError):
        return 32768, 60999


_HANDED_OUT: set[int] = set()
_PORTS_LOCK = threading.Lock()
_PORT_RANDOM = secrets.SystemRandom()  # not for secrecy: just no shared seed with tests


def free_ports(n: int) -> list[int]:
    """``n`` distinct loopback ports that nothing listens on, for tests and benchmarks.

    A port handed out here is only reserved once the child process binds it, which may be a
    while later, and a CI run failed when the sidecar found its port taken. Two things can take
    it in between: (1) an outgoing connection (OPA polling a bundle server, a test's HTTP client)
    is given it as its local port, because ``bind(0)`` and outgoing connections draw from the
    same ephemeral range; (2) a later call here hands out the same port again before the first
    child has bound it. So ports come from below the ephemeral range, where the kernel never
    picks them by itself, and this process never hands out a port twice.
    """
    import socket

    lo, hi = 20000, _ephemeral_range()[0] - 1
    if hi - lo < 1000:  # an unusual kernel setting: fall back to the kernel's own choice
        lo, hi = 0, 0
    out: list[int] = []
    with _PORTS_LOCK:
        for _ in range(50 * n + 100):
            if len(out) == n:
                break
            port = _PORT_RANDOM.randint(lo, hi) if hi else 0
            if port in _HANDED_OUT:
                continue
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))  # no SO_REUSEADDR: a port in TIME_WAIT is skipped too
                except OSError:
                    continue
                port = s.getsockname()[1]
            if port not in _HANDED_OUT:
                _HANDED_OUT.add(port)
                out.append(port)
    if len(out) < n:
        raise DemoError(f"could not find {n} free loopback ports")
    return out


@dataclass
class Ports:
    proxy: int = 8080
    admin: int = 9180
    opa: int = 8181
    upstream: int = 8081
    # The FG console: off unless a port is given (the demo gives 9190; test stacks only when they test it).
    console: int | None = None


def write_config(workdir: Path, ports: Ports, *, profile: str, workers: int = 2,
                 extra: dict[str, Any] | None = None, policies: Path | None = None) -> Path:
    """The demo's config. The sidecar decides with the in-process Wasm engine (the default
    ``opa.engine``) on a signed bundle of ``policies`` built here, unless ``extra``'s ``opa``
    says ``engine: rest``; ``extra``'s ``opa`` is merged into the default one, every other key of
    ``extra`` replaces the default's."""
    kid = ensure_keypair(workdir)
    pseudo = workdir / "keys" / "pseudonym.key"
    if not pseudo.exists():
        pseudo.write_text(secrets.token_hex(32))
        pseudo.chmod(0o600)
    base = f"http://127.0.0.1:{ports.upstream}/catalogi/api/v1"
    _, pub = key_paths(workdir)
    cfg: dict[str, Any] = {
        "upstream": {"url": f"http://127.0.0.1:{ports.upstream}"},
        "listen": {"proxy": f"127.0.0.1:{ports.proxy}", "admin": f"127.0.0.1:{ports.admin}"},
        "server": {"workers": workers, "threads": 8},
        "opa": {"url": f"http://127.0.0.1:{ports.opa}"},
        "jwt": {"issuer": DEMO_ISSUER, "audience": DEMO_AUDIENCE, "algorithms": ["ES256"],
                "keys": [{"kid": kid, "file": str(pub.relative_to(workdir))}]},
        "catalogue": {
            "informatieobjecttypen": {f"{base}/informatieobjecttypen/{c}": c for c in CATEGORIES},
            "zaaktypen": {f"{base}/zaaktypen/{c}": c for c in ZAAKTYPEN},
            "coordinator_roltypen": [f"{base}/roltypen/zaakcoordinator"],
            "roltypen": {f"{base}/roltypen/{code}": kind for code, kind in ROLTYPE_KINDS.items()},
        },
        "controlling_orgs": [DEMO_ORG],
        "policy": {"profile": profile},
        "records": {"path": "records.jsonl"},
        "pseudonymisation": {"key_file": "keys/pseudonym.key"},
        "labels": {"dsn": "sqlite:///labels.sqlite3"},
        "metrics": {"multiproc_dir": "metrics"},
        "coordination_retention_days": 3650,
    }
    if ports.console is not None:
        cfg["console"] = {"listen": f"127.0.0.1:{ports.console}"}
    for k, v in (extra or {}).items():
        cfg[k] = {**cfg["opa"], **v} if k == "opa" and isinstance(v, dict) else v
    if cfg["opa"].get("engine", "wasm") == "wasm" and "wasm_bundle" not in cfg["opa"] \
            and "wasm_bundle_url" not in cfg["opa"]:
        cfg["opa"] = {**cfg["opa"], **prepare_wasm_engine(workdir, policies or REPO_ROOT / "policies")}
    path = workdir / "config.yaml"
    path.write_text("# Generated by 'sidecar demo'. Edit and run 'sidecar serve --config' to try changes.\n"
                    + yaml.safe_dump(cfg, sort_keys=False))
    return path


def _wait_http(url: str, timeout: float, proc: subprocess.Popen[bytes], name: str, log: Path,
               want: int = 200) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise DemoError(f"{name} exited with code {proc.returncode} during start-up; log {log}:\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 (loopback URL we built)
                if resp.status == want:
                    return
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}: {exc.read()[:300]!r}"
        except (urllib.error.URLError, OSError) as exc:
            last = str(exc)
        time.sleep(0.1)
    raise DemoError(f"{name} not ready at {url} within {timeout:.0f}s ({last}); see {log}")


def _wait_unix(path: Path, timeout: float, proc: subprocess.Popen[bytes], log: Path) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise DemoError(f"OPA exited with code {proc.returncode} during start-up; see {log}")
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(1)
                s.connect(str(path))
                s.sendall(b"GET /health?bundles=true HTTP/1.0\r\n\r\n")
                if s.recv(64).split(b" ", 2)[1:2] == [b"200"]:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise DemoError(f"OPA not ready on {path} within {timeout:.0f}s; see {log}")


def stop_process(proc: subprocess.Popen[Any], sig: int = signal.SIGTERM, timeout: float = 15) -> None:
    """Ask a child to stop (``sig``), and kill it if it has not within ``timeout`` seconds."""
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


@dataclass
class Stack:
    workdir: Path
    ports: Ports = field(default_factory=Ports)
    profile: str = "knmg"
    policies: Path = REPO_ROOT / "policies"
    workers: int = 2
    config_extra: dict[str, Any] | None = None
    # OPA on a unix socket instead of TCP (the sidecar config must then name unix://PATH).
    opa_socket: Path | None = None
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def config_path(self) -> Path:
        return self.workdir / "config.yaml"

    def prepare(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        write_config(self.workdir, self.ports, profile=self.profile, workers=self.workers,
                     extra=self.config_extra, policies=self.policies)

    def _spawn(self, name: str, cmd: list[str], env: dict[str, str] | None = None) -> Path:
        log = self.workdir / f"{name}.log"
        with log.open("ab") as out:
            self.procs[name] = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, **(env or {})}, cwd=self.workdir,
                preexec_fn=_die_with_parent)  # children must not outlive the demo (see above)
        return log

    def start_opa(self) -> None:
        opa = find_opa()
        bundle = self.workdir / "bundle.tar.gz"
        build_bundle(opa, self.policies, bundle)
        addr = f"unix://{self.opa_socket}" if self.opa_socket else f"127.0.0.1:{self.ports.opa}"
        log = self._spawn("opa", [opa, "run", "--server", "--addr", addr,
                                  "--bundle", str(bundle), "--skip-version-check",
                                  "--log-level", "error", "--shutdown-grace-period", "1"])
        if self.opa_socket:
            _wait_unix(self.opa_socket, 30, self.procs["opa"], log)
        else:
            _wait_http(f"http://127.0.0.1:{self.ports.opa}/health?bundles=true", 30, self.procs["opa"], "OPA", log)

    def start_upstream(self) -> None:
        log = self._spawn("upstream", [
            sys.executable, "-m", "sidecar.devtools.upstream", "--host", "127.0.0.1",
            "--port", str(self.ports.upstream), "--db", str(self.workdir / "upstream.sqlite3"),
            "--catalogue-base", f"http://127.0.0.1:{self.ports.upstream}/catalogi/api/v1"])
        _wait_http(f"http://127.0.0.1:{self.ports.upstream}/catalogi/api/v1/zaaktypen", 30,
                   self.procs["upstream"], "demo upstream", log)

    def start_sidecar(self) -> None:
        log = self._spawn("sidecar", [sys.executable, "-m", "sidecar", "serve", "--config",
                                      str(self.config_path)])
        _wait_http(f"http://127.0.0.1:{self.ports.admin}/-/readyz", 60, self.procs["sidecar"], "sidecar", log)

    def start(self) -> None:
        self.prepare()
        try:
            self.start_opa()
            self.start_upstream()
            self.start_sidecar()
        except BaseException:
            self.stop()
            raise

    def stop_one(self, name: str, sig: int = signal.SIGTERM) -> None:
        proc = self.procs.pop(name, None)
        if proc is not None:
            stop_process(proc, sig)

    def stop(self) -> None:
        for name in ("sidecar", "upstream", "opa"):
            self.stop_one(name)


def curl_examples(stack: Stack) -> str:
    p = stack.ports
    wd = stack.workdir
    tok = f"$({_sidecar_command()} token --workdir {wd} --sub"
    d = f"http://127.0.0.1:{p.proxy}/documenten/api/v1/enkelvoudiginformatieobjecten"
    z = f"http://127.0.0.1:{p.proxy}/zaken/api/v1/zaken"
    examples = seed_relations()["examples"]
    related, unrelated = examples["zvh_overdracht"], examples["unrelated"]["algemeen"]
    return "\n".join([
        "", "Ready. Try these (each prints the HTTP status last):", "",
        "# 1. allowed: a consulent lists documents for a help request (medical items are filtered out in knmg)",
        f"curl -s -w '\\n%{{http_code}}\\n' -H \"Authorization: Bearer {tok} c.jansen --role consulent)\" \\",
        f"     -H 'X-Doelbinding: onderzoek_hulpvraag' {d}",
        "",
        "# 2. denied: enforcement (handhaving) may not use Wams data (rule P1)",
        f"curl -s -w '\\n%{{http_code}}\\n' -H \"Authorization: Bearer {tok} h.devries --role handhaving)\" \\",
        f"     -H 'X-Doelbinding: handhaving' {d}",
        "",
        "# 3. denied: no purpose given (rule P2)",
        f"curl -s -w '\\n%{{http_code}}\\n' -H \"Authorization: Bearer {tok} c.jansen --role consulent)\" {d}",
        "",
        "# 4. 401: no token",
        f"curl -s -w '\\n%{{http_code}}\\n' {d}",
        "",
        "# 5. allowed: c.jansen is behandelaar on this zaak (a rol in the upstream names her)",
        f"curl -s -w '\\n%{{http_code}}\\n' -H \"Authorization: Bearer {tok} c.jansen --role consulent)\" \\",
        f"     -H 'X-Doelbinding: onderzoek_hulpvraag' -H 'Accept-Crs: EPSG:4326' {z}/{related}",
        "",
        "# 6. denied (403, rule N1): no rol on this zaak names c.jansen, her team or her organisation",
        f"curl -s -w '\\n%{{http_code}}\\n' -H \"Authorization: Bearer {tok} c.jansen --role consulent)\" \\",
        f"     -H 'X-Doelbinding: onderzoek_hulpvraag' -H 'Accept-Crs: EPSG:4326' {z}/{unrelated}",
        "",
        f"Metrics:   curl -s http://127.0.0.1:{p.admin}/metrics | grep ^sidecar_decisions_total",
        f"Readiness: curl -s http://127.0.0.1:{p.admin}/-/readyz",
        f"Records:   {wd / 'records.jsonl'}   (check: {_sidecar_command()} records verify --workdir {wd})",
        *([f"FG console: http://127.0.0.1:{p.console}/   log in with the token of:",
           f"           {_sidecar_command()} token --workdir {wd} --sub fg.demo --role fg"]
          if p.console is not None else []),
        f"Logs:      {wd}/{{sidecar,opa,upstream}}.log",
        "Press Ctrl-C to stop all three.", "",
    ])


def _sidecar_command() -> str:
    """The ``sidecar`` executable beside this Python, so printed commands paste as they are."""
    exe = Path(sys.executable).parent / "sidecar"
    return str(exe) if exe.exists() else "sidecar"


def _stop_on_signal(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def run_demo(workdir: Path, profile: str) -> int:
    # SIGTERM (e.g. from a process manager) stops the demo like Ctrl-C: children are stopped too.
    signal.signal(signal.SIGTERM, _stop_on_signal)
    signal.signal(signal.SIGHUP, _stop_on_signal)
    stack = Stack(workdir=workdir, profile=profile, ports=Ports(console=9190))
    print(f"Starting the demo in {workdir} (profile {profile}) …", flush=True)
    try:
        stack.prepare()
        print(f"  OPA {OPA_VERSION} on 127.0.0.1:{stack.ports.opa} …", flush=True)
        stack.start_opa()
        print(f"  demo upstream (ZGW) on 127.0.0.1:{stack.ports.upstream} …", flush=True)
        stack.start_upstream()
        print(f"  sidecar: proxy 127.0.0.1:{stack.ports.proxy}, admin 127.0.0.1:{stack.ports.admin}, "
              f"FG console 127.0.0.1:{stack.ports.console} …", flush=True)
        stack.start_sidecar()
    except DemoError as exc:
        stack.stop()
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        stack.stop()
        return 130
    print(curl_examples(stack), flush=True)
    reported: set[str] = set()
    try:
        while True:
            time.sleep(0.5)
            for name, proc in list(stack.procs.items()):
                if proc.poll() is not None and name not in reported:
                    reported.add(name)
                    msg = {"opa": "OPA exited: the proxy keeps deciding with its in-process policy, but "
                                  "'sidecar explain', the decision API and the console's rule texts fail. "
                                  "Restart the demo to recover."}.get(name, f"{name} exited.")
                    print(f"!! {msg} (exit code {proc.returncode}; log {workdir / (name + '.log')})",
                          file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        print("\nStopping …", flush=True)
    finally:
        stack.stop()
    return 0
