"""Rotation of the BSN pseudonymisation key (docs/key-rotation.md): key versions, look-ups under
every active version, ``sidecar pseudonyms rekey`` and what retiring a version means.

The end-to-end test runs a real stack (OPA, demo upstream, ``sidecar serve``): data written
under version 1, then version 2 made current, the label store re-keyed, version 1 retired;
records and labels are checked after every step, and the chain stays intact."""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from sidecar.devtools.demo import Stack, find_opa, free_ports
from sidecar.devtools.keys import DEMO_ORG, mint
from sidecar.labels import LabelStore, PostgresLabelStore, SqliteLabelStore
from sidecar.pseudonyms import Keyring, pseudonym, read_bsns, version_of, versions_of_prefixes
from sidecar.records import pseudonymise, verify
from sidecar.settings import ConfigError, load_settings
from tests.helpers import (
    DOCS,
    HULP,
    PROVIDER_ORG,
    PgServer,
    Running,
    ingest,
    minimal_config,
    new_ports,
    uuid_of,
    write_yaml_config,
    zaak_of,
)

K1, K2, K3 = b"a" * 32, b"b" * 32, b"c" * 32
BSN = "111222333"


def random_bsn() -> str:
    """A BSN that passes the elfproef and that no other test uses."""
    while True:
        digits = [secrets.randbelow(10) for _ in range(8)]
        last = sum(d * w for d, w in zip(digits, range(9, 1, -1), strict=True)) % 11
        if last < 10 and digits[0] != 0:
            return "".join(map(str, digits)) + str(last)


# -- the pseudonym and the keyring ------------------------------------------------------------


def test_version_1_is_the_pseudonym_written_before_versions_existed() -> None:
    assert pseudonym(K1, BSN) == pseudonym(K1, BSN, 1) == pseudonymise(K1, BSN)
    v2 = pseudonym(K2, BSN, 2)
    assert v2.startswith("hmac-sha256:v2:") and len(v2) == len("hmac-sha256:v2:") + 64
    assert version_of(pseudonym(K1, BSN)) == 1 and version_of(v2) == 2
    assert version_of(pseudonym(K1, BSN, 12)) == 12
    for bad in ("hmac-sha256:v1:" + "0" * 64, "hmac-sha256:v0:" + "0" * 64, "hmac-sha256:" + "0" * 63, BSN,
                "hmac-sha256:v2:" + "G" * 64):
        assert version_of(bad) is None, bad


def test_the_keyring_writes_under_the_current_version_and_finds_under_all() -> None:
    ring = Keyring(((2, K2), (1, K1)))
    assert ring.current(BSN) == pseudonym(K2, BSN, 2)
    assert ring.all(BSN) == [pseudonym(K2, BSN, 2), pseudonym(K1, BSN, 1)]
    assert ring.older(BSN) == [pseudonym(K1, BSN, 1)]
    with pytest.raises(ValueError, match="unique"):
        Keyring(((1, K1), (1, K2)))
    with pytest.raises(ValueError, match="at least one"):
        Keyring(())


def _config(tmp_path: Path, pseudo: dict[str, Any]) -> Path:
    return write_yaml_config(tmp_path, {**minimal_config(tmp_path), "pseudonymisation": pseudo})


def test_settings_single_key_is_version_1_and_keys_list_current_first(tmp_path: Path) -> None:
    (tmp_path / "v1.key").write_bytes(K1 + b"\n")
    single = load_settings(_config(tmp_path, {"key_file": "v1.key"}), env={})
    assert single.pseudonymisation.keyring() == Keyring(((1, K1),))
    rotated = load_settings(_config(tmp_path, {"keys": [{"version": 2, "key": K2.decode()},
                                                        {"version": 1, "key_file": "v1.key"}]}), env={})
    assert rotated.pseudonymisation.keyring() == Keyring(((2, K2), (1, K1)))
    assert rotated.pseudonymisation.key_bytes() == K2  # the current key (the console's CSRF key derives from it)
    assert rotated.pseudonymisation.keys[1].key_file == tmp_path / "v1.key"  # relative to the config


@pytest.mark.parametrize(("pseudo", "message"), [
    ({"key": K1.decode(), "keys": [{"version": 2, "key": K2.decode()}]}, "exactly one of key, key_file and keys"),
    ({"keys": [{"version": 2, "key": K2.decode()}, {"version": 2, "key": K3.decode()}]},
     "each version may appear once"),
    ({"keys": [{"version": 2, "key": K1.decode()}, {"version": 1, "key": K1.decode()}]}, "same key"),
    ({"keys": [{"version": 0, "key": K1.decode()}]}, "pseudonymisation.keys.0.version"),
    ({"keys": [{"version": 2, "key": "short"}]}, "at least 16 bytes"),
    ({"keys": [{"version": 2}]}, "exactly one of key and key_file"),
    ({"keys": [{"version": 2, "key_file": "missing.key"}]}, "pseudonymisation.keys[].key_file: cannot read"),
    ({"keys": [{"version": 2, "key": K2.decode(), "kid": "x"}]}, "unknown key"),
])
def test_bad_key_versions_stop_start_up_naming_the_key(tmp_path: Path, pseudo: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match="pseudonymisation") as err:
        load_settings(_config(tmp_path, pseudo), env={})
    assert message in str(err.value)


