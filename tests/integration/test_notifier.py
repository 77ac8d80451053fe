"""The notifier: a stage timeout whose action sends email reaches the patient through SES,
with the rule's subject and the patient's name, journey and stage; the bus rule of
template.yaml hands it only those timeouts; a patient without email is skipped, not failed."""

from __future__ import annotations

import importlib
import os
from typing import Any

import pytest

from journeys_core.data import repositories
from local_stack.template import load_template
from tests.conftest import LambdaContext
from tests.support.bus import drain, queue_behind_rule
from tests.support.events import load_sample
from tests.support.patients import put_patient
from tests.support.stale_monitor import NOW, TIMEOUT_PATTERN, Clock, import_builtins, run_monitor

RETREAT_SUBJECT = "⏰ Recordatorio: Completa tu reserva del Retiro"


def notifier_pattern() -> dict[str, Any]:
    """The event pattern of the notifier's EventBridge rule, as template.yaml declares it."""
    events = load_template()["Resources"]["NotifierFunction"]["Properties"]["Events"]
    (rule,) = [e for e in events.values() if e["Type"] == "EventBridgeRule"]
    pattern: dict[str, Any] = rule["Properties"]["Pattern"]
    return pattern


@pytest.fixture
def clock(aws: None, monkeypatch: pytest.MonkeyPatch) -> Clock:
    import_builtins()
    return Clock(monkeypatch)


@pytest.fixture
def notifier_queue(aws: None) -> str:
    """What the notifier's rule delivers (an SQS queue stands in for the Lambda target)."""
    return queue_behind_rule("notifier-rule", notifier_pattern())


@pytest.fixture
def sent(aws: None) -> list[Any]:
    """SES's record of the emails sent (the sender is a verified identity)."""
    import boto3
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    boto3.client("ses").verify_email_identity(EmailAddress=os.environ["NOTIFICATION_SENDER"])
    messages: list[Any] = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
    return messages


def notify(event: dict[str, Any]) -> dict[str, Any]:
    module = importlib.import_module("functions.notifier.app")
    result: dict[str, Any] = module.handler(event, LambdaContext())
    return result


def results_of(event: dict[str, Any]) -> list[dict[str, Any]]:
    detail = event["detail"]
    recorded = repositories.system_events().get(detail["organization_id"], detail["event_id"])
    assert recorded is not None
    return recorded.results


def timeout_for(
    clock: Clock, queue: str, patient_id: str, key: str, stage: str, hours: int
) -> dict[str, Any]:
    """The one timeout the monitor emits for a patient in ``stage`` for ``hours``, as the
    notifier's rule delivers it."""
    clock.enroll(patient_id, key, stage, hours)
    run_monitor(NOW)
    (event,) = drain(queue)
    return event


def test_a_payment_reminder_reaches_the_patient_by_email(
    clock: Clock, notifier_queue: str, sent: list[Any]
) -> None:
    ana = put_patient("ana", {"display_name": "Ana García", "email": "ana@example.org"})
    assert ana.status == 201
    event = timeout_for(clock, notifier_queue, "ana", "retreat_ibiza_2025", "AWAITING_PAYMENT", 49)
    result = notify(event)

    assert result["outcome"] == "sent"
    (message,) = sent
    assert message.source == os.environ["NOTIFICATION_SENDER"]
    assert message.destinations["ToAddresses"] == ["ana@example.org"]
    assert message.subject == RETREAT_SUBJECT
    for words in ("Ana García", "retreat_ibiza_2025", "AWAITING_PAYMENT"):
        assert words in message.body
    (recorded,) = results_of(event)
    assert recorded["outcome"] == "sent"
    assert recorded["message_id"] == message.id
    assert "ana@example.org" not in str(recorded)  # results are logged: no address in them


def test_the_notifier_rule_lets_through_only_actions_that_send_email(
    clock: Clock, notifier_queue: str
) -> None:
    everything = queue_behind_rule("all-timeouts", TIMEOUT_PATTERN)
    clock.enroll("nudged", "despertar_8s", "ONBOARDING", 200)  # send_engagement_nudge
    clock.enroll("stagnant", "despertar_8s", "DEEP_DIVE", 400)  # alert_stagnation
    clock.enroll("no-birth-data", "carta_natal", "AWAITING_BIRTH_DATA", 30)  # request_birth_data

    run_monitor(NOW)

    assert len(drain(everything)) == 3
    assert sorted(e["detail"]["action"] for e in drain(notifier_queue)) == [
        "request_birth_data",
        "send_engagement_nudge",
    ]


def test_a_patient_without_an_email_is_recorded_as_skipped(
    clock: Clock, notifier_queue: str, sent: list[Any]
) -> None:
    # no profile at all
    event = timeout_for(clock, notifier_queue, "no-email", "yoga_urban_om", "AWAITING_WAIVER", 25)

    result = notify(event)

    assert result["outcome"] == "skipped"
    assert sent == []
    (recorded,) = results_of(event)
    assert recorded == {
        "step": "email",
        "action": "send_waiver_reminder",
        "outcome": "skipped",
        "detail": "the patient has no email address",
    }


def test_a_timeout_delivered_twice_sends_one_email(
    clock: Clock, notifier_queue: str, sent: list[Any]
) -> None:
    put_patient("bo", {"display_name": "Bo", "email": "bo@example.org"})
    event = timeout_for(clock, notifier_queue, "bo", "intake", "AWAITING_PAYMENT", 60)

    first, second = notify(event), notify(event)

    assert (first["outcome"], second["outcome"]) == ("sent", "duplicate")
    assert len(sent) == 1
    assert [r["outcome"] for r in results_of(event)] == ["sent"]


def test_the_sample_event_sends_its_email(clock: Clock, sent: list[Any]) -> None:
    put_patient("patient-0042", {"display_name": "Lola", "email": "lola@example.org"}, org="demo")

    result = notify(load_sample("notifier/payment-reminder"))

    assert result["outcome"] == "sent"
    assert [m.subject for m in sent] == [RETREAT_SUBJECT]


def test_a_redelivery_sends_nothing_even_after_another_writer_replaced_the_results(
    clock: Clock, notifier_queue: str, sent: list[Any]
) -> None:
    put_patient("cy", {"display_name": "Cy", "email": "cy@example.org"})
    event = timeout_for(clock, notifier_queue, "cy", "intake", "AWAITING_PAYMENT", 60)
    notify(event)
    detail = event["detail"]
    # The automation engine records its own results on the same event, replacing the list.
    repositories.system_events().set_results(
        detail["organization_id"], detail["event_id"], "processed", [{"rule_id": "rule-1"}]
    )

    again = notify(event)

    assert again["outcome"] == "duplicate"
    assert len(sent) == 1


def test_a_timeout_already_emailed_by_an_automation_rule_is_not_emailed_again(
    clock: Clock, notifier_queue: str, sent: list[Any]
) -> None:
    # Given a timeout whose reminder an automation rule (the playbook's "stage timeout →
    # reminder email") has already claimed
    put_patient("cy", {"display_name": "Cy", "email": "cy@example.org"})
    event = timeout_for(clock, notifier_queue, "cy", "intake", "AWAITING_PAYMENT", 60)
    detail = event["detail"]
    claims = repositories.email_claims()
    assert claims.claim_email(detail["organization_id"], detail["event_id"], "automation")

    # When the notifier gets the same timeout
    result = notify(event)

    # Then the patient gets no second email
    assert result["outcome"] == "duplicate"
    assert sent == []
    assert claims.claim_email(detail["organization_id"], detail["event_id"], "again") is False
    assert claims.claim_email(detail["organization_id"], "never-recorded", "x") is None
