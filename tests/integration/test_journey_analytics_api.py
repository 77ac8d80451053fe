"""Journey analytics API and the dashboard's files, handler in-process on moto: the funnel by
stage (from the rollups the log's stream keeps: moves go through the stream consumer before
each request), what one request reads (about stages x days rollup items, never the log, never
a Scan), tenants, roles, bad periods, and the public page that holds no data.

Time in stage comes from a log-scale histogram: its quantiles are asserted within 5%."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from journeys_core.data.aws import dynamodb
from tests.conftest import ApiResult, invoke, invoke_sample
from tests.support.events import dashboard_event, load_sample
from tests.support.patients import KEY, RETREAT, define_journey, move
from tests.support.streams import RollupFeed

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
SPEC: dict[str, Any] = {
    **RETREAT,
    "stale_rules": [
        {"stage": "AWAITING_PAYMENT", "max_hours": 24, "action": "send_payment_reminder"}
    ],
}

pytestmark = pytest.mark.usefixtures("aws")
# The stream consumer of the running test (the log's records reach it before each request).
FEEDS: list[RollupFeed] = []


@pytest.fixture(autouse=True)
def rollup_feed(aws: None) -> Any:
    FEEDS.append(RollupFeed())
    yield FEEDS[-1]
    FEEDS.pop()


class Clock:
    """The time of stage moves and of analytics requests."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from journeys_core.services import analytics, patients

        self.now = NOW
        monkeypatch.setattr(patients, "utc_now", lambda: self.now)
        monkeypatch.setattr(analytics, "utc_now", lambda: NOW)

    def move(self, patient_id: str, stage: str, hours_ago: float, **fields: Any) -> None:
        self.now = NOW - timedelta(hours=hours_ago)
        result = move(patient_id, stage, **fields)
        assert result.status == 200, result.body
        self.now = NOW


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    define_journey(KEY, SPEC)
    return Clock(monkeypatch)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def analytics(
    key: str = KEY, org: str = "org-a", roles: str | None = None, **query: str
) -> ApiResult:
    FEEDS[-1]()
    path = {"key": key}
    return invoke_sample(
        "analytics/journey-analytics", path_params=path, query=query, org=org, roles=roles
    )