def test_read_bsns_skips_blanks_and_comments_and_names_bad_lines() -> None:
    bsns, bad = read_bsns(["111222333\n", "\n", "# comment\n", "111 222 333\n", "12345\n", "abc\n", "123456782"])
    assert bsns == ["111222333", "123456782"] and bad == [5, 6]
    assert versions_of_prefixes({"hmac-sha256:": 3, "hmac-sha256:v2:": 1, "junk": 2}) == {1: 3, 2: 1, 0: 2}


# -- the label store (both backends) ------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LabelStore]:
    if request.param == "sqlite":
        yield SqliteLabelStore(tmp_path / "labels.sqlite3")
        return
    pg: PgServer = request.getfixturevalue("pg_server")
    s = PostgresLabelStore(pg.dsn(pg.create_database()))
    yield s
    s.close()


def test_rekey_moves_only_the_given_people_from_older_versions(store: LabelStore) -> None:
    old_ring, ring = Keyring(((1, K1),)), Keyring(((2, K2), (1, K1)))
    other = "123456782"
    store.put("/a", {"grondslag": "toestemming", "toestemming": "TS-1", "betrokkene": old_ring.current(BSN)})
    store.put("/b", {"grondslag": "lid1", "betrokkene": old_ring.current(BSN)})
    store.put("/c", {"grondslag": "lid1", "betrokkene": old_ring.current(other)})
    store.put("/d", {"grondslag": "lid1", "betrokkene": ring.current(other)})
    store.put("/e", {"grondslag": "lid1"})
    assert versions_of_prefixes(store.betrokkene_prefixes()) == {1: 3, 2: 1}

    mapping = {old: ring.current(BSN) for old in ring.older(BSN)}
    assert store.rekey_betrokkenen(mapping) == 2
    got = store.get_many(["/a", "/b", "/c", "/d", "/e"])
    assert got["/a"] == {"grondslag": "toestemming", "toestemming": "TS-1", "betrokkene": ring.current(BSN)}
    assert got["/b"]["betrokkene"] == ring.current(BSN)
    assert got["/c"]["betrokkene"] == old_ring.current(other)  # not given: unchanged
    assert got["/e"] == {"grondslag": "lid1"}
    assert versions_of_prefixes(store.betrokkene_prefixes()) == {1: 1, 2: 3}
    assert store.rekey_betrokkenen(mapping) == 0  # twice is harmless
    assert store.rekey_betrokkenen({}) == 0
    # A withdrawal still names the data subject, now under the current version.
    assert store.withdraw_consent("TS-1") == (1, [ring.current(BSN)])


# -- end to end: sidecar serve, the command line ------------------------------------------------


def _cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sidecar", *args], capture_output=True, text=True, timeout=120,
                          input=stdin)


def _query(config: Path, bsn: str) -> list[dict[str, Any]]:
    out = _cli("records", "query", "--betrokkene", bsn, "--config", str(config), "--door", "fg-rotation",
               "--met-medewerkers")
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def _set_keys(run: Running, keys: list[dict[str, Any]]) -> None:
    """Rewrite the stack's pseudonymisation settings and restart its sidecar."""
    cfg = yaml.safe_load(run.stack.config_path.read_text())
    cfg["pseudonymisation"] = {"keys": keys}
    run.stack.config_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    run.stack.stop_one("sidecar")
    run.stack.start_sidecar()


def _accesses(records: list[dict[str, Any]], wanted: set[str]) -> set[tuple[str, str]]:
    """What a records query shows of ``records`` about ``wanted``: one row per request and object
    (the phases merged), the queries themselves (L1) included once they are written."""
    return {(r["trace_id"], r["resource"]["id"] or r["resource"]["type"]) for r in records if r["betrokkene"] in wanted}


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Running]:
    ports = new_ports()
    ports.console = free_ports(1)[0]
    find_opa()
    s = Stack(workdir=tmp_path / "stack", ports=ports, profile="knmg", workers=1)
    s.start()
    yield Running(s)
    s.stop()


def _inzage(run: Running, bsn: str) -> tuple[int, int, list[str]]:
    """The FG console's art. 15 report for ``bsn``, then its employees step (the hidden field
    carries the person's pseudonyms): the rows of each, and the pseudonyms."""
    from tests.test_console import Browserless

    assert run.stack.ports.console is not None
    client = Browserless(run.stack.ports.console)
    assert client.login(mint(run.workdir, sub="fg.rotatie", role="fg", org=DEMO_ORG)).status == 303
    report = client.request("POST", "/inzage", {"csrf": client.csrf("/inzage"), "bsn": bsn})
    assert report.status == 200, report.body[:300]
    hidden = re.search(rb'name="pseudoniem" value="([^"]+)"', report.body)
    assert hidden
    step2 = client.request("POST", "/inzage", {"csrf": client.csrf("/inzage"), "pseudoniem": hidden.group(1).decode(),
                                               "stap": "medewerkers"})
    assert step2.status == 200, step2.body[:300]
    # One table row per access, after the header row.
    return report.body.count(b"<tr") - 1, step2.body.count(b"<tr") - 1, hidden.group(1).decode().split(" ")


