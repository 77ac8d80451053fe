"""Journey analytics from the log, without AWS: stays, time in stage (open stays counted as
"at least"), conversions, stale thresholds and totals (journeys_core.domain.analytics)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from journeys_core.domain.analytics import (
    JourneyShape,
    LogPoint,
    analyse_journey,
    quantile_hours,
)
from journeys_core.models.analytics import JourneyAnalytics, Period, ReadCost, StageAnalytics

T0 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
PERIOD = Period(start=T0, end=NOW)
RETREAT: dict[str, Any] = {
    "stages": [
        "SCREENING_PENDING",
        "SCREENING_COMPLETED",
        "BLOCKED_HIGH_RISK",
        "AWAITING_PAYMENT",
        "CONFIRMED",
        "COMPLETED",
        "CANCELLED",
    ],
    "transitions": {
        "SCREENING_PENDING": ["SCREENING_COMPLETED", "BLOCKED_HIGH_RISK", "CANCELLED"],
        "SCREENING_COMPLETED": ["AWAITING_PAYMENT", "BLOCKED_HIGH_RISK", "CANCELLED"],
        "BLOCKED_HIGH_RISK": ["SCREENING_PENDING", "SCREENING_COMPLETED", "CANCELLED"],
        "AWAITING_PAYMENT": ["CONFIRMED", "CANCELLED"],
        "CONFIRMED": ["COMPLETED", "CANCELLED"],
        "COMPLETED": [],
        "CANCELLED": [],
    },
    "locked_stages": ["BLOCKED_HIGH_RISK"],
    "stale_rules": [
        {"stage": "AWAITING_PAYMENT", "max_hours": 96, "action": "alert_stagnation"},
        {"stage": "AWAITING_PAYMENT", "max_hours": 48, "action": "send_payment_reminder"},
    ],
}
SHAPE = JourneyShape.from_spec(RETREAT)
assert SHAPE is not None


def journey_of(
    patient: str, *moves: tuple[float, str], before: str | None = None
) -> list[LogPoint]:
    """A patient's log entries: (hours after T0, stage) each; ``before`` is the stage the
    patient stood in when the period began (None: the first move is the enrollment)."""
    points, previous = [], before
    for hours, stage in moves:
        points.append(LogPoint(patient, previous, stage, T0 + timedelta(hours=hours)))
        previous = stage
    return points


def analyse(
    points: Sequence[LogPoint],
    standing: Mapping[str, Sequence[datetime]] | None = None,
    shape: JourneyShape = SHAPE,
    period: Period = PERIOD,
) -> JourneyAnalytics:
    reads = ReadCost(log_items=len(points), enrollment_items=0, queries=1)
    return analyse_journey("retreat", 3, shape, points, standing or {}, period, NOW, reads)


def stage(result: JourneyAnalytics, name: str) -> StageAnalytics:
    return next(s for s in result.stages if s.stage == name)


# -- time in stage ----------------------------------------------------------------------------


def test_with_every_stay_over_the_quantiles_are_nearest_rank() -> None:
    ended = [(float(h), True) for h in range(1, 11)]

    assert quantile_hours(ended, 0.5) == 5
    assert quantile_hours(ended, 0.9) == 9
    assert quantile_hours(ended[:4], 0.5) == 2
    assert quantile_hours([], 0.5) is None


def test_stays_still_open_count_as_at_least_that_long_never_as_short_ones() -> None:
    # Given two stays that ended after 1 h and 2 h, and two still open after 10 h
    observations = [(1.0, True), (2.0, True), (10.0, False), (10.0, False)]

    # Then half of the stays are known to have ended by 2 h, but the p90 is not known yet
    assert quantile_hours(observations, 0.5) == 2
    assert quantile_hours(observations, 0.9) is None
    # And an open stay shorter than the others weighs only as long as it is known to last
    assert quantile_hours([(1.0, False), (4.0, True), (6.0, True)], 0.5) == 4


def test_median_and_p90_time_in_a_stage_come_from_each_patients_consecutive_entries() -> None:
    # Given three patients who screened in 2 h, 4 h and 30 h, and one still screening
    points = [
        *journey_of("ana", (0, "SCREENING_PENDING"), (2, "SCREENING_COMPLETED")),
        *journey_of("ben", (1, "SCREENING_PENDING"), (5, "SCREENING_COMPLETED")),
        *journey_of("eva", (2, "SCREENING_PENDING"), (32, "SCREENING_COMPLETED")),
        *journey_of("kai", (3, "SCREENING_PENDING")),
    ]

    # When the period is analysed
    screening = stage(analyse(points), "SCREENING_PENDING").time_in_stage

    # Then the open stay (over 700 h by now) only says "at least"
    assert (screening.stays, screening.ended) == (4, 3)
    assert screening.median_hours == 4
    assert screening.p90_hours is None


# -- conversions and the period --------------------------------------------------------------


def test_conversions_are_where_the_stays_begun_in_the_period_went_next() -> None:
    points = [
        *journey_of("ana", (0, "SCREENING_PENDING"), (2, "SCREENING_COMPLETED")),
        *journey_of("ben", (1, "SCREENING_PENDING"), (5, "SCREENING_COMPLETED")),
        *journey_of("eva", (2, "SCREENING_PENDING"), (3, "BLOCKED_HIGH_RISK")),
        *journey_of("kai", (3, "SCREENING_PENDING")),
    ]

    screening = stage(analyse(points), "SCREENING_PENDING")

    assert screening.entries == 4
    assert [(c.to_stage, c.count, c.rate) for c in screening.conversions] == [
        ("SCREENING_COMPLETED", 2, 0.5),
        ("BLOCKED_HIGH_RISK", 1, 0.25),
        ("CANCELLED", 0, 0.0),
    ]


def test_a_move_the_definition_no_longer_allows_still_shows_after_the_allowed_ones() -> None:
    points = journey_of("ana", (0, "AWAITING_PAYMENT"), (1, "SCREENING_PENDING"))

    conversions = stage(analyse(points), "AWAITING_PAYMENT").conversions

    assert [c.to_stage for c in conversions] == ["CONFIRMED", "CANCELLED", "SCREENING_PENDING"]
    assert conversions[-1].count == 1


def test_a_stay_begun_before_the_period_counts_neither_for_time_nor_conversion() -> None:
    # Given a patient who was awaiting payment before the period and paid in it
    points = journey_of("ana", (5, "CONFIRMED"), before="AWAITING_PAYMENT")

    result = analyse(points)

    # Then the payment stage shows nothing for the period; the confirmation is an entry
    awaiting = stage(result, "AWAITING_PAYMENT")
    assert awaiting.entries == 0
    assert awaiting.time_in_stage.stays == 0
    assert all(c.count == 0 for c in awaiting.conversions)
    assert stage(result, "CONFIRMED").entries == 1
    assert result.totals.enrolled == 0


# -- now: who stands where, stale rules -------------------------------------------------------


def test_past_a_stale_rules_threshold_means_strictly_older_than_it_allows() -> None:
    standing = {
        "AWAITING_PAYMENT": [
            NOW - timedelta(hours=100),
            NOW - timedelta(hours=60),
            NOW - timedelta(hours=48),  # exactly at the threshold: not past it yet
            NOW - timedelta(hours=1),
        ]
    }

    awaiting = stage(analyse([], standing), "AWAITING_PAYMENT")

    assert awaiting.in_stage_now == 4
    assert [(r.max_hours, r.action, r.past_threshold_now) for r in awaiting.stale_rules] == [
        (48, "send_payment_reminder", 2),
        (96, "alert_stagnation", 1),
    ]


def test_totals_count_the_periods_enrollments_and_who_stands_where_now_by_kind() -> None:
    points = [
        *journey_of("ana", (0, "SCREENING_PENDING"), (1, "BLOCKED_HIGH_RISK")),
        *journey_of("ben", (0, "SCREENING_PENDING"), (1, "CANCELLED")),
        *journey_of("eva", (2, "COMPLETED"), before="CONFIRMED"),
    ]
    standing = {
        "BLOCKED_HIGH_RISK": [T0],
        "CANCELLED": [T0],
        "COMPLETED": [T0, T0],
        "SCREENING_PENDING": [T0, T0, T0],
    }

    result = analyse(points, standing)

    assert result.totals.model_dump() == {
        "enrolled": 2,
        "completed": 1,
        "cancelled": 1,
        "blocked": 1,
    }
    assert result.current.model_dump() == {
        "enrolled": 7,
        "active": 3,
        "blocked": 1,
        "completed": 2,
        "cancelled": 1,
    }


# -- stages -----------------------------------------------------------------------------------


def test_stages_come_in_the_definitions_order_then_those_only_the_log_names() -> None:
    points = journey_of("ana", (0, "SCREENING_PENDING"), (1, "RETIRED_STAGE"))

    result = analyse(points)

    assert [s.stage for s in result.stages] == [*RETREAT["stages"], "RETIRED_STAGE"]
    assert stage(result, "RETIRED_STAGE").in_definition is False
    assert stage(result, "SCREENING_PENDING").in_definition is True


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param(
            RETREAT,
            {
                "SCREENING_PENDING": "active",
                "BLOCKED_HIGH_RISK": "blocked",
                "COMPLETED": "completed",
                "CANCELLED": "cancelled",
            },
            id="final stages of the transitions",
        ),
        pytest.param(
            {"stages": ["NEW", "BLOCKED_REVIEW", "COMPLETED", "CANCELED"]},
            {
                "NEW": "active",
                "BLOCKED_REVIEW": "blocked",
                "COMPLETED": "completed",
                "CANCELED": "cancelled",
            },
            id="without transitions, by name",
        ),
    ],
)
def test_each_stage_reads_as_active_blocked_completed_or_cancelled(
    spec: dict[str, Any], expected: dict[str, str]
) -> None:
    shape = JourneyShape.from_spec(spec)

    assert shape is not None
    assert {name: shape.kind(name) for name in expected} == expected


def test_a_definition_without_stages_has_no_shape_to_analyse() -> None:
    assert JourneyShape.from_spec({"events": [{"event_id": "visit"}]}) is None
