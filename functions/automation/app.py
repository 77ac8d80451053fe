"""The automation engine: domain events from the automation queue (fed by the bus rule) move
journeys, each event exactly once.

Powertools batch processing reports the messages that failed (partial batch response): a bad
message never blocks its batch-mates, SQS retries it and, after ``maxReceiveCount``
receives, moves it to the dead-letter queue.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from journeys_core.services import automation

logger = Logger()
metrics = Metrics()
# A batch whose every message failed is reported like any other (all of them back to the
# queue), not raised: a lone poison message being retried is not a function error.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def process_message(record: SQSRecord) -> None:
    try:
        outcome = automation.process_bus_message(record.body)
    except Exception:
        # Reported as this message's failure: SQS retries it, then dead-letters it.
        logger.exception("message not processed", extra={"message_id": record.message_id})
        raise
    logger.info(
        "domain event processed",
        extra={
            "event_id": outcome["event_id"],
            "event_type": outcome["event_type"],
            "rules_matched": outcome["rules_matched"],
            "outcomes": [result.get("outcome") for result in outcome["results"]],
        },
    )
    metrics.add_metric(name="DomainEventProcessed", unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    automation.register_lambda_context(context)
    return process_partial_response(
        event=event,
        record_handler=process_message,
        processor=processor,
        context=context,
    )
