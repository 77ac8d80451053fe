"""Journey migrations: move the enrollments pinned to older versions of a journey onto
another version (Camunda's process-instance migration, for patients).

It finds the enrollments through the ByStage index (one Query per page, never a Scan), in
every stage any version of the journey has; re-pins each to the target version where it
stands, or, where ``stage_map`` sends it elsewhere, writes the move and its log entry in one
transaction as actor ``migration`` with the reason and the new ``definition_version``.
Enrollments whose stage the target lacks and the map does not cover are left untouched and
counted as unmapped. Every write keys the enrollment for the journey's stage index shard
count now: after ``stage_index_shards`` was raised, a migration to the current version
re-keys the standing enrollments into the new spread (moves re-key the others as they go).
Each write is conditional on the enrollment not having changed since it was read, so running
a migration twice moves nobody twice.
"""

from __future__ import annotations

import math
import secrets
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from journeys_core.clock import utc_now
from journeys_core.data import repositories
from journeys_core.data.journey_log import new_log_entry_id
from journeys_core.data.migrations import MigrationJob
from journeys_core.data.patients import StoredEnrollment
from journeys_core.domain.log_chain import chain_entry
from journeys_core.domain.migration import MIGRATION_ACTOR, MigrationStep, migration_step
from journeys_core.domain.stage_machine import CurrentStage, PlannedMove, change_time
from journeys_core.errors import InvalidInput, LostRace, NotFound
from journeys_core.models.journey import JourneyRecord, stage_index_shards
from journeys_core.models.migration import MigrationPreview, MigrationRequest, MigrationStatus
from journeys_core.models.patient import Enrollment, JourneyLogEntry
from journeys_core.services.definitions import find_journey, load_journey
from journeys_core.settings import get_settings

PAGE_SIZE = 100
# A run stops (and sends its message again) when less than this is left of its Lambda time.
STOP_MARGIN_MS = 10_000

TimeLeftMs = Callable[[], int]


def _target_and_stages(
    org: str, journey: JourneyRecord, request: MigrationRequest
) -> tuple[JourneyRecord, list[str]]:
    target = load_journey(org, journey.id, request.to_version)
    target_stages = target.journey_spec.get("stages") or []
    if not target_stages:
        raise InvalidInput(f"version {target.version} of {journey.name!r} has no stages")
    unknown = sorted(set(request.stage_map.values()) - set(target_stages))
    if unknown:
        raise InvalidInput(
            f"stage_map: {', '.join(unknown)} not a stage of version {target.version}"
        )
    if request.from_version is not None:
        sources = [load_journey(org, journey.id, request.from_version)]
    else:
        sources = repositories.definitions().list_versions(org, journey.id)
    stages = list(dict.fromkeys(s for v in sources for s in v.journey_spec.get("stages") or []))
    return target, stages


def preview_migration(org: str, name_or_id: str, request: MigrationRequest) -> MigrationPreview:
    """Count who would move, be re-pinned or stay unmapped, per stage, writing nothing."""
    journey = find_journey(org, name_or_id)
    target, stages = _target_and_stages(org, journey, request)
    shards = stage_index_shards(journey.journey_spec)
    by_stage: Counter[str] = Counter()
    unmapped: Counter[str] = Counter()
    for stage in stages:
        start: dict[str, Any] | None = None
        while True:
            page, start = repositories.patients().enrollments_in_stage(
                org, journey.name, stage, shards=shards, start_after=start, limit=1000
            )
            for stored in page:
                step = _step(stored, request.from_version, target, request.stage_map, shards)
                if step.kind == "unmapped":
                    unmapped[stage] += 1
                elif step.kind != "skip":
                    by_stage[stage] += 1
            if not start:
                break
    return MigrationPreview(
        patients=sum(by_stage.values()) + sum(unmapped.values()),
        by_stage=dict(by_stage),
        unmapped=dict(unmapped),
    )


def start_migration(org: str, name_or_id: str, request: MigrationRequest) -> MigrationStatus:
    """Record the job and queue it for the migrations function (202)."""
    journey = find_journey(org, name_or_id)
    target, stages = _target_and_stages(org, journey, request)
    status = MigrationStatus(
        id=f"mig-{secrets.token_hex(8)}",
        journey_key=journey.name,
        from_version=request.from_version,
        to_version=target.version,
        status="running",
        started_at=utc_now(),
    )
    migrations = repositories.migrations()
    migrations.save(
        MigrationJob(
            org=org,
            journey_id=journey.id,
            stages=stages,
            stage_map=dict(request.stage_map),
            reason=request.reason,
            status=status,
        )
    )
    migrations.enqueue(org, status.id)
    return status


def get_migration(org: str, name_or_id: str, migration_id: str) -> MigrationStatus:
    journey = find_journey(org, name_or_id)
    job = repositories.migrations().get(org, migration_id)
    if job is None or job.journey_id != journey.id:
        raise NotFound(f"migration {migration_id!r} of journey {journey.name!r} not found")
    return job.status


