"""The stale-journey monitor, run hourly by EventBridge Scheduler (``rate(1 hour)``).

"Now" is the scheduled event's ``time`` (the schedule's Input carries
``<aws.scheduler.scheduled-time>``), so a retried invocation examines the same moment and
``make invoke FUNCTION=stale_monitor EVENT=events/stale_monitor/…json`` replays any moment.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from journeys_core.domain.stale_monitor import scheduled_time
from journeys_core.services.stale_monitor import run_scheduled_check

logger = Logger()
metrics = Metrics()


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    now = scheduled_time(event)
    result = run_scheduled_check(now, time_left_ms=context.get_remaining_time_in_millis)
    logger.info("stale journeys checked", extra={"now": now.isoformat(), **result.model_dump()})
    metrics.add_metric(name="StuckEnrollments", unit=MetricUnit.Count, value=result.processed)
    metrics.add_metric(name="StageTimeoutsEmitted", unit=MetricUnit.Count, value=result.emitted)
    if not result.complete:
        metrics.add_metric(name="StaleCheckCutShort", unit=MetricUnit.Count, value=1)
    return result.model_dump(mode="json")
