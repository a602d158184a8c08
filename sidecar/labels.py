"""The label store: provenance of each resource, the sidecar's own (never sent upstream).

Keyed by the resource's canonical path (``/documenten/api/v1/enkelvoudiginformatieobjecten/<uuid>``),
so the same object has the same key whatever host name the upstream put in its URLs.
Any failure raises :class:`LabelStoreError`; callers fail closed.

Two backends behind :class:`LabelStore`, chosen by the DSN (``labels.dsn``):
``sqlite:///PATH`` (embedded, one host) and ``postgresql://…`` (shared by several replicas).
See docs/label-store.md.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, Self, TypeVar
from urllib.parse import urlsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool, PoolTimeout

T = TypeVar("T")


class LabelStoreError(Exception):
    pass


class LabelStore(Protocol):
    def get_many(self, keys: list[str]) -> dict[str, dict[str, Any]]: ...

    def put(self, key: str, labels: dict[str, Any]) -> None: ...

    def ping(self) -> bool: ...

    # Need-to-know: what a subject made through the sidecar (``creator`` of a zaak, ``writer`` of
    # a document), and a counter that every relation write through any replica raises, so that
    # every worker drops its cached relations at once.
    def add_link(self, key: str, subject: str, kind: str) -> None: ...

    def relation_state(self, subject: str) -> tuple[int, dict[str, set[str]]]: ...

    def bump_generation(self) -> None: ...

    # AVG art. 7(3): mark every label stored under consent ``ref`` as withdrawn (rule I10). Returns
    # the data subjects (pseudonyms) of the labels it marked; none at all means the reference is
    # unknown. Withdrawing twice marks the same labels again.
    def withdraw_consent(self, ref: str) -> tuple[int, list[str]]: ...

    # Key rotation (sidecar pseudonyms rekey): every label whose data subject is a key of
    # ``mapping`` gets the value instead (an older key version's pseudonym → the current one's),
    # in one transaction; returns how many labels changed. ``betrokkene_prefixes`` counts the
    # labels per pseudonym prefix (the pseudonym without its 64 hex digits: the key version).
    def rekey_betrokkenen(self, mapping: dict[str, str]) -> int: ...

    def betrokkene_prefixes(self) -> dict[str, int]: ...

    # Break-glass review (the FG console): a conflict-of-duties ingest stores its labels and its
    # review item in one transaction; the FG's decision closes the item and sets the labels'
    # ``review_status`` (what the policy reads) in one transaction too.
    def put_with_review(self, key: str, labels: dict[str, Any], item: dict[str, Any]) -> str: ...

    def review_items(self, status: str = "open", limit: int = 500) -> list[ReviewItem]: ...

    def review_item(self, item_id: str) -> ReviewItem | None: ...

    def decide_review(self, item_id: str, *, status: str, by: str, note: str,
                      decision_id: str) -> ReviewItem | None: ...

    def review_stats(self) -> tuple[int, str | None]: ...

    def review_link_zaak(self, key: str, zaak: str) -> None: ...


REVIEW_STATUSES = ("open", "approved", "rejected")


@dataclass(frozen=True)
class ReviewItem:
    """One break-glass document awaiting (or having had) the FG's review. ``item`` holds what the
    writer sent and who it was: grondslag, cvp, motivering, voorwaarden, writer {id, role, org},
    titel, category, the ingest's decision_id and trace_id."""

    id: str
    key: str
    zaak: str | None
    status: str
    created: str
    item: dict[str, Any]
    decided_by: str | None = None
    decided_at: str | None = None
    note: str | None = None
    decision_id: str | None = None


_CLOCK_LOCK = threading.Lock()
_LAST_NOW: list[datetime] = []


def _now() -> str:
    """UTC, to the microsecond and strictly increasing within this process: review items are
    listed in the order they were made, also when two arrive within the same clock tick."""
    with _CLOCK_LOCK:
        now = datetime.now(UTC)
        if _LAST_NOW and now <= _LAST_NOW[0]:
            now = _LAST_NOW[0] + timedelta(microseconds=1)
        _LAST_NOW[:] = [now]
    return now.isoformat(timespec="microseconds").replace("+00:00", "Z")


