"""The Python client (``client/``) against the local stack over real HTTP: every call the
persistence guide documents, with the guide's argument names, plus patients and events.

Each test has its own organization (a unique ``custom:org_id`` in its token), so tests never
see each other's journeys, executions or patients.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest
from journeys_client import (
    AlreadyExistsError,
    AuthError,
    ConflictError,
    JourneyExecutionRecord,
    JourneyLogEntry,
    JourneyRecord,
    JourneysClient,
    JourneysError,
    JourneySummary,
    NotFoundError,
    Patient,
    StageMember,
    Timeline,
    ValidationError,
)
from pydantic import BaseModel

from local_stack.tokens import make_token
from tests.e2e.conftest import REPO_ROOT, LocalStack

pytestmark = pytest.mark.e2e

OPENAPI = json.loads((REPO_ROOT / "docs" / "openapi.json").read_text(encoding="utf-8"))


# The guide's quick start spec, as written there.
DIABETIC_FIRST_YEAR: dict[str, Any] = {
    "journey_id": "diabetic-first-year",
    "name": "First Year Diabetes Management",
    "duration_days": 365,
    "products": ["patientsim"],
    "events": [
        {
            "event_id": "quarterly-visit",
            "name": "Quarterly PCP Visit",
            "event_type": "encounter",
            "delay": {"min_days": 90, "max_days": 90},
        },
        {
            "event_id": "hba1c-lab",
            "name": "HbA1c Lab Order",
            "event_type": "lab_order",
            "delay": {"min_days": 90, "max_days": 90},
        },
        {
            "event_id": "annual-eye-exam",
            "name": "Annual Ophthalmology Visit",
            "event_type": "encounter",
            "delay": {"min_days": 60, "max_days": 60},
        },
    ],
}

# The guide's multi-product spec.
NEW_MEMBER_ONBOARDING: dict[str, Any] = {
    "journey_id": "new-member-onboarding",
    "name": "New Member Onboarding Journey",
    "duration_days": 90,
    "products": ["membersim", "patientsim", "rxmembersim"],
    "events": [
        {"event_id": "enrollment", "event_type": "new_enrollment", "product": "membersim"},
        {
            "event_id": "welcome-visit",
            "event_type": "encounter",
            "product": "patientsim",
            "delay": {"min_days": 14, "max_days": 30},
        },
        {
            "event_id": "first-rx",
            "event_type": "prescription_fill",
            "product": "rxmembersim",
            "delay": {"min_days": 14, "max_days": 45},
        },
    ],
}

BOOKING: dict[str, Any] = {
    "stages": ["AWAITING_PAYMENT", "CONFIRMED", "CANCELLED"],
    "initial_stage": "AWAITING_PAYMENT",
    "transitions": {"AWAITING_PAYMENT": ["CONFIRMED", "CANCELLED"], "CONFIRMED": ["CANCELLED"]},
}


def spec(*event_ids: str, duration_days: int = 30) -> dict[str, Any]:
    return {
        "duration_days": duration_days,
        "events": [
            {"event_id": e, "event_type": "encounter", "delay": {"min_days": 1, "max_days": 1}}
            for e in event_ids
        ],
    }


class CountingTransport(httpx.BaseTransport):
    """Real HTTP, with every request remembered."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


MakeClient = Callable[..., JourneysClient]


@pytest.fixture
def org() -> str:
    return f"client-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def make_client(local_stack: LocalStack, org: str) -> Iterator[MakeClient]:
    """Clients of this test's organization; closed at the end of the test."""
    clients: list[JourneysClient] = []

    def make(roles: str = "admin,staff", **options: Any) -> JourneysClient:
        token = make_token(org=org, roles=roles)
        # Loopback only: a proxy from the environment must not see these requests.
        client = JourneysClient(local_stack.base_url, token, trust_env=False, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client: MakeClient) -> JourneysClient:
    return make_client()


# -- the guide's quick start ------------------------------------------------------------------


