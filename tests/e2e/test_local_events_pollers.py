"""The event pollers against a real embedded AWS (moto's server in a thread), with a recording
stand-in for the functions: retries, partial batch failures, dead letters and destinations
behave as Lambda's event source mappings and asynchronous invocations do."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from local_stack import pollers
from local_stack.embedded_aws import aws_client, endpoint_url, start_moto
from local_stack.event_sources import (
    AsyncInvokeConfig,
    EventSourcePlan,
    QueueSource,
    RuleTarget,
    ScheduleSource,
    StreamSource,
)
from local_stack.pollers import EventSources
from local_stack.template import FunctionInfo
from tests.e2e.conftest import eventually

DEADLINE_SECONDS = 15


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = start_moto(0)
    try:
        yield endpoint_url(server.get_host_and_port()[1])
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _quick_async_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pollers, "ASYNC_RETRY_DELAYS_SECONDS", (0.05, 0.05))


def _function(name: str = "Fn") -> FunctionInfo:
    return FunctionInfo(name, name.lower(), "app.handler", {}, f"functions/{name}/", name, 128, 3)


class Recorder:
    """Stands in for lambdas.invoke: records each event, answers with ``respond(event)``."""

    def __init__(self, respond: Callable[[Any], Any] = lambda event: None):
        self.events: list[Any] = []
        self.respond = respond

    def __call__(self, info: FunctionInfo, event: Any) -> Any:
        self.events.append(json.loads(json.dumps(event)))  # what JSON would carry
        return self.respond(event)


def _eventually(probe: Callable[[], Any], what: str, seconds: float = DEADLINE_SECONDS) -> Any:
    return eventually(probe, what, seconds, pause=0.05)


def _queue(endpoint: str, attributes: dict[str, str] | None = None) -> tuple[str, str]:
    sqs = aws_client("sqs", endpoint)
    url = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:12]}", Attributes=attributes or {})[
        "QueueUrl"
    ]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


def _messages(endpoint: str, url: str, expected: int) -> list[dict[str, Any]]:
    sqs = aws_client("sqs", endpoint)
    found: list[dict[str, Any]] = []

    def probe() -> list[dict[str, Any]] | None:
        reply = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        found.extend(reply.get("Messages") or [])
        return found if len(found) >= expected else None

    return list(_eventually(probe, f"{expected} message(s) on {url}"))


@pytest.fixture
def running() -> Iterator[Callable[[EventSources], EventSources]]:
    started: list[EventSources] = []

    def run(sources: EventSources) -> EventSources:
        sources.start()
        started.append(sources)
        return sources

    yield run
    for sources in started:
        sources.stop(5)


def _stream_source(stream_arn: str, **options: Any) -> StreamSource:
    """The stream of a table made by ``_table_with_stream``, read from its start."""
    return StreamSource(
        id="Fn.Stream",
        function=_function(),
        stream_arn=stream_arn,
        batch_size=10,
        starting_position="TRIM_HORIZON",
        **options,
    )


def _table_with_stream(endpoint: str) -> tuple[Any, str, str]:
    dynamodb = aws_client("dynamodb", endpoint)
    name = f"t-{uuid.uuid4().hex[:10]}"
    table = dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]
    return dynamodb, name, table["LatestStreamArn"]


def test_a_stream_batch_retries_from_its_first_failure_then_goes_to_on_failure(
    endpoint: str, running: Callable[[EventSources], EventSources]
) -> None:
    dynamodb, table, stream_arn = _table_with_stream(endpoint)
    dead_url, dead_arn = _queue(endpoint)
    for key in ("a", "b", "c"):
        dynamodb.put_item(TableName=table, Item={"pk": {"S": key}, "data": {"B": b"\x00\x01"}})

    def fail_b(event: Any) -> Any:
        failed = [
            {"itemIdentifier": record["dynamodb"]["SequenceNumber"]}
            for record in event["Records"]
            if record["dynamodb"]["Keys"]["pk"]["S"] == "b"
        ]
        return {"batchItemFailures": failed}

    recorder = Recorder(fail_b)
    source = _stream_source(
        stream_arn, maximum_retry_attempts=2, report_batch_item_failures=True, on_failure=dead_arn
    )
    sources = running(EventSources(EventSourcePlan(streams=[source]), endpoint, invoke=recorder))

    dead = json.loads(_messages(endpoint, dead_url, 1)[0]["Body"])

    keys = [[r["dynamodb"]["Keys"]["pk"]["S"] for r in e["Records"]] for e in recorder.events]
    assert keys == [["a", "b", "c"], ["b", "c"], ["b", "c"]]  # first try, then 2 retries
    first = recorder.events[0]["Records"][0]
    assert first["eventVersion"] == "1.1"
    assert first["eventSource"] == "aws:dynamodb"
    assert first["eventSourceARN"] == stream_arn
    assert first["dynamodb"]["NewImage"]["data"] == {"B": "AAE="}  # base64, as in Lambda
    assert isinstance(first["dynamodb"]["ApproximateCreationDateTime"], float)
    info = dead["DDBStreamBatchInfo"]
    assert dead["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert dead["requestContext"]["approximateInvokeCount"] == 3
    assert info["batchSize"] == 2
    assert info["streamArn"] == stream_arn
    assert (
        info["startSequenceNumber"]
        == recorder.events[1]["Records"][0]["dynamodb"]["SequenceNumber"]
    )

    # The shard moves on past the discarded batch.
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "d"}})
    _eventually(
        lambda: any(
            r["dynamodb"]["Keys"]["pk"]["S"] == "d" for r in recorder.events[-1]["Records"]
        ),
        "the next record delivered",
    )
    status = sources.status()["sources"]["Fn.Stream"]
    assert status["failures"] >= 3
    assert status["deliveries"] == 1


def test_a_stream_function_error_bisects_the_batch(
    endpoint: str, running: Callable[[EventSources], EventSources]
) -> None:
    dynamodb, table, stream_arn = _table_with_stream(endpoint)
    for key in ("a", "b", "c", "d"):
        dynamodb.put_item(TableName=table, Item={"pk": {"S": key}})

    def raise_on_c(event: Any) -> Any:
        if any(r["dynamodb"]["Keys"]["pk"]["S"] == "c" for r in event["Records"]):
            raise RuntimeError("poison record")
        return None

    recorder = Recorder(raise_on_c)
    source = _stream_source(stream_arn, maximum_retry_attempts=0, bisect_on_error=True)
    running(EventSources(EventSourcePlan(streams=[source]), endpoint, invoke=recorder))

    _eventually(lambda: len(recorder.events) >= 5, "the batch bisected down to the poison record")
    keys = [[r["dynamodb"]["Keys"]["pk"]["S"] for r in e["Records"]] for e in recorder.events]
    assert keys[:5] == [["a", "b", "c", "d"], ["a", "b"], ["c", "d"], ["c"], ["d"]]


def test_sqs_deletes_what_succeeded_and_redrives_what_keeps_failing(
    endpoint: str, running: Callable[[EventSources], EventSources]
) -> None:
    dead_url, dead_arn = _queue(endpoint)
    url, arn = _queue(
        endpoint,
        {
            "VisibilityTimeout": "1",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": 2}),
        },
    )
    sqs = aws_client("sqs", endpoint)
    sqs.send_message(
        QueueUrl=url,
        MessageBody="good",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "fine"}},
    )
    sqs.send_message(QueueUrl=url, MessageBody="poison")

    def fail_poison(event: Any) -> Any:
        return {
            "batchItemFailures": [
                {"itemIdentifier": record["messageId"]}
                for record in event["Records"]
                if record["body"] == "poison"
            ]
        }

    recorder = Recorder(fail_poison)
    source = QueueSource(
        id="Fn.Queue", function=_function(), queue_arn=arn, report_batch_item_failures=True
    )
    sources = running(EventSources(EventSourcePlan(queues=[source]), endpoint, invoke=recorder))

    dead = _messages(endpoint, dead_url, 1)
    assert [message["Body"] for message in dead] == ["poison"]
    records = [record for event in recorder.events for record in event["Records"]]
    good = next(record for record in records if record["body"] == "good")
    assert good["eventSource"] == "aws:sqs"
    assert good["eventSourceARN"] == arn
    assert good["awsRegion"] == "us-east-1"
    assert good["attributes"]["ApproximateReceiveCount"] == "1"
    assert good["messageAttributes"] == {
        "kind": {
            "stringValue": "fine",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "String",
        }
    }
    assert good["md5OfMessageAttributes"]
    poison_counts = [
        r["attributes"]["ApproximateReceiveCount"] for r in records if r["body"] == "poison"
    ]
    assert poison_counts == ["1", "2"]  # then maxReceiveCount moved it to the dead-letter queue
    assert [r["body"] for r in records].count("good") == 1  # deleted after its success
    status = sources.status()["sources"]["Fn.Queue"]
    assert status["failures"] == 2
    assert status["last_error"] == "1 of 1 messages reported as failed"  # the poison alone


def test_a_rule_invokes_its_function_with_the_eventbridge_event(
    endpoint: str, running: Callable[[EventSources], EventSources]
) -> None:
    events = aws_client("events", endpoint)
    bus = f"bus-{uuid.uuid4().hex[:8]}"
    events.create_event_bus(Name=bus)
    failures_url, failures_arn = _queue(endpoint)
    function = _function("Notifier")

    def fail_twice_then_raise(event: Any) -> Any:
        raise ValueError(f"cannot handle {event['detail']['n']}")

    ok = Recorder()
    failing = Recorder(fail_twice_then_raise)
    plan = EventSourcePlan(
        rules=[
            RuleTarget(
                id="Notifier.Ok",
                function=function,
                rule_name=f"ok-{bus}",
                bus_name=bus,
                target_id="ok",
                pattern=json.dumps(
                    {"detail-type": ["OK"], "detail": {"n": [{"numeric": [">", 0]}]}}
                ),
            ),
            RuleTarget(
                id="Failing.Bad",
                function=_function("Failing"),
                rule_name=f"bad-{bus}",
                bus_name=bus,
                target_id="bad",
                pattern=json.dumps({"detail-type": ["BAD"]}),
            ),
        ],
        async_configs={
            "Failing": AsyncInvokeConfig(maximum_retry_attempts=2, on_failure=failures_arn)
        },
    )

    def invoke(info: FunctionInfo, event: Any) -> Any:
        return (ok if info.logical_id == "Notifier" else failing)(info, event)

    sources = running(EventSources(plan, endpoint, invoke=invoke))
    events.put_events(
        Entries=[
            {"EventBusName": bus, "Source": "tests", "DetailType": "OK", "Detail": '{"n": 1}'},
            {"EventBusName": bus, "Source": "tests", "DetailType": "OK", "Detail": '{"n": 0}'},
            {"EventBusName": bus, "Source": "tests", "DetailType": "BAD", "Detail": '{"n": 7}'},
        ]
    )

    record = json.loads(_messages(endpoint, failures_url, 1)[0]["Body"])
    _eventually(lambda: ok.events, "the matching event delivered")
    assert len(ok.events) == 1
    event = ok.events[0]
    assert list(event) == [
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    ]
    assert event["detail"] == {"n": 1}
    assert event["account"] == "123456789012"
    assert event["time"].endswith("Z")
    assert len(failing.events) == 3  # the first attempt and the function's 2 retries
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestPayload"]["detail"] == {"n": 7}
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorType"] == "ValueError"
    status = sources.status()["sources"]
    assert status["Notifier.Ok"]["deliveries"] == 1
    assert status["Failing.Bad"]["failures"] == 3


def _often(seconds: int, input_text: str) -> ScheduleSource:
    """Function ``Fn``'s schedule ``Often``, every ``seconds``."""
    return ScheduleSource(
        id="Fn.Often",
        function=_function(),
        rate=timedelta(seconds=seconds),
        arn="arn:aws:scheduler:us-east-1:123456789012:schedule/default/often",
        input=input_text,
    )


