"""TLS contexts: the server side of the sidecar's own listeners and the client side of its calls.

Each loader checks the files one by one before OpenSSL sees them, so a bad file is reported as
the setting that names it (:class:`TlsFileError`), not as an OpenSSL error code: settings
validation turns that into a :class:`sidecar.settings.ConfigError` at start-up, and a reload on
SIGHUP (sidecar/serve.py) keeps the old context and logs it.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import load_pem_private_key

if TYPE_CHECKING:
    from sidecar.settings import ListenTlsSettings, UpstreamTlsSettings

_VERSIONS = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}


# Client contexts the gunicorn master built (sidecar.serve, at start-up and on SIGHUP), which the
# workers it forks inherit: a worker then never reads a certificate file itself, so a file
# broken between start-up and a SIGHUP cannot stop a new worker from booting (and with it the
# sidecar); the master keeps the previous contexts instead. Outside gunicorn (in-process use,
# tests) this is empty and each client builds its own.
_inherited: dict[str, ssl.SSLContext] = {}


def inherit(contexts: dict[str, ssl.SSLContext]) -> None:
    _inherited.clear()
    _inherited.update(contexts)


def inherited(name: str) -> ssl.SSLContext | None:
    return _inherited.get(name)


class TlsFileError(Exception):
    """A certificate, key or CA file that cannot be used; ``key`` is the setting naming it."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


def _read(key: str, path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise TlsFileError(key, f"cannot read {path}: {exc.strerror}") from None


def _check_certs(key: str, path: Path) -> None:
    try:
        certs = x509.load_pem_x509_certificates(_read(key, path))
    except ValueError:
        certs = []
    if not certs:
        raise TlsFileError(key, f"{path} holds no PEM certificate")


def _check_key(key: str, path: Path) -> None:
    try:
        load_pem_private_key(_read(key, path), password=None)
    except TypeError:
        # A passphrase would have to sit beside the key in the same place; it protects nothing.
        raise TlsFileError(key, f"{path} is an encrypted private key (use an unencrypted one, "
                                "readable only by the sidecar)") from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise TlsFileError(key, f"{path} is not a PEM private key ({type(exc).__name__})") from None


def _load_pair(ctx: ssl.SSLContext, prefix: str, cert_key: str, key_key: str,
               cert: Path, key: Path) -> None:
    _check_certs(f"{prefix}.{cert_key}", cert)
    _check_key(f"{prefix}.{key_key}", key)
    try:
        ctx.load_cert_chain(certfile=str(cert), keyfile=str(key))
    except ssl.SSLError as exc:
        raise TlsFileError(f"{prefix}.{key_key}", f"{key} does not match the certificate in "
                                                   f"{prefix}.{cert_key} ({exc.reason})") from None


def _load_ca(ctx: ssl.SSLContext, key: str, path: Path) -> None:
    _check_certs(key, path)
    try:
        ctx.load_verify_locations(cafile=str(path))
    except ssl.SSLError as exc:
        raise TlsFileError(key, f"{path}: {exc.reason}") from None


def server_context(tls: ListenTlsSettings, prefix: str = "listen.tls") -> ssl.SSLContext:
    """The context of every TLS listener: its certificate chain, the lowest protocol version,
    and, with ``client_ca_file``, a client certificate from that CA required in the handshake."""
    # PROTOCOL_TLS_SERVER, not create_default_context: that one would also trust the system's
    # CAs for client certificates, when only client_ca_file may.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = _VERSIONS[tls.minimum_version]
    _load_pair(ctx, prefix, "cert_file", "key_file", tls.cert_file, tls.key_file)
    if tls.client_ca_file is not None:
        _load_ca(ctx, f"{prefix}.client_ca_file", tls.client_ca_file)
        ctx.verify_mode = ssl.CERT_REQUIRED
    # Only HTTP/1.1 is served; saying so lets a client that offers h2 fall back at once.
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def client_context(tls: UpstreamTlsSettings | None, prefix: str) -> ssl.SSLContext:
    """A verifying client context: ``ca_file`` instead of the system's CAs when set, and the
    client certificate for mutual TLS when set. Host names are always checked."""
    ctx = ca_context(tls.ca_file if tls is not None else None, f"{prefix}.ca_file")
    if tls is not None and tls.client_cert_file is not None:
        if tls.client_key_file is not None:
            _load_pair(ctx, prefix, "client_cert_file", "client_key_file", tls.client_cert_file,
                       tls.client_key_file)
        else:  # the key in the certificate's file
            _load_pair(ctx, prefix, "client_cert_file", "client_cert_file", tls.client_cert_file,
                       tls.client_cert_file)
    return ctx


def ca_context(ca_file: Path | None, key: str) -> ssl.SSLContext:
    """A verifying client context trusting ``ca_file`` only, or the system's CAs when unset."""
    if ca_file is None:
        return ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    # A fresh context without the system store: only the configured CA may vouch for the peer.
    # PROTOCOL_TLS_CLIENT requires a certificate and checks the host name.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    _load_ca(ctx, key, ca_file)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx
