"""Everything known about one client request, filled in step by step as it is processed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sidecar.auth import Identity
from sidecar.routes import RouteSpec
from sidecar.tracing import Trace

if TYPE_CHECKING:
    from sidecar.relations import CallerRelations


@dataclass
class Call:
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
    # The sidecar's base URL as this client sees it: links in answers are rewritten to it.
    public_base: str = ""
    # "user" for a token holder; "data_subject" for a citizen's own access request (L2).
    subject_type: str = "user"
    # Need-to-know, read once per request when first needed (sidecar.relations).
    relations: CallerRelations | None = None
    document_zaken: dict[str, list[str]] | None = None
    # Records of an allowed read's request phase, made durable together with the next decision's
    # (one fsync per read) and in any case before anything is released.
    pending_records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def route_name(self) -> str:
        return self.route.name if self.route is not None else "unknown"

    @property
    def action(self) -> str | None:
        return self.route.action if self.route is not None else None

    @property
    def target(self) -> str:
        """The canonical path and query: what the policy decides on and the upstream receives."""
        return self.path + (f"?{self.query}" if self.query else "")
