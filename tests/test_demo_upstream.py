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
import sqlite3
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

from sidecar.devtools.keys import DEMO_ORG
from sidecar.devtools.upstream import (
    BENCHMARK_DOCUMENT_UUID,
    BSN_DE_VRIES,
    CATEGORIES,
    DEMO_USERS,
    GEMEENTE_RSIN,
    create_app,
    manifest,
    relations,
    seed,
    store,
)
from sidecar.devtools.upstream.__main__ import build_parser, main
from sidecar.devtools.upstream.validation import BETROKKENE_TYPES, OMSCHRIJVING_GENERIEK

FIXTURES = Path(__file__).parent / "fixtures" / "zgw"
CAT = "http://127.0.0.1:8081/catalogi/api/v1"
EIO = "/documenten/api/v1/enkelvoudiginformatieobjecten"
ZAKEN = "/zaken/api/v1/zaken"
ROLLEN = "/zaken/api/v1/rollen"
ZIO = "/zaken/api/v1/zaakinformatieobjecten"
#: What the seed holds (asserted against the manifest in test_seed_counts).
SEED_DOCS, SEED_ZAKEN, SEED_ROLLEN, SEED_ZIOS = 16, 11, 39, 18
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
    assert page["count"] == SEED_DOCS and len(page["results"]) == 4
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
    assert zaken["count"] == SEED_ZAKEN
    coord = [z for z in zaken["results"] if z["zaaktype"] == f"{CAT}/zaaktypen/coordinatiedossier"]
    assert len(coord) == 3  # the first one is the seed's original coordination zaak
    assert coord[0]["identificatie"] == "ZAAK-2026-0000123"
    rollen = [client.get(_path(u)).get_json() for u in coord[0]["rollen"]]
    persons = [r for r in rollen if r["betrokkeneType"] == "natuurlijk_persoon"]
    assert persons
    assert persons[0]["betrokkeneIdentificatie"]["inpBsn"] == BSN_DE_VRIES == "999990019"
    assert all(r["zaak"] == coord[0]["url"] for r in rollen)


def test_reopen_does_not_reseed(tmp_path: Path) -> None:
    db = str(tmp_path / "db.sqlite3")
    client = create_app(db, CAT).test_client()
    first = client.get(EIO).get_json()["results"][0]["url"]
    # a document that belongs to a zaak cannot be deleted (Documenten API: pending relations)
    resp = client.delete(_path(first))
    assert resp.status_code == 400
    assert resp.get_json()["invalidParams"][0]["code"] == "pending-relations"
    assert_valid("documenten", "ValidatieFout", resp.get_json())
    links = client.get(ZIO, query_string={"informatieobject": first}).get_json()
    assert len(links) == 1
    assert client.delete(_path(links[0]["url"])).status_code == 204
    assert client.delete(_path(first)).status_code == 204
    again = create_app(db, CAT).test_client()
    assert again.get(EIO).get_json()["count"] == SEED_DOCS - 1
    assert len(again.get(ZIO).get_json()) == SEED_ZIOS - 1


# --- catalogue -------------------------------------------------------------------------------


@pytest.mark.parametrize("code", CATEGORIES)
def test_catalogue_informatieobjecttype(client: FlaskClient, code: str) -> None:
    resp = client.get(f"/catalogi/api/v1/informatieobjecttypen/{code}")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["url"] == f"{CAT}/informatieobjecttypen/{code}"
    assert set(body) == {"url", "omschrijving", "vertrouwelijkheidaanduiding"}


def test_catalogue_zaaktypen_and_unknown(client: FlaskClient) -> None:
    for code in CATEGORIES:  # one zaaktype per data category
        body = client.get(f"/catalogi/api/v1/zaaktypen/{code}").get_json()
        assert body["url"] == f"{CAT}/zaaktypen/{code}"
    listing = client.get("/catalogi/api/v1/zaaktypen").get_json()
    assert {_category(t["url"]) for t in listing["results"]} == set(CATEGORIES)
    assert client.get("/catalogi/api/v1/zaaktypen/onbekend").status_code == 404
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
    assert p1["count"] == SEED_DOCS == 16 and len(p1["results"]) == 3 and p1["previous"] is None
    assert p1["next"] == f"{FWD_BASE}{EIO}?page=2"
    p2 = client.get(_path(p1["next"]), headers=FWD).get_json()
    assert p2["previous"] == f"{FWD_BASE}{EIO}?page=1"
    p6 = client.get(f"{EIO}?page=6").get_json()
    assert len(p6["results"]) == 1 and p6["next"] is None
    assert p6["previous"] == f"http://localhost{EIO}?page=5"
    seen = [d["url"] for p in (p1, p2) for d in p["results"]]
    assert len(set(seen)) == 6
    for bad in ("7", "0", "x", "-1"):
        resp = client.get(f"{EIO}?page={bad}")
        assert resp.status_code == 404
        assert_valid("documenten", "Fout", resp.get_json())


