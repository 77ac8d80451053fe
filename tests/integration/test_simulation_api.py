"""POST /journeys/{name_or_id}/simulate, handler in-process on moto: the built-in retreat with
the imported playbook, a draft and draft rules, the comparison with the live version, roles,
tenants, reproducibility, and not one AWS write while it runs."""

from __future__ import annotations

import copy
import json
from collections import Counter
from typing import Any

import httpx
import pytest

from journeys_core.data import aws
from tests.conftest import ApiResult, invoke, invoke_sample
from tests.support.automation import import_builtin_journeys, import_playbook
from tests.support.events import load_sample
from tests.support.patients import update_journey

KEY = "retreat_ibiza_2025"
pytestmark = pytest.mark.usefixtures("aws")
READ_OPERATIONS = {"GetItem", "Query", "BatchGetItem"}


def simulate(
    body: dict[str, Any], key: str = KEY, org: str = "org-a", roles: str | None = "staff"
) -> ApiResult:
    return invoke_sample(
        "journeys/simulate-journey",
        path_params={"name_or_id": key},
        body={"start_date": "2026-01-01", **body},
        org=org,
        roles=roles,
    )


def retreat_without_paid_confirmation() -> dict[str, Any]:
    """The saved retreat's spec, without the move from AWAITING_PAYMENT to CONFIRMED."""
    path = {"name_or_id": KEY}
    live = invoke_sample("journeys/load-journey", path_params=path, org="org-a")
    spec: dict[str, Any] = copy.deepcopy(live.body["journey_spec"])
    spec["transitions"]["AWAITING_PAYMENT"].remove("CONFIRMED")
    return spec


@pytest.fixture
def org_a(aws: None) -> None:
    import_builtin_journeys("org-a")
    import_playbook("org-a")


@pytest.fixture
def aws_calls(org_a: None) -> Counter[str]:
    """Every call the service's AWS clients make, as ``service:Operation``."""
    calls: Counter[str] = Counter()

    def record(model: Any, **_: Any) -> None:
        calls[f"{model.service_model.endpoint_prefix}:{model.name}"] += 1

    for service in ("dynamodb", "events", "ses"):
        aws.client(service).meta.events.register("before-call", record)
    return calls


