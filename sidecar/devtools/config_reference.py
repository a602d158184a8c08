"""Generate docs/configuration.md from the settings model (:mod:`sidecar.settings`).

Every setting is listed with its YAML key, type, default, allowed values, the ``SIDECAR_*``
environment variable that overrides it and its description (the docstring under the field).
The reference is generated, so it cannot forget a setting; ``tests/test_config_reference.py``
fails when the file is stale or a field has no description.

    python -m sidecar.devtools.config_reference            # write docs/configuration.md (make config-docs)
    python -m sidecar.devtools.config_reference --check    # exit 1 when docs/configuration.md is stale
"""

from __future__ import annotations

import argparse
import sys
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeGuard

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined, to_jsonable_python

from sidecar.routes import DEFAULT_ROUTES, RouteSpec
from sidecar.settings import ENV_PREFIX, NON_CONFIG_ENV, SUPPORTED_ALGS, Settings
from sidecar.vocab import MAPPED_CATEGORIES

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUTPUT = REPO_ROOT / "docs" / "configuration.md"
REGENERATE = "make config-docs"

# What a validator (not a type or a Field constraint) allows, for the "Allowed" column. Keyed by
# dotted key; values come from the same constants the validators use, so they cannot drift.
_CATEGORY_VALUES = "values: " + ", ".join(f"`{c}`" for c in MAPPED_CATEGORIES)
VALIDATOR_NOTES: dict[str, str] = {
    "jwt.algorithms": "each one of " + ", ".join(f"`{a}`" for a in SUPPORTED_ALGS),
    "catalogue.informatieobjecttypen": _CATEGORY_VALUES,
    "catalogue.zaaktypen": _CATEGORY_VALUES,
    "catalogue.defaults": _CATEGORY_VALUES,
    "catalogue.roltypen": "values: a lower-case code, not `creator` or `writer`",
    "listen.proxy": "HOST:PORT",
    "listen.admin": "HOST:PORT",
    "console.listen": "HOST:PORT",
    "labels.dsn": "`sqlite:///PATH` or `postgresql://…`",
    "upstream.url": "http(s) URL without query",
    "opa.url": "`http(s)://HOST:PORT` or `unix:///PATH`",
}

# Types whose generic name says too little.
TYPE_NAMES: dict[str, str] = {"route_overrides": "mapping route name → route fields"}


@dataclass(frozen=True)
class Row:
    """One setting as the reference shows it."""

    key: str             # dotted YAML key; ``[]`` marks the items of a list
    type: str
    default: str         # Markdown: a literal in backticks, or words (required, …)
    allowed: str
    env: str | None      # None: not reachable by its own variable (inside a list)
    description: str
    section: bool = False  # an optional section (the row for the section itself)


def _is_model(t: Any) -> TypeGuard[type[BaseModel]]:
    return isinstance(t, type) and issubclass(t, BaseModel)


def _args(t: Any) -> tuple[Any, ...]:
    return typing.get_args(t)


def _is_union(t: Any) -> bool:
    return typing.get_origin(t) in (typing.Union, types.UnionType)


def _non_none(t: Any) -> list[Any]:
    return [a for a in _args(t) if a is not type(None)] if _is_union(t) else [t]


def type_name(t: Any) -> str:
    """A reader's name for a field type: string, integer, list of string, mapping string → string, …"""
    if t is type(None):
        return "null"
    if _is_union(t):
        parts = [type_name(a) for a in _args(t) if a is not type(None)]
        nullable = type(None) in _args(t)
        return " or ".join(parts) + (" or null" if nullable else "")
    origin = typing.get_origin(t)
    if origin is Literal:
        return "string" if all(isinstance(a, str) for a in _args(t)) else "literal"
    if origin is list:
        item = _args(t)[0]
        if _is_model(item) and item is not RouteSpec:
            return "list of mappings (fields below)"
        return f"list of {type_name(item)}"
    if origin is dict:
        k, v = _args(t)
        return f"mapping {type_name(k)} → {type_name(v)}"
    if t is RouteSpec:
        return "route"
    if _is_model(t):
        return "section"
    names = {str: "string", int: "integer", float: "number", bool: "boolean", Path: "path", Any: "any"}
    return names.get(t, getattr(t, "__name__", str(t)))


def literal(value: Any) -> str:
    """A value as YAML would spell it (flow style), in backticks."""
    data = to_jsonable_python(value)
    text = yaml.safe_dump(data, default_flow_style=True, allow_unicode=True, width=1_000_000).strip()
    if text.endswith("\n..."):
        text = text[: -len("\n...")]
    return f"`{text}`"


