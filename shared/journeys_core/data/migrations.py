"""Journey migrations in DynamoDB (the system events table) and their work queue.

- job: pk=ORG#{org}#MIGRATION#{id}  sk=MIGRATION  (what was asked, where it stands, counts)

A job is worked on by the migrations function, one SQS message at a time: a run that gets
short of Lambda time saves its position and sends the message again, so a migration of any
size finishes, and a message delivered twice finds the work already done.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from journeys_core.data import aws
from journeys_core.data.codec import from_item, to_item
from journeys_core.models.migration import MigrationStatus


def migration_pk(org: str, migration_id: str) -> str:
    return f"ORG#{org}#MIGRATION#{migration_id}"


@dataclass
class MigrationJob:
    org: str
    journey_id: str
    stages: list[str]
    stage_map: dict[str, str]
    reason: str | None
    status: MigrationStatus
    stage_index: int = 0
    start_key: dict[str, Any] | None = field(default=None)


class MigrationsRepository:
    def __init__(self, table_name: str, queue_url: str) -> None:
        self.table = table_name
        self.queue_url = queue_url

    def save(self, job: MigrationJob) -> None:
        values = {
            "pk": migration_pk(job.org, job.status.id),
            "sk": "MIGRATION",
            "organization_id": job.org,
            "journey_id": job.journey_id,
            "stages_json": json.dumps(job.stages),
            "stage_map_json": json.dumps(job.stage_map),
            "reason": job.reason,
            "status_json": job.status.model_dump_json(),
            "stage_index": job.stage_index,
            "start_key_json": json.dumps(job.start_key) if job.start_key else None,
        }
        aws.dynamodb().put_item(TableName=self.table, Item=to_item(values))

    def get(self, org: str, migration_id: str) -> MigrationJob | None:
        item = (
            aws.dynamodb()
            .get_item(
                TableName=self.table,
                Key={"pk": {"S": migration_pk(org, migration_id)}, "sk": {"S": "MIGRATION"}},
                ConsistentRead=True,
            )
            .get("Item")
        )
        if not item:
            return None
        values = from_item(item)
        start_key = values.get("start_key_json")
        return MigrationJob(
            org=org,
            journey_id=values["journey_id"],
            stages=json.loads(values["stages_json"]),
            stage_map=json.loads(values["stage_map_json"]),
            reason=values.get("reason"),
            status=MigrationStatus.model_validate_json(values["status_json"]),
            stage_index=int(values.get("stage_index", 0)),
            start_key=json.loads(start_key) if start_key else None,
        )

    def enqueue(self, org: str, migration_id: str, *, delay_seconds: int = 0) -> None:
        """Ask the migrations function to work on the job (again; after a delay of at most
        SQS's 15 minutes)."""
        aws.client("sqs").send_message(
            QueueUrl=self.queue_url,
            MessageBody=json.dumps({"organization_id": org, "migration_id": migration_id}),
            DelaySeconds=min(max(delay_seconds, 0), 900),
        )
