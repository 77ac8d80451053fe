"""Cursors round-trip and forged ones are refused (no AWS)."""

from __future__ import annotations

import pytest

from journeys_core.data.codec import decode_cursor, encode_cursor, from_item, to_item
from journeys_core.errors import InvalidInput

KEYS = {"pk", "sk"}


def test_a_cursor_round_trips() -> None:
    key = to_item({"pk": "ORG#a", "sk": "JOURNEY#x"})
    assert decode_cursor(encode_cursor(key), KEYS, lambda k: k["pk"] == "ORG#a") == key


@pytest.mark.parametrize("cursor", ["", "!!!", "bnVsbA", "e30", "eyJwayI6MX0"])
def test_garbage_is_invalid_input(cursor: str) -> None:
    with pytest.raises(InvalidInput):
        decode_cursor(cursor, KEYS, lambda k: True)


def test_a_cursor_that_fails_the_check_is_invalid_input() -> None:
    cursor = encode_cursor(to_item({"pk": "ORG#a", "sk": "JOURNEY#x"}))
    with pytest.raises(InvalidInput):
        decode_cursor(cursor, KEYS, lambda k: k["pk"] == "ORG#b")


def test_numbers_and_nested_values_survive_the_codec() -> None:
    values = {"n": 3, "f": 1.5, "b": True, "l": ["a", 2], "m": {"k": None}}
    assert from_item(to_item(values)) == values