def test_quick_start_save_load_record_list(client: JourneysClient) -> None:
    journey_id = client.journeys.save_journey(
        name="diabetic-first-year",
        journey_spec=DIABETIC_FIRST_YEAR,
        description="Quarterly visits with labs for new diabetics",
        tags=["diabetes", "chronic-care", "primary-care"],
    )
    assert journey_id.startswith("journey-")

    journey = client.journeys.load_journey("diabetic-first-year")
    assert isinstance(journey, JourneyRecord)
    assert (journey.id, journey.name, journey.version) == (journey_id, "diabetic-first-year", 1)
    assert journey.duration_days == 365
    assert journey.event_count == 3
    assert journey.description == "Quarterly visits with labs for new diabetics"
    assert journey.tags == ["diabetes", "chronic-care", "primary-care"]
    assert journey.products == ["patientsim"]
    assert journey.journey_spec["events"][0]["event_id"] == "quarterly-visit"
    assert journey.journey_spec["journey_id"] == "diabetic-first-year"
    assert isinstance(journey.created_at, datetime)
    assert isinstance(journey.updated_at, datetime)
    assert client.journeys.load_journey(journey_id) == journey  # by id too

    start_date = date(2024, 1, 1)
    exec_id = client.journeys.record_execution(
        journey_id=journey.id,
        entity_id="patient-001",
        start_date=start_date,
        end_date=start_date + timedelta(days=365),
        events_generated=12,
        duration_ms=42,
    )
    assert isinstance(exec_id, str)
    assert exec_id.startswith("exec-")

    all_journeys = client.journeys.list_journeys()
    assert [j.name for j in all_journeys] == ["diabetic-first-year"]
    (summary,) = all_journeys
    assert isinstance(summary, JourneySummary)
    assert (summary.event_count, summary.execution_count) == (3, 1)
    assert isinstance(summary.last_executed, datetime)


# -- journey management -----------------------------------------------------------------------


def test_load_journey_by_version_and_every_version(client: JourneysClient) -> None:
    client.journeys.save_journey(name="versioned", journey_spec=spec("a"))
    updated = client.journeys.update_journey("versioned", journey_spec=spec("a", "b"))
    assert updated.version == 2

    first = client.journeys.load_journey("versioned", version=1)
    assert (first.version, first.event_count) == (1, 1)
    assert client.journeys.load_journey("versioned").event_count == 2
    assert client.journeys.load_journey(updated.id, version=2) == updated
    assert [r.version for r in client.journeys.list_versions("versioned")] == [2, 1]

    with pytest.raises(NotFoundError):
        client.journeys.load_journey("versioned", version=3)


def test_list_journeys_filters_by_products_tags_and_search(client: JourneysClient) -> None:
    client.journeys.save_journey(
        name="new-member-onboarding",
        journey_spec=NEW_MEMBER_ONBOARDING,
        products=["membersim", "patientsim", "rxmembersim"],
        tags=["onboarding", "multi-product"],
    )
    client.journeys.save_journey(
        name="cardiac-rehab",
        journey_spec=spec("visit"),
        description="Twelve weeks after a heart attack",
        tags=["cardiac", "chronic"],
    )
    client.journeys.save_journey(
        name="heart-failure",
        journey_spec=spec("visit"),
        description="Cardiac follow-up after discharge",
        products=["membersim"],
        tags=["cardiac"],
    )

    def names(journeys: list[JourneySummary]) -> set[str]:
        return {j.name for j in journeys}

    everything = {"new-member-onboarding", "cardiac-rehab", "heart-failure"}
    assert names(client.journeys.list_journeys()) == everything
    assert names(client.journeys.list_journeys(products=["patientsim"])) == {
        "new-member-onboarding",
        "cardiac-rehab",  # products default to ["patientsim"]
    }
    assert names(client.journeys.list_journeys(products=["rxmembersim", "membersim"])) == {
        "new-member-onboarding",
        "heart-failure",
    }
    assert names(client.journeys.list_journeys(tags=["cardiac"])) == {
        "cardiac-rehab",
        "heart-failure",
    }
    assert names(client.journeys.list_journeys(tags=["multi-product", "chronic"])) == {
        "new-member-onboarding",
        "cardiac-rehab",
    }
    # By name or description, any case.
    assert names(client.journeys.list_journeys(search="cardiac")) == {
        "cardiac-rehab",
        "heart-failure",
    }
    assert names(client.journeys.list_journeys(tags=["cardiac"], search="rehab")) == {
        "cardiac-rehab"
    }
    assert client.journeys.list_journeys(search="nothing-like-this") == []

    onboarding = client.journeys.load_journey("new-member-onboarding")
    assert onboarding.products == ["membersim", "patientsim", "rxmembersim"]
    assert onboarding.duration_days == 90


