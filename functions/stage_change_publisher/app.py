"""Journey log stream -> JOURNEY_STAGE_CHANGED on the service's EventBridge bus.

Each committed log entry (an INSERT on the log table's stream) becomes one event. A record
that fails is reported as a batch item failure (its batch-mates still go out); Lambda
retries it and finally sends it to the dead-letter queue.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)

from journeys_core.observability import logger, metrics, record_failure, traced
from journeys_core.services.stage_changes import announce_stage_change

NOT_PUBLISHED = "StageChangeNotPublished"
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
# The template's JourneyLogTamperingAlarm watches this metric.
LOG_TAMPERING_METRIC = "JourneyLogEntryChanged"


def count_changed_entries(event: dict[str, Any]) -> None:
    """Entries are only ever inserted: a MODIFY or REMOVE is someone rewriting or deleting
    the log (IAM cannot stop a transactional Put from replacing an entry). Each is logged and
    counted, and the template's alarm on the metric pages someone; none is announced."""
    for record in DynamoDBStreamEvent(event).records:
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


# What finds the entry in the journey log (and the patient it moved).
ENTRY_IDS = {
    "log_entry_id": "id",
    "organization_id": "organization_id",
    "patient_id": "patient_id",
    "journey_key": "journey_key",
}


def publish_stage_change(record: DynamoDBRecord) -> None:
    if record.event_name != DynamoDBRecordEventName.INSERT:
        return  # log entries are only ever inserted; nothing else is a stage change
    ids: dict[str, Any] = {"stream_event_id": record.event_id}
    try:
        if record.dynamodb is None:
            raise ValueError(f"stream record {record.event_id} carries no item")
        ids["sequence_number"] = record.dynamodb.sequence_number
        image = record.dynamodb.new_image
        ids |= {name: image.get(key) for name, key in ENTRY_IDS.items()}
        event_id = announce_stage_change(image)
    except Exception as error:
        # Reported as this record's failure: Lambda retries it, then sends it to the DLQ.
        record_failure("stage change not published", NOT_PUBLISHED, error, **ids)
        raise
    logger.info("stage change published", extra={"event_id": event_id})
    metrics.add_metric(name="StageChangePublished", unit=MetricUnit.Count, value=1)


@traced
@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    count_changed_entries(event)
    return process_partial_response(
        event=event,
        record_handler=publish_stage_change,
        processor=processor,
        context=context,
    )
