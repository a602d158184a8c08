"""``make bench-cpu``: CPU per request of each process, one request at a time.

The load runs (``make bench``) show latency under load, where queueing and the other processes on
the two cores blur who spent what. This measures the cost itself: one keep-alive connection,
requests sent one after another (no concurrency, no queueing), and the CPU time (utime + stime
from /proc) that the sidecar's gunicorn master and workers, OPA, the upstream and the
pass-through floor each spent, divided by the number of requests. Same stack as ``make bench``.

    python -m bench.cpu [--requests N] [--policies DIR]

Prints one line per case: wall time per request and CPU ms per request per process.
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench.run import DOCS, HULP, ROOT, seed_doc, seed_lists
from bench.stack import BenchStack, tree_cpu
from sidecar.devtools.demo import Ports, find_opa, free_ports
from sidecar.devtools.keys import DEMO_ORG, mint


def _run(port: int, path: str, headers: dict[str, str], n: int, pids: dict[str, int]) -> tuple[float, dict[str, float]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for _ in range(50):  # warm-up: pools, caches, the verified-token cache
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        resp.read()
        if resp.status != 200:
            raise SystemExit(f"GET {path} on port {port}: HTTP {resp.status}")
    before = {k: tree_cpu(v) for k, v in pids.items()}
    started = time.perf_counter()
    for _ in range(n):
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        resp.read()
    wall_ms = (time.perf_counter() - started) / n * 1000
    after = {k: tree_cpu(v) for k, v in pids.items()}
    conn.close()
    return wall_ms, {k: round((after[k] - before[k]) / n * 1000, 3) for k in pids}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.cpu", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=2000, help="single reads per case (lists: a tenth)")
    ap.add_argument("--policies", type=Path, default=ROOT / "policies", help="policy folder (default policies/)")
    ap.add_argument("--workers", type=int, default=2, help="sidecar gunicorn workers (default 2)")
    args = ap.parse_args(argv)
    find_opa()
    tmp = Path(tempfile.mkdtemp(prefix="sidecar-bench-cpu-"))
    p = free_ports(5)
    stack = BenchStack(workdir=tmp / "stack", ports=Ports(proxy=p[0], admin=p[1], opa=p[2], upstream=p[3]),
                       profile="knmg", workers=args.workers, policies=args.policies.resolve())
    stack.start()
    try:
        stack.start_passthrough(p[4])
        orgs = seed_lists(stack)
        headers = {"Authorization": "Bearer " + mint(stack.workdir, sub="c.jansen", role="consulent", org=DEMO_ORG,
                                                     ttl=7200),
                   "X-Doelbinding": HULP}
        read = f"{DOCS}/{seed_doc(stack, 'algemeen')}"
        page = f"{DOCS}?bronorganisatie={orgs[50]}"
        pids = {k: stack.procs[k].pid for k in ("sidecar", "opa", "upstream", "passthrough")}
        n = args.requests
        out = []
        for name, port, path, count in (("read, direct", p[3], read, n), ("read, pass-through floor", p[4], read, n),
                                        ("read, sidecar", p[0], read, n), ("list of 50, direct", p[3], page, n // 10),
                                        ("list of 50, sidecar", p[0], page, n // 10)):
            wall, cpu = _run(port, path, headers, count, pids)
            cpu = {k: v for k, v in cpu.items() if v >= 0.01}
            out.append({"case": name, "requests": count, "wall_ms": round(wall, 3), "cpu_ms": cpu})
            print(f"{name:26s} {count:5d} req  wall {wall:6.2f} ms/req  CPU ms/req "
                  + "  ".join(f"{k} {v:.2f}" for k, v in cpu.items()), flush=True)
        print(json.dumps(out), file=sys.stderr)
    finally:
        stack.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
