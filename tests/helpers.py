"""Shared test helpers: the one place for what more than one test file needs.

Fixtures live in ``conftest.py`` and are built from these helpers; test files import from here,
never from ``conftest.py`` or from each other. Sections:

* HTTP to the stack (:func:`send`, :func:`raw_exchange`): requests go out with ``http.client`` or
  a raw socket, so the request target goes out byte for byte as the test wrote it.
* A running stack (:class:`Running`, :func:`start_stack`, :func:`start_not_ready`): the same
  :class:`sidecar.devtools.demo.Stack` that ``sidecar demo`` runs (real OPA, the demo upstream and
  the sidecar under gunicorn), with what the upstream saw and what was recorded.
* Records, waiting, ZGW objects, tokens.
* Stand-in peers (:class:`LoopbackServer`, :class:`BundleServer`, :class:`PgServer`): never a
  stand-in for OPA, which is always the real one.
* The Grafana dashboard's queries, which both the deploy and the end-to-end Prometheus tests read.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import http.client
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import promql_parser
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from sidecar.devtools.demo import REPO_ROOT, Ports, Stack, find_opa, free_ports
from sidecar.devtools.keys import DEMO_AUDIENCE, DEMO_ISSUER, DEMO_ORG, mint
from sidecar.devtools.upstream import relations

DOCS = "/documenten/api/v1/enkelvoudiginformatieobjecten"
ZAKEN = "/zaken/api/v1/zaken"
ROLLEN = "/zaken/api/v1/rollen"
ZIO = "/zaken/api/v1/zaakinformatieobjecten"
HULP = "onderzoek_hulpvraag"  # the purpose most tests read under
PROVIDER_ORG = "huisarts-de-linde"  # a care provider that sends documents in (ingest)
ZVH_ORG = "zvh-midden"  # a care-and-safety house: onward disclosure goes there

# Need-to-know: who the demo upstream's seed relates to which zaak (its README, "Seed: zaken,
# relations, documents"). A test acts as the demo user of its role, who relates to the zaken of
# the documents the tests pick, unless it names another subject itself.
SEED = relations()
UNRELATED_SUB = "u-test"  # a `sub` no rol names and no default token uses: related to nothing
#: The subject a token of each role gets by default (``sub``, ``org``). Roles not named here, and
#: the ``sub`` of the roles named by ``org``, get ``test-<role>``: related to no zaak, and one per
#: role, so that what one role writes (the writer relation is the ``sub``'s) is not another's.
#: The ``org`` defaults to the controlling organisation.
DEFAULT_SUBJECT: dict[str, dict[str, str]] = {
    **{role: {"sub": sub} for role, sub in SEED["users"].items()
       if role in ("consulent", "medisch_adviseur", "coordinator")},
    "zvh_medewerker": {"org": SEED["orgs"]["zvh"]},
    "casusoverleg_deelnemer": {"org": SEED["orgs"]["casusoverleg"]},
    "aanbieder": {"org": SEED["orgs"]["provider"]},
}


# ---- HTTP ------------------------------------------------------------------------------------

@dataclass
class Reply:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def trace_id(self) -> str:
        """The trace id of the sidecar's ``traceparent``: the key to this request's records."""
        tp = self.headers.get("traceparent")
        assert tp, f"no traceparent in the answer (status {self.status}): not answered by the sidecar app"
        return tp.split("-")[1]


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


def raw_exchange(port: int, data: bytes, timeout: float = 5.0) -> list[tuple[int, dict[str, str], bytes]]:
    """Write ``data`` as is (for what http.client refuses to send: bare CR, NUL, smuggling
    shapes); return every response read until the server closes or goes quiet."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        buf = b""
        s.settimeout(1.0)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            buf += chunk
    return parse_responses(buf)


