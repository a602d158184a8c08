"""`sidecar records verify` and `records query` read a file or a folder of files (one chain per
writer), only read them (a read-only copy works, nothing in it changes), and the query's own
record goes to the live records file of the configuration."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sidecar.cli import main
from sidecar.records import RecordWriter, build_record, pseudonymise
from sidecar.settings import load_settings
from tests.helpers import HULP, SEED, ZAKEN, Running, read_records

BSN = "999990019"


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sidecar", "records", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def _rec(i: int, betrokkene: str | None = None) -> dict[str, Any]:
    return build_record(time="2026-11-30T10:00:00.000Z", decision_id=f"d-{i}", trace_id=f"{i:032x}",
                        span_id="1" * 16, phase="response", allow=True, enforced=True, status=200,
                        subject={"id": "c.jansen", "role": "consulent", "org": "gemeente-demo"}, purpose=HULP,
                        action="read", resource={"type": "zaak", "id": f"z-{i}", "properties": {"category": "medisch"}},
                        resource_type="zaak", betrokkene=betrokkene, decision=None, reasons=["R1"], profile="knmg",
                        duration_s=0.001)


def _write(path: Path, records: list[dict[str, Any]]) -> None:
    w = RecordWriter(path)
    try:
        w.write_many(records)
    finally:
        w.close()


def _read_only(folder: Path) -> dict[str, tuple[bytes, float]]:
    for f in folder.iterdir():
        f.chmod(0o444)
    folder.chmod(0o555)
    return _snapshot(folder)


def _snapshot(folder: Path) -> dict[str, tuple[bytes, float]]:
    return {f.name: (f.read_bytes(), f.stat().st_mtime) for f in sorted(folder.iterdir())}


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    d = tmp_path / "copy"
    d.mkdir()
    _write(d / "records-pod-a.jsonl", [_rec(i) for i in range(3)])
    _write(d / "records-pod-b.jsonl", [_rec(i + 10) for i in range(2)])
    (d / "README.txt").write_text("not a records file")
    yield d
    d.chmod(0o755)


def test_verify_checks_every_file_of_a_read_only_folder_and_changes_nothing(folder: Path) -> None:
    before = _read_only(folder)
    out = _cli("verify", str(folder))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 2 and "Traceback" not in out.stderr
    assert "records-pod-a.jsonl: 3 records, chain intact" in lines[0]
    assert "records-pod-b.jsonl: 2 records, chain intact" in lines[1]
    assert _snapshot(folder) == before


def test_verify_names_the_broken_file_of_a_folder(folder: Path) -> None:
    b = folder / "records-pod-b.jsonl"
    b.write_text(b.read_text().replace('"d-11"', '"d-99"'))
    out = _cli("verify", str(folder))
    assert out.returncode == 1
    assert "ok: " in out.stdout and f"BROKEN at line 2 of {b}" in out.stdout


@pytest.mark.parametrize("what", ["missing", "empty folder"])
def test_verify_with_nothing_to_check_says_so_without_a_traceback(tmp_path: Path, what: str) -> None:
    target = tmp_path / "nothing"
    if what == "empty folder":
        target.mkdir()
    out = _cli("verify", str(target))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert str(target) in out.stderr


def test_verify_of_an_unreadable_file_exits_2_without_a_traceback(folder: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    # In process, as the tests run as root (who reads any file): the file cannot be opened.
    import sidecar.records

    real = sidecar.records.verify

    def refuse(path: Path) -> sidecar.records.VerifyResult:
        if path.name == "records-pod-a.jsonl":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(sidecar.records, "verify", refuse)
    assert main(["records", "verify", str(folder)]) == 2
    out = capsys.readouterr().out
    assert "UNREADABLE" in out and "Permission denied" in out and "records-pod-b.jsonl: 2 records" in out


def test_query_over_a_read_only_folder_records_itself_in_the_live_file(knmg: Running, tmp_path: Path) -> None:
    # A read-only copy: the live file's records and a second replica's file with this person (a
    # BSN of this test alone: the shared stack's file holds other tests' records).
    bsn = f"{secrets.randbelow(10**9):09d}"
    settings = load_settings(knmg.workdir / "config.yaml", env={})
    pseudonym = pseudonymise(settings.pseudonymisation.key_bytes(), bsn)
    read = knmg.proxy("GET", f"{ZAKEN}/{SEED['examples']['zvh_overdracht']}", knmg.headers("consulent", HULP))
    assert read.status == 200
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy(knmg.workdir / "records.jsonl", copy / "records-live.jsonl")
    _write(copy / "records-other.jsonl", [_rec(1, pseudonym), _rec(2), _rec(3, pseudonym)])
    before = _read_only(copy)
    live_before = len(read_records(knmg.workdir / "records.jsonl"))
    try:
        out = _cli("query", "--betrokkene", bsn, "--door", "auditor-1", "--workdir", str(knmg.workdir), str(copy))
        assert out.returncode == 0, out.stderr
        rows = [json.loads(x) for x in out.stdout.splitlines()]
        assert sorted(r["time"] for r in rows) == ["2026-11-30T10:00:00.000Z"] * 2
        assert all("subject" not in r for r in rows)  # L2: no employee identities
        assert _snapshot(copy) == before
        live = read_records(knmg.workdir / "records.jsonl")
        mine = [r for r in live[live_before:]
                if r["resource"]["type"] == "records" and r["subject"]["id"] == "auditor-1"]
        assert len(mine) == 1 and mine[0]["betrokkene"] == pseudonym and mine[0]["reasons"] == ["L2"]
    finally:
        copy.chmod(0o755)


def test_query_of_a_single_read_only_file_works(knmg: Running, tmp_path: Path) -> None:
    settings = load_settings(knmg.workdir / "config.yaml", env={})
    f = tmp_path / "one.jsonl"
    _write(f, [_rec(5, pseudonymise(settings.pseudonymisation.key_bytes(), BSN))])
    f.chmod(stat.S_IRUSR | stat.S_IRGRP)
    out = _cli("query", "--betrokkene", BSN, "--workdir", str(knmg.workdir), str(f))
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.splitlines()) == 1


def test_query_without_a_configuration_says_where_its_record_would_go(tmp_path: Path, folder: Path) -> None:
    out = _cli("query", "--betrokkene", BSN, "--workdir", str(tmp_path / "none"), str(folder))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "no configuration" in out.stderr and "live records file" in out.stderr
    assert out.stdout == ""


def test_query_of_a_missing_file_exits_2(knmg: Running, tmp_path: Path) -> None:
    out = _cli("query", "--betrokkene", BSN, "--workdir", str(knmg.workdir), str(tmp_path / "gone.jsonl"))
    assert out.returncode == 2 and "Traceback" not in out.stderr and "gone.jsonl" in out.stderr


def test_query_by_default_reads_every_file_of_the_records_folder(knmg: Running, tmp_path: Path) -> None:
    # Without FILE the query reads the live file's whole folder: a file the sidecar rotated away
    # (records.rotate_*) and another replica's file hold this person's history too.
    bsn = f"{secrets.randbelow(10**9):09d}"
    settings = load_settings(knmg.workdir / "config.yaml", env={})
    pseudonym = pseudonymise(settings.pseudonymisation.key_bytes(), bsn)
    records = tmp_path / "records"
    records.mkdir()
    _write(records / "records.2026-11-29T000000Z.jsonl", [_rec(1, pseudonym), _rec(2)])
    _write(records / "records-pod-b.jsonl", [_rec(3, pseudonym)])
    live = records / "records.jsonl"
    env = {**os.environ, "SIDECAR_RECORDS__PATH": str(live)}
    out = subprocess.run([sys.executable, "-m", "sidecar", "records", "query", "--betrokkene", bsn, "--door",
                          "auditor-2", "--config", str(knmg.workdir / "config.yaml")],
                         capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.splitlines()) == 2
    mine = read_records(live)
    assert len(mine) == 1 and mine[0]["betrokkene"] == pseudonym and mine[0]["reasons"] == ["L2"]
    # And the export of the configuration covers the same folder.
    exported = subprocess.run([sys.executable, "-m", "sidecar", "records", "export", "--format", "ldv", "--config",
                               str(knmg.workdir / "config.yaml")], capture_output=True, text=True, timeout=120,
                              env=env)
    assert exported.returncode == 0, exported.stderr
    assert len(exported.stdout.splitlines()) == 4  # 2 + 1 + the query's own record
