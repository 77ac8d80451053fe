"""The local stack delivers events to functions as AWS would: a stage move over HTTP goes
through the journey log's stream to the publisher and out on the bus, and to the analytics
rollups; a domain event on the bus reaches the automation engine through its queue;
schedules fire by hand."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from local_stack.template import functions, load_template
from local_stack.tokens import make_token
from tests.e2e.conftest import Listen, LocalStack, bus_name, eventually

pytestmark = pytest.mark.e2e

DEMO_ORG = "demo"  # the organization the stack imports the built-in journeys for
JOURNEY = "retreat_ibiza_2025"


def _function_with_event(event_type: str, folder: str) -> str:
    """The logical id of the function in ``functions/<folder>``, which must have an event of
    that type in the template: a source removed from the template fails here, never skips."""
    for info in functions(load_template()).values():
        if info.function_dir == folder and any(
            event.get("Type") == event_type for event in info.events.values()
        ):
            return info.logical_id
    pytest.fail(f"template.yaml gives functions/{folder} no {event_type} event")


def _at_least(count: int, items: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    return items if len(items) >= count else None


def _status(local_stack: LocalStack) -> dict[str, Any]:
    response = local_stack.request("GET", "/_local/events/status")
    assert response.status == 200
    sources: dict[str, Any] = response.json()["sources"]
    return sources


def test_status_lists_every_event_source_of_the_template(local_stack: LocalStack) -> None:
    sources = _status(local_stack)

    publisher = _function_with_event("DynamoDB", "stage_change_publisher")
    stream_sources = [s for s in sources.values() if s["function"] == publisher]
    assert [s["kind"] for s in stream_sources] == ["DynamoDB"]
    assert stream_sources[0]["running"] is True
    assert stream_sources[0]["source"].startswith("arn:aws:dynamodb:")
    assert "/stream/" in stream_sources[0]["source"]


def test_a_stage_move_is_announced_on_the_bus(
    local_stack: LocalStack, bus_listener: Listen
) -> None:
    patient = f"e2e-events-{uuid.uuid4().hex[:10]}"
    read = bus_listener(
        {
            "source": ["journeys.service"],
            "detail-type": ["JOURNEY_STAGE_CHANGED"],
            "detail": {"patient_id": [patient]},
        }
    )
    token = make_token(org=DEMO_ORG, roles=("staff",))
    path = f"/api/v1/patients/{patient}/journey"

    enrolled = local_stack.request(
        "PATCH", path, token=token, json={"key": JOURNEY, "status": "SCREENING_PENDING"}
    )
    assert enrolled.status == 200, enrolled.body
    moved = local_stack.request(
        "PATCH",
        path,
        token=token,
        json={
            "key": JOURNEY,
            "status": "SCREENING_COMPLETED",
            "expected_stage": "SCREENING_PENDING",
        },
    )
    assert moved.status == 200, moved.body

    announced = eventually(lambda: _at_least(2, read()), "two JOURNEY_STAGE_CHANGED")
    by_stage = {event["detail"]["to_stage"]: event for event in announced}
    assert set(by_stage) == {"SCREENING_PENDING", "SCREENING_COMPLETED"}
    move = by_stage["SCREENING_COMPLETED"]
    assert move["detail"]["from_stage"] == "SCREENING_PENDING"
    assert move["detail"]["organization_id"] == DEMO_ORG
    assert move["detail"]["journey_key"] == JOURNEY
    # The envelope EventBridge gives a rule's target, account included.
    assert {"version", "id", "detail-type", "source", "account", "time", "region"} <= set(move)
    assert move["account"] == "123456789012"
    publisher = next(
        status
        for status in _status(local_stack).values()
        if status["kind"] == "DynamoDB" and status["function"] == "StageChangePublisherFunction"
    )
    assert publisher["deliveries"] >= 1
    assert publisher["last_error"] is None, publisher


def test_a_domain_event_on_the_bus_reaches_the_automation_engine(local_stack: LocalStack) -> None:
    automation = _function_with_event("SQS", "automation")
    source_id = next(
        source_id
        for source_id, status in _status(local_stack).items()
        if status["function"] == automation and status["kind"] == "SQS"
    )
    before = _status(local_stack)[source_id]["records"]
    event_id = f"e2e-pay-{uuid.uuid4().hex[:10]}"

    put = local_stack.aws(
        "events"
    ).put_events(
        Entries=[
            {
                "EventBusName": bus_name(),
                "Source": "integration.payments",  # the rule admits integrations only
                "DetailType": "PAYMENT_SUCCEEDED",
                "Detail": json.dumps(
                    {
                        "organization_id": f"e2e-org-{uuid.uuid4().hex[:8]}",
                        "patient_id": "e2e-patient-1",
                        "event_id": event_id,
                        "payload": {"amount": 1200, "currency": "EUR"},
                    }
                ),
            }
        ]
    )
    assert put["FailedEntryCount"] == 0

    delivered = eventually(
        lambda: (status := _status(local_stack)[source_id])["records"] > before and status,
        f"{source_id} receiving the PAYMENT_SUCCEEDED event",
    )
    assert delivered["deliveries"] >= 1
    assert delivered["last_delivery_at"]


def test_a_schedule_fires_by_hand(local_stack: LocalStack) -> None:
    monitor = _function_with_event("ScheduleV2", "stale_monitor")

    response = local_stack.request(
        "POST", f"/_local/schedules/{monitor}", json={"time": "2026-11-21T10:00:00Z"}
    )

    assert response.status == 200, response.body
    result = response.json()
    assert isinstance(result, dict)
    assert result.get("units") == result.get("queued")  # the planner queued every unit
    status = _status(local_stack)[response.headers["x-local-schedule"]]
    assert status["function"] == monitor
    assert status["deliveries"] >= 1


def test_an_unknown_schedule_is_404(local_stack: LocalStack) -> None:
    response = local_stack.request("POST", "/_local/schedules/NoSuchSchedule")

    assert response.status == 404
    assert "NoSuchSchedule" in response.json()["message"]


def test_a_bad_schedule_time_is_400(local_stack: LocalStack) -> None:
    response = local_stack.request("POST", "/_local/schedules/anything", json={"time": "yesterday"})

    assert response.status == 400


def test_a_timeout_reaches_the_notifier_through_its_rule_and_emails_the_patient(
    local_stack: LocalStack,
) -> None:
    """A stage timeout whose action sends email goes from the bus, through the notifier's
    rule, to the notifier, which emails the patient through SES."""
    notifier = _function_with_event("EventBridgeRule", "notifier")
    source_id = next(
        source_id
        for source_id, status in _status(local_stack).items()
        if status["function"] == notifier and status["kind"] == "EventBridgeRule"
    )
    org, patient = f"e2e-org-{uuid.uuid4().hex[:8]}", "e2e-patient-2"
    profile = {"display_name": "Ana", "email": "ana@example.com"}
    staff = make_token(org=org, roles=("staff",))
    created = local_stack.request("PUT", f"/api/v1/patients/{patient}", staff, json=profile)
    assert created.status == 201, created.body
    ses = local_stack.aws("ses")
    sent_before = ses.get_send_quota()["SentLast24Hours"]
    before = _status(local_stack)[source_id]
    detail = {
        "organization_id": org,
        "patient_id": patient,
        "journey_key": JOURNEY,
        "stage": "AWAITING_PAYMENT",
        "hours_stale": 49.5,
        "action": "send_payment_reminder",
        "email_subject": "Reminder",
        "event_id": f"timeout-{uuid.uuid4().hex}",
    }

    local_stack.aws("events").put_events(
        Entries=[
            {
                "EventBusName": bus_name(),
                "Source": "journeys.service",
                "DetailType": "JOURNEY_STAGE_TIMEOUT",
                "Detail": json.dumps(detail),
            }
        ]
    )

    def invoked() -> dict[str, Any] | None:
        status: dict[str, Any] = _status(local_stack)[source_id]
        touched = status["deliveries"] + status["failures"]
        return status if touched > before["deliveries"] + before["failures"] else None

    after = eventually(invoked, f"{source_id} invoking {notifier}")
    assert after["failures"] == before["failures"], after["last_error"]
    assert after["deliveries"] == before["deliveries"] + 1
    assert ses.get_send_quota()["SentLast24Hours"] == sent_before + 1


def test_a_stage_move_reaches_the_analytics_rollups_through_the_stream(
    local_stack: LocalStack,
) -> None:
    # Given a journey of its own (the stack's other tests move patients in the built-ins)
    journey = f"e2e-rollups-{uuid.uuid4().hex[:8]}"
    admin = make_token(org=DEMO_ORG, roles=("admin", "staff"))
    spec = {"stages": ["OPEN", "DONE"], "transitions": {"OPEN": ["DONE"]}}
    saved = local_stack.request(
        "POST", "/api/v1/journeys", token=admin, json={"name": journey, "journey_spec": spec}
    )
    assert saved.status == 201, saved.body

    # When a patient enrolls and moves on over HTTP
    path = "/api/v1/patients/e2e-rollup-patient/journey"
    for stage in ("OPEN", "DONE"):
        moved = local_stack.request(
            "PATCH", path, token=admin, json={"key": journey, "status": stage}
        )
        assert moved.status == 200, moved.body

    # Then the rollups function, fed by the log's stream, makes analytics count the stay
    def counted() -> dict[str, Any] | None:
        answer = local_stack.request("GET", f"/api/v1/analytics/journeys/{journey}", token=admin)
        stages = {s["stage"]: s for s in answer.json()["stages"]}
        done = stages["OPEN"]["conversions"] == [{"to_stage": "DONE", "count": 1, "rate": 1.0}]
        return stages if done and stages["DONE"]["in_stage_now"] == 1 else None

    stages = eventually(counted, "the move in the journey's analytics")
    assert (stages["OPEN"]["entries"], stages["OPEN"]["in_stage_now"]) == (1, 0)
    assert stages["OPEN"]["time_in_stage"]["ended"] == 1
