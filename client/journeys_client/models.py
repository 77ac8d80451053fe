"""The records the client returns: the guide's record types with the guide's field names.

Hand-written from the service's ``docs/openapi.json`` (``JourneySummary``, ``JourneyRecord``,
``ExecutionRecord``, ``PatientView``…), so the client does not import the service's code.
Fields the service adds later are ignored rather than refused (a tolerant reader); datetimes
and dates are parsed. ``tests/e2e/test_client.py`` checks these against the OpenAPI document.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

ExecutionStatus = Literal["completed", "failed", "partial"]


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore")


class JourneySummary(_Record):
    """Brief info for listing (``list_journeys``), with execution stats."""

    id: str
    name: str
    description: str = ""
    version: int
    products: list[str] = []
    tags: list[str] = []
    duration_days: int | None = None
    event_count: int = 0
    execution_count: int = 0
    last_executed: datetime | None = None
    is_active: bool = True
    metadata: dict[str, Any] = {}
    created_at: datetime
    updated_at: datetime


class JourneyRecord(JourneySummary):
    """A full journey with its specification (``load_journey``, ``update_journey``)."""

    journey_spec: dict[str, Any]


class JourneyExecutionRecord(_Record):
    """An execution history entry (``record_execution_record``, ``get_executions``,
    ``get_entity_journeys``). ``id`` is a positive integer; a greater id was recorded later."""

    id: int
    journey_id: str
    journey_name: str | None = None
    journey_version: int | None = None
    profile_id: str | None = None
    cohort_id: str | None = None
    entity_id: str | None = None
    executed_at: datetime
    start_date: date | None = None
    end_date: date | None = None
    events_generated: int = 0
    duration_ms: int | None = None
    status: str
    error_message: str | None = None
    metadata: dict[str, Any] = {}


class TimelineEvent(_Record):
    event_id: str
    name: str
    event_type: str | None = None
    product: str | None = None
    scheduled_date: date
    day_offset: int
    occurrence: int


class EntityTimeline(_Record):
    entity_id: str
    events: list[TimelineEvent]
    execution_id: int | None = None


class Timeline(_Record):
    """``generate_timeline``: dated events per entity, deterministic for (seed, entity, event)."""

    journey_id: str
    journey_name: str
    journey_version: int
    seed: int
    start_date: date
    events_generated: int
    timelines: list[EntityTimeline]


class Enrollment(_Record):
    """A patient's place in one journey; ``version`` counts its stage changes."""

    journey_key: str
    stage: str
    entered_at: datetime
    enrolled_at: datetime
    version: int
    definition_version: int


class Patient(_Record):
    """A patient: profile, current stage per journey (``journey_status``) and enrollments."""

    id: str
    organization_id: str
    display_name: str | None = None
    email: str | None = None
    metadata: dict[str, Any] = {}
    journey_status: dict[str, str] = {}
    enrollments: dict[str, Enrollment] = {}
    created_at: datetime | None = None
    updated_at: datetime | None = None


class JourneyLogEntry(_Record):
    """One stage change of a patient's journey log (``patients.history``), oldest first."""

    id: str
    organization_id: str
    patient_id: str
    journey_key: str
    from_stage: str | None = None
    to_stage: str
    changed_at: datetime
    actor: str
    reason: str | None = None
    trigger_event_id: str | None = None
    trigger_event_type: str | None = None
    definition_version: int


class StageMember(_Record):
    """A patient standing in a stage now (``patients.in_stage``)."""

    patient_id: str
    journey_key: str
    stage: str
    entered_at: datetime
    version: int


class EventAccepted(_Record):
    """``events.publish``: the event id (yours, or the one the client made up) and type."""

    event_id: str
    type: str
    status: str = "accepted"
