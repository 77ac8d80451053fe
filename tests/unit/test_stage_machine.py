"""The stage machine's rules, without AWS (journeys_core.domain.stage_machine)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from journeys_core.domain.stage_machine import (
    CurrentStage,
    MoveRefused,
    MoveRequest,
    StageChange,
    StageMachine,
    change_time,
    decide_episode_move,
    decide_stage_move,
    is_person_actor,
)
from journeys_core.errors import Conflict, InvalidInput

SPEC: dict[str, Any] = {
    "stages": ["SCREENING", "AWAITING_PAYMENT", "CONFIRMED", "BLOCKED", "CANCELLED"],
    "initial_stage": "SCREENING",
    "transitions": {
        "SCREENING": ["AWAITING_PAYMENT", "BLOCKED", "CANCELLED"],
        "AWAITING_PAYMENT": ["CONFIRMED", "BLOCKED", "CANCELLED"],
        "BLOCKED": ["SCREENING", "CANCELLED"],
    },
    "locked_stages": ["BLOCKED"],
    "guards": {
        "CONFIRMED": {"requires_events": ["PAYMENT_SUCCEEDED", "FORM_SUBMISSION_COMPLETED"]}
    },
}
FREE_SPEC: dict[str, Any] = {"stages": ["NEW", "WAITING", "DONE"]}
T0 = datetime(2026, 1, 7, 9, 0, tzinfo=UTC)


def at(stage: str, version: int = 3) -> CurrentStage:
    return CurrentStage(stage=stage, version=version, entered_at=T0)


def machine_of(spec: dict[str, Any], key: str = "retreat") -> StageMachine:
    # Built inside each test, never at import: `make mutation` must see a changed from_spec.
    machine = StageMachine.from_spec(key, spec)
    assert machine is not None
    return machine


def decide(
    current: CurrentStage | None, to_stage: str, spec: dict[str, Any] = SPEC, **kw: Any
) -> StageChange | None:
    return decide_stage_move(machine_of(spec), current, MoveRequest(to_stage=to_stage, **kw))


def test_a_spec_without_stages_has_no_machine() -> None:
    assert StageMachine.from_spec("timeline", {"events": [{"event_id": "a"}]}) is None


def test_the_initial_stage_defaults_to_the_first_stage() -> None:
    assert machine_of(FREE_SPEC).initial_stage == "NEW"


# -- enrollment ------------------------------------------------------------------------------


def test_a_first_enrollment_starts_at_the_initial_stage_at_version_1() -> None:
    change = decide(None, "SCREENING", is_person=False)
    assert change == StageChange(from_stage=None, to_stage="SCREENING", expected_version=None)
    assert change.is_enrollment
    assert change.new_version == 1


def test_a_person_may_enroll_at_any_stage_automation_only_at_the_initial_one() -> None:
    assert decide(None, "AWAITING_PAYMENT", is_person=True) is not None
    with pytest.raises(Conflict, match="initial stage 'SCREENING'"):
        decide(None, "AWAITING_PAYMENT", is_person=False)


# -- stages and transitions ------------------------------------------------------------------


def test_a_stage_outside_stages_is_invalid_input_listing_the_stages() -> None:
    with pytest.raises(InvalidInput, match="SCREENING, AWAITING_PAYMENT") as error:
        decide(at("SCREENING"), "LIMBO")
    assert error.value.status_code == 422


def test_a_listed_transition_moves_and_bumps_the_version() -> None:
    change = decide(at("SCREENING", version=3), "AWAITING_PAYMENT")
    assert change == StageChange("SCREENING", "AWAITING_PAYMENT", expected_version=3)
    assert change.new_version == 4
    assert not change.is_enrollment


def test_an_unlisted_transition_is_a_conflict_naming_the_allowed_moves() -> None:
    with pytest.raises(Conflict, match="allowed from 'SCREENING': AWAITING_PAYMENT, BLOCKED"):
        decide(at("SCREENING"), "CONFIRMED", events_seen=frozenset(["PAYMENT_SUCCEEDED"]))


def test_a_stage_without_transitions_listed_is_final() -> None:
    with pytest.raises(Conflict, match="allowed from 'CANCELLED': none"):
        decide(at("CANCELLED"), "SCREENING")


def test_without_transitions_every_stage_may_follow_every_other() -> None:
    assert decide(at("DONE"), "NEW", spec=FREE_SPEC) is not None
    assert decide(at("NEW"), "DONE", spec=FREE_SPEC) is not None


def test_a_move_to_the_current_stage_changes_nothing() -> None:
    assert decide(at("SCREENING"), "SCREENING") is None
    assert decide(at("BLOCKED"), "BLOCKED", is_person=False) is None


# -- expected stage --------------------------------------------------------------------------


def test_expected_stage_is_checked_before_anything_else_but_the_stage_name() -> None:
    with pytest.raises(Conflict, match="stands in 'AWAITING_PAYMENT'"):
        decide(at("AWAITING_PAYMENT"), "AWAITING_PAYMENT", expected_stage="SCREENING")
    with pytest.raises(Conflict, match="not enrolled"):
        decide(None, "SCREENING", expected_stage="SCREENING")
    with pytest.raises(InvalidInput):
        decide(at("SCREENING"), "LIMBO", expected_stage="BLOCKED")


def test_a_matching_expected_stage_lets_the_move_through() -> None:
    change = decide(at("SCREENING"), "AWAITING_PAYMENT", expected_stage="SCREENING")
    assert change is not None
    assert decide(at("SCREENING"), "SCREENING", expected_stage="SCREENING") is None


# -- locked stages ---------------------------------------------------------------------------


def test_automation_never_leaves_a_locked_stage() -> None:
    with pytest.raises(Conflict, match="only a person"):
        decide(at("BLOCKED"), "SCREENING", is_person=False, reason="rule fired")


def test_a_person_leaves_a_locked_stage_only_with_a_reason() -> None:
    with pytest.raises(Conflict, match="needs a reason"):
        decide(at("BLOCKED"), "SCREENING", is_person=True)
    assert decide(at("BLOCKED"), "SCREENING", is_person=True, reason="reviewed") is not None


def test_leaving_a_locked_stage_still_follows_the_transitions() -> None:
    with pytest.raises(Conflict, match="allowed from 'BLOCKED': SCREENING, CANCELLED"):
        decide(at("BLOCKED"), "AWAITING_PAYMENT", reason="reviewed")


def test_automation_may_enter_a_locked_stage() -> None:
    assert decide(at("AWAITING_PAYMENT"), "BLOCKED", is_person=False) is not None


@pytest.mark.parametrize("actor", ["automation", "monitor"])
def test_automation_and_the_monitor_are_never_people(actor: str) -> None:
    assert not is_person_actor(actor, is_person=True)
    assert is_person_actor("6f1c2d3e-nurse", is_person=True)
    assert not is_person_actor("6f1c2d3e-nurse", is_person=False)


# -- guards ----------------------------------------------------------------------------------


def test_a_guarded_stage_needs_every_required_event() -> None:
    with pytest.raises(Conflict, match="FORM_SUBMISSION_COMPLETED, PAYMENT_SUCCEEDED"):
        decide(at("AWAITING_PAYMENT"), "CONFIRMED")
    with pytest.raises(Conflict, match="needs the patient to have had FORM_SUBMISSION_COMPLETED"):
        decide(at("AWAITING_PAYMENT"), "CONFIRMED", events_seen=frozenset(["PAYMENT_SUCCEEDED"]))
    seen = frozenset(["PAYMENT_SUCCEEDED", "FORM_SUBMISSION_COMPLETED", "OTHER"])
    assert decide(at("AWAITING_PAYMENT"), "CONFIRMED", events_seen=seen) is not None


def test_guards_hold_on_a_first_enrollment_too() -> None:
    with pytest.raises(Conflict, match="PAYMENT_SUCCEEDED"):
        decide(None, "CONFIRMED", is_person=True)


# -- time ------------------------------------------------------------------------------------


def test_a_change_is_never_dated_at_or_before_the_stage_it_leaves() -> None:
    later = T0 + timedelta(seconds=5)
    assert change_time(later, at("SCREENING")) == later
    assert change_time(T0, at("SCREENING")) == T0 + timedelta(microseconds=1)
    assert change_time(T0 - timedelta(seconds=3), at("SCREENING")) > T0
    assert change_time(T0, None) == T0


# -- tables: what the spec says, and what a caller is told -----------------------------------

LATE_START: dict[str, Any] = {"stages": ["DRAFT", "INTAKE", "DONE"], "initial_stage": "INTAKE"}


@pytest.mark.parametrize(
    ("spec", "stage", "allowed_next"),
    [
        # no transitions: every other stage, in the order of `stages`
        (FREE_SPEC, "WAITING", ("NEW", "DONE")),
        (SPEC, "SCREENING", ("AWAITING_PAYMENT", "BLOCKED", "CANCELLED")),
        (SPEC, "CANCELLED", ()),  # not a key of transitions: final
        # an empty transitions table makes every stage final (it is not "no table")
        ({"stages": ["A", "B"], "transitions": {}}, "A", ()),
    ],
)
def test_where_a_patient_may_go_next(
    spec: dict[str, Any], stage: str, allowed_next: tuple[str, ...]
) -> None:
    assert machine_of(spec).allowed_next(stage) == allowed_next


@pytest.mark.parametrize(
    ("spec", "initial", "locked", "guards"),
    [
        (FREE_SPEC, "NEW", frozenset(), {}),
        (LATE_START, "INTAKE", frozenset(), {}),
        (
            SPEC,
            "SCREENING",
            frozenset({"BLOCKED"}),
            {"CONFIRMED": frozenset({"PAYMENT_SUCCEEDED", "FORM_SUBMISSION_COMPLETED"})},
        ),
        # a guard without requires_events requires nothing
        ({"stages": ["A", "B"], "guards": {"B": {}}}, "A", frozenset(), {"B": frozenset()}),
    ],
)
def test_a_spec_compiles_into_its_machine(
    spec: dict[str, Any], initial: str, locked: frozenset[str], guards: dict[str, Any]
) -> None:
    machine = machine_of(spec, key="yoga")
    assert machine.journey_key == "yoga"
    assert machine.stages == tuple(spec["stages"])
    assert machine.initial_stage == initial
    assert machine.locked_stages == locked
    assert machine.guards == guards


@pytest.mark.parametrize(
    ("to_stage", "is_person", "enrolled_at"),
    [
        ("INTAKE", False, "INTAKE"),  # automation enrolls at the named initial stage...
        ("INTAKE", True, "INTAKE"),
        ("DRAFT", True, "DRAFT"),  # ...a person anywhere, even at the first stage
    ],
)
def test_a_named_initial_stage_is_where_automation_enrolls(
    to_stage: str, is_person: bool, enrolled_at: str
) -> None:
    change = decide(None, to_stage, spec=LATE_START, is_person=is_person)
    assert change == StageChange(from_stage=None, to_stage=enrolled_at, expected_version=None)


PAID = frozenset(["PAYMENT_SUCCEEDED"])


@pytest.mark.parametrize(
    ("current", "to_stage", "request_fields", "error", "message"),
    [
        (
            None,
            "DRAFT",
            {"is_person": False},
            Conflict,
            "automation enrolls only at journey 'retreat''s initial stage 'INTAKE', not 'DRAFT'",
        ),
        (
            "SCREENING",
            "LIMBO",
            {},
            InvalidInput,
            "status: 'LIMBO' is not a stage of journey 'retreat' (stages: SCREENING, "
            "AWAITING_PAYMENT, CONFIRMED, BLOCKED, CANCELLED)",
        ),
        (
            None,
            "SCREENING",
            {"expected_stage": "SCREENING"},
            Conflict,
            "expected the patient in 'SCREENING' of journey 'retreat', "
            "but the patient is not enrolled",
        ),
        (
            "BLOCKED",
            "SCREENING",
            {"expected_stage": "SCREENING"},
            Conflict,
            "expected the patient in 'SCREENING' of journey 'retreat', "
            "but the patient stands in 'BLOCKED'",
        ),
        (
            "BLOCKED",
            "SCREENING",
            {"is_person": False, "reason": "rule fired"},
            Conflict,
            "'BLOCKED' is a locked stage of journey 'retreat': "
            "only a person can move the patient out of it",
        ),
        (
            "BLOCKED",
            "SCREENING",
            {},
            Conflict,
            "leaving the locked stage 'BLOCKED' needs a reason",
        ),
        (
            "SCREENING",
            "CONFIRMED",
            {"events_seen": PAID},
            Conflict,
            "journey 'retreat' does not allow 'SCREENING' -> 'CONFIRMED'; "
            "allowed from 'SCREENING': AWAITING_PAYMENT, BLOCKED, CANCELLED",
        ),
        (
            "AWAITING_PAYMENT",
            "CONFIRMED",
            {"events_seen": PAID},
            Conflict,
            "entering 'CONFIRMED' of journey 'retreat' needs the "
            "patient to have had FORM_SUBMISSION_COMPLETED first",
        ),
    ],
)
def test_a_refused_move_says_why(
    current: str | None,
    to_stage: str,
    request_fields: dict[str, Any],
    error: type[Exception],
    message: str,
) -> None:
    spec = LATE_START if to_stage == "DRAFT" else SPEC
    with pytest.raises(error) as raised:
        decide(at(current) if current else None, to_stage, spec=spec, **request_fields)
    assert str(raised.value) == message


def test_a_request_comes_from_a_person_unless_it_says_otherwise() -> None:
    # A person (the default) leaves a locked stage with a reason; automation never could.
    change = decide_stage_move(
        machine_of(SPEC), at("BLOCKED"), MoveRequest(to_stage="SCREENING", reason="reviewed")
    )
    assert change == StageChange("BLOCKED", "SCREENING", expected_version=3)
    assert is_person_actor("6f1c2d3e-nurse")
    assert not is_person_actor("automation")


# -- episodes --------------------------------------------------------------------------------


def test_a_final_stage_ends_the_episode_and_a_later_move_starts_the_next() -> None:
    # Given a journey that lets a patient back a week after an episode ends
    machine = machine_of({**SPEC, "reentry": {"allowed": True, "min_days_between": 7}})
    # When a patient is confirmed (a stage without transitions: final)
    confirmed = decide_episode_move(
        machine, at("AWAITING_PAYMENT"), MoveRequest("CONFIRMED", override_guard=True), T0
    )
    # Then the move ends episode 1
    assert confirmed is not None and (confirmed.episode, confirmed.ends) == (1, True)
    ended = CurrentStage("CONFIRMED", 4, T0, episode=1, ended_at=T0)
    # and a move 8 days later enrolls the patient afresh, in episode 2
    back = decide_episode_move(machine, ended, MoveRequest("SCREENING"), T0 + timedelta(days=8))
    assert back is not None
    assert (back.change.from_stage, back.episode, back.reenters, back.ends) == (
        None,
        2,
        True,
        False,
    )
    # but 6 days later is too soon: refused as a re-entry
    with pytest.raises(MoveRefused) as refused:
        decide_episode_move(machine, ended, MoveRequest("SCREENING"), T0 + timedelta(days=6))
    assert refused.value.why == "reentry"
    # and without reentry rules a final stage has nowhere to go
    with pytest.raises(MoveRefused) as stuck:
        decide_episode_move(machine_of(SPEC), ended, MoveRequest("SCREENING"), T0)
    assert stuck.value.why == "transition"
