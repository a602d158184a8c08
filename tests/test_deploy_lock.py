"""The dependency locks: requirements.lock (runtime: the image) and requirements-dev.lock
(runtime + dev: `make venv`, so `make test` and CI) name every package, direct or transitive,
at one version with its hashes, and pip installs from them with --require-hashes. `make lock`
regenerates both from pyproject.toml; this test says when someone forgot to."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
RUNTIME_LOCK = ROOT / "requirements.lock"
DEV_LOCK = ROOT / "requirements-dev.lock"
_HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")


def _name(name: str) -> str:
    """PEP 503 normalised name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_lock(path: Path) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes); fails on anything but ``name==version`` with hashes."""
    text = path.read_text()
    out: dict[str, tuple[str, list[str]]] = {}
    # Join continuation lines, drop comments: one logical line per requirement.
    logical = re.sub(r"\\\n\s*", " ", text)
    for raw in logical.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        assert not line.startswith("-"), f"{path.name}: option line {line!r} (machine-specific, not for the lock)"
        spec, *rest = line.split()
        m = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^;\s]+)", spec)
        assert m, f"{path.name}: {spec!r} is not pinned with =="
        hashes = [h for h in rest if _HASH.fullmatch(h)]
        assert hashes and len(hashes) == len(rest), f"{path.name}: {spec} has no (or a malformed) hash"
        name = _name(m.group(1))
        assert name not in out, f"{path.name}: {name} twice"
        out[name] = (m.group(2), hashes)
    return out


def _pins(requirements: list[str]) -> list[Requirement]:
    reqs = [Requirement(r) for r in requirements]
    for r in reqs:
        (spec,) = r.specifier  # exactly one specifier ...
        assert spec.operator == "==", f"pyproject.toml: {r} is not pinned with =="  # ... and a pin
    return reqs


RUNTIME = _pins(PYPROJECT["project"]["dependencies"])
DEV = _pins(PYPROJECT["project"]["optional-dependencies"]["dev"])


def _extra_requirements(req: Requirement) -> list[Requirement]:
    """What ``pkg[extra]`` adds, from the installed package's metadata (e.g. psycopg[binary])."""
    out = []
    for raw in metadata.requires(req.name) or []:
        dep = Requirement(raw)
        if dep.marker and any(dep.marker.evaluate({"extra": e}) for e in req.extras) \
                and not dep.marker.evaluate({"extra": ""}):
            out.append(dep)
    return out


@pytest.mark.parametrize(("lock", "reqs"), [(RUNTIME_LOCK, RUNTIME), (DEV_LOCK, RUNTIME + DEV)],
                         ids=["requirements.lock", "requirements-dev.lock"])
def test_lock_covers_every_pyproject_dependency_at_its_pin_with_a_hash(lock: Path, reqs: list[Requirement]) -> None:
    locked = parse_lock(lock)
    for req in reqs:
        name = _name(req.name)
        assert name in locked, f"{lock.name} lacks {req}: run `make lock`"
        version, hashes = locked[name]
        assert version in req.specifier, \
            f"{lock.name} has {name}=={version}, pyproject.toml says {req}: run `make lock`"
        assert hashes
        for extra in _extra_requirements(req):
            assert _name(extra.name) in locked, f"{lock.name} lacks {extra.name} (from {req}): run `make lock`"
            assert locked[_name(extra.name)][0] in extra.specifier


def test_runtime_lock_is_the_runtime_part_of_the_dev_lock() -> None:
    runtime, dev = parse_lock(RUNTIME_LOCK), parse_lock(DEV_LOCK)
    # The image and the test environment run the same versions of everything the image has.
    assert {n: v for n, (v, _) in runtime.items()} == {n: dev[n][0] for n in runtime if n in dev}
    assert set(runtime) <= set(dev)
    # Dev tools stay out of the image.
    for req in DEV:
        if not any(_name(req.name) == _name(r.name) for r in RUNTIME):
            assert _name(req.name) not in runtime, f"dev-only {req.name} is in requirements.lock"


def test_locks_match_the_installed_environment() -> None:
    """The venv `make test` runs in was installed from requirements-dev.lock: what is installed
    is what is locked (a stale .venv or a hand-installed package shows up here)."""
    for name, (version, _) in parse_lock(DEV_LOCK).items():
        assert metadata.version(name) == version, f"{name}: installed {metadata.version(name)}, locked {version}"


def test_the_parser_refuses_an_unpinned_or_unhashed_line(tmp_path: Path) -> None:
    bad = tmp_path / "x.lock"
    hashed = "flask==3.1.3 \\\n    --hash=sha256:" + "a" * 64
    for text in ("flask>=3\n", "flask==3.1.3\n", "--find-links /opt/wheels\n" + hashed):
        bad.write_text(text)
        with pytest.raises(AssertionError):
            parse_lock(bad)
    bad.write_text("Flask==3.1.3 \\\n    --hash=sha256:" + "a" * 64 + "\n    # via x\n")
    assert parse_lock(bad) == {"flask": ("3.1.3", ["--hash=sha256:" + "a" * 64])}


def test_make_venv_and_the_image_install_from_the_locks() -> None:
    makefile = (ROOT / "Makefile").read_text()
    venv_rule = makefile.split("$(VENV)/.installed:", 1)[1].split("\n\n", 1)[0]
    assert "requirements-dev.lock" in venv_rule.splitlines()[0], "the venv must be rebuilt when the lock changes"
    assert "pip install --quiet --require-hashes -r requirements-dev.lock" in venv_rule
    assert "pip install --quiet --no-deps -e ." in venv_rule
    assert "-e '.[dev]'" not in venv_rule, "resolving pyproject.toml again would float the transitive packages"
    assert re.search(r"^lock:", makefile, re.M), "make lock regenerates the locks"
    assert "--generate-hashes" in makefile
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install --require-hashes -r requirements.lock" in dockerfile
    assert re.search(r"pip install --no-deps /dist/\*\.whl", dockerfile)
    # CI stays `make test`, which builds the venv from the lock.
    ci = [ln for ln in (ROOT / ".ci" / "run").read_text().splitlines() if ln and not ln.startswith("#")]
    assert ci[-1] == "make test"
