"""The patients API, handler in-process on moto: enrollment, validated stage moves, the
journey log, who stands in a stage, tenants and roles (DESIGN §4, the /patients rows)."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest

from journeys_core.data.aws import dynamodb
from journeys_core.data.warm_cache import warm_cache
from journeys_core.errors import Conflict
from journeys_core.models.patient import PatientView, StageMove
from journeys_core.services.patients import move_patient_stage, record_patient_event
from tests.conftest import invoke
from tests.support.aws_faults import throttled
from tests.support.events import api_event
from tests.support.patients import (
    KEY,
    define_journey,
    full_history,
    get_patient,
    history,
    in_stage,
    move,
    put_patient,
)

pytestmark = pytest.mark.usefixtures("aws")


def service_move(org: str, patient_id: str, key: str, status: str, **fields: Any) -> PatientView:
    """A move as automation or the monitor asks for it (not through the API)."""
    move = StageMove(org=org, patient_id=patient_id, journey_key=key, to_stage=status, **fields)
    return move_patient_stage(move)


@pytest.fixture
def retreat(aws: None) -> None:
    define_journey()


def _expire_cached_definitions(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if the cache's time to live had passed in this warm container."""
    monkeypatch.setattr(warm_cache, "_clock", lambda: time.monotonic() + 3600)


# -- enrollment ------------------------------------------------------------------------------


@pytest.mark.usefixtures("retreat")
def test_a_first_move_enrolls_a_patient_that_has_no_profile() -> None:
    result = move("p-1", "SCREENING_PENDING", sub="nurse-7")

    assert result.status == 200, result.body
    patient = result.body
    assert patient["journey_status"] == {KEY: "SCREENING_PENDING"}
    enrollment = patient["enrollments"][KEY]
    assert enrollment["version"] == 1
    assert enrollment["entered_at"] == enrollment["enrolled_at"] == patient["created_at"]
    assert get_patient("p-1").body == patient
    (entry,) = full_history("p-1")
    assert entry["from_stage"] is None
    assert entry["to_stage"] == "SCREENING_PENDING"
    assert entry["actor"] == "nurse-7"
    assert entry["changed_at"] == enrollment["entered_at"]
    assert entry["definition_version"] == 1
    assert entry["id"].startswith("jlog-")


@pytest.mark.usefixtures("retreat")
def test_staff_may_enroll_at_another_stage_automation_only_at_the_initial_one() -> None:
    assert move("p-staff", "SCREENING_COMPLETED").status == 200

    with pytest.raises(Conflict, match="initial stage 'SCREENING_PENDING'"):
        service_move("org-a", "p-auto", KEY, "SCREENING_COMPLETED", actor="automation")
    assert get_patient("p-auto").status == 404
    patient = service_move("org-a", "p-auto", KEY, "SCREENING_PENDING", actor="automation")
    assert patient.journey_status == {KEY: "SCREENING_PENDING"}
    assert full_history("p-auto")[0]["actor"] == "automation"


@pytest.mark.usefixtures("retreat")
def test_a_patient_takes_part_in_several_journeys_at_once() -> None:
    define_journey("intake", {"stages": ["NEW", "DONE"]})
    move("p-1", "SCREENING_PENDING")
    move("p-1", "NEW", key="intake")
    move("p-1", "DONE", key="intake")

    patient = get_patient("p-1").body

    assert patient["journey_status"] == {KEY: "SCREENING_PENDING", "intake": "DONE"}
    assert patient["enrollments"]["intake"]["version"] == 2
    assert [e["to_stage"] for e in full_history("p-1", "intake")] == ["NEW", "DONE"]
    assert len(full_history("p-1")) == 1


# -- moves -----------------------------------------------------------------------------------


