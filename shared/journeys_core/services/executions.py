"""Execution history and timeline generation (the guide's record_execution, get_executions,
get_entity_journeys, JourneyEngine and ProfileJourneyOrchestrator, per tenant)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import timedelta
from functools import lru_cache
from typing import TypeVar

from journeys_core.clock import utc_now
from journeys_core.data import repositories
from journeys_core.domain.execution_ids import new_execution_id
from journeys_core.domain.timeline import TimelinePlan, TimelineTooLarge
from journeys_core.errors import InvalidInput, NotFound, PayloadTooLarge
from journeys_core.models.execution import (
    EntityTimeline,
    ExecutionCreate,
    ExecutionPage,
    ExecutionRecord,
    TimelineRequest,
    TimelineResponse,
)
from journeys_core.services.definitions import (
    JourneyIdentity,
    find_journey,
    forget_journey_identity,
    journey_identity,
)

T = TypeVar("T")

# A Lambda response carries at most 6 MB; an event is about 170 bytes of JSON.
MAX_TIMELINE_EVENTS = 25_000


def _with_identity(org: str, name_or_id: str, action: Callable[[JourneyIdentity], T]) -> T:
    """Run ``action`` on the journey's cached identity; if the journey turns out to be gone
    (deleted, maybe saved again under its name), once more on a fresh read of it."""
    try:
        return action(journey_identity(org, name_or_id))
    except NotFound:
        forget_journey_identity(org, name_or_id)
        return action(journey_identity(org, name_or_id))


def record_execution(org: str, name_or_id: str, request: ExecutionCreate) -> ExecutionRecord:
    def record(identity: JourneyIdentity) -> ExecutionRecord:
        execution = ExecutionRecord(
            id=new_execution_id(),
            journey_id=identity.id,
            journey_name=identity.name,
            executed_at=utc_now(),
            **request.model_dump(),
        )
        repositories.executions().record(org, identity.name, [execution])
        return execution

    return _with_identity(org, name_or_id, record)


def list_journey_executions(
    org: str, name_or_id: str, limit: int = 20, cursor: str | None = None
) -> ExecutionPage:
    def page(identity: JourneyIdentity) -> ExecutionPage:
        items, next_cursor = repositories.executions().list_for_journey(
            org, identity.id, limit, cursor
        )
        return ExecutionPage(items=items, next_cursor=next_cursor)

    return _with_identity(org, name_or_id, page)


def list_entity_executions(
    org: str, entity_id: str, limit: int = 20, cursor: str | None = None
) -> ExecutionPage:
    items, next_cursor = repositories.executions().list_for_entity(org, entity_id, limit, cursor)
    return ExecutionPage(items=items, next_cursor=next_cursor)


@lru_cache(maxsize=64)
def _compiled_plan(journey_id: str, version: int, spec_json: str) -> TimelinePlan:
    return TimelinePlan.compile(json.loads(spec_json))


def generate_timelines(org: str, name_or_id: str, request: TimelineRequest) -> TimelineResponse:
    """Dated events for each entity, deterministic for (seed, entity, event); with
    ``record_execution`` each entity gets an execution, written in batched transactions."""

    record = find_journey(org, name_or_id)
    if not record.journey_spec.get("events"):
        raise InvalidInput(f"journey {record.name!r} has no events to schedule")
    try:
        plan = _compiled_plan(record.id, record.version, json.dumps(record.journey_spec))
    except TimelineTooLarge as error:  # saved before the bound existed
        raise PayloadTooLarge(str(error)) from error
    entities = request.entities
    most = plan.max_events_per_entity * len(entities)
    if most > MAX_TIMELINE_EVENTS:  # refused from the plan's bound, before generating any
        raise PayloadTooLarge(
            f"up to {most} events ({plan.max_events_per_entity} per entity), more than "
            f"{MAX_TIMELINE_EVENTS}: ask for fewer entities per request"
        )
    start = request.start_date or utc_now().date()
    horizon = timedelta(days=plan.duration_days) if plan.duration_days is not None else None
    executed_at = utc_now()
    timelines: list[EntityTimeline] = []
    executions: list[ExecutionRecord] = []
    total = 0
    for entity_id in entities:
        began = time.perf_counter()
        try:
            scheduled = plan.generate(entity_id, start, request.seed)
        except ValueError as error:  # the journey runs past the dates Python holds
            raise InvalidInput(f"start_date: {error}") from error
        elapsed_ms = int((time.perf_counter() - began) * 1000)
        total += len(scheduled)
        timeline = EntityTimeline(entity_id=entity_id, events=scheduled)
        if request.record_execution:
            end = start + horizon if horizon is not None else None
            if end is None and scheduled:
                end = scheduled[-1].scheduled_date
            execution = ExecutionRecord(
                id=new_execution_id(),
                journey_id=record.id,
                journey_name=record.name,
                journey_version=record.version,
                entity_id=entity_id,
                profile_id=request.profile_id,
                cohort_id=request.cohort_id,
                executed_at=executed_at,
                start_date=start,
                end_date=end,
                events_generated=len(scheduled),
                duration_ms=elapsed_ms,
                status="completed",
                metadata={"seed": request.seed},
            )
            executions.append(execution)
            timeline.execution_id = execution.id
        timelines.append(timeline)
    if executions:
        repositories.executions().record(org, record.name, executions)
    return TimelineResponse(
        journey_id=record.id,
        journey_name=record.name,
        journey_version=record.version,
        seed=request.seed,
        start_date=start,
        events_generated=total,
        timelines=timelines,
    )
