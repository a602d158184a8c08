"""The benchmark's load generator: scheduling, percentile maths, and that an open loop shows
queueing that a closed loop hides. Against a tiny local http.server; fast (a few seconds)."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from bench.loadgen import (
    Conn,
    Request,
    SpecError,
    Target,
    percentile,
    run,
    run_closed_phase,
    run_open_phase,
    schedule,
    summarise_ms,
)
from tests.helpers import LoopbackServer

REPO = Path(__file__).resolve().parents[1]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the generator expects
    # Headers and body go out in two writes; with Nagle on, the body would wait for the
    # client's delayed ACK (40 ms) and every "fast" request would be slow.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        if self.path.startswith("/slow"):
            time.sleep(0.02)
        code = 403 if self.path == "/deny" else 200
        body = b"x" * 100
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[int]:
    srv = LoopbackServer()
    srv.serve(_Handler)
    yield srv.port
    srv.stop()


def _target(port: int, path: str, name: str = "t") -> Target:
    return Target(name, "127.0.0.1", port, Request("GET", path))


def test_schedule_is_a_fixed_arrival_rate() -> None:
    assert schedule(10.0, 4, 5) == [10.0, 10.25, 10.5, 10.75, 11.0]
    with pytest.raises(SpecError):
        schedule(0.0, 0, 3)


@pytest.mark.parametrize("q", [0, 1, 25, 50, 90, 99, 100])
def test_percentile_interpolates_like_numpy_linear(q: float) -> None:
    data = sorted([3.0, 1.0, 4.0, 1.5, 9.0, 2.6, 5.0, 3.5, 8.9, 7.0, 0.2])
    # statistics.quantiles(method="inclusive") uses the same rule for the 1..99 cut points.
    if 0 < q < 100:
        expected = statistics.quantiles(data, n=100, method="inclusive")[int(q) - 1]
    else:
        expected = data[0] if q == 0 else data[-1]
    assert percentile(data, q) == pytest.approx(expected)


def test_percentile_by_hand_and_errors() -> None:
    assert percentile([10, 20, 30, 40], 50) == 25
    assert percentile([10, 20, 30, 40], 99) == pytest.approx(39.7)
    assert percentile([7], 99) == 7
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1, 2], 101)
    s = summarise_ms([0.001] * 99 + [0.1])
    assert s["count"] == 100 and s["p50"] == 1.0 and s["max"] == 100.0
    assert 1.0 < s["p99"] < 100.0


def test_open_loop_sends_every_request_on_schedule(server: int) -> None:
    t = _target(server, "/fast")
    conns = [Conn("127.0.0.1", server) for _ in range(4)]
    phase = run_open_phase(t, conns, rate=200, seconds=0.5)
    assert phase.scheduled == 100 and phase.completed == 100 and phase.errors == 0
    assert phase.statuses == {200: 100}
    # 100 requests at 200/s take half a second: not faster (it is not a closed loop) ...
    assert phase.elapsed >= 0.49
    # ... and every latency is measured from the scheduled time, so it includes the send lag.
    for lat, svc, lag in zip(phase.latencies, phase.service, phase.lags, strict=True):
        assert lat == pytest.approx(svc + lag, abs=1e-9) and lag >= -1e-3
    assert all(c.reconnects == 0 for c in conns)  # keep-alive held


def test_open_loop_shows_queueing_that_closed_loop_hides(server: int) -> None:
    t = _target(server, "/slow")  # 20 ms per request; one connection can do about 50/s
    phase = run_open_phase(t, [Conn("127.0.0.1", server)], rate=100, seconds=0.4)
    assert phase.completed == 40
    svc = sorted(phase.service)
    lat = sorted(phase.latencies)
    # Requests pile up behind each other: the last one waited for ~39 others (≈ 0.78 s of
    # service) but was due at 0.39 s, so it is ~0.4 s late; its service time stays ~20 ms.
    assert percentile(svc, 50) < 0.1
    assert lat[-1] > 0.25
    assert percentile(lat, 99) > 5 * percentile(svc, 50)
    closed = run_closed_phase(t, [Conn("127.0.0.1", server)], seconds=0.3)
    # The closed loop on the same server reports only the service time.
    assert closed.completed >= 5
    assert max(closed.service) < 0.25
    assert closed.completed / closed.elapsed < 60


def test_unexpected_statuses_are_counted(server: int) -> None:
    t = _target(server, "/deny")
    phase = run_open_phase(t, [Conn("127.0.0.1", server)], rate=100, seconds=0.1)
    assert phase.statuses == {403: 10} and phase.unexpected == 10
    ok = Target("d", "127.0.0.1", server, Request("GET", "/deny"), expect=frozenset({403}))
    assert run_open_phase(ok, [Conn("127.0.0.1", server)], rate=100, seconds=0.1).unexpected == 0


def test_refused_connection_is_an_error_not_a_latency() -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens here now
    phase = run_open_phase(_target(port, "/"), [Conn("127.0.0.1", port)], rate=50, seconds=0.1)
    assert phase.errors == 5 and phase.completed == 0 and phase.latencies == []


def test_only_loopback_and_bounded_runs() -> None:
    with pytest.raises(SpecError, match="loopback"):
        Target("x", "10.1.2.3", 80, Request("GET", "/"))
    spec = {"targets": [{"name": "a", "port": 1, "request": {"path": "/"}}], "rate": 1000,
            "round_seconds": 100, "rounds": 10}
    with pytest.raises(SpecError, match="limit"):
        run(spec)


def test_interleaved_rounds_alternate_and_cli_runs_in_its_own_process(server: int) -> None:
    spec = {"mode": "open", "rate": 100, "round_seconds": 0.2, "rounds": 3, "connections": 2, "warmup": 1,
            "targets": [{"name": "a", "port": server, "request": {"path": "/fast"}},
                        {"name": "b", "port": server, "request": {"path": "/deny"}, "expect": [403]}]}
    out = subprocess.run([sys.executable, "-m", "bench.loadgen", "-"], input=json.dumps(spec), text=True,
                         capture_output=True, cwd=REPO, timeout=30, check=True)
    res = json.loads(out.stdout)
    a, b = res["targets"]["a"], res["targets"]["b"]
    assert [r["round"] for r in a["rounds"]] == [0, 1, 2]
    assert a["completed"] == 60 and b["completed"] == 60
    assert a["statuses"] == {"200": 60} and b["statuses"] == {"403": 60} and b["unexpected_status"] == 0
    assert len(a["latencies_ms"]) == 60 and a["latency_ms"]["p50"] <= a["latency_ms"]["p99"]


def test_passthrough_floor_forwards_without_deciding(server: int) -> None:
    """The benchmark's floor proxy forwards status and body as they are and decides nothing."""
    from bench.passthrough import create_app

    client = create_app(upstream=f"http://127.0.0.1:{server}").test_client()
    ok = client.get("/anything?x=1", headers={"Authorization": "Bearer not-checked", "Connection": "close"})
    assert ok.status_code == 200 and ok.data == b"x" * 100
    assert client.get("/deny").status_code == 403  # the upstream's answer, not a decision
    with pytest.raises(SystemExit):
        create_app(upstream="http://example.org:80")  # loopback only


