"""Execution history and timeline generation: request bodies, records and responses."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from journeys_core.models.common import BoundedDate, Page, Strict
from journeys_core.models.journey import NAME_PATTERN

# Entity, profile and cohort ids travel in DynamoDB keys: same charset as journey names.
EntityId = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
ExecutionStatus = Literal["completed", "failed", "partial"]
# A positive 63-bit integer, as the guide's data model has it (journeys_core.domain.execution_ids).
ExecutionId = Annotated[
    int,
    Field(
        ge=1,
        description="Positive 63-bit integer; a greater id was recorded later",
        json_schema_extra={"format": "int64"},
    ),
]
MAX_TIMELINE_ENTITIES = 1000


class ExecutionCreate(Strict):
    entity_id: EntityId | None = None
    profile_id: EntityId | None = None
    cohort_id: EntityId | None = None
    start_date: BoundedDate | None = None
    end_date: BoundedDate | None = None
    events_generated: Annotated[int, Field(ge=0, le=10_000_000)] = 0
    duration_ms: Annotated[int, Field(ge=0, le=86_400_000)] | None = None
    status: ExecutionStatus = "completed"
    error_message: Annotated[str, StringConstraints(max_length=2000)] | None = None
    metadata: Annotated[dict[str, Any], Field(max_length=100)] = {}

    @model_validator(mode="after")
    def _dates_in_order(self) -> ExecutionCreate:
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValueError("end_date: must not be before start_date")
        return self


class ExecutionRecord(BaseModel):
    id: ExecutionId
    journey_id: str
    journey_name: str
    journey_version: int | None = None
    entity_id: str | None = None
    profile_id: str | None = None
    cohort_id: str | None = None
    executed_at: datetime
    start_date: date | None = None
    end_date: date | None = None
    events_generated: int
    duration_ms: int | None = None
    status: ExecutionStatus
    error_message: str | None = None
    metadata: dict[str, Any] = {}


class ExecutionPage(Page[ExecutionRecord]):
    pass


class TimelineRequest(Strict):
    entity_id: EntityId | None = None
    entity_ids: (
        Annotated[list[EntityId], Field(min_length=1, max_length=MAX_TIMELINE_ENTITIES)] | None
    ) = None
    start_date: BoundedDate | None = None
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)] = 0
    record_execution: bool = True
    profile_id: EntityId | None = None
    cohort_id: EntityId | None = None

    @model_validator(mode="after")
    def _one_way_to_name_entities(self) -> TimelineRequest:
        if (self.entity_id is None) == (self.entity_ids is None):
            raise ValueError("entity_id: give entity_id or entity_ids (one of them)")
        if self.entity_ids is not None and len(set(self.entity_ids)) != len(self.entity_ids):
            raise ValueError("entity_ids: each entity once")
        return self

    @property
    def entities(self) -> list[str]:
        return self.entity_ids if self.entity_ids is not None else [str(self.entity_id)]


class TimelineEvent(BaseModel):
    # Validated straight from the domain's ScheduledEvent (same fields, read as attributes).
    model_config = ConfigDict(from_attributes=True)

    event_id: str
    name: str
    event_type: str | None
    product: str | None
    scheduled_date: date
    day_offset: int
    occurrence: int


class EntityTimeline(BaseModel):
    entity_id: str
    events: list[TimelineEvent]
    execution_id: ExecutionId | None = None


class TimelineResponse(BaseModel):
    journey_id: str
    journey_name: str
    journey_version: int
    seed: int
    start_date: date
    events_generated: int
    timelines: list[EntityTimeline]
