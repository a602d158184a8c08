"""Delivery of the signed Wasm bundle (``opa.wasm_bundle_url``, sidecar/wasm_download.py).

A loopback HTTP server with ETags plays the bundle server; the bundles are built by ``make bundle``
(which publishes the signed Wasm bundle beside OPA's, same key and revision). In process: the first
download, ``304 Not Modified``, refused bundles (tampered, another key, unsigned) keeping the
previous file and counted, the server down, one downloader per file. Then the real ``sidecar
serve``: a sidecar that starts with the bundle server down but a kept file is ready; with no file
it is not ready and fails closed (503, recorded); and one that starts empty downloads, decides
with the downloaded revision and follows a new one.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sidecar import metrics
from sidecar.devtools.demo import REPO_ROOT, Stack, build_wasm_bundle, find_opa
from sidecar.settings import BundlePolling, OpaSettings, Timeouts
from sidecar.wasm_download import BundleDownloader, DownloadError, retry_delay
from sidecar.wasm_engine import WasmEngine
from tests.helpers import DOCS, HULP, Running, make_bundle, new_ports, rsa_keypair, start_sidecar_not_ready, wait_for

POLICIES = REPO_ROOT / "policies"


class EtagServer:
    """Serves ``/bundle-wasm.tar.gz`` from memory with a strong ETag (its SHA-256) and answers
    ``If-None-Match`` with 304, as object stores and nginx do. Counts requests and 304s."""

    def __init__(self, token: str | None = None) -> None:
        self.body: bytes | None = None
        self.requests: list[dict[str, str]] = []
        self.not_modified = 0
        self.token = token  # when set, a request without "Authorization: Bearer <token>" gets 401
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests.append(dict(self.headers.items()))
                if owner.token is not None and self.headers.get("Authorization") != f"Bearer {owner.token}":
                    self.send_response(401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = owner.body
                if self.path != "/bundle-wasm.tar.gz" or body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                etag = '"' + hashlib.sha256(body).hexdigest() + '"'
                if self.headers.get("If-None-Match") == etag:
                    owner.not_modified += 1
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/gzip")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("ETag", etag)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/bundle-wasm.tar.gz"
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def publish(self, bundle: Path) -> None:
        self.body = bundle.read_bytes()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def revision_of(path: Path) -> str:
    import json

    with tarfile.open(path) as tf:
        for m in tf.getmembers():
            if m.name.lstrip("/") == ".manifest":
                rev: str = json.loads(tf.extractfile(m).read())["revision"]  # type: ignore[union-attr]
                return rev
    raise AssertionError("no .manifest")


def tamper_wasm(signed: Path, out: Path) -> Path:
    """The signed Wasm bundle with its data changed after signing (signature kept)."""
    with tarfile.open(signed, "r:gz") as src, tarfile.open(out, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read() if member.isfile() else None  # type: ignore[union-attr]
            if data is not None and member.name.lstrip("/") == "data.json":
                data = data.replace(b'"knmg"', b'"knmh"', 1)
                member.size = len(data)
            dst.addfile(member, io.BytesIO(data) if data is not None else None)
    return out


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``make bundle`` twice (revisions one and two) with one key, once with another; the Wasm
    halves, a tampered one and an unsigned one."""
    d = tmp_path_factory.mktemp("wasm-download")
    priv, pub = rsa_keypair(d, "signer")
    other, _ = rsa_keypair(d, "other")
    out: dict[str, Path] = {"pub": pub}
    for name, key, rev in (("one", priv, "rev-one"), ("two", priv, "rev-two"), ("other", other, "rev-other")):
        make_bundle(d / name / "bundle.tar.gz", key, rev)
        out[name] = d / name / "bundle-wasm.tar.gz"
        assert out[name].is_file(), "make bundle did not write bundle-wasm.tar.gz beside bundle.tar.gz"
        assert revision_of(out[name]) == rev == revision_of(d / name / "bundle.tar.gz")
    out["tampered"] = tamper_wasm(out["two"], d / "tampered.tar.gz")
    out["unsigned"] = d / "unsigned.tar.gz"
    build_wasm_bundle(find_opa(), POLICIES, out["unsigned"], revision="rev-unsigned")
    return out


@pytest.fixture
def server() -> Iterator[EtagServer]:
    srv = EtagServer()
    yield srv
    srv.close()


