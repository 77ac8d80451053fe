"""A clinic coordinator's day on the dashboard, in Chromium against the local stack: names
before ids, overdue patients first (how far past, what the rule does), quiet journeys on one
line, a patient found by name or email, moves the pinned version allows with refusals
explained, a profile edited, what happened to a patient beside the stage history, and an
overview that keeps itself current. axe-core (the pinned ``axe-playwright-python`` wheel,
no CDN) checks each view for serious or critical violations, and each view's screenshot is
written to docs/ for the README.

The organization is seeded through the API; one stay is moved four days into the past in
the local stack's own DynamoDB (the only way to have waited 4 days in a test), and the
admin stale check then emits its timeout, which the notifier emails."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from journeys_core.data.journey_analytics import stage_rollup_pk
from journeys_core.domain.journey_rollups import STANDING_PREFIX, day_slot
from local_stack.template import DEFAULT_PREFIX
from local_stack.tokens import make_token
from tests.e2e.conftest import REPO_ROOT, LocalStack, eventually
from tests.e2e.test_dashboard import KEY, browser, page  # noqa: F401 - fixtures

pytestmark = pytest.mark.e2e

DOCS = REPO_ROOT / "docs"
SERIOUS = {"serious", "critical"}
OVERDUE_ID, OVERDUE_NAME = "pt-001", "María José Núñez"
UNNAMED_ID = "pt-007"
LESS_OVERDUE_ID = "pt-005"  # overdue too, by less; nobody moves it (the stuck view shows it)
# The tab hidden or shown again, as the browser tells the page.
VISIBILITY = (
    "Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => '%s'});"
    "document.dispatchEvent(new Event('visibilitychange'))"
)


@dataclass
class Clinic:
    """An organization of its own on the shared local stack, seeded through the API."""

    stack: LocalStack
    org: str = field(default_factory=lambda: f"clinic-{uuid.uuid4().hex[:8]}")

    @property
    def admin(self) -> str:
        return make_token(org=self.org, roles=("admin", "staff"), sub="seeder")

    @property
    def staff(self) -> str:
        return make_token(org=self.org, roles=("staff",), sub="dr-vega")

    def call(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        answer = self.stack.request(method, f"/api/v1{path}", token or self.admin, json=body)
        assert answer.status < 300, (method, path, answer.status, answer.body)
        return answer.json() if answer.body else None

    def patient(self, patient_id: str, name: str | None, *stages: str, email: str = "") -> None:
        if name:
            profile = {"display_name": name, **({"email": email} if email else {})}
            self.call("PUT", f"/patients/{patient_id}", profile)
        for stage in stages:
            reason = "screening: high risk" if stage == "BLOCKED_HIGH_RISK" else None
            move = {"key": KEY, "status": stage, **({"reason": reason} if reason else {})}
            self.call("PATCH", f"/patients/{patient_id}/journey", move)

    def backdate(self, patient_id: str, hours: float) -> None:
        """As if the patient had entered their stage ``hours`` ago: the enrollment, and the
        analytics rollups' count of who stands since when (moved from the hour the stay
        began to the backdated one; additions commute with the stream's own)."""
        dynamodb = self.stack.aws("dynamodb")
        key = {
            "pk": {"S": f"ORG#{self.org}#PATIENT#{patient_id}"},
            "sk": {"S": f"ENROLLMENT#{KEY}"},
        }
        item = dynamodb.get_item(TableName=f"{DEFAULT_PREFIX}-PatientsTable", Key=key)["Item"]
        began = datetime.fromisoformat(item["entered_at"]["S"])
        entered = datetime.now(UTC) - timedelta(hours=hours)
        dynamodb.update_item(
            TableName=f"{DEFAULT_PREFIX}-PatientsTable",
            Key=key,
            UpdateExpression="SET entered_at = :at",
            ExpressionAttributeValues={":at": {"S": entered.isoformat()}},
        )
        stage = item["stage"]["S"]
        for moment, amount in ((began, "-1"), (entered, "1")):
            dynamodb.update_item(
                TableName=f"{DEFAULT_PREFIX}-JourneyRollupsTable",
                Key={
                    "pk": {"S": stage_rollup_pk(self.org, KEY, stage)},
                    "sk": {"S": day_slot(moment.date())},
                },
                UpdateExpression="ADD #standing :n",
                ExpressionAttributeNames={"#standing": f"{STANDING_PREFIX}{moment.hour:02d}"},
                ExpressionAttributeValues={":n": {"N": amount}},
            )


@pytest.fixture(scope="module")
def clinic(local_stack: LocalStack) -> Clinic:
    """Built-in journeys and the playbook; patients in the retreat, one overdue 4 days past
    its 48 h payment rule, whose timeout has been emailed."""
    clinic = Clinic(local_stack)
    clinic.call("POST", "/journeys/import-builtin", {})
    clinic.call("POST", "/automation-rules/import-playbook")
    clinic.patient(
        OVERDUE_ID,
        OVERDUE_NAME,
        "SCREENING_PENDING",
        "SCREENING_COMPLETED",
        "AWAITING_PAYMENT",
        email="mj.nunez@example.org",
    )
    clinic.patient("pt-002", "Ana Ruiz", "SCREENING_PENDING", email="ana.ruiz@example.org")
    clinic.patient("pt-003", "Bruno Díaz", "SCREENING_PENDING", "BLOCKED_HIGH_RISK")
    clinic.patient("pt-004", "Carla Gómez", "SCREENING_PENDING", "SCREENING_COMPLETED")
    clinic.patient(UNNAMED_ID, None, "SCREENING_PENDING", "SCREENING_COMPLETED")
    clinic.patient(LESS_OVERDUE_ID, "Hugo Sanz", "SCREENING_PENDING", "SCREENING_COMPLETED")
    clinic.patient(LESS_OVERDUE_ID, None, "AWAITING_PAYMENT")
    clinic.backdate(OVERDUE_ID, 4 * 24 + 2)  # 2 days 2 hours past the 48 h rule
    clinic.backdate(LESS_OVERDUE_ID, 48 + 25)  # 25 hours past it
    clinic.call("GET", "/admin/stale-journeys/check")

    def emailed() -> bool:
        events = clinic.call("GET", f"/patients/{OVERDUE_ID}/events")["items"]
        return any(r.get("outcome") == "sent" for e in events for r in e["results"])

    eventually(emailed, "the overdue patient's reminder emailed")
    return clinic


def sign_in(
    page: Any,  # noqa: F811 - the fixture imported above
    clinic: Clinic,
    token: str | None = None,
) -> None:
    from playwright.sync_api import expect

    page.goto(f"{clinic.stack.base_url}/dashboard")
    expect(page.get_by_label("Access token (JWT)")).to_be_visible()
    page.get_by_label("Access token (JWT)").fill(token or clinic.staff)
    page.get_by_role("button", name="Sign in").click()


def check_view(page: Any, name: str) -> None:  # noqa: F811
    """No serious or critical axe-core violation on the view; its screenshot for the README."""
    from axe_playwright_python.sync_playwright import Axe

    page.wait_for_selector(".view:not([aria-busy])")
    results = Axe().run(page)
    found = [
        (violation["id"], violation["impact"], [node["target"] for node in violation["nodes"]])
        for violation in results.response["violations"]
        if violation["impact"] in SERIOUS
    ]
    assert found == [], f"{name}: {found}"
    page.screenshot(path=str(DOCS / f"dashboard-{name}.png"), full_page=True)


def test_sign_in_shows_no_sign_out_and_passes_axe(
    page: Any,  # noqa: F811 - the fixture imported above
    clinic: Clinic,
) -> None:
    from playwright.sync_api import expect

    page.goto(f"{clinic.stack.base_url}/dashboard")

    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_hidden()
    expect(page.get_by_role("search", name="Patient search")).to_be_hidden()
    from axe_playwright_python.sync_playwright import Axe

    violations = Axe().run(page).response["violations"]
    assert [v["id"] for v in violations if v["impact"] in SERIOUS] == []
    page.screenshot(path=str(DOCS / "dashboard-sign-in.png"), full_page=True)


def test_the_overview_names_patients_puts_the_overdue_first_and_folds_quiet_journeys(
    page: Any,  # noqa: F811 - the fixture imported above
    clinic: Clinic,
) -> None:
    from playwright.sync_api import expect

    sign_in(page, clinic)

    retreat = page.get_by_role("region", name=KEY)
    expect(retreat.get_by_role("heading", name=KEY)).to_contain_text("2 overdue")
    rows = retreat.get_by_role("table", name=f"Patients in progress in {KEY}").locator("tbody tr")
    expect(rows).to_have_count(6)
    first = rows.first
    expect(first.get_by_role("link")).to_have_text(OVERDUE_NAME)
    expect(first).to_contain_text(OVERDUE_ID)  # the id as secondary text
    expect(first).to_contain_text("Overdue 2 d 2 h past 48 h · send_payment_reminder")
    expect(rows.nth(1)).to_contain_text("Hugo Sanz")
    expect(rows.nth(1)).to_contain_text("Overdue 25 h")
    for other in range(2, 6):
        expect(rows.nth(other)).not_to_contain_text("Overdue")
    expect(retreat.get_by_role("link", name=UNNAMED_ID, exact=True)).to_be_visible()
    expect(retreat.get_by_role("link", name="Bruno Díaz")).to_be_visible()
    expect(page.get_by_text("Overdue, past a stale rule")).to_be_visible()
    # Journeys nobody is in take one line each
    quiet = page.get_by_role("region", name="Journeys with nobody in progress")
    expect(quiet.get_by_role("listitem").filter(has_text="intake")).to_have_count(1)
    expect(page.get_by_role("region", name="intake")).to_have_count(0)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    check_view(page, "overview")


