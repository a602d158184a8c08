"""SQLite storage for the demo upstream.

One connection per request (see :mod:`.app`), WAL journal, ``busy_timeout`` for writers in other
processes (gunicorn workers) and a per-process lock that serialises this process's writers.
Objects are stored as JSON (only the stored fields; URLs are rendered per request, because they
depend on the ``X-Forwarded-*`` headers). Document content is a separate BLOB column so that
lists never load it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

TABLES: tuple[str, ...] = ("zaken", "rollen", "documenten")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS zaken (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT NOT NULL UNIQUE,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rollen (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT NOT NULL UNIQUE,
    zaak_uuid TEXT NOT NULL REFERENCES zaken(uuid) ON DELETE CASCADE,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS rollen_zaak ON rollen(zaak_uuid);
CREATE TABLE IF NOT EXISTS documenten (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT NOT NULL UNIQUE,
    data TEXT NOT NULL,
    inhoud BLOB
);
"""

#: List filters: query parameter → SQL condition with one ``?`` (fixed strings, never user input).
FILTERS: dict[str, dict[str, str]] = {
    "zaken": {
        "identificatie": "json_extract(data, '$.identificatie') = ?",
        "bronorganisatie": "json_extract(data, '$.bronorganisatie') = ?",
        "zaaktype": "json_extract(data, '$.zaaktype') = ?",
        "rol__betrokkeneIdentificatie__natuurlijkPersoon__inpBsn": (
            "uuid IN (SELECT zaak_uuid FROM rollen"
            " WHERE json_extract(data, '$.betrokkeneIdentificatie.inpBsn') = ?)"
        ),
    },
    "rollen": {
        "zaak": "zaak_uuid = ?",
        "betrokkene": "json_extract(data, '$.betrokkene') = ?",
        "betrokkeneType": "json_extract(data, '$.betrokkeneType') = ?",
        "roltype": "json_extract(data, '$.roltype') = ?",
        "omschrijvingGeneriek": "json_extract(data, '$.omschrijvingGeneriek') = ?",
        "betrokkeneIdentificatie__natuurlijkPersoon__inpBsn": (
            "json_extract(data, '$.betrokkeneType') = 'natuurlijk_persoon'"
            " AND json_extract(data, '$.betrokkeneIdentificatie.inpBsn') = ?"
        ),
        "betrokkeneIdentificatie__medewerker__identificatie": (
            "json_extract(data, '$.betrokkeneType') = 'medewerker'"
            " AND json_extract(data, '$.betrokkeneIdentificatie.identificatie') = ?"
        ),
    },
    "documenten": {
        "identificatie": "json_extract(data, '$.identificatie') = ?",
        "bronorganisatie": "json_extract(data, '$.bronorganisatie') = ?",
    },
}


def _table(name: str) -> str:
    if name not in TABLES:
        raise ValueError(f"unknown table {name!r}")
    return name


