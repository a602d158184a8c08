"""Rotation of the upstream (JWT-ZGW) client secret without a gap (docs/key-rotation.md).

Open Zaak lets an Applicatie hold several credentials at once. The procedure: add the new secret
upstream, write it to the sidecar's ``upstream.zgw_jwt.secret_file``, send the gunicorn master
SIGHUP (new workers read the file again; the old ones finish their requests), then remove the old
secret upstream. Here the demo upstream checks JWT-ZGW against a secrets file the test edits
(``--zgw-secrets-file``), the sidecar is the real ``sidecar serve``, and reads run all the time:
none fails, no record is lost (the chain verifies, one record per request phase), labels stay."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sidecar.devtools.demo import Stack
from sidecar.labels import SqliteLabelStore, key_for_url
from sidecar.records import verify
from tests.helpers import (
    DOCS,
    HULP,
    PROVIDER_ORG,
    SEED,
    ZAKEN,
    Running,
    document_body,
    link_document,
    new_ports,
    send,
    uuid_of,
    wait_for,
    zaak_of,
)

OLD, NEW = "old-secret-" + "x" * 24, "new-secret-" + "y" * 24


def _workers(master: int) -> set[int]:
    """The gunicorn master's worker processes (its children)."""
    children: set[int] = set()
    for task in Path(f"/proc/{master}/task").iterdir():
        children.update(int(p) for p in (task / "children").read_text().split())
    return children


@pytest.fixture
def zgw_stack(tmp_path: Path) -> Iterator[tuple[Running, Path, Path]]:
    """OPA, the demo upstream checking JWT-ZGW against ``upstream_secrets`` and the sidecar with
    its client secret in ``sidecar_secret``."""
    workdir = tmp_path / "stack"
    (workdir / "keys").mkdir(parents=True)
    upstream_secrets, sidecar_secret = workdir / "upstream-credentials.txt", workdir / "keys" / "zgw-client-secret"
    upstream_secrets.write_text(OLD + "\n")
    sidecar_secret.write_text(OLD + "\n")
    ports = new_ports()
    stack = Stack(workdir=workdir, ports=ports, profile="knmg", workers=2, config_extra={"upstream": {
        "url": f"http://127.0.0.1:{ports.upstream}",
        "zgw_jwt": {"client_id": "wams-sidecar", "secret_file": "keys/zgw-client-secret"}}})
    stack.prepare()
    try:
        stack.start_opa()
        stack._spawn("upstream", [
            sys.executable, "-m", "sidecar.devtools.upstream", "--host", "127.0.0.1", "--port", str(ports.upstream),
            "--db", str(workdir / "upstream.sqlite3"),
            "--catalogue-base", f"http://127.0.0.1:{ports.upstream}/catalogi/api/v1",
            "--zgw-secrets-file", str(upstream_secrets)])

        def refuses_anonymous() -> bool:
            try:
                return send(ports.upstream, "GET", "/catalogi/api/v1/zaaktypen").status == 403
            except OSError:
                return False

        wait_for("the demo upstream (JWT-ZGW required)", refuses_anonymous)
        stack.start_sidecar()
        yield Running(stack), upstream_secrets, sidecar_secret
    finally:
        stack.stop()


