"""Soak test: many concurrent clients against a real stack while OPA is restarted.

Run with ``make soak`` (or ``python -m tests.soak --help``). Not part of ``make test``.

Every request carries its own W3C ``traceparent``, so its decision records can be found by
trace id afterwards. At the end it checks, and prints:

* no protected response was released (HTTP 200) without allow records for its trace
  (request phase and response phase);
* every request the sidecar answered has at least one record;
* ``sidecar records verify`` passes on the records file.

Exit status 0 when all hold, 1 otherwise (the violations are listed).
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from sidecar.devtools.demo import Stack  # noqa: E402
from sidecar.devtools.keys import mint  # noqa: E402
from tests.helpers import DEFAULT_SUBJECT, DOCS, HULP, ZAKEN, read_records, send, start_stack, uuid_of, with_crs  # noqa: E402


@dataclass
class Result:
    scenario: str
    trace_id: str
    status: int  # 0: no HTTP answer (connection error)
    echoed: bool  # the sidecar answered with our trace id


def scenarios(stack: Stack) -> dict[str, tuple[str, str, str | None, str | None]]:
    """name → (method, target, role, purpose). Roles and purposes give allows and denies."""
    up = stack.ports.upstream
    docs = send(up, "GET", DOCS).body
    results = json.loads(docs)["results"]

    def of(cat: str) -> str:
        return next(uuid_of(d) for d in results
                    if d["informatieobjecttype"].endswith("/" + cat) and d.get("bestandsomvang", 0) < 1_000_000)

    alg, med = of("algemeen"), of("medisch")
    zaak = uuid_of(json.loads(send(up, "GET", ZAKEN, with_crs("GET", ZAKEN, {})).body)["results"][0])
    return {
        "read allowed (algemeen)": ("GET", f"{DOCS}/{alg}", "consulent", HULP),
        "read denied (medisch)": ("GET", f"{DOCS}/{med}", "consulent", HULP),
        "read medisch by adviser": ("GET", f"{DOCS}/{med}", "medisch_adviseur", HULP),
        "head denied (medisch)": ("HEAD", f"{DOCS}/{med}", "consulent", HULP),
        "list documents (filtered)": ("GET", DOCS, "consulent", HULP),
        "list zaken": ("GET", ZAKEN, "consulent", HULP),
        "read zaak": ("GET", f"{ZAKEN}/{zaak}", "consulent", HULP),
        "download allowed": ("GET", f"{DOCS}/{alg}/download", "consulent", HULP),
        "download denied": ("GET", f"{DOCS}/{med}/download", "consulent", HULP),
        "handhaving denied (P1)": ("GET", DOCS, "handhaving", "handhaving"),
        "no purpose (P2)": ("GET", DOCS, "consulent", None),
        "no token (401)": ("GET", DOCS, None, HULP),
    }


def client(stack: Stack, plan: dict[str, tuple[str, str, str | None, str | None]], tokens: dict[str, str],
           deadline: float, out: list[Result], lock: threading.Lock, seed: int) -> None:
    rnd = random.Random(seed)  # noqa: S311 (a reproducible request mix, not a secret)
    names = sorted(plan)
    mine: list[Result] = []
    while time.monotonic() < deadline:
        name = rnd.choice(names)
        method, target, role, purpose = plan[name]
        trace_id = secrets.token_hex(16)
        headers = {"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"}
        if role is not None:
            headers["Authorization"] = f"Bearer {tokens[role]}"
        if purpose is not None:
            headers["X-Doelbinding"] = purpose
        try:
            r = send(stack.ports.proxy, method, target, with_crs(method, target, headers), timeout=30)
            echoed = (r.header("traceparent") or "").split("-")[1:2] == [trace_id]
            mine.append(Result(name, trace_id, r.status, echoed))
        except OSError:
            mine.append(Result(name, trace_id, 0, False))
    with lock:
        out.extend(mine)


def restart_opa(stack: Stack, log: list[str]) -> None:
    t0 = time.monotonic()
    stack.stop_one("opa")
    time.sleep(1.0)  # long enough for requests to meet a missing OPA
    stack.start_opa()
    log.append(f"OPA restarted (down {time.monotonic() - t0:.1f} s)")


def load_records(path: Path) -> dict[str, list[dict[str, Any]]]:
    by_trace: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for rec in read_records(path, torn_ok=True):  # verify (below) reports a torn line
        by_trace[rec["trace_id"]].append(rec)
    return by_trace


def check(results: list[Result], records: Path) -> tuple[list[str], dict[str, Any]]:
    by_trace = load_records(records)
    violations: list[str] = []
    for r in results:
        recs = by_trace.get(r.trace_id, [])
        if r.status == 0:
            violations.append(f"{r.scenario}: no HTTP answer (trace {r.trace_id})")
            continue
        if not r.echoed:
            violations.append(f"{r.scenario}: answer without our trace id (status {r.status})")
        if not recs:
            violations.append(f"{r.scenario}: status {r.status} without any record (trace {r.trace_id})")
            continue
        if r.status == 200:
            phases = {(x["phase"], x["decision"]) for x in recs}
            if ("request", "allow") not in phases or ("response", "allow") not in phases \
                    or ("request", "deny") in phases:
                violations.append(f"{r.scenario}: 200 released without request+response allow records "
                                  f"(trace {r.trace_id}: {sorted(phases)})")
    figures = {"records": sum(len(v) for v in by_trace.values()),
               "traces_with_records": len(by_trace)}
    return violations, figures


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m tests.soak", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=float, default=180, help="seconds of load (default 180)")
    p.add_argument("--clients", type=int, default=16, help="concurrent client threads (default 16)")
    p.add_argument("--opa-restarts", type=int, default=2, help="OPA stop+start cycles during the run (default 2)")
    p.add_argument("--workers", type=int, default=2, help="sidecar gunicorn workers (default 2)")
    p.add_argument("--workdir", type=Path, default=None, help="stack folder (default: a new temporary folder)")
    p.add_argument("--seed", type=int, default=1, help="random seed for the request mix")
    args = p.parse_args(argv)

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="sidecar-soak-"))
    print(f"soak: stack in {workdir}; {args.clients} clients for {args.duration:.0f} s; "
          f"{args.opa_restarts} OPA restarts", flush=True)
    stack = start_stack(workdir, "knmg", workers=args.workers)
    events: list[str] = []
    try:
        plan = scenarios(stack)
        # Need-to-know: the college roles act as the seed's demo users, who relate to the zaken of
        # the documents picked above, so that the "allowed" scenarios are allowed.
        tokens = {role: mint(workdir, sub=DEFAULT_SUBJECT.get(role, {}).get("sub", f"soak-{role}"), role=role)
                  for role in ("consulent", "medisch_adviseur", "handhaving")}
        results: list[Result] = []
        lock = threading.Lock()
        started = time.monotonic()
        deadline = started + args.duration
        threads = [threading.Thread(target=client, args=(stack, plan, tokens, deadline, results, lock, args.seed + i),
                                    daemon=True) for i in range(args.clients)]
        for t in threads:
            t.start()
        for k in range(1, args.opa_restarts + 1):
            at = started + args.duration * k / (args.opa_restarts + 1)
            time.sleep(max(0.0, at - time.monotonic()))
            restart_opa(stack, events)
            print(f"  {events[-1]} at t={time.monotonic() - started:.0f} s", flush=True)
        for t in threads:
            t.join(timeout=args.duration + 120)
        elapsed = time.monotonic() - started
    finally:
        stack.stop()

    records = workdir / "records.jsonl"
    violations, figures = check(results, records)
    verify = subprocess.run([sys.executable, "-m", "sidecar", "records", "verify", str(records)],
                            capture_output=True, text=True, check=False)
    per_status = collections.Counter(r.status for r in results)
    per_scenario: dict[str, collections.Counter[int]] = collections.defaultdict(collections.Counter)
    for r in results:
        per_scenario[r.scenario][r.status] += 1

    print(f"\nrequests sent: {len(results)} in {elapsed:.0f} s ({len(results) / elapsed:.0f}/s)")
    print("per status:    " + ", ".join(f"{s}: {n}" for s, n in sorted(per_status.items())))
    for name in sorted(per_scenario):
        print(f"  {name:28} " + ", ".join(f"{s}: {n}" for s, n in sorted(per_scenario[name].items())))
    print(f"records:       {figures['records']} lines for {figures['traces_with_records']} trace ids")
    print(f"200 on protected routes: {per_status.get(200, 0)}; 503 (fail closed): {per_status.get(503, 0)}")
    print(f"records verify: exit {verify.returncode}: {(verify.stdout + verify.stderr).strip()[:300]}")
    print(f"violations:    {len(violations)}")
    for v in violations[:50]:
        print(f"  - {v}")
    ok = not violations and verify.returncode == 0 and results
    print("soak: PASS" if ok else "soak: FAIL", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
