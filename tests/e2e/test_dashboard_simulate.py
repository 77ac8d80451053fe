"""The dashboard's Simulate view in Chromium against the local stack: staff run the retreat on a
synthetic cohort, see its funnel, stage table and the comparison with the live version, then
paste a draft without a transition and see the refusals it causes. The figures on the page
are the API's."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from local_stack.tokens import make_token
from tests.e2e.conftest import LocalStack
from tests.e2e.test_dashboard import KEY, browser, page, sign_in  # noqa: F401 - fixtures

pytestmark = pytest.mark.e2e
COHORT = 300


def prepare(stack: LocalStack) -> dict[str, Any]:
    """The built-ins and the default playbook in the demo organization; the retreat's spec."""
    admin = make_token(org="demo", roles=("admin", "staff"), sub="seeder")
    assert stack.request("POST", "/api/v1/journeys/import-builtin", admin, json={}).status == 200
    playbook = stack.request("POST", "/api/v1/automation-rules/import-playbook", admin)
    assert playbook.status == 200, playbook.body
    journey = stack.request("GET", f"/api/v1/journeys/{KEY}", admin).json()
    return dict(journey["journey_spec"])


def simulate(stack: LocalStack, body: dict[str, Any]) -> dict[str, Any]:
    staff = make_token(org="demo", roles=("staff",))
    answer = stack.request("POST", f"/api/v1/journeys/{KEY}/simulate", staff, json=body)
    assert answer.status == 200, answer.body
    return dict(answer.json())


def test_staff_simulate_the_retreat_and_a_draft_against_the_live_version(
    page: Any,  # noqa: F811 - the fixture imported above
    local_stack: LocalStack,
) -> None:
    from playwright.sync_api import expect

    # Given the retreat and the playbook, and staff signed in on the Simulate view
    spec = prepare(local_stack)
    sign_in(page, local_stack)
    page.get_by_role("link", name="Simulate").click()
    expect(page.get_by_role("heading", name="Simulate")).to_be_visible()

    # When they run 300 patients compared with the current version
    page.get_by_label("Journey", exact=True).select_option(KEY)
    page.get_by_label("Cohort size").fill(str(COHORT))
    page.get_by_role("button", name="Run simulation").click()

    # Then the funnel, the stage table and the comparison show the API's figures
    expected = simulate(local_stack, {"cohort_size": COHORT, "seed": 0, "compare_with": "current"})
    confirmed = next(s for s in expected["stages"] if s["stage"] == "CONFIRMED")["entries"]
    chart = page.get_by_role("img", name=re.compile(rf"^{KEY} \(version \d+\): {COHORT} patients"))
    expect(chart).to_be_visible()
    stages = page.get_by_role("table", name=f"Simulated stages of {KEY}")
    expect(stages.get_by_role("row")).to_have_count(10)  # the header and nine stages
    header = page.get_by_role("rowheader", name=re.compile("^CONFIRMED"))
    row = stages.get_by_role("row").filter(has=header)
    expect(row.get_by_role("cell").first).to_have_text(str(confirmed))
    comparison = page.get_by_role("table", name=re.compile("^This run next to version"))
    expect(comparison).to_be_visible()
    expect(page.get_by_text("No move was refused.")).to_be_visible()

    # When they paste a draft that no longer lets a payment confirm the booking
    draft = copy.deepcopy(spec)
    draft["transitions"]["AWAITING_PAYMENT"].remove("CONFIRMED")
    page.get_by_label(re.compile("^Draft journey_spec")).fill(json.dumps(draft))
    page.get_by_role("button", name="Run simulation").click()

    # Then the refusals it causes show, and the comparison shows the confirmations it loses
    refused = page.get_by_role("table", name="Refused moves")
    payment = refused.get_by_role("row").filter(has_text="CONFIRMED").filter(has_text="transition")
    expect(payment).to_contain_text(str(confirmed))
    comparison_row = comparison.get_by_role("row").filter(has=header)
    expect(comparison_row).to_contain_text(f"-{confirmed}")
    expect(page.get_by_role("img", name=re.compile(rf"^{KEY} \(draft\)"))).to_be_visible()
