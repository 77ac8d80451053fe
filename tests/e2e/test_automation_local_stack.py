"""The automation engine on the local stack, over real HTTP: an admin installs the default
playbook, staff submit a domain event (POST /events), and the event travels as in AWS — the
bus, the rule, the automation queue, its poller, the automation function — to a stage move
that shows on the patient, in its history and as JOURNEY_STAGE_CHANGED on the bus."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from local_stack.tokens import make_token
from tests.e2e.conftest import LocalStack
from tests.e2e.test_local_events import _eventually, bus_listener  # noqa: F401 - a fixture

pytestmark = pytest.mark.e2e

KEY = "intake"


@pytest.fixture
def org(local_stack: LocalStack) -> str:
    """A fresh organization with the built-in journeys and the default playbook."""
    name = f"e2e-auto-{uuid.uuid4().hex[:8]}"
    admin = make_token(org=name, roles=("admin",))
    imported = local_stack.request("POST", "/api/v1/journeys/import-builtin", token=admin)
    assert imported.status == 200, imported.body
    playbook = local_stack.request("POST", "/api/v1/automation-rules/import-playbook", token=admin)
    assert playbook.status == 200, playbook.body
    assert playbook.json()["installed"] > 0
    return name


def _stage(local_stack: LocalStack, org: str, patient: str) -> str | None:
    token = make_token(org=org, roles=("staff",))
    reply = local_stack.request("GET", f"/api/v1/patients/{patient}", token=token)
    assert reply.status == 200, reply.body
    stage: str | None = reply.json()["journey_status"].get(KEY)
    return stage


def _engine_deliveries(local_stack: LocalStack) -> int:
    """Messages the automation queue's poller has handed to the automation function."""
    reply = local_stack.request("GET", "/_local/events/status")
    assert reply.status == 200
    return sum(
        int(status["records"])
        for status in reply.json()["sources"].values()
        if status["function"] == "AutomationFunction" and status["kind"] == "SQS"
    )


def test_a_submitted_event_moves_the_patient_through_the_whole_pipeline(
    local_stack: LocalStack,
    org: str,
    bus_listener: Callable[[dict[str, Any]], Any],  # noqa: F811 - the fixture imported above
) -> None:
    patient = f"p-{uuid.uuid4().hex[:8]}"
    staff = make_token(org=org, roles=("staff",), sub="nurse-e2e")
    changes = bus_listener(
        {"detail-type": ["JOURNEY_STAGE_CHANGED"], "detail": {"patient_id": [patient]}}
    )
    enrolled = local_stack.request(
        "PATCH",
        f"/api/v1/patients/{patient}/journey",
        token=staff,
        json={"key": KEY, "status": "SCREENING_PENDING"},
    )
    assert enrolled.status == 200, enrolled.body

    integration = make_token(org=org, roles=("integration",), sub="forms-e2e")
    accepted = local_stack.request(
        "POST",
        "/api/v1/events",
        token=integration,
        json={"type": "FORM_SUBMISSION_COMPLETED", "patient_id": patient, "payload": {"f": 1}},
    )

    assert accepted.status == 202, accepted.body
    event_id = accepted.json()["event_id"]
    _eventually(
        lambda: _stage(local_stack, org, patient) == "SCREENING_COMPLETED",
        "the automation engine moving the patient",
    )
    history = local_stack.request(
        "GET", f"/api/v1/patients/{patient}/journeys/{KEY}/history", token=staff
    ).json()["items"]
    assert [(e["to_stage"], e["actor"], e["trigger_event_id"]) for e in history] == [
        ("SCREENING_PENDING", "nurse-e2e", None),
        ("SCREENING_COMPLETED", "automation", event_id),
    ]
    announced = _eventually(lambda: len(changes()) >= 2 and changes(), "JOURNEY_STAGE_CHANGED")
    assert {e["detail"]["trigger_event_id"] for e in announced} == {None, event_id}


def test_a_blocked_patient_is_not_unblocked_by_later_events(
    local_stack: LocalStack, org: str
) -> None:
    patient = f"p-{uuid.uuid4().hex[:8]}"
    staff = make_token(org=org, roles=("staff",))
    integration = make_token(org=org, roles=("integration",))

    def submit(event_type: str, **payload: Any) -> str:
        reply = local_stack.request(
            "POST",
            "/api/v1/events",
            token=integration,
            json={"type": event_type, "patient_id": patient, "payload": payload},
        )
        assert reply.status == 202, reply.body
        return str(reply.json()["event_id"])

    local_stack.request(
        "PATCH",
        f"/api/v1/patients/{patient}/journey",
        token=staff,
        json={"key": KEY, "status": "SCREENING_PENDING"},
    )
    submit("RISK_ANALYSIS_COMPLETED", risk_level="critical")
    _eventually(
        lambda: _stage(local_stack, org, patient) == "BLOCKED_HIGH_RISK", "the patient blocked"
    )

    delivered_before = _engine_deliveries(local_stack)

    submit("FORM_SUBMISSION_COMPLETED")
    submit("BOOKING_CANCELLED")

    _eventually(
        lambda: _engine_deliveries(local_stack) >= delivered_before + 2,
        "the automation function receiving both events",
    )
    assert _stage(local_stack, org, patient) == "BLOCKED_HIGH_RISK"
