"""Keyed pseudonyms of BSNs, under a key that can be rotated.

A pseudonym is ``hmac-sha256:<hex>`` (HMAC-SHA-256 of the BSN): the form every record and label
written before key versions existed holds, and it stays the form of **version 1**. A pseudonym
under a later version names it: ``hmac-sha256:v<N>:<hex>``. The version is part of the string the
records and labels already hold in their ``betrokkene`` field, so the record format does not
change: a field that held an opaque pseudonym still does.

:class:`Keyring` holds the active versions, the current one first (``pseudonymisation.keys``).
Writing uses the current version; a look-up by BSN computes the pseudonym under *every* active
version and matches any of them, so data written under an older version is found as long as that
version stays configured. An HMAC cannot be turned back into the BSN, so nothing can re-key a
stored pseudonym on its own: ``sidecar pseudonyms rekey`` is given the BSNs (stdin or a file),
and moves the label store's rows of each from the older versions' pseudonyms to the current one.
The decision records are append-only and hash-chained and are never rewritten: records written
under a version stop being findable by BSN once that version is removed (docs/key-rotation.md).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PREFIX = "hmac-sha256:"
# Version 1 has no version in the string (what was written before versions existed); a version
# from 2 on is written as v<N>: between the scheme and the hex digest.
PSEUDONYM_RX = re.compile(r"hmac-sha256:(?:v([2-9]|[1-9][0-9]{1,3}):)?([0-9a-f]{64})")
MAX_VERSION = 9999
_BSN_RX = re.compile(r"[0-9]{9}")


def pseudonym(key: bytes, bsn: str, version: int = 1) -> str:
    """The pseudonym of ``bsn`` under ``key`` as key version ``version``."""
    digest = hmac.new(key, bsn.encode("ascii"), hashlib.sha256).hexdigest()
    return f"{PREFIX}{digest}" if version == 1 else f"{PREFIX}v{version}:{digest}"


def version_of(value: str) -> int | None:
    """The key version a pseudonym was made under, or None when ``value`` is not a pseudonym."""
    m = PSEUDONYM_RX.fullmatch(value)
    if m is None:
        return None
    return int(m.group(1)) if m.group(1) else 1


@dataclass(frozen=True)
class Keyring:
    """The active pseudonymisation keys as ``(version, key)``, the current (writing) one first."""

    keys: tuple[tuple[int, bytes], ...]

    def __post_init__(self) -> None:
        versions = [v for v, _ in self.keys]
        if not versions:
            raise ValueError("a keyring needs at least one key")
        if len(set(versions)) != len(versions):
            raise ValueError("key versions must be unique")

    @property
    def current_version(self) -> int:
        return self.keys[0][0]

    @property
    def versions(self) -> list[int]:
        return [v for v, _ in self.keys]

    def current(self, bsn: str) -> str:
        """The pseudonym to write: under the current version."""
        version, key = self.keys[0]
        return pseudonym(key, bsn, version)

    def all(self, bsn: str) -> list[str]:
        """The pseudonyms of ``bsn`` under every active version, the current one first: what a
        look-up by BSN matches."""
        return [pseudonym(key, bsn, version) for version, key in self.keys]

    def older(self, bsn: str) -> list[str]:
        """The pseudonyms of ``bsn`` under the active versions that are not current."""
        return self.all(bsn)[1:]


# -- sidecar pseudonyms … -------------------------------------------------------------------------


def add_parser(sub: Any) -> None:
    """``sidecar pseudonyms rekey|status`` (``sub``: the command line's sub-parsers)."""
    p = sub.add_parser("pseudonyms", help="the BSN pseudonymisation key: re-key the label store, show versions")
    psub = p.add_subparsers(dest="pseudonyms_cmd", required=True, metavar="SUBCOMMAND")
    rk = psub.add_parser(
        "rekey", help="move the label store's pseudonyms of the given BSNs to the current key version",
        description="Reads BSNs, one per line, from --bsn-file or stdin (a pseudonym cannot be turned back into "
                    "its BSN, so the BSNs must come from the source: the zaaksysteem's rollen, the "
                    "client register). For each, every label that holds its pseudonym under an older active "
                    "key version (pseudonymisation.keys) gets its pseudonym under the current version. Every "
                    "line is checked before anything changes (exit 2 naming the bad line, never its text). "
                    "Decision records are not rewritten (append-only, hash-chained). Prints counts, never a "
                    "BSN; running it twice is harmless.")
    rk.add_argument("--config", type=Path, required=True, help="the sidecar config file")
    rk.add_argument("--bsn-file", type=Path, default=None, help="file of BSNs, one per line (default: stdin)")
    st = psub.add_parser("status", help="labels per key version: what still depends on an older key",
                         description="Counts the labels whose data subject is a pseudonym under each key version "
                                     "(configured or not). A version can be retired from the label store's point "
                                     "of view when its count is 0; see docs/key-rotation.md for the records.")
    st.add_argument("--config", type=Path, required=True, help="the sidecar config file")


def read_bsns(lines: Iterable[str]) -> tuple[list[str], list[int]]:
    """The distinct BSNs of ``lines`` (blank lines and ``#`` comments skipped) and the numbers of
    the lines that are not a BSN."""
    bsns: dict[str, None] = {}
    bad: list[int] = []
    for n, line in enumerate(lines, 1):
        text = line.strip().replace(" ", "")
        if not text or text.startswith("#"):
            continue
        if _BSN_RX.fullmatch(text):
            bsns[text] = None
        else:
            bad.append(n)
    return list(bsns), bad


def versions_of_prefixes(prefixes: dict[str, int]) -> dict[int, int]:
    """Label counts per key version from counts per pseudonym prefix (what the label store can
    group by: a pseudonym without its 64 hex digits). A prefix of no version counts as version 0."""
    out: dict[int, int] = {}
    for prefix, n in prefixes.items():
        version = version_of(prefix + "0" * 64)
        out[version or 0] = out.get(version or 0, 0) + n
    return out


def _describe(counts: dict[int, int], keyring: Keyring) -> str:
    if not counts:
        return "no labels name a data subject"
    parts = []
    for version in sorted(counts, reverse=True):
        if version == 0:
            parts.append(f"not a pseudonym: {counts[version]}")
            continue
        state = ("current" if version == keyring.current_version
                 else "active" if version in keyring.versions else "NOT CONFIGURED")
        parts.append(f"v{version} ({state}): {counts[version]}")
    return ", ".join(parts)


def main(args: argparse.Namespace) -> int:
    from sidecar.labels import LabelStoreError, open_label_store
    from sidecar.settings import ConfigError, load_settings

    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"sidecar: {exc}", file=sys.stderr)
        return 2
    keyring = settings.pseudonymisation.keyring()
    if args.pseudonyms_cmd == "rekey":
        try:
            if args.bsn_file is not None:
                with args.bsn_file.open(encoding="utf-8") as f:
                    bsns, bad = read_bsns(f)
            else:
                bsns, bad = read_bsns(sys.stdin)
        except (OSError, UnicodeDecodeError) as exc:
            print(f"sidecar pseudonyms rekey: cannot read the BSNs: {exc}", file=sys.stderr)
            return 2
        if bad:
            shown = ", ".join(map(str, bad[:10])) + (" …" if len(bad) > 10 else "")
            print(f"sidecar pseudonyms rekey: not a BSN of 9 digits on line(s) {shown}; nothing changed",
                  file=sys.stderr)
            return 2
        mapping = {old: keyring.current(bsn) for bsn in bsns for old in keyring.older(bsn)}
    try:
        store = open_label_store(settings.labels.dsn)
        moved = store.rekey_betrokkenen(mapping) if args.pseudonyms_cmd == "rekey" else 0
        counts = versions_of_prefixes(store.betrokkene_prefixes())
    except LabelStoreError as exc:
        print(f"sidecar pseudonyms: {exc}", file=sys.stderr)
        return 1
    if args.pseudonyms_cmd == "rekey":
        print(f"ok: {len(bsns)} BSN(s) read, {moved} label(s) moved to key version v{keyring.current_version}")
    print(f"labels per key version: {_describe(counts, keyring)}")
    return 0
