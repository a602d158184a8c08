"""The manifest of one instance's records files: what makes a missing, renamed or truncated file
detectable (docs/records.md, "Anchoring and rotation").

Each instance (one ``records-<instance>.jsonl`` writer) keeps ``records-<instance>.manifest``
beside its file: JSON lines, hash-chained like the records themselves (JCS, ``prev_hash``,
``hash``), one line per event:

- ``open``: a new file is started; its first record continues from ``prev_head`` (the head of
  ``prev_file``, the file rotated away before it, or the genesis hash);
- ``adopt``: a file that existed before anchoring (an upgrade) is taken over at ``size``/``head``;
- ``checkpoint``: the live file had grown to ``size`` bytes with head ``head`` (written every
  ``records.checkpoint_interval_seconds`` by each worker): a later truncation shows;
- ``rotate``: the live file was renamed to ``to``, closed at ``size`` bytes and head ``head``.

One manifest per instance, not one shared by all replicas: the records volume is shared (RWX,
often NFS), where an exclusive lock across nodes is not guaranteed (``local_lock``, SMB) and a
broken shared file would stop every replica at once (a manifest that cannot be written fails the
record write). A per-instance manifest is only ever written from one pod, whose workers lock it
with ``flock`` on the same node, exactly as they lock their records file.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sidecar import jcs
from sidecar import records as _records
from sidecar.fsutil import fsync_dir
from sidecar.instance import instance_name

MANIFEST_SUFFIX = ".manifest"
MANIFEST_VERSION = 1
GENESIS = _records.GENESIS  # the chain starts where the records' does
# The keys each event carries besides manifest, time, instance, event, file, prev_hash, hash.
EVENT_KEYS: dict[str, tuple[str, ...]] = {
    "open": ("prev_file", "prev_head"),
    "adopt": ("size", "head"),
    "checkpoint": ("size", "head"),
    "rotate": ("to", "size", "head"),
}
# The events that start or end a file's generation (a checkpoint only looks at it).
_GENERATION = frozenset({"open", "adopt", "rotate"})


def manifest_path(records_path: Path) -> Path:
    """``records-a.jsonl`` → ``records-a.manifest`` (not ``*.jsonl``: not a records file)."""
    return records_path.with_name(records_path.stem + MANIFEST_SUFFIX)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _hash(entry: dict[str, Any]) -> str:
    return hashlib.sha256(jcs.canonicalize({k: v for k, v in entry.items() if k != "hash"})).hexdigest()


class Manifest:
    """Appends to one manifest, under its own ``flock`` (taken after the records file's lock)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        self._rfd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        self._last_size = -1
        self._last_hash = GENESIS

    def close(self) -> None:
        os.close(self._fd)
        os.close(self._rfd)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _entries(self) -> list[dict[str, Any]]:
        """Every complete line (under the lock; the writer's own view, not a verification)."""
        size = os.fstat(self._rfd).st_size
        data = os.pread(self._rfd, size, 0) if size else b""
        out = []
        for raw in data.split(b"\n"):
            # A checkpoint never decides an anchor: skip decoding the bulk of the file.
            if not raw or b'"event":"checkpoint"' in raw:
                continue
            try:
                entry = json.loads(raw)
            except ValueError:
                raise _records.RecordWriteError(
                    f"the manifest {self.path} has an unreadable line; run 'sidecar records verify'") from None
            if isinstance(entry, dict):
                out.append(entry)
        return out

    def _append(self, event: str, file: str, **fields: Any) -> None:
        size = os.fstat(self._fd).st_size
        if size != self._last_size:
            line = _records._last_line(self._rfd, size)
            try:
                self._last_hash = json.loads(line)["hash"] if line else GENESIS
            except (ValueError, KeyError, TypeError):
                raise _records.RecordWriteError(
                    f"the last line of the manifest {self.path} is unreadable; run 'sidecar records verify'") from None
        entry = {"manifest": MANIFEST_VERSION, "time": _now(), "instance": instance_name(), "event": event,
                 "file": file, **fields, "prev_hash": self._last_hash}
        entry["hash"] = _hash(entry)
        data = json.dumps(entry, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"
        try:
            written = os.write(self._fd, data)
            if written != len(data):
                raise OSError(errno.ENOSPC, f"short write ({written} of {len(data)} bytes)")
            os.fsync(self._fd)
            if size == 0:
                fsync_dir(self.path.parent)  # a new manifest's name is durable too
        except OSError:
            try:
                os.ftruncate(self._fd, size)
            except OSError:
                pass
            self._last_size = -1
            raise
        self._last_size, self._last_hash = size + written, entry["hash"]

    def anchor(self, name: str, size: int, head: Callable[[], str]) -> str:
        """Announce the file ``name`` when this writer meets it (the first append after opening
        or reopening it) and return the hash an empty file of it starts from."""
        with self._locked():
            last = next((e for e in reversed(self._entries())
                         if e.get("file") == name and e.get("event") in _GENERATION), None)
            if size == 0:
                if last is not None and last["event"] == "open":
                    return str(last["prev_head"])
                if last is not None and last["event"] == "rotate":
                    self._append("open", name, prev_file=last["to"], prev_head=last["head"])
                    return str(last["head"])
                self._append("open", name, prev_file=None, prev_head=GENESIS)
                return GENESIS
            if last is None or last["event"] == "rotate":
                # A file from before anchoring (or one put back by hand): take it over as it is.
                self._append("adopt", name, size=size, head=head())
                return GENESIS
            return str(last["prev_head"]) if last["event"] == "open" else GENESIS

    def checkpoint(self, name: str, size: int, head: str) -> None:
        with self._locked():
            self._append("checkpoint", name, size=size, head=head)

    def rotate(self, live: Path, rotated: Path, size: int, head: str) -> None:
        """Rename ``live`` to ``rotated`` and announce the new ``live``, as one step for every
        other worker (they read the manifest under the same lock before using a new file)."""
        with self._locked():
            self._append("rotate", live.name, to=rotated.name, size=size, head=head)
            os.rename(live, rotated)
            fsync_dir(live.parent)
            self._append("open", live.name, prev_file=rotated.name, prev_head=head)


# -- verification --------------------------------------------------------------------------

@dataclass
class _Generation:
    """What the manifest says one file must hold."""
    name: str
    manifest: str
    line: int
    start: str | None  # the hash its first record continues from (None: an adopted file, genesis)
    live: str
    marks: dict[int, str] = field(default_factory=dict)
    final: tuple[int, str] | None = None  # (size, head) of a rotated file: it never changes again


@dataclass
class FolderReport:
    """``results``: each records file with its chain check (or the error reading it);
    ``problems``: what is missing, unlisted, truncated or inconsistent (one line each)."""
    results: list[tuple[Path, _records.VerifyResult | OSError]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    manifests: int = 0

    @property
    def records(self) -> int:
        return sum(r.lines for _, r in self.results if isinstance(r, _records.VerifyResult))


def read_manifest(path: Path) -> tuple[list[tuple[int, dict[str, Any]]], str | None]:
    """The manifest's entries (with line numbers) up to its first bad line, and what is wrong
    with that line (None: the whole manifest is intact). Raises OSError when it cannot be read."""
    entries: list[tuple[int, dict[str, Any]]] = []
    prev = GENESIS
    with path.open("rb") as f:
        for n, raw in enumerate(f, start=1):
            where = f"BROKEN manifest {path} line {n}"
            if not raw.endswith(b"\n"):
                return entries, f"{where}: incomplete line (no newline)"
            try:
                entry = json.loads(raw)
            except ValueError:
                return entries, f"{where}: not JSON"
            if not isinstance(entry, dict) or entry.get("manifest") != MANIFEST_VERSION:
                return entries, f"{where}: not a manifest entry (version {MANIFEST_VERSION})"
            keys = EVENT_KEYS.get(entry.get("event"))  # type: ignore[arg-type]
            if keys is None:
                return entries, f"{where}: unknown event {entry.get('event')!r}"
            missing = [k for k in ("time", "instance", "file", *keys, "prev_hash", "hash") if k not in entry]
            if missing:
                return entries, f"{where}: missing keys {missing}"
            names = [entry["file"], *([entry["to"]] if "to" in entry else []),
                     *([entry["prev_file"]] if entry.get("prev_file") is not None else [])]
            if not all(isinstance(x, str) and x and "/" not in x and x not in (".", "..") for x in names):
                return entries, f"{where}: a file name that is not a plain name"
            if entry["prev_hash"] != prev:
                return entries, f"{where}: prev_hash does not match the previous line (a line removed or inserted)"
            try:
                expected = _hash(entry)
            except ValueError as exc:
                return entries, f"{where}: no canonical form: {exc}"
            if entry["hash"] != expected:
                return entries, f"{where}: hash does not match the line's content (edited)"
            prev = entry["hash"]
            entries.append((n, entry))
    return entries, None


def _expectations(folder: Path, manifests: list[Path], report: FolderReport) -> dict[str, _Generation]:
    expected: dict[str, _Generation] = {}
    for m in manifests:
        try:
            entries, error = read_manifest(m)
        except OSError as exc:
            report.problems.append(f"UNREADABLE manifest {m}: {exc.strerror or exc}")
            continue
        if error is not None:
            report.problems.append(error)
        current: dict[str, _Generation] = {}
        rotated: dict[str, _Generation] = {}
        for n, e in entries:
            f, ev, where = e["file"], e["event"], f"{m.name} line {n}"
            if ev == "open":
                if f in current:
                    report.problems.append(
                        f"REPLACED {folder / f}: {where} starts it anew, but the records it held since "
                        f"{current[f].manifest} line {current[f].line} were never rotated (truncated, deleted or "
                        "rotated by another tool)")
                if e["prev_file"] is not None:
                    before = rotated.get(e["prev_file"])
                    if before is None or before.final is None or before.final[1] != e["prev_head"]:
                        report.problems.append(f"INCONSISTENT manifest {m}: {where} continues {f} from "
                                               f"{e['prev_file']}, which it does not list as rotated with that head")
                current[f] = _Generation(f, m.name, n, str(e["prev_head"]), f)
            elif ev == "adopt":
                if f in current:
                    report.problems.append(f"INCONSISTENT manifest {m}: {where} adopts {f}, already listed")
                current[f] = _Generation(f, m.name, n, None, f, {int(e["size"]): str(e["head"])})
            elif f not in current:
                report.problems.append(f"INCONSISTENT manifest {m}: {where} names {f}, never opened before")
            elif ev == "checkpoint":
                current[f].marks[int(e["size"])] = str(e["head"])
            else:  # rotate
                gen = current.pop(f)
                gen.name, gen.final = e["to"], (int(e["size"]), str(e["head"]))
                rotated[gen.name] = gen
                expected[gen.name] = gen
        expected.update(current)
    return expected


def _listing(folder: Path) -> tuple[list[Path], list[Path]]:
    files = _records.records_files(folder)
    manifests = sorted(p for p in folder.iterdir() if p.suffix == MANIFEST_SUFFIX and p.is_file())
    return files, manifests


def verify_folder(folder: Path) -> FolderReport:
    """Every records file's chain, and the folder against its manifests: every file a manifest
    names exists, holds what it held then (checkpoints, a rotated file's final size and head) and
    continues from its predecessor; every file with anchored records is listed. Raises OSError
    when the folder cannot be listed."""
    # A rotation between listing the files and reading the manifests would look like a missing
    # or unlisted file: list again after reading them, and start over when the folder changed.
    for _ in range(3):
        report = FolderReport()
        files, manifests = _listing(folder)
        expected = _expectations(folder, manifests, report)
        if _listing(folder) == (files, manifests):
            break
    report.manifests = len(manifests)
    present = {m.name for m in manifests}
    for p in files:
        gen = expected.pop(p.name, None)
        try:
            if gen is None:
                res = _records.verify(p)  # as before anchoring: genesis, or a rotated file alone
            else:
                marks = frozenset({*gen.marks, *([gen.final[0]] if gen.final else [])})
                res = _records.verify(p, gen.start, marks)
        except OSError as exc:
            report.results.append((p, exc))
            continue
        report.results.append((p, res))
        for name in sorted(res.manifests - present):
            report.problems.append(f"MISSING manifest {folder / name}: the records of {p} name it")
        if gen is None:
            listed_in = sorted(res.manifests & present)
            if listed_in:
                report.problems.append(f"NOT IN MANIFEST {p}: its records name {', '.join(listed_in)}, which does not "
                                       "list this file (renamed or copied by something else than the sidecar's "
                                       "rotation?)")
            continue
        if not res.ok:
            continue  # already BROKEN; what follows would only repeat it
        other = sorted(res.manifests - {gen.manifest})
        if other:
            report.problems.append(f"INCONSISTENT {p}: listed in {gen.manifest}, but its records name "
                                   f"{', '.join(other)}")
        for size, head in sorted(gen.marks.items()):
            found = res.marks.get(size)
            if found == head:
                continue
            what = "TRUNCATED" if res.size < size else "REWRITTEN"
            report.problems.append(f"{what} {p}: {gen.manifest} saw it at {size} bytes with head {head}; it now "
                                   f"holds {res.size} bytes" + ("" if found is None else f" with {found} there"))
        if gen.final is not None:
            size, head = gen.final
            if res.size != size or res.head != head:
                what = "TRUNCATED" if res.size < size else "CHANGED AFTER ROTATION"
                report.problems.append(f"{what} {p}: rotated at {size} bytes with head {head} ({gen.manifest}); "
                                       f"it now holds {res.size} bytes with head {res.head}")
    for name, gen in sorted(expected.items()):
        kind = (f"rotated from {gen.live}, {gen.final[0]} bytes, head {gen.final[1]}" if gen.final
                else "the live file")
        report.problems.append(f"MISSING {folder / name}: {gen.manifest} lists it ({kind})")
    return report
