"""The demo upstream behaving like Open Zaak where a client notices: CRS headers on the zaak
resource, locking and uploads in parts, objectinformatieobjecten, a zaak's statussen and audit
trail (the Flask test client; the end-to-end tests go through the sidecar)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from sidecar.devtools.upstream import create_app

CAT = "http://127.0.0.1:8081/catalogi/api/v1"
ZAKEN = "/zaken/api/v1/zaken"
EIO = "/documenten/api/v1/enkelvoudiginformatieobjecten"
CRS = {"Accept-Crs": "EPSG:4326", "Content-Crs": "EPSG:4326"}


@pytest.fixture()
def client(tmp_path: Path) -> FlaskClient:
    return create_app(str(tmp_path / "db.sqlite3"), CAT, part_size=4, require_crs=True).test_client()


def _path(url: str) -> str:
    return url.split("localhost", 1)[1]


def test_the_zaak_resource_needs_its_crs_headers(client: FlaskClient) -> None:
    missing = client.get(ZAKEN)
    assert missing.status_code == 412 and missing.content_type == "application/problem+json"
    assert missing.get_json()["code"] == "missing-accept-crs-header"
    assert client.get(ZAKEN, headers={"Accept-Crs": "EPSG:28992"}).status_code == 406
    page = client.get(ZAKEN, headers=CRS)
    assert page.status_code == 200 and page.headers["Content-Crs"] == "EPSG:4326"
    zaak = page.get_json()["results"][0]
    no_content_crs = client.patch(_path(zaak["url"]), json={"toelichting": "x"}, headers={"Accept-Crs": "EPSG:4326"})
    assert no_content_crs.status_code == 412 and no_content_crs.get_json()["code"] == "missing-content-crs-header"
    assert client.post(f"{ZAKEN}/_zoek", json={}, headers={"Accept-Crs": "EPSG:4326"}).status_code == 412
    # Not the zaak resource: its sub-resources and the other lists need none.
    assert client.get(f"{_path(zaak['url'])}/audittrail").status_code == 200
    assert client.get("/zaken/api/v1/rollen").status_code == 200
    assert client.get(EIO).status_code == 200


def test_upload_in_parts(client: FlaskClient) -> None:
    body = {"bronorganisatie": "001234560", "creatiedatum": "2026-03-01", "titel": "t", "auteur": "a",
            "taal": "nld", "informatieobjecttype": f"{CAT}/informatieobjecttypen/algemeen",
            "inhoud": None, "bestandsomvang": 10}
    doc = client.post(EIO, json=body).get_json()
    assert doc["locked"] is True and [p["omvang"] for p in doc["bestandsdelen"]] == [4, 4, 2]
    path, lock = _path(doc["url"]), doc["lock"]

    def put(part: dict[str, object], data: bytes, given: str = lock) -> int:
        return client.put(_path(str(part["url"])), data={"lock": given, "inhoud": (io.BytesIO(data), "d")},
                          content_type="multipart/form-data").status_code

    parts = doc["bestandsdelen"]
    assert put(parts[0], b"abcd", "verkeerd") == 400
    assert put(parts[0], b"abc") == 400  # not its omvang
    assert client.put(_path(parts[0]["url"]), json={"lock": lock}).status_code == 415
    assert put(parts[0], b"abcd") == 200 and put(parts[1], b"efgh") == 200
    assert client.post(f"{path}/unlock", json={"lock": lock}).get_json()["invalidParams"][0]["code"] == \
        "incomplete-upload"
    assert client.get(f"{path}/download").status_code == 404  # no content while the upload runs
    assert put(parts[2], b"ij") == 200
    assert client.post(f"{path}/unlock", json={"lock": lock}).status_code == 204
    assert client.get(f"{path}/download").data == b"abcdefghij"
    assert client.get(path).get_json()["bestandsdelen"] == []
    assert client.post(f"{path}/unlock", json={"lock": lock}).get_json()["invalidParams"][0]["code"] == "unlocked"


def test_objectinformatieobjecten_and_statussen(client: FlaskClient) -> None:
    oios = client.get("/documenten/api/v1/objectinformatieobjecten").get_json()
    assert oios and all(o["objectType"] == "zaak" for o in oios)
    zios = {z["uuid"] for z in client.get("/zaken/api/v1/zaakinformatieobjecten").get_json()}
    assert {o["url"].rsplit("/", 1)[1] for o in oios} == zios  # one mirror per link
    assert client.get("/documenten/api/v1/objectinformatieobjecten?zaak=x").status_code == 400
    zaak = client.get(ZAKEN, headers=CRS).get_json()["results"][0]["url"]
    made = client.post("/zaken/api/v1/statussen", json={"zaak": zaak, "statustype": f"{CAT}/statustypen/a",
                                                         "datumStatusGezet": "2026-03-01T00:00:00Z"})
    assert made.status_code == 201
    listed = client.get(f"/zaken/api/v1/statussen?zaak={zaak}").get_json()
    assert [s["uuid"] for s in listed["results"]] == [made.get_json()["uuid"]]
    assert client.get("/zaken/api/v1/statussen?statustype=x").status_code == 400
    assert client.get(f"/zaken/api/v1/resultaten/{made.get_json()['uuid']}").status_code == 404  # another kind


def test_resultaten_and_zaakobjecten_change_and_go_statussen_do_not(client: FlaskClient) -> None:
    """The Zaken API's methods: a resultaat and a zaakobject are changed (PUT, PATCH) and deleted,
    their zaak staying theirs; a status is only created; a zaak's audit-trail entry is read alone."""
    from tests.test_demo_upstream import assert_valid

    zaken = client.get(ZAKEN, headers=CRS).get_json()["results"]
    zaak, other = zaken[0]["url"], zaken[1]["url"]
    res = client.post("/zaken/api/v1/resultaten", json={"zaak": zaak, "resultaattype": f"{CAT}/resultaattypen/a"})
    assert res.status_code == 201
    path = _path(res.get_json()["url"])
    patched = client.patch(path, json={"toelichting": "toegekend"})
    assert patched.status_code == 200 and patched.get_json()["toelichting"] == "toegekend"
    assert patched.get_json()["resultaattype"] == f"{CAT}/resultaattypen/a"
    assert_valid("zaken", "Resultaat", patched.get_json())
    put = client.put(path, json={"zaak": zaak, "resultaattype": f"{CAT}/resultaattypen/b"})
    assert put.status_code == 200 and put.get_json()["toelichting"] == ""  # PUT replaces
    missing = client.put(path, json={"zaak": zaak})
    assert missing.status_code == 400 and missing.get_json()["invalidParams"][0]["name"] == "resultaattype"
    moved = client.patch(path, json={"zaak": other})
    assert moved.status_code == 400 and moved.get_json()["invalidParams"][0]["code"] == "wijzigen-niet-toegelaten"
    assert client.get(path).get_json()["zaak"] == zaak
    obj = client.post("/zaken/api/v1/zaakobjecten", json={"zaak": zaak, "objectType": "adres"}).get_json()
    obj_path = _path(obj["url"])
    assert client.patch(obj_path, json={"relatieomschrijving": "woont"}).get_json()["relatieomschrijving"] == "woont"
    assert client.delete(obj_path).status_code == 204 and client.get(obj_path).status_code == 404
    assert client.delete(obj_path).status_code == 404
    assert client.delete(f"/zaken/api/v1/resultaten/{obj['uuid']}").status_code == 404  # another kind
    status = client.post("/zaken/api/v1/statussen", json={"zaak": zaak, "statustype": f"{CAT}/statustypen/a",
                                                           "datumStatusGezet": "2026-03-01T00:00:00Z"}).get_json()
    for method in ("PUT", "PATCH", "DELETE"):
        assert client.open(_path(status["url"]), method=method, json={}).status_code == 405
    assert client.patch(_path(zaak), json={"toelichting": "x"}, headers=CRS).status_code == 200
    trail = client.get(f"{_path(zaak)}/audittrail").get_json()
    entry = client.get(f"{_path(zaak)}/audittrail/{trail[0]['uuid']}")
    assert entry.status_code == 200 and entry.get_json() == trail[0]
    assert client.get(f"{_path(other)}/audittrail/{trail[0]['uuid']}").status_code == 404  # not under another zaak
