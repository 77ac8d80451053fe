"""Journey migrations: works on the jobs the journeys API queues (one message per job and
run). A run that gets short of Lambda time saves where it stands and queues the job again;
a message that fails is retried by SQS, then dead-lettered, with a log line and a metric."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from journeys_core.observability import logger, metrics, record_failure, traced
from journeys_core.services import migrations

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
_context: dict[str, LambdaContext] = {}


def process_message(record: SQSRecord) -> None:
    ids: dict[str, Any] = {"message_id": record.message_id}
    try:
        message = json.loads(record.body)
        org, migration_id = message["organization_id"], message["migration_id"]
        ids |= {"organization_id": org, "migration_id": migration_id}
        status = migrations.run_migration(
            org, migration_id, _context["current"].get_remaining_time_in_millis
        )
    except Exception as error:
        record_failure("migration run failed", "MigrationRunFailed", error, **ids)
        raise
    logger.info("migration run", extra=status.model_dump(mode="json"))
    metrics.add_metric(name="EnrollmentsMigrated", unit=MetricUnit.Count, value=status.moved)


@traced
@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    _context["current"] = context
    return process_partial_response(
        event=event, record_handler=process_message, processor=processor, context=context
    )
