"""Anchoring: the sidecar rotates its own records file, a rotated file's successor continues its
chain, and the instance's manifest lets `records verify FOLDER` notice a missing, renamed,
truncated or rewritten file; `--metrics-file` gives the result to Prometheus."""

from __future__ import annotations

import itertools
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from sidecar.cli import main
from sidecar.records import GENESIS, RecordWriteError, RecordWriter, verify
from sidecar.records_manifest import read_manifest, verify_folder
from sidecar.records_status import VERIFY_METRICS, exported, parse, write_metrics_file
from tests.helpers import decision_record as _rec


def _writer(path: Path, **kw: Any) -> RecordWriter:
    return RecordWriter(path, anchored=True, **kw)


def _rotated_folder(d: Path, n: int = 20) -> Path:
    """records-a: three rotated files and the live one; records-b: one live file."""
    w = _writer(d / "records-a.jsonl", rotate_max_bytes=4096)
    try:
        for i in range(n):
            w.write(_rec(i))
    finally:
        w.close()
    w = _writer(d / "records-b.jsonl")
    try:
        w.write_many([_rec(100), _rec(101)])
    finally:
        w.close()
    return d


def _rotated(d: Path) -> list[Path]:
    return sorted(p for p in d.glob("records-a.*.jsonl"))


def _verify(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["records", "verify", *args])
    return code, capsys.readouterr().out


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    d = tmp_path / "records"
    d.mkdir()
    return _rotated_folder(d)