@pytest.mark.usefixtures("retreat")
def test_moves_along_transitions_bump_the_version_and_log_every_change() -> None:
    move("p-1", "SCREENING_PENDING")
    first = get_patient("p-1").body["enrollments"][KEY]

    result = move("p-1", "SCREENING_COMPLETED", expected_stage="SCREENING_PENDING")

    assert result.status == 200
    enrollment = result.body["enrollments"][KEY]
    assert enrollment["version"] == 2
    assert enrollment["enrolled_at"] == first["enrolled_at"]
    assert enrollment["entered_at"] > first["entered_at"]
    entries = full_history("p-1")
    assert [(e["from_stage"], e["to_stage"]) for e in entries] == [
        (None, "SCREENING_PENDING"),
        ("SCREENING_PENDING", "SCREENING_COMPLETED"),
    ]
    assert entries[-1]["changed_at"] == enrollment["entered_at"]


@pytest.mark.usefixtures("retreat")
def test_a_move_the_transitions_do_not_list_is_409_naming_the_allowed_ones() -> None:
    move("p-1", "SCREENING_PENDING")

    result = move("p-1", "CONFIRMED")

    assert result.status == 409
    message = result.body["message"]
    assert "'SCREENING_PENDING' -> 'CONFIRMED'" in message
    assert "SCREENING_COMPLETED, BLOCKED_HIGH_RISK, CANCELLED" in message
    assert get_patient("p-1").body["enrollments"][KEY]["version"] == 1
    assert len(full_history("p-1")) == 1


@pytest.mark.usefixtures("retreat")
def test_a_stage_the_journey_does_not_have_is_422_and_nothing_is_written() -> None:
    event = api_event("patients/move-patient-unknown-stage", org="org-a")

    result = invoke("patients", event)

    assert result.status == 422
    assert "NOT_A_STAGE" in result.body["message"]
    assert "SCREENING_PENDING" in result.body["message"]
    assert get_patient("patient-0042").status == 404


def test_an_unknown_journey_or_one_without_stages_is_404() -> None:
    define_journey("timeline-only", {"events": [{"event_id": "visit"}]})

    unknown = move("p-1", "SCREENING_PENDING", key="no-such-journey")
    no_stages = move("p-1", "SCREENING_PENDING", key="timeline-only")

    assert unknown.status == 404
    assert "no-such-journey" in unknown.body["message"]
    assert no_stages.status == 404
    assert get_patient("p-1").status == 404


