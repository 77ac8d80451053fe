"""The rules of a journey's stage machine (pure: no AWS).

A definition's ``journey_spec`` may carry ``stages``, ``initial_stage``, ``transitions``,
``locked_stages`` and ``guards``. :func:`decide_stage_move` says whether a requested move is
allowed and what it changes; the service writes the change and its log entry atomically.

Rules, in the order they are checked:

1. the requested stage must be one of ``stages`` (else 422);
2. ``expected_stage``, when given, must be where the patient stands (else 409, even if the
   patient already stands in the requested stage);
3. a move to the current stage changes nothing (no write, no log entry);
4. a first enrollment starts at ``initial_stage``; a person may name another stage, automation
   never can;
5. a ``locked_stages`` stage is left only by a person giving a reason (automation never can);
6. with ``transitions``, only the listed moves are allowed (a stage without an entry is final);
7. ``guards[stage].requires_events`` lists the domain event types the patient must have had
   before entering ``stage``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from journeys_core.errors import Conflict, InvalidInput
from journeys_core.models.patient import Enrollment, JourneyLogEntry, StageMove

AUTOMATION_ACTORS = frozenset({"automation", "monitor"})
_TICK = timedelta(microseconds=1)


# Which rule refused a move: the simulator counts refusals by kind.
RefusalKind = Literal["expected_stage", "initial", "locked", "transition", "guard"]


class MoveRefused(Conflict):
    """A move the journey's rules refuse (409), saying which rule."""

    def __init__(self, message: str, why: RefusalKind) -> None:
        super().__init__(message)
        self.why = why


@dataclass(frozen=True)
class StageMachine:
    journey_key: str
    stages: tuple[str, ...]
    initial_stage: str
    transitions: Mapping[str, tuple[str, ...]] | None = None
    locked_stages: frozenset[str] = frozenset()
    guards: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def from_spec(cls, journey_key: str, spec: Mapping[str, Any]) -> StageMachine | None:
        """The machine of a stored (already validated) spec; None when it has no stages."""
        stages = tuple(spec.get("stages") or ())
        if not stages:
            return None
        transitions = spec.get("transitions")
        guards = spec.get("guards") or {}
        return cls(
            journey_key=journey_key,
            stages=stages,
            initial_stage=spec.get("initial_stage") or stages[0],
            transitions=(
                {source: tuple(targets) for source, targets in transitions.items()}
                if transitions is not None
                else None
            ),
            locked_stages=frozenset(spec.get("locked_stages") or ()),
            guards={
                stage: frozenset(guard.get("requires_events") or ())
                for stage, guard in guards.items()
            },
        )

    def allowed_next(self, stage: str) -> tuple[str, ...]:
        """Where a patient standing in ``stage`` may go (every other stage without
        ``transitions``)."""
        if self.transitions is None:
            return tuple(s for s in self.stages if s != stage)
        return self.transitions.get(stage, ())


@dataclass(frozen=True)
class CurrentStage:
    """Where the patient stands in the journey now (read just before the move)."""

    stage: str
    version: int
    entered_at: datetime


@dataclass(frozen=True)
class MoveRequest:
    to_stage: str
    is_person: bool = True
    reason: str | None = None
    expected_stage: str | None = None
    events_seen: frozenset[str] = frozenset()


@dataclass(frozen=True)
class StageChange:
    """A move to write: ``expected_version`` None means a first enrollment."""

    from_stage: str | None
    to_stage: str
    expected_version: int | None

    @property
    def is_enrollment(self) -> bool:
        return self.expected_version is None

    @property
    def new_version(self) -> int:
        return 1 if self.expected_version is None else self.expected_version + 1


def is_person_actor(actor: str, is_person: bool = True) -> bool:
    """Automation and the monitor are never people, whatever the caller claims."""
    return is_person and actor not in AUTOMATION_ACTORS


def _names(stages: Iterable[str]) -> str:
    return ", ".join(stages) or "none"


