"""The one DynamoDB toolkit every repository uses: reading every page of a Query, reading one
page behind a tenant-checked cursor, batch writes with backoff and a time budget, and update
expressions through placeholders (many of our attribute names are reserved words)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from journeys_core.data import aws
from journeys_core.data.codec import decode_cursor, encode_cursor, error_code, to_attr
from journeys_core.data.throttling import throttling_as_unavailable
from journeys_core.errors import ServiceUnavailable

BATCH_WRITE_SIZE = 25
BATCH_GET_SIZE = 100
# How long one batch call may keep retrying what DynamoDB left unprocessed.
BATCH_BUDGET_SECONDS = 20.0

Owns = Callable[[dict[str, str]], bool]
T = TypeVar("T")


@contextmanager
def refused_as(refusal: Exception) -> Iterator[None]:
    """A write whose condition DynamoDB refuses (``ConditionalCheckFailedException``) raises
    ``refusal``, the domain's name for it; any other error passes unchanged."""
    try:
        yield
    except Exception as error:
        if error_code(error) == "ConditionalCheckFailedException":
            raise refusal from error
        raise


class OnTable:
    """A repository of one DynamoDB table. The client is asked for at each use (it is cached),
    never at construction: building a repository does no AWS work."""

    def __init__(self, table_name: str) -> None:
        self.table = table_name

    @property
    def _db(self) -> Any:
        return aws.dynamodb()


def query_all(
    params: Mapping[str, Any],
    on_response: Callable[[dict[str, Any]], None] | None = None,
    *,
    operation: str = "query",
) -> Iterator[dict[str, Any]]:
    """Every item a Query (or, for a one-off admin job, a ``"scan"``) matches, page after
    page (``on_response`` sees each answer)."""
    request = dict(params)
    while True:
        response = getattr(aws.dynamodb(), operation)(**request)
        if on_response is not None:
            on_response(response)
        yield from response.get("Items", [])
        if not response.get("LastEvaluatedKey"):
            return
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def query_page(
    params: Mapping[str, Any],
    *,
    limit: int,
    cursor: str | None,
    key_attrs: set[str],
    owns: Owns,
) -> tuple[list[dict[str, Any]], str | None]:
    """Up to ``limit`` items and a cursor when more may follow.

    A cursor is ours only if it names exactly ``key_attrs`` and ``owns`` accepts it (the
    caller's partition, so one tenant cannot page through another's). Without a filter one
    Query reads ``limit + 1`` items (the extra one tells whether another page exists); with a
    ``FilterExpression`` Queries go on until ``limit`` items matched or the partition ends.
    """
    request = dict(params)
    if cursor:
        request["ExclusiveStartKey"] = decode_cursor(cursor, key_attrs, owns)
    if "FilterExpression" not in request:
        request["Limit"] = limit + 1
    found: list[dict[str, Any]] = []
    while True:
        response = aws.dynamodb().query(**request)
        page = response.get("Items", [])
        last_key = response.get("LastEvaluatedKey")
        for index, item in enumerate(page):
            found.append(item)
            if len(found) == limit:
                more = index < len(page) - 1 or last_key is not None
                return found, encode_cursor({k: item[k] for k in key_attrs}) if more else None
        if not last_key:
            return found, None
        request["ExclusiveStartKey"] = last_key


def in_partition(attribute: str, value: str) -> Owns:
    """A cursor check: the key is in partition ``value`` of ``attribute``."""
    return lambda key: key[attribute] == value


def records_page(
    params: Mapping[str, Any],
    to_record: Callable[[dict[str, Any]], T],
    what: str,
    key_attrs: set[str],
    owns: Owns,
    limit: int,
    cursor: str | None,
) -> tuple[list[T], str | None]:
    """:func:`query_page` as records (``to_record`` of each item); a throttled read is
    ServiceUnavailable naming ``what``."""
    with throttling_as_unavailable(what):
        page, next_cursor = query_page(
            params, limit=limit, cursor=cursor, key_attrs=key_attrs, owns=owns
        )
    return [to_record(item) for item in page], next_cursor


