"""Journey analytics from the journey log (pure: no AWS).

The period's log entries (``start <= changed_at <= end``, read through the ByJourney index)
are grouped by patient and ordered in time; each entry opens a **stay** in its ``to_stage``,
which the patient's next entry closes. From the stays, per stage:

- **entries**: moves into the stage in the period;
- **time in stage**: median and p90 of the stays that *began* in the period. A stay still open
  at the end of the period (or now, if earlier) is right-censored: it lasted *at least* that
  long. The quantiles come from the Kaplan–Meier estimate, which with no open stays is the
  plain nearest-rank quantile; when too many stays are still open to reach a quantile, it is
  ``None`` rather than a figure biased towards short stays;
- **conversions**: where the stays that began in the period went next, as a share of the
  entries.

Stays that began **before** the period are left out of times and conversions (the patient's
first entry in the period then has a ``from_stage``): finding where they began would mean
reading outside the period, one patient at a time. So a period is a cohort: what happened to
the patients who entered each stage in it. Who stands where *now*, and who is past a stale
rule's threshold now, come from the enrollments (``entered_at`` of each patient standing in
each stage), not from the period.

Kinds of stage (for totals and badges): ``cancelled`` when the name contains ``CANCEL``;
``blocked`` for ``locked_stages`` and names starting with ``BLOCKED``; ``completed`` for the
other final stages (with ``transitions``, a stage that lists no next stage) and, without
``transitions``, names starting with ``COMPLET``; ``active`` for the rest.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

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
    # Ties: stays ending at t count before stays merely known to last at least t.
    ordered = sorted(observations, key=lambda o: (o[0], not o[1]))
    at_risk, survival, index = len(ordered), 1.0, 0
    while index < len(ordered):
        moment = ordered[index][0]
        ended = censored = 0
        while index < len(ordered) and ordered[index][0] == moment:
            if ordered[index][1]:
                ended += 1
            else:
                censored += 1
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
        )
        for stay in stays
    ]
    return TimeInStage(
        stays=len(stays),
        ended=sum(1 for _, ended in observations if ended),
        median_hours=_rounded(quantile_hours(observations, 0.5)),
        p90_hours=_rounded(quantile_hours(observations, 0.9)),
    )


def _conversions(shape: JourneyShape, stage: str, stays: Sequence[Stay]) -> list[Conversion]:
    entries = len(stays)
    counts = Counter(stay.next_stage for stay in stays if stay.next_stage is not None)
    allowed = shape.next_stages(stage) if stage in shape.stages else ()
    others = sorted(s for s in counts if s not in allowed)
    return [
        Conversion(
            to_stage=target,
            count=counts[target],
            rate=round(counts[target] / entries, 4) if entries else 0.0,
        )
        for target in (*allowed, *others)
    ]


def _stale_thresholds(
    shape: JourneyShape, stage: str, entered: Sequence[datetime], now: datetime
) -> list[StaleThreshold]:
    # Past the threshold means strictly older than the rule allows, as the monitor reads it.
    return [
        StaleThreshold(
            max_hours=rule.max_hours,
            action=rule.action,
            past_threshold_now=sum(1 for at in entered if at < now - rule.max_hours * HOUR),
        )
        for rule in sorted(
            (r for r in shape.stale_rules if r.stage == stage), key=lambda r: r.max_hours
        )
    ]


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
    """The analytics of one journey: ``points`` are the period's log entries, ``standing``
    the ``entered_at`` of every patient standing in each stage now."""
    stays = stays_from_log(points)
    stays_by_stage: dict[str, list[Stay]] = defaultdict(list)
    for stay in stays:
        stays_by_stage[stay.stage].append(stay)
    closes_at = min(period.end, now)
    only_in_log = sorted(
        {*stays_by_stage, *standing} - set(shape.stages), key=lambda s: (s not in standing, s)
    )
    stages = [
        StageAnalytics(
            stage=stage,
            kind=shape.kind(stage),
            in_definition=stage in shape.stages,
            in_stage_now=len(standing.get(stage, ())),
            entries=len(stays_by_stage.get(stage, ())),
            time_in_stage=_time_in_stage(stays_by_stage.get(stage, []), closes_at),
            conversions=_conversions(shape, stage, stays_by_stage.get(stage, [])),
            stale_rules=_stale_thresholds(shape, stage, standing.get(stage, ()), now),
        )
        for stage in (*shape.stages, *only_in_log)
    ]
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
            enrolled=sum(1 for p in points if p.from_stage is None),
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
