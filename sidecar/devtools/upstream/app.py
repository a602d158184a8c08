"""The demo upstream: a small ZGW-shaped API (Zaken + Documenten subset, minimal catalogue).

Loopback only, no authentication: in the demo the sidecar is its only client. Object URLs are
absolute and built from ``X-Forwarded-Proto`` / ``X-Forwarded-Host`` (set by the sidecar) or
else from the request's own scheme and host. Type URLs are stored as given and are based on
``catalogue_base``. See ``README.md`` in this package for the fields returned per object.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sqlite3
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException
from werkzeug.http import dump_options_header

from . import catalogue, seed, store
from .validation import (
    BETROKKENE_IDENTIFICATIE,
    BETROKKENE_TYPES,
    EIO_FIELDS,
    IMMUTABLE,
    OMSCHRIJVING_GENERIEK,
    ROL_FIELDS,
    ZAAK_FIELDS,
    ZIO_FIELDS,
    InvalidParam,
    ValidationFailed,
    clean,
    is_http_url,
)

log = logging.getLogger(__name__)

ZAKEN_API_VERSION = "1.5.1"
DOCUMENTEN_API_VERSION = "1.5.0"
ZAKEN = "/zaken/api/v1"
DOCUMENTEN = "/documenten/api/v1"
CATALOGI = "/catalogi/api/v1"
EIO_PATH = f"{DOCUMENTEN}/enkelvoudiginformatieobjecten"
ZIO_PATH = f"{ZAKEN}/zaakinformatieobjecten"
OIO_PATH = f"{DOCUMENTEN}/objectinformatieobjecten"
#: The zaak resource's paths (Open Zaak's GeoMixin): list/create, search, detail/writes.
ZAAK_RESOURCE_RE = re.compile(rf"{ZAKEN}/zaken(?:/_zoek|/[0-9a-fA-F-]{{36}})?")
CRS = "EPSG:4326"
PART_PATH = f"{DOCUMENTEN}/bestandsdelen"
#: Size of one bestandsdeel (Open Zaak's ``CHUNK_SIZE``; small here so a test uploads several).
DEFAULT_PART_SIZE = 1024 * 1024
#: The spec's ``aardRelatieWeergave`` of a zaakinformatieobject (``aardRelatie`` ``hoort_bij``).
AARD_RELATIE_HOORT_BIJ = "Hoort bij, omgekeerd: kent"
MAX_BODY_BYTES = 64 * 1024 * 1024

_HOST_RE = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?"
)
_MEDIA_TYPE_RE = re.compile(r"[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+")
_UUID_TAIL_RE = re.compile(r"/([0-9a-fA-F-]{36})/?$")

_BETALINGSINDICATIE_WEERGAVE = {
    "": "",
    "nvt": "Er is geen sprake van te betalen, met de zaak gemoeide, kosten.",
    "nog_niet": "De met de zaak gemoeide kosten zijn (nog) niet betaald.",
    "gedeeltelijk": "De met de zaak gemoeide kosten zijn gedeeltelijk betaald.",
    "geheel": "De met de zaak gemoeide kosten zijn geheel betaald.",
}


class ParseFailed(Exception):
    """The request body is not JSON."""


class NotFoundError(Exception):
    """A ZGW 404 with a specific detail text."""


# --- small helpers ---------------------------------------------------------------------------


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _today() -> str:
    return dt.datetime.now(dt.UTC).date().isoformat()


def _first(value: str | None) -> str:
    return (value or "").split(",")[0].strip()


def base_url() -> str:
    """``scheme://host`` as the client sees it: ``X-Forwarded-*`` first, else the request."""
    proto = _first(request.headers.get("X-Forwarded-Proto")).lower()
    if proto not in ("http", "https"):
        proto = request.scheme
    host = _first(request.headers.get("X-Forwarded-Host"))
    if not host or not _HOST_RE.fullmatch(host):
        host = request.host
    return f"{proto}://{host}"


def uuid_from_url(url: str, collection_path: str) -> str | None:
    """The uuid of an object URL whose path is ``{collection_path}/{uuid}`` (any host)."""
    path = urlsplit(url).path
    if not path.startswith(collection_path + "/"):
        return None
    match = _UUID_TAIL_RE.search(path)
    if match is None or path[: match.start()] != collection_path:
        return None
    try:
        return str(uuid.UUID(match.group(1)))
    except ValueError:
        return None


def json_response(
    body: Any, status: int = 200, *, headers: Mapping[str, str] | None = None
) -> Response:
    resp = Response(
        json.dumps(body, ensure_ascii=False), status=status, content_type="application/json"
    )
    for name, value in (headers or {}).items():
        resp.headers[name] = value
    return resp


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    invalid: list[InvalidParam] | None = None,
) -> Response:
    """A ZGW ``Fout`` (or ``ValidatieFout`` when ``invalid`` is given) as problem+json."""
    kind = "ValidationError" if invalid is not None else _problem_type(status)
    body: dict[str, Any] = {
        "type": f"{base_url()}/ref/fouten/{kind}/",
        "code": code,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": f"urn:uuid:{uuid.uuid4()}",
    }
    if invalid is not None:
        body["invalidParams"] = [p.as_dict() for p in invalid]
    return Response(
        json.dumps(body, ensure_ascii=False), status=status,
        content_type="application/problem+json",
    )


def _problem_type(status: int) -> str:
    return {
        400: "BadRequest", 404: "NotFound", 405: "MethodNotAllowed", 406: "NotAcceptable",
        412: "PreconditionFailed", 413: "RequestEntityTooLarge", 415: "UnsupportedMediaType",
    }.get(status, "APIException")


def json_body() -> dict[str, Any]:
    try:
        value = json.loads(request.get_data(cache=True))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParseFailed(str(exc)) from None
    if not isinstance(value, dict):
        raise ValidationFailed(
            [InvalidParam("nonFieldErrors", "invalid", "Verwachtte een JSON-object.")]
        )
    return value


def page_number() -> int:
    raw = request.args.get("page", "1")
    if not raw.isdigit() or int(raw) < 1:
        raise NotFoundError("Ongeldige pagina.")
    return int(raw)


def page_link(number: int) -> str:
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "page"]
    args.append(("page", str(number)))
    return f"{base_url()}{request.path}?{urlencode(args)}"


def immutable_check(kind: str, existing: Mapping[str, Any], data: Mapping[str, Any]) -> None:
    for name in IMMUTABLE[kind]:
        if name in data and data[name] != existing.get(name):
            raise ValidationFailed(
                [InvalidParam(name, "wijzigen-niet-toegelaten",
                              "Dit veld mag niet gewijzigd worden.")]
            )


# --- rendering -------------------------------------------------------------------------------


