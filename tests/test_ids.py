"""Decision ids are version 4 UUIDs in the canonical text form, and fresh."""

from __future__ import annotations

import uuid

from sidecar.ids import decision_id, decision_ids


def test_ids_are_canonical_version_4_uuids() -> None:
    ids = [*decision_ids(500), decision_id()]
    for text in ids:
        u = uuid.UUID(text)
        assert str(u) == text  # lower-case hex, dashes where uuid writes them
        assert u.version == 4 and u.variant == uuid.RFC_4122
    assert len(set(ids)) == len(ids)


def test_a_batch_of_none_is_empty() -> None:
    assert decision_ids(0) == []