@pytest.mark.usefixtures("retreat")
def test_a_deactivated_journey_refuses_new_enrollments_but_moves_its_patients(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    move("p-1", "SCREENING_PENDING")
    deactivate = api_event(
        "journeys/update-journey",
        path_params={"name_or_id": KEY},
        body={"is_active": False},
        org="org-a",
    )
    assert invoke("journeys", deactivate).status == 200
    _expire_cached_definitions(monkeypatch)

    newcomer = move("p-2", "SCREENING_PENDING")
    result = move("p-1", "SCREENING_COMPLETED")

    assert newcomer.status == 409
    assert "retired" in newcomer.body["message"]
    assert result.status == 200
    assert get_patient("p-1").body["journey_status"] == {KEY: "SCREENING_COMPLETED"}


@pytest.mark.usefixtures("retreat")
def test_log_entries_record_the_definition_version_the_move_was_checked_against(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    move("p-1", "SCREENING_PENDING")
    update = api_event(
        "journeys/update-journey",
        path_params={"name_or_id": KEY},
        body={"description": "v2"},
        org="org-a",
    )
    assert invoke("journeys", update).body["version"] == 2
    _expire_cached_definitions(monkeypatch)

    moved = move("p-1", "SCREENING_COMPLETED").body
    newcomer = move("p-2", "SCREENING_PENDING").body

    # an enrollment follows the version it was enrolled on; a new one takes the current
    assert [e["definition_version"] for e in full_history("p-1")] == [1, 1]
    assert moved["enrollments"][KEY]["definition_version"] == 1
    assert full_history("p-2")[0]["definition_version"] == 2
    assert newcomer["enrollments"][KEY]["definition_version"] == 2


@pytest.mark.usefixtures("retreat")
def test_expected_stage_is_checked_first_even_when_already_in_the_requested_stage() -> None:
    move("p-1", "SCREENING_PENDING")
    move("p-1", "SCREENING_COMPLETED")

    stale = move("p-1", "SCREENING_COMPLETED", expected_stage="SCREENING_PENDING")
    not_enrolled = move("p-2", "SCREENING_PENDING", expected_stage="SCREENING_PENDING")

    assert stale.status == 409
    assert "stands in 'SCREENING_COMPLETED'" in stale.body["message"]
    assert not_enrolled.status == 409
    assert "not enrolled" in not_enrolled.body["message"]
    assert len(full_history("p-1")) == 2
    assert get_patient("p-2").status == 404


@pytest.mark.usefixtures("retreat")
def test_a_move_to_the_current_stage_is_a_no_op_that_writes_nothing(
    ddb_calls: Counter[str],
) -> None:
    before = move("p-1", "SCREENING_PENDING").body
    ddb_calls.clear()

    result = move("p-1", "SCREENING_PENDING")

    assert result.status == 200
    assert result.body == before
    assert dict(ddb_calls) == {"Query": 1}
    assert len(full_history("p-1")) == 1


# -- locked stages and guards ----------------------------------------------------------------


@pytest.mark.usefixtures("retreat")
def test_a_locked_stage_is_left_only_by_a_person_giving_a_reason() -> None:
    move("p-1", "SCREENING_PENDING")
    service_move(
        "org-a",
        "p-1",
        KEY,
        "BLOCKED_HIGH_RISK",
        actor="automation",
        trigger_event_id="evt-risk-1",
        trigger_event_type="RISK_ANALYSIS_COMPLETED",
    )

    with pytest.raises(Conflict, match="only a person"):
        service_move("org-a", "p-1", KEY, "SCREENING_COMPLETED", actor="automation")
    with pytest.raises(Conflict, match="only a person"):
        service_move("org-a", "p-1", KEY, "SCREENING_COMPLETED", actor="monitor", reason="timeout")
    no_reason = move("p-1", "SCREENING_COMPLETED")
    blank_reason = move("p-1", "SCREENING_COMPLETED", reason="   ")
    reviewed = move(
        "p-1",
        "SCREENING_COMPLETED",
        expected_stage="BLOCKED_HIGH_RISK",
        reason="Reviewed by Dr. Ruiz",
        sub="dr-ruiz",
    )

    assert no_reason.status == blank_reason.status == 409
    assert "needs a reason" in no_reason.body["message"]
    assert reviewed.status == 200
    entries = full_history("p-1")
    assert entries[1]["actor"] == "automation"
    assert entries[1]["trigger_event_id"] == "evt-risk-1"
    assert entries[1]["trigger_event_type"] == "RISK_ANALYSIS_COMPLETED"
    assert entries[2]["reason"] == "Reviewed by Dr. Ruiz"
    assert entries[2]["actor"] == "dr-ruiz"


@pytest.mark.usefixtures("retreat")
def test_the_unblock_sample_event_unblocks_a_blocked_patient() -> None:
    move("patient-0042", "BLOCKED_HIGH_RISK")

    result = invoke("patients", api_event("patients/unblock-patient", org="org-a"))

    assert result.status == 200, result.body
    assert result.body["journey_status"] == {KEY: "SCREENING_COMPLETED"}


@pytest.mark.usefixtures("retreat")
def test_a_guarded_stage_needs_the_events_it_requires() -> None:
    move("p-1", "SCREENING_PENDING")
    move("p-1", "SCREENING_COMPLETED")
    move("p-1", "AWAITING_PAYMENT")

    refused = move("p-1", "CONFIRMED")
    record_patient_event("org-a", "p-1", "PAYMENT_SUCCEEDED")
    allowed = move("p-1", "CONFIRMED")

    assert refused.status == 409
    assert "PAYMENT_SUCCEEDED" in refused.body["message"]
    assert allowed.status == 200
    assert allowed.body["journey_status"] == {KEY: "CONFIRMED"}


@pytest.mark.usefixtures("retreat")
def test_the_event_that_triggers_a_move_counts_for_its_guard_and_is_remembered() -> None:
    move("p-1", "SCREENING_PENDING")
    move("p-1", "SCREENING_COMPLETED")
    move("p-1", "AWAITING_PAYMENT")

    service_move(
        "org-a",
        "p-1",
        KEY,
        "CONFIRMED",
        actor="automation",
        trigger_event_id="evt-pay-9",
        trigger_event_type="PAYMENT_SUCCEEDED",
    )
    move("p-1", "CANCELLED")
    service_move("org-a", "p-2", KEY, "SCREENING_PENDING", actor="automation")
    move("p-2", "SCREENING_COMPLETED")
    move("p-2", "AWAITING_PAYMENT")

    assert get_patient("p-1").body["journey_status"] == {KEY: "CANCELLED"}
    assert full_history("p-1")[3]["trigger_event_id"] == "evt-pay-9"
    assert move("p-2", "CONFIRMED").status == 409  # another patient's payment does not count


# -- call counts -----------------------------------------------------------------------------


@pytest.mark.usefixtures("retreat")
def test_a_move_costs_two_calls_with_the_definition_cached(ddb_calls: Counter[str]) -> None:
    move("p-warm", "SCREENING_PENDING")  # reads the definition once per warm container
    ddb_calls.clear()

    assert move("p-1", "SCREENING_PENDING").status == 200
    assert dict(ddb_calls) == {"Query": 1, "TransactWriteItems": 1}
    ddb_calls.clear()
    assert move("p-1", "SCREENING_COMPLETED").status == 200
    assert dict(ddb_calls) == {"Query": 1, "TransactWriteItems": 1}


def test_a_cold_move_reads_the_definition_once(ddb_calls: Counter[str]) -> None:
    define_journey()
    ddb_calls.clear()

    move("p-1", "SCREENING_PENDING")

    assert dict(ddb_calls) == {"GetItem": 1, "Query": 1, "TransactWriteItems": 1}


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


# -- profiles --------------------------------------------------------------------------------


def test_put_creates_then_updates_a_profile_keeping_omitted_fields() -> None:
    created = invoke("patients", api_event("patients/put-patient", org="org-a"))
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
    result = invoke("patients", api_event("patients/put-patient-invalid-email", org="org-a"))
    assert result.status == 422
    assert "email" in result.body["message"]


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.usefixtures("retreat")
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"key": KEY, "status": "SCREENING_PENDING", "reason": "x" * 1001}, "reason"),
        ({"key": KEY, "status": "SCREENING_PENDING", "colour": "blue"}, "colour"),
        ({"key": KEY}, "status"),
        ({"status": "SCREENING_PENDING"}, "key"),
        ({"key": "bad#key", "status": "SCREENING_PENDING"}, "key"),
        ({"key": KEY, "status": "has space"}, "status"),
        ({"key": KEY, "status": "SCREENING_PENDING", "expected_stage": ""}, "expected_stage"),
    ],
)
def test_invalid_moves_are_422_naming_the_field_and_write_nothing(
    body: dict[str, Any], field: str
) -> None:
    event = api_event(
        "patients/move-patient-stage", path_params={"patient_id": "p-1"}, body=body, org="org-a"
    )

    result = invoke("patients", event)

    assert result.status == 422, result.body
    assert field in result.body["message"]
    assert get_patient("p-1").status == 404


