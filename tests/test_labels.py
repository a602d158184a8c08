"""The label store: one suite, run against both backends (SQLite file, real PostgreSQL server).

The PostgreSQL run uses the session's throwaway server (``pg_server`` in conftest.py: initdb +
pg_ctl into a temp dir, loopback only, a free port); `make test` installs the binaries first (mk/postgres.mk).
Without them the PostgreSQL cases fail, never skip: a skipped backend would look like a pass.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from sidecar.devtools.demo import free_ports
from sidecar.labels import (
    _LINKS_SCHEMA,
    _REVIEW_SCHEMA,
    LabelStore,
    LabelStoreError,
    PostgresLabelStore,
    SqliteLabelStore,
    key_for_url,
    open_label_store,
)
from tests.helpers import DOCS, PG_PASSWORD, PgServer

CONNECT_TIMEOUT = 2  # PostgresLabelStore's default connect_timeout, in seconds


# ---- one store per test, per backend ---------------------------------------------------------

@dataclass
class Backend:
    name: str
    dsn: str
    pg: PgServer | None = None


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        return Backend("sqlite", f"sqlite:///{tmp_path / 'labels.sqlite3'}")
    pg: PgServer = request.getfixturevalue("pg_server")
    # A fresh database per test: isolation, and the store's schema creation runs every time.
    return Backend("postgresql", pg.dsn(pg.create_database()), pg)


@pytest.fixture
def store(backend: Backend) -> Iterator[LabelStore]:
    s = open_label_store(backend.dsn)
    expected = SqliteLabelStore if backend.name == "sqlite" else PostgresLabelStore
    assert isinstance(s, expected)
    yield s
    if isinstance(s, PostgresLabelStore):
        s.close()


def doc(n: int | str) -> str:
    return f"{DOCS}/{n}"


LABELS = {"grondslag": "toestemming", "toestemming_ref": "T-2024-17",
          "voorwaarden": ["geen_verdere_verstrekking", "alleen_medisch_adviseur"], "review_by_fg": False,
          "ontvangen": {"van": "zvh-noord", "op": "2024-05-01"}}


# ---- the suite -------------------------------------------------------------------------------

def test_put_then_get_many_round_trips(store: LabelStore) -> None:
    store.put(doc(1), LABELS)
    store.put(doc(2), {"grondslag": "art9_lid2", "lid2": ["a", "b"]})
    got = store.get_many([doc(1), doc(2)])
    assert got == {doc(1): LABELS, doc(2): {"grondslag": "art9_lid2", "lid2": ["a", "b"]}}
    assert store.get_many([]) == {}


def test_put_replaces_existing_labels(store: LabelStore) -> None:
    store.put(doc("a"), {"grondslag": "toestemming", "voorwaarden": ["geen_verdere_verstrekking"]})
    store.put(doc("a"), {"grondslag": "art9_lid1"})
    # Replaced as a whole, not merged: a condition dropped on re-ingest must not linger.
    assert store.get_many([doc("a")]) == {doc("a"): {"grondslag": "art9_lid1"}}


def test_unknown_keys_are_absent(store: LabelStore) -> None:
    store.put(doc("known"), {"grondslag": "art9_lid1"})
    got = store.get_many([doc("unknown"), doc("known"), doc("also-unknown")])
    assert got == {doc("known"): {"grondslag": "art9_lid1"}}
    assert store.get_many([doc("never")]) == {}


def test_many_keys_across_chunks(store: LabelStore) -> None:
    # More keys than one statement takes in either backend (SQLite 500, PostgreSQL 1000).
    keys = [doc(f"{i:05d}") for i in range(2345)]
    for i, k in enumerate(keys):
        if i % 3 == 0:
            store.put(k, {"i": i})
    got = store.get_many([*keys, doc("missing")])
    assert got == {k: {"i": i} for i, k in enumerate(keys) if i % 3 == 0}
    assert len(got) == 782


def test_concurrent_puts_and_gets_from_eight_threads(store: LabelStore) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def worker(t: int) -> None:
        try:
            start.wait(timeout=30)
            for i in range(40):
                store.put(doc(f"t{t}-{i}"), {"thread": t, "i": i})
                # Read own writes and whatever other threads have written so far.
                got = store.get_many([doc(f"t{t}-{j}") for j in range(i + 1)] + [doc(f"t{(t + 1) % 8}-0")])
                assert all(got[doc(f"t{t}-{j}")] == {"thread": t, "i": j} for j in range(i + 1))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    assert not any(th.is_alive() for th in threads), "a worker thread hung"
    assert errors == []
    everything = store.get_many([doc(f"t{t}-{i}") for t in range(8) for i in range(40)])
    assert len(everything) == 320
    assert everything[doc("t7-39")] == {"thread": 7, "i": 39}


def test_unicode_keys_and_values(store: LabelStore) -> None:
    key = doc("zaak-Ærø-€-😀-中文")
    labels = {"afzender": "Zorgverzekeraar Noord — afd. Medische Zaken",
              "opmerking": "café \u2018quote\u2019 \u2028 ü 😀 \\ \" '",
              "ünïcødé-sleutel": ["ß", "\u210c"]}
    store.put(key, labels)
    assert store.get_many([key]) == {key: labels}
    assert store.get_many([doc("zaak-Aero")]) == {}


def test_labels_that_are_not_json_are_a_type_error_and_the_store_keeps_working(store: LabelStore) -> None:
    # A caller's bug, not a store outage: the same TypeError from both backends, nothing written,
    # and the connection it happened on does not poison later calls.
    with pytest.raises(TypeError, match="not JSON serializable"):
        store.put(doc("bad"), {"voorwaarden": {"geen_verdere_verstrekking"}})
    store.put(doc("good"), {"voorwaarden": ["geen_verdere_verstrekking"]})
    assert store.get_many([doc("bad"), doc("good")]) == {doc("good"): {"voorwaarden": ["geen_verdere_verstrekking"]}}

REVIEW = {"grondslag": "conflict_van_plichten", "motivering": "<script>x</script> gevaar",
          "writer": {"id": "a-1", "role": "aanbieder", "org": "zorg-1"}, "titel": "brief"}


def test_review_item_is_stored_with_its_labels_and_listed_oldest_first(store: LabelStore) -> None:
    assert store.review_stats() == (0, None)
    first = store.put_with_review(doc("r1"), {**LABELS, "review_status": "open"}, REVIEW)
    second = store.put_with_review(doc("r2"), {**LABELS, "review_status": "open"}, {**REVIEW, "titel": "twee"})
    assert store.get_many([doc("r1")])[doc("r1")]["review_status"] == "open"
    items = store.review_items()
    assert [i.id for i in items] == [first, second]
    assert items[0].item == REVIEW and items[0].status == "open" and items[0].key == doc("r1")
    assert items[0].decided_by is None and items[0].zaak is None
    count, oldest = store.review_stats()
    assert count == 2 and oldest == items[0].created
    # Writing the same document again keeps its one review item.
    assert store.put_with_review(doc("r1"), {**LABELS, "review_status": "open"}, REVIEW) == first
    assert store.review_stats()[0] == 2
    store.review_link_zaak(doc("r1"), "/zaken/api/v1/zaken/z1")
    store.review_link_zaak(doc("r1"), "/zaken/api/v1/zaken/z2")  # the first link is the item's zaak
    one = store.review_item(first)
    assert one is not None and one.zaak == "/zaken/api/v1/zaken/z1"
    assert store.review_item("no-such-id") is None


@pytest.mark.parametrize("status", ["approved", "rejected"])
def test_deciding_a_review_closes_it_once_and_sets_the_labels(store: LabelStore, status: str) -> None:
    rid = store.put_with_review(doc("d1"), {**LABELS, "review_status": "open"}, REVIEW)
    done = store.decide_review(rid, status=status, by="fg-1", note="gezien", decision_id="dec-1")
    assert done is not None and done.status == status and done.decided_by == "fg-1" and done.note == "gezien"
    assert done.decided_at is not None and done.decision_id == "dec-1"
    assert store.get_many([doc("d1")])[doc("d1")] == {**LABELS, "review_status": status}
    assert store.review_items() == [] and store.review_stats() == (0, None)
    assert [i.id for i in store.review_items(status)] == [rid]
    # A second decision (another worker, a replayed form) changes nothing.
    other = "rejected" if status == "approved" else "approved"
    assert store.decide_review(rid, status=other, by="fg-2", note="x", decision_id="dec-2") is None
    again = store.review_item(rid)
    assert again is not None and again.status == status and again.decided_by == "fg-1"
    assert store.get_many([doc("d1")])[doc("d1")]["review_status"] == status
    with pytest.raises(ValueError, match="approved or rejected"):
        store.decide_review(rid, status="open", by="fg-1", note="x", decision_id="d")


def test_key_for_url_is_the_path() -> None:
    a = key_for_url(f"http://upstream.internal:8000{DOCS}/4f6c?x=1#frag")
    b = key_for_url(f"https://zgw.example.nl{DOCS}/4f6c")
    assert a == b == f"{DOCS}/4f6c"
    assert key_for_url(f"{DOCS}/4f6c") == f"{DOCS}/4f6c"


def test_key_for_url_round_trips_through_the_store(store: LabelStore) -> None:
    store.put(key_for_url(f"http://upstream:8000{DOCS}/abc"), {"grondslag": "art9_lid1"})
    assert store.get_many([key_for_url(f"https://elders.example{DOCS}/abc")]) == {
        f"{DOCS}/abc": {"grondslag": "art9_lid1"}}


def test_ping(store: LabelStore) -> None:
    assert store.ping() is True
    store.put(doc(1), {"x": 1})
    assert store.ping() is True


# ---- failures: LabelStoreError (the caller fails closed) -------------------------------------

def _unusable(case: str, tmp_path: Path) -> str:
    if case == "sqlite-missing-dir":
        return f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'labels.sqlite3'}"
    if case == "sqlite-directory":
        (tmp_path / "isadir.sqlite3").mkdir()
        return f"sqlite:///{tmp_path / 'isadir.sqlite3'}"
    if case == "postgresql-closed-port":
        # A port nothing listens on (bound then released): connection refused.
        return f"postgresql://postgres:{PG_PASSWORD}@127.0.0.1:{free_ports(1)[0]}/labels"
    raise AssertionError(case)


@pytest.mark.parametrize("case", ["sqlite-missing-dir", "sqlite-directory", "postgresql-closed-port"])
def test_unusable_store_raises_label_store_error(case: str, tmp_path: Path) -> None:
    dsn = _unusable(case, tmp_path)
    t0 = time.monotonic()
    with pytest.raises(LabelStoreError) as err:
        # SQLite checks at open; PostgreSQL connects on first use (so a worker can start while
        # the database is down). Either way the first put must fail with LabelStoreError.
        open_label_store(dsn).put(doc(1), {"x": 1})
    assert time.monotonic() - t0 < CONNECT_TIMEOUT + 3
    msg = str(err.value)
    assert PG_PASSWORD not in msg
    if case.startswith("sqlite"):
        assert dsn[len("sqlite:///"):] in msg
    else:
        assert "127.0.0.1" in msg and "write failed" in msg


def test_postgresql_unreachable_read_and_ping_fail_fast() -> None:
    # 192.0.2.0/24 is not used here: only loopback may receive traffic. A closed loopback port.
    store = PostgresLabelStore(f"postgresql://postgres:{PG_PASSWORD}@127.0.0.1:{free_ports(1)[0]}/labels")
    t0 = time.monotonic()
    with pytest.raises(LabelStoreError, match="read failed"):
        store.get_many([doc(1)])
    assert store.ping() is False
    assert time.monotonic() - t0 < 2 * CONNECT_TIMEOUT + 3


def test_postgresql_wrong_password_is_a_label_store_error(pg_server: PgServer) -> None:
    store = open_label_store(pg_server.dsn().replace(PG_PASSWORD, "wrong-password"))
    with pytest.raises(LabelStoreError, match="password authentication failed") as err:
        store.get_many([doc(1)])
    assert "wrong-password" not in str(err.value)
    assert store.ping() is False


def test_unknown_backend_is_rejected() -> None:
    with pytest.raises(LabelStoreError, match="backend not available: mysql"):
        open_label_store("mysql://u@h/db")
    with pytest.raises(LabelStoreError, match="invalid label store DSN"):
        open_label_store("postgresql://u@127.0.0.1/db?no_such_option=1")


def _in_fresh_thread(fn: Callable[[], Any]) -> Any:
    """Run fn in a new thread (SQLite keeps one connection per thread) and return or raise its result."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:
            box["error"] = exc

    th = threading.Thread(target=run)
    th.start()
    th.join(timeout=60)
    if "error" in box:
        raise box["error"]
    return box.get("value")


