"""``make bench-plumbing``: CPU per step of the sidecar's plumbing, in-process, one step at a time.

``make bench`` and ``make bench-cpu`` measure whole requests over the network, where a change of a
few tens of microseconds disappears in the noise of a shared machine. This measures each
step of the request path on its own, in a tight loop, as CPU time (``time.process_time``) per
call in microseconds: no network, no OPA, no upstream (the relation caches are filled first, as
in a warm read). Each figure is the best of ``--rounds`` rounds (the least disturbed one).

    python -m bench.plumbing [--rounds N] [--scale F] [--only NAME ...]

Steps:

- ``record_jcs``: the RFC 8785 form of one read record (``jcs.canonicalize``), what its hash covers;
- ``record_line``: hashed form + SHA-256 + line, per record, as the writer does it (no I/O);
- ``records_50``: the same for the 50 records of a list page;
- ``zaken_of_documents``: a warm read's document → zaken map (a caller with 40 zaken, 3 documents each);
- ``gunicorn_access``: gunicorn's access-log call after each request, with ``sidecar serve``'s logger;
- ``request_log``: the per-request JSON log line (formatted, written to /dev/null);
- ``read_metrics``: the metric updates of one warm read (multiprocess mode, as under gunicorn).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

# Metrics are measured as under gunicorn (multiprocess files): the variable must be set before
# prometheus_client is first imported (by sidecar.metrics). Only when run as a program: imported
# (by its test) it must not change how the importing process counts.
if __name__ == "__main__" and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="bench-plumbing-metrics-")

from sidecar import jcs, metrics
from sidecar.auth import Identity
from sidecar.classify import Catalogue
from sidecar.labels import SqliteLabelStore
from sidecar.logs import JsonFormatter
from sidecar.opa import Decision
from sidecar.records import GENESIS, build_record, hashed_form
from sidecar.relations import CallerRelations, Relations
from sidecar.settings import Settings
from sidecar.upstream import UpstreamClient

UPSTREAM = "http://upstream.invalid"
ZAKEN = "/zaken/api/v1/zaken"
DOCS = "/documenten/api/v1/enkelvoudiginformatieobjecten"


def _settings() -> Settings:
    return Settings.model_validate({
        "upstream": {"url": UPSTREAM}, "jwt": {"issuer": "i", "audience": "a", "jwks_url": "http://x/j"},
        "controlling_orgs": ["gemeente"], "pseudonymisation": {"key": "k" * 32},
        "opa": {"engine": "rest"},  # no Wasm bundle here: OPA over REST
        "relations": {"cache_ttl_seconds": 3600}})


def read_record(i: int = 0) -> dict[str, Any]:
    """A response-phase allow of a document read, as the enforcer makes it."""
    decision = Decision(allow=True, reasons=["N1", "R3"], reason_user="", obligations=[{"type": "log_access"}],
                        grondslag="wgbo", processing_activity="zaakbehandeling-medisch",
                        revision="c7f4aaf", duration_s=0.000734 + i * 1e-6)
    rec = build_record(
        time="2026-11-30T16:30:42.123456Z", decision_id=f"7d5c1c9e-8f0b-4b51-9d77-3a4b2c1d{i:04d}",
        trace_id="0af7651916cd43dd8448eb211c80319c", span_id="b7ad6b7169203331", phase="response",
        allow=True, enforced=True, status=None,
        subject={"id": "c.jansen", "role": "behandelaar", "org": "ziekenhuis-noord"},
        purpose="zorgverlening", action="read",
        resource={"type": "enkelvoudiginformatieobject", "id": "0d4c2a8e-1b7f-4a55-9e0f-6c3b8d2e1f00",
                  "properties": {"category": "medisch"}},
        resource_type=None, betrokkene="hmac-sha256:" + "ab" * 32, decision=decision, reasons=decision.reasons,
        profile="knmg", duration_s=decision.duration_s)
    rec["prev_hash"] = GENESIS
    return rec


def _line(record: dict[str, Any]) -> bytes:
    body = hashed_form(record)
    digest = hashlib.sha256(body).hexdigest()
    return body[:-1] + b',"hash":"' + digest.encode("ascii") + b'"}\n'


def step_record_jcs() -> Callable[[], Any]:
    rec = read_record()
    body = {k: v for k, v in rec.items() if k != "hash"}
    return lambda: jcs.canonicalize(body)


def step_record_line() -> Callable[[], Any]:
    rec = read_record()
    return lambda: _line(rec)


def step_records_50() -> Callable[[], Any]:
    recs = [read_record(i) for i in range(50)]
    return lambda: [_line(r) for r in recs]


def warm_relations(tmp: Path, n_zaken: int = 40, docs_per_zaak: int = 3) -> tuple[Relations, CallerRelations, str]:
    """A Relations whose caches hold a caller's zaken and their documents (no upstream call is
    made: the upstream address does not resolve, so a miss would fail)."""
    settings = _settings()
    rel = Relations(client=UpstreamClient(settings.upstream), labels=SqliteLabelStore(tmp / "labels.sqlite3"),
                    catalogue=Catalogue(settings.catalogue), settings=settings)
    zaken = {f"{ZAKEN}/{i:08d}-0000-4000-8000-000000000000": frozenset({"behandelaar"}) for i in range(n_zaken)}
    ident = Identity(sub="c.jansen", role="behandelaar", org="ziekenhuis-noord", secrecy="geheim")
    rel._generation = rel._labels.relation_state(ident.sub)[0]  # as after a first request
    rel._callers.put((ident.sub, ident.teams, ident.org), zaken)
    for j, z in enumerate(zaken):
        rel._documents.put(z, frozenset(f"{DOCS}/{j:04d}{k:04d}-0000-4000-8000-000000000000"
                                        for k in range(docs_per_zaak)))
    caller = rel.of_caller(ident, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    return rel, caller, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def step_zaken_of_documents(tmp: Path) -> Callable[[], Any]:
    rel, caller, tp = warm_relations(tmp)
    return lambda: rel.zaken_of_documents(caller, tp)


def step_gunicorn_access(tmp: Path) -> Callable[[], Any]:
    from sidecar import serve

    app = serve._Gunicorn(_settings())  # its configuration only: nothing is started before run()
    logger = app.cfg.logger_class(app.cfg)

    class Resp:
        status = "200 OK"
        sent = 512
        headers = (("Content-Type", "application/json"), ("Content-Length", "512"), ("traceparent", "00-x-y-01"))

    class Req:
        headers = (("HOST", "sidecar"), ("AUTHORIZATION", "Bearer x" * 40), ("X-DOELBINDING", "zorgverlening"),
                   ("ACCEPT", "application/json"), ("USER-AGENT", "bench"))

    environ = {"REQUEST_METHOD": "GET", "RAW_URI": f"{DOCS}/x", "SERVER_PROTOCOL": "HTTP/1.1",
               "PATH_INFO": f"{DOCS}/x", "QUERY_STRING": "", "REMOTE_ADDR": "127.0.0.1",
               **{f"HTTP_H{i}": "v" for i in range(8)}, **{f"wsgi.k{i}": i for i in range(10)}}
    took = timedelta(microseconds=2345)
    resp, req = Resp(), Req()
    return lambda: logger.access(resp, req, environ, took)


def step_request_log() -> Callable[[], Any]:
    log = logging.getLogger("bench.plumbing.request")
    log.propagate = False
    handler = logging.StreamHandler(open(os.devnull, "w"))
    handler.setFormatter(JsonFormatter())
    log.handlers[:] = [handler]
    log.setLevel(logging.INFO)

    def once() -> None:
        log.info("request", extra={
            "event": "request", "trace_id": "0af7651916cd43dd8448eb211c80319c", "method": "GET",
            "route": "documenten.enkelvoudiginformatieobject.read", "status": 200,
            "duration_ms": 2.345, "remote": "127.0.0.1"})
    return once


def step_read_metrics() -> Callable[[], Any]:
    route = "documenten.enkelvoudiginformatieobject.read"

    def once() -> None:
        # What a warm detail read updates (sidecar.enforce, sidecar.relations, sidecar.proxy).
        child = metrics.child
        child(metrics.request_phase_cache_total, "hit").inc()
        child(metrics.decisions_total, "allow", "request", "read", "none").inc()
        child(metrics.relation_cache_total, "caller", "hit").inc()
        child(metrics.relation_cache_total, "zaak_documents", "hit").inc(40)
        metrics.opa_request_duration.observe(0.0008)
        child(metrics.decisions_total, "allow", "response", "read", "medisch").inc()
        child(metrics.obligations_total, "log_access").inc()
        metrics.record_write_duration.observe(0.0004)
        metrics.records_written_total.inc(2)
        child(metrics.request_duration, route).observe(0.0023)
        child(metrics.requests_total, route, "2xx").inc()
    return once


def measure(fn: Callable[[], Any], iterations: int, rounds: int) -> float:
    """CPU µs per call: the best round's process time over ``iterations`` calls."""
    fn()
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(iterations):
            fn()
        best = min(best, time.process_time() - start)
    return best / iterations * 1e6


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--scale", type=float, default=1.0, help="iterations multiplier (0.1: a quick look)")
    p.add_argument("--only", nargs="*", default=None)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-plumbing-") as d:
        tmp = Path(d)
        steps: list[tuple[str, Callable[[], Callable[[], Any]], int]] = [
            ("record_jcs", step_record_jcs, 20_000),
            ("record_line", step_record_line, 20_000),
            ("records_50", step_records_50, 400),
            ("zaken_of_documents", lambda: step_zaken_of_documents(tmp), 5_000),
            ("gunicorn_access", lambda: step_gunicorn_access(tmp), 20_000),
            ("request_log", step_request_log, 20_000),
            ("read_metrics", step_read_metrics, 20_000),
        ]
        print(f"{'step':<22} {'CPU µs/call':>12}")
        for name, make, n in steps:
            if args.only and name not in args.only:
                continue
            us = measure(make(), max(1, int(n * args.scale)), args.rounds)
            print(f"{name:<22} {us:>12.2f}")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
