"""The Python client (client/) against docs/openapi.json, so neither can drift from the other:
every operation of the API has a client method (marked ``@operation("<operationId>")``), every
paged list has an iterator, each method answers the model of its operation's answer, and each
model has its schema's fields, with matching types and no more required than the schema
requires. A route added to the service fails here until the client calls it."""

from __future__ import annotations

import inspect
import json
import types
import typing
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import pytest
from journeys_client import JourneysClient, models
from journeys_client.client import API_GROUPS
from journeys_client.operations import operation_of

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = json.loads((ROOT / "docs" / "openapi.json").read_text(encoding="utf-8"))
SCHEMAS: dict[str, Any] = DOCUMENT["components"]["schemas"]
OPERATIONS: dict[str, dict[str, Any]] = {
    operation["operationId"]: operation
    for operations in DOCUMENT["paths"].values()
    for operation in operations.values()
}
MODELS = sorted(
    (
        model
        for model in vars(models).values()
        if inspect.isclass(model)
        and issubclass(model, models._Record)
        and model is not models._Record
    ),
    key=lambda model: model.__name__,
)
METHODS = [
    (group, name, member)
    for group in API_GROUPS
    for name, member in inspect.getmembers(group, callable)
    if operation_of(member)
]


def _successes(operation: dict[str, Any]) -> list[dict[str, Any]]:
    return [answer for status, answer in operation["responses"].items() if status.startswith("2")]


def _json_schemas(operation: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        answer["content"]["application/json"]["schema"]
        for answer in _successes(operation)
        if "application/json" in answer.get("content", {})
    ]


def _for_a_browser(operation: dict[str, Any]) -> bool:
    """A file for a browser (the dashboard's page, scripts, styles): its answers have bodies,
    none of them JSON (a 204 has none at all, and is an API call)."""
    bodies = [answer["content"] for answer in _successes(operation) if answer.get("content")]
    return bool(bodies) and all("application/json" not in content for content in bodies)


def _name(schema: dict[str, Any]) -> str | None:
    ref = schema.get("$ref")
    return ref.rsplit("/", 1)[-1] if ref else None


def _answer_schemas(operation: dict[str, Any]) -> list[str]:
    """The names of the schemas an operation answers with (each branch of an ``anyOf``)."""
    return [
        name
        for schema in _json_schemas(operation)
        for branch in schema.get("anyOf", [schema])
        if (name := _name(branch)) is not None
    ]


def _answer_models(operation: dict[str, Any]) -> set[str]:
    """The schemas an operation answers with; for a list (``{items, next_cursor?}``) the
    schema of its items, which is what the client hands out."""
    found = set()
    for name in _answer_schemas(operation):
        properties = SCHEMAS[name].get("properties", {})
        if set(properties) <= {"items", "next_cursor"} and "items" in properties:
            name = _name(properties["items"]["items"]) or name
        found.add(name)
    return found


API_OPERATIONS = sorted(key for key, op in OPERATIONS.items() if not _for_a_browser(op))
PAGED = sorted(
    key
    for key in API_OPERATIONS
    if any(
        "next_cursor" in SCHEMAS[name].get("properties", {})
        for name in _answer_schemas(OPERATIONS[key])
    )
)


# -- operations ------------------------------------------------------------------------------


def test_the_client_calls_every_operation_of_the_api_and_no_other() -> None:
    covered = JourneysClient.operations()
    assert sorted(set(API_OPERATIONS) - set(covered)) == [], "operations without a client method"
    assert sorted(set(covered) - set(API_OPERATIONS)) == [], "client methods for no operation"
    # What is left out are the dashboard's files, for browsers.
    assert sorted(set(OPERATIONS) - set(API_OPERATIONS)) == [
        "getDashboardAsset",
        "getDashboardPage",
    ]


@pytest.mark.parametrize("operation_id", PAGED)
def test_every_paged_list_has_an_iterator(operation_id: str) -> None:
    iterators = [
        f"{group.__name__}.{name}"
        for group, name, method in METHODS
        if operation_of(method) == operation_id
        and get_origin(typing.get_type_hints(method)["return"]) is Iterator
        and name.startswith("iter_")
    ]
    assert iterators, f"{operation_id} pages: the client needs an iter_… method for it"


def test_the_paged_lists_are_the_ones_we_know() -> None:
    # If this changes, the parametrized test above covers the new one: only the list moves.
    assert {"listJourneys", "getJourneyHistory", "listPatientsInStage", "listRules"} <= set(PAGED)


def _models_in(annotation: Any) -> set[str]:
    if inspect.isclass(annotation) and issubclass(annotation, models._Record):
        return {annotation.openapi_schema}
    return {name for arg in get_args(annotation) for name in _models_in(arg)}


