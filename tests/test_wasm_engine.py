"""The wasm engine (opa.engine: wasm) against the real OPA server.

Every fixture case of policies/testdata/cases, batches of 50 built from them and the request-phase
variants of request_phase_test.rego are decided through OPA's REST API and through OPA's Wasm
compilation of the same policies in this process; the full decision documents must be equal, and
so must the checked :class:`Decision` objects (revision included: both bundles carry the same one).
Then loading: reload, a corrupt bundle, no bundle, a module that needs a builtin, a trap, signed
bundles (OPA signs, the engine verifies); one stack end to end with ``opa.engine: wasm``; and the
engines benchmark, minimally.
"""

from __future__ import annotations

import copy
import dataclasses
import io
import json
import os
import subprocess
import sys
import tarfile
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sidecar import metrics
from sidecar.devtools.demo import REPO_ROOT, Stack, build_wasm_bundle, find_opa, policy_revision
from sidecar.devtools.upstream import relations
from sidecar.opa import Decision, OpaClient, OpaError
from sidecar.settings import ConfigError, OpaSettings, load_settings
from sidecar.wasm_engine import BundleError, WasmEngine, load_bundle, load_public_key
from tests.helpers import DOCS, HULP, Running, new_ports, rsa_keypair

POLICIES = REPO_ROOT / "policies"
CASES: list[dict[str, Any]] = json.loads((POLICIES / "testdata" / "cases" / "data.json").read_text())
READ_ACTIONS = ("read", "list", "download")


# ---- helpers -------------------------------------------------------------------------------------

def union(a: Any, b: Any) -> Any:
    """Rego's object.union: objects merged recursively, ``b`` wins elsewhere."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = dict(a)
        for k, v in b.items():
            out[k] = union(a[k], v) if k in a else copy.deepcopy(v)
        return out
    return copy.deepcopy(b)


def case_input(case: dict[str, Any]) -> dict[str, Any]:
    """As cases_test.rego runs it: the case's input under the case's profile."""
    doc: dict[str, Any] = union(case["input"], {"context": {"profile": case["profile"]}})
    return doc


def request_phase_inputs() -> list[dict[str, Any]]:
    """request_phase_test.rego's inputs: each read-like case as the sidecar's request phase, and
    its variants (object id, subject id, time, trace changed)."""
    out = []
    for c in CASES:
        if c["input"]["action"]["name"] not in READ_ACTIONS:
            continue
        i = union(case_input(c), {
            "action": {"properties": {"phase": "request"}},
            "resource": {"properties": {"category": None, "vertrouwelijkheidaanduiding": None,
                                        "labels": None, "relation": None}},
            "context": {"herkomst": None}})
        out += [i, union(i, {"resource": {"id": "00000000-0000-4000-8000-000000000099"}}),
                union(i, {"resource": {"id": None}}), union(i, {"subject": {"id": "iemand-anders"}}),
                union(i, {"context": {"time": "2031-01-01T00:00:00Z"}}),
                union(i, {"context": {"traceparent": "00-11111111111111111111111111111111-2222222222222222-01"}})]
    return out


def batches() -> list[tuple[str, dict[str, Any]]]:
    """Per profile, a list response of 50 items (every case's resource in turn) asked by the
    subject, purpose and action of an allowed and of a denied read-like response-phase case."""
    out = []
    for profile in ("knmg", "wetsvoorstel"):
        resources = [c["input"]["resource"] for c in CASES if c["profile"] == profile]
        for allowed in (True, False):
            base = next(c for c in CASES if c["profile"] == profile and c["expect"]["decision"] is allowed
                        and c["input"]["action"]["name"] in READ_ACTIONS
                        and c["input"]["action"]["properties"]["phase"] == "response")
            doc = union(case_input(base), {"action": {"name": "list"}, "resource": {
                "id": None, "properties": {"category": None, "labels": None, "relation": None}}})
            doc["evaluations"] = [{"resource": copy.deepcopy(resources[i % len(resources)])} for i in range(50)]
            out.append((f"{profile}-{base['name']}", doc))
    return out


def rest_result(url: str, opa_input: dict[str, Any]) -> Any:
    """OPA's REST answer's ``result`` for the decision (``None`` when undefined)."""
    req = urllib.request.Request(f"{url}/v1/data/wams/authz/decision", data=json.dumps({"input": opa_input}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read()).get("result")


def timeless(d: Decision) -> Decision:
    return dataclasses.replace(d, duration_s=0.0)


def reload_errors() -> float:
    return sum(s.value for m in metrics.policy_reload_errors_total.collect() for s in m.samples
               if s.name.endswith("_total"))


def wasm_settings(bundle: Path, **kw: Any) -> OpaSettings:
    return OpaSettings(engine="wasm", wasm_bundle=bundle, **kw)


def opa_build(src: Path, out: Path, entrypoint: str, *extra: str) -> Path:
    res = subprocess.run([find_opa(), "build", "-b", "-t", "wasm", "-e", entrypoint, str(src), "-o", str(out), *extra],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    return out


def retar(src: Path, out: Path, change: dict[str, bytes]) -> Path:
    """A copy of a bundle with some files' contents replaced (the signature kept)."""
    with tarfile.open(src, "r:gz") as tin, tarfile.open(out, "w:gz") as tout:
        for m in tin.getmembers():
            data = tin.extractfile(m).read() if m.isfile() else None  # type: ignore[union-attr]
            if data is not None and m.name.lstrip("/") in change:
                data = change[m.name.lstrip("/")]
                m.size = len(data)
            tout.addfile(m, io.BytesIO(data) if data is not None else None)
    return out


def publish(src: Path, dest: Path) -> None:
    """Replace ``dest`` atomically (as an operator's deploy should), with a new mtime."""
    tmp = dest.with_suffix(".tmp")
    tmp.write_bytes(src.read_bytes())
    os.replace(tmp, dest)


# ---- the two engines, side by side -----------------------------------------------------------------

@dataclass
class Engines:
    url: str
    rest: OpaClient
    wasm: WasmEngine
    revision: str


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engines]:
    tmp = tmp_path_factory.mktemp("wasm-engines")
    stack = Stack(workdir=tmp / "stack", ports=new_ports(), workers=1)
    stack.prepare()
    revision = policy_revision(POLICIES)  # what Stack.start_opa's bundle carries
    bundle = tmp / "wasm.tar.gz"
    build_wasm_bundle(find_opa(), POLICIES, bundle, revision=revision)
    wasm = WasmEngine(wasm_settings(bundle), poll=False)
    try:
        stack.start_opa()
        url = f"http://127.0.0.1:{stack.ports.opa}"
        yield Engines(url, OpaClient(OpaSettings(url=url)), wasm, revision)
    finally:
        stack.stop()


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_every_fixture_case_decides_identically(engines: Engines, case: dict[str, Any]) -> None:
    doc = case_input(case)
    via_rest = rest_result(engines.url, doc)
    via_wasm = engines.wasm.evaluate(doc)
    assert via_wasm == via_rest
    assert via_wasm["decision"] is case["expect"]["decision"], case["name"]  # and it is the expected one
    wasm_decision = engines.wasm.decide(doc)
    assert timeless(wasm_decision) == timeless(engines.rest.decide(doc))
    assert wasm_decision.revision == engines.revision


def test_fixture_covers_both_outcomes_and_profiles() -> None:
    assert len(CASES) >= 100
    assert {(c["profile"], c["expect"]["decision"]) for c in CASES} >= {
        (p, d) for p in ("knmg", "wetsvoorstel") for d in (True, False)}


@pytest.mark.parametrize(("name", "doc"), batches(), ids=[n for n, _ in batches()])
def test_batches_of_50_decide_identically(engines: Engines, name: str, doc: dict[str, Any]) -> None:
    via_rest = rest_result(engines.url, doc)
    via_wasm = engines.wasm.evaluate(doc)
    assert via_wasm == via_rest
    assert len(via_wasm["evaluations"]) == 50
    wasm_decision = engines.wasm.decide(doc)
    assert timeless(wasm_decision) == timeless(engines.rest.decide(doc))
    assert len(wasm_decision.evaluations) == 50


def test_batches_mix_allowed_and_denied_items(engines: Engines) -> None:
    """The batches are worth comparing: some have items both allowed and denied."""
    mixed = [name for name, doc in batches()
             if len({ev.allow for ev in engines.wasm.decide(doc).evaluations}) == 2]
    assert mixed, "no batch has both allowed and denied items"