def render_zaak(
    zaak_uuid: str, d: Mapping[str, Any], base: str, rollen: list[str], zios: list[str]
) -> dict[str, Any]:
    betaling = d.get("betalingsindicatie", "")
    return {
        "url": f"{base}{ZAKEN}/zaken/{zaak_uuid}",
        "uuid": zaak_uuid,
        "identificatie": d["identificatie"],
        "bronorganisatie": d["bronorganisatie"],
        "omschrijving": d.get("omschrijving", ""),
        "toelichting": d.get("toelichting", ""),
        "zaaktype": d["zaaktype"],
        "registratiedatum": d["registratiedatum"],
        "verantwoordelijkeOrganisatie": d["verantwoordelijkeOrganisatie"],
        "startdatum": d["startdatum"],
        "einddatum": None,
        "einddatumGepland": d.get("einddatumGepland"),
        "uiterlijkeEinddatumAfdoening": d.get("uiterlijkeEinddatumAfdoening"),
        "publicatiedatum": d.get("publicatiedatum"),
        "vertrouwelijkheidaanduiding": d["vertrouwelijkheidaanduiding"],
        "betalingsindicatie": betaling,
        "betalingsindicatieWeergave": _BETALINGSINDICATIE_WEERGAVE.get(betaling, ""),
        "archiefnominatie": d.get("archiefnominatie"),
        "archiefstatus": d.get("archiefstatus", "nog_te_archiveren"),
        "archiefactiedatum": None,
        "hoofdzaak": None,
        "deelzaken": [],
        "relevanteAndereZaken": [],
        "eigenschappen": [],
        "rollen": [f"{base}{ZAKEN}/rollen/{r}" for r in rollen],
        "status": None,
        "resultaat": None,
        "zaakinformatieobjecten": [f"{base}{ZIO_PATH}/{z}" for z in zios],
        "zaakobjecten": [],
        "kenmerken": [],
    }


def render_rol(rol_uuid: str, d: Mapping[str, Any], base: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "url": f"{base}{ZAKEN}/rollen/{rol_uuid}",
        "uuid": rol_uuid,
        "zaak": f"{base}{ZAKEN}/zaken/{d['_zaak']}",
    }
    if d.get("betrokkene"):
        out["betrokkene"] = d["betrokkene"]
    out.update({
        "betrokkeneType": d["betrokkeneType"],
        "afwijkendeNaamBetrokkene": d.get("afwijkendeNaamBetrokkene", ""),
        "roltype": d["roltype"],
        "omschrijving": d["omschrijving"],
        "omschrijvingGeneriek": d["omschrijvingGeneriek"],
        "roltoelichting": d["roltoelichting"],
        "registratiedatum": d["registratiedatum"],
        "indicatieMachtiging": d.get("indicatieMachtiging", ""),
        "statussen": [],
        "betrokkeneIdentificatie": dict(d.get("betrokkeneIdentificatie") or {}),
    })
    return out


def render_zio(zio_uuid: str, d: Mapping[str, Any], base: str) -> dict[str, Any]:
    """A zaakinformatieobject; ``zaak`` and ``informatieobject`` are stored as uuids (this demo
    serves both APIs on one host) and rendered on the request's base, like every object URL."""
    return {
        "url": f"{base}{ZIO_PATH}/{zio_uuid}",
        "uuid": zio_uuid,
        "informatieobject": f"{base}{EIO_PATH}/{d['_document']}",
        "zaak": f"{base}{ZAKEN}/zaken/{d['_zaak']}",
        "aardRelatieWeergave": AARD_RELATIE_HOORT_BIJ,
        "titel": d.get("titel", ""),
        "beschrijving": d.get("beschrijving", ""),
        "registratiedatum": d["registratiedatum"],
        "vernietigingsdatum": d.get("vernietigingsdatum"),
        "status": None,
    }


def render_oio(zio_uuid: str, d: Mapping[str, Any], base: str) -> dict[str, Any]:
    """The Documenten API's mirror of a zaakinformatieobject (Open Zaak keeps both in step); it
    has the uuid of the zaakinformatieobject it mirrors."""
    return {
        "url": f"{base}{OIO_PATH}/{zio_uuid}",
        "informatieobject": f"{base}{EIO_PATH}/{d['_document']}",
        "object": f"{base}{ZAKEN}/zaken/{d['_zaak']}",
        "objectType": "zaak",
    }


def render_document(doc_uuid: str, d: Mapping[str, Any], base: str) -> dict[str, Any]:
    url = f"{base}{EIO_PATH}/{doc_uuid}"
    out: dict[str, Any] = {
        "url": url,
        "identificatie": d["identificatie"],
        "bronorganisatie": d["bronorganisatie"],
        "creatiedatum": d["creatiedatum"],
        "titel": d["titel"],
        "vertrouwelijkheidaanduiding": d["vertrouwelijkheidaanduiding"],
        "auteur": d["auteur"],
        "status": d.get("status", ""),
        "formaat": d.get("formaat", ""),
        "taal": d["taal"],
        "versie": d["versie"],
        "beginRegistratie": d["beginRegistratie"],
        "bestandsnaam": d.get("bestandsnaam", ""),
        "inhoud": f"{url}/download" if d.get("_inhoud") else None,
        "bestandsomvang": d.get("bestandsomvang"),
    }
    if d.get("link"):
        out["link"] = d["link"]
    out.update({
        "beschrijving": d.get("beschrijving", ""),
        "indicatieGebruiksrecht": d.get("indicatieGebruiksrecht"),
        "informatieobjecttype": d["informatieobjecttype"],
        "locked": bool(d.get("_lock")),
        "bestandsdelen": [
            {"url": f"{base}{PART_PATH}/{p['uuid']}", "volgnummer": p["volgnummer"],
             "omvang": p["omvang"], "voltooid": p["voltooid"], "lock": d.get("_lock", "")}
            for p in d.get("_delen") or []
        ],
        "trefwoorden": list(d.get("trefwoorden") or []),
    })
    return out


# --- the app ---------------------------------------------------------------------------------


