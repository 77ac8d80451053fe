"""Journey migrations: a dry run counts, a real run re-pins every enrollment on the source
version and moves exactly the mapped ones once, each with its log entry, resuming across
Lambda runs until it is done."""

from __future__ import annotations

import importlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from journeys_core.clock import format_timestamp
from journeys_core.data import repositories
from journeys_core.data.dynamo import batch_write
from journeys_core.data.patients import enrollment_sk, patient_pk, stage_pk
from journeys_core.settings import get_settings
from tests.conftest import ApiResult, invoke
from tests.support.events import api_event
from tests.support.patients import define_journey, full_history, get_patient, move

pytestmark = pytest.mark.usefixtures("aws")

V1: dict[str, Any] = {"stages": ["A", "B", "C", "D"]}
V2: dict[str, Any] = {"stages": ["A", "C", "E"]}  # B goes (mapped to C), D goes (unmapped)
COHORT = {"A": 800, "B": 700, "D": 500}


def migrate(name: str = "mj", **body: Any) -> ApiResult:
    event = api_event(
        "journeys/start-migration", path_params={"name_or_id": name}, body=body, org="org-a"
    )
    return invoke("journeys", event)


def migration(migration_id: str, name: str = "mj") -> ApiResult:
    event = api_event(
        "journeys/get-migration",
        path_params={"name_or_id": name, "migration_id": migration_id},
        org="org-a",
    )
    return invoke("journeys", event)


def seed_enrollments(key: str, cohort: dict[str, int], version: int) -> None:
    """Enrollments as moves leave them, written in bulk (the moves themselves are tested
    elsewhere): patients p-{stage}-{n} standing in each stage on ``version``."""
    entered = datetime(2026, 1, 1, tzinfo=UTC)
    items = []
    for stage, count in cohort.items():
        for n in range(count):
            at = format_timestamp(entered + timedelta(seconds=n))
            patient_id = f"p-{stage}-{n:04d}"
            items.append(
                {
                    "pk": {"S": patient_pk("org-a", patient_id)},
                    "sk": {"S": enrollment_sk(key)},
                    "organization_id": {"S": "org-a"},
                    "patient_id": {"S": patient_id},
                    "journey_key": {"S": key},
                    "stage": {"S": stage},
                    "entered_at": {"S": at},
                    "enrolled_at": {"S": at},
                    "version": {"N": "1"},
                    "definition_version": {"N": str(version)},
                    "stage_pk": {"S": stage_pk("org-a", key, stage)},
                }
            )
    batch_write(repositories.patients().table, puts=items)


class Context:
    """A Lambda context whose remaining time the test chooses."""

    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms
        self.function_name = "journeys-test-migrations"
        self.memory_limit_in_mb = 512
        self.invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:m"
        self.aws_request_id = "req"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def work_off_queue(remaining_ms: int = 60_000, max_runs: int = 200) -> int:
    """Deliver the migrations queue's messages to the function until it is empty; runs."""
    handler = importlib.import_module("functions.migrations.app").handler
    sqs, url = boto3.client("sqs"), get_settings().migrations_queue_url
    for run in range(max_runs):
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1).get("Messages", [])
        if not messages:
            return run
        (message,) = messages
        event = {
            "Records": [
                {
                    "messageId": message["MessageId"],
                    "receiptHandle": message["ReceiptHandle"],
                    "body": message["Body"],
                    "attributes": {},
                    "messageAttributes": {},
                    "md5OfBody": message["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:migrations",
                    "awsRegion": "us-east-1",
                }
            ]
        }
        response = handler(event, Context(remaining_ms))
        assert response["batchItemFailures"] == [], response
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    raise AssertionError("the migration never finished")


@pytest.fixture
def two_versions(aws: None) -> None:
    define_journey("mj", V1)
    seed_enrollments("mj", COHORT, version=1)
    event = api_event(
        "journeys/update-journey",
        path_params={"name_or_id": "mj"},
        body={"journey_spec": V2},
        org="org-a",
    )
    assert invoke("journeys", event).body["version"] == 2


@pytest.mark.usefixtures("two_versions")
def test_a_dry_run_counts_per_stage_and_writes_nothing() -> None:
    preview = migrate(stage_map={"B": "C"}, dry_run=True)

    assert preview.status == 200, preview.body
    assert preview.body == {
        "dry_run": True,
        "patients": 2000,
        "by_stage": {"A": 800, "B": 700},
        "unmapped": {"D": 500},
    }
    assert get_patient("p-B-0001").body["enrollments"]["mj"]["definition_version"] == 1


@pytest.mark.usefixtures("two_versions")
def test_a_migration_moves_exactly_the_mapped_ones_once_and_resumes_until_done() -> None:
    started = migrate(stage_map={"B": "C"}, reason="v2 drops B and D")
    assert started.status == 202, started.body
    assert started.body["status"] == "running"

    runs = work_off_queue(remaining_ms=5_000)  # every run is cut short after one page

    assert runs > 10  # it resumed where each run stopped
    done = migration(started.body["id"]).body
    assert done["status"] == "completed"
    assert (done["moved"], done["repinned"], done["unmapped"]) == (700, 800, 500)
    moved = get_patient("p-B-0042").body["enrollments"]["mj"]
    assert (moved["stage"], moved["definition_version"]) == ("C", 2)
    (entry,) = [e for e in full_history("p-B-0042", key="mj") if e["actor"] == "migration"]
    assert (entry["from_stage"], entry["to_stage"], entry["definition_version"]) == ("B", "C", 2)
    assert entry["reason"] == "v2 drops B and D"
    repinned = get_patient("p-A-0007").body["enrollments"]["mj"]
    assert (repinned["stage"], repinned["definition_version"]) == ("A", 2)
    assert full_history("p-A-0007", key="mj") == []  # same stage: no move, no entry
    stranded = get_patient("p-D-0003").body["enrollments"]["mj"]
    assert (stranded["stage"], stranded["definition_version"]) == ("D", 1)
    # and the migrated patients now move by version 2's rules
    assert move("p-B-0042", "E", key="mj").status == 200


@pytest.mark.usefixtures("two_versions")
def test_running_a_migration_twice_moves_nobody_twice() -> None:
    first = migrate(stage_map={"B": "C"}).body
    work_off_queue()
    second = migrate(stage_map={"B": "C"}).body
    work_off_queue()

    again = migration(second["id"]).body
    assert migration(first["id"]).body["moved"] == 700
    assert (again["moved"], again["repinned"], again["unmapped"]) == (0, 0, 500)
    history = full_history("p-B-0100", key="mj")
    assert [e["to_stage"] for e in history] == ["C"]


@pytest.mark.usefixtures("two_versions")
def test_a_redelivered_message_of_a_finished_migration_changes_nothing() -> None:
    started = migrate(stage_map={"B": "C"}).body
    work_off_queue()
    repositories.migrations().enqueue("org-a", started["id"])  # SQS delivers it again

    assert work_off_queue() == 1
    assert migration(started["id"]).body["moved"] == 700


def test_a_map_into_a_stage_the_target_lacks_is_refused() -> None:
    define_journey("mj", V1)

    refused = migrate(stage_map={"B": "Z"})

    assert refused.status == 422
    assert "Z" in json.dumps(refused.body)


def test_another_organization_cannot_read_a_migration() -> None:
    define_journey("mj", V1)
    started = migrate(stage_map={}).body
    event = api_event(
        "journeys/get-migration",
        path_params={"name_or_id": "mj", "migration_id": started["id"]},
        org="org-b",
    )

    assert invoke("journeys", event).status == 404
