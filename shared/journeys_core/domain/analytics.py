"""Journey analytics (pure: no AWS), from rollups (the API) or from log entries (the
simulator, in memory); both give the same figures.

Each log entry opens a **stay** in its ``to_stage``, which the patient's next entry in the
same episode closes. Per stage, for the stays that began in the period:

- **entries**: moves into the stage in the period;
- **time in stage**: median and p90 of those stays. A stay still open is right-censored: it
  lasted *at least* that long. The quantiles come from the Kaplan–Meier estimate, which with
  no open stays is the plain nearest-rank quantile; when too many stays are still open to
  reach a quantile, it is ``None`` rather than a figure biased towards short stays;
- **conversions**: where those stays went next, as a share of the entries.

So a period is a cohort: what happened to the patients who entered each stage in it. From
the log (:func:`analyse_journey`), the stays are followed to the end of the period and
stays that began before it are left out. From rollups (:func:`analyse_rollups`, see
journeys_core.domain.journey_rollups), the period is the UTC days it touches, stays are
followed up to now, and durations come from a log-scale histogram (quantiles within ±5%).
Who stands where *now*, and who is past a stale rule's threshold now, come from the
enrollments (the simulator) or the live counts (rollups, to the hour), not from the period.

Kinds of stage (for totals and badges): ``cancelled`` when the name contains ``CANCEL``;
``blocked`` for ``locked_stages`` and names starting with ``BLOCKED``; ``completed`` for the
other final stages (with ``transitions``, a stage that lists no next stage) and, without
``transitions``, names starting with ``COMPLET``; ``active`` for the rest.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from journeys_core.domain.journey_rollups import (
    CONVERSION_PREFIX,
    ENROLLED,
    ENTRIES,
    HISTOGRAM_PREFIX,
    STANDING_PREFIX,
    StageDay,
    bucket_hours,
)
from journeys_core.models.analytics import (
    Conversion,
    CurrentTotals,
    JourneyAnalytics,
    Period,
    PeriodTotals,
    ReadCost,
    StageAnalytics,
    StageKind,
    StaleThreshold,
    TimeInStage,
)

HOUR = timedelta(hours=1)
_QUANTILE_SLACK = 1e-9  # products of fractions are not exact in floating point


@dataclass(frozen=True)
class LogPoint:
    """What analytics needs of one journey log entry."""

    patient_id: str
    from_stage: str | None
    to_stage: str
    changed_at: datetime
    episode: int = 1


@dataclass(frozen=True)
class StaleRuleView:
    stage: str
    max_hours: float
    action: str


@dataclass(frozen=True)
class JourneyShape:
    """The parts of a definition's stage machine analytics reads."""

    stages: tuple[str, ...]
    transitions: Mapping[str, tuple[str, ...]] | None = None
    locked_stages: frozenset[str] = frozenset()
    stale_rules: tuple[StaleRuleView, ...] = ()

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> JourneyShape | None:
        """The shape of a stored (validated) spec; None when it has no stages."""
        stages = tuple(spec.get("stages") or ())
        if not stages:
            return None
        transitions = spec.get("transitions")
        return cls(
            stages=stages,
            transitions=(
                {stage: tuple(targets) for stage, targets in transitions.items()}
                if transitions is not None
                else None
            ),
            locked_stages=frozenset(spec.get("locked_stages") or ()),
            stale_rules=tuple(
                StaleRuleView(rule["stage"], float(rule["max_hours"]), rule["action"])
                for rule in spec.get("stale_rules") or ()
            ),
        )

    def next_stages(self, stage: str) -> tuple[str, ...]:
        """Where a patient may go from ``stage``, in the definition's order."""
        if self.transitions is None:
            return tuple(s for s in self.stages if s != stage)
        allowed = set(self.transitions.get(stage, ()))
        return tuple(s for s in self.stages if s in allowed)

    def kind(self, stage: str) -> StageKind:
        name = stage.upper()
        if "CANCEL" in name:
            return "cancelled"
        if stage in self.locked_stages or name.startswith("BLOCKED"):
            return "blocked"
        if self.transitions is not None:
            final = stage in self.stages and not self.transitions.get(stage)
        else:
            final = name.startswith("COMPLET")
        return "completed" if final else "active"


@dataclass(frozen=True)
class JourneyRollups:
    """A journey's rollups as read: each stage's day items (the period's, and those since
    the earliest stale-rule cutoff), who stands in each stage now, every stage seen."""

    days: Mapping[str, Sequence[StageDay]]
    live: Mapping[str, int]
    stages_seen: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Stay:
    """A patient's time in one stage, opened by a log entry in the period."""

    stage: str
    entered_at: datetime
    left_at: datetime | None = None  # None: still in the stage at the end of the period
    next_stage: str | None = None


