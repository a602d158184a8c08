"""Links in answers point back through the sidecar; URLs in requests go back to the upstream's base.
Only resources the sidecar proxies are rewritten: a catalogue's type URLs stay what the catalogue
mapping knows."""

from __future__ import annotations

from typing import Any

from flask import Request
from werkzeug.test import EnvironBuilder

from sidecar.routes import DEFAULT_ROUTES
from sidecar.urls import UrlRewriter

UP = "http://open-zaak.intern:8000"
PUB = "https://sidecar.gemeente.example"
TYPE = "http://open-zaak.intern:8000/catalogi/api/v1/informatieobjecttypen/medisch"


def _rw(**kw: Any) -> UrlRewriter:
    return UrlRewriter(upstream_url=kw.pop("upstream_url", UP), advertised_url=kw.pop("advertised_url", None),
                       public_url=kw.pop("public_url", None), routes=DEFAULT_ROUTES)


def test_answers_point_at_the_sidecar_but_type_urls_stay() -> None:
    doc = {"count": 2, "next": f"{UP}/documenten/api/v1/enkelvoudiginformatieobjecten?page=2",
           "results": [{"url": f"{UP}/documenten/api/v1/enkelvoudiginformatieobjecten/1",
                        "inhoud": f"{UP}/documenten/api/v1/enkelvoudiginformatieobjecten/1/download",
                        "informatieobjecttype": TYPE, "titel": f"{UP}/zaken/api/v1/ is just text here"}]}
    out = _rw().to_public(doc, PUB)
    item = out["results"][0]
    assert out["next"] == f"{PUB}/documenten/api/v1/enkelvoudiginformatieobjecten?page=2"
    assert item["url"] == f"{PUB}/documenten/api/v1/enkelvoudiginformatieobjecten/1"
    assert item["inhoud"].startswith(PUB) and item["informatieobjecttype"] == TYPE
    assert item["titel"].startswith(PUB)  # a string that is a proxied URL is one, wherever it stands
    assert _rw().to_upstream(out, PUB) == doc


def test_requests_go_back_to_the_upstream_base() -> None:
    body = {"zaak": f"{PUB}/zaken/api/v1/zaken/9", "informatieobject": f"{PUB}/documenten/api/v1/"
            "enkelvoudiginformatieobjecten/3", "elders": "https://elders.example/zaken/api/v1/zaken/9"}
    out = _rw().to_upstream(body, PUB)
    assert out["zaak"] == f"{UP}/zaken/api/v1/zaken/9"
    assert out["informatieobject"].startswith(UP) and out["elders"] == body["elders"]
    q = "zaak=https%3A%2F%2Fsidecar.gemeente.example%2Fzaken%2Fapi%2Fv1%2Fzaken%2F9&page=2"
    want = "zaak=http%3A%2F%2Fopen-zaak.intern%3A8000%2Fzaken%2Fapi%2Fv1%2Fzaken%2F9&page=2"
    assert _rw().query_to_upstream(q, PUB) == want
    assert _rw().query_to_upstream("page=2", PUB) == "page=2"  # unchanged queries keep their exact form


def test_advertised_base_and_configured_public_url() -> None:
    rw = _rw(upstream_url="http://10.0.0.5:8000", advertised_url="https://openzaak.gemeente.example/",
             public_url="https://sidecar.example/")
    doc = {"url": "https://openzaak.gemeente.example/zaken/api/v1/zaken/1"}
    assert rw.to_public(doc, "https://sidecar.example") == {"url": "https://sidecar.example/zaken/api/v1/zaken/1"}
    req = Request(EnvironBuilder(path="/zaken/api/v1/zaken", headers=[("Host", "evil.example")]).get_environ())
    assert rw.public_base(req) == "https://sidecar.example"


def test_public_base_from_the_request_and_a_bad_host_changes_nothing() -> None:
    ok = Request(EnvironBuilder(path="/", base_url="http://127.0.0.1:8080").get_environ())
    assert _rw().public_base(ok) == "http://127.0.0.1:8080"
    bad = Request(EnvironBuilder(path="/", headers=[("Host", "a.example/evil?x")]).get_environ())
    assert _rw().public_base(bad) == UP
