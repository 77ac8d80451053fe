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
   before entering ``stage``; a person may override it (``override_guard``: the API lets
   admins only, with a reason) and the log entry names the events that were missing.

:func:`decide_episode_move` adds episodes (a final stage ends one; ``reentry`` says whether
and when a patient may start another) and :func:`plan_stage_move` what the move writes; the
simulator rehearses with the first, the service writes with the second.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, NamedTuple

from journeys_core.domain.log_chain import chain_entry
from journeys_core.errors import Conflict, InvalidInput
from journeys_core.models.patient import Enrollment, JourneyLogEntry, StageMove

AUTOMATION_ACTORS = frozenset({"automation", "monitor"})
_TICK = timedelta(microseconds=1)


# Which rule refused a move: the simulator counts refusals by kind.
RefusalKind = Literal["expected_stage", "initial", "locked", "transition", "guard", "reentry"]


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
    final_stages: frozenset[str] = frozenset()
    reentry: Mapping[str, Any] = field(default_factory=dict)
    declares_reentry: bool = False

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
            final_stages=frozenset(
                spec["final_stages"]
                if spec.get("final_stages") is not None
                else (s for s in stages if transitions is not None and not transitions.get(s))
            ),
            reentry=dict(spec.get("reentry") or {}),
            declares_reentry=spec.get("reentry") is not None,
        )

    def allowed_next(self, stage: str) -> tuple[str, ...]:
        """Where a patient standing in ``stage`` may go (every other stage without
        ``transitions``)."""
        if self.transitions is None:
            return tuple(s for s in self.stages if s != stage)
        return self.transitions.get(stage, ())


class CurrentStage(NamedTuple):
    """Where the patient stands in the journey now (read just before the move), in which
    episode, and when that episode ended (a final stage), if it did. A tuple, as cheap to
    build as one: the simulator builds one for each move it rehearses."""

    stage: str
    version: int
    entered_at: datetime
    episode: int = 1
    ended_at: datetime | None = None

    @classmethod
    def of(cls, enrollment: Enrollment | None) -> CurrentStage | None:
        if enrollment is None:
            return None
        return cls(
            enrollment.stage,
            enrollment.version,
            enrollment.entered_at,
            enrollment.episode,
            enrollment.ended_at,
        )


@dataclass(frozen=True)
class MoveRequest:
    to_stage: str
    is_person: bool = True
    reason: str | None = None
    expected_stage: str | None = None
    events_seen: frozenset[str] = frozenset()
    override_guard: bool = False


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


def missing_guard_events(machine: StageMachine, to_stage: str, seen: frozenset[str]) -> list[str]:
    return sorted(machine.guards.get(to_stage, frozenset()) - seen)


def _check_guard(machine: StageMachine, request: MoveRequest) -> None:
    missing = missing_guard_events(machine, request.to_stage, request.events_seen)
    if missing and not (request.override_guard and request.is_person):
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
    # A first enrollment or a new episode: the journey must be active, at the version
    # enrolled in, and counts the enrollment.
    enrolls: bool = False


def is_reentry(
    enrollment: Enrollment | None, move: StageMove, reentry: Mapping[str, Any] | None
) -> bool:
    """A move of a patient whose episode ended (to another stage) starts a new episode, in a
    journey that declares ``reentry`` (allowed or not); without it, such a move is checked
    like any other (a final stage has nowhere to go)."""
    return reentry is not None and _leaves_ended_episode(
        CurrentStage.of(enrollment), move.to_stage, move.expected_stage
    )


def _leaves_ended_episode(
    current: CurrentStage | None, to_stage: str, expected_stage: str | None
) -> bool:
    return (
        current is not None
        and current.ended_at is not None
        and to_stage != current.stage
        and expected_stage in (None, current.stage)
    )


def check_reentry(machine: StageMachine, ended: CurrentStage, now: datetime) -> None:
    """A patient whose episode ended starts episode N+1 only as ``reentry`` allows."""
    key, rules = machine.journey_key, machine.reentry
    if not rules.get("allowed"):
        raise MoveRefused(
            f"the patient's episode of journey {key!r} ended in {ended.stage!r} and the "
            "journey allows no re-entry (reentry.allowed is false)",
            "reentry",
        )
    min_days = rules.get("min_days_between")
    if min_days and ended.ended_at and now - ended.ended_at < timedelta(days=min_days):
        raise MoveRefused(
            f"journey {key!r} allows re-entry {min_days} days after an episode ends "
            f"(reentry.min_days_between); this one ended {ended.ended_at.isoformat()}",
            "reentry",
        )
    most = rules.get("max_episodes")
    if most and ended.episode >= most:
        raise MoveRefused(
            f"journey {key!r} allows at most {most} episodes (reentry.max_episodes); "
            f"the patient had {ended.episode}",
            "reentry",
        )


