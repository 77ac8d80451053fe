"""The stale-journey monitor, run hourly by EventBridge Scheduler (``rate(1 hour)``).

"Now" is the scheduled event's ``time`` (the schedule's Input carries
``<aws.scheduler.scheduled-time>``), so a retried invocation examines the same moment and
``make invoke FUNCTION=stale_monitor EVENT=events/stale_monitor/…json`` replays any moment.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from journeys_core.domain.stale_monitor import scheduled_time
from journeys_core.observability import logger, metrics, record_failure, traced
from journeys_core.services.stale_monitor import run_scheduled_check


@traced
@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        now = scheduled_time(event)
        result = run_scheduled_check(now, time_left_ms=context.get_remaining_time_in_millis)
    except Exception as error:
        # Retried twice, then the run goes to the DLQ; the next hour's run starts afresh.
        ids = {"schedule_event_id": event.get("id"), "scheduled_time": event.get("time")}
        record_failure("stale-journey check failed", "StaleCheckFailed", error, **ids)
        raise
    logger.info("stale journeys checked", extra={"now": now.isoformat(), **result.model_dump()})
    metrics.add_metric(name="StuckEnrollments", unit=MetricUnit.Count, value=result.processed)
    metrics.add_metric(name="StageTimeoutsEmitted", unit=MetricUnit.Count, value=result.emitted)
    # Through every watched journey, or stopped for time (the next run resumes): the alarm
    # wants a completed run every two hours.
    completion = "StaleCheckCompleted" if result.complete else "StaleCheckCutShort"
    metrics.add_metric(name=completion, unit=MetricUnit.Count, value=1)
    return result.model_dump(mode="json")
