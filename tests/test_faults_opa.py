"""OPA faults against a real OPA: killed (-9), stopped past its timeout (SIGSTOP), and running
deliberately broken policy bundles (a string, an undefined decision, an unknown obligation, a
runtime conflict, an allow without per-item answers). Each: 503 (or no release), the right
``sidecar_opa_errors_total{kind}``, a log line, a deny record, and nothing forwarded."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from sidecar.devtools.demo import Stack
from tests.helpers import DOCS, HULP, ZAKEN, Running, new_ports, wait_for

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
    ports = new_ports()
    # config_extra replaces a whole section: the OPA URL must be repeated with the timeouts.
    stack = Stack(workdir=tmp_path_factory.mktemp("opa-faults"), ports=ports, workers=1, config_extra={
        # OPA over REST: these faults are of the OPA server (with the default wasm engine the proxy
        # does not ask it; tests/test_wasm_engine.py stops OPA under that engine).
        "opa": {"url": f"http://127.0.0.1:{ports.opa}", "engine": "rest",
                "timeout": {"connect": 0.25, "read": OPA_READ_TIMEOUT}}})
    stack.start()
    yield Running(stack)
    stack.stop()


def _opa_pid(run: Running) -> int:
    return run.stack.procs["opa"].pid


def _wait_log(run: Running, needle: str, start: int) -> str:
    def since() -> str:
        text = run.log()[start:]
        return text if needle in text else ""

    text: str = wait_for(f"{needle!r} in sidecar.log", since, timeout=3, interval=0.05)
    return text


def _assert_fail_closed(run: Running, kind: str, *, forwarded: bool = False, target: str = ZAKEN) -> None:
    before_up = run.mark_upstream()
    before_metric = run.metric("sidecar_opa_errors_total", kind=kind)
    log_at = len(run.log())
    r = run.proxy("GET", target, run.headers("consulent", HULP))
    assert r.status == 503, (kind, r.status, r.body[:300])
    assert r.header("content-type") == "application/problem+json"
    assert b'"results"' not in r.body
    assert run.metric("sidecar_opa_errors_total", kind=kind) == before_metric + 1
    recs = run.records_of(r)
    assert recs[-1]["decision"] == "deny" and recs[-1]["reasons"] == [f"OPA_{kind.upper()}"]
    assert recs[-1]["status"] == 503
    lines = run.upstream_since(before_up)
    if forwarded or lines:
        # The request phase allowed (recorded as an allow): decided by this policy, or taken from the
        # sidecar's cache of request-phase decisions made before the fault. Only the read itself
        # reached the upstream; the response phase failed, so nothing was released.
        assert recs[0]["decision"] == "allow" and recs[0]["phase"] == "request"
        assert len(lines) == 1
    if lines and not forwarded:
        # It was the cache: the OPA error dropped it, so the next request stops before the upstream.
        again_up = run.mark_upstream()
        again = run.proxy("GET", target, run.headers("consulent", HULP))
        assert again.status == 503 and run.upstream_since(again_up) == []
    elif not forwarded:
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
    assert run.wait_readiness(503).status == 503
    run.stack.procs.pop("opa")
    run.stack.start_opa()
    assert run.proxy("GET", ZAKEN, run.headers("consulent", HULP)).status == 200


def test_opa_stopped_past_its_timeout(opa_stack: Running) -> None:
    run = opa_stack
    assert run.proxy("GET", ZAKEN, run.headers("consulent", HULP)).status == 200
    import os

    os.kill(_opa_pid(run), signal.SIGSTOP)
    try:
        # The OPA read timeout (not a hang) ends the wait: the error kind says so.
        _assert_fail_closed(run, "timeout")
    finally:
        os.kill(_opa_pid(run), signal.SIGCONT)
    wait_for("a 200 once OPA runs again", lambda: run.proxy("GET", ZAKEN, run.headers("consulent", HULP)).status == 200,
             timeout=5)


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
