"""The automation engine: rules (trigger, conditions, actions), the domain events that
trigger them, and the request bodies of the rules and events API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from journeys_core.models.common import OrganizationId, Page, Strict
from journeys_core.models.journey import JourneyName, StageName
from journeys_core.models.patient import PatientId

# Domain event types the engine reacts to (EventBridge ``detail-type``): those callers may
# submit (POST /events), and JOURNEY_STAGE_TIMEOUT, which the service emits itself. The bus
# rule in template.yaml routes exactly these to the automation queue (a unit test keeps both
# equal).
SubmittableEvent = Literal[
    "FORM_SUBMISSION_COMPLETED",
    "PAYMENT_SUCCEEDED",
    "PAYMENT_FAILED",
    "RISK_ANALYSIS_COMPLETED",
    "BOOKING_CREATED",
    "BOOKING_CANCELLED",
]
TriggerEvent = Literal[SubmittableEvent, "JOURNEY_STAGE_TIMEOUT"]
TRIGGER_EVENTS: tuple[str, ...] = get_args(TriggerEvent)
# Emitted by the service itself: never accepted from POST /events nor emitted by a rule.
SERVICE_EVENTS = frozenset({"JOURNEY_STAGE_TIMEOUT", "JOURNEY_STAGE_CHANGED"})

RULE_ID_PATTERN = r"^rule-[0-9a-f]{8}$"
# Event ids travel in DynamoDB keys and log entries: no spaces, no '#'.
EVENT_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
EVENT_TYPE_PATTERN = r"^[A-Z][A-Z0-9_]{2,63}$"
# A dotted path into an event's ``detail``: ``payload.risk_level``, ``journey_key``.
CONDITION_PATH_PATTERN = r"^[A-Za-z0-9_-]{1,64}(\.[A-Za-z0-9_-]{1,64}){0,9}$"

RuleId = Annotated[str, StringConstraints(pattern=RULE_ID_PATTERN)]
EventId = Annotated[str, StringConstraints(pattern=EVENT_ID_PATTERN)]
EventTypeName = Annotated[str, StringConstraints(pattern=EVENT_TYPE_PATTERN)]
ConditionPath = Annotated[str, StringConstraints(pattern=CONDITION_PATH_PATTERN)]
ConditionOp = Literal["eq", "ne", "in", "gt", "gte", "lt", "lte", "exists"]
Payload = Annotated[dict[str, Any], Field(max_length=100)]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class Condition(Strict):
    """``path`` into the event's ``detail``, an operator and the value to compare with.

    ``exists`` takes ``true`` (the default) or ``false``; ``in`` a list; ``gt``, ``gte``,
    ``lt`` and ``lte`` a number or a string; ``eq`` and ``ne`` any JSON value."""

    path: ConditionPath
    op: ConditionOp
    value: Any = None

    @model_validator(mode="after")
    def _value_fits_the_operator(self) -> Condition:
        given = "value" in self.model_fields_set
        if self.op == "exists":
            if not given:
                self.value = True
            elif not isinstance(self.value, bool):
                raise ValueError("value: exists takes true or false")
        elif not given:
            raise ValueError(f"value: {self.op} needs a value")
        elif self.op == "in":
            if not isinstance(self.value, list) or not 1 <= len(self.value) <= 100:
                raise ValueError("value: in takes a list of 1-100 values")
        elif self.op in ("gt", "gte", "lt", "lte") and not (
            _is_number(self.value) or isinstance(self.value, str)
        ):
            raise ValueError(f"value: {self.op} compares with a number or a string")
        return self


class UpdateJourneyStatusParams(Strict):
    key: JourneyName
    status: StageName


class UpdateJourneyStatus(Strict):
    """Move the event's patient to ``status`` in journey ``key`` (the same checks as a
    person's move, as automation: locked stages are never left, guards hold)."""

    type: Literal["update_journey_status"]
    params: UpdateJourneyStatusParams


class SendEmailParams(Strict):
    # ``{path}`` placeholders are filled from the event (``{payload.amount}``, ``{stage}``)
    # and the patient (``{patient.display_name}``); unknown ones are left as written.
    subject: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    template: Annotated[str, StringConstraints(min_length=1, max_length=10_000)]


class SendEmail(Strict):
    """Email the event's patient (the address of its profile) through SES."""

    type: Literal["send_email"]
    params: SendEmailParams


