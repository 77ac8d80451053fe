"""Execution history, entity journeys, timelines and journey templates, in-process on moto."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests.conftest import ApiResult, invoke_sample
from tests.support.patients import define_journey, update_journey

pytestmark = pytest.mark.usefixtures("aws")

SPEC: dict[str, Any] = {
    "duration_days": 365,
    "events": [
        {
            "event_id": "visit",
            "event_type": "encounter",
            "delay": {"min_days": 90, "max_days": 90},
            "repeat": {"every_days": 90},
        },
        {
            "event_id": "lab",
            "event_type": "lab_order",
            "depends_on": "visit",
            "delay": {"min_days": 1, "max_days": 20},
        },
        {"event_id": "eye", "event_type": "encounter", "delay": {"min_days": 10, "max_days": 200}},
    ],
}


def save(name: str = "diabetic", org: str = "org-a", spec: dict[str, Any] | None = None) -> dict:
    return define_journey(name, spec or SPEC, org).body


def record(name: str = "diabetic", org: str = "org-a", **body: Any) -> ApiResult:
    path = {"name_or_id": name}
    return invoke_sample("journeys/record-execution", path_params=path, body=body, org=org)


def executions(name: str = "diabetic", org: str = "org-a", **query: str) -> ApiResult:
    path = {"name_or_id": name}
    return invoke_sample("journeys/list-journey-executions", path_params=path, query=query, org=org)


def entity_journeys(entity_id: str, org: str = "org-a", **query: str) -> ApiResult:
    path = {"entity_id": entity_id}
    return invoke_sample("journeys/list-entity-journeys", path_params=path, query=query, org=org)


def delete(name: str, delete_executions: bool) -> ApiResult:
    path = {"name_or_id": name}
    query = {"delete_executions": str(delete_executions).lower()}
    return invoke_sample("journeys/delete-journey", path_params=path, query=query, org="org-a")


def timeline(name: str = "diabetic", org: str = "org-a", roles: str | None = None, **body: Any):
    path = {"name_or_id": name}
    return invoke_sample(
        "journeys/generate-timeline", path_params=path, body=body, org=org, roles=roles
    )


def summary(name: str, org: str = "org-a") -> dict:
    items = invoke_sample("journeys/list-journeys", query={}, org=org).body["items"]
    return next(i for i in items if i["name"] == name)


# -- recording -------------------------------------------------------------------------------


def test_record_execution_returns_the_record_and_moves_the_summary_counters() -> None:
    journey = save()

    result = record(
        entity_id="patient-001",
        profile_id="profile-1",
        cohort_id="cohort-1",
        start_date="2024-01-01",
        end_date="2024-12-31",
        events_generated=48,
        duration_ms=1500,
        metadata={"source": "batch"},
    )
    record(
        entity_id="patient-002",
        events_generated=0,
        status="failed",
        error_message="Missing required condition for event",
    )

    assert result.status == 201
    execution = result.body
    assert execution["journey_id"] == journey["id"]
    assert execution["entity_id"] == "patient-001"
    assert execution["status"] == "completed"
    assert execution["events_generated"] == 48
    assert execution["metadata"] == {"source": "batch"}
    assert isinstance(execution["id"], int)
    assert 0 < execution["id"] < 2**63
    row = summary("diabetic")
    assert row["execution_count"] == 2
    assert row["last_executed"] is not None


def test_recording_on_a_warm_container_is_one_call(ddb_calls: Counter[str]) -> None:
    save()
    record(entity_id="warm-up")
    ddb_calls.clear()

    assert record(entity_id="patient-001").status == 201

    assert dict(ddb_calls) == {"TransactWriteItems": 1}


def test_an_update_does_not_lose_execution_counts() -> None:
    save()
    record(entity_id="a")
    assert update_journey({"description": "new"}, "diabetic").status == 200
    record(entity_id="b")
    assert summary("diabetic")["execution_count"] == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "done"}, "status"),
        ({"events_generated": -1}, "events_generated"),
        ({"duration_ms": -5}, "duration_ms"),
        ({"start_date": "2024-02-01", "end_date": "2024-01-01"}, "end_date"),
        ({"entity_id": "bad#id"}, "entity_id"),
        ({"colour": "x"}, "colour"),
    ],
)
def test_invalid_executions_are_422_and_nothing_is_counted(body: dict, field: str) -> None:
    save()
    result = record(**body)
    assert result.status == 422
    assert result.body["message"].startswith(f"{field}: "), result.body["message"]
    assert summary("diabetic")["execution_count"] == 0


def test_recording_for_an_unknown_or_foreign_journey_is_404() -> None:
    save(org="org-a")
    assert record("ghost", entity_id="p").status == 404
    assert record("diabetic", org="org-b", entity_id="p").status == 404
    assert summary("diabetic")["execution_count"] == 0


def test_recording_needs_admin() -> None:
    save()
    path = {"name_or_id": "diabetic"}
    body = {"entity_id": "p"}
    result = invoke_sample(
        "journeys/record-execution", path_params=path, body=body, roles="[staff]"
    )
    assert result.status == 403


# -- reading back ----------------------------------------------------------------------------


def test_executions_newest_first_with_a_cursor_one_query_a_page(ddb_calls: Counter[str]) -> None:
    save()
    ids = [record(entity_id=f"p-{i}").body["id"] for i in range(7)]
    ddb_calls.clear()

    first = executions(limit="4").body
    assert dict(ddb_calls) == {"Query": 1}
    second = executions(limit="4", cursor=first["next_cursor"]).body

    seen = [e["id"] for e in first["items"] + second["items"]]
    assert seen == list(reversed(ids))
    assert (
        second["next_cursor"] is None
        or executions(limit="4", cursor=second["next_cursor"]).body["items"] == []
    )


def test_execution_ids_are_integers_that_grow_in_recording_order() -> None:
    save()
    ids = [record(entity_id=f"p-{i}").body["id"] for i in range(20)]

    assert all(isinstance(i, int) and 0 < i < 2**63 for i in ids)
    assert ids == sorted(set(ids))
    listed = [e["id"] for e in executions(limit="50").body["items"]]
    assert listed == sorted(ids, reverse=True)  # newest first is also highest id first


def test_executions_stored_with_a_text_id_read_as_integers() -> None:
    journey = save()
    record(entity_id="patient-001", start_date="2024-01-01")
    # An item as the service wrote it before ids were integers.
    from journeys_core.data import repositories

    repository = repositories.executions()
    sort_key = "2020-06-01T10:00:00.000000Z#exec-9f86d081884c7d65"
    repository._db.put_item(
        TableName=repository.table,
        Item={
            "pk": {"S": f"ORG#org-a#JOURNEY#{journey['id']}"},
            "sk": {"S": sort_key},
            "entity_pk": {"S": "ORG#org-a#ENTITY#patient-001"},
            "entity_sk": {"S": sort_key},
            "id": {"S": "exec-9f86d081884c7d65"},
            "journey_id": {"S": journey["id"]},
            "journey_name": {"S": "diabetic"},
            "entity_id": {"S": "patient-001"},
            "executed_at": {"S": "2020-06-01T10:00:00Z"},
            "events_generated": {"N": "3"},
            "status": {"S": "completed"},
            "metadata_json": {"S": "{}"},
        },
    )

    by_journey = executions().body["items"]
    by_entity = entity_journeys("patient-001").body["items"]

    legacy = 0x9F86D081884C7D65 % (2**63 - 1) + 1
    assert [e["id"] for e in by_journey][1:] == [legacy]  # the old one last: oldest
    assert [e["id"] for e in by_entity][1:] == [legacy]
    assert all(isinstance(e["id"], int) for e in by_journey + by_entity)
    assert executions().body == executions().body  # the same number on every read


def test_an_entity_sees_its_executions_across_journeys(ddb_calls: Counter[str]) -> None:
    save("diabetic")
    save("cardiac")
    record("diabetic", entity_id="patient-001")
    record("cardiac", entity_id="patient-001")
    record("cardiac", entity_id="patient-002")
    ddb_calls.clear()

    items = entity_journeys("patient-001").body["items"]

    assert [i["journey_name"] for i in items] == ["cardiac", "diabetic"]
    assert dict(ddb_calls) == {"Query": 1}
    assert entity_journeys("patient-001", org="org-b").body["items"] == []


def test_listing_executions_of_an_unknown_journey_is_404() -> None:
    assert executions("ghost").status == 404


def test_delete_removes_thousands_of_executions_unless_asked_to_keep_them() -> None:
    save("bulk")
    save("kept")
    cohort = [f"p-{i:04d}" for i in range(1000)]
    for _ in range(2):
        assert timeline("bulk", entity_ids=cohort, record_execution=True).status == 200
    assert timeline("kept", entity_ids=cohort[:10], record_execution=True).status == 200
    assert summary("bulk")["execution_count"] == 2000
    bulk_ids = [e["id"] for e in executions("bulk", limit="200").body["items"]]
    assert len(set(bulk_ids)) == len(bulk_ids) == 200

    assert delete("bulk", delete_executions=True).status == 204
    assert delete("kept", delete_executions=False).status == 204

    names = {i["journey_name"] for i in entity_journeys("p-0007").body["items"]}
    assert names == {"kept"}
    from journeys_core.data import repositories

    remaining = repositories.executions()._db.scan(  # test-only check of the whole table
        TableName=repositories.executions().table,
        Select="COUNT",
        FilterExpression="attribute_exists(journey_id)",  # executions, not tombstones
    )["Count"]
    assert remaining == 10


def test_a_journey_saved_again_under_its_name_lists_its_own_executions_everywhere() -> None:
    from journeys_core.data.warm_cache import warm_cache
    from journeys_core.services.definitions import journey_identity

    # Given a warm container that knows "reborn" by its first id
    save("reborn")
    record("reborn", entity_id="old-patient")
    stale = journey_identity("org-a", "reborn")
    # When another container deletes it (keeping executions) and it is saved again
    assert delete("reborn", delete_executions=False).status == 204
    warm_cache.get(("identity", "org-a", "reborn"), 300, lambda: stale)  # still cached there
    save("reborn")
    record("reborn", entity_id="new-patient")

    # Then the warm container lists the new journey's executions only
    items = executions("reborn").body["items"]
    assert [i["entity_id"] for i in items] == ["new-patient"]


# -- timelines -------------------------------------------------------------------------------


def test_a_timeline_is_deterministic_and_independent_of_the_cohort_order() -> None:
    save()
    one = timeline(
        entity_ids=["a", "b", "c"], seed=7, start_date="2026-01-01", record_execution=False
    ).body
    again = timeline(
        entity_ids=["c", "a"], seed=7, start_date="2026-01-01", record_execution=False
    ).body
    other_seed = timeline(
        entity_id="a", seed=8, start_date="2026-01-01", record_execution=False
    ).body

    by_entity = {t["entity_id"]: t["events"] for t in one["timelines"]}
    for t in again["timelines"]:
        assert t["events"] == by_entity[t["entity_id"]]
    assert other_seed["timelines"][0]["events"] != by_entity["a"]
    visits = [e for e in by_entity["a"] if e["event_id"] == "visit"]
    assert [v["scheduled_date"] for v in visits] == [
        "2026-04-01",
        "2026-06-30",
        "2026-09-28",
        "2026-12-27",
    ]
    assert all(e["day_offset"] <= 365 for e in by_entity["a"])
    assert one["events_generated"] == sum(len(v) for v in by_entity.values())


def test_a_timeline_records_one_execution_per_entity_linked_to_the_cohort() -> None:
    save()
    result = timeline(
        entity_ids=["p1", "p2"],
        seed=1,
        cohort_id="cohort-9",
        profile_id="profile-3",
        start_date="2026-01-01",
    ).body

    assert all(isinstance(t["execution_id"], int) for t in result["timelines"])
    mine = entity_journeys("p1").body["items"]
    assert len(mine) == 1
    execution = mine[0]
    assert execution["id"] == result["timelines"][0]["execution_id"]
    assert execution["cohort_id"] == "cohort-9"
    assert execution["profile_id"] == "profile-3"
    assert execution["events_generated"] == len(result["timelines"][0]["events"])
    assert execution["start_date"] == "2026-01-01"
    assert execution["end_date"] == "2027-01-01"
    assert summary("diabetic")["execution_count"] == 2


def test_a_thousand_entity_timeline_is_written_in_batches(ddb_calls: Counter[str]) -> None:
    save()
    ddb_calls.clear()

    result = timeline(entity_ids=[f"p-{i}" for i in range(1000)], seed=3)

    assert result.status == 200
    assert len(result.body["timelines"]) == 1000
    assert sum(ddb_calls.values()) <= 45
    assert summary("diabetic")["execution_count"] == 1000


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"entity_id": "a", "entity_ids": ["b"]},
        {"entity_ids": []},
        {"entity_ids": ["a", "a"]},
        {"entity_ids": [f"p{i}" for i in range(1001)]},
        {"entity_id": "a", "start_date": "not-a-date"},
        {"entity_id": "a", "seed": -1},
    ],
)
def test_bad_timeline_requests_are_422(body: dict) -> None:
    save()
    assert timeline(**body).status == 422
    assert summary("diabetic")["execution_count"] == 0


def test_staff_may_generate_without_recording_but_not_record() -> None:
    save()
    assert timeline(entity_id="a", record_execution=False, roles="[staff]").status == 200
    assert timeline(entity_id="a", record_execution=True, roles="[staff]").status == 403


def test_a_stage_only_journey_has_no_timeline() -> None:
    save("staged", spec={"stages": ["A", "B"]})
    result = timeline("staged", entity_id="a")
    assert result.status == 422
    assert "no events" in result.body["message"]


# -- journey templates -----------------------------------------------------------------------


def test_journey_templates_list_only_definitions_with_stages() -> None:
    save("timeline-only")
    save(
        "intake",
        spec={
            "name": "Intake",
            "stages": ["PENDING", "PAID", "BLOCKED"],
            "initial_stage": "PENDING",
            "locked_stages": ["BLOCKED"],
        },
    )
    save("intake", org="org-b", spec={"stages": ["X"]})

    items = invoke_sample("journeys/list-journey-templates", org="org-a").body["items"]

    assert len(items) == 1
    template = items[0]
    assert template["key"] == "intake"
    assert template["name"] == "Intake"
    assert template["organization_id"] == "org-a"
    assert template["allowed_stages"] == ["PENDING", "PAID", "BLOCKED"]
    assert template["initial_stage"] == "PENDING"
    assert template["is_active"] is True
    assert template["version"] == 1
