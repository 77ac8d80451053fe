"""The tamper-evident journey log: every writer chains its entry to the previous one of the
same patient and journey, ``GET .../history/verify`` walks the chain, and a rewrite of an
entry in the table (which IAM cannot prevent) is found and counted from the stream."""

from __future__ import annotations

import importlib
import itertools
import json
import os
from typing import Any

import pytest

from journeys_core.data import repositories
from journeys_core.data.aws import dynamodb
from journeys_core.data.journey_log import log_pk
from journeys_core.domain.log_chain import content_hash
from tests.conftest import ApiResult, LambdaContext, invoke
from tests.integration.test_living_journeys import update
from tests.integration.test_migrations import migrate, work_off_queue
from tests.support.events import api_event
from tests.support.patients import define_journey, full_history, move
from tests.support.streams import lambda_stream_records

pytestmark = pytest.mark.usefixtures("aws")

CARE: dict[str, Any] = {
    "stages": ["OPEN", "TREATING", "REVIEW", "DISCHARGED"],
    "transitions": {
        "OPEN": ["TREATING"],
        "TREATING": ["REVIEW", "DISCHARGED"],
        "REVIEW": ["TREATING", "DISCHARGED"],
    },
    "reentry": {"allowed": True},
}
CARE_V2: dict[str, Any] = {
    "stages": ["OPEN", "CARING", "DISCHARGED"],
    "transitions": {"OPEN": ["CARING"], "CARING": ["DISCHARGED"]},
    "reentry": {"allowed": True},
}


def verify(patient_id: str, key: str = "care", roles: str | None = None) -> ApiResult:
    event = api_event(
        "patients/verify-journey-history",
        path_params={"patient_id": patient_id, "key": key},
        org="org-a",
        roles=roles,
    )
    return invoke("patients", event)


def log_items(patient_id: str, key: str = "care") -> list[dict[str, Any]]:
    response = dynamodb().query(
        TableName=repositories.journey_log().table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": log_pk("org-a", patient_id, key)}},
    )
    return list(response["Items"])


def rewrite(item: dict[str, Any]) -> None:
    """What someone with write access to the table can do: replace an entry in place."""
    dynamodb().put_item(TableName=repositories.journey_log().table, Item=item)


def walk_care(patient_id: str, episodes: int) -> None:
    for _ in range(episodes):
        for stage in ("OPEN", "TREATING", "REVIEW", "TREATING", "REVIEW", "DISCHARGED"):
            assert move(patient_id, stage, key="care", reason="care").status == 200


def test_a_long_chain_with_episodes_and_a_migration_verifies() -> None:
    # Given three episodes of moves, then a migration that moves the patient
    define_journey("care", CARE)
    walk_care("p-1", episodes=3)
    assert move("p-1", "OPEN", key="care").status == 200
    assert move("p-1", "TREATING", key="care").status == 200
    assert update("care", {"journey_spec": CARE_V2}).body["version"] == 2
    assert migrate("care", stage_map={"TREATING": "CARING"}).status == 202
    work_off_queue()

    # When an admin verifies the log
    result = verify("p-1")

    # Then every entry holds and links to the one before, across episodes and the migration
    entries = full_history("p-1", key="care")
    assert [e["actor"] for e in entries][-1] == "migration"
    assert {e["episode"] for e in entries} == {1, 2, 3, 4}
    assert result.status == 200, result.body
    assert result.body == {
        "entries": len(entries),
        "valid": True,
        "first_invalid": None,
        "unchained": 0,
    }
    assert entries[0]["previous_hash"] is None
    for before, after in itertools.pairwise(entries):
        assert after["previous_hash"] == before["entry_hash"]


def test_an_entry_rewritten_in_the_table_is_the_first_invalid() -> None:
    define_journey("care", CARE)
    walk_care("p-1", episodes=1)
    items = log_items("p-1")
    tampered = {**items[2], "reason": {"S": "nothing happened here"}}
    rewrite(tampered)

    result = verify("p-1")

    assert result.status == 200, result.body
    assert result.body["valid"] is False
    assert result.body["entries"] == 6
    invalid = result.body["first_invalid"]
    assert (invalid["entry_id"], invalid["position"], invalid["problem"]) == (
        items[2]["id"]["S"],
        3,
        "content",
    )


