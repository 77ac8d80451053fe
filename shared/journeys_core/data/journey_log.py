"""The append-only journey log in DynamoDB (its own table).

- entry:  pk=ORG#{org}#PATIENT#{patient}#J#{journey}  sk={changed_at}#{entry id}
          (no index: analytics reads rollups kept from the stream, not the log)

An entry is only ever written by a ``Put`` inside the stage move's ``TransactWriteItems``
(with ``attribute_not_exists``), never updated or deleted: no function's IAM policy allows
UpdateItem, DeleteItem or BatchWriteItem on the table, and PutItem only inside a transaction.
Each entry is chained to the previous one (journeys_core.domain.log_chain). The table's
stream (NEW_IMAGE) feeds the stage-change publisher and the analytics rollups.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from journeys_core.clock import format_timestamp
from journeys_core.data.codec import from_item, to_attr
from journeys_core.data.dynamo import in_partition, query_all, records_page
from journeys_core.data.throttling import throttling_as_unavailable
from journeys_core.models.patient import JourneyLogEntry

HISTORY_KEY_ATTRS = {"pk", "sk"}
# Attributes that only serve keys and indexes, not the entry itself (entries written while
# the log had a ByJourney index still carry its journey_pk).
_KEY_ATTRS = ("pk", "sk", "journey_pk")


def log_pk(org: str, patient_id: str, journey_key: str) -> str:
    return f"ORG#{org}#PATIENT#{patient_id}#J#{journey_key}"


def new_log_entry_id() -> str:
    return f"jlog-{secrets.token_hex(8)}"


def log_item(entry: JourneyLogEntry) -> dict[str, Any]:
    """The entry as a DynamoDB item; ``from_stage`` is an explicit NULL on enrollment."""
    values = entry.model_dump(mode="json")
    changed_at = format_timestamp(entry.changed_at)
    values["changed_at"] = changed_at
    if entry.from_entered_at is not None:
        values["from_entered_at"] = format_timestamp(entry.from_entered_at)
    values.update(
        pk=log_pk(entry.organization_id, entry.patient_id, entry.journey_key),
        sk=f"{changed_at}#{entry.id}",
    )
    return {
        name: to_attr(value)
        for name, value in values.items()
        if value is not None or name == "from_stage"
    }


def entry_from_values(values: Mapping[str, Any]) -> JourneyLogEntry:
    """An entry from plain values: a deserialized item or a stream record's NewImage."""
    fields = {k: v for k, v in values.items() if k not in _KEY_ATTRS}
    fields.setdefault("from_stage", None)
    return JourneyLogEntry.model_validate(fields)


def entry_from_item(item: Mapping[str, Any]) -> JourneyLogEntry:
    return entry_from_values(from_item(item))


class JourneyLogRepository:
    def __init__(self, table_name: str) -> None:
        self.table = table_name

    def history(
        self,
        org: str,
        patient_id: str,
        journey_key: str,
        limit: int,
        cursor: str | None,
        episode: int | None = None,
    ) -> tuple[list[JourneyLogEntry], str | None]:
        """One page of a patient's entries in a journey, oldest first (one Query; with
        ``episode``, filtered by DynamoDB: entries from before episodes were kept are of
        episode 1)."""
        pk = log_pk(org, patient_id, journey_key)
        params: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": pk}},
            "ScanIndexForward": True,
        }
        if episode is not None:
            params["ExpressionAttributeValues"][":episode"] = {"N": str(episode)}
            params["FilterExpression"] = (
                "episode = :episode OR attribute_not_exists(episode)"
                if episode == 1
                else "episode = :episode"
            )
        owns = in_partition("pk", pk)
        return records_page(
            params, entry_from_item, "journey history", HISTORY_KEY_ATTRS, owns, limit, cursor
        )

    def all_entries(self, org: str, patient_id: str, journey_key: str) -> list[JourneyLogEntry]:
        """Every entry of a patient's log in a journey, oldest first (strongly consistent:
        one Query, one more per further 1 MB)."""
        params: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": log_pk(org, patient_id, journey_key)}},
            "ConsistentRead": True,
        }
        with throttling_as_unavailable("journey history"):
            return [entry_from_item(item) for item in query_all(params)]
