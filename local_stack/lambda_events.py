"""The events Lambda hands a function for each kind of event source, built from what the
embedded AWS returns, and the schedule expressions of EventBridge and EventBridge Scheduler.

Pure functions, no AWS calls: ``local_stack.event_sources`` polls and invokes with them. The
shapes follow what Lambda sends (key names, string conventions, what is left out), not what
the polling APIs return: boto3 gives datetimes and bytes where Lambda's JSON has epoch seconds
and base64, and moto says ``eventVersion`` 1.0 where Lambda's stream records say 1.1.
"""

from __future__ import annotations

import base64
import calendar
import json
import re
import traceback
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# ---------------------------------------------------------------------------
# DynamoDB Streams
# ---------------------------------------------------------------------------

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


def _epoch_seconds(value: Any) -> Any:
    """Stream records carry their creation time in whole epoch seconds (a JSON number)."""
    if isinstance(value, datetime):
        return float(int(value.timestamp()))
    return value


def dynamodb_stream_record(
    record: Mapping[str, Any], stream_arn: str, region: str
) -> dict[str, Any]:
    """One record of a Lambda DynamoDB stream event from one GetRecords record."""
    change = dict(record.get("dynamodb") or {})
    if "ApproximateCreationDateTime" in change:
        change["ApproximateCreationDateTime"] = _epoch_seconds(
            change["ApproximateCreationDateTime"]
        )
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
    identity = record.get("userIdentity")
    if identity:  # only on deletions by Time to Live
        lambda_record["userIdentity"] = {
            "type": identity.get("Type", identity.get("type")),
            "principalId": identity.get("PrincipalId", identity.get("principalId")),
        }
    lambda_record["eventSourceARN"] = stream_arn
    return lambda_record


def sequence_number(lambda_record: Mapping[str, Any]) -> str:
    return str(lambda_record["dynamodb"]["SequenceNumber"])


