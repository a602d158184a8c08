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


# -- public_json: the same bytes as the walk, by one regex pass over the encoded answer -------------

_ODD = ['"', "\\", ":", ",", "[", "]", "{", "}", "\n", "\u2028", "é", "\x00", "/"]


def _url_like() -> Any:
    from hypothesis import strategies as st

    bases = st.sampled_from([UP, UP.replace("http:", "https:"), PUB, "http://open-zaak.intern:80001",
                             "http://open-zaak.intern", ""])
    paths = st.sampled_from(["/zaken/api/v1/", "/documenten/api/v1/", "/catalogi/api/v1/", "/zaken/api/v2/",
                             "/zaken/api/v1", ""])
    tails = st.text(alphabet=st.sampled_from([*"abc123?=&", *_ODD]), max_size=12)
    return st.builds(lambda b, p, t: b + p + t, bases, paths, tails)


def _docs() -> Any:
    from hypothesis import strategies as st

    # URLs alone, text and URLs after a few odd characters (a quote, a backslash, a colon...)
    inner = st.builds(lambda pre, url: pre + url, st.text(alphabet=st.sampled_from(_ODD), min_size=1, max_size=3),
                      _url_like())
    strings = st.one_of(_url_like(), inner, st.text(max_size=8))
    leaves = st.one_of(st.none(), st.booleans(), st.integers(-10, 10), strings)
    return st.recursive(leaves, lambda kids: st.one_of(st.lists(kids, max_size=4),
                                                        st.dictionaries(strings, kids, max_size=4)),
                        max_leaves=20)


def test_public_json_is_the_walk_encoded_for_any_answer() -> None:
    """Keys that look like URLs stay, strings with an upstream URL inside (not at the start) stay,
    quotes and backslashes right before or inside a URL value do not confuse it, both schemes of the
    upstream's base are rewritten, other hosts and unproxied APIs are not."""
    import orjson
    from hypothesis import given, settings

    rw = _rw()

    @settings(max_examples=600, deadline=None)
    @given(doc=_docs(), base=st_bases())
    def check(doc: Any, base: str) -> None:
        assert rw.public_json(doc, base) == orjson.dumps(rw.to_public(doc, base))

    check()


def st_bases() -> Any:
    from hypothesis import strategies as st

    return st.sampled_from([PUB, "http://127.0.0.1:8080", 'http://odd"host\\', "http://sidecar.gemeente.example/é"])


def test_public_json_rewrites_a_page_and_leaves_keys_and_inner_text() -> None:
    doc = {"next": f"{UP}/documenten/api/v1/enkelvoudiginformatieobjecten?page=2",
           f"{UP}/zaken/api/v1/zaken/1": "a key stays",
           "results": [f"{UP}/zaken/api/v1/zaken/1", {"titel": f'zie "{UP}/zaken/api/v1/zaken/1"'},
                       {"informatieobjecttype": TYPE}]}
    out = _rw().public_json(doc, PUB).decode()
    assert out.count(PUB) == 2
    assert f'"{UP}/zaken/api/v1/zaken/1":"a key stays"' in out
    assert f'zie \\"{UP}/zaken/api/v1/zaken/1\\"' in out and TYPE in out


def test_public_json_of_a_bare_string_answer_is_the_walks() -> None:
    import orjson

    doc = f"{UP}/zaken/api/v1/zaken/1"
    assert _rw().public_json(doc, PUB) == orjson.dumps(f"{PUB}/zaken/api/v1/zaken/1")
