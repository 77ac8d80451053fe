"""DynamoDB attribute values <-> plain Python values, and error translation."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from journeys_core.errors import InvalidInput, PayloadTooLarge

# DynamoDB refuses items over 400 KB (409,600 bytes), counting names and values in UTF-8;
# a little is left for the attributes updates add later (counters, timestamps).
MAX_ITEM_BYTES = 400_000


def dump_json(value: Any) -> str:
    """A value stored as a JSON string: compact, and UTF-8 as given (an emoji is its 4
    bytes, not a 12-byte surrogate-pair escape)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def attr_size(attr: Mapping[str, Any]) -> int:
    """Bytes DynamoDB counts for one attribute value."""
    ((kind, value),) = attr.items()
    if kind == "S":
        return len(value.encode())
    if kind == "N":
        return len(value) // 2 + 2
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "B":
        return len(value)
    if kind == "SS":
        return sum(len(v.encode()) for v in value)
    if kind == "L":
        return 3 + sum(1 + attr_size(v) for v in value)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + attr_size(v) for k, v in value.items())
    raise TypeError(f"unexpected attribute type {kind}")


def check_item_size(item: Mapping[str, Any]) -> None:
    """PayloadTooLarge (413) naming the largest field when ``item`` is over MAX_ITEM_BYTES:
    refused before the write, not a 500 from DynamoDB."""
    sizes = {name: len(name.encode()) + attr_size(attr) for name, attr in item.items()}
    total = sum(sizes.values())
    if total > MAX_ITEM_BYTES:
        largest = max(sizes, key=sizes.__getitem__)
        raise PayloadTooLarge(
            f"{largest.removesuffix('_json')}: stored, the item would be {total} bytes "
            f"({sizes[largest]} of them this field), over the {MAX_ITEM_BYTES} DynamoDB holds"
        )


def to_attr(value: Any) -> dict[str, Any]:
    """One Python value as a DynamoDB attribute value (None, bool, int, float, str, list, dict)."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float | Decimal):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, set | frozenset):
        return {"SS": sorted(str(v) for v in value)}
    if isinstance(value, list | tuple):
        return {"L": [to_attr(v) for v in value]}
    if isinstance(value, Mapping):
        return {"M": {str(k): to_attr(v) for k, v in value.items()}}
    raise TypeError(f"cannot store {type(value).__name__}")


def from_attr(attr: Mapping[str, Any]) -> Any:
    ((kind, value),) = attr.items()
    if kind == "S":
        return value
    if kind == "N":
        number = Decimal(value)
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == "BOOL":
        return value
    if kind == "NULL":
        return None
    if kind == "L":
        return [from_attr(v) for v in value]
    if kind == "M":
        return {k: from_attr(v) for k, v in value.items()}
    if kind == "SS":
        return list(value)
    raise TypeError(f"unexpected attribute type {kind}")


def to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    """An item to write; PayloadTooLarge when DynamoDB could not hold it."""
    item = {k: to_attr(v) for k, v in values.items() if v is not None}
    check_item_size(item)
    return item


def from_item(item: Mapping[str, Any], **stored_json: tuple[str, str]) -> dict[str, Any]:
    """An item's plain values. Each ``field=(attribute, empty)`` given decodes the JSON text
    stored under ``attribute`` (:func:`dump_json`) into ``field``; ``empty`` (JSON text) is
    the value where the item has none."""
    values = {k: from_attr(v) for k, v in item.items()}
    for field, (attribute, empty) in stored_json.items():
        values[field] = json.loads(values.pop(attribute, None) or empty)
    return values


def encode_token(values: Any) -> str:
    """Plain JSON values as an opaque, URL-safe token (the body of every cursor)."""
    raw = json.dumps(values, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(cursor: str) -> Any:
    """What :func:`encode_token` encoded; anything else is 422."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidInput("cursor: not a cursor this API returned") from error


def is_cursor_key(
    values: Any, expected_keys: set[str], check: Callable[[dict[str, str]], bool]
) -> bool:
    """Whether decoded cursor values are exactly a key of ours that ``check`` accepts."""
    return (
        isinstance(values, dict)
        and set(values) == expected_keys
        and all(isinstance(v, str) and v for v in values.values())
        and check(values)
    )


def encode_cursor(key: Mapping[str, Any]) -> str:
    return encode_token(from_item(key))


def decode_cursor(
    cursor: str, expected_keys: set[str], check: Callable[[dict[str, str]], bool]
) -> dict[str, Any]:
    """A cursor from our own ``next_cursor``; anything else (or another tenant's) is 422."""
    values = decode_token(cursor)
    if not is_cursor_key(values, expected_keys, check):
        raise InvalidInput("cursor: not a cursor this API returned")
    return to_item(values)


def error_code(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def cancellation_reasons(error: Exception) -> list[str]:
    response = getattr(error, "response", None) or {}
    return [str(r.get("Code", "None")) for r in response.get("CancellationReasons", [])]
