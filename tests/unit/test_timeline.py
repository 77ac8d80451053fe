"""The timeline engine: dated events from a journey spec (no AWS)."""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import random
import statistics
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from journeys_core.domain.timeline import ScheduledEvent, TimelinePlan, find_dependency_problems

START = date(2025, 1, 1)
SHARED = Path(__file__).resolve().parents[2] / "shared"
PATIENTS = [f"patient-{number:04d}" for number in range(2000)]


def _event(event_id: str, **fields: Any) -> dict[str, Any]:
    return {"event_id": event_id, "event_type": "encounter", **fields}


def _plan(*events: dict[str, Any], duration_days: int | None = None) -> TimelinePlan:
    spec: dict[str, Any] = {"events": list(events)}
    if duration_days is not None:
        spec["duration_days"] = duration_days
    return TimelinePlan.compile(spec)


def _offsets(
    plan: TimelinePlan, entity_id: str = "patient-0001", seed: int = 0
) -> dict[tuple[str, int], int]:
    """{(event_id, occurrence): day_offset} of one entity's timeline."""
    return {
        (item.event_id, item.occurrence): item.day_offset
        for item in plan.generate(entity_id, START, seed)
    }


def _first_offsets(plan: TimelinePlan, event_id: str) -> list[int]:
    """The first-occurrence offset of one event across many entities (absent ones left out)."""
    found = []
    for patient in PATIENTS:
        for item in plan.generate(patient, START, seed=7):
            if item.event_id == event_id and item.occurrence == 1:
                found.append(item.day_offset)
    return found


# ------------------------------------------------------------------------- offsets


def test_independent_delays_accumulate_from_the_start_date() -> None:
    # Given three independent events with fixed delays
    plan = _plan(
        _event("intake", delay={"days": 3}),
        _event("visit", delay={"min_days": 10, "max_days": 10}),
        _event("review", delay={"days": 20, "distribution": "fixed"}),
    )
    # When a timeline is generated
    timeline = plan.generate("patient-0001", START)
    # Then each is offset from the previous one, the first from the start date
    assert [(item.event_id, item.day_offset) for item in timeline] == [
        ("intake", 3),
        ("visit", 13),
        ("review", 33),
    ]
    assert [item.scheduled_date for item in timeline] == [
        START + timedelta(days=3),
        START + timedelta(days=13),
        START + timedelta(days=33),
    ]


def test_an_event_without_delay_happens_on_its_anchor_day() -> None:
    plan = _plan(_event("enrollment"), _event("welcome", delay={"days": 14}))
    assert _offsets(plan) == {("enrollment", 1): 0, ("welcome", 1): 14}


def test_a_dependent_event_is_offset_from_the_event_it_names() -> None:
    # Given a lab that depends on the first visit, listed after a second visit
    plan = _plan(
        _event("visit", delay={"days": 30}),
        _event("follow-up", delay={"days": 60}),
        _event("lab", depends_on="visit", delay={"days": 2}),
    )
    # When generated
    offsets = _offsets(plan)
    # Then the lab follows the visit it names, not the event listed just before it,
    # and it does not move the chain of independent events
    assert offsets == {("visit", 1): 30, ("follow-up", 1): 90, ("lab", 1): 32}


def test_a_dependent_may_name_an_event_listed_after_it() -> None:
    plan = _plan(
        _event("reminder", depends_on="surgery", delay={"days": 1}),
        _event("surgery", delay={"days": 10}),
    )
    assert _offsets(plan) == {("surgery", 1): 10, ("reminder", 1): 11}


def test_a_dependent_is_offset_from_the_first_occurrence_of_a_repeated_event() -> None:
    plan = _plan(
        _event("visit", delay={"days": 90}, repeat={"every_days": 90}),
        _event("report", depends_on="visit", delay={"days": 5}),
        duration_days=365,
    )
    offsets = _offsets(plan)
    assert offsets[("report", 1)] == 95
    assert ("report", 2) not in offsets


def test_events_come_sorted_by_day_then_spec_order_then_occurrence() -> None:
    # Given events that fall on the same days in an order unlike the spec's
    plan = _plan(
        _event("late", delay={"days": 50}),
        _event("same-day-b", depends_on="late", delay={"days": 0}),
        _event("early", depends_on="late", delay={"days": 0}),
        _event("repeated", delay={"days": 0}, repeat={"every_days": 25, "max_occurrences": 3}),
        duration_days=365,
    )
    # When generated
    keys = [(item.day_offset, item.event_id, item.occurrence) for item in plan.generate("p", START)]
    # Then day first, spec order on ties, occurrence last
    assert keys == [
        (50, "late", 1),
        (50, "same-day-b", 1),
        (50, "early", 1),
        (50, "repeated", 1),
        (75, "repeated", 2),
        (100, "repeated", 3),
    ]


# -------------------------------------------------------------------------- delays


def test_a_uniform_delay_stays_within_its_bounds_and_reaches_both_ends() -> None:
    plan = _plan(_event("visit", delay={"min_days": 14, "max_days": 30}))
    offsets = _first_offsets(plan, "visit")
    assert min(offsets) == 14
    assert max(offsets) == 30
    assert len(set(offsets)) == 17  # every day of the range turns up


def test_the_days_form_of_a_uniform_delay_uses_days_min_and_days_max() -> None:
    plan = _plan(
        _event("visit", delay={"days": 5, "days_min": 2, "days_max": 9, "distribution": "uniform"})
    )
    assert set(_first_offsets(plan, "visit")) == set(range(2, 10))


def test_a_fixed_delay_is_exact_even_with_bounds() -> None:
    plan = _plan(
        _event("visit", delay={"days": 5, "days_min": 2, "days_max": 9, "distribution": "fixed"})
    )
    assert set(_first_offsets(plan, "visit")) == {5}


def test_a_normal_delay_centres_on_days_and_is_clamped_to_its_bounds() -> None:
    # Given a normal delay of 10 days within [6, 14] (sigma = 2 days)
    plan = _plan(
        _event("visit", delay={"days": 10, "days_min": 6, "days_max": 14, "distribution": "normal"})
    )
    # When generated for many patients
    offsets = _first_offsets(plan, "visit")
    # Then it centres on 10 with about the requested spread, never leaves the bounds,
    # and the clamped tails pile up on them
    assert abs(statistics.fmean(offsets) - 10) < 0.2
    assert 1.7 < statistics.pstdev(offsets) < 2.2
    assert min(offsets) == 6
    assert max(offsets) == 14
    assert offsets.count(6) > 20
    assert offsets.count(14) > 20


def test_a_normal_delay_without_bounds_never_goes_before_its_anchor() -> None:
    plan = _plan(_event("visit", delay={"days": 2, "distribution": "normal"}))
    offsets = _first_offsets(plan, "visit")
    assert min(offsets) == 0
    assert abs(statistics.fmean(offsets) - 2) < 0.2


@pytest.mark.parametrize(
    ("delay", "problem"),
    [
        ({"min_days": 9, "max_days": 1}, "min_days is greater than max_days"),
        ({"days": 5, "distribution": "lognormal"}, "unknown delay distribution"),
        ({"days": "soon"}, "days must be a whole number"),
        ({"days": 1.5}, "days must be a whole number"),
        ("5 days", "delay must be an object"),
    ],
)
def test_a_malformed_delay_is_refused_naming_the_event(delay: Any, problem: str) -> None:
    with pytest.raises(ValueError, match=problem) as refused:
        _plan(_event("visit", delay=delay))
    assert "'visit'" in str(refused.value)


# --------------------------------------------------------------------- probability


def test_probability_zero_never_happens_and_one_always_does() -> None:
    plan = _plan(
        _event("never", delay={"days": 1}, probability=0),
        _event("always", delay={"days": 1}, probability=1.0),
    )
    seen = {item.event_id for patient in PATIENTS for item in plan.generate(patient, START)}
    assert seen == {"always"}


def test_a_probability_is_honoured_across_a_cohort() -> None:
    plan = _plan(_event("screening", probability=0.3))
    share = len(_first_offsets(plan, "screening")) / len(PATIENTS)
    assert 0.26 < share < 0.34


