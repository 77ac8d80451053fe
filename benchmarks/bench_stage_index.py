"""The stage index's hot key: how much of a busy stage's writes its busiest partition key
takes, and the moves per second that allows.

Workload: 10,000 patients moved into one stage of one journey through the real code path
(``move_patient_stage``: the patient's Query, then the move's TransactWriteItems) on moto,
once with the journey's stage index on 1 shard and once on 16. Every transaction is read as
it goes out: the index's partition key attribute (read from template.yaml, the ByStage GSI
of the patients table) of each enrollment written is counted per value.

DynamoDB gives one partition key at most 1,000 WCU a second, and a GSI that cannot keep up
throttles its table's writes. An enrollment (well under 1 KB) costs the index 1 WCU, so the
stage can take ``1,000 / share`` moves a second, where ``share`` is the busiest key's part.

Run alone with ``python -m benchmarks.bench_stage_index``, or with the others via
``make bench``.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchmarks.bench_dynamodb_calls import moto_account
from benchmarks.rows import Row, row

ROOT = Path(__file__).resolve().parents[1]
ORG = "bench"
MOVES = 10_000
PARTITION_WCU_PER_SECOND = 1_000


def stage_index_key() -> tuple[str, str]:
    """The patients table's logical id in template.yaml and its ByStage partition key."""
    from local_stack.template import load_template

    resources = load_template()["Resources"]
    for logical_id, resource in resources.items():
        for index in resource.get("Properties", {}).get("GlobalSecondaryIndexes", []):
            if index["IndexName"] == "ByStage":
                (hash_key,) = [k for k in index["KeySchema"] if k["KeyType"] == "HASH"]
                return logical_id, hash_key["AttributeName"]
    raise LookupError("template.yaml has no ByStage index")


def written_value(action: Mapping[str, Any], attribute: str) -> str | None:
    """The value a transaction's Put or Update writes to ``attribute`` (None: untouched)."""
    if "Put" in action:
        value = action["Put"]["Item"].get(attribute)
        return value["S"] if value else None
    update = action.get("Update")
    if not update:
        return None
    names = {v: k for k, v in update.get("ExpressionAttributeNames", {}).items()}
    placeholder = names.get(attribute, attribute)
    found = re.search(rf"{re.escape(placeholder)} = (:\w+)", update["UpdateExpression"])
    if not found:
        return None
    return str(update["ExpressionAttributeValues"][found.group(1)]["S"])


def busiest_key_share(shards: int, moves: int = MOVES) -> tuple[float, int]:
    """Enroll ``moves`` patients into stage A of a journey of ``shards`` stage index shards
    (in the current moto account); the busiest index key's share of the index writes, and
    how many keys took writes."""
    from journeys_core.data.aws import dynamodb
    from journeys_core.models.journey import JourneyCreate
    from journeys_core.models.patient import StageMove
    from journeys_core.services.definitions import save_journey
    from journeys_core.services.patients import move_patient_stage
    from journeys_core.settings import get_settings

    _, attribute = stage_index_key()
    table = get_settings().patients_table
    journey = f"hot-{shards}"
    spec = {"stages": ["A", "B"], "stage_index_shards": shards}
    save_journey(ORG, JourneyCreate.model_validate({"name": journey, "journey_spec": spec}))
    writes: Counter[str] = Counter()

    def count(params: dict[str, Any], **_: Any) -> None:
        for action in params["TransactItems"]:
            body = action.get("Put") or action.get("Update") or {}
            value = written_value(action, attribute) if body.get("TableName") == table else None
            if value is not None:
                writes[value] += 1

    events = dynamodb().meta.events
    events.register("provide-client-params.dynamodb.TransactWriteItems", count)
    try:
        for n in range(moves):
            move = StageMove(
                org=ORG,
                patient_id=f"patient-{n:05d}",
                journey_key=journey,
                to_stage="A",
                actor="bench",
                is_person=True,
            )
            move_patient_stage(move)
    finally:
        events.unregister("provide-client-params.dynamodb.TransactWriteItems", count)
    assert sum(writes.values()) == moves, "every move wrote the index once"
    return max(writes.values()) / moves, len(writes)


def run() -> list[Row]:
    sys.path[:0] = [str(ROOT / "shared"), str(ROOT)]
    with moto_account():
        sixteen, keys = busiest_key_share(16)
        one, _ = busiest_key_share(1)
    assert keys == 16, "16 shards: 16 keys took writes"
    ceiling_one = PARTITION_WCU_PER_SECOND / one
    ceiling_sixteen = PARTITION_WCU_PER_SECOND / sixteen
    return [
        row(
            "stage index: busiest key's share, 10,000 moves into a stage, 1 shard",
            one,
            "share",
            "= 1",
        ),
        row(
            "stage index: busiest key's share, 10,000 moves into a stage, 16 shards",
            sixteen,
            "share",
            "<= 0.083 (1/12)",
            baseline=one,
        ),
        row(
            "stage index: moves/s ceiling at 1,000 WCU/s a key, 1 shard",
            ceiling_one,
            "moves/s",
            "-",
        ),
        row(
            "stage index: moves/s ceiling at 1,000 WCU/s a key, 16 shards",
            ceiling_sixteen,
            "moves/s",
            ">= 12,000",
            baseline=ceiling_one,
        ),
    ]


if __name__ == "__main__":
    from benchmarks.run import render

    print(render(run()))
