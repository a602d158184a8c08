"""sidecar/vocab.py and the Rego policies name the same rule ids, roles, purposes and categories.

The policies keep their own copies of these lists, because they decide on them; the sidecar's
copies are in ``sidecar/vocab.py``. Each test compares the two and names what differs. The
policies' side is read from the policies themselves: rule ids from the ``# METADATA`` (``opa
inspect``), the ids a package denies with from the heads of its ``deny`` rules (the parsed
modules), and the lists from ``opa eval``.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sidecar import vocab
from sidecar.devtools import policy_docs
from sidecar.devtools.demo import find_opa

REPO_ROOT = Path(__file__).resolve().parents[1]
POLICIES = REPO_ROOT / "policies"

# Read through a helper package so that one `opa eval` returns them all; a list the policies no
# longer define is simply missing from the answer, and the test that needs it says which.
POLICY_LISTS = {
    "known_purposes": "data.wams.purpose.known_purposes",
    "role_purposes": "data.wams.purpose.role_purposes",
    "college_roles": "data.wams.lib.college_roles",
    "ingest_roles": "data.wams.lib.ingest_roles",
    "sensitive_categories": "data.wams.lib.sensitive_categories",
    "cvp_conditions": "data.wams.ingest.cvp_conditions",
    "deny_priority": "data.wams.authz.deny_priority",
}

# Operators whose arguments compare a request fact with literal values.
COMPARISONS = {"equal", "neq", "eq", "internal.member_2"}


@pytest.fixture(scope="module")
def opa() -> str:
    return find_opa()


@pytest.fixture(scope="module")
def policy_lists(opa: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    helper = tmp_path_factory.mktemp("vocab") / "vocab_lists.rego"
    helper.write_text("package vocab_lists\n\n" + "".join(f"{name} := {ref}\n\n" for name, ref in POLICY_LISTS.items()),
                      encoding="utf-8")
    proc = subprocess.run([opa, "eval", "--format", "json", "-d", str(POLICIES), "-d", str(helper),
                           "data.vocab_lists"], capture_output=True, text=True, check=True, timeout=120)
    value: dict[str, Any] = json.loads(proc.stdout)["result"][0]["expressions"][0]["value"]
    return value


def policy_list(lists: dict[str, Any], name: str) -> Any:
    assert name in lists, f"the policies no longer define {POLICY_LISTS[name]}"
    return lists[name]


@pytest.fixture(scope="module")
def modules(opa: str) -> dict[str, dict[str, Any]]:
    """The parsed AST of every policy module (tests left out), by path relative to the repo."""
    return parse(opa, {str(p.relative_to(REPO_ROOT)): p.read_text(encoding="utf-8")
                       for p in sorted(POLICIES.rglob("*.rego")) if not p.name.endswith("_test.rego")})


def parse(opa: str, sources: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Parse Rego sources (path: text) with OPA's own parser, in one `opa eval`."""
    proc = subprocess.run([opa, "eval", "--format", "json", "--stdin-input",
                           "x := {f: rego.parse_module(f, src) | some f, src in input}"],
                          input=json.dumps(sources), capture_output=True, text=True, check=True, timeout=120)
    parsed: dict[str, dict[str, Any]] = json.loads(proc.stdout)["result"][0]["bindings"]["x"]
    return parsed


def head_name(rule: dict[str, Any]) -> str:
    ref = rule["head"].get("ref") or [{"value": rule["head"].get("name")}]
    return str(ref[0]["value"])