def settings_for(tmp_path: Path, url: str, pub: Path, **over: Any) -> OpaSettings:
    return OpaSettings(engine="wasm", wasm_bundle=tmp_path / "kept" / "bundle-wasm.tar.gz", wasm_bundle_url=url,
                       wasm_bundle_public_key=pub, wasm_bundle_timeout=Timeouts(connect=1, read=2), **over)


def errors(reason: str) -> float:
    return metrics.policy_download_errors_total.labels(reason)._value.get()  # type: ignore[no-any-return]


# ---- in process -----------------------------------------------------------------------------------

def test_first_download_then_not_modified(published: dict[str, Path], server: EtagServer, tmp_path: Path) -> None:
    server.publish(published["one"])
    s = settings_for(tmp_path, server.url, published["pub"])
    s.wasm_bundle.parent.mkdir()  # type: ignore[union-attr]
    engine = WasmEngine(s, poll=False)
    assert not engine.healthy()  # nothing kept yet
    dl = BundleDownloader(s, on_new=engine.refresh)
    try:
        assert dl.download_once() == "updated"
        assert s.wasm_bundle.read_bytes() == published["one"].read_bytes()  # type: ignore[union-attr]
        assert engine.healthy() and engine.revision == "rev-one"  # on_new: no wait for the file check
        assert "If-None-Match" not in server.requests[0]
        assert dl.download_once() == "not-modified"
        assert server.requests[-1]["If-None-Match"].startswith('"') and server.not_modified == 1
        server.publish(published["two"])
        assert dl.download_once() == "updated" and engine.revision == "rev-two"
        assert dl.download_once() == "not-modified" and server.not_modified == 2
        # No temporary files left beside the kept bundle.
        assert sorted(p.name for p in s.wasm_bundle.parent.iterdir()) == ["bundle-wasm.tar.gz"]  # type: ignore[union-attr]
    finally:
        dl.close()
        engine.close()


@pytest.mark.parametrize("kind", ["tampered", "other", "unsigned"])
def test_a_refused_bundle_keeps_the_previous_one_and_counts(kind: str, published: dict[str, Path],
                                                            server: EtagServer, tmp_path: Path) -> None:
    server.publish(published["one"])
    s = settings_for(tmp_path, server.url, published["pub"])
    s.wasm_bundle.parent.mkdir()  # type: ignore[union-attr]
    engine = WasmEngine(s, poll=False)
    dl = BundleDownloader(s, on_new=engine.refresh)
    try:
        assert dl.download_once() == "updated"
        kept = s.wasm_bundle.read_bytes()  # type: ignore[union-attr]
        server.publish(published[kind])
        before = errors("verify")
        with pytest.raises(DownloadError) as exc:
            dl.download_once()
        assert exc.value.reason == "verify"
        why = {"tampered": "digest mismatch", "other": "failed to verify JWT signature",
               "unsigned": "missing .signatures.json"}[kind]
        assert why in str(exc.value)
        assert s.wasm_bundle.read_bytes() == kept and engine.revision == "rev-one"  # type: ignore[union-attr]
        # attempt(): logged and counted; asked for again whole next time (no ETag of a refused one).
        assert dl.attempt() is False and errors("verify") == before + 1
        assert server.not_modified == 0
        assert engine.refresh() is False and engine.revision == "rev-one"
    finally:
        dl.close()
        engine.close()


def test_server_down_or_missing_bundle_keeps_the_file(published: dict[str, Path], server: EtagServer,
                                                      tmp_path: Path) -> None:
    server.publish(published["one"])
    s = settings_for(tmp_path, server.url, published["pub"])
    s.wasm_bundle.parent.mkdir()  # type: ignore[union-attr]
    dl = BundleDownloader(s)
    try:
        assert dl.download_once() == "updated"
        kept = s.wasm_bundle.read_bytes()  # type: ignore[union-attr]
        server.body = None  # 404
        before = errors("download")
        assert dl.attempt() is False and errors("download") == before + 1
        server.close()  # connection refused
        assert dl.attempt() is False and errors("download") == before + 2
        assert s.wasm_bundle.read_bytes() == kept  # type: ignore[union-attr]
    finally:
        dl.close()


def test_an_unwritable_folder_counts_as_write(published: dict[str, Path], server: EtagServer, tmp_path: Path) -> None:
    server.publish(published["one"])
    s = settings_for(tmp_path, server.url, published["pub"])  # the folder "kept" does not exist
    dl = BundleDownloader(s)
    before = errors("write")
    try:
        assert dl.attempt() is False and errors("write") == before + 1
    finally:
        dl.close()


def test_only_one_downloader_per_file(published: dict[str, Path], server: EtagServer, tmp_path: Path) -> None:
    s = settings_for(tmp_path, server.url, published["pub"])
    s.wasm_bundle.parent.mkdir()  # type: ignore[union-attr]
    first, second = BundleDownloader(s), BundleDownloader(s)
    try:
        assert first.try_lock() is True
        assert second.try_lock() is False
        first.close()  # the holder goes (a worker exits): another takes over
        assert second.try_lock() is True
    finally:
        first.close()
        second.close()


def test_a_bundle_server_that_needs_a_token_gets_it_from_its_file_at_each_download(
        published: dict[str, Path], tmp_path: Path) -> None:
    """opa.wasm_bundle_token_file: the token goes with every request (OPA's credentials.bearer), a
    rotated token is used at the next download without a restart, and a token file that cannot be
    read fails the download without sending the request bare; the kept bundle stays."""
    server = EtagServer(token="s3cr3t-one")
    server.publish(published["one"])
    token = tmp_path / "bundle-token"
    token.write_text("s3cr3t-one\n")
    bare = BundleDownloader(settings_for(tmp_path / "bare", server.url, published["pub"]))
    dl = BundleDownloader(settings_for(tmp_path, server.url, published["pub"], wasm_bundle_token_file=token))
    dl.path.parent.mkdir()
    try:
        with pytest.raises(DownloadError, match="HTTP 401"):
            bare.download_once()
        assert "Authorization" not in server.requests[-1]
        assert dl.download_once() == "updated" and revision_of(dl.path) == "rev-one"
        assert server.requests[-1]["Authorization"] == "Bearer s3cr3t-one"
        server.token = "s3cr3t-two"  # rotated on the server first: refused until the file has it too
        server.publish(published["two"])
        with pytest.raises(DownloadError, match="HTTP 401"):
            dl.download_once()
        token.write_text("s3cr3t-two")
        assert dl.download_once() == "updated" and revision_of(dl.path) == "rev-two"
        for broken, why in ((b"", "one token"), (b"two tokens\n", "one token"), (b"s3cr\xe9t", "not UTF-8")):
            token.write_bytes(broken)
            asked = len(server.requests)
            with pytest.raises(DownloadError, match=rf"wasm_bundle_token_file.*{why}") as exc:
                dl.download_once()
            assert exc.value.reason == "download" and len(server.requests) == asked
            assert "xe9" not in str(exc.value)  # no byte of the secret in the message
        token.unlink()
        with pytest.raises(DownloadError, match=r"wasm_bundle_token_file.*No such file"):
            dl.download_once()
        assert len(server.requests) == asked and revision_of(dl.path) == "rev-two"
    finally:
        bare.close()
        dl.close()
        server.close()


def test_the_token_file_is_checked_at_start(tmp_path: Path, published: dict[str, Path]) -> None:
    import yaml
    from pydantic import ValidationError

    from sidecar.devtools.demo import Ports, write_config
    from sidecar.settings import ConfigError, load_settings

    with pytest.raises(ValidationError, match=r"wasm_bundle_token_file is set but opa\.wasm_bundle_url is not"):
        OpaSettings(engine="wasm", wasm_bundle=tmp_path / "b", wasm_bundle_token_file=tmp_path / "t")
    path = write_config(tmp_path, Ports(), profile="knmg")
    cfg = yaml.safe_load(path.read_text())
    cfg["opa"].update({"wasm_bundle_url": "https://bundles.example/bundle-wasm.tar.gz",
                       "wasm_bundle_public_key": str(published["pub"]), "wasm_bundle_token_file": "bundle-token"})
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(ConfigError, match=r"opa\.wasm_bundle_token_file: cannot read"):
        load_settings(path, env={})
    (path.parent / "bundle-token").write_text("\n")
    with pytest.raises(ConfigError, match=r"opa\.wasm_bundle_token_file: .*does not hold one token"):
        load_settings(path, env={})
    (path.parent / "bundle-token").write_text("t0ken\n")  # relative to the configuration file
    s = load_settings(path, env={})
    assert s.opa.wasm_bundle_token_file == path.parent / "bundle-token" and s.opa.wasm_bundle_token() == "t0ken"


def test_retry_delay_backs_off_to_the_maximum() -> None:
    assert 0.08 <= retry_delay(1, 120) <= 0.12
    assert 0.16 <= retry_delay(2, 120) <= 0.24
    assert retry_delay(40, 120) <= 120 and retry_delay(40, 120) >= 96
    assert 0.8 <= retry_delay(5, 1) <= 1  # 1.6 s capped at the maximum (jitter never exceeds it)


