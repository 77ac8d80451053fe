"""GET /api/v1/admin/stale-journeys/check: an admin runs the monitor now for their own
organization, or asks what it would do (dry run) without anything being written or sent."""

from __future__ import annotations

from typing import Any

import pytest

from journeys_core.clock import utc_now
from tests.conftest import ApiResult, invoke
from tests.support.bus import drain, queue_behind_rule
from tests.support.events import api_event
from tests.support.patients import define_journey
from tests.support.stale_monitor import TIMEOUT_PATTERN, Clock, import_builtins

FOLLOW_UP: dict[str, Any] = {
    "stages": ["WAITING", "DONE"],
    "stale_rules": [{"stage": "WAITING", "max_hours": 2, "action": "send_follow_up"}],
}


@pytest.fixture
def clock(aws: None, monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Enrollments are made relative to the real time: the check runs "now"."""
    return Clock(monkeypatch, origin=utc_now())


@pytest.fixture
def bus(aws: None) -> str:
    return queue_behind_rule("timeouts-caught", TIMEOUT_PATTERN)


def check(org: str = "org-a", roles: str | None = None, **query: str) -> ApiResult:
    sample = "admin/check-stale-journeys-dry-run" if query else "admin/check-stale-journeys"
    event = api_event(sample, org=org, roles=roles, **({"query": query} if query else {}))
    return invoke("admin", event)


def test_only_an_admin_may_run_the_check(aws: None) -> None:
    refused = check(roles="staff")

    assert refused.status == 403
    assert refused.body["code"] == "forbidden"


def test_a_dry_run_reports_what_would_time_out_and_changes_nothing(clock: Clock, bus: str) -> None:
    import_builtins()
    define_journey("follow-up", FOLLOW_UP)
    clock.enroll("a", "intake", "AWAITING_PAYMENT", 49)
    clock.enroll("b", "intake", "AWAITING_PAYMENT", 50)
    clock.enroll("c", "follow-up", "WAITING", 3)
    clock.enroll("d", "follow-up", "WAITING", 1)  # not stuck yet

    dry = [check(dry_run="true") for _ in range(2)]

    expected = {"intake.AWAITING_PAYMENT": 2, "follow-up.WAITING": 1}
    for answer in dry:
        assert answer.status == 200, answer.body
        assert answer.body["processed"] == 3
        assert answer.body["rules_triggered"] == expected
        assert answer.body["dry_run"] is True
    assert drain(bus) == []
    # Nothing was claimed: the real check emits exactly what the dry run announced.
    real = check()
    assert (real.body["emitted"], real.body["rules_triggered"]) == (3, expected)
    assert len(drain(bus)) == 3


def test_the_check_touches_the_callers_organization_only(clock: Clock, bus: str) -> None:
    for org in ("org-a", "org-b"):
        define_journey("follow-up", FOLLOW_UP, org=org)
        clock.enroll(f"{org}-patient", "follow-up", "WAITING", 5, org=org)

    answer = check(org="org-a")

    assert answer.body["processed"] == 1
    assert [e["detail"]["organization_id"] for e in drain(bus)] == ["org-a"]


def test_a_second_check_finds_the_same_stuck_patients_and_emits_nothing(
    clock: Clock, bus: str
) -> None:
    define_journey("follow-up", FOLLOW_UP)
    clock.enroll("p-1", "follow-up", "WAITING", 2 + 1 / 60)
    first = check()

    second = check()

    assert (first.body["emitted"], second.body["emitted"]) == (1, 0)
    assert second.body["processed"] == 1
    assert second.body["rules_triggered"] == {}
    assert len(drain(bus)) == 1
