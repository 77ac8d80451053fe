"""The moto patches change moto's cost, never its answers: the same random writes and queries
on twin copies of template.yaml's tables, one under moto as released and one patched, must
answer alike, page by page."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aws_sim.moto_patches import released_moto
from local_stack.template import create_resources
from tests.conftest import RESOURCE_PREFIX

REFERENCE_PREFIX = "journeys-reference"
HASH_VALUES = ["a", "b"]
RANGE_VALUES = ["1", "2", "3", "4", "5", "10"]
INDEX_HASH_VALUES = ["x", "y"]
_examples = itertools.count()


@dataclass(frozen=True)
class Index:
    name: str
    hash_attr: str
    range_attr: str | None


@dataclass(frozen=True)
class TwinTable:
    patched: str
    reference: str
    hash_attr: str
    range_attr: str | None
    indexes: tuple[Index, ...]
    types: dict[str, str]  # attribute name -> S or N

    @property
    def key_attrs(self) -> list[str]:
        return [a for a in (self.hash_attr, self.range_attr) if a]

    @property
    def index_attrs(self) -> list[str]:
        names = [a for i in self.indexes for a in (i.hash_attr, i.range_attr) if a]
        return [n for n in dict.fromkeys(names) if n not in self.key_attrs]


def _key_pair(schema: list[dict[str, str]]) -> tuple[str, str | None]:
    by_type = {k["KeyType"]: k["AttributeName"] for k in schema}
    return by_type["HASH"], by_type.get("RANGE")


@pytest.fixture
def twins(aws: None) -> list[TwinTable]:
    """Every table of template.yaml twice: as the tests create it, and a reference copy."""
    client = boto3.client("dynamodb")
    reference = create_resources(boto3.session.Session(), REFERENCE_PREFIX)
    tables = []
    for logical_id, resource in reference.items():
        if not resource["arn"].startswith("arn:aws:dynamodb:"):
            continue
        description = client.describe_table(TableName=resource["name"])["Table"]
        hash_attr, range_attr = _key_pair(description["KeySchema"])
        indexes = tuple(
            Index(index["IndexName"], *_key_pair(index["KeySchema"]))
            for index in description.get("GlobalSecondaryIndexes", [])
        )
        tables.append(
            TwinTable(
                patched=f"{RESOURCE_PREFIX}-{logical_id}",
                reference=resource["name"],
                hash_attr=hash_attr,
                range_attr=range_attr,
                indexes=indexes,
                types={
                    a["AttributeName"]: a["AttributeType"]
                    for a in description["AttributeDefinitions"]
                },
            )
        )
    assert len(tables) >= 5, "template.yaml's tables were not found"
    return tables


# -- operations: plain data, drawn by hypothesis, turned into requests per table ------------

Draw = Callable[[Any], Any]


def _value(table: TwinTable, attr: str, raw: str, example: int) -> dict[str, str]:
    if table.types.get(attr, "S") == "N":
        return {"N": raw if raw.isdigit() else str(len(raw))}
    return {"S": f"{example}#{raw}" if attr == table.hash_attr else raw}


def _index_value(table: TwinTable, attr: str, raw: str, example: int) -> dict[str, str]:
    hashes = {i.hash_attr for i in table.indexes}
    if attr in hashes and table.types.get(attr, "S") == "S":
        return {"S": f"{example}#{raw}"}  # each example gets its own index partitions
    return _value(table, attr, raw, example)


@st.composite
def _item(draw: Draw, table: TwinTable) -> dict[str, str]:
    """Raw values; ``index`` attributes may be missing (sparse indexes)."""
    raw = {table.hash_attr: draw(st.sampled_from(HASH_VALUES))}
    if table.range_attr:
        raw[table.range_attr] = draw(st.sampled_from(RANGE_VALUES))
    hashes = {i.hash_attr for i in table.indexes}
    for attr in table.index_attrs:
        if draw(st.booleans()) or draw(st.booleans()):
            pool = INDEX_HASH_VALUES if attr in hashes else RANGE_VALUES
            raw[attr] = draw(st.sampled_from(pool))
    if draw(st.booleans()):
        raw["n"] = str(draw(st.integers(0, 5)))
    return raw


def _operation(tables: list[TwinTable], focus: int) -> st.SearchStrategy[tuple[Any, ...]]:
    """Operations on table ``focus`` (transactions may reach into the others too)."""
    table_index = st.just(focus)
    any_table = st.one_of(table_index, st.integers(0, len(tables) - 1))

    @st.composite
    def write(draw: Draw) -> tuple[Any, ...]:
        t = draw(table_index)
        kind = draw(st.sampled_from(["put", "put_new", "update", "delete"]))
        return ("write", t, kind, draw(_item(tables[t])), draw(st.booleans()))

    @st.composite
    def batch(draw: Draw) -> tuple[Any, ...]:
        t = draw(table_index)
        items = draw(st.lists(st.tuples(st.booleans(), _item(tables[t])), max_size=6))
        return ("batch", t, items)

    @st.composite
    def transaction(draw: Draw) -> tuple[Any, ...]:
        parts = draw(
            st.lists(
                st.tuples(
                    any_table,
                    st.sampled_from(["put", "put_new", "update", "delete", "check"]),
                    st.data(),
                ),
                min_size=1,
                max_size=4,
            )
        )
        return ("transact", [(t, kind, data.draw(_item(tables[t]))) for t, kind, data in parts])

    @st.composite
    def query(draw: Draw) -> tuple[Any, ...]:
        t = draw(table_index)
        table = tables[t]
        index = draw(st.sampled_from([None, *table.indexes]))
        hash_pool = HASH_VALUES if index is None else INDEX_HASH_VALUES
        range_attr = table.range_attr if index is None else index.range_attr
        condition = draw(st.sampled_from([None, "=", "<", ">=", "between", "begins_with"]))
        return (
            "query",
            t,
            index,
            draw(st.sampled_from(hash_pool)),
            condition if range_attr else None,
            draw(st.sampled_from(RANGE_VALUES)),
            draw(st.sampled_from([None, 1, 2, 3])),
            draw(st.booleans()),
            draw(st.sampled_from([None, "filter", "projection", "both"])),
        )

    return st.one_of(write(), write(), batch(), transaction(), transaction(), query(), query())


def _typed(table: TwinTable, raw: dict[str, str], example: int) -> dict[str, Any]:
    typed: dict[str, Any] = {}
    for attr, value in raw.items():
        if attr == "n":
            typed[attr] = {"N": value}
        elif attr in table.key_attrs:
            typed[attr] = _value(table, attr, value, example)
        else:
            typed[attr] = _index_value(table, attr, value, example)
    return typed


def _write_request(
    table: TwinTable, name: str, kind: str, raw: dict[str, str], example: int, conditional: bool
) -> tuple[str, dict[str, Any]]:
    item = _typed(table, raw, example)
    key = {attr: item[attr] for attr in table.key_attrs}
    exists = {
        "ConditionExpression": "attribute_exists(#k)",
        "ExpressionAttributeNames": {"#k": table.hash_attr},
    }
    if kind in ("put", "put_new"):
        request: dict[str, Any] = {"TableName": name, "Item": item}
        if kind == "put_new":
            request["ConditionExpression"] = "attribute_not_exists(#k)"
            request["ExpressionAttributeNames"] = {"#k": table.hash_attr}
        return "Put", request
    if kind == "delete":
        return "Delete", {"TableName": name, "Key": key, **(exists if conditional else {})}
    if kind == "check":
        return "ConditionCheck", {"TableName": name, "Key": key, **exists}
    # update: set the index attributes the item has, remove the ones it lacks
    others = [a for a in table.index_attrs if a in item] + (["n"] if "n" in item else [])
    gone = [a for a in table.index_attrs if a not in item]
    names = {f"#a{i}": a for i, a in enumerate(others + gone)}
    values = {f":v{i}": item[a] for i, a in enumerate(others)}
    clauses = []
    if others:
        clauses.append("SET " + ", ".join(f"#a{i} = :v{i}" for i in range(len(others))))
    if gone:
        clauses.append("REMOVE " + ", ".join(f"#a{len(others) + i}" for i in range(len(gone))))
    if not clauses:
        names["#touched"] = "touched"
        values[":t"] = {"N": "1"}
        clauses.append("SET #touched = :t")
    request = {
        "TableName": name,
        "Key": key,
        "UpdateExpression": " ".join(clauses),
        "ExpressionAttributeNames": names,
    }
    if values:
        request["ExpressionAttributeValues"] = values
    if conditional:
        request["ConditionExpression"] = "attribute_exists(#k0)"
        request["ExpressionAttributeNames"]["#k0"] = table.hash_attr
    return "Update", request


def _query_request(
    table: TwinTable, name: str, operation: tuple[Any, ...], example: int
) -> dict[str, Any]:
    _, _, index, hash_raw, condition, range_raw, limit, forward, extra = operation
    hash_attr = table.hash_attr if index is None else index.hash_attr
    range_attr = table.range_attr if index is None else index.range_attr
    names = {"#h": hash_attr}
    typed_hash = (
        _value(table, hash_attr, hash_raw, example)
        if index is None
        else _index_value(table, hash_attr, hash_raw, example)
    )
    values: dict[str, Any] = {":h": typed_hash}
    expression = "#h = :h"
    if condition and range_attr:
        names["#r"] = range_attr
        values[":r"] = _index_value(table, range_attr, range_raw, example)
        if condition == "between":
            values[":r2"] = _index_value(table, range_attr, "4", example)
            expression += " AND #r BETWEEN :r AND :r2"
        elif condition == "begins_with":
            if "S" not in values[":r"]:
                values[":r"] = {"N": values[":r"]["N"]}
                expression += " AND #r = :r"
            else:
                expression += " AND begins_with(#r, :r)"
        else:
            expression += f" AND #r {condition} :r"
    request: dict[str, Any] = {
        "TableName": name,
        "KeyConditionExpression": expression,
        "ScanIndexForward": forward,
        "ReturnConsumedCapacity": "INDEXES",
    }
    if index is not None:
        request["IndexName"] = index.name
    if limit:
        request["Limit"] = limit
    if extra in ("filter", "both"):
        names["#n"] = "n"
        values[":n"] = {"N": "2"}
        request["FilterExpression"] = "attribute_not_exists(#n) OR #n >= :n"
    if extra in ("projection", "both"):
        names["#n2"] = "n"
        names["#k"] = table.hash_attr
        request["ProjectionExpression"] = "#k, #n2"
    request["ExpressionAttributeNames"] = names
    request["ExpressionAttributeValues"] = values
    return request


# -- running an operation on both twins --------------------------------------------------


def _answer(call: Callable[[], dict[str, Any]], names: dict[str, str]) -> tuple[Any, Any]:
    """The response without its metadata, table names made neutral (an error as its code and
    cancellation reasons), and the response itself."""
    try:
        response = call()
    except ClientError as error:
        reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
        return ("error", error.response["Error"]["Code"], reasons), {}
    response.pop("ResponseMetadata", None)
    text = repr(response)
    for name, neutral in names.items():
        text = text.replace(name, neutral)
    return text, response


def _on_both(client: Any, tables: list[TwinTable], build: Callable[[str], Any]) -> Any:
    """Run ``build(side)``'s request on the reference (moto as released), then on the patched
    twin; the answers must be equal. Returns the patched twin's response."""
    names = {t.reference: t.patched for t in tables}
    with released_moto():
        expected, _ = _answer(lambda: build("reference"), names)
    actual, response = _answer(lambda: build("patched"), names)
    assert actual == expected
    return response