def test_rotation_end_to_end_no_record_or_label_lost(stack: Running) -> None:
    run, config = stack, stack.stack.config_path
    (run.workdir / "keys" / "pseudonym-v2.key").write_text(secrets.token_hex(32))
    v1 = (run.workdir / "keys" / "pseudonym.key").read_bytes().strip()
    v2 = (run.workdir / "keys" / "pseudonym-v2.key").read_bytes().strip()
    person = random_bsn()
    p1, p2 = pseudonym(v1, person, 1), pseudonym(v2, person, 2)
    zaak = zaak_of(PROVIDER_ORG)
    adviser = run.headers("medisch_adviseur", HULP)

    # 1. The single key (version 1): an ingest for the person, read back.
    old_doc, _ = ingest(run, f'grondslag=toestemming, toestemming="TS-ROT-1", betrokkene="{person}"', link_to=zaak)
    assert old_doc.status == 201
    old_url = f"{DOCS}/{uuid_of(old_doc.json())}"
    assert run.proxy("GET", old_url, adviser).status == 200
    assert {r["betrokkene"] for r in run.records_of(old_doc)} == {p1}

    # 2. Version 2 becomes current, version 1 stays active for look-ups.
    _set_keys(run, [{"version": 2, "key_file": "keys/pseudonym-v2.key"},
                    {"version": 1, "key_file": "keys/pseudonym.key"}])
    new_doc, _ = ingest(run, f'grondslag=toestemming, toestemming="TS-ROT-2", betrokkene="{person}"', link_to=zaak)
    assert new_doc.status == 201
    assert {r["betrokkene"] for r in run.records_of(new_doc)} == {p2}
    old_read = run.proxy("GET", old_url, adviser)
    assert old_read.status == 200  # the old label is still found and applied
    # The response phase names the label's (not yet re-keyed) subject; the request phase, before
    # the object is known, none.
    assert {r["betrokkene"] for r in run.records_of(old_read)} == {p1, None}
    expected = _accesses(run.records(), {p1, p2})
    rows = _query(config, person)
    assert len(rows) == len(expected) >= 4  # both ingests, both reads of the old document
    assert {old_doc.trace_id, new_doc.trace_id, old_read.trace_id} <= {t for t, _ in expected}
    assert run.records()[-1]["betrokkene"] == p2  # the query's own record: the current version
    # The FG console finds the same, and its employees step keeps every version.
    expected = _accesses(run.records(), {p1, p2})
    report_rows, step2_rows, hidden = _inzage(run, person)
    assert hidden == [p2, p1] and report_rows == len(expected)
    assert step2_rows == report_rows + 1  # the report's own access (recorded under v2) is the one more
    assert run.records()[-1]["betrokkene"] == p2 and run.records()[-1]["reasons"] == ["L1"]

    status = _cli("pseudonyms", "status", "--config", str(config))
    assert status.returncode == 0 and "v2 (current): 1, v1 (active): 1" in status.stdout, status.stdout

    # 3. Re-key: a bad line changes nothing and is named by number, never echoed.
    bad = _cli("pseudonyms", "rekey", "--config", str(config), stdin=f"{person}\nnot-a-bsn\n")
    assert bad.returncode == 2 and "line(s) 2" in bad.stderr and "not-a-bsn" not in bad.stderr
    done = _cli("pseudonyms", "rekey", "--config", str(config), stdin=f"# from the zaaksysteem\n{person}\n")
    assert done.returncode == 0, done.stderr
    assert "1 BSN(s) read, 1 label(s) moved to key version v2" in done.stdout
    assert "v2 (current): 2" in done.stdout and "v1" not in done.stdout.splitlines()[-1]
    assert person not in done.stdout + done.stderr

    # 4. Version 1 retired: the re-keyed label is still found, reads name the current pseudonym.
    _set_keys(run, [{"version": 2, "key_file": "keys/pseudonym-v2.key"}])
    again = run.proxy("GET", old_url, adviser)
    assert again.status == 200
    assert {r["betrokkene"] for r in run.records_of(again)} == {p2, None}
    # Records written under v1 are not rewritten and no longer found by BSN (the documented cost
    # of retiring a version); everything written under v2 is.
    under_v2 = _accesses(run.records(), {p2})
    assert len(_query(config, person)) == len(under_v2) < len(_accesses(run.records(), {p1, p2}))
    # Nothing was lost: every record is still in the chain, which verifies.
    res = verify(run.workdir / "records.jsonl")
    assert res.ok, res.error
    assert sum(r["betrokkene"] == p1 for r in run.records()) >= 3
    assert _cli("records", "verify", "--config", str(config)).returncode == 0