def test_pagination_keeps_filters(tmp_path: Path) -> None:
    client = create_app(str(tmp_path / "db.sqlite3"), CAT, page_size=1).test_client()
    page = client.get(f"{ZAKEN}?bronorganisatie={GEMEENTE_RSIN}").get_json()
    assert page["count"] == SEED_ZAKEN
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
                 "/zaken/api/v1/klantcontacten", f"/zaken/api/v1/statussen/{uuid.uuid4()}"):
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
    assert client.get(EIO).get_json()["count"] == SEED_DOCS  # nothing was written


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
    assert listing["count"] == 4  # betrokkene, regisseur, consulent, medisch adviseur
    by_bsn = client.get(
        ROLLEN, query_string={"betrokkeneIdentificatie__natuurlijkPersoon__inpBsn": BSN_DE_VRIES}
    ).get_json()
    assert by_bsn["count"] == 3  # Wmo initiator, coordinatiedossier and medisch betrokkene
    bsn_filter = {"rol__betrokkeneIdentificatie__natuurlijkPersoon__inpBsn": BSN_DE_VRIES}
    zaken = client.get(ZAKEN, query_string=bsn_filter).get_json()
    assert zaken["count"] == 3
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
    assert client.get(ROLLEN, query_string={"zaak": zaak_url}).get_json()["count"] == 5
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


# --- spec names ----------------------------------------------------------------------------


def _query_params(api: str, path: str) -> set[str]:
    """The query parameter names the spec defines for ``GET path``."""
    params = _specs()[api]["paths"][path]["get"].get("parameters", [])
    return {p["name"] for p in params if p.get("in") == "query"}


def _query_enum(api: str, path: str, name: str) -> set[str]:
    for p in _specs()[api]["paths"][path]["get"]["parameters"]:
        if p.get("name") == name:
            return set(p["schema"]["enum"])
    raise AssertionError(f"{name} not a parameter of {path}")


def test_filter_names_are_the_specs() -> None:
    """Every list filter the demo accepts is one the spec names, spelt the same way."""
    assert set(store.FILTERS["rollen"]) <= _query_params("zaken", "/rollen")
    assert set(store.FILTERS["zaken"]) <= _query_params("zaken", "/zaken")
    assert set(store.FILTERS["zaakinformatieobjecten"]) == _query_params(
        "zaken", "/zaakinformatieobjecten") == {"zaak", "informatieobject"}
    # the identification filters the need-to-know lookups use are all there
    for name in ("betrokkeneIdentificatie__medewerker__identificatie",
                 "betrokkeneIdentificatie__organisatorischeEenheid__identificatie",
                 "betrokkeneIdentificatie__nietNatuurlijkPersoon__annIdentificatie",
                 "betrokkeneIdentificatie__vestiging__vestigingsNummer",
                 "betrokkeneIdentificatie__natuurlijkPersoon__inpBsn",
                 "zaak", "betrokkeneType", "roltype", "omschrijvingGeneriek"):
        assert name in store.FILTERS["rollen"], name
        if name != "zaak":
            assert f"rol__{name}" in store.FILTERS["zaken"] or name == "roltype", name
    assert set(OMSCHRIJVING_GENERIEK) == _query_enum("zaken", "/rollen", "omschrijvingGeneriek")
    assert set(BETROKKENE_TYPES) == _query_enum("zaken", "/rollen", "betrokkeneType")


# --- catalogue: roltypen ---------------------------------------------------------------------

ROLTYPE_CODES = ("behandelaar", "zaakcoordinator", "medisch_adviseur", "casusoverleg",
                 "zvh_overdracht", "initiator", "belanghebbende")


def test_catalogue_roltypen(client: FlaskClient) -> None:
    listing = client.get("/catalogi/api/v1/roltypen").get_json()
    assert {_category(t["url"]) for t in listing["results"]} == set(ROLTYPE_CODES)
    generiek = _query_enum("zaken", "/rollen", "omschrijvingGeneriek")
    for code in ROLTYPE_CODES:
        resp = client.get(f"/catalogi/api/v1/roltypen/{code}")
        assert resp.status_code == 200, code
        body = resp.get_json()
        assert body["url"] == f"{CAT}/roltypen/{code}"
        assert body["omschrijving"] and body["omschrijvingGeneriek"] in generiek
    assert client.get("/catalogi/api/v1/roltypen/aanbieder").status_code == 404
    # the generic description does not name the relation kind: the roltype URL does
    zvh = client.get("/catalogi/api/v1/roltypen/zvh_overdracht").get_json()
    assert zvh["omschrijvingGeneriek"] == "behandelaar"


