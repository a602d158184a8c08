"""The FG console: the break-glass review loop end to end, in a real headless browser, and attacks.

One stack for the module (real OPA, the demo upstream, the sidecar under gunicorn with the console
on its own port, knmg). The browser test drives Debian's chromium through chromium-driver with
Selenium (installed by ``make test``: mk/browser.mk); it fails, never skips, when they are
missing. Screenshots of every page go to the test's ``tmp_path``.
"""

from __future__ import annotations

import csv
import http.client
import io
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import jwt as pyjwt
import pytest
from markupsafe import escape

from sidecar.devtools.demo import Stack, find_opa, free_ports
from sidecar.devtools.keys import DEMO_ORG, mint
from sidecar.records import verify
from tests.helpers import DOCS, HULP, PROVIDER_ORG, Reply, Running, document_body, new_ports, rsa_keypair, uuid_of

CVP6 = "toestemming_gevraagd ernstige_schade gewetensnood geen_andere_weg schade_voorkomen minimale_doorbreking"
LINKS = "/zaken/api/v1/zaakinformatieobjecten"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCRIPT_MOTIVERING = "<script>alert('m')</script> ernstig gevaar"
SCRIPT_TITLE = "<script>alert('t')</script>brief"


@dataclass
class Console:
    run: Running
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fg_token(self, **kw: Any) -> str:
        return mint(self.run.workdir, sub=kw.pop("sub", "fg.test"), role=kw.pop("role", "fg"),
                    org=kw.pop("org", DEMO_ORG), **kw)


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    ports = new_ports()
    ports.console = free_ports(1)[0]
    # No leeway on token times, so that a session's end can be seen within seconds; relations are
    # read afresh on every request (the test links documents straight in the upstream).
    find_opa()
    stack = Stack(workdir=tmp_path_factory.mktemp("console"), ports=ports, profile="knmg",
                  config_extra={"relations": {"cache_ttl_seconds": 0}})
    os.environ["SIDECAR_JWT__LEEWAY_SECONDS"] = "0"
    try:
        stack.start()
    finally:
        del os.environ["SIDECAR_JWT__LEEWAY_SECONDS"]
    yield Console(Running(stack), ports.console)
    stack.stop()


# ---- a cookie-keeping HTTP client ------------------------------------------------------------

@dataclass
class Browserless:
    """Requests to the console with a cookie jar, for the attacks (no browser needed)."""

    port: int
    cookies: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, target: str, form: dict[str, str] | None = None,
                headers: dict[str, str] | None = None) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            h = dict(headers or {})
            if self.cookies:
                h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            body = urllib.parse.urlencode(form).encode() if form is not None else None
            if body is not None:
                h["Content-Type"] = "application/x-www-form-urlencoded"
            conn.request(method, target, body=body, headers=h)
            resp = conn.getresponse()
            data = resp.read()
            for name, value in resp.getheaders():
                if name.lower() == "set-cookie":
                    jar: SimpleCookie = SimpleCookie()
                    jar.load(value)
                    for morsel in jar.values():
                        if (morsel["expires"] and "1970" in morsel["expires"]) or morsel.value == "":
                            self.cookies.pop(morsel.key, None)
                        else:
                            self.cookies[morsel.key] = morsel.value
            return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
        finally:
            conn.close()

    def csrf(self, target: str = "/login") -> str:
        page = self.request("GET", target)
        m = re.search(rb'name="csrf" value="([0-9a-f]+)"', page.body)
        assert m, page.body[:500]
        return m.group(1).decode()

    def login(self, token: str) -> Reply:
        return self.request("POST", "/login", {"csrf": self.csrf(), "token": token})


def logged_in(console: Console, **kw: Any) -> Browserless:
    client = Browserless(console.port)
    reply = client.login(console.fg_token(**kw))
    assert reply.status == 303 and reply.header("location") == "/", reply.body[:300]
    return client


# ---- setting up break-glass documents --------------------------------------------------------