def _replace(path: Path, text: str) -> None:
    """Write ``path`` atomically: the upstream reads its credentials on every request, and a
    truncate-then-write would let a request in between see none (a 403 the rotation did not cause)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def test_client_secret_rotation_with_sighup_loses_no_request_record_or_label(
        zgw_stack: tuple[Running, Path, Path]) -> None:
    run, upstream_secrets, sidecar_secret = zgw_stack
    zaak = f"{ZAKEN}/{SEED['examples']['zvh_overdracht']}"
    consulent = run.headers("consulent", HULP)
    assert run.proxy("GET", zaak, consulent).status == 200
    # A document with provenance (a label), sent in by a care provider (tests.helpers.ingest reads
    # the type URL from the upstream directly, which this upstream refuses without a token).
    writer = run.headers("aanbieder", HULP, org=PROVIDER_ORG, secrecy="geen")
    type_url = f"http://127.0.0.1:{run.stack.ports.upstream}/catalogi/api/v1/informatieobjecttypen/algemeen"
    doc = run.proxy("POST", DOCS, {**writer, "Content-Type": "application/json", "X-Herkomst": "grondslag=lid1"},
                    document_body(type_url, "rotatie"))
    assert doc.status == 201, doc.body
    assert link_document(run, doc.json()["url"], zaak_of(PROVIDER_ORG), writer).status == 201
    doc_url = doc.json()["url"]
    labels_before = SqliteLabelStore(run.workdir / "labels.sqlite3").get_many([key_for_url(doc_url)])
    assert labels_before

    # Reads all the time, through every step.
    statuses: list[int] = []
    stop = threading.Event()

    def traffic() -> None:
        while not stop.is_set():
            statuses.append(run.proxy("GET", zaak, consulent).status)

    worker = threading.Thread(target=traffic, daemon=True)
    worker.start()
    try:
        wait_for("some traffic", lambda: len(statuses) >= 5)
        # 1. The new credential is added upstream (both valid now).
        _replace(upstream_secrets, f"{OLD}\n{NEW}\n")
        # 2. The sidecar's secret file is replaced (atomically) and the master told to reload.
        tmp = sidecar_secret.with_suffix(".new")
        tmp.write_text(NEW + "\n")
        os.replace(tmp, sidecar_secret)
        master = run.stack.procs["sidecar"].pid
        old_workers = _workers(master)
        assert len(old_workers) == 2
        seen = len(statuses)
        os.kill(master, signal.SIGHUP)
        wait_for("new workers in place of the old ones",
                 lambda: (w := _workers(master)) and len(w) == 2 and not w & old_workers, timeout=60)
        wait_for("traffic after the reload", lambda: len(statuses) >= seen + 5)
        # 3. The old credential is removed upstream: the new workers sign with the new secret.
        _replace(upstream_secrets, NEW + "\n")
        seen = len(statuses)
        wait_for("traffic with only the new secret valid", lambda: len(statuses) >= seen + 10)
    finally:
        stop.set()
        worker.join(timeout=30)
    assert statuses and set(statuses) == {200}, sorted(set(statuses))

    # The sidecar now signs with the new secret alone: a write works too, and so does the label.
    read = run.proxy("GET", f"{DOCS}/{uuid_of(doc.json())}", writer)
    assert read.status == 200, read.body
    assert SqliteLabelStore(run.workdir / "labels.sqlite3").get_many([key_for_url(doc_url)]) == labels_before
    # No record lost: the chain verifies, and every traffic read left its request and response record.
    res = verify(run.workdir / "records.jsonl")
    assert res.ok, res.error
    traffic_records = [r for r in run.records() if r["resource"]["type"] == "zaak" and r["action"] == "read"
                       and r["purpose"] == HULP and r["phase"] == "response"]
    assert len(traffic_records) >= len(statuses)
    assert "Hang up" in run.log()  # gunicorn's own word that the master reloaded


def test_without_the_reload_the_sidecar_keeps_the_old_secret(zgw_stack: tuple[Running, Path, Path]) -> None:
    """The control: the procedure's reload is what makes the new secret count. A secret file
    changed without SIGHUP is not read, so removing the old credential upstream too early fails
    closed (the upstream refuses the sidecar), and never lets a request through unchecked."""
    run, upstream_secrets, sidecar_secret = zgw_stack
    zaak = f"{ZAKEN}/{SEED['examples']['zvh_overdracht']}"
    consulent = run.headers("consulent", HULP)
    assert run.proxy("GET", zaak, consulent).status == 200
    sidecar_secret.write_text(NEW + "\n")
    upstream_secrets.write_text(NEW + "\n")
    refused = run.proxy("GET", zaak, consulent)
    # The upstream's refusal of the sidecar's credential, passed on with its reason and recorded.
    assert refused.status == 403 and b"not_authenticated" in refused.body, (refused.status, refused.body[:300])
    last = run.records_of(refused)[-1]
    assert last["decision"] == "deny" and last["status"] == 403, last
    # Once reloaded, it works again.
    master = run.stack.procs["sidecar"].pid
    old_workers = _workers(master)
    os.kill(master, signal.SIGHUP)
    wait_for("new workers", lambda: (w := _workers(master)) and len(w) == 2 and not w & old_workers, timeout=60)
    deadline = time.monotonic() + 30
    status = 0
    while time.monotonic() < deadline and status != 200:
        status = run.proxy("GET", zaak, consulent).status
    assert status == 200