class EpisodeMove(NamedTuple):
    """A move decided with its episode: ``reenters`` when it starts ``episode`` after one
    that ended, ``ends`` when it reaches a final stage (which ends ``episode``). A tuple:
    the simulator decides hundreds of thousands of moves."""

    change: StageChange
    episode: int
    reenters: bool
    ends: bool


def decide_episode_move(
    machine: StageMachine,
    current: CurrentStage | None,
    request: MoveRequest,
    now: datetime,
    reenters: bool | None = None,
) -> EpisodeMove | None:
    """:func:`decide_stage_move` across episodes: a move of a patient whose episode ended is a
    new enrollment (episode N+1, checked like a first one) when ``reentry`` allows it. Raises
    what :func:`decide_stage_move` raises, and MoveRefused ``reentry``."""
    if reenters is None:  # as the machine's journey declares (the caller may have decided)
        reenters = machine.declares_reentry and _leaves_ended_episode(
            current, request.to_stage, request.expected_stage
        )
    if reenters and current is not None:
        check_reentry(machine, current, now)
    change = decide_stage_move(machine, None if reenters else current, request)
    if change is None:
        return None
    episode = (current.episode + 1 if reenters else current.episode) if current else 1
    return EpisodeMove(change, episode, reenters, change.to_stage in machine.final_stages)


def plan_stage_move(
    machine: StageMachine,
    move: StageMove,
    enrollment: Enrollment | None,
    events_seen: frozenset[str],
    *,
    definition_version: int,
    now: datetime,
    entry_id: str,
    reenters: bool | None = None,
) -> PlannedMove | None:
    """The writes of ``move`` for a patient read just before (its enrollment in the journey
    and the events it has had), or None when it already stands there. Raises what
    :func:`decide_episode_move` raises.

    Reaching a final stage ends the episode; a move of a patient whose episode ended is a
    new enrollment (episode N+1, checked like a first one) when ``reentry`` allows it."""
    current = CurrentStage.of(enrollment)
    trigger = move.trigger_event_type
    request = MoveRequest(
        to_stage=move.to_stage,
        is_person=is_person_actor(move.actor, move.is_person),
        reason=move.reason,
        expected_stage=move.expected_stage,
        events_seen=events_seen | ({trigger} if trigger else frozenset()),
        override_guard=move.override_guard,
    )
    decided = decide_episode_move(machine, current, request, now, reenters)
    if decided is None:
        return None
    change, reenters, ends = decided.change, decided.reenters, decided.ends
    changed_at = change_time(now, current)
    ended_before = enrollment.episodes_ended if enrollment else 0
    moved = Enrollment(
        journey_key=move.journey_key,
        stage=change.to_stage,
        entered_at=changed_at,
        enrolled_at=changed_at if reenters or not enrollment else enrollment.enrolled_at,
        version=enrollment.version + 1 if enrollment else change.new_version,
        definition_version=definition_version,
        episode=decided.episode,
        ended_at=changed_at if ends else None,
        episodes_ended=ended_before + 1 if ends else ended_before,
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
        episode=decided.episode,
        guard_overridden=(
            missing_guard_events(machine, change.to_stage, request.events_seen) or None
            if request.override_guard and request.is_person
            else None
        ),
        from_entered_at=enrollment.entered_at if enrollment else None,
        reentered_from=enrollment.stage if enrollment and reenters else None,
    )
    entry, moved = chain_entry(entry, moved, enrollment)
    return PlannedMove(
        enrollment=moved,
        entry=entry,
        expected_version=enrollment.version if enrollment else None,
        expected_stage=enrollment.stage if enrollment else None,
        enrolls=enrollment is None or reenters,
        event_type_seen=trigger if trigger and trigger not in events_seen else None,
    )


def change_time(now: datetime, current: CurrentStage | None) -> datetime:
    """When the change happens: ``now``, but never at or before the current stage was
    entered, so that a journey's log stays in order even across skewed Lambda clocks."""
    if current is not None and now <= current.entered_at:
        return current.entered_at + _TICK
    return now