def _iso_seconds(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _iso_millis(moment: datetime) -> str:
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


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
        "timestamp": _iso_millis(now),
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


# ---------------------------------------------------------------------------
# SQS
# ---------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------
# EventBridge
# ---------------------------------------------------------------------------

EVENT_KEYS = (
    "version",
    "id",
    "detail-type",
    "source",
    "account",
    "time",
    "region",
    "resources",
    "detail",
)


def eventbridge_event(delivered: Mapping[str, Any], account: str, region: str) -> dict[str, Any]:
    """The event as a rule hands it to a Lambda target, from the event as the bus delivered
    it to the rule's queue: AWS's keys in AWS's order, nothing else."""
    event = {key: delivered[key] for key in EVENT_KEYS if key in delivered}
    event.setdefault("version", "0")
    event.setdefault("account", account)
    event.setdefault("region", region)
    event.setdefault("resources", [])
    event.setdefault("detail", {})
    return {key: event[key] for key in EVENT_KEYS if key in event}


def input_path(event: Any, path: str) -> Any:
    """The part of ``event`` a target's InputPath selects (``$``, ``$.detail``, ``$.a.b``)."""
    if path in ("", "$"):
        return event
    if not path.startswith("$."):
        raise ValueError(f"InputPath {path!r} is not a simple JSON path")
    value = event
    for part in path[2:].split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def target_input(event: Any, target: Mapping[str, Any]) -> Any:
    """What a target with Input (constant JSON) or InputPath receives instead of the event."""
    if target.get("Input") is not None:
        constant = target["Input"]
        return json.loads(constant) if isinstance(constant, str) else constant
    if target.get("InputPath"):
        return input_path(event, str(target["InputPath"]))
    return event


# ---------------------------------------------------------------------------
# Scheduled events
# ---------------------------------------------------------------------------

SCHEDULER_ATTRIBUTES = (
    "<aws.scheduler.schedule-arn>",
    "<aws.scheduler.scheduled-time>",
    "<aws.scheduler.execution-id>",
    "<aws.scheduler.attempt-number>",
)


def scheduled_event(
    *,
    source: str,
    resource_arn: str,
    when: datetime,
    account: str,
    region: str,
    input_text: str | None = None,
    execution_id: str | None = None,
    attempt: int = 1,
) -> Any:
    """The event a schedule invokes its function with.

    ``source`` is ``aws.events`` (an EventBridge scheduled rule, SAM ``Schedule``) or
    ``aws.scheduler`` (EventBridge Scheduler, SAM ``ScheduleV2``). With an Input, that is the
    event: Scheduler first replaces its context attributes in it; a rule passes it as is.
    """
    execution_id = execution_id or uuid.uuid4().hex[:16]
    scheduled_time = _iso_seconds(when)
    if input_text is not None:
        if source == "aws.scheduler":
            values = (resource_arn, scheduled_time, execution_id, str(attempt))
            for attribute, value in zip(SCHEDULER_ATTRIBUTES, values, strict=True):
                input_text = input_text.replace(attribute, value)
        try:
            return json.loads(input_text)
        except ValueError:
            return input_text  # a plain-text Input reaches the function as a JSON string
    return {
        "version": "0",
        "id": str(uuid.uuid4()) if source == "aws.events" else execution_id,
        "detail-type": "Scheduled Event",
        "source": source,
        "account": account,
        "time": scheduled_time,
        "region": region,
        "resources": [resource_arn],
        "detail": {},
    }


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
    error: BaseException | None = None,
    result: Any = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The invocation record Lambda sends an asynchronous invocation's destination: on
    failure (``error``, retries exhausted) or on success (``result``)."""
    now = now or datetime.now(UTC)
    response_context: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
    if error is not None:
        response_context["functionError"] = "Unhandled"
    condition = "RetriesExhausted" if error is not None else "Success"
    return {
        "version": "1.0",
        "timestamp": _iso_millis(now),
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": f"{function_arn}:$LATEST",
            "condition": condition,
            "approximateInvokeCount": invoke_count,
        },
        "requestPayload": event,
        "responseContext": response_context,
        "responsePayload": error_payload(error) if error is not None else result,
    }


# ---------------------------------------------------------------------------
# Schedule expressions: rate(...), cron(...), at(...)
# ---------------------------------------------------------------------------

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$", re.I)
_CRON = re.compile(r"^cron\((.*)\)$", re.I)
_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$", re.I)
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_LATEST_YEAR = 2199


def _cron_values(text: str, low: int, high: int, names: Sequence[str] = ()) -> frozenset[int]:
    """The values a cron field allows (``*``, ``a-b``, ``a,b``, ``a/n``, ``a-b/n``, names)."""
    without_names = re.sub("|".join(names), "", text.upper()) if names else text.upper()
    if re.search(r"[LW#?]", without_names):
        raise ValueError(f"cron field {text!r}: L, W, # and '?' there are not run locally")

    def number(token: str) -> int:
        token = token.upper()
        if token in names:
            return names.index(token) + low
        value = int(token)
        if not low <= value <= high:
            raise ValueError(f"cron value {value} is outside {low}-{high}")
        return value

    allowed: set[int] = set()
    for part in text.split(","):
        span, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ValueError(f"cron step {step_text!r}")
        if span == "*":
            first, last = low, high
        elif "-" in span:
            start, _, end = span.partition("-")
            first, last = number(start), number(end)
        else:
            first = number(span)
            last = high if step_text else first
        allowed.update(range(first, last + 1, step))
    return frozenset(allowed)


def _cron_day_values(
    text: str, low: int, high: int, names: Sequence[str] = ()
) -> frozenset[int] | None:
    """A day field's values; None for ``?`` (any: the other day field decides)."""
    return None if text == "?" else _cron_values(text, low, high, names)


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int] | None
    months: frozenset[int]
    weekdays: frozenset[int] | None  # 1 = Sunday ... 7 = Saturday, as in AWS cron
    years: frozenset[int]

    @classmethod
    def parse(cls, fields_text: str) -> Cron:
        fields = fields_text.split()
        if len(fields) != 6:
            raise ValueError(f"cron({fields_text}) needs 6 fields, has {len(fields)}")
        days = _cron_day_values(fields[2], 1, 31)
        weekdays = _cron_day_values(fields[4], 1, 7, _WEEKDAYS)
        if (days is None) == (weekdays is None):
            raise ValueError("cron: exactly one of day-of-month and day-of-week must be '?'")
        return cls(
            minutes=_cron_values(fields[0], 0, 59),
            hours=_cron_values(fields[1], 0, 23),
            days=days,
            months=_cron_values(fields[3], 1, 12, _MONTHS),
            weekdays=weekdays,
            years=_cron_values(fields[5], 1970, _LATEST_YEAR),
        )

    def _day_matches(self, moment: datetime) -> bool:
        if self.days is not None:
            return moment.day in self.days
        aws_weekday = (moment.weekday() + 1) % 7 + 1  # Python: Monday 0; AWS: Sunday 1
        return self.weekdays is not None and aws_weekday in self.weekdays

    def next_after(self, moment: datetime) -> datetime | None:
        """The first matching minute strictly after ``moment`` (naive wall time)."""
        candidate = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
        while candidate.year <= _LATEST_YEAR:
            if candidate.year not in self.years:
                candidate = datetime(candidate.year + 1, 1, 1)
            elif candidate.month not in self.months:
                days_left = calendar.monthrange(candidate.year, candidate.month)[1]
                candidate = candidate.replace(day=1, hour=0, minute=0) + timedelta(days=days_left)
            elif not self._day_matches(candidate):
                candidate = candidate.replace(hour=0, minute=0) + timedelta(days=1)
            elif candidate.hour not in self.hours:
                candidate = candidate.replace(minute=0) + timedelta(hours=1)
            elif candidate.minute not in self.minutes:
                candidate += timedelta(minutes=1)
            else:
                return candidate
        return None


