"""Multiprocess mode with the kept process id (sidecar.metrics._Pid): a process forked after the
metrics exist (a gunicorn worker) still writes files of its own, and /metrics adds them up."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent("""
    import os, sys
    from prometheus_client import CollectorRegistry, multiprocess
    from prometheus_client import values
    from sidecar import metrics
    assert values.ValueClass._multiprocess
    metrics.requests_total.labels("fork-test", "2xx").inc(2)   # the parent, before the fork
    child = os.fork()
    if child == 0:
        metrics.requests_total.labels("fork-test", "2xx").inc(5)
        os._exit(0)
    assert os.waitpid(child, 0)[1] == 0
    metrics.requests_total.labels("fork-test", "2xx").inc(1)
    reg = CollectorRegistry()
    multiprocess.MultiProcessCollector(reg)
    print(reg.get_sample_value("sidecar_requests_total", {"route": "fork-test", "status_class": "2xx"}))
    print(child)
""")


def test_a_forked_worker_writes_its_own_files_and_the_sum_is_kept(tmp_path: Path) -> None:
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr
    total, child = out.stdout.split()
    assert float(total) == 8.0  # 2 + 1 in the parent, 5 in the child: nothing lost or counted twice
    assert (tmp_path / f"counter_{child}.db").exists()  # the child's own file, named by its real pid
