"""Finding and following a patient, handler in-process on moto: names on the stage lists
(kept on the enrollments, so the list is still one Query), search by name prefix or email,
and what happened to a patient (its system events), each in one index Query, tenant-scoped
and paginated."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from journeys_core.data import repositories
from journeys_core.errors import LostRace
from journeys_core.models.patient import StageMove
from journeys_core.services.patients import move_patient_stage
from tests.conftest import all_pages
from tests.support.automation import (
    Pipeline,
    import_builtin_journeys,
    import_playbook,
    install_pipeline,
    verify_sender,
)
from tests.support.patients import (
    KEY,
    define_journey,
    in_stage,
    move,
    patient_events,
    put_patient,
    search,
)

pytestmark = pytest.mark.usefixtures("aws")


@pytest.fixture
def retreat(aws: None) -> None:
    define_journey()


def named(patient_id: str, name: str, email: str | None = None, org: str = "org-a") -> None:
    body: dict[str, Any] = {"display_name": name}
    if email:
        body["email"] = email
    assert put_patient(patient_id, body, org=org).status in (200, 201)


# -- names on the stage lists ----------------------------------------------------------------


@pytest.mark.usefixtures("retreat")
def test_the_stage_list_names_each_patient_in_one_query(ddb_calls: Counter[str]) -> None:
    named("p-1", "Ana Ruiz")
    move("p-1", "SCREENING_PENDING")
    move("p-2", "SCREENING_PENDING")  # no profile: no name, the id stands alone

    ddb_calls.clear()
    page = in_stage("SCREENING_PENDING")

    assert dict(ddb_calls) == {"Query": 1}
    assert [(m["patient_id"], m["display_name"]) for m in page.body["items"]] == [
        ("p-1", "Ana Ruiz"),
        ("p-2", None),
    ]


@pytest.mark.usefixtures("retreat")
def test_a_rename_or_a_first_name_reaches_every_enrollment_and_survives_moves() -> None:
    define_journey("intake", {"stages": ["NEW", "DONE"]})
    named("p-1", "Ana Ruiz")
    move("p-1", "SCREENING_PENDING")
    move("p-1", "NEW", key="intake")
    move("p-2", "SCREENING_PENDING")

    named("p-1", "Ana Ruiz Vega")
    named("p-2", "Bruno Díaz")
    move("p-1", "SCREENING_COMPLETED")

    names = {
        m["patient_id"]: m["display_name"] for m in in_stage("SCREENING_PENDING").body["items"]
    }
    assert names == {"p-2": "Bruno Díaz"}
    (moved,) = in_stage("SCREENING_COMPLETED").body["items"]
    assert moved["display_name"] == "Ana Ruiz Vega"
    (other,) = in_stage("NEW", key="intake").body["items"]
    assert other["display_name"] == "Ana Ruiz Vega"
    # A cleared name leaves the id alone again
    assert put_patient("p-2", {"display_name": None}).status == 200
    (cleared,) = in_stage("SCREENING_PENDING").body["items"]
    assert cleared["display_name"] is None


@pytest.mark.usefixtures("retreat")
def test_an_enrollment_racing_a_rename_is_refused_rather_than_keep_the_old_name() -> None:
    named("p-1", "Ana Ruiz")
    read_before = repositories.patients().read("org-a", "p-1")
    named("p-1", "Beatriz Ruiz")  # renamed after the enrollment read the profile
    enroll = StageMove(
        org="org-a", patient_id="p-1", journey_key=KEY, to_stage="SCREENING_PENDING", actor="n"
    )

    with pytest.raises(LostRace, match="renamed meanwhile"):
        move_patient_stage(enroll, patient=read_before)

    assert in_stage("SCREENING_PENDING").body["items"] == []
    move_patient_stage(enroll)  # the retry reads the profile anew
    (member,) = in_stage("SCREENING_PENDING").body["items"]
    assert member["display_name"] == "Beatriz Ruiz"


# -- search ----------------------------------------------------------------------------------


def test_a_name_prefix_finds_patients_whatever_the_case_or_accents(
    aws: None, ddb_calls: Counter[str]
) -> None:
    named("p-1", "José Álvarez", "jose@example.org")
    named("p-2", "Josefina Núñez")
    named("p-3", "Ana Jose")  # "jose" inside, not at the start
    named("p-4", "Josè Ålund", org="org-b")  # another organization

    ddb_calls.clear()
    found = search("JOSE")

    assert dict(ddb_calls) == {"Query": 1}
    assert [(p["id"], p["display_name"]) for p in found.body["items"]] == [
        ("p-1", "José Álvarez"),
        ("p-2", "Josefina Núñez"),
    ]
    assert found.body["items"][0]["email"] == "jose@example.org"
    assert [p["id"] for p in search("josé á").body["items"]] == ["p-1"]
    assert [p["id"] for p in search("nunez").body["items"]] == []  # a prefix of the name
    assert [p["id"] for p in search("jose", org="org-b").body["items"]] == ["p-4"]


def test_an_email_is_found_exactly_and_case_aside(aws: None) -> None:
    named("p-1", "Ana", "Ana.Ruiz@Example.org")
    named("p-2", "Ana Bis", "ana.ruiz@example.org.uk")
    named("p-3", "Other org", "ana.ruiz@example.org", org="org-b")

    found = search("ana.ruiz@example.ORG")

    assert [p["id"] for p in found.body["items"]] == ["p-1"]
    assert search("ana.ruiz@").body["items"] == []


def test_a_rename_or_a_new_email_is_found_by_the_new_one_only(aws: None) -> None:
    named("p-1", "Ana Ruiz", "ana@example.org")
    named("p-1", "Beatriz Ruiz", "bea@example.org")

    assert search("ana").body["items"] == []
    assert search("ana@example.org").body["items"] == []
    assert [p["id"] for p in search("bea").body["items"]] == ["p-1"]
    assert [p["id"] for p in search("bea@example.org").body["items"]] == ["p-1"]


def test_search_results_page_by_name_and_a_cursor_stays_in_its_search(aws: None) -> None:
    for i in range(5):
        named(f"p-{i}", f"Marta {chr(ord('E') - i)}")
    named("p-x", "Mario")

    found, pages = all_pages(search, "marta", limit="2")

    assert [p["display_name"] for p in found] == [f"Marta {c}" for c in "ABCDE"]
    assert pages == 3
    cursor = search("marta", limit="2").body["next_cursor"]
    assert search("mar", cursor=cursor).status == 200  # a wider search may go on from there
    assert search("mario", cursor=cursor).status == 422
    assert search("marta", cursor=cursor, org="org-b").status == 422


@pytest.mark.parametrize(
    "query",
    [
        {"search": "  "},
        {"search": "!!"},
        {"search": "ana", "journey_key": "retreat_ibiza_2025", "stage": "SCREENING_PENDING"},
        {"journey_key": "retreat_ibiza_2025"},
        {},
    ],
)
def test_a_search_without_letters_or_mixed_with_a_stage_listing_is_422(
    aws: None, query: dict[str, str]
) -> None:
    from tests.conftest import invoke
    from tests.support.events import api_event

    result = invoke("patients", api_event("patients/search-patients", query=query))

    assert result.status == 422, result.body
    assert result.body["message"]


# -- what happened to a patient --------------------------------------------------------------


@pytest.fixture
def pipeline(aws: None) -> Pipeline:
    import_builtin_journeys()
    import_playbook()
    verify_sender()
    return install_pipeline()


def test_a_patients_events_show_rule_results_and_emails_newest_first(
    pipeline: Pipeline, ddb_calls: Counter[str]
) -> None:
    named("p-1", "Ana", "ana@example.org")
    assert move("p-1", "AWAITING_PAYMENT", key="intake").status == 200
    base = {"organization_id": "org-a", "patient_id": "p-1"}
    pipeline.put(
        "JOURNEY_STAGE_TIMEOUT",
        {
            **base,
            "event_id": "timeout-1",
            "journey_key": "intake",
            "stage": "AWAITING_PAYMENT",
            "hours_stale": 49,
            "action": "send_payment_reminder",
            "email_subject": "Completa el pago",
        },
        source="journeys.service",
    )
    pipeline.drain()
    pipeline.put("PAYMENT_SUCCEEDED", {**base, "event_id": "pay-1", "payload": {"amount": 1}})
    pipeline.drain()
    pipeline.put("PAYMENT_SUCCEEDED", {**base, "patient_id": "p-2", "event_id": "pay-2"})
    pipeline.drain()

    ddb_calls.clear()
    page = patient_events("p-1")

    assert dict(ddb_calls) == {"Query": 1}
    events = page.body["items"]
    assert [(e["event_id"], e["event_type"]) for e in events] == [
        ("pay-1", "PAYMENT_SUCCEEDED"),
        ("timeout-1", "JOURNEY_STAGE_TIMEOUT"),
    ]
    moved = [r for r in events[0]["results"] if r.get("journey_key") == "intake"]
    assert [(r["outcome"], r["to_stage"]) for r in moved] == [("moved", "CONFIRMED")]
    assert [(r["action"], r["outcome"]) for r in events[1]["results"]] == [("send_email", "sent")]
    # page by page, and only the organization's own
    first = patient_events("p-1", limit="1")
    assert [e["event_id"] for e in first.body["items"]] == ["pay-1"]
    rest = patient_events("p-1", limit="1", cursor=first.body["next_cursor"])
    assert [e["event_id"] for e in rest.body["items"]] == ["timeout-1"]
    assert patient_events("p-2", cursor=first.body["next_cursor"]).status == 422
    assert patient_events("p-1", org="org-b").status == 404


def test_events_of_an_unknown_patient_are_404_of_a_quiet_one_empty(aws: None) -> None:
    assert patient_events("nobody").status == 404
    named("p-1", "Ana")
    assert patient_events("p-1").body == {"items": [], "next_cursor": None}
