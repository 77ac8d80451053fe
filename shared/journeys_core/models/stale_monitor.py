"""The stale-journey monitor: what a run reports, and the timeout event it emits."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class StalePlanResult(BaseModel):
    """What the planner of a scheduled run handed to the workers."""

    units: int = 0
    queued: int = 0
    organizations: int = 0


class StaleCheckResult(BaseModel):
    """What a monitor unit (or the admin check, all of one organization's) did
    (``GET /admin/stale-journeys/check`` answers this)."""

    # Stuck (patient, journey, stage) enrollments the run examined.
    processed: int = 0
    # Timeouts emitted (or, in a dry run, that would be) per ``journey.STAGE``.
    rules_triggered: dict[str, int] = Field(default_factory=dict)
    emitted: int = 0
    dry_run: bool = False
    # False when the run stopped early for lack of time: a unit's continuation goes on.
    complete: bool = True


class StageTimeoutDetail(BaseModel):
    """The ``detail`` of a ``JOURNEY_STAGE_TIMEOUT`` event on the bus."""

    model_config = ConfigDict(extra="ignore")

    organization_id: str
    patient_id: str
    journey_key: str
    stage: str
    hours_stale: float
    action: str
    email_subject: str | None = None
    event_id: str


NotificationOutcome = Literal["sent", "skipped", "failed", "duplicate"]


class TimeoutNotification(BaseModel):
    """What the notifier did with one timeout (also appended to the system event's results)."""

    step: Literal["email"] = "email"
    action: str
    outcome: NotificationOutcome
    detail: str = ""
    message_id: str | None = None

    def as_result(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)
