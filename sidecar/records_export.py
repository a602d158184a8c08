"""Decision records in the shapes other tools read (``sidecar records export``).

- ``opa``: OPA decision-log events (the fields OPA's decision-log plugin uploads: ``decision_id``,
  ``labels``, ``path``, ``result``, ``timestamp``, ``metrics``, ``bundles``, ``trace_id``,
  ``span_id``), without ``input``: the record keeps no input, only the decision, so ``erased``
  says so, as OPA does for a masked input. Only what the record holds is exported.
- ``ldv``: Logboek Dataverwerkingen processing-log entries (``trace_id``, ``span_id``,
  ``parent_span_id``, ``name``, ``start_time``, ``end_time``, ``status_code``, ``resource``,
  ``attributes`` with ``dpl.core.processing_activity_id``, ``dpl.core.data_subject_id`` and
  ``dpl.core.data_subject_id_type``). The data subject is the keyed pseudonym the record holds,
  never a BSN, and no user identity (subject, role, organisation) is exported.

Both are derived from the record alone, so an export of a copy equals an export of the original.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta
from typing import Any

from sidecar.settings import OpaSettings

# The record keeps the policy revision, not the decision path or bundle name: these are the
# sidecar's defaults (opa.decision_path; the bundle "wams" of deploy/opa/config.yaml).
DECISION_PATH = OpaSettings().decision_path
BUNDLE = "wams"
SERVICE_NAME = "wams-sidecar"
# What dpl.core.data_subject_id holds: the record's keyed pseudonym of the BSN, not the BSN.
DATA_SUBJECT_ID_TYPE = "BSN-pseudoniem-hmac-sha256"
_HEX16 = re.compile(r"[0-9a-f]{16}")


class ExportError(ValueError):
    """A line that cannot be exported (not a record); the message names what is wrong."""


def _obj(rec: dict[str, Any], key: str) -> dict[str, Any]:
    v = rec.get(key)
    return v if isinstance(v, dict) else {}


def _writer(rec: dict[str, Any]) -> dict[str, Any]:
    return _obj(rec, "writer")


def _decision(rec: dict[str, Any]) -> str:
    d = rec.get("decision")
    if d not in ("allow", "deny"):
        raise ExportError(f"decision must be allow or deny, got {d!r}")
    return str(d)


def to_opa(rec: dict[str, Any]) -> dict[str, Any]:
    """One OPA decision-log event for one record."""
    allow = _decision(rec) == "allow"
    writer = _writer(rec)
    policy = _obj(rec, "policy")
    labels = {k: v for k, v in (("id", writer.get("instance")), ("version", writer.get("version")),
                                ("app", SERVICE_NAME), ("profile", policy.get("profile"))) if v is not None}
    event: dict[str, Any] = {
        "decision_id": rec.get("decision_id"),
        "labels": labels,
        "path": DECISION_PATH,
        "erased": ["/input"],
        "result": {"allow": allow, "reasons": rec.get("reasons") or [], "obligations": rec.get("obligations") or [],
                   "grondslag": rec.get("grondslag"), "processing_activity": rec.get("processing_activity"),
                   "recipient": rec.get("recipient"), "phase": rec.get("phase"), "enforced": rec.get("enforced"),
                   "status": rec.get("status")},
        "timestamp": rec.get("time"),
        "trace_id": rec.get("trace_id"),
        "span_id": rec.get("span_id"),
    }
    if policy.get("revision") is not None:
        event["bundles"] = {BUNDLE: {"revision": policy["revision"]}}
    duration = rec.get("duration_ms")
    if isinstance(duration, int | float) and not isinstance(duration, bool):
        # The sidecar's time for the decision (its OPA call), in OPA's unit.
        event["metrics"] = {"timer_sidecar_decision_ns": round(duration * 1_000_000)}
    return event


def _time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ExportError(f"time must be an RFC 3339 timestamp, got {value!r}")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ExportError(f"time must be an RFC 3339 timestamp, got {value!r}") from None


def _rfc3339(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_ldv(rec: dict[str, Any]) -> dict[str, Any]:
    """One Logboek Dataverwerkingen entry for one record (one data subject per record already)."""
    allow = _decision(rec) == "allow"
    end = _time(rec.get("time"))
    duration = rec.get("duration_ms")
    start = end - timedelta(milliseconds=duration) if isinstance(duration, int | float) and duration > 0 else end
    res = _obj(rec, "resource")
    # One entry per record: its own span id, derived from its hash (unique and reproducible); the
    # request's span is its parent.
    h = rec.get("hash")
    digest = h if isinstance(h, str) and len(h) >= 16 else hashlib.sha256(repr(rec).encode()).hexdigest()
    entry: dict[str, Any] = {
        "trace_id": rec.get("trace_id"),
        "span_id": digest[:16],
        "name": f"{rec.get('action') or 'unknown'} {res.get('type') or 'unknown'}",
        "start_time": _rfc3339(start),
        "end_time": _rfc3339(end),
        "status_code": "STATUS_CODE_OK" if allow else "STATUS_CODE_ERROR",
        "resource": {"name": SERVICE_NAME, "version": _writer(rec).get("version")},
        "attributes": {},
    }
    span = rec.get("span_id")
    if isinstance(span, str) and _HEX16.fullmatch(span):
        entry["parent_span_id"] = span
    attrs: dict[str, Any] = entry["attributes"]
    if rec.get("processing_activity") is not None:
        attrs["dpl.core.processing_activity_id"] = rec["processing_activity"]
    if rec.get("betrokkene") is not None:
        attrs["dpl.core.data_subject_id"] = rec["betrokkene"]
        attrs["dpl.core.data_subject_id_type"] = DATA_SUBJECT_ID_TYPE
    if rec.get("decision_id") is not None:
        attrs["wams.decision_id"] = rec["decision_id"]
    return entry


EXPORTERS = {"opa": to_opa, "ldv": to_ldv}