def parse_responses(buf: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    out = []
    while buf.startswith(b"HTTP/"):
        head, _, rest = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
        length = int(headers.get("content-length", "0") or 0)
        out.append((status, headers, rest[:length]))
        buf = rest[length:]
    return out


# ---- waiting ---------------------------------------------------------------------------------

def wait_for(what: str, check: Callable[[], Any], timeout: float = 30, interval: float = 0.2) -> Any:
    """Poll ``check`` until it returns something truthy (returned); fail naming ``what``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


# ---- records ---------------------------------------------------------------------------------

def read_records(path: Path, *, torn_ok: bool = False) -> list[dict[str, Any]]:
    """The decision records in ``path`` ([] when there is no file yet). A line that is not JSON
    fails the test, unless ``torn_ok``: a test that breaks the disk on purpose reads complete
    lines only, and checks the chain with ``verify`` separately."""
    if not path.exists():
        return []
    out = []
    for line in path.read_bytes().split(b"\n"):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except ValueError:
            if not torn_ok:
                raise
    return out


# ---- ZGW objects -----------------------------------------------------------------------------

ZAAK_RESOURCE = re.compile(r"/zaken/api/v1/zaken(?:/_zoek|/[0-9a-fA-F-]{36})?")


def with_crs(method: str, target: str, headers: dict[str, str] | list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``headers`` plus ``Accept-Crs`` (and, with a body, ``Content-Crs``) on a request for the zaak
    resource, as a ZGW client sends them to Open Zaak; a header the caller set is kept."""
    items = list(headers.items()) if isinstance(headers, dict) else list(headers)
    if not ZAAK_RESOURCE.fullmatch(target.split("?", 1)[0]) or method.upper() == "DELETE":
        return items
    have = {k.lower() for k, _ in items}
    extra = [("Accept-Crs", "EPSG:4326")]
    if method.upper() in ("POST", "PUT", "PATCH"):
        extra.append(("Content-Crs", "EPSG:4326"))
    return items + [(k, v) for k, v in extra if k.lower() not in have]


def uuid_of(obj: dict[str, Any] | str) -> str:
    """The uuid of a ZGW object (or of its URL): the last path segment of its ``url``."""
    url = obj if isinstance(obj, str) else obj["url"]
    return str(url).rsplit("/", 1)[1]


def document_body(type_url: str, titel: str, **over: Any) -> bytes:
    """A valid new EnkelvoudigInformatieObject for the Documenten API (``over`` replaces fields)."""
    doc = {"bronorganisatie": "001234560", "creatiedatum": "2026-11-29", "titel": titel, "auteur": "test",
           "taal": "nld", "informatieobjecttype": type_url, "vertrouwelijkheidaanduiding": "vertrouwelijk",
           "formaat": "text/plain", "bestandsnaam": "t.txt", "inhoud": base64.b64encode(b"hallo").decode()}
    doc.update(over)
    return json.dumps(doc).encode()


# ---- a running stack -------------------------------------------------------------------------

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class Running:
    stack: Stack

    @property
    def workdir(self) -> Path:
        return self.stack.workdir

    def token(self, role: str, *, sub: str | None = None, org: str | None = None, secrecy: str | None = None,
              teams: list[str] | None = None, **kw: Any) -> str:
        """A token of ``role``; ``sub`` and ``org`` default to the role's demo subject
        (:data:`DEFAULT_SUBJECT`), ``teams`` goes in the claim of that name when given."""
        default = DEFAULT_SUBJECT.get(role, {})
        if teams is not None:
            kw["extra"] = {**(kw.get("extra") or {}), "teams": teams}
        return mint(self.workdir, sub=sub or default.get("sub", f"test-{role}"), role=role,
                    org=org or default.get("org", DEMO_ORG), secrecy=secrecy, **kw)

    def headers(self, role: str | None = None, purpose: str | None = None, **kw: Any) -> dict[str, str]:
        h: dict[str, str] = {}
        if role is not None:
            h["Authorization"] = f"Bearer {self.token(role, **kw)}"
        if purpose is not None:
            h["X-Doelbinding"] = purpose
        return h

    def proxy(self, method: str, target: str, headers: dict[str, str] | list[tuple[str, str]] | None = None,
              body: bytes | None = None) -> Reply:
        """Through the sidecar, as a ZGW client: zaken requests carry the CRS headers Open Zaak (and
        the demo upstream) require (:func:`with_crs`). To send without them, use :func:`send`."""
        return send(self.stack.ports.proxy, method, target, with_crs(method, target, headers or {}), body)

    def upstream(self, method: str, target: str, body: bytes | None = None,
                 headers: dict[str, str] | None = None) -> Reply:
        """Straight to the demo upstream, past the sidecar (to set up or check its state)."""
        h = {"Content-Type": "application/json"} if body is not None else {}
        h.update(headers or {})
        return send(self.stack.ports.upstream, method, target, with_crs(method, target, h), body)

    def upstream_list(self, target: str) -> list[dict[str, Any]]:
        """Every object of a paginated upstream list, all pages (a check of "nothing was written"
        must not stop at page 1: other tests create objects in the shared stacks)."""
        out: list[dict[str, Any]] = []
        nxt: str | None = target
        while nxt:
            page = self.upstream("GET", nxt).json()
            out.extend(page["results"])
            link = page.get("next")
            nxt = None
            if link:
                parts = urllib.parse.urlsplit(link)
                nxt = parts.path + (f"?{parts.query}" if parts.query else "")
        return out

    def admin(self, target: str) -> Reply:
        return send(self.stack.ports.admin, "GET", target)

    def wait_readiness(self, status: int, timeout: float = 5) -> Reply:
        """Poll ``/-/readyz`` until it answers ``status`` (readiness is cached for a second) and
        return that answer, or the last one when it never did (the caller asserts on it)."""
        deadline = time.monotonic() + timeout
        ready = self.admin("/-/readyz")
        while ready.status != status and time.monotonic() < deadline:
            time.sleep(0.2)
            ready = self.admin("/-/readyz")
        return ready

    def records(self) -> list[dict[str, Any]]:
        return read_records(self.workdir / "records.jsonl")

    def records_for_trace(self, trace_id: str) -> list[dict[str, Any]]:
        return [r for r in self.records() if r["trace_id"] == trace_id]

    def records_of(self, reply: Reply) -> list[dict[str, Any]]:
        """The decision records of the request that got ``reply``, in the order written."""
        return self.records_for_trace(reply.trace_id)

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

    def log(self, name: str = "sidecar") -> str:
        return (self.workdir / f"{name}.log").read_text(errors="replace")

    # What reached the upstream. The demo upstream logs one line per request (werkzeug's access
    # log, written after it answered): count lines only after a marker request of our own shows
    # up, or a request still being logged is missed.

    def upstream_requests(self) -> list[str]:
        """Request lines the demo upstream logged so far (may lag: see :meth:`mark_upstream`)."""
        log = self.workdir / "upstream.log"
        # werkzeug colours the request line of some answers (201, 4xx) with ANSI codes: without them
        # a filter for '"POST ' would never see a created object, and every "nothing was written"
        # check would pass whatever happened.
        return [_ANSI.sub("", ln) for ln in log.read_text(errors="replace").splitlines()
                if '"' in ln and "HTTP/1.1" in ln]

    def mark_upstream(self) -> int:
        """Number of upstream log lines, after a marker request proved the log is up to date."""
        marker = uuid.uuid4().hex
        self.upstream("GET", f"{ZAKEN}?marker={marker}")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            lines = self.upstream_requests()
            if any(marker in ln for ln in lines):
                return len(lines)
            time.sleep(0.02)
        raise AssertionError("the demo upstream did not log the marker request")

    def upstream_since(self, mark: int) -> list[str]:
        """Upstream request lines since ``mark`` (from :meth:`mark_upstream`), without the
        marker requests themselves."""
        after = self.mark_upstream()
        return [ln for ln in self.upstream_requests()[mark:after] if "marker=" not in ln]

    def seed_documents(self) -> list[dict[str, Any]]:
        """The first page of documents (the seed comes first): for picking a document to read."""
        docs: list[dict[str, Any]] = self.upstream("GET", DOCS).json()["results"]
        return docs

    def doc_of(self, category: str) -> dict[str, Any]:
        for d in self.seed_documents():
            if d["informatieobjecttype"].endswith(f"/{category}") and d.get("bestandsomvang", 0) < 1_000_000:
                return d
        raise AssertionError(f"no seeded document of category {category}")

    def document_titles(self) -> set[str]:
        return {d["titel"] for d in self.upstream_list(DOCS)}


def new_ports(*, opa: int | None = None, upstream: int | None = None) -> Ports:
    """Free ports for one stack; ``opa`` or ``upstream`` when the test runs that peer itself."""
    given = {"opa": opa, "upstream": upstream}
    free = iter(free_ports(2 + sum(v is None for v in given.values())))
    return Ports(proxy=next(free), admin=next(free), **{k: next(free) if v is None else v for k, v in given.items()})


def start_stack(tmp: Path, profile: str, **kw: Any) -> Stack:
    find_opa()  # a clear error when OPA is missing, before anything starts
    stack = Stack(workdir=tmp, ports=new_ports(), profile=profile, **kw)
    stack.start()
    return stack


def start_stack_before(upstream_port: int, tmp: Path, *, upstream: dict[str, Any] | None = None,
                       **kw: Any) -> Stack:
    """OPA and the sidecar in front of a stand-in upstream that the test runs itself on
    ``upstream_port`` (the demo upstream is not started). ``upstream``: more upstream settings."""
    extra = {**(kw.pop("config_extra", None) or {}),
             "upstream": {"url": f"http://127.0.0.1:{upstream_port}", **(upstream or {})}}
    stack = Stack(workdir=tmp, ports=new_ports(upstream=upstream_port), config_extra=extra, **kw)
    stack.prepare()
    try:
        stack.start_opa()
        stack.start_sidecar()
    except BaseException:
        stack.stop()
        raise
    return stack


def start_sidecar_not_ready(stack: Stack, timeout: float = 30) -> Reply:
    """Start the sidecar of ``stack`` (config written, peers started by the caller) without
    waiting for it to be ready; return the first answer of its ``/-/readyz``."""
    stack._spawn("sidecar", [sys.executable, "-m", "sidecar", "serve", "--config", str(stack.config_path)])
    proc = stack.procs["sidecar"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the sidecar exited ({proc.returncode}): "
                                 f"{(stack.workdir / 'sidecar.log').read_text(errors='replace')[-2000:]}")
        try:
            return send(stack.ports.admin, "GET", "/-/readyz")
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"the sidecar's admin port did not answer within {timeout:.0f}s")


