"""Access to the decision records themselves (rules L1, L2): the records query of the command
line and the FG console ask OPA through here, and each such access is recorded like any other
decision before anything is shown."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from sidecar.auth import Identity
from sidecar.call import Call
from sidecar.opa import OpaClient, OpaError
from sidecar.opa_input import InputBuilder, now_rfc3339, resource
from sidecar.records import RecordWriteError, RecordWriter, build_record
from sidecar.routes import RouteSpec
from sidecar.settings import Settings
from sidecar.tracing import from_header


def decide_records_access(settings: Settings, *, pseudonym: str, who: str, with_employees: bool) -> str | None:
    """Ask OPA whether this records query may be answered (L1: the FG, with employee identities;
    L2: a data subject's access request) and record the decision in the configured records file.
    Returns why not, or None."""
    org = settings.controlling_orgs[0] if settings.controlling_orgs else None
    route = RouteSpec(name="records_query", methods=["GET"], path="/records", resource="records", action="read")
    call = Call(trace=from_header(None), method="GET", started=time.perf_counter(), route=route)
    if with_employees:
        call.identity = Identity(sub=who, role="fg", org=org or "onbekend", secrecy="geen")
        call.purpose = "verantwoording"
    else:
        call.subject_type = "data_subject"
    inputs = InputBuilder(profile=settings.policy.profile, controlling_orgs=settings.controlling_orgs,
                          retention_configured=settings.coordination_retention_days is not None)
    res = resource("records", None)
    decision = None
    reasons: list[str]
    try:
        decision = OpaClient(settings.opa).decide(inputs.build(call, "request", res))
        reasons = decision.reasons
        allow = decision.allow
    except OpaError as exc:
        reasons, allow = [f"OPA_{exc.kind.upper()}"], False
    rec = build_record(time=now_rfc3339(), decision_id=str(uuid.uuid4()), trace_id=call.trace.trace_id,
                       span_id=call.trace.span_id, phase="request", allow=allow, enforced=True,
                       status=None if allow else 403,
                       subject={"id": who, "role": "fg" if with_employees else None, "org": org},
                       purpose=call.purpose, action="read", resource=res, resource_type="records",
                       betrokkene=pseudonym, decision=decision, reasons=reasons, profile=settings.policy.profile,
                       duration_s=decision.duration_s if decision else 0.0)
    try:
        writer = RecordWriter(Path(settings.records.path))
    except OSError as exc:
        return f"the query could not be recorded, so it is not answered: {exc}"
    try:
        writer.write(rec)
    except RecordWriteError as exc:
        return f"the query could not be recorded, so it is not answered: {exc}"
    finally:
        writer.close()
    if decision is None:
        return f"the policy decision could not be made (OPA: {reasons[0]}); the query is not answered"
    if not allow:
        return f"the policy denies this query ({', '.join(reasons) or 'no rule allows it'}): {decision.reason_user}"
    return None
