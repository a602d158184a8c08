"""Faults fail closed: OPA stopped means 503, nothing forwarded, not ready, a record and a metric."""

from __future__ import annotations

import time

from tests.conftest import DOCS, ZAKEN, Running

HULP = "onderzoek_hulpvraag"


def test_opa_stopped_fails_closed(fresh: Running) -> None:
    assert fresh.proxy("GET", ZAKEN, fresh.headers("consulent", HULP)).status == 200
    fresh.stack.stop_one("opa")
    before_upstream = len(fresh.upstream_requests())
    before_errors = fresh.metric("sidecar_opa_errors_total", kind="connect")

    for target in (ZAKEN, DOCS):
        r = fresh.proxy("GET", target, fresh.headers("consulent", HULP))
        assert r.status == 503
        assert r.header("content-type") == "application/problem+json"
        assert "results" not in r.body.decode()
    assert len(fresh.upstream_requests()) == before_upstream  # nothing forwarded

    assert fresh.metric("sidecar_opa_errors_total", kind="connect") - before_errors == 2
    last = fresh.records()[-1]
    assert last["decision"] == "deny" and last["reasons"] == ["OPA_CONNECT"]
    ready = fresh.admin("/-/readyz")
    deadline = time.monotonic() + 5  # readiness is cached for one second
    while ready.status == 200 and time.monotonic() < deadline:
        time.sleep(0.2)
        ready = fresh.admin("/-/readyz")
    assert ready.status == 503 and ready.json()["status"] == "not-ready"
    assert fresh.admin("/-/healthz").status == 200  # alive, just not ready

    # OPA back: the sidecar recovers on its own (no restart of the sidecar needed).
    fresh.stack.start_opa()
    assert fresh.proxy("GET", ZAKEN, fresh.headers("consulent", HULP)).status == 200