def test_settings_for_the_url(tmp_path: Path, published: dict[str, Path]) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="wasm_bundle_public_key"):
        OpaSettings(engine="wasm", wasm_bundle=tmp_path / "b", wasm_bundle_url="http://x/b.tar.gz")
    with pytest.raises(ValidationError, match=r"needs opa\.wasm_bundle \("):
        OpaSettings(engine="wasm", wasm_bundle_url="http://x/b.tar.gz", wasm_bundle_public_key=published["pub"])
    with pytest.raises(ValidationError, match="http:// or https://"):
        OpaSettings(engine="wasm", wasm_bundle=tmp_path / "b", wasm_bundle_url="ftp://x/b",
                    wasm_bundle_public_key=published["pub"])
    with pytest.raises(ValidationError, match="wasm_bundle_ca_file"):
        OpaSettings(engine="wasm", wasm_bundle=tmp_path / "b", wasm_bundle_url="http://x/b.tar.gz",
                    wasm_bundle_public_key=published["pub"], wasm_bundle_ca_file=tmp_path / "ca.pem")
    with pytest.raises(ValidationError, match="max_delay_seconds"):
        BundlePolling(min_delay_seconds=10, max_delay_seconds=5)
    assert OpaSettings(url="http://127.0.0.1:8181").engine == "wasm"  # a client of the OPA server alone


def test_engine_wasm_without_a_bundle_is_a_config_error(tmp_path: Path) -> None:
    import yaml

    from sidecar.devtools.demo import Ports, write_config
    from sidecar.settings import ConfigError, load_settings

    path = write_config(tmp_path, Ports(), profile="knmg")
    cfg = yaml.safe_load(path.read_text())
    assert cfg["opa"]["engine"] == "wasm" and load_settings(path, env={}).opa.engine == "wasm"
    del cfg["opa"]["engine"], cfg["opa"]["wasm_bundle"]  # the default engine, and no bundle
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(ConfigError, match=r"opa\.wasm_bundle .*opa\.wasm_bundle_url.*or set opa\.engine: rest"):
        load_settings(path, env={})
    assert load_settings(path, env={"SIDECAR_OPA__ENGINE": "rest"}).opa.engine == "rest"


# ---- the real sidecar ------------------------------------------------------------------------------

def wasm_stack(tmp_path: Path, url: str, pub: Path) -> Stack:
    ports = new_ports()
    return Stack(workdir=tmp_path / "stack", ports=ports, workers=2, config_extra={"opa": {
        "url": f"http://127.0.0.1:{ports.opa}", "engine": "wasm", "wasm_bundle": "kept/bundle-wasm.tar.gz",
        "wasm_bundle_url": url, "wasm_bundle_public_key": str(pub), "wasm_reload_seconds": 0.5,
        "wasm_bundle_polling": {"min_delay_seconds": 0.5, "max_delay_seconds": 1},
        "wasm_bundle_timeout": {"connect": 0.5, "read": 2}}})


def test_sidecar_downloads_decides_with_it_and_follows_new_revisions(
        published: dict[str, Path], server: EtagServer, tmp_path: Path) -> None:
    server.publish(published["one"])
    stack = wasm_stack(tmp_path, server.url, published["pub"])
    (stack.workdir / "kept").mkdir(parents=True)
    stack.start()  # waits for ready: the bundle was downloaded
    run = Running(stack)
    try:
        reply = run.proxy("GET", DOCS, run.headers("consulent", HULP))
        assert reply.status == 200
        assert {r["policy"]["revision"] for r in run.records_of(reply)} == {"rev-one"}
        # One downloader for the two workers: a second one would ask without an ETag at least once.
        wait_for("a few polls", lambda: len(server.requests) >= 3)
        assert server.not_modified >= 2
        assert sum("If-None-Match" not in h for h in server.requests) == 1
        server.publish(published["two"])

        def decides_with_two() -> bool:
            r = run.proxy("GET", DOCS, run.headers("consulent", HULP))
            return r.status == 200 and run.records_of(r)[-1]["policy"]["revision"] == "rev-two"

        wait_for("decisions with rev-two in both workers", lambda: all(decides_with_two() for _ in range(6)))
        server.publish(published["tampered"])
        wait_for("the tampered bundle refused", lambda: run.metric("sidecar_policy_download_errors_total",
                                                                   reason="verify") >= 1)
        reply = run.proxy("GET", DOCS, run.headers("consulent", HULP))
        assert reply.status == 200 and run.records_of(reply)[-1]["policy"]["revision"] == "rev-two"
        assert run.admin("/-/readyz").status == 200
        assert "policy_download_failed" in run.log()
        assert revision_of(stack.workdir / "kept" / "bundle-wasm.tar.gz") == "rev-two"
    finally:
        stack.stop()


