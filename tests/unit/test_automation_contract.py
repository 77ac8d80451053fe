"""The automation pipeline keeps its promises in template.yaml and in its sample events:
the bus rule routes exactly the engine's triggers, failures end in a dead-letter queue,
idempotency records expire, and every sample is an SQS event as Lambda delivers it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from journeys_core.models.automation import TRIGGER_EVENTS
from journeys_core.services.automation import parse_bus_message
from local_stack.template import load_template

ROOT = Path(__file__).resolve().parents[2]
RESOURCES: dict[str, Any] = load_template()["Resources"]
SQS_SAMPLES = sorted((ROOT / "events" / "automation").glob("*.json"))


def test_the_bus_rule_routes_exactly_the_engines_triggers_to_its_queue() -> None:
    rule = RESOURCES["AutomationEventsRule"]["Properties"]

    assert sorted(rule["EventPattern"]["detail-type"]) == sorted(TRIGGER_EVENTS)
    assert rule["EventBusName"] == {"Ref": "JourneysBus"}
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["AutomationQueue", "Arn"]}
    assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["AutomationDeadLetterQueue", "Arn"]}


def test_a_message_that_keeps_failing_ends_in_the_dead_letter_queue() -> None:
    queue = RESOURCES["AutomationQueue"]["Properties"]
    function = RESOURCES["AutomationFunction"]["Properties"]
    (source,) = function["Events"].values()

    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["AutomationDeadLetterQueue", "Arn"]
    }
    assert 1 < queue["RedrivePolicy"]["maxReceiveCount"] <= 10
    assert source["Type"] == "SQS"
    assert source["Properties"]["Queue"] == {"Fn::GetAtt": ["AutomationQueue", "Arn"]}
    assert source["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    timeout = function.get("Timeout", load_template()["Globals"]["Function"]["Timeout"])
    assert queue["VisibilityTimeout"] >= 6 * timeout


def test_idempotency_records_are_keyed_and_expire_as_powertools_writes_them() -> None:
    table = RESOURCES["IdempotencyTable"]["Properties"]

    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}


def test_only_the_bus_rule_may_send_to_the_automation_queues() -> None:
    (statement,) = RESOURCES["AutomationQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]

    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == {
        "Fn::GetAtt": ["AutomationEventsRule", "Arn"]
    }


def test_there_is_a_sample_for_every_trigger_of_the_documents_table() -> None:
    types = {
        json.loads(record["body"])["detail-type"]
        for path in SQS_SAMPLES
        for record in json.loads(path.read_text())["Records"]
    }

    assert {
        "FORM_SUBMISSION_COMPLETED",
        "PAYMENT_SUCCEEDED",
        "RISK_ANALYSIS_COMPLETED",
        "BOOKING_CANCELLED",
        "JOURNEY_STAGE_TIMEOUT",
    } <= types


@pytest.mark.parametrize("path", SQS_SAMPLES, ids=lambda p: p.name)
def test_a_sample_is_an_sqs_event_as_lambda_delivers_it(path: Path) -> None:
    records = json.loads(path.read_text())["Records"]

    assert records
    for record in records:
        assert record["eventSource"] == "aws:sqs"
        assert record["eventSourceARN"].startswith("arn:aws:sqs:")
        assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()
        assert {"ApproximateReceiveCount", "SentTimestamp"} <= set(record["attributes"])
        bus_event = json.loads(record["body"])
        assert {"version", "id", "detail-type", "source", "time", "detail"} <= set(bus_event)


def test_the_samples_carry_domain_events_but_for_the_poison_one() -> None:
    parsed, refused = [], []
    for path in SQS_SAMPLES:
        for record in json.loads(path.read_text())["Records"]:
            try:
                parsed.append(parse_bus_message(record["body"]))
            except ValueError:
                refused.append(path.name)

    assert refused == ["batch-with-poison.json"]
    assert {event.organization_id for event in parsed} == {"demo"}


def test_every_trigger_but_the_services_own_can_be_submitted_through_the_api() -> None:
    from typing import get_args

    from journeys_core.models.automation import SERVICE_EVENTS, SubmittableEvent

    assert set(get_args(SubmittableEvent)) == set(TRIGGER_EVENTS) - SERVICE_EVENTS


def test_the_bus_rule_takes_the_services_own_sources_and_integrations_only() -> None:
    from journeys_core.services.automation import AUTOMATION_SOURCE
    from journeys_core.services.domain_events import API_SOURCE
    from journeys_core.services.stage_changes import EVENT_SOURCE

    pattern = RESOURCES["AutomationEventsRule"]["Properties"]["EventPattern"]

    assert sorted(s for s in pattern["source"] if isinstance(s, str)) == sorted(
        {API_SOURCE, AUTOMATION_SOURCE, EVENT_SOURCE}
    )
    assert [s for s in pattern["source"] if not isinstance(s, str)] == [{"prefix": "integration."}]


def test_the_bus_admits_this_account_only() -> None:
    (statement,) = RESOURCES["JourneysBus"]["Properties"]["Policy"]["Statement"]

    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "events:PutEvents"
    assert statement["Principal"] == {
        "AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
    }
