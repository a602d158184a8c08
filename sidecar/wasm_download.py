"""Delivery of the signed Wasm bundle: ``opa.wasm_bundle_url`` downloaded to ``opa.wasm_bundle``.

OPA pulls its signed rego bundle from the bundle server (deploy/opa/config.yaml); ``make bundle``
publishes the signed Wasm bundle beside it (``bundle-wasm.tar.gz``), and this module pulls that one
the same way OPA does:

* a random delay between ``opa.wasm_bundle_polling.min_delay_seconds`` and ``max_delay_seconds``
  after each answer; after a failure an exponential back-off from 0.1 s up to the maximum (OPA's
  ``DefaultBackoff``), so a sidecar that starts before the bundle server gets its bundle quickly;
* ``If-None-Match`` with the last ETag: a ``304`` costs nothing;
* timeouts (``opa.wasm_bundle_timeout``), an optional CA for https (``opa.wasm_bundle_ca_file``);
* for a bundle server that needs one, a bearer token (``opa.wasm_bundle_token_file``, OPA's
  ``credentials.bearer``), read from its file at each download so that a rotated token is used
  without a restart; a file that cannot be read fails that download (``download``), never sends
  the request without it.

Nothing unverified is ever used or kept: a download is read, its signature checked against
``opa.wasm_bundle_public_key`` and the module compiled and tried (:func:`load_bundle`, the same
check the engine makes) before it replaces the file, atomically (``os.replace`` of a written and
fsynced temporary file in the same folder). The file is then the last verified bundle: a restart
while the bundle server is down starts with it (OPA's ``persist``). Every worker's engine picks
the new file up by its own file check (``opa.wasm_reload_seconds``); the downloading worker at once.

A failed download, a bundle that does not verify or load, or a file that cannot be written keeps
the previous file, is logged and counted in ``sidecar_policy_download_errors_total{reason}``
(``download``, ``verify``, ``write``).

One downloader per file: gunicorn runs several workers, each with its own engine; only the worker
that holds an exclusive ``flock`` on ``<wasm_bundle>.lock`` downloads. The others try to take the
lock at every polling interval, so when that worker dies (the kernel drops its lock) another one
takes over; no master-side thread, and the same code works in a single process.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import random
import threading
from collections.abc import Callable
from typing import IO

import urllib3

from sidecar.fsutil import write_atomically
from sidecar.settings import OpaSettings
from sidecar.tls import ca_context, inherited
from sidecar.wasm_engine import MAX_BUNDLE_BYTES, BundleError, load_bundle, load_public_key

log = logging.getLogger("sidecar.wasm_download")

REASONS = ("download", "verify", "write")
_RETRY_BASE = 0.1  # seconds: OPA's minimum retry delay after a failed download


class DownloadError(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def retry_delay(failures: int, max_delay: float) -> float:
    """OPA's back-off after ``failures`` failed downloads in a row: 0.1 s doubling, capped at the
    maximum polling delay, with ±20 % jitter."""
    base: float = min(max_delay, _RETRY_BASE * 2 ** min(failures - 1, 30))
    return float(min(max_delay, base * random.uniform(0.8, 1.2)))  # noqa: S311 (jitter, not secrecy)


class BundleDownloader:
    """Downloads ``opa.wasm_bundle_url`` into ``opa.wasm_bundle`` (see the module's docstring)."""

    def __init__(self, settings: OpaSettings, *, on_new: Callable[[], object] | None = None) -> None:
        if settings.wasm_bundle_url is None or settings.wasm_bundle is None or settings.wasm_bundle_public_key is None:
            raise BundleError("opa.wasm_bundle_url needs opa.wasm_bundle and opa.wasm_bundle_public_key")
        self.url = settings.wasm_bundle_url
        self.path = settings.wasm_bundle
        self._settings = settings
        self._public_key = load_public_key(settings.wasm_bundle_public_key)
        self._on_new = on_new
        self._etag: str | None = None
        self._pending_etag: str | None = None  # the ETag of the download being checked
        self._http = urllib3.PoolManager(
            num_pools=1, maxsize=1, retries=False,  # no redirects either: the URL is the bundle
            # The master's context when under gunicorn (sidecar.tls: a worker reads no certificate file).
            ssl_context=(inherited("opa.wasm_bundle_ca_file")
                         or ca_context(settings.wasm_bundle_ca_file, "opa.wasm_bundle_ca_file"))
            if self.url.startswith("https://") else None,
            timeout=urllib3.Timeout(connect=settings.wasm_bundle_timeout.connect,
                                    read=settings.wasm_bundle_timeout.read))
        self._stop = threading.Event()
        self._lock_file: IO[bytes] | None = None
        from sidecar import metrics  # late: prometheus' multiprocess folder is set by then

        for reason in REASONS:
            metrics.policy_download_errors_total.labels(reason)

    # -- one download -----------------------------------------------------------------------------

    def _current_sha256(self) -> str | None:
        try:
            return hashlib.sha256(self.path.read_bytes()).hexdigest()
        except OSError:
            return None

    def _fetch(self) -> bytes | None:
        """The bundle's bytes, or ``None`` for 304 Not Modified. Raises DownloadError('download')."""
        headers = {"Accept": "application/gzip, application/octet-stream;q=0.9"}
        if self._etag is not None:
            headers["If-None-Match"] = self._etag
        try:
            token = self._settings.wasm_bundle_token()
        except (OSError, ValueError) as exc:
            raise DownloadError("download", f"opa.wasm_bundle_token_file: {exc}") from None
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        try:
            resp = self._http.request("GET", self.url, headers=headers, preload_content=False, redirect=False)
        except urllib3.exceptions.HTTPError as exc:
            raise DownloadError("download", f"GET {self.url}: {exc}") from None
        try:
            if resp.status == 304:
                return None
            if resp.status != 200:
                raise DownloadError("download", f"GET {self.url}: HTTP {resp.status}")
            chunks: list[bytes] = []
            size = 0
            for chunk in resp.stream(65536):
                size += len(chunk)
                if size > MAX_BUNDLE_BYTES:
                    raise DownloadError("download", f"GET {self.url}: larger than {MAX_BUNDLE_BYTES} bytes")
                chunks.append(chunk)
            etag = resp.headers.get("ETag")
        except urllib3.exceptions.HTTPError as exc:
            raise DownloadError("download", f"GET {self.url}: {exc}") from None
        finally:
            resp.release_conn()
        self._pending_etag = etag
        return b"".join(chunks)

    def download_once(self) -> str:
        """One request: ``not-modified``, ``unchanged`` (same bytes as the file) or ``updated``.
        Raises :class:`DownloadError` and keeps the file as it is on any failure."""
        self._pending_etag = None
        raw = self._fetch()
        if raw is None:
            return "not-modified"
        sha = hashlib.sha256(raw).hexdigest()
        if sha == self._current_sha256():
            self._etag = self._pending_etag
            return "unchanged"
        s = self._settings
        try:
            bundle = load_bundle(raw, public_key=self._public_key, algorithm=s.wasm_bundle_signing_alg,
                                 decision_path=s.decision_path)
        except BundleError as exc:
            raise DownloadError("verify", f"{self.url}: {exc}") from None
        try:
            write_atomically(self.path, raw)
        except OSError as exc:
            raise DownloadError("write", f"{self.path}: {exc}") from None
        # Only now: a bundle that failed to verify or to be written is asked for again, whole.
        self._etag = self._pending_etag
        log.info("wasm policy bundle downloaded", extra={
            "event": "policy_downloaded", "url": self.url, "path": str(self.path), "revision": bundle.revision})
        if self._on_new is not None:
            self._on_new()
        return "updated"

    def attempt(self) -> bool:
        """:meth:`download_once`, with a failure logged and counted. True when it did not fail."""
        from sidecar import metrics

        try:
            self.download_once()
            return True
        except DownloadError as exc:
            metrics.policy_download_errors_total.labels(exc.reason).inc()
            log.error("wasm policy bundle not downloaded; the previous one stays in use", extra={
                "event": "policy_download_failed", "reason": exc.reason, "url": self.url, "error": str(exc)})
            return False

    # -- the background loop ------------------------------------------------------------------------

    def try_lock(self) -> bool:
        """Take the downloader's lock (``<wasm_bundle>.lock``) if no other process holds it."""
        if self._lock_file is not None:
            return True
        lock_path = self.path.with_name(self.path.name + ".lock")
        fh = lock_path.open("ab")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            return False
        self._lock_file = fh
        log.info("this process downloads the wasm policy bundle", extra={
            "event": "policy_downloader", "url": self.url, "path": str(self.path)})
        return True

    def _polling_delay(self) -> float:
        p = self._settings.wasm_bundle_polling
        return random.uniform(p.min_delay_seconds, p.max_delay_seconds)  # noqa: S311 (spread, not secrecy)

    def run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                if not self.try_lock():
                    self._stop.wait(self._polling_delay())
                    continue
                if self.attempt():
                    failures = 0
                    delay = self._polling_delay()
                else:
                    failures += 1
                    delay = retry_delay(failures, self._settings.wasm_bundle_polling.max_delay_seconds)
            except Exception:  # the loop must survive anything; the current file stays
                log.exception("wasm bundle download loop failed", extra={"event": "policy_download_failed"})
                delay = self._polling_delay()
            self._stop.wait(delay)

    def start(self) -> BundleDownloader:
        threading.Thread(target=self.run, name="wasm-bundle-download", daemon=True).start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None
