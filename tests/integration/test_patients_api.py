"""The patients API, handler in-process on moto: profiles, who stands in a stage, the
journey log, reads, tenants and roles (DESIGN §4, the /patients rows; stage moves are in
test_patient_moves.py)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from journeys_core.data.aws import dynamodb
from tests.conftest import all_pages, invoke_sample
from tests.support.aws_faults import throttled
from tests.support.patients import (
    KEY,
    define_journey,
    expire_cached_definitions,
    full_history,
    get_patient,
    history,
    in_stage,
    move,
    put_patient,
)

pytestmark = pytest.mark.usefixtures("aws")


# -- profiles -------------------------------------------------------------------------------------


def test_put_creates_then_updates_a_profile_keeping_omitted_fields() -> None:
    created = invoke_sample("patients/put-patient", org="org-a")
    assert created.status == 201, created.body
    assert created.body["display_name"] == "Ana García"
    assert created.body["metadata"] == {"preferred_language": "es"}

    updated = put_patient("patient-0042", {"display_name": "Ana G. Ruiz"})
    cleared = put_patient("patient-0042", {"email": None})

    assert updated.status == 200
    assert updated.body["email"] == "ana@example.org"
    assert updated.body["metadata"] == {"preferred_language": "es"}
    assert cleared.body["email"] is None
    assert cleared.body["display_name"] == "Ana G. Ruiz"
    assert cleared.body["created_at"] == created.body["created_at"]
    assert cleared.body["updated_at"] > created.body["updated_at"]
    assert get_patient("patient-0042").body == cleared.body


@pytest.mark.usefixtures("retreat")
def test_a_profile_and_enrollments_make_one_patient() -> None:
    move("p-1", "SCREENING_PENDING")

    result = put_patient("p-1", {"display_name": "Luis"})

    assert result.status == 201  # the profile is new, the patient already existed
    assert result.body["journey_status"] == {KEY: "SCREENING_PENDING"}
    assert result.body["created_at"] == result.body["enrollments"][KEY]["enrolled_at"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"display_name": ""}, "display_name"),
        ({"display_name": "x" * 201}, "display_name"),
        ({"nickname": "Ana"}, "nickname"),
        ({"metadata": "not an object"}, "metadata"),
    ],
)
def test_invalid_profiles_are_422_naming_the_field(body: dict[str, Any], field: str) -> None:
    result = put_patient("p-1", body)

    assert result.status == 422
    assert field in result.body["message"]
    assert get_patient("p-1").status == 404


def test_the_invalid_email_sample_is_422() -> None:
    result = invoke_sample("patients/put-patient-invalid-email", org="org-a")
    assert result.status == 422
    assert "email" in result.body["message"]


# -- who stands in a stage ------------------------------------------------------------------------


@pytest.mark.usefixtures("retreat")
def test_patients_in_a_stage_longest_first_page_by_page() -> None:
    for i in range(7):
        move(f"p-{i}", "SCREENING_PENDING")
    move("p-2", "SCREENING_COMPLETED")
    move("p-5", "CANCELLED")

    members, pages = all_pages(in_stage, "SCREENING_PENDING", limit="2")

    assert [member["patient_id"] for member in members] == ["p-0", "p-1", "p-3", "p-4", "p-6"]
    assert pages == 3
    (member,) = in_stage("SCREENING_COMPLETED").body["items"]
    assert member["patient_id"] == "p-2"
    assert member["version"] == 2
    assert in_stage("CONFIRMED").body == {"items": [], "next_cursor": None}


@pytest.mark.usefixtures("retreat")
@pytest.mark.parametrize("cursor", ["garbage", "e30", "eyJwayI6IDF9"])
def test_a_forged_stage_cursor_is_422(cursor: str) -> None:
    assert in_stage("SCREENING_PENDING", cursor=cursor).status == 422


@pytest.mark.usefixtures("retreat")
def test_a_cursor_only_continues_its_own_listing() -> None:
    define_journey(org="org-b")
    for i in range(3):
        move(f"p-{i}", "SCREENING_PENDING")
        move(f"p-{i}", "SCREENING_PENDING", org="org-b")
    cursor = in_stage("SCREENING_PENDING", limit="1").body["next_cursor"]
    assert cursor

    assert in_stage("SCREENING_PENDING", org="org-b", cursor=cursor).status == 422
    assert in_stage("SCREENING_COMPLETED", cursor=cursor).status == 422
    history_cursor = history("p-0", limit="1").body["next_cursor"]
    assert history_cursor is None  # one entry: no next page


@pytest.mark.parametrize(
    "query",
    [
        {"stage": "SCREENING_COMPLETED"},
        {"journey_key": KEY},
        {"journey_key": KEY, "stage": "SCREENING_COMPLETED", "limit": "0"},
        {"journey_key": KEY, "stage": "SCREENING_COMPLETED", "limit": "201"},
        {"journey_key": KEY, "stage": "a#b"},
    ],
)
def test_bad_stage_listing_parameters_are_422(query: dict[str, str]) -> None:
    result = invoke_sample("patients/list-patients-in-stage", query=query)
    assert result.status == 422
    assert result.body["message"]


# -- history --------------------------------------------------------------------------------------


@pytest.mark.usefixtures("retreat")
def test_history_pages_oldest_first() -> None:
    move("p-1", "SCREENING_PENDING")
    for _ in range(3):
        move("p-1", "BLOCKED_HIGH_RISK")
        move("p-1", "SCREENING_PENDING", reason="cleared")

    first = history("p-1", limit="4").body
    second = history("p-1", limit="4", cursor=first["next_cursor"]).body

    entries = first["items"] + second["items"]
    assert len(first["items"]) == 4
    assert second["next_cursor"] is None
    assert [e["to_stage"] for e in entries] == ["SCREENING_PENDING"] + [
        "BLOCKED_HIGH_RISK",
        "SCREENING_PENDING",
    ] * 3
    assert [e["changed_at"] for e in entries] == sorted(e["changed_at"] for e in entries)
    assert history("p-2", "other", cursor=first["next_cursor"]).status == 422


@pytest.mark.usefixtures("retreat")
def test_history_of_an_unknown_patient_is_404_of_a_known_one_empty() -> None:
    put_patient("p-1", {"display_name": "Ana"})

    assert history("ghost").status == 404
    assert history("p-1").body == {"items": [], "next_cursor": None}


@pytest.mark.usefixtures("retreat")
def test_a_journey_with_log_entries_is_not_deleted_and_its_log_stays(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    move("p-1", "SCREENING_PENDING")
    move("p-1", "SCREENING_COMPLETED")
    path = {"name_or_id": KEY}
    delete = invoke_sample("journeys/delete-journey", path_params=path, query={}, org="org-a")

    assert delete.status == 409  # retire it instead
    expire_cached_definitions(monkeypatch)

    assert [e["to_stage"] for e in full_history("p-1")] == [
        "SCREENING_PENDING",
        "SCREENING_COMPLETED",
    ]
    assert get_patient("p-1").body["journey_status"] == {KEY: "SCREENING_COMPLETED"}


# -- reads ----------------------------------------------------------------------------------------


@pytest.mark.usefixtures("retreat")
@pytest.mark.parametrize(
    ("sample", "patient_id", "stage", "field", "listed"),
    [
        # who stands in SCREENING_COMPLETED
        ("patients/list-patients-in-stage", "p-1", "SCREENING_COMPLETED", "patient_id", "p-1"),
        # patient-0042's log of the retreat
        (
            "patients/get-journey-history",
            "patient-0042",
            "SCREENING_PENDING",
            "to_stage",
            "SCREENING_PENDING",
        ),
    ],
)
def test_the_read_sample_events_list_what_was_moved(
    sample: str, patient_id: str, stage: str, field: str, listed: str
) -> None:
    move(patient_id, stage)
    result = invoke_sample(sample, org="org-a")
    assert [item[field] for item in result.body["items"]] == [listed]


@pytest.mark.usefixtures("retreat")
def test_reads_are_one_call_each(ddb_calls: Counter[str]) -> None:
    for i in range(30):
        move(f"p-{i:02d}", "SCREENING_PENDING")
        move(f"p-{i:02d}", "SCREENING_COMPLETED")
    put_patient("p-00", {"display_name": "Ana"})
    ddb_calls.clear()

    assert get_patient("p-00").status == 200
    assert dict(ddb_calls) == {"Query": 1}
    ddb_calls.clear()
    assert len(in_stage("SCREENING_COMPLETED", limit="25").body["items"]) == 25
    assert dict(ddb_calls) == {"Query": 1}
    ddb_calls.clear()
    assert len(history("p-00").body["items"]) == 2
    assert dict(ddb_calls) == {"Query": 1}
    assert "Scan" not in ddb_calls


@pytest.mark.usefixtures("retreat")
def test_throttled_reads_are_503_too() -> None:
    with throttled(dynamodb(), "Query", lambda: "ProvisionedThroughputExceededException"):
        assert get_patient("p-1").status == 503
        assert in_stage("SCREENING_PENDING").status == 503
        assert history("p-1").status == 503
        assert move("p-1", "SCREENING_PENDING").status == 503


@pytest.mark.parametrize("patient_id", ["bad:id", "café", "x" * 101, "a b", "a$b"])
def test_patient_ids_outside_the_name_charset_are_422(patient_id: str) -> None:
    assert get_patient(patient_id).status == 422
    assert put_patient(patient_id, {}).status == 422
    assert move(patient_id, "SCREENING_PENDING").status == 422
    assert history(patient_id).status == 422


# -- tenants and roles ----------------------------------------------------------------------------


@pytest.mark.usefixtures("retreat")
def test_another_organizations_patient_is_404_on_every_route() -> None:
    move("p-1", "SCREENING_PENDING")
    put_patient("p-1", {"display_name": "Ana"})
    before = get_patient("p-1").body

    assert get_patient("p-1", org="org-b").status == 404
    assert history("p-1", org="org-b").status == 404
    assert move("p-1", "SCREENING_COMPLETED", org="org-b").status == 404  # no such journey there
    assert in_stage("SCREENING_PENDING", org="org-b").body["items"] == []
    own = put_patient("p-1", {"display_name": "Someone else"}, org="org-b")
    assert own.status == 201  # org-b's own patient p-1: a different patient
    assert own.body["journey_status"] == {}

    define_journey(org="org-b")
    assert move("p-1", "SCREENING_COMPLETED", org="org-b").body["journey_status"] == {
        KEY: "SCREENING_COMPLETED"
    }
    assert get_patient("p-1").body == before
    assert len(full_history("p-1")) == 1


@pytest.mark.usefixtures("retreat")
@pytest.mark.parametrize("roles", ["", "[viewer]"])
def test_every_route_needs_the_staff_or_admin_role(roles: str) -> None:
    move("p-1", "SCREENING_PENDING")

    results = [
        get_patient("p-1", roles=roles),
        put_patient("p-1", {"display_name": "x"}, roles=roles),
        move("p-1", "SCREENING_COMPLETED", roles=roles),
        history("p-1", roles=roles),
        in_stage("SCREENING_PENDING", roles=roles),
    ]

    assert [r.status for r in results] == [403] * 5
    assert get_patient("p-1").body["journey_status"] == {KEY: "SCREENING_PENDING"}


@pytest.mark.usefixtures("retreat")
@pytest.mark.parametrize("roles", ["[staff]", "[admin]"])
def test_staff_and_admins_read_and_move(roles: str) -> None:
    assert move("p-1", "SCREENING_PENDING", roles=roles).status == 200
    assert put_patient("p-1", {"display_name": "x"}, roles=roles).status == 201
    assert get_patient("p-1", roles=roles).status == 200
    assert history("p-1", roles=roles).status == 200
    assert in_stage("SCREENING_PENDING", roles=roles).status == 200


def test_staff_cannot_write_definitions() -> None:
    body = {"name": KEY, "journey_spec": {"stages": ["A"]}}
    assert (
        invoke_sample("journeys/save-journey", body=body, org="org-a", roles="[staff]").status
        == 403
    )


def test_a_token_without_an_organization_is_refused() -> None:
    assert invoke_sample("patients/get-patient", org="").status == 403