def test_outage_fails_closed_then_recovers(backend: Backend, store: LabelStore) -> None:
    """While the store is unusable every call raises and ping is False; once it is back the
    same store object works again (no restart of the sidecar needed)."""
    store.put(doc("before"), LABELS)
    store.get_many([doc("before")])  # leaves a pooled/cached connection behind
    if backend.pg is not None:
        backend.pg.stop()
        try:
            with pytest.raises(LabelStoreError, match="read failed"):
                store.get_many([doc("before")])
            with pytest.raises(LabelStoreError, match="write failed"):
                store.put(doc("during"), {"x": 1})
            assert store.ping() is False
        finally:
            backend.pg.start()
        assert store.get_many([doc("before")]) == {doc("before"): LABELS}
    else:
        # SQLite: the file is replaced by a directory. A thread that opens its connection now
        # gets errors; once the file is back, the same store works again from a new thread.
        path = Path(backend.dsn[len("sqlite:///"):])
        away = path.with_name(path.name + ".away")
        path.rename(away)
        path.mkdir()
        try:
            with pytest.raises(LabelStoreError, match="read failed"):
                _in_fresh_thread(lambda: store.get_many([doc("before")]))
            with pytest.raises(LabelStoreError, match="write failed"):
                _in_fresh_thread(lambda: store.put(doc("during"), {"x": 1}))
            assert _in_fresh_thread(store.ping) is False
        finally:
            path.rmdir()
            away.rename(path)
        assert _in_fresh_thread(lambda: store.get_many([doc("before")])) == {doc("before"): LABELS}
    store.put(doc("after"), {"x": 2})
    assert store.get_many([doc("before"), doc("during"), doc("after")]) == {
        doc("before"): LABELS, doc("after"): {"x": 2}}
    assert store.ping() is True


