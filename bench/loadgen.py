"""A small HTTP load generator for the benchmark: open loop (fixed arrival rate) and closed loop.

Open loop is what wrk2 does: request ``i`` is *scheduled* at ``t0 + i / rate`` whatever happened
to the requests before it, and its latency is measured from that scheduled time, not from the
moment it was actually sent. When the server falls behind, later requests start late and that
wait is part of their latency. A closed loop (wrk, ab, most Python load tools) waits for an
answer before sending the next request, so a slow server simply receives fewer requests and its
bad moments vanish from the percentiles ("coordinated omission"). Closed loop is used here only
to find the maximum throughput.

Targets are compared in short alternating rounds (A B B A A B ...), so that whatever else the
machine is doing hits both sides alike. Loopback only, and bounded in count and duration.

Run as ``python -m bench.loadgen SPEC.json`` (``-`` reads stdin); the result is JSON on stdout.
"""

from __future__ import annotations

import base64
import http.client
import json
import math
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
# Hard bounds, whatever a spec asks for: this tool must never turn into a flood.
MAX_REQUESTS_PER_RUN = 250_000
MAX_SECONDS_PER_RUN = 600.0
MAX_CONNECTIONS = 256
_STALE = (http.client.RemoteDisconnected, http.client.BadStatusLine, ConnectionResetError,
          BrokenPipeError, ConnectionAbortedError)


class SpecError(ValueError):
    """The spec asks for something this generator refuses to do."""


# -- maths ---------------------------------------------------------------------------------------

