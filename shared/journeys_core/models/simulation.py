"""Rehearsing a journey: ``POST /journeys/{name_or_id}/simulate`` runs a version or a draft,
with the active rules, none or draft rules, on a synthetic cohort over a virtual clock."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import Field, model_validator

from journeys_core.models.analytics import Conversion, StageKind, TimeInStage
from journeys_core.models.automation import AutomationRuleCreate
from journeys_core.models.common import Model, Strict
from journeys_core.models.journey import JourneySpec

MAX_COHORT = 10_000
MAX_DAYS = 730
DEFAULT_DAYS = 365  # for a journey without duration_days

RefusalWhy = Literal["transition", "guard", "locked", "initial", "reentry", "unknown_stage"]


class SimulationRequest(Strict):
    """What to rehearse. ``version`` (default: the current one) or ``draft_spec``; ``rules``:
    the organization's ``active`` rules (default), ``none``, or draft rules as
    ``POST /automation-rules`` takes them. ``compare_with`` runs the same cohort on what is
    live (that version, or the current one, with the active rules) and reports the
    differences."""

    version: Annotated[int, Field(ge=1)] | None = None
    draft_spec: JourneySpec | None = None
    rules: (
        Literal["active", "none"] | Annotated[list[AutomationRuleCreate], Field(max_length=200)]
    ) = "active"
    cohort_size: Annotated[int, Field(ge=1, le=MAX_COHORT)] = 1000
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)] = 0
    start_date: date | None = None
    days: Annotated[int, Field(ge=1, le=MAX_DAYS)] | None = Field(
        default=None, description="default: the journey's duration_days (at most 730), else 365"
    )
    arrivals_per_day: Annotated[int, Field(ge=1, le=MAX_COHORT)] | None = Field(
        default=None, description="patients enrolling per day; default: all on the first day"
    )
    compare_with: Literal["current"] | Annotated[int, Field(ge=1)] | None = None

    @model_validator(mode="after")
    def _one_definition(self) -> SimulationRequest:
        if self.version is not None and self.draft_spec is not None:
            raise ValueError("draft_spec: give version or draft_spec, not both")
        return self


class SimulatedStage(Model):
    """A stage as the analytics report it, for the simulated period."""

    stage: str
    kind: StageKind
    entries: int = Field(description="moves into the stage (enrollments included)")
    in_stage_at_end: int
    time_in_stage: TimeInStage
    conversions: list[Conversion]


class Refusal(Model):
    """Moves the journey's rules refused: ``from_stage`` null for an enrollment."""

    from_stage: str | None
    to_stage: str
    why: RefusalWhy
    count: int


class Timeouts(Model):
    per_day: list[int]
    by_rule: dict[str, int] = Field(description="'STAGE>max_hoursh:action' -> timeouts")
    total: int


class Emails(Model):
    per_day: list[int]
    total: int


class RuleOutcome(Model):
    """What one rule did: ``id`` for a stored rule, ``index`` for a draft one."""

    id: str | None = None
    index: int | None = None
    name: str
    fired: int
    moved: int
    refused: int
    emails: int


class Change(Model):
    """A figure in this run, in the compared run, and this run's minus the compared one."""

    run: int | float | None
    compared: int | float | None
    change: int | float | None


class StageDiff(Model):
    entries: Change
    final: Change
    median_hours: Change


class CohortOutcome(Model):
    """What happened to the cohort."""

    enrolled: int = Field(description="patients who arrived within the simulated days")
    stages: list[SimulatedStage]
    final: dict[str, int]
    refused: list[Refusal]
    timeouts: Timeouts
    emails: Emails
    rules: list[RuleOutcome]
    never_fired: list[str | int]
    chains_cut: int = Field(description="events a rule did not emit: chain longer than 3")


class SimulationResult(CohortOutcome):
    journey_key: str
    version: int | None = Field(description="the version simulated; null for a draft")
    rules_source: Literal["active", "none", "draft"]
    cohort_size: int
    seed: int
    start_date: date
    days: int
    arrivals_per_day: int | None
    compared_version: int | None = None
    diff: dict[str, StageDiff] | None = None
