"""parse_decision on a batch: every item checked as a decision of its own; alike items (the usual
page) are checked once and share the frozen result, unlike ones keep their own."""

from __future__ import annotations

from typing import Any

import pytest

from sidecar.opa import OpaError, parse_decision

ALLOW = {"decision": True, "reasons": ["R1"], "obligations": [{"type": "record_processing"}]}
DENY = {"decision": False, "reasons": ["N1"], "reason_user": "geen relatie", "deny_reason": "N1"}


def _batch(items: list[Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    return ({"decision": True, "evaluations": items},
            {"evaluations": [{"resource": {"id": str(i)}} for i in range(len(items))]})


def test_alike_items_share_one_checked_decision_and_unlike_ones_do_not() -> None:
    result, inp = _batch([dict(ALLOW), dict(DENY), dict(ALLOW), dict(DENY), dict(ALLOW)])
    d = parse_decision(result, inp, "rev", 0.001)
    assert [e.allow for e in d.evaluations] == [True, False, True, False, True]
    assert d.evaluations[0] is d.evaluations[2] is d.evaluations[4]
    assert d.evaluations[1] is d.evaluations[3] and d.evaluations[1] is not d.evaluations[0]
    assert d.evaluations[1].deny_reason == "N1" and d.evaluations[0].obligations == [{"type": "record_processing"}]
    assert all(e.revision == "rev" and e.duration_s == 0.0 for e in d.evaluations)


@pytest.mark.parametrize("bad, kind", [({"decision": "yes"}, "malformed"),
                                       ({**ALLOW, "obligations": [{"type": "unknown"}]}, "obligation"),
                                       ({**DENY, "reasons": [1]}, "malformed")])
def test_one_bad_item_among_alike_ones_fails_the_batch(bad: dict[str, Any], kind: str) -> None:
    result, inp = _batch([dict(ALLOW), dict(ALLOW), bad, dict(ALLOW)])
    with pytest.raises(OpaError) as exc:
        parse_decision(result, inp, "rev", 0.0)
    assert exc.value.kind == kind


def test_a_batch_of_the_wrong_length_is_malformed() -> None:
    result, inp = _batch([dict(ALLOW)])
    inp["evaluations"].append({"resource": {"id": "x"}})
    with pytest.raises(OpaError, match="does not match the batch"):
        parse_decision(result, inp, None, 0.0)
