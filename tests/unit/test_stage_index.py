"""Stage index keys (no AWS): one shard keeps the unsharded key, a patient's shard never
changes between processes, and 16 shards spread 10,000 patients evenly enough."""

from __future__ import annotations

from collections import Counter

import pytest
from pydantic import ValidationError

from journeys_core.data.stage_index import (
    shard_of,
    shard_of_partition,
    stage_partitions,
    stage_pk,
)
from journeys_core.domain.stale_monitor import stage_watches
from journeys_core.models.journey import JourneySpec, stage_index_shards


def test_one_shard_is_the_key_an_unsharded_index_had() -> None:
    assert stage_partitions("o", "j", "A", 1) == ["ORG#o#J#j#S#A"]
    assert stage_pk("o", "j", "A", 3) == "ORG#o#J#j#S#A#SH#3"
    assert all(shard_of(f"p-{n}", 1) == 0 for n in range(100))


def test_a_partition_names_its_shard() -> None:
    assert [shard_of_partition(p) for p in stage_partitions("o", "j", "A", 12)] == list(range(12))


def test_a_patients_shard_is_the_same_in_every_process() -> None:
    # Fixed values (not Python's salted hash): a change of hash would leave every sharded
    # enrollment already stored in a shard its next move no longer computes.
    assert [shard_of(p, 16) for p in ("p-1", "p-2", "patient-42")] == [14, 12, 15]


def test_sixteen_shards_give_no_key_more_than_a_twelfth_of_10000_patients() -> None:
    counts = Counter(shard_of(f"patient-{n:05d}", 16) for n in range(10_000))

    assert set(counts) == set(range(16))
    assert max(counts.values()) <= 10_000 / 12


@pytest.mark.parametrize("shards", [0, 33, 1.5])
def test_a_spec_takes_1_to_32_shards(shards: float) -> None:
    with pytest.raises(ValidationError):
        JourneySpec.model_validate({"stages": ["A"], "stage_index_shards": shards})


def test_a_spec_without_a_count_has_one_shard() -> None:
    assert stage_index_shards({"stages": ["A"]}) == 1
    assert stage_index_shards({"stages": ["A"], "stage_index_shards": 16}) == 16


def test_a_monitor_watch_reads_as_many_shards_as_its_journey_has() -> None:
    rule = {"stage": "A", "max_hours": 1, "action": "alert_stagnation"}
    watches = stage_watches(
        [
            ("o", "big", 1, {"stages": ["A"], "stale_rules": [rule], "stage_index_shards": 4}),
            ("o", "big", 2, {"stages": ["A"], "stale_rules": [rule], "stage_index_shards": 16}),
            ("o", "small", 1, {"stages": ["A"], "stale_rules": [rule]}),
        ]
    )

    # One unit per shard of the largest count (counts only grow); an unsharded stage, one.
    assert [(w.journey_key, w.shard) for w in watches] == [
        *[("big", shard) for shard in range(16)],
        ("small", None),
    ]
    assert {w.unit_id for w in watches if w.journey_key == "big"} == {
        f"o#big#A#{shard}" for shard in range(16)
    }
