"""Which sidecar instance this is: the name in every record's ``writer`` and, with
``records.per_instance``, in the records file's name (one file, one hash chain, per replica).

``SIDECAR_INSTANCE`` names it (Kubernetes: the pod name); otherwise the host name.
"""

from __future__ import annotations

import functools
import os
import re
import socket
from collections.abc import Mapping
from typing import Any

import sidecar

INSTANCE_ENV = "SIDECAR_INSTANCE"
# It becomes part of a file name: no slashes, no dot segments, nothing a shell or a log reader trips over.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def instance_name(env: Mapping[str, str] | None = None) -> str:
    """``SIDECAR_INSTANCE``, else the host name (unchecked: see :func:`check_instance_name`)."""
    env = os.environ if env is None else env
    return env.get(INSTANCE_ENV) or _hostname()


@functools.cache
def _hostname() -> str:
    """Asked once per process: every record names its writer, and the host name is a system call
    (uname) each time; a host renamed under a running sidecar keeps its old name until restart,
    as its records file does."""
    return socket.gethostname() or "unknown"


def check_instance_name(name: str) -> str:
    """``name`` if it is fit for a file name, else ValueError saying why."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"instance name {name!r} must be 1 to 128 letters, digits, '.', '_' or '-' "
                         f"(starting with a letter or digit); set {INSTANCE_ENV}")
    return name


def writer_identity() -> dict[str, Any]:
    """The ``writer`` key of a record (format 3): the sidecar version and instance that wrote it."""
    return {"version": sidecar.__version__, "instance": instance_name()}