def test_a_patient_is_found_by_a_name_prefix_or_an_email_from_any_page(
    page: Any,  # noqa: F811 - the fixture imported above
    clinic: Clinic,
) -> None:
    from playwright.sync_api import expect

    sign_in(page, clinic)
    page.get_by_role("link", name="Funnel").click()
    expect(page.get_by_role("heading", name="Journey funnel")).to_be_visible()

    page.get_by_label("Find a patient").fill("maria jo")
    page.get_by_label("Find a patient").press("Enter")

    results = page.get_by_role("table", name="Patients matching “maria jo”")
    expect(results.locator("tbody tr")).to_have_count(1)
    expect(results).to_contain_text(OVERDUE_ID)
    expect(results).to_contain_text("mj.nunez@example.org")
    check_view(page, "search")

    page.get_by_label("Find a patient").fill("ANA.RUIZ@example.org")
    page.get_by_role("button", name="Search").click()
    found = page.get_by_role("table", name="Patients matching “ANA.RUIZ@example.org”")
    found.get_by_role("link", name="Ana Ruiz").click()
    expect(page.get_by_role("heading", name="Ana Ruiz")).to_contain_text("pt-002")

    page.get_by_label("Find a patient").fill("zz-nobody")
    page.get_by_label("Find a patient").press("Enter")
    expect(page.get_by_text("No patient's name starts with “zz-nobody”")).to_be_visible()


def test_the_patient_view_moves_by_the_pinned_version_explains_refusals_and_edits(
    page: Any,  # noqa: F811 - the fixture imported above
    clinic: Clinic,
) -> None:
    from playwright.sync_api import expect

    sign_in(page, clinic)
    page.get_by_role("region", name=KEY).get_by_role("link", name=OVERDUE_NAME).click()

    # Who, which version and episode, and what happened: the reminder email of the timeout
    expect(page.get_by_role("heading", name=OVERDUE_NAME)).to_contain_text(OVERDUE_ID)
    expect(page.get_by_text("mj.nunez@example.org")).to_be_visible()
    expect(page.get_by_text("Version 1 · episode 1 · 0 ended")).to_be_visible()
    events = page.get_by_role("list", name=f"Events about {OVERDUE_NAME}, newest first")
    expect(events).to_contain_text("journey stage timeout")
    expect(events).to_contain_text("Email sent")
    check_view(page, "patient")

    # The moves version 1 allows from AWAITING_PAYMENT, the guarded one saying what it needs
    page.get_by_role("button", name="Move to…").click()
    options = page.get_by_label("Move to").locator("option")
    expect(options).to_have_text(
        ["PAYMENT_PENDING", "CONFIRMED (needs PAYMENT_SUCCEEDED)", "CANCELLED"]
    )
    page.get_by_label("Move to").select_option("CONFIRMED")
    expect(page.get_by_text("CONFIRMED needs PAYMENT_SUCCEEDED first")).to_be_visible()
    expect(
        page.get_by_label("Override the guard (admin): move without those events")
    ).to_be_hidden()

    # A guarded stage without its event: refused, and said in words
    page.get_by_role("button", name="Move patient").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "Not moved: CONFIRMED can be entered only after certain events"
    )

    # Someone else moves the patient meanwhile: the page's move is refused and it says so
    clinic.call(
        "PATCH",
        f"/patients/{OVERDUE_ID}/journey",
        {"key": KEY, "status": "PAYMENT_PENDING", "expected_stage": "AWAITING_PAYMENT"},
    )
    page.get_by_label("Move to").select_option("CANCELLED")
    page.get_by_role("button", name="Move patient").click()
    expect(page.get_by_role("alert")).to_contain_text("someone else moved this patient meanwhile")
    progress = page.get_by_role("list", name=f"Progress in {KEY}")
    expect(progress.locator("[aria-current=step]")).to_contain_text("PAYMENT_PENDING")
    # and the moves offered are those from where the patient now stands
    page.get_by_role("button", name="Move to…").click()
    expect(page.get_by_label("Move to").locator("option")).to_have_text(
        ["AWAITING_PAYMENT", "CONFIRMED (needs PAYMENT_SUCCEEDED)", "CANCELLED"]
    )

    # Edit the profile: the name changes here and on the stage list
    page.get_by_role("button", name="Edit profile").click()
    page.get_by_label("Name", exact=True).fill("María José Núñez Vidal")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_role("heading", name="María José Núñez Vidal")).to_be_visible()
    listed = clinic.call("GET", f"/patients?journey_key={KEY}&stage=PAYMENT_PENDING")["items"]
    assert [(m["patient_id"], m["display_name"]) for m in listed] == [
        (OVERDUE_ID, "María José Núñez Vidal")
    ]


