"""The trust boundary, tried as an attacker would: forged organization ids and groups, costly
requests, events that would be lost or that fabricate a guard, and inputs past what DynamoDB
and Python can hold. Each must be refused with a 4xx naming the problem, never served, never
a 500, never silently dropped."""

from __future__ import annotations

from typing import Any

import pytest

from journeys_core.clock import utc_now
from tests.conftest import invoke
from tests.support.events import api_event
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
