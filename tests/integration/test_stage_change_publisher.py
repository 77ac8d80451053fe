"""The stage-change publisher: every committed journey log entry, read from the log table's
stream, becomes exactly one JOURNEY_STAGE_CHANGED on the service's bus."""

from __future__ import annotations

import copy
import importlib
import json
import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from journeys_core.data.aws import client, dynamodb
from tests.conftest import LambdaContext
from tests.support.aws_faults import throttled
from tests.support.bus import drain as caught
from tests.support.events import load_sample
from tests.support.patients import KEY, define_journey, full_history, move
from tests.support.streams import lambda_stream_records


@pytest.fixture
def bus_queue(aws: None) -> Iterator[str]:
    """An SQS queue behind an EventBridge rule catching JOURNEY_STAGE_CHANGED on the bus."""
    import boto3

    sqs = boto3.client("sqs")
    events = boto3.client("events")
    bus = os.environ["EVENT_BUS_NAME"]
    queue_url = sqs.create_queue(QueueName="stage-changes-caught")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    events.put_rule(
        Name="catch-stage-changes",
        EventBusName=bus,
        EventPattern=json.dumps(
            {"source": ["journeys.service"], "detail-type": ["JOURNEY_STAGE_CHANGED"]}
        ),
    )
    events.put_targets(
        Rule="catch-stage-changes",
        EventBusName=bus,
        Targets=[{"Id": "queue", "Arn": queue_arn}],
    )
    yield queue_url


def publish(records: list[dict[str, Any]]) -> dict[str, Any]:
    module = importlib.import_module("functions.stage_change_publisher.app")
    return dict(module.handler({"Records": records}, LambdaContext()))


def committed_records() -> list[dict[str, Any]]:
    return lambda_stream_records(os.environ["JOURNEY_LOG_TABLE_NAME"])


def test_a_committed_move_becomes_exactly_one_stage_changed_event(bus_queue: str) -> None:
    define_journey()
    move("p-1", "SCREENING_PENDING", sub="nurse-7")
    move("p-1", "SCREENING_COMPLETED", reason="screened", sub="nurse-7")
    records = committed_records()
    assert [r["eventName"] for r in records] == ["INSERT", "INSERT"]

    response = publish(records)

    assert response == {"batchItemFailures": []}
    events = caught(bus_queue)
    assert len(events) == 2
    entries = full_history("p-1")
    for event, entry in zip(events, entries, strict=True):
        assert event["source"] == "journeys.service"
        assert event["detail-type"] == "JOURNEY_STAGE_CHANGED"
        assert event["detail"] == {
            "organization_id": "org-a",
            "patient_id": "p-1",
            "journey_key": KEY,
            "from_stage": entry["from_stage"],
            "to_stage": entry["to_stage"],
            "changed_at": entry["changed_at"],
            "actor": "nurse-7",
            "log_entry_id": entry["id"],
            "trigger_event_id": None,
        }
        assert event["time"][:19] == entry["changed_at"][:19]
    assert events[0]["detail"]["from_stage"] is None


def test_refused_and_throttled_moves_leave_nothing_to_announce(bus_queue: str) -> None:
    define_journey()
    move("p-1", "SCREENING_PENDING")
    assert move("p-1", "CONFIRMED").status == 409
    assert move("p-1", "NOT_A_STAGE").status == 422
    assert move("p-1", "SCREENING_PENDING").status == 200  # no-op
    with throttled(dynamodb(), "TransactWriteItems", lambda: "ThrottlingException"):
        assert move("p-1", "SCREENING_COMPLETED").status == 503

    publish(committed_records())

    assert [e["detail"]["to_stage"] for e in caught(bus_queue)] == ["SCREENING_PENDING"]


def test_a_failing_record_is_reported_and_its_batch_mates_still_published(
    bus_queue: str,
) -> None:
    define_journey()
    for patient in ("p-1", "p-2", "p-3"):
        move(patient, "SCREENING_PENDING")
    records = committed_records()
    broken = copy.deepcopy(records[1])
    del broken["dynamodb"]["NewImage"]["to_stage"]

    response = publish([records[0], broken, records[2]])

    assert response == {
        "batchItemFailures": [{"itemIdentifier": broken["dynamodb"]["SequenceNumber"]}]
    }
    assert sorted(e["detail"]["patient_id"] for e in caught(bus_queue)) == ["p-1", "p-3"]