def _constraints(key: str, info: FieldInfo) -> str:
    out = []
    t = info.annotation
    for arg in _non_none(t):
        if typing.get_origin(arg) is Literal:
            out.append("one of " + ", ".join(f"`{a}`" for a in _args(arg)))
    for meta in info.metadata:
        for attr, fmt in (("gt", "> {}"), ("ge", "≥ {}"), ("lt", "< {}"), ("le", "≤ {}"),
                          ("min_length", "length ≥ {}"), ("max_length", "length ≤ {}"),
                          ("pattern", "matches `{}`")):
            value = getattr(meta, attr, None)
            if value is not None:
                out.append(fmt.format(value))
    if key in VALIDATOR_NOTES:
        out.append(VALIDATOR_NOTES[key])
    return "; ".join(out)


def _description(info: FieldInfo) -> str:
    return " ".join((info.description or "").replace("``", "`").split())


def _env(parts: list[str]) -> str:
    return ENV_PREFIX + "__".join(p.upper() for p in parts)


def rows(model: type[BaseModel] = Settings, prefix: tuple[str, ...] = (), instance: BaseModel | None = None,
         in_list: bool = False) -> list[Row]:
    """Every setting of ``model``, depth first, in declaration order."""
    out: list[Row] = []
    for name, info in model.model_fields.items():
        parts = [*prefix, name]
        key = ".".join(parts)
        env = None if in_list else _env(parts)
        t = info.annotation
        models = [a for a in _non_none(t) if _is_model(a)]
        if info.is_required():
            default: Any = PydanticUndefined
        elif instance is not None:
            default = getattr(instance, name)
        else:
            default = info.get_default(call_default_factory=True)
        shown = "required" if default is PydanticUndefined else literal(default)
        type_text = TYPE_NAMES.get(key) or type_name(t)
        if typing.get_origin(t) is list and _args(t)[0] is RouteSpec:
            shown = "the default routes (below)" if default is not PydanticUndefined else shown
            out.append(Row(key, type_text, shown, _constraints(key, info), env, _description(info)))
            continue
        if models and not _is_union(t):
            # A section that is always there: its settings, with the section's own defaults.
            sub = default if isinstance(default, BaseModel) else None
            out.extend(rows(models[0], tuple(parts), sub, in_list))
            continue
        if models:
            # An optional section: a row for itself, then its settings as they are when it is set.
            out.append(Row(key, type_text, shown, _constraints(key, info), env, _description(info), section=True))
            out.extend(rows(models[0], tuple(parts), None, in_list))
            continue
        item = _args(t)[0] if typing.get_origin(t) is list and _args(t) else None
        out.append(Row(key, type_text, shown, _constraints(key, info), env, _description(info)))
        if _is_model(item):
            out.extend(rows(item, (*parts[:-1], f"{name}[]"), None, in_list=True))
    return out


def missing_descriptions(model: type[BaseModel] = Settings) -> list[str]:
    """Dotted keys of the fields without a description (the route fields included)."""
    missing = [r.key for r in rows(model) if not r.description]
    missing += [f"routes[].{n}" for n, f in RouteSpec.model_fields.items() if not f.description]
    return missing


def _cell(text: str) -> str:
    return text.replace("|", "\\|") if text else "—"


def _table(rs: list[Row]) -> list[str]:
    lines = ["| Key | Type | Default | Allowed | Environment variable | Description |",
             "|---|---|---|---|---|---|"]
    for r in rs:
        env = f"`{r.env}`" if r.env else "— (set the whole list)"
        lines.append("| " + " | ".join(_cell(c) for c in (
            f"`{r.key}`", r.type, r.default, r.allowed, env, r.description)) + " |")
    return lines


