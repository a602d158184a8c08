"""For policy authors: what would the sidecar ask OPA, and what would OPA answer?

``sidecar explain`` builds the OPA input exactly as the proxy would (same route map, same
canonicalisation, same header parsing, the same builder: :mod:`sidecar.opa_input`), then evaluates it — by default with
``opa eval`` on the local ``policies/`` folder, so no server, token or upstream is needed.
``sidecar profiles diff A B`` and ``sidecar profiles check`` use the same evaluator.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sidecar.auth import Identity
from sidecar.call import Call
from sidecar.canonical import BadTarget, split_target
from sidecar.classify import TYPE_FIELD, Catalogue
from sidecar.coordinatie import parse_coordinatie
from sidecar.herkomst import parse_herkomst
from sidecar.opa_input import InputBuilder, resource
from sidecar.routes import RouteMap, RouteSpec
from sidecar.settings import CatalogueSettings
from sidecar.tracing import from_header
from sidecar.vocab import SECRECY_VALUES

Evaluator = Callable[[dict[str, Any]], Any]


class ExplainError(ValueError):
    pass


def local_evaluator(opa: str, policies: Path, rule: str = "data.wams.authz.decision") -> Evaluator:
    """Evaluate with ``opa eval`` on a policy folder (no OPA server needed)."""

    def evaluate(opa_input: dict[str, Any]) -> Any:
        res = subprocess.run([opa, "eval", "--format", "json", "-d", str(policies), "--stdin-input", rule],
                             input=json.dumps(opa_input), capture_output=True, text=True, timeout=120)
        if res.returncode != 0:
            raise ExplainError(f"opa eval failed: {res.stderr or res.stdout}")
        doc = json.loads(res.stdout)
        results = doc.get("result") or []
        return results[0]["expressions"][0]["value"] if results else None

    return evaluate


def opa_query(opa: str, policies: Path, query: str) -> Any:
    res = subprocess.run([opa, "eval", "--format", "json", "-d", str(policies), query],
                         capture_output=True, text=True, timeout=300)
    if res.returncode != 0:
        raise ExplainError(f"opa eval failed: {res.stderr or res.stdout}")
    results = json.loads(res.stdout).get("result") or []
    return results[0]["expressions"][0]["value"] if results else None


def _headers(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if isinstance(raw, dict):
        return {str(k).lower(): str(v) for k, v in raw.items()}
    out: dict[str, str] = {}
    for item in raw:
        name, sep, value = str(item).partition(":")
        if not sep:
            raise ExplainError(f"a header is 'Name: value', got {item!r}")
        out[name.strip().lower()] = value.strip()
    return out


def explain(request: dict[str, Any], *, routes: list[RouteSpec] | tuple[RouteSpec, ...],
            catalogue: CatalogueSettings, profile: str, controlling_orgs: list[str], retention_configured: bool,
            evaluate: Evaluator) -> dict[str, Any]:
    """``request``: method, path, headers, claims (sub, role, org, secrecy, teams), and optionally
    the request ``body`` (creates), the upstream ``object`` (or just its ``category``) for the
    response phase, the stored ``labels`` and the caller's ``relation`` to the object's zaken."""
    method = str(request.get("method", "GET")).upper()
    try:
        path, query = split_target(str(request.get("path", "")))
    except BadTarget as exc:
        raise ExplainError(f"the sidecar would answer {exc.status}: {exc}") from None
    match = RouteMap(routes).match(method, path)
    if match is None:
        raise ExplainError(f"the sidecar would answer 403: no route for {method} {path} (unknown routes are denied)")
    headers = _headers(request.get("headers"))
    claims = request.get("claims") or {}
    secrecy = claims.get("secrecy", "geen")
    if secrecy not in SECRECY_VALUES or not all(isinstance(claims.get(k), str) for k in ("role", "org")):
        raise ExplainError("claims need role and org (strings) and secrecy in wettelijk|beroepscode|geen")
    ident = Identity(sub=str(claims.get("sub", "explain")), role=claims["role"], org=claims["org"], secrecy=secrecy)
    call = Call(trace=from_header(headers.get("traceparent")), method=method, started=time.perf_counter(),
                path=path, query=query, route=match.route, resource_id=match.resource_id, identity=ident,
                purpose=headers.get("x-doelbinding"))
    if "x-herkomst" in headers:
        call.herkomst, _ = parse_herkomst(headers["x-herkomst"])
    cat = Catalogue(catalogue)
    resource_type = match.route.resource
    labels = request.get("labels")
    # The caller's relation to the object's zaken (need-to-know): the sidecar reads it from the
    # upstream; here it is given, as {"kinds": [...], "zaken": [...], "writer": bool}.
    relation = request.get("relation")
    req_props: dict[str, Any] = {}
    if match.route.action == "create":
        body = request.get("body") or {}
        if resource_type in TYPE_FIELD:
            req_props = cat.classify(resource_type, body)
        elif request.get("category"):
            req_props["category"] = request["category"]
        if resource_type in ("rol", "zaakinformatieobject"):
            req_props["relation"] = relation
            if request.get("document_relation") is not None:
                req_props["document_relation"] = request["document_relation"]
        if resource_type == "rol" and body.get("roltype") in catalogue.coordinator_roltypen:
            call.extra_context["coordinator_appointment"] = True
            call.extra_context.update(parse_coordinatie(headers.get("x-coordinatie")))
    inputs = InputBuilder(profile=profile, controlling_orgs=controlling_orgs,
                          retention_configured=retention_configured)
    phases = []
    req_input = inputs.build(call, "request", resource(resource_type, match.resource_id, req_props, labels))
    phases.append({"phase": "request", "input": req_input, "decision": evaluate(req_input)})
    if match.route.action != "create" and (request.get("object") is not None or request.get("category")):
        props: dict[str, Any] = {"category": request.get("category")}
        if request.get("object") is not None:
            props = cat.classify(resource_type, request["object"])
        props["relation"] = relation
        resp_input = inputs.build(call, "response", resource(resource_type, match.resource_id, props, labels))
        phases.append({"phase": "response", "input": resp_input, "decision": evaluate(resp_input)})
    return {"route": match.route.name, "action": match.route.action, "phases": phases}


def profile_errors(opa: str, policies: Path) -> dict[str, list[str]]:
    value = opa_query(opa, policies, "data.wams.profile.errors")
    return {k: sorted(v) for k, v in (value or {}).items()}


def profiles_diff(opa: str, policies: Path, a: str, b: str) -> list[dict[str, Any]]:
    """Run every fixture case under profiles ``a`` and ``b``; return the cases whose outcome
    (allow/deny, or the obligations of an allow) differs."""
    for name in (a, b):
        if not (policies / "profiles" / name / "data.json").is_file():
            raise ExplainError(f"no profile {name!r} (expected {policies / 'profiles' / name / 'data.json'})")
    query = f"""[r |
        some c in data.testdata.cases
        ia := object.union(c.input, {{"context": object.union(c.input.context, {{"profile": "{a}"}})}})
        ib := object.union(c.input, {{"context": object.union(c.input.context, {{"profile": "{b}"}})}})
        da := data.wams.authz.decision with input as ia
        db := data.wams.authz.decision with input as ib
        r := {{"name": c.name, "input": c.input, "a": da, "b": db}}
    ]"""
    rows = opa_query(opa, policies, query) or []
    seen: set[str] = set()
    out = []
    for row in rows:
        key = json.dumps({**row["input"], "context": {**row["input"]["context"], "profile": None}}, sort_keys=True)
        if key in seen:
            continue  # the fixture holds each situation once per profile
        seen.add(key)
        da, db = row["a"], row["b"]

        def outcome(d: dict[str, Any]) -> tuple[bool, list[str]]:
            return d["decision"], sorted({o["type"] for o in d.get("obligations", [])})

        if outcome(da) != outcome(db):
            out.append({"case": row["name"].rsplit(" [", 1)[0],
                        a: {"decision": "allow" if da["decision"] else "deny", "reasons": da["reasons"],
                            "obligations": outcome(da)[1]},
                        b: {"decision": "allow" if db["decision"] else "deny", "reasons": db["reasons"],
                            "obligations": outcome(db)[1]}})
    return out
