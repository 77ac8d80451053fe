"""The staff dashboard in a real headless browser (Debian's Chromium, driven by Playwright)
against the local stack over HTTP: the page signs in with a token, loads the demo
organization, shows a patient's progress, and unblocks a blocked patient with a reason that
then appears in the audit history. A failing test leaves a screenshot in tests/e2e/artifacts/.

Chromium comes from ``make browser`` (part of ``make test``); without it these tests fail,
saying how to install it: a machine without a browser must not pass the browser tests."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local_stack.tokens import make_token
from tests.e2e.conftest import LocalStack

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
# The flags Chromium needs on a machine without a screen or an outside network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
KEY = "retreat_ibiza_2025"
TIMEOUT_MS = 20_000  # two shared cores: give the local stack time
STAFF_SUB = "dr-vega"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"no Chromium at {CHROMIUM}: `make browser` installs Debian's chromium package "
            "(as root, with apt-get)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh tab (its own session storage) on a laptop-sized screen. If the test fails,
    its screenshot and HTML go to tests/e2e/artifacts/ (pytest has reported the test's
    outcome by the time fixtures are torn down)."""
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    failures_before = request.session.testsfailed
    yield tab
    if request.session.testsfailed > failures_before:
        ARTIFACTS.mkdir(exist_ok=True)
        tab.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
        (ARTIFACTS / f"{request.node.name}.html").write_text(tab.content(), encoding="utf-8")
    context.close()
    assert errors == [], f"the page threw: {errors}"


def seed_blocked_patient(stack: LocalStack) -> str:
    """Through the API, as staff would: the built-ins, a patient enrolled in the retreat and
    blocked as high risk with a reason."""
    admin = make_token(org="demo", roles=("admin", "staff"), sub="seeder")
    assert stack.request("POST", "/api/v1/journeys/import-builtin", admin, json={}).status == 200
    patient_id = f"dash-{secrets.token_hex(4)}"
    path = f"/api/v1/patients/{patient_id}/journey"
    enrolled = stack.request("PATCH", path, admin, json={"key": KEY, "status": "SCREENING_PENDING"})
    assert enrolled.status == 200, enrolled.body
    blocked = stack.request(
        "PATCH",
        path,
        admin,
        json={"key": KEY, "status": "BLOCKED_HIGH_RISK", "reason": "risk analysis: high"},
    )
    assert blocked.status == 200, blocked.body
    return patient_id


def sign_in(page: Any, stack: LocalStack) -> None:
    """Staff sign in with their token, and the page shows the active journeys."""
    from playwright.sync_api import expect

    page.goto(f"{stack.base_url}/dashboard")
    page.get_by_label("Access token (JWT)").fill(
        make_token(org="demo", roles=("staff",), sub=STAFF_SUB)
    )
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Active journeys")).to_be_visible()


def test_the_page_loads_the_demo_organization_and_shows_a_patients_progress(
    page: Any, local_stack: LocalStack
) -> None:
    from playwright.sync_api import expect

    # Given a patient blocked in the demo organization's retreat
    patient_id = seed_blocked_patient(local_stack)

    # When staff sign in with their token
    sign_in(page, local_stack)

    # Then the active journeys show the retreat's stages and the patient with a stage badge
    expect(page.get_by_role("heading", name="Active journeys")).to_be_visible()
    retreat = page.get_by_role("region", name=KEY)
    expect(retreat.get_by_role("list", name=f"Patients per stage now in {KEY}")).to_contain_text(
        "BLOCKED_HIGH_RISK"
    )
    row = retreat.get_by_role("row").filter(has=page.get_by_role("link", name=patient_id))
    expect(row).to_contain_text("BLOCKED_HIGH_RISK")

    # And the token is kept for the tab's session: a reload needs no second sign-in
    page.reload()
    expect(page.get_by_role("heading", name="Active journeys")).to_be_visible()
    expect(page.get_by_label("Access token (JWT)")).to_be_hidden()

    # When they open the patient
    retreat.get_by_role("link", name=patient_id).click()

    # Then the progress bar follows the definition's order and marks where the patient is
    progress = page.get_by_role("list", name=f"Progress in {KEY}")
    steps = progress.get_by_role("listitem")
    expect(steps).to_have_count(9)
    expect(steps.first).to_contain_text("SCREENING_PENDING (visited)")
    expect(progress.locator("[aria-current=step]")).to_contain_text("BLOCKED_HIGH_RISK")
    expect(page.get_by_text("Blocked: action required.")).to_be_visible()
    history = page.get_by_role("table", name=f"Audit history of {KEY}")
    expect(history).to_contain_text("risk analysis: high")


