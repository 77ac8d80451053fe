"""The stale-journey monitor's worker: one unit (organization, journey, stage[, shard]) per
SQS message, from the planner or a continuation. A unit that gets short of Lambda time saves
its position and queues its continuation; a unit that fails is reported alone (batch item
failures), retried by SQS, then dead-lettered, with a log line and a metric, and never holds
back any other unit."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from journeys_core.domain.stale_monitor import UnitMessage
from journeys_core.observability import logger, metrics, record_failure
from journeys_core.queue_batches import queue_function_handler
from journeys_core.services.stale_fanout import run_unit


def check_unit(record: SQSRecord, context: Any) -> None:
    ids: dict[str, Any] = {"message_id": record.message_id}
    try:
        message = UnitMessage.from_json(json.loads(record.body))
        ids |= {"unit": message.watch.unit_id, "run_at": message.now.isoformat()}
        result = run_unit(message, context.get_remaining_time_in_millis)
    except Exception as error:
        record_failure("stale unit not checked", "StaleUnitFailed", error, **ids)
        raise
    logger.info("stale unit checked", extra={"unit": message.watch.unit_id, **result.model_dump()})
    metrics.add_metric(name="StuckEnrollments", unit=MetricUnit.Count, value=result.processed)
    metrics.add_metric(name="StageTimeoutsEmitted", unit=MetricUnit.Count, value=result.emitted)
    if not result.complete:
        metrics.add_metric(name="StaleUnitContinued", unit=MetricUnit.Count, value=1)


handler = queue_function_handler(check_unit)
