"""Developer and demo tooling: ``sidecar demo``, the demo ZGW upstream, dev keys, policy docs,
and helpers for tests and benchmarks (free ports, finding the ``opa`` binary).

Nothing on the runtime path (``sidecar serve`` → :mod:`sidecar.app`) imports this package;
``tests/test_layout.py`` checks that.
"""
