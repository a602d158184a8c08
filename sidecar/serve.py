"""``sidecar serve``: the production entry, gunicorn with gthread workers.

The proxy and admin addresses are both bound by gunicorn; :class:`sidecar.app.PortDispatcher`
tells them apart. Metrics use prometheus-client's multiprocess mode so that ``/metrics``
aggregates every worker: its folder is emptied at start and a dead worker's files are marked.
"""

from __future__ import annotations

import logging
import os
import shutil
import ssl
import tempfile
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from sidecar.canonical import REPEATED_HEADERS_MARKER, SINGLE_HEADERS
from sidecar.settings import Settings


def _prepare_metrics_dir(settings: Settings) -> Path:
    d = settings.metrics.multiproc_dir or Path(tempfile.mkdtemp(prefix="sidecar-metrics-"))
    if d.exists():
        for child in d.iterdir():
            if child.is_file() and child.suffix == ".db":
                child.unlink()
    d.mkdir(parents=True, exist_ok=True)
    # Must be set before prometheus_client is imported anywhere in this process.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(d)
    return d


# gunicorn's raw header names are upper case.
_SINGLE_UPPER = frozenset(h.upper() for h in SINGLE_HEADERS)
_MARKER_UPPER = REPEATED_HEADERS_MARKER.upper()


def _pre_request(worker: Any, req: Any) -> None:
    """Count repeats of the single-use headers before gunicorn joins them (canonical.SINGLE_HEADERS)."""
    seen: dict[str, int] = {}
    kept = []
    for name, value in req.headers:
        upper = name.upper()
        if upper == _MARKER_UPPER:
            continue  # only the sidecar sets this marker; a client's copy is dropped
        if upper in _SINGLE_UPPER:
            seen[upper] = seen.get(upper, 0) + 1
        kept.append((name, value))
    repeated = sorted(n for n, c in seen.items() if c > 1)
    if repeated:
        kept.append((_MARKER_UPPER, ",".join(repeated)))
    req.headers = kept


_M_MMAP_THRESHOLD = -3  # glibc mallopt parameter
_LARGE_BUFFER = 128 * 1024