def test_a_dependent_of_a_skipped_event_is_skipped_too() -> None:
    # Given a randomisation that half the subjects pass, a dose after it and a call after
    # the dose
    plan = _plan(
        _event("randomization", probability=0.5),
        _event("first-dose", depends_on="randomization"),
        _event("follow-up-call", depends_on="first-dose", delay={"days": 7}),
    )
    for patient in PATIENTS[:500]:
        # When each subject's timeline is generated
        ids = {item.event_id for item in plan.generate(patient, START)}
        # Then the dose and the call happen exactly when randomisation did
        if "randomization" in ids:
            assert ids == {"randomization", "first-dose", "follow-up-call"}
        else:
            assert ids == set()


def test_a_skipped_independent_event_still_moves_the_chain_on() -> None:
    # Time passes whether or not the visit took place.
    plan = _plan(
        _event("missed-visit", delay={"days": 30}, probability=0),
        _event("next-visit", delay={"days": 30}),
    )
    assert _offsets(plan) == {("next-visit", 1): 60}


def test_a_malformed_probability_is_refused() -> None:
    with pytest.raises(ValueError, match="'visit': probability must be a number in"):
        _plan(_event("visit", probability=1.5))


# -------------------------------------------------------------------------- repeat


def test_a_quarterly_visit_happens_four_times_in_a_year() -> None:
    # Given the guide's quarterly PCP visit (first after 90 days) in a 365-day journey
    plan = _plan(
        _event(
            "quarterly-visit", delay={"min_days": 90, "max_days": 90}, repeat={"every_days": 90}
        ),
        duration_days=365,
    )
    # When generated
    visits = plan.generate("patient-0001", START)
    # Then it falls on days 90, 180, 270 and 360 (day 450 is past the year)
    assert [(item.day_offset, item.occurrence) for item in visits] == [
        (90, 1),
        (180, 2),
        (270, 3),
        (360, 4),
    ]


def test_repeat_stops_at_max_occurrences() -> None:
    plan = _plan(
        _event("refill", delay={"days": 30}, repeat={"every_days": 30, "max_occurrences": 3}),
        duration_days=365,
    )
    assert [item.day_offset for item in plan.generate("patient-0001", START)] == [30, 60, 90]


def test_repeat_without_duration_needs_max_occurrences() -> None:
    plan = _plan(_event("refill", repeat={"every_days": 7, "max_occurrences": 2}))
    assert [item.day_offset for item in plan.generate("p", START)] == [0, 7]
    with pytest.raises(ValueError, match="'refill': repeat needs max_occurrences"):
        _plan(_event("refill", repeat={"every_days": 7}))


def test_a_plan_knows_the_most_events_a_timeline_can_hold() -> None:
    # So a caller can refuse an enormous timeline before generating it.
    plan = _plan(
        _event("visit", delay={"days": 90}, repeat={"every_days": 90}),
        _event("refill", delay={"days": 30}, repeat={"every_days": 30, "max_occurrences": 3}),
        _event("daily", repeat={"every_days": 1}),
        _event("lab", depends_on="visit"),
        duration_days=365,
    )
    assert plan.max_events_per_entity == 5 + 3 + 366 + 1
    assert len(plan.generate("patient-0001", START)) <= plan.max_events_per_entity


def test_each_repeated_occurrence_draws_its_own_probability() -> None:
    # Given monthly refills that are picked up 70% of the time
    plan = _plan(
        _event("refill", delay={"days": 30}, probability=0.7, repeat={"every_days": 30}),
        duration_days=360,
    )
    # When generated for a cohort
    counts = [len(plan.generate(patient, START)) for patient in PATIENTS[:500]]
    # Then patients pick up some but not all of their 12 refills, about 70% overall
    assert 0.66 < statistics.fmean(counts) / 12 < 0.74
    assert len(set(counts)) > 4


# ------------------------------------------------------------------------- horizon


def test_nothing_is_scheduled_after_duration_days() -> None:
    # Given a 100-day journey whose events drift past its end
    plan = _plan(
        _event("on-the-last-day", delay={"days": 100}),
        _event("after-the-end", delay={"days": 1}),
        _event("dependent-after-the-end", depends_on="on-the-last-day", delay={"days": 5}),
        duration_days=100,
    )
    # When generated
    offsets = _offsets(plan)
    # Then day 100 is still in, nothing later is
    assert offsets == {("on-the-last-day", 1): 100}