def by_stage(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {stage["stage"]: stage for stage in body["stages"]}


def seed_four_patients(clock: Clock) -> None:
    """Screened in 2 h and paid-waiting for 47 h; screened in 4 h; blocked after 1 h; new."""
    clock.move("p-1", "SCREENING_PENDING", 50)
    clock.move("p-1", "SCREENING_COMPLETED", 48)
    clock.move("p-1", "AWAITING_PAYMENT", 47)
    clock.move("p-2", "SCREENING_PENDING", 30)
    clock.move("p-2", "SCREENING_COMPLETED", 26)
    clock.move("p-3", "SCREENING_PENDING", 20)
    clock.move("p-3", "BLOCKED_HIGH_RISK", 19, reason="risk score 9")
    clock.move("p-4", "SCREENING_PENDING", 5)


class ItemsRead:
    """DynamoDB calls of the service's client and the items they read (ScannedCount)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.items = 0
        dynamodb().meta.events.register("after-call.dynamodb", self._count)

    def _count(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls[model.name] += 1
        self.items += int(parsed.get("ScannedCount", 0))

    def reset(self) -> None:
        self.calls.clear()
        self.items = 0


# -- the funnel -------------------------------------------------------------------------------


def test_each_stage_shows_who_is_in_it_entries_conversion_and_time_in_it(clock: Clock) -> None:
    # Given four patients moved through the retreat over the last two days
    seed_four_patients(clock)

    # When staff ask for the last three days
    result = analytics(**{"from": iso(NOW - timedelta(days=3)), "to": iso(NOW)})

    # Then the stages come in the definition's order with their figures
    assert result.status == 200, result.body
    assert [s["stage"] for s in result.body["stages"]] == SPEC["stages"]
    stages = by_stage(result.body)
    screening = stages["SCREENING_PENDING"]
    assert (screening["in_stage_now"], screening["entries"]) == (1, 4)
    assert {c["to_stage"]: (c["count"], c["rate"]) for c in screening["conversions"]} == {
        "SCREENING_COMPLETED": (2, 0.5),
        "BLOCKED_HIGH_RISK": (1, 0.25),
        "CANCELLED": (0, 0.0),
    }
    # 1 h, 2 h and 4 h ended; p-4 has been screening for 5 h and counts as "at least 5 h"
    time_in_stage = screening["time_in_stage"]
    assert (time_in_stage["stays"], time_in_stage["ended"]) == (4, 3)
    assert time_in_stage["median_hours"] == pytest.approx(2.0, rel=0.05)
    assert time_in_stage["p90_hours"] is None
    assert stages["SCREENING_COMPLETED"]["in_stage_now"] == 1
    assert stages["AWAITING_PAYMENT"]["stale_rules"] == [
        {"max_hours": 24.0, "action": "send_payment_reminder", "past_threshold_now": 1}
    ]
    assert stages["BLOCKED_HIGH_RISK"]["kind"] == "blocked"
    assert result.body["totals"] == {"enrolled": 4, "completed": 0, "cancelled": 0, "blocked": 1}
    assert result.body["current"] == {
        "enrolled": 4,
        "active": 3,
        "blocked": 1,
        "completed": 0,
        "cancelled": 0,
    }


def test_without_a_period_the_last_30_days_up_to_now_are_analysed(clock: Clock) -> None:
    result = analytics()

    assert result.status == 200, result.body
    assert result.body["period"] == {"start": "2026-10-22T10:00:00Z", "end": "2026-11-21T10:00:00Z"}
    assert result.body["generated_at"] == "2026-11-21T10:00:00Z"


def test_an_empty_period_still_shows_who_stands_where_now(clock: Clock) -> None:
    # The dashboard's overview asks this way: no day of the period read, only the live
    # counts (and, for the stale rule's stage, the days since its cutoff: 24 h, two days).
    seed_four_patients(clock)

    result = analytics(**{"from": iso(NOW), "to": iso(NOW)})

    assert result.status == 200, result.body
    assert result.body["reads"]["log_items"] <= 2
    assert result.body["current"]["enrolled"] == 4
    assert all(stage["entries"] == 0 for stage in result.body["stages"])


# -- cost: stages x days, whatever the moves ---------------------------------------------------


def test_one_request_reads_stages_by_days_rollups_and_nothing_else(
    clock: Clock, rollup_feed: RollupFeed
) -> None:
    # Given a month-old cohort (outside the period), the recent patients, another journey's
    # patients and another organization's
    for i in range(5):
        clock.move(f"old-{i}", "SCREENING_PENDING", 24 * 30)
        clock.move(f"old-{i}", "CANCELLED", 24 * 29)
    seed_four_patients(clock)
    define_journey("intake", {"stages": ["NEW", "DONE"]})
    clock.move("other-journey", "NEW", 1, key="intake")
    define_journey(KEY, SPEC, org="org-b")
    clock.move("other-tenant", "SCREENING_PENDING", 1, org="org-b")
    rollup_feed()
    counter = ItemsRead()

    # When staff ask for the last three days
    result = analytics(**{"from": iso(NOW - timedelta(days=3)), "to": iso(NOW)})

    # Then the request read the 7 (stage, day) items of the period that hold stays (the
    # screening's on 3 days, the completed screening's on 2, payment's and blocked's on 1),
    # the live counts of the 5 stages anyone entered and the journey's stages: one Query per
    # stage, one BatchGetItem, and a GetItem each for the definition and the stages
    assert result.status == 200, result.body
    stages = len(SPEC["stages"])
    assert result.body["reads"] == {
        "log_items": 7,
        "enrollment_items": 5 + 1,
        "queries": stages + 2,
    }
    assert counter.items == 7
    assert counter.calls == Counter({"GetItem": 2, "Query": stages, "BatchGetItem": 1})
    assert result.body["totals"]["enrolled"] == 4
    assert result.body["current"]["cancelled"] == 5

    # and ten times the moves on the same days read the same items
    for i in range(40):
        clock.move(f"more-{i}", "SCREENING_PENDING", 20 + i % 3)
        clock.move(f"more-{i}", "SCREENING_COMPLETED", 19 + i % 3)
    again = analytics(**{"from": iso(NOW - timedelta(days=3)), "to": iso(NOW)})
    assert again.body["reads"] == result.body["reads"]
    assert by_stage(again.body)["SCREENING_PENDING"]["entries"] == 44


def test_a_stream_batch_delivered_twice_is_counted_once(clock: Clock) -> None:
    import importlib
    import os

    from tests.conftest import LambdaContext
    from tests.support.streams import lambda_stream_records

    seed_four_patients(clock)
    records = lambda_stream_records(os.environ["JOURNEY_LOG_TABLE_NAME"])
    handler = importlib.import_module("functions.journey_rollups.app").handler
    FEEDS[-1].delivered.update(r["eventID"] for r in records)

    # Lambda retries a batch whose first attempt wrote its counters (and then timed out)
    handler({"Records": records}, LambdaContext())
    handler({"Records": records}, LambdaContext())

    result = analytics(**{"from": iso(NOW - timedelta(days=3)), "to": iso(NOW)})
    assert by_stage(result.body)["SCREENING_PENDING"]["entries"] == 4
    assert result.body["current"]["enrolled"] == 4


# -- tenants, roles, bad requests -------------------------------------------------------------


def test_another_organizations_journey_is_not_found_and_its_patients_never_count(
    clock: Clock,
) -> None:
    seed_four_patients(clock)

    assert analytics(org="org-b").status == 404
    define_journey(KEY, SPEC, org="org-b")
    theirs = analytics(org="org-b")
    assert theirs.status == 200
    assert theirs.body["current"]["enrolled"] == 0
    assert theirs.body["totals"]["enrolled"] == 0


def test_analytics_need_the_staff_or_admin_role(clock: Clock) -> None:
    assert analytics(roles="[viewer]").status == 403
    assert analytics(roles="[staff]").status == 200


@pytest.mark.parametrize(
    ("query", "message"),
    [
        pytest.param(
            {"from": "2026-11-02T00:00:00Z", "to": "2026-11-01T00:00:00Z"},
            "from: must not be after to",
            id="backwards",
        ),
        pytest.param(
            {"from": "2024-01-01", "to": "2026-01-01"},
            "from: the period may span at most 366 days",
            id="too long",
        ),
        pytest.param({"from": "last tuesday"}, "from: ", id="not a date"),
    ],
)
def test_a_period_that_makes_no_sense_is_422_naming_the_field(
    clock: Clock, query: dict[str, str], message: str
) -> None:
    result = analytics(**query)

    assert result.status == 422
    assert result.body["message"].startswith(message)


def test_a_journey_without_stages_or_not_there_is_404(clock: Clock) -> None:
    define_journey("timeline-only", {"events": [{"event_id": "visit"}]})

    assert analytics("timeline-only").status == 404
    assert analytics("no-such-journey").status == 404


def test_dates_without_a_time_or_zone_are_read_as_utc(clock: Clock) -> None:
    result = analytics(**{"from": "2026-11-01", "to": "2026-11-21T12:00:00"})

    assert result.status == 200, result.body
    assert result.body["period"] == {"start": "2026-11-01T00:00:00Z", "end": "2026-11-21T12:00:00Z"}


# -- the dashboard's files --------------------------------------------------------------------


def dashboard_file(name: str | None) -> ApiResult:
    return invoke("analytics", dashboard_event(name))


def test_the_dashboard_page_needs_no_token_and_loads_nothing_from_elsewhere() -> None:
    page = dashboard_file(None)

    assert page.status == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert "connect-src 'self'" in page.headers["Content-Security-Policy"]
    loaded = re.findall(r'(?:src|href)="([^"#]+)"', page.body)
    assert loaded and all(not re.match(r"(https?:)?//", url) for url in loaded), loaded
    folder = Path(__file__).resolve().parents[2] / "functions" / "analytics" / "dashboard"
    served = sorted(path.name for path in folder.iterdir() if path.suffix in (".js", ".css"))
    assert {"app.js", "overview.js", "patient.js", "app.css"} <= set(served)
    for name in served:
        asset = dashboard_file(name)
        assert asset.status == 200, name
        code = asset.body.replace('"http://www.w3.org/2000/svg"', "")  # a name, not a download
        assert not re.search(r"https?://", code), name


@pytest.mark.parametrize("name", ["app.py", "..%2Fapp.py", ".env", "nope.js", "APP.JS"])
def test_only_the_dashboards_own_files_are_served(name: str) -> None:
    assert dashboard_file(name).status == 404


def test_the_sample_stream_event_rolls_up_and_an_unreadable_entry_is_left_out() -> None:
    import copy
    import importlib

    from journeys_core.data import repositories
    from journeys_core.data.journey_analytics import ReadTally
    from tests.conftest import LambdaContext

    sample = load_sample("journey_rollups/log-entries")
    broken = copy.deepcopy(sample["Records"][0])
    broken["eventID"] = "broken"
    del broken["dynamodb"]["NewImage"]["to_stage"]
    handler = importlib.import_module("functions.journey_rollups.app").handler

    answer = handler({"Records": [*sample["Records"], broken]}, LambdaContext())

    assert answer["entries"] == 2
    live = repositories.journey_rollups().live_counts(
        "demo", KEY, ["SCREENING_PENDING", "BLOCKED_HIGH_RISK"], ReadTally()
    )
    # the patient entered and left screening in one batch: nothing to add there
    assert live == {"BLOCKED_HIGH_RISK": 1}
