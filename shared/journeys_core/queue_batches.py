"""The queue edge shared by the functions an SQS queue feeds: Powertools batch processing with
partial batch responses, so a message that fails is reported alone (SQS retries it, then
dead-letters it) and never holds back its batch-mates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from journeys_core.observability import logger, metrics, traced

RecordHandler = Callable[[SQSRecord, Any], None]
QueueHandler = Callable[[dict[str, Any], Any], PartialItemFailureResponse]


def sqs_batch_handler(process_record: RecordHandler) -> QueueHandler:
    """A handler body that runs ``process_record(record, lambda_context)`` on each message
    and answers the failed ones. A batch whose every message failed is answered like any
    other (all of them back to the queue), not raised: a lone poison message being retried
    is not a function error."""
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

    def handle(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
        return process_partial_response(
            event=event,
            record_handler=lambda record: process_record(record, context),
            processor=processor,
            context=context,
        )

    return handle


def queue_function_handler(process_record: RecordHandler) -> QueueHandler:
    """The Lambda handler of a function a queue feeds: :func:`sqs_batch_handler` of
    ``process_record``, with the service's log context, its metrics flushed at the end and
    the invocation traced when tracing is on."""
    handle = sqs_batch_handler(process_record)

    @traced
    @logger.inject_lambda_context
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
        return handle(event, context)

    return handler