def start_not_ready(stack: Stack, timeout: float = 30) -> Reply:
    """Start OPA, the demo upstream and a sidecar that is expected NOT to become ready; return the
    first answer of its /-/readyz (the stack keeps running; the caller stops it)."""
    stack.prepare()
    stack.start_opa()
    stack.start_upstream()
    return start_sidecar_not_ready(stack, timeout)


def zaken_of(who: str) -> dict[str, list[str]]:
    """The seeded zaken (uuid → roltype codes) that a ``sub``, team or ``org`` relates to."""
    out: dict[str, list[str]] = {}
    for by_name in SEED["betrokkenen"].values():
        out.update(by_name.get(who, {}))
    return out


def zaak_of(who: str) -> str:
    """The one seeded zaak ``who`` relates to (a provider: huisarts-de-linde to medisch-wmo,
    thuiszorg-zuid to wmo)."""
    zaken = zaken_of(who)
    assert len(zaken) == 1, f"{who} relates to {len(zaken)} seeded zaken, not one"
    return next(iter(zaken))


def zaak_url(run: Running, zaak_uuid: str) -> str:
    """A zaak's URL as the sidecar's clients see it (the upstream matches on the path only)."""
    return f"http://127.0.0.1:{run.stack.ports.proxy}{ZAKEN}/{zaak_uuid}"


