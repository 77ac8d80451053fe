"""Execution ids: positive 63-bit integers in time order, and legacy text ids read as numbers."""

from __future__ import annotations

import pytest

from journeys_core.domain import execution_ids
from journeys_core.domain.execution_ids import (
    execution_id_from_text,
    execution_sort_part,
    new_execution_id,
)

MAX = 2**63 - 1


def test_ids_are_positive_63_bit_and_never_repeat_in_a_burst() -> None:
    ids = [new_execution_id() for _ in range(10_000)]

    assert all(0 < i <= MAX for i in ids)
    assert ids == sorted(set(ids))


def test_a_later_millisecond_gives_a_greater_id_in_any_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now_ns = 1_900_000_000_000_000_000  # 2030
    monkeypatch.setattr(execution_ids.time, "time_ns", lambda: now_ns)
    earlier = new_execution_id()
    now_ns += 1_000_000  # one millisecond
    monkeypatch.setattr(execution_ids, "_last_issued", 0)  # another process
    later = new_execution_id()

    assert later > earlier
    shift = execution_ids.RANDOM_BITS
    assert (later >> shift) - (earlier >> shift) == 1
    assert earlier >> shift == (now_ns // 1_000_000 - 1) - execution_ids.EPOCH_MS


def test_ids_of_two_processes_differ_in_their_random_bits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(execution_ids.time, "time_ns", lambda: 1_900_000_000_000_000_000)
    seen = set()
    for _ in range(200):
        monkeypatch.setattr(execution_ids, "_last_issued", 0)  # a fresh process
        seen.add(new_execution_id())

    assert len(seen) > 190  # same millisecond, no shared counter, still distinct


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("exec-9f86d081884c7d65", 0x9F86D081884C7D65 % MAX + 1),
        ("exec-0000000000000000", 1),
        ("exec-7fffffffffffffff", 1),  # 2**63 - 1 reduces to 0, then + 1
        ("1234567", 1234567),
    ],
)
def test_text_ids_read_as_positive_integers(text: str, number: int) -> None:
    assert execution_id_from_text(text) == number
    assert 0 < execution_id_from_text(text) <= MAX


@pytest.mark.parametrize("text", ["", "exec-", "exec-XYZ", "run-12", "exec-0123456789abcdef0"])
def test_other_text_is_not_an_execution_id(text: str) -> None:
    with pytest.raises(ValueError, match="not an execution id"):
        execution_id_from_text(text)


def test_sort_key_parts_sort_as_the_numbers_do() -> None:
    numbers = [1, 9, 10, 2**40, new_execution_id(), MAX]
    parts = [execution_sort_part(n) for n in numbers]

    assert sorted(parts) == parts
    assert len({len(p) for p in parts}) == 1
