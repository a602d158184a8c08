"""TLS (docs/tls.md): the sidecar's own listeners, its calls to an https upstream, and the
start-up checks of the certificate settings.

Certificates are made here, per test session, with the ``cryptography`` package: a throw-away
CA, server and client certificates from it, and a second CA that nothing trusts. The stacks are
the real processes (OPA, the sidecar under gunicorn, the demo upstream); no TLS is mocked.
"""

from __future__ import annotations

import datetime
import http.client
import ipaddress
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from werkzeug.serving import make_server

from sidecar.devtools.demo import Ports, Stack, free_ports
from sidecar.devtools.upstream.app import create_app as create_upstream
from sidecar.settings import ConfigError, load_settings
from tests.helpers import (
    DOCS,
    HULP,
    Reply,
    Running,
    minimal_config,
    read_records,
    start_stack_before,
    wait_for,
    write_yaml_config,
)

# ---- a throw-away PKI ------------------------------------------------------------------------


@dataclass
class Issued:
    cert: Path
    key: Path
    serial: int


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))


class Ca:
    def __init__(self, folder: Path, cn: str) -> None:
        self.folder = folder
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        self.cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn))
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(minutes=5))
                     .not_valid_after(now + datetime.timedelta(days=1))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                                  content_commitment=False, key_encipherment=False,
                                                  data_encipherment=False, key_agreement=False,
                                                  encipher_only=False, decipher_only=False), critical=True)
                     .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
                     .sign(self.key, hashes.SHA256()))
        self.file = folder / f"{cn}.ca.pem"
        self.file.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, name: str, *, server: bool) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        serial = x509.random_serial_number()
        b = (x509.CertificateBuilder().subject_name(_name(name)).issuer_name(self.cert.subject)
             .public_key(key.public_key()).serial_number(serial)
             .not_valid_before(now - datetime.timedelta(minutes=5))
             .not_valid_after(now + datetime.timedelta(days=1))
             .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
             .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                            critical=False)
             .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server
                                                   else ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False))
        if server:
            b = b.add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
        cert = b.sign(self.key, hashes.SHA256())
        out = Issued(self.folder / f"{name}.pem", self.folder / f"{name}.key", serial)
        out.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(key, out.key)
        out.key.chmod(0o600)
        return out


@dataclass
class Pki:
    ca: Ca
    other_ca: Ca  # trusted by nobody
    server: Issued
    client: Issued
    stranger: Issued  # a client certificate from other_ca


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    ca, other = Ca(folder, "test-ca"), Ca(folder, "other-ca")
    return Pki(ca, other, ca.issue("server", server=True), ca.issue("client", server=False),
               other.issue("stranger", server=False))


def client_context(pki: Pki, *, cert: Issued | None, trust: Ca | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str((trust or pki.ca).file))
    if cert is not None:
        ctx.load_cert_chain(str(cert.cert), str(cert.key))
    return ctx


def https(port: int, ctx: ssl.SSLContext, method: str, target: str,
          headers: dict[str, str] | None = None) -> Reply:
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=30)
    try:
        conn.request(method, target, headers=headers or {})
        resp = conn.getresponse()
        return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


def served_serial(port: int, pki: Pki) -> int:
    """The serial of the certificate the listener presents now (a new connection)."""
    ctx = client_context(pki, cert=pki.client)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
            ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
        der = s.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number


# ---- start-up checks ---------------------------------------------------------------------------


@pytest.fixture
def base(tmp_path: Path) -> dict[str, Any]:
    return minimal_config(tmp_path)


def _write(tmp_path: Path, cfg: dict[str, Any]) -> Path:
    return write_yaml_config(tmp_path, cfg)


