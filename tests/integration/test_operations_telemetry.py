"""Every failed record, refused action and error answer says what, why and which ids in one
structured log line, and moves the metric the template's alarms and dashboard read."""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks.bench_cold_start import fresh_interpreter
from journeys_core.data.aws import dynamodb
from tests.conftest import LambdaContext, invoke
from tests.support.automation import import_builtin_journeys, import_playbook, install_pipeline
from tests.support.aws_faults import throttled
from tests.support.events import api_event, load_sample
from tests.support.patients import KEY, define_journey, move
from tests.support.stale_monitor import NOW, run_monitor, scheduled_event
from tests.support.streams import lambda_stream_records
from tests.support.telemetry import Telemetry, caught_telemetry

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def telemetry(aws: None, capsys: pytest.CaptureFixture[str]) -> Iterator[Telemetry]:
    with caught_telemetry(capsys) as caught:
        yield caught


def _handler(function_dir: str) -> Any:
    return importlib.import_module(f"functions.{function_dir}.app").handler


def test_a_stage_change_that_cannot_be_published_names_the_entry(telemetry: Telemetry) -> None:
    define_journey()
    move("p-1", "SCREENING_PENDING")
    move("p-2", "SCREENING_PENDING")
    good, bad = lambda_stream_records(os.environ["JOURNEY_LOG_TABLE_NAME"])
    del bad["dynamodb"]["NewImage"]["journey_key"]

    response = _handler("stage_change_publisher")({"Records": [good, bad]}, LambdaContext())

    assert len(response["batchItemFailures"]) == 1
    (line,) = telemetry.lines("stage change not published")
    assert line["level"] == "ERROR"
    assert line["stream_event_id"] == bad["eventID"]
    assert line["patient_id"] == "p-2"
    assert line["log_entry_id"] and line["organization_id"]
    assert line["reason"]
    assert telemetry.metrics()["StageChangeNotPublished"] == 1


def test_a_poison_domain_event_and_a_refused_action_are_each_said_and_counted(
    telemetry: Telemetry,
) -> None:
    import_builtin_journeys()
    import_playbook()
    pipeline = install_pipeline()
    assert move("p-1", "SCREENING_PENDING", key=KEY).status == 200
    pipeline.put("FORM_SUBMISSION_COMPLETED", {"organization_id": "org-a", "payload": {}})
    pipeline.put(
        "PAYMENT_SUCCEEDED",
        {"organization_id": "org-a", "patient_id": "p-1", "event_id": "pay-1", "payload": {}},
    )

    pipeline.deliver(pipeline.receive())

    (failed,) = telemetry.lines("domain event not processed")
    assert failed["level"] == "ERROR" and failed["message_id"] and failed["bus_event_id"]
    assert failed["event_type"] == "FORM_SUBMISSION_COMPLETED"
    (refused,) = [
        line for line in telemetry.lines("automation action refused") if line["journey_key"] == KEY
    ]
    assert refused["event_id"] == "pay-1" and refused["patient_id"] == "p-1"
    assert refused["rule_id"] and "'SCREENING_PENDING' -> 'CONFIRMED'" in refused["reason"]
    metrics = telemetry.metrics()
    assert metrics["DomainEventFailed"] == 1
    assert metrics["AutomationActionRefused"] >= 1


def test_an_unknown_migration_job_is_said_with_its_ids(telemetry: Telemetry) -> None:
    body = json.dumps({"organization_id": "org-a", "migration_id": "mig-0000000000000000"})
    event = {"Records": [{**load_sample("migrations/run-migration")["Records"][0], "body": body}]}

    response = _handler("migrations")(event, LambdaContext())

    assert len(response["batchItemFailures"]) == 1
    (line,) = telemetry.lines("migration run failed")
    assert line["migration_id"] == "mig-0000000000000000"
    assert line["organization_id"] == "org-a"
    assert telemetry.metrics()["MigrationRunFailed"] == 1


def test_a_timeout_the_notifier_cannot_read_is_said_and_retried(telemetry: Telemetry) -> None:
    event = load_sample("notifier/payment-reminder")
    del event["detail"]["action"]

    with pytest.raises(Exception, match="action"):
        _handler("notifier")(event, LambdaContext())

    (line,) = telemetry.lines("stage timeout not notified")
    assert line["event_id"] == event["detail"]["event_id"]
    assert line["bus_event_id"] == event["id"]
    assert telemetry.metrics()["TimeoutEmailError"] == 1


def test_a_monitor_run_counts_its_completion_and_a_failed_run_says_why(
    telemetry: Telemetry,
) -> None:
    run_monitor()
    assert telemetry.metrics()["StaleCheckCompleted"] == 1

    broken = {**scheduled_event(NOW), "time": "not a time"}
    with pytest.raises(ValueError):
        _handler("stale_monitor")(broken, LambdaContext())

    (line,) = telemetry.lines("stale-journey check not planned")
    assert line["scheduled_time"] == "not a time" and line["reason"]
    assert telemetry.metrics()["StaleCheckFailed"] == 1


def test_a_refused_request_is_said_with_its_request_id_route_and_organization(
    telemetry: Telemetry,
) -> None:
    event = api_event("journeys/load-journey", path_params={"name_or_id": "nope"}, org="org-a")

    assert invoke("journeys", event).status == 404

    (line,) = telemetry.lines("request refused")
    assert line["level"] == "INFO"
    assert (line["status"], line["code"]) == (404, "not_found")
    assert line["route"] == event["routeKey"]
    assert line["request_id"] == event["requestContext"]["requestId"]
    assert line["organization_id"] == "org-a"
    assert telemetry.metrics()["RequestRefused"] == 1


def test_a_throttled_request_is_a_failure_answered_503(telemetry: Telemetry) -> None:
    define_journey()
    event = api_event("patients/enroll-patient", org="org-a")

    with throttled(dynamodb(), "TransactWriteItems", lambda: "ThrottlingException"):
        assert invoke("patients", event).status == 503

    (line,) = telemetry.lines("request failed")
    assert line["level"] == "ERROR" and line["status"] == 503
    assert line["request_id"] == event["requestContext"]["requestId"]
    assert telemetry.metrics()["RequestFailed"] == 1


def test_an_error_no_handler_answers_is_said_before_lambda_reports_it(
    telemetry: Telemetry,
) -> None:
    event = api_event("journeys/list-journeys", org="org-a")

    with (
        throttled(dynamodb(), "Query", lambda: "ProvisionedThroughputExceededException"),
        pytest.raises(Exception, match="ProvisionedThroughputExceeded"),
    ):
        invoke("journeys", event)

    (line,) = telemetry.lines("request failed")
    assert line["route"] == event["routeKey"] and line["organization_id"] == "org-a"
    assert "ProvisionedThroughputExceeded" in line["reason"]
    assert telemetry.metrics()["RequestFailed"] == 1


def _modules_loaded_by_a_first_invocation(trace_disabled: str) -> set[str]:
    script = (
        "import sys; sys.path[:0] = ['shared', '.']\n"
        "from journeys_core.observability import traced\n"
        "handler = traced(lambda event, context: 'answered')\n"
        "assert handler({}, None) == 'answered'\n"
        "print(' '.join(sorted(sys.modules)))"
    )
    return set(fresh_interpreter(script, POWERTOOLS_TRACE_DISABLED=trace_disabled).split())


def test_the_xray_sdk_loads_only_when_tracing_is_on() -> None:
    off = _modules_loaded_by_a_first_invocation("true")
    on = _modules_loaded_by_a_first_invocation("false")

    assert "aws_xray_sdk" not in off
    assert "aws_xray_sdk.core" in on
