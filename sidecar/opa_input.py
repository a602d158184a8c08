"""The one builder of the OPA input (AuthZEN-shaped; docs/decision-api.md).

The proxy (through :class:`sidecar.enforce.Enforcer`), ``sidecar explain``, ``sidecar records
query`` and the readiness probe all build their input here, so what a policy author sees in
``explain`` is what the sidecar sends.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from sidecar.auth import Identity
from sidecar.call import Call
from sidecar.routes import RouteSpec
from sidecar.tracing import from_header

# The current second's text, made once per second: a read asks for the time three times (its OPA
# input and its two records). A datetime formatted each time cost ≈ 13 µs a call in a running
# sidecar, this ≈ 7 µs (both instrumented; 3.7 and 1.3 µs in a tight loop).
_second: tuple[int, str] = (-1, "")


def now_rfc3339() -> str:
    """Now, in UTC to the millisecond (truncated): ``2026-11-30T16:30:42.123Z``."""
    global _second
    t = time.time()
    whole = int(t)
    micro = round((t - whole) * 1e6)  # rounded to the microsecond first, as datetime.fromtimestamp does
    if micro >= 1_000_000:
        whole, micro = whole + 1, micro - 1_000_000
    cached = _second
    if cached[0] != whole:
        cached = _second = (whole, datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    return f"{cached[1]}.{micro // 1000:03d}Z"


def resource(rtype: str, rid: str | None, props: dict[str, Any] | None = None,
             labels: dict[str, Any] | None = None) -> dict[str, Any]:
    """An OPA resource. ``category``, ``vertrouwelijkheidaanduiding`` and ``relation`` are always
    present (null while unknown, e.g. in the request phase of a read); ``labels`` are the stored
    provenance without the data subject's pseudonym; ``relation`` the caller's relation to the
    zaken the object belongs to (sidecar.relations)."""
    p: dict[str, Any] = {"category": None, "vertrouwelijkheidaanduiding": None, "relation": None}
    p.update(props or {})
    p["labels"] = labels
    return {"type": rtype, "id": rid, "properties": p}


def public_labels(label: dict[str, Any] | None) -> dict[str, Any] | None:
    """The labels as the policy sees them: without the data subject's pseudonym (not its business)."""
    if label is None:
        return None
    return {k: v for k, v in label.items() if k != "betrokkene"}


# The readiness probe: a fixed request every loaded policy must answer with a defined decision.
_PROBE_ROUTE = RouteSpec(name="readiness_probe", methods=["GET"], path="/readiness", resource="zaak",
                         action="read")
_PROBE_IDENTITY = Identity(sub="readiness-probe", role="handhaving", org="probe", secrecy="geen")


class InputBuilder:
    def __init__(self, *, profile: str, controlling_orgs: list[str] | tuple[str, ...] | frozenset[str],
                 retention_configured: bool) -> None:
        self.profile = profile
        self._controlling = frozenset(controlling_orgs)
        self._retention = retention_configured

    def controlling(self, org: str | None) -> bool:
        return org is not None and org in self._controlling

    def build(self, call: Call, phase: str, res: dict[str, Any],
              evaluations: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        assert call.route is not None
        context: dict[str, Any] = {
            "purpose": call.purpose, "profile": self.profile, "time": now_rfc3339(),
            "traceparent": call.trace.traceparent, "herkomst": call.herkomst,
            "retention_configured": self._retention,
        }
        context.update(call.extra_context)
        ident = call.identity
        subject: dict[str, Any] = {"type": call.subject_type, "id": ident.sub if ident else None, "properties": {
            "role": ident.role if ident else None, "org": ident.org if ident else None,
            "secrecy": ident.secrecy if ident else None,
            "controlling_org": self.controlling(ident.org) if ident else False}}
        doc: dict[str, Any] = {
            "subject": subject,
            "action": {"name": call.route.action, "properties": {"method": call.method, "phase": phase}},
            "resource": res,
            "context": context,
        }
        if evaluations is not None:
            doc["evaluations"] = [{"resource": r} for r in evaluations]
        return doc

    def probe(self) -> dict[str, Any]:
        call = Call(trace=from_header(None), method="GET", started=time.perf_counter(), route=_PROBE_ROUTE,
                    identity=_PROBE_IDENTITY, purpose="handhaving")
        return self.build(call, "request", resource("zaak", None))