def schedule(t0: float, rate: float, n: int) -> list[float]:
    """Send times of an open loop: request ``i`` at ``t0 + i / rate``."""
    if rate <= 0:
        raise SpecError(f"rate must be > 0, got {rate}")
    return [t0 + i / rate for i in range(n)]


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) of ascending ``sorted_values``, by linear interpolation
    between the two nearest ranks (numpy's default method; ``statistics.quantiles`` 'inclusive')."""
    if not sorted_values:
        raise ValueError("percentile of an empty sample")
    if not 0 <= q <= 100:
        raise ValueError(f"q must be within 0..100, got {q}")
    pos = (len(sorted_values) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    frac = pos - lo
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * frac


def summarise_ms(latencies_s: Sequence[float]) -> dict[str, float | int]:
    """count, mean, p50, p90, p99, p99.9 and max of latencies in seconds, reported in ms."""
    if not latencies_s:
        return {"count": 0}
    s = sorted(latencies_s)
    return {
        "count": len(s),
        "mean": round(1000 * sum(s) / len(s), 4),
        "p50": round(1000 * percentile(s, 50), 4),
        "p90": round(1000 * percentile(s, 90), 4),
        "p99": round(1000 * percentile(s, 99), 4),
        "p999": round(1000 * percentile(s, 99.9), 4),
        "max": round(1000 * s[-1], 4),
    }


# -- what to send --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None

    @classmethod
    def from_spec(cls, d: dict[str, Any]) -> Request:
        body: bytes | None = None
        if d.get("body_b64") is not None:
            body = base64.b64decode(d["body_b64"])
        elif d.get("body") is not None:
            body = str(d["body"]).encode()
        headers = tuple((str(k), str(v)) for k, v in (d.get("headers") or {}).items())
        return cls(str(d.get("method", "GET")).upper(), str(d["path"]), headers, body)


@dataclass(frozen=True)
class Target:
    name: str
    host: str
    port: int
    request: Request
    expect: frozenset[int] = frozenset({200})

    def __post_init__(self) -> None:
        if self.host not in LOOPBACK:
            raise SpecError(f"target {self.name!r}: only loopback hosts are allowed, got {self.host!r}")

    @classmethod
    def from_spec(cls, d: dict[str, Any]) -> Target:
        return cls(str(d["name"]), str(d.get("host", "127.0.0.1")), int(d["port"]),
                   Request.from_spec(d["request"]), frozenset(int(s) for s in d.get("expect", [200])))


class Conn:
    """One keep-alive connection. A request that fails on a connection that has already served
    one is retried once on a new connection (the server closed an idle keep-alive connection);
    a failure on a fresh connection is an error."""

    def __init__(self, host: str, port: int, timeout: float = 30.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._conn: http.client.HTTPConnection | None = None
        self._uses = 0
        self.reconnects = 0

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None
        self._uses = 0

    def send(self, req: Request) -> tuple[int, int]:
        """Send ``req`` and read the whole answer; returns (status, body bytes)."""
        while True:
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            reused = self._uses > 0
            try:
                c = self._conn
                c.putrequest(req.method, req.path, skip_accept_encoding=True)
                for k, v in req.headers:
                    c.putheader(k, v)
                if req.body is not None:
                    c.putheader("Content-Length", str(len(req.body)))
                c.endheaders(req.body)
                resp = c.getresponse()
                data = resp.read()
            except _STALE:
                self.close()
                if not reused:
                    raise
                self.reconnects += 1
                continue
            self._uses += 1
            if resp.will_close:
                self.close()
            return resp.status, len(data)


# -- open loop -----------------------------------------------------------------------------------

@dataclass
class Phase:
    """One target for one round."""

    target: str
    round: int
    mode: str
    scheduled: int = 0
    latencies: list[float] = field(default_factory=list)  # s, from the scheduled time (open loop)
    service: list[float] = field(default_factory=list)    # s, from the actual send
    lags: list[float] = field(default_factory=list)       # s, actual send minus scheduled
    statuses: Counter[int] = field(default_factory=Counter)
    errors: int = 0
    unexpected: int = 0
    elapsed: float = 0.0
    completed: int = 0


def _run_workers(worker: Callable[[Conn], None], conns: Sequence[Conn]) -> None:
    """One thread per connection, all started, then all joined."""
    threads = [threading.Thread(target=worker, args=(c,), daemon=True) for c in conns]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def run_open_phase(target: Target, conns: Sequence[Conn], rate: float, seconds: float, round_no: int = 0,
                   clock: Callable[[], float] = time.perf_counter) -> Phase:
    """Send ``rate * seconds`` requests at their scheduled times over ``conns`` (at most
    ``len(conns)`` in flight). A request whose connection is still busy starts late; the
    lateness counts in its latency."""
    n = max(1, round(rate * seconds))
    phase = Phase(target.name, round_no, "open", scheduled=n)
    t0 = clock() + 0.002
    times = schedule(t0, rate, n)
    lat: list[float | None] = [None] * n
    svc: list[float | None] = [None] * n
    lag: list[float | None] = [None] * n
    status: list[int] = [0] * n
    lock = threading.Lock()
    nxt = [0]

    def worker(conn: Conn) -> None:
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= n:
                return
            due = times[i]
            delay = due - clock()
            if delay > 0:
                time.sleep(delay)
            sent = clock()
            try:
                st, _ = conn.send(target.request)
            except (OSError, http.client.HTTPException):
                conn.close()
                st = -1
            done = clock()
            status[i] = st
            if st > 0:
                lat[i], svc[i], lag[i] = done - due, done - sent, sent - due

    _run_workers(worker, conns)
    phase.elapsed = clock() - t0
    for i in range(n):
        if status[i] < 0:
            phase.errors += 1
            continue
        phase.statuses[status[i]] += 1
        if status[i] not in target.expect:
            phase.unexpected += 1
        phase.latencies.append(lat[i])  # type: ignore[arg-type]
        phase.service.append(svc[i])  # type: ignore[arg-type]
        phase.lags.append(lag[i])  # type: ignore[arg-type]
    phase.completed = len(phase.latencies)
    return phase


def run_closed_phase(target: Target, conns: Sequence[Conn], seconds: float, round_no: int = 0,
                     clock: Callable[[], float] = time.perf_counter) -> Phase:
    """Every connection sends its next request as soon as the last one is answered."""
    phase = Phase(target.name, round_no, "closed")
    lock = threading.Lock()
    t0 = clock()
    stop = t0 + seconds

    def worker(conn: Conn) -> None:
        local: list[float] = []
        codes: Counter[int] = Counter()
        errors = 0
        while clock() < stop:
            sent = clock()
            try:
                st, _ = conn.send(target.request)
            except (OSError, http.client.HTTPException):
                conn.close()
                errors += 1
                continue
            local.append(clock() - sent)
            codes[st] += 1
        with lock:
            phase.service.extend(local)
            phase.statuses.update(codes)
            phase.errors += errors

    _run_workers(worker, conns)
    phase.elapsed = clock() - t0
    phase.completed = len(phase.service)
    phase.scheduled = phase.completed + phase.errors
    phase.unexpected = sum(v for k, v in phase.statuses.items() if k not in target.expect)
    return phase


# -- interleaved runs ----------------------------------------------------------------------------

def run(spec: dict[str, Any]) -> dict[str, Any]:
    """Run a spec (see :func:`validate`) and return per-target results."""
    targets, mode, rate, round_s, rounds, nconn, warmup = validate(spec)
    pools = {t.name: [Conn(t.host, t.port) for _ in range(nconn)] for t in targets}
    for t in targets:
        # Warm-up opens every connection and lets caches and pools fill; not measured.
        for _ in range(warmup):
            for c in pools[t.name]:
                try:
                    c.send(t.request)
                except (OSError, http.client.HTTPException):
                    c.close()
    phases: list[Phase] = []
    for r in range(rounds):
        # A B, B A, A B, ...: neither side always runs right after the other.
        order = targets if r % 2 == 0 else list(reversed(targets))
        for t in order:
            if mode == "open":
                phases.append(run_open_phase(t, pools[t.name], rate, round_s, r))
            else:
                phases.append(run_closed_phase(t, pools[t.name], round_s, r))
    for conns in pools.values():
        for c in conns:
            c.close()
    return {"mode": mode, "rate": rate if mode == "open" else None, "round_seconds": round_s,
            "rounds": rounds, "connections": nconn, "warmup_requests_per_target": warmup * nconn,
            "targets": {t.name: aggregate([p for p in phases if p.target == t.name], mode,
                                          sum(c.reconnects for c in pools[t.name]))
                        for t in targets}}


def aggregate(phases: Sequence[Phase], mode: str, reconnects: int = 0) -> dict[str, Any]:
    lat = [x for p in phases for x in (p.latencies if mode == "open" else p.service)]
    svc = [x for p in phases for x in p.service]
    lags = [x for p in phases for x in p.lags]
    statuses: Counter[int] = Counter()
    for p in phases:
        statuses.update(p.statuses)
    elapsed = sum(p.elapsed for p in phases)
    completed = sum(p.completed for p in phases)
    out: dict[str, Any] = {
        "latency_ms": summarise_ms(lat),
        "service_ms": summarise_ms(svc),
        "scheduled": sum(p.scheduled for p in phases),
        "completed": completed,
        "errors": sum(p.errors for p in phases),
        "unexpected_status": sum(p.unexpected for p in phases),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "reconnects": reconnects,
        "elapsed_s": round(elapsed, 4),
        "throughput_rps": round(completed / elapsed, 2) if elapsed > 0 else 0.0,
        "rounds": [{"round": p.round, "completed": p.completed,
                    "throughput_rps": round(p.completed / p.elapsed, 2) if p.elapsed > 0 else 0.0,
                    **{k: v for k, v in summarise_ms(p.latencies if mode == "open" else p.service).items()
                       if k in ("p50", "p99")}}
                   for p in phases],
    }
    if mode == "open":
        out["send_lag_ms"] = summarise_ms(lags)
        # Raw figures (µs precision) so that the report can plot distributions.
        out["latencies_ms"] = [round(x * 1000, 3) for x in lat]
    return out


def validate(spec: dict[str, Any]) -> tuple[list[Target], str, float, float, int, int, int]:
    targets = [Target.from_spec(t) for t in spec.get("targets", [])]
    if not targets:
        raise SpecError("no targets")
    if len({t.name for t in targets}) != len(targets):
        raise SpecError("target names must be unique")
    mode = spec.get("mode", "open")
    if mode not in ("open", "closed"):
        raise SpecError(f"mode must be 'open' or 'closed', got {mode!r}")
    rate = float(spec.get("rate", 100))
    round_s = float(spec.get("round_seconds", 2))
    rounds = int(spec.get("rounds", 4))
    nconn = int(spec.get("connections", 16))
    warmup = int(spec.get("warmup", 2))
    if rate <= 0 or round_s <= 0 or rounds < 1 or not 1 <= nconn <= MAX_CONNECTIONS or warmup < 0:
        raise SpecError("rate and round_seconds must be > 0, rounds >= 1, "
                        f"1 <= connections <= {MAX_CONNECTIONS}, warmup >= 0")
    total_s = round_s * rounds * len(targets)
    if total_s > MAX_SECONDS_PER_RUN:
        raise SpecError(f"the run would take {total_s:.0f} s; the limit is {MAX_SECONDS_PER_RUN:.0f} s")
    if mode == "open" and rate * total_s > MAX_REQUESTS_PER_RUN:
        raise SpecError(f"the run would send {rate * total_s:.0f} requests; the limit is {MAX_REQUESTS_PER_RUN}")
    return targets, mode, rate, round_s, rounds, nconn, warmup


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m bench.loadgen SPEC.json   (- reads the spec from stdin)", file=sys.stderr)
        return 2
    try:
        text = sys.stdin.read() if args[0] == "-" else open(args[0], encoding="utf-8").read()
        result = run(json.loads(text))
    except (SpecError, ValueError, KeyError, OSError) as exc:
        print(f"loadgen: {exc}", file=sys.stderr)
        return 2
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
