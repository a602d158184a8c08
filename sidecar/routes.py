"""The route map: method + canonical path → resource type, action and id.

Routes are declarative (config), compiled once at start-up into anchored regular expressions.
Anything that does not match a route is denied and never forwarded. Matching runs on the
canonical path (see :mod:`sidecar.canonical`), the same string that is forwarded upstream, so
the policy decides on exactly what the upstream receives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Action = Literal["list", "read", "download", "create", "update", "delete"]
ACTIONS: tuple[str, ...] = ("list", "read", "download", "create", "update", "delete")
METHODS: frozenset[str] = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"})

# Lower-case UUIDs only: one spelling per object, so one decision per object.
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# ``uuid`` names the object a route is decided on; ``entry`` a second id under it (an audit-trail
# entry of a zaak), which is forwarded as sent but decides nothing.
_PARAMS = {"uuid": _UUID, "entry": _UUID}


class RouteSpec(BaseModel):
    # A field's docstring is its description (docs/configuration.md is generated from them).
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    """The route's name, as records, metrics and ``route_overrides`` name it; unique."""
    methods: list[str]
    """HTTP methods the route matches."""
    path: str
    """Path template on the canonical path; a parameter in braces (``{uuid}``) matches one lower-case UUID."""
    resource: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    """The resource type the policy decides on (zaak, rol, enkelvoudiginformatieobject, …)."""
    action: Action
    """The action the policy decides on."""
    enforce: bool = True
    """Shadow mode (roll-out) when false: decide and record, but let the request through."""
    metadata_of: str | None = None
    """The route whose JSON detail describes this resource (downloads, writes): the sidecar
    reads it first so that the decision knows the object's category."""
    expand: dict[str, str] = {}
    """ZGW ``expand`` names this route accepts, each decided as its own resource type in the
    response phase (``{"rollen": "rol"}``); any other expansion is refused (400)."""
    paginated: bool = True
    """A list the upstream answers as a ZGW page (count/next/results); false for the ZGW lists that
    are plain arrays (zaakinformatieobjecten). Any other shape is not released."""
    bestandsdeel: bool = False
    """The path's uuid names a bestandsdeel (a part of a document's chunked upload), not the
    object: the write is decided on its document, found in the map the sidecar keeps from the
    answers that created the parts; the body (multipart) is forwarded as sent."""

    @field_validator("methods")
    @classmethod
    def _methods(cls, v: list[str]) -> list[str]:
        up = [m.upper() for m in v]
        bad = [m for m in up if m not in METHODS]
        if not up or bad:
            raise ValueError(f"methods must be a non-empty subset of {sorted(METHODS)}; bad: {bad}")
        return up

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        if not v.startswith("/") or "//" in v or v.endswith("/"):
            raise ValueError(f"expected an absolute path template without // or trailing /, got {v!r}")
        for param in re.findall(r"\{([^}]*)\}", v):
            if param not in _PARAMS:
                raise ValueError(f"unknown path parameter {{{param}}}; known: {sorted(_PARAMS)}")
        return v


def _r(name: str, methods: list[str], path: str, resource: str, action: Action,
       metadata_of: str | None = None, expand: dict[str, str] | None = None, paginated: bool = True,
       bestandsdeel: bool = False) -> RouteSpec:
    return RouteSpec(name=name, methods=methods, path=path, resource=resource, action=action,
                     metadata_of=metadata_of, expand=expand or {}, paginated=paginated, bestandsdeel=bestandsdeel)


_Z = "/zaken/api/v1"
_D = "/documenten/api/v1/enkelvoudiginformatieobjecten"
_EIO = "enkelvoudiginformatieobject"
_ZIO = "zaakinformatieobject"
_OIO = "objectinformatieobject"
_DAPI = "/documenten/api/v1"

