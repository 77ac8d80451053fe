"""Stage timeouts whose action sends email (the EventBridge rule in template.yaml selects
them) -> one email to the patient through SES."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source

from journeys_core.models.stale_monitor import StageTimeoutDetail
from journeys_core.services.notifications import notify_stage_timeout

logger = Logger()
metrics = Metrics()


@logger.inject_lambda_context
@metrics.log_metrics
@event_source(data_class=EventBridgeEvent)
def handler(event: EventBridgeEvent, context: Any) -> dict[str, Any]:
    timeout = StageTimeoutDetail.model_validate(event.detail)
    notification = notify_stage_timeout(timeout)
    logger.info(
        "stage timeout notified",
        extra={"event_id": timeout.event_id, "outcome": notification.outcome},
    )
    metrics.add_metric(
        name=f"TimeoutEmail{notification.outcome.capitalize()}", unit=MetricUnit.Count, value=1
    )
    return {"event_id": timeout.event_id, **notification.as_result()}
