"""SQLite storage for the demo upstream.

One connection per request (see :mod:`.app`), WAL journal, ``busy_timeout`` for writers in other
processes (gunicorn workers) and a per-process lock that serialises this process's writers.
Objects are stored as JSON (only the stored fields; URLs are rendered per request, because they
depend on the ``X-Forwarded-*`` headers). Document content is a separate BLOB column so that
lists never load it. Rollen and zaakinformatieobjecten keep the uuid of their zaak (and document)
in columns of their own, so that a zaak's deletion takes them along and a linked document cannot
be deleted (foreign keys).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

TABLES: tuple[str, ...] = ("zaken", "rollen", "documenten", "zaakinformatieobjecten", "deelobjecten")

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
CREATE TABLE IF NOT EXISTS zaakinformatieobjecten (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT NOT NULL UNIQUE,
    zaak_uuid TEXT NOT NULL REFERENCES zaken(uuid) ON DELETE CASCADE,
    document_uuid TEXT NOT NULL REFERENCES documenten(uuid),
    data TEXT NOT NULL,
    UNIQUE (zaak_uuid, document_uuid)
);
CREATE INDEX IF NOT EXISTS zio_document ON zaakinformatieobjecten(document_uuid);
CREATE TABLE IF NOT EXISTS bestandsdelen (
    uuid TEXT PRIMARY KEY,
    document_uuid TEXT NOT NULL REFERENCES documenten(uuid) ON DELETE CASCADE,
    volgnummer INTEGER NOT NULL,
    omvang INTEGER NOT NULL,
    inhoud BLOB
);
CREATE INDEX IF NOT EXISTS bestandsdelen_document ON bestandsdelen(document_uuid);
CREATE TABLE IF NOT EXISTS deelobjecten (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    zaak_uuid TEXT NOT NULL REFERENCES zaken(uuid) ON DELETE CASCADE,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS deelobjecten_zaak ON deelobjecten(kind, zaak_uuid);
"""

#: The identification filters of the spec: (name after ``betrokkeneIdentificatie__``,
#: ``betrokkeneType``, key in ``betrokkeneIdentificatie``). Each also requires the type, as the
#: real API's join on the type's own table does: a medewerker's ``identificatie`` never matches
#: an organisatorische eenheid's.
IDENTIFICATION_FILTERS: tuple[tuple[str, str, str], ...] = (
    ("natuurlijkPersoon__inpBsn", "natuurlijk_persoon", "inpBsn"),
    ("natuurlijkPersoon__anpIdentificatie", "natuurlijk_persoon", "anpIdentificatie"),
    ("natuurlijkPersoon__inpA_nummer", "natuurlijk_persoon", "inpA_nummer"),
    ("nietNatuurlijkPersoon__innNnpId", "niet_natuurlijk_persoon", "innNnpId"),
    ("nietNatuurlijkPersoon__annIdentificatie", "niet_natuurlijk_persoon", "annIdentificatie"),
    ("vestiging__vestigingsNummer", "vestiging", "vestigingsNummer"),
    ("organisatorischeEenheid__identificatie", "organisatorische_eenheid", "identificatie"),
    ("medewerker__identificatie", "medewerker", "identificatie"),
)


def _identification(kind: str, key: str) -> str:
    return (
        f"json_extract(data, '$.betrokkeneType') = '{kind}'"
        f" AND json_extract(data, '$.betrokkeneIdentificatie.{key}') = ?"
    )


_ROL_FILTERS: dict[str, str] = {
    "betrokkene": "json_extract(data, '$.betrokkene') = ?",
    "betrokkeneType": "json_extract(data, '$.betrokkeneType') = ?",
    "omschrijvingGeneriek": "json_extract(data, '$.omschrijvingGeneriek') = ?",
    **{
        f"betrokkeneIdentificatie__{name}": _identification(kind, key)
        for name, kind, key in IDENTIFICATION_FILTERS
    },
}

