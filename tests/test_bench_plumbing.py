"""bench/plumbing.py runs every step (tiny iteration counts) and prints one figure per step."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import plumbing


def test_every_step_runs_and_prints_a_figure(capsys: pytest.CaptureFixture[str]) -> None:
    assert plumbing.main(["--rounds", "1", "--scale", "0.001"]) == 0
    lines = capsys.readouterr().out.splitlines()[1:]
    names = [line.split()[0] for line in lines]
    assert names == ["record_jcs", "record_line", "records_50", "zaken_of_documents", "gunicorn_access",
                     "request_log", "read_metrics"]
    assert all(float(line.split()[1]) > 0 for line in lines)


def test_the_warm_relation_map_needs_no_upstream(tmp_path: Path) -> None:
    rel, caller, tp = plumbing.warm_relations(tmp_path, n_zaken=3, docs_per_zaak=2)
    docs = rel.zaken_of_documents(caller, tp)
    assert len(docs) == 6 and all(len(z) == 1 for z in docs.values())
