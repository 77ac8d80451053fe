"""The trust boundary, tried as an attacker would: forged organization ids and groups, costly
requests, events that would be lost or that fabricate a guard, and inputs past what DynamoDB
and Python can hold. Each must be refused with a 4xx naming the problem, never served, never
a 500, never silently dropped."""

from __future__ import annotations

import time
from typing import Any

import pytest

from journeys_core.clock import utc_now
from journeys_core.domain.timeline import TimelinePlan
from tests.conftest import ApiResult, invoke
from tests.support.events import api_event
from tests.support.patients import define_journey
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
