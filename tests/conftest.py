"""Fixtures shared by the test files: the integration stacks and a PostgreSQL server.

The stacks are real OPA, the demo upstream and the sidecar (gunicorn) on free ports, started
with :func:`tests.helpers.start_stack`; the helpers to drive them are in ``tests/helpers.py``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sidecar.devtools.demo import free_ports
from tests.helpers import PG_PASSWORD, PgServer, Running, as_postgres_user, pg_bindir, start_stack


@pytest.fixture(scope="session")
def knmg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    stack = start_stack(tmp_path_factory.mktemp("knmg"), "knmg")
    yield Running(stack)
    stack.stop()


@pytest.fixture(scope="session")
def wetsvoorstel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    stack = start_stack(tmp_path_factory.mktemp("wetsvoorstel"), "wetsvoorstel")
    yield Running(stack)
    stack.stop()


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Running]:
    """A stack of its own, for tests that break something (stop OPA, break the records file)."""
    stack = start_stack(tmp_path / "stack", "knmg", workers=1)
    yield Running(stack)
    stack.stop()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A throwaway PostgreSQL server for the session (the label store's second backend).
    Without the binaries the tests that need it fail, never skip: a skipped backend would look
    like a pass."""
    bindir = pg_bindir()
    as_postgres, owner = as_postgres_user()
    # mkdtemp under /tmp (not pytest's tmp, whose parent is mode 0700 and so closed to `postgres`).
    root = Path(tempfile.mkdtemp(prefix="sidecar-labels-pg-"))
    pwfile = root / "pw"
    pwfile.write_text(PG_PASSWORD + "\n")
    if owner is not None:
        for p in (root, pwfile):
            os.chown(p, *owner)
    init = subprocess.run(
        [*as_postgres, str(bindir / "initdb"), "-D", str(root / "data"), "-U", "postgres",
         "--pwfile", str(pwfile), "--auth-host=scram-sha-256", "--auth-local=trust",
         "-E", "UTF8", "--locale=C", "--no-sync"],
        cwd=root, capture_output=True, text=True, timeout=120, check=False)
    if init.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"initdb failed ({init.returncode}): {init.stdout}{init.stderr}", pytrace=False)
    server = PgServer(bindir, root, free_ports(1)[0], as_postgres)
    server.start()
    try:
        yield server
    finally:
        subprocess.run([*as_postgres, str(bindir / "pg_ctl"), "-D", str(root / "data"), "stop", "-m", "immediate"],
                       cwd=root, capture_output=True, timeout=60, check=False)
        shutil.rmtree(root, ignore_errors=True)
