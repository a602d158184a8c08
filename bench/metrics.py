"""Scrape the sidecar's Prometheus text before and after a scenario and read histograms from it."""

from __future__ import annotations

import math
import urllib.request
from collections import defaultdict
from typing import Any

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    out: Samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        name, _, rest = head.partition("{")
        labels: list[tuple[str, str]] = []
        if rest:
            for part in _split_labels(rest.rstrip("}")):
                k, _, v = part.partition("=")
                labels.append((k, v.strip('"')))
        try:
            out[(name, frozenset(labels))] = float(value)
        except ValueError:
            continue
    return out


def _split_labels(s: str) -> list[str]:
    # Label values here never contain commas or quotes (bounded sets), so a plain split works.
    return [p for p in s.split(",") if p]


def scrape(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        return parse(resp.read().decode())


def total(samples: Samples, name: str, **labels: str) -> float:
    want = set(labels.items())
    return sum(v for (n, lbl), v in samples.items() if n == name and want <= set(lbl))


def histogram_delta(before: Samples, after: Samples, family: str, **labels: str) -> dict[str, Any]:
    """Buckets, count and sum of ``family`` added between two scrapes (summed over other labels)."""
    want = set(labels.items())
    buckets: dict[float, float] = defaultdict(float)
    for (n, lbl), v in after.items():
        if n == family + "_bucket" and want <= set(lbl):
            le = dict(lbl)["le"]
            buckets[math.inf if le == "+Inf" else float(le)] += v - before.get((n, lbl), 0.0)
    count = total(after, family + "_count", **labels) - total(before, family + "_count", **labels)
    s = total(after, family + "_sum", **labels) - total(before, family + "_sum", **labels)
    return {"buckets": sorted(buckets.items()), "count": count, "sum": s}


def histogram_quantile(h: dict[str, Any], q: float) -> float | None:
    """Like PromQL's histogram_quantile: linear within the bucket that holds rank ``q * count``.
    Returns seconds; None when empty. Past the last finite bound, the last finite bound."""
    buckets: list[tuple[float, float]] = h["buckets"]
    count = float(h["count"])
    if count <= 0 or not buckets:
        return None
    rank = q * count
    prev_le, prev_c = 0.0, 0.0
    for le, c in buckets:
        if c >= rank:
            if math.isinf(le):
                return prev_le
            if c == prev_c:
                return le
            return prev_le + (le - prev_le) * (rank - prev_c) / (c - prev_c)
        prev_le, prev_c = le, c
    return prev_le


def summary_ms(h: dict[str, Any]) -> dict[str, Any]:
    count = h["count"]
    if count <= 0:
        return {"count": 0}
    p50 = histogram_quantile(h, 0.5)
    p99 = histogram_quantile(h, 0.99)
    return {"count": int(count), "mean": round(1000 * h["sum"] / count, 4),
            "p50": None if p50 is None else round(1000 * p50, 4),
            "p99": None if p99 is None else round(1000 * p99, 4)}
