"""The proxy's Flask app makes no URL adapter for a request: the route map routes (on the raw,
canonical target), and Flask's matching against an empty map only made a NotFound, with a
traceback the cycle collector then had to find, on every proxied request."""

from __future__ import annotations

import gc
from typing import Any

from flask import request
from werkzeug.wrappers import Response

from sidecar.app import _proxy_app


class _Seen:
    def __init__(self) -> None:
        self.seen: list[tuple[Any, Any, str]] = []

    def handle(self, req: Any) -> Response:
        self.seen.append((req.url_rule, req.routing_exception, req.environ.get("PATH_INFO", "")))
        return Response("ok")


def test_no_url_matching_no_redirect_and_no_cyclic_garbage() -> None:
    seen = _Seen()
    app = _proxy_app(seen)  # type: ignore[arg-type]
    client = app.test_client()
    for path in ("/zaken/api/v1/zaken", "//a//b/", "/x/"):
        r = client.get(path)
        assert r.status_code == 200 and r.data == b"ok"  # never a slash-merging redirect or a 404
    assert [(rule, exc) for rule, exc, _ in seen.seen] == [(None, None)] * 3
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for _ in range(20):
            client.get("/zaken/api/v1/zaken")
        gc.collect()
        kinds = {type(o).__name__ for o in gc.garbage}
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert not kinds & {"NotFound", "traceback", "frame"}, kinds


def test_the_request_is_still_there_for_the_handler() -> None:
    out: list[str] = []

    class _P:
        def handle(self, req: Any) -> Response:
            out.append(request.headers.get("X-Doelbinding", ""))
            return Response(status=204)

    r = _proxy_app(_P()).test_client().get("/a", headers={"X-Doelbinding": "p"})  # type: ignore[arg-type]
    assert r.status_code == 204 and out == ["p"]