def stays_from_log(points: Iterable[LogPoint]) -> list[Stay]:
    """Every stay opened in the period: each entry opens one, the patient's next entry in the
    same episode closes it (each episode of a patient is its own course)."""
    by_patient: dict[tuple[str, int], list[LogPoint]] = defaultdict(list)
    for point in points:
        by_patient[(point.patient_id, point.episode)].append(point)
    stays: list[Stay] = []
    for entries in by_patient.values():
        entries.sort(key=lambda p: p.changed_at)
        for current, following in zip(entries, [*entries[1:], None], strict=True):
            stays.append(
                Stay(
                    stage=current.to_stage,
                    entered_at=current.changed_at,
                    left_at=following.changed_at if following else None,
                    next_stage=following.to_stage if following else None,
                )
            )
    return stays


def quantile_hours(observations: Sequence[tuple[float, bool]], q: float) -> float | None:
    """The ``q`` quantile of durations where ``(hours, ended)`` with ``ended`` False means
    "still open, at least this long" (Kaplan–Meier; with no open stays this is the
    nearest-rank quantile: the smallest duration that at least ``q`` of the stays ended by).
    None when the open stays leave the quantile out of reach, or with no observations."""
    return weighted_quantile_hours([(hours, ended, 1) for hours, ended in observations], q)


def weighted_quantile_hours(
    observations: Sequence[tuple[float, bool, int]], q: float
) -> float | None:
    """:func:`quantile_hours` of ``(hours, ended, how many)``: a histogram's buckets."""
    # Ties: stays ending at t count before stays merely known to last at least t.
    ordered = sorted((o for o in observations if o[2] > 0), key=lambda o: (o[0], not o[1]))
    at_risk, survival, index = sum(o[2] for o in ordered), 1.0, 0
    while index < len(ordered):
        moment = ordered[index][0]
        ended = censored = 0
        while index < len(ordered) and ordered[index][0] == moment:
            if ordered[index][1]:
                ended += ordered[index][2]
            else:
                censored += ordered[index][2]
            index += 1
        if ended:
            survival *= 1 - ended / at_risk
            if 1 - survival >= q - _QUANTILE_SLACK:
                return moment
        at_risk -= ended + censored
    return None


def _hours(delta: timedelta) -> float:
    return max(delta / HOUR, 0.0)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _time_in_stage(stays: Sequence[Stay], closes_at: datetime) -> TimeInStage:
    observations = [
        (
            _hours((stay.left_at or closes_at) - stay.entered_at),
            stay.left_at is not None,
            1,
        )
        for stay in stays
    ]
    return _quantiles(len(stays), observations)


def _quantiles(stays: int, observations: Sequence[tuple[float, bool, int]]) -> TimeInStage:
    return TimeInStage(
        stays=stays,
        ended=sum(n for _, ended, n in observations if ended),
        median_hours=_rounded(weighted_quantile_hours(observations, 0.5)),
        p90_hours=_rounded(weighted_quantile_hours(observations, 0.9)),
    )


def _conversions(
    shape: JourneyShape, stage: str, entries: int, counts: Mapping[str, int]
) -> list[Conversion]:
    allowed = shape.next_stages(stage) if stage in shape.stages else ()
    others = sorted(s for s in counts if s not in allowed and counts[s])
    return [
        Conversion(
            to_stage=target,
            count=counts.get(target, 0),
            rate=round(counts.get(target, 0) / entries, 4) if entries else 0.0,
        )
        for target in (*allowed, *others)
    ]


def _stale_thresholds(
    shape: JourneyShape, stage: str, past: Callable[[datetime], int], now: datetime
) -> list[StaleThreshold]:
    """``past(cutoff)``: how many stand in the stage since before ``cutoff`` (strictly older
    than the rule allows, as the monitor reads it)."""
    return [
        StaleThreshold(
            max_hours=rule.max_hours,
            action=rule.action,
            past_threshold_now=past(now - rule.max_hours * HOUR),
        )
        for rule in sorted(
            (r for r in shape.stale_rules if r.stage == stage), key=lambda r: r.max_hours
        )
    ]


def _analytics(
    journey_key: str,
    definition_version: int,
    period: Period,
    now: datetime,
    stages: list[StageAnalytics],
    enrolled: int,
    reads: ReadCost,
) -> JourneyAnalytics:
    entered_by_kind: Counter[str] = Counter()
    now_by_kind: Counter[str] = Counter()
    for stage in stages:
        entered_by_kind[stage.kind] += stage.entries
        now_by_kind[stage.kind] += stage.in_stage_now
    return JourneyAnalytics(
        journey_key=journey_key,
        definition_version=definition_version,
        period=period,
        generated_at=now,
        stages=stages,
        totals=PeriodTotals(
            enrolled=enrolled,
            completed=entered_by_kind["completed"],
            cancelled=entered_by_kind["cancelled"],
            blocked=entered_by_kind["blocked"],
        ),
        current=CurrentTotals(
            enrolled=sum(now_by_kind.values()),
            active=now_by_kind["active"],
            blocked=now_by_kind["blocked"],
            completed=now_by_kind["completed"],
            cancelled=now_by_kind["cancelled"],
        ),
        reads=reads,
    )