def test_fsync_probe_paces_appends_and_leaves_nothing_behind(tmp_path: Path) -> None:
    from bench.fsync import measure

    started = time.perf_counter()
    res = measure(tmp_path, rate=100, count=20, line_bytes=850)
    elapsed = time.perf_counter() - started
    lm = res["latency_ms"]
    assert res["rate"] == 100 and res["line_bytes"] == 850
    assert lm["count"] == 20 and 0 < lm["p50"] <= lm["p99"] <= lm["max"]
    assert elapsed >= 19 / 100  # paced: the 20th append is due 0.19 s after the first
    assert list(tmp_path.iterdir()) == []  # the probe file is removed
    with pytest.raises(ValueError, match="must be > 0"):
        measure(tmp_path, rate=0, count=5)
    cli = subprocess.run([sys.executable, "-m", "bench.fsync", "--dir", str(tmp_path), "--rate", "200",
                          "--count", "5"], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert cli.returncode == 0 and "append + fsync of a 850-byte line" in cli.stdout and "p99" in cli.stdout
    bad = subprocess.run([sys.executable, "-m", "bench.fsync", "--dir", str(tmp_path / "missing")],
                         capture_output=True, text=True, cwd=REPO, timeout=60)
    assert bad.returncode == 2 and "is not a directory" in bad.stderr


def test_report_floors_for_the_list_and_record_targets() -> None:
    from bench.report import DASH, TIMES, _batch_floor, _fsync_floor

    batch = {"open_loop": {"targets": {"opa": {"latency_ms": {"p50": 4.9}}, "floor": {"latency_ms": {"p50": 2.5}}}}}
    assert _batch_floor(batch) == "the batch OPA call alone: 4.90 ms (constant policy 2.50 ms)"
    assert _batch_floor(None) == DASH
    doc = {"fsync_floor": [{"rate": 50, "line_bytes": 850, "latency_ms": {"count": 400, "p99": 2.0}}]}
    read50 = {"rate": 50, "added_ms": {"p99": 20.0}}
    assert _fsync_floor(doc, read50, 2) == f"20 % (2 {TIMES} 2.00 ms bare fsync)"
    assert _fsync_floor(doc, {"rate": 200, "added_ms": {"p99": 20.0}}, 2) == DASH  # no probe at that rate
    assert _fsync_floor({}, read50, 2) == DASH  # results from before the probe existed
