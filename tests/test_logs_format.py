"""The JSON log line's time is what ``datetime`` gives (formatted once per second instead of per
line) and the line's bytes are those of ``json.dumps`` as before."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sidecar import logs


def _by_datetime(created: float) -> str:
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@settings(max_examples=3000, deadline=None)
@given(st.floats(min_value=0, max_value=2**33, allow_nan=False, allow_infinity=False))
def test_the_time_is_datetimes(created: float) -> None:
    assert logs.timestamp(created) == _by_datetime(created)


@pytest.mark.parametrize("created", [
    0.0, 1.0, 1764522000.0, 1764522000.9995, 1764522000.9999995, 1764522000.9999996, 1764521999.9999999,
    1764522000.0004999, 1764522000.0005, 1764522000.000_000_5, 1764522000.5, 951782400.25,  # 2000-02-29
    -1.5, -0.0000004,
])
def test_the_time_at_second_and_rounding_edges(created: float) -> None:
    assert logs.timestamp(created) == _by_datetime(created)
    assert logs.timestamp(created) == _by_datetime(created)  # from the per-second cache too


def test_a_line_is_the_json_it_was() -> None:
    record = logging.LogRecord("sidecar.proxy", logging.INFO, "f", 1, "request %s", ("x",), None)
    for k, v in {"event": "request", "status": 200, "duration_ms": 2.345, "who": "é\u2028", "obj": object,
                 "_private": 1}.items():
        setattr(record, k, v)
    line = logs.JsonFormatter().format(record)
    expected = {"time": _by_datetime(record.created), "level": "info", "logger": "sidecar.proxy",
                "msg": "request x", "event": "request", "status": 200, "duration_ms": 2.345, "who": "é\u2028",
                "obj": str(object)}
    assert line == json.dumps(expected, default=str, ensure_ascii=False)