def calls(node: Any) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Every call in the AST node as (operator, argument terms): expressions and nested calls."""
    if isinstance(node, dict):
        terms = node.get("terms")
        if isinstance(terms, list) and terms and terms[0].get("type") == "ref":
            yield operator(terms[0]), terms[1:]
        if node.get("type") == "call" and isinstance(node.get("value"), list):
            yield operator(node["value"][0]), node["value"][1:]
        for child in node.values():
            yield from calls(child)
    elif isinstance(node, list):
        for child in node:
            yield from calls(child)


def operator(term: dict[str, Any]) -> str:
    return ".".join(str(part["value"]) for part in term["value"])


def names_fact(term: dict[str, Any], facts: set[str]) -> bool:
    """The term is a reference ending in one of facts (lib.role, input.subject.properties.role, ...)."""
    if term.get("type") != "ref":
        return False
    last = term["value"][-1]
    return last.get("type") == "string" and last.get("value") in facts


def literals(term: dict[str, Any]) -> set[str]:
    if term.get("type") == "string":
        return {term["value"]}
    if term.get("type") in ("set", "array"):
        return {t["value"] for t in term["value"] if t.get("type") == "string"}
    return set()


def compared_with(modules: dict[str, dict[str, Any]], facts: set[str]) -> dict[str, set[str]]:
    """Literal values the policies compare a request fact with, each with the files that do."""
    found: dict[str, set[str]] = {}
    for path, module in modules.items():
        for op, args in calls(module.get("rules", [])):
            if op not in COMPARISONS or not any(names_fact(a, facts) for a in args):
                continue
            for arg in args:
                for value in literals(arg):
                    found.setdefault(value, set()).add(path)
    return found


def differ(ours: Any, theirs: Any, ours_name: str, theirs_name: str) -> str:
    a, b = set(ours), set(theirs)
    return (f"only in {ours_name}: {sorted(a - b)}; only in {theirs_name}: {sorted(b - a)}")


# --- (a) rule ids ---------------------------------------------------------------------------


def test_rule_ids_are_the_policies_metadata_ids(opa: str) -> None:
    packages = policy_docs.collect(policy_docs.inspect(POLICIES, opa))
    metadata_ids = {rule.rule_id for pkg in packages for rule in pkg.rules}
    assert metadata_ids, "no custom.id found in the policies' METADATA"
    duplicates = sorted({i for i in vocab.RULE_IDS if vocab.RULE_IDS.count(i) > 1})
    assert not duplicates, f"vocab.RULE_IDS lists these ids more than once: {duplicates}"
    assert set(vocab.RULE_IDS) == metadata_ids, differ(vocab.RULE_IDS, metadata_ids, "vocab.RULE_IDS",
                                                       "the policies' METADATA (custom.id)")


# --- (b) deny ids and deny_priority ---------------------------------------------------------


@pytest.fixture(scope="module")
def deny_ids(modules: dict[str, dict[str, Any]]) -> dict[str, set[str]]:
    """Each id some package's `deny contains "<id>"` rule adds, with the files that add it."""
    found: dict[str, set[str]] = {}
    dynamic: list[str] = []
    for path, module in modules.items():
        for rule in module.get("rules", []):
            if head_name(rule) != "deny":
                continue
            key = rule["head"].get("key") or {}
            if key.get("type") == "string":
                found.setdefault(key["value"], set()).add(path)
            else:
                dynamic.append(f"{path}:{rule.get('location', {}).get('row', '?')}")
    # deny_priority must be able to rank every id, so an id computed at evaluation time is a
    # mistake to point at, not something to guess.
    assert not dynamic, f"deny rules whose id is not a string literal (cannot be checked): {dynamic}"
    assert found, "no `deny contains \"<id>\"` rule found in the policies"
    return found


def test_every_deny_id_has_a_place_in_deny_priority(deny_ids: dict[str, set[str]],
                                                    policy_lists: dict[str, Any]) -> None:
    priority = policy_list(policy_lists, "deny_priority")
    missing = {i: sorted(files) for i, files in deny_ids.items() if i not in priority}
    assert not missing, f"deny ids missing from data.wams.authz.deny_priority (id: files): {missing}"


def test_deny_priority_names_only_deny_ids_once(deny_ids: dict[str, set[str]],
                                                policy_lists: dict[str, Any]) -> None:
    priority: list[str] = policy_list(policy_lists, "deny_priority")
    duplicates = sorted({i for i in priority if priority.count(i) > 1})
    assert not duplicates, f"data.wams.authz.deny_priority lists these more than once: {duplicates}"
    # PROFILE is authz's own deny (a missing or invalid profile), not a package's.
    stale = sorted(set(priority) - set(deny_ids) - {"PROFILE"})
    assert not stale, f"data.wams.authz.deny_priority names ids no package denies with: {stale}"


def test_every_deny_id_is_a_rule_id(deny_ids: dict[str, set[str]]) -> None:
    unknown = {i: sorted(files) for i, files in deny_ids.items() if i not in vocab.RULE_IDS}
    assert not unknown, f"deny ids that are not in vocab.RULE_IDS (id: files): {unknown}"