def test_a_cohort_never_sees_an_event_past_the_horizon() -> None:
    plan = _plan(
        _event("a", delay={"min_days": 0, "max_days": 60}),
        _event("b", delay={"min_days": 0, "max_days": 60}, repeat={"every_days": 10}),
        _event("c", depends_on="b", delay={"min_days": 0, "max_days": 60}),
        duration_days=90,
    )
    latest = max(
        item.day_offset for patient in PATIENTS[:300] for item in plan.generate(patient, START)
    )
    assert latest <= 90


# --------------------------------------------------------------------- determinism


def wide() -> TimelinePlan:
    # Compiled in each test, not at import: `make mutation` must see a changed compile.
    return _plan(
        _event("visit", delay={"min_days": 0, "max_days": 100_000}),
        _event("screening", delay={"min_days": 0, "max_days": 100_000}, probability=0.5),
        _event("lab", depends_on="visit", delay={"min_days": 0, "max_days": 100_000}),
    )


def _as_rows(timeline: list[ScheduledEvent]) -> list[list[Any]]:
    return [[e.event_id, e.scheduled_date.isoformat(), e.occurrence] for e in timeline]


def test_the_same_request_gives_the_same_dates() -> None:
    first = wide().generate("patient-0042", START, seed=11)
    again = wide().generate("patient-0042", START, seed=11)
    recompiled = _plan(
        _event("visit", delay={"min_days": 0, "max_days": 100_000}),
        _event("screening", delay={"min_days": 0, "max_days": 100_000}, probability=0.5),
        _event("lab", depends_on="visit", delay={"min_days": 0, "max_days": 100_000}),
    ).generate("patient-0042", START, seed=11)
    assert first == again == recompiled


def test_dates_do_not_depend_on_the_order_or_batch_of_entities() -> None:
    # Given each patient's timeline generated on its own
    alone = {patient: wide().generate(patient, START, seed=3) for patient in PATIENTS[:200]}
    # When the same patients are generated in a shuffled batch, twice over, interleaved
    shuffled = PATIENTS[:200] * 2
    random.Random(5).shuffle(shuffled)
    batch = [(patient, wide().generate(patient, START, seed=3)) for patient in shuffled]
    # Then every patient gets exactly the same events, dates and probability outcomes
    for patient, timeline in batch:
        assert timeline == alone[patient]


def test_an_event_keeps_its_dates_when_other_events_are_added() -> None:
    # The draws belong to (seed, entity, event), not to the event's position in the spec.
    bigger = _plan(
        _event("intro", delay={"days": 0}),
        _event("visit", delay={"min_days": 0, "max_days": 100_000}),
        _event("screening", delay={"min_days": 0, "max_days": 100_000}, probability=0.5),
        _event("lab", depends_on="visit", delay={"min_days": 0, "max_days": 100_000}),
    )
    for patient in PATIENTS[:50]:
        original = {(e.event_id, e.day_offset) for e in wide().generate(patient, START, 9)}
        extended = {(e.event_id, e.day_offset) for e in bigger.generate(patient, START, 9)}
        assert extended - {("intro", 0)} == original


def test_a_fresh_interpreter_gives_the_same_dates() -> None:
    # Given timelines generated in this process
    patients = PATIENTS[:40]
    here = {patient: _as_rows(wide().generate(patient, START, seed=2024)) for patient in patients}
    # When a new interpreter, with another hash seed, generates them
    script = f"""
import json
from datetime import date
from journeys_core.domain.timeline import TimelinePlan
spec = {{"events": [
    {{"event_id": "visit", "delay": {{"min_days": 0, "max_days": 100000}}}},
    {{"event_id": "screening", "delay": {{"min_days": 0, "max_days": 100000}},
      "probability": 0.5}},
    {{"event_id": "lab", "depends_on": "visit", "delay": {{"min_days": 0, "max_days": 100000}}}},
]}}
plan = TimelinePlan.compile(spec)
out = {{}}
for patient in {patients!r}:
    out[patient] = [
        [e.event_id, e.scheduled_date.isoformat(), e.occurrence]
        for e in plan.generate(patient, date(2025, 1, 1), seed=2024)
    ]
print(json.dumps(out))
"""
    env = {**os.environ, "PYTHONPATH": str(SHARED), "PYTHONHASHSEED": "12345"}
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    # Then they are the same, event by event
    assert json.loads(result.stdout) == here