def test_list_journeys_iterates_every_page_and_limit_caps_the_total(
    make_client: MakeClient,
) -> None:
    transport = CountingTransport()
    client = make_client(page_size=2, transport=transport)
    saved = [f"journey-{n}" for n in range(5)]
    for name in saved:
        client.journeys.save_journey(name=name, journey_spec=spec("a"), tags=["paged"])

    transport.requests.clear()
    listed = client.journeys.list_journeys(tags=["paged"])
    assert sorted(j.name for j in listed) == saved
    assert [j.name for j in listed] == saved[::-1]  # newest update first
    pages = [r for r in transport.requests if r.url.path == "/api/v1/journeys"]
    assert len(pages) == 3
    assert [r.url.params.get("limit") for r in pages] == ["2", "2", "2"]
    assert "cursor" not in pages[0].url.params
    assert all(r.url.params.get("cursor") for r in pages[1:])

    transport.requests.clear()
    assert [j.name for j in client.journeys.list_journeys(limit=3)] == saved[:1:-1]
    assert [r.url.params.get("limit") for r in transport.requests] == ["2", "1"]
    assert len(client.journeys.list_journeys(limit=50)) == 5


def test_update_journey_bumps_the_version_unless_told_not_to(client: JourneysClient) -> None:
    client.journeys.save_journey(
        name="diabetic-first-year", journey_spec=DIABETIC_FIRST_YEAR, tags=["diabetes"]
    )
    new_spec = {**DIABETIC_FIRST_YEAR, "duration_days": 730, "events": spec("a", "b")["events"]}

    updated = client.journeys.update_journey("diabetic-first-year", journey_spec=new_spec)
    assert updated.version == 2
    assert (updated.duration_days, updated.event_count) == (730, 2)
    assert updated.tags == ["diabetes"]  # omitted fields keep their value

    same = client.journeys.update_journey(
        "diabetic-first-year",
        description="Updated description",
        tags=["diabetes", "hedis"],
        bump_version=False,  # Don't increment version for metadata-only changes
    )
    assert same.version == 2
    assert same.description == "Updated description"
    assert same.tags == ["diabetes", "hedis"]
    assert same.updated_at >= updated.updated_at

    inactive = client.journeys.update_journey(
        updated.id,
        products=["membersim"],
        metadata={"owner": "care-team"},
        is_active=False,
        bump_version=False,
    )
    assert (inactive.is_active, inactive.products, inactive.metadata) == (
        False,
        ["membersim"],
        {"owner": "care-team"},
    )
    assert client.journeys.load_journey("diabetic-first-year") == inactive


def test_delete_journey_with_and_without_its_executions(client: JourneysClient) -> None:
    old = client.journeys.save_journey(name="old-journey", journey_spec=spec("a"))
    kept = client.journeys.save_journey(name="kept-history", journey_spec=spec("a"))
    client.journeys.record_execution(journey_id=old, entity_id="patient-001")
    kept_exec = client.journeys.record_execution(journey_id=kept, entity_id="patient-001")

    # Delete journey and execution history
    assert client.journeys.delete_journey("old-journey") is None
    with pytest.raises(NotFoundError):
        client.journeys.load_journey("old-journey")
    with pytest.raises(NotFoundError):
        client.journeys.load_journey(old)
    assert [e.journey_id for e in client.journeys.get_entity_journeys("patient-001")] == [kept]

    # Delete journey but keep execution history
    client.journeys.delete_journey("kept-history", delete_executions=False)
    with pytest.raises(NotFoundError):
        client.journeys.load_journey(kept)
    assert [e.id for e in client.journeys.get_entity_journeys("patient-001")] == [kept_exec]
    assert client.journeys.list_journeys() == []

    with pytest.raises(NotFoundError):
        client.journeys.delete_journey("old-journey")
    # The name is free again.
    assert client.journeys.save_journey(name="old-journey", journey_spec=spec("a")) != old


