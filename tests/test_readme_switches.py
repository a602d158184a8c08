"""The README's table of profile switches says what the shipped profiles hold."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _table() -> dict[str, tuple[str, str]]:
    rows = {}
    for line in (ROOT / "README.md").read_text().splitlines():
        m = re.match(r"\| `([a-z_]+)` \| (.+?) \| (.+?) \| .+ \|$", line)
        if m and m.group(1) in _profile("knmg"):
            rows[m.group(1)] = (m.group(2), m.group(3))
    return rows


def _profile(name: str) -> dict[str, object]:
    data: dict[str, object] = json.loads((ROOT / "policies" / "profiles" / name / "data.json").read_text())
    return data


def _cell(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else f"`{value}`"


def test_every_switch_is_in_the_readme_with_its_values() -> None:
    rows = _table()
    knmg, wets = _profile("knmg"), _profile("wetsvoorstel")
    assert set(rows) == set(knmg), f"README lacks {sorted(set(knmg) - set(rows))}"
    for name, (w_cell, k_cell) in rows.items():
        if isinstance(knmg[name], list):
            continue  # described in words
        assert w_cell == _cell(wets[name]) and k_cell == _cell(knmg[name]), (name, w_cell, k_cell)
