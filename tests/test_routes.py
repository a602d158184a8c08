"""The route map: ZGW routes classified; anything else is not a route."""

from __future__ import annotations

import pytest

from sidecar.routes import DEFAULT_ROUTES, RouteMap, RouteSpec

U = "4f0d6a1e-1b2c-4d3e-8f90-0123456789ab"
V = "0c2b7e55-9a41-4f6d-b3e2-fedcba987654"
D = "/documenten/api/v1/enkelvoudiginformatieobjecten"
ROUTES = RouteMap(DEFAULT_ROUTES)


@pytest.mark.parametrize(("method", "path", "name", "action", "rid"), [
    ("GET", "/zaken/api/v1/zaken", "zaken_list", "list", None),
    ("HEAD", "/zaken/api/v1/zaken", "zaken_list", "list", None),
    ("POST", "/zaken/api/v1/zaken", "zaken_create", "create", None),
    ("GET", f"/zaken/api/v1/zaken/{U}", "zaak_read", "read", U),
    ("PATCH", f"/zaken/api/v1/zaken/{U}", "zaak_update", "update", U),
    ("PUT", f"/zaken/api/v1/zaken/{U}", "zaak_update", "update", U),
    ("DELETE", f"/zaken/api/v1/zaken/{U}", "zaak_delete", "delete", U),
    ("POST", "/zaken/api/v1/rollen", "rol_create", "create", None),
    # A zaak's case work, with the Zaken API's methods (a status is only created).
    ("POST", "/zaken/api/v1/statussen", "status_create", "create", None),
    ("POST", "/zaken/api/v1/resultaten", "resultaat_create", "create", None),
    ("PATCH", f"/zaken/api/v1/resultaten/{U}", "resultaat_update", "update", U),
    ("PUT", f"/zaken/api/v1/resultaten/{U}", "resultaat_update", "update", U),
    ("DELETE", f"/zaken/api/v1/resultaten/{U}", "resultaat_delete", "delete", U),
    ("POST", "/zaken/api/v1/zaakobjecten", "zaakobject_create", "create", None),
    ("PUT", f"/zaken/api/v1/zaakobjecten/{U}", "zaakobject_update", "update", U),
    ("DELETE", f"/zaken/api/v1/zaakobjecten/{U}", "zaakobject_delete", "delete", U),
    # An audit-trail entry is decided on its zaak: the id the route carries is the zaak's.
    ("GET", f"/zaken/api/v1/zaken/{U}/audittrail/{V}", "zaak_audittrail_entry", "read", U),
    ("GET", f"{D}/{U}/audittrail", "document_audittrail", "read", U),
    ("GET", f"{D}/{U}/audittrail/{V}", "document_audittrail_entry", "read", U),
    ("GET", D, "documenten_list", "list", None),
    ("POST", D, "document_create", "create", None),
    ("GET", f"{D}/{U}", "document_read", "read", U),
    ("GET", f"{D}/{U}/download", "document_download", "download", U),
    ("DELETE", f"{D}/{U}", "document_delete", "delete", U),
])
def test_known_routes(method: str, path: str, name: str, action: str, rid: str | None) -> None:
    m = ROUTES.match(method, path)
    assert m is not None
    assert (m.route.name, m.route.action, m.resource_id) == (name, action, rid)


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/zaken/api/v1/zaken/"),                      # trailing slash
    ("GET", f"/zaken/api/v1/zaken/{U.upper()}"),          # one spelling per object
    ("GET", f"/zaken/api/v1/zaken/{U}/audittrail/{U.upper()}"),  # one spelling per entry too
    ("PUT", f"/zaken/api/v1/zaken/{U}/audittrail/{U}"),   # an audit trail is only read
    ("GET", "/ZAKEN/api/v1/zaken"),
    ("PUT", f"/zaken/api/v1/statussen/{U}"),              # the Zaken API changes no status
    ("DELETE", f"/zaken/api/v1/statussen/{U}"),
    ("GET", "/catalogi/api/v1/zaaktypen"),                # the catalogue is not proxied
    ("POST", f"/zaken/api/v1/zaken/{U}"),
    ("DELETE", D),
    ("GET", f"{D}/{U}/download/extra"),
    ("GET", "/metrics"),
    ("GET", "/"),
    ("OPTIONS", "/zaken/api/v1/zaken"),
    ("GET", f"/zaken/api/v1/zaken/{U}x"),
])
def test_unknown_routes_do_not_match(method: str, path: str) -> None:
    assert ROUTES.match(method, path) is None


def test_metadata_path_for_downloads_and_writes() -> None:
    m = ROUTES.match("GET", f"{D}/{U}/download")
    assert m is not None
    assert ROUTES.metadata_path(m.route, U) == f"{D}/{U}"


def test_metadata_of_must_name_a_route() -> None:
    bad = RouteSpec(name="x", methods=["GET"], path="/x/{uuid}", resource="zaak", action="download",
                    metadata_of="nope")
    with pytest.raises(ValueError, match="unknown route"):
        RouteMap([bad])
