"""docs/policies.md is generated from the policies' METADATA and must not be stale."""

from __future__ import annotations

from pathlib import Path

from sidecar.devtools import policy_docs
from sidecar.devtools.demo import find_opa as _opa

REPO_ROOT = Path(__file__).resolve().parents[1]




def test_docs_policies_md_is_current() -> None:
    expected = policy_docs.render(REPO_ROOT / "policies", _opa())
    current = (REPO_ROOT / "docs" / "policies.md").read_text(encoding="utf-8")
    assert current == expected, "docs/policies.md is stale: run python -m sidecar.devtools.policy_docs"


def test_every_rules_md_id_is_documented() -> None:
    text = policy_docs.render(REPO_ROOT / "policies", _opa())
    ids = (
        [f"P{i}" for i in range(1, 4)]
        + [f"I{i}" for i in range(1, 10)]
        + [f"R{i}" for i in range(1, 6)]
        + ["W1"]
        + [f"O{i}" for i in range(1, 5)]
        + ["C1", "C2", "K1", "K2", "K3", "L1", "L2"]
    )
    for rule_id in ids:
        assert f"\n| {rule_id} | " in text, rule_id


def test_check_mode_detects_stale_file(tmp_path: Path) -> None:
    out = tmp_path / "policies.md"
    out.write_text("stale\n", encoding="utf-8")
    args = ["--opa", _opa(), "--output", str(out)]
    assert policy_docs.main([*args, "--check"]) == 1
    assert policy_docs.main(args) == 0
    assert policy_docs.main([*args, "--check"]) == 0
