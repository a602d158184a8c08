"""The disk's floor for record writing: append one record-sized line and fsync it, at a fixed pace.

The sidecar makes every record durable before it goes on (DESIGN.md: "fsync'd before release";
issue 6: nothing forwarded or released without a durable record), so a read waits for two
fsyncs. This probe does only that, with nothing else in the process: the time a record write
cannot go below on this file system, whatever the sidecar does. ``make bench`` runs it next to
the records file and shows it as the floor of the record-writing target.

The pace matters: on a virtual machine an fsync after an idle pause is slower than one in a
tight loop, so the probe writes at the benchmark's arrival rate, not as fast as it can.

    python -m bench.fsync --dir /var/lib/wams-sidecar --rate 50 --count 400
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from bench.loadgen import summarise_ms

# A decision record line is 840-850 bytes for a single read (records.jsonl of the test stack).
RECORD_BYTES = 850


def measure(directory: Path, rate: float, count: int, line_bytes: int = RECORD_BYTES) -> dict[str, Any]:
    """Append ``count`` lines of ``line_bytes`` to a new file in ``directory`` at ``rate`` per
    second, each followed by an fsync; latency of append + fsync in ms (see loadgen.summarise_ms).
    The probe file is removed afterwards."""
    if rate <= 0 or count <= 0 or line_bytes <= 0:
        raise ValueError(f"rate, count and line_bytes must be > 0 (got {rate}, {count}, {line_bytes})")
    line = b"x" * (line_bytes - 1) + b"\n"
    path = directory / f".fsync-probe-{os.getpid()}"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    latencies: list[float] = []
    try:
        t0 = time.perf_counter()
        for i in range(count):
            delay = t0 + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            started = time.perf_counter()
            os.write(fd, line)
            os.fsync(fd)
            latencies.append(time.perf_counter() - started)
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)
    return {"rate": rate, "line_bytes": line_bytes, "latency_ms": summarise_ms(latencies)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.fsync", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", type=Path, default=Path("."),
                    help="directory on the file system of the records file (default: the current one)")
    ap.add_argument("--rate", type=float, default=50.0, help="appends per second (default 50)")
    ap.add_argument("--count", type=int, default=400, help="number of appends (default 400)")
    args = ap.parse_args(argv)
    if not args.dir.is_dir():
        ap.error(f"--dir {args.dir} is not a directory")
    try:
        res = measure(args.dir, args.rate, args.count)
    except (ValueError, OSError) as exc:
        print(f"bench.fsync: {exc}", file=sys.stderr)
        return 2
    lm = res["latency_ms"]
    print(f"append + fsync of a {res['line_bytes']}-byte line in {args.dir} at {args.rate:g}/s, "
          f"n={lm['count']}: p50 {lm['p50']:.3f} ms, p99 {lm['p99']:.3f} ms, max {lm['max']:.3f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