# -- execution history ------------------------------------------------------------------------


def test_record_execution_success_and_failure_then_get_executions(
    client: JourneysClient,
) -> None:
    journey = client.journeys.load_journey(
        client.journeys.save_journey(name="diabetic-first-year", journey_spec=DIABETIC_FIRST_YEAR)
    )

    # Record successful execution
    exec_id = client.journeys.record_execution(
        journey_id=journey.id,
        profile_id="profile-abc123",  # Optional: link to profile
        cohort_id="cohort-xyz789",  # Optional: link to cohort
        entity_id="patient-001",
        start_date=date(2024, 1, 1),
        end_date=date(2024, 12, 31),
        events_generated=48,
        duration_ms=1500,
        metadata={"source": "batch-generation"},
    )
    # Record failed execution
    failed = client.journeys.record_execution_record(
        journey_id=journey.id,
        entity_id="patient-002",
        events_generated=0,
        status="failed",
        error_message="Missing required condition for event",
    )
    assert isinstance(failed, JourneyExecutionRecord)
    assert (failed.status, failed.error_message) == (
        "failed",
        "Missing required condition for event",
    )
    # By name too, with a partial run.
    partial = client.journeys.record_execution(
        journey_id="diabetic-first-year", entity_id="patient-003", status="partial"
    )

    executions = client.journeys.get_executions("diabetic-first-year", limit=10)
    assert [e.id for e in executions] == [partial, failed.id, exec_id]  # newest first
    success = executions[-1]
    assert success.journey_id == journey.id
    assert (success.profile_id, success.cohort_id, success.entity_id) == (
        "profile-abc123",
        "cohort-xyz789",
        "patient-001",
    )
    assert (success.start_date, success.end_date) == (date(2024, 1, 1), date(2024, 12, 31))
    assert (success.events_generated, success.duration_ms) == (48, 1500)
    assert (success.status, success.metadata) == ("completed", {"source": "batch-generation"})
    assert isinstance(success.executed_at, datetime)

    assert [e.id for e in client.journeys.get_executions(journey.id, limit=2)] == [
        partial,
        failed.id,
    ]
    assert len(client.journeys.get_executions("diabetic-first-year")) == 3  # limit=20
    (summary,) = client.journeys.list_journeys()
    assert summary.execution_count == 3


def test_get_executions_pages_until_the_limit(make_client: MakeClient) -> None:
    client = make_client(page_size=2)
    client.journeys.save_journey(name="busy", journey_spec=spec("a"))
    ids = [
        client.journeys.record_execution(journey_id="busy", entity_id=f"patient-{n}")
        for n in range(5)
    ]
    assert [e.id for e in client.journeys.get_executions("busy")] == ids[::-1]
    assert [e.id for e in client.journeys.get_executions("busy", limit=3)] == ids[:1:-1]
    assert len(client.journeys.get_executions("busy", limit=None)) == 5


def test_get_entity_journeys_across_journeys(make_client: MakeClient) -> None:
    client = make_client(page_size=2)
    first = client.journeys.save_journey(name="first", journey_spec=spec("a"))
    second = client.journeys.save_journey(name="second", journey_spec=spec("a"))
    start = date(2024, 3, 1)
    for journey_id in (first, second, first):
        client.journeys.record_execution(
            journey_id=journey_id,
            entity_id="patient-001",
            start_date=start,
            end_date=start + timedelta(days=30),
        )
    client.journeys.record_execution(journey_id=first, entity_id="patient-002")

    patient_journeys = client.journeys.get_entity_journeys("patient-001")
    assert [e.journey_id for e in patient_journeys] == [first, second, first]
    for execution in patient_journeys:
        assert (execution.start_date, execution.end_date) == (start, date(2024, 3, 31))
        assert execution.entity_id == "patient-001"
    assert len(client.journeys.get_entity_journeys("patient-001", limit=1)) == 1
    assert client.journeys.get_entity_journeys("patient-nobody") == []


