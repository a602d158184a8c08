"""The FG console's Flask app: login, review queue, decision look-up, art. 15 report, overview.

Security, in one place:

- A session is the FG's own JWT in an HttpOnly, SameSite=Strict cookie (Secure over TLS) that
  expires with the token. Every request verifies it again with the proxy's :class:`Authenticator`
  (signature, kid, iss, aud, exp): an expired or no longer trusted token ends the session, and
  every gunicorn worker and replica accepts the same session without shared session state.
  Only role ``fg`` of a controlling organisation gets in; any other valid token is a 403.
- Every POST carries a CSRF token: an HMAC, under a key derived from the pseudonymisation key, of
  a random per-browser nonce (its own cookie) and the session token, compared in constant time.
- Content-Security-Policy without any script; templates autoescape every value.
- A BSN only ever arrives in a POST body: a query string on ``/inzage`` is refused without
  being read back, and no log line carries a query string.
- Records, review items and rule texts are read; the records file is opened read-only. Every page
  that shows records, and every review decision, is decided by OPA and recorded first
  (:mod:`sidecar.records_access`).
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import logging
import re
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from flask import Flask, g, redirect, render_template, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from sidecar import metrics
from sidecar.auth import Authenticator, AuthError, Identity
from sidecar.call import Call
from sidecar.labels import LabelStore, LabelStoreError, ReviewItem
from sidecar.opa import OpaClient, OpaError
from sidecar.opa_input import public_labels, resource
from sidecar.pseudonyms import PSEUDONYM_RX
from sidecar.records import GENESIS, RecordWriter, iter_records, manifest_of, record_hash, records_files
from sidecar.records_access import Access, access_rows, decide_and_record, records_access
from sidecar.routes import RouteSpec
from sidecar.settings import Settings
from sidecar.tracing import from_header
from sidecar.vocab import CVP_CONDITIONS

log = logging.getLogger("sidecar.console")

SESSION_COOKIE = "wams_fg_sessie"
NONCE_COOKIE = "wams_fg_csrf"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TRACE = re.compile(r"[0-9a-f]{32}")
_BSN = re.compile(r"[0-9]{9}")
_NOTE_MAX = 2000
_REVIEW_ROUTE = RouteSpec(name="console_review", methods=["POST"], path="/review", resource="review",
                          action="update")
OVERVIEW_DAYS = 30

CVP_TEXT = {
    "toestemming_gevraagd": "Er is eerst toestemming gevraagd (of dat kon niet)",
    "ernstige_schade": "Zonder doorbreking dreigt ernstige schade",
    "gewetensnood": "De hulpverlener verkeert in gewetensnood",
    "geen_andere_weg": "Er is geen andere weg",
    "schade_voorkomen": "Doorbreking kan de schade voorkomen of beperken",
    "minimale_doorbreking": "Het geheim wordt zo min mogelijk doorbroken",
}
DECISION_TEXT = {"allow": "toegestaan", "deny": "geweigerd"}
STATUS_TEXT = {"open": "wacht op beoordeling", "approved": "goedgekeurd", "rejected": "afgewezen"}


class ConsoleDenied(Exception):
    """An access the policy refused, or that could not be decided or recorded."""

    def __init__(self, access: Access) -> None:
        super().__init__(access.refusal)
        self.access = access


@dataclass
class _RuleTexts:
    """Rule id → title and description, from the METADATA of the policies OPA has loaded (its
    ``/v1/policies``), so the texts are those of the revision that decides. Cached a minute."""

    opa: OpaClient
    ttl: float = 60.0
    _at: float = float("-inf")
    _texts: dict[str, dict[str, str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self) -> dict[str, dict[str, str]]:
        with self._lock:
            if time.monotonic() - self._at < self.ttl:
                return self._texts
            try:
                modules = self.opa.get("/v1/policies")
            except OpaError as exc:
                log.warning("rule texts unavailable", extra={"event": "console_rule_texts", "error": str(exc)})
                return self._texts
            texts: dict[str, dict[str, str]] = {}
            for module in modules if isinstance(modules, list) else []:
                for ann in ((module.get("ast") or {}).get("annotations") or []) if isinstance(module, dict) else []:
                    rid = (ann.get("custom") or {}).get("id") if isinstance(ann, dict) else None
                    if not isinstance(rid, str):
                        continue
                    entry = {"title": str(ann.get("title") or ""), "description": str(ann.get("description") or "")}
                    # Several rules carry one id (its allow and deny side): prefer the one whose
                    # title names it.
                    if rid not in texts or (entry["title"].startswith(rid) and not texts[rid]["title"].startswith(rid)):
                        texts[rid] = entry
            self._texts, self._at = texts, time.monotonic()
            return texts


@dataclass
class _Line:
    """A record as the decision page shows it, with what the hash chain says about it."""

    line_no: int
    record: dict[str, Any]
    own_hash_ok: bool
    prev_link_ok: bool
    next_link_ok: bool | None = None  # None: it is the last line
    chain_ok_from_start: bool = True
    file: str | None = None  # named when the records folder holds more than one file


def _age(created: str, now: datetime) -> str:
    try:
        then = datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        return "onbekend"
    secs = max(0, int((now - then).total_seconds()))
    days, rest = divmod(secs, 86400)
    hours, rest = divmod(rest, 3600)
    if days:
        return f"{days} {'dag' if days == 1 else 'dagen'}, {hours} uur"
    if hours:
        return f"{hours} uur, {rest // 60} min"
    return f"{rest // 60} min"


def _csv_safe(value: Any) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def create_console(settings: Settings, *, authenticator: Authenticator, opa: OpaClient, writer: RecordWriter,
                   labels: LabelStore) -> Flask:
    app = Flask("sidecar.console", template_folder="templates", static_folder="static", static_url_path="/static",
                root_path=str(Path(__file__).parent))
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    controlling = frozenset(settings.controlling_orgs)
    key = settings.pseudonymisation.key_bytes()
    keyring = settings.pseudonymisation.keyring()
    csrf_key = hmac.new(key, b"wams-console-csrf-v1", hashlib.sha256).digest()
    rule_texts = _RuleTexts(opa)
    # The folder of the live file: every replica's file and every rotated one are read.
    records_dir = Path(settings.records.path).parent
    public = frozenset({"login", "login_post", "static"})

    # -- session and CSRF --------------------------------------------------------------------

    def csrf_token(nonce: str, session: str | None) -> str:
        bound = hashlib.sha256((session or "").encode()).hexdigest()
        return hmac.new(csrf_key, f"{nonce}|{bound}".encode(), hashlib.sha256).hexdigest()

    def check_csrf() -> None:
        nonce = request.cookies.get(NONCE_COOKIE)
        sent = request.form.get("csrf", "")
        if not nonce or not hmac.compare_digest(sent, csrf_token(nonce, request.cookies.get(SESSION_COOKIE))):
            raise _Page(400, "CSRF-controle mislukt", "Het formulier is verlopen of niet van deze console. "
                                                      "Laad de pagina opnieuw en probeer het nog eens.")

    def fg_only(ident: Identity) -> None:
        if ident.role != "fg" or ident.org not in controlling:
            raise _Page(403, "Geen toegang", "De console is alleen voor de functionaris gegevensbescherming "
                                             "van de gemeente.")

    @app.before_request
    def _session() -> Response | None:
        g.started = time.perf_counter()
        g.identity = None
        nonce = request.cookies.get(NONCE_COOKIE)
        g.new_nonce = None
        if not nonce or not re.fullmatch(r"[0-9a-f]{32}", nonce):
            nonce = g.new_nonce = secrets.token_hex(16)
        g.nonce = nonce
        if request.endpoint in public or request.endpoint is None:
            return None
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            return redirect("/login", code=303)
        try:
            ident = authenticator.authenticate(f"Bearer {token}")
        except AuthError:
            # Expired, or its key is no longer trusted: the session ends here.
            resp = redirect("/login?sessie=verlopen", code=303)
            resp.delete_cookie(SESSION_COOKIE, path="/")
            return resp
        fg_only(ident)
        g.identity = ident
        if request.method == "POST":
            check_csrf()
        return None

    @app.after_request
    def _headers(resp: Response) -> Response:
        resp.headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'")
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["Referrer-Policy"] = "no-referrer"
        resp.headers["Cache-Control"] = "no-store"
        if g.get("new_nonce"):
            resp.set_cookie(NONCE_COOKIE, g.new_nonce, httponly=True, samesite="Strict", secure=request.is_secure,
                            path="/")
        ident = g.get("identity")
        # The path only: a query string could carry what must never be logged (a BSN).
        log.info("console request", extra={
            "event": "console_request", "method": request.method, "path": request.path,
            "status": resp.status_code, "subject": ident.sub if ident else None,
            "duration_ms": round((time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 3)})
        return resp

    @app.context_processor
    def _context() -> dict[str, Any]:
        return {"csrf": csrf_token(g.get("nonce", ""), request.cookies.get(SESSION_COOKIE)),
                "me": g.get("identity"), "profile": settings.policy.profile, "DECISION_TEXT": DECISION_TEXT,
                "STATUS_TEXT": STATUS_TEXT}

    @app.errorhandler(_Page)
    def _page(exc: _Page) -> tuple[str, int]:
        return render_template("error.html", title=exc.title, message=exc.message, decision_id=exc.decision_id,
                               status=exc.status), exc.status

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> tuple[str, int]:
        status = exc.code or 500
        titles = {404: "Niet gevonden", 405: "Methode niet toegestaan", 413: "Verzoek te groot"}
        return render_template("error.html", title=titles.get(status, "Fout"),
                               message="Deze pagina bestaat niet of kan zo niet worden opgevraagd.",
                               decision_id=None, status=status), status

    @app.errorhandler(LabelStoreError)
    def _labels_down(exc: LabelStoreError) -> tuple[str, int]:
        log.error("console label store", extra={"event": "console_labels_failed", "error": str(exc)})
        return render_template("error.html", title="Labelopslag niet beschikbaar", decision_id=None, status=503,
                               message="De beoordelingen kunnen nu niet worden gelezen of opgeslagen."), 503

    @app.errorhandler(ConsoleDenied)
    def _denied(exc: ConsoleDenied) -> tuple[str, int]:
        a = exc.access
        status = 503 if a.decision is None else 403
        text = a.decision.reason_user if a.decision is not None else (
            "De beslissing kon niet worden genomen of vastgelegd; er wordt niets getoond of gewijzigd.")
        return render_template("error.html", title="Geen toegang" if status == 403 else "Beslissing niet mogelijk",
                               message=text, decision_id=a.decision_id, status=status), status

    # -- login -------------------------------------------------------------------------------

    @app.get("/login")
    def login() -> str:
        return render_template("login.html", expired=request.args.get("sessie") == "verlopen", error=None)

    @app.post("/login")
    def login_post() -> Response | tuple[str, int]:
        nonce = request.cookies.get(NONCE_COOKIE)
        if not nonce or not hmac.compare_digest(request.form.get("csrf", ""), csrf_token(nonce, None)):
            raise _Page(400, "CSRF-controle mislukt", "Laad de aanmeldpagina opnieuw en probeer het nog eens.")
        token = request.form.get("token", "").strip()
        if token.lower().startswith("bearer "):
            token = token[7:].strip()
        try:
            ident = authenticator.authenticate(f"Bearer {token}")
        except AuthError as exc:
            metrics.authn_failures_total.labels(exc.code).inc()
            return render_template("login.html", expired=False, error=exc.detail), 401
        fg_only(ident)
        exp = jwt.decode(token, options={"verify_signature": False}).get("exp")  # verified above
        resp = redirect("/", code=303)
        resp.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="Strict", secure=request.is_secure, path="/",
                        expires=int(exp) if isinstance(exp, int | float) else None)
        log.info("console login", extra={"event": "console_login", "subject": ident.sub})
        return resp

    @app.post("/logout")
    def logout() -> Response:
        resp = redirect("/login", code=303)
        resp.delete_cookie(SESSION_COOKIE, path="/")
        return resp

    # -- review ------------------------------------------------------------------------------

    def item_or_404(item_id: str) -> ReviewItem:
        item = labels.review_item(item_id) if _UUID.fullmatch(item_id) else None
        if item is None:
            raise _Page(404, "Niet gevonden", "Deze beoordeling bestaat niet.")
        return item

    @app.get("/")
    def queue() -> str:
        now = datetime.now(UTC)
        items = labels.review_items("open")
        rejected = labels.review_items("rejected")
        return render_template("queue.html", items=items, rejected=rejected, now=now, age=_age,
                               cvp_text=CVP_TEXT)

    @app.get("/beoordeling/<item_id>")
    def review(item_id: str) -> str:
        item = item_or_404(item_id)
        return render_template("review.html", item=item, age=_age(item.created, datetime.now(UTC)),
                               cvp=CVP_CONDITIONS, cvp_text=CVP_TEXT, error=None, note="")

    @app.post("/beoordeling/<item_id>")
    def review_post(item_id: str) -> Response | tuple[str, int]:
        item = item_or_404(item_id)
        ident: Identity = g.identity
        besluit = request.form.get("besluit", "")
        note = request.form.get("toelichting", "").strip()
        error = None
        if besluit not in ("approved", "rejected"):
            error = "Kies goedkeuren of afwijzen."
        elif not note:
            error = "Een toelichting is verplicht."
        elif len(note) > _NOTE_MAX:
            error = f"De toelichting is langer dan {_NOTE_MAX} tekens."
        if error is None and item.status != "open":
            error = "Deze beoordeling is al afgerond."
        if error is not None:
            return render_template("review.html", item=item, age=_age(item.created, datetime.now(UTC)),
                                   cvp=CVP_CONDITIONS, cvp_text=CVP_TEXT, error=error, note=note), (
                409 if item.status != "open" else 400)
        stored = labels.get_many([item.key]).get(item.key) or {}
        call = Call(trace=from_header(None), method="POST", started=time.perf_counter(), route=_REVIEW_ROUTE,
                    identity=ident, purpose="verantwoording")
        call.extra_context["review"] = {"besluit": besluit}
        # No category: the review is an act of the FG, not a use of the data (the category rules,
        # e.g. R5's for a coordination dossier, are not about it); the labels carry review_status.
        res = resource("review", item.id, None, public_labels(stored))
        pseudonym = stored.get("betrokkene")
        access = decide_and_record(settings, call, res, subject={"id": ident.sub, "role": ident.role, "org": ident.org},
                                   betrokkenen=[pseudonym if isinstance(pseudonym, str) else None],
                                   opa=opa, writer=writer)
        if not access.allowed or access.decision_id is None:
            raise ConsoleDenied(access)
        done = labels.decide_review(item.id, status=besluit, by=ident.sub, note=note, decision_id=access.decision_id)
        if done is None:
            raise _Page(409, "Al beoordeeld", "Iemand anders heeft deze beoordeling intussen afgerond.",
                        decision_id=access.decision_id)
        metrics.review_decisions_total.labels(besluit).inc()
        log.info("review decided", extra={"event": "review_decided", "subject": ident.sub, "status": besluit,
                                          "decision_id": access.decision_id})
        return redirect(f"/beoordeling/{item.id}", code=303)

    # -- decisions ---------------------------------------------------------------------------

    def require_l1(pseudonym: str | None = None) -> Access:
        access = records_access(settings, pseudonym=pseudonym, who=g.identity.sub, with_employees=True,
                                identity=g.identity, opa=opa, writer=writer)
        if not access.allowed:
            raise ConsoleDenied(access)
        return access

    @app.get("/beslissingen")
    def decisions_search() -> Response | tuple[str, int]:
        q = request.args.get("q", "").strip().lower()
        if not q:
            return render_template("search.html", error=None, q=""), 200
        if not (_UUID.fullmatch(q) or _TRACE.fullmatch(q)):
            return render_template("search.html", q="",
                                   error="Geef een decision_id (uuid) of een trace-id (32 hexadecimale tekens)."), 400
        return redirect(f"/beslissingen/{q}", code=303)

    @app.get("/beslissingen/<ident>")
    def decision(ident: str) -> str:
        ident = ident.lower()
        if not (_UUID.fullmatch(ident) or _TRACE.fullmatch(ident)):
            raise _Page(400, "Ongeldig kenmerk", "Geef een decision_id (uuid) of een trace-id.")
        require_l1()
        lines, trace = _find_request(records_dir, ident)
        texts = rule_texts.get()
        return render_template("decision.html", ident=ident, trace=trace, lines=lines, texts=texts)

    # -- art. 15 -----------------------------------------------------------------------------

    def no_query() -> None:
        if request.query_string:
            # Never echoed, never logged: the address may hold a BSN.
            raise _Page(400, "Geen gegevens in het adres", "Een BSN wordt alleen via het formulier verstuurd, "
                                                           "nooit in het adres. Er is niets gezocht of vastgelegd.")

    def report(pseudonyms: list[str], with_employees: bool) -> list[dict[str, Any]]:
        # Read first, then decide and record (as `sidecar records query` does): the report is of
        # the accesses before this one. The person under every active key version; the record
        # names them under the first (the current one, for a BSN typed in).
        wanted = frozenset(pseudonyms)
        matches = [rec for path in _files(records_dir) for _, rec, _ in iter_records(path)
                   if rec is not None and rec.get("betrokkene") in wanted]
        access = records_access(settings, pseudonym=pseudonyms[0], who=g.identity.sub, with_employees=with_employees,
                                identity=g.identity, opa=opa, writer=writer)
        if not access.allowed:
            raise ConsoleDenied(access)
        return access_rows(matches, with_employees=with_employees)

    def pseudonym_from_form() -> list[str]:
        """The person's pseudonyms under every active key version (current first): from the BSN,
        or from the previous step's hidden field (the same list, space-separated)."""
        bsn = request.form.get("bsn")
        if bsn is not None:
            bsn = bsn.strip().replace(" ", "")
            if not _BSN.fullmatch(bsn):
                raise _Page(400, "Ongeldig BSN", "Een BSN bestaat uit 9 cijfers.")
            return keyring.all(bsn)
        pseudonyms = request.form.get("pseudoniem", "").split(" ")
        if not 0 < len(pseudonyms) <= len(keyring.versions) or len(set(pseudonyms)) != len(pseudonyms) \
                or not all(PSEUDONYM_RX.fullmatch(p) for p in pseudonyms):
            raise _Page(400, "Ongeldig verzoek", "Vul het BSN opnieuw in.")
        return pseudonyms

    @app.get("/inzage")
    def inzage() -> str:
        no_query()
        return render_template("inzage.html", rows=None, pseudonym=None, with_employees=False)

    @app.post("/inzage")
    def inzage_post() -> str:
        no_query()
        pseudonym = pseudonym_from_form()
        with_employees = request.form.get("stap") == "medewerkers"
        rows = report(pseudonym, with_employees)
        return render_template("inzage.html", rows=rows, pseudonym=" ".join(pseudonym), with_employees=with_employees)

    @app.post("/inzage/csv")
    def inzage_csv() -> Response:
        no_query()
        pseudonym = pseudonym_from_form()
        with_employees = request.form.get("met_medewerkers") == "1"
        rows = report(pseudonym, with_employees)
        out = io.StringIO()
        w = csv.writer(out)
        head = ["tijdstip", "besluit", "doel", "handeling", "categorie", "grondslag", "ontvanger", "verwerking"]
        w.writerow(head + (["medewerker", "rol", "organisatie"] if with_employees else []))
        for row in rows:
            cells = [row["time"], DECISION_TEXT.get(row["decision"], row["decision"]), row["purpose"], row["action"],
                     row["category"], row["grondslag"], row["recipient"], row["processing_activity"]]
            if with_employees:
                subj = row.get("subject") or {}
                cells += [subj.get("id"), subj.get("role"), subj.get("org")]
            w.writerow([_csv_safe(c) for c in cells])
        return Response(out.getvalue().encode("utf-8"), content_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="inzage-art15.csv"'})

    # -- overview ----------------------------------------------------------------------------

    @app.get("/overzicht")
    def overview() -> str:
        access = require_l1()
        days, by_phase, by_category, total = _overview(records_dir, datetime.now(UTC).date())
        revision = access.decision.revision if access.decision is not None else None
        return render_template("overview.html", days=days, by_phase=by_phase, by_category=by_category,
                               total=total, revision=revision, svg=_chart(days))

    return app


class _Page(Exception):
    """Answer with the error page."""

    def __init__(self, status: int, title: str, message: str, *, decision_id: str | None = None) -> None:
        super().__init__(message)
        self.status, self.title, self.message, self.decision_id = status, title, message, decision_id


def _files(folder: Path) -> list[Path]:
    """Every records file of the records folder: each replica's file and every file the sidecar
    rotated (records.rotate_*), so no page stops at the last rotation. Read-only."""
    try:
        return records_files(folder) if folder.is_dir() else []
    except OSError:
        return []


def _find_request(folder: Path, ident: str) -> tuple[list[_Line], str | None]:
    """Every record of the request that ``ident`` (a decision id or trace id) belongs to, each
    with what its file's hash chain says about it. Reads the files twice (find the trace, then
    verify and collect), read-only."""
    files = _files(folder)
    trace = ident if _TRACE.fullmatch(ident) else None
    if trace is None:
        needle = ident.encode()
        for path in files:
            for _, rec, raw in iter_records(path):
                if needle in raw and rec is not None and rec.get("decision_id") == ident:
                    trace = rec.get("trace_id") if isinstance(rec.get("trace_id"), str) else None
                    break
            if trace is not None:
                break
        if trace is None:
            return [], None
    out: list[_Line] = []
    for path in files:
        out.extend(_lines_of(path, trace, len(files) > 1))
    return out, trace


def _lines_of(path: Path, trace: str, named: bool) -> list[_Line]:
    """The lines of ``trace`` in one file, checked against that file's chain (each file is its own
    chain; the first line of an anchored writer's file continues from the file rotated before it,
    which only `records verify FOLDER` can check against the manifest)."""
    out: list[_Line] = []
    prev_hash, intact, last = GENESIS, True, None
    for n, rec, raw in iter_records(path):
        if rec is None or not raw.endswith(b"\n"):
            intact = False
            prev_hash = ""
            continue
        if n == 1 and manifest_of(rec) is not None and isinstance(rec.get("prev_hash"), str):
            prev_hash = rec["prev_hash"]
        own = rec.get("hash") == record_hash(rec)
        link = rec.get("prev_hash") == prev_hash
        intact = intact and own and link
        if last is not None:
            last.next_link_ok = rec.get("prev_hash") == last.record.get("hash")
            last = None
        if rec.get("trace_id") == trace:
            last = _Line(n, rec, own, link, None, intact, path.name if named else None)
            out.append(last)
        h = rec.get("hash")
        prev_hash = h if isinstance(h, str) else ""
    return out


def _overview(folder: Path, today: Any) -> tuple[list[dict[str, Any]], Counter[tuple[str, str]],
                                                 Counter[tuple[str, str]], int]:
    first = today - timedelta(days=OVERVIEW_DAYS - 1)
    days = {(first + timedelta(days=i)).isoformat(): Counter[str]() for i in range(OVERVIEW_DAYS)}
    by_phase: Counter[tuple[str, str]] = Counter()
    by_category: Counter[tuple[str, str]] = Counter()
    total = 0
    for path in _files(folder):
        for _, rec, _ in iter_records(path):
            if rec is None:
                continue
            day = str(rec.get("time") or "")[:10]
            if day not in days:
                continue
            decision = str(rec.get("decision"))
            days[day][decision] += 1
            by_phase[(str(rec.get("phase")), decision)] += 1
            by_category[(str((rec.get("resource") or {}).get("category") or "geen"), decision)] += 1
            total += 1
    return ([{"day": d, "allow": c["allow"], "deny": c["deny"]} for d, c in days.items()], by_phase, by_category,
            total)


def _chart(days: list[dict[str, Any]]) -> dict[str, Any]:
    """A stacked bar per day (allowed below, denied on top), as SVG shapes for the template."""
    width, height, left, bottom, top = 760, 260, 48, 40, 12
    plot_h = height - bottom - top
    peak = max([d["allow"] + d["deny"] for d in days] + [1])
    step = (width - left - 8) / max(len(days), 1)
    bars = []
    for i, d in enumerate(days):
        x = left + i * step + 2
        h_allow = plot_h * d["allow"] / peak
        h_deny = plot_h * d["deny"] / peak
        base = height - bottom
        bars.append({"x": round(x, 1), "w": round(step - 4, 1), "allow_y": round(base - h_allow, 1),
                     "allow_h": round(h_allow, 1), "deny_y": round(base - h_allow - h_deny, 1),
                     "deny_h": round(h_deny, 1), "label": d["day"][5:], "show_label": i % 5 == 0,
                     "day": d["day"], "allow": d["allow"], "deny": d["deny"]})
    ticks = [{"y": round(height - bottom - plot_h * f, 1), "value": round(peak * f)} for f in (0, 0.5, 1)]
    return {"width": width, "height": height, "left": left, "base": height - bottom, "bars": bars, "ticks": ticks}
