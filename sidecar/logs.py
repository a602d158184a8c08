"""Structured logs: one JSON object per line on stderr, for the platform's log collector."""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from datetime import UTC, datetime

_STD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}
# One encoder for every line: json.dumps with arguments builds a new one per call (a few µs on
# every request's log line); the output is the same.
_ENCODE = json.JSONEncoder(default=str, ensure_ascii=False).encode


_second: tuple[int, str] = (-1, "")  # the last second formatted, and its text


def timestamp(created: float) -> str:
    """``created`` as ``YYYY-MM-DDTHH:MM:SS.mmmZ``: what ``datetime.fromtimestamp(created, UTC)
    .isoformat(timespec="milliseconds")`` gives (rounded to the microsecond half to even, then
    cut to the millisecond), with the date and time formatted once per second, not per line."""
    global _second
    frac, whole = math.modf(created)
    sec, us = int(whole), round(frac * 1e6)
    if us >= 1_000_000:
        sec, us = sec + 1, us - 1_000_000
    if us < 0 or sec < 0:  # before 1970: not worth a fast path
        return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    cached = _second
    if cached[0] != sec:
        cached = _second = (sec, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)))
    return f"{cached[1]}.{us // 1000:03d}Z"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for k, v in record.__dict__.items():
            if k not in _STD and not k.startswith("_"):
                out[k] = v
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return _ENCODE(out)


def setup(level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