def test_tls_settings_load_with_paths_relative_to_the_config(tmp_path: Path, base: dict[str, Any],
                                                             pki: Pki) -> None:
    for f in (pki.server.cert, pki.server.key, pki.client.cert, pki.client.key, pki.ca.file):
        (tmp_path / f.name).write_bytes(f.read_bytes())
    base["listen"] = {"tls": {"cert_file": "server.pem", "key_file": "server.key", "client_ca_file": "test-ca.ca.pem"}}
    base["upstream"] = {"url": "https://zaken.example", "tls": {
        "ca_file": "test-ca.ca.pem", "client_cert_file": "client.pem", "client_key_file": "client.key"}}
    s = load_settings(_write(tmp_path, base), env={})
    assert s.listen.tls is not None and s.listen.tls.cert_file == tmp_path / "server.pem"
    assert s.listen.tls.minimum_version == "TLSv1.2" and s.listen.tls.admin is False
    assert s.upstream.tls is not None and s.upstream.tls.client_key_file == tmp_path / "client.key"


def _bad_file_cases(pki: Pki, tmp: Path) -> list[tuple[dict[str, Any], str]]:
    garbage = tmp / "garbage.pem"
    garbage.write_text("not a certificate\n")
    encrypted = tmp / "encrypted.key"
    encrypted.write_bytes(serialization.load_pem_private_key(pki.client.key.read_bytes(), None).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret")))
    good = {"cert_file": str(pki.server.cert), "key_file": str(pki.server.key)}
    up = "https://zaken.example"
    return [
        ({"listen": {"tls": {**good, "cert_file": str(tmp / "missing.pem")}}}, "listen.tls.cert_file: cannot read"),
        ({"listen": {"tls": {**good, "cert_file": str(garbage)}}}, "listen.tls.cert_file: .* holds no PEM certificate"),
        ({"listen": {"tls": {**good, "key_file": str(garbage)}}}, "listen.tls.key_file: .* is not a PEM private key"),
        ({"listen": {"tls": {**good, "key_file": str(encrypted)}}}, "listen.tls.key_file: .* encrypted"),
        # the client's key beside the server's certificate: readable, but not its key
        ({"listen": {"tls": {**good, "key_file": str(pki.client.key)}}},
         "listen.tls.key_file: .* does not match the certificate in listen.tls.cert_file"),
        ({"listen": {"tls": {**good, "client_ca_file": str(garbage)}}}, "listen.tls.client_ca_file: .* no PEM"),
        ({"listen": {"tls": {**good, "minimum_version": 1.2}}}, r"listen.tls.minimum_version"),
        ({"listen": {"tls": {"cert_file": str(pki.server.cert)}}}, r"listen.tls.key_file: required key is missing"),
        ({"listen": {"tls": {**good, "verify": True}}}, r"listen.tls.verify: unknown key"),
        ({"upstream": {"url": up, "tls": {"ca_file": str(tmp / "missing.pem")}}}, "upstream.tls.ca_file: cannot read"),
        ({"upstream": {"url": up, "tls": {"client_cert_file": str(pki.client.cert),
                                          "client_key_file": str(pki.server.key)}}},
         "upstream.tls.client_key_file: .* does not match the certificate in upstream.tls.client_cert_file"),
        ({"upstream": {"url": up, "tls": {"client_cert_file": str(pki.client.cert)}}},
         "upstream.tls.client_cert_file: .* is not a PEM private key"),  # no key beside it
        ({"upstream": {"url": up, "tls": {"client_key_file": str(pki.client.key)}}},
         "client_key_file needs client_cert_file"),
        ({"upstream": {"url": "http://zaken.example", "tls": {"ca_file": str(pki.ca.file)}}},
         "tls is set but url is not https://"),
    ]


def test_bad_tls_files_stop_start_up_naming_the_key(tmp_path: Path, base: dict[str, Any], pki: Pki) -> None:
    for over, needle in _bad_file_cases(pki, tmp_path):
        cfg = {**base, **over}
        with pytest.raises(ConfigError, match=needle):
            load_settings(_write(tmp_path, cfg), env={})


def test_jwks_ca_file_is_checked_and_needs_an_https_jwks_url(tmp_path: Path, base: dict[str, Any],
                                                             pki: Pki) -> None:
    base["jwt"] = {**base["jwt"], "jwks_url": "https://idp/jwks", "jwks_ca_file": str(tmp_path / "missing.pem")}
    with pytest.raises(ConfigError, match=r"jwt\.jwks_ca_file: cannot read"):
        load_settings(_write(tmp_path, base), env={})
    base["jwt"] = {**base["jwt"], "jwks_url": "http://idp/jwks", "jwks_ca_file": str(pki.ca.file)}
    with pytest.raises(ConfigError, match="jwks_ca_file is set but jwks_url is not https://"):
        load_settings(_write(tmp_path, base), env={})
    base["jwt"] = {**base["jwt"], "jwks_url": "https://idp/jwks"}
    assert load_settings(_write(tmp_path, base), env={}).jwt.jwks_ca_file == pki.ca.file


def test_serve_with_a_mismatched_key_exits_with_the_key_named_and_no_traceback(
        tmp_path: Path, base: dict[str, Any], pki: Pki) -> None:
    base["listen"] = {"tls": {"cert_file": str(pki.server.cert), "key_file": str(pki.client.key)}}
    cfg = _write(tmp_path, base)
    out = subprocess.run([sys.executable, "-m", "sidecar", "serve", "--config", str(cfg)],
                         capture_output=True, text=True, timeout=60, check=False,
                         env={k: v for k, v in os.environ.items() if not k.startswith("SIDECAR_")})
    assert out.returncode != 0
    assert "listen.tls.key_file" in out.stderr and "does not match" in out.stderr
    assert "Traceback" not in out.stderr


# ---- the sidecar's listeners -------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_stack(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[Running]:
    """A sidecar whose proxy and console speak TLS and require a client certificate from the
    test CA; its admin listener stays plain HTTP (the stack's readiness wait uses it)."""
    tmp = tmp_path_factory.mktemp("tls-listen")
    # Files of its own: the rotation test replaces them.
    cert, key = tmp / "listen.pem", tmp / "listen.key"
    cert.write_bytes(pki.server.cert.read_bytes())
    key.write_bytes(pki.server.key.read_bytes())
    proxy, admin, opa, upstream, console = free_ports(5)
    ports = Ports(proxy=proxy, admin=admin, opa=opa, upstream=upstream, console=console)
    stack = Stack(workdir=tmp, ports=ports, profile="knmg", workers=1, config_extra={"listen": {
        "proxy": f"127.0.0.1:{proxy}", "admin": f"127.0.0.1:{admin}",
        "tls": {"cert_file": str(cert), "key_file": str(key), "client_ca_file": str(pki.ca.file)}}})
    stack.start()
    yield Running(stack)
    stack.stop()


def test_https_with_a_client_certificate_gets_a_decision(tls_stack: Running, pki: Pki) -> None:
    run = tls_stack
    doc = run.doc_of("algemeen")
    r = https(run.stack.ports.proxy, client_context(pki, cert=pki.client), "GET",
              f"{DOCS}/{doc['url'].rsplit('/', 1)[1]}", run.headers("consulent", HULP))
    assert r.status == 200, r.body[:300]
    # The request's scheme is https: links in the answer point at the sidecar over https.
    assert r.json()["url"].startswith(f"https://127.0.0.1:{run.stack.ports.proxy}/")
    assert [(x["phase"], x["decision"]) for x in run.records_of(r)][-1] == ("response", "allow")
    # The console listener speaks TLS with the same certificate.
    c = https(run.stack.ports.console or 0, client_context(pki, cert=pki.client), "GET", "/")
    assert c.status == 303 and c.header("Location") == "/login", (c.status, c.body[:200])


def test_plain_http_to_the_tls_port_gets_no_answer_from_the_sidecar(tls_stack: Running) -> None:
    run = tls_stack
    before = len(run.records())
    with socket.create_connection(("127.0.0.1", run.stack.ports.proxy), timeout=10) as s:
        s.sendall(f"GET {DOCS} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        buf = b""
        try:
            while chunk := s.recv(65536):
                buf += chunk
        except ConnectionResetError:
            pass  # closed with the request still unread
    # gunicorn answers the failed handshake with a bare 403, or the connection is reset before
    # it arrives; either way the request reached no policy.
    assert not buf.startswith(b"HTTP/1.1 200"), buf[:200]
    assert b"application/json" not in buf
    assert len(run.records()) == before


@pytest.mark.parametrize("who", ["no certificate", "a certificate of another CA"])
def test_a_client_without_a_trusted_certificate_is_refused(tls_stack: Running, pki: Pki, who: str) -> None:
    run = tls_stack
    before = len(run.records())
    ctx = client_context(pki, cert=None if who == "no certificate" else pki.stranger)
    with pytest.raises((ssl.SSLError, ConnectionError)):
        https(run.stack.ports.proxy, ctx, "GET", DOCS, run.headers("consulent", HULP))
    assert len(run.records()) == before


def test_a_client_that_does_not_trust_the_server_certificate_stops(tls_stack: Running, pki: Pki) -> None:
    ctx = client_context(pki, cert=pki.client, trust=pki.other_ca)
    with pytest.raises(ssl.SSLCertVerificationError):
        https(tls_stack.stack.ports.proxy, ctx, "GET", DOCS)


def test_admin_listener_stays_plain_http(tls_stack: Running) -> None:
    assert tls_stack.admin("/-/readyz").status == 200
    assert tls_stack.admin("/metrics").status == 200


def test_sighup_reads_a_rotated_certificate_and_keeps_the_old_one_when_the_new_is_broken(
        tls_stack: Running, pki: Pki) -> None:
    run = tls_stack
    port = run.stack.ports.proxy
    cert, key = run.workdir / "listen.pem", run.workdir / "listen.key"
    master = run.stack.procs["sidecar"].pid
    assert served_serial(port, pki) == pki.server.serial
    rotated = pki.ca.issue("rotated", server=True)
    good_key = rotated.key.read_bytes()
    try:
        # Written in place, then HUP: gunicorn reloads the config in the master (the sidecar
        # builds the TLS context again there) and replaces the workers, which inherit it.
        cert.write_bytes(rotated.cert.read_bytes())
        key.write_bytes(good_key)
        os.kill(master, signal.SIGHUP)
        wait_for("the rotated certificate", lambda: served_serial(port, pki) == rotated.serial)
        doc = run.doc_of("algemeen")
        r = https(port, client_context(pki, cert=pki.client), "GET", f"{DOCS}/{doc['url'].rsplit('/', 1)[1]}",
                  run.headers("consulent", HULP))
        assert r.status == 200

        # A broken key at the next HUP: the sidecar keeps serving the certificate it has.
        key.write_text("half-written\n")
        os.kill(master, signal.SIGHUP)
        wait_for("the failed reload logged", lambda: '"tls_reload_failed"' in run.log())
        assert "listen.tls.key_file" in run.log()
        assert run.stack.procs["sidecar"].poll() is None
        wait_for("a worker serving again", lambda: served_serial(port, pki) == rotated.serial)
    finally:
        key.write_bytes(good_key)


# ---- the upstream over TLS ---------------------------------------------------------------------


class TlsUpstream:
    """The demo upstream (its Flask app) served over TLS that requires a client certificate from
    the test CA, in a thread of the test process."""

    def __init__(self, pki: Pki, folder: Path) -> None:
        self.port = free_ports(1)[0]
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(pki.server.cert), str(pki.server.key))
        ctx.load_verify_locations(str(pki.ca.file))
        ctx.verify_mode = ssl.CERT_REQUIRED
        # Type URLs as the stack's config names them (write_config): a name, whatever the scheme.
        self.app = create_upstream(str(folder / "upstream.sqlite3"),
                                   f"http://127.0.0.1:{self.port}/catalogi/api/v1", require_crs=True)
        self.requests: list[str] = []
        app = self.app

        def counting(environ: dict[str, Any], start_response: Any) -> Any:
            self.requests.append(f"{environ['REQUEST_METHOD']} {environ.get('PATH_INFO', '')}")
            return app.wsgi_app(environ, start_response)

        self._srv = make_server("127.0.0.1", self.port, counting, threaded=True, ssl_context=ctx)
        threading.Thread(target=self._srv.serve_forever, daemon=True).start()

    def document(self, category: str) -> dict[str, Any]:
        for d in self.app.test_client().get(DOCS).get_json()["results"]:
            if d["informatieobjecttype"].endswith(f"/{category}"):
                return dict(d)
        raise AssertionError(f"no seeded document of category {category}")

    def stop(self) -> None:
        self._srv.shutdown()
        self._srv.server_close()


@pytest.fixture(scope="module")
def tls_upstream(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[TlsUpstream]:
    up = TlsUpstream(pki, tmp_path_factory.mktemp("tls-upstream"))
    yield up
    up.stop()


def _behind(tmp: Path, up: TlsUpstream, ca: Path, pki: Pki) -> Stack:
    # The client key is a copy of its own: a test breaks it.
    tmp.mkdir(parents=True, exist_ok=True)
    key = tmp / "upstream-client.key"
    key.write_bytes(pki.client.key.read_bytes())
    return start_stack_before(up.port, tmp, workers=1, upstream={
        "url": f"https://127.0.0.1:{up.port}",
        # The demo upstream writes http:// URLs (it follows the X-Forwarded-Proto the sidecar sends).
        "advertised_url": f"http://127.0.0.1:{up.port}",
        "tls": {"ca_file": str(ca), "client_cert_file": str(pki.client.cert), "client_key_file": str(key)}})


def test_reads_through_an_upstream_that_requires_a_client_certificate(
        tmp_path: Path, tls_upstream: TlsUpstream, pki: Pki) -> None:
    stack = _behind(tmp_path, tls_upstream, pki.ca.file, pki)
    try:
        run = Running(stack)
        doc = tls_upstream.document("algemeen")
        seen = len(tls_upstream.requests)
        r = run.proxy("GET", f"{DOCS}/{doc['url'].rsplit('/', 1)[1]}", run.headers("consulent", HULP))
        assert r.status == 200, r.body[:300]
        assert r.json()["titel"] == doc["titel"]
        recs = read_records(stack.workdir / "records.jsonl")
        assert [(x["phase"], x["decision"]) for x in recs if x["trace_id"] == r.trace_id][-1] == ("response", "allow")
        # The document read and the need-to-know look-ups all went over the same TLS client.
        assert len(tls_upstream.requests) > seen

        # A client key broken before a SIGHUP: the new workers keep the contexts the master
        # built before (they read no certificate file themselves), so the sidecar keeps serving.
        (stack.workdir / "upstream-client.key").write_text("half-written\n")
        os.kill(stack.procs["sidecar"].pid, signal.SIGHUP)
        log = stack.workdir / "sidecar.log"
        wait_for("the failed reload logged", lambda: '"tls_reload_failed"' in log.read_text())
        assert "upstream.tls.client_key_file" in log.read_text()
        wait_for("a new worker", lambda: log.read_text().count("Booting worker") >= 2)
        again = run.proxy("GET", f"{DOCS}/{doc['url'].rsplit('/', 1)[1]}", run.headers("consulent", HULP))
        assert again.status == 200, again.body[:300]
        assert stack.procs["sidecar"].poll() is None
    finally:
        stack.stop()


def test_an_upstream_certificate_from_an_untrusted_ca_fails_closed(
        tmp_path: Path, tls_upstream: TlsUpstream, pki: Pki) -> None:
    stack = _behind(tmp_path, tls_upstream, pki.other_ca.file, pki)
    try:
        run = Running(stack)
        doc = tls_upstream.document("algemeen")
        seen = len(tls_upstream.requests)
        r = run.proxy("GET", f"{DOCS}/{doc['url'].rsplit('/', 1)[1]}", run.headers("consulent", HULP))
        assert r.status == 502 and r.header("content-type") == "application/problem+json", r.body[:300]
        assert doc["titel"].encode() not in r.body
        recs = [x for x in read_records(stack.workdir / "records.jsonl") if x["trace_id"] == r.trace_id]
        assert recs and recs[-1]["decision"] == "deny"
        assert ("response", "allow") not in [(x["phase"], x["decision"]) for x in recs]
        assert run.metric("sidecar_upstream_errors_total", kind="connect") >= 1
        assert "CERTIFICATE_VERIFY_FAILED" in run.log()
        assert len(tls_upstream.requests) == seen  # the handshake failed before any request
    finally:
        stack.stop()