class EmitEventParams(Strict):
    type: EventTypeName
    payload: Payload = {}

    @field_validator("type")
    @classmethod
    def _not_a_service_event(cls, value: str) -> str:
        if value in SERVICE_EVENTS:
            raise ValueError(f"{value} is emitted by the service itself")
        return value


class EmitEvent(Strict):
    """Put a new domain event about the same patient on the service's bus."""

    type: Literal["emit_event"]
    params: EmitEventParams


# Active rules one trigger may have: the engine runs at most these for one event (priority
# order) and a rule that would be one more is refused when saved.
MAX_ACTIVE_RULES_PER_TRIGGER = 20
RuleAction = Annotated[UpdateJourneyStatus | SendEmail | EmitEvent, Field(discriminator="type")]
RuleName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
RuleDescription = Annotated[str, StringConstraints(max_length=1000)]
Priority = Annotated[int, Field(ge=0, le=99_999)]
Conditions = Annotated[list[Condition], Field(max_length=20)]
Actions = Annotated[list[RuleAction], Field(min_length=1, max_length=10)]
RuleOrigin = Literal["custom", "playbook"]


class AutomationRuleCreate(Strict):
    """``POST /automation-rules``. Rules run in ascending ``priority`` (then id); every
    condition must hold."""

    name: RuleName
    description: RuleDescription = ""
    trigger_event: TriggerEvent
    conditions: Conditions = []
    actions: Actions
    priority: Priority = 100
    is_active: bool = True

    @model_validator(mode="after")
    def _does_not_trigger_itself(self) -> AutomationRuleCreate:
        for index, action in enumerate(self.actions):
            if isinstance(action, EmitEvent) and action.params.type == self.trigger_event:
                raise ValueError(
                    f"actions.{index}.params.type: a rule must not emit its own trigger "
                    f"{self.trigger_event} (it would run again on its own event)"
                )
        return self


class AutomationRuleUpdate(Strict):
    """``PATCH /automation-rules/{id}``: fields given replace the rule's; omitted ones stay."""

    name: RuleName | None = None
    description: RuleDescription | None = None
    trigger_event: TriggerEvent | None = None
    conditions: Conditions | None = None
    actions: Actions | None = None
    priority: Priority | None = None
    is_active: bool | None = None


class AutomationRule(BaseModel):
    id: str
    organization_id: str
    name: str
    description: str = ""
    trigger_event: str
    conditions: list[Condition]
    actions: list[RuleAction]
    priority: int
    is_active: bool
    origin: RuleOrigin = "custom"
    version: int
    created_at: datetime
    updated_at: datetime


class AutomationRulePage(Page[AutomationRule]):
    pass


class PlaybookResult(BaseModel):
    installed: int
    already_present: int
    items: list[AutomationRule]


class DomainEventSubmission(Strict):
    """``POST /events``: a domain event about one patient of the caller's organization."""

    type: SubmittableEvent
    patient_id: PatientId
    payload: Payload = {}
    # Give your own id to make retries safe: the engine processes an event id once.
    event_id: EventId | None = None


class EventAccepted(BaseModel):
    event_id: str
    type: str
    status: Literal["accepted"] = "accepted"


class EventDetail(BaseModel):
    """The ``detail`` of a domain event on the bus; other keys are kept for conditions."""

    model_config = ConfigDict(extra="allow")

    organization_id: OrganizationId
    patient_id: PatientId
    event_id: EventId | None = None
    payload: dict[str, Any] = {}
    chain_depth: Annotated[int, Field(ge=0, le=100)] = 0


class BusEvent(BaseModel):
    """An EventBridge event as the bus rule delivers it to the queue (the SQS body)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    detail_type: Annotated[EventTypeName, Field(alias="detail-type")]
    source: str
    time: datetime
    detail: EventDetail


class DomainEvent(BaseModel):
    """A domain event as the engine processes it: the idempotency key is
    (``organization_id``, ``event_id``, ``fingerprint``); ``detail`` is what conditions look
    into."""

    event_id: str
    event_type: str
    organization_id: str
    patient_id: str
    source: str
    occurred_at: datetime
    payload: dict[str, Any]
    detail: dict[str, Any]
    chain_depth: int = 0
    fingerprint: str
    sender: str | None = None
