"""Journey log stream -> JOURNEY_STAGE_CHANGED on the service's EventBridge bus.

Each committed log entry (an INSERT on the log table's stream) becomes one event; a batch of
up to 100 goes out ten to a PutEvents. A record that fails is reported as a batch item
failure (its batch-mates still go out); Lambda retries it and finally sends it to the
dead-letter queue. A batch whose every record failed raises, so Lambda retries it whole.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)

from journeys_core.services.stage_changes import announce_stage_changes

logger = Logger()
metrics = Metrics()


class AllRecordsFailed(RuntimeError):
    """Nothing of the batch went out: Lambda retries it whole (then dead-letters it)."""


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    records = [DynamoDBRecord(raw) for raw in event.get("Records", [])]
    # Log entries are only ever inserted: nothing else is a stage change.
    inserts = [r for r in records if r.event_name == DynamoDBRecordEventName.INSERT]
    outcomes = announce_stage_changes([r.dynamodb.new_image if r.dynamodb else {} for r in inserts])
    failed: list[str] = []
    for record, outcome in zip(inserts, outcomes, strict=True):
        if outcome.event_id:
            logger.info("stage change published", extra={"event_id": outcome.event_id})
            continue
        logger.error(
            "stage change not published",
            extra={"stream_event_id": record.event_id, "reason": outcome.error},
        )
        failed.append(str(record.dynamodb.sequence_number if record.dynamodb else ""))
    published = len(inserts) - len(failed)
    if published:
        metrics.add_metric(name="StageChangePublished", unit=MetricUnit.Count, value=published)
    if records and len(failed) == len(records):
        raise AllRecordsFailed(f"All records failed processing: {len(failed)} not published")
    return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in failed]}
