"""Journey analytics: a journey's funnel, time in stage and stagnation, per organization.

Read-only. One request reads the definition (one GetItem), the journey's log entries in the
period (Queries on ByJourney) and who stands in each stage now (one Query per stage on
ByStage): see journeys_core.data.journey_analytics for its cost.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from journeys_core.clock import utc_now
from journeys_core.data import repositories
from journeys_core.data.journey_analytics import ReadTally
from journeys_core.domain.analytics import JourneyShape, analyse_journey
from journeys_core.errors import InvalidInput, NotFound
from journeys_core.models.analytics import JourneyAnalytics, Period, ReadCost
from journeys_core.models.journey import stage_index_shards
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
    reader = repositories.analytics_reader()
    log_reads, stage_reads = ReadTally(), ReadTally()
    points = reader.log_points(org, journey_key, period.start, period.end, log_reads)
    shards = stage_index_shards(record.journey_spec)
    standing = {
        stage: reader.entered_at_of_stage(org, journey_key, stage, stage_reads, shards=shards)
        for stage in shape.stages
    }
    reads = ReadCost(
        log_items=log_reads.items,
        enrollment_items=stage_reads.items,
        queries=log_reads.queries + stage_reads.queries,
    )
    return analyse_journey(journey_key, record.version, shape, points, standing, period, now, reads)
