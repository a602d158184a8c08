"""``make bench-profile``: where the sidecar's time goes on the hot path.

Runs the sidecar app in this process (``sidecar.app.create_app`` with the Settings the demo
stack writes, prometheus-client in multiprocess mode as under gunicorn) and drives it with
werkzeug's test client against a real OPA and the demo upstream (gunicorn), under pyinstrument.
Writes ``bench/results/profile-<date>.txt`` (call trees; the HTML views go to
``.tools/bench-profile/``), and prints the functions
that cost most, summed over the call tree.

The test client skips gunicorn's HTTP parsing and the client socket, so the profile shows the
sidecar's own work; the HTTP calls to OPA and the upstream are real (their wait shows up as
time in socket reads).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def _self_times(frame: Any, acc: dict[str, float]) -> None:
    """Sum pyinstrument's per-frame *self* time by function, over the whole tree."""
    if not frame.is_synthetic:  # "[self]" leaves are counted in their parent's total_self_time
        acc[f"{frame.function} ({Path(frame.file_path or '?').name}:{frame.line_no})"] += frame.total_self_time
    for child in frame.children:
        _self_times(child, acc)


def _inclusive(frame: Any, acc: dict[str, float], seen: frozenset[str] = frozenset()) -> None:
    """Inclusive time by function (counted once per call path, not twice for recursion)."""
    if frame.is_synthetic:
        return
    key = f"{frame.function} ({Path(frame.file_path or '?').name})"
    if key not in seen:
        acc[key] += frame.time
    for child in frame.children:
        _inclusive(child, acc, seen | {key})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reads", type=int, default=600, help="single-object reads (default 600)")
    ap.add_argument("--lists", type=int, default=100, help="lists of 50 (default 100)")
    ap.add_argument("--ingests", type=int, default=200, help="ingests (default 200)")
    args = ap.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="sidecar-profile-"))
    # Must be set before prometheus_client is imported (as `sidecar serve` does).
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(tmp / "metrics")
    (tmp / "metrics").mkdir()

    from pyinstrument import Profiler
    from werkzeug.test import Client

    from bench.run import DOCS, PROVIDER_ORG, new_document, rsin, seed_doc, seed_lists
    from bench.stack import BenchStack
    from sidecar.app import create_app
    from sidecar.devtools.demo import Ports, free_ports
    from sidecar.devtools.keys import DEMO_ORG, mint
    from sidecar.devtools.upstream import BSN_DE_VRIES
    from sidecar.settings import load_settings

    p = free_ports(4)
    stack = BenchStack(workdir=tmp / "stack", ports=Ports(proxy=p[0], admin=p[1], opa=p[2], upstream=p[3]),
                       profile="knmg", workers=1)
    stack.prepare()
    stack.start_opa()
    stack.start_upstream()
    try:
        settings = load_settings(stack.config_path)
        app = create_app(settings)
        client = Client(app)
        orgs = seed_lists(stack)
        wd = stack.workdir
        consulent = {"Authorization": "Bearer " + mint(wd, sub="c.jansen", role="consulent", org=DEMO_ORG),
                     "X-Doelbinding": "onderzoek_hulpvraag"}
        provider = {"Authorization": "Bearer " + mint(wd, sub="p.huisarts", role="aanbieder", org=PROVIDER_ORG,
                                                       secrecy="wettelijk"),
                    "X-Doelbinding": "onderzoek_hulpvraag", "Content-Type": "application/json",
                    "X-Herkomst": f'grondslag=toestemming, toestemming="TS-1", betrokkene="{BSN_DE_VRIES}"'}
        read_path = f"{DOCS}/{seed_doc(stack, 'algemeen')}"
        list_path = f"{DOCS}?bronorganisatie={orgs[50]}"
        body = new_document(f"{stack.catalogue_base}/informatieobjecttypen/medisch", "bench-profile",
                            rsin(7777), b"x" * 1024)
        work = [("read", "GET", read_path, consulent, None, 200, args.reads),
                ("list_50", "GET", list_path, consulent, None, 200, args.lists),
                ("ingest", "POST", DOCS, provider, body, 201, args.ingests)]
        for _name, method, path, headers, data, want, _n in work:  # warm up pools and caches
            for _ in range(5):
                r = client.open(path, method=method, headers=headers, data=data)
                if r.status_code != want:
                    raise SystemExit(f"{method} {path}: HTTP {r.status_code} {r.get_data()[:300]!r}")
        RESULTS.mkdir(parents=True, exist_ok=True)
        stamp = dt.date.today().isoformat()
        txt = RESULTS / f"profile-{stamp}.txt"
        out: list[str] = []
        for name, method, path, headers, data, _want, n in work:
            prof = Profiler(interval=0.0002)
            t0 = time.perf_counter()
            prof.start()
            for _ in range(n):
                r = client.open(path, method=method, headers=headers, data=data)
                r.close()
            prof.stop()
            wall = time.perf_counter() - t0
            session = prof.last_session
            assert session is not None
            root = session.root_frame()
            incl: dict[str, float] = defaultdict(float)
            own: dict[str, float] = defaultdict(float)
            if root is not None:
                _inclusive(root, incl)
                _self_times(root, own)
            head = f"== {name}: {n} requests in-process, {1000 * wall / n:.2f} ms wall per request"
            print(head)
            out.append(head)
            out.append("-- inclusive time per request (ms), top 30:")
            for k, v in sorted(incl.items(), key=lambda kv: -kv[1])[:30]:
                out.append(f"  {1000 * v / n:8.3f}  {k}")
            out.append("-- self time per request (ms), top 25:")
            for k, v in sorted(own.items(), key=lambda kv: -kv[1])[:25]:
                out.append(f"  {1000 * v / n:8.3f}  {k}")
            for line in out[-57:]:
                print(line)
            out.append("-- call tree:")
            out.append(prof.output_text(unicode=True, color=False, show_all=False))
            # The HTML views are large (MBs): kept out of the repo, next to the other tool output.
            html_dir = ROOT / ".tools" / "bench-profile"
            html_dir.mkdir(parents=True, exist_ok=True)
            (html_dir / f"profile-{stamp}-{name}.html").write_text(prof.output_html())
        txt.write_text("\n".join(out) + "\n")
        print(f"wrote {txt.relative_to(ROOT)} (call trees) and .tools/bench-profile/profile-{stamp}-*.html",
              file=sys.stderr)
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
