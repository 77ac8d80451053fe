"""The automation rules API and POST /events, handler in-process on moto (DESIGN §4: the
/automation-rules and /events rows): rules checked on save, admin only, per tenant; the
default playbook; events accepted onto the bus and processed from there."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import invoke
from tests.support.automation import (
    catch_on_bus,
    import_builtin_journeys,
    import_playbook,
    install_pipeline,
    rules_api,
)
from tests.support.bus import drain
from tests.support.events import api_event, load_sample
from tests.support.patients import define_journey, full_history, move

pytestmark = pytest.mark.usefixtures("aws")

INTAKE_CANCEL: dict[str, Any] = {
    "name": "cancelled booking ends the intake",
    "trigger_event": "BOOKING_CANCELLED",
    "conditions": [{"path": "payload.reason", "op": "ne", "value": "rescheduled"}],
    "actions": [
        {"type": "update_journey_status", "params": {"key": "intake", "status": "CANCELLED"}}
    ],
}


@pytest.fixture
def builtins(aws: None) -> None:
    import_builtin_journeys()


def create(body: dict[str, Any], **options: Any) -> Any:
    return rules_api("create-rule", body=body, **options)


# -- rules: create, read, change, delete -------------------------------------------------------


@pytest.mark.usefixtures("builtins")
def test_an_admin_creates_reads_changes_and_deletes_a_rule() -> None:
    created = create(INTAKE_CANCEL)
    assert created.status == 201, created.body
    rule = created.body
    assert rule["id"].startswith("rule-")
    assert (rule["version"], rule["priority"], rule["is_active"]) == (1, 100, True)
    assert rule["origin"] == "custom"
    assert rules_api("get-rule", rule_id=rule["id"]).body == rule
    assert [r["id"] for r in rules_api("list-rules").body["items"]] == [rule["id"]]

    changed = rules_api("update-rule", rule_id=rule["id"], body={"priority": 7})

    assert changed.status == 200, changed.body
    assert changed.body["priority"] == 7
    assert changed.body["version"] == 2
    assert changed.body["conditions"] == rule["conditions"]  # omitted fields keep their value
    assert rules_api("delete-rule", rule_id=rule["id"]).status == 204
    assert rules_api("get-rule", rule_id=rule["id"]).status == 404
    assert rules_api("delete-rule", rule_id=rule["id"]).status == 404


@pytest.mark.usefixtures("builtins")
def test_rules_are_listed_page_by_page() -> None:
    ids = {create({**INTAKE_CANCEL, "name": f"rule {i}"}).body["id"] for i in range(5)}

    first = rules_api("list-rules", query={"limit": "3"}).body
    second = rules_api("list-rules", query={"limit": "3", "cursor": first["next_cursor"]}).body

    assert len(first["items"]) == 3
    assert second["next_cursor"] is None
    assert {r["id"] for r in first["items"] + second["items"]} == ids


@pytest.mark.usefixtures("builtins")
@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"trigger_event": "SOMETHING_HAPPENED"}, "trigger_event"),
        ({"actions": [{"type": "call_a_webhook", "params": {}}]}, "actions.0"),
        ({"actions": []}, "actions"),
        (
            {
                "actions": [
                    {"type": "update_journey_status", "params": {"key": "nope", "status": "X"}}
                ]
            },
            "actions.0.params.key: no journey 'nope'",
        ),
        (
            {
                "actions": [
                    {
                        "type": "update_journey_status",
                        "params": {"key": "intake", "status": "PAID_IN_FULL"},
                    }
                ]
            },
            "actions.0.params.status: 'PAID_IN_FULL' is not a stage of journey 'intake'",
        ),
        (
            {"actions": [{"type": "emit_event", "params": {"type": "BOOKING_CANCELLED"}}]},
            "must not emit its own trigger",
        ),
        (
            {"actions": [{"type": "emit_event", "params": {"type": "JOURNEY_STAGE_TIMEOUT"}}]},
            "emitted by the service itself",
        ),
        ({"conditions": [{"path": "payload.reason", "op": "in", "value": "x"}]}, "in takes"),
        ({"conditions": [{"path": "payload..reason", "op": "exists"}]}, "conditions.0.path"),
        ({"conditions": [{"path": "payload.amount", "op": "gt"}]}, "gt needs a value"),
        ({"priority": -1}, "priority"),
    ],
)
def test_a_rule_the_engine_could_not_run_is_refused_naming_the_problem(
    change: dict[str, Any], complaint: str
) -> None:
    result = create({**INTAKE_CANCEL, **change})

    assert result.status == 422, result.body
    assert complaint in result.body["message"]
    assert rules_api("list-rules").body["items"] == []


@pytest.mark.usefixtures("builtins")
def test_a_change_is_checked_like_a_new_rule() -> None:
    rule = create(INTAKE_CANCEL).body
    bad_stage = [{"type": "update_journey_status", "params": {"key": "intake", "status": "GONE"}}]

    refused = rules_api("update-rule", rule_id=rule["id"], body={"actions": bad_stage})
    emptied = rules_api("update-rule", rule_id=rule["id"], body={"name": None})

    assert refused.status == 422
    assert "'GONE' is not a stage of journey 'intake'" in refused.body["message"]
    assert emptied.status == 422
    assert rules_api("get-rule", rule_id=rule["id"]).body == rule


@pytest.mark.usefixtures("builtins")
def test_rules_are_for_admins_of_their_own_organization() -> None:
    rule = create(INTAKE_CANCEL).body

    assert create(INTAKE_CANCEL, roles="staff").status == 403
    assert rules_api("list-rules", roles="staff").status == 403
    assert rules_api("get-rule", rule_id=rule["id"], org="org-b").status == 404
    assert rules_api("delete-rule", rule_id=rule["id"], org="org-b").status == 404
    assert rules_api("list-rules", org="org-b").body["items"] == []
    unsigned = api_event("automation_rules/list-rules")
    del unsigned["requestContext"]["authorizer"]
    assert invoke("automation_rules", unsigned).status == 401


def test_a_rule_id_that_is_not_one_is_refused() -> None:
    assert rules_api("get-rule", rule_id="rule-NOT-HEX").status == 422


# -- the default playbook ----------------------------------------------------------------------


@pytest.mark.usefixtures("builtins")
def test_the_playbook_installs_the_documents_table_for_the_archetypes_present() -> None:
    result = import_playbook().body

    names = sorted(rule["name"] for rule in result["items"])
    assert result["installed"] == len(names) == 19
    assert all(rule["origin"] == "playbook" for rule in result["items"])
    assert [n for n in names if n.startswith("intake:")] == [
        "intake: booking cancelled -> CANCELLED",
        "intake: form submitted -> SCREENING_COMPLETED",
        "intake: payment succeeded -> CONFIRMED",
        "intake: risk analysis high or critical -> BLOCKED_HIGH_RISK",
        "intake: stage timeout -> reminder email",
    ]
    # yoga_urban_om has no SCREENING_COMPLETED nor BLOCKED_HIGH_RISK: no rule moves to them
    assert [n for n in names if n.startswith("yoga_urban_om:")] == [
        "yoga_urban_om: booking cancelled -> CANCELLED",
        "yoga_urban_om: payment succeeded -> CONFIRMED",
        "yoga_urban_om: stage timeout -> reminder email",
    ]


@pytest.mark.usefixtures("builtins")
def test_importing_the_playbook_again_installs_only_what_is_missing() -> None:
    first = import_playbook().body
    kept = next(r for r in first["items"] if r["name"].startswith("intake: booking"))
    gone = next(r for r in first["items"] if r["name"].startswith("intake: form"))
    rules_api("update-rule", rule_id=kept["id"], body={"priority": 1})
    rules_api("delete-rule", rule_id=gone["id"])

    again = import_playbook().body

    assert (again["installed"], again["already_present"]) == (1, 18)
    assert [r["id"] for r in again["items"]] == [gone["id"]]
    assert rules_api("get-rule", rule_id=kept["id"]).body["priority"] == 1


def test_the_playbook_follows_the_organizations_own_definitions() -> None:
    define_journey("intake", {"stages": ["SCREENING_PENDING", "CANCELLED"]})
    define_journey("my-own-journey", {"stages": ["SCREENING_PENDING", "SCREENING_COMPLETED"]})

    result = import_playbook().body

    assert sorted(r["name"] for r in result["items"]) == [
        "intake: booking cancelled -> CANCELLED",
        "intake: stage timeout -> reminder email",
    ]


def test_an_organization_without_the_archetypes_gets_no_rules() -> None:
    assert import_playbook().body == {"installed": 0, "already_present": 0, "items": []}


def test_only_admins_install_the_playbook() -> None:
    assert rules_api("import-playbook", roles="staff").status == 403


# -- POST /events ----------------------------------------------------------------------------


def submit(body: dict[str, Any], org: str = "org-a", **options: Any) -> Any:
    """POST /events as an integration (the sample's caller) unless ``roles`` say otherwise."""
    event = api_event("automation_rules/submit-event", body=body, org=org, **options)
    return invoke("automation_rules", event)


@pytest.mark.usefixtures("builtins")
def test_an_integration_submits_an_event_that_moves_its_patient() -> None:
    pipeline = install_pipeline()
    import_playbook()
    move("p-1", "SCREENING_PENDING", key="intake")

    accepted = submit({"type": "FORM_SUBMISSION_COMPLETED", "patient_id": "p-1"})

    assert accepted.status == 202, accepted.body
    event_id = accepted.body["event_id"]
    assert accepted.body == {
        "event_id": event_id,
        "type": "FORM_SUBMISSION_COMPLETED",
        "status": "accepted",
    }
    pipeline.drain()
    entry = full_history("p-1", "intake")[-1]
    assert (entry["to_stage"], entry["trigger_event_id"]) == ("SCREENING_COMPLETED", event_id)


def test_an_event_is_put_on_the_bus_for_the_callers_organization() -> None:
    import os

    listener = catch_on_bus(os.environ["EVENT_BUS_NAME"], ["PAYMENT_SUCCEEDED"])
    body = {
        "type": "PAYMENT_SUCCEEDED",
        "patient_id": "p-9",
        "event_id": "pay-9",
        "payload": {"amount": 30},
    }

    assert submit(body, org="org-b", sub="clerk-3").status == 202

    (event,) = drain(listener)
    assert event["source"] == "journeys.api"
    assert event["detail"] == {
        "organization_id": "org-b",
        "patient_id": "p-9",
        "event_id": "pay-9",
        "payload": {"amount": 30},
        "submitted_by": "clerk-3",
    }


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"type": "PAYMENT_REFUNDED_MAYBE", "patient_id": "p-1"}, 422),
        ({"type": "JOURNEY_STAGE_TIMEOUT", "patient_id": "p-1"}, 422),
        ({"type": "PAYMENT_SUCCEEDED", "patient_id": "not a patient id"}, 422),
        ({"type": "PAYMENT_SUCCEEDED", "patient_id": "p-1", "event_id": "a#b"}, 422),
        ({"type": "PAYMENT_SUCCEEDED", "patient_id": "p-1", "payload": "x"}, 422),
        ({"type": "PAYMENT_SUCCEEDED"}, 422),
    ],
)
def test_an_event_the_engine_could_not_take_is_refused_before_the_bus(
    body: dict[str, Any], status: int
) -> None:
    import os

    listener = catch_on_bus(os.environ["EVENT_BUS_NAME"], ["PAYMENT_SUCCEEDED"])

    assert submit(body).status == status
    assert drain(listener) == []


@pytest.mark.parametrize("roles", ["viewer", "staff", "admin", "[admin staff]"])
def test_submitting_events_needs_the_integration_group(roles: str) -> None:
    answer = submit({"type": "PAYMENT_SUCCEEDED", "patient_id": "p-1"}, roles=roles)

    assert answer.status == 403
    assert "integration" in answer.body["message"]


# -- the sample events -------------------------------------------------------------------------


def test_the_sample_events_answer_as_documented() -> None:
    import_builtin_journeys("demo")

    def run(sample: str) -> int:
        return invoke("automation_rules", load_sample(f"automation_rules/{sample}")).status

    assert run("list-rules") == 200
    assert run("create-rule") == 201
    assert run("create-rule-unknown-stage") == 422
    assert run("import-playbook") == 200
    assert run("get-rule") == 404  # the sample names a rule the demo organization lacks
    assert run("update-rule") == 404
    assert run("delete-rule") == 404
    assert run("submit-event") == 202
    assert run("submit-event-unknown-type") == 422