def test_request_phase_variants_decide_identically(engines: Engines) -> None:
    inputs = request_phase_inputs()
    assert len(inputs) >= 6 * 40
    differ = [(i["subject"]["properties"]["role"], i["context"]["purpose"])
              for i in inputs if engines.wasm.evaluate(i) != rest_result(engines.url, i)]
    assert differ == []
    assert {engines.wasm.decide(i).allow for i in inputs} == {True, False}


def test_query_reads_the_bundles_data_and_refuses_what_it_cannot_answer(engines: Engines) -> None:
    assert engines.wasm.query("profiles/knmg") == engines.rest.query("profiles/knmg")
    assert engines.wasm.query("profiles/no_such_profile") is None
    with pytest.raises(OpaError) as exc:
        engines.wasm.query("wams/profile/errors")  # a rule that is not an entrypoint: never a silent None
    assert "entrypoint" in str(exc.value)
    assert engines.wasm.healthy()


def test_unknown_obligation_on_an_allow_is_refused_as_over_rest(engines: Engines) -> None:
    """The same checks as the REST client (parse_decision): shown on the checker both share."""
    allowed = next(case_input(c) for c in CASES if c["expect"]["decision"])
    result = engines.wasm.evaluate(allowed)
    from sidecar.opa import parse_decision

    with pytest.raises(OpaError) as exc:
        parse_decision({**result, "obligations": [{"type": "no_such_obligation"}]}, allowed, "r", 0.0)
    assert exc.value.kind == "obligation"


# ---- loading -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("wasm-bundles")
    out = {}
    for rev in ("rev-a", "rev-b"):
        out[rev] = d / f"{rev}.tar.gz"
        build_wasm_bundle(find_opa(), POLICIES, out[rev], revision=rev)
    return out


def test_a_changed_bundle_is_picked_up(bundles: dict[str, Path], tmp_path: Path) -> None:
    path = tmp_path / "bundle.tar.gz"
    publish(bundles["rev-a"], path)
    engine = WasmEngine(wasm_settings(path), poll=False)
    doc = case_input(CASES[0])
    assert engine.decide(doc).revision == "rev-a"
    assert engine.refresh() is False  # unchanged file: nothing to do
    publish(bundles["rev-b"], path)
    assert engine.refresh() is True
    assert engine.decide(doc).revision == "rev-b"


def test_the_poller_reloads_within_the_interval(bundles: dict[str, Path], tmp_path: Path) -> None:
    from tests.helpers import wait_for

    path = tmp_path / "bundle.tar.gz"
    publish(bundles["rev-a"], path)
    engine = WasmEngine(wasm_settings(path, wasm_reload_seconds=0.2))
    try:
        publish(bundles["rev-b"], path)
        wait_for("the poller to load rev-b", lambda: engine.revision == "rev-b", timeout=30)
    finally:
        engine.close()