def test_generate_timeline(client: JourneysClient) -> None:
    client.journeys.save_journey(name="diabetic-first-year", journey_spec=DIABETIC_FIRST_YEAR)

    timeline = client.journeys.generate_timeline(
        "diabetic-first-year",
        entity_id="patient-001",
        start_date=date(2024, 1, 1),
        seed=42,
        record_execution=False,
    )
    assert isinstance(timeline, Timeline)
    (entity,) = timeline.timelines
    assert [e.event_id for e in entity.events] == [
        "quarterly-visit",
        "hba1c-lab",
        "annual-eye-exam",
    ]
    assert entity.events[0].scheduled_date == date(2024, 3, 31)  # 90 days
    assert entity.execution_id is None
    assert client.journeys.get_executions("diabetic-first-year") == []

    recorded = client.journeys.generate_timeline(
        "diabetic-first-year", entity_ids=["patient-001", "patient-002"], seed=42
    )
    assert [t.entity_id for t in recorded.timelines] == ["patient-001", "patient-002"]
    executions = client.journeys.get_executions("diabetic-first-year")
    assert {e.id for e in executions} == {t.execution_id for t in recorded.timelines}


def test_import_builtin_journeys_then_nothing_more(client: JourneysClient) -> None:
    count = client.journeys.import_builtin_journeys()
    assert count > 0

    builtin = client.journeys.list_journeys(tags=["builtin"])
    assert len(builtin) == count
    assert "diabetic-first-year" in {j.name for j in builtin}
    assert all(j.description for j in builtin)

    assert client.journeys.import_builtin_journeys() == 0


# -- exceptions -------------------------------------------------------------------------------


def test_not_found_and_already_exists(client: JourneysClient) -> None:
    with pytest.raises(NotFoundError) as missing:
        client.journeys.load_journey("no-such-journey")
    assert missing.value.status_code == 404
    assert "no-such-journey" in str(missing.value)
    assert isinstance(missing.value, ValueError)  # what the guide's manager raised

    for call in (
        lambda: client.journeys.get_executions("no-such-journey"),
        lambda: client.journeys.record_execution(journey_id="journey-00000000"),
        lambda: client.journeys.update_journey("no-such-journey", description="x"),
        lambda: client.journeys.delete_journey("no-such-journey"),
        lambda: client.patients.get("nobody"),
    ):
        with pytest.raises(NotFoundError):
            call()

    client.journeys.save_journey(name="taken", journey_spec=spec("a"))
    with pytest.raises(AlreadyExistsError) as taken:
        client.journeys.save_journey(name="taken", journey_spec=spec("b"))
    assert (taken.value.status_code, taken.value.code) == (409, "already_exists")
    assert isinstance(taken.value, ConflictError)
    assert isinstance(taken.value, ValueError)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        pytest.param(
            lambda c: c.journeys.save_journey(name="no spaces", journey_spec=spec("a")),
            "name",
            id="name",
        ),
        pytest.param(
            lambda c: c.journeys.save_journey(name="empty", journey_spec={"duration_days": 3}),
            "journey_spec",
            id="spec without events or stages",
        ),
        pytest.param(
            lambda c: c.journeys.save_journey(name="dup", journey_spec=spec("a", "a")),
            "journey_spec.events",
            id="duplicate events",
        ),
        pytest.param(
            lambda c: c.journeys.record_execution(
                journey_id="valid", start_date=date(2024, 2, 1), end_date=date(2024, 1, 1)
            ),
            "end_date",
            id="dates out of order",
        ),
        pytest.param(
            lambda c: c.journeys.record_execution(journey_id="valid", status="done"),
            "status",
            id="status",
        ),
        pytest.param(
            lambda c: c.journeys.record_execution(journey_id="valid", events_generated=-1),
            "events_generated",
            id="events_generated",
        ),
        pytest.param(
            lambda c: c.journeys.update_journey("valid", tags=["x" * 65]),
            "tags.0",
            id="tag too long",
        ),
        pytest.param(
            lambda c: c.patients.upsert("patient-001", email="not-an-email"),
            "email",
            id="email",
        ),
    ],
)
def test_validation_errors_name_the_field(
    client: JourneysClient, call: Callable[[JourneysClient], Any], field: str
) -> None:
    client.journeys.save_journey(name="valid", journey_spec=spec("a"))

    with pytest.raises(ValidationError) as refused:
        call(client)

    assert refused.value.status_code == 422
    assert refused.value.field == field
    assert refused.value.message
    assert str(refused.value).startswith("422 ")