DEFAULT_ROUTES: tuple[RouteSpec, ...] = (
    _r("zaken_list", ["GET", "HEAD"], f"{_Z}/zaken", "zaak", "list", expand={"rollen": "rol"}),
    _r("zaken_create", ["POST"], f"{_Z}/zaken", "zaak", "create"),
    # ZGW search: a read with a JSON body; decided like the list (every returned zaak).
    _r("zaken_search", ["POST"], f"{_Z}/zaken/_zoek", "zaak", "list", expand={"rollen": "rol"}),
    _r("zaak_read", ["GET", "HEAD"], f"{_Z}/zaken/{{uuid}}", "zaak", "read", expand={"rollen": "rol"}),
    _r("zaak_update", ["PUT", "PATCH"], f"{_Z}/zaken/{{uuid}}", "zaak", "update", "zaak_read"),
    _r("zaak_delete", ["DELETE"], f"{_Z}/zaken/{{uuid}}", "zaak", "delete", "zaak_read"),
    _r("rollen_list", ["GET", "HEAD"], f"{_Z}/rollen", "rol", "list"),
    _r("rol_create", ["POST"], f"{_Z}/rollen", "rol", "create"),
    _r("rol_read", ["GET", "HEAD"], f"{_Z}/rollen/{{uuid}}", "rol", "read"),
    _r("rol_delete", ["DELETE"], f"{_Z}/rollen/{{uuid}}", "rol", "delete", "rol_read"),
    # Links between documents and zaken: who may see a document follows them (need-to-know).
    _r("zaakinformatieobjecten_list", ["GET", "HEAD"], f"{_Z}/zaakinformatieobjecten", _ZIO, "list",
       paginated=False),
    _r("zaakinformatieobject_create", ["POST"], f"{_Z}/zaakinformatieobjecten", _ZIO, "create"),
    _r("zaakinformatieobject_read", ["GET", "HEAD"], f"{_Z}/zaakinformatieobjecten/{{uuid}}", _ZIO, "read"),
    _r("zaakinformatieobject_delete", ["DELETE"], f"{_Z}/zaakinformatieobjecten/{{uuid}}", _ZIO, "delete",
       "zaakinformatieobject_read"),
    # What a case-worker application reads and writes of a zaak: each belongs to one zaak and is
    # decided like a rol (the zaak's category, the caller's relation to it). The methods are the
    # Zaken API's: a status is only created (a new one replaces it), a resultaat and a zaakobject
    # are also changed and deleted, decided on their current zaak (and on the new one, if the
    # write moves them).
    _r("statussen_list", ["GET", "HEAD"], f"{_Z}/statussen", "status", "list"),
    _r("status_create", ["POST"], f"{_Z}/statussen", "status", "create"),
    _r("status_read", ["GET", "HEAD"], f"{_Z}/statussen/{{uuid}}", "status", "read"),
    _r("resultaten_list", ["GET", "HEAD"], f"{_Z}/resultaten", "resultaat", "list"),
    _r("resultaat_create", ["POST"], f"{_Z}/resultaten", "resultaat", "create"),
    _r("resultaat_read", ["GET", "HEAD"], f"{_Z}/resultaten/{{uuid}}", "resultaat", "read"),
    _r("resultaat_update", ["PUT", "PATCH"], f"{_Z}/resultaten/{{uuid}}", "resultaat", "update", "resultaat_read"),
    _r("resultaat_delete", ["DELETE"], f"{_Z}/resultaten/{{uuid}}", "resultaat", "delete", "resultaat_read"),
    _r("zaakobjecten_list", ["GET", "HEAD"], f"{_Z}/zaakobjecten", "zaakobject", "list"),
    _r("zaakobject_create", ["POST"], f"{_Z}/zaakobjecten", "zaakobject", "create"),
    _r("zaakobject_read", ["GET", "HEAD"], f"{_Z}/zaakobjecten/{{uuid}}", "zaakobject", "read"),
    _r("zaakobject_update", ["PUT", "PATCH"], f"{_Z}/zaakobjecten/{{uuid}}", "zaakobject", "update",
       "zaakobject_read"),
    _r("zaakobject_delete", ["DELETE"], f"{_Z}/zaakobjecten/{{uuid}}", "zaakobject", "delete", "zaakobject_read"),
    # A zaak's audit trail holds the zaak's (and its rollen's) old and new contents: as sensitive as
    # the zaak, so the list and each entry are decided as a read of the zaak, on its metadata,
    # before they are fetched. The upstream answers an entry only under its own zaak's path.
    _r("zaak_audittrail", ["GET", "HEAD"], f"{_Z}/zaken/{{uuid}}/audittrail", "zaak", "read", "zaak_read",
       paginated=False),
    _r("zaak_audittrail_entry", ["GET", "HEAD"], f"{_Z}/zaken/{{uuid}}/audittrail/{{entry}}", "zaak", "read",
       "zaak_read"),
    _r("documenten_list", ["GET", "HEAD"], _D, _EIO, "list"),
    _r("document_create", ["POST"], _D, _EIO, "create"),
    _r("document_read", ["GET", "HEAD"], f"{_D}/{{uuid}}", _EIO, "read"),
    _r("document_update", ["PUT", "PATCH"], f"{_D}/{{uuid}}", _EIO, "update", "document_read"),
    _r("document_delete", ["DELETE"], f"{_D}/{{uuid}}", _EIO, "delete", "document_read"),
    _r("document_download", ["GET", "HEAD"], f"{_D}/{{uuid}}/download", _EIO, "download",
       "document_read"),
    # A document's audit trail holds its old and new metadata (not its content): as sensitive as
    # the document's metadata, so it is decided as a read of the document (labels, relation,
    # category) before it is fetched, like a zaak's.
    _r("document_audittrail", ["GET", "HEAD"], f"{_D}/{{uuid}}/audittrail", _EIO, "read", "document_read",
       paginated=False),
    _r("document_audittrail_entry", ["GET", "HEAD"], f"{_D}/{{uuid}}/audittrail/{{entry}}", _EIO, "read",
       "document_read"),
    # Open Zaak's write flow for a document: lock, change (a create or update with inhoud null and
    # bestandsomvang gets bestandsdelen to upload), unlock. All of them are writes to the document,
    # decided like an update on its metadata, labels and the caller's relation.
    _r("document_lock", ["POST"], f"{_D}/{{uuid}}/lock", _EIO, "update", "document_read"),
    _r("document_unlock", ["POST"], f"{_D}/{{uuid}}/unlock", _EIO, "update", "document_read"),
    _r("bestandsdeel_upload", ["PUT"], f"{_DAPI}/bestandsdelen/{{uuid}}", _EIO, "update", "document_read",
       bestandsdeel=True),
    # The Documenten API's mirror of zaakinformatieobjecten (a plain array, like those): read like them.
    _r("objectinformatieobjecten_list", ["GET", "HEAD"], f"{_DAPI}/objectinformatieobjecten", _OIO, "list",
       paginated=False),
    _r("objectinformatieobject_read", ["GET", "HEAD"], f"{_DAPI}/objectinformatieobjecten/{{uuid}}", _OIO, "read"),
)