def test_postgresql_restart_between_calls_is_invisible(pg_server: PgServer) -> None:
    """Pooled connections all die when the server restarts; the first call afterwards must not
    fail because of them (one retry on a fresh connection), only a real outage may."""
    store = PostgresLabelStore(pg_server.dsn(pg_server.create_database()))
    try:
        barrier = threading.Barrier(4)

        def fill(t: int) -> None:
            barrier.wait(timeout=30)  # 4 calls at once: 4 connections end up idle in the pool
            store.put(doc(f"r{t}"), {"t": t})

        threads = [threading.Thread(target=fill, args=(t,)) for t in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=60)
        assert store.idle_connections >= 1  # how many depends on thread scheduling; one stale one suffices
        pg_server.stop()
        pg_server.start()
        assert store.get_many([doc(f"r{t}") for t in range(4)]) == {doc(f"r{t}"): {"t": t} for t in range(4)}
        store.put(doc("r9"), {"t": 9})
        assert store.ping() is True
    finally:
        store.close()


def test_postgresql_statement_timeout_fails_closed(pg_server: PgServer) -> None:
    """A statement stuck behind a lock ends at statement_timeout with LabelStoreError instead of
    holding the request thread."""
    dbname = pg_server.create_database()
    store = PostgresLabelStore(pg_server.dsn(dbname), statement_timeout_ms=500)
    try:
        store.put(doc(1), {"x": 1})
        with psycopg.connect(pg_server.dsn(dbname)) as blocker:
            # The server ends the blocker after 5 s, so a store without a statement timeout
            # makes this test fail (the read then succeeds) instead of hanging it.
            blocker.execute("SET idle_in_transaction_session_timeout = '5s'")
            blocker.execute("LOCK TABLE labels IN ACCESS EXCLUSIVE MODE")  # held until rollback
            t0 = time.monotonic()
            with pytest.raises(LabelStoreError, match="statement timeout"):
                store.get_many([doc(1)])
            assert time.monotonic() - t0 < 3
            blocker.rollback()
        assert store.get_many([doc(1)]) == {doc(1): {"x": 1}}
    finally:
        store.close()


