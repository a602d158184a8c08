"""Benchmark of the sidecar: ``make bench`` (see docs/benchmarks.md)."""
