"""The sidecar with its other back-ends: PostgreSQL labels, OPA on a unix socket, a ZGW upstream
that wants a JWT-ZGW, and several gunicorn workers counting into one set of metrics."""

from __future__ import annotations

import http.server
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import jwt
import pytest

from sidecar.labels import open_label_store
from tests.helpers import (
    DOCS,
    HULP,
    PROVIDER_ORG,
    SEED,
    ZAKEN,
    ZVH_ORG,
    LoopbackServer,
    PgServer,
    Running,
    ingest,
    link_document,
    send_json,
    start_stack,
    start_stack_before,
    uuid_of,
    zaak_of,
)


def test_sidecar_on_postgresql_labels(tmp_path: Path, pg_server: PgServer) -> None:
    dsn = pg_server.dsn(pg_server.create_database())
    stack = start_stack(tmp_path / "pg", "knmg", workers=2, config_extra={"labels": {"dsn": dsn}})
    run = Running(stack)
    try:
        reply, _ = ingest(run, 'grondslag=toestemming, toestemming="TS-5", betrokkene="111222333", '
                               'voorwaarden=(geen_verdere_verstrekking)', link_to=zaak_of(PROVIDER_ORG))
        assert reply.status == 201
        # Need-to-know: the related medical adviser also files it in the zaak handed over to the
        # ZVH, so that what the ZVH is refused below is refused for the data (O1), not for N2.
        link = link_document(run, reply.json()["url"], SEED["examples"]["zvh_overdracht"],
                             run.headers("medisch_adviseur", HULP))
        assert link.status == 201, link.body
        path = f"{DOCS}/{uuid_of(reply.json())}"
        stored = open_label_store(dsn).get_many([path])[path]
        assert stored["voorwaarden"] == ["geen_verdere_verstrekking"] and stored["grondslag"] == "toestemming"
        # Both workers read the same store: the sticky condition holds whichever worker answers.
        for _ in range(4):
            r = run.proxy("GET", path, run.headers("zvh_medewerker", "zvh_overdracht", org=ZVH_ORG))
            assert r.status == 403
            assert {"O1", "I2"} & set(run.records_of(r)[-1]["reasons"]), run.records_of(r)[-1]["reasons"]
    finally:
        stack.stop()


def test_opa_on_a_unix_socket(tmp_path: Path) -> None:
    sock = tmp_path / "opa.sock"
    stack = start_stack(tmp_path / "unix", "knmg", workers=1, opa_socket=sock,
                        config_extra={"opa": {"url": f"unix://{sock}", "engine": "rest"}})  # decisions over the socket
    run = Running(stack)
    try:
        assert run.admin("/-/readyz").status == 200
        r = run.proxy("GET", ZAKEN, run.headers("consulent", HULP))
        assert r.status == 200
        assert run.records()[-1]["policy"]["revision"]
    finally:
        stack.stop()


class _Capture(http.server.BaseHTTPRequestHandler):
    seen: ClassVar[list[dict[str, str]]] = []

    def do_GET(self) -> None:
        type(self).seen.append({k.lower(): v for k, v in self.headers.items()})
        send_json(self, {"count": 0, "next": None, "previous": None, "results": []})

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def capture_upstream() -> Iterator[int]:
    _Capture.seen = []
    server = LoopbackServer()
    server.serve(_Capture)
    yield server.port
    server.stop()


def test_zgw_upstream_gets_a_jwt_zgw_per_request_and_no_client_credentials(tmp_path: Path,
                                                                           capture_upstream: int) -> None:
    """A real ZGW upstream (Open Zaak) wants a JWT-ZGW per application. This stand-in upstream
    only records the headers it receives; OPA and the sidecar are real."""
    secret = uuid.uuid4().hex
    stack = start_stack_before(capture_upstream, tmp_path / "zgw", workers=1,
                               upstream={"zgw_jwt": {"client_id": "wams-sidecar", "secret": secret}})
    try:
        run = Running(stack)
        # Two callers: every request that reaches the upstream carries a JWT-ZGW naming its own
        # caller (not one token for the sidecar, not the previous caller's).
        for sub in ("c.jansen", "m.bakker"):
            h = run.headers("consulent", HULP, sub=sub)
            h["X-Forwarded-For"] = "6.6.6.6"
            h["X-HTTP-Method-Override"] = "DELETE"
            n = len(_Capture.seen)
            r = run.proxy("GET", ZAKEN, h)
            assert r.status == 200
            arrived = _Capture.seen[n:]
            assert arrived, "nothing reached the upstream"
            for seen in arrived:
                token = seen["authorization"].removeprefix("Bearer ")
                claims = jwt.decode(token, secret, algorithms=["HS256"])
                assert claims["client_id"] == claims["iss"] == "wams-sidecar"
                assert claims["user_id"] == sub
                assert "x-http-method-override" not in seen and "x-doelbinding" not in seen
                assert seen["x-forwarded-for"] == "127.0.0.1"  # the sidecar's view, not the client's claim
                assert seen["traceparent"].split("-")[1] == r.trace_id
    finally:
        stack.stop()


def test_metrics_sum_over_several_workers(knmg: Running) -> None:
    """knmg runs 2 gunicorn workers; every request opens its own connection, so both serve."""
    n = 40
    before = knmg.metric("sidecar_requests_total", route="documenten_list")
    for _ in range(n):
        assert knmg.proxy("GET", DOCS, knmg.headers("consulent", HULP)).status == 200
    assert knmg.metric("sidecar_requests_total", route="documenten_list") - before == n
    body = knmg.admin("/metrics").body.decode()
    assert 'sidecar_policy_info{profile="knmg"} 1.0' in body
