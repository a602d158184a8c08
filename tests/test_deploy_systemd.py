"""systemd units for one host (deploy/systemd): hardened, and accepted by `systemd-analyze verify`
(with the ExecStart binaries pointed at this checkout's sidecar and OPA, since /opt and
/usr/local are not installed here) and rated by `systemd-analyze security --offline`."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sidecar.devtools.demo import find_opa

ROOT = Path(__file__).resolve().parents[1]
UNITS = ROOT / "deploy" / "systemd"
NAMES = ("wams-sidecar.service", "opa.service")
INSTALLED = {"/opt/wams-sidecar/bin/sidecar": str(Path(sys.executable).parent / "sidecar"),
             "/usr/local/bin/opa": None}  # resolved at test time (find_opa)
HARDENING = {
    "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
    "PrivateDevices": "yes", "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes",
    "ProtectControlGroups": "yes", "RestrictSUIDSGID": "yes", "LockPersonality": "yes",
    "CapabilityBoundingSet": "", "SystemCallArchitectures": "native", "UMask": "0077",
}


def parse_unit(text: str) -> dict[str, list[tuple[str, str]]]:
    """Sections → (key, value) in order; keys may repeat (LoadCredential=, SystemCallFilter=)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    lines = iter(text.splitlines())
    for raw in lines:
        line = raw.strip()
        while line.endswith("\\"):
            line = line[:-1] + " " + next(lines).strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        assert current is not None, f"key outside a section: {line!r}"
        key, sep, value = line.partition("=")
        assert sep, f"not KEY=VALUE: {line!r}"
        current.append((key.strip(), value.strip()))
    return sections


def values(unit: dict[str, list[tuple[str, str]]], section: str, key: str) -> list[str]:
    return [v for k, v in unit.get(section, []) if k == key]


def unit(name: str) -> dict[str, list[tuple[str, str]]]:
    return parse_unit((UNITS / name).read_text())


@pytest.mark.parametrize("name", NAMES)
def test_unit_is_hardened(name: str) -> None:
    u = unit(name)
    assert values(u, "Unit", "Description")
    assert values(u, "Install", "WantedBy") == ["multi-user.target"]
    svc = dict(u["Service"])
    for key, want in HARDENING.items():
        assert svc.get(key) == want, f"{name}: {key}={svc.get(key)!r}, want {want!r}"
    assert svc.get("User") or svc.get("DynamicUser") == "yes", f"{name}: runs as root"
    assert svc.get("User") not in ("root", "0")
    assert values(u, "Service", "SystemCallFilter"), name
    assert svc.get("Restart") == "on-failure"


def test_sidecar_unit_paths() -> None:
    u = unit("wams-sidecar.service")
    svc = dict(u["Service"])
    assert svc["User"] == "wams-sidecar"
    assert svc["ExecStart"].endswith("sidecar serve --config /etc/wams-sidecar/config.yaml")
    assert svc["ExecStartPre"].endswith("--check")  # a bad config fails before gunicorn starts
    # Records and labels: the only persistent writable place, owned by the service user.
    assert "/var/lib/wams-sidecar" in svc["ReadWritePaths"].split()
    assert svc["StateDirectory"] == "wams-sidecar" and svc["RuntimeDirectory"] == "wams-sidecar"
    creds = {v.split(":")[0] for v in values(u, "Service", "LoadCredential")}
    assert creds == {"pseudonym.key", "zgw-client-secret"}
    assert "opa.service" in values(u, "Unit", "After")[0]
    assert not values(u, "Unit", "Requires") and not values(u, "Unit", "BindsTo"), \
        "the sidecar must keep running (failing closed) when OPA stops"
    sysusers = (UNITS / "wams-sidecar.sysusers").read_text()
    assert re.search(r"^u wams-sidecar ", sysusers, re.M)


def test_opa_unit_matches_the_shipped_opa_setup() -> None:
    svc = dict(unit("opa.service")["Service"])
    start = svc["ExecStart"]
    assert "--addr=127.0.0.1:8181" in start  # loopback only
    assert "--diagnostic-addr=127.0.0.1:8282" in start  # /health and /metrics (bundle status) for Prometheus
    assert "--config-file=/etc/opa/config.yaml" in start
    assert "--set-file=keys.wams-bundle.key=" in start
    assert svc["DynamicUser"] == "yes" and svc["MemoryDenyWriteExecute"] == "yes"


def _installed_copies(tmp: Path) -> list[Path]:
    """Copies of the units with ExecStart binaries pointed at this checkout's (verify checks them)."""
    mapping = {**INSTALLED, "/usr/local/bin/opa": find_opa()}
    out = []
    for name in NAMES:
        text = (UNITS / name).read_text()
        for installed, here in mapping.items():
            text = text.replace(installed, str(here))
        (tmp / name).write_text(text)
        out.append(tmp / name)
    return out


def _analyze() -> str:
    exe = shutil.which("systemd-analyze")
    if exe is None:
        pytest.skip("systemd-analyze is not installed (the unit files are still parsed and checked above)")
    return exe


def _systemd_analyze(cwd: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_analyze(), *map(str, args)], capture_output=True, text=True, timeout=60, cwd=cwd)


