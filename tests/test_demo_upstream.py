"""Tests of the demo upstream (``sidecar.devtools.upstream``), including validation of its responses
against the ZGW specs in ``tests/fixtures/zgw/`` (Zaken API 1.5.1, Documenten API 1.5.0).

Schema conversion, OpenAPI 3.0 → JSON Schema 2020-12: ``nullable: true`` becomes
``anyOf: [<schema>, {"type": "null"}]``; ``readOnly``/``writeOnly``/``discriminator``/``example``
are dropped; ``$ref``s resolve inside each spec document. No ``required`` entries are dropped:
the demo returns every field that the spec's response schemas (``Zaak``, ``Rol``,
``EnkelvoudigInformatieObject``/``SchemaEIO``/``EnkelvoudigInformatieObjectWithLock``) require
(see ``OMITTED_REQUIRED``). Besides the schema, every returned key must be a property the spec
defines (the schemas allow additional properties, the demo should not invent any).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import threading
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from sidecar.devtools.upstream import (
    BENCHMARK_DOCUMENT_UUID,
    BSN_DE_VRIES,
    CATEGORIES,
    GEMEENTE_RSIN,
    create_app,
    manifest,
)
from sidecar.devtools.upstream.__main__ import build_parser, main

FIXTURES = Path(__file__).parent / "fixtures" / "zgw"
CAT = "http://127.0.0.1:8081/catalogi/api/v1"
EIO = "/documenten/api/v1/enkelvoudiginformatieobjecten"
ZAKEN = "/zaken/api/v1/zaken"
ROLLEN = "/zaken/api/v1/rollen"
FWD = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "sidecar.example:8443"}
FWD_BASE = "https://sidecar.example:8443"

#: Spec-required response fields the demo intentionally omits (dropped from ``required`` before
#: validating). Empty: every required field is returned.
OMITTED_REQUIRED: dict[str, tuple[str, ...]] = {}


# --- schema machinery ------------------------------------------------------------------------

_DROP = {"readOnly", "writeOnly", "discriminator", "example", "xml", "externalDocs"}


def _to_jsonschema(node: Any) -> Any:
    if isinstance(node, list):
        return [_to_jsonschema(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _to_jsonschema(v) for k, v in node.items() if k not in _DROP and k != "nullable"}
    if node.get("nullable") is True:
        return {"anyOf": [out, {"type": "null"}]}
    return out


def _load(name: str) -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with (FIXTURES / name).open(encoding="utf-8") as fh:
        data: dict[str, Any] = yaml.load(fh, Loader=loader)  # noqa: S506 - a safe loader
    return data


SPEC_URIS = {"zaken": "urn:zgw:zaken-api", "documenten": "urn:zgw:documenten-api"}


@functools.cache
def _specs() -> dict[str, dict[str, Any]]:
    return {
        "zaken": _load("zaken-api-openapi.yaml"),
        "documenten": _load("documenten-api-openapi.yaml"),
    }


@functools.cache
def _registry() -> Registry:
    resources = []
    for api, spec in _specs().items():
        converted = _to_jsonschema(spec)
        for name, dropped in OMITTED_REQUIRED.items():
            comp = converted["components"]["schemas"].get(name)
            if comp is not None and "required" in comp:
                comp["required"] = [r for r in comp["required"] if r not in dropped]
        resources.append(
            (SPEC_URIS[api], Resource.from_contents(converted, default_specification=DRAFT202012))
        )
    return Registry().with_resources(resources)


def _uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    return len(value) == 10 and bool(dt.date.fromisoformat(value))


def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parsed = dt.datetime.fromisoformat(value)
    return "T" in value and parsed.tzinfo is not None


def _uuid(value: object) -> bool:
    return not isinstance(value, str) or bool(uuid.UUID(value))


def _format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())
    checker.checks("uri")(_uri)
    checker.checks("date", raises=ValueError)(_date)
    checker.checks("date-time", raises=ValueError)(_date_time)
    checker.checks("uuid", raises=ValueError)(_uuid)
    return checker


FORMATS = _format_checker()


def assert_valid(api: str, schema_name: str, instance: Any) -> None:
    validator = Draft202012Validator(
        {"$ref": f"{SPEC_URIS[api]}#/components/schemas/{schema_name}"},
        registry=_registry(),
        format_checker=FORMATS,
    )
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(
        f"{schema_name} {'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:10]
    )


def _properties(api: str, schema_name: str) -> dict[str, Any]:
    """Property schemas of a component, following ``allOf``."""
    schema = _specs()[api]["components"]["schemas"][schema_name]
    props: dict[str, Any] = dict(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        ref = part.get("$ref", "")
        if ref:
            props.update(_properties(api, ref.rsplit("/", 1)[1]))
    return props


def assert_known_keys(api: str, schema_name: str, obj: dict[str, Any]) -> None:
    unknown = set(obj) - set(_properties(api, schema_name))
    assert not unknown, f"{schema_name}: fields not in the spec: {sorted(unknown)}"


ROL_SCHEMAS = {
    "natuurlijk_persoon": ("natuurlijk_persoon_Rol", "RolNatuurlijkPersoon"),
    "niet_natuurlijk_persoon": ("niet_natuurlijk_persoon_Rol", "RolNietNatuurlijkPersoon"),
    "vestiging": ("vestiging_Rol", "RolVestiging"),
    "organisatorische_eenheid": ("organisatorische_eenheid_Rol", "RolOrganisatorischeEenheid"),
    "medewerker": ("medewerker_Rol", "RolMedewerker"),
}


def check_zaak(obj: dict[str, Any]) -> None:
    assert_valid("zaken", "Zaak", obj)
    assert_known_keys("zaken", "Zaak", obj)


def check_rol(obj: dict[str, Any]) -> None:
    assert_valid("zaken", "Rol", obj)
    variant, ident = ROL_SCHEMAS[obj["betrokkeneType"]]  # the discriminator mapping
    assert_valid("zaken", variant, obj)
    assert_known_keys("zaken", variant, obj)
    assert_known_keys("zaken", ident, obj["betrokkeneIdentificatie"])


def check_eio(obj: dict[str, Any], schema_name: str = "SchemaEIO") -> None:
    assert_valid("documenten", "EnkelvoudigInformatieObject", obj)
    assert_valid("documenten", schema_name, obj)
    assert_known_keys("documenten", schema_name, obj)


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    return create_app(str(tmp_path / "upstream.sqlite3"), CAT)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def _category(type_url: str) -> str:
    return type_url.rsplit("/", 1)[1]


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def eio_body(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "bronorganisatie": GEMEENTE_RSIN,
        "creatiedatum": "2026-03-01",
        "titel": "Indicatiebesluit Wlz (kopie)",
        "auteur": "CIZ",
        "taal": "nld",
        "formaat": "text/plain",
        "bestandsnaam": "indicatiebesluit.txt",
        "vertrouwelijkheidaanduiding": "vertrouwelijk",
        "status": "definitief",
        "informatieobjecttype": f"{CAT}/informatieobjecttypen/medisch",
        "inhoud": base64.b64encode(b"Indicatie: zorgprofiel 4.\n").decode(),
    }
    body.update(over)
    return body


def zaak_body(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "bronorganisatie": GEMEENTE_RSIN,
        "verantwoordelijkeOrganisatie": GEMEENTE_RSIN,
        "zaaktype": f"{CAT}/zaaktypen/algemeen",
        "startdatum": "2026-03-02",
        "omschrijving": "Melding zorgen over woonsituatie",
    }
    body.update(over)
    return body


# --- seed ------------------------------------------------------------------------------------


def test_seed_first_page_has_each_category(client: FlaskClient) -> None:
    resp = client.get(EIO)
    assert resp.status_code == 200
    assert resp.content_type == "application/json"
    assert resp.headers["API-version"] == "1.5.0"
    page = resp.get_json()
    assert page["count"] == len(page["results"]) <= 20
    assert page["next"] is None and page["previous"] is None
    cats = {_category(d["informatieobjecttype"]) for d in page["results"]}
    assert cats == set(CATEGORIES) == {"algemeen", "medisch", "wvggz_wzd", "coordinatiedossier"}
    for doc in page["results"]:
        cat = _category(doc["informatieobjecttype"])
        assert doc["informatieobjecttype"] == f"{CAT}/informatieobjecttypen/{cat}"
        assert doc["taal"] == "nld" and doc["locked"] is False and doc["versie"] == 1
        assert len(doc["bronorganisatie"]) == 9 and doc["bronorganisatie"].isdigit()
        assert doc["formaat"] in ("text/plain", "application/pdf", "application/octet-stream")
        if cat in ("medisch", "wvggz_wzd"):
            assert doc["vertrouwelijkheidaanduiding"] in ("vertrouwelijk", "confidentieel")


def test_seed_small_page_still_has_each_category(tmp_path: Path) -> None:
    client = create_app(str(tmp_path / "db.sqlite3"), CAT, page_size=4).test_client()
    page = client.get(EIO).get_json()
    assert page["count"] == 10 and len(page["results"]) == 4
    assert {_category(d["informatieobjecttype"]) for d in page["results"]} == set(CATEGORIES)


def test_seed_is_deterministic_and_matches_manifest(tmp_path: Path) -> None:
    a = create_app(str(tmp_path / "a.sqlite3"), CAT).test_client().get(EIO).get_json()
    b = create_app(str(tmp_path / "b.sqlite3"), CAT).test_client().get(EIO).get_json()
    assert [d["url"] for d in a["results"]] == [d["url"] for d in b["results"]]
    m = manifest(CAT)
    assert [d["url"].rsplit("/", 1)[1] for d in a["results"]] == [
        d["uuid"] for d in m["documenten"]
    ]
    assert [d["informatieobjecttype"] for d in a["results"]] == [
        d["informatieobjecttype"] for d in m["documenten"]
    ]


def test_seed_zaken_and_coordinatiedossier_rollen(client: FlaskClient) -> None:
    zaken = client.get(ZAKEN).get_json()
    assert 2 <= zaken["count"] <= 3
    coord = [z for z in zaken["results"] if z["zaaktype"] == f"{CAT}/zaaktypen/coordinatiedossier"]
    assert len(coord) == 1
    rollen = [client.get(_path(u)).get_json() for u in coord[0]["rollen"]]
    persons = [r for r in rollen if r["betrokkeneType"] == "natuurlijk_persoon"]
    assert persons
    assert persons[0]["betrokkeneIdentificatie"]["inpBsn"] == BSN_DE_VRIES == "999990019"
    assert all(r["zaak"] == coord[0]["url"] for r in rollen)


def test_reopen_does_not_reseed(tmp_path: Path) -> None:
    db = str(tmp_path / "db.sqlite3")
    client = create_app(db, CAT).test_client()
    first = client.get(EIO).get_json()["results"][0]["url"]
    assert client.delete(_path(first)).status_code == 204
    again = create_app(db, CAT).test_client().get(EIO).get_json()
    assert again["count"] == 9


# --- catalogue -------------------------------------------------------------------------------


@pytest.mark.parametrize("code", CATEGORIES)
def test_catalogue_informatieobjecttype(client: FlaskClient, code: str) -> None:
    resp = client.get(f"/catalogi/api/v1/informatieobjecttypen/{code}")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["url"] == f"{CAT}/informatieobjecttypen/{code}"
    assert set(body) == {"url", "omschrijving", "vertrouwelijkheidaanduiding"}


def test_catalogue_zaaktypen_and_unknown(client: FlaskClient) -> None:
    for code in ("algemeen", "coordinatiedossier"):
        body = client.get(f"/catalogi/api/v1/zaaktypen/{code}").get_json()
        assert body["url"] == f"{CAT}/zaaktypen/{code}"
    assert client.get("/catalogi/api/v1/zaaktypen/medisch").status_code == 404
    assert client.get("/catalogi/api/v1/informatieobjecttypen/onbekend").status_code == 404
    listing = client.get("/catalogi/api/v1/informatieobjecttypen").get_json()
    assert {_category(t["url"]) for t in listing["results"]} == set(CATEGORIES)


def test_custom_catalogue_base(tmp_path: Path) -> None:
    base = "https://catalogi.example/api/v1/"
    client = create_app(str(tmp_path / "db.sqlite3"), base).test_client()
    doc = client.get(EIO).get_json()["results"][0]
    assert doc["informatieobjecttype"].startswith(
        "https://catalogi.example/api/v1/informatieobjecttypen/"
    )
    body = client.get("/catalogi/api/v1/zaaktypen/algemeen").get_json()
    assert body["url"] == "https://catalogi.example/api/v1/zaaktypen/algemeen"


# --- pagination ------------------------------------------------------------------------------


def test_pagination_shape(tmp_path: Path) -> None:
    client = create_app(str(tmp_path / "db.sqlite3"), CAT, page_size=3).test_client()
    p1 = client.get(EIO, headers=FWD).get_json()
    assert set(p1) == {"count", "next", "previous", "results"}
    assert p1["count"] == 10 and len(p1["results"]) == 3 and p1["previous"] is None
    assert p1["next"] == f"{FWD_BASE}{EIO}?page=2"
    p2 = client.get(_path(p1["next"]), headers=FWD).get_json()
    assert p2["previous"] == f"{FWD_BASE}{EIO}?page=1"
    p4 = client.get(f"{EIO}?page=4").get_json()
    assert len(p4["results"]) == 1 and p4["next"] is None
    assert p4["previous"] == f"http://localhost{EIO}?page=3"
    seen = [d["url"] for p in (p1, p2) for d in p["results"]]
    assert len(set(seen)) == 6
    for bad in ("5", "0", "x", "-1"):
        resp = client.get(f"{EIO}?page={bad}")
        assert resp.status_code == 404
        assert_valid("documenten", "Fout", resp.get_json())


def test_pagination_keeps_filters(tmp_path: Path) -> None:
    client = create_app(str(tmp_path / "db.sqlite3"), CAT, page_size=1).test_client()
    page = client.get(f"{ZAKEN}?bronorganisatie={GEMEENTE_RSIN}").get_json()
    assert page["count"] == 3
    assert parse_qs(urlsplit(page["next"]).query) == {
        "bronorganisatie": [GEMEENTE_RSIN], "page": ["2"],
    }
    assert client.get(f"{ZAKEN}?bronorganisatie=123456782").get_json()["count"] == 0


# --- documents -------------------------------------------------------------------------------


def test_create_document_url_from_forwarded_headers(client: FlaskClient) -> None:
    content = b"Indicatie: zorgprofiel 4.\n"
    resp = client.post(EIO, json=eio_body(), headers=FWD)
    assert resp.status_code == 201
    assert resp.content_type == "application/json"
    doc = resp.get_json()
    assert doc["url"].startswith(f"{FWD_BASE}{EIO}/")
    assert resp.headers["Location"] == doc["url"]
    doc_uuid = doc["url"].rsplit("/", 1)[1]
    assert str(uuid.UUID(doc_uuid)) == doc_uuid
    assert doc["inhoud"] == f"{doc['url']}/download"
    assert doc["informatieobjecttype"] == f"{CAT}/informatieobjecttypen/medisch"
    assert doc["bestandsomvang"] == len(content) and doc["versie"] == 1
    assert doc["locked"] is False
    # without forwarded headers the URL uses the request's own host
    again = client.get(f"{EIO}/{doc_uuid}").get_json()
    assert again["url"] == f"http://localhost{EIO}/{doc_uuid}"
    assert client.get(_path(doc["inhoud"])).data == content


def test_forwarded_host_garbage_is_ignored(client: FlaskClient) -> None:
    bad = {"X-Forwarded-Proto": "javascript", "X-Forwarded-Host": "evil.example/path?"}
    doc = client.get(EIO, headers=bad).get_json()["results"][0]
    assert doc["url"].startswith(f"http://localhost{EIO}/")
    multi = {"X-Forwarded-Proto": "https, http", "X-Forwarded-Host": "a.example, b.example"}
    assert client.get(EIO, headers=multi).get_json()["results"][0]["url"].startswith(
        f"https://a.example{EIO}/"
    )


def test_detail_and_404(client: FlaskClient) -> None:
    doc_uuid = manifest(CAT)["documenten"][1]["uuid"]
    resp = client.get(f"{EIO}/{doc_uuid}")
    assert resp.status_code == 200 and resp.headers["API-version"] == "1.5.0"
    assert _category(resp.get_json()["informatieobjecttype"]) == "medisch"
    for path in (f"{EIO}/{uuid.uuid4()}", f"{EIO}/not-a-uuid", f"{ZAKEN}/{uuid.uuid4()}",
                 f"{ROLLEN}/{uuid.uuid4()}", f"{EIO}/{uuid.uuid4()}/download", "/nowhere",
                 "/zaken/api/v1/statussen"):
        resp = client.get(path)
        assert resp.status_code == 404, path
        assert resp.content_type == "application/problem+json"
        body = resp.get_json()
        assert body["status"] == 404 and body["code"] == "not_found"
        assert_valid("zaken", "Fout", body)
    assert client.get(f"{ZAKEN}/{uuid.uuid4()}").headers["API-version"] == "1.5.1"
    assert client.put(f"{EIO}/{uuid.uuid4()}", json=eio_body()).status_code == 404
    assert client.delete(f"{ZAKEN}/{uuid.uuid4()}").status_code == 404


def test_download_bytes_and_content_length(client: FlaskClient) -> None:
    docs = client.get(EIO).get_json()["results"]
    for doc in docs:
        resp = client.get(_path(doc["inhoud"]))
        assert resp.status_code == 200
        assert resp.headers["Content-Type"] == doc["formaat"]
        assert int(resp.headers["Content-Length"]) == len(resp.data) == doc["bestandsomvang"]
        if doc["formaat"] == "application/pdf":
            assert resp.data.startswith(b"%PDF-1.4") and resp.data.rstrip().endswith(b"%%EOF")
            startxref = int(resp.data.rsplit(b"startxref", 1)[1].split()[0])
            assert resp.data[startxref:].startswith(b"xref")
            table = resp.data[startxref:].split(b"trailer")[0].splitlines()[3:]
            for number, line in enumerate(table, start=1):
                offset = int(line.split()[0])
                assert resp.data[offset:].startswith(f"{number} 0 obj".encode())
        if doc["formaat"] == "text/plain":
            assert resp.data.decode("utf-8")
        assert doc["bestandsnaam"] in resp.headers["Content-Disposition"]
    head = client.head(_path(docs[0]["inhoud"]))
    assert head.status_code == 200 and int(head.headers["Content-Length"]) > 0


def test_one_mib_document(client: FlaskClient) -> None:
    doc = client.get(f"{EIO}/{BENCHMARK_DOCUMENT_UUID}").get_json()
    assert doc["bestandsomvang"] == 1048576
    assert doc["formaat"] == "application/octet-stream"
    assert _category(doc["informatieobjecttype"]) == "algemeen"
    resp = client.get(f"{EIO}/{BENCHMARK_DOCUMENT_UUID}/download")
    assert resp.status_code == 200
    assert resp.headers["Content-Length"] == "1048576" and len(resp.data) == 1048576
    assert resp.headers["Content-Type"] == "application/octet-stream"
    assert BENCHMARK_DOCUMENT_UUID in {d["uuid"] for d in manifest(CAT)["documenten"]}


def test_patch_put_delete_document(client: FlaskClient) -> None:
    doc = client.post(EIO, json=eio_body()).get_json()
    path = _path(doc["url"])
    resp = client.patch(path, json={"titel": "Indicatiebesluit Wlz (herzien)", "lock": "x"})
    assert resp.status_code == 200
    patched = resp.get_json()
    assert patched["titel"] == "Indicatiebesluit Wlz (herzien)" and patched["versie"] == 2
    assert patched["bestandsomvang"] == doc["bestandsomvang"]
    check_eio(patched, "EnkelvoudigInformatieObjectWithLock")
    new = base64.b64encode(b"nieuwe inhoud").decode()
    resp = client.patch(path, json={"inhoud": new})
    assert resp.get_json()["bestandsomvang"] == len(b"nieuwe inhoud")
    assert client.get(f"{path}/download").data == b"nieuwe inhoud"
    # the type (and so the category) cannot change
    other_type = f"{CAT}/informatieobjecttypen/algemeen"
    resp = client.patch(path, json={"informatieobjecttype": other_type})
    assert resp.status_code == 400
    assert resp.get_json()["invalidParams"][0]["code"] == "wijzigen-niet-toegelaten"
    # PUT replaces the writable fields and needs the required ones
    body = eio_body(titel="Vervangen", inhoud=None)
    resp = client.put(path, json=body)
    assert resp.status_code == 200
    put = resp.get_json()
    assert put["titel"] == "Vervangen" and put["versie"] == 4
    assert put["bestandsomvang"] == len(b"nieuwe inhoud")  # content kept when inhoud is null
    check_eio(put, "EnkelvoudigInformatieObjectWithLock")
    resp = client.put(path, json={"titel": "alleen titel"})
    assert resp.status_code == 400
    assert client.delete(path).status_code == 204
    assert client.get(path).status_code == 404
    assert client.get(f"{path}/download").status_code == 404
    assert client.delete(path).status_code == 404


def test_validation_error_on_bad_create(client: FlaskClient) -> None:
    resp = client.post(EIO, json={"titel": "Zonder verplichte velden"})
    assert resp.status_code == 400
    assert resp.content_type == "application/problem+json"
    err = resp.get_json()
    assert {"type", "code", "title", "status", "detail", "invalidParams"} <= set(err)
    assert err["status"] == 400
    names = {p["name"] for p in err["invalidParams"] if p["code"] == "required"}
    assert names == {"bronorganisatie", "creatiedatum", "auteur", "taal", "informatieobjecttype"}
    assert_valid("documenten", "ValidatieFout", err)
    cases: list[tuple[dict[str, Any], str, str]] = [
        (eio_body(inhoud="!!geen base64!!"), "inhoud", "invalid"),
        (eio_body(bronorganisatie="123456789"), "bronorganisatie", "invalid"),
        (eio_body(taal="nl"), "taal", "min_length"),
        (eio_body(vertrouwelijkheidaanduiding="supergeheim"), "vertrouwelijkheidaanduiding",
         "invalid_choice"),
        (eio_body(creatiedatum="1-3-2026"), "creatiedatum", "invalid"),
        (eio_body(informatieobjecttype="medisch"), "informatieobjecttype", "invalid"),
        (eio_body(titel="x" * 201), "titel", "max_length"),
        (eio_body(auteur=""), "auteur", "blank"),
    ]
    for body, name, code in cases:
        resp = client.post(EIO, json=body)
        assert resp.status_code == 400, body
        params = resp.get_json()["invalidParams"]
        assert {"name": name, "code": code} == {k: params[0][k] for k in ("name", "code")}
        assert_valid("documenten", "ValidatieFout", resp.get_json())
    assert client.get(EIO).get_json()["count"] == 10  # nothing was written


@pytest.mark.parametrize("path", [EIO, ZAKEN, ROLLEN])
def test_non_json_bodies_are_400(client: FlaskClient, path: str) -> None:
    for data, ctype in ((b"titel=x", "application/x-www-form-urlencoded"),
                        (b"{not json", "application/json"), (b"[1, 2]", "application/json"),
                        (b"\xff\xfe", "application/json")):
        resp = client.post(path, data=data, content_type=ctype)
        assert resp.status_code == 400, (path, data)
        assert_valid("zaken", "ValidatieFout", resp.get_json())


# --- zaken and rollen ------------------------------------------------------------------------


def test_zaak_crud(client: FlaskClient) -> None:
    resp = client.post(ZAKEN, json=zaak_body(), headers=FWD)
    assert resp.status_code == 201 and resp.headers["API-version"] == "1.5.1"
    zaak = resp.get_json()
    assert zaak["url"] == f"{FWD_BASE}{ZAKEN}/{zaak['uuid']}" == resp.headers["Location"]
    assert zaak["vertrouwelijkheidaanduiding"] == "zaakvertrouwelijk"  # from the zaaktype
    assert zaak["identificatie"] and zaak["rollen"] == []
    check_zaak(zaak)
    path = f"{ZAKEN}/{zaak['uuid']}"
    patched = client.patch(path, json={"omschrijving": "Bijgewerkt"}).get_json()
    assert patched["omschrijving"] == "Bijgewerkt" and patched["startdatum"] == "2026-03-02"
    check_zaak(patched)
    resp = client.patch(path, json={"zaaktype": f"{CAT}/zaaktypen/coordinatiedossier"})
    assert resp.status_code == 400
    put = client.put(path, json=zaak_body(omschrijving="Vervangen", toelichting="Nieuw"))
    assert put.status_code == 200
    assert put.get_json()["identificatie"] == zaak["identificatie"]
    check_zaak(put.get_json())
    assert client.put(path, json={"omschrijving": "x"}).status_code == 400
    # rollen of a deleted zaak go with it
    rol = client.post(ROLLEN, json=_rol_body(zaak["url"])).get_json()
    assert client.delete(path).status_code == 204
    assert client.get(path).status_code == 404
    assert client.get(_path(rol["url"])).status_code == 404


def _rol_body(zaak_url: str, **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "zaak": zaak_url,
        "betrokkeneType": "natuurlijk_persoon",
        "roltype": f"{CAT}/roltypen/belanghebbende",
        "roltoelichting": "Betrokkene",
        "betrokkeneIdentificatie": {"inpBsn": "999990020", "geslachtsnaam": "El Amrani"},
    }
    body.update(over)
    return body


def test_rollen(client: FlaskClient) -> None:
    coord = manifest(CAT)["zaken"][2]
    assert coord["category"] == "coordinatiedossier"
    zaak_url = f"http://localhost{ZAKEN}/{coord['uuid']}"
    listing = client.get(ROLLEN, query_string={"zaak": zaak_url}).get_json()
    assert listing["count"] == 2
    by_bsn = client.get(
        ROLLEN, query_string={"betrokkeneIdentificatie__natuurlijkPersoon__inpBsn": BSN_DE_VRIES}
    ).get_json()
    assert by_bsn["count"] == 2  # the Wmo initiator and the coordinatiedossier betrokkene
    bsn_filter = {"rol__betrokkeneIdentificatie__natuurlijkPersoon__inpBsn": BSN_DE_VRIES}
    zaken = client.get(ZAKEN, query_string=bsn_filter).get_json()
    assert zaken["count"] == 2
    # the sidecar's URL of the zaak works too (only the path is used)
    resp = client.post(ROLLEN, json=_rol_body(f"{FWD_BASE}{ZAKEN}/{coord['uuid']}"), headers=FWD)
    assert resp.status_code == 201
    rol = resp.get_json()
    assert rol["url"].startswith(f"{FWD_BASE}{ROLLEN}/")
    assert rol["zaak"] == f"{FWD_BASE}{ZAKEN}/{coord['uuid']}"
    assert rol["omschrijvingGeneriek"] == "belanghebbende"
    check_rol(rol)
    stored = client.get(_path(rol["url"])).get_json()
    assert stored["betrokkeneIdentificatie"]["inpBsn"] == "999990020"
    assert client.get(ROLLEN, query_string={"zaak": zaak_url}).get_json()["count"] == 3
    # errors
    for body, name, code in (
        (_rol_body(f"http://localhost{ZAKEN}/{uuid.uuid4()}"), "zaak", "does-not-exist"),
        (_rol_body("http://localhost/elders/1"), "zaak", "bad-url"),
        (_rol_body(zaak_url, betrokkeneType="robot"), "betrokkeneType", "invalid_choice"),
        (_rol_body(zaak_url, betrokkeneIdentificatie={"inpBsn": "123456789"}),
         "betrokkeneIdentificatie.inpBsn", "invalid"),
    ):
        resp = client.post(ROLLEN, json=body)
        assert resp.status_code == 400, body
        param = resp.get_json()["invalidParams"][0]
        assert (param["name"], param["code"]) == (name, code)
    assert client.get(ROLLEN, query_string={"zaak": "geen-url"}).status_code == 400


# --- schema validation -----------------------------------------------------------------------


def test_schema_zaken_list_detail_create(client: FlaskClient) -> None:
    page = client.get(ZAKEN, headers=FWD).get_json()
    assert_valid("zaken", "PaginatedZaakList", page)
    for zaak in page["results"]:
        check_zaak(zaak)
        check_zaak(client.get(_path(zaak["url"])).get_json())
    created = client.post(ZAKEN, json=zaak_body(einddatumGepland=None, betalingsindicatie="nvt"))
    check_zaak(created.get_json())


def test_schema_rollen_list_detail_create(client: FlaskClient) -> None:
    page = client.get(ROLLEN).get_json()
    assert_valid("zaken", "PaginatedRolList", page)
    assert {r["betrokkeneType"] for r in page["results"]} == {"natuurlijk_persoon", "medewerker"}
    for rol in page["results"]:
        check_rol(rol)
        check_rol(client.get(_path(rol["url"])).get_json())
    zaak_url = client.get(ZAKEN).get_json()["results"][0]["url"]
    for kind, ident in (
        ("medewerker", {"identificatie": "mw-42", "achternaam": "Bakker"}),
        ("organisatorische_eenheid", {"identificatie": "WT-NOORD", "naam": "Wijkteam Noord"}),
        ("niet_natuurlijk_persoon", {"innNnpId": "123456782", "statutaireNaam": "Stichting X"}),
        ("vestiging", {"vestigingsNummer": "000012345678", "handelsnaam": ["Zorg BV"]}),
    ):
        resp = client.post(ROLLEN, json=_rol_body(
            zaak_url, betrokkeneType=kind, betrokkeneIdentificatie=ident,
            roltype=f"{CAT}/roltypen/behandelaar"))
        assert resp.status_code == 201, resp.get_json()
        check_rol(resp.get_json())


def test_schema_documenten_list_detail_create(client: FlaskClient) -> None:
    page = client.get(EIO, headers=FWD).get_json()
    assert_valid("documenten", "PaginatedEnkelvoudigInformatieObjectList", page)
    for doc in page["results"]:
        check_eio(doc, "EnkelvoudigInformatieObject")
        check_eio(client.get(_path(doc["url"])).get_json())
    body = eio_body(trefwoorden=["wlz"], indicatieGebruiksrecht=None, link="https://x.example/a")
    assert_valid("documenten", "EnkelvoudigInformatieObjectCreateLockRequest", body)
    resp = client.post(EIO, json=body)
    assert resp.status_code == 201
    check_eio(resp.get_json())
    without_content = eio_body()
    del without_content["inhoud"]
    resp = client.post(EIO, json=without_content)
    assert resp.status_code == 201 and resp.get_json()["inhoud"] is None
    check_eio(resp.get_json())
    assert client.get(f"{_path(resp.get_json()['url'])}/download").status_code == 404


# --- robustness ------------------------------------------------------------------------------


def test_concurrent_requests(app: Flask) -> None:
    errors: list[str] = []

    def worker(n: int) -> None:
        client = app.test_client()
        for i in range(5):
            resp = client.post(EIO, json=eio_body(titel=f"Document {n}-{i}"))
            if resp.status_code != 201:
                errors.append(f"create {resp.status_code}")
            if client.get(EIO).status_code != 200:
                errors.append("list")
            if client.get(f"{EIO}/{BENCHMARK_DOCUMENT_UUID}/download").status_code != 200:
                errors.append("download")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert app.test_client().get(EIO).get_json()["count"] == 10 + 8 * 5


def test_cli_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for word in ("--host", "--port", "--db", "--catalogue-base", "127.0.0.1", "authentication"):
        assert word in out
    args = build_parser().parse_args(["--db", "x.sqlite3"])
    assert (args.host, args.port, args.catalogue_base) == ("127.0.0.1", 8081, None)


def test_memory_db_is_refused() -> None:
    with pytest.raises(ValueError, match="file path"):
        create_app(":memory:", CAT)


def test_schema_checker_rejects_bad_objects(client: FlaskClient) -> None:
    """The validation above has teeth: spec violations are reported."""
    good = client.get(f"{EIO}/{BENCHMARK_DOCUMENT_UUID}").get_json()
    check_eio(good)
    for field, value in (("vertrouwelijkheidaanduiding", "x"), ("taal", "nl"),
                         ("url", "not a url"), ("creatiedatum", "2026-13-01"),
                         ("locked", None), ("bestandsomvang", "12"), ("titel", "x" * 201)):
        with pytest.raises(AssertionError):
            assert_valid("documenten", "SchemaEIO", {**good, field: value})
    with pytest.raises(AssertionError):
        assert_valid("documenten", "SchemaEIO", {k: v for k, v in good.items() if k != "versie"})
    with pytest.raises(AssertionError):
        assert_known_keys("documenten", "SchemaEIO", {**good, "uuid": "x"})
    zaak = client.get(ZAKEN).get_json()["results"][0]
    assert_valid("zaken", "Zaak", {**zaak, "einddatum": None})  # nullable
    with pytest.raises(AssertionError):
        assert_valid("zaken", "Zaak", {**zaak, "startdatum": None})  # not nullable
    with pytest.raises(AssertionError):
        assert_valid("zaken", "Zaak", {**zaak, "archiefnominatie": "bewaren"})
