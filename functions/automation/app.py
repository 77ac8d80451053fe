"""The automation engine: domain events from the automation queue (fed by the bus rule) move
journeys, each event exactly once.

Powertools batch processing reports the messages that failed (partial batch response): a bad
message never blocks its batch-mates, SQS retries it and, after ``maxReceiveCount``
receives, moves it to the dead-letter queue.
"""

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

from journeys_core.observability import (
    logger,
    metrics,
    record_failure,
    record_refusal,
    traced,
)
from journeys_core.services import automation

# A batch whose every message failed is reported like any other (all of them back to the
# queue), not raised: a lone poison message being retried is not a function error.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
ACTION_REFUSED, ACTION_FAILED = "AutomationActionRefused", "AutomationActionFailed"


def process_message(record: SQSRecord) -> None:
    try:
        outcome = automation.process_bus_message(record.body)
    except Exception as error:
        # Reported as this message's failure: SQS retries it, then dead-letters it.
        ids = {"message_id": record.message_id, **_event_ids(record.body)}
        record_failure("domain event not processed", "DomainEventFailed", error, **ids)
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
    _report_refused_actions(outcome)


def _report_refused_actions(outcome: dict[str, Any]) -> None:
    """One line and one metric per action the rules' run refused or failed (recorded on the
    event's system event too; nothing retries them)."""
    ids = {key: outcome[key] for key in ("event_id", "event_type", "organization_id", "patient_id")}
    for result in outcome["results"]:
        action = {key: result.get(key) for key in ("rule_id", "rule_name", "journey_key")}
        if result.get("outcome") in ("refused", "conflict"):
            reason = str(result.get("detail"))
            record_refusal("automation action refused", ACTION_REFUSED, reason, **ids, **action)
        elif result.get("outcome") == "failed":
            reason = str(result.get("detail"))
            record_failure(
                "automation action failed", ACTION_FAILED, reason=reason, **ids, **action
            )


def _event_ids(body: str) -> dict[str, Any]:
    """The ids of a message that could not be processed, as far as it can be read."""
    try:
        envelope = json.loads(body)
        detail = envelope.get("detail") or {}
        return {
            "bus_event_id": envelope.get("id"),
            "event_type": envelope.get("detail-type"),
            **{key: detail.get(key) for key in ("event_id", "organization_id", "patient_id")},
        }
    except (ValueError, AttributeError):
        return {}


@traced
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
