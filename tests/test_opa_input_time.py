"""The time in OPA inputs and records: UTC, to the millisecond (truncated), as RFC 3339 with Z,
correct across second boundaries and when the clock steps back."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sidecar.opa_input import now_rfc3339

_FORM = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def test_now_is_rfc3339_utc_with_milliseconds_and_agrees_with_the_clock() -> None:
    before = datetime.now(UTC)
    text = now_rfc3339()
    after = datetime.now(UTC)
    assert _FORM.fullmatch(text), text
    at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert before - timedelta(milliseconds=1) <= at <= after


@pytest.mark.parametrize("ticks", [
    [1700000000.9996, 1700000001.0004, 1700000001.5, 1700000002.25],  # across second boundaries
    [1700000005.123, 1699999999.5, 1700000005.999],                   # the clock stepped back, and on again
    [0.0, 86399.999, 951782400.042, 1700000009.9999996],  # the epoch, a day's last ms, a leap day, a carry
])
def test_each_reading_is_its_own_second_and_millisecond(monkeypatch: pytest.MonkeyPatch, ticks: list[float]) -> None:
    for t in ticks:
        monkeypatch.setattr("sidecar.opa_input.time.time", lambda t=t: t)
        expected = datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        assert now_rfc3339() == expected


@settings(max_examples=2000, deadline=None)
@given(st.floats(min_value=0, max_value=4e9, allow_nan=False))
def test_any_reading_formats_as_datetime_does(t: float) -> None:
    with mock.patch("sidecar.opa_input.time.time", return_value=t):
        got = now_rfc3339()
    assert got == datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