# Both backends: the review items. Times are RFC 3339 text in UTC (they sort as text).
_REVIEW_SCHEMA = """
CREATE TABLE IF NOT EXISTS review_items (
    id TEXT PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    zaak TEXT,
    item TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'approved', 'rejected')),
    created TEXT NOT NULL,
    decided_by TEXT,
    decided_at TEXT,
    note TEXT,
    decision_id TEXT
);
CREATE INDEX IF NOT EXISTS review_items_status ON review_items (status, created)"""
_REVIEW_LIST = ("SELECT id, key, zaak, status, created, item, decided_by, decided_at, note, decision_id "
                "FROM review_items WHERE status = {p} ORDER BY created, id LIMIT {p}")
_REVIEW_ONE = ("SELECT id, key, zaak, status, created, item, decided_by, decided_at, note, decision_id "
               "FROM review_items WHERE id = {p}")
_REVIEW_INSERT = ("INSERT INTO review_items(id, key, item, status, created) VALUES ({p}, {p}, {p}, 'open', {p}) "
                  "ON CONFLICT (key) DO NOTHING")
# Only an open item can be decided: a second decision (another worker, a replayed form) changes nothing.
_REVIEW_DECIDE = ("UPDATE review_items SET status = {p}, decided_by = {p}, decided_at = {p}, note = {p}, "
                  "decision_id = {p} WHERE id = {p} AND status = 'open' "
                  "RETURNING id, key, zaak, status, created, item, decided_by, decided_at, note, decision_id")
_REVIEW_STATS = "SELECT count(*), min(created) FROM review_items WHERE status = 'open'"
_REVIEW_ZAAK = "UPDATE review_items SET zaak = {p} WHERE key = {p} AND zaak IS NULL"


def _review_row(row: Any) -> ReviewItem:
    rid, key, zaak, status, created, item, by, at, note, decision_id = row
    return ReviewItem(id=rid, key=key, zaak=zaak, status=status, created=created, item=json.loads(item),
                      decided_by=by, decided_at=at, note=note, decision_id=decision_id)


def _check_decision(status: str) -> None:
    if status not in ("approved", "rejected"):
        raise ValueError(f"a review decision is approved or rejected, not {status!r}")


# Both backends: the tables beside ``labels`` (IF NOT EXISTS: an older store gains them).
_LINKS_SCHEMA = """
CREATE TABLE IF NOT EXISTS subject_links (
    subject TEXT NOT NULL,
    key TEXT NOT NULL,
    kind TEXT NOT NULL,
    PRIMARY KEY (subject, key, kind)
);
CREATE TABLE IF NOT EXISTS relation_generation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    generation BIGINT NOT NULL
)"""
_LINK_INSERT = "INSERT INTO subject_links(subject, key, kind) VALUES ({p}, {p}, {p}) ON CONFLICT DO NOTHING"
_GEN_BUMP = ("INSERT INTO relation_generation(id, generation) VALUES (1, 1) "
             "ON CONFLICT (id) DO UPDATE SET generation = relation_generation.generation + 1")
# The generation and a subject's links in one statement, so one read (one snapshot, one round trip
# with PostgreSQL) per request: the generation's row is the one whose key is NULL.
_STATE_SELECT = ("SELECT NULL, NULL, generation FROM relation_generation WHERE id = 1 "
                 "UNION ALL SELECT key, kind, NULL FROM subject_links WHERE subject = {p}")


# The labels per pseudonym prefix (every pseudonym ends in a 64-digit HMAC; what comes before
# names the key version). {b} is the backend's expression for the label's betrokkene.
_PREFIXES = ("SELECT substr(b, 1, length(b) - 64), count(*) FROM (SELECT {b} AS b FROM labels) AS t "
             "WHERE b IS NOT NULL GROUP BY 1")


