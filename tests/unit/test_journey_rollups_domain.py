"""Journey rollups (pure): a batch of log entries becomes one increment per counter, and the
analytics read from the counters match the analytics read from the log: the same counts,
and time-in-stage quantiles within 5% of the exact ones."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from journeys_core.domain.analytics import (
    JourneyRollups,
    JourneyShape,
    LogPoint,
    StaleRuleView,
    analyse_journey,
    analyse_rollups,
    quantile_hours,
    weighted_quantile_hours,
)
from journeys_core.domain.journey_rollups import (
    LIVE,
    StageDay,
    bucket_hours,
    day_slot,
    duration_bucket,
    rollup_deltas,
)
from journeys_core.models.analytics import Period, ReadCost
from journeys_core.models.patient import JourneyLogEntry

T0 = datetime(2026, 11, 1, tzinfo=UTC)
SHAPE = JourneyShape(
    stages=("NEW", "WORK", "DONE"),
    transitions={"NEW": ("WORK", "DONE"), "WORK": ("DONE",), "DONE": ()},
)
NO_READS = ReadCost(log_items=0, enrollment_items=0, queries=0)


def entry(
    patient: str,
    from_stage: str | None,
    to_stage: str,
    at: datetime,
    from_entered_at: datetime | None,
) -> JourneyLogEntry:
    return JourneyLogEntry(
        id=f"jlog-{patient}-{to_stage}",
        organization_id="org-a",
        patient_id=patient,
        journey_key="j",
        from_stage=from_stage,
        to_stage=to_stage,
        changed_at=at,
        actor="nurse",
        definition_version=1,
        from_entered_at=from_entered_at,
    )


def walk(rng: random.Random, patients: int) -> list[JourneyLogEntry]:
    """Patients enrolled over 10 days, each moving on after a random stay (or not yet)."""
    entries = []
    for n in range(patients):
        entered = T0 + timedelta(minutes=rng.randrange(10 * 24 * 60))
        entries.append(entry(f"p{n}", None, "NEW", entered, None))
        if rng.random() < 0.8:
            left = entered + timedelta(minutes=rng.lognormvariate(6, 1.2))
            to = "WORK" if rng.random() < 0.7 else "DONE"
            entries.append(entry(f"p{n}", "NEW", to, left, entered))
    return entries


def from_deltas(entries: list[JourneyLogEntry]) -> JourneyRollups:
    rolled = rollup_deltas(entries)
    deltas = rolled.nonzero()
    days: dict[str, list[StageDay]] = {}
    live: dict[str, int] = {}
    for key, counters in deltas.items():
        if key.slot == LIVE:
            live[key.stage] = counters.get("count", 0)
        else:
            day = datetime.fromisoformat(key.slot.removeprefix("DAY#")).date()
            days.setdefault(key.stage, []).append(StageDay(day=day, counters=counters))
    seen = frozenset(stage for stages in rolled.stages.values() for stage in stages)
    return JourneyRollups(days=days, live=live, stages_seen=seen)


def test_a_batch_is_one_increment_per_counter_whatever_the_moves() -> None:
    at = T0 + timedelta(hours=9)
    batch = [entry(f"p{n}", None, "NEW", at + timedelta(minutes=n), None) for n in range(50)]
    batch += [
        entry(f"p{n}", "NEW", "WORK", at + timedelta(hours=2), at + timedelta(minutes=n))
        for n in range(30)
    ]

    deltas = rollup_deltas(batch).nonzero()

    new_day = [k for k in deltas if (k.stage, k.slot) == ("NEW", day_slot(at.date()))]
    (key,) = new_day
    assert deltas[key]["entries"] == 50
    assert deltas[key]["ended"] == 30
    assert deltas[key]["to#WORK"] == 30
    assert deltas[key]["standing#09"] == 20  # 50 entered at 9-something, 30 left
    assert {k.stage: v["count"] for k, v in deltas.items() if k.slot == LIVE} == {
        "NEW": 20,
        "WORK": 30,
    }
    assert len(deltas) == 4  # NEW's day and live, WORK's day and live: items, not moves


def test_buckets_stand_for_their_durations_within_five_percent() -> None:
    for seconds in (1.5, 59, 3600, 7200, 86_400 * 3, 86_400 * 400):
        estimate = bucket_hours(duration_bucket(seconds)) * 3600
        assert estimate == pytest.approx(seconds, rel=0.05), seconds
    assert duration_bucket(0.2) == 0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rollup_analytics_match_the_log_with_quantiles_within_five_percent(seed: int) -> None:
    # Given a few thousand moves over ten days, analysed over a period holding all of them
    entries = walk(random.Random(seed), 2000)
    now = T0 + timedelta(days=40)
    period = Period(start=T0, end=now)
    points = [LogPoint(e.patient_id, e.from_stage, e.to_stage, e.changed_at) for e in entries]
    standing: dict[str, list[datetime]] = {}
    last: dict[str, JourneyLogEntry] = {}
    for e in sorted(entries, key=lambda e: e.changed_at):
        last[e.patient_id] = e
    for e in last.values():
        standing.setdefault(e.to_stage, []).append(e.changed_at)

    # When analysed from the log and from the rollups
    exact = analyse_journey("j", 1, SHAPE, points, standing, period, now, NO_READS)
    rolled = analyse_rollups("j", 1, SHAPE, from_deltas(entries), period, now, NO_READS)

    # Then counts agree exactly and quantiles within 5%
    assert rolled.totals == exact.totals
    assert rolled.current == exact.current
    for ours, theirs in zip(rolled.stages, exact.stages, strict=True):
        assert (ours.stage, ours.entries, ours.in_stage_now) == (
            theirs.stage,
            theirs.entries,
            theirs.in_stage_now,
        )
        assert ours.conversions == theirs.conversions
        assert ours.time_in_stage.ended == theirs.time_in_stage.ended
        for q in ("median_hours", "p90_hours"):
            mine, true = getattr(ours.time_in_stage, q), getattr(theirs.time_in_stage, q)
            assert (mine is None) == (true is None), q
            if true is not None:
                assert mine == pytest.approx(true, rel=0.05), q


def test_weighted_quantiles_are_the_quantiles_of_the_expanded_observations() -> None:
    observations = [(1.0, True, 3), (2.0, False, 2), (5.0, True, 4)]
    expanded = [(h, e) for h, e, n in observations for _ in range(n)]
    for q in (0.1, 0.5, 0.9):
        assert weighted_quantile_hours(observations, q) == quantile_hours(expanded, q)


def test_stale_thresholds_count_who_entered_before_the_cutoff_hour() -> None:
    shape = JourneyShape(stages=("WAIT", "DONE"), stale_rules=(StaleRuleView("WAIT", 24, "r"),))
    now = T0 + timedelta(days=3, hours=12)
    entered = [now - timedelta(hours=h) for h in (2, 20, 30, 50, 70)]
    entries = [entry(f"p{n}", None, "WAIT", at, None) for n, at in enumerate(entered)]
    period = Period(start=now - timedelta(days=1), end=now)

    rolled = analyse_rollups("j", 1, shape, from_deltas(entries), period, now, NO_READS)

    wait = rolled.stages[0]
    assert wait.in_stage_now == 5
    assert [r.past_threshold_now for r in wait.stale_rules] == [3]
    assert [s.stage for s in rolled.stages] == ["WAIT", "DONE"]
