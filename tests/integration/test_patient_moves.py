"""Stage moves through the patients API, handler in-process on moto: enrollment, validated
moves along the transitions, locked stages and guards, what a move costs and what it refuses
(DESIGN §4, PATCH /patients/{id}/journey)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from journeys_core.data.aws import dynamodb
from journeys_core.errors import Conflict
from journeys_core.models.patient import PatientView, StageMove
from journeys_core.services.patients import move_patient_stage, record_patient_event
from tests.conftest import invoke_sample
from tests.support.aws_faults import throttled
from tests.support.patients import (
    KEY,
    define_journey,
    expire_cached_definitions,
    full_history,
    get_patient,
    move,
    update_journey,
)

pytestmark = pytest.mark.usefixtures("aws")


def service_move(org: str, patient_id: str, key: str, status: str, **fields: Any) -> PatientView:
    """A move as automation or the monitor asks for it (not through the API)."""
    move = StageMove(org=org, patient_id=patient_id, journey_key=key, to_stage=status, **fields)
    return move_patient_stage(move)


# The retreat's way from its initial stage to the stage guarded by a payment.
TO_PAYMENT = ("SCREENING_PENDING", "SCREENING_COMPLETED", "AWAITING_PAYMENT")


def walk(patient_id: str, *stages: str) -> None:
    """Move a patient through ``stages`` in order, each move accepted."""
    for stage in stages:
        result = move(patient_id, stage)
        assert result.status == 200, result.body


# -- enrollment -----------------------------------------------------------------------------------


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


# -- moves ----------------------------------------------------------------------------------------


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
    result = invoke_sample("patients/move-patient-unknown-stage", org="org-a")

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
    assert update_journey({"is_active": False}).status == 200
    expire_cached_definitions(monkeypatch)

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
    assert update_journey({"description": "v2"}).body["version"] == 2
    expire_cached_definitions(monkeypatch)

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


# -- locked stages and guards ---------------------------------------------------------------------


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

    result = invoke_sample("patients/unblock-patient", org="org-a")

    assert result.status == 200, result.body
    assert result.body["journey_status"] == {KEY: "SCREENING_COMPLETED"}


@pytest.mark.usefixtures("retreat")
def test_a_guarded_stage_needs_the_events_it_requires() -> None:
    walk("p-1", *TO_PAYMENT)

    refused = move("p-1", "CONFIRMED")
    record_patient_event("org-a", "p-1", "PAYMENT_SUCCEEDED")
    allowed = move("p-1", "CONFIRMED")

    assert refused.status == 409
    assert "PAYMENT_SUCCEEDED" in refused.body["message"]
    assert allowed.status == 200
    assert allowed.body["journey_status"] == {KEY: "CONFIRMED"}


@pytest.mark.usefixtures("retreat")
def test_the_event_that_triggers_a_move_counts_for_its_guard_and_is_remembered() -> None:
    walk("p-1", *TO_PAYMENT)

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
    walk("p-2", *TO_PAYMENT[1:])

    assert get_patient("p-1").body["journey_status"] == {KEY: "CANCELLED"}
    assert full_history("p-1")[3]["trigger_event_id"] == "evt-pay-9"
    assert move("p-2", "CONFIRMED").status == 409  # another patient's payment does not count


# -- call counts ----------------------------------------------------------------------------------


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


# -- bad input ------------------------------------------------------------------------------------


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
    path = {"patient_id": "p-1"}
    result = invoke_sample("patients/move-patient-stage", path_params=path, body=body, org="org-a")

    assert result.status == 422, result.body
    assert field in result.body["message"]
    assert get_patient("p-1").status == 404


@pytest.mark.usefixtures("retreat")
@pytest.mark.parametrize("raw", ["{not json", "", "[]", "null"])
def test_malformed_move_bodies_are_422(raw: str) -> None:
    path = {"patient_id": "p-1"}
    result = invoke_sample(
        "patients/move-patient-stage", path_params=path, raw_body=raw, org="org-a"
    )
    assert result.status == 422
    assert result.body["message"]


def test_the_service_checks_ids_itself_for_callers_other_than_the_api() -> None:
    define_journey()
    with pytest.raises(Exception, match="patient_id"):
        service_move("org-a", "x#PATIENT#y", KEY, "SCREENING_PENDING", actor="automation")
    with pytest.raises(Exception, match="reason"):
        service_move("org-a", "p-1", KEY, "SCREENING_PENDING", actor="a", reason="x" * 1001)


# -- throttling -----------------------------------------------------------------------------------


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
