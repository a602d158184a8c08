"""``make bench``: start a stack, measure every scenario directly and through the sidecar, write
``bench/results/<date>.json`` and regenerate ``docs/benchmarks.md`` (see bench/report.py).

Load comes from a separate process (``python -m bench.loadgen``) at a fixed arrival rate; the
direct and the through-sidecar runs of a scenario alternate in short rounds in that one process,
so that noise from other work on the machine hits both. Maximum throughput is measured with a
closed loop (``wrk`` when installed, the same Python generator otherwise), also alternating.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import fsync
from bench import metrics as prom
from bench.stack import BenchStack, children, pss_kb, status_kb, tree_cpu
from sidecar.devtools.demo import OPA_VERSION, Ports, find_opa, free_ports
from sidecar.devtools.keys import DEMO_ORG, mint
from sidecar.devtools.upstream import BENCHMARK_DOCUMENT_UUID, BSN_DE_VRIES, DEMO_USERS, relations, seed_uuid
from sidecar.settings import OpaSettings

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DOCS = "/documenten/api/v1/enkelvoudiginformatieobjecten"
HULP = "onderzoek_hulpvraag"
CASES = ROOT / "policies" / "testdata" / "cases" / "data.json"
OPA_PATH = "/v1/data/wams/authz/decision?provenance=true"  # what the sidecar sends
LIST_SIZES = (0, 10, 50, 100)
BODY_SIZES = (1024, 256 * 1024, 2 * 1024 * 1024)
PROVIDER_ORG = "huisarts-de-linde"
# Need-to-know: the bench user reads documents of zaken it relates to. The demo seed's consulent
# is behandelaar on six zaken (sidecar/devtools/upstream/README.md, "Seed"); the list documents
# are linked to one of them.
BENCH_USER = DEMO_USERS["consulent"]
LIST_ZAAK = "bijstand"


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# -- scenarios -----------------------------------------------------------------------------------

@dataclass
class Scenario:
    key: str
    title: str
    method: str
    path: str
    headers: dict[str, str]
    rate: float
    body: bytes | None = None
    expect_direct: tuple[int, ...] = (200,)
    expect_sidecar: tuple[int, ...] = (200,)
    rounds: int = 4
    round_seconds: float = 2.0
    connections: int = 0  # 0: from the rate (enough for ~100 ms of arrivals, 4..32)
    closed: bool = True  # also measure maximum throughput
    group: str = "main"  # main | list | body | opa
    extra: dict[str, Any] = field(default_factory=dict)
    # Also through the pass-through floor (bench/passthrough.py): what the stack costs undecided.
    floor: bool = False
    # Which sidecar: "warm" (the default relation cache) or "cold" (relations.cache_ttl_seconds: 0).
    sidecar: str = "warm"

    def __post_init__(self) -> None:
        if not self.connections:
            # At most this many requests are in flight; later ones wait (and that wait is
            # measured). Enough for ~100 ms of arrivals, so a short stall shows as queueing.
            self.connections = max(4, min(32, round(self.rate / 10)))

    def request(self) -> dict[str, Any]:
        r: dict[str, Any] = {"method": self.method, "path": self.path, "headers": self.headers}
        if self.body is not None:
            r["body_b64"] = base64.b64encode(self.body).decode()
        return r


def rsin(seed: int) -> str:
    """A valid RSIN (passes the 11-test) derived from ``seed``: the upstream validates them."""
    for n in range(seed * 10, seed * 10 + 1000):
        d = f"{n:08d}"[-8:]
        total = sum(int(d[i]) * (9 - i) for i in range(8))
        check = total % 11
        if check < 10:
            return d + str(check)
    raise AssertionError("no valid RSIN found")


def new_document(type_url: str, titel: str, org: str, content: bytes) -> bytes:
    return json.dumps({
        "bronorganisatie": org, "creatiedatum": "2026-11-29", "titel": titel, "auteur": "bench",
        "taal": "nld", "informatieobjecttype": type_url, "vertrouwelijkheidaanduiding": "vertrouwelijk",
        "formaat": "text/plain", "bestandsnaam": "bench.txt",
        "inhoud": base64.b64encode(content).decode(),
    }).encode()


def http(port: int, method: str, path: str, headers: dict[str, str] | None = None,
         body: bytes | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method=method,
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 (loopback URL we built)
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def list_zaak_url(stack: BenchStack) -> str:
    """The zaak the list documents are linked to: one the bench user relates to in the seed."""
    zaak = seed_uuid("zaak", LIST_ZAAK)
    if zaak not in relations()["betrokkenen"].get("medewerker", {}).get(BENCH_USER, {}):
        raise SystemExit(f"the demo seed no longer relates {BENCH_USER} to zaak {LIST_ZAAK}: pick another")
    return f"http://127.0.0.1:{stack.ports.upstream}/zaken/api/v1/zaken/{zaak}"


def consulent_headers(workdir: Path) -> dict[str, str]:
    """The bench user's token (the seed's consulent) and purpose."""
    return {"Authorization": "Bearer " + mint(workdir, sub=BENCH_USER, role="consulent", org=DEMO_ORG, ttl=7200),
            "X-Doelbinding": HULP}


def seed_lists(stack: BenchStack) -> dict[int, str]:
    """For each list size N, N documents with their own bronorganisatie (the list filter), one
    in five of category medisch, so that the consulent's list is really filtered (by 20 %).
    Each is linked to a zaak the bench user relates to (need-to-know: an unrelated document
    is never released), directly on the upstream."""
    base = stack.catalogue_base
    zaak = list_zaak_url(stack)
    orgs: dict[int, str] = {}
    for size in LIST_SIZES:
        org = rsin(1000 + size)
        orgs[size] = org
        for i in range(size):
            cat = "medisch" if i % 5 == 4 else "algemeen"
            body = new_document(f"{base}/informatieobjecttypen/{cat}", f"bench-list-{size}-{i}", org,
                                b"benchmark list item " + str(i).encode())
            st, out = http(stack.ports.upstream, "POST", DOCS, {"Content-Type": "application/json"}, body)
            if st != 201:
                raise SystemExit(f"seeding the list documents failed: HTTP {st} {out[:300]!r}")
            link = json.dumps({"zaak": zaak, "informatieobject": json.loads(out)["url"]}).encode()
            st, out = http(stack.ports.upstream, "POST", "/zaken/api/v1/zaakinformatieobjecten",
                           {"Content-Type": "application/json"}, link)
            if st != 201:
                raise SystemExit(f"linking a list document to its zaak failed: HTTP {st} {out[:300]!r}")
    return orgs


def seed_doc(stack: BenchStack, category: str) -> str:
    _, out = http(stack.ports.upstream, "GET", DOCS)
    for d in json.loads(out)["results"]:
        if d["informatieobjecttype"].endswith(f"/{category}") and (d.get("bestandsomvang") or 0) < 1_000_000:
            return str(d["url"].rsplit("/", 1)[1])
    raise SystemExit(f"no seeded document of category {category}")


def opa_inputs() -> tuple[dict[str, Any], dict[str, Any]]:
    """A realistic single input (case 'R1 consulent leest algemeen [knmg]') and the same subject
    with a 50-item response-phase batch, shaped as the sidecar sends a list of 50."""
    cases = json.loads(CASES.read_text())
    case = next(c for c in cases if c["name"] == "R1 consulent leest algemeen [knmg]")
    single = case["input"]
    batch = json.loads(json.dumps(single))
    batch["resource"] = {"type": single["resource"]["type"], "id": None,
                         "properties": {"category": None, "vertrouwelijkheidaanduiding": None, "labels": None}}
    items = []
    for i in range(50):
        res = json.loads(json.dumps(single["resource"]))
        res["id"] = f"00000000-0000-4000-8000-{i:012d}"
        res["properties"]["category"] = "medisch" if i % 5 == 4 else "algemeen"
        items.append({"resource": res})
    batch["evaluations"] = items
    return single, batch


def build_scenarios(stack: BenchStack, orgs: dict[int, str], quick: bool) -> list[Scenario]:
    wd = stack.workdir
    consulent = consulent_headers(wd)
    provider = {"Authorization": "Bearer " + mint(wd, sub="p.huisarts", role="aanbieder", org=PROVIDER_ORG,
                                                   secrecy="wettelijk", ttl=7200),
                "X-Doelbinding": HULP, "Content-Type": "application/json",
                # Consent names whose it is (I2): a data subject from the seed's test range.
                "X-Herkomst": f'grondslag=toestemming, toestemming="TS-1", betrokkene="{BSN_DE_VRIES}"'}
    algemeen = seed_doc(stack, "algemeen")
    medisch = seed_doc(stack, "medisch")
    base = stack.catalogue_base
    single, batch = opa_inputs()
    r = 2 if quick else 4
    rs = 1.0 if quick else 2.0
    ingest_org = rsin(7777)
    opa_json = {"Content-Type": "application/json"}
    # Rates: the targets' 200/s for single reads and OPA; elsewhere a rate this 2-core machine
    # sustains through the sidecar (from a first run: ~5 ms sidecar CPU + ~2 ms OPA CPU per
    # decision), so that the latencies describe the sidecar rather than a saturated machine.
    out = [
        Scenario("opa_decision", "OPA decision API, one input", "POST", OPA_PATH, opa_json, 200,
                 json.dumps({"input": single}).encode(), rounds=r, round_seconds=rs, group="opa", floor=True),
        Scenario("opa_batch_50", "OPA decision API, 50-item batch", "POST", OPA_PATH, opa_json, 5,
                 json.dumps({"input": batch}).encode(), rounds=2, round_seconds=2 * rs, closed=False,
                 group="opa", floor=True),
        Scenario("read_allow", "single-object read (allow)", "GET", f"{DOCS}/{algemeen}", consulent, 200,
                 rounds=r, round_seconds=rs, floor=True),
        Scenario("read_allow_50", "single-object read (allow), 50/s", "GET", f"{DOCS}/{algemeen}", consulent, 50,
                 rounds=r, round_seconds=rs, closed=False, group="rate", floor=True),
        Scenario("read_deny", "denied read (medisch, knmg)", "GET", f"{DOCS}/{medisch}", consulent, 50,
                 expect_sidecar=(403,), rounds=r, round_seconds=rs),
    ]
    if stack.cold_ports:
        # Need-to-know with cold relation caches: through the sidecar whose relation caches hold
        # nothing (every request reads the caller's relations from the upstream), and through the
        # warm one in the same rounds. 10/s: a cold read costs several times a warm one's CPU
        # (upstream look-ups), and 50/s of them would saturate the two cores.
        out.append(Scenario("read_cold", "single-object read (allow), 10/s, relations cold", "GET",
                            f"{DOCS}/{algemeen}", consulent, 10, rounds=r, round_seconds=2 * rs, closed=False,
                            group="cold", sidecar="cold"))
    for size in LIST_SIZES:
        main = size == 50
        out.append(Scenario(
            f"list_{size}", f"list of {size} (response-phase filtering)", "GET",
            f"{DOCS}?bronorganisatie={orgs[size]}", consulent, 5,
            rounds=r if main else 2, round_seconds=1.5 * rs, closed=main,
            group="main" if main else "list", extra={"items": size, "released": size - size // 5}))
        if main and stack.cold_ports:
            out.append(Scenario(
                "list_50_cold", "list of 50, relations cold", "GET", f"{DOCS}?bronorganisatie={orgs[size]}",
                consulent, 5, rounds=r, round_seconds=2 * rs, closed=False, group="cold", sidecar="cold",
                extra={"items": size, "released": size - size // 5}))
    out.append(Scenario("download_1mib", "document download, 1 MiB", "GET",
                        f"{DOCS}/{BENCHMARK_DOCUMENT_UUID}/download", consulent, 20, rounds=r, round_seconds=rs))
    out.append(Scenario("ingest", "ingest with X-Herkomst (aanbieder, toestemming)", "POST", DOCS, provider, 20,
                        new_document(f"{base}/informatieobjecttypen/medisch", "bench-ingest", ingest_org,
                                     b"x" * 1024),
                        expect_direct=(201,), expect_sidecar=(201,), rounds=r, round_seconds=rs,
                        extra={"body_bytes": 1024}))
    for size in BODY_SIZES:
        if size == 1024:
            continue  # the ingest scenario above
        body = new_document(f"{base}/informatieobjecttypen/medisch", "bench-ingest-body", ingest_org,
                            os.urandom(size))
        out.append(Scenario(f"ingest_{size // 1024}k", f"ingest, {size // 1024} KiB document", "POST", DOCS,
                            provider, 5, body, expect_direct=(201,), expect_sidecar=(201,), rounds=2,
                            round_seconds=rs, closed=False, group="body",
                            extra={"body_bytes": size, "request_bytes": len(body)}))
    return out


# -- running -------------------------------------------------------------------------------------

def loadgen(spec: dict[str, Any]) -> dict[str, Any]:
    """One run of the load generator in its own process."""
    res = subprocess.run([sys.executable, "-m", "bench.loadgen", "-"], input=json.dumps(spec), text=True,
                         capture_output=True, cwd=ROOT, timeout=900)
    if res.returncode != 0:
        raise SystemExit(f"load generator failed: {res.stderr.strip()}")
    out: dict[str, Any] = json.loads(res.stdout)
    return out


def targets(sc: Scenario, stack: BenchStack) -> list[dict[str, Any]]:
    if sc.group == "opa":
        out = [{"name": "opa", "port": stack.ports.opa, "request": sc.request(), "expect": [200]}]
        if sc.floor and stack.opa_floor_port:
            out.append({"name": "floor", "port": stack.opa_floor_port, "request": sc.request(), "expect": [200]})
        return out
    out = [
        {"name": "direct", "port": stack.ports.upstream, "request": sc.request(), "expect": list(sc.expect_direct)},
        {"name": "sidecar", "port": sidecar_ports(sc, stack).proxy, "request": sc.request(),
         "expect": list(sc.expect_sidecar)},
    ]
    if sc.floor and stack.passthrough_port:
        out.append({"name": "floor", "port": stack.passthrough_port, "request": sc.request(),
                    "expect": list(sc.expect_direct)})
    if sc.sidecar == "cold":
        # The warm sidecar in the same rounds: warm and cold compared at the same rate and moment.
        out.append({"name": "warm", "port": stack.ports.proxy, "request": sc.request(),
                    "expect": list(sc.expect_sidecar)})
    return out


def sidecar_ports(sc: Scenario, stack: BenchStack) -> Ports:
    """The ports of the sidecar a scenario goes through."""
    if sc.sidecar == "cold":
        if stack.cold_ports is None:
            raise SystemExit(f"{sc.key}: the sidecar with cold relation caches is not running")
        return stack.cold_ports
    return stack.ports


def wrk_lua(req: dict[str, Any], path: Path) -> None:
    def q(s: str) -> str:
        return json.dumps(s)  # a JSON string literal is a valid Lua string literal here (ASCII)

    lines = [f"wrk.method = {q(req['method'])}", f"wrk.path = {q(req['path'])}"]
    for k, v in req["headers"].items():
        lines.append(f"wrk.headers[{q(k)}] = {q(v)}")
    if req.get("body_b64"):
        lines.append(f"wrk.body = {q(base64.b64decode(req['body_b64']).decode())}")
    path.write_text("\n".join(lines) + "\n")


def wrk_phase(wrk: str, port: int, req: dict[str, Any], seconds: float, conns: int, tmp: Path) -> dict[str, Any]:
    script = tmp / "wrk.lua"
    wrk_lua(req, script)
    res = subprocess.run([wrk, "-t1", f"-c{conns}", f"-d{max(1, round(seconds))}s", "-s", str(script),
                          f"http://127.0.0.1:{port}"], capture_output=True, text=True, timeout=120)
    m = re.search(r"Requests/sec:\s+([\d.]+)", res.stdout)
    if res.returncode != 0 or not m:
        raise SystemExit(f"wrk failed: {res.stdout}\n{res.stderr}")
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", res.stdout)
    total = re.search(r"(\d+) requests in", res.stdout)
    return {"throughput_rps": float(m.group(1)), "non_2xx": int(bad.group(1)) if bad else 0,
            "requests": int(total.group(1)) if total else None}


def max_throughput(sc: Scenario, stack: BenchStack, tmp: Path, seconds: float, rounds: int) -> dict[str, Any]:
    """Closed loop, alternating targets; reports the mean over rounds and each round."""
    tg = targets(sc, stack)
    wrk = shutil.which("wrk")
    conns = 16
    if wrk:
        per: dict[str, list[float]] = {t["name"]: [] for t in tg}
        for r in range(rounds):
            for t in (tg if r % 2 == 0 else list(reversed(tg))):
                per[t["name"]].append(wrk_phase(wrk, t["port"], t["request"], seconds, conns, tmp)["throughput_rps"])
        return {"tool": "wrk -t1 -c16", "targets": {k: {"throughput_rps": round(sum(v) / len(v), 1),
                                                        "rounds": v} for k, v in per.items()}}
    res = loadgen({"mode": "closed", "targets": tg, "round_seconds": seconds, "rounds": rounds,
                   "connections": conns, "warmup": 1})
    return {"tool": "bench.loadgen closed loop, 16 connections",
            "targets": {k: {"throughput_rps": v["throughput_rps"], "rounds": [x["throughput_rps"] for x in v["rounds"]],
                            "unexpected_status": v["unexpected_status"], "errors": v["errors"]}
                        for k, v in res["targets"].items()}}


@dataclass
class Procs:
    sidecar: int
    opa: int
    upstream: int
    passthrough: int = 0
    opa_floor: int = 0
    sidecar_cold: int = 0

    def cpu(self) -> dict[str, float]:
        out = {"sidecar": tree_cpu(self.sidecar), "opa": tree_cpu(self.opa), "upstream": tree_cpu(self.upstream)}
        if self.sidecar_cold:
            out["sidecar_cold"] = tree_cpu(self.sidecar_cold)
        if self.passthrough:
            out["passthrough"] = tree_cpu(self.passthrough)
        if self.opa_floor:
            out["opa_floor"] = tree_cpu(self.opa_floor)
        return out

    def rss(self) -> list[dict[str, Any]]:
        return [{"pid": w, "rss_kb": status_kb(w, "VmRSS"), "hwm_kb": status_kb(w, "VmHWM"), "pss_kb": pss_kb(w)}
                for w in children(self.sidecar)]


def sanity(sc: Scenario, stack: BenchStack) -> dict[str, Any]:
    """One request each way before measuring: a scenario that does not do what it claims (a denied
    ingest, an empty list) would produce meaningless figures."""
    if sc.group == "opa":
        st, body = http(stack.ports.opa, sc.method, sc.path, sc.headers, sc.body)
        res = json.loads(body).get("result", {})
        if st != 200 or "decision" not in res:
            raise SystemExit(f"{sc.key}: OPA answered {st} {body[:300]!r}")
        return {"decision": res["decision"], "evaluations": len(res.get("evaluations") or [])}
    st_d, body_d = http(stack.ports.upstream, sc.method, sc.path, sc.headers, sc.body)
    st_s, body_s = http(sidecar_ports(sc, stack).proxy, sc.method, sc.path, sc.headers, sc.body)
    if st_d not in sc.expect_direct or st_s not in sc.expect_sidecar:
        raise SystemExit(f"{sc.key}: expected {sc.expect_direct}/{sc.expect_sidecar}, got direct {st_d}, "
                         f"sidecar {st_s}: {body_s[:400]!r}")
    out: dict[str, Any] = {"direct_status": st_d, "sidecar_status": st_s,
                           "direct_bytes": len(body_d), "sidecar_bytes": len(body_s)}
    if st_s == 403:
        # Which rule denied (the user text names it): a denied read must be denied for its category,
        # not for want of a relation (the bench user relates to every document it reads).
        out["sidecar_detail"] = json.loads(body_s).get("detail")
    if sc.key.startswith("list_"):
        got_d, got_s = json.loads(body_d)["results"], json.loads(body_s)["results"]
        if len(got_d) != sc.extra["items"] or len(got_s) != sc.extra["released"]:
            raise SystemExit(f"{sc.key}: direct {len(got_d)} items, sidecar {len(got_s)}; expected "
                             f"{sc.extra['items']} and {sc.extra['released']}")
        out.update(direct_items=len(got_d), sidecar_items=len(got_s))
    return out


def measure(sc: Scenario, stack: BenchStack, procs: Procs, tmp: Path, quick: bool) -> dict[str, Any]:
    from bench import cpu as cpu_mod  # bench.cpu imports this module
    check = sanity(sc, stack)
    admin = sidecar_ports(sc, stack).admin
    before = prom.scrape(admin)
    warm_before = prom.scrape(stack.ports.admin) if sc.sidecar == "cold" else None
    cpu0 = procs.cpu()
    spec = {"mode": "open", "rate": sc.rate, "round_seconds": sc.round_seconds, "rounds": sc.rounds,
            "connections": sc.connections, "warmup": 1, "targets": targets(sc, stack)}
    t0 = time.monotonic()
    lg = loadgen(spec)
    wall = time.monotonic() - t0
    cpu1 = procs.cpu()
    after = prom.scrape(admin)
    warm_counts = None if warm_before is None else cpu_mod.sidecar_counts(warm_before, prom.scrape(stack.ports.admin))
    res: dict[str, Any] = {"key": sc.key, "title": sc.title, "group": sc.group, "rate": sc.rate,
                           "rounds": sc.rounds, "round_seconds": sc.round_seconds, "connections": sc.connections,
                           "method": sc.method, "sanity": check, "extra": sc.extra, "open_loop": lg,
                           "wall_s": round(wall, 2)}
    sidecar_reqs = prom.total(after, "sidecar_requests_total") - prom.total(before, "sidecar_requests_total")
    opa_h = prom.histogram_delta(before, after, "sidecar_opa_request_duration_seconds")
    rec_h = prom.histogram_delta(before, after, "sidecar_record_write_duration_seconds")
    req_h = prom.histogram_delta(before, after, "sidecar_request_duration_seconds")
    res["sidecar_metrics"] = {
        "requests": sidecar_reqs,
        "opa_calls": opa_h["count"],
        "opa_calls_per_request": round(opa_h["count"] / sidecar_reqs, 3) if sidecar_reqs else None,
        "opa_ms": prom.summary_ms(opa_h),
        "record_write_ms": prom.summary_ms(rec_h),
        "record_writes_per_request": round(rec_h["count"] / sidecar_reqs, 3) if sidecar_reqs else None,
        "records_written": prom.total(after, "sidecar_records_written_total")
        - prom.total(before, "sidecar_records_written_total"),
        "request_ms": prom.summary_ms(req_h),
        "histograms": {"opa": opa_h, "record_write": rec_h},
        # The counts behind the steady-state and need-to-know figures (bench/cpu.py names them).
        "counts": cpu_mod.sidecar_counts(before, after),
    }
    cpu = {k: round(cpu1[k] - cpu0[k], 3) for k in cpu0}
    res["cpu_s"] = cpu
    if sc.group != "opa" and sidecar_reqs:
        opa_cpu = cpu["opa"]
        if warm_counts is not None:
            # Both sidecars ask the one OPA in this scenario: its CPU is shared by their OPA calls.
            calls = res["sidecar_metrics"]["counts"]["opa_calls"]
            opa_cpu *= calls / (calls + warm_counts["opa_calls"]) if calls else 0.0
        res["cpu_ms_per_sidecar_request"] = {
            "sidecar": round(1000 * cpu["sidecar_cold" if sc.sidecar == "cold" else "sidecar"] / sidecar_reqs, 3),
            "opa": round(1000 * opa_cpu / sidecar_reqs, 3)}
    elif sc.group == "opa":
        n = lg["targets"]["opa"]["completed"] + lg["warmup_requests_per_target"]
        res["cpu_ms_per_opa_request"] = round(1000 * cpu["opa"] / n, 3) if n else None
        if "floor" in lg["targets"] and procs.opa_floor:
            nf = lg["targets"]["floor"]["completed"] + lg["warmup_requests_per_target"]
            res["floor_cpu_ms_per_opa_request"] = round(1000 * cpu["opa_floor"] / nf, 3) if nf else None
    if sc.group != "opa":
        d, s = lg["targets"]["direct"], lg["targets"]["sidecar"]
        res["added_ms"] = {q: round(s["latency_ms"][q] - d["latency_ms"][q], 4) for q in ("p50", "p90", "p99")}
        res["added_service_ms"] = {q: round(s["service_ms"][q] - d["service_ms"][q], 4) for q in ("p50", "p99")}
        if "warm" in lg["targets"]:
            w = lg["targets"]["warm"]
            res["warm_added_ms"] = {q: round(w["latency_ms"][q] - d["latency_ms"][q], 4) for q in ("p50", "p90", "p99")}
            res["warm_counts"] = warm_counts
        if "floor" in lg["targets"]:
            f = lg["targets"]["floor"]
            res["floor_added_ms"] = {q: round(f["latency_ms"][q] - d["latency_ms"][q], 4)
                                     for q in ("p50", "p90", "p99")}
            nf = f["completed"] + lg["warmup_requests_per_target"]
            res["floor_cpu_ms_per_request"] = round(1000 * cpu.get("passthrough", 0.0) / nf, 3) if nf else None
    if sc.closed:
        # The single read's throughput is a target (a ratio to the floor's): more and longer rounds,
        # alternating, so that one slow moment of the machine does not decide it. Elsewhere 2 rounds of 2 s.
        target = sc.key == "read_allow" and not quick
        mt = max_throughput(sc, stack, tmp, 3.0 if target else 1.0 if quick else 2.0, 6 if target else 2)
        res["max_throughput"] = mt
        if sc.group != "opa":
            dt_ = mt["targets"]["direct"]["throughput_rps"]
            res["throughput_ratio"] = round(mt["targets"]["sidecar"]["throughput_rps"] / dt_, 3) if dt_ else None
            if "floor" in mt["targets"] and dt_:
                res["floor_throughput_ratio"] = round(mt["targets"]["floor"]["throughput_rps"] / dt_, 3)
    return res


def noise(res: dict[str, Any]) -> dict[str, Any]:
    """Spread of the per-round p50 (max-min over median), per target: how much the machine moved."""
    out = {}
    for name, t in res["open_loop"]["targets"].items():
        p50s = sorted(r["p50"] for r in t["rounds"] if r.get("p50") is not None)
        if len(p50s) >= 2:
            med = p50s[len(p50s) // 2]
            out[name] = {"round_p50_ms": p50s, "spread": round((p50s[-1] - p50s[0]) / med, 3) if med else None}
    return out


def opa_bench(stack: BenchStack, tmp: Path) -> dict[str, Any]:
    """The policy's evaluation cost without HTTP: ``opa bench`` on the bundle OPA serves."""
    single, batch = opa_inputs()
    out: dict[str, Any] = {}
    for name, inp in (("single", single), ("batch_50", batch)):
        f = tmp / f"opa-input-{name}.json"
        f.write_text(json.dumps(inp))
        res = subprocess.run([find_opa(), "bench", "-b", str(stack.workdir / "bundle.tar.gz"), "-i", str(f),
                              "data.wams.authz.decision", "--count", "1", "--format", "json"],
                             capture_output=True, text=True, timeout=120)
        if res.returncode != 0:
            out[name] = {"error": res.stderr.strip()[:500]}
            continue
        d = json.loads(res.stdout)
        ex = d.get("Extra", {})
        out[name] = {"n": d["N"], "us_per_op": round(d["T"] / d["N"] / 1000, 1),
                     "allocs_per_op": d["MemAllocs"] // d["N"], "bytes_per_op": d["MemBytes"] // d["N"],
                     "eval_median_us": round(ex.get("histogram_timer_rego_query_eval_ns_median", 0) / 1000, 1),
                     "eval_p99_us": round(ex.get("histogram_timer_rego_query_eval_ns_99%", 0) / 1000, 1)}
    return out


