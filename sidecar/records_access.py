"""Access to the decision records themselves (rules L1, L2), and the FG's other actions outside
the proxy: the records query of the command line and the FG console ask OPA through here, and
each such access is recorded like any other decision before anything is shown or changed.

:func:`decide_and_record` is the one path: build the input with :class:`InputBuilder`, ask OPA,
write the record (fsync'd), and only then say whether to go on. The command line opens its own
OPA client and record writer per call; the console passes its long-lived ones.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from sidecar.auth import Identity
from sidecar.call import Call
from sidecar.opa import Decision, OpaClient, OpaError
from sidecar.opa_input import InputBuilder, now_rfc3339, resource
from sidecar.records import RecordWriteError, RecordWriter, build_record
from sidecar.routes import RouteSpec
from sidecar.settings import Settings
from sidecar.tracing import Trace, from_header

_RECORDS_ROUTE = RouteSpec(name="records_query", methods=["GET"], path="/records", resource="records", action="read")


@dataclass(frozen=True)
class Access:
    """The outcome of one decided and recorded access. ``refusal`` says why not (None: allowed);
    ``decision_id`` names the record written (None only when no record could be written)."""

    refusal: str | None
    decision_id: str | None
    decision: Decision | None = None

    @property
    def allowed(self) -> bool:
        return self.refusal is None


def decide_and_record(settings: Settings, call: Call, res: dict[str, Any], *, subject: dict[str, Any],
                      betrokkenen: list[str | None] | None = None, opa: OpaClient | None = None,
                      writer: RecordWriter | None = None) -> Access:
    """Ask OPA about ``call`` on ``res`` and write its record (one line per data subject) before
    returning. Nothing may be shown or changed unless the result is allowed."""
    assert call.route is not None
    inputs = InputBuilder(profile=settings.policy.profile, controlling_orgs=settings.controlling_orgs,
                          retention_configured=settings.coordination_retention_days is not None)
    decision = None
    reasons: list[str]
    try:
        decision = (opa or OpaClient(settings.opa)).decide(inputs.build(call, "request", res))
        reasons, allow = decision.reasons, decision.allow
    except OpaError as exc:
        reasons, allow = [f"OPA_{exc.kind.upper()}"], False
    decision_id, at = str(uuid.uuid4()), now_rfc3339()
    recs = [build_record(time=at, decision_id=decision_id, trace_id=call.trace.trace_id,
                         span_id=call.trace.span_id, phase="request", allow=allow, enforced=True,
                         status=None if allow else 403, subject=subject, purpose=call.purpose,
                         action=call.route.action, resource=res, resource_type=call.route.resource,
                         betrokkene=b, decision=decision, reasons=reasons, profile=settings.policy.profile,
                         duration_s=decision.duration_s if decision else 0.0)
            for b in (betrokkenen or [None])]
    own = writer is None
    try:
        w = writer or RecordWriter.for_settings(settings.records)
    except OSError as exc:
        return Access(f"the access could not be recorded, so nothing is shown or changed: {exc}", None, decision)
    try:
        w.write_many(recs)
    except RecordWriteError as exc:
        return Access(f"the access could not be recorded, so nothing is shown or changed: {exc}", None, decision)
    finally:
        if own:
            w.close()
    if decision is None:
        return Access(f"the policy decision could not be made (OPA: {reasons[0]}); nothing is shown or changed",
                      decision_id)
    if not allow:
        return Access(f"the policy denies this ({', '.join(reasons) or 'no rule allows it'}): {decision.reason_user}",
                      decision_id, decision)
    return Access(None, decision_id, decision)


def records_access(settings: Settings, *, pseudonym: str | None, who: str, with_employees: bool,
                   identity: Identity | None = None, opa: OpaClient | None = None,
                   writer: RecordWriter | None = None, trace: Trace | None = None) -> Access:
    """Ask OPA whether records may be shown (L1: the FG, for verantwoording, with employee
    identities; L2: a data subject's access request, without them) and record the decision.

    ``identity`` is the FG's verified token (the console); without it (the command line) the FG
    is ``who`` of the first controlling organisation. ``pseudonym`` is the data subject the
    records are about, or None for a look-up that is not about one person (a decision, the
    overview)."""
    org = identity.org if identity else (settings.controlling_orgs[0] if settings.controlling_orgs else None)
    call = Call(trace=trace or from_header(None), method="GET", started=time.perf_counter(), route=_RECORDS_ROUTE)
    subject: dict[str, Any]
    if with_employees:
        call.identity = identity or Identity(sub=who, role="fg", org=org or "onbekend", secrecy="geen")
        call.purpose = "verantwoording"
        subject = {"id": call.identity.sub, "role": call.identity.role, "org": call.identity.org}
    else:
        # An access request is answered for the data subject, whoever types it in: L2.
        call.subject_type = "data_subject"
        subject = {"id": identity.sub if identity else who, "role": None, "org": org}
    return decide_and_record(settings, call, resource("records", None), subject=subject, betrokkenen=[pseudonym],
                             opa=opa, writer=writer)


def decide_records_access(settings: Settings, *, pseudonym: str, who: str, with_employees: bool) -> str | None:
    """The command line's records query (``sidecar records query``): why not, or None."""
    return records_access(settings, pseudonym=pseudonym, who=who, with_employees=with_employees).refusal


def access_rows(records: list[dict[str, Any]], *, with_employees: bool) -> list[dict[str, Any]]:
    """One row per access: the request- and response-phase records of one request about one
    object are merged (the request phase does not know the category yet; a deny in either
    phase means the data was not released)."""
    rows: dict[tuple[Any, Any], dict[str, Any]] = {}
    for rec in records:
        res = rec.get("resource") or {}
        key = (rec.get("trace_id"), res.get("id") or res.get("type"))
        row = rows.get(key)
        if row is None:
            row = rows[key] = {"time": rec.get("time"), "decision": rec.get("decision"),
                               "purpose": rec.get("purpose"), "action": rec.get("action"),
                               "category": res.get("category"), "grondslag": rec.get("grondslag"),
                               "recipient": rec.get("recipient"),
                               "processing_activity": rec.get("processing_activity")}
            if with_employees:
                row["subject"] = rec.get("subject")
            continue
        if rec.get("decision") == "deny":
            row["decision"] = "deny"
        for k, v in (("category", res.get("category")), ("grondslag", rec.get("grondslag")),
                     ("recipient", rec.get("recipient")),
                     ("processing_activity", rec.get("processing_activity"))):
            if row.get(k) is None and v is not None:
                row[k] = v
    return list(rows.values())