@pytest.mark.usefixtures("retreat")
@pytest.mark.parametrize("raw", ["{not json", "", "[]", "null"])
def test_malformed_move_bodies_are_422(raw: str) -> None:
    event = api_event(
        "patients/move-patient-stage",
        path_params={"patient_id": "p-1"},
        raw_body=raw,
        org="org-a",
    )
    result = invoke("patients", event)
    assert result.status == 422
    assert result.body["message"]


@pytest.mark.parametrize("patient_id", ["bad:id", "café", "x" * 101, "a b", "a$b"])
def test_patient_ids_outside_the_name_charset_are_422(patient_id: str) -> None:
    assert get_patient(patient_id).status == 422
    assert put_patient(patient_id, {}).status == 422
    assert move(patient_id, "SCREENING_PENDING").status == 422
    assert history(patient_id).status == 422


def test_the_service_checks_ids_itself_for_callers_other_than_the_api() -> None:
    define_journey()
    with pytest.raises(Exception, match="patient_id"):
        service_move("org-a", "x#PATIENT#y", KEY, "SCREENING_PENDING", actor="automation")
    with pytest.raises(Exception, match="reason"):
        service_move("org-a", "p-1", KEY, "SCREENING_PENDING", actor="a", reason="x" * 1001)


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
    result = invoke("patients", api_event("patients/list-patients-in-stage", query=query))
    assert result.status == 422
    assert result.body["message"]


