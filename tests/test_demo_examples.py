"""The demo's printed examples of need-to-know do what they say: a zaak the user has a rol on is
read, one nobody relates her to is a 403 under N1 (checked through a running stack)."""

from __future__ import annotations

from urllib.parse import urlsplit

from sidecar.devtools.demo import curl_examples
from tests.helpers import HULP, Running


def _example_path(text: str, number: int) -> str:
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith(f"# {number}."))
    url = lines[at + 2].rsplit(" ", 1)[1]
    return urlsplit(url).path


def test_the_related_and_unrelated_zaak_examples(knmg: Running) -> None:
    text = curl_examples(knmg.stack)
    h = {**knmg.headers("consulent", HULP), "Accept-Crs": "EPSG:4326"}
    assert "c.jansen" in text and knmg.token("consulent")  # the examples' user is the tests' consulent
    ok = knmg.proxy("GET", _example_path(text, 5), h)
    assert ok.status == 200, ok.body[:300]
    denied = knmg.proxy("GET", _example_path(text, 6), h)
    last = knmg.records_of(denied)[-1]
    assert denied.status == 403 and last["decision"] == "deny" and "N1" in last["reasons"]


def test_the_readme_names_the_same_zaken() -> None:
    from pathlib import Path

    from sidecar.devtools.upstream.seed import relations

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    examples = relations()["examples"]
    assert f"$Z/{examples['zvh_overdracht']}" in readme
    assert f"$Z/{examples['unrelated']['algemeen']}" in readme
