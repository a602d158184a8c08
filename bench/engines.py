"""``make bench-engines``: CPU per policy decision, OPA over REST vs the wasm engine.

Both engines are driven in this process, one decision after another (no concurrency), on the
same inputs from policies/testdata/cases: a single response-phase read, and a list response of
50 items decided in one call. The CPU counted for REST is this process's (encode, HTTP, parse)
plus the OPA server's (from /proc); for wasm it is this process's alone (the evaluation runs
here). Wall time per decision is printed too, for orientation; it is not a latency under load.

    python -m bench.engines [--decisions N] [--batches N] [--json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.stack import cpu_seconds
from sidecar.devtools.demo import REPO_ROOT, Ports, Stack, build_wasm_bundle, find_opa, free_ports, policy_revision
from sidecar.engine import PolicyEngine
from sidecar.opa import OpaClient
from sidecar.settings import OpaSettings
from sidecar.wasm_engine import WasmEngine

POLICIES = REPO_ROOT / "policies"


def inputs() -> tuple[dict[str, Any], dict[str, Any]]:
    """(a single allowed response-phase read, the same subject listing 50 items)."""
    cases = json.loads((POLICIES / "testdata" / "cases" / "data.json").read_text())
    base = next(c for c in cases if c["expect"]["decision"] and c["profile"] == "knmg"
                and c["input"]["action"]["name"] == "read"
                and c["input"]["action"]["properties"]["phase"] == "response")
    single = json.loads(json.dumps(base["input"]))
    single["context"]["profile"] = base["profile"]
    batch = json.loads(json.dumps(single))
    batch["action"]["name"] = "list"
    batch["resource"] = {**batch["resource"], "id": None,
                         "properties": {**batch["resource"]["properties"], "category": None, "labels": None,
                                        "relation": None}}
    resources = [c["input"]["resource"] for c in cases if c["profile"] == "knmg"]
    batch["evaluations"] = [{"resource": resources[i % len(resources)]} for i in range(50)]
    return single, batch


def measure(engine: PolicyEngine, doc: dict[str, Any], n: int, opa_pid: int | None) -> dict[str, Any]:
    for _ in range(min(50, n)):  # warm-up: connection pool, this thread's wasm instance
        engine.decide(doc)
    cpu0, opa0, wall0 = time.process_time(), cpu_seconds(opa_pid) if opa_pid else 0.0, time.perf_counter()
    for _ in range(n):
        engine.decide(doc)
    wall = time.perf_counter() - wall0
    by = {"sidecar": (time.process_time() - cpu0) / n * 1000}
    if opa_pid:
        by["opa"] = (cpu_seconds(opa_pid) - opa0) / n * 1000
    return {"n": n, "wall_ms": round(wall / n * 1000, 4), "cpu_ms": round(sum(by.values()), 4),
            "cpu_ms_by": {k: round(v, 4) for k, v in by.items()}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.engines", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--decisions", type=int, default=3000, help="single decisions per engine (default 3000)")
    ap.add_argument("--batches", type=int, default=300, help="50-item batches per engine (default 300)")
    ap.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="sidecar-bench-engines-"))
    p = free_ports(3)
    stack = Stack(workdir=tmp / "stack", ports=Ports(proxy=p[0], admin=p[1], opa=p[2]), workers=1)
    rows = []
    try:
        stack.prepare()
        stack.start_opa()
        bundle = tmp / "wasm.tar.gz"
        build_wasm_bundle(find_opa(), POLICIES, bundle, revision=policy_revision(POLICIES))
        engines: list[tuple[str, PolicyEngine, int | None]] = [
            ("rest", OpaClient(OpaSettings(url=f"http://127.0.0.1:{p[2]}")), stack.procs["opa"].pid),
            ("wasm", WasmEngine(OpaSettings(engine="wasm", wasm_bundle=bundle), poll=False), None)]
        single, batch = inputs()
        for name, engine, pid in engines:
            for case, doc, n in (("single decision", single, args.decisions), ("batch of 50", batch, args.batches)):
                rows.append({"engine": name, "case": case, **measure(engine, doc, n, pid)})
    finally:
        stack.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        print(f"{'engine':<6} {'case':<16} {'n':>6} {'wall ms':>9} {'CPU ms':>9}  CPU ms by process")
        for r in rows:
            print(f"{r['engine']:<6} {r['case']:<16} {r['n']:>6} {r['wall_ms']:>9.3f} {r['cpu_ms']:>9.3f}  "
                  + ", ".join(f"{k} {v:.3f}" for k, v in r["cpu_ms_by"].items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