def run_migration(org: str, migration_id: str, time_left_ms: TimeLeftMs) -> MigrationStatus:
    """Work on a job until it is done or the Lambda's time gets short; then save where it
    stands and queue it again. A finished or unknown job is left as it is."""
    migrations = repositories.migrations()
    job = migrations.get(org, migration_id)
    if job is None:
        raise NotFound(f"migration {migration_id!r} not found")
    if job.status.status != "running":
        return job.status
    status = job.status
    target = load_journey(org, job.journey_id, status.to_version)
    current = find_journey(org, job.journey_id)
    shards = stage_index_shards(current.journey_spec)
    wait = _seconds_until_every_reader_knows(org, current)
    if wait > 0:
        migrations.enqueue(org, migration_id, delay_seconds=wait)
        return status
    while job.stage_index < len(job.stages):
        stage = job.stages[job.stage_index]
        page, next_key = repositories.patients().enrollments_in_stage(
            org,
            status.journey_key,
            stage,
            shards=shards,
            start_after=job.start_key,
            limit=PAGE_SIZE,
        )
        for stored in page:
            _migrate_one(job, target, stored, shards)
        if next_key:
            job.start_key = next_key
        else:
            job.stage_index, job.start_key = job.stage_index + 1, None
        if job.stage_index < len(job.stages) and time_left_ms() < STOP_MARGIN_MS:
            migrations.save(job)
            migrations.enqueue(org, migration_id)
            return status
    status.status, status.finished_at = "completed", utc_now()
    migrations.save(job)
    return status


def _seconds_until_every_reader_knows(org: str, current: JourneyRecord) -> int:
    """A re-key must not move patients into shards a warm container's cached definition
    does not read yet: after the count was raised, wait out the definition cache."""
    shards = stage_index_shards(current.journey_spec)
    if shards == 1 or current.version == 1:
        return 0
    previous = load_journey(org, current.id, current.version - 1)
    if stage_index_shards(previous.journey_spec) == shards:
        return 0
    settled = current.updated_at + timedelta(seconds=get_settings().definition_cache_seconds)
    return math.ceil((settled - utc_now()).total_seconds())


def _step(
    stored: StoredEnrollment,
    from_version: int | None,
    target: JourneyRecord,
    stage_map: dict[str, str],
    shards: int,
) -> MigrationStep:
    return migration_step(
        stored.enrollment,
        from_version=from_version,
        to_version=target.version,
        target_stages=target.journey_spec.get("stages") or [],
        stage_map=stage_map,
        rekey=stored.stage_shards != shards,
    )


def _migrate_one(
    job: MigrationJob, target: JourneyRecord, stored: StoredEnrollment, shards: int
) -> None:
    status, patients = job.status, repositories.patients()
    patient_id, enrollment = stored.patient_id, stored.enrollment
    for attempt in (1, 2):
        step = _step(stored, status.from_version, target, job.stage_map, shards)
        try:
            if step.kind == "repin":
                patients.repin(job.org, patient_id, enrollment, target.version, stage_shards=shards)
                status.repinned += 1
            elif step.kind == "move" and step.to_stage:
                _move(job, target, patient_id, enrollment, step.to_stage, shards)
                status.moved += 1
            elif step.kind == "unmapped":
                status.unmapped += 1
            else:
                status.skipped += 1
            return
        except LostRace:
            # Moved by someone meanwhile: decide again on what it is now.
            fresh = patients.read(job.org, patient_id).enrollments.get(status.journey_key)
            if fresh is None or attempt == 2:
                status.skipped += 1
                return
            # Its mover keyed it for the journey's count (or, from a cached definition, a
            # smaller one: still listed, merely less spread).
            enrollment = fresh
            stored = StoredEnrollment(patient_id, fresh, stage_shards=shards)


def _move(
    job: MigrationJob,
    target: JourneyRecord,
    patient_id: str,
    enrollment: Enrollment,
    to_stage: str,
    shards: int,
) -> None:
    current = CurrentStage(enrollment.stage, enrollment.version, enrollment.entered_at)
    changed_at = change_time(utc_now(), current)
    moved = enrollment.model_copy(
        update={
            "stage": to_stage,
            "entered_at": changed_at,
            "version": enrollment.version + 1,
            "definition_version": target.version,
        }
    )
    entry = JourneyLogEntry(
        id=new_log_entry_id(),
        organization_id=job.org,
        patient_id=patient_id,
        journey_key=job.status.journey_key,
        from_stage=enrollment.stage,
        to_stage=to_stage,
        changed_at=changed_at,
        actor=MIGRATION_ACTOR,
        reason=job.reason or f"migrated to version {target.version}",
        definition_version=target.version,
        episode=enrollment.episode,
        from_entered_at=enrollment.entered_at,
    )
    entry, moved = chain_entry(entry, moved, enrollment)
    planned = PlannedMove(
        enrollment=moved,
        entry=entry,
        expected_version=enrollment.version,
        expected_stage=enrollment.stage,
        event_type_seen=None,
    )
    repositories.patients().commit_stage_change(
        planned, journey_id=job.journey_id, journey_version=target.version, stage_shards=shards
    )