# --- (c) roles, purposes, categories --------------------------------------------------------


def test_roles(policy_lists: dict[str, Any], modules: dict[str, dict[str, Any]]) -> None:
    table = policy_list(policy_lists, "role_purposes")
    assert set(vocab.ROLES) == set(table), differ(vocab.ROLES, table, "vocab.ROLES",
                                                  "data.wams.purpose.role_purposes")
    college = policy_list(policy_lists, "college_roles")
    assert set(vocab.COLLEGE_ROLES) == set(college), differ(vocab.COLLEGE_ROLES, college, "vocab.COLLEGE_ROLES",
                                                            "data.wams.lib.college_roles")
    ingest = set(policy_list(policy_lists, "ingest_roles"))
    extra = sorted(ingest - set(vocab.ROLES))
    assert not extra, f"data.wams.lib.ingest_roles not in vocab.ROLES: {extra}"
    unknown = {r: sorted(f) for r, f in compared_with(modules, {"role"}).items() if r not in vocab.ROLES}
    assert not unknown, f"roles the policies compare the role with that vocab.ROLES lacks (role: files): {unknown}"


def test_purposes(policy_lists: dict[str, Any], modules: dict[str, dict[str, Any]]) -> None:
    known = policy_list(policy_lists, "known_purposes")
    assert set(vocab.PURPOSES) == set(known), differ(vocab.PURPOSES, known, "vocab.PURPOSES",
                                                     "data.wams.purpose.known_purposes")
    table = policy_list(policy_lists, "role_purposes")
    in_table = {p for purposes in table.values() for p in purposes}
    assert in_table <= set(vocab.PURPOSES), \
        f"purposes in data.wams.purpose.role_purposes not in vocab.PURPOSES: {sorted(in_table - set(vocab.PURPOSES))}"
    unknown = {p: sorted(f) for p, f in compared_with(modules, {"purpose"}).items() if p not in vocab.PURPOSES}
    assert not unknown, f"purposes the policies compare the purpose with that vocab.PURPOSES lacks: {unknown}"


def test_categories(policy_lists: dict[str, Any], modules: dict[str, dict[str, Any]]) -> None:
    sensitive = set(policy_list(policy_lists, "sensitive_categories"))
    in_rules = compared_with(modules, {"category", "effective_category"})
    known = sensitive | set(in_rules)
    assert set(vocab.CATEGORIES) == known, differ(
        vocab.CATEGORIES, known, "vocab.CATEGORIES",
        "the policies (data.wams.lib.sensitive_categories and the values rules compare a category with)")
    assert "onbekend" in sensitive, "onbekend must be one of data.wams.lib.sensitive_categories"


def test_conflict_of_duties_conditions(policy_lists: dict[str, Any]) -> None:
    cvp = policy_list(policy_lists, "cvp_conditions")
    assert set(vocab.CVP_CONDITIONS) == set(cvp), differ(vocab.CVP_CONDITIONS, cvp, "vocab.CVP_CONDITIONS",
                                                         "data.wams.ingest.cvp_conditions")


# --- the checks themselves ------------------------------------------------------------------


def test_comparisons_are_found_in_a_known_module(opa: str) -> None:
    # Guards the AST walk: if OPA's AST shape changed, the tests above would find nothing and
    # pass vacuously for the literal comparisons.
    src = "\n\n".join([
        "package t",
        "import data.wams.lib",
        'r if lib.category == "algemeen"',
        'r if lib.role in {"fg", "consulent"}',
        'r if {\n\tnot lib.purpose in ["casusoverleg"]\n'
        '\tcount({x | x := 1; input.resource.properties.category != "medisch"}) > 0\n}',
        'deny contains "X1" if r',
    ])
    parsed = parse(opa, {"t.rego": src})
    assert {k: sorted(v) for k, v in compared_with(parsed, {"category"}).items()} == \
        {"algemeen": ["t.rego"], "medisch": ["t.rego"]}
    assert set(compared_with(parsed, {"role"})) == {"fg", "consulent"}
    assert set(compared_with(parsed, {"purpose"})) == {"casusoverleg"}
    assert [head_name(r) for r in parsed["t.rego"]["rules"]].count("deny") == 1
