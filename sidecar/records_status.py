"""The result of ``sidecar records verify --metrics-file``, as Prometheus sees it.

The nightly job writes it in the Prometheus text format, atomically (a temporary file in the same
folder, fsync'd, renamed over the old one), so that a reader never sees half a file:

- systemd: into node_exporter's textfile-collector folder;
- Kubernetes: into the small status volume, from which every sidecar's admin ``/metrics`` exports
  it (``records.verify_status_file``). The sidecar re-renders only the known gauges from their
  numbers, never passing on text from the volume: whatever else the file holds is not exported.
"""

from __future__ import annotations

import logging
import math
import re
import time
from pathlib import Path

from sidecar.fsutil import write_atomically

log = logging.getLogger("sidecar.records")

# name → help. Gauges: each run replaces them all.
VERIFY_METRICS: dict[str, str] = {
    "sidecar_records_verify_success":
        "1 if the last 'sidecar records verify' found every records file intact and complete, else 0.",
    "sidecar_records_verify_last_run_timestamp_seconds":
        "When the last 'sidecar records verify' finished (Unix time).",
    "sidecar_records_verify_last_success_timestamp_seconds":
        "When 'sidecar records verify' last succeeded (Unix time; kept from the previous file by a failed run).",
    "sidecar_records_verify_records":
        "Decision records whose chain the last verify checked.",
    "sidecar_records_verify_files":
        "Records files the last verify checked.",
    "sidecar_records_verify_problems":
        "Problems the last verify found: broken chains, missing, unlisted or truncated files, broken manifests.",
}
_LINE = re.compile(r"(sidecar_records_verify_[a-z_]+) ([-+0-9.eE]+|NaN|[+-]Inf)")


def render(values: dict[str, float]) -> str:
    out = []
    for name, help_text in VERIFY_METRICS.items():
        if name in values:
            out += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name} {values[name]!r}"]
    return "\n".join(out) + "\n"


def parse(text: str) -> dict[str, float]:
    """The known gauges of a status file (anything else in it is ignored)."""
    values: dict[str, float] = {}
    for line in text.splitlines():
        m = _LINE.fullmatch(line.strip())
        if m and m.group(1) in VERIFY_METRICS:
            try:
                value = float(m.group(2))
            except ValueError:
                continue
            if math.isfinite(value):
                values[m.group(1)] = value
    return values


def write_metrics_file(path: Path, *, ok: bool, records: int, files: int, problems: int,
                       now: float | None = None) -> None:
    """Write the result of one run, keeping the previous file's last-success time after a failure."""
    now = time.time() if now is None else now
    values = {"sidecar_records_verify_success": 1.0 if ok else 0.0,
              "sidecar_records_verify_last_run_timestamp_seconds": round(now, 3),
              "sidecar_records_verify_records": float(records),
              "sidecar_records_verify_files": float(files),
              "sidecar_records_verify_problems": float(problems)}
    if ok:
        values["sidecar_records_verify_last_success_timestamp_seconds"] = round(now, 3)
    else:
        try:
            before = parse(path.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            before = {}
        last = before.get("sidecar_records_verify_last_success_timestamp_seconds")
        if last is not None:
            values["sidecar_records_verify_last_success_timestamp_seconds"] = last
    # Readable by node_exporter (another user) whatever the job's umask.
    write_atomically(path, render(values).encode("ascii"), mode=0o644)


def exported(path: Path | None) -> bytes:
    """The status file's gauges for the sidecar's ``/metrics`` (empty without a file: the alert
    WamsSidecarRecordsVerifyStale then fires once it has been absent long enough)."""
    if path is None:
        return b""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return b""
    except OSError as exc:
        log.warning("records verify status not readable",
                    extra={"event": "records_verify_status_unreadable", "file": str(path), "error": str(exc)})
        return b""
    values = parse(text)
    return render(values).encode("ascii") if values else b""
