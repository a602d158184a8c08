"""metrics.child: a labelled family's child looked up once and kept; updates through it are the
family's (what /metrics shows)."""

from __future__ import annotations

from prometheus_client import REGISTRY

from sidecar import metrics


def _value(name: str, **labels: str) -> float:
    value = REGISTRY.get_sample_value(name, labels)
    return value or 0.0


def test_the_child_is_the_familys_own_and_kept() -> None:
    a = metrics.child(metrics.requests_total, "test-route", "2xx")
    assert a is metrics.requests_total.labels("test-route", "2xx")
    assert metrics.child(metrics.requests_total, "test-route", "2xx") is a
    assert metrics.child(metrics.requests_total, "test-route", "4xx") is not a
    assert metrics.child(metrics.request_duration, "test-route") is metrics.request_duration.labels("test-route")


def test_updates_through_it_are_counted_under_its_labels() -> None:
    labels = {"cache": "zaak_documents", "result": "hit"}
    before = _value("sidecar_relation_cache_total", **labels)
    metrics.child(metrics.relation_cache_total, "zaak_documents", "hit").inc(3)
    assert _value("sidecar_relation_cache_total", **labels) == before + 3
    before = _value("sidecar_denies_total", reason="N1", role="other", category="none")
    metrics.count_deny(["N1"], "no-such-role", None, 2)
    assert _value("sidecar_denies_total", reason="N1", role="other", category="none") == before + 2