def test_postgresql_more_threads_than_connections(pg_server: PgServer) -> None:
    store = PostgresLabelStore(pg_server.dsn(pg_server.create_database()), pool_size=2)
    errors: list[BaseException] = []

    def worker(t: int) -> None:
        try:
            for i in range(15):
                store.put(doc(f"p{t}-{i}"), {"i": i})
                assert store.get_many([doc(f"p{t}-{i}")]) == {doc(f"p{t}-{i}"): {"i": i}}
        except BaseException as exc:
            errors.append(exc)

    try:
        threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=120)
        assert errors == []
        assert store.idle_connections <= 2
        assert len(store.get_many([doc(f"p{t}-{i}") for t in range(8) for i in range(15)])) == 120
    finally:
        store.close()


def test_postgresql_schema_is_created_on_first_use(pg_server: PgServer) -> None:
    dbname = pg_server.create_database()
    dsn = pg_server.dsn(dbname)
    store = PostgresLabelStore(dsn)
    try:
        with psycopg.connect(dsn) as conn:
            assert conn.execute("SELECT to_regclass('labels')").fetchone() == (None,)
        store.put(doc(1), {"x": [1, "twee"]})
        with psycopg.connect(dsn) as conn:
            cols: dict[str, str] = dict(conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'labels'").fetchall())
            assert cols == {"key": "text", "labels": "jsonb", "created": "timestamp with time zone"}
            row = conn.execute("SELECT labels, created IS NOT NULL FROM labels WHERE key = %s", (doc(1),)).fetchone()
            assert row == ({"x": [1, "twee"]}, True)
        # A second store (another replica) on the same database sees the same labels.
        other = PostgresLabelStore(dsn)
        assert other.get_many([doc(1)]) == {doc(1): {"x": [1, "twee"]}}
        other.close()
    finally:
        store.close()



def test_postgresql_least_privilege_user_with_precreated_table(pg_server: PgServer) -> None:
    """The set-up docs/label-store.md offers: the owner creates the table, the sidecar's user has
    only SELECT/INSERT/UPDATE on it (no CREATE on the schema) and must still work."""
    dbname = pg_server.create_database()
    role = f"lim_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server.dsn(dbname), autocommit=True) as owner:
        owner.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'lim-pw-123'")
        owner.execute(PostgresLabelStore._SCHEMA)
        owner.execute(_LINKS_SCHEMA)
        owner.execute(_REVIEW_SCHEMA)
        owner.execute(f"GRANT SELECT, INSERT, UPDATE ON labels, subject_links, relation_generation, review_items "
                      f"TO {role}")
        assert owner.execute(f"SELECT has_schema_privilege('{role}', 'public', 'CREATE')").fetchone() == (False,)
    store = PostgresLabelStore(f"postgresql://{role}:lim-pw-123@127.0.0.1:{pg_server.port}/{dbname}")
    try:
        store.put(doc(1), {"x": 1})
        store.put(doc(1), {"x": 2})
        assert store.get_many([doc(1), doc(2)]) == {doc(1): {"x": 2}}
        assert store.ping() is True
        store.add_link(doc(1), "u-1", "writer")
        store.bump_generation()
        assert store.relation_state("u-1") == (1, {doc(1): {"writer"}})
        rid = store.put_with_review(doc(3), {"review_status": "open"}, {"motivering": "m"})
        assert store.decide_review(rid, status="approved", by="fg-1", note="ok", decision_id="d-1") is not None
        assert store.get_many([doc(3)]) == {doc(3): {"review_status": "approved"}}
    finally:
        store.close()
    # Without the table, that user cannot create it: a clear LabelStoreError, not a crash.
    other_db = pg_server.create_database()
    with psycopg.connect(pg_server.dsn(other_db), autocommit=True) as owner:
        owner.execute(f"REVOKE CREATE ON SCHEMA public FROM {role}")
    bare = PostgresLabelStore(f"postgresql://{role}:lim-pw-123@127.0.0.1:{pg_server.port}/{other_db}")
    with pytest.raises(LabelStoreError, match="permission denied for schema public") as err:
        bare.put(doc(1), {"x": 1})
    assert "LINE" not in str(err.value) and "lim-pw-123" not in str(err.value)
    bare.close()


def _backend_pid(store: PostgresLabelStore) -> int:
    """The server process behind the connection a call gets (pg_backend_pid)."""
    row = store._run("read", lambda conn: conn.execute("SELECT pg_backend_pid()").fetchone())
    assert row is not None
    return int(row[0])


def test_postgresql_pool_is_made_on_first_use_and_never_crosses_a_fork(pg_server: PgServer) -> None:
    """gunicorn builds the app after the fork, but a store made (or used) before it must not hand
    the parent's pool to a worker: its sockets are the parent's sessions and its threads did not
    survive the fork. Constructing a store starts nothing; each process gets its own pool."""
    threads_before = threading.active_count()
    store = PostgresLabelStore(pg_server.dsn(pg_server.create_database()), pool_size=2)
    try:
        assert threading.active_count() == threads_before  # no pool threads before the first call
        assert store.idle_connections == 0
        store.put(doc(1), {"x": 1})
        parent_backend = _backend_pid(store)
        assert store.idle_connections >= 1
        assert threading.active_count() > threads_before  # the pool's workers, in this process only

        read, write = os.pipe()
        child = os.fork()
        if child == 0:  # pragma: no cover - runs in the forked child, which reports through the pipe
            code = 1
            try:
                backend = _backend_pid(store)
                seen = store.get_many([doc(1)])
                store.put(doc(2), {"x": 2})
                os.write(write, json.dumps({"backend": backend, "seen": seen}).encode())
                code = 0
            finally:
                os._exit(code)
        os.close(write)
        with os.fdopen(read, "rb") as pipe:
            report = pipe.read()
        _, status = os.waitpid(child, 0)
        assert os.waitstatus_to_exitcode(status) == 0, report
        result = json.loads(report)
        # The child talked to the server on a connection of its own ...
        assert result["backend"] != parent_backend
        assert result["seen"] == {doc(1): {"x": 1}}
        # ... and the parent's pooled connection is still the same, unharmed session.
        assert _backend_pid(store) == parent_backend
        assert store.get_many([doc(1), doc(2)]) == {doc(1): {"x": 1}, doc(2): {"x": 2}}
    finally:
        store.close()