def _run(client: Any, tables: list[TwinTable], operation: tuple[Any, ...], example: int) -> None:
    kind = operation[0]
    if kind == "write":
        _, t, write_kind, raw, conditional = operation
        table = tables[t]

        def single(side: str) -> Any:
            verb, request = _write_request(
                table, getattr(table, side), write_kind, raw, example, conditional
            )
            method = {
                "Put": client.put_item,
                "Delete": client.delete_item,
                "Update": client.update_item,
            }[verb]
            return method(**request, ReturnValues="ALL_OLD")

        _on_both(client, tables, single)
    elif kind == "batch":
        _, t, entries = operation
        table = tables[t]

        def batch(side: str) -> Any:
            requests, seen = [], set()
            for is_put, raw in entries:
                item = _typed(table, raw, example)
                key = {a: item[a] for a in table.key_attrs}
                if repr(key) in seen:
                    continue  # DynamoDB refuses a batch that names an item twice
                seen.add(repr(key))
                requests.append(
                    {"PutRequest": {"Item": item}} if is_put else {"DeleteRequest": {"Key": key}}
                )
            if not requests:
                return {}
            return client.batch_write_item(RequestItems={getattr(table, side): requests})

        _on_both(client, tables, batch)
    elif kind == "transact":
        _, parts = operation

        def transact(side: str) -> Any:
            items = []
            for t, part_kind, raw in parts:
                table = tables[t]
                verb, request = _write_request(
                    table, getattr(table, side), part_kind, raw, example, True
                )
                items.append({verb: request})
            return client.transact_write_items(TransactItems=items)

        _on_both(client, tables, transact)
    else:
        table = tables[operation[1]]
        start: dict[str, Any] | None = None
        for _ in range(40):  # pages

            def page(side: str, start: dict[str, Any] | None = start) -> Any:
                request = _query_request(table, getattr(table, side), operation, example)
                if start:
                    request["ExclusiveStartKey"] = start
                return client.query(**request)

            start = _on_both(client, tables, page).get("LastEvaluatedKey")
            if not start:
                break


@pytest.fixture
def dynamodb_client(aws: None) -> Iterator[Any]:
    yield boto3.client("dynamodb")


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_patched_moto_answers_like_released_moto(
    twins: list[TwinTable], dynamodb_client: Any, data: st.DataObject
) -> None:
    example = next(_examples)
    focus = data.draw(st.integers(0, len(twins) - 1))
    seed = data.draw(st.lists(st.tuples(st.just(True), _item(twins[focus])), min_size=12))
    operations = data.draw(st.lists(_operation(twins, focus), min_size=10, max_size=40))
    for start in range(0, len(seed), 25):
        _run(dynamodb_client, twins, ("batch", focus, seed[start : start + 25]), example)
    for operation in operations:
        _run(dynamodb_client, twins, operation, example)