def test_bundle_server_down_at_start_with_a_kept_bundle_is_ready(
        published: dict[str, Path], server: EtagServer, tmp_path: Path) -> None:
    url = server.url
    server.close()  # nothing answers there
    stack = wasm_stack(tmp_path, url, published["pub"])
    (stack.workdir / "kept").mkdir(parents=True)
    (stack.workdir / "kept" / "bundle-wasm.tar.gz").write_bytes(published["one"].read_bytes())
    stack.start()
    run = Running(stack)
    try:
        reply = run.proxy("GET", DOCS, run.headers("consulent", HULP))
        assert reply.status == 200 and run.records_of(reply)[-1]["policy"]["revision"] == "rev-one"
        wait_for("a failed download counted", lambda: run.metric("sidecar_policy_download_errors_total",
                                                                 reason="download") >= 1)
        assert run.admin("/-/readyz").status == 200
    finally:
        stack.stop()


def test_no_bundle_ever_loaded_is_not_ready_and_fails_closed(
        published: dict[str, Path], server: EtagServer, tmp_path: Path) -> None:
    url = server.url
    server.close()
    stack = wasm_stack(tmp_path, url, published["pub"])
    (stack.workdir / "kept").mkdir(parents=True)
    stack.prepare()
    stack.start_opa()  # the OPA server answers: it must not stand in for the missing bundle
    stack.start_upstream()
    first = start_sidecar_not_ready(stack, timeout=60)
    run = Running(stack)
    try:
        assert first.status == 503
        assert run.wait_readiness(200, timeout=3).status == 503
        assert "opa" in str(run.admin("/-/readyz").json()["problems"])
        mark = run.mark_upstream()
        reply = run.proxy("GET", DOCS, run.headers("consulent", HULP))
        assert reply.status == 503 and reply.header("content-type") == "application/problem+json"
        assert run.upstream_since(mark) == []
        rec = run.records_of(reply)[-1]
        assert rec["decision"] == "deny" and rec["reasons"] == ["OPA_ENGINE"]
        assert run.metric("sidecar_policy_download_errors_total", reason="download") >= 1
    finally:
        stack.stop()


# ---- the demo ----------------------------------------------------------------------------------------

def test_the_demo_stack_decides_with_the_signed_wasm_bundle(tmp_path: Path) -> None:
    """``sidecar demo`` and every integration test's Stack: the default engine (wasm) on a bundle
    built and signed at start with the workdir's demo key; OPA's bundle has the same revision.
    Stopping OPA opens nothing and closes nothing: the proxy decides as before."""
    import yaml

    from sidecar.devtools.demo import policy_revision
    from sidecar.settings import load_settings

    stack = Stack(workdir=tmp_path / "stack", ports=new_ports(), workers=1)
    stack.start()
    run = Running(stack)
    try:
        cfg = yaml.safe_load(stack.config_path.read_text())["opa"]
        settings = load_settings(stack.config_path, env={}).opa
        assert cfg["engine"] == "wasm" and settings.wasm_bundle is not None
        assert settings.wasm_bundle_public_key is not None and settings.wasm_bundle_public_key.is_file()
        with tarfile.open(settings.wasm_bundle) as tf:
            assert {m.name.lstrip("/") for m in tf.getmembers()} >= {"policy.wasm", ".signatures.json", ".manifest"}
        revision = policy_revision(POLICIES)
        assert revision_of(settings.wasm_bundle) == revision == revision_of(stack.workdir / "bundle.tar.gz")
        allowed = run.proxy("GET", DOCS, run.headers("consulent", HULP))
        denied = run.proxy("GET", DOCS, run.headers("handhaving", "handhaving"))
        assert (allowed.status, denied.status) == (200, 403)
        assert {r["policy"]["revision"] for r in run.records()} == {revision}
        stack.stop_one("opa")
        assert run.proxy("GET", DOCS, run.headers("consulent", HULP)).status == 200
        again = run.proxy("GET", DOCS, run.headers("handhaving", "handhaving"))
        assert again.status == 403 and "P1" in run.records_of(again)[-1]["reasons"]
        assert run.wait_readiness(200).status == 200
    finally:
        stack.stop()
