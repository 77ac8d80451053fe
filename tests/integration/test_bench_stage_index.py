"""The stage index benchmark counts what the real move path writes: every enrollment lands
on the one key of an unsharded stage, and 16 shards spread them over 16 keys."""

from __future__ import annotations

import pytest

from benchmarks.bench_stage_index import (
    MOVES,
    busiest_key_share,
    busiest_share,
    computed_keys,
    moved_keys,
    patient_ids,
    stage_index_key,
)

pytestmark = pytest.mark.usefixtures("aws")


def test_the_index_key_is_read_from_the_template() -> None:
    assert stage_index_key() == ("PatientsTable", "stage_pk")


def test_one_shard_puts_every_move_on_one_key_sixteen_spread_them() -> None:
    one, one_keys = busiest_key_share(1, moves=160)
    sixteen, keys = busiest_key_share(16, moves=160)

    assert (one, one_keys) == (1.0, 1)
    assert keys == 16
    assert sixteen < 0.25


def test_the_moves_write_exactly_the_keys_the_bench_computes_for_them() -> None:
    patients = patient_ids(40)

    moved = moved_keys(16, patients)

    assert moved == computed_keys(16, patients)
    assert len(set(moved)) > 1


def test_ten_thousand_moves_over_sixteen_shards_leave_the_busiest_key_under_a_twelfth() -> None:
    one, one_keys = busiest_share(computed_keys(1, patient_ids(MOVES)))
    sixteen, keys = busiest_share(computed_keys(16, patient_ids(MOVES)))

    assert (one, one_keys) == (1.0, 1)
    assert keys == 16
    assert sixteen <= 1 / 12