def create_app(
    db_path: str,
    catalogue_base: str = catalogue.DEFAULT_CATALOGUE_BASE,
    page_size: int = 100,
    part_size: int = DEFAULT_PART_SIZE,
    *,
    require_crs: bool = False,
    zgw_secrets_file: str | None = None,
) -> Flask:
    """The demo upstream as a Flask app; creates and seeds ``db_path`` when it is fresh.

    ``zgw_secrets_file``: check JWT-ZGW as Open Zaak does: every request needs a bearer token
    signed (HS256) with one of the client secrets in that file, one per line. The file is read on
    every request, so a test can add and remove credentials the way an operator does on an Open
    Zaak Applicatie (which may hold several at once: key rotation without a gap).

    ``require_crs``: zaken requests need ``Accept-Crs`` (and a body ``Content-Crs``), as in Open
    Zaak (412 otherwise); on from the command line, off here for the unit tests' own clients."""
    if page_size < 1 or part_size < 1:
        raise ValueError("page_size and part_size must be >= 1")
    cat_base = catalogue.normalise_base(catalogue_base)
    db = store.Store(db_path)
    db.initialise(lambda conn: seed.seed(conn, cat_base), seed.SEED_VERSION)

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.config["DEMO_UPSTREAM"] = {
        "db_path": db_path, "catalogue_base": cat_base, "page_size": page_size,
    }

    def conn() -> sqlite3.Connection:
        c: sqlite3.Connection | None = g.get("demo_upstream_db")
        if c is None:
            c = db.connect()
            g.demo_upstream_db = c
        return c

    @app.teardown_appcontext
    def _close(_exc: BaseException | None) -> None:
        c = g.pop("demo_upstream_db", None)
        if c is not None:
            c.close()

    @app.before_request
    def _zgw_jwt() -> Response | None:
        if zgw_secrets_file is None:
            return None
        import jwt

        with open(zgw_secrets_file, encoding="utf-8") as f:
            secrets = [line.strip() for line in f if line.strip()]
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        for secret in secrets if scheme.lower() == "bearer" else []:
            try:
                jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["iat", "client_id"]})
                return None
            except jwt.PyJWTError:
                continue
        return problem(403, "not_authenticated", "Authenticatiegegevens zijn niet opgegeven.",
                       "Geen geldig JWT-ZGW-token (client secret onbekend of ingetrokken).")

    @app.before_request
    def _crs() -> Response | None:
        """Open Zaak's geo negotiation on the zaak resource (list, search, detail, writes): the
        spec's required ``Accept-Crs`` and, with a body, ``Content-Crs``; only EPSG:4326."""
        if not require_crs or not ZAAK_RESOURCE_RE.fullmatch(request.path) or request.method == "DELETE":
            return None
        for header, needed, status in (("Accept-Crs", True, 406),
                                       ("Content-Crs", request.method in ("POST", "PUT", "PATCH"), 415)):
            value = request.headers.get(header)
            if value is None and needed:
                return problem(412, f"missing-{header.lower()}-header", "Voorwaarde voor verzoek mislukt.",
                               f"'{header}' header ontbreekt")
            if value is not None and value.strip() != CRS:
                return problem(status, "unsupported-crs", "CRS niet ondersteund.",
                               f"'{header}': alleen {CRS} wordt ondersteund")
        return None

    @app.after_request
    def _api_version(resp: Response) -> Response:
        if request.path.startswith(ZAKEN + "/") or request.path == ZAKEN:
            resp.headers["API-version"] = ZAKEN_API_VERSION
        elif request.path.startswith(DOCUMENTEN + "/") or request.path == DOCUMENTEN:
            resp.headers["API-version"] = DOCUMENTEN_API_VERSION
        return resp

    # --- errors ---

    @app.errorhandler(ValidationFailed)
    def _invalid(exc: ValidationFailed) -> Response:
        detail = "; ".join(f"{p.name}: {p.reason}" for p in exc.params)
        return problem(400, exc.code, "Ongeldige invoer.", detail, exc.params)

    @app.errorhandler(ParseFailed)
    def _parse(exc: ParseFailed) -> Response:
        return problem(
            400, "parse_error", "Ongeldige invoer.",
            "De request body is geen geldige JSON.",
            [InvalidParam("nonFieldErrors", "parse_error", "Geen geldige JSON.")],
        )

    @app.errorhandler(NotFoundError)
    def _not_found(exc: NotFoundError) -> Response:
        return problem(404, "not_found", "Niet gevonden.", str(exc))

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        status = exc.code or 500
        code = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}.get(
            status, "error"
        )
        title = {404: "Niet gevonden.", 405: "Methode niet toegestaan.",
                 413: "Request te groot."}.get(status, exc.name)
        resp = problem(status, code, title, exc.description or exc.name)
        allow = exc.get_response().headers.get("Allow")
        if allow:
            resp.headers["Allow"] = allow
        return resp

    @app.errorhandler(Exception)
    def _crash(exc: Exception) -> Response:
        log.exception("demo upstream: unhandled error")
        return problem(500, "error", "Er is een serverfout opgetreden.", type(exc).__name__)

    # --- list helper ---

    def listing(
        table: str,
        filters: list[tuple[str, str]],
        render: Callable[[sqlite3.Connection, list[tuple[str, dict[str, Any]]], str],
                         list[dict[str, Any]]],
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        number = page_number()
        c = conn()
        base = base_url()
        with db.read(c):
            count, rows = store.page(c, table, filters, (number - 1) * page_size, page_size)
            results = render(c, rows, base)
        if number > 1 and not rows:
            raise NotFoundError("Ongeldige pagina.")
        return json_response(
            {
                "count": count,
                "next": page_link(number + 1) if number * page_size < count else None,
                "previous": page_link(number - 1) if number > 1 else None,
                "results": results,
            },
            headers=headers,
        )

    def detail(table: str, object_uuid: str,
               render: Callable[[str, Mapping[str, Any], str], dict[str, Any]]) -> Response:
        """One object of ``table``, rendered on the request's base URL; 404 when there is none."""
        data = store.get(conn(), table, object_uuid)
        if data is None:
            raise NotFoundError("Niet gevonden.")
        return json_response(render(object_uuid, data, base_url()))

    def removed(table: str, object_uuid: str) -> Response:
        """Delete one object of ``table``: 204, or 404 when there is none."""
        c = conn()
        with db.write(c):
            if not store.delete(c, table, object_uuid):
                raise NotFoundError("Niet gevonden.")
        return Response(status=204)

    def known_filters(table: str) -> list[tuple[str, str]]:
        return [
            (name, request.args[name]) for name in store.FILTERS[table] if name in request.args
        ]

    def strict_filters(table: str, *, allowed: tuple[str, ...] = ("page",)) -> list[tuple[str, str]]:
        """The list filters of ``table``; an unknown query parameter is a 400, as in Open Zaak.

        Used for the lists another application derives relations from (rollen,
        zaakinformatieobjecten): a misspelt filter must not silently widen the answer to all.
        """
        unknown = sorted(set(request.args) - set(store.FILTERS[table]) - set(allowed))
        if unknown:
            raise ValidationFailed([InvalidParam(
                "nonFieldErrors", "unknown-parameters",
                f"Onbekende query parameters: {', '.join(unknown)}")])
        return known_filters(table)

    def url_filter(
        filters: list[tuple[str, str]], name: str, collection_path: str
    ) -> list[tuple[str, str]]:
        """Replace the URL of filter ``name`` by the uuid it names (path only, any host)."""
        out = []
        for key, value in filters:
            if key == name:
                object_uuid = uuid_from_url(value, collection_path)
                if object_uuid is None:
                    raise ValidationFailed(
                        [InvalidParam(name, "invalid", "Voer een geldige URL in.")]
                    )
                value = object_uuid
            out.append((key, value))
        return out

    def choice_filter(filters: list[tuple[str, str]], name: str, choices: tuple[str, ...]) -> None:
        for key, value in filters:
            if key == name and value not in choices:
                raise ValidationFailed([InvalidParam(
                    name, "invalid_choice",
                    f"Selecteer een geldige keuze. {value} is geen beschikbare keuze.")])

    def uri_filter(filters: list[tuple[str, str]], name: str) -> None:
        for key, value in filters:
            if key == name and not is_http_url(value):
                raise ValidationFailed([InvalidParam(name, "invalid", "Voer een geldige URL in.")])

    crs = {"Content-Crs": "EPSG:4326"}

    # --- zaken ---

    def expansions() -> set[str]:
        """ZGW ``expand`` (subset): only ``rollen`` is supported by this demo. From the query, or
        from a search's JSON body (``"expand": ["rollen"]``, the Zaken API's way for ``_zoek``)."""
        asked = {e.strip() for e in request.args.get("expand", "").split(",") if e.strip()}
        body_expand = g.get("body_expand")
        if body_expand is not None:
            if not isinstance(body_expand, list) or not all(isinstance(e, str) for e in body_expand):
                raise ValidationFailed([InvalidParam("expand", "invalid", "Een lijst van namen.")])
            asked |= set(body_expand)
        unknown = sorted(asked - {"rollen"})
        if unknown:
            raise ValidationFailed([InvalidParam("expand", "unknown-expand", f"Niet ondersteund: {unknown}")])
        return asked

    def with_expand(c: sqlite3.Connection, zaak: dict[str, Any], rol_uuids: list[str], base: str,
                    asked: set[str]) -> dict[str, Any]:
        if "rollen" in asked:
            rendered = []
            for r in rol_uuids:
                rol = store.get(c, "rollen", r)
                if rol is not None:
                    rendered.append(render_rol(r, rol, base))
            zaak["_expand"] = {"rollen": rendered}
        return zaak

    def zaken_rows(
        c: sqlite3.Connection, rows: list[tuple[str, dict[str, Any]]], base: str
    ) -> list[dict[str, Any]]:
        asked = expansions()
        zaak_uuids = [u for u, _ in rows]
        rollen = store.uuids_by_zaak(c, "rollen", zaak_uuids)
        zios = store.uuids_by_zaak(c, "zaakinformatieobjecten", zaak_uuids)
        return [
            with_expand(c, render_zaak(u, d, base, rollen[u], zios[u]), rollen[u], base, asked)
            for u, d in rows
        ]

    def zaak_defaults(data: dict[str, Any], existing: Mapping[str, Any] | None) -> dict[str, Any]:
        out = dict(data)
        if "identificatie" not in out or not out["identificatie"]:
            out["identificatie"] = (
                existing["identificatie"] if existing
                else f"ZAAK-{_today()[:4]}-{uuid.uuid4().hex[:10].upper()}"
            )
        out.setdefault(
            "registratiedatum", existing["registratiedatum"] if existing else _today()
        )
        if "vertrouwelijkheidaanduiding" not in out:
            entry = catalogue.lookup(cat_base, "zaaktypen", out["zaaktype"])
            out["vertrouwelijkheidaanduiding"] = (
                entry.vertrouwelijkheidaanduiding if entry else "zaakvertrouwelijk"
            )
        out.setdefault("archiefstatus", "nog_te_archiveren")
        return out

    def one_zaak(c: sqlite3.Connection, zaak_uuid: str) -> Response:
        data = store.get(c, "zaken", zaak_uuid)
        if data is None:
            raise NotFoundError("Niet gevonden.")
        rollen = store.uuids_by_zaak(c, "rollen", [zaak_uuid])[zaak_uuid]
        zios = store.uuids_by_zaak(c, "zaakinformatieobjecten", [zaak_uuid])[zaak_uuid]
        base = base_url()
        zaak = with_expand(
            c, render_zaak(zaak_uuid, data, base, rollen, zios), rollen, base, expansions()
        )
        return json_response(zaak, headers=crs)

    @app.get(f"{ZAKEN}/zaken")
    def zaken_list() -> Response:
        filters = known_filters("zaken")
        return listing("zaken", filters, zaken_rows, headers=crs)

    @app.post(f"{ZAKEN}/zaken/_zoek")
    def zaken_zoek() -> Response:
        # ZGW's search: the list filters in a JSON body (a read, not a write).
        body = json_body()
        g.body_expand = body.pop("expand", None)
        unknown = sorted(set(body) - set(store.FILTERS["zaken"]))
        if unknown:
            raise ValidationFailed([InvalidParam(k, "unknown-parameters", "Onbekende zoekparameter.")
                                    for k in unknown])
        filters = [(name, str(body[name])) for name in store.FILTERS["zaken"] if name in body]
        return listing("zaken", filters, zaken_rows, headers=crs)

    def audit(data: dict[str, Any], zaak_uuid: str, actie: str, old: Mapping[str, Any] | None, *,
              resource: str = "zaak") -> None:
        """An audit trail entry of a write (the Zaken and Documenten APIs' AuditTrail), kept with
        the object: a zaak's, or (``resource="enkelvoudiginformatieobject"``) a document's."""
        document = resource == "enkelvoudiginformatieobject"
        url = f"{base_url()}{EIO_PATH}/{zaak_uuid}" if document else f"{base_url()}{ZAKEN}/zaken/{zaak_uuid}"

        def public(d: Mapping[str, Any] | None) -> dict[str, Any] | None:
            return None if d is None else {k: v for k, v in d.items() if not k.startswith("_")}

        data.setdefault("_audit", []).append({
            "uuid": str(uuid.uuid4()), "bron": "DRC" if document else "ZRC", "applicatieId": "",
            "applicatieWeergave": "", "gebruikersId": "", "gebruikersWeergave": "", "actie": actie,
            "actieWeergave": {"create": "Object aangemaakt", "update": "Object bijgewerkt",
                              "partial_update": "Object deels bijgewerkt"}[actie],
            "resultaat": 201 if actie == "create" else 200, "hoofdObject": url, "resource": resource,
            "resourceUrl": url, "toelichting": "", "resourceWeergave": data.get("identificatie", ""),
            "aanmaakdatum": _now(), "wijzigingen": {"oud": public(old), "nieuw": public(data)},
        })

    def audittrail(table: str, obj_id: uuid.UUID, audit_id: uuid.UUID | None = None) -> Response:
        """An object's audit trail (a plain array, as the specs say), or one entry of it: an entry
        is found only under its own object."""
        data = store.get(conn(), table, str(obj_id))
        if data is None:
            raise NotFoundError("Niet gevonden.")
        if audit_id is None:
            return json_response(data.get("_audit") or [])
        for entry in data.get("_audit") or []:
            if entry["uuid"] == str(audit_id):
                return json_response(entry)
        raise NotFoundError("Niet gevonden.")

    for _table, _path in (("zaken", f"{ZAKEN}/zaken/<uuid:obj_id>"), ("documenten", f"{EIO_PATH}/<uuid:obj_id>")):
        app.add_url_rule(f"{_path}/audittrail", f"{_table}_audittrail",
                         lambda obj_id, table=_table: audittrail(table, obj_id))
        app.add_url_rule(f"{_path}/audittrail/<uuid:audit_id>", f"{_table}_audittrail_read",
                         lambda obj_id, audit_id, table=_table: audittrail(table, obj_id, audit_id))

    # --- statussen, resultaten, zaakobjecten: objects of one zaak (create, list by zaak, detail; resultaten
    # and zaakobjecten also PUT/PATCH/DELETE, as the Zaken API has them) ---

    def render_deel(kind: str, deel_uuid: str, d: Mapping[str, Any], base: str, latest: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"url": f"{base}{ZAKEN}/{kind}/{deel_uuid}", "uuid": deel_uuid,
                               "zaak": f"{base}{ZAKEN}/zaken/{d['_zaak']}"}
        out.update({k: v for k, v in d.items() if not k.startswith("_")})
        if kind == "statussen":
            out.update({"indicatieLaatstGezetteStatus": latest, "gezetdoor": None, "zaakinformatieobjecten": []})
        return out

    def latest_status(c: sqlite3.Connection, zaak_uuid: str) -> str | None:
        rows = store.every(c, "deelobjecten", [("kind", "statussen"), ("zaak", zaak_uuid)])
        return rows[-1][0] if rows else None

    def deel_rows(kind: str) -> Callable[[sqlite3.Connection, list[tuple[str, dict[str, Any]]], str],
                                         list[dict[str, Any]]]:
        def render(c: sqlite3.Connection, rows: list[tuple[str, dict[str, Any]]], base: str) -> list[dict[str, Any]]:
            return [render_deel(kind, u, d, base, kind == "statussen" and latest_status(c, d["_zaak"]) == u)
                    for u, d in rows]
        return render

    #: per kind: the fields a create takes (name → required), all strings.
    deel_fields: dict[str, dict[str, bool]] = {
        "statussen": {"statustype": True, "datumStatusGezet": True, "statustoelichting": False},
        "resultaten": {"resultaattype": True, "toelichting": False},
        "zaakobjecten": {"object": False, "zaakobjecttype": False, "objectType": True, "objectTypeOverige": False,
                         "objectTypeOverigeDefinitie": False, "relatieomschrijving": False},
    }

    def deel_list(kind: str) -> Response:
        # Only the zaak filter (and page): any other parameter is a 400, never a wider answer.
        unknown = sorted(set(request.args) - {"zaak", "page"})
        if unknown:
            raise ValidationFailed([InvalidParam(
                "nonFieldErrors", "unknown-parameters", f"Onbekende query parameters: {', '.join(unknown)}")])
        filters = url_filter([(k, v) for k, v in request.args.items() if k == "zaak"], "zaak", f"{ZAKEN}/zaken")
        return listing("deelobjecten", [("kind", kind), *filters], deel_rows(kind))

    def deel_create(kind: str) -> Response:
        body = json_body()
        fields = deel_fields[kind]
        zaak_uuid = uuid_from_url(str(body.get("zaak", "")), f"{ZAKEN}/zaken")
        problems = [] if zaak_uuid else [InvalidParam("zaak", "bad-url", "Geen zaak-URL.")]
        problems += [InvalidParam(n, "required", "Dit veld is vereist.")
                     for n, required in fields.items() if required and not isinstance(body.get(n), str)]
        if problems:
            raise ValidationFailed(problems)
        data: dict[str, Any] = {"_kind": kind, "_zaak": zaak_uuid}
        data.update({n: body.get(n, "") if fields[n] or n in body else "" for n in fields})
        deel_uuid = str(uuid.uuid4())
        c = conn()
        with db.write(c):
            if store.get(c, "zaken", str(zaak_uuid)) is None:
                raise ValidationFailed([InvalidParam("zaak", "does-not-exist", "De zaak bestaat niet.")])
            store.insert(c, "deelobjecten", deel_uuid, data, zaak_uuid=zaak_uuid)
        out = render_deel(kind, deel_uuid, data, base_url(), True)
        return json_response(out, 201, headers={"Location": out["url"]})

    def deel_read(kind: str, deel_id: uuid.UUID) -> Response:
        c = conn()
        data = store.get(c, "deelobjecten", str(deel_id))
        if data is None or data.get("_kind") != kind:
            raise NotFoundError("Niet gevonden.")
        latest = kind == "statussen" and latest_status(c, data["_zaak"]) == str(deel_id)
        return json_response(render_deel(kind, str(deel_id), data, base_url(), latest))

    def deel_update(kind: str, deel_id: uuid.UUID) -> Response:
        """PUT (the create's required fields again) or PATCH of a resultaat or zaakobject. Its zaak
        stays what it is (a changed ``zaak`` is a 400, as for a zaakinformatieobject)."""
        body = json_body()
        fields = deel_fields[kind]
        partial = request.method == "PATCH"
        c = conn()
        with db.write(c):
            existing = store.get(c, "deelobjecten", str(deel_id))
            if existing is None or existing.get("_kind") != kind:
                raise NotFoundError("Niet gevonden.")
            zaak = body.get("zaak")
            if zaak is not None and uuid_from_url(str(zaak), f"{ZAKEN}/zaken") != existing["_zaak"]:
                raise ValidationFailed([InvalidParam("zaak", "wijzigen-niet-toegelaten",
                                                     "Dit veld mag niet gewijzigd worden.")])
            problems = [] if partial or zaak is not None else [InvalidParam("zaak", "required", "Dit veld is vereist.")]
            problems += [InvalidParam(n, "required", "Dit veld is vereist.") for n, required in fields.items()
                         if required and not partial and not isinstance(body.get(n), str)]
            problems += [InvalidParam(n, "invalid", "Geen geldige tekenreeks.") for n in fields
                         if n in body and not isinstance(body[n], str)]
            if problems:
                raise ValidationFailed(problems)
            data = dict(existing)
            data.update({n: body[n] if n in body else ("" if not partial else existing.get(n, "")) for n in fields})
            store.update(c, "deelobjecten", str(deel_id), data)
        return json_response(render_deel(kind, str(deel_id), data, base_url(), False))

    def deel_delete(kind: str, deel_id: uuid.UUID) -> Response:
        existing = store.get(conn(), "deelobjecten", str(deel_id))
        if existing is None or existing.get("_kind") != kind:
            raise NotFoundError("Niet gevonden.")
        return removed("deelobjecten", str(deel_id))

    for _kind in deel_fields:
        app.add_url_rule(f"{ZAKEN}/{_kind}", f"{_kind}_list", lambda kind=_kind: deel_list(kind), methods=["GET"])
        app.add_url_rule(f"{ZAKEN}/{_kind}", f"{_kind}_create", lambda kind=_kind: deel_create(kind), methods=["POST"])
        app.add_url_rule(f"{ZAKEN}/{_kind}/<uuid:deel_id>", f"{_kind}_read",
                         lambda deel_id, kind=_kind: deel_read(kind, deel_id), methods=["GET"])
        if _kind != "statussen":  # the Zaken API changes and deletes no status: a new one replaces it
            app.add_url_rule(f"{ZAKEN}/{_kind}/<uuid:deel_id>", f"{_kind}_update",
                             lambda deel_id, kind=_kind: deel_update(kind, deel_id), methods=["PUT", "PATCH"])
            app.add_url_rule(f"{ZAKEN}/{_kind}/<uuid:deel_id>", f"{_kind}_delete",
                             lambda deel_id, kind=_kind: deel_delete(kind, deel_id), methods=["DELETE"])

    @app.post(f"{ZAKEN}/zaken")
    def zaak_create() -> Response:
        data = zaak_defaults(clean(json_body(), ZAAK_FIELDS, partial=False), None)
        zaak_uuid = str(uuid.uuid4())
        audit(data, zaak_uuid, "create", None)
        c = conn()
        with db.write(c):
            store.insert(c, "zaken", zaak_uuid, data)
        body = render_zaak(zaak_uuid, data, base_url(), [], [])
        return json_response(body, 201, headers={**crs, "Location": body["url"]})

    @app.get(f"{ZAKEN}/zaken/<uuid:zaak_id>")
    def zaak_read(zaak_id: uuid.UUID) -> Response:
        return one_zaak(conn(), str(zaak_id))

    @app.route(f"{ZAKEN}/zaken/<uuid:zaak_id>", methods=["PUT", "PATCH"])
    def zaak_update(zaak_id: uuid.UUID) -> Response:
        zaak_uuid = str(zaak_id)
        body = json_body()
        partial = request.method == "PATCH"
        c = conn()
        with db.write(c):
            existing = store.get(c, "zaken", zaak_uuid)
            if existing is None:
                raise NotFoundError("Niet gevonden.")
            data = clean(body, ZAAK_FIELDS, partial=partial)
            immutable_check("zaak", existing, data)
            new = {**existing, **data} if partial else zaak_defaults(data, existing)
            new["_audit"] = existing.get("_audit") or []
            audit(new, zaak_uuid, "partial_update" if partial else "update", existing)
            store.update(c, "zaken", zaak_uuid, new)
        return one_zaak(c, zaak_uuid)

    @app.delete(f"{ZAKEN}/zaken/<uuid:zaak_id>")
    def zaak_delete(zaak_id: uuid.UUID) -> Response:
        return removed("zaken", str(zaak_id))

    # --- rollen ---

    def rollen_rows(
        _c: sqlite3.Connection, rows: list[tuple[str, dict[str, Any]]], base: str
    ) -> list[dict[str, Any]]:
        return [render_rol(u, d, base) for u, d in rows]

    @app.get(f"{ZAKEN}/rollen")
    def rollen_list() -> Response:
        filters = url_filter(strict_filters("rollen"), "zaak", f"{ZAKEN}/zaken")
        choice_filter(filters, "betrokkeneType", BETROKKENE_TYPES)
        choice_filter(filters, "omschrijvingGeneriek", OMSCHRIJVING_GENERIEK)
        uri_filter(filters, "roltype")
        uri_filter(filters, "betrokkene")
        return listing("rollen", filters, rollen_rows)

    @app.post(f"{ZAKEN}/rollen")
    def rol_create() -> Response:
        body = json_body()
        data = clean(body, ROL_FIELDS, partial=False)
        ident_raw = body.get("betrokkeneIdentificatie")
        ident: dict[str, Any] = {}
        if ident_raw is not None:
            if not isinstance(ident_raw, dict):
                raise ValidationFailed([InvalidParam(
                    "betrokkeneIdentificatie", "invalid", "Verwachtte een JSON-object.")])
            ident = clean(
                ident_raw, BETROKKENE_IDENTIFICATIE[data["betrokkeneType"]], partial=True,
                prefix="betrokkeneIdentificatie.",
            )
        if not data.get("betrokkene") and not ident:
            raise ValidationFailed([InvalidParam(
                "nonFieldErrors", "invalid-betrokkene",
                "Geef `betrokkene` of `betrokkeneIdentificatie` op.")])
        zaak_uuid = uuid_from_url(data.pop("zaak"), f"{ZAKEN}/zaken")
        if zaak_uuid is None:
            raise ValidationFailed([InvalidParam("zaak", "bad-url", "Geen zaak-URL.")])
        entry = catalogue.lookup(cat_base, "roltypen", data["roltype"])
        rol: dict[str, Any] = {
            "_zaak": zaak_uuid,
            **data,
            "omschrijving": entry.omschrijving if entry else "",
            "omschrijvingGeneriek": (entry.omschrijving_generiek or "") if entry else "",
            "registratiedatum": _now(),
            "betrokkeneIdentificatie": ident,
        }
        rol_uuid = str(uuid.uuid4())
        c = conn()
        with db.write(c):
            if store.get(c, "zaken", zaak_uuid) is None:
                raise ValidationFailed(
                    [InvalidParam("zaak", "does-not-exist", "De zaak bestaat niet.")]
                )
            store.insert(c, "rollen", rol_uuid, rol, zaak_uuid=zaak_uuid)
        out = render_rol(rol_uuid, rol, base_url())
        return json_response(out, 201, headers={"Location": out["url"]})

    @app.get(f"{ZAKEN}/rollen/<uuid:rol_id>")
    def rol_read(rol_id: uuid.UUID) -> Response:
        return detail("rollen", str(rol_id), render_rol)

    @app.delete(f"{ZAKEN}/rollen/<uuid:rol_id>")
    def rol_delete(rol_id: uuid.UUID) -> Response:
        return removed("rollen", str(rol_id))

    # --- zaakinformatieobjecten ---

    @app.get(ZIO_PATH)
    def zios_list() -> Response:
        # The spec's list is a plain JSON array (not paginated in Zaken API 1.5).
        filters = url_filter(strict_filters("zaakinformatieobjecten", allowed=()),
                             "zaak", f"{ZAKEN}/zaken")
        filters = url_filter(filters, "informatieobject", EIO_PATH)
        c = conn()
        base = base_url()
        with db.read(c):
            rows = store.every(c, "zaakinformatieobjecten", filters)
        return json_response([render_zio(u, d, base) for u, d in rows])

    @app.post(ZIO_PATH)
    def zio_create() -> Response:
        data = clean(json_body(), ZIO_FIELDS, partial=False)
        zaak_uuid = uuid_from_url(data.pop("zaak"), f"{ZAKEN}/zaken")
        doc_uuid = uuid_from_url(data.pop("informatieobject"), EIO_PATH)
        if zaak_uuid is None or doc_uuid is None:
            raise ValidationFailed([
                InvalidParam(name, "bad-url", "Geen geldige URL van dit object.")
                for name, found in (("zaak", zaak_uuid), ("informatieobject", doc_uuid))
                if found is None
            ])
        zio: dict[str, Any] = {
            "_zaak": zaak_uuid, "_document": doc_uuid, **data, "registratiedatum": _now(),
        }
        zio_uuid = str(uuid.uuid4())
        c = conn()
        with db.write(c):
            zaak = store.get(c, "zaken", zaak_uuid)
            doc_exists = store.exists(c, "documenten", doc_uuid)
            if zaak is None or not doc_exists:
                raise ValidationFailed([
                    InvalidParam(name, "does-not-exist", "Het object bestaat niet.")
                    for name, found in (("zaak", zaak is not None), ("informatieobject", doc_exists))
                    if not found
                ])
            if zaak.get("archiefstatus", "nog_te_archiveren") != "nog_te_archiveren":
                raise ValidationFailed([InvalidParam(
                    "nonFieldErrors", "zaak-archiefstatus-invalid",
                    "De huidige zaak archiefstatus staat dit request niet toe. Archiefstatus"
                    " moet gelijk zijn aan 'nog_te_archiveren'")])
            if store.zio_pair(c, zaak_uuid, doc_uuid):
                raise ValidationFailed([InvalidParam(
                    "nonFieldErrors", "unique",
                    "De velden zaak, informatieobject moeten een unieke set zijn.")])
            store.insert(c, "zaakinformatieobjecten", zio_uuid, zio,
                         zaak_uuid=zaak_uuid, document_uuid=doc_uuid)
        out = render_zio(zio_uuid, zio, base_url())
        return json_response(out, 201, headers={"Location": out["url"]})

    @app.get(f"{ZIO_PATH}/<uuid:zio_id>")
    def zio_read(zio_id: uuid.UUID) -> Response:
        return detail("zaakinformatieobjecten", str(zio_id), render_zio)

    @app.delete(f"{ZIO_PATH}/<uuid:zio_id>")
    def zio_delete(zio_id: uuid.UUID) -> Response:
        return removed("zaakinformatieobjecten", str(zio_id))

    # --- enkelvoudiginformatieobjecten ---

    def documenten_rows(
        _c: sqlite3.Connection, rows: list[tuple[str, dict[str, Any]]], base: str
    ) -> list[dict[str, Any]]:
        return [render_document(u, d, base) for u, d in rows]

    def document_data(
        data: dict[str, Any], existing: Mapping[str, Any] | None, partial: bool
    ) -> tuple[dict[str, Any], bytes | None]:
        content: bytes | None = data.pop("inhoud", None)
        data.pop("lock", None)
        if partial and existing is not None:
            out = {**existing, **data}
        else:
            out = dict(data)
            if not out.get("identificatie"):
                out["identificatie"] = (
                    existing["identificatie"] if existing
                    else f"DOCUMENT-{_today()[:4]}-{uuid.uuid4().hex[:10].upper()}"
                )
            if "vertrouwelijkheidaanduiding" not in out:
                entry = catalogue.lookup(
                    cat_base, "informatieobjecttypen", out["informatieobjecttype"]
                )
                out["vertrouwelijkheidaanduiding"] = (
                    entry.vertrouwelijkheidaanduiding if entry else "zaakvertrouwelijk"
                )
        if content is not None:
            out["_inhoud"] = True
            out["bestandsomvang"] = len(content)
        elif existing is not None and existing.get("_inhoud"):
            out["_inhoud"] = True
            out["bestandsomvang"] = existing.get("bestandsomvang")
        else:
            out["_inhoud"] = False
            out.setdefault("bestandsomvang", None)
        out["versie"] = int(existing["versie"]) + 1 if existing else 1
        out["beginRegistratie"] = _now()
        return out, content

    @app.get(EIO_PATH)
    def documenten_list() -> Response:
        return listing("documenten", known_filters("documenten"), documenten_rows)

    def chunked(cleaned: Mapping[str, Any]) -> int | None:
        """The announced size when a write asks for an upload in parts (Documenten API: ``inhoud``
        null and ``bestandsomvang`` > 0), else None."""
        size = cleaned.get("bestandsomvang")
        if "inhoud" in cleaned and cleaned["inhoud"] is None and isinstance(size, int) and size > 0:
            return size
        return None

    def start_upload(c: sqlite3.Connection, doc_uuid: str, data: dict[str, Any], size: int) -> None:
        """Empty bestandsdelen of ``part_size`` bytes (the last one smaller) for ``size`` bytes; the
        document is locked (a new lock unless it has one) and has no content until every part is
        uploaded and it is unlocked."""
        parts = [(str(uuid.uuid4()), number, min(part_size, size - offset))
                 for number, offset in enumerate(range(0, size, part_size), start=1)]
        data["_delen"] = [{"uuid": u, "volgnummer": n, "omvang": omvang, "voltooid": False}
                          for u, n, omvang in parts]
        data["_lock"] = data.get("_lock") or uuid.uuid4().hex
        data["_inhoud"] = False
        data["bestandsomvang"] = size
        store.add_parts(c, doc_uuid, parts)

    def lock_problem(code: str, reason: str) -> ValidationFailed:
        return ValidationFailed([InvalidParam("lock" if code != "unlocked" else "nonFieldErrors", code, reason)])

    def check_lock(existing: Mapping[str, Any], given: Any) -> None:
        """A locked document is changed only with its lock (an unlocked one, unlike in Open Zaak,
        also without: see README "Behaviour worth knowing")."""
        if existing.get("_lock") and given != existing["_lock"]:
            raise lock_problem("incorrect-lock-id" if given else "missing-lock-id",
                               "Het document is vergrendeld; geef de juiste lock op.")

    @app.post(EIO_PATH)
    def document_create() -> Response:
        cleaned = clean(json_body(), EIO_FIELDS, partial=False)
        size = chunked(cleaned)
        data, content = document_data(cleaned, None, partial=False)
        doc_uuid = str(uuid.uuid4())
        audit(data, doc_uuid, "create", None, resource="enkelvoudiginformatieobject")
        c = conn()
        with db.write(c):
            store.insert(c, "documenten", doc_uuid, data, inhoud=content)
            if size is not None:
                start_upload(c, doc_uuid, data, size)
                store.update(c, "documenten", doc_uuid, data)
        out = render_document(doc_uuid, data, base_url())
        if size is not None:
            out["lock"] = data["_lock"]  # EnkelvoudigInformatieObjectCreateLock: the lock to upload with
        return json_response(out, 201, headers={"Location": out["url"]})

    @app.get(f"{EIO_PATH}/<uuid:doc_id>")
    def document_read(doc_id: uuid.UUID) -> Response:
        return detail("documenten", str(doc_id), render_document)

    @app.route(f"{EIO_PATH}/<uuid:doc_id>", methods=["PUT", "PATCH"])
    def document_update(doc_id: uuid.UUID) -> Response:
        doc_uuid = str(doc_id)
        body = json_body()
        partial = request.method == "PATCH"
        c = conn()
        with db.write(c):
            existing = store.get(c, "documenten", doc_uuid)
            if existing is None:
                raise NotFoundError("Niet gevonden.")
            check_lock(existing, body.get("lock"))
            cleaned = clean(body, EIO_FIELDS, partial=partial)
            immutable_check("eio", existing, cleaned)
            size = chunked(cleaned) if existing.get("_lock") else None
            data, content = document_data(cleaned, existing, partial)
            # A PUT replaces the fields, not the lock, its parts or the audit trail.
            for kept in ("_lock", "_delen", "_audit"):
                if kept in existing:
                    data[kept] = existing[kept]
            audit(data, doc_uuid, "partial_update" if partial else "update", existing,
                  resource="enkelvoudiginformatieobject")
            if size is not None:
                start_upload(c, doc_uuid, data, size)
            store.update(c, "documenten", doc_uuid, data, inhoud=content)
        return json_response(render_document(doc_uuid, data, base_url()))

    @app.delete(f"{EIO_PATH}/<uuid:doc_id>")
    def document_delete(doc_id: uuid.UUID) -> Response:
        c = conn()
        with db.write(c):
            if not store.exists(c, "documenten", str(doc_id)):
                raise NotFoundError("Niet gevonden.")
            # The Documenten API refuses while relations exist (Open Zaak: pending-relations).
            if store.document_has_relations(c, str(doc_id)):
                raise ValidationFailed([InvalidParam(
                    "nonFieldErrors", "pending-relations",
                    "Object kan niet verwijderd worden: er zijn nog zaakinformatieobjecten.")])
            store.delete(c, "documenten", str(doc_id))
        return Response(status=204)

    @app.post(f"{EIO_PATH}/<uuid:doc_id>/lock")
    def document_lock(doc_id: uuid.UUID) -> Response:
        c = conn()
        with db.write(c):
            data = store.get(c, "documenten", str(doc_id))
            if data is None:
                raise NotFoundError("Niet gevonden.")
            if data.get("_lock"):
                raise lock_problem("existing-lock", "Het document is al vergrendeld.")
            data["_lock"] = uuid.uuid4().hex
            store.update(c, "documenten", str(doc_id), data)
        return json_response({"lock": data["_lock"]})

    @app.post(f"{EIO_PATH}/<uuid:doc_id>/unlock")
    def document_unlock(doc_id: uuid.UUID) -> Response:
        raw = request.get_data(cache=True)
        body = json_body() if raw.strip() else {}
        doc_uuid = str(doc_id)
        c = conn()
        with db.write(c):
            data = store.get(c, "documenten", doc_uuid)
            if data is None:
                raise NotFoundError("Niet gevonden.")
            if not data.get("_lock"):
                raise lock_problem("unlocked", "Het document is niet vergrendeld.")
            check_lock(data, body.get("lock"))
            parts = store.parts_of(c, doc_uuid)
            if any(inhoud is None for _, _, _, inhoud in parts):
                raise ValidationFailed([InvalidParam(
                    "nonFieldErrors", "incomplete-upload", "Niet alle bestandsdelen zijn geüpload.")])
            content = None
            if parts:
                # Every part arrived: they become the document's content, in order.
                content = b"".join(inhoud or b"" for _, _, _, inhoud in parts)
                data["_inhoud"], data["bestandsomvang"], data["_delen"] = True, len(content), []
                store.drop_parts(c, doc_uuid)
            data.pop("_lock", None)
            store.update(c, "documenten", doc_uuid, data, inhoud=content)
        return Response(status=204)

    @app.put(f"{PART_PATH}/<uuid:part_id>")
    def bestandsdeel_upload(part_id: uuid.UUID) -> Response:
        mime = request.mimetype
        if mime not in ("multipart/form-data", "application/x-www-form-urlencoded"):
            return problem(415, "unsupported_media_type", "Niet ondersteund mediatype.",
                           "Een bestandsdeel wordt als multipart/form-data verstuurd.")
        upload = request.files.get("inhoud")
        inhoud = upload.read() if upload is not None else request.form.get("inhoud", "").encode() or None
        given = request.form.get("lock")
        missing = [name for name, v in (("lock", given), ("inhoud", inhoud)) if not v]
        if missing:
            raise ValidationFailed([InvalidParam(n, "required", "Dit veld is vereist.") for n in missing])
        part_uuid = str(part_id)
        c = conn()
        with db.write(c):
            found = store.part(c, part_uuid)
            if found is None:
                raise NotFoundError("Niet gevonden.")
            doc_uuid, volgnummer, omvang = found
            data = store.get(c, "documenten", doc_uuid) or {}
            check_lock(data, given)
            assert inhoud is not None
            if len(inhoud) != omvang:
                raise ValidationFailed([InvalidParam(
                    "inhoud", "file-size", f"Het bestandsdeel moet {omvang} bytes zijn.")])
            store.put_part(c, part_uuid, inhoud)
            for deel in data.get("_delen") or []:
                if deel["uuid"] == part_uuid:
                    deel["voltooid"] = True
            store.update(c, "documenten", doc_uuid, data)
        return json_response({"url": f"{base_url()}{PART_PATH}/{part_uuid}", "volgnummer": volgnummer,
                              "omvang": omvang, "voltooid": True, "lock": str(given)})

    # --- objectinformatieobjecten (the Documenten API's mirror of zaakinformatieobjecten) ---

    def oio_filters() -> list[tuple[str, str]]:
        unknown = sorted(set(request.args) - {"object", "informatieobject"})
        if unknown:
            raise ValidationFailed([InvalidParam(
                "nonFieldErrors", "unknown-parameters",
                f"Onbekende query parameters: {', '.join(unknown)}")])
        filters = [("zaak" if k == "object" else k, v) for k, v in request.args.items()]
        filters = url_filter(filters, "zaak", f"{ZAKEN}/zaken")
        return url_filter(filters, "informatieobject", EIO_PATH)

    @app.get(OIO_PATH)
    def oios_list() -> Response:
        # A plain JSON array, as the spec says; only zaak relations exist in this demo.
        filters = oio_filters()
        c = conn()
        base = base_url()
        with db.read(c):
            rows = store.every(c, "zaakinformatieobjecten", filters)
        return json_response([render_oio(u, d, base) for u, d in rows])

    @app.get(f"{OIO_PATH}/<uuid:oio_id>")
    def oio_read(oio_id: uuid.UUID) -> Response:
        return detail("zaakinformatieobjecten", str(oio_id), render_oio)

    @app.get(f"{EIO_PATH}/<uuid:doc_id>/download")
    def document_download(doc_id: uuid.UUID) -> Response:
        c = conn()
        with db.read(c):
            data = store.get(c, "documenten", str(doc_id))
            content = store.get_inhoud(c, str(doc_id)) if data is not None else None
        if data is None or content is None:
            raise NotFoundError("Niet gevonden.")
        formaat = str(data.get("formaat") or "")
        media_type = formaat if _MEDIA_TYPE_RE.fullmatch(formaat) else "application/octet-stream"
        resp = Response(content, status=200, content_type=media_type)
        resp.headers["Content-Length"] = str(len(content))
        name = str(data.get("bestandsnaam") or "")
        safe = "".join(ch for ch in name if ch.isascii() and ch.isprintable() and ch not in '"\\')
        if safe:
            resp.headers["Content-Disposition"] = dump_options_header(
                "attachment", {"filename": safe}
            )
        return resp

    # --- catalogue ---

    @app.get(f"{CATALOGI}/<kind>")
    def catalogue_list(kind: str) -> Response:
        entries = catalogue.KINDS.get(kind)
        if entries is None:
            raise NotFoundError("Niet gevonden.")
        results = [catalogue.render(cat_base, kind, e) for e in entries.values()]
        return json_response(
            {"count": len(results), "next": None, "previous": None, "results": results}
        )

    @app.get(f"{CATALOGI}/<kind>/<code>")
    def catalogue_read(kind: str, code: str) -> Response:
        entry = catalogue.KINDS.get(kind, {}).get(code)
        if entry is None:
            raise NotFoundError("Niet gevonden.")
        return json_response(catalogue.render(cat_base, kind, entry))

    return app