def test_auth_errors(local_stack: LocalStack, make_client: MakeClient) -> None:
    reader = make_client(roles="")
    assert reader.journeys.list_journeys() == []  # reading needs any signed-in user
    with pytest.raises(AuthError) as forbidden:
        reader.journeys.save_journey(name="x", journey_spec=spec("a"))
    assert forbidden.value.status_code == 403
    with pytest.raises(AuthError):
        reader.patients.get("patient-001")  # patients need staff or admin

    expired = JourneysClient(local_stack.base_url, make_token(ttl_seconds=-60), trust_env=False)
    with expired, pytest.raises(AuthError) as unauthorized:
        expired.journeys.list_journeys()
    assert unauthorized.value.status_code == 401


def test_a_token_function_is_called_for_each_request(local_stack: LocalStack, org: str) -> None:
    calls: list[int] = []

    def token() -> str:
        calls.append(1)
        return make_token(org=org)

    with JourneysClient(local_stack.base_url + "/api/v1/", token, trust_env=False) as client:
        client.journeys.list_journeys()
        client.journeys.list_journeys()
    assert len(calls) == 2


# -- patients ---------------------------------------------------------------------------------


def test_patients_upsert_get_move_and_history(client: JourneysClient) -> None:
    client.journeys.save_journey(name="booking", journey_spec=BOOKING)

    created = client.patients.upsert(
        "patient-001", display_name="Ana", email="ana@example.org", metadata={"tier": "gold"}
    )
    assert isinstance(created, Patient)
    assert (created.id, created.display_name, created.email) == (
        "patient-001",
        "Ana",
        "ana@example.org",
    )
    kept = client.patients.upsert("patient-001", email="ana@example.com")
    assert (kept.display_name, kept.email, kept.metadata) == (
        "Ana",
        "ana@example.com",
        {"tier": "gold"},
    )
    cleared = client.patients.upsert("patient-001", email=None)
    assert (cleared.display_name, cleared.email) == ("Ana", None)

    enrolled = client.patients.move("patient-001", "booking", "AWAITING_PAYMENT")
    assert enrolled.journey_status == {"booking": "AWAITING_PAYMENT"}
    moved = client.patients.move(
        "patient-001",
        "booking",
        "CONFIRMED",
        reason="paid by card",
        expected_stage="AWAITING_PAYMENT",
    )
    assert moved.journey_status == {"booking": "CONFIRMED"}
    assert moved.enrollments["booking"].version == 2

    patient = client.patients.get("patient-001")
    assert patient.journey_status == {"booking": "CONFIRMED"}
    assert patient.display_name == "Ana"
    assert isinstance(patient.enrollments["booking"].entered_at, datetime)

    history = client.patients.history("patient-001", "booking")
    assert all(isinstance(entry, JourneyLogEntry) for entry in history)
    assert [(e.from_stage, e.to_stage) for e in history] == [
        (None, "AWAITING_PAYMENT"),
        ("AWAITING_PAYMENT", "CONFIRMED"),
    ]
    assert history[1].reason == "paid by card"
    assert history[0].actor == "local-user"
    assert len(client.patients.history("patient-001", "booking", limit=1)) == 1

    members = client.patients.in_stage("booking", "CONFIRMED")
    assert [(m.patient_id, m.stage) for m in members] == [("patient-001", "CONFIRMED")]
    assert isinstance(members[0], StageMember)
    assert client.patients.in_stage("booking", "CANCELLED") == []