def break_glass(run: Running, titel: str, motivering: str = "acuut gevaar voor het kind") -> str:
    """A provider sends a document in under a conflict of duties and links it to the medisch-wmo
    zaak (which the demo consulent and medical adviser relate to). Returns its path."""
    h = run.headers("aanbieder", HULP, org=PROVIDER_ORG, secrecy="geen")
    h["Content-Type"] = "application/json"
    h["X-Herkomst"] = f'grondslag=conflict_van_plichten, cvp=({CVP6}), motivering="{motivering}"'
    body = document_body(run.doc_of("algemeen")["informatieobjecttype"], titel)
    reply = run.proxy("POST", DOCS, h, body)
    assert reply.status == 201, reply.body
    assert "review_by_fg" in {o["type"] for o in run.records_of(reply)[-1]["obligations"]}
    doc = reply.json()
    zaak = _zaak_url(run, "medisch-wmo")
    link = run.upstream("POST", LINKS, json.dumps({"zaak": zaak, "informatieobject": doc["url"]}).encode())
    assert link.status == 201, link.body
    return f"{DOCS}/{uuid_of(doc)}"


def _zaak_url(run: Running, key: str) -> str:
    from sidecar.devtools.upstream.seed import seed_uuid

    return f"http://127.0.0.1:{run.stack.ports.upstream}/zaken/api/v1/zaken/{seed_uuid('zaak', key)}"


def read_as(run: Running, path: str, role: str, sub: str, purpose: str = HULP) -> int:
    return run.proxy("GET", path, run.headers(role, purpose, sub=sub)).status


def item_id_for(console: Console, client: Browserless, titel: str) -> str:
    page = client.request("GET", "/").body.decode()
    m = re.search(r'href="/beoordeling/([0-9a-f-]{36})">' + re.escape(str(escape(titel))), page)
    assert m, f"{titel} not in the queue"
    return m.group(1)


# ---- the browser -----------------------------------------------------------------------------

@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    for tool in (CHROMIUM, CHROMEDRIVER):
        assert Path(tool).exists(), f"{tool} missing: 'make test' installs it (mk/browser.mk)"
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,1600", f"--user-data-dir={tmp_path / 'profile'}"):
        opts.add_argument(arg)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    opts.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                           "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(60)
    driver.downloads = downloads  # type: ignore[attr-defined]
    try:
        yield driver
    finally:
        driver.quit()


