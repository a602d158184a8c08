"""The app factory: one WSGI callable serving the proxy port and the admin port.

gunicorn binds both addresses; each request is dispatched by the *local* port of the socket it
arrived on (never by path or Host header), so ``/metrics`` and the probes can never be reached
through the proxy port, and no proxied path can be shadowed by an admin route.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from flask import Flask, Request, request
from werkzeug.routing import MapAdapter
from werkzeug.wrappers import Response

from sidecar import metrics, records_status
from sidecar.auth import Authenticator
from sidecar.classify import Catalogue
from sidecar.enforce import Enforcer
from sidecar.engine import PolicyEngine, create_engine
from sidecar.labels import LabelStore, LabelStoreError, open_label_store
from sidecar.objects import Objects
from sidecar.opa import OpaClient, OpaError
from sidecar.opa_input import InputBuilder
from sidecar.problem import problem
from sidecar.proxy import Proxy
from sidecar.records import RecordWriter
from sidecar.relations import Relations
from sidecar.routes import RouteMap
from sidecar.settings import Settings
from sidecar.upstream import UpstreamClient

log = logging.getLogger("sidecar.app")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

class Readiness:
    """Ready = OPA answers, the decision is defined and valid, the profile exists and is valid,
    the record file and the label store are usable. Cached briefly so probes stay cheap."""

    def __init__(self, settings: Settings, opa: PolicyEngine, writer: RecordWriter, labels: LabelStore,
                 inputs: InputBuilder, server: OpaClient | None = None) -> None:
        self._s = settings
        self._opa = opa
        # The OPA server, when the engine is another: only to say what is wrong with a profile.
        self._server = server
        self._inputs = inputs
        self._writer = writer
        self._labels = labels
        self._lock = threading.Lock()
        self._cached: tuple[float, bool, list[str]] = (float("-inf"), False, [])

    def check(self) -> tuple[bool, list[str]]:
        with self._lock:
            at, ok, problems = self._cached
            if time.monotonic() - at < 1.0:
                return ok, problems
            problems = self._problems()
            ok = not problems
            self._cached = (time.monotonic(), ok, problems)
            metrics.opa_up.set(1 if not any(p.startswith("opa") for p in problems) else 0)
            return ok, problems

    def _profile_errors(self, profile: str) -> Any:
        """wams/profile/errors of ``profile`` from the OPA server, or a pointer to the tool."""
        if self._server is not None:
            try:
                all_errors = self._server.query("wams/profile/errors")
                errors = all_errors.get(profile) if isinstance(all_errors, dict) else None
                if errors:
                    return errors
            except OpaError:
                pass
        return "see 'sidecar profiles check'"

    def _problems(self) -> list[str]:
        out: list[str] = []
        profile = self._s.policy.profile
        if not self._opa.healthy():
            return ["opa: not answering or bundle not activated"]
        try:
            probe = self._opa.decide(self._inputs.probe())
            # Every scrape runs this check, so an idle replica also shows the revision OPA has
            # activated (not only the one of its last real decision).
            metrics.saw_policy_revision(profile, probe.revision)
            if not isinstance(self._opa.query(f"profiles/{profile}"), dict):
                out.append(f"opa: profile {profile!r} is not loaded")
            if isinstance(self._opa, OpaClient):
                all_errors = self._opa.query("wams/profile/errors")
                errors = all_errors.get(profile) if isinstance(all_errors, dict) else None
                if errors:
                    out.append(f"opa: profile {profile!r} is invalid: {errors}")
            elif "PROFILE" in probe.reasons:
                # The wasm module has no wams/profile/errors (its messages need sprintf, a builtin
                # it lacks); the decision itself denies everything under an invalid profile
                # (authz.profile_valid), and 'sidecar profiles check' says what is wrong. The OPA
                # server, when it answers, names the problem; not-ready does not depend on it.
                out.append(f"opa: profile {profile!r} is invalid: {self._profile_errors(profile)}")
        except OpaError as exc:
            out.append(f"opa: {exc}")
        if not self._writer.writable():
            out.append("records: file not writable")
        if not self._labels.ping():
            out.append("labels: store not reachable")
        return out


def _admin_app(readiness: Readiness, labels: LabelStore, review_max_days: int,
               verify_status_file: Path | None = None) -> Flask:
    admin = Flask("sidecar.admin")

    @admin.get("/metrics")
    def _metrics() -> Response:
        # Refresh sidecar_opa_up on every scrape (cached for a second): with no probe calling
        # /-/readyz (systemd hosts) the gauge would otherwise go stale and its alert never fire.
        readiness.check()
        # The review gauges come from the label store (shared by all workers and replicas), not
        # from counting in one worker.
        try:
            metrics.refresh_reviews(*labels.review_stats(), review_max_days)
        except LabelStoreError as exc:
            log.warning("review metrics not refreshed", extra={"event": "review_metrics_failed", "error": str(exc)})
        body, ctype = metrics.render()
        # The nightly records verify's result (Kubernetes: written by the CronJob to a volume).
        body += records_status.exported(verify_status_file)
        return Response(body, content_type=ctype)

    @admin.get("/-/healthz")
    def _healthz() -> Response:
        return Response('{"status":"ok"}', content_type="application/json")

    @admin.get("/-/readyz")
    def _readyz() -> Response:
        ok, problems = readiness.check()
        return Response(json.dumps({"status": "ready" if ok else "not-ready", "problems": problems}),
                        status=200 if ok else 503, content_type="application/json")

    return admin


class _ProxyFlask(Flask):
    """Routing is the route map's job (on the raw, canonicalised target): Flask's own URL
    matching and its slash-merging redirects must never see a proxied request. So no URL adapter
    is made for a request at all. Matching against an empty map only raised NotFound, whose
    traceback and frames were garbage the cycle collector had to find on every request."""

    def create_url_adapter(self, request: Request | None) -> MapAdapter | None:
        return None if request is not None else super().create_url_adapter(request)


def _proxy_app(proxy: Proxy) -> Flask:
    app = _ProxyFlask("sidecar.proxy")

    @app.before_request
    def _all() -> Response:
        return proxy.handle(request)

    return app


class PortDispatcher:
    def __init__(self, proxy: WSGIApp, admin: WSGIApp, admin_port: int, console: WSGIApp | None = None,
                 console_port: int | None = None) -> None:
        self._proxy = proxy
        self._admin = admin
        self._admin_port = admin_port
        self._console = console
        self._console_port = console_port

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        sock = environ.get("gunicorn.socket")
        try:
            port = sock.getsockname()[1] if sock is not None else int(environ.get("SERVER_PORT", "0"))
        except (OSError, ValueError, IndexError, TypeError):
            port = -1
        if port == self._admin_port:
            return self._admin(environ, start_response)
        if self._console is not None and port == self._console_port:
            return self._console(environ, start_response)
        return self._proxy(environ, start_response)


def create_app(settings: Settings) -> PortDispatcher:
    """Build everything a worker needs. Called once per gunicorn worker, after the fork, so
    each worker has its own connection pools and file descriptors."""
    opa = OpaClient(settings.opa)
    writer = RecordWriter.for_settings(settings.records)
    labels = open_label_store(settings.labels.dsn)
    inputs = InputBuilder(profile=settings.policy.profile, controlling_orgs=settings.controlling_orgs,
                          retention_configured=settings.coordination_retention_days is not None)
    # The proxy's decisions and readiness: OPA over REST or the wasm engine (opa.engine); the
    # console keeps asking the OPA server.
    engine = create_engine(settings.opa, opa)
    enforcer = Enforcer(opa=engine, writer=writer, inputs=inputs)
    routes = RouteMap(settings.routes)
    catalogue = Catalogue(settings.catalogue)
    upstream = UpstreamClient(settings.upstream)
    relations = Relations(client=upstream, labels=labels, catalogue=catalogue, settings=settings)
    objects = Objects(labels=labels, catalogue=catalogue,
                      pseudonyms=settings.pseudonymisation.keyring(), relations=relations)
    proxy = Proxy(settings, authenticator=Authenticator(settings.jwt), enforcer=enforcer,
                  upstream=upstream, labels=labels, objects=objects, routes=routes)
    metrics.preinitialise([r.name for r in settings.routes])
    metrics.policy_info.labels(settings.policy.profile).set(1)
    readiness = Readiness(settings, engine, writer, labels, inputs, server=opa if engine is not opa else None)
    admin = _admin_app(readiness, labels, settings.review.max_open_days, settings.records.verify_status_file)
    metrics.refresh_reviews(0, None, settings.review.max_open_days)

    @admin.errorhandler(404)
    def _nf(_: Exception) -> Response:
        return problem(404, "niet-gevonden", "Onbekend beheeradres.")

    console, console_port = None, None
    if settings.console.addr is not None:
        # Imported only when configured: the proxy never loads the console's code or templates.
        from sidecar.console import create_console

        console = create_console(settings, authenticator=Authenticator(settings.jwt), opa=opa, writer=writer,
                                 labels=labels).wsgi_app
        console_port = settings.console.addr[1]
    return PortDispatcher(_proxy_app(proxy).wsgi_app, admin.wsgi_app, settings.listen.admin_addr[1],
                          console, console_port)
