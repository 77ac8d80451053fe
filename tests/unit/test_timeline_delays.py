"""The timeline engine's delay, probability and repeat forms, case by case (no AWS): every
shape of ``delay`` the spec accepts and the days it gives, the refusals word for word, and
pinned draws (which occurrences a probability keeps, past the precomputed keys too)."""

from __future__ import annotations

import math
import statistics
from datetime import date
from typing import Any

import pytest

from journeys_core.domain.timeline import TimelinePlan

START = date(2025, 1, 1)
COHORT = [f"patient-{number:04d}" for number in range(400)]


def _plan(*events: dict[str, Any], duration_days: int | None = None) -> TimelinePlan:
    spec: dict[str, Any] = {"events": list(events)}
    if duration_days is not None:
        spec["duration_days"] = duration_days
    return TimelinePlan.compile(spec)


def _days(delay: Any, cohort: list[str] = COHORT) -> list[int]:
    """The day of a single ``visit`` with this delay, for each patient of the cohort."""
    plan = _plan({"event_id": "visit", "delay": delay})
    return [plan.generate(patient, START)[0].day_offset for patient in cohort]


@pytest.mark.parametrize(
    ("delay", "days"),
    [
        # min_days / max_days: a uniform range; a missing end is the other end (or 0)
        ({"min_days": 3}, {3}),
        ({"max_days": 4}, {0, 1, 2, 3, 4}),
        ({"min_days": 2, "max_days": 2}, {2}),
        ({"min_days": 2, "max_days": 4}, {2, 3, 4}),
        ({"min_days": 2.0, "max_days": 4.0}, {2, 3, 4}),  # JSON may carry whole floats
        # days / days_min / days_max: `days` alone is exact, a bare range is uniform
        ({"days": 6}, {6}),
        ({"days": 6.0}, {6}),
        ({"days": 0}, {0}),
        ({"days_min": 2, "days_max": 5}, {2, 3, 4, 5}),
        ({"days_min": 3}, {3}),
        ({"days_max": 4}, {4}),
        ({"days": 5, "days_min": 2, "days_max": 9}, {5}),  # `days` stays exact beside a range
        ({}, {0}),
        # uniform: a missing bound falls back to `days`, then to the other bound
        ({"days": 6, "distribution": "uniform"}, {6}),
        ({"days": 5, "days_min": 2, "distribution": "uniform"}, {2, 3, 4, 5}),
        ({"days": 5, "days_max": 8, "distribution": "uniform"}, {5, 6, 7, 8}),
        ({"days_min": 3, "distribution": "uniform"}, {3}),
        ({"days_max": 3, "distribution": "uniform"}, {3}),
        ({"distribution": "uniform"}, {0}),
        # fixed: `days`, else days_min, else 0, whatever the range says
        ({"days": 5, "days_min": 2, "days_max": 9, "distribution": "fixed"}, {5}),
        ({"days_min": 2, "days_max": 9, "distribution": "fixed"}, {2}),
        ({"distribution": "fixed"}, {0}),
        # normal with no spread (sigma 0) is exact, clamped to its bounds
        ({"days_min": 4, "days_max": 4, "distribution": "normal"}, {4}),
        ({"days": 0, "distribution": "normal"}, {0}),
        ({"days": 10, "days_min": 12, "days_max": 12, "distribution": "normal"}, {12}),
        ({"days": 10, "days_min": 3, "days_max": 3, "distribution": "normal"}, {3}),
        ({"days": -4, "days_min": -2, "days_max": -2, "distribution": "normal"}, {-2}),
    ],
)
def test_a_delay_form_gives_these_days(delay: dict[str, Any], days: set[int]) -> None:
    assert set(_days(delay)) == days


@pytest.mark.parametrize(
    ("delay", "mean", "spread", "lowest", "highest"),
    [
        # a range without `days` centres on its middle, sigma a quarter of its width
        ({"days_min": 4, "days_max": 12, "distribution": "normal"}, 8, 2, 4, 12),
        # `days` with one bound: sigma a quarter of `days`, the bound holds
        ({"days": 40, "days_max": 60, "distribution": "normal"}, 40, 10, 8, 60),
        ({"days": 40, "days_min": 20, "distribution": "normal"}, 40, 10, 20, 72),
        # sigma exactly 1 is a spread like any other
        ({"days": 4, "distribution": "normal"}, 4, 1, 0, 8),
        # a negative mean may come out negative: nothing says it must not
        ({"days": -40, "distribution": "normal"}, -40, 10, -72, -10),
    ],
)
def test_a_normal_delay_has_its_centre_spread_and_bounds(
    delay: dict[str, Any], mean: float, spread: float, lowest: int, highest: int
) -> None:
    days = _days(delay)

    assert abs(statistics.fmean(days) - mean) < 0.1 * spread + 0.2
    assert 0.85 * spread < statistics.pstdev(days) < 1.15 * spread
    assert lowest <= min(days)
    assert max(days) <= highest