def _state(rows: Any) -> tuple[int, dict[str, set[str]]]:
    """(generation, links) from the rows of _STATE_SELECT (no generation row: 0)."""
    generation, links = 0, []
    for key, kind, gen in rows:
        if key is None:
            generation = int(gen)
        else:
            links.append((key, kind))
    return generation, _links(links)


def _links(rows: Any) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for key, kind in rows:
        out.setdefault(key, set()).add(kind)
    return out


def key_for_url(url: str) -> str:
    """The label key of an upstream object URL: its path."""
    return urlsplit(url).path


class SqliteLabelStore:
    _SCHEMA = """
    CREATE TABLE IF NOT EXISTS labels (
        key TEXT PRIMARY KEY,
        labels TEXT NOT NULL,
        created TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    )"""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._local = threading.local()
        try:
            with self._conn() as conn:
                conn.execute(self._SCHEMA)
                conn.executescript(_LINKS_SCHEMA)
                conn.executescript(_REVIEW_SCHEMA)
        except sqlite3.Error as exc:
            raise LabelStoreError(f"cannot open label store {path}: {exc}") from None

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self._path, timeout=5.0, isolation_level=None)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
            except sqlite3.Error:
                # Not cached, so the next call tries again (the file may be back by then);
                # closed so a store that keeps failing does not leak a handle per call.
                conn.close()
                raise
            self._local.conn = conn
        return conn

    def get_many(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        if not keys:
            return {}
        try:
            conn = self._conn()
            out: dict[str, dict[str, Any]] = {}
            for i in range(0, len(keys), 500):
                chunk = keys[i:i + 500]
                marks = ",".join("?" * len(chunk))
                for key, raw in conn.execute(
                        f"SELECT key, labels FROM labels WHERE key IN ({marks})", chunk):  # noqa: S608
                    out[key] = json.loads(raw)
            return out
        except (sqlite3.Error, ValueError) as exc:
            raise LabelStoreError(f"label store read failed: {exc}") from None

    def put(self, key: str, labels: dict[str, Any]) -> None:
        try:
            self._conn().execute(
                "INSERT INTO labels(key, labels) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET labels = excluded.labels",
                (key, json.dumps(labels, sort_keys=True)))
        except sqlite3.Error as exc:
            raise LabelStoreError(f"label store write failed: {exc}") from None

    def add_link(self, key: str, subject: str, kind: str) -> None:
        try:
            self._conn().execute(_LINK_INSERT.format(p="?"), (subject, key, kind))
        except sqlite3.Error as exc:
            raise LabelStoreError(f"label store write failed: {exc}") from None

    def relation_state(self, subject: str) -> tuple[int, dict[str, set[str]]]:
        try:
            return _state(self._conn().execute(_STATE_SELECT.format(p="?"), (subject,)))
        except sqlite3.Error as exc:
            raise LabelStoreError(f"label store read failed: {exc}") from None

    def bump_generation(self) -> None:
        try:
            self._conn().execute(_GEN_BUMP)
        except sqlite3.Error as exc:
            raise LabelStoreError(f"label store write failed: {exc}") from None

    def withdraw_consent(self, ref: str) -> tuple[int, list[str]]:
        try:
            rows = self._conn().execute(
                "UPDATE labels SET labels = json_set(labels, '$.toestemming_ingetrokken', json('true')) "
                "WHERE json_extract(labels, '$.toestemming') = ? RETURNING json_extract(labels, '$.betrokkene')",
                (ref,)).fetchall()
        except sqlite3.Error as exc:
            raise LabelStoreError(f"label store write failed: {exc}") from None
        return len(rows), sorted({r[0] for r in rows if isinstance(r[0], str)})

    def rekey_betrokkenen(self, mapping: dict[str, str]) -> int:
        if not mapping:
            return 0

        def rekey(conn: sqlite3.Connection) -> int:
            # One pass over the labels, joined to the mapping: not one scan per person.
            conn.execute("CREATE TEMP TABLE IF NOT EXISTS rekey_map (old TEXT PRIMARY KEY, new TEXT NOT NULL)")
            conn.execute("DELETE FROM rekey_map")
            conn.executemany("INSERT OR REPLACE INTO rekey_map(old, new) VALUES (?, ?)", list(mapping.items()))
            rows = conn.execute(
                "UPDATE labels SET labels = json_set(labels, '$.betrokkene', m.new) FROM rekey_map AS m "
                "WHERE json_extract(labels.labels, '$.betrokkene') = m.old RETURNING labels.key").fetchall()
            conn.execute("DELETE FROM rekey_map")
            return len(rows)

        return self._transaction("write", rekey)

    def betrokkene_prefixes(self) -> dict[str, int]:
        try:
            rows = self._conn().execute(_PREFIXES.format(b="json_extract(labels, '$.betrokkene')")).fetchall()
        except sqlite3.Error as exc:
            raise LabelStoreError(f"label store read failed: {exc}") from None
        return {str(p): int(n) for p, n in rows}

    def _transaction(self, what: str, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result
        except sqlite3.Error as exc:
            raise LabelStoreError(f"label store {what} failed: {exc}") from None

    def put_with_review(self, key: str, labels: dict[str, Any], item: dict[str, Any]) -> str:
        text, item_text, rid = json.dumps(labels, sort_keys=True), json.dumps(item, sort_keys=True), str(uuid.uuid4())

        def both(conn: sqlite3.Connection) -> str:
            conn.execute("INSERT INTO labels(key, labels) VALUES (?, ?) "
                         "ON CONFLICT(key) DO UPDATE SET labels = excluded.labels", (key, text))
            conn.execute(_REVIEW_INSERT.format(p="?"), (rid, key, item_text, _now()))
            row = conn.execute("SELECT id FROM review_items WHERE key = ?", (key,)).fetchone()
            return str(row[0])

        return self._transaction("write", both)

    def review_items(self, status: str = "open", limit: int = 500) -> list[ReviewItem]:
        try:
            rows = self._conn().execute(_REVIEW_LIST.format(p="?"), (status, limit)).fetchall()
        except sqlite3.Error as exc:
            raise LabelStoreError(f"label store read failed: {exc}") from None
        return [_review_row(r) for r in rows]

    def review_item(self, item_id: str) -> ReviewItem | None:
        try:
            row = self._conn().execute(_REVIEW_ONE.format(p="?"), (item_id,)).fetchone()
        except sqlite3.Error as exc:
            raise LabelStoreError(f"label store read failed: {exc}") from None
        return _review_row(row) if row else None

    def decide_review(self, item_id: str, *, status: str, by: str, note: str,
                      decision_id: str) -> ReviewItem | None:
        _check_decision(status)

        def decide(conn: sqlite3.Connection) -> ReviewItem | None:
            row = conn.execute(_REVIEW_DECIDE.format(p="?"),
                               (status, by, _now(), note, decision_id, item_id)).fetchone()
            if row is None:
                return None
            done = _review_row(row)
            conn.execute("UPDATE labels SET labels = json_set(labels, '$.review_status', ?) WHERE key = ?",
                         (status, done.key))
            return done

        return self._transaction("write", decide)

    def review_stats(self) -> tuple[int, str | None]:
        try:
            row = self._conn().execute(_REVIEW_STATS).fetchone()
        except sqlite3.Error as exc:
            raise LabelStoreError(f"label store read failed: {exc}") from None
        return int(row[0]), row[1]

    def review_link_zaak(self, key: str, zaak: str) -> None:
        try:
            self._conn().execute(_REVIEW_ZAAK.format(p="?"), (zaak, key))
        except sqlite3.Error as exc:
            raise LabelStoreError(f"label store write failed: {exc}") from None

    def ping(self) -> bool:
        try:
            # Touch the table, not just the connection: a damaged file fails here, SELECT 1 not.
            self._conn().execute("SELECT 1 FROM labels LIMIT 1").fetchone()
            return True
        except sqlite3.Error:
            return False


class _ConnectionLost(Exception):
    """A statement failed because its connection broke (the server closed it)."""

    def __init__(self, error: psycopg.Error) -> None:
        super().__init__(str(error))
        self.error = error


class PostgresLabelStore:
    """Labels in PostgreSQL, shared by every sidecar replica that uses the same database.

    A pool of autocommit connections (psycopg_pool): gunicorn gthread threads call
    concurrently, and a psycopg connection runs one statement at a time. The pool is made on
    the first call, in the process that makes it: a worker starts even while the database is
    down (requests then fail closed; ``ping`` and readiness say why), and neither a connection
    nor the pool's threads are ever inherited across gunicorn's fork.
    """

    _SCHEMA = """
    CREATE TABLE IF NOT EXISTS labels (
        key TEXT PRIMARY KEY,
        labels JSONB NOT NULL,
        created TIMESTAMPTZ NOT NULL DEFAULT now()
    )"""
    # Replicas starting together would race on CREATE TABLE IF NOT EXISTS (it is not atomic
    # against a concurrent create: one of them gets a unique violation on pg_type); an
    # advisory lock serialises them. The number is arbitrary, fixed for this table.
    _SCHEMA_LOCK = 0x5A4757_4C42  # "ZGW" "LB"
    _CHUNK = 1000  # keys per SELECT: one array parameter, but bounded statement size

    def __init__(self, dsn: str, *, pool_size: int = 8, connect_timeout: int = 2,
                 statement_timeout_ms: int = 2000) -> None:
        try:
            params = conninfo_to_dict(dsn)
        except psycopg.Error as exc:
            raise LabelStoreError(f"invalid label store DSN: {exc}") from None
        # Defaults only: what the operator wrote in the DSN wins. Timeouts matter because
        # every proxied request waits on this store; a hung database must become a fast
        # fail-closed answer, not a pile of blocked worker threads.
        params.setdefault("connect_timeout", str(connect_timeout))
        params.setdefault("application_name", "zgw-sidecar-labels")
        # Keepalives + tcp_user_timeout bound how long a call can hang on a peer that vanished
        # without closing the socket (statement_timeout is server-side and cannot help then).
        params.setdefault("keepalives", "1")
        params.setdefault("keepalives_idle", "5")
        params.setdefault("keepalives_interval", "2")
        params.setdefault("keepalives_count", "2")
        params.setdefault("tcp_user_timeout", str(max(statement_timeout_ms, 1000) + 3000))
        options = str(params.get("options") or "")
        if "statement_timeout" not in options:
            params["options"] = f"{options} -c statement_timeout={statement_timeout_ms}".strip()
        self._conninfo = make_conninfo("", **params)
        # For messages: never the password.
        self._where = "postgresql://{}@{}:{}/{}".format(
            params.get("user", ""), params.get("host", "(default socket)"),
            params.get("port", "5432"), params.get("dbname", ""))
        self._pool_size = pool_size
        # How long a call waits for a free connection before failing closed: long enough for
        # one slow statement elsewhere to finish, short enough not to hold the request.
        self._slot_wait = connect_timeout + statement_timeout_ms / 1000
        self._lock = threading.Lock()
        self._pool: ConnectionPool[psycopg.Connection[Any]] | None = None
        self._pid = os.getpid()
        # The pool connects in its own threads and only logs why a connection failed; the
        # connection class below counts failures and keeps the last one, so a waiting call
        # fails closed at once with the database's own reason (wrong password, refused).
        self._connect_failures = 0
        self._connect_error: psycopg.Error | None = None
        self._connection_class = self._make_connection_class()
        self._schema_ready = False
        self._closed = False

    @property
    def where(self) -> str:
        return self._where

    @property
    def idle_connections(self) -> int:
        """Connections open and idle in this process's pool (0 before the first call)."""
        pool = self._pool if self._pid == os.getpid() else None
        return int(pool.get_stats().get("pool_available", 0)) if pool is not None else 0

    # -- pool --------------------------------------------------------------------------------

    def _make_connection_class(self) -> type[psycopg.Connection[Any]]:
        store = self

        class _Connection(psycopg.Connection[Any]):
            @classmethod
            def connect(cls, conninfo: str = "", **kwargs: Any) -> Self:
                try:
                    return super().connect(conninfo, **kwargs)
                except psycopg.Error as exc:
                    with store._lock:
                        store._connect_failures += 1
                        store._connect_error = exc
                    raise

        return _Connection

    def _pool_here(self) -> ConnectionPool[psycopg.Connection[Any]]:
        """This process's pool, made on first use."""
        with self._lock:
            if self._pool is not None and self._pid == os.getpid():
                return self._pool
            # Never made, or made before a fork: the parent's pool holds the parent's sockets
            # (two processes talking on one socket corrupt it) and its threads did not survive
            # the fork. Leave it alone (closing it here would end the parent's sessions).
            pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
                self._conninfo, connection_class=self._connection_class,
                # No server-side prepared statements: they break behind a transaction-mode
                # pooler (pgBouncer), and these short statements gain nothing from them.
                kwargs={"autocommit": True, "prepare_threshold": None},
                # Nothing is opened ahead of need: a worker starts while the database is down.
                min_size=0, max_size=self._pool_size, timeout=self._slot_wait,
                # Each call fails closed on its own; the pool does not keep retrying a
                # database that refused it (the next call tries again).
                reconnect_timeout=0, name="labels", open=False)
            pool.open(wait=False)
            self._pool, self._pid = pool, os.getpid()
            return pool

    def _getconn(self, pool: ConnectionPool[psycopg.Connection[Any]]) -> psycopg.Connection[Any]:
        """A connection within the slot wait. The pool hands over a connection the moment one
        is free, but it does not tell a waiting caller that connecting failed: wait in short
        steps and stop as soon as a connection attempt has failed meanwhile."""
        deadline = time.monotonic() + self._slot_wait
        failures = self._connect_failures
        step = 0.05
        while True:
            left = deadline - time.monotonic()
            try:
                return pool.getconn(timeout=max(min(step, left), 0.001))
            except PoolTimeout:
                pass
            with self._lock:
                error = self._connect_error if self._connect_failures != failures else None
            if error is not None:
                raise error
            if time.monotonic() >= deadline:
                raise PoolTimeout(f"all {self._pool_size} connections stayed busy for {self._slot_wait:g} s")
            step = min(step * 2, 0.5)

    def _ensure_schema(self, conn: psycopg.Connection[Any]) -> None:
        if self._schema_ready:
            return
        # Look first: CREATE TABLE IF NOT EXISTS needs CREATE on the schema even when the
        # table is there, and a least-privilege user (SELECT/INSERT/UPDATE only) lacks it.
        row = conn.execute("SELECT to_regclass('labels') IS NOT NULL AND "
                           "to_regclass('relation_generation') IS NOT NULL AND "
                           "to_regclass('review_items') IS NOT NULL").fetchone()
        if not (row and row[0]):
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._SCHEMA_LOCK,))
                conn.execute(self._SCHEMA)
                conn.execute(_LINKS_SCHEMA)
                conn.execute(_REVIEW_SCHEMA)
        self._schema_ready = True

    def _once(self, fn: Callable[[psycopg.Connection[Any]], T]) -> T:
        """One attempt: a connection from this process's pool (a fresh one after close())."""
        if self._closed:
            with self._connection_class.connect(self._conninfo, autocommit=True, prepare_threshold=None) as conn:
                self._ensure_schema(conn)
                return fn(conn)
        pool = self._pool_here()
        conn = self._getconn(pool)
        try:
            self._ensure_schema(conn)
            result = fn(conn)
        except psycopg.Error as exc:
            broken = conn.broken
            # A broken connection is discarded by the pool when it comes back.
            pool.putconn(conn)
            if broken:
                raise _ConnectionLost(exc) from exc
            raise
        except BaseException:
            # Not a database error (e.g. labels that are not JSON-serialisable): the caller's
            # bug, raised as is; the connection may be mid-statement, so it is not reused.
            conn.close()
            pool.putconn(conn)
            raise
        pool.putconn(conn)
        return result

    def _run(self, what: str, fn: Callable[[psycopg.Connection[Any]], T]) -> T:
        try:
            try:
                return self._once(fn)
            except _ConnectionLost:
                # The server closed a pooled connection since its last use (restart, failover,
                # idle kill); the other idle ones are as stale. Drop them and retry once on a
                # fresh connection: every statement here is idempotent (SELECT, upsert).
                pool = self._pool
                if pool is not None and self._pid == os.getpid():
                    pool.check()
            try:
                return self._once(fn)
            except _ConnectionLost as again:
                raise again.error from None
        except PoolTimeout as exc:
            raise LabelStoreError(f"label store {what} failed: {exc} ({self._where})") from None
        except psycopg.Error as exc:
            # First line only: the rest is libpq's statement excerpt (LINE 2: …), noise in a log.
            detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise LabelStoreError(f"label store {what} failed ({self._where}): {detail}") from None

    def close(self) -> None:
        """Close this process's pool (connections in use are closed when their call ends). A
        call after close() still works (it opens a connection and closes it afterwards)."""
        with self._lock:
            self._closed = True
            pool, self._pool = (self._pool if self._pid == os.getpid() else None), None
        if pool is not None:
            pool.close(timeout=self._slot_wait)

    # -- LabelStore --------------------------------------------------------------------------

    def get_many(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        if not keys:
            return {}

        def select(conn: psycopg.Connection[Any]) -> dict[str, dict[str, Any]]:
            out: dict[str, dict[str, Any]] = {}
            for i in range(0, len(keys), self._CHUNK):
                rows = conn.execute("SELECT key, labels FROM labels WHERE key = ANY(%s)",
                                    (keys[i:i + self._CHUNK],)).fetchall()
                for key, labels in rows:
                    out[key] = labels
            return out

        return self._run("read", select)

    def put(self, key: str, labels: dict[str, Any]) -> None:
        def upsert(conn: psycopg.Connection[Any]) -> None:
            conn.execute(
                "INSERT INTO labels(key, labels) VALUES (%s, %s) "
                "ON CONFLICT (key) DO UPDATE SET labels = EXCLUDED.labels",
                (key, Jsonb(labels)))

        self._run("write", upsert)

    def add_link(self, key: str, subject: str, kind: str) -> None:
        self._run("write", lambda conn: conn.execute(_LINK_INSERT.format(p="%s"), (subject, key, kind)))

    def relation_state(self, subject: str) -> tuple[int, dict[str, set[str]]]:
        def select(conn: psycopg.Connection[Any]) -> tuple[int, dict[str, set[str]]]:
            return _state(conn.execute(_STATE_SELECT.format(p="%s"), (subject,)).fetchall())

        return self._run("read", select)

    def bump_generation(self) -> None:
        self._run("write", lambda conn: conn.execute(_GEN_BUMP))

    def withdraw_consent(self, ref: str) -> tuple[int, list[str]]:
        def update(conn: psycopg.Connection[Any]) -> tuple[int, list[str]]:
            rows = conn.execute(
                "UPDATE labels SET labels = labels || '{\"toestemming_ingetrokken\": true}'::jsonb "
                "WHERE labels->>'toestemming' = %s RETURNING labels->>'betrokkene'", (ref,)).fetchall()
            return len(rows), sorted({r[0] for r in rows if isinstance(r[0], str)})

        return self._run("write", update)

    def rekey_betrokkenen(self, mapping: dict[str, str]) -> int:
        if not mapping:
            return 0
        olds, news = list(mapping), list(mapping.values())

        def rekey(conn: psycopg.Connection[Any]) -> int:
            # One transaction, one join of the labels to the mapping (two arrays) per chunk.
            moved = 0
            with conn.transaction():
                for i in range(0, len(olds), self._CHUNK):
                    cur = conn.execute(
                        "UPDATE labels AS l SET labels = jsonb_set(l.labels, '{betrokkene}', to_jsonb(m.new)) "
                        "FROM unnest(%s::text[], %s::text[]) AS m(old, new) WHERE l.labels->>'betrokkene' = m.old",
                        (olds[i:i + self._CHUNK], news[i:i + self._CHUNK]))
                    moved += max(cur.rowcount, 0)
            return moved

        return self._run("write", rekey)

    def betrokkene_prefixes(self) -> dict[str, int]:
        rows = self._run("read", lambda conn: conn.execute(_PREFIXES.format(b="labels->>'betrokkene'")).fetchall())
        return {str(p): int(n) for p, n in rows}

    def put_with_review(self, key: str, labels: dict[str, Any], item: dict[str, Any]) -> str:
        rid, item_text = str(uuid.uuid4()), json.dumps(item, sort_keys=True)

        def both(conn: psycopg.Connection[Any]) -> str:
            with conn.transaction():
                conn.execute("INSERT INTO labels(key, labels) VALUES (%s, %s) "
                             "ON CONFLICT (key) DO UPDATE SET labels = EXCLUDED.labels", (key, Jsonb(labels)))
                conn.execute(_REVIEW_INSERT.format(p="%s"), (rid, key, item_text, _now()))
                row = conn.execute("SELECT id FROM review_items WHERE key = %s", (key,)).fetchone()
            assert row is not None
            return str(row[0])

        return self._run("write", both)

    def review_items(self, status: str = "open", limit: int = 500) -> list[ReviewItem]:
        rows = self._run("read", lambda conn: conn.execute(_REVIEW_LIST.format(p="%s"), (status, limit)).fetchall())
        return [_review_row(r) for r in rows]

    def review_item(self, item_id: str) -> ReviewItem | None:
        row = self._run("read", lambda conn: conn.execute(_REVIEW_ONE.format(p="%s"), (item_id,)).fetchone())
        return _review_row(row) if row else None

    def decide_review(self, item_id: str, *, status: str, by: str, note: str,
                      decision_id: str) -> ReviewItem | None:
        _check_decision(status)

        def decide(conn: psycopg.Connection[Any]) -> ReviewItem | None:
            with conn.transaction():
                row = conn.execute(_REVIEW_DECIDE.format(p="%s"),
                                   (status, by, _now(), note, decision_id, item_id)).fetchone()
                if row is None:
                    return None
                done = _review_row(row)
                conn.execute("UPDATE labels SET labels = labels || jsonb_build_object('review_status', %s::text) "
                             "WHERE key = %s", (status, done.key))
            return done

        return self._run("write", decide)

    def review_stats(self) -> tuple[int, str | None]:
        row = self._run("read", lambda conn: conn.execute(_REVIEW_STATS).fetchone())
        assert row is not None
        return int(row[0]), row[1]

    def review_link_zaak(self, key: str, zaak: str) -> None:
        self._run("write", lambda conn: conn.execute(_REVIEW_ZAAK.format(p="%s"), (zaak, key)))

    def ping(self) -> bool:
        try:
            self._run("ping", lambda conn: conn.execute("SELECT 1").fetchone())
            return True
        except LabelStoreError:
            return False


def open_label_store(dsn: str) -> LabelStore:
    if dsn.startswith("sqlite:///"):
        return SqliteLabelStore(Path(dsn[len("sqlite:///"):]))
    if dsn.startswith("postgresql://"):
        return PostgresLabelStore(dsn)
    raise LabelStoreError(f"label store backend not available: {dsn.split(':', 1)[0]} "
                          "(expected sqlite:///PATH or postgresql://…)")
