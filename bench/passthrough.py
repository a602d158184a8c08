"""The floor of the fixed stack: a proxy that forwards without deciding anything.

The same pieces as the sidecar (Flask app under gunicorn gthread, same workers and threads, a
pooled urllib3 client, hop-by-hop headers dropped, the body read and returned whole), and none of
its work: no token check, no OPA, no records, no labels, no metrics. Its added latency and its
throughput ratio are what Python + Flask + gunicorn + one extra HTTP hop cost on this machine
before any access control, so the sidecar's figures can be read against what the chosen stack
allows at all. Benchmark only; never a deployment option (it enforces nothing).

Run by ``bench.stack.BenchStack.start_passthrough`` as
``gunicorn 'bench.passthrough:create_app(upstream="http://127.0.0.1:PORT")'``.
"""

from __future__ import annotations

import urllib3
from flask import Flask, Request, request
from werkzeug.wrappers import Response

from sidecar.upstream import HOP_BY_HOP

# The sidecar's hop-by-hop set, plus what the pool and werkzeug set themselves.
_HOP = HOP_BY_HOP | {"host", "content-length"}


def create_app(upstream: str) -> Flask:
    if not upstream.startswith("http://127.0.0.1:"):
        raise SystemExit("the pass-through floor forwards to a loopback upstream only")
    u = urllib3.util.parse_url(upstream)
    pool = urllib3.HTTPConnectionPool(u.host or "127.0.0.1", u.port or 80, maxsize=16, block=False, retries=False,
                                      timeout=urllib3.Timeout(connect=2.0, read=10.0))
    app = Flask("passthrough")

    def forward(req: Request) -> Response:
        body = req.get_data() if req.method in ("POST", "PUT", "PATCH") else None
        headers = {k: v for k, v in req.headers.items() if k.lower() not in _HOP}
        target = req.environ.get("RAW_URI") or req.full_path
        resp = pool.urlopen(req.method, target, body=body, headers=headers, retries=False)
        return Response(resp.data, status=resp.status,
                        headers=[(k, v) for k, v in resp.headers.items() if k.lower() not in _HOP])

    @app.before_request
    def _all() -> Response:
        return forward(request)

    return app
