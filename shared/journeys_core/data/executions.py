"""Execution history in DynamoDB.

- item: pk=ORG#{org}#JOURNEY#{journey_id}  sk={executed_at}#{execution_id, 19 digits}
- GSI ByEntity: entity_pk=ORG#{org}#ENTITY#{entity_id}  entity_sk={executed_at}#{execution_id}
- tombstone: pk=ORG#{org}#JOURNEY#{journey_id}  sk=~DELETED  (the journey was deleted: a warm
  container that still maps its name to this id learns so from the listing it reads anyway)

``id`` is stored as a number; items written before ids were integers hold the text
``exec-<hex>`` (also in their sort key) and are read with ``execution_id_from_text``.

Writing executions also moves the definition's ``execution_count`` and ``last_executed`` in
the same transaction, so summaries never need counting.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from journeys_core.clock import format_timestamp
from journeys_core.data.codec import cancellation_reasons, dump_json, from_item, to_item
from journeys_core.data.definitions import current_sk, org_pk
from journeys_core.data.dynamo import OnTable, Owns, batch_write, query_all, query_page
from journeys_core.domain.execution_ids import execution_id_from_text, execution_sort_part
from journeys_core.errors import NotFound
from journeys_core.models.execution import ExecutionRecord

# A transaction holds at most 100 items: 99 executions and the definition's counters.
EXECUTIONS_PER_TRANSACTION = 99
JOURNEY_KEY_ATTRS = {"pk", "sk"}
# Sorts after every "{executed_at}#{id}", so newest-first listings meet it first.
DELETED_SK = "~DELETED"
ENTITY_KEY_ATTRS = {"pk", "sk", "entity_pk", "entity_sk"}


def journey_pk(org: str, journey_id: str) -> str:
    return f"ORG#{org}#JOURNEY#{journey_id}"


def entity_pk(org: str, entity_id: str) -> str:
    return f"ORG#{org}#ENTITY#{entity_id}"


def _execution_item(org: str, execution: ExecutionRecord) -> dict[str, Any]:
    values = execution.model_dump(mode="json", exclude={"metadata"})
    sort_key = f"{format_timestamp(execution.executed_at)}#{execution_sort_part(execution.id)}"
    values.update(
        pk=journey_pk(org, execution.journey_id),
        sk=sort_key,
        metadata_json=dump_json(execution.metadata),
    )
    if execution.entity_id:
        values.update(entity_pk=entity_pk(org, execution.entity_id), entity_sk=sort_key)
    return to_item(values)


def _execution_from_item(item: Mapping[str, Any]) -> ExecutionRecord:
    values = from_item(item, metadata=("metadata_json", "{}"))
    if isinstance(values.get("id"), str):
        values["id"] = execution_id_from_text(values["id"])
    return ExecutionRecord.model_validate(values)


class ExecutionsRepository(OnTable):
    def __init__(self, table_name: str, definitions_table: str) -> None:
        super().__init__(table_name)
        self.definitions_table = definitions_table

    def record(self, org: str, journey_name: str, executions: Sequence[ExecutionRecord]) -> None:
        """Write executions of one journey, up to 99 per transaction with the counters.

        Raises NotFound when the journey (by name and id) no longer exists; chunks already
        written stay written, each chunk is all-or-nothing with its counters."""
        for start in range(0, len(executions), EXECUTIONS_PER_TRANSACTION):
            chunk = executions[start : start + EXECUTIONS_PER_TRANSACTION]
            self._record_chunk(org, journey_name, chunk)

    def _record_chunk(self, org: str, journey_name: str, chunk: Sequence[ExecutionRecord]) -> None:
        latest = max(execution.executed_at for execution in chunk)
        items: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self.table,
                    "Item": _execution_item(org, execution),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
            for execution in chunk
        ]
        items.append(
            {
                "Update": {
                    "TableName": self.definitions_table,
                    "Key": {"pk": {"S": org_pk(org)}, "sk": {"S": current_sk(journey_name)}},
                    "UpdateExpression": "ADD execution_count :n SET last_executed = :t",
                    "ConditionExpression": "journey_id = :id",
                    "ExpressionAttributeValues": {
                        ":n": {"N": str(len(chunk))},
                        ":t": {"S": format_timestamp(latest)},
                        ":id": {"S": chunk[0].journey_id},
                    },
                }
            }
        )
        try:
            self._db.transact_write_items(TransactItems=items)
        except self._db.exceptions.TransactionCanceledException as error:
            if cancellation_reasons(error)[-1:] == ["ConditionalCheckFailed"]:
                raise NotFound(f"journey {journey_name!r} not found") from error
            raise

    def list_for_journey(
        self, org: str, journey_id: str, limit: int, cursor: str | None
    ) -> tuple[list[ExecutionRecord], str | None]:
        """Newest first; NotFound when the journey was deleted (its tombstone comes first)."""
        pk = journey_pk(org, journey_id)
        return self._page(
            {"KeyConditionExpression": "pk = :pk", "ExpressionAttributeValues": {":pk": {"S": pk}}},
            JOURNEY_KEY_ATTRS,
            lambda key: key["pk"] == pk,
            limit,
            cursor,
        )

    def list_for_entity(
        self, org: str, entity_id: str, limit: int, cursor: str | None
    ) -> tuple[list[ExecutionRecord], str | None]:
        pk = entity_pk(org, entity_id)
        return self._page(
            {
                "IndexName": "ByEntity",
                "KeyConditionExpression": "entity_pk = :pk",
                "ExpressionAttributeValues": {":pk": {"S": pk}},
            },
            ENTITY_KEY_ATTRS,
            lambda key: key["entity_pk"] == pk,
            limit,
            cursor,
        )

    def _page(
        self,
        params: dict[str, Any],
        key_attrs: set[str],
        owns: Owns,
        limit: int,
        cursor: str | None,
    ) -> tuple[list[ExecutionRecord], str | None]:
        """One Query, newest first (no filter, so ``Limit`` is exact)."""
        items, next_cursor = query_page(
            {**params, "TableName": self.table, "ScanIndexForward": False},
            limit=limit,
            cursor=cursor,
            key_attrs=key_attrs,
            owns=owns,
        )
        if items and items[0]["sk"]["S"] == DELETED_SK:
            raise NotFound("the journey was deleted")
        return [_execution_from_item(item) for item in items], next_cursor

    def mark_journey_deleted(self, org: str, journey_id: str) -> None:
        self._db.put_item(
            TableName=self.table,
            Item={"pk": {"S": journey_pk(org, journey_id)}, "sk": {"S": DELETED_SK}},
        )

    def delete_for_journey(self, org: str, journey_id: str) -> int:
        """Remove every execution of a journey (a thousand keys at a time, 25 a batch)."""
        keys = query_all(
            {
                "TableName": self.table,
                "KeyConditionExpression": "pk = :pk",
                "ExpressionAttributeValues": {":pk": {"S": journey_pk(org, journey_id)}},
                "ProjectionExpression": "pk, sk",
            }
        )
        deleted = 0
        while chunk := list(itertools.islice(keys, 1000)):
            batch_write(self.table, deletes=chunk)
            deleted += len(chunk)
        return deleted
