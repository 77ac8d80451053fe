"""The events the local stack hands functions have Lambda's shapes; event sources are read
from the template; rate schedules fire when AWS would fire them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local_stack.event_sources import (
    AsyncInvokeConfig,
    EventSourcePlan,
    discover,
    next_run,
    parse_rate,
)
from local_stack.lambda_events import (
    InvalidBatchResponse,
    async_invocation_record,
    batch_item_failures,
    dynamodb_stream_record,
    scheduled_event,
    sqs_record,
    stream_failure_record,
)
from local_stack.pollers import EventSources, UnknownSchedule, schedules_enabled
from local_stack.template import create_resources, functions, load_template, parse_template

STREAM_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2026-01-01T00:00:00.000"
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:q"


# ---------------------------------------------------------------------------
# DynamoDB stream records
# ---------------------------------------------------------------------------


def _get_records_record(**change: Any) -> dict[str, Any]:
    """A record as boto3's GetRecords returns it from moto (datetime, bytes, version 1.0)."""
    return {
        "eventID": "e1",
        "eventName": "INSERT",
        "eventVersion": "1.0",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "StreamViewType": "NEW_IMAGE",
            "ApproximateCreationDateTime": datetime(2026, 11, 21, 10, 0, 0, 750000, tzinfo=UTC),
            "SequenceNumber": "1100000000017454423009",
            "SizeBytes": 42,
            "Keys": {"pk": {"S": "a"}},
            "NewImage": {"pk": {"S": "a"}, "blob": {"B": b"\x00\xff"}, "set": {"BS": [b"x"]}},
            **change,
        },
    }


def test_a_stream_record_has_lambdas_shape() -> None:
    record = dynamodb_stream_record(_get_records_record(), STREAM_ARN, "us-east-1")

    assert list(record) == [
        "eventID",
        "eventName",
        "eventVersion",
        "eventSource",
        "awsRegion",
        "dynamodb",
        "eventSourceARN",
    ]
    assert record["eventVersion"] == "1.1"
    assert record["eventSourceARN"] == STREAM_ARN
    change = record["dynamodb"]
    assert list(change) == [
        "ApproximateCreationDateTime",
        "Keys",
        "NewImage",
        "SequenceNumber",
        "SizeBytes",
        "StreamViewType",
    ]
    assert change["ApproximateCreationDateTime"] == 1795255200.0  # whole seconds
    assert change["NewImage"]["blob"] == {"B": "AP8="}
    assert change["NewImage"]["set"] == {"BS": ["eA=="]}
    json.dumps(record)  # JSON all the way down


def test_the_stream_on_failure_record_locates_the_batch() -> None:
    records = [
        dynamodb_stream_record(_get_records_record(SequenceNumber=str(n)), STREAM_ARN, "us-east-1")
        for n in (7, 8)
    ]

    failure = stream_failure_record(
        records,
        function_arn="arn:aws:lambda:us-east-1:123456789012:function:f",
        shard_id="shardId-1",
        stream_arn=STREAM_ARN,
        invoke_count=11,
        function_error="Unhandled",
        now=datetime(2026, 11, 21, 10, 1, 2, 345000, tzinfo=UTC),
    )

    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 11
    assert failure["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert failure["timestamp"] == "2026-11-21T10:01:02.345Z"
    assert failure["DDBStreamBatchInfo"] == {
        "shardId": "shardId-1",
        "startSequenceNumber": "7",
        "endSequenceNumber": "8",
        "approximateArrivalOfFirstRecord": "2026-11-21T10:00:00Z",
        "approximateArrivalOfLastRecord": "2026-11-21T10:00:00Z",
        "batchSize": 2,
        "streamArn": STREAM_ARN,
    }


# ---------------------------------------------------------------------------
# SQS records and partial batch responses
# ---------------------------------------------------------------------------


def test_an_sqs_record_has_lambdas_shape() -> None:
    message = {
        "MessageId": "m1",
        "ReceiptHandle": "rh",
        "MD5OfBody": "md5",
        "Body": '{"a": 1}',
        "Attributes": {"ApproximateReceiveCount": "2", "SentTimestamp": "1795255200000"},
        "MD5OfMessageAttributes": "md5attrs",
        "MessageAttributes": {
            "text": {"StringValue": "v", "DataType": "String"},
            "raw": {"BinaryValue": b"\x01\x02", "DataType": "Binary"},
        },
    }

    record = sqs_record(message, QUEUE_ARN, "us-east-1")

    assert record == {
        "messageId": "m1",
        "receiptHandle": "rh",
        "body": '{"a": 1}',
        "attributes": {"ApproximateReceiveCount": "2", "SentTimestamp": "1795255200000"},
        "messageAttributes": {
            "text": {
                "stringValue": "v",
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": "String",
            },
            "raw": {
                "binaryValue": "AQI=",
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": "Binary",
            },
        },
        "md5OfBody": "md5",
        "md5OfMessageAttributes": "md5attrs",
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
        "awsRegion": "us-east-1",
    }


def test_without_message_attributes_there_is_no_md5_of_them() -> None:
    message = {"MessageId": "m", "ReceiptHandle": "r", "MD5OfBody": "x", "Body": "b"}

    record = sqs_record(message, QUEUE_ARN, "us-east-1")

    assert record["messageAttributes"] == {}
    assert "md5OfMessageAttributes" not in record


@pytest.mark.parametrize("response", [None, {}, {"batchItemFailures": []}, {"statusCode": 200}, ""])
def test_batch_responses_meaning_success(response: Any) -> None:
    assert batch_item_failures(response, ["a", "b"]) == []


def test_batch_item_failures_come_back_in_batch_order() -> None:
    response = {"batchItemFailures": [{"itemIdentifier": "c"}, {"itemIdentifier": "a"}]}

    assert batch_item_failures(response, ["a", "b", "c"]) == ["a", "c"]


@pytest.mark.parametrize(
    "response",
    [
        {"batchItemFailures": [{"itemIdentifier": "zzz"}]},
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{}]},
        {"batchItemFailures": "a"},
        ["a"],
    ],
)
def test_invalid_batch_responses_fail_the_whole_batch(response: Any) -> None:
    with pytest.raises(InvalidBatchResponse):
        batch_item_failures(response, ["a", "b"])