def navigate(driver: Any, element: Any) -> None:
    """Click something that loads a new page and wait until it has: a find right after click()
    could otherwise still see the old page (a race that shows under load)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    old = driver.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(driver, 30).until(expected_conditions.staleness_of(old))


def shot(driver: Any, folder: Path, name: str) -> None:
    out = folder / "screenshots"
    out.mkdir(exist_ok=True)
    assert driver.save_screenshot(str(out / f"{name}.png"))


def test_review_loop_in_a_real_browser(console: Console, browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    run = console.run
    tag = uuid.uuid4().hex[:8]
    approve_title, reject_title = f"goed-{tag}", f"af-{tag}"
    approve_doc = break_glass(run, approve_title)
    reject_doc = break_glass(run, reject_title)
    # Before the review (knmg, B1): the consulent of the zaak is refused, its medical adviser and
    # the FG (for verantwoording, L3) are not.
    for doc in (approve_doc, reject_doc):
        denied = run.proxy("GET", doc, run.headers("consulent", HULP, sub="c.jansen"))
        assert denied.status == 403 and "B1" in run.records_of(denied)[-1]["reasons"]
        assert read_as(run, doc, "medisch_adviseur", "m.bakker") == 200
        assert read_as(run, doc, "fg", "fg.test", "verantwoording") == 200

    b = browser
    b.get(f"{console.url}/")
    assert b.current_url.endswith("/login")
    shot(b, tmp_path, "01-login")
    b.find_element(By.ID, "token").send_keys(console.fg_token(sub="fg.browser"))
    navigate(b, b.find_element(By.ID, "login-submit"))
    assert b.current_url == f"{console.url}/"
    queue = b.find_element(By.ID, "queue").text
    assert approve_title in queue and reject_title in queue and "6 van 6 voorwaarden" in queue
    shot(b, tmp_path, "02-queue")

    # Approve one …
    navigate(b, b.find_element(By.LINK_TEXT, approve_title))
    assert "wacht op beoordeling" in b.find_element(By.ID, "item-status").text
    assert b.find_element(By.ID, "motivering").text == "acuut gevaar voor het kind"
    assert b.find_element(By.ID, "conditions").text.count("✓") == 6
    shot(b, tmp_path, "03-review")
    b.find_element(By.ID, "toelichting").send_keys("Zes voorwaarden aannemelijk gemaakt.")
    navigate(b, b.find_element(By.ID, "approve"))
    assert b.find_element(By.ID, "item-status").text == "goedgekeurd"
    assert b.find_element(By.ID, "decided-by").text == "fg.browser"
    review_decision = b.find_element(By.ID, "review-decision").text
    shot(b, tmp_path, "04-approved")
    # … and reject the other (a note is required: the browser refuses an empty one, the server too).
    b.get(f"{console.url}/")
    navigate(b, b.find_element(By.LINK_TEXT, reject_title))
    b.find_element(By.ID, "toelichting").send_keys("Geen ernstige schade aangetoond.")
    navigate(b, b.find_element(By.ID, "reject"))
    assert b.find_element(By.ID, "item-status").text == "afgewezen"
    b.get(f"{console.url}/")
    assert approve_title not in b.find_element(By.TAG_NAME, "main").text.split("Afgewezen")[0]
    assert reject_title in b.find_element(By.ID, "rejected").text
    shot(b, tmp_path, "05-queue-after")

    # Through the proxy: approved follows the ordinary rules, rejected is nobody's but the FG's.
    assert read_as(run, approve_doc, "consulent", "c.jansen") == 200
    denied = run.proxy("GET", reject_doc, run.headers("consulent", HULP, sub="c.jansen"))
    assert denied.status == 403 and "B2" in run.records_of(denied)[-1]["reasons"]
    assert read_as(run, reject_doc, "medisch_adviseur", "m.bakker") == 403
    assert read_as(run, reject_doc, "fg", "fg.test", "verantwoording") == 200

    # The review action's decision, looked up by its id: B3, the FG, the rule text, the chain.
    b.get(f"{console.url}/beslissingen")
    b.find_element(By.ID, "q").send_keys(review_decision)
    navigate(b, b.find_element(By.ID, "search"))
    page = b.find_element(By.TAG_NAME, "main").text
    assert review_decision in page and "B3" in page and "fg.browser" in page
    assert "B3 the fg decides the review" in page  # the title from the policy's METADATA
    assert "eigen hash klopt" in page and "NIET" not in page
    shot(b, tmp_path, "06-decision")

    # An art. 15 report for a data subject with a history.
    bsn = "999990019"
    b.get(f"{console.url}/inzage")
    b.find_element(By.ID, "bsn").send_keys(bsn)
    shot(b, tmp_path, "07-inzage-form")
    navigate(b, b.find_element(By.ID, "inzage-submit"))
    assert "?" not in b.current_url and bsn not in b.current_url
    report = b.find_element(By.ID, "report").text
    assert "fg.browser" not in report and bsn not in b.page_source
    shot(b, tmp_path, "08-inzage")
    b.find_element(By.ID, "csv").click()
    csv_file = _wait_for_download(b.downloads)
    rows = list(csv.reader(io.StringIO(csv_file.read_text(encoding="utf-8"))))
    assert rows[0][:3] == ["tijdstip", "besluit", "doel"] and "medewerker" not in rows[0]
    navigate(b, b.find_element(By.ID, "show-employees"))
    assert "met medewerkers" in b.find_element(By.ID, "with-employees").text
    shot(b, tmp_path, "09-inzage-employees")

    b.get(f"{console.url}/overzicht")
    assert b.find_element(By.ID, "active-profile").text == "knmg"
    assert b.find_element(By.ID, "chart").tag_name == "svg"
    shot(b, tmp_path, "10-overview")

    shots = sorted(p.name for p in (tmp_path / "screenshots").iterdir())
    assert len(shots) == 10 and all((tmp_path / "screenshots" / s).stat().st_size > 1000 for s in shots)
    # Every console action was recorded, and the chain holds.
    assert verify(run.workdir / "records.jsonl").ok
    out = subprocess.run([sys.executable, "-m", "sidecar", "records", "verify", "--workdir", str(run.workdir)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


def _wait_for_download(folder: Path, timeout: float = 30) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [p for p in folder.iterdir() if p.suffix == ".csv"]
        if done:
            return done[0]
        time.sleep(0.2)
    raise AssertionError(f"no CSV downloaded into {folder}: {list(folder.iterdir())}")


# ---- records of the console's own actions ----------------------------------------------------

def test_review_decision_is_recorded_and_kept_on_the_item(console: Console) -> None:
    run = console.run
    titel = f"rec-{uuid.uuid4().hex[:8]}"
    break_glass(run, titel)
    client = logged_in(console, sub="fg.records")
    item = item_id_for(console, client, titel)
    csrf = client.csrf(f"/beoordeling/{item}")
    # A note is required, and nothing is decided or recorded without one.
    before = len(run.records())
    empty = client.request("POST", f"/beoordeling/{item}", {"csrf": csrf, "besluit": "approved", "toelichting": " "})
    assert empty.status == 400 and b"toelichting is verplicht" in empty.body
    assert len(run.records()) == before
    done = client.request("POST", f"/beoordeling/{item}", {"csrf": csrf, "besluit": "approved", "toelichting": "ok"})
    assert done.status == 303
    rec = run.records()[-1]
    assert rec["action"] == "update" and rec["resource"]["type"] == "review" and rec["resource"]["id"] == item
    assert rec["subject"] == {"id": "fg.records", "role": "fg", "org": DEMO_ORG}
    assert rec["decision"] == "allow" and rec["reasons"] == ["B3"] and rec["purpose"] == "verantwoording"
    page = client.request("GET", f"/beoordeling/{item}").body.decode()
    assert rec["decision_id"] in page and "fg.records" in page
    # Deciding again changes nothing.
    again = client.request("POST", f"/beoordeling/{item}", {"csrf": csrf, "besluit": "rejected", "toelichting": "x"})
    assert again.status == 409
    assert verify(run.workdir / "records.jsonl").ok


def test_page_views_that_show_records_are_recorded_as_l1_or_l2(console: Console) -> None:
    run = console.run
    client = logged_in(console, sub="fg.views")
    n = len(run.records())
    assert client.request("GET", "/overzicht").status == 200
    rec = run.records()[-1]
    assert len(run.records()) == n + 1 and rec["reasons"] == ["L1"] and rec["subject"]["id"] == "fg.views"
    report = client.request("POST", "/inzage", {"csrf": client.csrf("/inzage"), "bsn": "999990019"})
    assert report.status == 200
    l2 = run.records()[-1]
    assert l2["reasons"] == ["L2"] and l2["betrokkene"] and l2["betrokkene"].startswith("hmac-sha256:")
    assert "999990019" not in json.dumps(run.records()) and "999990019" not in run.log()
    pseudo = re.search(rb'name="pseudoniem" value="(hmac-sha256:[0-9a-f]{64})"', report.body)
    assert pseudo
    step2 = client.request("POST", "/inzage", {"csrf": client.csrf("/inzage"), "pseudoniem": pseudo.group(1).decode(),
                                               "stap": "medewerkers"})
    assert step2.status == 200
    l1 = run.records()[-1]
    assert l1["reasons"] == ["L1"] and l1["betrokkene"] == l2["betrokkene"] and l1["subject"]["role"] == "fg"
    decision = client.request("GET", f"/beslissingen/{l2['decision_id']}")
    assert decision.status == 200 and l2["decision_id"].encode() in decision.body
    assert run.records()[-1]["reasons"] == ["L1"]


def test_pages_read_every_records_file_of_the_folder(console: Console) -> None:
    # A file the sidecar rotated away (records.rotate_*) or another replica's file: the inzage
    # finds the person in it and the decision page shows its lines, named by file.
    from sidecar.records import RecordWriter, build_record
    from sidecar.settings import load_settings

    run = console.run
    bsn = f"{uuid.uuid4().int % 10**9:09d}"
    pseudonym = load_settings(run.workdir / "config.yaml", env={}).pseudonymisation.keyring().all(bsn)[0]
    decision_id = str(uuid.uuid4())
    rotated = run.workdir / "records.2026-11-29T000000Z.jsonl"
    writer = RecordWriter(rotated)
    try:
        writer.write_many([build_record(
            time="2026-11-29T10:00:00.000Z", decision_id=decision_id, trace_id=uuid.uuid4().hex, span_id="1" * 16,
            phase="response", allow=True, enforced=True, status=200,
            subject={"id": "c.jansen", "role": "consulent", "org": DEMO_ORG}, purpose=HULP, action="read",
            resource={"type": "zaak", "id": "z-rotated", "properties": {"category": "algemeen"}},
            resource_type="zaak", betrokkene=pseudonym, decision=None, reasons=["R1"], profile="knmg",
            duration_s=0.001)])
    finally:
        writer.close()
    try:
        client = logged_in(console, sub="fg.rotated")
        report = client.request("POST", "/inzage", {"csrf": client.csrf("/inzage"), "bsn": bsn})
        assert report.status == 200 and b"2026-11-29" in report.body, report.body[:2000]
        page = client.request("GET", f"/beslissingen/{decision_id}")
        assert page.status == 200 and decision_id.encode() in page.body
        assert rotated.name.encode() in page.body and b"eigen hash klopt;" in page.body
    finally:
        for f in run.workdir.glob("records.2026-11-29T000000Z.*"):
            f.unlink()


def test_open_review_items_are_exported_as_metrics(console: Console) -> None:
    run = console.run
    titel = f"metric-{uuid.uuid4().hex[:8]}"
    before = run.metric("sidecar_review_open_items")
    break_glass(run, titel)
    assert run.metric("sidecar_review_open_items") == before + 1
    assert run.metric("sidecar_review_oldest_open_age_seconds") >= 0
    assert run.metric("sidecar_review_max_open_age_seconds") == 14 * 86400
    client = logged_in(console, sub="fg.metrics")
    item = item_id_for(console, client, titel)
    approved = run.metric("sidecar_review_decisions_total", decision="rejected")
    client.request("POST", f"/beoordeling/{item}", {"csrf": client.csrf(f"/beoordeling/{item}"),
                                                    "besluit": "rejected", "toelichting": "nee"})
    assert run.metric("sidecar_review_open_items") == before
    assert run.metric("sidecar_review_decisions_total", decision="rejected") == approved + 1


# ---- attacks ---------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/", "/beslissingen", "/overzicht", "/inzage", f"/beoordeling/{uuid.uuid4()}"])
def test_no_session_redirects_to_login(console: Console, path: str) -> None:
    reply = Browserless(console.port).request("GET", path)
    assert reply.status == 303 and reply.header("location") == "/login"


def test_a_non_fg_token_is_refused(console: Console) -> None:
    for kw in ({"role": "consulent"}, {"role": "fg", "org": "zvh-midden"}):
        client = Browserless(console.port)
        reply = client.login(console.fg_token(**kw))
        assert reply.status == 403 and "wams_fg_sessie" not in client.cookies
        assert b"functionaris gegevensbescherming" in reply.body


def test_a_forged_or_expired_token_is_refused(console: Console, tmp_path: Path) -> None:
    good = console.fg_token()
    head, payload, sig = good.split(".")
    claims = json.loads(_b64d(payload))
    claims["role"] = "fg"
    claims["sub"] = "mallory"
    tampered = f"{head}.{_b64e(json.dumps(claims).encode())}.{sig}"
    other_key, _ = rsa_keypair(tmp_path, "other")
    foreign = pyjwt.encode({**claims, "sub": "eve"}, other_key.read_bytes(), algorithm="RS256",
                           headers={"kid": json.loads(_b64d(head))["kid"]})
    expired = console.fg_token(ttl=-60)
    for token in (tampered, foreign, expired, "not-a-token", ""):
        client = Browserless(console.port)
        reply = client.login(token)
        assert reply.status == 401 and "wams_fg_sessie" not in client.cookies, token
        # A cookie made by hand is verified like a login.
        client.cookies["wams_fg_sessie"] = token or "x"
        assert client.request("GET", "/").status == 303


def test_an_expired_token_ends_the_session(console: Console) -> None:
    client = Browserless(console.port)
    assert client.login(console.fg_token(ttl=2)).status == 303
    assert client.request("GET", "/").status == 200
    time.sleep(3)
    reply = client.request("GET", "/")
    assert reply.status == 303 and reply.header("location") == "/login?sessie=verlopen"
    assert "wams_fg_sessie" not in client.cookies


def test_the_session_cookie_is_httponly_strict_and_expires_with_the_token(console: Console) -> None:
    client = Browserless(console.port)
    token = console.fg_token()
    csrf = client.csrf()
    conn = http.client.HTTPConnection("127.0.0.1", console.port, timeout=30)
    conn.request("POST", "/login", body=urllib.parse.urlencode({"csrf": csrf, "token": token}),
                 headers={"Content-Type": "application/x-www-form-urlencoded",
                          "Cookie": "; ".join(f"{k}={v}" for k, v in client.cookies.items())})
    resp = conn.getresponse()
    cookies = [v for k, v in resp.getheaders() if k.lower() == "set-cookie" and v.startswith("wams_fg_sessie=")]
    conn.close()
    assert len(cookies) == 1
    attrs = {a.strip().split("=")[0].lower() for a in cookies[0].split(";")}
    assert {"httponly", "samesite", "expires", "path"} <= attrs and "SameSite=Strict" in cookies[0]
    assert "secure" not in attrs  # plain HTTP here; Secure when served over TLS


def test_csrf_token_missing_or_wrong_is_refused(console: Console) -> None:
    run = console.run
    titel = f"csrf-{uuid.uuid4().hex[:8]}"
    break_glass(run, titel)
    client = logged_in(console, sub="fg.csrf")
    item = item_id_for(console, client, titel)
    n = len(run.records())
    for form in ({"besluit": "approved", "toelichting": "x"},
                 {"csrf": "0" * 64, "besluit": "approved", "toelichting": "x"},
                 # a valid token of another session (another browser's nonce)
                 {"csrf": logged_in(console, sub="fg.other").csrf("/"), "besluit": "approved", "toelichting": "x"}):
        reply = client.request("POST", f"/beoordeling/{item}", form)
        assert reply.status == 400 and b"CSRF" in reply.body
    assert len(run.records()) == n
    assert b"wacht op beoordeling" in client.request("GET", f"/beoordeling/{item}").body
    assert Browserless(console.port).request("POST", "/login", {"token": console.fg_token()}).status == 400
    assert client.request("POST", "/logout", {}).status == 400
    assert client.request("GET", "/").status == 200  # still logged in


def test_script_in_motivering_and_title_is_escaped(console: Console) -> None:
    run = console.run
    break_glass(run, SCRIPT_TITLE, SCRIPT_MOTIVERING)
    client = logged_in(console, sub="fg.xss")
    queue = client.request("GET", "/")
    assert b"<script>" not in queue.body and b"&lt;script&gt;alert(&#39;t&#39;)" in queue.body
    assert b"&lt;script&gt;alert(&#39;m&#39;)" in queue.body
    csp = queue.header("content-security-policy") or ""
    assert "default-src 'none'" in csp and "script-src" not in csp and "unsafe-inline" not in csp
    item = item_id_for(console, client, SCRIPT_TITLE)
    page = client.request("GET", f"/beoordeling/{item}")
    assert b"<script>" not in page.body and b"&lt;script&gt;" in page.body
    # The decision page of the ingest shows the herkomst (with the motivation) escaped as well.
    ingest = re.search(rb'href="/beslissingen/([0-9a-f-]{36})"', page.body)
    assert ingest
    decision = client.request("GET", f"/beslissingen/{ingest.group(1).decode()}")
    assert decision.status == 200 and b"<script>" not in decision.body and b"&lt;script&gt;" in decision.body


def test_a_bsn_in_the_query_string_is_refused_and_not_kept(console: Console) -> None:
    run = console.run
    client = logged_in(console, sub="fg.bsn")
    bsn = "999990044"
    n = len(run.records())
    for method, target, form in (("GET", f"/inzage?bsn={bsn}", None),
                                 ("POST", f"/inzage?bsn={bsn}", {"csrf": client.csrf("/inzage"), "bsn": bsn}),
                                 ("POST", f"/inzage/csv?bsn={bsn}", {"csrf": client.csrf("/inzage"), "bsn": bsn})):
        reply = client.request(method, target, form)
        assert reply.status == 400 and bsn.encode() not in reply.body
    assert len(run.records()) == n
    assert bsn not in run.log() and bsn not in (run.workdir / "records.jsonl").read_text()
    assert not any(bsn in v for v in client.cookies.values())


def test_console_is_only_on_its_own_port(console: Console) -> None:
    run = console.run
    assert run.proxy("GET", "/login").status in (401, 403)
    assert run.admin("/login").status == 404
    metrics = Browserless(console.port).request("GET", "/metrics")
    assert metrics.status == 404 and b"sidecar_" not in metrics.body


def test_the_proxy_does_not_load_the_console() -> None:
    code = ("import sys\nimport sidecar.app, sidecar.serve, sidecar.proxy\n"
            "print(','.join(sorted(m for m in sys.modules if m.startswith('sidecar.console'))))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == ""


def test_static_css_needs_no_session_and_pages_carry_security_headers(console: Console) -> None:
    css = Browserless(console.port).request("GET", "/static/console.css")
    assert css.status == 200 and b"@media print" in css.body
    login = Browserless(console.port).request("GET", "/login")
    assert login.header("x-frame-options") == "DENY" and login.header("cache-control") == "no-store"


def _b64d(seg: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4))


def _b64e(raw: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# ---- configuration and the demo --------------------------------------------------------------

def test_console_is_off_by_default_and_needs_a_port_of_its_own(tmp_path: Path) -> None:
    from sidecar.devtools.demo import Ports, write_config
    from sidecar.settings import ConfigError, load_settings

    config = write_config(tmp_path, Ports(), profile="knmg")
    assert load_settings(config, env={}).console.listen is None
    on = load_settings(config, env={"SIDECAR_CONSOLE__LISTEN": "127.0.0.1:9190"})
    assert on.console.addr == ("127.0.0.1", 9190) and on.review.max_open_days == 14
    with pytest.raises(ConfigError, match="port of its own"):
        load_settings(config, env={"SIDECAR_CONSOLE__LISTEN": "127.0.0.1:9180"})
    with pytest.raises(ConfigError, match=r"console\.listen"):
        load_settings(config, env={"SIDECAR_CONSOLE__LISTEN": "nowhere"})


def test_the_demo_turns_the_console_on_and_says_how_to_log_in(tmp_path: Path) -> None:
    import yaml

    from sidecar.devtools.demo import Ports, curl_examples, write_config

    ports = Ports(console=9190)
    cfg = yaml.safe_load(write_config(tmp_path, ports, profile="knmg").read_text())
    assert cfg["console"] == {"listen": "127.0.0.1:9190"}
    text = curl_examples(Stack(workdir=tmp_path, ports=ports))
    assert "FG console: http://127.0.0.1:9190/" in text and "token --workdir" in text and "--role fg" in text
