"""The runtime path does not import the developer and demo tooling (sidecar.devtools)."""

from __future__ import annotations

import subprocess
import sys


def test_runtime_path_does_not_import_devtools() -> None:
    code = (
        "import sys\n"
        "import sidecar.app, sidecar.serve, sidecar.settings\n"
        "bad = sorted(m for m in sys.modules if m.startswith('sidecar.devtools'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "", f"the runtime imports dev tooling: {out.stdout.strip()}"