# ---------------------------------------------------------------------------
# EventBridge
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# Scheduled events and asynchronous invocation records
# ---------------------------------------------------------------------------

WHEN = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


def test_scheduler_replaces_its_context_attributes_in_the_input() -> None:
    arn = "arn:aws:scheduler:us-east-1:123456789012:schedule/default/s"
    template_input = (
        '{"id":"<aws.scheduler.execution-id>","time":"<aws.scheduler.scheduled-time>",'
        '"resources":["<aws.scheduler.schedule-arn>"],'
        '"detail":{"attempt":"<aws.scheduler.attempt-number>"}}'
    )

    event = scheduled_event(template_input, resource_arn=arn, when=WHEN, execution_id="exec-1")

    assert event == {
        "id": "exec-1",
        "time": "2026-11-21T10:00:00Z",
        "resources": [arn],
        "detail": {"attempt": "1"},
    }


def test_the_async_on_failure_record() -> None:
    try:
        raise ValueError("boom")
    except ValueError as error:
        failed = async_invocation_record(
            {"e": 1}, function_arn="arn:fn", invoke_count=3, error=error, now=WHEN
        )

    assert failed["requestContext"]["condition"] == "RetriesExhausted"
    assert failed["requestContext"]["functionArn"] == "arn:fn:$LATEST"
    assert failed["requestPayload"] == {"e": 1}
    assert failed["responseContext"]["functionError"] == "Unhandled"
    assert failed["responsePayload"]["errorMessage"] == "boom"
    assert failed["timestamp"] == "2026-11-21T10:00:00.000Z"


# ---------------------------------------------------------------------------
# Rate schedules
# ---------------------------------------------------------------------------


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_a_rate_counts_from_the_start() -> None:
    hourly = parse_rate("rate(1 hour)")
    started = _utc(2026, 1, 1, 10, 0)

    assert next_run(hourly, started, started) == _utc(2026, 1, 1, 11, 0)
    assert next_run(hourly, _utc(2026, 1, 1, 12, 30), started) == _utc(2026, 1, 1, 13, 0)
    assert parse_rate("rate(5 minutes)") == timedelta(minutes=5)
    assert next_run(parse_rate("rate(2 days)"), started, started) == _utc(2026, 1, 3, 10, 0)


@pytest.mark.parametrize(
    "expression",
    [
        "rate(0 minutes)",
        "rate(1 week)",
        "cron(0 10 * * ? *)",  # the template's schedules are rates: cron is not run locally
        "at(2026-11-21T10:00:00)",
        "every hour",
    ],
)
def test_expressions_that_do_not_run_locally(expression: str) -> None:
    with pytest.raises(ValueError):
        parse_rate(expression)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, True), ("on", True), ("off", False), ("OFF", False), ("0", False)],
)
def test_local_schedules_switch(value: str | None, expected: bool) -> None:
    environ = {} if value is None else {"LOCAL_SCHEDULES": value}

    assert schedules_enabled(environ) is expected


# ---------------------------------------------------------------------------
# Event sources read from a template
# ---------------------------------------------------------------------------

TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage: {Type: String, Default: dev}
Globals:
  Function:
    Timeout: 10
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
      BillingMode: PAY_PER_REQUEST
      StreamSpecification: {StreamViewType: NEW_AND_OLD_IMAGES}
  Bus:
    Type: AWS::Events::EventBus
    Properties: {Name: !Sub "bus-${Stage}"}
  Queue:
    Type: AWS::SQS::Queue
  DeadLetters:
    Type: AWS::SQS::Queue
  Listener:
    Type: AWS::Events::Rule
    Properties:
      EventBusName: !Ref Bus
      EventPattern: {detail-type: [A]}
      Targets:
        - {Id: ToQueue, Arn: !GetAtt Queue.Arn}
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: !Sub "worker-${Stage}"
      CodeUri: functions/worker/
      Handler: app.handler
      EventInvokeConfig:
        MaximumRetryAttempts: 1
        DestinationConfig:
          OnFailure: {Type: SQS, Destination: !GetAtt DeadLetters.Arn}
      Events:
        Changes:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt Table.StreamArn
            StartingPosition: TRIM_HORIZON
            BatchSize: 5
            MaximumRetryAttempts: -1
            BisectBatchOnFunctionError: true
            FunctionResponseTypes: [ReportBatchItemFailures]
            DestinationConfig:
              OnFailure: {Destination: !GetAtt DeadLetters.Arn}
        Jobs:
          Type: SQS
          Properties: {Queue: !GetAtt Queue.Arn, BatchSize: 3}
        OnB:
          Type: EventBridgeRule
          Properties:
            EventBusName: !Ref Bus
            Pattern: {detail-type: [B]}
        Hourly:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: rate(1 hour)
            Input: '{"t": "<aws.scheduler.scheduled-time>"}'
        Daily:
          Type: ScheduleV2
          Properties: {ScheduleExpression: rate(1 day), Input: "{}"}
        Uploads:
          Type: S3
          Properties: {Bucket: b, Events: s3:ObjectCreated:*}
        Get:
          Type: HttpApi
          Properties: {Path: /x, Method: GET}
"""


@pytest.fixture
def template_and_resources() -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    template = parse_template(TEMPLATE)
    with mock_aws():
        yield template, create_resources(boto3.session.Session(), "local", template)


def test_discovery_reads_every_kind_of_source(
    template_and_resources: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    template, resources = template_and_resources

    plan = discover(template, resources, prefix="local")

    [stream] = plan.streams
    assert stream.id == "Worker.Changes"
    assert stream.stream_arn == resources["Table"]["attributes"]["StreamArn"]
    assert (stream.batch_size, stream.starting_position) == (5, "TRIM_HORIZON")
    assert stream.maximum_retry_attempts == 10  # -1 (until the record expires) is bounded
    assert stream.bisect_on_error and stream.report_batch_item_failures
    assert stream.on_failure == resources["DeadLetters"]["arn"]
    [queue] = plan.queues
    assert (queue.queue_arn, queue.batch_size) == (resources["Queue"]["arn"], 3)
    assert not queue.report_batch_item_failures
    [rule] = plan.rules
    assert rule.id == "Worker.OnB"
    assert rule.bus_name == resources["Bus"]["name"]
    assert rule.source.endswith(f":rule/{resources['Bus']['name']}/local-WorkerOnB")
    assert json.loads(rule.pattern) == {"detail-type": ["B"]}
    schedules = {schedule.id: schedule for schedule in plan.schedules}
    assert set(schedules) == {"Worker.Hourly", "Worker.Daily"}
    assert schedules["Worker.Hourly"].rate == timedelta(hours=1)
    assert schedules["Worker.Hourly"].arn.startswith("arn:aws:scheduler:")
    assert plan.async_configs["Worker"] == AsyncInvokeConfig(
        maximum_retry_attempts=1, on_failure=resources["DeadLetters"]["arn"]
    )
    assert any("Worker.Uploads" in warning and "S3" in warning for warning in plan.warnings)
    assert not any("Worker.Get" in warning for warning in plan.warnings)


def test_schedules_are_found_by_any_of_their_names(
    template_and_resources: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    template, resources = template_and_resources
    sources = EventSources(discover(template, resources, "local"), "http://127.0.0.1:9")

    assert sources.find_schedule("Worker.Hourly").id == "Worker.Hourly"
    assert sources.find_schedule("Hourly").id == "Worker.Hourly"
    with pytest.raises(UnknownSchedule, match="several"):
        sources.find_schedule("Worker")  # it has two
    with pytest.raises(UnknownSchedule, match="no schedule"):
        sources.find_schedule("Weekly")


def test_every_event_of_template_yaml_is_delivered_or_named() -> None:
    template = load_template()
    with mock_aws():
        resources = create_resources(boto3.session.Session(), "unit", template)
        plan = discover(template, resources, prefix="unit")

    delivered = {source.id for source in plan.sources}
    for info in functions(template).values():
        for name, event in info.events.items():
            if event.get("Type") in ("HttpApi", "Api"):
                continue
            source_id = f"{info.logical_id}.{name}"
            assert source_id in delivered or any(
                warning.startswith(source_id) for warning in plan.warnings
            ), source_id
    assert plan.streams, "the journey log's stream feeds the stage-change publisher"
    assert all(stream.stream_arn.startswith("arn:aws:dynamodb:") for stream in plan.streams)


def test_an_empty_plan_runs_and_stops() -> None:
    sources = EventSources(EventSourcePlan(), "http://127.0.0.1:9")
    sources.start()
    sources.stop(1)

    assert sources.status() == {"schedules": "on", "sources": {}}
