"""The Python client (``client/``) against the local stack over real HTTP, beyond the
guide's examples (``test_client_guide.py``): versions, paging, timelines, field-level
validation errors, auth, patients, events, and the client's models against the OpenAPI
document. Each test has its own organization (the ``org`` fixture).
"""

from __future__ import annotations

import time
from collections.abc import Callable
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
    LogVerification,
    Migration,
    MigrationPreview,
    NotFoundError,
    Patient,
    PatientSummary,
    StageMember,
    Timeline,
    ValidationError,
)
from pydantic import BaseModel

from local_stack.tokens import make_token
from tests.e2e.conftest import LocalStack, MakeClient, small_spec

pytestmark = pytest.mark.e2e


BOOKING: dict[str, Any] = {
    "stages": ["AWAITING_PAYMENT", "CONFIRMED", "CANCELLED"],
    "initial_stage": "AWAITING_PAYMENT",
    "transitions": {"AWAITING_PAYMENT": ["CONFIRMED", "CANCELLED"], "CONFIRMED": ["CANCELLED"]},
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


def test_load_journey_by_version_and_every_version(client: JourneysClient) -> None:
    client.journeys.save_journey(name="versioned", journey_spec=small_spec("a"))
    updated = client.journeys.update_journey("versioned", journey_spec=small_spec("a", "b"))
    assert updated.version == 2

    first = client.journeys.load_journey("versioned", version=1)
    assert (first.version, first.event_count) == (1, 1)
    assert client.journeys.load_journey("versioned").event_count == 2
    assert client.journeys.load_journey(updated.id, version=2) == updated
    assert [r.version for r in client.journeys.list_versions("versioned")] == [2, 1]

    with pytest.raises(NotFoundError):
        client.journeys.load_journey("versioned", version=3)

    retired = client.journeys.update_journey("versioned", is_active=False, bump_version=False)
    assert (retired.is_active, retired.version) == (False, 2)
    assert client.journeys.load_journey("versioned").is_active is False


def test_list_journeys_iterates_every_page_and_limit_caps_the_total(
    make_client: MakeClient,
) -> None:
    transport = CountingTransport()
    client = make_client(page_size=2, transport=transport)
    saved = [f"journey-{n}" for n in range(5)]
    for name in saved:
        client.journeys.save_journey(name=name, journey_spec=small_spec("a"), tags=["paged"])

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


def test_get_executions_pages_until_the_limit(make_client: MakeClient) -> None:
    client = make_client(page_size=2)
    client.journeys.save_journey(name="busy", journey_spec=small_spec("a"))
    ids = [
        client.journeys.record_execution(journey_id="busy", entity_id=f"patient-{n}")
        for n in range(5)
    ]
    assert [e.id for e in client.journeys.get_executions("busy")] == ids[::-1]
    assert [e.id for e in client.journeys.get_executions("busy", limit=3)] == ids[:1:-1]
    assert len(client.journeys.get_executions("busy", limit=None)) == 5


def test_get_entity_journeys_across_journeys(make_client: MakeClient) -> None:
    client = make_client(page_size=2)
    first = client.journeys.save_journey(name="first", journey_spec=small_spec("a"))
    second = client.journeys.save_journey(name="second", journey_spec=small_spec("a"))
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
    quarterly = {"min_days": 90, "max_days": 90}
    events = [
        {"event_id": "quarterly-visit", "event_type": "encounter", "delay": quarterly},
        {"event_id": "hba1c-lab", "event_type": "lab_order", "delay": quarterly},
        {
            "event_id": "annual-eye-exam",
            "event_type": "encounter",
            "delay": {"min_days": 60, "max_days": 60},
        },
    ]
    client.journeys.save_journey(
        name="diabetic-first-year", journey_spec={"duration_days": 365, "events": events}
    )

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
    assert all(isinstance(t.execution_id, int) for t in recorded.timelines)


# -- exceptions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "field"),
    [
        pytest.param(
            lambda c: c.journeys.save_journey(name="no spaces", journey_spec=small_spec("a")),
            "name",
            id="name",
        ),
        pytest.param(
            lambda c: c.journeys.save_journey(name="empty", journey_spec={"duration_days": 3}),
            "journey_spec",
            id="spec without events or stages",
        ),
        pytest.param(
            lambda c: c.journeys.save_journey(name="dup", journey_spec=small_spec("a", "a")),
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
    client.journeys.save_journey(name="valid", journey_spec=small_spec("a"))

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
        reader.journeys.save_journey(name="x", journey_spec=small_spec("a"))
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
    verified = client.patients.verify_history("patient-001", "booking")
    assert isinstance(verified, LogVerification)
    assert (verified.entries, verified.valid, verified.first_invalid) == (2, True, None)

    members = client.patients.in_stage("booking", "CONFIRMED")
    assert [(m.patient_id, m.display_name, m.stage) for m in members] == [
        ("patient-001", "Ana", "CONFIRMED")
    ]
    assert isinstance(members[0], StageMember)
    (found,) = client.patients.search("AN")
    assert isinstance(found, PatientSummary)
    assert (found.id, found.display_name) == ("patient-001", "Ana")
    assert client.patients.search("ana@example.com") == []  # the email was cleared
    assert client.patients.events("patient-001") == []  # no domain event about her yet
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


def test_events_publish(make_client: MakeClient) -> None:
    client = make_client(roles="integration")  # events come from integrations, not people
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


# -- the client's models and the guide -------------------------------------------------------
# Fields, types and required fields against docs/openapi.json: tests/unit/test_client_contract.py.


@pytest.mark.parametrize(
    ("model", "guide_fields"),
    [
        (
            JourneyRecord,
            "id name description version journey_spec products tags duration_days event_count "
            "created_at updated_at",
        ),
        (
            JourneySummary,
            "id name description version products tags duration_days event_count "
            "execution_count last_executed",
        ),
        (
            JourneyExecutionRecord,
            "id journey_id profile_id cohort_id entity_id start_date end_date events_generated "
            "duration_ms status executed_at",
        ),
    ],
)
def test_client_models_have_the_guides_fields(model: type[BaseModel], guide_fields: str) -> None:
    assert set(guide_fields.split()) <= set(model.model_fields)


def test_every_error_is_a_journeys_error() -> None:
    for error in (
        NotFoundError,
        AlreadyExistsError,
        ConflictError,
        ValidationError,
        AuthError,
    ):
        assert issubclass(error, JourneysError)


def test_a_migration_through_the_client_runs_on_the_local_stack(client: JourneysClient) -> None:
    # Given patients on version 1, and a version 2 that drops their stage
    client.journeys.save_journey("mig", {"stages": ["A", "B", "C"]})
    for patient_id in ("m-1", "m-2"):
        client.patients.move(patient_id, "mig", "A")
        client.patients.move(patient_id, "mig", "B")
    client.journeys.update_journey("mig", journey_spec={"stages": ["A", "C"]})

    # When the admin rehearses, then runs the migration
    preview = client.journeys.migrate_journey("mig", stage_map={"B": "C"}, dry_run=True)
    started = client.journeys.migrate_journey("mig", stage_map={"B": "C"}, reason="B retired")

    # Then the migrations function (behind its SQS queue) moves both, each with its entry
    assert isinstance(preview, MigrationPreview)
    assert (preview.dry_run, preview.patients, preview.by_stage, preview.unmapped) == (
        True,
        2,
        {"B": 2},
        {},
    )
    assert isinstance(started, Migration)
    deadline = datetime.now() + timedelta(seconds=30)
    status = started
    while status.status == "running" and datetime.now() < deadline:
        time.sleep(0.2)  # the stack's SQS poller hands the job to the function
        status = client.journeys.get_migration("mig", started.id)
    assert (status.status, status.moved, status.to_version) == ("completed", 2, 2)
    patient = client.patients.get("m-1")
    assert patient.journey_status == {"mig": "C"}
    assert client.patients.history("m-1", "mig")[-1].actor == "migration"


def test_the_client_re_enrolls_after_an_ended_episode_without_an_exit_call(
    client: JourneysClient,
) -> None:
    # Given a journey whose episode ends in DONE and allows re-entry
    spec = {
        "stages": ["A", "DONE"],
        "transitions": {"A": ["DONE"]},
        "reentry": {"allowed": True},
    }
    client.journeys.save_journey("again", spec)
    client.patients.move("e-1", "again", "A")
    ended = client.patients.move("e-1", "again", "DONE").enrollments["again"]

    # When the patient comes back: a plain move, nothing to call first
    back = client.patients.move("e-1", "again", "A").enrollments["again"]

    # Then the first episode ended and the second began
    assert (ended.episode, ended.ended_at is not None, ended.episodes_ended) == (1, True, 1)
    assert (back.stage, back.episode, back.ended_at) == ("A", 2, None)
    assert [e.episode for e in client.patients.history("e-1", "again")] == [1, 1, 2]
