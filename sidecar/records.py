"""Decision records: one JSON object per line, hash-chained, fsync'd before release.

``hash`` = SHA-256 over the RFC 8785 (JCS) canonical form of the record without its ``hash``
key (format 3; formats 1 and 2 used Python's own sorted-key JSON, see :func:`record_hash`);
``prev_hash`` is the previous line's ``hash`` (64 zeros on the first line). The file alone
therefore suffices to verify the chain, with any JCS library (docs/records.md).

Several gunicorn workers append to one file: an exclusive ``flock`` serialises them, and the
writer re-reads the last line only when another process wrote since its own last append.

An anchored writer (``sidecar serve`` and the command line's own records) also keeps the
instance's manifest (:mod:`sidecar.records_manifest`): which files it opened, rotated and how far
they had grown, so that ``records verify FOLDER`` notices a missing, renamed or truncated file.
A rotated file's successor starts from the predecessor's head instead of the genesis hash.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sidecar import jcs
from sidecar.instance import writer_identity
from sidecar.opa import Decision
from sidecar.pseudonyms import pseudonym

if TYPE_CHECKING:
    from sidecar.records_manifest import Manifest
    from sidecar.settings import RecordSettings

log = logging.getLogger("sidecar.records")

GENESIS = "0" * 64
# Readiness wants at least this much free space where the records go: room for a page of list
# decisions (one record per item) with a wide margin.
MIN_FREE_BYTES = 1024 * 1024

# The record format. Version 1 (files written before this field existed) has no ``format`` key;
# version 2 adds it. ``records verify`` checks each line against the keys of its own version, so a
# version that adds a field never breaks a file written before it.
FORMAT_VERSION = 3
# Version 2 also names the ingest's provenance judgement (``herkomst``: ground, consent reference,
# lid 2 and conflict-of-duties conditions, motivation, conditions; never the BSN).
_KEYS_V1 = (
    "time", "decision_id", "trace_id", "span_id", "phase", "decision", "enforced", "status",
    "subject", "purpose", "action", "resource", "betrokkene", "grondslag", "reasons",
    "obligations", "processing_activity", "policy", "recipient", "duration_ms",
    "prev_hash", "hash",
)
_KEYS_V2 = ("format", "herkomst", *_KEYS_V1)
# Version 3 hashes the JCS (RFC 8785) form instead of Python's JSON encoding, so that anyone can
# recompute it, and names the writer ({version, instance}: which sidecar, which replica).
REQUIRED_KEYS: dict[int, tuple[str, ...]] = {1: _KEYS_V1, 2: _KEYS_V2, 3: (*_KEYS_V2, "writer")}
# The formats whose hash covers Python's json.dumps form; later ones hash the JCS form.
_LEGACY_HASH_FORMATS = frozenset({1, 2})


def recipient_of(allow: bool, obligations: list[dict[str, Any]], org: str | None) -> str | None:
    """The recipient an allow must record (obligation ``record_recipient``): the one it names,
    else the subject's organisation."""
    if not allow or not any(o.get("type") == "record_recipient" for o in obligations):
        return None
    return next((o["recipient"] for o in obligations
                 if o.get("type") == "record_recipient" and o.get("recipient")), org)


def build_record(*, time: str, decision_id: str, trace_id: str, span_id: str | None, phase: str, allow: bool,
                 enforced: bool, status: int | None, subject: dict[str, Any] | None, purpose: str | None,
                 action: str | None, resource: dict[str, Any] | None, resource_type: str | None,
                 betrokkene: str | None, decision: Decision | None, reasons: list[str], profile: str,
                 duration_s: float, herkomst: dict[str, Any] | None = None) -> dict[str, Any]:
    """The one place a decision record is made (the proxy's decisions, the sidecar's own denies,
    ``records query``). ``subject`` is ``{id, role, org}``; ``resource`` the OPA resource decided
    on (or None: then ``resource_type`` names what was asked for)."""
    base = record_base(time=time, trace_id=trace_id, span_id=span_id, phase=phase, enforced=enforced,
                       status=status, subject=subject, purpose=purpose, action=action, profile=profile,
                       duration_s=duration_s, herkomst=herkomst)
    return item_record(base, decision_id=decision_id, allow=allow, resource=resource, resource_type=resource_type,
                       betrokkene=betrokkene, decision=decision, reasons=reasons)


