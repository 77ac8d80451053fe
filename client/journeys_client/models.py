"""The records the client returns: the guide's record types with the guide's field names.

Hand-written from the service's ``docs/openapi.json``, so the client does not import the
service's code: each model names the schema it mirrors (``openapi_schema``), and
``tests/unit/test_client_contract.py`` holds its fields, their types and which are required
to that schema. Fields the service adds later are ignored rather than refused (a tolerant
reader); datetimes and dates are parsed.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

ExecutionStatus = Literal["completed", "failed", "partial"]


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore")
    # The name of the schema in docs/openapi.json's components that this model mirrors.
    openapi_schema: ClassVar[str]


class JourneySummary(_Record):
    """Brief info for listing (``list_journeys``), with execution stats."""

    openapi_schema = "JourneySummary"

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

    openapi_schema = "JourneyRecord"

    journey_spec: dict[str, Any]


class JourneyExecutionRecord(_Record):
    """An execution history entry (``record_execution_record``, ``get_executions``,
    ``get_entity_journeys``). ``id`` is a positive integer; a greater id was recorded later."""

    openapi_schema = "ExecutionRecord"

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
    openapi_schema = "TimelineEvent"

    event_id: str
    name: str
    event_type: str | None = None
    product: str | None = None
    scheduled_date: date
    day_offset: int
    occurrence: int


class EntityTimeline(_Record):
    openapi_schema = "EntityTimeline"

    entity_id: str
    events: list[TimelineEvent]
    execution_id: int | None = None


class Timeline(_Record):
    """``generate_timeline``: dated events per entity, deterministic for (seed, entity, event)."""

    openapi_schema = "TimelineResponse"

    journey_id: str
    journey_name: str
    journey_version: int
    seed: int
    start_date: date
    events_generated: int
    timelines: list[EntityTimeline]


class Simulation(_Record):
    """``simulate_journey``: where a synthetic cohort ends up under a version or a draft and
    its rules (the service's ``SimulationResult``; the nested parts stay plain JSON)."""

    openapi_schema = "SimulationResult"

    journey_key: str
    version: int | None = None
    rules_source: str
    cohort_size: int
    enrolled: int
    seed: int
    start_date: date
    days: int
    arrivals_per_day: int | None = None
    stages: list[dict[str, Any]]
    final: dict[str, int]
    refused: list[dict[str, Any]]
    timeouts: dict[str, Any]
    emails: dict[str, Any]
    rules: list[dict[str, Any]]
    never_fired: list[str | int]
    chains_cut: int
    compared_version: int | None = None
    diff: dict[str, Any] | None = None

    def table(self) -> str:
        """The stage table a terminal shows (``make simulate``): per stage, entries, patients
        there at the end, median and p90 hours in it, and the change against the compared
        version when there is one; then the totals."""
        header = ["stage", "entries", "at end", "median h", "p90 h"]
        if self.diff:
            header += ["entries vs live", "at end vs live"]
        rows = [header]
        for stage in self.stages:
            times = stage["time_in_stage"]
            row = [
                stage["stage"],
                str(stage["entries"]),
                str(stage["in_stage_at_end"]),
                _number(times["median_hours"]),
                _number(times["p90_hours"]),
            ]
            if self.diff:
                change = self.diff.get(stage["stage"], {})
                row += [
                    _signed(change.get("entries", {}).get("change")),
                    _signed(change.get("final", {}).get("change")),
                ]
            rows.append(row)
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        lines = [
            "  ".join(
                cell.ljust(w) if i == 0 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
            for row in rows
        ]
        lines.insert(1, "  ".join("-" * w for w in widths))
        emails = self.emails["per_day"]
        lines += [
            "",
            f"{self.enrolled} of {self.cohort_size} patients over {self.days} days "
            f"(seed {self.seed}, rules: {self.rules_source})",
            f"refused moves: {sum(r['count'] for r in self.refused)}; "
            f"timeouts: {self.timeouts['total']}; emails: {self.emails['total']} "
            f"(busiest day {max(emails, default=0)}); chains cut: {self.chains_cut}",
        ]
        lines += [
            f"  refused {r['from_stage']} -> {r['to_stage']} ({r['why']}): {r['count']}"
            for r in self.refused
        ]
        if self.never_fired:
            lines.append(f"rules that never fired: {', '.join(map(str, self.never_fired))}")
        return "\n".join(lines)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+,.0f}"


class Enrollment(_Record):
    """A patient's place in one journey; ``version`` counts its stage changes."""

    openapi_schema = "Enrollment"

    journey_key: str
    stage: str
    entered_at: datetime
    enrolled_at: datetime
    version: int
    definition_version: int
    episode: int = 1
    ended_at: datetime | None = None
    episodes_ended: int = 0
    log_hash: str | None = None


class Patient(_Record):
    """A patient: profile, current stage per journey (``journey_status``) and enrollments."""

    openapi_schema = "PatientView"

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

    openapi_schema = "JourneyLogEntry"

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
    episode: int = 1
    guard_overridden: list[str] | None = None
    from_entered_at: datetime | None = None
    reentered_from: str | None = None
    previous_hash: str | None = None
    entry_hash: str | None = None


class InvalidLogEntry(_Record):
    """The first entry of a journey log that does not hold: ``problem`` is ``content`` (not
    what its hash says), ``link`` (does not name the previous hash), ``unchained`` (no hash
    after the chain began) or ``anchor`` (not the entry the enrollment was moved with)."""

    openapi_schema = "InvalidLogEntry"

    entry_id: str
    position: int
    changed_at: datetime
    problem: str


class LogVerification(_Record):
    """``patients.verify_history``: the journey log walked hash by hash, oldest first."""

    openapi_schema = "LogVerification"

    entries: int
    valid: bool
    first_invalid: InvalidLogEntry | None
    unchained: int


class StageMember(_Record):
    """A patient standing in a stage now (``patients.in_stage``), with its profile's name."""

    openapi_schema = "StageMember"

    patient_id: str
    display_name: str | None = None
    journey_key: str
    stage: str
    entered_at: datetime
    version: int


class PatientSummary(_Record):
    """A patient found by ``patients.search``."""

    openapi_schema = "PatientSummary"

    id: str
    display_name: str | None = None
    email: str | None = None
    updated_at: datetime | None = None


class SystemEvent(_Record):
    """Something that happened to a patient (``patients.events``): an inbound domain event
    or a timeout, and what the service did with it (``results``: rule outcomes, emails sent,
    skipped or failed)."""

    openapi_schema = "SystemEvent"

    event_id: str
    organization_id: str
    event_type: str
    patient_id: str | None = None
    source: str
    received_at: datetime
    payload: dict[str, Any] = {}
    status: str = "received"
    sender: str | None = None
    fingerprint: str | None = None
    results: list[dict[str, Any]] = []


class EventAccepted(_Record):
    """``events.publish``: the event id (yours, or the one the client made up) and type."""

    openapi_schema = "EventAccepted"

    event_id: str
    type: str
    status: str = "accepted"


class JourneyTemplate(_Record):
    """A journey that has stages, as the dashboard lists them (``list_journey_templates``)."""

    openapi_schema = "JourneyTemplate"

    id: str
    organization_id: str
    name: str
    key: str
    allowed_stages: list[str]
    initial_stage: str | None = None
    locked_stages: list[str] = []
    is_active: bool
    version: int


class MigrationPreview(_Record):
    """``migrate_journey(..., dry_run=True)``: who would move, per stage; nothing written."""

    openapi_schema = "MigrationPreview"

    dry_run: bool = True
    patients: int
    by_stage: dict[str, int]
    unmapped: dict[str, int]


class Migration(_Record):
    """A migration under way or done (``migrate_journey``, ``get_migration``)."""

    openapi_schema = "MigrationStatus"

    id: str
    journey_key: str
    from_version: int | None = None
    to_version: int
    status: Literal["running", "completed", "failed"]
    moved: int = 0
    repinned: int = 0
    skipped: int = 0
    unmapped: int = 0
    started_at: datetime
    finished_at: datetime | None = None
    error: str | None = None


class RuleCondition(_Record):
    """``{path, op, value}``: a dotted path into the event's ``detail``, compared by ``op``."""

    openapi_schema = "Condition"

    path: str
    op: str
    value: Any = None


class AutomationRule(_Record):
    """An automation rule: when ``trigger_event`` arrives and every condition holds, its
    actions run (``{"type": "update_journey_status" | "send_email" | "emit_event",
    "params": {...}}``), rules in ascending ``priority``."""

    openapi_schema = "AutomationRule"

    id: str
    organization_id: str
    name: str
    description: str = ""
    trigger_event: str
    conditions: list[RuleCondition]
    actions: list[dict[str, Any]]
    priority: int
    is_active: bool
    origin: str = "custom"
    version: int
    created_at: datetime
    updated_at: datetime


class PlaybookResult(_Record):
    """``rules.import_playbook``: the default rules installed now, and those already there."""

    openapi_schema = "PlaybookResult"

    installed: int
    already_present: int
    items: list[AutomationRule]


class StaleCheckResult(_Record):
    """``admin.check_stale_journeys``: stuck enrollments examined and timeouts emitted (or, in
    a dry run, that would be) per ``"journey.STAGE"``."""

    openapi_schema = "StaleCheckResult"

    processed: int = 0
    rules_triggered: dict[str, int] = {}
    emitted: int = 0
    dry_run: bool = False
    complete: bool = True


class Period(_Record):
    openapi_schema = "Period"

    start: datetime
    end: datetime


class TimeInStage(_Record):
    openapi_schema = "TimeInStage"

    stays: int
    ended: int
    median_hours: float | None
    p90_hours: float | None


class Conversion(_Record):
    openapi_schema = "Conversion"

    to_stage: str
    count: int
    rate: float


class StaleThreshold(_Record):
    openapi_schema = "StaleThreshold"

    max_hours: float
    action: str
    past_threshold_now: int


class StageAnalytics(_Record):
    openapi_schema = "StageAnalytics"

    stage: str
    kind: Literal["active", "blocked", "completed", "cancelled"]
    in_definition: bool
    in_stage_now: int
    entries: int
    time_in_stage: TimeInStage
    conversions: list[Conversion]
    stale_rules: list[StaleThreshold]


class PeriodTotals(_Record):
    openapi_schema = "PeriodTotals"

    enrolled: int
    completed: int
    cancelled: int
    blocked: int


class CurrentTotals(_Record):
    openapi_schema = "CurrentTotals"

    enrolled: int
    active: int
    blocked: int
    completed: int
    cancelled: int


class ReadCost(_Record):
    openapi_schema = "ReadCost"

    log_items: int
    enrollment_items: int
    queries: int


class JourneyAnalytics(_Record):
    """``analytics.journey``: a journey's funnel over a period (stages in the definition's
    order), its totals, where patients stand now, and what the request read."""

    openapi_schema = "JourneyAnalytics"

    journey_key: str
    definition_version: int
    period: Period
    generated_at: datetime
    stages: list[StageAnalytics]
    totals: PeriodTotals
    current: CurrentTotals
    reads: ReadCost