def test_an_admin_overrides_a_guard_with_a_reason(
    page: Any,  # noqa: F811 - the fixture imported above
    clinic: Clinic,
) -> None:
    from playwright.sync_api import expect

    clinic.patient(
        "pt-010", "Elena Soto", "SCREENING_PENDING", "SCREENING_COMPLETED", "AWAITING_PAYMENT"
    )
    sign_in(page, clinic, clinic.admin)
    page.get_by_label("Find a patient").fill("elena")
    page.get_by_label("Find a patient").press("Enter")
    page.get_by_role("link", name="Elena Soto").click()
    page.get_by_role("button", name="Move to…").click()
    page.get_by_label("Move to").select_option("CONFIRMED")
    page.get_by_label("Override the guard (admin): move without those events").check()

    page.get_by_role("button", name="Move patient").click()
    expect(page.get_by_role("alert")).to_contain_text("A reason is required to override a guard")

    page.get_by_label("Reason (required)").fill("Paid in cash at the front desk")
    page.get_by_role("button", name="Move patient").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Moved pt-010 from AWAITING_PAYMENT to CONFIRMED"
    )
    history = page.get_by_role("table", name=f"Audit history of {KEY}")
    expect(history.get_by_role("row").last).to_contain_text("Paid in cash at the front desk")


def test_the_overview_refreshes_every_minute_in_place_and_pauses_while_hidden(
    page: Any,  # noqa: F811 - the fixture imported above
    clinic: Clinic,
) -> None:
    from playwright.sync_api import expect

    page.clock.install()
    sign_in(page, clinic)
    retreat = page.get_by_role("region", name=KEY)
    expect(retreat.get_by_role("link", name="Carla Gómez")).to_be_visible()
    expect(page.get_by_text("refreshes every minute")).to_be_visible()
    page.set_viewport_size({"width": 1366, "height": 400})
    link = retreat.get_by_role("link", name="Carla Gómez")
    link.focus()
    page.evaluate("window.scrollTo(0, 300)")

    # A patient enrolled elsewhere shows up within the minute, the page where it was
    clinic.patient("pt-020", "Diego Luna", "SCREENING_PENDING")
    page.clock.fast_forward("01:01")
    expect(retreat.get_by_role("link", name="Diego Luna")).to_be_visible()
    assert page.evaluate("document.activeElement.textContent") == "Carla Gómez"
    assert page.evaluate("window.scrollY") == 300

    # Hidden: no reads, and the page says so; shown again: current at once
    page.evaluate(VISIBILITY % "hidden")
    clinic.patient("pt-021", "Fausto Gil", "SCREENING_PENDING")
    page.clock.fast_forward("01:01")
    expect(page.get_by_text("paused while this tab is hidden")).to_be_visible()
    expect(retreat.get_by_role("link", name="Fausto Gil")).to_have_count(0)
    page.evaluate(VISIBILITY % "visible")
    expect(retreat.get_by_role("link", name="Fausto Gil")).to_be_visible()


@pytest.mark.parametrize(
    ("view", "link", "loaded"),
    [
        ("funnel", "Funnel", "Loaded the funnel"),
        ("stuck", "Stuck patients", "Checked the stale rules"),
        ("simulate", "Simulate", "Choose a journey and run a simulation"),
    ],
)
def test_the_other_views_pass_axe(
    page: Any,  # noqa: F811 - the fixture imported above
    clinic: Clinic,
    view: str,
    link: str,
    loaded: str,
) -> None:
    from playwright.sync_api import expect

    sign_in(page, clinic)
    expect(page.get_by_role("heading", name="Active journeys")).to_be_visible()
    # clicked on before the overview has loaded: the later view's page and words stand
    page.get_by_role("link", name=link, exact=True).click()
    expect(page.get_by_role("status")).to_contain_text(loaded)
    page.wait_for_timeout(1500)  # time for the overview's reads, started first, to finish
    expect(page.get_by_role("status")).to_contain_text(loaded)
    expect(page.get_by_text("refreshes every minute")).to_be_hidden()
    if view == "stuck":  # the patient past the payment rule, by name
        expect(page.get_by_role("link", name="Hugo Sanz")).to_be_visible()
    check_view(page, view)