def link_document(run: Running, document_url: str, zaak_uuid: str, headers: dict[str, str]) -> Reply:
    """Link a document to a zaak through the sidecar (``POST zaakinformatieobjecten``) as the
    caller of ``headers``, who needs a relation to the zaak and to the document (N4)."""
    h = {k: v for k, v in headers.items() if k.lower() != "x-herkomst"}
    h["Content-Type"] = "application/json"
    body = json.dumps({"zaak": zaak_url(run, zaak_uuid), "informatieobject": document_url}).encode()
    return run.proxy("POST", ZIO, h, body)


def ingest(run: Running, herkomst: str | None, *, category: str = "medisch", secrecy: str = "wettelijk",
           role: str = "aanbieder", purpose: str = HULP, titel: str | None = None,
           org: str = PROVIDER_ORG, sub: str | None = None, link_to: str | None = None) -> tuple[Reply, str]:
    """A care provider sends a document in through the sidecar (with ``X-Herkomst`` when given);
    returns the answer and the document's title.

    ``link_to``: the uuid of a seeded zaak the sender relates to (e.g. ``zaak_of(PROVIDER_ORG)``);
    an accepted document is then linked to it by the sender through the sidecar, so that the
    users related to that zaak may read it (need-to-know: an unlinked document is its writer's
    alone)."""
    titel = titel or f"ingest-{uuid.uuid4()}"
    h = run.headers(role, purpose, org=org, secrecy=secrecy, sub=sub)
    h["Content-Type"] = "application/json"
    if herkomst is not None:
        h["X-Herkomst"] = herkomst
    body = document_body(run.doc_of(category)["informatieobjecttype"], titel, bestandsnaam="brief.txt",
                         inhoud=base64.b64encode(b"inhoud").decode())
    reply = run.proxy("POST", DOCS, h, body)
    if link_to is not None and reply.status == 201:
        link = link_document(run, reply.json()["url"], link_to, h)
        assert link.status == 201, f"linking the ingested document to zaak {link_to}: {link.status} {link.body!r}"
    return reply, titel