def test_an_entry_eventbridge_refuses_is_reported_then_published_on_retry(
    bus_queue: str,
) -> None:
    define_journey()
    move("p-1", "SCREENING_PENDING")
    move("p-2", "SCREENING_PENDING")
    records = committed_records()
    events_client = client("events")
    raw_events = boto3.client("events")

    def refuse_p2(params: dict[str, Any], **_: Any) -> Any:
        """EventBridge refusing p-2's entry alone: the others really go on the bus."""
        entries = json.loads(params["body"])["Entries"]
        if not any("p-2" in entry["Detail"] for entry in entries):
            return None
        from botocore.awsrequest import AWSResponse

        others = [entry for entry in entries if "p-2" not in entry["Detail"]]
        accepted = iter(raw_events.put_events(Entries=others)["Entries"] if others else [])
        results = [
            {"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}
            if "p-2" in entry["Detail"]
            else next(accepted)
            for entry in entries
        ]
        return AWSResponse("https://events.us-east-1.amazonaws.com/", 200, {}, None), {
            "FailedEntryCount": 1,
            "Entries": results,
            "ResponseMetadata": {"HTTPStatusCode": 200},
        }

    events_client.meta.events.register("before-call.eventbridge.PutEvents", refuse_p2)
    try:
        first = publish(records)
    finally:
        events_client.meta.events.unregister("before-call.eventbridge.PutEvents", refuse_p2)
    retry = publish(records[1:])  # Lambda re-delivers from the failed record on

    assert first == {
        "batchItemFailures": [{"itemIdentifier": records[1]["dynamodb"]["SequenceNumber"]}]
    }
    assert retry == {"batchItemFailures": []}
    assert [e["detail"]["patient_id"] for e in caught(bus_queue)] == ["p-1", "p-2"]


def test_a_stream_batch_goes_out_ten_entries_to_a_put_events(bus_queue: str) -> None:
    define_journey()
    for n in range(23):
        move(f"p-{n:02d}", "SCREENING_PENDING")
    records = committed_records()
    calls: list[int] = []
    events_client = client("events")

    def count(params: dict[str, Any], **_: Any) -> None:
        calls.append(len(params["Entries"]))

    events_client.meta.events.register("provide-client-params.events.PutEvents", count)
    try:
        response = publish(records)
    finally:
        events_client.meta.events.unregister("provide-client-params.events.PutEvents", count)

    assert response == {"batchItemFailures": []}
    assert calls == [10, 10, 3]
    published = [e["detail"]["patient_id"] for e in caught(bus_queue)]
    assert sorted(published) == [f"p-{n:02d}" for n in range(23)]


def test_a_batch_that_fails_entirely_raises_so_lambda_retries_it(bus_queue: str) -> None:
    define_journey()
    move("p-1", "SCREENING_PENDING")
    (record,) = committed_records()
    del record["dynamodb"]["NewImage"]["patient_id"]

    with pytest.raises(Exception, match="All records failed"):
        publish([record])
    assert caught(bus_queue) == []


def test_records_that_are_not_inserts_announce_nothing(bus_queue: str) -> None:
    define_journey()
    move("p-1", "SCREENING_PENDING")
    (record,) = committed_records()
    removal = {**record, "eventName": "REMOVE"}

    assert publish([removal]) == {"batchItemFailures": []}
    assert caught(bus_queue) == []


def test_the_sample_stream_event_publishes_one_event_per_entry(bus_queue: str) -> None:
    sample = load_sample("stage_change_publisher/stage-changed")

    response = publish(sample["Records"])

    assert response == {"batchItemFailures": []}
    details = [e["detail"] for e in caught(bus_queue)]
    assert details == [
        {
            "organization_id": "demo",
            "patient_id": "patient-0042",
            "journey_key": "retreat_ibiza_2025",
            "from_stage": None,
            "to_stage": "SCREENING_PENDING",
            "changed_at": "2026-11-21T10:00:00.125000Z",
            "actor": "6f1c2d3e-staff-admin",
            "log_entry_id": "jlog-3f9a1c0d5e7b2a64",
            "trigger_event_id": None,
        },
        {
            "organization_id": "demo",
            "patient_id": "patient-0042",
            "journey_key": "retreat_ibiza_2025",
            "from_stage": "SCREENING_PENDING",
            "to_stage": "BLOCKED_HIGH_RISK",
            "changed_at": "2026-11-21T10:05:31.402117Z",
            "actor": "automation",
            "log_entry_id": "jlog-8b2e4f6a1c3d5e70",
            "trigger_event_id": "evt-7d1e0c2b",
        },
    ]
