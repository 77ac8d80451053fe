"""The stage index (the patients table's sparse GSI ``ByStage``), write-sharded.

DynamoDB gives one partition key about 1,000 writes a second, and a GSI that cannot keep up
throttles its base table: with one key per (organization, journey, stage) every move into a
stage lands on one partition. A journey's spec may therefore spread each stage over
``stage_index_shards`` keys (1-32, default 1):

- shard 0: ``ORG#{org}#J#{journey}#S#{stage}`` (the key of an unsharded index, so a journey
  of one shard is stored exactly as before sharding existed, and needs no backfill);
- shard k >= 1: ``ORG#{org}#J#{journey}#S#{stage}#SH#{k}`` (stage names hold no ``#``).

A patient's shard is a stable hash of its id modulo the count; the enrollment records the
count it was written with (``stage_shards``). Counts only grow (a smaller count would hide
the patients standing in the higher shards): an enrollment written with M shards stands in
a shard below M, so readers of N >= M shards still find it. A migration re-keys the standing
enrollments into the new spread (see ``services/migrations``).

Reads fan out over the shards in parallel (threads; none at one shard) and merge by
``entered_at``; a listing's cursor carries every shard's position.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from journeys_core.data import aws
from journeys_core.data.codec import (
    decode_token,
    encode_token,
    from_item,
    is_cursor_key,
    to_item,
)
from journeys_core.data.dynamo import Owns, query_page
from journeys_core.errors import InvalidInput

T = TypeVar("T")
K = TypeVar("K")

MAX_SHARDS = 32
SHARD_MARK = "#SH#"
# A shard read to its end, in a listing's cursor.
SHARD_DONE = "end"


def shard_of(patient_id: str, shards: int) -> int:
    """The patient's shard: the same in every process and release (not Python's ``hash``)."""
    digest = hashlib.blake2b(patient_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


def stage_pk(org: str, journey_key: str, stage: str, shard: int = 0) -> str:
    base = f"ORG#{org}#J#{journey_key}#S#{stage}"
    return base if shard == 0 else f"{base}{SHARD_MARK}{shard}"


def stage_partitions(org: str, journey_key: str, stage: str, shards: int) -> list[str]:
    """Every key of one stage, shard 0 first."""
    return [stage_pk(org, journey_key, stage, shard) for shard in range(shards)]


def shard_of_partition(partition: str) -> int:
    """The shard a stage index key belongs to (a resume key names it)."""
    _, mark, shard = partition.rpartition(SHARD_MARK)
    return int(shard) if mark else 0


def read_shards(shards: Sequence[K], read: Callable[[K], T]) -> list[T]:
    """``read(shard)`` for every shard (its key, or its number), in parallel threads, results
    in order. One shard is read in the calling thread (no pool for the common case)."""
    if len(shards) == 1:
        return [read(shards[0])]
    with ThreadPoolExecutor(max_workers=len(shards)) as pool:
        return list(pool.map(read, shards))


def merged_page(
    params: Mapping[str, Any],
    partitions: Sequence[str],
    *,
    limit: int,
    cursor: str | None,
    key_attrs: set[str],
    owns: Owns,
) -> tuple[list[dict[str, Any]], str | None]:
    """Up to ``limit`` items of every shard, oldest ``entered_at`` first, and a cursor when
    more may follow. ``params`` is a Query on ByStage with ``:spk`` left for the shard's key.

    One shard: exactly one Query per page, with the single-partition cursor. N shards: N
    Queries in parallel, each reading up to ``limit + 1`` items after its own position; the
    cursor holds every shard's position (start, after a key, or done), each checked to be
    that shard's key of the caller's organization (422 otherwise)."""

    def query_for(partition: str, start: Any) -> dict[str, Any]:
        values = {**params.get("ExpressionAttributeValues", {}), ":spk": {"S": partition}}
        request = {**params, "ExpressionAttributeValues": values, "Limit": limit + 1}
        if isinstance(start, dict):
            request["ExclusiveStartKey"] = to_item(start)
        return request

    if len(partitions) == 1:
        (partition,) = partitions
        return query_page(
            query_for(partition, None),
            limit=limit,
            cursor=cursor,
            key_attrs=key_attrs,
            owns=lambda key: key["stage_pk"] == partition and owns(key),
        )
    positions = _decode_positions(cursor, partitions, key_attrs, owns)
    pending = [i for i, position in enumerate(positions) if position != SHARD_DONE]
    answers = dict(
        zip(
            pending,
            read_shards(
                pending, lambda i: aws.dynamodb().query(**query_for(partitions[i], positions[i]))
            ),
            strict=True,
        )
    )
    streams = [
        [(item["entered_at"]["S"], shard, n, item) for n, item in enumerate(answer["Items"])]
        for shard, answer in answers.items()
    ]
    # heapq.merge takes each shard's items in the order DynamoDB gave them: what a page takes
    # of a shard is always a prefix, so resuming after its last key skips nothing.
    taken = [entry for entry, _ in zip(heapq.merge(*streams), range(limit), strict=False)]
    page = [item for *_, item in taken]
    for shard, answer in answers.items():
        mine = [item for _, owner, _, item in taken if owner == shard]
        if mine:
            positions[shard] = {k: mine[-1][k]["S"] for k in key_attrs}
        if len(mine) == len(answer["Items"]) and not answer.get("LastEvaluatedKey"):
            positions[shard] = SHARD_DONE
    more = any(position != SHARD_DONE for position in positions)
    return page, encode_token({"shards": positions}) if more else None


def _decode_positions(
    cursor: str | None, partitions: Sequence[str], key_attrs: set[str], owns: Owns
) -> list[Any]:
    if not cursor:
        return [None] * len(partitions)
    values = decode_token(cursor)
    positions = values.get("shards") if isinstance(values, dict) and len(values) == 1 else None
    if not isinstance(positions, list) or len(positions) != len(partitions):
        raise InvalidInput("cursor: not a cursor this API returned")
    for partition, position in zip(partitions, positions, strict=True):
        if position is None or position == SHARD_DONE:
            continue
        if not is_cursor_key(position, key_attrs, owns) or position["stage_pk"] != partition:
            raise InvalidInput("cursor: not a cursor this API returned")
    return positions


def stored_key(item: Mapping[str, Any], key_attrs: set[str]) -> dict[str, Any]:
    """An item's index key as plain values (a resume position a job can store as JSON)."""
    return {k: v for k, v in from_item(item).items() if k in key_attrs}
