"""Decide and record: ask OPA on the input :mod:`sidecar.opa_input` builds, write one record per
decision (:func:`sidecar.records.record_base` and :func:`~sidecar.records.item_record`), count it.

Nothing here forwards or releases data; the proxy does that only after :meth:`Enforcer.decide`
returned an allow whose records are durable on disk (or :meth:`Enforcer.require` did not raise).

A read costs one OPA decision and one fsync in the steady state. Its request phase depends only on
who asks, for which purpose, on which route and action (the policy reads nothing else there:
``policies/wams/authz/request_phase_test.rego``), so its decision is cached per those keys and
the policy revision (:meth:`Enforcer.request_phase`). A read has no side effect upstream, so an
allowed request phase's record is not written on its own: it joins the next write (the response
phase's records, or a refusal's), and :meth:`Enforcer.flush` writes it before any release.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sidecar import ids, metrics
from sidecar.call import Call
from sidecar.engine import PolicyEngine
from sidecar.failures import FailClosed
from sidecar.instance import writer_identity
from sidecar.opa import Decision, OpaError
from sidecar.opa_input import InputBuilder, now_rfc3339, resource
from sidecar.records import RecordWriteError, RecordWriter, item_record, record_base

log = logging.getLogger("sidecar.enforce")


@dataclass(frozen=True)
class Outcome:
    decision: Decision
    decision_id: str
    enforced_allow: bool  # allowed, or denied but in shadow mode
    items: list[tuple[bool, str]] = field(default_factory=list)  # per evaluation: (release, decision_id)


# How long a cached request-phase decision is used at most; a new policy revision, seen on any
# decision, drops the cache at once.
REQUEST_PHASE_TTL = 10.0
_CACHE_MAX = 4096


class Enforcer:
    def __init__(self, *, opa: PolicyEngine, writer: RecordWriter, inputs: InputBuilder) -> None:
        self._opa = opa
        self._writer = writer
        self.inputs = inputs
        self._cache: dict[tuple[Any, ...], tuple[float, Decision]] = {}
        self._cache_lock = threading.Lock()
        self._revision: str | None = None
        # Which sidecar writes the records: fixed for the process, as the records file's name is.
        self._writer_identity = writer_identity()

    # -- records -----------------------------------------------------------------------------

    def _base(self, call: Call, *, phase: str, enforced: bool, status: int | None,
              duration_s: float) -> dict[str, Any]:
        """What all records of one decision share (:func:`sidecar.records.record_base`)."""
        ident = call.identity
        return record_base(time=now_rfc3339(), trace_id=call.trace.trace_id, span_id=call.trace.span_id,
                           phase=phase, enforced=enforced, status=status,
                           subject={"id": ident.sub, "role": ident.role, "org": ident.org} if ident else None,
                           purpose=call.purpose, action=call.action, profile=self.inputs.profile,
                           duration_s=duration_s, herkomst=call.herkomst, writer=self._writer_identity)

    def _item_records(self, call: Call, base: dict[str, Any], *, betrokkenen: list[str] | None, decision_id: str,
                      allow: bool, resource: dict[str, Any] | None, decision: Decision | None,
                      reasons: list[str]) -> list[dict[str, Any]]:
        """One line per data subject of the decision (Logboek Dataverwerkingen), at least one."""
        subjects: list[str | None] = list(dict.fromkeys([*(betrokkenen or []),
                                                         *([call.betrokkene] if call.betrokkene else [])]))
        rtype = call.route.resource if call.route else None
        return [item_record(base, decision_id=decision_id, allow=allow, resource=resource, resource_type=rtype,
                            betrokkene=b, decision=decision, reasons=reasons)
                for b in subjects or [None]]

    def _records(self, call: Call, *, betrokkenen: list[str] | None = None, phase: str, decision_id: str,
                 allow: bool, enforced: bool, resource: dict[str, Any] | None, decision: Decision | None,
                 reasons: list[str], status: int | None, duration_s: float) -> list[dict[str, Any]]:
        """The records of one decision on one object."""
        base = self._base(call, phase=phase, enforced=enforced, status=status, duration_s=duration_s)
        return self._item_records(call, base, betrokkenen=betrokkenen, decision_id=decision_id, allow=allow,
                                  resource=resource, decision=decision, reasons=reasons)

    def _write(self, call: Call, *recs: dict[str, Any]) -> None:
        """Make ``recs`` durable, with the call's pending request-phase records before them."""
        batch = [*call.pending_records, *recs]
        if not batch:
            return
        call.pending_records = []
        rec = batch[0]
        started = time.perf_counter()
        try:
            self._writer.write_many(batch)
        except RecordWriteError as exc:
            metrics.records_write_errors_total.inc()
            log.error("record write failed", extra={"event": "record_write_failed", "error": str(exc),
                                                    "trace_id": rec["trace_id"]})
            raise FailClosed("records", decision_id=rec["decision_id"]) from None
        metrics.record_write_duration.observe(time.perf_counter() - started)
        metrics.records_written_total.inc(len(batch))

    def flush(self, call: Call) -> None:
        """Write the call's pending records (before anything is released). Raises FailClosed."""
        self._write(call)

    def record_sidecar_deny(self, call: Call, reason: str, status: int) -> str:
        """A deny the sidecar decides itself (bad request, unknown route, no valid token, a failed
        look-up). A record that cannot be written is counted and logged; the request is refused anyway."""
        decision_id = ids.decision_id()
        recs = self._records(call, phase="request", decision_id=decision_id, allow=False, enforced=True,
                             resource=None, decision=None, reasons=[reason], status=status, duration_s=0.0)
        try:
            self._write(call, *recs)
        except FailClosed:
            pass
        metrics.decisions_total.labels("deny", "request", call.action or "read", "none").inc()
        metrics.count_deny([reason], call.identity.role if call.identity else None, None)
        return decision_id

    def record_upstream_refusal(self, call: Call, status: int) -> None:
        """The upstream did not carry out an allowed request (it answered ``status``, 4xx or 5xx):
        recorded with that status, so the records do not claim it took effect."""
        self._write(call, *self._records(call, phase="response", decision_id=ids.decision_id(), allow=False,
                                         enforced=True, resource=None, decision=None,
                                         reasons=["UPSTREAM_REJECTED"], status=status, duration_s=0.0))

    # -- deciding ----------------------------------------------------------------------------

    def decide(self, call: Call, phase: str, resource: dict[str, Any],
               evaluations: list[dict[str, Any]] | None = None, *,
               betrokkenen: list[str] | None = None,
               item_betrokkenen: list[list[str]] | None = None, defer: bool = False) -> Outcome:
        """One OPA call. Raises :class:`FailClosed` on any trouble; records are durable on return,
        except an allow's with ``defer`` (a read's request phase), which join the next write.

        ``betrokkenen`` are the data subjects (keyed pseudonyms) of ``resource``;
        ``item_betrokkenen`` those of each evaluation item."""
        assert call.route is not None
        opa_input = self.inputs.build(call, phase, resource, evaluations)
        decision_id = ids.decision_id()
        try:
            decision = self._opa.decide(opa_input)
        except OpaError as exc:
            metrics.opa_errors_total.labels(exc.kind).inc()
            # OPA is in trouble: stop reusing request-phase decisions until it answers again, so that
            # an outage stops reads before the upstream after at most one request per route.
            with self._cache_lock:
                self._cache.clear()
            log.error("opa decision failed", extra={"event": "opa_error", "kind": exc.kind,
                                                    "error": str(exc), "trace_id": call.trace.trace_id})
            reason = f"OPA_{exc.kind.upper()}"
            self._write(call, *self._records(call, betrokkenen=betrokkenen, phase=phase, decision_id=decision_id,
                                             allow=False, enforced=True, resource=resource, decision=None,
                                             reasons=[reason], status=503, duration_s=0.0))
            category = resource["properties"].get("category")
            metrics.decisions_total.labels("deny", phase, call.route.action, metrics.category_label(category)).inc()
            metrics.count_deny([reason], call.identity.role if call.identity else None, category)
            raise FailClosed("opa", decision_id=decision_id) from None
        metrics.opa_request_duration.observe(decision.duration_s)
        self._saw_revision(decision.revision)
        enforce = call.route.enforce
        if evaluations is None:
            recs = self._records(call, betrokkenen=betrokkenen, phase=phase, decision_id=decision_id,
                                 allow=decision.allow, enforced=enforce, resource=resource, decision=decision,
                                 reasons=decision.reasons, status=None if decision.allow else 403,
                                 duration_s=decision.duration_s)
            if defer and decision.allow:
                call.pending_records.extend(recs)
            else:
                self._write(call, *recs)
            self._count(call, phase, resource, decision, enforce)
            return Outcome(decision, decision_id, decision.allow or not enforce)
        # A batch: one record per item (who saw which object), all made durable with one write.
        items: list[tuple[bool, str]] = []
        recs = []
        per_item = item_betrokkenen or [[] for _ in evaluations]
        # One decision, one moment and one caller: what the items' records share is made once.
        base = self._base(call, phase=phase, enforced=enforce, status=None, duration_s=decision.duration_s)
        for res, ev, subjects, item_id in zip(evaluations, decision.evaluations, per_item,
                                              ids.decision_ids(len(evaluations)), strict=True):
            recs.extend(self._item_records(call, base, betrokkenen=subjects, decision_id=item_id, allow=ev.allow,
                                           resource=res, decision=ev, reasons=ev.reasons))
            items.append((ev.allow or not enforce, item_id))
        if recs:
            self._write(call, *recs)
        self._count_batch(call, phase, evaluations, decision.evaluations, enforce)
        return Outcome(decision, decision_id, True, items)

    def require(self, call: Call, phase: str, resource: dict[str, Any],
                evaluations: list[dict[str, Any]] | None = None, *,
                betrokkenen: list[str] | None = None,
                item_betrokkenen: list[list[str]] | None = None) -> Outcome:
        """:meth:`decide`, and a deny (enforced) stops the request: 403, or 400 for I9 (an ingest
        without provenance is a malformed request rather than a refusal)."""
        outcome = self.decide(call, phase, resource, evaluations, betrokkenen=betrokkenen,
                              item_betrokkenen=item_betrokkenen)
        if not outcome.enforced_allow:
            cause = "herkomst_missing" if "I9" in outcome.decision.reasons else "policy_deny"
            raise FailClosed(cause, outcome.decision.reason_user or None, decision_id=outcome.decision_id)
        return outcome

    def request_phase(self, call: Call) -> Outcome:
        """The request phase of a read: decided on who asks, for which purpose, route and action
        only (cached per those and the policy revision). An allow's records wait for the
        response phase (:attr:`Call.pending_records`); a deny is written and stops the request."""
        assert call.route is not None
        ident = call.identity
        # The object's id is in the input and the record, but not in the cache key: no rule reads it.
        res = resource(call.route.resource, call.resource_id)
        key = (call.subject_type, ident.role if ident else None, ident.org if ident else None,
               ident.secrecy if ident else None, call.purpose, call.route.name, call.route.action, call.method)
        now = time.monotonic()
        with self._cache_lock:
            hit = self._cache.get(key)
        decision = hit[1] if hit is not None and hit[0] > now else None
        metrics.child(metrics.request_phase_cache_total, "hit" if decision is not None else "miss").inc()
        if decision is None:
            outcome = self.decide(call, "request", res, defer=True)
            with self._cache_lock:
                if len(self._cache) >= _CACHE_MAX:
                    self._cache.clear()
                self._cache[key] = (now + REQUEST_PHASE_TTL, outcome.decision)
        else:
            decision_id = ids.decision_id()
            enforce = call.route.enforce
            recs = self._records(call, phase="request", decision_id=decision_id, allow=decision.allow,
                                 enforced=enforce, resource=res, decision=decision, reasons=decision.reasons,
                                 status=None if decision.allow else 403, duration_s=0.0)
            if decision.allow:
                call.pending_records.extend(recs)
            else:
                self._write(call, *recs)
            self._count(call, "request", res, decision, enforce)
            outcome = Outcome(decision, decision_id, decision.allow or not enforce)
        if not outcome.enforced_allow:
            raise FailClosed("policy_deny", outcome.decision.reason_user or None, decision_id=outcome.decision_id)
        return outcome

    def _saw_revision(self, revision: str | None) -> None:
        """A decision under another policy revision than the last: cached decisions are stale."""
        if revision != self._revision:
            with self._cache_lock:
                self._cache.clear()
            self._revision = revision
            metrics.saw_policy_revision(self.inputs.profile, revision)

    # -- metrics -----------------------------------------------------------------------------

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
        metrics.child(metrics.decisions_total, "allow" if decision.allow else "deny", phase, action, category).inc(n)
        if decision.allow:
            for ob in decision.obligations:
                metrics.child(metrics.obligations_total, ob["type"]).inc(n)
                if ob["type"] == "review_by_fg":
                    metrics.break_glass_total.inc(n)
            return
        metrics.count_deny([decision.deny_reason or "NO_RULE"], call.identity.role if call.identity else None,
                           raw_category, n)
        if not enforce:
            metrics.child(metrics.shadow_decisions_total, action, category).inc(n)
