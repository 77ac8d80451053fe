"""The stale-journey monitor's planner, run hourly by EventBridge Scheduler (``rate(1 hour)``):
it lists the watched (organization, journey, stage) units and puts one message per unit on
the work queue, where the stale worker function reads each on its own.

"Now" is the scheduled event's ``time`` (the schedule's Input carries
``<aws.scheduler.scheduled-time>``), so a retried invocation plans the same moment and
``make invoke FUNCTION=stale_monitor EVENT=events/stale_monitor/…json`` replays any moment.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from journeys_core.domain.stale_monitor import scheduled_time
from journeys_core.observability import logger, metrics, record_failure, traced
from journeys_core.services.stale_fanout import plan_scheduled_check


@traced
@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        now = scheduled_time(event)
        result = plan_scheduled_check(now)
    except Exception as error:
        # Retried twice, then the run goes to the DLQ; the next hour's run plans afresh.
        ids = {"schedule_event_id": event.get("id"), "scheduled_time": event.get("time")}
        record_failure("stale-journey check not planned", "StaleCheckFailed", error, **ids)
        raise
    logger.info("stale journeys planned", extra={"now": now.isoformat(), **result.model_dump()})
    metrics.add_metric(name="StaleUnitsQueued", unit=MetricUnit.Count, value=result.queued)
    # Every watched unit is on the work queue (a unit that then fails is the worker's
    # dead-letter alarm): the template's alarm wants a planned run every two hours.
    metrics.add_metric(name="StaleCheckCompleted", unit=MetricUnit.Count, value=1)
    return result.model_dump(mode="json")
