"""Port choice for the test and benchmark stacks (a CI run once failed on a port taken in between)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from sidecar.devtools import demo
from sidecar.devtools.demo import free_ports


class _Scripted:
    """Stands in for the random source: hands out the given ports in order."""

    def __init__(self, ports: list[int]) -> None:
        self.ports: Iterator[int] = iter(ports)

    def randint(self, lo: int, hi: int) -> int:
        port = next(self.ports)
        assert lo <= port <= hi, (lo, port, hi)
        return port


def test_ports_are_distinct_bindable_and_below_the_ephemeral_range() -> None:
    ports = free_ports(20) + free_ports(20)
    assert len(set(ports)) == 40
    low = demo._ephemeral_range()[0]
    assert all(20000 <= p < low for p in ports), ports
    for p in ports:
        with socket.socket() as s:
            s.bind(("127.0.0.1", p))


def test_a_port_is_never_handed_out_twice_even_before_it_is_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    first = free_ports(1)[0]  # handed out, nobody binds it (like a child process still starting)
    spare = free_ports(2)
    monkeypatch.setattr(demo, "_HANDED_OUT", {first})
    monkeypatch.setattr(demo, "_PORT_RANDOM", _Scripted([first, first, spare[0], first, spare[1]]))
    assert free_ports(2) == spare


def test_a_port_someone_listens_on_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    taken, spare = free_ports(2)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", taken))
        listener.listen()
        monkeypatch.setattr(demo, "_HANDED_OUT", set())
        monkeypatch.setattr(demo, "_PORT_RANDOM", _Scripted([taken, spare]))
        assert free_ports(1) == [spare]


def test_no_free_port_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    (only,) = free_ports(1)
    monkeypatch.setattr(demo, "_HANDED_OUT", {only})
    monkeypatch.setattr(demo, "_PORT_RANDOM", _Scripted([only] * 1000))
    with pytest.raises(demo.DemoError, match="could not find 1 free loopback ports"):
        free_ports(1)