class Store:
    """Opens connections to one SQLite file; helpers take the connection explicitly."""

    def __init__(self, db_path: str) -> None:
        if db_path in ("", ":memory:") or db_path.startswith("file:"):
            raise ValueError("db_path must be a file path (one connection per request)")
        self.db_path = db_path
        self._write_lock = threading.Lock()

    def connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.db_path, timeout=30.0, isolation_level=None, check_same_thread=False
        )
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    def initialise(self, seed: Callable[[sqlite3.Connection], None]) -> bool:
        """Create the schema; run ``seed`` once on a fresh database. True when it seeded."""
        Path(self.db_path).parent.mkdir(parents=True, exist_ok=True)
        conn = self.connect()
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            with self.write(conn):
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                row = conn.execute("SELECT value FROM meta WHERE key = 'seeded'").fetchone()
                if row is not None:
                    return False
                seed(conn)
                conn.execute("INSERT INTO meta (key, value) VALUES ('seeded', '1')")
                return True
        finally:
            conn.close()

    @contextmanager
    def write(self, conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``), serialised within this process."""
        with self._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextmanager
    def read(self, conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
        """A read transaction: one consistent snapshot for count + page."""
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")


# --- helpers on a connection -----------------------------------------------------------------


def insert(
    conn: sqlite3.Connection,
    table: str,
    uuid: str,
    data: dict[str, Any],
    *,
    zaak_uuid: str | None = None,
    inhoud: bytes | None = None,
) -> None:
    payload = json.dumps(data, ensure_ascii=False)
    if table == "rollen":
        conn.execute(
            "INSERT INTO rollen (uuid, zaak_uuid, data) VALUES (?, ?, ?)",
            (uuid, zaak_uuid, payload),
        )
    elif table == "documenten":
        conn.execute(
            "INSERT INTO documenten (uuid, data, inhoud) VALUES (?, ?, ?)",
            (uuid, payload, inhoud),
        )
    else:
        conn.execute("INSERT INTO zaken (uuid, data) VALUES (?, ?)", (uuid, payload))


def get(conn: sqlite3.Connection, table: str, uuid: str) -> dict[str, Any] | None:
    row = conn.execute(
        f"SELECT data FROM {_table(table)} WHERE uuid = ?",  # noqa: S608 - fixed table names
        (uuid,),
    ).fetchone()
    if row is None:
        return None
    data: dict[str, Any] = json.loads(row[0])
    return data


def update(
    conn: sqlite3.Connection,
    table: str,
    uuid: str,
    data: dict[str, Any],
    *,
    inhoud: bytes | None = None,
) -> None:
    payload = json.dumps(data, ensure_ascii=False)
    if table == "documenten" and inhoud is not None:
        conn.execute(
            "UPDATE documenten SET data = ?, inhoud = ? WHERE uuid = ?", (payload, inhoud, uuid)
        )
    else:
        conn.execute(
            f"UPDATE {_table(table)} SET data = ? WHERE uuid = ?",  # noqa: S608 - fixed names
            (payload, uuid),
        )


def delete(conn: sqlite3.Connection, table: str, uuid: str) -> bool:
    cur = conn.execute(
        f"DELETE FROM {_table(table)} WHERE uuid = ?",  # noqa: S608 - fixed table names
        (uuid,),
    )
    return cur.rowcount > 0


def get_inhoud(conn: sqlite3.Connection, uuid: str) -> bytes | None:
    row = conn.execute("SELECT inhoud FROM documenten WHERE uuid = ?", (uuid,)).fetchone()
    if row is None or row[0] is None:
        return None
    return bytes(row[0])


def page(
    conn: sqlite3.Connection,
    table: str,
    filters: Sequence[tuple[str, str]],
    offset: int,
    limit: int,
) -> tuple[int, list[tuple[str, dict[str, Any]]]]:
    """``(count, [(uuid, data), ...])`` in insertion order; ``filters`` are (name, value)."""
    known = FILTERS[_table(table)]
    where = " AND ".join(f"({known[name]})" for name, _ in filters) or "1 = 1"
    params = [value for _, value in filters]
    count = conn.execute(
        f"SELECT COUNT(*) FROM {table} WHERE {where}",  # noqa: S608 - fixed fragments only
        params,
    ).fetchone()[0]
    rows = conn.execute(
        f"SELECT uuid, data FROM {table} WHERE {where}"  # noqa: S608 - fixed fragments only
        " ORDER BY seq LIMIT ? OFFSET ?",
        [*params, limit, offset],
    ).fetchall()
    return int(count), [(str(r[0]), json.loads(r[1])) for r in rows]


def rol_uuids_by_zaak(conn: sqlite3.Connection, zaak_uuids: Sequence[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {u: [] for u in zaak_uuids}
    if not zaak_uuids:
        return out
    marks = ",".join("?" for _ in zaak_uuids)
    rows = conn.execute(
        f"SELECT zaak_uuid, uuid FROM rollen WHERE zaak_uuid IN ({marks})"  # noqa: S608
        " ORDER BY seq",
        list(zaak_uuids),
    ).fetchall()
    for zaak_uuid, rol_uuid in rows:
        out[str(zaak_uuid)].append(str(rol_uuid))
    return out
