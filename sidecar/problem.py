"""RFC 9457 problem+json responses. Nothing internal (rule dumps, stack traces) ever goes out."""

from __future__ import annotations

import json
from typing import Any

from werkzeug.wrappers import Response

PROBLEM_BASE = "https://wams-sidecar.example/problemen/"

TITLES = {
    400: "Ongeldig verzoek",
    401: "Niet geauthenticeerd",
    403: "Geen toegang",
    404: "Niet gevonden",
    405: "Methode niet toegestaan",
    409: "Conflict",
    413: "Verzoek te groot",
    412: "Voorwaarde niet vervuld",
    414: "Verzoekadres te lang",
    502: "Fout bij de achterliggende dienst",
    503: "Beslissing niet mogelijk",
    504: "Achterliggende dienst reageert niet op tijd",
}


def problem(status: int, kind: str, detail: str, *, decision_id: str | None = None,
            headers: dict[str, str] | None = None, **extra: Any) -> Response:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + kind,
        "title": TITLES.get(status, "Fout"),
        "status": status,
        "detail": detail,
        "decision_id": decision_id,
    }
    body.update(extra)
    resp = Response(json.dumps(body, ensure_ascii=False), status=status,
                    content_type="application/problem+json")
    resp.headers["Cache-Control"] = "no-store"
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp
