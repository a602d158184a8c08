"""One records file per replica (records.per_instance: records-<instance>.jsonl, the instance from
SIDECAR_INSTANCE or the host name), and every format 3 record names the sidecar version and the
instance that wrote it."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

import sidecar
from sidecar.cli import main
from sidecar.devtools.demo import Stack
from sidecar.records import FORMAT_VERSION, GENESIS, REQUIRED_KEYS, record_hash, verify
from sidecar.settings import ConfigError, load_settings
from tests.helpers import HULP, SEED, ZAKEN, Running, new_ports, read_records
from tests.test_records_jcs import _built


def _config(tmp_path: Path, **records: Any) -> Path:
    cfg = tmp_path / "config.yaml"
    (tmp_path / "pub.pem").write_text("-----BEGIN PUBLIC KEY-----\n")
    (tmp_path / "key").write_text("k" * 32)
    cfg.write_text(json.dumps({
        "jwt": {"issuer": "https://idp", "audience": "sidecar", "keys": [{"kid": "k1", "file": "pub.pem"}]},
        "controlling_orgs": ["gemeente-demo"],
        "pseudonymisation": {"key_file": "key"}, "records": {"path": "records.jsonl", **records},
        "opa": {"engine": "rest"},  # no Wasm bundle here: OPA over REST
    }))
    return cfg


def test_per_instance_names_the_file_after_sidecar_instance(tmp_path: Path) -> None:
    s = load_settings(_config(tmp_path, per_instance=True), env={"SIDECAR_INSTANCE": "wams-sidecar-7d9f8-abcde"})
    assert s.records.path == tmp_path / "records-wams-sidecar-7d9f8-abcde.jsonl"


def test_per_instance_falls_back_to_the_host_name(tmp_path: Path) -> None:
    s = load_settings(_config(tmp_path, per_instance=True), env={})
    assert s.records.path == tmp_path / f"records-{socket.gethostname()}.jsonl"


def test_without_per_instance_the_path_is_as_configured(tmp_path: Path) -> None:
    # SIDECAR_INSTANCE is not a configuration key (no "unknown key" error), and alone changes no path.
    s = load_settings(_config(tmp_path), env={"SIDECAR_INSTANCE": "pod-a"})
    assert s.records.path == tmp_path / "records.jsonl"


@pytest.mark.parametrize("name", ["../etc", "a/b", ".hidden", "x" * 129, "sp ace"])
def test_an_instance_name_unfit_for_a_file_name_stops_start_up(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError, match=r"records\.per_instance.*SIDECAR_INSTANCE"):
        load_settings(_config(tmp_path, per_instance=True), env={"SIDECAR_INSTANCE": name})


def test_every_built_record_names_its_writer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIDECAR_INSTANCE", "replica-7")
    rec = _built()
    assert rec["writer"] == {"version": sidecar.__version__, "instance": "replica-7"}
    assert "writer" in REQUIRED_KEYS[FORMAT_VERSION] and "writer" not in REQUIRED_KEYS[2]


def test_a_format_3_line_without_writer_fails_verify(tmp_path: Path) -> None:
    rec = {**_built(), "prev_hash": GENESIS}
    del rec["writer"]
    rec["hash"] = record_hash(rec)
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(rec) + "\n")
    res = verify(path)
    assert not res.ok and "writer" in (res.error or "")


def test_a_replica_writes_its_own_file_and_names_itself_in_every_record(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # The environment of the sidecar process, as the Kubernetes deployment sets it.
    monkeypatch.setenv("SIDECAR_INSTANCE", "replica-a")
    monkeypatch.setenv("SIDECAR_RECORDS__PER_INSTANCE", "true")
    stack = Stack(workdir=tmp_path / "stack", ports=new_ports(), workers=1)
    stack.start()
    try:
        run = Running(stack)
        reply = run.proxy("GET", f"{ZAKEN}/{SEED['examples']['zvh_overdracht']}", run.headers("consulent", HULP))
        assert reply.status == 200
        # The command line, on the same host, records its query in the same replica's file.
        assert main(["records", "query", "--betrokkene", "123456782", "--workdir", str(run.workdir)]) == 0
    finally:
        stack.stop()
    own = run.workdir / "records-replica-a.jsonl"
    assert not (run.workdir / "records.jsonl").exists()
    lines = read_records(own)
    assert any(r["trace_id"] == reply.trace_id for r in lines) and any(r["resource"]["type"] == "records"
                                                                        for r in lines)
    assert {json.dumps(r["writer"], sort_keys=True) for r in lines} == {
        # Anchored (sidecar serve, the command line): the writer also names its manifest.
        json.dumps({"instance": "replica-a", "version": sidecar.__version__, "manifest": "records-replica-a.manifest"},
                   sort_keys=True)}
    capsys.readouterr()
    assert main(["records", "verify", str(run.workdir)]) == 0
    assert "records-replica-a.jsonl" in capsys.readouterr().out
