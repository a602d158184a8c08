"""Prometheus metrics. Label values are bounded sets (never paths, user ids or BSNs).

Under gunicorn with several workers, prometheus-client's multiprocess mode is used: the
``PROMETHEUS_MULTIPROC_DIR`` variable is set by ``sidecar serve`` *before* this module is
imported, and ``/metrics`` aggregates the per-process files. Every labelled family is
pre-initialised for its known label values in each worker, so every family is exported from
start-up.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from prometheus_client import REGISTRY as _DEFAULT_REGISTRY
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client import values as _values
from prometheus_client.metrics import MetricWrapperBase

from sidecar import vocab
from sidecar.failures import FAIL_CLOSED_CAUSES
from sidecar.failures import SIDECAR_REASONS as _FAILURE_REASONS
from sidecar.opa import OPA_ERROR_KINDS
from sidecar.routes import ACTIONS


class _Pid:
    """This process's id, kept rather than asked: in multiprocess mode prometheus-client calls its
    process identifier on every update to notice a fork, and ``os.getpid`` is a system call (a
    read does a dozen updates). Kept up to date across fork by an at-fork hook, so a gunicorn
    worker still gets files of its own."""

    value = os.getpid()

    @classmethod
    def get(cls) -> int:
        return cls.value

    @classmethod
    def _forked(cls) -> None:
        cls.value = os.getpid()


os.register_at_fork(after_in_child=_Pid._forked)
if getattr(_values.ValueClass, "_multiprocess", False):
    # Before the first metric below is made: each value picks its class up when it is created.
    _values.ValueClass = _values.MultiProcessValue(process_identifier=_Pid.get)  # type: ignore[no-untyped-call]

# From 0.1 ms: an OPA decision on loopback is well under a millisecond.
_FAST_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                 0.5, 1.0, 2.5)
_REQUEST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                    5.0, 10.0, 30.0)

DECISIONS = ("allow", "deny")
PHASES = ("request", "response")
CATEGORIES = (*vocab.CATEGORIES, "none")
UPSTREAM_ERROR_KINDS = ("connect", "timeout", "status_4xx", "status_5xx", "unreadable")
STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx")

decisions_total = Counter(
    "sidecar_decisions_total", "Policy decisions, by outcome, phase, action and data category.",
    ["decision", "phase", "action", "category"])
opa_request_duration = Histogram(
    "sidecar_opa_request_duration_seconds",
    "Time for one decision: the in-process evaluation (opa.engine wasm) or the HTTP round trip to OPA (rest).",
    buckets=_FAST_BUCKETS)
request_duration = Histogram(
    "sidecar_request_duration_seconds", "Time from request received to response started, by route.",
    ["route"], buckets=_REQUEST_BUCKETS)
requests_total = Counter(
    "sidecar_requests_total", "Requests answered by the proxy, by route and status class.",
    ["route", "status_class"])
opa_errors_total = Counter(
    "sidecar_opa_errors_total", "OPA calls that did not give a usable decision (each fails closed).",
    ["kind"])
upstream_errors_total = Counter(
    "sidecar_upstream_errors_total", "Upstream calls that failed or answered 5xx.", ["kind"])
records_write_errors_total = Counter(
    "sidecar_records_write_errors_total", "Decision records that could not be written (fail closed).")
records_written_total = Counter(
    "sidecar_records_written_total", "Decision records written durably.")
record_write_duration = Histogram(
    "sidecar_record_write_duration_seconds", "Time to append and fsync one decision record.",
    buckets=_FAST_BUCKETS)
fail_closed_total = Counter(
    "sidecar_fail_closed_total", "Requests refused because something failed, by cause.", ["cause"])
shadow_decisions_total = Counter(
    "sidecar_shadow_decisions_total", "Denies not enforced because the route is in shadow mode.",
    ["action", "category"])
authn_failures_total = Counter(
    "sidecar_authn_failures_total", "Requests refused with 401, by reason.", ["reason"])
denies_total = Counter(
    "sidecar_denies_total", "Denied decisions by the rule that fired, the subject's role and the data category.",
    ["reason", "role", "category"])
break_glass_total = Counter(
    "sidecar_break_glass_total",
    "Allowed decisions carrying review_by_fg (conflict-of-duties ingests): each awaits review by the FG.")
obligations_total = Counter(
    "sidecar_obligations_total", "Obligations attached to allowed decisions, by type.", ["type"])
policy_info = Gauge(
    "sidecar_policy_info", "The configured policy profile (value 1).", ["profile"], multiprocess_mode="livemax")
# The revision can change while the workers run (OPA activates a new bundle), so the series of an
# earlier revision is set to 0 rather than removed (prometheus-client cannot remove a series in
# multiprocess mode), and across workers the value set last wins (livemostrecent): a worker that
# saw the new revision turns the old series to 0 for the whole replica, not only for itself.
policy_revision_info = Gauge(
    "sidecar_policy_revision_info",
    "The policy revision (bundle manifest) the sidecar last decided under, with its profile: 1 for the "
    "current revision, 0 for earlier ones; revision is empty when OPA reported none.",
    ["profile", "revision"], multiprocess_mode="livemostrecent")
jwks_fetch_errors_total = Counter(
    "sidecar_jwks_fetch_errors_total", "JWKS fetches that failed (tokens fail closed once the cache expires).")
request_phase_cache_total = Counter(
    "sidecar_request_phase_cache_total",
    "Request-phase decisions of reads, by whether the cached decision was used (hit) or OPA asked (miss).",
    ["result"])
relation_cache_total = Counter(
    "sidecar_relation_cache_total", "Need-to-know relation cache look-ups, by cache and result (hit, miss).",
    ["cache", "result"])
relation_lookups_total = Counter(
    "sidecar_relation_lookups_total", "Upstream calls made to read relations (rollen, zaakinformatieobjecten, zaken).")
policy_reload_errors_total = Counter(
    "sidecar_policy_reload_errors_total",
    "Wasm policy bundles (opa.engine: wasm) that could not be loaded; the previous bundle stays in use.")
policy_download_errors_total = Counter(
    "sidecar_policy_download_errors_total",
    "Downloads of opa.wasm_bundle_url that failed (download), did not verify or load (verify) or could "
    "not be kept (write); the previous bundle stays in use.", ["reason"])
opa_up = Gauge(
    "sidecar_opa_up", "1 when the last readiness check found OPA answering with the policy loaded.",
    multiprocess_mode="livemax")
# Break-glass review. The two gauges are read from the label store on every scrape (by whichever
# worker serves /metrics) and the most recent value wins across workers: the label store is the
# one truth, shared by every worker and replica.
review_open_items = Gauge(
    "sidecar_review_open_items", "Break-glass documents awaiting the FG's review (from the label store).",
    multiprocess_mode="mostrecent")
review_oldest_open_age = Gauge(
    "sidecar_review_oldest_open_age_seconds", "Age of the oldest break-glass document awaiting review (0: none).",
    multiprocess_mode="mostrecent")
review_max_open_age = Gauge(
    "sidecar_review_max_open_age_seconds",
    "How long a review may wait (setting review.max_open_days); the alert fires past it.",
    multiprocess_mode="mostrecent")
review_decisions_total = Counter(
    "sidecar_review_decisions_total", "Review decisions by the FG, by outcome (approved, rejected).", ["decision"])

ROLES = vocab.ROLES
RULE_IDS = vocab.RULE_IDS
# The sidecar's own deny reasons; any other reason is counted as "other".
SIDECAR_REASONS = ("PROFILE", "NO_RULE", *(f"OPA_{k.upper()}" for k in OPA_ERROR_KINDS), *_FAILURE_REASONS)
OBLIGATION_TYPES = vocab.OBLIGATION_TYPES

AUTHN_REASONS = ("AUTHN_MISSING", "AUTHN_OVERSIZED", "AUTHN_MALFORMED", "AUTHN_ALG", "AUTHN_KID",
                 "AUTHN_EXPIRED", "AUTHN_NOT_YET_VALID", "AUTHN_ISS_AUD", "AUTHN_INVALID",
                 "AUTHN_CLAIMS")


def preinitialise(route_names: list[str]) -> None:
    for d in DECISIONS:
        for p in PHASES:
            for a in ACTIONS:
                for c in CATEGORIES:
                    decisions_total.labels(d, p, a, c)
    for k in OPA_ERROR_KINDS:
        opa_errors_total.labels(k)
    for k in UPSTREAM_ERROR_KINDS:
        upstream_errors_total.labels(k)
    for c in FAIL_CLOSED_CAUSES:
        fail_closed_total.labels(c)
    for r in [*route_names, "unknown"]:
        request_duration.labels(r)
        for s in STATUS_CLASSES:
            requests_total.labels(r, s)
    for a in ACTIONS:
        for c in CATEGORIES:
            shadow_decisions_total.labels(a, c)
    for reason in AUTHN_REASONS:
        authn_failures_total.labels(reason)
    for reason in (*RULE_IDS, *SIDECAR_REASONS, "other"):
        for role in (*ROLES, "other", "none"):
            denies_total.labels(reason, role, "none")
    for t in OBLIGATION_TYPES:
        obligations_total.labels(t)
    for cache in ("caller", "zaak_documents", "zaak_category"):
        for result in ("hit", "miss"):
            relation_cache_total.labels(cache, result)
    relation_lookups_total.inc(0)
    for result in ("hit", "miss"):
        request_phase_cache_total.labels(result)
    for d in ("approved", "rejected"):
        review_decisions_total.labels(d)
    break_glass_total.inc(0)
    jwks_fetch_errors_total.inc(0)
    policy_reload_errors_total.inc(0)
    opa_up.set(0)


# A revision comes from the signed bundle's manifest (set by whoever builds the bundle, never from
# a request), so it is safe as a label value; the cap only keeps a runaway manifest from bloating
# every scrape.
REVISION_LABEL_MAX = 128
_revision_lock = threading.Lock()
_current_revision: tuple[str, str] | None = None


def revision_label(revision: str | None) -> str:
    return (revision or "")[:REVISION_LABEL_MAX]


def saw_policy_revision(profile: str, revision: str | None) -> None:
    """The policy revision of a decision (or of the readiness probe): on a change, the new
    revision's series becomes 1 and the previous one 0. Cheap when nothing changed."""
    global _current_revision
    key = (profile, revision_label(revision))
    if key == _current_revision:
        return
    with _revision_lock:
        previous = _current_revision
        if key == previous:
            return
        if previous is not None:
            policy_revision_info.labels(*previous).set(0)
        policy_revision_info.labels(*key).set(1)
        _current_revision = key