@pytest.mark.parametrize(
    ("group", "name", "method"), METHODS, ids=[f"{g.__name__}.{n}" for g, n, _ in METHODS]
)
def test_each_method_answers_the_model_of_its_operation(
    group: type, name: str, method: Any
) -> None:
    answered = _models_in(typing.get_type_hints(method)["return"])
    expected = _answer_models(OPERATIONS[operation_of(method) or ""])
    # Guide-shaped answers (an id, True/False, a count) carry no model: nothing to compare.
    # An operation that answers one of several shapes (``anyOf``: a stage's patients or a
    # search's) may have one method per shape.
    if answered:
        assert answered == expected or answered < expected, f"{group.__name__}.{name}"


# -- models ----------------------------------------------------------------------------------


def _nullable(schema: dict[str, Any]) -> tuple[bool, list[dict[str, Any]]]:
    branches = schema.get("anyOf", [schema])
    others = [branch for branch in branches if branch.get("type") != "null"]
    return len(others) < len(branches), others


def _mismatch(annotation: Any, schema: dict[str, Any]) -> str | None:
    """Why a client annotation does not read what the schema describes, or None."""
    if annotation is Any:
        return None
    nullable, branches = _nullable(schema)
    args = get_args(annotation)
    is_union = get_origin(annotation) in (Union, types.UnionType)
    if nullable and not (is_union and type(None) in args):
        return f"{annotation} cannot hold the null the schema allows"
    options = [arg for arg in args if arg is not type(None)] if is_union else [annotation]
    for branch in branches:
        if all(_mismatch_one(option, branch) for option in options):
            return f"{annotation} cannot hold {json.dumps(branch)[:120]}"
    return None


def _mismatch_one(annotation: Any, schema: dict[str, Any]) -> str | None:
    origin, args = get_origin(annotation), get_args(annotation)
    if annotation is Any:
        return None
    if name := _name(schema):
        if inspect.isclass(annotation) and issubclass(annotation, models._Record):
            return None if annotation.openapi_schema == name else f"{annotation} is not {name}"
        return None if dict in (annotation, origin) else f"{annotation} is not an object"
    kind = schema.get("type")
    if kind is None or "oneOf" in schema:
        return None if dict in (annotation, origin) or not kind else f"{annotation}: any JSON"
    if kind == "string":
        wanted = {"date-time": datetime, "date": date}.get(schema.get("format", ""), str)
        if origin is Literal and wanted is str:
            return None if all(isinstance(arg, str) for arg in args) else "not strings"
        return None if annotation is wanted else f"{annotation} is not {wanted}"
    if kind in ("integer", "number", "boolean"):
        wanted = {"integer": int, "number": float, "boolean": bool}[kind]
        return None if annotation is wanted else f"{annotation} is not {wanted}"
    if kind == "array":
        return _mismatch(args[0], schema["items"]) if origin is list else f"{annotation}: list"
    if kind == "object":
        if dict not in (annotation, origin):
            return f"{annotation} is not a dict"
        values = schema.get("additionalProperties")
        return _mismatch(args[1], values) if isinstance(values, dict) and args else None
    return f"unknown schema type {kind}"


@pytest.mark.parametrize("model", MODELS, ids=[model.__name__ for model in MODELS])
def test_each_model_mirrors_its_schema(model: type[models._Record]) -> None:
    schema = SCHEMAS[model.openapi_schema]
    properties: dict[str, Any] = schema["properties"]
    fields = model.model_fields

    # The same fields: none missing, none the service never sends
    assert set(fields) == set(properties), model.__name__

    # Nothing required that the service may leave out
    required_here = {name for name, field in fields.items() if field.is_required()}
    assert required_here <= set(schema.get("required", [])), model.__name__

    # Each field's type holds what the schema allows
    hints = typing.get_type_hints(model)
    problems = {name: _mismatch(hints[name], properties[name]) for name in fields}
    assert {name: why for name, why in problems.items() if why} == {}


def test_every_answer_schema_the_client_reads_has_a_model() -> None:
    mirrored = {model.openapi_schema for model in MODELS}
    read = set().union(*(_answer_models(OPERATIONS[op]) for op in API_OPERATIONS))
    # Answers the client hands back in the guide's shape (a count) instead of a record.
    assert sorted(read - mirrored) == ["ImportResult"]


def test_the_type_check_can_fail() -> None:
    # The checker above must be able to say no, or every model would pass.
    assert _mismatch(str, {"type": "integer"})
    assert _mismatch(str, {"anyOf": [{"type": "string"}, {"type": "null"}]})
    assert _mismatch(list[str], {"type": "array", "items": {"type": "integer"}})
    assert _mismatch(datetime, {"type": "string", "format": "date"})
    assert _mismatch(models.Enrollment, {"$ref": "#/components/schemas/PatientView"})
    assert _mismatch(
        dict[str, str], {"type": "object", "additionalProperties": {"type": "integer"}}
    )
    assert _mismatch(str | None, {"type": "string"}) is None  # a tolerant reader may accept null