def _assert_verifies_clean(cwd: Path, units: list[Path]) -> None:
    res = _systemd_analyze(cwd, "verify", *units)
    assert res.returncode == 0, res.stdout + res.stderr
    assert not res.stderr.strip(), f"systemd-analyze verify warned:\n{res.stderr}"


def _assert_exposure_is_low(cwd: Path, unit: Path) -> None:
    res = _systemd_analyze(cwd, "security", "--offline=true", unit)
    m = re.search(r"Overall exposure level for \S+: ([\d.]+)", res.stdout + res.stderr)
    assert m, res.stdout[-2000:] + res.stderr
    # 0 = fully locked down, 10 = unprotected; systemd calls < 2 "OK".
    assert float(m.group(1)) < 2.0, res.stdout[-3000:]


def test_systemd_analyze_verify(tmp_path: Path) -> None:
    _assert_verifies_clean(tmp_path, _installed_copies(tmp_path))


def test_systemd_analyze_verify_catches_a_misspelt_key(tmp_path: Path) -> None:
    sidecar, _ = _installed_copies(tmp_path)
    sidecar.write_text(sidecar.read_text().replace("NoNewPrivileges=yes", "NoNewPrivilege=yes"))
    res = _systemd_analyze(tmp_path, "verify", sidecar)
    assert "Unknown key" in res.stderr and "NoNewPrivilege" in res.stderr


@pytest.mark.parametrize("name", NAMES)
def test_systemd_analyze_security_exposure_is_low(name: str, tmp_path: Path) -> None:
    copies = {p.name: p for p in _installed_copies(tmp_path)}
    _assert_exposure_is_low(tmp_path, copies[name])


# ---- the nightly records verify (wams-records-verify.service + .timer) ------------------------

VERIFY_UNITS = ("wams-records-verify.service", "wams-records-verify.timer")


def _verify_copies(tmp: Path) -> list[Path]:
    out = []
    for name in VERIFY_UNITS:
        text = (UNITS / name).read_text().replace("/opt/wams-sidecar/bin/sidecar",
                                                  str(INSTALLED["/opt/wams-sidecar/bin/sidecar"]))
        (tmp / name).write_text(text)
        out.append(tmp / name)
    return out


def test_records_verify_service_is_hardened_and_only_reads_the_records() -> None:
    u = unit("wams-records-verify.service")
    svc = dict(u["Service"])
    for key, want in HARDENING.items():
        assert svc.get(key) == want, f"{key}={svc.get(key)!r}, want {want!r}"
    assert svc["Type"] == "oneshot" and svc["User"] == "wams-sidecar"  # the records' owner, not root
    assert svc["PrivateNetwork"] == "yes"
    sidecar = dict(unit("wams-sidecar.service")["Service"])
    assert svc["ReadOnlyPaths"].split() == sidecar["ReadWritePaths"].split() == ["/var/lib/wams-sidecar"]
    args = svc["ExecStart"].split()
    assert args[1:4] == ["records", "verify", "/var/lib/wams-sidecar"]
    assert args[4] == "--metrics-file" and args[5].endswith(".prom")
    assert svc["ReadWritePaths"].split() == [str(Path(args[5]).parent)]  # the only writable place
    assert values(u, "Service", "SystemCallFilter")
    assert "Install" not in u, "started by the timer only"


def test_records_verify_timer_runs_nightly_and_catches_up() -> None:
    t = dict(unit("wams-records-verify.timer")["Timer"])
    assert re.fullmatch(r"\*-\*-\* \d\d:\d\d:\d\d", t["OnCalendar"]), "once a day"
    assert t["Persistent"] == "yes"  # a night missed while the host was off runs at the next boot
    assert t["Unit"] == "wams-records-verify.service"
    assert values(unit("wams-records-verify.timer"), "Install", "WantedBy") == ["timers.target"]


def test_records_verify_command_runs(tmp_path: Path) -> None:
    """The unit's ExecStart (folders moved to tmp) on a folder an anchored writer wrote."""
    from sidecar.records import RecordWriter
    from sidecar.records_status import parse
    from tests.helpers import decision_record as _rec

    args = dict(unit("wams-records-verify.service")["Service"])["ExecStart"].split()
    state, collector = tmp_path / "state", tmp_path / "collector"
    state.mkdir()
    collector.mkdir()
    (state / "labels.sqlite3").write_bytes(b"SQLite format 3\x00")  # beside the records, not checked
    w = RecordWriter(state / "records.jsonl", anchored=True)
    try:
        w.write(_rec(1))
    finally:
        w.close()
    prom = collector / Path(args[5]).name
    res = subprocess.run([sys.executable, "-m", "sidecar", *args[1:3], str(state), args[4], str(prom)],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    assert parse(prom.read_text())["sidecar_records_verify_success"] == 1


def test_systemd_analyze_verify_records_verify_units(tmp_path: Path) -> None:
    _assert_verifies_clean(tmp_path, _verify_copies(tmp_path))
    # Not vacuous: a misspelt key in the timer is reported.
    timer = tmp_path / "wams-records-verify.timer"
    timer.write_text(timer.read_text().replace("Persistent=yes", "Persistant=yes"))
    res = _systemd_analyze(tmp_path, "verify", timer)
    assert "Unknown key" in res.stderr and "Persistant" in res.stderr


def test_systemd_analyze_security_records_verify(tmp_path: Path) -> None:
    _assert_exposure_is_low(tmp_path, _verify_copies(tmp_path)[0])