def refresh_reviews(open_items: int, oldest_created: str | None, max_open_days: int) -> None:
    """Set the review gauges from the label store's counts (called on every scrape)."""
    from datetime import UTC, datetime

    review_open_items.set(open_items)
    age = 0.0
    if oldest_created:
        try:
            then = datetime.fromisoformat(oldest_created.replace("Z", "+00:00"))
            age = max(0.0, (datetime.now(UTC) - then).total_seconds())
        except ValueError:
            age = 0.0
    review_oldest_open_age.set(age)
    review_max_open_age.set(max_open_days * 86400)


# Children of labelled families, by family and label values. ``family.labels(...)`` validates and
# locks on every call (≈ 1.5 µs; a read makes about eight); the label sets are bounded (see the
# module's docstring), so every child is looked up once per worker and kept.
_children: dict[tuple[int, tuple[str, ...]], Any] = {}


def child(family: MetricWrapperBase, *values: str) -> Any:
    """``family.labels(*values)``, looked up once: the same child object every time."""
    key = (id(family), values)
    found = _children.get(key)
    if found is None:
        found = _children[key] = family.labels(*values)
    return found


def reason_label(reason: str) -> str:
    if reason.startswith("AUTHN"):
        return "AUTHN"
    return reason if reason in RULE_IDS or reason in SIDECAR_REASONS else "other"


def role_label(role: str | None) -> str:
    if role is None:
        return "none"
    return role if role in ROLES else "other"


def count_deny(reasons: list[str], role: str | None, category: str | None, n: int = 1) -> None:
    """One increment per deny (``n`` alike denies at once), under the deny reason the policy
    named (or the sidecar's own)."""
    reason = reason_label(reasons[0]) if reasons else "NO_RULE"
    child(denies_total, reason, role_label(role), category_label(category)).inc(n)


def category_label(category: str | None) -> str:
    return category if category in CATEGORIES else "none"


def render() -> tuple[bytes, str]:
    from prometheus_client import CONTENT_TYPE_LATEST

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(_DEFAULT_REGISTRY), CONTENT_TYPE_LATEST
