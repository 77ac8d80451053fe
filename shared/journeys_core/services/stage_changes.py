"""Announcing committed stage changes: a journey log entry (as the log table's stream carries
it) becomes one ``JOURNEY_STAGE_CHANGED`` event on the service's bus, ten to a ``PutEvents``
(a stream batch of 100 entries is ten calls, not a hundred).

Only the stream of committed entries feeds this, so a change is never announced without its
commit, and a failed announcement is retried from the stream (then dead-lettered): never
lost. Delivery is at least once: consumers deduplicate on ``log_entry_id``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from journeys_core.clock import format_timestamp
from journeys_core.data.event_bus import (
    MAX_PUT_EVENTS_ENTRIES,
    BusEntry,
    PutOutcome,
    put_events,
)
from journeys_core.data.journey_log import entry_from_values
from journeys_core.models.patient import JourneyLogEntry
from journeys_core.settings import get_settings

EVENT_SOURCE = "journeys.service"
STAGE_CHANGED = "JOURNEY_STAGE_CHANGED"


def stage_changed_detail(entry: JourneyLogEntry) -> dict[str, Any]:
    return {
        "organization_id": entry.organization_id,
        "patient_id": entry.patient_id,
        "journey_key": entry.journey_key,
        "from_stage": entry.from_stage,
        "to_stage": entry.to_stage,
        "changed_at": format_timestamp(entry.changed_at),
        "actor": entry.actor,
        "log_entry_id": entry.id,
        "trigger_event_id": entry.trigger_event_id,
    }


def announce_stage_changes(new_images: Sequence[Mapping[str, Any]]) -> list[PutOutcome]:
    """Publish the log entries of stream records' NewImages, ten to a ``PutEvents``; an
    outcome per image, in order: its EventBridge event id, or why it was not published (an
    image that is no log entry, an entry EventBridge refused, a call that failed)."""
    outcomes: list[PutOutcome | None] = [None] * len(new_images)
    readable: list[tuple[int, BusEntry]] = []
    for index, image in enumerate(new_images):
        try:
            entry = entry_from_values(image)
        except (KeyError, TypeError, ValueError) as error:
            outcomes[index] = PutOutcome(event_id=None, error=f"not a log entry: {error!r}")
            continue
        detail = stage_changed_detail(entry)
        readable.append((index, BusEntry(EVENT_SOURCE, STAGE_CHANGED, detail, entry.changed_at)))
    bus_name = get_settings().event_bus_name
    for start in range(0, len(readable), MAX_PUT_EVENTS_ENTRIES):
        batch = readable[start : start + MAX_PUT_EVENTS_ENTRIES]
        try:
            results = put_events(bus_name, [entry for _, entry in batch])
        except Exception as error:  # throttled or unreachable: these records are retried
            results = [PutOutcome(event_id=None, error=repr(error))] * len(batch)
        for (index, _), result in zip(batch, results, strict=True):
            outcomes[index] = result
    return [outcome or PutOutcome(event_id=None, error="not attempted") for outcome in outcomes]