# -- who stands in a stage -------------------------------------------------------------------


@pytest.mark.usefixtures("retreat")
def test_patients_in_a_stage_longest_first_page_by_page() -> None:
    for i in range(7):
        move(f"p-{i}", "SCREENING_PENDING")
    move("p-2", "SCREENING_COMPLETED")
    move("p-5", "CANCELLED")

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = in_stage("SCREENING_PENDING", limit="2", **({"cursor": cursor} if cursor else {}))
        assert page.status == 200
        seen += [member["patient_id"] for member in page.body["items"]]
        pages += 1
        cursor = page.body["next_cursor"]
        if not cursor:
            break

    assert seen == ["p-0", "p-1", "p-3", "p-4", "p-6"]
    assert pages == 3
    (member,) = in_stage("SCREENING_COMPLETED").body["items"]
    assert member["patient_id"] == "p-2"
    assert member["version"] == 2
    assert in_stage("CONFIRMED").body == {"items": [], "next_cursor": None}


@pytest.mark.usefixtures("retreat")
def test_the_stage_listing_sample_event_lists_awaiting_payment() -> None:
    move("p-1", "SCREENING_COMPLETED")
    result = invoke("patients", api_event("patients/list-patients-in-stage", org="org-a"))
    assert [m["patient_id"] for m in result.body["items"]] == ["p-1"]


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


# -- history ---------------------------------------------------------------------------------


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
def test_the_history_sample_event_reads_a_patients_log() -> None:
    move("patient-0042", "SCREENING_PENDING")
    result = invoke("patients", api_event("patients/get-journey-history", org="org-a"))
    assert [e["to_stage"] for e in result.body["items"]] == ["SCREENING_PENDING"]


@pytest.mark.usefixtures("retreat")
def test_a_journey_with_log_entries_is_not_deleted_and_its_log_stays(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    move("p-1", "SCREENING_PENDING")
    move("p-1", "SCREENING_COMPLETED")
    delete = api_event(
        "journeys/delete-journey", path_params={"name_or_id": KEY}, query={}, org="org-a"
    )

    assert invoke("journeys", delete).status == 409  # retire it instead
    _expire_cached_definitions(monkeypatch)

    assert [e["to_stage"] for e in full_history("p-1")] == [
        "SCREENING_PENDING",
        "SCREENING_COMPLETED",
    ]
    assert get_patient("p-1").body["journey_status"] == {KEY: "SCREENING_COMPLETED"}


# -- throttling ------------------------------------------------------------------------------


@pytest.mark.usefixtures("retreat")
@pytest.mark.parametrize(
    "code",
    [
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "TransactionCanceledException",
    ],
)
def test_a_throttled_move_is_503_with_a_message_and_changes_nothing(code: str) -> None:
    move("p-1", "SCREENING_PENDING")

    with throttled(dynamodb(), "TransactWriteItems", lambda: code) as injected:
        result = move("p-1", "SCREENING_COMPLETED")

    assert injected == [code]
    assert result.status == 503
    assert "retry" in result.body["message"]
    assert result.headers["Retry-After"] == "1"
    assert get_patient("p-1").body["journey_status"] == {KEY: "SCREENING_PENDING"}
    assert len(full_history("p-1")) == 1


@pytest.mark.usefixtures("retreat")
def test_throttled_reads_are_503_too() -> None:
    with throttled(dynamodb(), "Query", lambda: "ProvisionedThroughputExceededException"):
        assert get_patient("p-1").status == 503
        assert in_stage("SCREENING_PENDING").status == 503
        assert history("p-1").status == 503
        assert move("p-1", "SCREENING_PENDING").status == 503


# -- tenants and roles -----------------------------------------------------------------------


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
    event = api_event("journeys/save-journey", body=body, org="org-a", roles="[staff]")
    assert invoke("journeys", event).status == 403


def test_a_token_without_an_organization_is_refused() -> None:
    event = api_event("patients/get-patient", org="")
    assert invoke("patients", event).status == 403
