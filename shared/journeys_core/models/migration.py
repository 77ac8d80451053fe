"""Moving a journey's enrollments from the versions they are pinned to onto another one."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from journeys_core.models.common import Model, Strict
from journeys_core.models.journey import StageName
from journeys_core.models.patient import Reason

Version = Annotated[int, Field(ge=1)]
MigrationState = Literal["running", "completed", "failed"]


class MigrationRequest(Strict):
    """``POST /journeys/{name_or_id}/migrations``: re-pin the enrollments on ``from_version``
    (every other version when omitted) to ``to_version`` (the current one when omitted);
    ``stage_map`` says where patients standing in a stage the target lacks (or any stage)
    go."""

    from_version: Version | None = None
    to_version: Version | None = None
    stage_map: Annotated[dict[StageName, StageName], Field(max_length=100)] = {}
    dry_run: bool = False
    reason: Reason | None = None


class MigrationPreview(Model):
    """What a migration would do, counted without writing."""

    dry_run: Literal[True] = True
    patients: int
    by_stage: dict[str, int]
    unmapped: dict[str, int]


class MigrationStatus(Model):
    id: str
    journey_key: str
    from_version: int | None
    to_version: int
    status: MigrationState
    moved: int = 0
    repinned: int = 0
    skipped: int = 0
    unmapped: int = 0
    started_at: datetime
    finished_at: datetime | None = None
    error: str | None = None