# --- zaakinformatieobjecten ------------------------------------------------------------------


def check_zio(obj: dict[str, Any]) -> None:
    assert_valid("zaken", "ZaakInformatieObject", obj)
    assert_known_keys("zaken", "ZaakInformatieObject", obj)


def _uuid_of(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[1]


def test_zio_list_is_a_plain_array_with_filters(client: FlaskClient) -> None:
    resp = client.get(ZIO, headers=FWD)
    assert resp.status_code == 200 and resp.headers["API-version"] == "1.5.1"
    links = resp.get_json()
    assert isinstance(links, list) and len(links) == SEED_ZIOS  # not paginated (Zaken API 1.5)
    for link in links:
        check_zio(link)
        assert link["url"] == f"{FWD_BASE}{ZIO}/{link['uuid']}"
        assert link["zaak"].startswith(f"{FWD_BASE}{ZAKEN}/")
        assert link["informatieobject"].startswith(f"{FWD_BASE}{EIO}/")
        assert link["aardRelatieWeergave"] == "Hoort bij, omgekeerd: kent"
        check_zio(client.get(_path(link["url"])).get_json())
    m = manifest(CAT)
    assert [(_uuid_of(z["zaak"]), _uuid_of(z["informatieobject"])) for z in links] == [
        (z["zaak"], z["informatieobject"]) for z in m["zaakinformatieobjecten"]
    ]
    rel = m["relations"]
    # ?zaak= (any host: only the path counts) gives that zaak's documents
    for zaak_uuid, docs in rel["zaak_documenten"].items():
        got = client.get(ZIO, query_string={"zaak": f"{FWD_BASE}{ZAKEN}/{zaak_uuid}"}).get_json()
        assert [_uuid_of(z["informatieobject"]) for z in got] == docs
        assert all(_uuid_of(z["zaak"]) == zaak_uuid for z in got)
    # ?informatieobject= gives the zaken a document belongs to
    for doc_uuid, zaken in rel["document_zaken"].items():
        got = client.get(ZIO, query_string={"informatieobject": f"http://x.example{EIO}/{doc_uuid}"})
        assert sorted(_uuid_of(z["zaak"]) for z in got.get_json()) == sorted(zaken)
    two = rel["examples"]["document_in_two_zaken"]
    both = client.get(ZIO, query_string={"informatieobject": f"http://localhost{EIO}/{two}"})
    assert len(both.get_json()) == 2
    one_zaak = _uuid_of(both.get_json()[0]["zaak"])
    combined = client.get(ZIO, query_string={"informatieobject": f"http://localhost{EIO}/{two}",
                                             "zaak": f"http://localhost{ZAKEN}/{one_zaak}"})
    assert len(combined.get_json()) == 1
    nothing = client.get(ZIO, query_string={"zaak": f"http://localhost{ZAKEN}/{uuid.uuid4()}"})
    assert nothing.status_code == 200 and nothing.get_json() == []


def test_zio_list_refuses_bad_and_unknown_filters(client: FlaskClient) -> None:
    for query, name, code in (
        ({"zaak": "geen-url"}, "zaak", "invalid"),
        ({"zaak": f"http://localhost{EIO}/{uuid.uuid4()}"}, "zaak", "invalid"),
        ({"informatieobject": f"http://localhost{ZAKEN}/{uuid.uuid4()}"}, "informatieobject",
         "invalid"),
        ({"zaak_url": "http://localhost/x"}, "nonFieldErrors", "unknown-parameters"),
        ({"page": "1"}, "nonFieldErrors", "unknown-parameters"),  # not a paginated list
    ):
        resp = client.get(ZIO, query_string=query)
        assert resp.status_code == 400, query
        err = resp.get_json()
        assert_valid("zaken", "ValidatieFout", err)
        assert (err["invalidParams"][0]["name"], err["invalidParams"][0]["code"]) == (name, code)


def test_zio_create_read_delete(client: FlaskClient) -> None:
    zaak = client.post(ZAKEN, json=zaak_body()).get_json()
    doc = client.post(EIO, json=eio_body()).get_json()
    body = {"zaak": f"{FWD_BASE}{ZAKEN}/{zaak['uuid']}", "informatieobject": doc["url"],
            "titel": "Indicatiebesluit", "beschrijving": "kopie",
            # read-only fields are the server's
            "uuid": str(uuid.uuid4()), "registratiedatum": "2000-01-01T00:00:00Z",
            "aardRelatieWeergave": "bla"}
    resp = client.post(ZIO, json=body, headers=FWD)
    assert resp.status_code == 201 and resp.headers["API-version"] == "1.5.1"
    zio = resp.get_json()
    check_zio(zio)
    assert zio["url"] == resp.headers["Location"] == f"{FWD_BASE}{ZIO}/{zio['uuid']}"
    assert zio["uuid"] != body["uuid"] and str(uuid.UUID(zio["uuid"])) == zio["uuid"]
    assert zio["zaak"] == f"{FWD_BASE}{ZAKEN}/{zaak['uuid']}"
    assert zio["informatieobject"] == f"{FWD_BASE}{_path(doc['url'])}"
    assert zio["aardRelatieWeergave"] == "Hoort bij, omgekeerd: kent"
    assert zio["registratiedatum"] != body["registratiedatum"]
    assert dt.datetime.fromisoformat(zio["registratiedatum"]).year >= 2026
    assert (zio["titel"], zio["beschrijving"]) == ("Indicatiebesluit", "kopie")
    path = _path(zio["url"])
    read = client.get(path).get_json()
    assert read == {**zio, "url": f"http://localhost{path}",
                    "zaak": f"http://localhost{ZAKEN}/{zaak['uuid']}",
                    "informatieobject": f"http://localhost{_path(doc['url'])}"}
    # the zaak lists it, the filters find it
    zaak_now = client.get(f"{ZAKEN}/{zaak['uuid']}").get_json()
    assert zaak_now["zaakinformatieobjecten"] == [read["url"]]
    check_zaak(zaak_now)
    assert [z["uuid"] for z in client.get(ZIO, query_string={"zaak": zaak_now["url"]}).get_json()] == [
        zio["uuid"]]
    # linked: the document cannot be deleted; after the link is gone it can
    assert client.delete(_path(doc["url"])).status_code == 400
    assert client.delete(path).status_code == 204
    assert client.get(path).status_code == 404
    assert client.delete(path).status_code == 404
    assert client.get(f"{ZAKEN}/{zaak['uuid']}").get_json()["zaakinformatieobjecten"] == []
    assert client.get(ZIO, query_string={"zaak": zaak_now["url"]}).get_json() == []
    assert client.delete(_path(doc["url"])).status_code == 204


def test_zio_create_errors(client: FlaskClient) -> None:
    zaak = client.post(ZAKEN, json=zaak_body()).get_json()
    doc = client.post(EIO, json=eio_body()).get_json()
    ok = {"zaak": zaak["url"], "informatieobject": doc["url"]}
    assert client.post(ZIO, json=ok).status_code == 201
    archived = client.post(ZAKEN, json=zaak_body(archiefstatus="gearchiveerd")).get_json()
    cases: list[tuple[dict[str, Any], set[tuple[str, str]]]] = [
        ({}, {("zaak", "required"), ("informatieobject", "required")}),
        ({**ok, "zaak": f"http://localhost{ZAKEN}/{uuid.uuid4()}"}, {("zaak", "does-not-exist")}),
        ({**ok, "informatieobject": f"http://localhost{EIO}/{uuid.uuid4()}"},
         {("informatieobject", "does-not-exist")}),
        ({"zaak": f"http://localhost{ZAKEN}/{uuid.uuid4()}",
          "informatieobject": f"http://localhost{EIO}/{uuid.uuid4()}"},
         {("zaak", "does-not-exist"), ("informatieobject", "does-not-exist")}),
        ({**ok, "zaak": doc["url"]}, {("zaak", "bad-url")}),
        ({**ok, "informatieobject": "https://drc.example/api/v1/documenten/1"},
         {("informatieobject", "bad-url")}),
        ({**ok, "informatieobject": "geen url"}, {("informatieobject", "invalid")}),
        ({**ok, "titel": "x" * 201}, {("titel", "max_length")}),
        ({**ok, "vernietigingsdatum": "2030-01-01"}, {("vernietigingsdatum", "invalid")}),
        (ok, {("nonFieldErrors", "unique")}),  # the same pair again
        ({**ok, "zaak": archived["url"]}, {("nonFieldErrors", "zaak-archiefstatus-invalid")}),
    ]
    for body, expected in cases:
        resp = client.post(ZIO, json=body)
        assert resp.status_code == 400, body
        assert resp.content_type == "application/problem+json"
        err = resp.get_json()
        assert_valid("zaken", "ValidatieFout", err)
        assert {(p["name"], p["code"]) for p in err["invalidParams"]} == expected, body
    for data in (b"{not json", b"[1]"):
        assert client.post(ZIO, data=data, content_type="application/json").status_code == 400
    assert len(client.get(ZIO, query_string={"zaak": zaak["url"]}).get_json()) == 1
    assert len(client.get(ZIO).get_json()) == SEED_ZIOS + 1  # nothing else was written
    later = client.post(ZIO, json={**ok, "informatieobject": client.post(
        EIO, json=eio_body()).get_json()["url"], "vernietigingsdatum": "2036-01-01T00:00:00Z"})
    assert later.status_code == 201 and later.get_json()["vernietigingsdatum"] == (
        "2036-01-01T00:00:00Z")
    check_zio(later.get_json())


def test_deleting_a_zaak_takes_its_links_along(client: FlaskClient) -> None:
    zaak = client.post(ZAKEN, json=zaak_body()).get_json()
    doc = client.post(EIO, json=eio_body()).get_json()
    zio = client.post(ZIO, json={"zaak": zaak["url"], "informatieobject": doc["url"]}).get_json()
    assert client.delete(_path(zaak["url"])).status_code == 204
    assert client.get(_path(zio["url"])).status_code == 404
    assert client.get(ZIO, query_string={"informatieobject": doc["url"]}).get_json() == []
    assert client.get(_path(doc["url"])).status_code == 200  # the document stays
    assert client.delete(_path(doc["url"])).status_code == 204


def test_zio_routes_405_and_404(client: FlaskClient) -> None:
    link = client.get(ZIO).get_json()[0]
    assert client.put(_path(link["url"]), json={}).status_code == 405
    assert client.delete(ZIO).status_code == 405
    resp = client.get(f"{ZIO}/{uuid.uuid4()}")
    assert resp.status_code == 404 and resp.content_type == "application/problem+json"
    assert client.get(f"{ZIO}/not-a-uuid").status_code == 404


# --- rollen: betrokkenen, filters, delete ----------------------------------------------------

#: betrokkeneType → (rollen filter, key in betrokkeneIdentificatie)
IDENT_FILTERS = {
    "medewerker": ("betrokkeneIdentificatie__medewerker__identificatie", "identificatie"),
    "organisatorische_eenheid": (
        "betrokkeneIdentificatie__organisatorischeEenheid__identificatie", "identificatie"),
    "niet_natuurlijk_persoon": (
        "betrokkeneIdentificatie__nietNatuurlijkPersoon__annIdentificatie", "annIdentificatie"),
    "vestiging": ("betrokkeneIdentificatie__vestiging__vestigingsNummer", "vestigingsNummer"),
}


def _all(client: FlaskClient, path: str, query: dict[str, str]) -> list[dict[str, Any]]:
    """Every item of a paginated list (following ``next``)."""
    out: list[dict[str, Any]] = []
    resp = client.get(path, query_string=query)
    assert resp.status_code == 200, resp.get_json()
    page = resp.get_json()
    out += page["results"]
    while page["next"]:
        page = client.get(_path(page["next"])).get_json()
        out += page["results"]
    return out


def test_rollen_identification_filters_match_the_seed(tmp_path: Path) -> None:
    # a small page size: the sidecar has to follow `next` too
    client = create_app(str(tmp_path / "db.sqlite3"), CAT, page_size=2).test_client()
    rel = manifest(CAT)["relations"]["betrokkenen"]
    assert set(rel) == set(IDENT_FILTERS)
    for kind, (name, key) in IDENT_FILTERS.items():
        for value, zaken in rel[kind].items():
            rollen = _all(client, ROLLEN, {name: value})
            assert rollen, (kind, value)
            for rol in rollen:
                check_rol(rol)
                assert rol["betrokkeneType"] == kind
                assert rol["betrokkeneIdentificatie"][key] == value
            got: dict[str, list[str]] = {}
            for rol in rollen:
                got.setdefault(_uuid_of(rol["zaak"]), []).append(_category(rol["roltype"]))
            assert got == zaken, (kind, value)
            # the zaken list's rol__ filter gives the same zaken
            listed = _all(client, ZAKEN, {f"rol__{name}": value})
            assert {z["uuid"] for z in listed} == set(zaken)
    # a filter matches its own betrokkeneType only: team-jeugd is no medewerker
    medewerker, _ = IDENT_FILTERS["medewerker"]
    assert client.get(ROLLEN, query_string={medewerker: "team-jeugd"}).get_json()["count"] == 0
    assert client.get(ROLLEN, query_string={medewerker: "nobody"}).get_json()["count"] == 0


def test_rollen_other_filters(client: FlaskClient) -> None:
    m = manifest(CAT)
    counts: dict[str, int] = {}
    for r in m["rollen"]:
        counts[r["betrokkeneType"]] = counts.get(r["betrokkeneType"], 0) + 1
    for kind, n in counts.items():
        assert client.get(ROLLEN, query_string={"betrokkeneType": kind}).get_json()["count"] == n
    roltype = f"{CAT}/roltypen/zaakcoordinator"
    coordinators = client.get(ROLLEN, query_string={"roltype": roltype}).get_json()
    assert coordinators["count"] == sum(1 for r in m["rollen"] if r["roltype"] == roltype) >= 3
    generiek = client.get(ROLLEN, query_string={"omschrijvingGeneriek": "adviseur"}).get_json()
    assert {_category(r["roltype"]) for r in generiek["results"]} == {
        "medisch_adviseur", "casusoverleg"}
    by_omschrijving = client.get(ROLLEN, query_string={"omschrijving": "Medisch adviseur"})
    assert {_category(r["roltype"]) for r in by_omschrijving.get_json()["results"]} == {
        "medisch_adviseur"}
    coord = m["zaken"][2]["uuid"]
    both = client.get(ROLLEN, query_string={"zaak": f"http://localhost{ZAKEN}/{coord}",
                                            "roltype": roltype}).get_json()
    assert [r["betrokkeneIdentificatie"]["identificatie"] for r in both["results"]] == [
        "regisseur-014"]
    for query, name, code in (
        ({"betrokkeneType": "robot"}, "betrokkeneType", "invalid_choice"),
        ({"omschrijvingGeneriek": "medisch_adviseur"}, "omschrijvingGeneriek", "invalid_choice"),
        ({"roltype": "zaakcoordinator"}, "roltype", "invalid"),
        ({"betrokkene": "iemand"}, "betrokkene", "invalid"),
        ({"zaak": f"http://localhost{EIO}/{coord}"}, "zaak", "invalid"),
        ({"betrokkeneIdentificatie__medewerker__id": "c.jansen"}, "nonFieldErrors",
         "unknown-parameters"),
    ):
        resp = client.get(ROLLEN, query_string=query)
        assert resp.status_code == 400, query
        err = resp.get_json()
        assert_valid("zaken", "ValidatieFout", err)
        assert (err["invalidParams"][0]["name"], err["invalidParams"][0]["code"]) == (name, code)


def test_rol_written_directly_and_deleted(client: FlaskClient) -> None:
    """Like Open Zaak, another application writes and removes rollen directly."""
    rel = manifest(CAT)["relations"]
    zaak_uuid = rel["examples"]["unrelated"]["algemeen"]
    zaak_url = f"http://localhost{ZAKEN}/{zaak_uuid}"
    name, _ = IDENT_FILTERS["medewerker"]
    before = client.get(ROLLEN, query_string={name: "c.jansen"}).get_json()["count"]
    resp = client.post(ROLLEN, json=_rol_body(
        zaak_url, betrokkeneType="medewerker", roltype=f"{CAT}/roltypen/behandelaar",
        betrokkeneIdentificatie={"identificatie": "c.jansen", "achternaam": "Jansen"}))
    assert resp.status_code == 201
    rol = resp.get_json()
    check_rol(rol)
    now = client.get(ROLLEN, query_string={name: "c.jansen"}).get_json()
    assert now["count"] == before + 1 and rol["url"] in {r["url"] for r in now["results"]}
    assert rol["url"] in client.get(_path(zaak_url)).get_json()["rollen"]
    assert client.delete(_path(rol["url"])).status_code == 204
    assert client.get(_path(rol["url"])).status_code == 404
    assert client.delete(_path(rol["url"])).status_code == 404
    assert client.get(ROLLEN, query_string={name: "c.jansen"}).get_json()["count"] == before
    assert rol["url"] not in client.get(_path(zaak_url)).get_json()["rollen"]
    # a seeded rol can be removed as well: the team's zaak then has no relation left
    team_zaak = rel["examples"]["team_only"]
    team_rollen = client.get(ROLLEN, query_string={
        "zaak": f"http://localhost{ZAKEN}/{team_zaak}",
        "betrokkeneType": "organisatorische_eenheid"}).get_json()["results"]
    assert len(team_rollen) == 1
    assert client.delete(_path(team_rollen[0]["url"])).status_code == 204
    assert client.get(ZAKEN, query_string={
        "rol__betrokkeneIdentificatie__organisatorischeEenheid__identificatie": "team-jeugd",
    }).get_json()["count"] == 0
    resp = client.delete(f"{ROLLEN}/{uuid.uuid4()}")
    assert resp.status_code == 404 and resp.headers["API-version"] == "1.5.1"


# --- seed: relations (need-to-know) ----------------------------------------------------------


def test_seed_counts() -> None:
    m = manifest(CAT)
    assert (len(m["documenten"]), len(m["zaken"]), len(m["rollen"]),
            len(m["zaakinformatieobjecten"])) == (SEED_DOCS, SEED_ZAKEN, SEED_ROLLEN, SEED_ZIOS)
    assert len({r["uuid"] for r in m["rollen"]}) == SEED_ROLLEN
    assert len({z["uuid"] for z in m["zaakinformatieobjecten"]}) == SEED_ZIOS


def _relations_from_api(client: FlaskClient) -> dict[str, dict[str, dict[str, list[str]]]]:
    """betrokkeneType → naming value → zaak uuid → roltype codes, read from the rollen list."""
    out: dict[str, dict[str, dict[str, list[str]]]] = {}
    for rol in _all(client, ROLLEN, {}):
        kind = rol["betrokkeneType"]
        if kind == "natuurlijk_persoon":
            continue
        value = rol["betrokkeneIdentificatie"][IDENT_FILTERS[kind][1]]
        zaken = out.setdefault(kind, {}).setdefault(value, {})
        zaken.setdefault(_uuid_of(rol["zaak"]), []).append(_category(rol["roltype"]))
    return out


def test_seed_relations(client: FlaskClient) -> None:
    m = manifest(CAT)
    rel = m["relations"]
    api = _relations_from_api(client)
    assert api == rel["betrokkenen"] == relations()["betrokkenen"]
    zaken = {z["uuid"]: z for z in client.get(ZAKEN).get_json()["results"]}
    assert set(zaken) == {z["uuid"] for z in m["zaken"]}
    category = {u: _category(z["zaaktype"]) for u, z in zaken.items()}
    ex = rel["examples"]
    unrelated = set(ex["unrelated"].values())
    assert {category[u] for u in unrelated} == set(CATEGORIES) == set(ex["unrelated"])
    assert all(category[u] == cat for cat, u in ex["unrelated"].items())
    medewerkers = api["medewerker"]
    # (a) the common test users relate (as medewerker, with their kind) to every zaak except the
    # unrelated ones, the team's zaak and, for the coordinator, the externally coordinated one
    assert rel["users"]["consulent"] == DEMO_USERS["consulent"] == "c.jansen"
    expected_kind = {"consulent": "behandelaar", "medisch_adviseur": "medisch_adviseur",
                     "coordinator": "zaakcoordinator"}
    for role, sub in DEMO_USERS.items():
        others = unrelated | {ex["team_only"]}
        if role == "coordinator":
            others.add(ex["coordinator_external"])
        assert medewerkers[sub] == {u: [expected_kind[role]] for u in zaken if u not in others}
    # the unrelated zaken: only the dedicated other users relate to them
    for u in unrelated:
        names = {(kind, value) for kind, by in api.items() for value, zs in by.items() if u in zs}
        assert names <= {("medewerker", rel["users"]["other_consulent"]),
                         ("medewerker", rel["users"]["other_coordinator"])}, names
        assert names
    # (b) a zaak related only through a team
    team_names = {(kind, value) for kind, by in api.items() for value, zs in by.items()
                  if ex["team_only"] in zs}
    assert team_names == {("organisatorische_eenheid", "team-jeugd")} == {
        ("organisatorische_eenheid", rel["teams"]["jeugd"])}
    # (c) handed over to a ZVH, (d) a casusoverleg rol, each on one zaak
    assert api["niet_natuurlijk_persoon"]["zvh-midden"] == {ex["zvh_overdracht"]: ["zvh_overdracht"]}
    assert api["niet_natuurlijk_persoon"]["wijkteam-noord"] == {ex["casusoverleg"]: ["casusoverleg"]}
    # (e) coordination zaken: one coordinated by an external organisation, one by a medewerker
    coordinators: dict[str, set[tuple[str, str]]] = {}
    for kind, by in api.items():
        for value, zs in by.items():
            for u, kinds in zs.items():
                if "zaakcoordinator" in kinds:
                    coordinators.setdefault(u, set()).add((kind, value))
    assert category[ex["coordinator_external"]] == category[ex["coordinator_medewerker"]] == (
        "coordinatiedossier")
    assert coordinators[ex["coordinator_external"]] == {("niet_natuurlijk_persoon", "wijkteam-oost")}
    assert coordinators[ex["coordinator_medewerker"]] == {("medewerker", "regisseur-014")}
    # the organisations are external; nothing names the controlling organisation
    orgs = set(api["niet_natuurlijk_persoon"]) | set(api["vestiging"])
    assert rel["orgs"]["controlling"] == DEMO_ORG == "gemeente-demo" and DEMO_ORG not in orgs
    assert {"huisarts-de-linde", "thuiszorg-zuid"} <= orgs


def test_seed_every_document_belongs_to_a_zaak(client: FlaskClient) -> None:
    rel = manifest(CAT)["relations"]
    docs = client.get(EIO).get_json()["results"]
    assert len(docs) == SEED_DOCS
    linked: dict[str, set[str]] = {}
    for z in client.get(ZIO).get_json():
        linked.setdefault(_uuid_of(z["informatieobject"]), set()).add(_uuid_of(z["zaak"]))
    assert set(linked) == {_uuid_of(d["url"]) for d in docs}
    assert any(len(zs) == 2 for zs in linked.values())
    assert {d: set(zs) for d, zs in rel["document_zaken"].items()} == linked
    # zaak detail: zaakinformatieobjecten names the same links
    for zaak_uuid, doc_uuids in rel["zaak_documenten"].items():
        zaak = client.get(f"{ZAKEN}/{zaak_uuid}").get_json()
        check_zaak(zaak)
        assert [_uuid_of(client.get(_path(u)).get_json()["informatieobject"])
                for u in zaak["zaakinformatieobjecten"]] == doc_uuids
    # one document per category that belongs only to zaken the demo users do not relate to
    unrelated = set(rel["examples"]["unrelated"].values())
    assert set(rel["examples"]["unrelated_documenten"]) == set(CATEGORIES)
    for cat, doc_uuid in rel["examples"]["unrelated_documenten"].items():
        assert linked[doc_uuid] <= unrelated
        body = client.get(f"{EIO}/{doc_uuid}").get_json()
        assert _category(body["informatieobjecttype"]) == cat


def test_seed_first_document_of_each_category_is_related(client: FlaskClient) -> None:
    """The integration tests pick the first listed document of a category (below 1 MB): it
    belongs to zaken the common test users relate to, and the first algemeen one to the zaak
    handed over to the ZVH and discussed in the casusoverleg."""
    rel = manifest(CAT)["relations"]
    mine = {sub: set(rel["betrokkenen"]["medewerker"][sub]) for sub in DEMO_USERS.values()}
    first: dict[str, str] = {}
    for d in client.get(EIO).get_json()["results"]:
        if d["bestandsomvang"] < 1_000_000:
            first.setdefault(_category(d["informatieobjecttype"]), _uuid_of(d["url"]))
    assert set(first) == set(CATEGORIES)
    for doc_uuid in first.values():
        zaken = set(rel["document_zaken"][doc_uuid])
        for sub, related in mine.items():
            assert zaken <= related, (sub, doc_uuid)
    algemeen = set(rel["document_zaken"][first["algemeen"]])
    assert {rel["examples"]["zvh_overdracht"], rel["examples"]["casusoverleg"]} <= algemeen


def test_seed_upgrade_adds_what_an_older_seed_lacks(tmp_path: Path) -> None:
    """A database seeded before relations existed gets the new seed objects once."""
    db = str(tmp_path / "db.sqlite3")
    client = create_app(db, CAT).test_client()
    # what version 1 seeded: the first 3 zaken, 4 rollen and 10 documents
    keep_zaken = {z.uuid for z in seed.ZAKEN[:3]}
    keep_rollen = {r.uuid for r in seed.ROLLEN[:4]}
    keep_docs = {d.uuid for d in seed.DOCUMENTEN[:10]}
    assert seed.ROLLEN[3].key == "coordinatie-regisseur" and seed.DOCUMENTEN[9].key == "benchmark-1mib"
    conn = sqlite3.connect(db)
    try:
        # roll the file back to what seed version 1 left: no links, no new objects, no version
        conn.execute("DELETE FROM zaakinformatieobjecten")
        for table, keep in (("rollen", keep_rollen), ("documenten", keep_docs),
                            ("zaken", keep_zaken)):
            marks = ",".join("?" for _ in keep)
            conn.execute(f"DELETE FROM {table} WHERE uuid NOT IN ({marks})", list(keep))  # noqa: S608
        conn.execute("DELETE FROM meta WHERE key = 'seed_version'")
        conn.commit()
    finally:
        conn.close()
    assert client.get(ZIO).get_json() == []
    upgraded = create_app(db, CAT).test_client()
    assert upgraded.get(EIO).get_json()["count"] == SEED_DOCS
    assert upgraded.get(ZAKEN).get_json()["count"] == SEED_ZAKEN
    assert upgraded.get(ROLLEN).get_json()["count"] == SEED_ROLLEN
    assert len(upgraded.get(ZIO).get_json()) == SEED_ZIOS
    assert _relations_from_api(upgraded) == relations()["betrokkenen"]
    # once: deleting a seeded rol afterwards does not bring it back
    rol = upgraded.get(ROLLEN).get_json()["results"][-1]
    assert upgraded.delete(_path(rol["url"])).status_code == 204
    assert create_app(db, CAT).test_client().get(ROLLEN).get_json()["count"] == SEED_ROLLEN - 1


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
    assert page["count"] == len(page["results"]) == SEED_ROLLEN
    assert {r["betrokkeneType"] for r in page["results"]} == set(ROL_SCHEMAS)
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
    assert app.test_client().get(EIO).get_json()["count"] == SEED_DOCS + 8 * 5


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
