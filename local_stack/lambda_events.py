"""The events Lambda hands a function for each kind of event source, built from what the
embedded AWS returns.

Pure functions, no AWS calls: ``local_stack.pollers`` polls and invokes with them. The
shapes follow what Lambda sends (key names, string conventions, what is left out), not what
the polling APIs return: boto3 gives datetimes and bytes where Lambda's JSON has epoch seconds
and base64, and moto says ``eventVersion`` 1.0 where Lambda's stream records say 1.1.
"""

from __future__ import annotations

import base64
import json
import traceback
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

# DynamoDB Streams

# The order Lambda writes a stream record's "dynamodb" keys in.
_STREAM_CHANGE_KEYS = (
    "ApproximateCreationDateTime",
    "Keys",
    "NewImage",
    "OldImage",
    "SequenceNumber",
    "SizeBytes",
    "StreamViewType",
)


def _json_attribute_value(value: Any) -> Any:
    """A DynamoDB attribute value as JSON carries it: binary (B, BS) base64-encoded."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, Mapping):
        return {key: _json_attribute_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_attribute_value(item) for item in value]
    return value


def dynamodb_stream_record(
    record: Mapping[str, Any], stream_arn: str, region: str
) -> dict[str, Any]:
    """One record of a Lambda DynamoDB stream event from one GetRecords record."""
    change = dict(record.get("dynamodb") or {})
    created = change.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):  # Lambda sends whole epoch seconds (a JSON number)
        change["ApproximateCreationDateTime"] = float(int(created.timestamp()))
    for image in ("Keys", "NewImage", "OldImage"):
        if image in change:
            change[image] = _json_attribute_value(change[image])
    ordered = {key: change[key] for key in _STREAM_CHANGE_KEYS if key in change}
    lambda_record: dict[str, Any] = {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": ordered,
    }
    # No userIdentity: only deletions by Time to Live carry one, and moto expires nothing.
    lambda_record["eventSourceARN"] = stream_arn
    return lambda_record


def sequence_number(lambda_record: Mapping[str, Any]) -> str:
    return str(lambda_record["dynamodb"]["SequenceNumber"])


def _iso_seconds(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_millis(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def stream_failure_record(
    records: Sequence[Mapping[str, Any]],
    *,
    function_arn: str,
    shard_id: str,
    stream_arn: str,
    invoke_count: int,
    function_error: str | None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """What Lambda sends a stream source's on-failure destination for a discarded batch: where
    the records are in the stream, not the records themselves."""
    now = now or datetime.now(UTC)

    def arrival(record: Mapping[str, Any]) -> str:
        created = record["dynamodb"].get("ApproximateCreationDateTime")
        moment = datetime.fromtimestamp(float(created), UTC) if created is not None else now
        return _iso_seconds(moment)

    response_context: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
    if function_error:
        response_context["functionError"] = function_error
    return {
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": function_arn,
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": invoke_count,
        },
        "responseContext": response_context,
        "version": "1.0",
        "timestamp": iso_millis(now),
        "DDBStreamBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": sequence_number(records[0]),
            "endSequenceNumber": sequence_number(records[-1]),
            "approximateArrivalOfFirstRecord": arrival(records[0]),
            "approximateArrivalOfLastRecord": arrival(records[-1]),
            "batchSize": len(records),
            "streamArn": stream_arn,
        },
    }


# SQS


def _b64(value: Any) -> str:
    return base64.b64encode(value if isinstance(value, bytes) else str(value).encode()).decode()


def _lambda_message_attribute(attribute: Mapping[str, Any]) -> dict[str, Any]:
    """A message attribute as Lambda spells it (lower camel case, binary as base64, the two
    list fields always present)."""
    converted: dict[str, Any] = {}
    if "StringValue" in attribute:
        converted["stringValue"] = attribute["StringValue"]
    if "BinaryValue" in attribute:
        converted["binaryValue"] = _b64(attribute["BinaryValue"])
    converted["stringListValues"] = list(attribute.get("StringListValues") or [])
    converted["binaryListValues"] = [_b64(item) for item in attribute.get("BinaryListValues") or []]
    converted["dataType"] = attribute["DataType"]
    return converted


def sqs_record(message: Mapping[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One record of a Lambda SQS event from one ReceiveMessage message (received with all
    system attributes and all message attributes)."""
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": {key: str(value) for key, value in (message.get("Attributes") or {}).items()},
        "messageAttributes": {
            name: _lambda_message_attribute(attribute)
            for name, attribute in (message.get("MessageAttributes") or {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    record["eventSource"] = "aws:sqs"
    record["eventSourceARN"] = queue_arn
    record["awsRegion"] = region
    return record


def records_event(records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    return {"Records": list(records)}


class InvalidBatchResponse(ValueError):
    """A partial batch response Lambda would treat as the whole batch failing."""


def batch_item_failures(result: Any, identifiers: Iterable[str]) -> list[str]:
    """The item identifiers a ReportBatchItemFailures response names, in batch order.

    As Lambda: no response, an empty one or an empty list is success; an identifier that is
    missing, empty or not in the batch fails the whole batch (InvalidBatchResponse).
    """
    batch = list(identifiers)
    if result is None or result == {} or result == "":
        return []
    if not isinstance(result, Mapping):
        raise InvalidBatchResponse(f"the response is not an object: {result!r}")
    failures = result.get("batchItemFailures")
    if failures is None:
        return []
    if not isinstance(failures, list):
        raise InvalidBatchResponse("batchItemFailures is not a list")
    named: set[str] = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, Mapping) else None
        if not identifier or str(identifier) not in batch:
            raise InvalidBatchResponse(f"itemIdentifier {identifier!r} is not in the batch")
        named.add(str(identifier))
    return [identifier for identifier in batch if identifier in named]


# Scheduled events

SCHEDULER_ATTRIBUTES = (
    "<aws.scheduler.schedule-arn>",
    "<aws.scheduler.scheduled-time>",
    "<aws.scheduler.execution-id>",
    "<aws.scheduler.attempt-number>",
)


def scheduled_event(
    input_text: str, *, resource_arn: str, when: datetime, execution_id: str | None = None
) -> Any:
    """The event an EventBridge Scheduler schedule (SAM ``ScheduleV2``) invokes its function
    with: its JSON Input, once Scheduler has replaced its context attributes in it."""
    execution_id = execution_id or uuid.uuid4().hex[:16]
    values = (resource_arn, _iso_seconds(when), execution_id, "1")  # the first attempt
    for attribute, value in zip(SCHEDULER_ATTRIBUTES, values, strict=True):
        input_text = input_text.replace(attribute, value)
    return json.loads(input_text)


def parse_time(text: str) -> datetime:
    """An ISO 8601 time with a zone (``Z`` allowed), as UTC."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"time {text!r} has no time zone")
    return moment.astimezone(UTC)


def error_payload(error: BaseException) -> dict[str, Any]:
    """How Lambda reports an unhandled exception (the Invoke response, destinations)."""
    return {
        "errorMessage": str(error),
        "errorType": type(error).__name__,
        "stackTrace": traceback.format_tb(error.__traceback__),
    }


def async_invocation_record(
    event: Any,
    *,
    function_arn: str,
    invoke_count: int,
    error: BaseException,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The invocation record Lambda sends an asynchronous invocation's OnFailure destination
    once its retries are exhausted."""
    return {
        "version": "1.0",
        "timestamp": iso_millis(now or datetime.now(UTC)),
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": f"{function_arn}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": invoke_count,
        },
        "requestPayload": event,
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "responsePayload": error_payload(error),
    }
