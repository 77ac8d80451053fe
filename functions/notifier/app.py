"""Stage timeouts whose action sends email (the EventBridge rule in template.yaml selects
them) -> one email to the patient through SES."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source

from journeys_core.models.stale_monitor import StageTimeoutDetail
from journeys_core.observability import logger, metrics, record_failure, traced
from journeys_core.services.notifications import notify_stage_timeout

TIMEOUT_IDS = ("event_id", "organization_id", "patient_id", "journey_key", "stage")


@traced
@logger.inject_lambda_context
@metrics.log_metrics
@event_source(data_class=EventBridgeEvent)
def handler(event: EventBridgeEvent, context: Any) -> dict[str, Any]:
    ids: dict[str, Any] = {
        "bus_event_id": event.get_id,
        **{key: event.detail.get(key) for key in TIMEOUT_IDS},
    }
    try:
        timeout = StageTimeoutDetail.model_validate(event.detail)
        notification = notify_stage_timeout(timeout)
    except Exception as error:
        # EventBridge retries the invocation twice, then the timeout goes to the DLQ.
        record_failure("stage timeout not notified", "TimeoutEmailError", error, **ids)
        raise
    metric = f"TimeoutEmail{notification.outcome.capitalize()}"
    if notification.outcome == "failed":  # SES refused it: recorded, not retried
        record_failure("timeout email not sent", metric, reason=notification.detail, **ids)
    else:
        logger.info("stage timeout notified", extra={**ids, "outcome": notification.outcome})
        metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)
    return {"event_id": timeout.event_id, **notification.as_result()}
