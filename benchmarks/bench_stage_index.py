"""The stage index's hot key: how much of a busy stage's writes its busiest partition key
takes, and the moves per second that allows.

Workload: 10,000 patients moved into one stage of one journey, with the journey's stage
index on 1 shard and on 16. The spread is counted over the keys the move transaction
writes: for each of the 10,000 patient ids, the index attributes the move path builds
(``data/patients._stage_index_values``, which ``move_patient_stage``'s TransactWriteItems
and a repin both use). The first ``SAMPLE`` of those patients (at 1 and at 16 shards) are
then moved through the real code path on moto (the patient's Query, the move's
TransactWriteItems), every transaction read as it goes out: each must carry exactly the key
computed for its patient, or the run fails. (All 10,000 through moto took up to ~17 minutes
on a loaded machine, moto's update expressions costing tens of ms a move; the sample proves
the same keys.) The index's partition key attribute is read from template.yaml (the ByStage
GSI of the patients table).

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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.bench_dynamodb_calls import moto_account
from benchmarks.rows import Row, row

ROOT = Path(__file__).resolve().parents[1]
ORG = "bench"
MOVES = 10_000
# Moves run through the real path on moto to prove the computed keys (~60 ms each on moto).
SAMPLE = 500
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


def patient_ids(count: int) -> list[str]:
    return [f"patient-{n:05d}" for n in range(count)]


def journey_name(shards: int) -> str:
    return f"hot-{shards}"


def computed_keys(shards: int, patients: list[str]) -> list[str]:
    """The ByStage key a move of each patient into stage A writes: built by the function the
    move transaction builds it with (no AWS)."""
    from journeys_core.data.patients import _stage_index_values
    from journeys_core.models.patient import Enrollment

    now = datetime.now(UTC)
    enrollment = Enrollment(
        journey_key=journey_name(shards),
        stage="A",
        entered_at=now,
        enrolled_at=now,
        version=1,
        definition_version=1,
    )
    _, attribute = stage_index_key()
    return [
        str(_stage_index_values(ORG, patient, enrollment, shards)[attribute])
        for patient in patients
    ]


def moved_keys(shards: int, patients: list[str]) -> list[str]:
    """Move each patient into stage A of a journey of ``shards`` stage index shards through
    the real move path (in the current moto account); the ByStage key each move's
    transaction wrote, in order (one per move, or the run fails)."""
    from journeys_core.data.aws import dynamodb
    from journeys_core.models.journey import JourneyCreate
    from journeys_core.models.patient import StageMove
    from journeys_core.services.definitions import save_journey
    from journeys_core.services.patients import move_patient_stage
    from journeys_core.settings import get_settings

    _, attribute = stage_index_key()
    table = get_settings().patients_table
    journey = journey_name(shards)
    spec = {"stages": ["A", "B"], "stage_index_shards": shards}
    save_journey(ORG, JourneyCreate.model_validate({"name": journey, "journey_spec": spec}))
    writes: list[str] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        for action in params["TransactItems"]:
            body = action.get("Put") or action.get("Update") or {}
            value = written_value(action, attribute) if body.get("TableName") == table else None
            if value is not None:
                writes.append(value)

    events = dynamodb().meta.events
    events.register("provide-client-params.dynamodb.TransactWriteItems", record)
    try:
        for patient in patients:
            move = StageMove(
                org=ORG,
                patient_id=patient,
                journey_key=journey,
                to_stage="A",
                actor="bench",
                is_person=True,
            )
            move_patient_stage(move)
    finally:
        events.unregister("provide-client-params.dynamodb.TransactWriteItems", record)
    assert len(writes) == len(patients), "every move wrote the index once"
    return writes


def busiest_share(keys: list[str]) -> tuple[float, int]:
    """The busiest key's share of ``keys`` (one per index write) and how many keys there are."""
    counts = Counter(keys)
    return max(counts.values()) / len(keys), len(counts)


def busiest_key_share(shards: int, moves: int = MOVES) -> tuple[float, int]:
    """Move ``moves`` patients through the real move path on moto; the busiest index key's
    share of the index writes, and how many keys took writes."""
    return busiest_share(moved_keys(shards, patient_ids(moves)))


def measured_share(shards: int, sample: int) -> tuple[float, int]:
    """The busiest key's share for ``MOVES`` patients by the move path's own key function,
    after checking on moto that the first ``sample`` moves wrote exactly those keys."""
    patients = patient_ids(MOVES)
    keys = computed_keys(shards, patients)
    moved = moved_keys(shards, patients[:sample])
    wrong = sum(1 for got, want in zip(moved, keys[:sample], strict=True) if got != want)
    assert not wrong, f"{wrong} of {sample} moves wrote another key than computed"
    return busiest_share(keys)


def run() -> list[Row]:
    sys.path[:0] = [str(ROOT / "shared"), str(ROOT)]
    with moto_account():
        sixteen, keys = measured_share(16, SAMPLE)
        one, _ = measured_share(1, SAMPLE)
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
        row(
            f"stage index: moves on moto writing the computed key ({SAMPLE} at 1 and 16 shards)",
            2 * SAMPLE,
            "moves",
            "= all moved",
        ),
    ]


if __name__ == "__main__":
    from benchmarks.run import render

    print(render(run()))