def test_an_unbounded_normal_delay_is_clamped_at_its_anchor_not_before() -> None:
    # patient-036086 draws 4.1 sigma low: 100 days, sigma 25, would land on day -2.
    # With room below, it does; without a lower bound it stops at day 0.
    below = {"days": 100, "days_min": -1000, "distribution": "normal"}
    assert _days(below, ["patient-036086"]) == [-2]
    assert _days({"days": 100, "distribution": "normal"}, ["patient-036086"]) == [0]


@pytest.mark.parametrize(
    ("delay", "problem"),
    [
        ({"min_days": 9, "max_days": 1}, "delay min_days is greater than max_days"),
        ({"max_days": -1}, "delay min_days is greater than max_days"),
        ({"days_min": 5, "days_max": 2}, "delay days_min is greater than days_max"),
        ({"days": 9, "days_max": 5, "distribution": "uniform"}, "delay range is empty"),
        ({"days": 2, "days_min": 5, "distribution": "uniform"}, "delay range is empty"),
        ({"distribution": "normal"}, "a normal delay needs days"),
        ({"days_min": 2, "distribution": "normal"}, "a normal delay needs days"),
        ({"days_max": 2, "distribution": "normal"}, "a normal delay needs days"),
        ({"days": 1.5}, "days must be a whole number"),
        ({"days": True}, "days must be a whole number"),
        ({"days": math.inf}, "days must be a whole number"),
        ({"days": "5"}, "days must be a whole number"),
        ({"min_days": "1"}, "min_days must be a whole number"),
        ({"days_min": 1.5}, "days_min must be a whole number"),
        ({"max_days": 2.5}, "max_days must be a whole number"),
        ({"days_min": None, "days_max": 0.5}, "days_max must be a whole number"),
        (
            {"days": 5, "distribution": "lognormal"},
            "unknown delay distribution 'lognormal' (expected fixed, uniform or normal)",
        ),
        ("5 days", "delay must be an object"),
    ],
)
def test_a_malformed_delay_is_refused_saying_what_and_where(delay: Any, problem: str) -> None:
    with pytest.raises(ValueError) as refused:
        _plan({"event_id": "visit", "delay": delay})
    assert str(refused.value) == f"event 'visit': {problem}"


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"events": [{"event_id": "v", "probability": 1.01}]}, "event 'v': probability"),
        ({"events": [{"event_id": "v", "probability": -0.1}]}, "event 'v': probability"),
        ({"events": [{"event_id": "v", "probability": True}]}, "event 'v': probability"),
        ({"events": [{"event_id": "v", "probability": "0.5"}]}, "event 'v': probability"),
        ({"events": [{"event_id": "v", "repeat": 7}]}, "event 'v': repeat must be an object"),
        (
            {"events": [{"event_id": "v", "repeat": {"every_days": 0, "max_occurrences": 2}}]},
            "event 'v': repeat.every_days must be at least 1",
        ),
        (
            {"events": [{"event_id": "v", "repeat": {"every_days": 1, "max_occurrences": 0}}]},
            "event 'v': repeat.max_occurrences must be at least 1",
        ),
        (
            {"events": [{"event_id": "v", "repeat": {"every_days": 1.5}}], "duration_days": 9},
            "event 'v': repeat.every_days must be a whole number",
        ),
        (
            {"events": [{"event_id": "v", "repeat": {"every_days": 1, "max_occurrences": 1.5}}]},
            "event 'v': repeat.max_occurrences must be a whole number",
        ),
        (
            {"events": [{"event_id": "v", "repeat": {"every_days": 7}}]},
            "event 'v': repeat needs max_occurrences when the journey has no duration_days",
        ),
        (
            {
                "events": [
                    {"event_id": "a", "depends_on": "b"},
                    {"event_id": "b", "depends_on": "a"},
                    {"event_id": "c", "depends_on": "zz"},
                ]
            },
            "event 'c' depends_on unknown event 'zz'; dependency cycle: a -> b -> a",
        ),
        ({"events": [], "duration_days": -1}, "duration_days must not be negative"),
        ({"events": [], "duration_days": 1.5}, "duration_days must be a whole number"),
        ([], "journey spec must be an object"),
    ],
)
def test_a_malformed_spec_is_refused_saying_what(spec: Any, problem: str) -> None:
    with pytest.raises(ValueError) as refused:
        TimelinePlan.compile(spec)
    assert str(refused.value).startswith(problem), str(refused.value)


