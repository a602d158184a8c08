"""W3C trace context: propagate the caller's trace, or start one; the sidecar adds its own span."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

_TP = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")


@dataclass(frozen=True, slots=True)
class Trace:
    trace_id: str
    parent_span_id: str | None
    span_id: str
    flags: str

    @property
    def traceparent(self) -> str:
        """The header sent upstream: same trace, the sidecar's span as parent."""
        return f"00-{self.trace_id}-{self.span_id}-{self.flags}"


def from_header(value: str | None) -> Trace:
    span = secrets.token_hex(8)
    if value:
        m = _TP.fullmatch(value.strip())
        if m and m.group(1) != "0" * 32 and m.group(2) != "0" * 16:
            return Trace(m.group(1), m.group(2), span, m.group(3))
    return Trace(secrets.token_hex(16), None, span, "01")
