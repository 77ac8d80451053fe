"""Journey migrations: works on the jobs the journeys API queues (one message per job and
run). A run that gets short of Lambda time saves where it stands and queues the job again;
a message that fails is retried by SQS, then dead-lettered, with a log line and a metric."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from journeys_core.observability import logger, metrics, record_failure
from journeys_core.queue_batches import queue_function_handler
from journeys_core.services import migrations


def process_message(record: SQSRecord, context: Any) -> None:
    ids: dict[str, Any] = {"message_id": record.message_id}
    try:
        message = json.loads(record.body)
        org, migration_id = message["organization_id"], message["migration_id"]
        ids |= {"organization_id": org, "migration_id": migration_id}
        status = migrations.run_migration(org, migration_id, context.get_remaining_time_in_millis)
    except Exception as error:
        record_failure("migration run failed", "MigrationRunFailed", error, **ids)
        raise
    logger.info("migration run", extra=status.model_dump(mode="json"))
    metrics.add_metric(name="EnrollmentsMigrated", unit=MetricUnit.Count, value=status.moved)


handler = queue_function_handler(process_message)