def test_a_schedule_fires_on_time_and_by_hand(
    endpoint: str, running: Callable[[EventSources], EventSources]
) -> None:
    recorder = Recorder(lambda event: {"seen": event["time"]})
    schedule = _often(
        3, '{"time": "<aws.scheduler.scheduled-time>", "arn": "<aws.scheduler.schedule-arn>"}'
    )
    started = datetime.now(UTC)
    sources = running(
        EventSources(EventSourcePlan(schedules=[schedule]), endpoint, invoke=recorder)
    )

    _eventually(lambda: recorder.events, "the schedule firing after its first period")
    fired = datetime.fromisoformat(recorder.events[0]["time"])
    # Due one period after the timer started (the scheduled time has whole seconds).
    assert started + timedelta(seconds=2) <= fired <= started + timedelta(seconds=6)
    assert recorder.events[0]["arn"] == schedule.arn

    found, event, result, error = sources.fire_schedule(
        "Fn", datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    )
    assert found is schedule
    assert error is None
    assert event["time"] == "2026-11-21T10:00:00Z"
    assert result == {"seen": "2026-11-21T10:00:00Z"}
    # Every run is counted, the one fired by hand as well as the timer's.
    _eventually(
        lambda: sources.status()["sources"]["Fn.Often"]["deliveries"] == len(recorder.events) >= 2,
        "every run counted",
    )