@dataclass(frozen=True)
class ScheduleExpression:
    """A parsed ``rate(...)``, ``cron(...)`` or ``at(...)`` in a time zone."""

    text: str
    zone: tzinfo
    period: timedelta | None = None
    cron: Cron | None = None
    at: datetime | None = None

    @classmethod
    def parse(cls, text: str, timezone: str | None = None) -> ScheduleExpression:
        text = text.strip()
        try:
            zone: tzinfo = ZoneInfo(timezone) if timezone else UTC
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown ScheduleExpressionTimezone {timezone!r}") from error
        if match := _RATE.match(text):
            value, unit = int(match.group(1)), match.group(2).lower().rstrip("s")
            if value < 1:
                raise ValueError(f"{text}: the rate must be positive")
            return cls(text, zone, period=timedelta(seconds=value * _UNIT_SECONDS[unit]))
        if match := _CRON.match(text):
            return cls(text, zone, cron=Cron.parse(match.group(1)))
        if match := _AT.match(text):
            at = datetime.fromisoformat(match.group(1)).replace(tzinfo=zone)
            return cls(text, zone, at=at.astimezone(UTC))
        raise ValueError(f"unsupported schedule expression {text!r}")

    def next_after(self, moment: datetime, started: datetime) -> datetime | None:
        """The next run strictly after ``moment`` (UTC); rates count from ``started``."""
        if self.period is not None:
            elapsed = moment - started
            periods = int(elapsed / self.period) + 1 if elapsed >= timedelta(0) else 1
            return started + periods * self.period
        if self.cron is not None:
            local = moment.astimezone(self.zone).replace(tzinfo=None)
            following = self.cron.next_after(local)
            return (
                None if following is None else following.replace(tzinfo=self.zone).astimezone(UTC)
            )
        if self.at is not None and self.at > moment:
            return self.at
        return None
