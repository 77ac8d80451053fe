"""The stage index benchmark counts what the real move path writes: every enrollment lands
on the one key of an unsharded stage, and 16 shards spread them over 16 keys."""

from __future__ import annotations

import pytest

from benchmarks.bench_stage_index import busiest_key_share, stage_index_key

pytestmark = pytest.mark.usefixtures("aws")


def test_the_index_key_is_read_from_the_template() -> None:
    assert stage_index_key() == ("PatientsTable", "stage_pk")


def test_one_shard_puts_every_move_on_one_key_sixteen_spread_them() -> None:
    one, one_keys = busiest_key_share(1, moves=160)
    sixteen, keys = busiest_key_share(16, moves=160)

    assert (one, one_keys) == (1.0, 1)
    assert keys == 16
    assert sixteen < 0.25
