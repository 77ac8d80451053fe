"""template.yaml keeps the stale monitor's promises: an hourly EventBridge Scheduler schedule
that passes its time, retries and dead-letters; a notifier rule selecting exactly the email
actions; runs that end before the gate's claim lease; the sample events match."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from journeys_core.domain.stale_monitor import CLAIM_LEASE, EMAIL_ACTION_PREFIXES, sends_email
from local_stack.template import load_template
from tests.support.events import load_sample

RESOURCES: dict[str, Any] = load_template()["Resources"]


def _event(function: str, kind: str) -> dict[str, Any]:
    events = RESOURCES[function]["Properties"]["Events"]
    (event,) = [e for e in events.values() if e["Type"] == kind]
    properties: dict[str, Any] = event["Properties"]
    return properties


def test_the_monitor_runs_hourly_with_retries_and_a_dead_letter_queue() -> None:
    schedule = _event("StaleMonitorFunction", "ScheduleV2")

    assert schedule["ScheduleExpression"] == "rate(1 hour)"
    assert schedule["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    assert schedule["DeadLetterConfig"]["Arn"] == {
        "Fn::GetAtt": ["StaleMonitorDeadLetterQueue", "Arn"]
    }


def test_the_schedule_sends_the_event_of_the_sample_with_its_scheduled_time() -> None:
    text = _event("StaleMonitorFunction", "ScheduleV2")["Input"]["Fn::Sub"]
    sent = json.loads(re.sub(r"\$\{AWS::(AccountId|Region)\}", "x", text))
    sample = load_sample("stale_monitor/hourly-check")

    assert sent["time"] == "<aws.scheduler.scheduled-time>"
    assert set(sent) == set(sample)
    assert sent["detail-type"] == sample["detail-type"] == "Scheduled Event"


def test_a_unit_ends_before_another_may_take_over_its_claims() -> None:
    properties = RESOURCES["StaleWorkerFunction"]["Properties"]
    timeout = timedelta(seconds=properties["Timeout"])
    margin = float(properties["Environment"]["Variables"]["STALE_MONITOR_STOP_MARGIN_SECONDS"])

    assert timeout < CLAIM_LEASE
    assert 0 < margin < timeout.total_seconds() / 2


def test_units_fan_out_to_a_bounded_number_of_workers_and_failures_are_dead_lettered() -> None:
    source = _event("StaleWorkerFunction", "SQS")
    worker = RESOURCES["StaleWorkerFunction"]["Properties"]
    queue = RESOURCES["StaleUnitsQueue"]["Properties"]

    assert source["Queue"] == {"Fn::GetAtt": ["StaleUnitsQueue", "Arn"]}
    assert source["BatchSize"] == 1  # a long unit never delays a batch-mate
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert source["ScalingConfig"]["MaximumConcurrency"] == worker["ReservedConcurrentExecutions"]
    assert queue["VisibilityTimeout"] >= 6 * worker["Timeout"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["StaleUnitsDeadLetterQueue", "Arn"]
    }


def test_the_notifier_rule_selects_the_actions_that_send_email() -> None:
    pattern = _event("NotifierFunction", "EventBridgeRule")["Pattern"]
    prefixes = tuple(option["prefix"] for option in pattern["detail"]["action"])

    assert pattern["detail-type"] == ["JOURNEY_STAGE_TIMEOUT"]
    assert prefixes == EMAIL_ACTION_PREFIXES
    assert all(sends_email(f"{prefix}anything") for prefix in prefixes)


def test_the_notifier_sample_is_a_timeout_the_rule_would_deliver() -> None:
    sample = load_sample("notifier/payment-reminder")

    assert sample["detail-type"] == "JOURNEY_STAGE_TIMEOUT"
    assert sends_email(sample["detail"]["action"])