def decide_stage_move(
    machine: StageMachine, current: CurrentStage | None, request: MoveRequest
) -> StageChange | None:
    """The change to write, or None for a move to the stage the patient already stands in.

    Raises InvalidInput (422) for a stage the journey does not have, MoveRefused (a Conflict,
    409) for a move the rules refuse.
    """
    key, to_stage = machine.journey_key, request.to_stage
    if to_stage not in machine.stages:
        raise InvalidInput(
            f"status: {to_stage!r} is not a stage of journey {key!r} "
            f"(stages: {_names(machine.stages)})"
        )
    where = current.stage if current else None
    if request.expected_stage is not None and request.expected_stage != where:
        standing = f"stands in {where!r}" if where else "is not enrolled"
        raise MoveRefused(
            f"expected the patient in {request.expected_stage!r} of journey {key!r}, "
            f"but the patient {standing}",
            "expected_stage",
        )
    if current is None:
        if to_stage != machine.initial_stage and not request.is_person:
            raise MoveRefused(
                f"automation enrolls only at journey {key!r}'s initial stage "
                f"{machine.initial_stage!r}, not {to_stage!r}",
                "initial",
            )
        _check_guard(machine, request)
        return StageChange(from_stage=None, to_stage=to_stage, expected_version=None)
    if to_stage == current.stage:
        return None
    if current.stage in machine.locked_stages:
        if not request.is_person:
            raise MoveRefused(
                f"{current.stage!r} is a locked stage of journey {key!r}: "
                "only a person can move the patient out of it",
                "locked",
            )
        if not request.reason:
            raise MoveRefused(
                f"leaving the locked stage {current.stage!r} needs a reason", "locked"
            )
    allowed = machine.allowed_next(current.stage)
    if to_stage not in allowed:
        raise MoveRefused(
            f"journey {key!r} does not allow {current.stage!r} -> {to_stage!r}; "
            f"allowed from {current.stage!r}: {_names(allowed)}",
            "transition",
        )
    _check_guard(machine, request)
    return StageChange(
        from_stage=current.stage, to_stage=to_stage, expected_version=current.version
    )


def _check_guard(machine: StageMachine, request: MoveRequest) -> None:
    missing = sorted(machine.guards.get(request.to_stage, frozenset()) - request.events_seen)
    if missing:
        raise MoveRefused(
            f"entering {request.to_stage!r} of journey {machine.journey_key!r} needs the "
            f"patient to have had {_names(missing)} first",
            "guard",
        )


@dataclass(frozen=True)
class PlannedMove:
    """What a stage move writes, in one transaction: the enrollment where it now stands (only
    if it still stands where it was read: ``expected_stage``/``expected_version``, or does
    not exist for a first enrollment) and its log entry; ``event_type_seen`` is remembered."""

    enrollment: Enrollment
    entry: JourneyLogEntry
    expected_version: int | None
    expected_stage: str | None
    event_type_seen: str | None


def plan_stage_move(
    machine: StageMachine,
    move: StageMove,
    enrollment: Enrollment | None,
    events_seen: frozenset[str],
    *,
    definition_version: int,
    now: datetime,
    entry_id: str,
) -> PlannedMove | None:
    """The writes of ``move`` for a patient read just before (its enrollment in the journey
    and the events it has had), or None when it already stands there. Raises what
    :func:`decide_stage_move` raises."""
    current = (
        CurrentStage(enrollment.stage, enrollment.version, enrollment.entered_at)
        if enrollment
        else None
    )
    trigger = move.trigger_event_type
    change = decide_stage_move(
        machine,
        current,
        MoveRequest(
            to_stage=move.to_stage,
            is_person=is_person_actor(move.actor, move.is_person),
            reason=move.reason,
            expected_stage=move.expected_stage,
            events_seen=events_seen | ({trigger} if trigger else frozenset()),
        ),
    )
    if change is None:
        return None
    changed_at = change_time(now, current)
    moved = Enrollment(
        journey_key=move.journey_key,
        stage=change.to_stage,
        entered_at=changed_at,
        enrolled_at=enrollment.enrolled_at if enrollment else changed_at,
        version=change.new_version,
        definition_version=definition_version,
    )
    entry = JourneyLogEntry(
        id=entry_id,
        organization_id=move.org,
        patient_id=move.patient_id,
        journey_key=move.journey_key,
        from_stage=change.from_stage,
        to_stage=change.to_stage,
        changed_at=changed_at,
        actor=move.actor,
        reason=move.reason,
        trigger_event_id=move.trigger_event_id,
        trigger_event_type=trigger,
        definition_version=definition_version,
    )
    return PlannedMove(
        enrollment=moved,
        entry=entry,
        expected_version=change.expected_version,
        expected_stage=change.from_stage,
        event_type_seen=trigger if trigger and trigger not in events_seen else None,
    )


def change_time(now: datetime, current: CurrentStage | None) -> datetime:
    """When the change happens: ``now``, but never at or before the current stage was
    entered, so that a journey's log stays in order even across skewed Lambda clocks."""
    if current is not None and now <= current.entered_at:
        return current.entered_at + _TICK
    return now