#: List filters: query parameter → SQL condition with one ``?`` (fixed strings, never user input).
FILTERS: dict[str, dict[str, str]] = {
    "zaken": {
        "identificatie": "json_extract(data, '$.identificatie') = ?",
        "bronorganisatie": "json_extract(data, '$.bronorganisatie') = ?",
        "zaaktype": "json_extract(data, '$.zaaktype') = ?",
        # zaken with a rol that matches (the spec's ``rol__`` filters)
        **{
            f"rol__{name}": f"uuid IN (SELECT zaak_uuid FROM rollen WHERE {cond})"  # noqa: S608
            for name, cond in _ROL_FILTERS.items()
        },
    },
    "rollen": {
        "zaak": "zaak_uuid = ?",
        "roltype": "json_extract(data, '$.roltype') = ?",
        "omschrijving": "json_extract(data, '$.omschrijving') = ?",
        **_ROL_FILTERS,
    },
    "documenten": {
        "identificatie": "json_extract(data, '$.identificatie') = ?",
        "bronorganisatie": "json_extract(data, '$.bronorganisatie') = ?",
    },
    "zaakinformatieobjecten": {
        "zaak": "zaak_uuid = ?",
        "informatieobject": "document_uuid = ?",
    },
    # statussen, resultaten, zaakobjecten (``kind``): objects of one zaak
    "deelobjecten": {
        "kind": "kind = ?",
        "zaak": "zaak_uuid = ?",
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

    def initialise(self, seed: Callable[[sqlite3.Connection], None], version: int = 1) -> bool:
        """Create the schema; run ``seed`` on a fresh database, or once more on a database seeded
        by an older seed ``version`` (``seed`` only adds what is missing). True when it seeded."""
        Path(self.db_path).parent.mkdir(parents=True, exist_ok=True)
        conn = self.connect()
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            with self.write(conn):
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
                # A database from before seed versions were kept was seeded with version 1.
                seeded = int(meta.get("seed_version", "1")) if "seeded" in meta else 0
                if seeded >= version:
                    return False
                seed(conn)
                conn.executemany(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                    [("seeded", "1"), ("seed_version", str(version))],
                )
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
    document_uuid: str | None = None,
    inhoud: bytes | None = None,
) -> None:
    payload = json.dumps(data, ensure_ascii=False)
    if table == "zaakinformatieobjecten":
        conn.execute(
            "INSERT INTO zaakinformatieobjecten (uuid, zaak_uuid, document_uuid, data)"
            " VALUES (?, ?, ?, ?)",
            (uuid, zaak_uuid, document_uuid, payload),
        )
    elif table == "rollen":
        conn.execute(
            "INSERT INTO rollen (uuid, zaak_uuid, data) VALUES (?, ?, ?)",
            (uuid, zaak_uuid, payload),
        )
    elif table == "documenten":
        conn.execute(
            "INSERT INTO documenten (uuid, data, inhoud) VALUES (?, ?, ?)",
            (uuid, payload, inhoud),
        )
    elif table == "deelobjecten":
        conn.execute(
            "INSERT INTO deelobjecten (uuid, kind, zaak_uuid, data) VALUES (?, ?, ?, ?)",
            (uuid, data["_kind"], zaak_uuid, payload),
        )
    else:
        conn.execute("INSERT INTO zaken (uuid, data) VALUES (?, ?)", (uuid, payload))


def exists(conn: sqlite3.Connection, table: str, uuid: str) -> bool:
    row = conn.execute(
        f"SELECT 1 FROM {_table(table)} WHERE uuid = ?",  # noqa: S608 - fixed table names
        (uuid,),
    ).fetchone()
    return row is not None


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


def every(
    conn: sqlite3.Connection, table: str, filters: Sequence[tuple[str, str]]
) -> list[tuple[str, dict[str, Any]]]:
    """All matching ``(uuid, data)`` in insertion order (for the spec's unpaginated lists)."""
    known = FILTERS[_table(table)]
    where = " AND ".join(f"({known[name]})" for name, _ in filters) or "1 = 1"
    rows = conn.execute(
        f"SELECT uuid, data FROM {table} WHERE {where} ORDER BY seq",  # noqa: S608 - fixed
        [value for _, value in filters],
    ).fetchall()
    return [(str(r[0]), json.loads(r[1])) for r in rows]


def zio_pair(conn: sqlite3.Connection, zaak_uuid: str, document_uuid: str) -> bool:
    """Whether the zaak already holds a zaakinformatieobject for the document."""
    row = conn.execute(
        "SELECT 1 FROM zaakinformatieobjecten WHERE zaak_uuid = ? AND document_uuid = ?",
        (zaak_uuid, document_uuid),
    ).fetchone()
    return row is not None


def document_has_relations(conn: sqlite3.Connection, document_uuid: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM zaakinformatieobjecten WHERE document_uuid = ? LIMIT 1", (document_uuid,)
    ).fetchone()
    return row is not None


def uuids_by_zaak(
    conn: sqlite3.Connection, table: str, zaak_uuids: Sequence[str]
) -> dict[str, list[str]]:
    """The uuids of the rollen or zaakinformatieobjecten of each zaak, in insertion order."""
    if table not in ("rollen", "zaakinformatieobjecten"):
        raise ValueError(f"no zaak column in {table!r}")
    out: dict[str, list[str]] = {u: [] for u in zaak_uuids}
    if not zaak_uuids:
        return out
    marks = ",".join("?" for _ in zaak_uuids)
    rows = conn.execute(
        f"SELECT zaak_uuid, uuid FROM {table} WHERE zaak_uuid IN ({marks})"  # noqa: S608
        " ORDER BY seq",
        list(zaak_uuids),
    ).fetchall()
    for zaak_uuid, rol_uuid in rows:
        out[str(zaak_uuid)].append(str(rol_uuid))
    return out


# --- bestandsdelen (chunked upload of a locked document) --------------------------------------


def add_parts(conn: sqlite3.Connection, document_uuid: str, parts: Sequence[tuple[str, int, int]]) -> None:
    """New empty parts ``(uuid, volgnummer, omvang)`` of a document; any earlier ones are dropped."""
    conn.execute("DELETE FROM bestandsdelen WHERE document_uuid = ?", (document_uuid,))
    conn.executemany(
        "INSERT INTO bestandsdelen (uuid, document_uuid, volgnummer, omvang) VALUES (?, ?, ?, ?)",
        [(u, document_uuid, n, size) for u, n, size in parts],
    )


def part(conn: sqlite3.Connection, part_uuid: str) -> tuple[str, int, int] | None:
    """``(document_uuid, volgnummer, omvang)`` of a part."""
    row = conn.execute(
        "SELECT document_uuid, volgnummer, omvang FROM bestandsdelen WHERE uuid = ?", (part_uuid,)
    ).fetchone()
    return (str(row[0]), int(row[1]), int(row[2])) if row else None


def put_part(conn: sqlite3.Connection, part_uuid: str, inhoud: bytes) -> None:
    conn.execute("UPDATE bestandsdelen SET inhoud = ? WHERE uuid = ?", (inhoud, part_uuid))


def parts_of(conn: sqlite3.Connection, document_uuid: str) -> list[tuple[str, int, int, bytes | None]]:
    """``(uuid, volgnummer, omvang, inhoud or None)`` of a document's parts, in order."""
    rows = conn.execute(
        "SELECT uuid, volgnummer, omvang, inhoud FROM bestandsdelen WHERE document_uuid = ?"
        " ORDER BY volgnummer",
        (document_uuid,),
    ).fetchall()
    return [(str(r[0]), int(r[1]), int(r[2]), None if r[3] is None else bytes(r[3])) for r in rows]


def drop_parts(conn: sqlite3.Connection, document_uuid: str) -> None:
    conn.execute("DELETE FROM bestandsdelen WHERE document_uuid = ?", (document_uuid,))