def test_rotation_keeps_one_chain_across_files(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rotated = _rotated(folder)
    assert len(rotated) == 3
    assert all(p.stat().st_size >= 4096 for p in rotated)
    chain = [*rotated, folder / "records-a.jsonl"]
    results = [verify(p) for p in chain]
    assert all(r.ok for r in results)
    assert results[0].first_prev == GENESIS
    for before, after in itertools.pairwise(results):
        assert after.first_prev == before.head  # each file starts where its predecessor ended
    assert sum(r.lines for r in results) == 20
    first = json.loads((folder / "records-a.jsonl").read_text().splitlines()[0])
    assert first["writer"]["manifest"] == "records-a.manifest"
    code, out = _verify(capsys, str(folder))
    assert code == 0, out
    assert out.count("ok: ") == 5 and "continues from" in out


def test_a_missing_middle_file_is_named(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    middle = _rotated(folder)[1]
    middle.unlink()
    code, out = _verify(capsys, str(folder))
    assert code == 1
    assert f"MISSING {middle}: records-a.manifest lists it (rotated from records-a.jsonl" in out


def test_a_deleted_newest_file_is_named(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (folder / "records-b.jsonl").unlink()
    code, out = _verify(capsys, str(folder))
    assert code == 1
    assert f"MISSING {folder / 'records-b.jsonl'}: records-b.manifest lists it (the live file)" in out


def test_a_truncated_rotated_file_is_named(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    last = _rotated(folder)[-1]
    lines = last.read_bytes().splitlines(keepends=True)
    last.write_bytes(b"".join(lines[:-1]))  # a clean cut: the chain itself still verifies
    assert verify(last).ok
    code, out = _verify(capsys, str(folder))
    assert code == 1
    assert f"TRUNCATED {last}: rotated at" in out


def test_a_truncated_live_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    live = tmp_path / "records-c.jsonl"
    w = _writer(live, checkpoint_interval=0.001)
    try:
        for i in range(4):
            w.write(_rec(i))
            time.sleep(0.002)
    finally:
        w.close()
    lines = live.read_bytes().splitlines(keepends=True)
    live.write_bytes(b"".join(lines[:2]))
    assert verify(live).ok
    code, out = _verify(capsys, str(tmp_path))
    assert code == 1
    assert f"TRUNCATED {live}: records-c.manifest saw it at" in out


def test_copytruncate_is_detected_and_the_writer_goes_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """What logrotate's copytruncate does: the copy is not in the manifest, the live file restarts."""
    live = tmp_path / "records-c.jsonl"
    w = _writer(live)
    try:
        w.write_many([_rec(1), _rec(2)])
        w.write(_rec(3))  # checkpoints the two lines first
        (tmp_path / "records-c.jsonl.1").write_bytes(live.read_bytes())  # not *.jsonl: unseen
        os.truncate(live, 0)
        w.write(_rec(4))
    finally:
        w.close()
    code, out = _verify(capsys, str(tmp_path))
    assert code == 1
    assert f"TRUNCATED {live}" in out


def test_a_file_renamed_by_another_tool_is_unlisted_and_its_successor_detected(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """logrotate without copytruncate: the renamed file is not in the manifest."""
    live = tmp_path / "records-c.jsonl"
    w = _writer(live)
    try:
        w.write_many([_rec(1), _rec(2)])
        live.rename(tmp_path / "records-c.jsonl-20261130.jsonl")
        w.write(_rec(3))  # the writer follows the path: a new file
    finally:
        w.close()
    code, out = _verify(capsys, str(tmp_path))
    assert code == 1
    assert f"NOT IN MANIFEST {tmp_path / 'records-c.jsonl-20261130.jsonl'}" in out


def test_an_edited_manifest_is_detected(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = folder / "records-a.manifest"
    lines = manifest.read_text().splitlines(keepends=True)
    entry = json.loads(lines[2])
    entry["size"] = entry.get("size", 0) + 1
    lines[2] = json.dumps(entry) + "\n"
    manifest.write_text("".join(lines))
    code, out = _verify(capsys, str(folder))
    assert code == 1
    assert f"BROKEN manifest {manifest} line 3: hash does not match" in out


def test_a_manifest_line_removed_is_detected(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = folder / "records-a.manifest"
    lines = manifest.read_text().splitlines(keepends=True)
    manifest.write_text("".join(lines[:1] + lines[2:]))
    code, out = _verify(capsys, str(folder))
    assert code == 1
    assert f"BROKEN manifest {manifest} line 2: prev_hash does not match" in out


def test_an_unreadable_manifest_is_detected(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = folder / "records-a.manifest"
    manifest.write_bytes(b"\x00garbage\n" + manifest.read_bytes())
    code, out = _verify(capsys, str(folder))
    assert code == 1
    assert f"BROKEN manifest {manifest} line 1: not JSON" in out


def test_a_deleted_manifest_is_detected(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (folder / "records-a.manifest").unlink()
    code, out = _verify(capsys, str(folder))
    assert code == 1
    assert f"MISSING manifest {folder / 'records-a.manifest'}: the records of" in out
    # Every manifest gone: the records still name theirs.
    (folder / "records-b.manifest").unlink()
    code, out = _verify(capsys, str(folder))
    assert code == 1 and f"MISSING manifest {folder / 'records-b.manifest'}" in out


def test_all_files_deleted_but_the_manifests_is_not_nothing_to_check(
        folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for p in folder.glob("*.jsonl"):
        p.unlink()
    code, out = _verify(capsys, str(folder))
    assert code == 1
    assert out.count("MISSING ") == 5


def test_files_without_anchors_still_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Formats 1 to 3 as written before anchoring, in a folder beside an anchored writer's."""
    old = RecordWriter(tmp_path / "records-old.jsonl")
    try:
        old.write_many([_rec(1), _rec(2)])
    finally:
        old.close()
    legacy = {k: v for k, v in _rec(3).items() if k not in ("format", "herkomst", "writer")}  # format 1
    legacy["prev_hash"] = GENESIS
    from sidecar.records import record_hash

    legacy["hash"] = record_hash(legacy)
    (tmp_path / "records-v1.jsonl").write_text(json.dumps(legacy) + "\n")
    _rotated_folder(tmp_path, 12)
    code, out = _verify(capsys, str(tmp_path))
    assert code == 0, out
    assert "records-old.jsonl: 2 records" in out and "records-v1.jsonl: 1 records" in out


def test_an_existing_file_is_adopted_by_an_anchored_writer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    live = tmp_path / "records-a.jsonl"
    old = RecordWriter(live)
    try:
        old.write_many([_rec(1), _rec(2)])
    finally:
        old.close()
    w = _writer(live, rotate_max_bytes=4096)
    try:
        for i in range(12):
            w.write(_rec(10 + i))
    finally:
        w.close()
    entries = [e for _, e in read_manifest(tmp_path / "records-a.manifest")[0]]
    assert entries[0]["event"] == "adopt" and entries[0]["size"] > 0
    code, out = _verify(capsys, str(tmp_path))
    assert code == 0, out
    # Truncating the adopted part shows too.
    first = _rotated(tmp_path)[0]
    lines = first.read_bytes().splitlines(keepends=True)
    first.write_bytes(lines[0])
    code, out = _verify(capsys, str(tmp_path))
    assert code == 1 and f"TRUNCATED {first}" in out


def test_a_worker_follows_another_workers_rotation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two writers on one file (gunicorn workers): one rotates, the other appends to the new file."""
    live = tmp_path / "records-a.jsonl"
    a = _writer(live, rotate_max_bytes=4096)
    b = _writer(live)  # the command line's writer: never rotates itself
    try:
        for i in range(30):
            (a if i % 3 else b).write(_rec(i))
    finally:
        a.close()
        b.close()
    assert len(_rotated(tmp_path)) >= 3
    code, out = _verify(capsys, str(tmp_path))
    assert code == 0, out
    report = verify_folder(tmp_path)
    assert report.records == 30 and not report.problems


def test_daily_rotation_starts_a_new_file_on_a_new_day(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    live = tmp_path / "records-a.jsonl"
    w = _writer(live, rotate_daily=True)
    try:
        w.write(_rec(1, at="2026-01-01T23:59:59.000Z"))  # a record of an earlier day
        w.write(_rec(2, at=time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())))
        w.write(_rec(3, at=time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())))
    finally:
        w.close()
    rotated = _rotated(tmp_path)
    assert len(rotated) == 1 and len(rotated[0].read_text().splitlines()) == 1
    assert len(live.read_text().splitlines()) == 2
    assert _verify(capsys, str(tmp_path))[0] == 0


def test_a_single_rotated_file_verifies_alone_and_says_what_it_continues(
        folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    second = _rotated(folder)[1]
    code, out = _verify(capsys, str(second))
    assert code == 0 and f"continues from {verify(_rotated(folder)[0]).head}" in out
    # A file from before anchoring keeps the strict genesis rule: its first line cannot go.
    old = folder / "old.jsonl"
    w = RecordWriter(old)
    try:
        w.write_many([_rec(1), _rec(2)])
    finally:
        w.close()
    old.write_bytes(old.read_bytes().splitlines(keepends=True)[1])
    assert _verify(capsys, str(old))[0] == 1


def test_the_write_fails_closed_when_the_manifest_cannot_be_used(tmp_path: Path) -> None:
    live = tmp_path / "records-a.jsonl"
    w = _writer(live)
    try:
        w.write(_rec(1))
    finally:
        w.close()
    manifest = tmp_path / "records-a.manifest"
    manifest.write_bytes(manifest.read_bytes() + b"{torn")
    before = live.read_bytes()
    w = _writer(live)
    try:
        with pytest.raises(RecordWriteError, match="manifest"):
            w.write(_rec(2))
        assert not w.writable()
    finally:
        w.close()
    assert live.read_bytes() == before
    # A manifest path that cannot be opened: the writer cannot even be made.
    manifest.unlink()
    manifest.mkdir()
    with pytest.raises(OSError):
        _writer(live)


# ---- the metrics file --------------------------------------------------------------------

def test_metrics_file_after_a_passing_run(folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prom = tmp_path / "status" / "records-verify.prom"
    prom.parent.mkdir()
    before = time.time()
    code, _ = _verify(capsys, str(folder), "--metrics-file", str(prom))
    assert code == 0
    values = parse(prom.read_text())
    assert values["sidecar_records_verify_success"] == 1
    assert values["sidecar_records_verify_records"] == 22
    assert values["sidecar_records_verify_files"] == 5
    assert values["sidecar_records_verify_problems"] == 0
    assert values["sidecar_records_verify_last_run_timestamp_seconds"] >= before - 1
    assert values["sidecar_records_verify_last_success_timestamp_seconds"] == values[
        "sidecar_records_verify_last_run_timestamp_seconds"]
    assert prom.stat().st_mode & 0o777 == 0o644  # node_exporter reads it as another user
    assert [p.name for p in prom.parent.iterdir()] == [prom.name]  # no temporary file left
    text = prom.read_text()
    for name in VERIFY_METRICS:
        assert f"# TYPE {name} gauge\n" in text


def test_metrics_file_after_a_failing_run_keeps_the_last_success(
        folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prom = tmp_path / "records-verify.prom"
    write_metrics_file(prom, ok=True, records=1, files=1, problems=0, now=1_700_000_000.0)
    _rotated(folder)[0].unlink()
    code, _ = _verify(capsys, str(folder), "--metrics-file", str(prom))
    assert code == 1
    values = parse(prom.read_text())
    assert values["sidecar_records_verify_success"] == 0
    assert values["sidecar_records_verify_problems"] >= 1
    assert values["sidecar_records_verify_last_success_timestamp_seconds"] == 1_700_000_000.0
    assert values["sidecar_records_verify_last_run_timestamp_seconds"] > 1_700_000_000.0


def test_metrics_file_when_there_is_nothing_to_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prom = tmp_path / "records-verify.prom"
    code, _ = _verify(capsys, str(tmp_path / "not-mounted"), "--metrics-file", str(prom))
    assert code == 2
    values = parse(prom.read_text())
    assert values["sidecar_records_verify_success"] == 0
    assert "sidecar_records_verify_last_success_timestamp_seconds" not in values


def test_the_exported_status_is_re_rendered_from_known_gauges_only(tmp_path: Path) -> None:
    status = tmp_path / "records-verify.prom"
    assert exported(status) == b""  # before the first run
    write_metrics_file(status, ok=True, records=5, files=2, problems=0, now=1_700_000_000.0)
    status.write_text(status.read_text() + 'sidecar_opa_up 1\nsidecar_records_verify_bogus 7\n'
                                           'sidecar_records_verify_records{x="1"} 9\n')
    text = exported(status).decode()
    assert "sidecar_records_verify_success 1.0\n" in text
    assert "sidecar_records_verify_records 5.0\n" in text
    assert "sidecar_opa_up" not in text and "bogus" not in text and 'x="1"' not in text


# ---- the real sidecar: rotation under gunicorn, and the status on /metrics -------------------

def test_sidecar_serve_rotates_anchors_and_exports_the_verify_status(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from tests.helpers import HULP, SEED, ZAKEN, Running, send, start_stack

    (tmp_path / "records").mkdir()
    (tmp_path / "status").mkdir()
    status = tmp_path / "status" / "records-verify.prom"
    stack = start_stack(tmp_path, "knmg", workers=2, config_extra={"records": {
        "path": "records/records.jsonl", "rotate_max_bytes": 4096, "checkpoint_interval_seconds": 0.2,
        "verify_status_file": "status/records-verify.prom"}})
    try:
        run = Running(stack)
        assert b"sidecar_records_verify" not in send(stack.ports.admin, "GET", "/metrics").body  # no run yet
        for _ in range(12):
            reply = run.proxy("GET", f"{ZAKEN}/{SEED['examples']['zvh_overdracht']}", run.headers("consulent", HULP))
            assert reply.status == 200
        folder = tmp_path / "records"
        rotated = sorted(folder.glob("records.*.jsonl"))
        assert len(rotated) >= 2, sorted(p.name for p in folder.iterdir())
        code, out = _verify(capsys, str(folder), "--metrics-file", str(status))
        assert code == 0, out
        body = send(stack.ports.admin, "GET", "/metrics").body.decode()
        assert "\nsidecar_records_verify_success 1.0\n" in body
        assert "# TYPE sidecar_records_verify_last_success_timestamp_seconds gauge" in body
        records = sum(len(p.read_text().splitlines()) for p in folder.glob("*.jsonl"))
        assert f"\nsidecar_records_verify_records {float(records)!r}\n" in body
        # A file goes missing: the next run says so, and the sidecar exports it at the next scrape.
        rotated[0].unlink()
        code, out = _verify(capsys, str(folder), "--metrics-file", str(status))
        assert code == 1 and f"MISSING {rotated[0]}" in out
        body = send(stack.ports.admin, "GET", "/metrics").body.decode()
        assert "\nsidecar_records_verify_success 0.0\n" in body
    finally:
        stack.stop()
