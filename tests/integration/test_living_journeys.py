"""Journeys edited while patients stand in them: pinned versions, immutable versions,
retirement instead of deletion, and no window in which a cached definition enrolls anyone
into a journey that is gone."""

from __future__ import annotations

from typing import Any

import pytest

from journeys_core.data import repositories
from journeys_core.data.definitions import current_sk, org_pk, version_sk
from tests.conftest import ApiResult, invoke
from tests.support.events import api_event
from tests.support.patients import define_journey, full_history, get_patient, move

pytestmark = pytest.mark.usefixtures("aws")

VJ_V1: dict[str, Any] = {"stages": ["A", "B", "C"], "transitions": {"A": ["B"], "B": ["C"]}}
VJ_V2: dict[str, Any] = {"stages": ["A", "C"], "transitions": {"A": ["C"]}}


def update(name: str, body: dict[str, Any]) -> ApiResult:
    event = api_event(
        "journeys/update-journey", path_params={"name_or_id": name}, body=body, org="org-a"
    )
    return invoke("journeys", event)


def delete(name: str) -> ApiResult:
    event = api_event(
        "journeys/delete-journey", path_params={"name_or_id": name}, query={}, org="org-a"
    )
    return invoke("journeys", event)


def load(name: str, **query: str) -> ApiResult:
    event = api_event(
        "journeys/load-journey", path_params={"name_or_id": name}, query=query, org="org-a"
    )
    return invoke("journeys", event)


def stored_item(sort_key: str) -> dict[str, Any]:
    table = repositories.definitions().table
    item = repositories.definitions()._db.get_item(
        TableName=table, Key={"pk": {"S": org_pk("org-a")}, "sk": {"S": sort_key}}
    )
    return dict(item["Item"])


# -- pinned versions -------------------------------------------------------------------------


def test_a_patient_in_a_stage_a_new_version_drops_is_not_stranded() -> None:
    # Given journey vj v1 A->B->C and a patient standing in B
    define_journey("vj", VJ_V1)
    assert move("p-1", "A", key="vj").status == 200
    assert move("p-1", "B", key="vj").status == 200
    # When the admin saves v2 without B
    assert update("vj", {"journey_spec": VJ_V2}).body["version"] == 2

    # Then the patient still moves by v1's rules, and a new patient enrolls on v2
    moved = move("p-1", "C", key="vj")
    newcomer = move("p-2", "A", key="vj")

    assert moved.status == 200, moved.body
    assert moved.body["enrollments"]["vj"]["definition_version"] == 1
    assert full_history("p-1", key="vj")[-1]["definition_version"] == 1
    assert newcomer.body["enrollments"]["vj"]["definition_version"] == 2
    assert move("p-2", "B", key="vj").status == 422  # B is not a stage of v2
    shown = get_patient("p-1").body["enrollments"]["vj"]
    assert (shown["stage"], shown["definition_version"]) == ("C", 1)


def test_moves_on_a_pinned_older_version_cost_two_calls_warm(ddb_calls: Any) -> None:
    define_journey("vj", VJ_V1)
    move("p-1", "A", key="vj")
    update("vj", {"journey_spec": VJ_V2})
    move("p-2", "A", key="vj")  # warms the current definition
    move("p-1", "B", key="vj")  # warms v1's snapshot
    ddb_calls.clear()

    assert move("p-1", "C", key="vj").status == 200

    assert dict(ddb_calls) == {"Query": 1, "TransactWriteItems": 1}


# -- immutable versions ----------------------------------------------------------------------


def test_a_changed_spec_without_a_new_version_is_refused_and_nothing_changes() -> None:
    define_journey("vj", VJ_V1)
    before = stored_item(version_sk(load("vj").body["id"], 1))

    refused = update("vj", {"journey_spec": VJ_V2, "bump_version": False})
    retagged = update("vj", {"tags": ["x"], "description": "new words", "bump_version": False})
    bumped = update("vj", {"journey_spec": VJ_V2})

    assert refused.status == 422
    assert "bump_version" in refused.body["message"]
    assert (retagged.status, retagged.body["version"], retagged.body["tags"]) == (200, 1, ["x"])
    assert bumped.body["version"] == 2
    assert stored_item(version_sk(bumped.body["id"], 1)) == before  # byte for byte
    assert load("vj", version="1").body["journey_spec"] == VJ_V1


def test_the_same_spec_sent_again_without_a_new_version_is_accepted() -> None:
    define_journey("vj", VJ_V1)

    same = update("vj", {"journey_spec": VJ_V1, "bump_version": False})

    assert (same.status, same.body["version"]) == (200, 1)


# -- retire, don't delete --------------------------------------------------------------------


def test_a_journey_someone_walked_is_retired_not_deleted() -> None:
    define_journey("vj", VJ_V1)
    move("p-1", "A", key="vj")

    refused = delete("vj")
    retired = update("vj", {"is_active": False})
    newcomer = move("p-2", "A", key="vj")
    walker = move("p-1", "B", key="vj")

    assert refused.status == 409
    assert "retire" in refused.body["message"]
    assert load("vj").status == 200
    assert retired.status == 200
    assert newcomer.status == 409
    assert "retired" in newcomer.body["message"]
    assert get_patient("p-2").status == 404
    assert walker.status == 200