def by_stage(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {stage["stage"]: stage for stage in body["stages"]}


@pytest.mark.usefixtures("org_a")
def test_the_retreat_with_the_playbook_runs_without_writing_anything(
    aws_calls: Counter[str],
) -> None:
    # Given the built-in retreat and the default playbook of organization org-a
    # When staff simulate 2,000 patients over the retreat's 120 days
    result = simulate({"cohort_size": 2000, "seed": 3})
    # Then the funnel follows the timeline: everyone is offered a place, about 80% pay
    assert result.status == 200, result.body
    body = result.body
    stages = by_stage(body)
    assert body["days"] == 120 and body["enrolled"] == 2000 and body["rules_source"] == "active"
    assert stages["AWAITING_PAYMENT"]["entries"] == 2000
    assert 0.77 * 2000 <= stages["CONFIRMED"]["entries"] <= 0.83 * 2000
    assert body["final"]["COMPLETED"] == stages["CONFIRMED"]["entries"]
    # and the reminders of the non-payers are counted, one a day each
    assert body["timeouts"]["total"] > 0
    assert max(body["emails"]["per_day"]) <= 2000
    assert set(body["never_fired"]) <= {r["id"] for r in body["rules"]}
    # and only reads reached AWS: no write, no event, no email
    operations = {call.split(":")[1] for call in aws_calls}
    assert aws_calls["dynamodb:Query"] >= 7  # the active rules, one Query per trigger
    assert operations <= READ_OPERATIONS, aws_calls


@pytest.mark.usefixtures("org_a")
def test_a_draft_compared_with_the_live_version_reports_the_differences() -> None:
    # Given a draft of the retreat without the move from AWAITING_PAYMENT to CONFIRMED
    draft = retreat_without_paid_confirmation()
    # When it is simulated and compared with the current version
    result = simulate({"draft_spec": draft, "cohort_size": 500, "compare_with": "current"})
    # Then the refusals it causes and the patients it strands show
    assert result.status == 200, result.body
    body = result.body
    assert body["version"] is None and body["compared_version"] == 1
    refused = {(r["from_stage"], r["to_stage"], r["why"]): r["count"] for r in body["refused"]}
    confirmed = body["diff"]["CONFIRMED"]["entries"]["compared"]
    assert refused[("AWAITING_PAYMENT", "CONFIRMED", "transition")] == confirmed > 0
    assert body["diff"]["CONFIRMED"]["entries"] == {
        "run": 0,
        "compared": confirmed,
        "change": -confirmed,
    }
    assert body["diff"]["AWAITING_PAYMENT"]["final"]["change"] == confirmed


@pytest.mark.usefixtures("org_a")
def test_draft_rules_are_reported_by_index() -> None:
    # Given a draft rule that emails every patient who pays, and no other rule
    rules = [
        {
            "name": "thank you",
            "trigger_event": "PAYMENT_SUCCEEDED",
            "actions": [{"type": "send_email", "params": {"subject": "Thanks", "template": "Hi"}}],
        },
        {
            "name": "never",
            "trigger_event": "PAYMENT_FAILED",
            "actions": [{"type": "send_email", "params": {"subject": "Oh", "template": "Hi"}}],
        },
    ]
    # When simulated
    result = simulate({"rules": rules, "cohort_size": 300})
    # Then each payer got one email and the second rule never fired

    assert result.status == 200, result.body
    body = result.body
    assert body["rules_source"] == "draft"
    thanks, _ = body["rules"]
    assert thanks["index"] == 0 and thanks["fired"] == thanks["emails"] > 0
    assert body["never_fired"] == [1]
    # and without the playbook nobody leaves screening, so the staff cannot offer places
    assert by_stage(body)["CONFIRMED"]["entries"] == 0
    refused = {(r["from_stage"], r["to_stage"], r["why"]): r["count"] for r in body["refused"]}
    assert refused[("SCREENING_PENDING", "AWAITING_PAYMENT", "transition")] == 300


@pytest.mark.usefixtures("org_a")
def test_the_same_request_gives_the_same_bytes() -> None:
    request = {"cohort_size": 300, "seed": 11, "arrivals_per_day": 30, "days": 60}
    first, second = simulate(request), simulate(request)
    assert first.status == 200
    assert json.dumps(first.body) == json.dumps(second.body)
    assert simulate({**request, "seed": 12}).body != first.body


@pytest.mark.usefixtures("org_a")
def test_bad_requests_roles_and_tenants() -> None:
    # a reader without a role may not simulate; another tenant's journey is not found
    assert simulate({"cohort_size": 10}, roles="").status == 403
    assert simulate({"cohort_size": 10}, org="org-b").status == 404
    assert simulate({"cohort_size": 10, "version": 9}).status == 404
    # the cohort and the period are bounded
    assert simulate({"cohort_size": 10_001}).status == 422
    assert simulate({"cohort_size": 10, "days": 731}).status == 422
    assert (
        simulate({"cohort_size": 10, "version": 1, "draft_spec": {"stages": ["A"]}}).status == 422
    )
    # a journey without stages has nothing to simulate
    timeline_only = simulate({"cohort_size": 10}, key="diabetic-first-year")
    assert timeline_only.status == 422
    assert "no stages" in timeline_only.body["message"]


def test_the_sample_event_simulates_the_builtin_retreat() -> None:
    import_builtin_journeys("demo")
    result = invoke("journeys", load_sample("journeys/simulate-journey"))
    assert result.status == 200, result.body
    assert result.body["journey_key"] == KEY and result.body["compared_version"] == 1


@pytest.mark.usefixtures("org_a")
def test_the_client_simulates_and_prints_the_stage_table() -> None:
    # Given the Python client, in front of the template's HTTP API in-process
    from journeys_client import JourneysClient, Simulation

    from local_stack.gateway import GatewayApp
    from tests.support.gateway import bearer

    token = bearer("org-a", "staff")["Authorization"].removeprefix("Bearer ")
    transport = httpx.WSGITransport(app=GatewayApp())
    with JourneysClient("http://testserver", token, transport=transport) as client:
        # When it simulates the retreat against the current version
        result = client.journeys.simulate_journey(
            KEY, cohort_size=400, seed=5, start_date="2026-01-01", compare_with="current"
        )
    # Then it gets the simulation, and its table has a row per stage with the comparison
    assert isinstance(result, Simulation)
    table = result.table()
    confirmed = by_stage(result.model_dump())["CONFIRMED"]
    row = next(line for line in table.splitlines() if line.startswith("CONFIRMED "))
    assert row.split()[1:3] == [str(confirmed["entries"]), "0"]
    assert row.split()[-2:] == ["+0", "+0"]  # the same version: no difference
    assert "400 of 400 patients over 120 days (seed 5, rules: active)" in table


@pytest.mark.usefixtures("org_a")
def test_a_saved_version_is_simulated_and_compared_with_an_older_one() -> None:
    # Given version 2 of the retreat, where a payment no longer confirms the booking
    spec = retreat_without_paid_confirmation()
    assert update_journey({"journey_spec": spec}).status == 200
    # When version 1 and the current version are simulated, each compared with the other
    old = simulate({"version": 1, "cohort_size": 200, "compare_with": "current"}).body
    new = simulate({"cohort_size": 200, "compare_with": 1}).body
    # Then each answer names its versions, and the differences mirror each other
    assert (old["version"], old["compared_version"]) == (1, 2)
    assert (new["version"], new["compared_version"]) == (2, 1)
    confirmed = old["diff"]["CONFIRMED"]["entries"]
    assert confirmed["change"] > 0
    assert new["diff"]["CONFIRMED"]["entries"]["change"] == -confirmed["change"]


def retreat_booked_again(reentry: dict[str, Any]) -> dict[str, Any]:
    """The saved retreat's spec with ``reentry``, where staff book every patient who
    completed the retreat onto the next one 20 days later."""
    path = {"name_or_id": KEY}
    live = invoke_sample("journeys/load-journey", path_params=path, org="org-a")
    spec: dict[str, Any] = copy.deepcopy(live.body["journey_spec"])
    spec["reentry"] = reentry
    spec["events"].append(
        {
            "event_id": "booked-again",
            "name": "Booked onto the next retreat",
            "event_type": "staff_action",
            "product": "kura",
            "delay": {"min_days": 20, "max_days": 20},
            "depends_on": "retreat-completed",
            "move_to": "SCREENING_PENDING",
        }
    )
    return spec


@pytest.mark.usefixtures("org_a")
def test_a_patient_who_completed_comes_back_as_reentry_allows() -> None:
    # Given drafts of the retreat that book those who completed it again 20 days later, one
    # letting them back after 14 days, one only after 60
    welcome = retreat_booked_again({"allowed": True, "min_days_between": 14})
    too_soon = retreat_booked_again({"allowed": True, "min_days_between": 60})
    # When both are simulated, the first compared with the current version
    body = simulate({"draft_spec": welcome, "cohort_size": 300, "compare_with": "current"}).body
    refused = simulate({"draft_spec": too_soon, "cohort_size": 300}).body
    # Then in the first, each patient who completed starts a second episode: one more entry
    # of the initial stage each, and nothing refused
    completed = by_stage(body)["COMPLETED"]["entries"]
    assert completed > 0
    assert body["refused"] == []
    assert by_stage(body)["SCREENING_PENDING"]["entries"] == 300 + completed
    assert body["diff"]["SCREENING_PENDING"]["entries"]["change"] == completed
    assert body["final"]["SCREENING_PENDING"] == completed
    # and in the second, each of those bookings is refused as a re-entry
    assert by_stage(refused)["COMPLETED"]["entries"] == completed
    assert refused["refused"] == [
        {
            "from_stage": "COMPLETED",
            "to_stage": "SCREENING_PENDING",
            "why": "reentry",
            "count": completed,
        }
    ]
    assert refused["final"]["COMPLETED"] == completed