def test_a_blocked_patient_is_unblocked_through_the_page_with_a_reason(
    page: Any, local_stack: LocalStack
) -> None:
    from playwright.sync_api import expect

    # Given a blocked patient, and staff signed in on the patient view (by keyboard)
    patient_id = seed_blocked_patient(local_stack)
    sign_in(page, local_stack)
    page.get_by_role("link", name="Patient", exact=True).click()
    page.get_by_label("Patient id").fill(patient_id)
    page.get_by_label("Patient id").press("Enter")
    review = page.get_by_role("button", name="Move to…")
    review.focus()
    page.keyboard.press("Enter")
    expect(review).to_have_attribute("aria-expanded", "true")

    # When they try to move the patient without a reason
    page.get_by_role("button", name="Move patient").click()

    # Then the page asks for one and nothing moves
    expect(page.get_by_role("alert")).to_contain_text("A reason is required")
    patient = local_stack.request(
        "GET", f"/api/v1/patients/{patient_id}", make_token(org="demo", roles=("staff",))
    ).json()
    assert patient["journey_status"] == {KEY: "BLOCKED_HIGH_RISK"}

    # When they choose where to and say why
    page.get_by_label("Move to").select_option("SCREENING_COMPLETED")
    page.get_by_label("Reason (required)").fill("Cleared by Dr. Vega after a call")
    page.get_by_role("button", name="Move patient").click()

    # Then the page says so, the patient is no longer blocked, and the reason is in the history
    expect(page.get_by_role("status")).to_contain_text(
        f"Moved {patient_id} from BLOCKED_HIGH_RISK to SCREENING_COMPLETED"
    )
    progress = page.get_by_role("list", name=f"Progress in {KEY}")
    expect(progress.locator("[aria-current=step]")).to_contain_text("SCREENING_COMPLETED")
    expect(page.get_by_text("Blocked: action required.")).to_have_count(0)
    history = page.get_by_role("table", name=f"Audit history of {KEY}")
    last = history.get_by_role("row").last
    expect(last).to_contain_text("Cleared by Dr. Vega after a call")
    expect(last).to_contain_text(STAFF_SUB)
    # And the API agrees (the page used only the API)
    entries = local_stack.request(
        "GET",
        f"/api/v1/patients/{patient_id}/journeys/{KEY}/history",
        make_token(org="demo", roles=("staff",)),
    ).json()["items"]
    assert (entries[-1]["to_stage"], entries[-1]["reason"], entries[-1]["actor"]) == (
        "SCREENING_COMPLETED",
        "Cleared by Dr. Vega after a call",
        STAFF_SUB,
    )


def test_the_funnel_and_stuck_patients_views_draw_from_the_analytics_api(
    page: Any, local_stack: LocalStack
) -> None:
    from playwright.sync_api import expect

    seed_blocked_patient(local_stack)
    sign_in(page, local_stack)

    page.get_by_role("link", name="Funnel").click()
    page.get_by_label("Journey", exact=True).select_option(KEY)
    page.get_by_role("button", name="Show funnel").click()

    chart = page.get_by_role("img", name=f"{KEY}: entries per stage")
    expect(chart).to_be_visible()
    expect(chart.locator("text").filter(has_text="SCREENING_PENDING")).to_have_count(1)
    table = page.get_by_role("table", name=f"Stages of {KEY} in the period")
    expect(table.get_by_role("row")).to_have_count(10)  # the header and nine stages

    page.get_by_role("link", name="Stuck patients").click()
    expect(page.get_by_role("heading", name="Stuck patients")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Checked the stale rules")