def test_a_journey_nobody_walked_deletes_as_before() -> None:
    define_journey("vj", VJ_V1)

    assert delete("vj").status == 204
    assert load("vj").status == 404


def test_a_cached_definition_never_enrolls_into_a_deleted_journey() -> None:
    define_journey("vj", VJ_V1)
    define_journey("other", VJ_V1)
    move("p-0", "A", key="other")
    move("p-1", "A", key="vj")  # the definition is now cached in this warm container
    table = repositories.definitions().table
    # Another container deletes "vj" (bypassing this one's cache); nobody may enroll anymore
    repositories.definitions()._db.delete_item(
        TableName=table, Key={"pk": {"S": org_pk("org-a")}, "sk": {"S": current_sk("vj")}}
    )

    late = move("p-2", "A", key="vj")

    assert late.status in (404, 409)
    assert get_patient("p-2").status == 404


def test_a_cached_active_definition_never_enrolls_into_a_retired_journey() -> None:
    define_journey("vj", VJ_V1)
    move("p-1", "A", key="vj")  # cached while active
    repositories.definitions()._db.update_item(  # retired by another container
        TableName=repositories.definitions().table,
        Key={"pk": {"S": org_pk("org-a")}, "sk": {"S": current_sk("vj")}},
        UpdateExpression="SET is_active = :no",
        ExpressionAttributeValues={":no": {"BOOL": False}},
    )

    late = move("p-2", "A", key="vj")
    walker = move("p-1", "B", key="vj")

    assert late.status == 409
    assert get_patient("p-2").status == 404
    assert walker.status == 200


# -- episodes --------------------------------------------------------------------------------

CARE: dict[str, Any] = {
    "stages": ["OPEN", "TREATING", "DISCHARGED"],
    "transitions": {"OPEN": ["TREATING"], "TREATING": ["DISCHARGED"]},  # DISCHARGED is final
    "reentry": {"allowed": True, "max_episodes": 2},
}


def history_of(patient_id: str, **query: str) -> list[dict[str, Any]]:
    event = api_event(
        "patients/get-journey-history",
        path_params={"patient_id": patient_id, "key": "care"},
        query=query,
        org="org-a",
    )
    return list(invoke("patients", event).body["items"])


def test_reaching_a_final_stage_ends_the_episode_and_reentry_starts_the_next() -> None:
    define_journey("care", CARE)
    for stage in ("OPEN", "TREATING", "DISCHARGED"):
        move("p-1", stage, key="care")

    ended = get_patient("p-1").body["enrollments"]["care"]
    again = move("p-1", "OPEN", key="care")
    second = again.body["enrollments"]["care"]
    for stage in ("TREATING", "DISCHARGED"):
        move("p-1", stage, key="care")
    third = move("p-1", "OPEN", key="care")

    assert (ended["episode"], ended["episodes_ended"], ended["ended_at"] is not None) == (
        1,
        1,
        True,
    )
    assert again.status == 200, again.body
    assert (second["episode"], second["stage"], second["ended_at"]) == (2, "OPEN", None)
    assert third.status == 409
    assert "max_episodes" in third.body["message"]
    first_episode = history_of("p-1", episode="1")
    second_episode = history_of("p-1", episode="2")
    assert [e["to_stage"] for e in first_episode] == ["OPEN", "TREATING", "DISCHARGED"]
    assert [e["to_stage"] for e in second_episode] == ["OPEN", "TREATING", "DISCHARGED"]
    assert second_episode[0]["from_stage"] is None  # a new episode is an enrollment
    assert len(history_of("p-1")) == 6


def test_a_journey_without_reentry_names_the_rule_when_asked_again() -> None:
    define_journey("care", {**CARE, "reentry": {"allowed": False}})
    for stage in ("OPEN", "TREATING", "DISCHARGED"):
        move("p-1", stage, key="care")

    refused = move("p-1", "OPEN", key="care")

    assert refused.status == 409
    assert "reentry.allowed" in refused.body["message"]
    assert get_patient("p-1").body["journey_status"] == {"care": "DISCHARGED"}


def test_reentry_waits_min_days_between_episodes() -> None:
    define_journey("care", {**CARE, "reentry": {"allowed": True, "min_days_between": 30}})
    for stage in ("OPEN", "TREATING", "DISCHARGED"):
        move("p-1", stage, key="care")

    refused = move("p-1", "OPEN", key="care")

    assert refused.status == 409
    assert "min_days_between" in refused.body["message"]


def test_final_stages_may_be_named_and_an_unknown_one_is_refused() -> None:
    named = define_journey("named", {"stages": ["A", "B"], "final_stages": ["B"]})
    event = api_event(
        "journeys/save-journey",
        body={"name": "bad", "journey_spec": {"stages": ["A"], "final_stages": ["Z"]}},
        org="org-a",
    )

    assert named.status == 201
    assert invoke("journeys", event).status == 422
    move("p-1", "A", key="named")
    assert get_patient("p-1").body["enrollments"]["named"]["ended_at"] is None
    move("p-1", "B", key="named")
    assert get_patient("p-1").body["enrollments"]["named"]["episodes_ended"] == 1
