"""Journey rollups in DynamoDB (their own table): what analytics reads instead of the log.

- stage day:  pk=ORG#{org}#J#{journey}#S#{stage}  sk=DAY#{yyyy-mm-dd}  (counters)
- stage live: pk=ORG#{org}#J#{journey}#S#{stage}  sk=LIVE              (count)
- stages:     pk=ORG#{org}#J#{journey}            sk=STAGES            (stages: a string set)

The counters are described in journeys_core.domain.journey_rollups. The log's stream
consumer applies each batch's increments with one ``ADD`` per item (never one per move), in
``TransactWriteItems`` of at most 100 items, each with a conditional Put of a marker of the
batch (``BATCH#{batch id}``, ``{part}``, expiring after 2 days): Lambda re-delivering the
same batch changes nothing, so counters are not counted twice.

- batch marker: pk=BATCH#{batch id}  sk={part}  expires_at (TTL)

A request reads, per stage, one Query for its day items (the period's days; more only when
a stale rule's cutoff lies before the period or the period ends before today), one
BatchGetItem for every stage's live item and one GetItem for the stages: about stages × days
items, however many moves the period holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from journeys_core.data import aws
from journeys_core.data.codec import cancellation_reasons, from_item
from journeys_core.data.dynamo import UpdateExpression, batch_get, query_all
from journeys_core.data.throttling import throttling_as_unavailable
from journeys_core.domain.journey_rollups import (
    COUNT,
    DAY_PREFIX,
    LIVE,
    RollupDeltas,
    RollupKey,
    StageDay,
    day_slot,
)

STAGES_SK = "STAGES"
BATCH_PREFIX = "BATCH#"
# Longer than the stream keeps records (24 h): a re-delivered batch always finds its marker.
BATCH_MARKER_LIFETIME = timedelta(days=2)
# TransactWriteItems takes at most 100 items; an update expression at most 4 KB.
TRANSACTION_ITEMS = 100
COUNTERS_PER_UPDATE = 100


def stage_rollup_pk(org: str, journey_key: str, stage: str) -> str:
    return f"ORG#{org}#J#{journey_key}#S#{stage}"


def journey_rollup_pk(org: str, journey_key: str) -> str:
    return f"ORG#{org}#J#{journey_key}"


@dataclass
class ReadTally:
    """Items read and calls made, as DynamoDB reports them."""

    items: int = 0
    queries: int = 0


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    return (items[i : i + size] for i in range(0, len(items), size))


@dataclass(frozen=True)
class JourneyRollupsRepository:
    table: str

    # -- writes (the log's stream consumer) -----------------------------------------------

    def apply(self, deltas: RollupDeltas, batch_id: str, now: datetime) -> int:
        """Add a batch's increments; the number of item updates. ``batch_id`` identifies the
        batch (its records): each transaction also puts a marker of the batch and its part,
        on condition it is new, so the same batch applied again changes nothing."""
        actions = [
            self._stages_action(org, key, stages) for (org, key), stages in deltas.stages.items()
        ]
        for key, counters in sorted(deltas.nonzero().items(), key=lambda kv: repr(kv[0])):
            names = sorted(counters)
            for part in _chunks(names, COUNTERS_PER_UPDATE):
                update = UpdateExpression()
                for name in part:
                    update.add(name, counters[name])
                actions.append(self._update(key, update))
        expires = int((now + BATCH_MARKER_LIFETIME).timestamp())
        db = aws.dynamodb()
        for number, chunk in enumerate(_chunks(actions, TRANSACTION_ITEMS - 1)):
            marker = {
                "Put": {
                    "TableName": self.table,
                    "Item": {
                        "pk": {"S": f"{BATCH_PREFIX}{batch_id}"},
                        "sk": {"S": str(number)},
                        "expires_at": {"N": str(expires)},
                    },
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
            try:
                with throttling_as_unavailable("journey rollups"):
                    db.transact_write_items(TransactItems=[marker, *chunk])
            except db.exceptions.TransactionCanceledException as error:
                if cancellation_reasons(error)[:1] != ["ConditionalCheckFailed"]:
                    raise
                # This part of the batch was applied by an earlier delivery.
        return len(actions)

    def _update(self, key: RollupKey, update: UpdateExpression) -> dict[str, Any]:
        item_key = {
            "pk": {"S": stage_rollup_pk(key.org, key.journey_key, key.stage)},
            "sk": {"S": key.slot},
        }
        return {"Update": {"TableName": self.table, "Key": item_key, **update.params()}}

    def _stages_action(self, org: str, journey_key: str, stages: set[str]) -> dict[str, Any]:
        update = UpdateExpression().add("stages", set(stages))
        key = {"pk": {"S": journey_rollup_pk(org, journey_key)}, "sk": {"S": STAGES_SK}}
        return {"Update": {"TableName": self.table, "Key": key, **update.params()}}

    # -- reads (analytics) ----------------------------------------------------------------

    def stage_days(
        self, org: str, journey_key: str, stage: str, first: date, last: date, tally: ReadTally
    ) -> list[StageDay]:
        """The stage's day items from ``first`` to ``last`` (UTC days), oldest first."""

        def count(response: dict[str, Any]) -> None:
            tally.queries += 1
            tally.items += int(response.get("ScannedCount", len(response.get("Items", []))))

        params = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :first AND :last",
            "ExpressionAttributeValues": {
                ":pk": {"S": stage_rollup_pk(org, journey_key, stage)},
                ":first": {"S": day_slot(first)},
                ":last": {"S": day_slot(last)},
            },
        }
        with throttling_as_unavailable("journey analytics"):
            items = list(query_all(params, count))
        days = []
        for item in items:
            values = from_item(item)
            day = date.fromisoformat(values.pop("sk")[len(DAY_PREFIX) :])
            values.pop("pk")
            days.append(StageDay(day=day, counters={k: int(v) for k, v in values.items()}))
        return days

    def live_counts(
        self, org: str, journey_key: str, stages: Iterable[str], tally: ReadTally
    ) -> dict[str, int]:
        """Who stands in each stage now (one BatchGetItem per 100 stages)."""
        by_pk = {stage_rollup_pk(org, journey_key, s): s for s in sorted(set(stages))}
        keys = [{"pk": {"S": pk}, "sk": {"S": LIVE}} for pk in by_pk]
        with throttling_as_unavailable("journey analytics"):
            items = batch_get(self.table, keys)
        tally.queries += -(-len(keys) // 100)
        tally.items += len(items)
        return {by_pk[item["pk"]["S"]]: int(item.get(COUNT, {}).get("N", "0")) for item in items}

    def stages_seen(self, org: str, journey_key: str, tally: ReadTally) -> frozenset[str]:
        """Every stage the journey's log entries ever named."""
        with throttling_as_unavailable("journey analytics"):
            response = aws.dynamodb().get_item(
                TableName=self.table,
                Key={"pk": {"S": journey_rollup_pk(org, journey_key)}, "sk": {"S": STAGES_SK}},
            )
        tally.queries += 1
        item = response.get("Item")
        if not item:
            return frozenset()
        tally.items += 1
        return frozenset(item.get("stages", {}).get("SS", ()))