def _routes_section() -> list[str]:
    lines = [
        "## Routes",
        "",
        "A request is decided only when it matches a route (method and canonical path); anything else is "
        "denied and never forwarded. `routes` replaces the whole list below; `route_overrides` changes "
        "single routes by name and keeps the others:",
        "",
        "```yaml",
        "route_overrides:",
        "  document_read: {enforce: false}     # shadow mode for this route only",
        "```",
        "",
        "or, from the environment, `SIDECAR_ROUTE_OVERRIDES__DOCUMENT_READ__ENFORCE=false`. An override "
        "names an existing route (an unknown name stops start-up and lists the routes) and only fields of a "
        "route (`name` cannot be changed). Shadow mode (`enforce: false`) decides and records every request "
        "(`enforced: false` in the record, `sidecar_shadow_decisions_total`) but lets it through: for a "
        "roll-out, never for long. Every default route is enforced.",
        "",
        "### Fields of a route",
        "",
        "| Field | Type | Default | Allowed | Description |",
        "|---|---|---|---|---|",
    ]
    for name, info in RouteSpec.model_fields.items():
        default = "required" if info.is_required() else literal(info.get_default(call_default_factory=True))
        lines.append("| " + " | ".join(_cell(c) for c in (
            f"`{name}`", type_name(info.annotation), default, _constraints(f"routes[].{name}", info),
            _description(info))) + " |")
    lines += [
        "",
        "### The default routes",
        "",
        "| Name | Methods | Path | Resource | Action | Metadata of | Expand | Notes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in DEFAULT_ROUTES:
        notes = [n for n, on in (("plain array (not paginated)", r.action == "list" and not r.paginated),
                                 ("not paginated", r.action != "list" and not r.paginated),
                                 ("bestandsdeel", r.bestandsdeel), ("shadow mode", not r.enforce)) if on]
        expand = ", ".join(f"{k} → {v}" for k, v in r.expand.items())
        lines.append("| " + " | ".join(_cell(c) for c in (
            f"`{r.name}`", ", ".join(r.methods), f"`{r.path}`", r.resource, r.action,
            f"`{r.metadata_of}`" if r.metadata_of else "", expand, "; ".join(notes))) + " |")
    return lines


def _find(rs: list[Row], key: str) -> Row:
    for r in rs:
        if r.key == key:
            return r
    raise KeyError(key)


def render(model: type[BaseModel] = Settings) -> str:
    rs = rows(model)
    top = [r for r in rs if "." not in r.key.replace("[]", "")]
    by_section: dict[str, list[Row]] = {}
    for r in rs:
        if r not in top:
            by_section.setdefault(r.key.split(".")[0], []).append(r)
    try:
        defaults = _find(rs, "catalogue.defaults").default
    except KeyError:
        defaults = "—"
    lines = [
        "# Configuration reference",
        "",
        f"Generated from the settings model (`sidecar/settings.py`) by `{REGENERATE}` "
        "(`python -m sidecar.devtools.config_reference`); do not edit by hand: "
        "`tests/test_config_reference.py` fails when this file is stale. A setting's description is the "
        "docstring under its field.",
        "",
        "## How settings are read",
        "",
        "- One YAML file (`sidecar serve --config FILE`), validated once at start-up. A bad value stops "
        "start-up with a message that names the key; an unknown key is an error, never ignored.",
        f"- Any setting can be overridden by an environment variable: `{ENV_PREFIX}` and the key's parts in "
        "upper case, `__` (two underscores) between levels, e.g. `SIDECAR_OPA__TIMEOUT__READ=0.5` for "
        "`opa.timeout.read`. The value is parsed as YAML: `true`, `0.5`, `[a, b]`, `{k: v}`; quote a string "
        "that YAML would read as something else (`'\"8080\"'`). The parts are lower-cased, so a mapping key "
        "set this way is lower-case (route names are). A list cannot be reached into: set the whole list. "
        "Variables override the file.",
        "- Not overrides, though they start with the prefix: "
        + ", ".join(f"`{n}`" for n in sorted(NON_CONFIG_ENV)) + " (read by the demo and the tools; "
        "`SIDECAR_INSTANCE` names the replica for `records.per_instance`).",
        "- Relative paths (key files, the records file, an SQLite label store) are relative to the config "
        "file's folder.",
        "- Required: " + ", ".join(f"`{n}`" for n, f in model.model_fields.items() if f.is_required()) + ".",
        "",
        "## Defaults that decide who sees what",
        "",
        "- `catalogue.informatieobjecttypen`, `catalogue.zaaktypen`: a type URL not listed is category "
        "`onbekend`, protected at least as strictly as Wvggz/Wzd data, never `algemeen`. Categories a mapping "
        "may name: " + ", ".join(f"`{c}`" for c in MAPPED_CATEGORIES) + ".",
        f"- `catalogue.defaults` is {defaults}: the category of a resource type without a type field. Every "
        "`rol` is `algemeen` unless the sidecar takes its zaak's category, which it does when it decides on "
        "a rol it reads or creates (a rol naming no zaak of this upstream is `onbekend`). Setting "
        "`catalogue.defaults` replaces the whole mapping; a resource type it does not list is `onbekend`.",
        "- `catalogue.coordinator_roltypen` is empty by default, and `sidecar serve` refuses to start "
        "without it: no rol creation would be a coordinator appointment, so K1 and K2 would never apply.",
        "- `catalogue.roltypen`: a roltype not listed gives the relation kind `overig` (a coordinator "
        "roltype: `coordinator`), which grants no need-to-know relation of its own.",
        "- `coordination_retention_days` is unset by default: rule K3 then denies every write to a "
        "coordination dossier.",
        "- `routes`: every default route is enforced; shadow mode is set per route (`route_overrides`).",
        "- `policy.profile` is `knmg` by default.",
        "",
        "## Top-level settings",
        "",
        *_table(top),
    ]
    for section, srows in by_section.items():
        info = model.model_fields[section]
        lines += ["", f"## `{section}`", ""]
        if info.description:
            lines += [_description(info), ""]
        lines += _table(srows)
    lines += ["", *_routes_section()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    ap.add_argument("--check", action="store_true", help="exit 1 when the file differs from the settings model")
    args = ap.parse_args(argv)
    missing = missing_descriptions()
    if missing:
        print("settings without a description (add a docstring under the field): " + ", ".join(missing),
              file=sys.stderr)
        return 1
    text = render()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.is_file() else ""
        if current != text:
            print(f"{args.output} is stale: run {REGENERATE}", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