def _post_fork(server: Any, worker: Any) -> None:
    """Large buffers straight from the kernel and back, in every worker.

    Request bodies (up to ``upstream.max_request_body_bytes``), inspected answers and their JSON
    are large and short-lived. glibc raises its mmap threshold each time such a buffer is freed,
    so later ones come from the heap, which rarely shrinks again: a worker keeps the high-water
    mark of its largest uploads for good. A fixed threshold keeps every buffer of 128 KiB or more
    in its own mapping, returned on free. Only glibc has mallopt; elsewhere this does nothing.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:
        return
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt(_M_MMAP_THRESHOLD, _LARGE_BUFFER)
    except (OSError, AttributeError):
        pass


class _Logger(Logger):  # type: ignore[misc]
    """gunicorn's logger without the access log's per-request work.

    gunicorn builds the access-log data (a dict of every request header, response header and
    environ entry, a formatted date) after each request whenever any log configuration is given,
    and ``logconfig_dict`` is: but it sends ``gunicorn.access`` nowhere, and the sidecar writes
    its own request line (``sidecar.proxy``). With ``accesslog`` unset nothing is built.
    """

    def _compute_access_log_enabled(self) -> bool:
        return bool(self.cfg.accesslog)


def _child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def _tls_addresses(s: Settings) -> list[str]:
    """The listeners that speak TLS (listen.tls): proxy and console, admin only when asked."""
    if s.listen.tls is None:
        return []
    return [s.listen.proxy, *([s.console.listen] if s.console.listen else []),
            *([s.listen.admin] if s.listen.tls.admin else [])]


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        # (host, port) as gunicorn parses a bind address → its context; read by the workers
        # (sidecar.tls_worker), which inherit it from the master at fork.
        self.tls_listeners: dict[Any, ssl.SSLContext] = {}
        self._tls_loaded = False
        super().__init__()

    def _load_tls(self) -> None:
        """Build every TLS context from its files: the listeners' and the upstream and JWKS
        clients'. Called at start-up and again on SIGHUP (gunicorn reloads the config, then
        replaces the workers, which inherit the contexts at fork): a rotated certificate or CA
        is read then. A reload that cannot read one keeps all the previous contexts, so a
        half-written file neither stops the sidecar nor mixes old and new; start-up has already
        checked them (settings)."""
        from gunicorn.util import parse_address

        from sidecar import tls

        s = self._settings
        first = not self._tls_loaded
        try:
            listener = tls.server_context(s.listen.tls) if s.listen.tls is not None else None
            clients = {}
            if s.upstream.tls is not None:
                clients["upstream.tls"] = tls.client_context(s.upstream.tls, "upstream.tls")
            if s.jwt.jwks_ca_file is not None:
                clients["jwt.jwks_ca_file"] = tls.ca_context(s.jwt.jwks_ca_file, "jwt.jwks_ca_file")
            if s.opa.wasm_bundle_ca_file is not None and (s.opa.wasm_bundle_url or "").startswith("https://"):
                clients["opa.wasm_bundle_ca_file"] = tls.ca_context(s.opa.wasm_bundle_ca_file,
                                                                    "opa.wasm_bundle_ca_file")
        except tls.TlsFileError as exc:
            if first:
                raise
            logging.getLogger("sidecar.tls").error(
                "TLS files not reloaded; the previous certificates stay in use",
                extra={"event": "tls_reload_failed", "error": str(exc)})
            return
        self._tls_loaded = True
        tls.inherit(clients)
        self.tls_listeners = {parse_address(a): listener for a in _tls_addresses(s)} if listener else {}

    def load_config(self) -> None:
        s = self._settings
        self._load_tls()
        cfg = {
            "bind": [s.listen.proxy, s.listen.admin, *([s.console.listen] if s.console.listen else [])],
            "workers": s.server.workers,
            "threads": s.server.threads,
            "worker_class": "sidecar.tls_worker.TlsThreadWorker" if self.tls_listeners else "gthread",
            # sendfile would write a file's bytes to the TCP socket past the TLS layer; gunicorn
            # only knows to avoid it for its own TLS (cfg.is_ssl), which sidecar.tls_worker leaves off.
            "sendfile": not self.tls_listeners,
            "graceful_timeout": s.server.graceful_timeout,
            "timeout": 60,
            "keepalive": 5,
            "accesslog": None,
            "logger_class": _Logger,
            "errorlog": "-",
            "loglevel": s.log_level,
            "proc_name": "wams-sidecar",
            # gunicorn 27's runtime control socket is one fixed path per user: it would collide
            # between sidecars on one host and is an extra management surface. Off.
            "control_socket_disable": True,
            # Clients must not be able to claim https through X-Forwarded-Proto and friends.
            "secure_scheme_headers": {},
            "child_exit": _child_exit,
            "post_fork": _post_fork,
            "pre_request": _pre_request,
            "limit_request_line": 4096,
            "limit_request_fields": 100,
            "limit_request_field_size": 16384,
            "logconfig_dict": {
                "version": 1,
                "disable_existing_loggers": False,
                "formatters": {"json": {"()": "sidecar.logs.JsonFormatter"}},
                "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json",
                                         "stream": "ext://sys.stderr"}},
                "loggers": {"gunicorn.error": {"handlers": ["console"], "level": s.log_level.upper(),
                                               "propagate": False},
                            "gunicorn.access": {"handlers": [], "propagate": False}},
                "root": {"handlers": ["console"], "level": s.log_level.upper()},
            },
        }
        for k, v in cfg.items():
            self.cfg.set(k, v)

    def load(self) -> Any:
        from sidecar import logs
        from sidecar.app import create_app

        logs.setup(self._settings.log_level)
        return create_app(self._settings)


def serve(settings: Settings) -> int:
    d = _prepare_metrics_dir(settings)
    try:
        _Gunicorn(settings).run()
    finally:
        if settings.metrics.multiproc_dir is None:
            shutil.rmtree(d, ignore_errors=True)
    return 0