def analyse_journey(
    journey_key: str,
    definition_version: int,
    shape: JourneyShape,
    points: Sequence[LogPoint],
    standing: Mapping[str, Sequence[datetime]],
    period: Period,
    now: datetime,
    reads: ReadCost,
) -> JourneyAnalytics:
    """The analytics of one journey from log entries (the simulator's, in memory):
    ``points`` are the period's entries, ``standing`` the ``entered_at`` of every patient
    standing in each stage now."""
    stays = stays_from_log(points)
    stays_by_stage: dict[str, list[Stay]] = defaultdict(list)
    for stay in stays:
        stays_by_stage[stay.stage].append(stay)
    closes_at = min(period.end, now)
    only_in_log = sorted(
        {*stays_by_stage, *standing} - set(shape.stages), key=lambda s: (s not in standing, s)
    )

    def stage_analytics(stage: str) -> StageAnalytics:
        stage_stays = stays_by_stage.get(stage, [])
        entered = standing.get(stage, ())
        return StageAnalytics(
            stage=stage,
            kind=shape.kind(stage),
            in_definition=stage in shape.stages,
            in_stage_now=len(entered),
            entries=len(stage_stays),
            time_in_stage=_time_in_stage(stage_stays, closes_at),
            conversions=_conversions(
                shape,
                stage,
                len(stage_stays),
                Counter(s.next_stage for s in stage_stays if s.next_stage is not None),
            ),
            stale_rules=_stale_thresholds(
                shape, stage, lambda cutoff: sum(1 for at in entered if at < cutoff), now
            ),
        )

    stages = [stage_analytics(stage) for stage in (*shape.stages, *only_in_log)]
    enrolled = sum(1 for p in points if p.from_stage is None)
    return _analytics(journey_key, definition_version, period, now, stages, enrolled, reads)


def period_days(period: Period) -> tuple[date, date] | None:
    """The UTC days the period overlaps (first, last), None for an empty period: rollups
    count by day, so a period is read as the whole days it touches."""
    if period.end <= period.start:
        return None
    last = period.end - timedelta(microseconds=1)
    return period.start.astimezone(UTC).date(), last.astimezone(UTC).date()


def analyse_rollups(
    journey_key: str,
    definition_version: int,
    shape: JourneyShape,
    rollups: JourneyRollups,
    period: Period,
    now: datetime,
    reads: ReadCost,
) -> JourneyAnalytics:
    """The analytics of one journey from its rollups (journeys_core.domain.journey_rollups):
    the day items of the stays that began in the UTC days the period touches, followed up
    to now, and who stands in each stage now (to the hour for stale thresholds)."""
    first, last = period_days(period) or (date.max, date.min)
    only_in_log = sorted(
        set(rollups.stages_seen) - set(shape.stages),
        key=lambda s: (not rollups.live.get(s, 0), s),
    )

    def stage_analytics(stage: str) -> StageAnalytics:
        days = rollups.days.get(stage, ())
        in_period = [d for d in days if first <= d.day <= last]
        entries = sum(d.get(ENTRIES) for d in in_period)
        conversions: Counter[str] = Counter()
        observations: list[tuple[float, bool, int]] = []
        for item in in_period:
            conversions.update(item.prefixed(CONVERSION_PREFIX))
            observations += [
                (bucket_hours(int(bucket)), True, n)
                for bucket, n in item.prefixed(HISTOGRAM_PREFIX).items()
            ]
            midnight = datetime(item.day.year, item.day.month, item.day.day, tzinfo=UTC)
            observations += [  # still standing: at least since the middle of their hour
                (_hours(now - midnight - timedelta(hours=int(hour), minutes=30)), False, n)
                for hour, n in item.prefixed(STANDING_PREFIX).items()
            ]
        live = max(rollups.live.get(stage, 0), 0)

        def past(cutoff: datetime) -> int:
            since = sum(d.standing_since(cutoff) for d in days if d.day >= cutoff.date())
            return max(live - since, 0)

        return StageAnalytics(
            stage=stage,
            kind=shape.kind(stage),
            in_definition=stage in shape.stages,
            in_stage_now=live,
            entries=entries,
            time_in_stage=_quantiles(entries, observations),
            conversions=_conversions(shape, stage, entries, conversions),
            stale_rules=_stale_thresholds(shape, stage, past, now),
        )

    stages = [stage_analytics(stage) for stage in (*shape.stages, *only_in_log)]
    enrolled = sum(
        d.get(ENROLLED) for days in rollups.days.values() for d in days if first <= d.day <= last
    )
    return _analytics(journey_key, definition_version, period, now, stages, enrolled, reads)
