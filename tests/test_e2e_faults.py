"""Faults fail closed: OPA stopped means 503, nothing forwarded, not ready, a record and a metric."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sidecar.devtools.demo import Stack
from tests.helpers import DOCS, HULP, ZAKEN, Running, new_ports, start_not_ready, start_stack


@pytest.fixture
def fresh_rest(tmp_path: Path) -> Iterator[Running]:
    """A stack of its own that decides with OPA over REST (opa.engine: rest): stopping OPA must
    then stop everything. (With the default wasm engine OPA is not asked: test_wasm_engine.py.)"""
    stack = start_stack(tmp_path / "stack", "knmg", workers=1, config_extra={"opa": {"engine": "rest"}})
    yield Running(stack)
    stack.stop()


def test_opa_stopped_fails_closed(fresh_rest: Running) -> None:
    assert fresh_rest.proxy("GET", ZAKEN, fresh_rest.headers("consulent", HULP)).status == 200
    fresh_rest.stack.stop_one("opa")
    before_upstream = fresh_rest.mark_upstream()
    before_errors = fresh_rest.metric("sidecar_opa_errors_total", kind="connect")

    for target in (ZAKEN, DOCS, ZAKEN):
        r = fresh_rest.proxy("GET", target, fresh_rest.headers("consulent", HULP))
        assert r.status == 503
        assert r.header("content-type") == "application/problem+json"
        assert "results" not in r.body.decode()
    # Nothing released. At most the first read reached the upstream: its request phase was decided
    # (and cached) before OPA stopped; the failed response phase dropped that cache, so no later
    # request is forwarded while OPA is away.
    forwarded = fresh_rest.upstream_since(before_upstream)
    assert len(forwarded) <= 1 and all("/zaken/api/v1/zaken" in line for line in forwarded), forwarded

    assert fresh_rest.metric("sidecar_opa_errors_total", kind="connect") - before_errors == 3
    last = fresh_rest.records()[-1]
    assert last["decision"] == "deny" and last["reasons"] == ["OPA_CONNECT"]
    ready = fresh_rest.wait_readiness(503)
    assert ready.status == 503 and ready.json()["status"] == "not-ready"
    assert fresh_rest.admin("/-/healthz").status == 200  # alive, just not ready

    # OPA back: the sidecar recovers on its own (no restart of the sidecar needed).
    fresh_rest.stack.start_opa()
    assert fresh_rest.proxy("GET", ZAKEN, fresh_rest.headers("consulent", HULP)).status == 200


def _policy_dir(tmp_path: Path, decision_rego: str) -> Path:
    """A deliberately wrong policy for the real OPA: the sidecar must not trust it."""
    d = tmp_path / "policies"
    (d / "wams" / "authz").mkdir(parents=True)
    (d / "wams" / "profile").mkdir(parents=True)
    (d / "profiles" / "knmg").mkdir(parents=True)
    (d / "profiles" / "knmg" / "data.json").write_text("{}")
    (d / "wams" / "profile" / "profile.rego").write_text("package wams.profile\n\nerrors := {}\n")
    (d / "wams" / "authz" / "authz.rego").write_text("package wams.authz\n\n" + decision_rego)
    return d


def test_unknown_obligation_fails_closed(tmp_path: Path) -> None:
    # Allows everything with an obligation the sidecar cannot carry out (readiness probes excepted,
    # or the stack would never become ready: readiness refuses such a policy too).
    policies = _policy_dir(tmp_path, '''default decision := {"decision": false, "reasons": ["X0"]}

decision := {"decision": true, "reasons": ["X1"], "obligations": [{"type": "bel_de_burgemeester"}]} if {
	input.subject.id != "readiness-probe"
}
''')
    stack = start_stack(tmp_path / "stack", "knmg", workers=1, policies=policies)
    run = Running(stack)
    try:
        before = run.mark_upstream()
        r = run.proxy("GET", ZAKEN, run.headers("consulent", HULP))
        assert r.status == 503
        assert run.records()[-1]["reasons"] == ["OPA_OBLIGATION"]
        assert run.upstream_since(before) == []
        assert run.metric("sidecar_opa_errors_total", kind="obligation") == 1
    finally:
        stack.stop()


def test_malformed_decision_fails_closed_and_is_not_ready(tmp_path: Path) -> None:
    policies = _policy_dir(tmp_path, 'decision := {"decision": "yes please"}\n')
    stack = Stack(workdir=tmp_path / "stack", ports=new_ports(), policies=policies, workers=1)
    try:
        ready = start_not_ready(stack)
        assert ready.status == 503 and "not a boolean" in ready.body.decode()
        run = Running(stack)
        r = run.proxy("GET", ZAKEN, run.headers("consulent", HULP))
        assert r.status == 503 and run.records()[-1]["reasons"] == ["OPA_MALFORMED"]
    finally:
        stack.stop()
