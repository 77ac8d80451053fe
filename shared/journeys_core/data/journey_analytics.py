"""The reads behind journey analytics: Queries on two indexes, never a Scan.

- the period's log entries: journey log GSI ``ByJourney`` (``journey_pk=ORG#{org}#J#{key}``,
  ``changed_at BETWEEN :start AND :end``), only the four attributes analytics needs;
- who stands in a stage now: patients GSI ``ByStage`` (``stage_pk=ORG#{org}#J#{key}#S#{stage}``,
  one Query per shard, see ``stage_index``), only ``entered_at``.

Cost of one request, in items read: the journey's log entries in the period plus the
enrollments standing in the journey now; in calls: one Query per stage plus one, and one more
per further 1 MB page. (A projection does not lower read capacity: DynamoDB charges for the
whole items matched, about 0.5 RCU per 4 KB read from an index.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from journeys_core.clock import format_timestamp
from journeys_core.data.dynamo import query_all
from journeys_core.data.journey_log import journey_pk
from journeys_core.data.stage_index import read_shards, stage_partitions
from journeys_core.data.throttling import throttling_as_unavailable
from journeys_core.domain.analytics import LogPoint


@dataclass
class ReadTally:
    """Items read and Query calls made, as DynamoDB reports them."""

    items: int = 0
    queries: int = 0


class JourneyAnalyticsReader:
    def __init__(self, log_table: str, patients_table: str) -> None:
        self.log_table = log_table
        self.patients_table = patients_table

    def _query_all(self, tally: ReadTally, what: str, **params: Any) -> list[dict[str, Any]]:
        def count(response: dict[str, Any]) -> None:
            tally.queries += 1
            tally.items += int(response.get("ScannedCount", len(response.get("Items", []))))

        with throttling_as_unavailable(what):
            return list(query_all(params, count))

    def log_points(
        self, org: str, journey_key: str, start: datetime, end: datetime, tally: ReadTally
    ) -> list[LogPoint]:
        """The journey's log entries with ``start <= changed_at <= end``, oldest first."""
        items = self._query_all(
            tally,
            "journey analytics",
            TableName=self.log_table,
            IndexName="ByJourney",
            KeyConditionExpression="journey_pk = :pk AND changed_at BETWEEN :start AND :end",
            ExpressionAttributeValues={
                ":pk": {"S": journey_pk(org, journey_key)},
                ":start": {"S": format_timestamp(start)},
                ":end": {"S": format_timestamp(end)},
            },
            ProjectionExpression="#patient, #from, #to, #at, #episode",
            ExpressionAttributeNames={
                "#patient": "patient_id",
                "#from": "from_stage",
                "#to": "to_stage",
                "#at": "changed_at",
                "#episode": "episode",
            },
        )
        return [
            LogPoint(
                patient_id=item["patient_id"]["S"],
                from_stage=item.get("from_stage", {}).get("S"),  # NULL on enrollment
                to_stage=item["to_stage"]["S"],
                changed_at=datetime.fromisoformat(item["changed_at"]["S"]),
                episode=int(item.get("episode", {}).get("N", "1")),
            )
            for item in items
        ]

    def entered_at_of_stage(
        self, org: str, journey_key: str, stage: str, tally: ReadTally, *, shards: int = 1
    ) -> list[datetime]:
        """When each patient standing in the stage now entered it (every shard, in
        parallel)."""

        def read(partition: str) -> tuple[ReadTally, list[dict[str, Any]]]:
            own = ReadTally()  # one per thread, added up below
            return own, self._query_all(
                own,
                "patients in stage",
                TableName=self.patients_table,
                IndexName="ByStage",
                KeyConditionExpression="stage_pk = :spk",
                ExpressionAttributeValues={":spk": {"S": partition}},
                ProjectionExpression="entered_at",
            )

        shard_reads = read_shards(stage_partitions(org, journey_key, stage, shards), read)
        for own, _ in shard_reads:
            tally.items += own.items
            tally.queries += own.queries
        return [
            datetime.fromisoformat(item["entered_at"]["S"])
            for _, items in shard_reads
            for item in items
        ]
