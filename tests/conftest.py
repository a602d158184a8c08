"""Integration harness: real OPA, the demo upstream and the sidecar (gunicorn) on free ports.

The stack is the same :class:`sidecar.devtools.demo.Stack` that ``sidecar demo`` runs. Requests are
sent with ``http.client`` so the request target goes out byte for byte as the test wrote it.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from sidecar.devtools.demo import Ports, Stack, find_opa, free_ports
from sidecar.devtools.keys import mint

DOCS = "/documenten/api/v1/enkelvoudiginformatieobjecten"
ZAKEN = "/zaken/api/v1/zaken"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def send(port: int, method: str, target: str, headers: dict[str, str] | list[tuple[str, str]] | None = None,
         body: bytes | None = None, timeout: float = 30) -> Reply:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        items = headers.items() if isinstance(headers, dict) else (headers or [])
        for k, v in items:
            conn.putheader(k, v)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        data = resp.read()
        return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()


@dataclass
class Running:
    stack: Stack

    @property
    def workdir(self) -> Path:
        return self.stack.workdir

    def token(self, role: str, *, sub: str = "u-test", org: str | None = None, secrecy: str | None = None,
              **kw: Any) -> str:
        return mint(self.workdir, sub=sub, role=role, org=org or "gemeente-demo", secrecy=secrecy, **kw)

    def headers(self, role: str | None = None, purpose: str | None = None, **kw: Any) -> dict[str, str]:
        h: dict[str, str] = {}
        if role is not None:
            h["Authorization"] = f"Bearer {self.token(role, **kw)}"
        if purpose is not None:
            h["X-Doelbinding"] = purpose
        return h

    def proxy(self, method: str, target: str, headers: dict[str, str] | list[tuple[str, str]] | None = None,
              body: bytes | None = None) -> Reply:
        return send(self.stack.ports.proxy, method, target, headers, body)

    def upstream(self, method: str, target: str, body: bytes | None = None,
                 headers: dict[str, str] | None = None) -> Reply:
        h = {"Content-Type": "application/json"} if body is not None else {}
        h.update(headers or {})
        return send(self.stack.ports.upstream, method, target, h, body)

    def admin(self, target: str) -> Reply:
        return send(self.stack.ports.admin, "GET", target)

    def records(self) -> list[dict[str, Any]]:
        path = self.workdir / "records.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def records_for_trace(self, trace_id: str) -> list[dict[str, Any]]:
        return [r for r in self.records() if r["trace_id"] == trace_id]

    def metric(self, name: str, **labels: str) -> float:
        """Sum of the samples of ``name`` whose labels include ``labels``."""
        total = 0.0
        for line in self.admin("/metrics").body.decode().splitlines():
            if not line.startswith(name) or line.startswith("#"):
                continue
            head, _, value = line.rpartition(" ")
            metric_name, _, lbl = head.partition("{")
            if metric_name != name:
                continue
            parsed = dict(p.split("=", 1) for p in lbl.rstrip("}").split(",") if "=" in p)
            if all(parsed.get(k) == f'"{v}"' for k, v in labels.items()):
                total += float(value)
        return total

    def upstream_requests(self) -> list[str]:
        """Request lines the demo upstream logged (werkzeug's access log)."""
        log = self.workdir / "upstream.log"
        return [ln for ln in log.read_text(errors="replace").splitlines() if '"' in ln and "HTTP/1.1" in ln]

    def seed_documents(self) -> list[dict[str, Any]]:
        docs: list[dict[str, Any]] = self.upstream("GET", DOCS).json()["results"]
        return docs

    def doc_of(self, category: str) -> dict[str, Any]:
        for d in self.seed_documents():
            if d["informatieobjecttype"].endswith(f"/{category}") and d.get("bestandsomvang", 0) < 1_000_000:
                return d
        raise AssertionError(f"no seeded document of category {category}")


class LoopbackServer:
    """A threaded HTTP server on 127.0.0.1 for stand-in peers of the sidecar (a JWKS endpoint, an
    upstream with odd answers). Never a stand-in for OPA: the tests always use the real one."""

    _srv: ThreadingHTTPServer | None = None
    port: int = 0

    def serve(self, handler: type[BaseHTTPRequestHandler], port: int = 0) -> None:
        self._srv = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._srv.daemon_threads = True
        self.port = self._srv.server_address[1]
        threading.Thread(target=self._srv.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._srv is not None:
            self._srv.shutdown()
            self._srv.server_close()
            self._srv = None


def start_stack(tmp: Path, profile: str, **kw: Any) -> Stack:
    find_opa()  # a clear error when OPA is missing, before anything starts
    p = free_ports(4)
    stack = Stack(workdir=tmp, ports=Ports(proxy=p[0], admin=p[1], opa=p[2], upstream=p[3]),
                  profile=profile, **kw)
    stack.start()
    return stack


def start_not_ready(stack: Stack, timeout: float = 30) -> Reply:
    """Start OPA, the demo upstream and a sidecar that is expected NOT to become ready; return the
    first answer of its /-/readyz (the stack keeps running; the caller stops it)."""
    import sys
    import time

    stack.prepare()
    stack.start_opa()
    stack.start_upstream()
    stack._spawn("sidecar", [sys.executable, "-m", "sidecar", "serve", "--config", str(stack.config_path)])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return send(stack.ports.admin, "GET", "/-/readyz")
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"the sidecar's admin port did not answer within {timeout:.0f}s")


@pytest.fixture(scope="session")
def knmg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    stack = start_stack(tmp_path_factory.mktemp("knmg"), "knmg")
    yield Running(stack)
    stack.stop()


@pytest.fixture(scope="session")
def wetsvoorstel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    stack = start_stack(tmp_path_factory.mktemp("wetsvoorstel"), "wetsvoorstel")
    yield Running(stack)
    stack.stop()


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Running]:
    """A stack of its own, for tests that break something (stop OPA, break the records file)."""
    stack = start_stack(tmp_path / "stack", "knmg", workers=1)
    yield Running(stack)
    stack.stop()