def record_base(*, time: str, trace_id: str, span_id: str | None, phase: str, enforced: bool, status: int | None,
                subject: dict[str, Any] | None, purpose: str | None, action: str | None, profile: str,
                duration_s: float, herkomst: dict[str, Any] | None = None,
                writer: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the records of one decision share (who asked, when, in which phase): made once for a
    page of 50 items, and completed per item and data subject by :func:`item_record`. ``writer``
    is :func:`sidecar.instance.writer_identity` (asked here when not given); records share it, and
    nothing may change it."""
    return {
        "format": FORMAT_VERSION,
        "time": time,
        "trace_id": trace_id,
        "span_id": span_id,
        "phase": phase,
        "enforced": enforced,
        "status": status,
        "subject": subject,
        "purpose": purpose,
        "action": action,
        "herkomst": ({k: v for k, v in herkomst.items() if k != "betrokkene_present"}
                     if herkomst is not None else None),
        "policy": {"profile": profile},
        "duration_ms": round(duration_s * 1000, 3),
        "writer": writer if writer is not None else writer_identity(),
    }


def item_record(base: dict[str, Any], *, decision_id: str, allow: bool, resource: dict[str, Any] | None,
                resource_type: str | None, betrokkene: str | None, decision: Decision | None,
                reasons: list[str]) -> dict[str, Any]:
    """A new record: ``base`` (:func:`record_base`) with what one decided object and data subject
    add. ``base`` itself is left as it was."""
    obligations = decision.obligations if decision else []
    props = (resource or {}).get("properties") or {}
    subject = base["subject"]
    record = base.copy()
    record["decision_id"] = decision_id
    record["decision"] = "allow" if allow else "deny"
    record["resource"] = {"type": (resource or {}).get("type") or resource_type,
                          "id": (resource or {}).get("id"),
                          "category": props.get("category")}
    record["betrokkene"] = betrokkene
    record["grondslag"] = decision.grondslag if decision else None
    record["reasons"] = reasons
    record["obligations"] = obligations
    record["processing_activity"] = decision.processing_activity if decision else None
    record["policy"] = {"profile": base["policy"]["profile"], "revision": decision.revision if decision else None}
    record["recipient"] = recipient_of(allow, obligations, (subject or {}).get("org"))
    return record


class RecordWriteError(Exception):
    """The record could not be made durable; the caller must fail closed."""


def canonical_json(obj: Any) -> bytes:
    """The hashed form of format 1 and 2 records (Python's JSON encoding; not a standard)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def hashed_form(record: dict[str, Any]) -> bytes:
    """The bytes a record's ``hash`` covers (the record without ``hash``), by the rule of the
    record's own ``format``: JCS from format 3 on, Python's JSON encoding before. Raises
    ValueError for a value that has no canonical form (NaN, a huge integer, a lone surrogate)."""
    body = {k: v for k, v in record.items() if k != "hash"} if "hash" in record else record
    fmt = record.get("format", 1)
    if isinstance(fmt, int) and fmt in _LEGACY_HASH_FORMATS:
        return canonical_json(body)
    return jcs.canonicalize(body)


def record_hash(record: dict[str, Any]) -> str:
    return hashlib.sha256(hashed_form(record)).hexdigest()


def pseudonymise(key: bytes, bsn: str) -> str:
    """Keyed pseudonym of a BSN under key version 1 (:func:`sidecar.pseudonyms.pseudonym`)."""
    return pseudonym(key, bsn)


def _last_line(fd: int, size: int) -> bytes:
    if size == 0:
        return b""
    chunk = 4096
    pos = size
    buf = b""
    while pos > 0:
        step = min(chunk, pos)
        pos -= step
        buf = os.pread(fd, step, pos) + buf
        stripped = buf.rstrip(b"\n")
        nl = stripped.rfind(b"\n")
        if nl >= 0:
            return stripped[nl + 1:]
    return buf.rstrip(b"\n")


class _Batch:
    __slots__ = ("done", "error", "records")

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.records = records
        self.done = False
        self.error: RecordWriteError | None = None


class RecordWriter:
    def __init__(self, path: Path, head_log_interval: float = 60.0, *, anchored: bool = False,
                 rotate_max_bytes: int | None = None, rotate_daily: bool = False,
                 checkpoint_interval: float = 300.0) -> None:
        self._path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        self._rfd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        # Anchoring (docs/records.md): the manifest beside the file, what it says about the file
        # this writer has open (its inode), and the hash an empty file of that generation starts from.
        self._manifest: Manifest | None = None
        if anchored:
            from sidecar.records_manifest import Manifest, manifest_path

            self._manifest = Manifest(manifest_path(path))
        self._anchored_ino = -1
        self._anchor = GENESIS
        self._rotate_max_bytes = rotate_max_bytes
        self._rotate_daily = rotate_daily
        self._first_day: str | None = None
        self._checkpoint_interval = checkpoint_interval
        # The first append to a non-empty file checkpoints it at once: what a restarted writer
        # found is on record before anything else can happen to it.
        self._checkpointed = float("-inf")
        # Group commit: threads that arrive while an append+fsync is under way queue their
        # records; the next thread to write appends all queued records with one fsync. Nobody
        # returns before their own records are durable.
        self._cond = threading.Condition()
        self._queue: list[_Batch] = []
        self._writing = False
        self._last_size = -1
        self._last_hash = GENESIS
        self._head_interval = head_log_interval
        self._head_logged = 0.0
        self._failing = False

    @classmethod
    def for_settings(cls, records: RecordSettings) -> RecordWriter:
        """The writer of a configuration: anchored in its manifest, rotating as configured."""
        return cls(Path(records.path), records.head_log_interval_seconds, anchored=True,
                   rotate_max_bytes=records.rotate_max_bytes, rotate_daily=records.rotate_daily,
                   checkpoint_interval=records.checkpoint_interval_seconds)

    def _prev_hash(self, size: int) -> str:
        if size == self._last_size:
            return self._last_hash
        line = _last_line(self._rfd, size)
        if not line:
            # An empty file of an anchored writer continues from its predecessor's head.
            return self._anchor
        try:
            prev = json.loads(line)["hash"]
        except (ValueError, KeyError, TypeError):
            raise RecordWriteError("the last record line is unreadable; run 'sidecar records verify'") from None
        if not isinstance(prev, str):
            raise RecordWriteError("the last record has no hash")
        return prev

    def write(self, record: dict[str, Any]) -> dict[str, Any]:
        """Append durably, or raise :class:`RecordWriteError`. Returns the record with its hashes."""
        self.write_many([record])
        return record

    def write_many(self, records: list[dict[str, Any]]) -> None:
        """Append records durably (one write and one fsync for them and for whatever other
        threads queued meanwhile), or raise :class:`RecordWriteError`."""
        batch = _Batch(records)
        with self._cond:
            self._queue.append(batch)
            while self._writing and not batch.done:
                self._cond.wait()
            if not batch.done:
                self._writing = True
                batches, self._queue = self._queue, []
        if not batch.done:
            error: RecordWriteError | None = None
            try:
                self._append([r for b in batches for r in b.records])
            except RecordWriteError as exc:
                error = exc
            with self._cond:
                for b in batches:
                    b.error, b.done = error, True
                self._writing = False
                self._cond.notify_all()
        if batch.error is not None:
            raise RecordWriteError(str(batch.error))

    def _append(self, records: list[dict[str, Any]]) -> None:
        """One append under the file lock (other processes write the same file)."""
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                size = os.fstat(self._fd).st_size
                if self._manifest is not None:
                    size = self._anchor_and_rotate(size)
                prev = self._prev_hash(size)
                lines = []
                for record in records:
                    record.pop("hash", None)
                    record["prev_hash"] = prev
                    writer = record.get("writer")
                    if self._manifest is not None and isinstance(writer, dict):
                        # The file says which manifest lists it: deleting the manifest is noticed.
                        record["writer"] = {**writer, "manifest": self._manifest.path.name}
                    # Serialised once: the hash covers the canonical form without `hash`, and the
                    # line is that same text with `hash` appended as its last key (verify re-derives
                    # the canonical form, so the key order of the line itself does not matter).
                    try:
                        body = hashed_form(record)
                    except ValueError as exc:
                        raise RecordWriteError(f"the record has no canonical form: {exc}") from None
                    record["hash"] = prev = hashlib.sha256(body).hexdigest()
                    lines.append(body[:-1] + b',"hash":"' + prev.encode("ascii") + b'"}\n')
                data = b"".join(lines)
                try:
                    written = os.write(self._fd, data)
                    if written != len(data):
                        raise OSError(errno.ENOSPC, f"short write ({written} of {len(data)} bytes)")
                    os.fsync(self._fd)
                except OSError:
                    self._undo(size)
                    raise
                self._last_size = size + written
                self._last_hash = prev
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        except OSError as exc:
            self._failing = True
            raise RecordWriteError(f"cannot write record: {exc.strerror or exc}") from None
        except RecordWriteError:
            self._failing = True
            raise
        self._failing = False
        self._maybe_log_head()

    # -- anchoring and rotation (under the file lock) ----------------------------------------

    def _follow_rename(self) -> int:
        """Switch to the file now at the path when another process rotated it (or an operator
        renamed it) since this one opened it; returns the size of the file held (locked)."""
        while True:
            held = os.fstat(self._fd)
            try:
                at_path = os.stat(self._path)
            except FileNotFoundError:
                at_path = None
            if at_path is not None and (at_path.st_ino, at_path.st_dev) == (held.st_ino, held.st_dev):
                return held.st_size
            self._reopen()

    def _reopen(self) -> None:
        """Open (creating) the file at the path and take its lock; release the old one."""
        fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        try:
            rfd = os.open(self._path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            os.close(fd)
            raise
        fcntl.flock(fd, fcntl.LOCK_EX)
        old, old_r = self._fd, self._rfd
        self._fd, self._rfd = fd, rfd
        self._last_size, self._first_day = -1, None
        fcntl.flock(old, fcntl.LOCK_UN)
        os.close(old)
        os.close(old_r)

    def _anchor_and_rotate(self, size: int) -> int:
        """Before an append: follow a rotation, announce a new file in the manifest (or adopt an
        existing one), rotate when due, write a checkpoint when due. Returns the size to append at."""
        assert self._manifest is not None
        size = self._follow_rename()
        ino = os.fstat(self._fd).st_ino
        if ino != self._anchored_ino:
            self._anchor = self._manifest.anchor(self._path.name, size, lambda: self._prev_hash(size))
            self._anchored_ino = ino
            self._last_size = -1
        if size > 0 and self._rotation_due(size):
            return self._rotate(size)
        now = time.monotonic()
        if size > 0 and now - self._checkpointed >= self._checkpoint_interval:
            # The state before this append, already durable: verify finds this size and head on
            # the file's chain, or the file was truncated or rewritten.
            self._manifest.checkpoint(self._path.name, size, self._prev_hash(size))
            self._checkpointed = now
        return size

    def _rotation_due(self, size: int) -> bool:
        if self._rotate_max_bytes is not None and size >= self._rotate_max_bytes:
            return True
        if self._rotate_daily:
            if self._first_day is None:
                self._first_day = _first_day(self._rfd)
            today = time.strftime("%Y-%m-%d", time.gmtime())
            return self._first_day is not None and self._first_day < today
        return False

    def _rotate(self, size: int) -> int:
        """Rename the file to ``<stem>.<UTC time>.jsonl`` and start a new one at the path whose
        first record continues from the old head; both steps are in the manifest first."""
        assert self._manifest is not None
        head = self._prev_hash(size)
        ns = time.time_ns()
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(ns // 1_000_000_000)) + f"{ns // 1000 % 1_000_000:06d}Z"
        rotated = self._path.with_name(f"{self._path.stem}.{stamp}{self._path.suffix}")
        self._manifest.rotate(self._path, rotated, size, head)
        self._reopen()
        self._anchored_ino = os.fstat(self._fd).st_ino
        self._anchor, self._last_size, self._last_hash = head, 0, head
        self._checkpointed = time.monotonic()
        log.info("records rotated", extra={"event": "records_rotated", "file": str(rotated), "size": size,
                                           "head_hash": head})
        return 0

    def _undo(self, size: int) -> None:
        """Cut a failed append back to ``size`` (still under the file lock).

        A full disk takes part of a line (ENOSPC after a short write); a torn last line would
        make every later append refuse to chain onto it, and ``records verify`` fail, long after
        the disk has room again. The records were not acknowledged, so removing them loses
        nothing; the request they belonged to is refused.
        """
        try:
            os.ftruncate(self._fd, size)
            os.fsync(self._fd)
        except OSError:
            # Cannot cut (e.g. a device file): re-read the tail next time; a torn line then
            # keeps failing closed until an operator repairs the file.
            self._last_size = -1

    def _maybe_log_head(self) -> None:
        # The head hash in the log lets an outside copy of the log expose a rewritten file.
        now = time.monotonic()
        if now - self._head_logged >= self._head_interval:
            self._head_logged = now
            log.info("records head", extra={"event": "records_head", "head_hash": self._last_hash,
                                            "file": str(self._path), "size": self._last_size})

    def writable(self) -> bool:
        """For readiness: the file is writable, the last append did not fail, and its file
        system has room for more than a few records. A full disk leaves the file writable by
        permissions, and after a failed (cut back) list append a small record may still fit, so
        neither permissions nor the last write alone tell whether decisions can be recorded."""
        if self._failing or not os.access(self._path, os.W_OK):
            return False
        if self._manifest is not None and self._manifest.path.exists() and not os.access(self._manifest.path, os.W_OK):
            return False
        try:
            st = os.statvfs(self._path)
        except OSError:
            return False
        return st.f_bavail * st.f_frsize >= MIN_FREE_BYTES

    def close(self) -> None:
        os.close(self._fd)
        os.close(self._rfd)
        if self._manifest is not None:
            self._manifest.close()


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    lines: int
    head: str
    error: str | None = None
    line_no: int | None = None
    # Bytes of intact lines; the hash the first line continues from (genesis, or a rotated
    # predecessor's head); the hash at each asked-for byte offset; the manifests the lines name.
    size: int = 0
    first_prev: str = GENESIS
    marks: dict[int, str] = field(default_factory=dict)
    manifests: frozenset[str] = frozenset()


def _first_day(fd: int) -> str | None:
    """The UTC date (YYYY-MM-DD) of the file's first record, or None for an empty file."""
    head = os.pread(fd, 65536, 0)
    line = head.split(b"\n", 1)[0]
    if not line:
        return None
    try:
        stamp = json.loads(line)["time"]
    except (ValueError, KeyError, TypeError):
        return None
    return stamp[:10] if isinstance(stamp, str) else None


def records_files(path: Path) -> list[Path]:
    """The records files ``path`` names: itself, or the ``*.jsonl`` files of a folder (one per
    writer; each is its own chain), in name order. Raises OSError when it cannot be listed."""
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix == ".jsonl" and p.is_file())
    return [path]


def iter_records(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, bytes]]:
    with path.open("rb") as f:
        for n, raw in enumerate(f, start=1):
            try:
                obj = json.loads(raw)
            except ValueError:
                yield n, None, raw
                continue
            yield n, obj if isinstance(obj, dict) else None, raw


def manifest_of(rec: dict[str, Any]) -> str | None:
    """The manifest an anchored writer names in ``writer.manifest`` (None before anchoring)."""
    w = rec.get("writer")
    m = w.get("manifest") if isinstance(w, dict) else None
    return m if isinstance(m, str) else None


def verify(path: Path, start: str | None = None, marks: frozenset[int] = frozenset()) -> VerifyResult:
    """Check one file's chain. ``start``: the hash its first line must continue from; None:
    genesis, except that a file of an anchored writer (``writer.manifest``) may continue from
    any hash (a rotated file's successor: only the manifest knows which, see
    :func:`sidecar.records_manifest.verify_folder`). ``marks``: byte offsets whose hash to report."""
    prev = start or GENESIS
    first_prev = prev
    count = size = 0
    seen: dict[int, str] = {}
    manifests: set[str] = set()

    def fail(error: str, n: int) -> VerifyResult:
        return VerifyResult(False, count, prev, error, n, size, first_prev, seen, frozenset(manifests))

    for n, rec, raw in iter_records(path):
        if rec is None:
            return fail("not a JSON object", n)
        if not raw.endswith(b"\n"):
            return fail("incomplete line (no newline)", n)
        version = rec.get("format", 1)
        required = REQUIRED_KEYS.get(version) if isinstance(version, int) and not isinstance(version, bool) else None
        if required is None:
            return fail(f"unknown record format {version!r}", n)
        missing = [k for k in required if k not in rec]
        if missing:
            return fail(f"missing keys {missing}", n)
        manifest = manifest_of(rec)
        if manifest is not None:
            manifests.add(manifest)
        if n == 1 and start is None and manifest is not None and isinstance(rec["prev_hash"], str):
            prev = first_prev = rec["prev_hash"]
        if rec["prev_hash"] != prev:
            return fail("prev_hash does not match the previous line", n)
        try:
            expected = record_hash(rec)
        except ValueError as exc:
            return fail(f"the line has no canonical form: {exc}", n)
        if rec["hash"] != expected:
            return fail("hash does not match the line's content", n)
        prev = rec["hash"]
        count += 1
        size += len(raw)
        if size in marks:
            seen[size] = prev
    return VerifyResult(True, count, prev, None, None, size, first_prev, seen, frozenset(manifests))
