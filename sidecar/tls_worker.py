"""TLS per listener under gunicorn: the gthread worker with a handshake on chosen listeners only.

gunicorn's own ``certfile``/``keyfile`` apply to every bound address of a server, so the admin
listener (probes, Prometheus) would have to speak TLS, and require client certificates, whenever
the proxy does. This worker leaves gunicorn's TLS off and wraps the connections accepted on the
TLS listeners itself, with the contexts :class:`sidecar.serve` builds in the master before it
forks (and builds again on SIGHUP: new workers then present the new certificate).

What it relies on from gunicorn's gthread worker (checked against 27.0): ``accept`` creates a
``TConn`` per connection, ``TConn.init`` runs in a worker thread before the first read and wraps
nothing while ``cfg.is_ssl`` is false, and ``handle`` turns an ``ssl.SSLError`` from it into a
closed connection. Anything TLS-dependent that gunicorn decides from ``cfg.is_ssl`` is handled
here or in serve.py instead: the request's scheme (below) and sendfile (off, serve.py).
"""

from __future__ import annotations

import errno
import ssl
from typing import Any

from gunicorn.workers.gthread import TConn, ThreadWorker

# A client gets this long for its part of the handshake; then the thread is free again. (The
# first byte has already arrived: gthread waits for it before it hands the connection over.)
HANDSHAKE_TIMEOUT = 10.0


class _TlsConn(TConn):  # type: ignore[misc]
    def __init__(self, context: ssl.SSLContext, *args: Any) -> None:
        super().__init__(*args)
        self.tls_context = context

    def init(self) -> None:
        raw: Any = self.sock  # type: ignore[has-type]
        if not self.initialized and self.parser is None and not isinstance(raw, ssl.SSLSocket):
            raw.setblocking(True)
            raw.settimeout(HANDSHAKE_TIMEOUT)
            try:
                wrapped = self.tls_context.wrap_socket(
                    raw, server_side=True, do_handshake_on_connect=True,
                    suppress_ragged_eofs=self.cfg.suppress_ragged_eofs)
            except TimeoutError:
                # Reported like a client that went away (gthread closes the connection quietly).
                raise ssl.SSLError(ssl.SSL_ERROR_EOF, "TLS handshake timed out") from None
            wrapped.settimeout(None)
            self.sock = wrapped
        super().init()


class TlsThreadWorker(ThreadWorker):  # type: ignore[misc]
    """gthread, with TLS on the listeners named in ``app.tls_listeners`` ((host, port) as
    gunicorn parsed the bind address → context)."""

    def init_process(self) -> None:
        wanted: dict[Any, ssl.SSLContext] = self.app.tls_listeners
        self._tls_by_fd: dict[int, ssl.SSLContext] = {
            s.fileno(): wanted[s.cfg_addr] for s in self.sockets if s.cfg_addr in wanted}
        if len(self._tls_by_fd) != len(wanted):
            # Fail closed: a TLS listener this worker cannot match would otherwise serve plain HTTP.
            raise RuntimeError(f"TLS listeners not bound by this worker: {sorted(map(str, wanted))}")
        super().init_process()

    def accept(self, listener: Any) -> None:
        context = self._tls_by_fd.get(listener.fileno())
        if context is None:
            super().accept(listener)
            return
        # gthread's accept, with a connection that does the handshake first.
        try:
            client_sock, client_addr = listener.accept()
            self.nr_conns += 1
            client_sock.setblocking(True)
            self.enqueue_req(_TlsConn(context, self.cfg, client_sock, client_addr, listener.getsockname()))
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise

    def handle_request(self, req: Any, conn: Any) -> Any:
        if isinstance(conn, _TlsConn):
            # gunicorn sets the scheme from cfg.is_ssl, which is off; links the sidecar writes
            # (sidecar.urls) follow wsgi.url_scheme.
            req.scheme = "https"
        return super().handle_request(req, conn)