def batch_write(
    table: str,
    *,
    puts: Sequence[Mapping[str, Any]] = (),
    deletes: Sequence[Mapping[str, Any]] = (),
    budget_seconds: float = BATCH_BUDGET_SECONDS,
) -> None:
    """Put items and delete keys, 25 a BatchWriteItem, retrying what DynamoDB leaves
    unprocessed with exponential backoff; past the time budget that is ServiceUnavailable."""
    requests = [{"PutRequest": {"Item": dict(item)}} for item in puts]
    requests += [{"DeleteRequest": {"Key": dict(key)}} for key in deletes]
    for start in range(0, len(requests), BATCH_WRITE_SIZE):
        batch = requests[start : start + BATCH_WRITE_SIZE]
        _with_backoff(
            table,
            budget_seconds,
            lambda pending: (
                aws.dynamodb()
                .batch_write_item(RequestItems={table: pending})
                .get("UnprocessedItems", {})
                .get(table, [])
            ),
            batch,
        )


def batch_get(
    table: str,
    keys: Sequence[Mapping[str, Any]],
    *,
    projection: Mapping[str, Any] | None = None,
    budget_seconds: float = BATCH_BUDGET_SECONDS,
) -> list[dict[str, Any]]:
    """The items stored under ``keys`` (missing ones are left out), 100 a BatchGetItem."""
    found: list[dict[str, Any]] = []

    def get(pending: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        request = {table: {"Keys": pending, **(projection or {})}}
        response = aws.dynamodb().batch_get_item(RequestItems=request)
        found.extend(response.get("Responses", {}).get(table, []))
        return list(response.get("UnprocessedKeys", {}).get(table, {}).get("Keys", []))

    for start in range(0, len(keys), BATCH_GET_SIZE):
        _with_backoff(table, budget_seconds, get, list(keys[start : start + BATCH_GET_SIZE]))
    return found


def _with_backoff(
    table: str,
    budget_seconds: float,
    call: Callable[[list[Any]], list[Any]],
    pending: list[Any],
) -> None:
    deadline = time.monotonic() + budget_seconds
    attempt = 0
    while pending:
        pending = call(pending)
        if not pending:
            return
        attempt += 1
        pause = min(0.05 * 2**attempt, 1.0)
        if time.monotonic() + pause > deadline:
            raise ServiceUnavailable(
                f"{table}: {len(pending)} items still unprocessed after {attempt} attempts; "
                "the database is busy right now, retry"
            )
        time.sleep(pause)


class UpdateExpression:
    """``SET``/``REMOVE``/``ADD`` clauses with every name and value behind a placeholder.

    ``set`` with a None value removes the attribute (a field that became empty must not keep
    its old value)."""

    def __init__(self) -> None:
        self._set: list[str] = []
        self._remove: list[str] = []
        self._add: list[str] = []
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}

    def _name(self, attribute: str) -> str:
        placeholder = f"#n{len(self.names)}"
        self.names[placeholder] = attribute
        return placeholder

    def value(self, value: Any) -> str:
        """A placeholder for a value (for conditions beside the update)."""
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = to_attr(value)
        return placeholder

    def set(self, values: Mapping[str, Any]) -> UpdateExpression:
        for attribute, value in values.items():
            if value is None:
                self._remove.append(self._name(attribute))
            else:
                self._set.append(f"{self._name(attribute)} = {self.value(value)}")
        return self

    def set_if_missing(self, attribute: str, value: Any) -> UpdateExpression:
        name = self._name(attribute)
        self._set.append(f"{name} = if_not_exists({name}, {self.value(value)})")
        return self

    def remove(self, attributes: Iterable[str]) -> UpdateExpression:
        self._remove += [self._name(attribute) for attribute in attributes]
        return self

    def add(self, attribute: str, value: Any) -> UpdateExpression:
        self._add.append(f"{self._name(attribute)} {self.value(value)}")
        return self

    def name(self, attribute: str) -> str:
        """A placeholder for an attribute name (for conditions beside the update)."""
        return self._name(attribute)

    @property
    def expression(self) -> str:
        clauses = [
            f"{verb} {', '.join(parts)}"
            for verb, parts in (("SET", self._set), ("REMOVE", self._remove), ("ADD", self._add))
            if parts
        ]
        return " ".join(clauses)

    def params(self) -> dict[str, Any]:
        """``UpdateExpression`` with its names and values, ready for UpdateItem or an
        ``Update`` of a transaction."""
        params: dict[str, Any] = {"UpdateExpression": self.expression}
        if self.names:
            params["ExpressionAttributeNames"] = dict(self.names)
        if self.values:
            params["ExpressionAttributeValues"] = dict(self.values)
        return params