def test_patient_history_pages(make_client: MakeClient) -> None:
    client = make_client(page_size=1)
    client.journeys.save_journey(name="booking", journey_spec=BOOKING)
    client.patients.move("patient-001", "booking", "AWAITING_PAYMENT")
    client.patients.move("patient-001", "booking", "CONFIRMED")
    client.patients.move("patient-001", "booking", "CANCELLED")

    history = client.patients.history("patient-001", "booking")
    assert [e.to_stage for e in history] == ["AWAITING_PAYMENT", "CONFIRMED", "CANCELLED"]


def test_stage_move_conflicts_and_invalid_stage(client: JourneysClient) -> None:
    client.journeys.save_journey(name="booking", journey_spec=BOOKING)
    client.patients.move("patient-001", "booking", "AWAITING_PAYMENT")

    with pytest.raises(ConflictError) as wrong_stage:
        client.patients.move("patient-001", "booking", "CONFIRMED", expected_stage="CANCELLED")
    assert wrong_stage.value.status_code == 409
    assert not isinstance(wrong_stage.value, AlreadyExistsError)
    assert "CANCELLED" in str(wrong_stage.value)

    client.patients.move("patient-001", "booking", "CANCELLED")
    with pytest.raises(ConflictError, match="does not allow"):
        client.patients.move("patient-001", "booking", "CONFIRMED")

    with pytest.raises(ValidationError) as unknown_stage:
        client.patients.move("patient-001", "booking", "SHIPPED")
    assert unknown_stage.value.field == "status"

    with pytest.raises(NotFoundError):
        client.patients.move("patient-001", "no-such-journey", "CONFIRMED")
    assert client.patients.get("patient-001").journey_status == {"booking": "CANCELLED"}


# -- events -----------------------------------------------------------------------------------


def test_events_publish(client: JourneysClient) -> None:
    accepted = client.events.publish("PAYMENT_SUCCEEDED", "patient-001", {"amount": 120})
    assert accepted.type == "PAYMENT_SUCCEEDED"
    assert accepted.event_id

    mine = client.events.publish(
        "BOOKING_CREATED", "patient-001", {"booking": "b-1"}, event_id="booking-b-1"
    )
    assert mine.event_id == "booking-b-1"

    with pytest.raises(ValidationError) as refused:
        client.events.publish("NOT_AN_EVENT", "patient-001", {})
    assert refused.value.field == "type"


# -- the client's models against the HTTP contract --------------------------------------------


@pytest.mark.parametrize(
    ("model", "schema", "guide_fields"),
    [
        (
            JourneyRecord,
            "JourneyRecord",
            "id name description version journey_spec products tags duration_days event_count "
            "created_at updated_at",
        ),
        (
            JourneySummary,
            "JourneySummary",
            "id name description version products tags duration_days event_count "
            "execution_count last_executed",
        ),
        (
            JourneyExecutionRecord,
            "ExecutionRecord",
            "id journey_id profile_id cohort_id entity_id start_date end_date events_generated "
            "duration_ms status executed_at",
        ),
        (Patient, "PatientView", ""),
        (JourneyLogEntry, "JourneyLogEntry", ""),
        (StageMember, "StageMember", ""),
        (Timeline, "TimelineResponse", ""),
    ],
)
def test_client_models_cover_the_contract_and_the_guide(
    model: type[BaseModel], schema: str, guide_fields: str
) -> None:
    properties = set(OPENAPI["components"]["schemas"][schema]["properties"])
    fields = set(model.model_fields)
    assert properties <= fields, f"{model.__name__} misses {sorted(properties - fields)}"
    assert set(guide_fields.split()) <= fields


def test_every_error_is_a_journeys_error() -> None:
    for error in (
        NotFoundError,
        AlreadyExistsError,
        ConflictError,
        ValidationError,
        AuthError,
    ):
        assert issubclass(error, JourneysError)
