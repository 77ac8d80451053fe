"""Journey analytics: a journey's funnel, time in stage and stagnation, per organization.

Read-only. One request reads the definition (one GetItem) and the journey's rollups, which
the log's stream consumer keeps (journeys_core.services.journey_rollups): about stages × days
items however many moves the period holds; see journeys_core.data.journey_analytics.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from journeys_core.clock import utc_now
from journeys_core.data import repositories
from journeys_core.data.journey_analytics import ReadTally
from journeys_core.domain.analytics import (
    JourneyRollups,
    JourneyShape,
    analyse_rollups,
    period_days,
)
from journeys_core.errors import InvalidInput, NotFound
from journeys_core.models.analytics import JourneyAnalytics, Period, ReadCost
from journeys_core.settings import get_settings

DEFAULT_PERIOD = timedelta(days=30)


def _utc(moment: datetime) -> datetime:
    """A moment without a zone is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def analysis_period(start: datetime | None, end: datetime | None, now: datetime) -> Period:
    """``end`` defaults to now and ``start`` to 30 days before ``end``; InvalidInput (422)
    for a period that runs backwards or is longer than ANALYTICS_MAX_PERIOD_DAYS."""
    end = _utc(end) if end else now
    start = _utc(start) if start else end - DEFAULT_PERIOD
    if start > end:
        raise InvalidInput("from: must not be after to")
    longest = get_settings().analytics_max_period_days
    if end - start > timedelta(days=longest):
        raise InvalidInput(f"from: the period may span at most {longest} days")
    return Period(start=start, end=end)


def journey_analytics(
    org: str,
    journey_key: str,
    start: datetime | None = None,
    end: datetime | None = None,
    now: datetime | None = None,
) -> JourneyAnalytics:
    """Per stage of the journey, in the definition's order: who stands in it now, entries in
    the period, median and p90 time in it, conversion to each next stage, and how many are
    past each stale rule's threshold now; plus totals. 404 for a journey the caller's
    organization does not have, or one without stages."""
    now = now or utc_now()
    period = analysis_period(start, end, now)
    record = repositories.definitions().get_by_name(org, journey_key)
    if record is None:
        raise NotFound(f"journey {journey_key!r} not found")
    shape = JourneyShape.from_spec(record.journey_spec)
    if shape is None:
        raise NotFound(f"journey {journey_key!r} has no stages to analyse")
    rollups = repositories.journey_rollups()
    day_reads, live_reads = ReadTally(), ReadTally()
    stages = sorted({*shape.stages, *rollups.stages_seen(org, journey_key, live_reads)})
    # The period's days; for a stage with stale rules also the days since the earliest
    # cutoff, up to today (who entered since then is not past it).
    days_read = period_days(period)
    cutoffs: dict[str, datetime] = {}
    for rule in shape.stale_rules:
        cutoff = now - timedelta(hours=rule.max_hours)
        cutoffs[rule.stage] = min(cutoffs.get(rule.stage, cutoff), cutoff)
    days = {}
    for stage in stages:
        span = [days_read] if days_read else []
        if stage in cutoffs:
            span.append((cutoffs[stage].date(), now.date()))
        days[stage] = (
            rollups.stage_days(
                org,
                journey_key,
                stage,
                min(first for first, _ in span),
                max(last for _, last in span),
                day_reads,
            )
            if span
            else []
        )
    live = rollups.live_counts(org, journey_key, stages, live_reads)
    reads = ReadCost(
        log_items=day_reads.items,
        enrollment_items=live_reads.items,
        queries=day_reads.queries + live_reads.queries,
    )
    return analyse_rollups(
        journey_key,
        record.version,
        shape,
        JourneyRollups(days=days, live=live, stages_seen=frozenset(stages)),
        period,
        now,
        reads,
    )
