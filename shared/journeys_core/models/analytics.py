"""Journey analytics: what ``GET /analytics/journeys/{key}`` answers (a funnel by stage, the
time patients spend in each stage, who stands where now and who is past a stale rule)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

# How the dashboard and the totals read a stage (see journeys_core.domain.analytics).
StageKind = Literal["active", "blocked", "completed", "cancelled"]


class Period(BaseModel):
    """The period analysed: log entries with ``start <= changed_at <= end``."""

    start: datetime
    end: datetime


class TimeInStage(BaseModel):
    """How long the stays that began in the period lasted. Stays still open at the period's
    end count as "at least this long" (Kaplan–Meier), so open stays never shorten the figures;
    a quantile the data cannot reach yet is ``null``."""

    stays: int = Field(description="stays in the stage that began in the period")
    ended: int = Field(description="of them, stays that ended within the period")
    median_hours: float | None
    p90_hours: float | None


class Conversion(BaseModel):
    """Where the stays that began in the period went next (within the period)."""

    to_stage: str
    count: int
    rate: float = Field(description="count / entries into the stage in the period (0..1)")


class StaleThreshold(BaseModel):
    """One stale rule of the stage and how many patients are past its threshold now."""

    max_hours: float
    action: str
    past_threshold_now: int


class StageAnalytics(BaseModel):
    stage: str
    kind: StageKind
    in_definition: bool = Field(description="false for a stage only the log still names")
    in_stage_now: int = Field(description="patients standing in the stage now")
    entries: int = Field(description="moves into the stage in the period")
    time_in_stage: TimeInStage
    conversions: list[Conversion] = Field(
        description="allowed next stages in the definition's order, then any other seen"
    )
    stale_rules: list[StaleThreshold]


class PeriodTotals(BaseModel):
    """Moves in the period: new enrollments and entries into each kind of stage."""

    enrolled: int
    completed: int
    cancelled: int
    blocked: int


class CurrentTotals(BaseModel):
    """Patients enrolled in the journey now, by the kind of stage they stand in."""

    enrolled: int
    active: int
    blocked: int
    completed: int
    cancelled: int


class ReadCost(BaseModel):
    """What the request read from DynamoDB: rollups, never the log, never a Scan."""

    log_items: int = Field(
        description="rollup items of the period's days read (one per stage and day with moves)"
    )
    enrollment_items: int = Field(
        description="rollup items of who stands where now read (live counts, stages seen)"
    )
    queries: int = Field(description="DynamoDB calls on the rollups, pages included")


class JourneyAnalytics(BaseModel):
    journey_key: str
    definition_version: int
    period: Period
    generated_at: datetime
    stages: list[StageAnalytics]
    totals: PeriodTotals
    current: CurrentTotals
    reads: ReadCost