@dataclass(frozen=True, slots=True)
class Match:
    route: RouteSpec
    resource_id: str | None


class RouteMap:
    """Precompiled matcher. ``match`` is called once per request and allocates little."""

    def __init__(self, specs: list[RouteSpec] | tuple[RouteSpec, ...]) -> None:
        self._by_name = {s.name: s for s in specs}
        self._by_method: dict[str, list[tuple[re.Pattern[str], RouteSpec]]] = {m: [] for m in METHODS}
        for spec in specs:
            if spec.metadata_of is not None and spec.metadata_of not in self._by_name:
                raise ValueError(f"route {spec.name}: metadata_of names unknown route {spec.metadata_of!r}")
            rx = re.compile("^" + re.sub(
                r"\\\{([a-z]+)\\\}", lambda m: f"(?P<{m.group(1)}>{_PARAMS[m.group(1)]})",
                re.escape(spec.path)) + "$")
            for method in spec.methods:
                self._by_method[method].append((rx, spec))

    def match(self, method: str, path: str) -> Match | None:
        for rx, spec in self._by_method.get(method, ()):
            m = rx.match(path)
            if m is not None:
                return Match(spec, m.groupdict().get("uuid"))
        return None

    def metadata_path(self, spec: RouteSpec, resource_id: str) -> str:
        """The detail path that holds the metadata of ``resource_id`` for ``spec``."""
        assert spec.metadata_of is not None
        return self._by_name[spec.metadata_of].path.replace("{uuid}", resource_id)
