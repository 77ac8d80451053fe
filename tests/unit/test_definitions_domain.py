"""Building and updating definition records (no AWS)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from journeys_core.domain.definitions import (
    looks_like_journey_id,
    new_journey_id,
    new_journey_record,
    updated_journey_record,
)
from journeys_core.models.journey import JourneyCreate, JourneyUpdate

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _record():  # type: ignore[no-untyped-def]
    request = JourneyCreate.model_validate(
        {
            "name": "demo",
            "journey_spec": {"duration_days": 90, "events": [{"event_id": "a"}]},
            "tags": ["t1", "t1", "t2"],
        }
    )
    return new_journey_record(request, T0, "journey-0000abcd")


def test_new_ids_look_like_ids_and_names_usually_do_not() -> None:
    assert looks_like_journey_id(new_journey_id())
    assert not looks_like_journey_id("diabetic-first-year")
    assert not looks_like_journey_id("journey-XYZ")


def test_tags_are_deduplicated_in_order() -> None:
    assert _record().tags == ["t1", "t2"]


def test_metadata_only_update_without_bump_keeps_the_version() -> None:
    later = T0 + timedelta(hours=1)
    record = updated_journey_record(
        _record(), JourneyUpdate(description="d", bump_version=False), later
    )
    assert (record.version, record.description, record.updated_at) == (1, "d", later)
    assert record.created_at == T0


def test_a_new_spec_recomputes_the_derived_fields() -> None:
    update = JourneyUpdate.model_validate(
        {"journey_spec": {"events": [{"event_id": "x"}, {"event_id": "y"}]}}
    )
    record = updated_journey_record(_record(), update, T0)
    assert (record.version, record.event_count, record.duration_days) == (2, 2, None)