# ---- tokens ----------------------------------------------------------------------------------

def b64url(raw: bytes | dict[str, Any]) -> str:
    """Unpadded base64url of bytes, or of a dict's JSON (a JWT segment)."""
    data = raw if isinstance(raw, bytes) else json.dumps(raw).encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt_claims(**over: Any) -> dict[str, Any]:
    """Claims the demo IdP would issue (valid for ten minutes); ``over`` replaces or, with
    ``None``, drops a claim."""
    now = int(time.time())
    c: dict[str, Any] = {"iss": DEMO_ISSUER, "aud": DEMO_AUDIENCE, "sub": "u-test", "role": "consulent",
                         "org": DEMO_ORG, "iat": now, "exp": now + 600}
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


def unsigned_token(header: dict[str, Any], claims: dict[str, Any], sig: bytes = b"") -> str:
    return f"{b64url(header)}.{b64url(claims)}.{b64url(sig)}"


def hs256_with_public_key(claims: dict[str, Any], public_pem: bytes, kid: str) -> str:
    """The classic key-confusion forgery: HMAC keyed with the server's *public* key."""
    signing = f"{b64url({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}.{b64url(claims)}"
    return f"{signing}.{b64url(hmac.new(public_pem, signing.encode(), hashlib.sha256).digest())}"


# ---- stand-in peers --------------------------------------------------------------------------

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


def send_json(h: BaseHTTPRequestHandler, body: Any, status: int = 200) -> None:
    """Answer from a stand-in peer's handler with a JSON body."""
    data = json.dumps(body).encode()
    h.send_response(status)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", str(len(data)))
    h.end_headers()
    h.wfile.write(data)


