"""``make bench-cpu``: what one request costs each process, measured one request at a time.

The latency runs of ``make bench`` show CPU per request under load, where queueing and the other
processes on the two cores blur who spent what. This measures the cost itself: one keep-alive
connection, requests sent one after another (no concurrency, no queueing), and the CPU time
(utime + stime from /proc) that the sidecar's gunicorn master and workers, OPA, the upstream and
the pass-through floor each spent, divided by the number of requests. Around each case through a
sidecar its metrics are scraped, so the OPA calls, record writes and relation look-ups per request
are counted too. ``make bench`` runs the same cases (:func:`run_cases`) after its scenarios; the
figures feed its CPU target.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import metrics as prom
from bench.run import DOCS, OPA_PATH, ROOT, consulent_headers, opa_inputs, seed_doc, seed_lists
from bench.stack import BenchStack, tree_cpu
from sidecar.devtools.demo import Ports, find_opa, free_ports

WARMUP = 50  # requests per case before measuring: pools, caches, the verified-token cache


@dataclass(frozen=True)
class Case:
    key: str
    title: str
    port: int
    path: str
    headers: dict[str, str]
    count: int
    method: str = "GET"
    body: bytes | None = None
    admin: int = 0  # the sidecar's admin port, to count its work per request (0: not a sidecar)


def sidecar_counts(before: prom.Samples, after: prom.Samples) -> dict[str, float]:
    """What a sidecar did between two scrapes: requests, OPA calls, record writes, request-phase
    cache results, relation look-ups upstream and relation cache results (summed over caches)."""
    def d(name: str, **labels: str) -> float:
        return prom.total(after, name, **labels) - prom.total(before, name, **labels)

    return {
        "requests": d("sidecar_requests_total"),
        "opa_calls": d("sidecar_opa_request_duration_seconds_count"),
        "record_writes": d("sidecar_record_write_duration_seconds_count"),
        "records": d("sidecar_records_written_total"),
        "request_phase_hit": d("sidecar_request_phase_cache_total", result="hit"),
        "request_phase_miss": d("sidecar_request_phase_cache_total", result="miss"),
        "relation_lookups": d("sidecar_relation_lookups_total"),
        "relation_cache_hit": d("sidecar_relation_cache_total", result="hit"),
        "relation_cache_miss": d("sidecar_relation_cache_total", result="miss"),
    }


def _send(conn: http.client.HTTPConnection, case: Case) -> int:
    conn.request(case.method, case.path, body=case.body, headers=case.headers)
    resp = conn.getresponse()
    resp.read()
    return resp.status


def run_case(case: Case, pids: dict[str, int], warmup: int = WARMUP) -> dict[str, Any]:
    """``case.count`` requests one after another on one connection, after ``warmup`` more."""
    conn = http.client.HTTPConnection("127.0.0.1", case.port, timeout=30)
    for _ in range(warmup):
        status = _send(conn, case)
        if status != 200:
            raise SystemExit(f"{case.key}: {case.method} {case.path} on port {case.port}: HTTP {status}")
    m0 = prom.scrape(case.admin) if case.admin else None
    before = {k: tree_cpu(v) for k, v in pids.items()}
    started = time.perf_counter()
    for _ in range(case.count):
        _send(conn, case)
    wall_ms = (time.perf_counter() - started) / case.count * 1000
    after = {k: tree_cpu(v) for k, v in pids.items()}
    conn.close()
    out: dict[str, Any] = {
        "key": case.key, "case": case.title, "requests": case.count, "wall_ms": round(wall_ms, 3),
        "cpu_ms": {k: round((after[k] - before[k]) / case.count * 1000, 3) for k in pids}}
    if m0 is not None:
        out["sidecar"] = sidecar_counts(m0, prom.scrape(case.admin))
    return out


def cases(stack: BenchStack, orgs: dict[int, str], n: int) -> list[Case]:
    """Single reads (direct, the pass-through floor, the sidecar with warm and with cold relation
    caches), lists of 50 and of 0 the same ways, and the OPA calls on their own."""
    headers = consulent_headers(stack.workdir)
    read = f"{DOCS}/{seed_doc(stack, 'algemeen')}"
    page, empty = f"{DOCS}?bronorganisatie={orgs[50]}", f"{DOCS}?bronorganisatie={orgs[0]}"
    p, cold = stack.ports, stack.cold_ports
    single, batch = opa_inputs()
    opa_json = {"Content-Type": "application/json"}
    out = [Case("read_direct", "read, direct", p.upstream, read, headers, n)]
    if stack.passthrough_port:
        out.append(Case("read_floor", "read, pass-through floor", stack.passthrough_port, read, headers, n))
    out.append(Case("read_sidecar", "read, sidecar", p.proxy, read, headers, n, admin=p.admin))
    if cold:
        out.append(Case("read_cold", "read, sidecar, relations cold", cold.proxy, read, headers, n, admin=cold.admin))
    lists = max(1, n // 10)
    out += [Case("list_50_direct", "list of 50, direct", p.upstream, page, headers, lists),
            Case("list_50_sidecar", "list of 50, sidecar", p.proxy, page, headers, lists, admin=p.admin)]
    if cold:
        out.append(Case("list_50_cold", "list of 50, sidecar, relations cold", cold.proxy, page, headers, lists,
                        admin=cold.admin))
    out += [Case("list_0_direct", "list of 0, direct", p.upstream, empty, headers, lists),
            Case("list_0_sidecar", "list of 0, sidecar", p.proxy, empty, headers, lists, admin=p.admin),
            Case("opa_single", "OPA decision, one input", p.opa, OPA_PATH, opa_json, n, method="POST",
                 body=json.dumps({"input": single}).encode()),
            Case("opa_batch_50", "OPA decision, 50-item batch", p.opa, OPA_PATH, opa_json, lists, method="POST",
                 body=json.dumps({"input": batch}).encode())]
    return out


def pids_of(stack: BenchStack) -> dict[str, int]:
    return {k: stack.procs[k].pid for k in ("sidecar", "sidecar_cold", "opa", "upstream", "passthrough")
            if k in stack.procs}


def run_cases(stack: BenchStack, orgs: dict[int, str], n: int, echo: bool = True,
              warmup: int = WARMUP) -> list[dict[str, Any]]:
    pids = pids_of(stack)
    out = []
    for case in cases(stack, orgs, n):
        res = run_case(case, pids, warmup)
        out.append(res)
        if echo:
            shown = {k: v for k, v in res["cpu_ms"].items() if v >= 0.01}
            print(f"{case.title:38s} {case.count:5d} req  wall {res['wall_ms']:6.2f} ms/req  CPU ms/req "
                  + "  ".join(f"{k} {v:.2f}" for k, v in shown.items()), file=sys.stderr, flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.cpu", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=2000, help="single reads per case (lists: a tenth)")
    ap.add_argument("--policies", type=Path, default=ROOT / "policies", help="policy folder (default policies/)")
    ap.add_argument("--workers", type=int, default=2, help="sidecar gunicorn workers (default 2)")
    args = ap.parse_args(argv)
    find_opa()
    tmp = Path(tempfile.mkdtemp(prefix="sidecar-bench-cpu-"))
    p = free_ports(7)
    stack = BenchStack(workdir=tmp / "stack", ports=Ports(proxy=p[0], admin=p[1], opa=p[2], upstream=p[3]),
                       profile="knmg", workers=args.workers, policies=args.policies.resolve())
    stack.start()
    try:
        stack.start_passthrough(p[4])
        stack.start_cold_sidecar(p[5], p[6])
        orgs = seed_lists(stack)
        print(json.dumps(run_cases(stack, orgs, args.requests)))
    finally:
        stack.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
