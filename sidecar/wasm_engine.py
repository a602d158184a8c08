"""The policy evaluated in this process: OPA's own WebAssembly compilation of the same Rego.

``opa build -t wasm -e wams/authz/decision policies/`` (``make wasm-bundle``) compiles the
policies into ``/policy.wasm`` of an OPA bundle, beside ``/data.json`` (the profiles) and
``/.manifest`` (the revision). This module loads such a bundle, instantiates the module with
wasmtime and speaks OPA's Wasm ABI (docs: "WebAssembly" on openpolicyagent.org, ABI 1.2 or later):
the data document is parsed once into each instance's memory and the heap pointer after it is
kept; every decision writes its input just above it and calls ``opa_eval``, which resets the heap
to that point, so nothing accumulates between decisions.

It offers what :class:`sidecar.enforce.Enforcer` and :class:`sidecar.app.Readiness` use from
:class:`sidecar.opa.OpaClient` (``decide``, ``query``, ``healthy``), with the same checks of the
decision (:func:`sidecar.opa.parse_decision`). Everything that is not a well-formed decision is an
:class:`OpaError`, so the caller fails closed exactly as with OPA over HTTP:

* no bundle loaded, a trap, an ``opa_abort``, a builtin call: kind ``engine``;
* an evaluation still running after ``opa.timeout.read`` (it is interrupted: wasmtime's epoch
  deadline), or no instance free within that time: ``timeout``, as a slow OPA over HTTP;
* the decision undefined: ``undefined``; malformed or an unknown obligation: as over HTTP.

Threads: a wasmtime ``Store`` is not thread-safe, so an instance (its store, memory and data) serves
one evaluation at a time; a pool of at most ``opa.wasm_instances`` of them is shared by the
worker's threads (the evaluation itself runs outside the GIL, so more instances than cores only
cost memory). The compiled ``Module`` is shared by all of them and compiled once per process and
bundle.

Reload: the bundle file is checked at most every ``opa.wasm_reload_seconds`` (by a background
thread, so no request waits for a compilation). A new file (other mtime, size or inode) is read,
verified, compiled and tried on a probe instance before it replaces the current bundle in one
assignment; threads pick it up on their next decision. A file that does not load keeps the
previous bundle, is logged and counted in ``sidecar_policy_reload_errors_total`` (once per version
of the file, not on every check).

Signed bundles (``opa.wasm_bundle_public_key``): verified as OPA's default verifier does
(``bundle/verify.go``): ``/.signatures.json`` holds exactly one JWT, signed with the configured key
and algorithm, whose payload lists every file of the bundle with its digest; ``data.json`` and
``.manifest`` are hashed over a canonical re-encoding of their JSON (``bundle/hash.go``), any other
file over its bytes. Every file must be listed and every listed file present. Stricter than OPA:
no exclusions, no MD5/SHA-1 digests, no verifier plugins, no YAML data files.
"""

from __future__ import annotations

import ctypes
import hashlib
import io
import json
import logging
import math
import os
import queue
import tarfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import orjson
import wasmtime
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from sidecar import metrics
from sidecar.opa import Decision, OpaError, parse_decision
from sidecar.settings import OpaSettings

log = logging.getLogger("sidecar.wasm_engine")

# A bundle of these policies is a few hundred kB; anything near this is not one (or a gzip bomb).
MAX_BUNDLE_BYTES = 64 * 1024 * 1024
# Wasm pages (64 KiB) one instance may grow to: a runaway evaluation traps instead of eating the host.
MAX_MEMORY_PAGES = 8192
_PAGE = 65536
SIGNATURES_FILE = ".signatures.json"
# Hashed over the canonical form of their JSON, as OPA's bundle.IsStructuredDoc says.
_STRUCTURED = frozenset({"data.json", ".manifest", "signatures.json", "data.yaml"})
# OPA's hashing algorithm names (bundle/hash.go); MD5 and SHA-1 are refused here on purpose.
_DIGESTS: dict[str, Callable[[], Any]] = {
    "SHA-224": hashlib.sha224, "SHA-256": hashlib.sha256, "SHA-384": hashlib.sha384,
    "SHA-512": hashlib.sha512, "SHA-512-224": lambda: hashlib.new("sha512_224"),
    "SHA-512-256": lambda: hashlib.new("sha512_256"),
}