def rsa_keypair(folder: Path, name: str) -> tuple[Path, Path]:
    """An RSA key pair as PEM files ``NAME.key.pem`` and ``NAME.pub.pem`` (bundle signing)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    priv = folder / f"{name}.key.pem"
    pub = folder / f"{name}.pub.pem"
    priv.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    pub.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo))
    return priv, pub


def make_bundle(out: Path, key: Path, revision: str) -> Path:
    """``make bundle`` exactly as an operator runs it, with the key and revision given."""
    res = subprocess.run(
        ["make", "--no-print-directory", "-C", str(REPO_ROOT), "bundle", f"BUNDLE_OUT={out}",
         f"BUNDLE_SIGNING_KEY={key}", f"BUNDLE_REVISION={revision}"],
        capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, f"make bundle failed:\n{res.stdout}\n{res.stderr}"
    assert out.is_file()
    return out


class BundleServer:
    """Serves one folder on a free loopback port (the bundle service of deploy/opa/config.yaml)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.requests = 0
        handler = functools.partial(self._Handler, self, directory=str(folder))
        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    class _Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, owner: BundleServer, *args: Any, **kw: Any) -> None:
            self._owner = owner
            super().__init__(*args, **kw)

        def do_GET(self) -> None:
            self._owner.requests += 1
            super().do_GET()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    def publish(self, bundle: Path) -> None:
        # Atomic replace: OPA never downloads a half-written file.
        tmp = self.folder / "bundle.tar.gz.tmp"
        tmp.write_bytes(bundle.read_bytes())
        tmp.replace(self.folder / "bundle.tar.gz")

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


PG_PASSWORD = "s3cret-label-pw"


def pg_bindir() -> Path:
    """Where initdb and pg_ctl are: on PATH, else Debian's /usr/lib/postgresql/<newest>/bin."""
    on_path = [shutil.which("initdb"), shutil.which("pg_ctl")]
    if on_path[0] and on_path[1]:
        return Path(on_path[0]).resolve().parent

    def version(p: Path) -> tuple[int, ...]:
        return tuple(int(x) for x in re.findall(r"\d+", p.parent.name))

    for bindir in sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version, reverse=True):
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            return bindir
    pytest.fail("PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or under "
                "/usr/lib/postgresql/<version>/bin. Install them with `make deps-postgres` "
                "(`make test` does this first); the label store must be tested against a real server.",
                pytrace=False)


