"""Journey spec validation (no AWS)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from journeys_core.domain.dependencies import find_dependency_problems
from journeys_core.models.journey import Delay, JourneySpec


@pytest.mark.parametrize(
    "delay",
    [
        {"min_days": 0, "max_days": 0},
        {"min_days": 14, "max_days": 30},
        {"days": 7},
        {"days": 7, "distribution": "fixed"},
        {"days_min": 1, "days_max": 9, "distribution": "uniform"},
        {"days": 5, "days_min": 1, "days_max": 9, "distribution": "normal"},
        {"days": 5, "distribution": "normal"},
    ],
)
def test_both_delay_forms_are_accepted(delay: dict[str, Any]) -> None:
    assert Delay.model_validate(delay)


@pytest.mark.parametrize(
    ("delay", "problem"),
    [
        ({"min_days": 5, "max_days": 1}, "min_days must not exceed max_days"),
        ({"min_days": 5}, "go together"),
        ({"min_days": 1, "max_days": 2, "days": 1}, "either"),
        ({"days_min": 9, "days_max": 1, "distribution": "uniform"}, "days_min"),
        ({"distribution": "fixed"}, "needs days"),
        ({"distribution": "uniform", "days_min": 1}, "needs days_min and days_max"),
        ({"days": 10, "days_max": 5}, "must not exceed days_max"),
        ({"days": -1}, "greater than or equal to 0"),
        ({"days": 3, "distribution": "poisson"}, "fixed"),
        ({"days": 3, "jitter": 1}, "Extra inputs"),
    ],
)
def test_inconsistent_delays_are_refused(delay: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        Delay.model_validate(delay)


def test_a_stage_machine_spec_needs_no_events_and_defaults_its_initial_stage() -> None:
    spec = JourneySpec.model_validate({"stages": ["PENDING", "DONE"]})
    assert spec.effective_initial_stage == "PENDING"


def test_stage_fields_without_stages_are_refused() -> None:
    with pytest.raises(ValidationError, match="need stages"):
        JourneySpec.model_validate({"events": [{"event_id": "a"}], "locked_stages": ["X"]})


def test_duplicate_stages_and_event_ids_are_refused() -> None:
    with pytest.raises(ValidationError, match="each stage once"):
        JourneySpec.model_validate({"stages": ["A", "A"]})
    with pytest.raises(ValidationError, match="duplicate event_id a"):
        JourneySpec.model_validate({"events": [{"event_id": "a"}, {"event_id": "a"}]})


def test_stored_form_keeps_what_the_user_gave_and_nothing_more() -> None:
    given = {"events": [{"event_id": "a", "custom_field": 3}], "owner": "team"}
    assert JourneySpec.model_validate(given).stored_form() == given


def test_dependency_problems_name_unknown_targets_and_cycles_once() -> None:
    events = [
        {"event_id": "a", "depends_on": "c"},
        {"event_id": "b", "depends_on": "a"},
        {"event_id": "c", "depends_on": "b"},
        {"event_id": "d", "depends_on": "ghost"},
        {"event_id": "e", "depends_on": None},
    ]
    problems = find_dependency_problems(events)
    assert problems == [
        "event 'd' depends_on unknown event 'ghost'",
        "dependency cycle: a -> c -> b -> a",
    ]
    assert find_dependency_problems([{"event_id": "x", "depends_on": "x"}]) == [
        "event 'x' depends_on itself"
    ]
    assert find_dependency_problems([{"event_id": "x"}, {"event_id": "y", "depends_on": "x"}]) == []


@pytest.mark.parametrize(
    ("backoff", "accepted"),
    [([24, 72, 168], True), ([], True), ([168] * 10, True), ([12], False), ([24] * 11, False)],
)
def test_a_stale_rule_backs_off_by_waits_of_a_day_or_more(
    backoff: list[float], accepted: bool
) -> None:
    rule = {"stage": "A", "max_hours": 48, "action": "send_x", "backoff_hours": backoff}
    spec = {"stages": ["A"], "stale_rules": [rule]}

    if accepted:
        assert JourneySpec.model_validate(spec).stored_form()["stale_rules"][0] == rule
    else:
        with pytest.raises(ValidationError, match="backoff_hours"):
            JourneySpec.model_validate(spec)
