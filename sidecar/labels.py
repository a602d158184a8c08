"""The label store: provenance of each resource, the sidecar's own (never sent upstream).

Keyed by the resource's canonical path (``/documenten/api/v1/enkelvoudiginformatieobjecten/<uuid>``),
so the same object has the same key whatever host name the upstream put in its URLs.
Any failure raises :class:`LabelStoreError`; callers fail closed.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit


class LabelStoreError(Exception):
    pass


class LabelStore(Protocol):
    def get_many(self, keys: list[str]) -> dict[str, dict[str, Any]]: ...

    def put(self, key: str, labels: dict[str, Any]) -> None: ...

    def ping(self) -> bool: ...


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
        except sqlite3.Error as exc:
            raise LabelStoreError(f"cannot open label store {path}: {exc}") from None

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self._path, timeout=5.0, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
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

    def ping(self) -> bool:
        try:
            self._conn().execute("SELECT 1").fetchone()
            return True
        except sqlite3.Error:
            return False


def open_label_store(dsn: str) -> LabelStore:
    if dsn.startswith("sqlite:///"):
        return SqliteLabelStore(Path(dsn[len("sqlite:///"):]))
    raise LabelStoreError(f"label store backend not available: {dsn.split(':', 1)[0]}")