@dataclass
class PgServer:
    """A throwaway PostgreSQL server (initdb + pg_ctl in a temp dir, loopback only)."""

    bindir: Path
    root: Path
    port: int
    as_postgres: list[str]

    @property
    def data(self) -> Path:
        return self.root / "data"

    def dsn(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres:{PG_PASSWORD}@127.0.0.1:{self.port}/{dbname}"

    def _ctl(self, *args: str) -> None:
        cmd = [*self.as_postgres, str(self.bindir / "pg_ctl"), "-D", str(self.data), *args]
        done = subprocess.run(cmd, cwd=self.root, capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            log = (self.root / "server.log")
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            pytest.fail(f"pg_ctl {args[0]} failed ({done.returncode}): {done.stdout}{done.stderr}\n{tail}",
                        pytrace=False)

    def start(self) -> None:
        # Loopback TCP only, the unix socket in our temp dir (not /var/run/postgresql, which may
        # be missing or belong to a system cluster); fsync off: a test server needs no durability.
        opts = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        self._ctl("start", "-w", "-t", "30", "-l", str(self.root / "server.log"), "-o", opts)

    def stop(self) -> None:
        self._ctl("stop", "-w", "-t", "30", "-m", "fast")

    def create_database(self) -> str:
        import psycopg

        name = f"labels_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.dsn(), autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name


def as_postgres_user() -> tuple[list[str], tuple[int, int] | None]:
    """initdb refuses to run as root: then the server runs as the ``postgres`` OS user, which must
    own its folder. Returns the command prefix and that user's (uid, gid), or ([], None)."""
    if os.geteuid() != 0:
        return [], None
    import pwd

    try:
        pw = pwd.getpwnam("postgres")
    except KeyError:
        pytest.fail("running as root, and there is no `postgres` OS user to run the test PostgreSQL "
                    "server as (the Debian package creates it: `make deps-postgres`)", pytrace=False)
    runuser = shutil.which("runuser")
    if runuser is None:
        pytest.fail("running as root and `runuser` (util-linux) is missing", pytrace=False)
    return [runuser, "-u", "postgres", "--"], (pw.pw_uid, pw.pw_gid)


# ---- the Grafana dashboard -------------------------------------------------------------------

DASHBOARD = REPO_ROOT / "deploy" / "grafana" / "dashboards" / "wams-sidecar.json"
# Series Prometheus itself makes for every target (not exported by the sidecar).
PROMETHEUS_SERIES = frozenset({"up"})
# OPA's bundle status on its /metrics (status.prometheus in deploy/opa/config.yaml; job wams-opa),
# as OPA 1.22.3 names them: tests/test_bundle_metrics.py checks each against the real binary.
# bundle_failed_load_counter appears at the first refused bundle, the others once a bundle is loaded.
OPA_BUNDLE_SERIES = frozenset({
    "bundle_loaded_counter", "bundle_failed_load_counter", "bundle_loading_duration_ns_bucket",
    "bundle_loading_duration_ns_sum", "bundle_loading_duration_ns_count", "last_bundle_request",
    "last_success_bundle_activation", "last_success_bundle_download", "last_success_bundle_request",
    "plugin_status_gauge"})
# Grafana variables → values that make a query valid PromQL (Grafana substitutes them at run time).
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h", "$job": "wams-sidecar",
                     "$instance": ".*"}


def substitute(expr: str) -> str:
    """A dashboard query as Grafana would send it: every variable replaced by a value."""
    for var, value in sorted(GRAFANA_VARIABLES.items(), key=lambda kv: -len(kv[0])):
        expr = expr.replace(var, value)
    left = re.findall(r"\$\{?\w+", expr)
    assert not left, f"unknown Grafana variable(s) {left} in {expr!r}"
    return expr


def exported_metric_names() -> set[str]:
    """Every series name the sidecar's registry can export, with the suffixes Prometheus sees."""
    from prometheus_client import REGISTRY

    import sidecar.metrics  # noqa: F401 (registers the sidecar's metric families)

    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",),
                "summary": ("", "_sum", "_count"), "info": ("_info",)}
    names: set[str] = set()
    for family in REGISTRY.collect():
        if not family.name.startswith("sidecar_"):
            continue  # the default registry also holds python_* and process_* (absent in multiprocess mode)
        names.update(family.name + s for s in suffixes[family.type])
    assert "sidecar_decisions_total" in names and "sidecar_opa_request_duration_seconds_bucket" in names
    return names


def selectors(expr: str) -> list[promql_parser.VectorSelector]:
    """The vector selectors (metric names with their matchers) of a PromQL expression."""
    found: list[promql_parser.VectorSelector] = []

    def visit(node: Any) -> bool:
        if isinstance(node, promql_parser.VectorSelector):
            found.append(node)
        return True

    promql_parser.walk(promql_parser.parse(expr), visit)
    return found


def dashboard() -> dict[str, Any]:
    d: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return d


def panels(d: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for p in d["panels"]:
        out.append(p)
        out.extend(p.get("panels", []))  # collapsed rows hold their panels
    return out


def queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) of every query of the dashboard."""
    return [(p["title"], t["expr"]) for p in panels(dashboard()) if p["type"] != "row" for t in p["targets"]]


# ---- objects of a test's own, written straight into the demo upstream ------------------------
# For tests that change relations (a rol, a link): a zaak of their own with users and
# organisations no other test uses, so that the shared stacks' seed relations stay as documented.

def catalogue_base(run: Running) -> str:
    """The demo upstream's catalogue (type URLs end in the category or roltype code)."""
    return f"http://127.0.0.1:{run.stack.ports.upstream}/catalogi/api/v1"