def test_known_dates_stay_the_same_across_releases() -> None:
    # A changed draw derivation would silently move every stored timeline: pin a few.
    # Worked out by hand from the documented recipe: splitmix64 finalizer of
    # blake2b("42\x1fpatient-0001") ^ blake2b("<event_id>\x1f1"), times 1001, >> 64.
    plan = _plan(
        _event("visit", delay={"min_days": 0, "max_days": 1000}),
        _event("lab", depends_on="visit", delay={"min_days": 0, "max_days": 1000}),
    )
    offsets = _offsets(plan, "patient-0001", seed=42)
    assert offsets == {("visit", 1): 242, ("lab", 1): 242 + 748}


def test_different_seeds_and_entities_give_different_dates() -> None:
    plan = _plan(_event("visit", delay={"min_days": 0, "max_days": 100_000}))
    by_seed = {_offsets(plan, "patient-0001", seed)[("visit", 1)] for seed in range(50)}
    by_entity = {_offsets(plan, patient, 0)[("visit", 1)] for patient in PATIENTS[:50]}
    assert len(by_seed) == 50
    assert len(by_entity) == 50


def test_the_delay_and_probability_of_an_event_are_not_correlated() -> None:
    # One draw feeds both; they must still behave as independent.
    plan = _plan(_event("screening", delay={"min_days": 0, "max_days": 99}, probability=0.5))
    happened = _first_offsets(plan, "screening")
    assert 0.45 < len(happened) / len(PATIENTS) < 0.55
    assert abs(statistics.fmean(happened) - 49.5) < 3


# -------------------------------------------------------------- dependency problems


def test_unknown_targets_and_cycles_are_reported() -> None:
    events = [
        _event("a", depends_on="b"),
        _event("b", depends_on="a"),
        _event("c", depends_on="c"),
        _event("d", depends_on="nowhere"),
        _event("e", depends_on="a"),
    ]
    problems = find_dependency_problems(events)
    assert problems == [
        "event 'd' depends_on unknown event 'nowhere'",
        "dependency cycle: a -> b -> a",
        "event 'c' depends_on itself",
    ]


def test_a_sound_spec_has_no_dependency_problems() -> None:
    events = [_event("a"), _event("b", depends_on="a"), _event("c", depends_on="b")]
    assert find_dependency_problems(events) == []


def test_duplicate_event_ids_are_reported() -> None:
    problems = find_dependency_problems([_event("a"), _event("a")])
    assert problems == ["event_id 'a' is used by more than one event"]


@pytest.mark.parametrize(
    ("events", "named"),
    [
        ([_event("a", depends_on="b"), _event("b", depends_on="a")], "a -> b -> a"),
        ([_event("lab", depends_on="visit")], "'lab' depends_on unknown event 'visit'"),
    ],
)
def test_compile_refuses_cycles_and_unknown_targets_naming_the_event(
    events: list[dict[str, Any]], named: str
) -> None:
    with pytest.raises(ValueError, match=named):
        TimelinePlan.compile({"events": events})


# ---------------------------------------------------------------------- the output


def test_scheduled_events_are_plain_frozen_values() -> None:
    # Given a generated event and the same event built by hand
    plan = _plan(_event("visit", name="PCP Visit", product="patientsim", delay={"days": 3}))
    (made,) = plan.generate("patient-0001", START)
    by_hand = ScheduledEvent(
        "visit", "PCP Visit", "encounter", "patientsim", date(2025, 1, 4), 3, 1
    )
    # Then they are equal, hash alike, serialise alike and cannot be changed
    assert type(made) is ScheduledEvent
    assert made == by_hand
    assert hash(made) == hash(by_hand)
    assert dataclasses.asdict(made) == dataclasses.asdict(by_hand)
    assert pickle.loads(pickle.dumps(made)) == by_hand
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.day_offset = 4  # type: ignore[misc]


def test_names_and_types_fall_back_sensibly() -> None:
    plan = TimelinePlan.compile({"events": [{"event_id": "enrollment"}]})
    (item,) = plan.generate("member-1", START)
    assert (item.name, item.event_type, item.product) == ("enrollment", "event", None)


def test_a_spec_with_only_stages_has_an_empty_timeline() -> None:
    plan = TimelinePlan.compile({"stages": ["PENDING", "DONE"]})
    assert plan.generate("patient-0001", START) == []
    assert plan.event_count == 0
