"""Storage faults: the record file's disk is full, the label store is unusable.

Records: ``records.path`` lives on a 2 MiB tmpfs that the test fills (root may mount; where it
may not, ``records.path`` is a symlink to /dev/full, which fails every write with ENOSPC).
Every 200 must have its allow records on disk; once a record cannot be written the answer is
503, ``sidecar_records_write_errors_total`` counts it, the log says so, readiness drops, and
after space returns the sidecar recovers with a chain that still verifies.

Labels: SQLite keeps its file open, so replacing or chmod-ing the file (we are root) changes
nothing for a running sidecar. What does work: checkpoint the WAL into the main file (so every
connection's page cache is invalidated on its next read) and overwrite the SQLite header; the
next read fails with "file is not a database", as a torn disk or a wrong restore would.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sidecar.devtools.demo import Stack
from sidecar.records import verify
from tests.helpers import (
    DOCS,
    HULP,
    ZAKEN,
    Running,
    catalogue_base,
    new_ports,
    read_records,
    start_not_ready,
    uuid_of,
)


def _mount_tmpfs(where: Path) -> bool:
    where.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0755", "tmpfs", str(where)],
                         capture_output=True, text=True, check=False)
    return res.returncode == 0


@pytest.fixture(scope="module")
def disk_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, Path | None]]:
    base = tmp_path_factory.mktemp("storage")
    disk = base / "recdisk"
    mounted = _mount_tmpfs(disk)
    if mounted:
        records = disk / "records.jsonl"
    else:
        records = disk / "records.jsonl"
        records.symlink_to("/dev/full")
    stack = Stack(workdir=base / "stack", ports=new_ports(), workers=1,
                  config_extra={"records": {"path": str(records)}})
    try:
        if mounted:
            stack.start()
        else:
            # /dev/full fails every write: the sidecar cannot get ready, start it without waiting.
            start_not_ready(stack)
        yield Running(stack), disk if mounted else None
    finally:
        stack.stop()
        if mounted:
            subprocess.run(["umount", "-l", str(disk)], check=False)


def _records_for(path: Path, trace: str) -> list[dict[str, Any]]:
    """Complete lines only: a torn last line is exactly what the writer must not leave behind,
    and the verify at the end catches it."""
    return [rec for rec in read_records(path, torn_ok=True) if rec.get("trace_id") == trace]


def _fill(disk: Path) -> Path:
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass
    return filler


def test_full_record_disk_fails_closed_and_recovers(disk_stack: tuple[Running, Path | None]) -> None:
    run, disk = disk_stack
    records = Path(str(run.stack.workdir.parent / "recdisk" / "records.jsonl"))
    if disk is not None:
        assert run.proxy("GET", ZAKEN, run.headers("consulent", HULP)).status == 200
        filler = _fill(disk)
    errors_before = run.metric("sidecar_records_write_errors_total")
    statuses = []
    refused = None
    for _ in range(40):  # the file's last page may still take a few lines
        r = run.proxy("GET", ZAKEN, run.headers("consulent", HULP))
        statuses.append(r.status)
        if r.status == 200:
            recs = _records_for(records, r.trace_id)
            assert [x["decision"] for x in recs if x["phase"] == "response"] and all(
                x["decision"] == "allow" for x in recs if x["phase"] == "request"), "released without a record"
            continue
        refused = r
        assert r.status == 503 and r.header("content-type") == "application/problem+json", r.body
        assert b'"results"' not in r.body
        # Whether the request was forwarded first is test_refused_read_was_not_forwarded_unrecorded's.
        break
    assert refused is not None, f"never refused on a full disk: {statuses}"
    assert run.metric("sidecar_records_write_errors_total") > errors_before
    assert run.metric("sidecar_fail_closed_total", cause="records") >= 1
    assert '"record_write_failed"' in run.log()
    assert run.wait_readiness(503).status == 503, "not-ready while decisions cannot be recorded"
    if disk is None:
        return  # /dev/full never recovers; the tmpfs run checks recovery
    filler.unlink()
    ok = run.proxy("GET", ZAKEN, run.headers("consulent", HULP))
    assert ok.status == 200, ok.body[:300]
    result = verify(records)
    assert result.ok, f"chain broken after the disk-full episode: line {result.line_no}: {result.error}"
    cli = subprocess.run([sys.executable, "-m", "sidecar", "records", "verify", str(records)],
                         capture_output=True, text=True, check=False)
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert run.wait_readiness(200).status == 200


def test_full_disk_releases_nothing_and_writes_nothing_upstream(disk_stack: tuple[Running, Path | None]) -> None:
    """No response released and nothing written upstream without a durable record. On a full disk a
    read is refused without data (it may have reached the upstream: a read has no side effect there,
    so its request-phase record is written together with the response phase's), and a write never
    reaches the upstream."""
    run, disk = disk_stack
    filler = _fill(disk) if disk is not None else None
    try:
        for kind in ("read", "write"):
            for i in range(40):
                before = run.mark_upstream()
                if kind == "read":
                    r = run.proxy("GET", ZAKEN, run.headers("consulent", HULP))
                else:
                    rsin = "001234560"  # the seed's municipality
                    body = {"bronorganisatie": rsin, "verantwoordelijkeOrganisatie": rsin, "startdatum": "2026-03-02",
                            "zaaktype": f"{catalogue_base(run)}/zaaktypen/algemeen", "omschrijving": f"vol-{i}"}
                    r = run.proxy("POST", ZAKEN, [*run.headers("consulent", HULP).items(),
                                                  ("Content-Type", "application/json")], json.dumps(body).encode())
                if r.status in (200, 201):
                    continue  # the disk still had room for these records
                assert r.status == 503, (kind, r.status)
                assert b'"results"' not in r.body and b'"url"' not in r.body
                if kind == "write":
                    assert not any("POST" in line for line in run.upstream_since(before)), "written upstream unrecorded"
                break
            else:
                raise AssertionError(f"a {kind} was never refused on a full disk")
    finally:
        if filler is not None:
            filler.unlink()


def _corrupt_label_store(db: Path) -> None:
    conn = sqlite3.connect(db, timeout=5)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        # TRUNCATE waits for no reader and resets the WAL, which every other connection notices
        # on its next read (its page cache is then dropped). A reader mid-transaction makes it
        # report busy: retry until it went through.
        deadline = time.monotonic() + 5
        while conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] != 0:
            assert time.monotonic() < deadline, "label store checkpoint stayed busy"
            time.sleep(0.05)
    finally:
        conn.close()
    with db.open("r+b") as f:
        f.write(b"this is not a sqlite database!!" + b"\0" * 69)  # the 100-byte header
        f.flush()
        os.fsync(f.fileno())


@pytest.fixture(scope="module")
def labels_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    stack = Stack(workdir=tmp_path_factory.mktemp("labels") / "stack", ports=new_ports(), workers=1)
    stack.start()
    yield Running(stack)
    stack.stop()


def _alg_target(run: Running) -> tuple[str, str]:
    doc = run.doc_of("algemeen")
    return f"{DOCS}/{uuid_of(doc)}", doc["titel"]


def test_label_store_unusable_fails_closed(labels_stack: Running) -> None:
    run = labels_stack
    target, titel = _alg_target(run)
    assert run.proxy("GET", target, run.headers("consulent", HULP)).status == 200
    assert run.admin("/-/readyz").status == 200
    db = run.workdir / "labels.sqlite3"
    _corrupt_label_store(db)
    before = run.metric("sidecar_fail_closed_total", cause="labels")
    for t in (target, DOCS):
        r = run.proxy("GET", t, run.headers("consulent", HULP))
        assert r.status == 503, (t, r.status, r.body[:300], run.log()[-2000:])
        assert titel.encode() not in r.body and b'"results"' not in r.body
        recs = run.records_of(r)
        assert not [x for x in recs if x["phase"] == "response" and x["decision"] == "allow"]
    assert run.metric("sidecar_fail_closed_total", cause="labels") == before + 2
    assert '"labels_error"' in run.log()
    # The failing statement reads the schema page too, so readiness (SELECT 1) notices as well.
    ready = run.wait_readiness(503)
    assert ready.status == 503 and any(p.startswith("labels") for p in ready.json()["problems"])


def test_label_store_failure_is_recorded(labels_stack: Running) -> None:
    run = labels_stack
    target, _ = _alg_target(run)
    db = run.workdir / "labels.sqlite3"
    if db.read_bytes()[:16] == b"SQLite format 3\0":
        _corrupt_label_store(db)
    r = run.proxy("GET", target, run.headers("consulent", HULP))
    assert r.status == 503
    assert r.json()["decision_id"] is not None
    recs = run.records_of(r)
    assert recs and recs[-1]["decision"] == "deny" and recs[-1]["status"] == 503