def test_schedules_off_means_no_timers(
    endpoint: str, running: Callable[[EventSources], EventSources]
) -> None:
    schedule = _often(1, "{}")
    plan = EventSourcePlan(schedules=[schedule])
    off, on = Recorder(), Recorder()
    sources = running(EventSources(plan, endpoint, invoke=off, schedules=False))
    running(EventSources(plan, endpoint, invoke=on))

    # The same schedule with timers on has fired: its moment has come for both.
    _eventually(lambda: on.events, "the schedule firing where timers are on")
    assert off.events == []
    assert sources.status()["sources"]["Fn.Often"]["running"] is False


def test_stop_is_prompt(endpoint: str) -> None:
    url, arn = _queue(endpoint)
    recorder = Recorder()
    sources = EventSources(
        EventSourcePlan(queues=[QueueSource(id="Fn.Q", function=_function(), queue_arn=arn)]),
        endpoint,
        invoke=recorder,
    )
    sources.start()
    aws_client("sqs", endpoint).send_message(QueueUrl=url, MessageBody="{}")
    # Once it has delivered a message, the poller is back in a long poll: stop must cut it.
    _eventually(lambda: recorder.events, "the poller delivering a message")

    started = time.monotonic()
    sources.stop(5)

    assert time.monotonic() - started < 3
    assert sources.status()["sources"]["Fn.Q"]["running"] is False
