"""Journey log stream -> analytics rollups (per stage and day counters, live stage counts).

A batch's inserted entries become one set of counter increments, applied once (see
journeys_core.services.journey_rollups). A batch that fails is retried whole by Lambda
(no bisection: a split batch would not be recognised as already applied), then sent to the
dead-letter queue.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecordEventName,
)

from journeys_core.services.journey_rollups import roll_up_log_entries

logger = Logger()
metrics = Metrics()


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records = [
        (str(record.event_id), record.dynamodb.new_image)
        for record in DynamoDBStreamEvent(event).records
        if record.event_name == DynamoDBRecordEventName.INSERT and record.dynamodb is not None
    ]
    outcome = roll_up_log_entries(records)
    if outcome.unreadable:
        logger.error("log entries left out of rollups", extra={"records": outcome.unreadable})
        metrics.add_metric(
            name="RollupEntriesUnreadable", unit=MetricUnit.Count, value=len(outcome.unreadable)
        )
    metrics.add_metric(name="RollupEntries", unit=MetricUnit.Count, value=outcome.entries)
    logger.info("rollups updated", extra={"entries": outcome.entries, "updates": outcome.updates})
    return {"entries": outcome.entries, "updates": outcome.updates}
