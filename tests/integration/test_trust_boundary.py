"""The trust boundary, tried as an attacker would: forged organization ids and groups, costly
requests, events that would be lost or that fabricate a guard, and inputs past what DynamoDB
and Python can hold. Each must be refused with a 4xx naming the problem, never served, never
a 500, never silently dropped."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from journeys_core.clock import utc_now
from journeys_core.domain.timeline import TimelinePlan
from tests.conftest import ApiResult, invoke
from tests.support.automation import install_pipeline, rules_api
from tests.support.events import api_event
from tests.support.patients import define_journey, full_history, move
from tests.support.stale_monitor import Clock, import_builtins

FORGED_ORGS = ["org-a#", "org-a#JOURNEY#", "org/a", "o" * 1000, " org-a", "#"]


@pytest.mark.parametrize("org", FORGED_ORGS)
@pytest.mark.parametrize(
    ("function", "sample"),
    [
        ("patients", "patients/put-patient"),
        ("journeys", "journeys/list-journeys"),
        ("admin", "admin/check-stale-journeys-dry-run"),
        ("automation_rules", "automation_rules/list-rules"),
    ],
)
def test_a_token_whose_organization_id_is_not_an_id_is_refused(
    aws: None, org: str, function: str, sample: str
) -> None:
    answer = invoke(function, api_event(sample, org=org))

    assert answer.status == 403, answer.body
    assert "custom:org_id" in answer.body["message"]


def test_an_admin_of_an_organization_prefixed_like_another_sees_none_of_its_patients(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given organization org-a with a patient stuck past a stale rule
    clock = Clock(monkeypatch, origin=utc_now())
    import_builtins()
    clock.enroll("stuck", "intake", "AWAITING_PAYMENT", 49)

    # When admins of organizations whose id begins with org-a's run the check
    answers = [
        invoke("admin", api_event("admin/check-stale-journeys-dry-run", org=org))
        for org in ("org-a#", "org-a#JOURNEY#", "org")
    ]

    # Then none of them counts org-a's patient
    assert [a.status for a in answers] == [403, 403, 200]
    assert answers[2].body["processed"] == 0


@pytest.mark.parametrize("org", FORGED_ORGS)
def test_a_bus_event_for_an_organization_id_that_is_not_one_is_refused(org: str) -> None:
    from journeys_core.services.automation import InvalidDomainEvent, parse_bus_message

    message = {
        "id": "eb-1",
        "detail-type": "PAYMENT_SUCCEEDED",
        "source": "integration.pay",
        "time": "2026-11-21T10:00:00Z",
        "detail": {"organization_id": org, "patient_id": "p-1"},
    }

    with pytest.raises(InvalidDomainEvent, match="organization_id"):
        parse_bus_message(json.dumps(message))


@pytest.mark.parametrize(
    "groups", [["readers,admin"], "[readers,admin]", ["staff,admin"], "adminx", ["Admin"]]
)
def test_a_group_is_its_whole_name_and_unknown_names_grant_nothing(aws: None, groups: Any) -> None:
    event = api_event("admin/check-stale-journeys-dry-run", org="org-a")
    event["requestContext"]["authorizer"]["jwt"]["claims"]["cognito:groups"] = groups

    answer = invoke("admin", event)

    assert answer.status == 403, answer.body


HUNDRED_YEARS_OF_DAILY_EVENTS: dict[str, Any] = {
    "duration_days": 36500,
    "events": [{"event_id": f"e{i}", "repeat": {"every_days": 1}} for i in range(500)],
}


def timeline(name: str, roles: str | None = None, **body: Any) -> ApiResult:
    event = api_event(
        "journeys/generate-timeline",
        path_params={"name_or_id": name},
        body={"record_execution": False, **body},
        roles=roles,
        org="org-a",
    )
    return invoke("journeys", event)


def test_a_spec_that_could_schedule_millions_of_events_is_refused_when_saved(aws: None) -> None:
    body = {"name": "forever", "journey_spec": HUNDRED_YEARS_OF_DAILY_EVENTS}
    invoke("journeys", api_event("journeys/list-journeys"))  # a warm function: time the refusal
    began = time.perf_counter()

    answer = invoke("journeys", api_event("journeys/save-journey", body=body))

    assert time.perf_counter() - began < 1.0
    assert answer.status == 422, answer.body
    assert "events" in answer.body["message"] and "25000" in answer.body["message"]


def test_a_timeline_over_the_cap_is_refused_before_any_generation(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a journey whose timelines hold up to 26 events each
    spec = {"duration_days": 25, "events": [{"event_id": "daily", "repeat": {"every_days": 1}}]}
    define_journey("daily", spec)
    monkeypatch.setattr(
        TimelinePlan, "generate", lambda *a, **k: pytest.fail("generated before refusing")
    )
    began = time.perf_counter()

    # When a caller with no role asks for 1000 entities (up to 26,000 events)
    answer = timeline("daily", roles="", entity_ids=[f"p-{i}" for i in range(1000)])

    # Then it is refused at once, nothing generated
    assert time.perf_counter() - began < 1.0
    assert answer.status == 413, answer.body
    assert "26000" in answer.body["message"]


def test_a_journey_saved_before_the_bound_is_refused_at_the_timeline_not_generated(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a journey saved while specs were unbounded
    from journeys_core.domain import timeline as engine

    monkeypatch.setattr(engine, "MAX_EVENTS_PER_ENTITY", 10**9)
    define_journey("forever", HUNDRED_YEARS_OF_DAILY_EVENTS)
    monkeypatch.undo()
    began = time.perf_counter()

    # When anyone asks for its timeline
    answer = timeline("forever", entity_id="p-1")

    # Then the answer is a refusal within a second, not minutes of generation
    assert time.perf_counter() - began < 1.0
    assert answer.status == 413, answer.body


# -- event identity: the same id for another event is refused or recorded, never lost --------


def submit_event(body: dict[str, Any], roles: str | None = None) -> ApiResult:
    event = api_event("automation_rules/submit-event", body=body, org="org-a", roles=roles)
    return invoke("automation_rules", event)


def test_an_event_id_reused_for_another_patient_is_409_on_the_api(aws: None) -> None:
    first = {"type": "PAYMENT_SUCCEEDED", "patient_id": "p-1", "event_id": "pay-1"}

    assert submit_event(first).status == 202
    assert submit_event(first).status == 202  # a retry of the same event
    reused = submit_event({**first, "patient_id": "p-2"})
    changed = submit_event({**first, "payload": {"amount": 1}})

    assert (reused.status, changed.status) == (409, 409), reused.body
    assert "pay-1" in reused.body["message"]


def test_an_event_id_reused_on_the_bus_is_recorded_as_a_conflict(aws: None) -> None:
    from journeys_core.data import repositories
    from journeys_core.domain.automation import conflict_event_id, event_fingerprint

    # Given a first event processed under its id
    import_builtins()
    pipeline = install_pipeline()
    detail = {"organization_id": "org-a", "patient_id": "p-1", "event_id": "bk-1"}
    pipeline.put("BOOKING_CREATED", detail, source="journeys.api")
    pipeline.drain()

    # When another event for another patient arrives under the same id
    pipeline.put("BOOKING_CREATED", {**detail, "patient_id": "p-2"}, source="journeys.api")
    pipeline.drain()

    # Then it is recorded, as a conflict naming the event that holds the id
    fingerprint = event_fingerprint("BOOKING_CREATED", "p-2", {})
    events = repositories.system_events()
    recorded = events.get("org-a", conflict_event_id("bk-1", fingerprint))
    assert recorded is not None
    assert (recorded.status, recorded.patient_id) == ("conflict", "p-2")
    assert "p-1" in recorded.results[0]["detail"]
    assert pipeline.dead_letters() == []
    assert events.get("org-a", "bk-1").patient_id == "p-1"  # type: ignore[union-attr]


# -- provenance: guards count events from integrations, people override visibly ---------------


@pytest.fixture
def awaiting_payment(aws: None) -> str:
    define_journey()
    for stage in ("SCREENING_PENDING", "SCREENING_COMPLETED", "AWAITING_PAYMENT"):
        assert move("p-1", stage).status == 200
    return "p-1"


def test_staff_cannot_fabricate_the_event_a_guard_requires(awaiting_payment: str) -> None:
    fabricated = {"type": "PAYMENT_SUCCEEDED", "patient_id": awaiting_payment}

    refused = submit_event(fabricated, roles="staff")
    moved = move(awaiting_payment, "CONFIRMED", roles="staff")

    assert refused.status == 403
    assert moved.status == 409, moved.body
    assert "PAYMENT_SUCCEEDED" in moved.body["message"]


def test_an_admin_overrides_a_guard_with_a_reason_and_the_log_says_so(
    awaiting_payment: str,
) -> None:
    reason = "paid by bank transfer, receipt 8812"

    by_staff = move(
        awaiting_payment, "CONFIRMED", roles="staff", override_guard=True, reason=reason
    )
    without_reason = move(awaiting_payment, "CONFIRMED", roles="admin", override_guard=True)
    by_admin = move(
        awaiting_payment, "CONFIRMED", roles="admin", sub="ana", override_guard=True, reason=reason
    )

    assert (by_staff.status, without_reason.status, by_admin.status) == (403, 422, 200)
    entry = full_history(awaiting_payment)[-1]
    assert (entry["to_stage"], entry["actor"], entry["reason"]) == ("CONFIRMED", "ana", reason)
    assert entry["guard_overridden"] == ["PAYMENT_SUCCEEDED"]


def test_every_recorded_event_names_its_source_and_sender(aws: None) -> None:
    from journeys_core.data import repositories

    pipeline = install_pipeline()
    body = {"type": "BOOKING_CREATED", "patient_id": "p-1", "event_id": "bk-7"}
    event = api_event("automation_rules/submit-event", body=body, org="org-a", sub="bookings-1")

    assert invoke("automation_rules", event).status == 202
    pipeline.drain()

    recorded = repositories.system_events().get("org-a", "bk-7")
    assert recorded is not None
    assert (recorded.source, recorded.sender) == ("journeys.api", "bookings-1")


# -- sizes and ranges as DynamoDB and Python count them -------------------------------------

EMOJI = "\U0001f600"  # 4 bytes in UTF-8, 12 as a JSON escape (two surrogates)
NEAR_LIMIT = EMOJI * 60_000  # 240,000 bytes: under the 256 KiB body limit
STAGES = {"stages": ["A"]}


def raw(body: dict[str, Any]) -> str:
    """The body as a client sends it: UTF-8, not escaped."""
    return json.dumps(body, ensure_ascii=False)


def test_bodies_of_four_byte_characters_are_stored_whole_not_a_500(aws: None) -> None:
    define_journey("carrier", {"events": [{"event_id": "visit"}]})
    email = {"subject": "hi", "template": EMOJI * 10_000}
    requests = {
        "profile": (
            "patients",
            api_event(
                "patients/put-patient",
                path_params={"patient_id": "p-1"},
                raw_body=raw({"metadata": {"note": NEAR_LIMIT}}),
                org="org-a",
            ),
        ),
        "journey": (
            "journeys",
            api_event(
                "journeys/save-journey",
                raw_body=raw(
                    {
                        "name": "emoji",
                        "journey_spec": {"stages": ["A"]},
                        "metadata": {"n": NEAR_LIMIT},
                    }
                ),
                org="org-a",
            ),
        ),
        "execution": (
            "journeys",
            api_event(
                "journeys/record-execution",
                path_params={"name_or_id": "carrier"},
                raw_body=raw({"entity_id": "p-1", "metadata": {"n": NEAR_LIMIT}}),
                org="org-a",
            ),
        ),
        "rule": (
            "automation_rules",
            api_event(
                "automation_rules/create-rule",
                raw_body=raw(
                    {
                        "name": "emoji",
                        "trigger_event": "BOOKING_CREATED",
                        "actions": [{"type": "send_email", "params": email}] * 6,
                    }
                ),
                org="org-a",
            ),
        ),
    }

    answers = {name: invoke(function, event) for name, (function, event) in requests.items()}

    assert {name: a.status for name, a in answers.items()} == {
        "profile": 201,
        "journey": 201,
        "execution": 201,
        "rule": 201,
    }, {name: a.body for name, a in answers.items() if a.status >= 500}
    assert answers["profile"].body["metadata"]["note"] == NEAR_LIMIT


def test_an_item_dynamodb_could_not_hold_is_413_naming_the_field() -> None:
    from journeys_core.data.codec import to_item
    from journeys_core.errors import PayloadTooLarge

    with pytest.raises(PayloadTooLarge, match=r"^metadata: .* over the 400000"):
        to_item({"pk": "ORG#a#PATIENT#p", "metadata_json": "x" * 400_000})


@pytest.mark.parametrize("start", ["9999-01-01", "1899-12-31", "2201-01-01"])
def test_a_timeline_starting_outside_1900_to_2200_is_422(aws: None, start: str) -> None:
    define_journey("carrier", {"events": [{"event_id": "visit"}]})

    answer = timeline("carrier", entity_id="p-1", start_date=start)

    assert answer.status == 422, answer.body
    assert "start_date" in answer.body["message"]


def test_a_journey_that_runs_past_year_9999_is_422_not_a_500(aws: None) -> None:
    far = [{"event_id": f"e{i}", "delay": {"days": 36500}} for i in range(100)]
    define_journey("far", {"events": far})

    answer = timeline("far", entity_id="p-1", start_date="2200-01-01")

    assert answer.status == 422, answer.body


@pytest.mark.parametrize(
    "query",
    [
        {"to": "9999-12-31T23:59:59-12:00"},
        {"from": "0001-01-01T00:00:00+14:00"},
        {"from": "1800-01-01T00:00:00Z", "to": "1800-02-01T00:00:00Z"},
    ],
)
def test_an_analytics_period_outside_1900_to_2200_is_422(aws: None, query: dict[str, str]) -> None:
    define_journey()
    event = api_event(
        "analytics/journey-analytics",
        path_params={"key": "retreat_ibiza_2025"},
        query=query,
        org="org-a",
    )

    answer = invoke("analytics", event)

    assert answer.status == 422, answer.body


# -- rule fan-out is bounded per inbound event -------------------------------------------------

TEN_EMITS = [{"type": "emit_event", "params": {"type": "AUDIT_NOTE"}}] * 10


def fan_out_rule(n: int) -> dict[str, Any]:
    return {"name": f"fan-{n}", "trigger_event": "BOOKING_CREATED", "actions": TEN_EMITS}


def test_a_trigger_takes_at_most_20_active_rules(aws: None) -> None:
    for n in range(20):
        assert rules_api("create-rule", body=fan_out_rule(n)).status == 201

    one_more = rules_api("create-rule", body=fan_out_rule(20))
    inactive = rules_api("create-rule", body={**fan_out_rule(21), "is_active": False})

    assert one_more.status == 409, one_more.body
    assert "trigger_event" in one_more.body["message"]
    assert inactive.status == 201


def test_one_event_runs_at_most_20_rules_and_emits_at_most_10_events(aws: None) -> None:
    from journeys_core.data import repositories
    from journeys_core.models.automation import AutomationRuleCreate
    from journeys_core.services.automation_rules import stored_rule

    # Given 22 active rules on one trigger (two saved before the limit), each emitting 10
    for n in range(20):
        assert rules_api("create-rule", body=fan_out_rule(n)).status == 201
    for n in (20, 21):
        body = AutomationRuleCreate.model_validate(fan_out_rule(n))
        repositories.rules().create(stored_rule("org-a", f"rule-0000000{n - 20}", body))
    pipeline = install_pipeline()

    # When one event arrives
    detail = {"organization_id": "org-a", "patient_id": "p-1", "event_id": "bk-fan"}
    pipeline.put("BOOKING_CREATED", detail)
    pipeline.drain()

    # Then 10 events left, and everything else is recorded as refused, nothing dropped
    recorded = repositories.system_events().get("org-a", "bk-fan")
    assert recorded is not None
    outcomes = [result["outcome"] for result in recorded.results]
    assert outcomes.count("emitted") == 10
    assert outcomes.count("refused") == 20 * 10 - 10 + 2
    assert sum("more than 20 rules" in r["detail"] for r in recorded.results) == 2