def _new_engine() -> wasmtime.Engine:
    config = wasmtime.Config()
    # An evaluation is bounded in time, as a decision over REST is by its read timeout: compiled
    # code checks the engine's epoch (advanced by _EpochClock) at loops and calls, and traps
    # (TrapCode.INTERRUPT) once its store's deadline has passed.
    config.epoch_interruption = True
    return wasmtime.Engine(config)


_ENGINE = _new_engine()  # one per process: modules compiled with it are shared by all stores
EPOCH_TICK = 0.05  # seconds per epoch: a deadline is kept to within one tick
_SETUP_SECONDS = 60.0  # a new instance's set-up (parsing the data document) runs under this deadline


class _EpochClock:
    """Advances the engine's epoch every :data:`EPOCH_TICK` seconds: one daemon thread per
    process, started with the first instance (and again in a forked child, where it is gone)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = False

    def ensure(self) -> None:
        if self._running:
            return
        with self._lock:
            if not self._running:
                threading.Thread(target=self._run, name="wasm-epoch", daemon=True).start()
                self._running = True

    def _run(self) -> None:
        while True:
            time.sleep(EPOCH_TICK)
            _ENGINE.increment_epoch()

    def forked(self) -> None:
        self._lock = threading.Lock()
        self._running = False


_CLOCK = _EpochClock()
os.register_at_fork(after_in_child=_CLOCK.forked)


def deadline_ticks(seconds: float) -> int:
    """Epochs from now until ``seconds`` have passed for certain (the current tick may be nearly over)."""
    return math.ceil(seconds / EPOCH_TICK) + 1

# opa_eval is called through wasmtime's C API directly (see _OpaEval); these are the pieces of
# wasmtime-py that call uses. Pinned by the lock file; a wasmtime-py without them fails at import,
# not at the first decision.
from wasmtime import _ffi as _wffi  # noqa: E402
from wasmtime import _func as _wfunc  # noqa: E402

_OPA_EVAL_PARAMS = 7  # opa_eval(reserved, entrypoint, data, input, input_len, heap_ptr, format) -> i32
for _owner, _names in ((_wffi, ("dll", "wasmtime_func_call_unchecked", "wasmtime_val_raw_t", "wasm_trap_t",
                                "wasmtime_context_t", "wasmtime_memory_t")),
                       (_wfunc, ("maybe_raise_last_exn",))):
    for _name in _names:
        getattr(_owner, _name)  # AttributeError now, at import, with another wasmtime-py

# The memory's address and size, through a handle on the same library that keeps the GIL: wasmtime-py
# calls them through ctypes.CDLL, which lets go of the GIL and takes it back around every call, and
# under load each take-back waits for another thread (twice per look-up, for a few ns of work).
_wlib_gil = ctypes.PyDLL(_wffi.dll._name)
_MEMORY_DATA = _wlib_gil.wasmtime_memory_data
_MEMORY_DATA.restype = ctypes.c_void_p
_MEMORY_DATA.argtypes = [ctypes.POINTER(_wffi.wasmtime_context_t), ctypes.POINTER(_wffi.wasmtime_memory_t)]
_MEMORY_SIZE = _wlib_gil.wasmtime_memory_data_size
_MEMORY_SIZE.restype = ctypes.c_size_t
_MEMORY_SIZE.argtypes = [ctypes.POINTER(_wffi.wasmtime_context_t), ctypes.POINTER(_wffi.wasmtime_memory_t)]
_SET_DEADLINE = _wlib_gil.wasmtime_context_set_epoch_deadline
_SET_DEADLINE.restype = None
_SET_DEADLINE.argtypes = [ctypes.POINTER(_wffi.wasmtime_context_t), ctypes.c_uint64]


class BundleError(Exception):
    """A bundle that cannot be used; the message says why, for the operator."""


# ---- OPA's canonical JSON hash (bundle/hash.go) ---------------------------------------------------

class _Number(str):
    """A JSON number kept as its literal text: OPA decodes with json.Number and hashes the text."""


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _exact_json(raw: bytes, what: str) -> Any:
    try:
        return json.loads(raw.decode("utf-8"), parse_int=_Number, parse_float=_Number,
                          parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BundleError(f"{what}: not valid JSON ({exc})") from None


def _go_string(s: str) -> bytes:
    """A string as Go's encoding/json writes it with SetEscapeHTML(false) (Go 1.22 and later)."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif o < 0x20:
            out.append({"\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(ch, f"\\u00{o:02x}"))
        elif 0xD800 <= o <= 0xDFFF:
            out.append("\ufffd")  # Go decodes a lone surrogate escape to U+FFFD
        elif ch in "\u2028\u2029":
            out.append(f"\\u{o:04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out).encode("utf-8")


def _go_key(s: str) -> bytes:
    """Sort key of an object key: Go sorts strings by their UTF-8 bytes."""
    return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in s).encode("utf-8")


def _walk(v: Any, h: Any) -> None:
    if isinstance(v, dict):
        h.update(b"{")
        for i, key in enumerate(sorted(v, key=_go_key)):
            if i:
                h.update(b",")
            h.update(_go_string(key))
            h.update(b":")
            _walk(v[key], h)
        h.update(b"}")
    elif isinstance(v, list):
        h.update(b"[")
        for i, item in enumerate(v):
            if i:
                h.update(b",")
            _walk(item, h)
        h.update(b"]")
    elif isinstance(v, _Number):
        h.update(str(v).encode("ascii"))
    elif isinstance(v, str):
        h.update(_go_string(v))
    elif v is True:
        h.update(b"true")
    elif v is False:
        h.update(b"false")
    elif v is None:
        h.update(b"null")
    else:  # pragma: no cover - json.loads gives nothing else
        raise BundleError(f"unexpected JSON value {type(v).__name__}")


def file_digest(name: str, content: bytes, algorithm: str) -> bytes:
    """The digest OPA signs for a bundle file (``name`` without the leading slash)."""
    factory = _DIGESTS.get(algorithm)
    if factory is None:
        raise BundleError(f"{name}: hashing algorithm {algorithm!r} is not accepted "
                          f"(use one of {', '.join(_DIGESTS)})")
    h = factory()
    if name.rsplit("/", 1)[-1] in _STRUCTURED:
        _walk(_exact_json(content, name), h)
    else:
        h.update(content)
    digest: bytes = h.digest()
    return digest


# ---- reading and verifying a bundle -----------------------------------------------------------------

def read_tarball(raw: bytes) -> dict[str, bytes]:
    """The regular files of a bundle (.tar.gz), by name without the leading slash."""
    files: dict[str, bytes] = {}
    total = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:gz") as tf:
            for member in tf:
                if member.isdir():
                    continue
                name = member.name.lstrip("/")
                if not member.isfile():
                    raise BundleError(f"{member.name}: not a regular file")
                if not name or name.startswith("./") or ".." in name.split("/") or name in files:
                    raise BundleError(f"{member.name}: unexpected or repeated file name")
                total += member.size
                if total > MAX_BUNDLE_BYTES:
                    raise BundleError(f"bundle larger than {MAX_BUNDLE_BYTES} bytes unpacked")
                fh = tf.extractfile(member)
                assert fh is not None
                files[name] = fh.read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BundleError(f"not a readable .tar.gz bundle: {exc}") from None
    return files


def verify_signature(files: dict[str, bytes], public_key: Any, algorithm: str) -> None:
    """Check ``.signatures.json`` against every other file, as OPA's default verifier does.
    Raises :class:`BundleError` naming the first problem."""
    raw = files.get(SIGNATURES_FILE)
    if raw is None:
        raise BundleError("bundle missing .signatures.json (unsigned bundle, but a public key is configured)")
    config = _exact_json(raw, SIGNATURES_FILE)
    if not isinstance(config, dict):
        raise BundleError(".signatures.json: not an object")
    if config.get("plugin", "") not in ("", "_default"):  # "_default": OPA's own JWT verifier
        raise BundleError(f".signatures.json: verifier plugin {config.get('plugin')!r} is not supported")
    tokens = config.get("signatures")
    if not isinstance(tokens, list) or len(tokens) != 1 or not isinstance(tokens[0], str):
        raise BundleError(".signatures.json: expected exactly one JWT")
    try:
        payload_raw = jwt.PyJWS().decode(tokens[0], key=public_key, algorithms=[algorithm])
    except jwt.PyJWTError as exc:
        raise BundleError(f".signatures.json: failed to verify JWT signature: {exc}") from None
    payload = _exact_json(payload_raw, "signature payload")
    if not isinstance(payload, dict):
        raise BundleError("signature payload: not an object")
    # OPA compares the payload's scope with the configured one; none is configured here.
    if payload.get("scope", "") != "":
        raise BundleError("signature payload: scope mismatch")
    listed: dict[str, dict[str, Any]] = {}
    entries = payload.get("files")
    if not isinstance(entries, list):
        raise BundleError("signature payload: no list of files")
    for entry in entries:
        if not (isinstance(entry, dict) and isinstance(entry.get("name"), str)
                and isinstance(entry.get("hash"), str) and isinstance(entry.get("algorithm"), str)):
            raise BundleError("signature payload: a file entry lacks name, hash or algorithm")
        listed[entry["name"]] = entry
    for name, content in files.items():
        if name == SIGNATURES_FILE:
            continue
        entry = listed.pop(name, None)
        if entry is None:
            raise BundleError(f"file {name} not included in bundle signature")
        if not entry["algorithm"]:
            raise BundleError(f"no hashing algorithm provided for file {name}")
        try:
            want = bytes.fromhex(entry["hash"])
        except ValueError:
            raise BundleError(f"{name}: signed digest is not hex") from None
        got = file_digest(name, content, entry["algorithm"])
        if want != got:
            raise BundleError(f"{name}: digest mismatch (want: {want.hex()}, got: {got.hex()})")
    if listed:
        raise BundleError(f"file(s) {sorted(listed)} specified in bundle signatures but not found in the bundle")


def load_public_key(path: Path) -> Any:
    """The PEM public key that signs bundles (``opa.wasm_bundle_public_key``)."""
    try:
        return load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise BundleError(f"{path}: not a readable PEM public key ({exc})") from None


# ---- one instance of the module ---------------------------------------------------------------------

def _leb(buf: bytes, pos: int, signed: bool = False) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            if signed and byte & 0x40:
                result -= 1 << shift
            return result, pos


def data_pages(wasm: bytes) -> int:
    """Pages the module's active data segments need. The module declares a smaller minimum for
    its imported memory than its static data (strings of the policy) fill, and a memory that is
    too small traps on instantiation, so the host sizes it from the data section."""
    if wasm[:8] != b"\0asm\x01\0\0\0":
        raise BundleError("policy.wasm is not a WebAssembly 1.0 module")
    pos, end_needed = 8, 0
    try:
        while pos < len(wasm):
            section, pos = wasm[pos], pos + 1
            size, pos = _leb(wasm, pos)
            if section == 11:  # data
                p = pos
                count, p = _leb(wasm, p)
                for _ in range(count):
                    flags, p = _leb(wasm, p)
                    if flags == 2:
                        _, p = _leb(wasm, p)  # memory index
                    offset = None
                    if flags in (0, 2):
                        if wasm[p] != 0x41:  # only i32.const offsets are expected from OPA
                            raise BundleError("policy.wasm: a data segment offset is not a constant")
                        offset, p = _leb(wasm, p + 1, signed=True)
                        if wasm[p] != 0x0B:
                            raise BundleError("policy.wasm: unexpected data segment offset expression")
                        p += 1
                    length, p = _leb(wasm, p)
                    p += length
                    if offset is not None:
                        end_needed = max(end_needed, offset + length)
            pos += size
    except IndexError:
        raise BundleError("policy.wasm is truncated") from None
    return (end_needed + _PAGE - 1) // _PAGE


_HOST_FUNCS = frozenset({"opa_abort", "opa_println", *(f"opa_builtin{n}" for n in range(5))})


class _Abort(Exception):
    """Raised from a host import: opa_abort, or a builtin the host does not provide."""


class _OpaEval:
    """``opa_eval`` with one foreign call per decision.

    ``wasmtime.Func.__call__`` looks the function's type up and converts every argument on every
    call: some sixty ctypes calls, and each one lets go of the GIL and takes it back. With a
    worker's threads busy, every take-back waits for another thread: under load that handing over
    of the GIL cost more CPU than the evaluation. The type is checked once here (seven i32 in,
    one i32 out), so ``wasmtime_func_call_unchecked`` may be used; traps and exceptions raised by
    the host imports (``opa_abort``) come out as ``Func.__call__`` raises them."""

    def __init__(self, store: wasmtime.Store, func: wasmtime.Func) -> None:
        ty = func.type(store)
        i32 = wasmtime.ValType.i32()
        if len(ty.params) != _OPA_EVAL_PARAMS or any(p != i32 for p in ty.params) or ty.results != [i32]:
            raise BundleError(f"policy.wasm: opa_eval has type {ty.params} -> {ty.results}, "
                              f"not OPA's ABI (7 i32 -> i32)")
        self._context = store._context()
        self._func = ctypes.byref(func._func)
        self._vals = (_wffi.wasmtime_val_raw_t * _OPA_EVAL_PARAMS)()

    def __call__(self, *args: int) -> int:
        vals = self._vals
        for i, a in enumerate(args):
            vals[i].i32 = a
        trap = ctypes.POINTER(_wffi.wasm_trap_t)()
        error = _wffi.wasmtime_func_call_unchecked(self._context, self._func, vals, _OPA_EVAL_PARAMS,
                                                   ctypes.byref(trap))
        if error:
            _wfunc.maybe_raise_last_exn()
            raise wasmtime.WasmtimeError._from_ptr(error)
        if trap:
            trapped = wasmtime.Trap._from_ptr(trap)
            _wfunc.maybe_raise_last_exn()  # an exception a host import raised, as Func.__call__ does
            raise trapped
        return int(vals[0].i32) & 0xFFFFFFFF  # an address: unsigned


class _Instance:
    """One store, memory and instance of a bundle's module, with the data loaded. One thread only."""

    def __init__(self, bundle: LoadedBundle) -> None:
        self.bundle = bundle
        store = wasmtime.Store(_ENGINE)
        self._store = store
        self._ctx = store._context()
        # Setting up (the data document parsed into memory) may take longer than one decision.
        _CLOCK.ensure()
        _SET_DEADLINE(self._ctx, deadline_ticks(_SETUP_SECONDS))
        mem_type = next((i.type for i in bundle.module.imports
                         if i.module == "env" and i.name == "memory" and isinstance(i.type, wasmtime.MemoryType)), None)
        if mem_type is None:
            raise BundleError("policy.wasm does not import env.memory (not an OPA Wasm module)")
        pages = max(mem_type.limits.min, bundle.data_pages)
        self._memory = wasmtime.Memory(store, wasmtime.MemoryType(wasmtime.Limits(pages, MAX_MEMORY_PAGES)))
        self._mem_ref = ctypes.byref(self._memory._memory)
        self._cached_view: memoryview | None = None
        self._view_at = (0, 0)
        imports: list[wasmtime.Func | wasmtime.Memory] = []
        for imp in bundle.module.imports:
            if imp.module == "env" and imp.name == "memory":
                imports.append(self._memory)
            elif imp.module == "env" and imp.name in _HOST_FUNCS and isinstance(imp.type, wasmtime.FuncType):
                imports.append(wasmtime.Func(store, imp.type, self._host(imp.name)))
            else:
                raise BundleError(f"policy.wasm imports {imp.module}.{imp.name}, which OPA's ABI does not define")
        try:
            instance = wasmtime.Instance(store, bundle.module, imports)
        except (wasmtime.WasmtimeError, wasmtime.Trap) as exc:
            raise BundleError(f"policy.wasm cannot be instantiated: {exc}") from None
        ex = instance.exports(store)
        self._ex = ex

        def glob(name: str) -> int:
            g = ex.get(name)
            return int(g.value(store)) if isinstance(g, wasmtime.Global) else -1

        major, minor = glob("opa_wasm_abi_version"), glob("opa_wasm_abi_minor_version")
        if major != 1 or minor < 2:
            raise BundleError(f"policy.wasm has OPA Wasm ABI {major}.{minor}; 1.2 or later (opa_eval) is needed")
        self._eval_fn = _OpaEval(store, self._func("opa_eval"))
        builtins = self._dump(self._func("builtins")(store))
        if builtins:
            # The policies need none; a host implementation could differ from OPA's, so a module
            # that asks for one is refused rather than evaluated differently.
            raise BundleError(f"policy.wasm requires builtin(s) the sidecar does not provide: {sorted(builtins)}")
        entrypoints = self._dump(self._func("entrypoints")(store))
        if not isinstance(entrypoints, dict) or not all(isinstance(v, int) for v in entrypoints.values()):
            raise BundleError("policy.wasm: entrypoints() is not a mapping of names to ids")
        self.entrypoints: dict[str, int] = entrypoints
        # The data document, parsed once; the heap after it is where every evaluation starts.
        addr = self._write_new(bundle.data_json)
        self._data_addr = int(self._func("opa_json_parse")(store, addr, len(bundle.data_json)))
        if not self._data_addr:
            raise BundleError("data.json: OPA's Wasm JSON parser refused it")
        self._func("opa_free")(store, addr)
        if ex.get("opa_heap_blocks_stash") is not None:
            self._func("opa_heap_blocks_stash")(store)  # ABI 1.3: keep freed blocks out of evaluations
        self._heap = int(self._func("opa_heap_ptr_get")(store))

    def _func(self, name: str) -> wasmtime.Func:
        f = self._ex.get(name)
        if not isinstance(f, wasmtime.Func):
            raise BundleError(f"policy.wasm does not export {name}")
        return f

    def _host(self, name: str) -> Callable[..., Any]:
        if name == "opa_abort":
            def abort(addr: int) -> None:
                raise _Abort(f"opa_abort: {self._string_at(addr)[:500]!r}")
            return abort
        if name == "opa_println":
            def println(addr: int) -> None:
                log.info("policy println", extra={"event": "policy_println", "text": self._string_at(addr)[:500]})
            return println

        def builtin(*args: int) -> int:
            raise _Abort(f"{name}: builtin {args[0] if args else '?'} called, but the sidecar provides none")
        return builtin

    def _view(self) -> memoryview:
        """The linear memory, as bytes. Its address and size change only when the memory grows (an
        evaluation may grow it), so they are looked up on every use; the look-ups keep the GIL
        (see _MEMORY_DATA), and reading or writing the view is a plain copy."""
        ctx, mem = self._ctx, self._mem_ref
        at = (_MEMORY_DATA(ctx, mem), _MEMORY_SIZE(ctx, mem))
        if at != self._view_at or self._cached_view is None:
            self._cached_view = memoryview((ctypes.c_ubyte * at[1]).from_address(at[0])).cast("B")
            self._view_at = at
        return self._cached_view

    def _string_at(self, addr: int) -> bytes:
        view = self._view()
        size = len(view)
        if not 0 < addr < size:
            raise _Abort(f"string address {addr} outside memory")
        start, chunk = addr, 1024
        while start < size:  # the results are small: read on in chunks until the terminating NUL
            end = min(size, start + chunk)
            nul = view[start:end].tobytes().find(b"\0")
            if nul >= 0:
                return view[addr:start + nul].tobytes()
            start, chunk = end, chunk * 4
        raise _Abort("string not terminated within memory")

    def _dump(self, value_addr: int) -> Any:
        return orjson.loads(self._string_at(int(self._func("opa_json_dump")(self._store, value_addr))))

    def _ensure(self, end: int) -> None:
        size = _MEMORY_SIZE(self._ctx, self._mem_ref)
        if end > size:
            self._memory.grow(self._store, (end - size + _PAGE - 1) // _PAGE)

    def _write_new(self, data: bytes) -> int:
        addr = int(self._func("opa_malloc")(self._store, len(data)))
        self._ensure(addr + len(data))
        self._view()[addr:addr + len(data)] = data
        return addr

    def evaluate(self, entrypoint: int, input_json: bytes, deadline: int) -> bytes:
        """The result set (JSON) of one evaluation, interrupted after ``deadline`` epochs (a
        :class:`wasmtime.Trap` with :attr:`wasmtime.TrapCode.INTERRUPT`). Raises anything wasmtime
        or the host raises."""
        self._ensure(self._heap + len(input_json))
        self._view()[self._heap:self._heap + len(input_json)] = input_json
        _SET_DEADLINE(self._ctx, deadline)
        out = self._eval_fn(0, entrypoint, self._data_addr, self._heap, len(input_json),
                            self._heap + len(input_json), 0)
        return self._string_at(int(out))


# ---- a loaded bundle and the engine -----------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class LoadedBundle:
    revision: str | None
    module: wasmtime.Module
    data_json: bytes
    data: Any  # parsed data.json, for queries of data paths (profiles)
    entrypoints: dict[str, int]
    sha256: str
    data_pages: int  # the memory's initial size (data_pages())


def load_bundle(raw: bytes, *, public_key: Any = None, algorithm: str = "RS256",
                decision_path: str = "wams/authz/decision") -> LoadedBundle:
    """Read, verify (with ``public_key``), compile and try a bundle. Raises :class:`BundleError`."""
    files = read_tarball(raw)
    if public_key is not None:
        verify_signature(files, public_key, algorithm)
    for name in files:
        if name != SIGNATURES_FILE and name.rsplit("/", 1)[-1] in ("data.yaml", "data.yml", "patch.json"):
            raise BundleError(f"{name}: only a snapshot bundle with data.json is supported")
        if name != SIGNATURES_FILE and name.endswith("signatures.json"):
            raise BundleError(f"{name}: unexpected signatures file")
    missing = [n for n in ("policy.wasm", "data.json", ".manifest") if n not in files]
    if missing:
        raise BundleError(f"not a wasm bundle of opa build -t wasm: missing {missing}")
    if [n for n in files if n.endswith(".wasm") and n != "policy.wasm"]:
        raise BundleError("more than one Wasm module in the bundle")
    manifest = _exact_json(files[".manifest"], ".manifest")
    if not isinstance(manifest, dict) or not isinstance(manifest.get("revision", ""), str):
        raise BundleError(".manifest: no revision string")
    data_json = files["data.json"]
    try:
        data = orjson.loads(data_json)
    except orjson.JSONDecodeError as exc:
        raise BundleError(f"data.json: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise BundleError("data.json: the root is not an object")
    try:
        module = wasmtime.Module(_ENGINE, files["policy.wasm"])
    except wasmtime.WasmtimeError as exc:
        raise BundleError(f"policy.wasm does not compile: {exc}") from None
    probe = LoadedBundle(manifest.get("revision") or None, module, data_json, data, {},
                         hashlib.sha256(raw).hexdigest(), data_pages(files["policy.wasm"]))
    try:
        entrypoints = _Instance(probe).entrypoints
    except (_Abort, wasmtime.Trap, wasmtime.WasmtimeError) as exc:
        raise BundleError(f"policy.wasm fails on loading its data: {exc}") from None
    if decision_path not in entrypoints:
        raise BundleError(f"{decision_path} is not an entrypoint of policy.wasm (has {sorted(entrypoints)}); "
                          f"build with opa build -t wasm -e {decision_path}")
    return LoadedBundle(probe.revision, module, data_json, data, entrypoints, probe.sha256, probe.data_pages)


class WasmEngine:
    """The policy in this process. ``decide``/``query``/``healthy`` as :class:`sidecar.opa.OpaClient`."""

    def __init__(self, settings: OpaSettings, *, poll: bool = True) -> None:
        if settings.wasm_bundle is None:
            raise BundleError("opa.wasm_bundle is required with opa.engine: wasm")
        self._path = settings.wasm_bundle
        self._decision_path = settings.decision_path
        self._interval = settings.wasm_reload_seconds
        self._algorithm = settings.wasm_bundle_signing_alg
        self._public_key = (load_public_key(settings.wasm_bundle_public_key)
                            if settings.wasm_bundle_public_key is not None else None)
        self._bundle: LoadedBundle | None = None
        self._seen: tuple[int, ...] | None = None  # the file version last loaded or refused
        self._reload_lock = threading.Lock()
        # Instances are pooled, not one per thread: evaluation runs outside the GIL (ctypes), so more
        # instances than cores buy nothing, and each costs ≈ 4 MB (its store, memory and copy of the data).
        self._pool: queue.LifoQueue[_Instance] = queue.LifoQueue()
        self._pool_size = settings.wasm_instances
        self._made = 0
        self._made_lock = threading.Lock()
        self._wait = settings.timeout.read
        self._deadline = deadline_ticks(settings.timeout.read)
        self._stop = threading.Event()
        # opa.wasm_bundle_url: what keeps the file current (sidecar.wasm_download); closed with this.
        self.downloader: Any = None
        self.refresh()
        if poll:
            threading.Thread(target=self._poll, name="wasm-bundle-reload", daemon=True).start()

    # -- loading --------------------------------------------------------------------------------

    def _stat(self) -> tuple[int, ...]:
        try:
            st = os.stat(self._path)
        except OSError:
            return ()  # missing: a version of its own
        return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_dev)

    def refresh(self) -> bool:
        """Load the bundle file if it changed since the last look. True when a new bundle is in use."""
        with self._reload_lock:
            before = self._stat()
            if before == self._seen:
                return False
            try:
                raw = self._path.read_bytes()
                if self._stat() != before:
                    return False  # being written: look again next time
                if self._bundle is not None and hashlib.sha256(raw).hexdigest() == self._bundle.sha256:
                    self._seen = before
                    return False
                bundle = load_bundle(raw, public_key=self._public_key, algorithm=self._algorithm,
                                     decision_path=self._decision_path)
            except Exception as exc:  # anything wrong with the file keeps the current bundle
                self._seen = before
                metrics.policy_reload_errors_total.inc()
                log.error("wasm policy bundle not loaded", extra={
                    "event": "policy_reload_failed", "path": str(self._path), "error": str(exc),
                    "kept_revision": self._bundle.revision if self._bundle else None})
                return False
            self._seen = before
            old = self._bundle
            self._bundle = bundle  # one assignment: each decision sees the old or the new bundle, whole
            log.info("wasm policy bundle loaded", extra={
                "event": "policy_loaded", "path": str(self._path), "revision": bundle.revision,
                "previous_revision": old.revision if old else None})
            return True

    def _poll(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.refresh()
            except Exception:  # the poller must survive anything; the current bundle stays
                log.exception("wasm bundle check failed", extra={"event": "policy_reload_failed"})

    def close(self) -> None:
        self._stop.set()
        if self.downloader is not None:
            self.downloader.close()

    @property
    def revision(self) -> str | None:
        b = self._bundle
        return b.revision if b else None

    # -- evaluating -----------------------------------------------------------------------------

    def _evaluate(self, entrypoint: str, opa_input: dict[str, Any] | None) -> tuple[LoadedBundle, Any]:
        """(bundle, the result set). Raises OpaError ``engine`` on any failure of the machinery."""
        bundle = self._bundle
        if bundle is None:
            raise OpaError("engine", f"no wasm policy bundle loaded from {self._path}")
        inst = self._borrow(bundle)
        try:
            # No input: length 0, so that input is undefined (as over REST), not null.
            raw = inst.evaluate(bundle.entrypoints[entrypoint],
                                orjson.dumps(opa_input) if opa_input is not None else b"", self._deadline)
        except Exception as exc:  # a trap, an abort, memory: this instance may be broken, drop it
            self._discard()
            if isinstance(exc, wasmtime.Trap) and exc.trap_code == wasmtime.TrapCode.INTERRUPT:
                raise OpaError("timeout", f"wasm evaluation still running after {self._wait} s") from None
            raise OpaError("engine", f"wasm evaluation failed: {type(exc).__name__}: {exc}") from None
        self._pool.put(inst)
        try:
            return bundle, orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise OpaError("malformed", "the wasm module answered with invalid JSON") from None

    def _borrow(self, bundle: LoadedBundle) -> _Instance:
        """An instance of ``bundle`` for this evaluation alone: an idle one, a new one while fewer
        than ``opa.wasm_instances`` exist, else the next one given back. Waiting longer than
        ``opa.timeout.read`` fails closed like a slow OPA (``timeout``)."""
        deadline = time.monotonic() + self._wait
        while True:
            try:
                inst = self._pool.get_nowait()
            except queue.Empty:
                with self._made_lock:
                    if self._made < self._pool_size:
                        self._made += 1
                        break
                try:
                    inst = self._pool.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    raise OpaError("timeout", f"no wasm instance free within {self._wait} s") from None
            if inst.bundle is bundle:
                return inst
            self._discard()  # made for a bundle no longer in use
        try:
            return _Instance(bundle)
        except Exception as exc:
            self._discard()
            raise OpaError("engine", f"wasm instance not made: {type(exc).__name__}: {exc}") from None

    def _discard(self) -> None:
        with self._made_lock:
            self._made -= 1

    def evaluate(self, opa_input: dict[str, Any]) -> Any:
        """The raw decision document (as OPA's REST API's ``result``), or ``None`` when undefined."""
        _, rs = self._evaluate(self._decision_path, opa_input)
        return _result(rs)

    def decide(self, opa_input: dict[str, Any]) -> Decision:
        started = time.perf_counter()
        bundle, rs = self._evaluate(self._decision_path, opa_input)
        elapsed = time.perf_counter() - started
        result = _result(rs)
        if result is None:
            raise OpaError("undefined", "the decision is undefined (policy not loaded?)")
        return parse_decision(result, opa_input, bundle.revision, elapsed)

    def query(self, path: str, opa_input: dict[str, Any] | None = None) -> Any:
        """An entrypoint of the module, or a path into the bundle's data. Undefined → ``None``;
        anything the bundle cannot answer is an :class:`OpaError` (never a silent ``None``)."""
        bundle = self._bundle
        if bundle is None:
            raise OpaError("engine", f"no wasm policy bundle loaded from {self._path}")
        if path in bundle.entrypoints:
            return _result(self._evaluate(path, opa_input)[1])
        node: Any = bundle.data
        parts = path.split("/")
        if parts[0] not in node:
            raise OpaError("undefined", f"{path} is neither an entrypoint of the wasm bundle nor in its data "
                                        f"(entrypoints: {sorted(bundle.entrypoints)})")
        for part in parts:
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return json.loads(json.dumps(node))  # a copy: callers must not change the loaded data

    def healthy(self) -> bool:
        return self._bundle is not None


def _result(rs: Any) -> Any:
    """``[{"result": x}]`` → x; ``[]`` (undefined) → None. Anything else is malformed."""
    if not isinstance(rs, list) or len(rs) > 1 or (rs and not (isinstance(rs[0], dict) and "result" in rs[0])):
        raise OpaError("malformed", "the wasm module's result set is not [{\"result\": …}]")
    return rs[0]["result"] if rs else None
