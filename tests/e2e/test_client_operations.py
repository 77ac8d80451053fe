"""The client's calls beyond the guide's manager and patients, against the local stack over
real HTTP: automation rules and the playbook, analytics, the stale-journey check, journey
templates, and the iterators that stream a long history or stage page by page.
``tests/unit/test_client_contract.py`` checks that the client has a method for every
operation; these check that each one works against the service."""

from __future__ import annotations

import itertools

import pytest
from journeys_client import (
    AutomationRule,
    JourneyAnalytics,
    JourneyLogEntry,
    JourneysClient,
    JourneyTemplate,
    NotFoundError,
    PlaybookResult,
    StageMember,
    StaleCheckResult,
)

from tests.e2e.conftest import MakeClient, eventually
from tests.e2e.test_client import BOOKING, CountingTransport

pytestmark = pytest.mark.e2e

CONFIRM_ON_PAYMENT = {
    "type": "update_journey_status",
    "params": {"key": "booking", "status": "CONFIRMED"},
}


def test_automation_rules_from_creation_to_deletion(make_client: MakeClient) -> None:
    client = make_client(page_size=1)
    client.journeys.save_journey(name="booking", journey_spec=BOOKING)

    # Create, read back, list
    rule = client.rules.create_rule(
        "confirm on payment",
        "PAYMENT_SUCCEEDED",
        [CONFIRM_ON_PAYMENT],
        [{"path": "payload.amount", "op": "gte", "value": 100}],
        priority=10,
    )
    other = client.rules.create_rule("cancel", "BOOKING_CANCELLED", [CONFIRM_ON_PAYMENT])
    assert isinstance(rule, AutomationRule)
    assert (rule.trigger_event, rule.priority, rule.version, rule.is_active) == (
        "PAYMENT_SUCCEEDED",
        10,
        1,
        True,
    )
    assert [(c.path, c.op, c.value) for c in rule.conditions] == [("payload.amount", "gte", 100)]
    assert client.rules.get_rule(rule.id) == rule
    assert {r.id for r in client.rules.iter_rules()} == {rule.id, other.id}  # one per page
    assert len(client.rules.list_rules(limit=1)) == 1

    # Change: fields given replace the rule's, the version goes up
    changed = client.rules.update_rule(rule.id, priority=20, is_active=False)
    assert (changed.priority, changed.is_active, changed.version) == (20, False, 2)
    assert changed.conditions == rule.conditions

    # Delete: True, then False as the guide's delete_journey answers
    assert client.rules.delete_rule(rule.id) is True
    assert client.rules.delete_rule(rule.id) is False
    with pytest.raises(NotFoundError):
        client.rules.get_rule(rule.id)


def test_the_playbook_installs_once(client: JourneysClient) -> None:
    assert client.journeys.import_builtin_journeys() > 0

    first = client.rules.import_playbook()
    again = client.rules.import_playbook()

    assert isinstance(first, PlaybookResult)
    assert first.installed > 0
    assert all(rule.origin == "playbook" for rule in first.items)
    assert (again.installed, again.already_present) == (0, first.installed)


def test_journey_templates_analytics_and_the_stale_check(client: JourneysClient) -> None:
    client.journeys.save_journey(name="booking", journey_spec=BOOKING)
    for patient_id in ("p-1", "p-2"):
        client.patients.move(patient_id, "booking", "AWAITING_PAYMENT")
    client.patients.move("p-1", "booking", "CONFIRMED")

    (template,) = client.journeys.list_journey_templates()
    assert isinstance(template, JourneyTemplate)
    assert (template.key, template.allowed_stages, template.initial_stage) == (
        "booking",
        BOOKING["stages"],
        "AWAITING_PAYMENT",
    )

    # Analytics counts what the log's stream has rolled up: a moment after the moves.
    def counted() -> JourneyAnalytics | None:
        funnel = client.analytics.journey("booking")
        by_stage = {stage.stage: stage for stage in funnel.stages}
        done = (by_stage["AWAITING_PAYMENT"].entries, by_stage["CONFIRMED"].entries) == (2, 1)
        return funnel if done else None

    funnel = eventually(counted, "the three moves in the journey's analytics")
    assert isinstance(funnel, JourneyAnalytics)
    by_stage = {stage.stage: stage for stage in funnel.stages}
    assert (funnel.current.enrolled, by_stage["CONFIRMED"].in_stage_now) == (2, 1)
    assert funnel.period.start < funnel.period.end

    check = client.admin.check_stale_journeys(dry_run=True)
    assert isinstance(check, StaleCheckResult)
    assert (check.dry_run, check.emitted, check.rules_triggered) == (True, 0, {})


def test_history_and_in_stage_stream_page_by_page(make_client: MakeClient) -> None:
    # Given a patient with three log entries and three patients in a stage, one per page
    transport = CountingTransport()
    client = make_client(page_size=1, transport=transport)
    client.journeys.save_journey(name="booking", journey_spec=BOOKING)
    for stage in ("AWAITING_PAYMENT", "CONFIRMED", "CANCELLED"):
        client.patients.move("p-1", "booking", stage)
    for patient_id in ("p-2", "p-3", "p-4"):
        client.patients.move(patient_id, "booking", "AWAITING_PAYMENT")

    # When the first entry of each is taken, one page is read, not all of them
    transport.requests.clear()
    history = client.patients.iter_history("p-1", "booking")
    first: JourneyLogEntry = next(history)
    assert (first.to_stage, len(transport.requests)) == ("AWAITING_PAYMENT", 1)
    members = client.patients.iter_in_stage("booking", "AWAITING_PAYMENT")
    assert isinstance(next(members), StageMember)
    assert len(transport.requests) == 2

    # And reading on fetches the next pages as they are needed
    assert [entry.to_stage for entry in history] == ["CONFIRMED", "CANCELLED"]
    assert len(list(itertools.islice(members, 5))) == 2
    history_pages = [r for r in transport.requests if r.url.path.endswith("/history")]
    assert len(history_pages) == 3
