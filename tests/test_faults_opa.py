"""OPA faults against a real OPA: killed (-9), stopped past its timeout (SIGSTOP), and running
deliberately broken policy bundles (a string, an undefined decision, an unknown obligation, a
runtime conflict, an allow without per-item answers). Each: 503 (or no release), the right
``sidecar_opa_errors_total{kind}``, a log line, a deny record, and nothing forwarded."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sidecar.devtools.demo import Ports, Stack, free_ports
from tests.conftest import DOCS, ZAKEN, Running
from tests.test_attack_http import mark_upstream, new_lines

HULP = "onderzoek_hulpvraag"
OPA_READ_TIMEOUT = 0.4

BROKEN = {
    # name: (rego body after the package line, error kind, is the list request forwarded?)
    "string": ('decision := "allow"\n', "malformed", False),
    "undefined": ("decision := 1 if input.nothing_has_this\n", "undefined", False),
    "decision not a bool": ('decision := {"decision": "true", "reasons": []}\n', "malformed", False),
    "unknown obligation": ('decision := {"decision": true, "reasons": ["X"], '
                           '"obligations": [{"type": "encrypt_with_rot13"}]}\n', "obligation", False),
    "runtime conflict": ('decision := {"decision": true} if input.action.name == "list"\n'
                         'decision := {"decision": false} if input.resource.type == "zaak"\n', "http", False),
    "allow without evaluations": ('decision := {"decision": true, "reasons": ["X"], "obligations": []}\n',
                                  "malformed", True),
}


@pytest.fixture(scope="module")
def opa_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    p = free_ports(4)
    ports = Ports(proxy=p[0], admin=p[1], opa=p[2], upstream=p[3])
    # config_extra replaces a whole section: the OPA URL must be repeated with the timeouts.
    stack = Stack(workdir=tmp_path_factory.mktemp("opa-faults"), ports=ports, workers=1, config_extra={
        "opa": {"url": f"http://127.0.0.1:{ports.opa}", "timeout": {"connect": 0.25, "read": OPA_READ_TIMEOUT}}})
    stack.start()
    yield Running(stack)
    stack.stop()


def _opa_pid(run: Running) -> int:
    return run.stack.procs["opa"].pid


def _wait_log(run: Running, needle: str, start: int) -> str:
    deadline = time.monotonic() + 3
    text = ""
    while time.monotonic() < deadline:
        text = (run.workdir / "sidecar.log").read_text(errors="replace")[start:]
        if needle in text:
            return text
        time.sleep(0.05)
    raise AssertionError(f"no {needle!r} in sidecar.log")


def _assert_fail_closed(run: Running, kind: str, *, forwarded: bool = False, target: str = ZAKEN) -> None:
    before_up = mark_upstream(run)
    before_metric = run.metric("sidecar_opa_errors_total", kind=kind)
    log_at = len((run.workdir / "sidecar.log").read_text(errors="replace"))
    r = run.proxy("GET", target, run.headers("consulent", HULP))
    assert r.status == 503, (kind, r.status, r.body[:300])
    assert r.header("content-type") == "application/problem+json"
    assert b'"results"' not in r.body
    assert run.metric("sidecar_opa_errors_total", kind=kind) == before_metric + 1
    recs = run.records_for_trace(r.headers["traceparent"].split("-")[1])
    assert recs[-1]["decision"] == "deny" and recs[-1]["reasons"] == [f"OPA_{kind.upper()}"]
    assert recs[-1]["status"] == 503
    lines = new_lines(run, before_up)
    if forwarded:
        # The policy allowed the request phase (recorded as an allow); the response phase failed.
        assert recs[0]["decision"] == "allow" and recs[0]["phase"] == "request"
        assert len(lines) == 1
    else:
        assert lines == [], lines
    text = _wait_log(run, '"opa_error"', log_at)
    assert f'"{kind}"' in text


def test_opa_killed(opa_stack: Running) -> None:
    run = opa_stack
    assert run.proxy("GET", ZAKEN, run.headers("consulent", HULP)).status == 200
    proc = run.stack.procs["opa"]
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=5)
    for target in (ZAKEN, DOCS):
        _assert_fail_closed(run, "connect", target=target)
    deadline = time.monotonic() + 5
    while run.admin("/-/readyz").status == 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert run.admin("/-/readyz").status == 503
    run.stack.procs.pop("opa")
    run.stack.start_opa()
    assert run.proxy("GET", ZAKEN, run.headers("consulent", HULP)).status == 200


def test_opa_stopped_past_its_timeout(opa_stack: Running) -> None:
    run = opa_stack
    assert run.proxy("GET", ZAKEN, run.headers("consulent", HULP)).status == 200
    import os

    os.kill(_opa_pid(run), signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        _assert_fail_closed(run, "timeout")
        # Not held much longer than the OPA read timeout (plus the marker requests' overhead).
        assert time.monotonic() - t0 < OPA_READ_TIMEOUT + 3
    finally:
        os.kill(_opa_pid(run), signal.SIGCONT)
    deadline = time.monotonic() + 5
    status = 0
    while time.monotonic() < deadline:
        status = run.proxy("GET", ZAKEN, run.headers("consulent", HULP)).status
        if status == 200:
            break
        time.sleep(0.2)
    assert status == 200


@pytest.mark.parametrize("name", list(BROKEN))
def test_broken_policy(opa_stack: Running, tmp_path: Path, name: str) -> None:
    run = opa_stack
    rego, kind, forwarded = BROKEN[name]
    broken = tmp_path / "policies"
    broken.mkdir()
    (broken / "authz.rego").write_text("package wams.authz\n\n" + rego)
    good = run.stack.policies
    run.stack.stop_one("opa")
    run.stack.policies = broken
    try:
        run.stack.start_opa()
        _assert_fail_closed(run, kind, forwarded=forwarded)
    finally:
        run.stack.stop_one("opa")
        run.stack.policies = good
        run.stack.start_opa()
    assert run.proxy("GET", ZAKEN, run.headers("consulent", HULP)).status == 200