def test_a_rewrite_that_recomputes_its_hash_breaks_the_next_link_or_the_anchor() -> None:
    define_journey("care", CARE)
    walk_care("p-1", episodes=1)
    middle_entries = full_history("p-1", key="care")

    # An entry rewritten with its own hash recomputed: the next entry no longer links to it
    item = log_items("p-1")[1]
    entry = repositories.journey_log().all_entries("org-a", "p-1", "care")[1]
    forged = entry.model_copy(update={"actor": "someone-else", "entry_hash": None})
    rewrite({**item, "actor": {"S": "someone-else"}, "entry_hash": {"S": content_hash(forged)}})
    linked = verify("p-1").body["first_invalid"]

    assert (linked["entry_id"], linked["position"], linked["problem"]) == (
        middle_entries[2]["id"],
        3,
        "link",
    )


def test_the_newest_entry_rewritten_consistently_is_caught_by_the_enrollment_anchor() -> None:
    define_journey("care", CARE)
    walk_care("p-1", episodes=1)
    item = log_items("p-1")[-1]
    entry = repositories.journey_log().all_entries("org-a", "p-1", "care")[-1]
    forged = entry.model_copy(update={"reason": "forged", "entry_hash": None})
    rewrite({**item, "reason": {"S": "forged"}, "entry_hash": {"S": content_hash(forged)}})

    invalid = verify("p-1").body["first_invalid"]

    assert (invalid["entry_id"], invalid["position"], invalid["problem"]) == (
        entry.id,
        6,
        "anchor",
    )


def test_entries_from_before_chaining_are_counted_and_the_chain_after_them_verifies() -> None:
    # Given a patient whose first two entries were written before logs were chained
    define_journey("care", CARE)
    move("p-1", "OPEN", key="care")
    move("p-1", "TREATING", key="care")
    for item in log_items("p-1"):
        rewrite({k: v for k, v in item.items() if k not in ("entry_hash", "previous_hash")})
    patients = repositories.patients()
    dynamodb().update_item(
        TableName=patients.table,
        Key={"pk": {"S": "ORG#org-a#PATIENT#p-1"}, "sk": {"S": "ENROLLMENT#care"}},
        UpdateExpression="REMOVE log_hash",
    )
    # When the patient moves on
    move("p-1", "REVIEW", key="care")
    move("p-1", "DISCHARGED", key="care")

    # Then the chain starts at the first new entry, and the old ones are counted apart
    assert verify("p-1").body == {
        "entries": 4,
        "valid": True,
        "first_invalid": None,
        "unchained": 2,
    }
    # and hashes stripped from a chained entry are not taken for an old one
    third = log_items("p-1")[2]
    rewrite({k: v for k, v in third.items() if k not in ("entry_hash", "previous_hash")})
    invalid = verify("p-1").body["first_invalid"]
    assert (invalid["position"], invalid["problem"]) == (4, "link")


def test_verifying_is_for_admins_of_the_patient_organization() -> None:
    define_journey("care", CARE)
    move("p-1", "OPEN", key="care")

    assert verify("p-1", roles="staff").status == 403
    assert verify("nobody").status == 404
    event = api_event(
        "patients/verify-journey-history",
        path_params={"patient_id": "p-1", "key": "care"},
        org="org-b",
    )
    assert invoke("patients", event).status == 404


def test_a_rewritten_or_removed_entry_is_counted_by_the_stream_consumer(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    # Given a move, then its entry replaced in the table
    define_journey("care", CARE)
    move("p-1", "OPEN", key="care")
    (item,) = log_items("p-1")
    rewrite({**item, "reason": {"S": "edited"}})
    records = lambda_stream_records(os.environ["JOURNEY_LOG_TABLE_NAME"])
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY"]
    removal = {**records[0], "eventName": "REMOVE"}
    capsys.readouterr()

    # When the publisher takes the stream
    handler = importlib.import_module("functions.stage_change_publisher.app").handler
    assert handler({"Records": [*records, removal]}, LambdaContext()) == {"batchItemFailures": []}

    # Then the change and the removal are two counts of the alarm's metric, each logged
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert [getattr(w, "stream_event_name", None) for w in warnings] == ["MODIFY", "REMOVE"]
    assert all(getattr(w, "log_keys", {}).get("pk") == item["pk"]["S"] for w in warnings)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    (emf,) = [line for line in lines if "JourneyLogEntryChanged" in line]
    assert emf["JourneyLogEntryChanged"] == [1.0, 1.0]
