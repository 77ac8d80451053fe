"""Journey definitions: the spec (timeline events and/or a stage machine), the stored record,
list summaries and the request bodies of the definitions API."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from journeys_core.domain.dependencies import find_dependency_problems
from journeys_core.domain.timeline import events_per_entity_bound
from journeys_core.models.common import Model, Page, Strict, Unique

# ASCII letters, digits, '-', '_', '.' only: names travel in URLs and DynamoDB keys.
NAME_PATTERN = r"^[A-Za-z0-9._-]{1,100}$"
JOURNEY_ID_PATTERN = r"^journey-[0-9a-f]{8}$"
STAGE_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"

JourneyName = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
StageName = Annotated[str, StringConstraints(pattern=STAGE_PATTERN)]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True)]
NonNegativeDays = Annotated[int, Field(ge=0, le=36500)]


class Delay(Strict):
    """Either ``{min_days, max_days}`` or ``{days, days_min, days_max, distribution}``."""

    min_days: NonNegativeDays | None = None
    max_days: NonNegativeDays | None = None
    days: NonNegativeDays | None = None
    days_min: NonNegativeDays | None = None
    days_max: NonNegativeDays | None = None
    distribution: Literal["fixed", "uniform", "normal"] | None = None

    @model_validator(mode="after")
    def _one_consistent_form(self) -> Delay:
        range_form = self.min_days is not None or self.max_days is not None
        days_form = any(
            v is not None for v in (self.days, self.days_min, self.days_max, self.distribution)
        )
        if range_form and days_form:
            raise ValueError("use either {min_days, max_days} or {days, days_min, days_max}")
        if range_form:
            if self.min_days is None or self.max_days is None:
                raise ValueError("min_days and max_days go together")
            if self.min_days > self.max_days:
                raise ValueError("min_days must not exceed max_days")
            return self
        bounded = self.days_min is not None and self.days_max is not None
        if bounded and self.days_min > self.days_max:  # type: ignore[operator]
            raise ValueError("days_min must not exceed days_max")
        distribution = self.distribution or ("fixed" if self.days is not None else "uniform")
        if distribution == "fixed" and self.days is None:
            raise ValueError("a fixed delay needs days")
        if distribution == "uniform" and not bounded:
            raise ValueError("a uniform delay needs days_min and days_max")
        if distribution == "normal" and self.days is None:
            raise ValueError("a normal delay needs days (its mean)")
        if self.days is not None:
            if self.days_min is not None and self.days < self.days_min:
                raise ValueError("days must not be below days_min")
            if self.days_max is not None and self.days > self.days_max:
                raise ValueError("days must not exceed days_max")
        return self


class Repeat(Strict):
    every_days: Annotated[int, Field(ge=1, le=36500)]
    max_occurrences: Annotated[int, Field(ge=1, le=10000)] | None = None


class JourneyEvent(Model):
    # Specs are recipes shared with other tools: unknown keys on an event are kept as given.
    model_config = ConfigDict(extra="allow")

    event_id: JourneyName
    name: Annotated[str, StringConstraints(max_length=200)] | None = None
    event_type: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None
    product: Annotated[str, StringConstraints(max_length=100)] | None = None
    delay: Delay | None = None
    depends_on: JourneyName | None = None
    probability: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    repeat: Repeat | None = None
    # What the simulator does when the event happens: feed the domain event it stands for
    # (an automation trigger, with its payload) to the rules, or move the patient as a
    # person would (staff offering a place). The timeline itself ignores both.
    trigger: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    payload: Annotated[dict[str, Any], Field(max_length=100)] | None = None
    move_to: StageName | None = None


class Guard(Strict):
    requires_events: list[Annotated[str, StringConstraints(min_length=1, max_length=100)]] = []


class Reentry(Strict):
    """Whether a patient whose episode ended (a final stage) may start the journey again."""

    allowed: bool = False
    min_days_between: Annotated[int, Field(ge=0, le=36500)] | None = None
    max_episodes: Annotated[int, Field(ge=1, le=1000)] | None = None


class StaleRule(Strict):
    stage: StageName
    max_hours: Annotated[float, Field(gt=0, le=24 * 366)]
    action: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    email_subject: Annotated[str, StringConstraints(max_length=300)] | None = None
    # Waits between a stay's timeouts once it fired (default 24, 72, 168: then no more);
    # each at least 24 hours, so a stay never gets two timeouts within a day. [] fires once.
    backoff_hours: (
        Annotated[list[Annotated[float, Field(ge=24, le=24 * 366)]], Field(max_length=10)] | None
    ) = None


class JourneySpec(Model):
    """A journey specification. ``events`` or ``stages`` must be present."""

    model_config = ConfigDict(extra="allow")

    journey_id: Annotated[str, StringConstraints(max_length=100)] | None = None
    name: Annotated[str, StringConstraints(max_length=200)] | None = None
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None
    duration_days: Annotated[int, Field(ge=1, le=36500)] | None = None
    products: list[Tag] | None = None
    events: Annotated[list[JourneyEvent], Field(max_length=500)] | None = None
    stages: Annotated[list[StageName], Field(max_length=100)] | None = None
    initial_stage: StageName | None = None
    transitions: dict[StageName, list[StageName]] | None = None
    locked_stages: list[StageName] | None = None
    guards: dict[StageName, Guard] | None = None
    stale_rules: list[StaleRule] | None = None
    final_stages: list[StageName] | None = None
    reentry: Reentry | None = None
    # How many stage index keys each stage is spread over (a key takes about 1,000 writes a
    # second); only ever raised, see journeys_core.data.stage_index.
    stage_index_shards: Annotated[int, Field(ge=1, le=32)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> JourneySpec:
        if not self.events and not self.stages:
            raise ValueError("a journey_spec needs events or stages")
        if self.events:
            ids = [e.event_id for e in self.events]
            duplicates = sorted({i for i in ids if ids.count(i) > 1})
            if duplicates:
                raise ValueError(f"events: duplicate event_id {', '.join(duplicates)}")
            problems = find_dependency_problems(
                [{"event_id": e.event_id, "depends_on": e.depends_on} for e in self.events]
            )
            if problems:
                raise ValueError("events: " + "; ".join(problems))
            repeats = [{"repeat": e.repeat.model_dump() if e.repeat else None} for e in self.events]
            events_per_entity_bound(repeats, self.duration_days)  # TimelineTooLarge names events
        self._check_stage_references()
        return self

    def _check_stage_references(self) -> None:
        stage_fields = {
            "initial_stage": [self.initial_stage] if self.initial_stage else [],
            "transitions": [
                s for src, targets in (self.transitions or {}).items() for s in [src, *targets]
            ],
            "locked_stages": self.locked_stages or [],
            "guards": list(self.guards or {}),
            "stale_rules": [r.stage for r in self.stale_rules or []],
            "final_stages": self.final_stages or [],
            "events": [e.move_to for e in self.events or [] if e.move_to],
        }
        named = {field: refs for field, refs in stage_fields.items() if refs}
        if not self.stages:
            if named:
                raise ValueError(f"{', '.join(named)} need stages")
            return
        if len(set(self.stages)) != len(self.stages):
            raise ValueError("stages: each stage once")
        known = set(self.stages)
        for field, refs in named.items():
            unknown = sorted({s for s in refs if s not in known})
            if unknown:
                raise ValueError(f"{field}: unknown stage {', '.join(unknown)}")

    @property
    def effective_initial_stage(self) -> str | None:
        if self.initial_stage:
            return self.initial_stage
        return self.stages[0] if self.stages else None

    def stored_form(self) -> dict[str, Any]:
        """The spec as the user gave it (unset keys stay absent), JSON-ready."""
        return self.model_dump(mode="json", exclude_unset=True)


def stage_index_shards(spec: Mapping[str, Any]) -> int:
    """How many stage index keys a stored spec spreads each stage over (1 unless it says)."""
    return int(spec.get("stage_index_shards") or 1)


Description = Annotated[str, StringConstraints(max_length=2000)]
TagList = Annotated[list[Tag], Field(max_length=50), Unique]
Metadata = Annotated[dict[str, Any], Field(max_length=100)]


class JourneyCreate(Strict):
    name: JourneyName
    journey_spec: JourneySpec
    description: Description | None = None
    tags: TagList = []
    products: TagList | None = None
    metadata: Metadata = {}
    is_active: bool = True


class JourneyUpdate(Strict):
    journey_spec: JourneySpec | None = None
    description: Description | None = None
    tags: TagList | None = None
    products: TagList | None = None
    metadata: Metadata | None = None
    is_active: bool | None = None
    bump_version: bool = True


class JourneySummary(Model):
    id: str
    name: str
    description: str
    version: int
    products: list[str]
    tags: list[str]
    duration_days: int | None = None
    event_count: int
    is_active: bool
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    execution_count: int = 0
    last_executed: datetime | None = None


class JourneyRecord(JourneySummary):
    journey_spec: dict[str, Any]


class JourneyPage(Page[JourneySummary]):
    pass


class JourneyVersions(Model):
    items: list[JourneyRecord]


class ImportResult(Model):
    imported: int
    names: list[str] = []


class JourneyTemplate(Model):
    """The stage-machine view of a definition (the Kura ``JourneyTemplate``)."""

    id: str
    organization_id: str
    name: str
    key: str
    allowed_stages: list[str]
    initial_stage: str | None
    locked_stages: list[str] = []
    is_active: bool
    version: int


class JourneyTemplateList(Model):
    items: list[JourneyTemplate]