def test_a_corrupt_bundle_keeps_the_previous_one_and_counts(bundles: dict[str, Path], tmp_path: Path) -> None:
    path = tmp_path / "bundle.tar.gz"
    publish(bundles["rev-a"], path)
    engine = WasmEngine(wasm_settings(path), poll=False)
    before = reload_errors()
    bad = tmp_path / "bad"
    raw = bundles["rev-b"].read_bytes()
    for content in (b"not a tarball", raw[: len(raw) // 2]):
        bad.write_bytes(content)
        publish(bad, path)
        assert engine.refresh() is False
        assert engine.healthy() and engine.decide(case_input(CASES[0])).revision == "rev-a"
    assert reload_errors() == before + 2
    assert engine.refresh() is False and reload_errors() == before + 2  # counted once per file version
    # A bundle whose data the policy cannot use (not JSON) is refused too.
    publish(retar(bundles["rev-b"], tmp_path / "x.tar.gz", {"data.json": b"{nope"}), path)
    assert engine.refresh() is False and engine.revision == "rev-a" and reload_errors() == before + 3


def test_no_bundle_fails_closed_until_one_appears(bundles: dict[str, Path], tmp_path: Path) -> None:
    path = tmp_path / "missing.tar.gz"
    before = reload_errors()
    engine = WasmEngine(wasm_settings(path), poll=False)
    assert not engine.healthy()
    assert reload_errors() == before + 1
    for call in (lambda: engine.decide(case_input(CASES[0])), lambda: engine.query("profiles/knmg")):
        with pytest.raises(OpaError) as exc:
            call()
        assert exc.value.kind == "engine"
    publish(bundles["rev-a"], path)
    assert engine.refresh() is True and engine.healthy()


def test_a_module_that_needs_a_builtin_is_refused_naming_it(tmp_path: Path) -> None:
    """wams/profile/errors builds its messages with sprintf; the engine provides no builtins."""
    out = opa_build(POLICIES, tmp_path / "errors.tar.gz", "wams/profile/errors",
                    "--ignore", "*_test.rego", "--ignore", "testdata", "--ignore", ".regal", "--ignore", "*.md")
    with pytest.raises(BundleError, match=r"builtin.*sprintf"):
        load_bundle(out.read_bytes(), decision_path="wams/profile/errors")


def test_a_bundle_without_the_decision_entrypoint_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "p.rego").write_text("package t\n\nallow := true\n")
    out = opa_build(src, tmp_path / "t.tar.gz", "t/allow")
    with pytest.raises(BundleError, match="wams/authz/decision is not an entrypoint"):
        load_bundle(out.read_bytes())


def test_a_trap_is_an_engine_error_and_the_next_decision_works(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "p.rego").write_text('package t\n\ndecision := {"decision": true} if input.a\n\n'
                                'decision := {"decision": false} if input.b\n')
    out = opa_build(src, tmp_path / "t.tar.gz", "t/decision")
    engine = WasmEngine(wasm_settings(out, decision_path="t/decision"), poll=False)
    with pytest.raises(OpaError) as exc:
        engine.decide({"a": True, "b": True})  # conflicting values: opa_abort in the module
    assert exc.value.kind == "engine" and "conflict" in str(exc.value)
    assert engine.decide({"a": True}).allow is True
    with pytest.raises(OpaError) as exc:
        engine.decide({})
    assert exc.value.kind == "undefined"


def test_an_evaluation_past_the_read_timeout_is_interrupted_and_fails_closed(tmp_path: Path) -> None:
    """As a decision over REST is bounded by opa.timeout.read, so is an evaluation in process: a
    policy that would run for about twenty minutes on its input (2000³ iterations) is interrupted, the decision
    fails closed as ``timeout``, and the instance is replaced, so the next decision works."""
    import threading

    src = tmp_path / "src"
    src.mkdir()
    (src / "p.rego").write_text("package t\n\ndecision := {\"decision\": count({1 | some a in input.xs; "
                                "some b in input.xs; some c in input.xs}) == 1}\n")
    out = opa_build(src, tmp_path / "t.tar.gz", "t/decision")
    settings = wasm_settings(out, decision_path="t/decision")
    settings = settings.model_copy(update={"wasm_instances": 1,
                                           "timeout": settings.timeout.model_copy(update={"read": 0.3})})
    engine = WasmEngine(settings, poll=False)
    assert engine.decide({"xs": [1, 2]}).allow is True
    outcome: list[BaseException | Decision] = []

    def slow() -> None:
        try:
            outcome.append(engine.decide({"xs": list(range(2000))}))
        except BaseException as exc:  # the test inspects whatever came out
            outcome.append(exc)

    worker = threading.Thread(target=slow, daemon=True)
    worker.start()
    worker.join(120)  # a liveness guard, not a measurement: uninterrupted, this runs for minutes on end
    assert not worker.is_alive(), "the evaluation was not interrupted"
    (exc,) = outcome
    assert isinstance(exc, OpaError) and exc.kind == "timeout", exc
    assert "0.3 s" in str(exc)
    assert engine.decide({"xs": [1]}).allow is True  # the one instance was replaced


def test_instances_are_pooled_up_to_the_setting_and_a_wait_fails_closed(bundles: dict[str, Path],
                                                                          tmp_path: Path) -> None:
    """opa.wasm_instances bounds the instances a worker makes (each holds the policy data), however
    many threads decide; with every instance busy past opa.timeout.read a decision fails closed."""
    import threading

    path = tmp_path / "bundle.tar.gz"
    publish(bundles["rev-a"], path)
    settings = wasm_settings(path).model_copy(update={"wasm_instances": 2})
    engine = WasmEngine(settings, poll=False)
    doc = case_input(CASES[0])
    expected = engine.decide(doc).allow
    answers: list[bool] = []

    def decide_many() -> None:
        for _ in range(20):
            answers.append(engine.decide(doc).allow)

    threads = [threading.Thread(target=decide_many) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [expected] * 120
    assert engine._made <= 2 and engine._pool.qsize() == engine._made
    # A new bundle: instances of the old one are dropped as they come back, not reused.
    publish(bundles["rev-b"], path)
    assert engine.refresh() is True
    assert engine.decide(doc).revision == "rev-b" and engine._made <= 2
    # Every instance taken: the next decision waits opa.timeout.read and fails closed.
    short = settings.model_copy(update={"wasm_instances": 1,
                                        "timeout": settings.timeout.model_copy(update={"read": 0.2})})
    one = WasmEngine(short, poll=False)
    held = one._borrow(one._bundle)  # type: ignore[arg-type]
    with pytest.raises(OpaError) as exc:
        one.decide(doc)
    assert exc.value.kind == "timeout"
    one._pool.put(held)
    assert one.decide(doc).allow is expected


# ---- signed bundles ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def signing(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("wasm-signing")
    priv, pub = rsa_keypair(d, "signer")
    other, _ = rsa_keypair(d, "other")
    signed = d / "signed.tar.gz"
    build_wasm_bundle(find_opa(), POLICIES, signed, revision="rev-signed", signing_key=priv)
    return {"priv": priv, "pub": pub, "other": other, "signed": signed, "dir": d}


def test_a_bundle_signed_by_opa_loads(signing: dict[str, Path]) -> None:
    engine = WasmEngine(wasm_settings(signing["signed"], wasm_bundle_public_key=signing["pub"]), poll=False)
    assert engine.healthy() and engine.decide(case_input(CASES[0])).revision == "rev-signed"


@pytest.mark.parametrize("kind", ["unsigned", "tampered_data", "tampered_wasm", "other_key", "extra_file"])
def test_a_badly_signed_bundle_is_refused(signing: dict[str, Path], tmp_path: Path, kind: str) -> None:
    key = load_public_key(signing["pub"])
    signed = signing["signed"]
    if kind == "unsigned":
        bad = tmp_path / "unsigned.tar.gz"
        build_wasm_bundle(find_opa(), POLICIES, bad, revision="rev-unsigned")
        why = "missing .signatures.json"
    elif kind == "tampered_data":
        with tarfile.open(signed) as tf:
            data = json.loads(tf.extractfile("/data.json").read())  # type: ignore[union-attr]
        data["profiles"]["knmg"]["geheimhouders_zonder_toestemming"] = "altijd"
        bad = retar(signed, tmp_path / "t.tar.gz", {"data.json": json.dumps(data).encode()})
        why = "data.json: digest mismatch"
    elif kind == "tampered_wasm":
        with tarfile.open(signed) as tf:
            wasm = bytearray(tf.extractfile("/policy.wasm").read())  # type: ignore[union-attr]
        wasm[-1] ^= 1
        bad = retar(signed, tmp_path / "t.tar.gz", {"policy.wasm": bytes(wasm)})
        why = "policy.wasm: digest mismatch"
    elif kind == "other_key":
        bad = tmp_path / "other.tar.gz"
        build_wasm_bundle(find_opa(), POLICIES, bad, revision="rev-other", signing_key=signing["other"])
        why = "failed to verify JWT signature"
    else:
        bad = tmp_path / "extra.tar.gz"
        with tarfile.open(signed, "r:gz") as tin, tarfile.open(bad, "w:gz") as tout:
            for m in tin.getmembers():
                tout.addfile(m, tin.extractfile(m) if m.isfile() else None)
            extra = tarfile.TarInfo("/extra/data.json")
            payload = b'{"x": 1}'
            extra.size = len(payload)
            tout.addfile(extra, io.BytesIO(payload))
        why = "extra/data.json not included in bundle signature"
    with pytest.raises(BundleError) as exc:
        load_bundle(bad.read_bytes(), public_key=key)
    assert why in str(exc.value)
    # Through the engine: refused at start-up, so not healthy, and every decision fails closed.
    engine = WasmEngine(wasm_settings(bad, wasm_bundle_public_key=signing["pub"]), poll=False)
    assert not engine.healthy()
    with pytest.raises(OpaError):
        engine.decide(case_input(CASES[0]))


def test_json_files_are_hashed_as_opa_does(signing: dict[str, Path], tmp_path: Path) -> None:
    """data.json is signed over OPA's canonical re-encoding (bundle/hash.go): sorted keys (by
    UTF-8 bytes), Go's string escapes (\\b, \\f, \\u00XX, \\u2028, HTML characters as they are),
    numbers as written. OPA signs data full of such cases; the engine must verify it."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "p.rego").write_text('package t\n\ndecision := {"decision": true, "echo": data.x}\n')
    (src / "data.json").write_text(
        r'{"x": {"s": "a\"b\\c\b\f\n\r\t\u0001\u001f\u007f<>&\u2028\u2029é€😀\/",'
        r' "n": [1.0, 1e3, -0, 12345678901234567890123, 0.1, 1E-7, 5],'
        r' "keys": {"é": 1, "z": 2, "A": 3, "a": 4, "€": 5, "😀": 6, "": 7, "a\u0000": 8},'
        r' "b": [true, false, null], "nested": [[{}], []]}}', encoding="utf-8")
    out = opa_build(src, tmp_path / "t.tar.gz", "t/decision", "--signing-key", str(signing["priv"]))
    bundle = load_bundle(out.read_bytes(), public_key=load_public_key(signing["pub"]), decision_path="t/decision")
    assert bundle.data["x"]["keys"]["€"] == 5
    # And one changed character of it is a mismatch.
    with tarfile.open(out) as tf:
        raw = tf.extractfile("/data.json").read()  # type: ignore[union-attr]
    assert b"\\u2028" in raw
    with pytest.raises(BundleError, match=r"data\.json: digest mismatch"):
        load_bundle(retar(out, tmp_path / "x.tar.gz", {"data.json": raw.replace(b"\\u2028", b"\\u2029", 1)})
                    .read_bytes(), public_key=load_public_key(signing["pub"]), decision_path="t/decision")


# ---- settings ------------------------------------------------------------------------------------

def test_settings_wasm_needs_a_bundle_and_a_readable_key(tmp_path: Path) -> None:
    stack = Stack(workdir=tmp_path, ports=new_ports(), workers=1, config_extra={"opa": {"engine": "rest"}})
    stack.prepare()
    with pytest.raises(ConfigError, match="wasm_bundle"):
        load_settings(stack.config_path, env={"SIDECAR_OPA__ENGINE": "wasm"})
    s = load_settings(stack.config_path, env={"SIDECAR_OPA__ENGINE": "wasm", "SIDECAR_OPA__WASM_BUNDLE": "b.tar.gz"})
    assert s.opa.wasm_bundle == tmp_path / "b.tar.gz"  # relative to the config file
    assert s.opa.engine == "wasm" and s.opa.wasm_reload_seconds == 5.0
    (tmp_path / "nokey.pem").write_text("not a key")
    with pytest.raises(ConfigError, match="wasm_bundle_public_key"):
        load_settings(stack.config_path, env={"SIDECAR_OPA__ENGINE": "wasm", "SIDECAR_OPA__WASM_BUNDLE": "b.tar.gz",
                                              "SIDECAR_OPA__WASM_BUNDLE_PUBLIC_KEY": "nokey.pem"})
    assert load_settings(stack.config_path, env={}).opa.engine == "rest"  # as configured (wasm is the default)


# ---- readiness -------------------------------------------------------------------------------------

def readyz(tmp_path: Path, bundle: Path) -> tuple[int, Any]:
    """``/-/readyz`` of the app from create_app with ``opa.engine: wasm`` on ``bundle``, in this
    process, with no OPA server running at all."""
    from werkzeug.test import Client, TestResponse

    from sidecar.app import create_app

    # engine rest in the file: no demo bundle or key, the bundle comes from the environment.
    stack = Stack(workdir=tmp_path / "stack", ports=new_ports(), workers=1, config_extra={"opa": {"engine": "rest"}})
    stack.prepare()
    settings = load_settings(stack.config_path, env={"SIDECAR_OPA__ENGINE": "wasm",
                                                     "SIDECAR_OPA__WASM_BUNDLE": str(bundle)})
    host, port = settings.listen.admin_addr
    resp: TestResponse = Client(create_app(settings), TestResponse).get("/-/readyz", base_url=f"http://{host}:{port}")
    return resp.status_code, resp.json


def test_readiness_with_the_wasm_engine(bundles: dict[str, Path], tmp_path: Path) -> None:
    status, body = readyz(tmp_path / "good", bundles["rev-a"])
    assert (status, body["problems"]) == (200, [])
    status, body = readyz(tmp_path / "none", tmp_path / "missing.tar.gz")
    assert status == 503 and body["problems"] == ["opa: not answering or bundle not activated"]


def test_readiness_refuses_an_invalid_profile_with_the_wasm_engine(tmp_path: Path) -> None:
    """The wasm module has no wams/profile/errors (sprintf); the decision's PROFILE deny stands in."""
    import shutil

    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies, ignore=shutil.ignore_patterns("testdata"))
    knmg = policies / "profiles" / "knmg" / "data.json"
    profile = json.loads(knmg.read_text())
    profile["beroepscode_als_wettelijk"] = "misschien"
    knmg.write_text(json.dumps(profile))
    bundle = tmp_path / "bad-profile.tar.gz"
    build_wasm_bundle(find_opa(), policies, bundle, revision="bad-profile")
    status, body = readyz(tmp_path, bundle)
    # No OPA server answers here to name the problem: the message points to the tool.
    assert status == 503 and body["problems"] == ["opa: profile 'knmg' is invalid: see 'sidecar profiles check'"]


# ---- end to end ------------------------------------------------------------------------------------

def test_stack_with_the_wasm_engine_allows_and_denies_end_to_end(tmp_path: Path) -> None:
    """The proxy decides with the wasm engine: its records name the wasm bundle's revision, and it
    keeps deciding after the OPA server (which only the console and explain use) is stopped."""
    ports = new_ports()
    bundle = tmp_path / "policy-wasm.tar.gz"
    build_wasm_bundle(find_opa(), POLICIES, bundle, revision="wasm-e2e")
    stack = Stack(workdir=tmp_path / "stack", ports=ports, workers=1, config_extra={"opa": {
        "url": f"http://127.0.0.1:{ports.opa}", "engine": "wasm", "wasm_bundle": str(bundle)}})
    stack.start()
    run = Running(stack)
    try:
        stack.stop_one("opa")
        assert run.wait_readiness(200).status == 200
        sub = relations()["users"]["consulent"]  # related to zaken, so need-to-know is not why items go
        allowed = run.proxy("GET", DOCS, run.headers("consulent", HULP, sub=sub))
        assert allowed.status == 200, allowed.body
        recs = run.records_of(allowed)
        assert recs and all(r["policy"]["revision"] == "wasm-e2e" for r in recs)
        assert {r["decision"] for r in recs if r["phase"] == "response"} == {"allow", "deny"}  # filtered list
        denied = run.proxy("GET", DOCS, run.headers("handhaving", "handhaving"))
        assert denied.status == 403
        last = run.records_of(denied)[-1]
        assert last["decision"] == "deny" and "P1" in last["reasons"] and last["policy"]["revision"] == "wasm-e2e"
        assert run.metric("sidecar_policy_reload_errors_total") == 0
    finally:
        stack.stop()


# ---- the benchmark -------------------------------------------------------------------------------

def test_bench_engines_runs_and_reports_both_engines() -> None:
    res = subprocess.run([sys.executable, "-m", "bench.engines", "--decisions", "30", "--batches", "5", "--json"],
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)
    assert {(r["engine"], r["case"]) for r in rows} == {
        (e, c) for e in ("rest", "wasm") for c in ("single decision", "batch of 50")}
    for r in rows:
        assert r["cpu_ms"] > 0 and r["wall_ms"] > 0 and r["n"] > 0
        assert set(r["cpu_ms_by"]) == ({"sidecar", "opa"} if r["engine"] == "rest" else {"sidecar"})
