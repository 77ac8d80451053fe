"""Announcing committed stage changes: a journey log entry (as the log table's stream carries
it) becomes one ``JOURNEY_STAGE_CHANGED`` event on the service's bus.

Only the stream of committed entries feeds this, so a change is never announced without its
commit, and a failed announcement is retried from the stream (then dead-lettered): never
lost. Delivery is at least once: consumers deduplicate on ``log_entry_id``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from journeys_core.clock import format_timestamp
from journeys_core.data.event_bus import put_event
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


def announce_stage_change(new_image: Mapping[str, Any]) -> str:
    """Publish the log entry of a stream record's NewImage; the EventBridge event id."""
    entry = entry_from_values(new_image)
    return put_event(
        get_settings().event_bus_name,
        EVENT_SOURCE,
        STAGE_CHANGED,
        stage_changed_detail(entry),
        entry.changed_at,
    )
