"""Journey log stream -> JOURNEY_STAGE_CHANGED on the service's EventBridge bus.

Each committed log entry (an INSERT on the log table's stream) becomes one event; a batch of
up to 100 goes out ten to a PutEvents. A record that fails is reported as a batch item
failure (its batch-mates still go out); Lambda retries it and finally sends it to the
dead-letter queue. A batch whose every record failed raises, so Lambda retries it whole.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)

from journeys_core.observability import logger, metrics, record_failure, traced
from journeys_core.services.stage_changes import announce_stage_changes

NOT_PUBLISHED = "StageChangeNotPublished"
# The template's JourneyLogTamperingAlarm watches this metric.
LOG_TAMPERING_METRIC = "JourneyLogEntryChanged"

# What finds the entry in the journey log (and the patient it moved).
ENTRY_IDS = {
    "log_entry_id": "id",
    "organization_id": "organization_id",
    "patient_id": "patient_id",
    "journey_key": "journey_key",
}


class AllRecordsFailed(RuntimeError):
    """Nothing of the batch went out: Lambda retries it whole (then dead-letters it)."""


def count_changed_entries(records: list[DynamoDBRecord]) -> None:
    """Entries are only ever inserted: a MODIFY or REMOVE is someone rewriting or deleting
    the log (IAM cannot stop a transactional Put from replacing an entry). Each is logged and
    counted, and the template's alarm on the metric pages someone; none is announced."""
    for record in records:
        if record.event_name in (DynamoDBRecordEventName.MODIFY, DynamoDBRecordEventName.REMOVE):
            logger.warning(
                "journey log entry changed after it was written",
                extra={
                    "stream_event_id": record.event_id,
                    "stream_event_name": record.event_name.name,
                    "log_keys": record.dynamodb.keys if record.dynamodb else None,
                },
            )
            metrics.add_metric(name=LOG_TAMPERING_METRIC, unit=MetricUnit.Count, value=1)


@traced
@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    records = [DynamoDBRecord(raw) for raw in event.get("Records", [])]
    count_changed_entries(records)
    # Log entries are only ever inserted: nothing else is a stage change.
    inserts = [r for r in records if r.event_name == DynamoDBRecordEventName.INSERT]
    images = [r.dynamodb.new_image if r.dynamodb else {} for r in inserts]
    outcomes = announce_stage_changes(images)
    failed: list[str] = []
    for record, image, outcome in zip(inserts, images, outcomes, strict=True):
        if outcome.event_id:
            logger.info("stage change published", extra={"event_id": outcome.event_id})
            continue
        ids = {name: image.get(key) for name, key in ENTRY_IDS.items()}
        sequence = str(record.dynamodb.sequence_number if record.dynamodb else "")
        record_failure(
            "stage change not published",
            NOT_PUBLISHED,
            reason=outcome.error,
            stream_event_id=record.event_id,
            sequence_number=sequence,
            **ids,
        )
        failed.append(sequence)
    published = len(inserts) - len(failed)
    if published:
        metrics.add_metric(name="StageChangePublished", unit=MetricUnit.Count, value=published)
    if records and len(failed) == len(records):
        raise AllRecordsFailed(f"All records failed processing: {len(failed)} not published")
    return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in failed]}
