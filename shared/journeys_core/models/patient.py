"""Live patient journeys: profiles, enrollments (one per patient and journey), the append-only
journey log, and the request bodies of the patients API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from journeys_core.models.common import Page, Strict
from journeys_core.models.journey import NAME_PATTERN, JourneyName, StageName

# Patient ids travel in URLs and DynamoDB keys like journey names: the same charset.
PATIENT_ID_PATTERN = NAME_PATTERN
PatientId = Annotated[str, StringConstraints(pattern=PATIENT_ID_PATTERN)]
# Deliberately loose (one @, a dot in the domain, no spaces): delivery is the real check.
EMAIL_PATTERN = r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$"
MAX_REASON_CHARS = 1000


class PatientProfileUpdate(Strict):
    """``PUT /patients/{id}``: fields given are set (``null`` clears one), omitted ones kept."""

    display_name: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
        | None
    ) = None
    email: Annotated[str, StringConstraints(max_length=254, pattern=EMAIL_PATTERN)] | None = None
    metadata: Annotated[dict[str, Any], Field(max_length=100)] | None = None


def _blank_is_none(value: str | None) -> str | None:
    return value or None


Reason = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=MAX_REASON_CHARS),
    AfterValidator(_blank_is_none),
]
# Event ids and types as automation passes them on: printable, no spaces.
EventText = Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]{1,200}$")]


class StageMoveRequest(Strict):
    """``PATCH /patients/{id}/journey``: enroll in a journey or move to another stage."""

    key: JourneyName
    status: StageName
    reason: Reason | None = None
    expected_stage: StageName | None = None
    # Enter a guarded stage without the events its guard requires (admin only, with a
    # reason); the log entry names the events that were missing.
    override_guard: bool = False

    @model_validator(mode="after")
    def _override_says_why(self) -> StageMoveRequest:
        if self.override_guard and not self.reason:
            raise ValueError("reason: overriding a guard needs a reason")
        return self


class StageMove(Strict):
    """One stage move, whoever asks for it (a person through the API, automation, the
    monitor): validated once, here. ``actor`` is a person's JWT ``sub``, or ``automation`` /
    ``monitor`` (never a person, whatever ``is_person`` says). ``trigger_event_type`` counts as
    an event the patient has had (guards) and is remembered."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    org: str
    patient_id: PatientId
    journey_key: JourneyName
    to_stage: StageName
    actor: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    reason: Reason | None = None
    expected_stage: StageName | None = None
    trigger_event_id: EventText | None = None
    trigger_event_type: EventText | None = None
    is_person: bool = True
    override_guard: bool = False  # honoured for a person only


class Enrollment(BaseModel):
    """A patient's place in one journey. ``version`` is the optimistic lock of stage moves."""

    journey_key: str
    stage: str
    entered_at: datetime
    enrolled_at: datetime
    version: int
    definition_version: int
    # Episodes: the current one's number, when it ended (a final stage), how many ended.
    episode: int = 1
    ended_at: datetime | None = None
    episodes_ended: int = 0
    # The hash of the enrollment's latest log entry: the next entry chains to it without
    # reading the log (None before the first chained entry).
    log_hash: str | None = None


class PatientView(BaseModel):
    """A patient as ``GET /patients/{id}`` answers: profile, stages, enrollments by journey."""

    id: str
    organization_id: str
    display_name: str | None = None
    email: str | None = None
    metadata: dict[str, Any] = {}
    journey_status: dict[str, str] = {}
    enrollments: dict[str, Enrollment] = {}
    created_at: datetime | None = None
    updated_at: datetime | None = None


class JourneyLogEntry(BaseModel):
    """One stage change, written in the same transaction as the enrollment it describes."""

    id: str
    organization_id: str
    patient_id: str
    journey_key: str
    from_stage: str | None  # None on enrollment
    to_stage: str
    changed_at: datetime
    actor: str  # the JWT sub of a person, or "automation" / "monitor"
    reason: str | None = None
    trigger_event_id: str | None = None
    trigger_event_type: str | None = None
    definition_version: int
    episode: int = 1
    # The events a guard required that the patient had not had: an admin overrode it.
    guard_overridden: list[str] | None = None
    # When the patient entered the stage it leaves (a stay is closed by one entry), and for
    # a new episode the final stage the ended one stood in.
    from_entered_at: datetime | None = None
    reentered_from: str | None = None
    # The hash chain (journeys_core.domain.log_chain): the previous entry's hash (None for
    # the first) and the SHA-256 of this entry's canonical content, the previous included.
    previous_hash: str | None = None
    entry_hash: str | None = None


class JourneyHistoryPage(Page[JourneyLogEntry]):
    pass


ChainProblem = Literal["content", "link", "unchained", "anchor"]


class InvalidLogEntry(BaseModel):
    """The first entry of a journey log that does not hold (see ``ChainProblem``)."""

    entry_id: str
    position: int = Field(description="1 for the oldest entry")
    changed_at: datetime
    problem: ChainProblem = Field(
        description=(
            "content: the entry is not what its hash says; link: it does not name the "
            "previous entry's hash; unchained: it carries no hash after the chain began; "
            "anchor: the latest hash the enrollment keeps is not this entry's"
        )
    )


class LogVerification(BaseModel):
    """``GET .../history/verify``: the journey log walked oldest first, hash by hash."""

    entries: int = Field(description="entries in the log")
    valid: bool
    first_invalid: InvalidLogEntry | None
    unchained: int = Field(
        description="entries written before logs were chained (the oldest, not verifiable)"
    )


class StageMember(BaseModel):
    """A patient standing in a stage now (a row of ``GET /patients?journey_key=&stage=``),
    named as the profile names it."""

    patient_id: str
    display_name: str | None = None
    journey_key: str
    stage: str
    entered_at: datetime
    version: int


class StageMembersPage(Page[StageMember]):
    pass


class PatientSummary(BaseModel):
    """A patient found by ``GET /patients?search=``: who it is and how to reach it."""

    id: str
    display_name: str | None = None
    email: str | None = None
    updated_at: datetime | None = None


class PatientSearchPage(Page[PatientSummary]):
    pass