# -- which occurrences a probability keeps: pinned, as stored timelines depend on them ------


def test_a_probability_keeps_these_patients() -> None:
    plan = _plan({"event_id": "screening", "probability": 0.5})
    kept = [p for p in COHORT[:12] if plan.generate(p, START)]
    assert kept == [
        "patient-0000",
        "patient-0002",
        "patient-0003",
        "patient-0004",
        "patient-0005",
        "patient-0006",
        "patient-0007",
        "patient-0008",
        "patient-0009",
        "patient-0011",
    ]


def test_a_probability_keeps_these_occurrences_of_a_repeated_event() -> None:
    plan = _plan(
        {
            "event_id": "refill",
            "delay": {"days": 30},
            "probability": 0.5,
            "repeat": {"every_days": 30},
        },
        duration_days=360,
    )
    kept = [(item.occurrence, item.day_offset) for item in plan.generate("patient-0001", START)]
    assert kept == [(1, 30), (3, 90), (4, 120), (5, 150), (6, 180), (9, 270), (10, 300), (11, 330)]


def test_occurrences_past_the_precomputed_keys_draw_as_the_recipe_says() -> None:
    # A daily diary for 5000 days: keys past the 4096th occurrence are derived on demand.
    plan = _plan(
        # named otherwise than its id: draws derive from the id, never the name
        {
            "event_id": "diary",
            "name": "Daily diary",
            "probability": 0.5,
            "repeat": {"every_days": 1},
        },
        duration_days=5000,
    )
    timeline = plan.generate("patient-0001", START)
    late = [item.occurrence for item in timeline if item.occurrence > 4090]
    assert late[:12] == [4093, 4098, 4099, 4101, 4102, 4103, 4111, 4113, 4114, 4115, 4116, 4117]
    assert sum(item.occurrence > 4096 for item in timeline) == 468
    assert all(item.day_offset == item.occurrence - 1 for item in timeline)


def test_a_repeat_that_never_happens_has_no_later_occurrences_either() -> None:
    plan = _plan(
        {"event_id": "diary", "probability": 0, "repeat": {"every_days": 1}}, duration_days=30
    )
    assert plan.generate("patient-0001", START) == []


# -- what a plan keeps, and where a timeline stops --------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        # a repeat of at most one occurrence is one occurrence
        (
            {"events": [{"event_id": "v", "repeat": {"every_days": 7, "max_occurrences": 1}}]},
            [("v", 0, 1)],
        ),
        # a journey of zero days keeps day 0 only
        (
            {
                "duration_days": 0,
                "events": [{"event_id": "v"}, {"event_id": "w", "delay": {"days": 1}}],
            },
            [("v", 0, 1)],
        ),
        # an event whose target never happened does not stop the events after it
        (
            {
                "events": [
                    {"event_id": "randomization", "probability": 0},
                    {"event_id": "dose", "depends_on": "randomization"},
                    {"event_id": "follow-up", "delay": {"days": 30}},
                ]
            },
            [("follow-up", 30, 1)],
        ),
        # nor does an event past the horizon
        (
            {
                "duration_days": 50,
                "events": [
                    {"event_id": "visit", "delay": {"days": 10}},
                    {"event_id": "late-lab", "depends_on": "visit", "delay": {"days": 100}},
                    {"event_id": "call", "depends_on": "visit", "delay": {"days": 5}},
                ],
            },
            [("visit", 10, 1), ("call", 15, 1)],
        ),
    ],
)
def test_a_timeline_holds_these_events(spec: dict[str, Any], expected: list[Any]) -> None:
    timeline = TimelinePlan.compile(spec).generate("patient-0001", START)

    assert [(e.event_id, e.day_offset, e.occurrence) for e in timeline] == expected


@pytest.mark.parametrize(("duration", "kept"), [(365, 365), (0, 0), (None, None)])
def test_a_plan_says_how_long_the_journey_is(duration: int | None, kept: int | None) -> None:
    assert _plan({"event_id": "v"}, duration_days=duration).duration_days == kept


@pytest.mark.parametrize("start", [date(9999, 12, 25), date(1, 1, 1)])
def test_a_timeline_past_the_calendar_is_refused_saying_so(start: date) -> None:
    days = 10 if start.year == 9999 else -10
    plan = _plan({"event_id": "v", "delay": {"days": days}})

    with pytest.raises(ValueError) as refused:
        plan.generate("patient-0001", start)
    assert str(refused.value) == "the timeline runs outside the supported date range"