def wasm_eval(stack: BenchStack, n_single: int, n_batch: int) -> dict[str, Any]:
    """The in-process engine's own cost, as the sidecar pays it: the sidecar's Wasm bundle (its
    configuration, same key) loaded by :class:`sidecar.wasm_engine.WasmEngine` in this process, and
    ``decide`` (input encoded, evaluated, the decision parsed and checked) called one at a time on
    the same inputs as ``opa bench``. Wall time per evaluation (p50, p99) and CPU per evaluation.
    Empty when the sidecar does not use the Wasm engine."""
    from sidecar.settings import load_settings
    from sidecar.wasm_engine import WasmEngine

    settings = load_settings(stack.config_path)
    if settings.opa.engine != "wasm":
        return {}
    engine = WasmEngine(settings.opa, poll=False)
    single, batch = opa_inputs()
    out: dict[str, Any] = {}
    try:
        for name, inp, n in (("single", single, n_single), ("batch_50", batch, n_batch)):
            for _ in range(min(50, n)):
                engine.decide(inp)
            walls = []
            cpu0 = time.process_time()
            for _ in range(n):
                t0 = time.perf_counter()
                engine.decide(inp)
                walls.append(time.perf_counter() - t0)
            cpu = time.process_time() - cpu0
            walls.sort()
            out[name] = {"n": n, "p50_ms": round(1000 * walls[n // 2], 4),
                         "p99_ms": round(1000 * walls[min(n - 1, int(n * 0.99))], 4),
                         "cpu_ms": round(1000 * cpu / n, 4)}
    finally:
        engine.close()
    return out


def machine(stack: BenchStack) -> dict[str, Any]:
    def cmd(*a: str) -> str:
        try:
            return subprocess.run(list(a), capture_output=True, text=True, timeout=20, cwd=ROOT).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""

    model = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                  if ln.startswith("model name")), platform.processor())
    mem = next((ln.split()[1] for ln in Path("/proc/meminfo").read_text().splitlines()
                if ln.startswith("MemTotal")), "0")
    import gunicorn

    wrk = shutil.which("wrk")
    return {
        "nproc": os.cpu_count(), "cpus_usable": len(os.sched_getaffinity(0)), "cpu_model": model,
        "mem_total_mb": int(mem) // 1024, "kernel": platform.release(),
        "python": platform.python_version(), "gunicorn": gunicorn.__version__,
        "opa": (cmd(find_opa(), "version").splitlines() or [""])[0], "opa_pinned": OPA_VERSION,
        "wrk": (cmd(wrk, "-v").splitlines() or [""])[0] if wrk else None,
        "git_commit": cmd("git", "rev-parse", "HEAD"), "git_dirty": bool(cmd("git", "status", "--porcelain")),
        "loadavg_start": Path("/proc/loadavg").read_text().split()[:3],
        "sidecar_workers": stack.workers,
        "sidecar_threads": stack.sidecar_threads,
        "upstream": f"gunicorn gthread {stack.upstream_workers}x{stack.upstream_threads} (demo upstream app)",
        # Who decided for the sidecar: its configured opa.engine, else the settings' default.
        "engine": ((stack.config_extra or {}).get("opa") or {}).get(
            "engine", OpaSettings.model_fields["engine"].default),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short rounds, for trying the harness (figures are rough)")
    ap.add_argument("--only", default="", help="comma-separated scenario keys (default: all)")
    ap.add_argument("--workers", type=int, default=2, help="sidecar gunicorn workers (default 2)")
    ap.add_argument("--threads", type=int, default=8, help="threads per sidecar worker (default 8)")
    ap.add_argument("--policies", type=Path, default=ROOT / "policies",
                    help="policy folder to build OPA's bundle from (default: policies/)")
    ap.add_argument("--out", type=Path, default=None, help="results file (default bench/results/<date>.json)")
    ap.add_argument("--no-report", action="store_true", help="do not regenerate docs/benchmarks.md")
    args = ap.parse_args(argv)
    find_opa()
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="sidecar-bench-"))
    # proxy, admin, OPA, upstream, the pass-through floor, the constant-policy OPA, and the proxy and
    # admin ports of the sidecar with cold relation caches
    p = free_ports(8)
    stack = BenchStack(workdir=tmp / "stack", ports=Ports(proxy=p[0], admin=p[1], opa=p[2], upstream=p[3]),
                       profile="knmg", workers=args.workers, policies=args.policies.resolve(),
                       config_extra={"server": {"workers": args.workers, "threads": args.threads}})
    log(f"starting OPA, demo upstream (gunicorn) and sidecar ({args.workers} workers) in {stack.workdir}")
    stack.start()
    try:
        stack.start_passthrough(p[4])
        stack.start_opa_floor(p[5])
        stack.start_cold_sidecar(p[6], p[7])
        procs = Procs(stack.procs["sidecar"].pid, stack.procs["opa"].pid, stack.procs["upstream"].pid,
                      stack.procs["passthrough"].pid, stack.procs["opa_floor"].pid,
                      stack.procs["sidecar_cold"].pid)
        facts = machine(stack)
        log("seeding list documents on the upstream")
        orgs = seed_lists(stack)
        log("opa bench: the policy's evaluation cost without HTTP")
        policy_cost = opa_bench(stack, tmp)
        log("the in-process engine: the sidecar's Wasm bundle evaluated in this process, one at a time")
        engine_cost = wasm_eval(stack, 500 if args.quick else 3000, 100 if args.quick else 500)
        scenarios = build_scenarios(stack, orgs, args.quick)
        only = {s for s in args.only.split(",") if s}
        if only:
            scenarios = [s for s in scenarios if s.key in only]
        # Every scenario's one request each way first: a scenario that no longer does what it claims
        # (the policy or the upstream changed) stops the run now, not after minutes of measuring.
        for sc in scenarios:
            sanity(sc, stack)
        sequential: list[dict[str, Any]] = []
        if not only or "sequential" in only:
            # Before the scenarios: the ingests add thousands of documents, which every list query
            # of the demo upstream then scans, and that would be the upstream's cost, not ours.
            from bench import cpu as cpu_mod

            n = 200 if args.quick else 1000
            log(f"one request at a time: CPU per request of each process ({n} reads, {n // 10} lists per case)")
            sequential = cpu_mod.run_cases(stack, orgs, n)
        results = []
        for sc in scenarios:
            log(f"{sc.key}: {sc.title} at {sc.rate:g}/s, {sc.rounds} rounds of {sc.round_seconds:g} s")
            r = measure(sc, stack, procs, tmp, args.quick)
            r["noise"] = noise(r)
            results.append(r)
            log("  " + one_line(r))
        rss = procs.rss()
        disk = fsync_floor(stack, results, args.quick)
        facts["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
    finally:
        stack.stop()
    doc = {"date": dt.date.today().isoformat(), "generated": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
           "quick": args.quick, "machine": facts, "opa_bench": policy_cost, "wasm_eval": engine_cost,
           "rss_per_worker": rss,
           "fsync_floor": disk, "scenarios": results, "sequential": sequential,
           "duration_s": round(time.monotonic() - started, 1)}
    out = args.out or RESULTS / f"{doc['date']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1) + "\n")
    log(f"results: {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out} ({doc['duration_s']} s)")
    shutil.rmtree(tmp, ignore_errors=True)
    from bench import report, targets

    print(report.table(doc))
    print(targets.speed_table(doc))
    print(targets.need_to_know_table(doc))
    if not args.no_report:
        report.write(doc, out)
        log("docs/benchmarks.md and docs/benchmarks-latency.png regenerated")
    return 0


def fsync_floor(stack: BenchStack, results: list[dict[str, Any]], quick: bool) -> list[dict[str, Any]]:
    """Bare append + fsync beside the records file, at the rate of each single-read scenario (the
    floor of the record-writing target; bench/fsync.py). Runs after the scenarios, on its own."""
    out = []
    for rate in sorted({r["rate"] for r in results if r["key"] in ("read_allow", "read_allow_50")}):
        seconds = 1.0 if quick else max(3.0, 400 / rate)  # ≥ 400 samples for a p99 (600 at 200/s)
        log(f"fsync floor: append + fsync of one record-sized line at {rate:g}/s for {seconds:g} s")
        out.append(fsync.measure(stack.workdir, rate, int(rate * seconds)))
    return out


def one_line(r: dict[str, Any]) -> str:
    t = r["open_loop"]["targets"]
    parts = []
    for name, v in t.items():
        lm = v["latency_ms"]
        parts.append(f"{name} p50 {lm.get('p50')} p99 {lm.get('p99')} ms ({v['completed']} ok-or-not, "
                     f"{v['unexpected_status']} unexpected, {v['errors']} errors)")
    if "added_ms" in r:
        parts.append(f"added p50 {r['added_ms']['p50']} p99 {r['added_ms']['p99']} ms")
    if "max_throughput" in r:
        mt = r["max_throughput"]["targets"]
        parts.append("max " + ", ".join(f"{k} {v['throughput_rps']}/s" for k, v in mt.items()))
    return "; ".join(parts)


if __name__ == "__main__":
    sys.exit(main())
