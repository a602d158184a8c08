"""Decide and record: build the OPA input, ask OPA, write one record per decision, count it.

Nothing here forwards or releases data; :mod:`sidecar.proxy` does that only after
:meth:`Enforcer.decide` returned an allow whose records are durable on disk.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sidecar import metrics
from sidecar.auth import Identity
from sidecar.opa import Decision, OpaClient, OpaError
from sidecar.records import RecordWriteError, RecordWriter
from sidecar.routes import RouteSpec
from sidecar.tracing import Trace

log = logging.getLogger("sidecar.enforce")


class FailClosed(Exception):
    """Stop here; answer ``status`` with a problem of ``kind``. Nothing is forwarded or released."""

    def __init__(self, status: int, kind: str, detail: str, *, cause: str | None = None,
                 decision_id: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.detail = detail
        self.cause = cause
        self.decision_id = decision_id


@dataclass
class Call:
    """Everything known about one client request, filled in as the request is processed."""

    trace: Trace
    method: str
    started: float
    path: str = ""
    query: str = ""
    route: RouteSpec | None = None
    resource_id: str | None = None
    identity: Identity | None = None
    purpose: str | None = None
    herkomst: dict[str, Any] | None = None
    betrokkene: str | None = None
    extra_context: dict[str, Any] = field(default_factory=dict)
    expand: list[str] = field(default_factory=list)  # ZGW expand names the route allowed

    @property
    def route_name(self) -> str:
        return self.route.name if self.route is not None else "unknown"

    @property
    def action(self) -> str | None:
        return self.route.action if self.route is not None else None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def build_input(call: Call, phase: str, resource: dict[str, Any],
                evaluations: list[dict[str, Any]] | None = None, *, profile: str,
                controlling_orgs: frozenset[str] | list[str], retention_configured: bool) -> dict[str, Any]:
    """The AuthZEN-shaped OPA input (docs/decision-api.md). Shared by the proxy and ``sidecar explain``."""
    assert call.identity is not None and call.route is not None
    ident = call.identity
    context: dict[str, Any] = {
        "purpose": call.purpose, "profile": profile, "time": _now(),
        "traceparent": call.trace.traceparent, "herkomst": call.herkomst,
        "retention_configured": retention_configured,
    }
    context.update(call.extra_context)
    doc: dict[str, Any] = {
        "subject": {"type": "user", "id": ident.sub, "properties": {
            "role": ident.role, "org": ident.org, "secrecy": ident.secrecy,
            "controlling_org": ident.org in controlling_orgs}},
        "action": {"name": call.route.action, "properties": {"method": call.method, "phase": phase}},
        "resource": resource,
        "context": context,
    }
    if evaluations is not None:
        doc["evaluations"] = [{"resource": r} for r in evaluations]
    return doc


@dataclass(frozen=True)
class Outcome:
    decision: Decision
    decision_id: str
    enforced_allow: bool  # allowed, or denied but in shadow mode
    items: list[tuple[bool, str]] = field(default_factory=list)  # per evaluation: (release, decision_id)


class Enforcer:
    def __init__(self, *, opa: OpaClient, writer: RecordWriter, profile: str,
                 controlling_orgs: list[str], retention_configured: bool) -> None:
        self._opa = opa
        self._writer = writer
        self._profile = profile
        self._controlling = frozenset(controlling_orgs)
        self._retention = retention_configured

    # -- input -------------------------------------------------------------------------------

    def build_input(self, call: Call, phase: str, resource: dict[str, Any],
                    evaluations: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        return build_input(call, phase, resource, evaluations, profile=self._profile,
                           controlling_orgs=self._controlling, retention_configured=self._retention)

    # -- records -----------------------------------------------------------------------------

    def _records(self, call: Call, *, betrokkenen: list[str] | None = None,
                 **kw: Any) -> list[dict[str, Any]]:
        """One line per data subject of the decision (Logboek Dataverwerkingen), at least one."""
        subjects = list(dict.fromkeys([*(betrokkenen or []), *([call.betrokkene] if call.betrokkene else [])]))
        if "now" not in kw:
            kw["now"] = _now()
        if not subjects:
            return [self._record(call, betrokkene=None, **kw)]
        return [self._record(call, betrokkene=b, **kw) for b in subjects]

    def _record(self, call: Call, *, phase: str, decision_id: str, allow: bool, enforced: bool,
                resource: dict[str, Any] | None, decision: Decision | None, reasons: list[str],
                status: int | None, duration_s: float, betrokkene: str | None, now: str) -> dict[str, Any]:
        ident = call.identity
        obligations = decision.obligations if decision else []
        recipient = None
        if allow and ident is not None and any(o["type"] == "record_recipient" for o in obligations):
            recipient = next((o.get("recipient") for o in obligations
                              if o["type"] == "record_recipient" and o.get("recipient")), ident.org)
        props = (resource or {}).get("properties") or {}
        return {
            "time": now,
            "decision_id": decision_id,
            "trace_id": call.trace.trace_id,
            "span_id": call.trace.span_id,
            "phase": phase,
            "decision": "allow" if allow else "deny",
            "enforced": enforced,
            "status": status,
            "subject": {"id": ident.sub, "role": ident.role, "org": ident.org} if ident else None,
            "purpose": call.purpose,
            "action": call.action,
            "resource": {"type": (resource or {}).get("type") or (call.route.resource if call.route else None),
                         "id": (resource or {}).get("id"),
                         "category": props.get("category")},
            "betrokkene": betrokkene,
            "grondslag": decision.grondslag if decision else None,
            "reasons": reasons,
            "obligations": obligations,
            "processing_activity": decision.processing_activity if decision else None,
            "policy": {"profile": self._profile, "revision": decision.revision if decision else None},
            "recipient": recipient,
            "duration_ms": round(duration_s * 1000, 3),
        }

    def _write(self, *recs: dict[str, Any]) -> None:
        rec = recs[0]
        started = time.perf_counter()
        try:
            self._writer.write_many(list(recs))
        except RecordWriteError as exc:
            metrics.records_write_errors_total.inc()
            metrics.fail_closed_total.labels("records").inc()
            log.error("record write failed", extra={"event": "record_write_failed", "error": str(exc),
                                                    "trace_id": rec["trace_id"]})
            raise FailClosed(503, "record-niet-geschreven",
                             "De beslissing kon niet worden vastgelegd; er worden geen gegevens vrijgegeven.",
                             cause="records", decision_id=rec["decision_id"]) from None
        metrics.record_write_duration.observe(time.perf_counter() - started)
        metrics.records_written_total.inc(len(recs))

    def record_sidecar_deny(self, call: Call, reason: str, status: int) -> str:
        """A deny the sidecar decides itself (bad request, unknown route, no valid token)."""
        decision_id = str(uuid.uuid4())
        recs = self._records(call, phase="request", decision_id=decision_id, allow=False, enforced=True,
                             resource=None, decision=None, reasons=[reason], status=status, duration_s=0.0)
        try:
            self._write(*recs)
        except FailClosed:
            pass  # the request is refused anyway; the failure is counted and logged
        metrics.decisions_total.labels("deny", "request", call.action or "read", "none").inc()
        metrics.count_deny([reason], call.identity.role if call.identity else None, None)
        return decision_id

    # -- deciding ----------------------------------------------------------------------------

    def decide(self, call: Call, phase: str, resource: dict[str, Any],
               evaluations: list[dict[str, Any]] | None = None, *,
               betrokkenen: list[str] | None = None,
               item_betrokkenen: list[list[str]] | None = None) -> Outcome:
        """One OPA call. Raises :class:`FailClosed` on any trouble; records are durable on return.

        ``betrokkenen`` are the data subjects (keyed pseudonyms) of ``resource``;
        ``item_betrokkenen`` those of each evaluation item."""
        assert call.route is not None
        opa_input = self.build_input(call, phase, resource, evaluations)
        decision_id = str(uuid.uuid4())
        try:
            decision = self._opa.decide(opa_input)
        except OpaError as exc:
            metrics.opa_errors_total.labels(exc.kind).inc()
            metrics.fail_closed_total.labels("opa").inc()
            log.error("opa decision failed", extra={"event": "opa_error", "kind": exc.kind,
                                                    "error": str(exc), "trace_id": call.trace.trace_id})
            recs = self._records(call, betrokkenen=betrokkenen, phase=phase, decision_id=decision_id,
                                 allow=False, enforced=True, resource=resource, decision=None,
                                 reasons=[f"OPA_{exc.kind.upper()}"], status=503, duration_s=0.0)
            self._write(*recs)
            category = resource["properties"].get("category")
            metrics.decisions_total.labels("deny", phase, call.route.action, metrics.category_label(category)).inc()
            metrics.count_deny([f"OPA_{exc.kind.upper()}"], call.identity.role if call.identity else None, category)
            raise FailClosed(503, "beslissing-niet-mogelijk",
                             "De toegangsbeslissing kon niet worden genomen; probeer het later opnieuw.",
                             cause="opa", decision_id=decision_id) from None
        metrics.opa_request_duration.observe(decision.duration_s)
        enforce = call.route.enforce
        if evaluations is None:
            recs = self._records(call, betrokkenen=betrokkenen, phase=phase, decision_id=decision_id,
                                 allow=decision.allow, enforced=enforce, resource=resource, decision=decision,
                                 reasons=decision.reasons, status=None if decision.allow else 403,
                                 duration_s=decision.duration_s)
            self._write(*recs)
            self._count(call, phase, resource, decision, enforce)
            return Outcome(decision, decision_id, decision.allow or not enforce)
        # A batch: one record per item (who saw which object), all made durable with one write.
        items: list[tuple[bool, str]] = []
        recs = []
        per_item = item_betrokkenen or [[] for _ in evaluations]
        now = _now()  # one decision, one moment: every item's record carries the same time
        for res, ev, subjects in zip(evaluations, decision.evaluations, per_item, strict=True):
            item_id = str(uuid.uuid4())
            recs.extend(self._records(call, betrokkenen=subjects, phase=phase, decision_id=item_id,
                                      allow=ev.allow, enforced=enforce, resource=res, decision=ev,
                                      reasons=ev.reasons, status=None, duration_s=decision.duration_s, now=now))
            items.append((ev.allow or not enforce, item_id))
        if recs:
            self._write(*recs)
        self._count_batch(call, phase, evaluations, decision.evaluations, enforce)
        return Outcome(decision, decision_id, True, items)

    def _count_batch(self, call: Call, phase: str, resources: list[dict[str, Any]], decisions: list[Decision],
                     enforce: bool) -> None:
        """Items alike (same outcome, category, reasons, obligations) counted in one increment:
        a page of 50 mostly-alike items costs a few metric updates, not 50."""
        groups: dict[tuple[Any, ...], tuple[dict[str, Any], Decision, int]] = {}
        for res, ev in zip(resources, decisions, strict=True):
            key = (ev.allow, res["properties"].get("category"), ev.deny_reason,
                   tuple(o["type"] for o in ev.obligations))
            first = groups.get(key)
            groups[key] = (res, ev, first[2] + 1 if first else 1)
        for res, ev, n in groups.values():
            self._count(call, phase, res, ev, enforce, n)

    def _count(self, call: Call, phase: str, resource: dict[str, Any], decision: Decision, enforce: bool,
               n: int = 1) -> None:
        assert call.route is not None
        action = call.route.action
        raw_category = resource["properties"].get("category")
        category = metrics.category_label(raw_category)
        metrics.decisions_total.labels("allow" if decision.allow else "deny", phase, action, category).inc(n)
        if decision.allow:
            for ob in decision.obligations:
                metrics.obligations_total.labels(ob["type"]).inc(n)
                if ob["type"] == "review_by_fg":
                    metrics.break_glass_total.inc(n)
            return
        metrics.count_deny([decision.deny_reason or "NO_RULE"], call.identity.role if call.identity else None,
                           raw_category, n)
        if not enforce:
            metrics.shadow_decisions_total.labels(action, category).inc(n)