def unique(prefix: str) -> str:
    """A name (``sub``, ``org``, title) no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def upstream_zaak(run: Running, category: str = "algemeen") -> dict[str, Any]:
    """A new zaak of zaaktype ``category``, created in the upstream (no rol names anyone yet)."""
    rsin = "001234560"  # the seed's municipality (11-test)
    body = {"bronorganisatie": rsin, "verantwoordelijkeOrganisatie": rsin, "startdatum": "2026-03-02",
            "zaaktype": f"{catalogue_base(run)}/zaaktypen/{category}", "omschrijving": "test"}
    reply = run.upstream("POST", ZAKEN, json.dumps(body).encode())
    assert reply.status == 201, reply.body
    zaak: dict[str, Any] = reply.json()
    return zaak


def rol_body(run: Running, zaak_url: str, roltype: str, *, medewerker: str | None = None,
             org: str | None = None, team: str | None = None) -> bytes:
    """A rol of roltype code ``roltype`` naming a medewerker (``sub``), an organisation
    (niet-natuurlijk persoon, ``org``) or a team (organisatorische eenheid, ``teams``)."""
    if medewerker is not None:
        btype, ident = "medewerker", {"identificatie": medewerker}
    elif team is not None:
        btype, ident = "organisatorische_eenheid", {"identificatie": team}
    else:
        assert org is not None, "a rol names a medewerker, a team or an organisation"
        btype, ident = "niet_natuurlijk_persoon", {"annIdentificatie": org, "statutaireNaam": org}
    return json.dumps({"zaak": zaak_url, "betrokkeneType": btype,
                       "roltype": f"{catalogue_base(run)}/roltypen/{roltype}",
                       "roltoelichting": "test", "betrokkeneIdentificatie": ident}).encode()


def upstream_rol(run: Running, zaak_url: str, roltype: str, **who: str) -> dict[str, Any]:
    """A rol written straight into the upstream (as another application would: the sidecar's
    relation cache does not hear of it). ``who``: as :func:`rol_body`."""
    reply = run.upstream("POST", ROLLEN, rol_body(run, zaak_url, roltype, **who))
    assert reply.status == 201, reply.body
    rol: dict[str, Any] = reply.json()
    return rol


def upstream_posts(run: Running, mark: int) -> list[str]:
    """The POSTs the upstream logged since ``mark`` (:meth:`Running.mark_upstream`): "nothing was
    written" is an empty list."""
    return [ln for ln in run.upstream_since(mark) if '"POST ' in ln]


def decision_record(i: int, at: str = "2026-11-30T10:00:00.000Z") -> dict[str, Any]:
    """A plain allowed read of zaak ``z-<i>`` as :func:`sidecar.records.build_record` makes it (for
    tests that write records files without a running sidecar)."""
    from sidecar.records import build_record

    return build_record(time=at, decision_id=f"d-{i}", trace_id=f"{i:032x}", span_id="1" * 16, phase="response",
                        allow=True, enforced=True, status=200,
                        subject={"id": "c.jansen", "role": "consulent", "org": "gemeente-demo"},
                        purpose="hulpverlening", action="read",
                        resource={"type": "zaak", "id": f"z-{i}", "properties": {"category": "medisch"}},
                        resource_type="zaak", betrokkene=None, decision=None, reasons=["R1"], profile="knmg",
                        duration_s=0.001)


def minimal_config(folder: Path) -> dict[str, Any]:
    """The least a config file needs to load (key files written into ``folder``), with OPA over
    REST so that no Wasm bundle is needed: the base that settings tests add their keys to."""
    (folder / "pub.pem").write_text("-----BEGIN PUBLIC KEY-----\n")
    (folder / "pseudo.key").write_text("x" * 32)
    return {
        "jwt": {"issuer": "https://idp", "audience": "sidecar", "keys": [{"kid": "k1", "file": "pub.pem"}]},
        "controlling_orgs": ["gemeente-demo"],
        "pseudonymisation": {"key_file": "pseudo.key"},
        "opa": {"engine": "rest"},  # no Wasm bundle here: OPA over REST
    }


def write_yaml_config(folder: Path, cfg: dict[str, Any]) -> Path:
    """``cfg`` as ``folder/config.yaml`` (relative paths in it are relative to ``folder``)."""
    import yaml

    p = folder / "config.yaml"
    p.write_text(yaml.safe_dump(cfg))
    return p
