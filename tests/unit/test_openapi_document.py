"""The OpenAPI document is generated from the resolvers, matches template.yaml's routes,
describes every answer the API gives, and the committed docs/openapi.json is the current one
(`make openapi` refreshes it). tests/contract checks the answers against it by fuzzing."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from local_stack.template import http_routes, load_template
from tools.openapi import build_document

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = build_document()
ROUTES = {route.route_key: route for route in http_routes(load_template())}
OPERATIONS = {
    f"{method.upper()} {path}": operation
    for path, operations in DOCUMENT["paths"].items()
    for method, operation in operations.items()
}
AUTHENTICATED = sorted(key for key, route in ROUTES.items() if route.auth)
PUBLIC = sorted(key for key, route in ROUTES.items() if not route.auth)
ERRORS = {"400", "404", "409", "413", "415", "422", "503"}


def _schema(operation: dict[str, Any], status: str) -> dict[str, Any]:
    schema: dict[str, Any] = operation["responses"][status]["content"]["application/json"]["schema"]
    return schema


def _refs(schema: dict[str, Any]) -> set[str]:
    found = schema.get("anyOf", [schema])
    return {ref["$ref"].rsplit("/", 1)[-1] for ref in found}


def test_every_route_of_the_template_is_documented_and_nothing_else() -> None:
    assert set(OPERATIONS) == set(ROUTES)


@pytest.mark.parametrize("route_key", AUTHENTICATED)
def test_routes_behind_the_authorizer_need_the_token_and_describe_its_refusals(
    route_key: str,
) -> None:
    # Given an operation the JWT authorizer guards
    operation = OPERATIONS[route_key]

    # Then it takes the document's bearer security and documents every error answer
    assert "security" not in operation
    assert {"401", "403"} | ERRORS <= set(operation["responses"])
    assert _refs(_schema(operation, "401")) == {"GatewayErrorBody", "ErrorBody"}
    assert _refs(_schema(operation, "403")) == {"ErrorBody"}
    assert _refs(_schema(operation, "422")) == {"ValidationErrorBody"}
    assert _refs(_schema(operation, "404")) == {"ErrorBody", "GatewayErrorBody"}
    assert DOCUMENT["security"] == [{"jwt": []}]


@pytest.mark.parametrize("route_key", PUBLIC)
def test_public_routes_need_no_token_and_never_answer_401_or_403(route_key: str) -> None:
    operation = OPERATIONS[route_key]
    assert operation["security"] == []
    assert not {"401", "403"} & set(operation["responses"])
    assert set(operation["responses"]) >= ERRORS


def test_success_answers_are_the_ones_the_routes_give() -> None:
    successes = {
        key: sorted(status for status in operation["responses"] if status.startswith("2"))
        for key, operation in OPERATIONS.items()
    }
    assert successes["POST /api/v1/journeys"] == ["201"]
    assert successes["POST /api/v1/journeys/{name_or_id}/executions"] == ["201"]
    assert successes["PUT /api/v1/patients/{patient_id}"] == ["200", "201"]
    assert successes["POST /api/v1/automation-rules"] == ["201"]
    assert successes["POST /api/v1/events"] == ["202"]
    assert successes["DELETE /api/v1/journeys/{name_or_id}"] == ["204"]
    assert successes["DELETE /api/v1/automation-rules/{rule_id}"] == ["204"]
    created = OPERATIONS["POST /api/v1/automation-rules"]
    assert _refs(_schema(created, "201")) == {"AutomationRule"}
    assert _refs(_schema(OPERATIONS["POST /api/v1/events"], "202")) == {"EventAccepted"}


def test_a_204_has_no_body_and_a_503_says_when_to_retry() -> None:
    for key, operation in OPERATIONS.items():
        responses = operation["responses"]
        if "204" in responses:
            assert "content" not in responses["204"], key
        assert responses["503"]["headers"]["Retry-After"]["required"] is True, key


def test_dashboard_files_are_described_with_each_type_they_are_served_as() -> None:
    asset = OPERATIONS["GET /dashboard/{asset}"]["responses"]["200"]["content"]
    assert set(asset) == {"text/html", "text/javascript", "text/css"}
    assert set(OPERATIONS["GET /dashboard"]["responses"]["200"]["content"]) == {"text/html"}


def test_error_bodies_are_ours_not_powertools_defaults() -> None:
    schemas = DOCUMENT["components"]["schemas"]
    assert set(schemas["ErrorBody"]["required"]) == {"statusCode", "message"}
    assert schemas["GatewayErrorBody"]["required"] == ["message"]
    assert "HTTPValidationError" not in schemas  # its `msg` items are never sent


def test_the_committed_document_is_current() -> None:
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert committed == DOCUMENT, "run `make openapi` and commit docs/openapi.json"


def test_the_document_is_valid_openapi() -> None:
    # The validator Swagger UI and code generators agree with: a dangling $ref fails here.
    from openapi_spec_validator import validate

    validate(DOCUMENT)


@pytest.mark.parametrize("route_key", sorted(ROUTES))
def test_every_operation_has_a_summary_a_declared_tag_and_a_readable_id(route_key: str) -> None:
    operation = OPERATIONS[route_key]
    # Powertools' default summary is the route key itself: say what it does instead.
    assert operation["summary"] and operation["summary"] != route_key
    declared = {tag["name"] for tag in DOCUMENT["tags"]}
    assert operation["tags"] and set(operation["tags"]) <= declared
    # camelCase verb phrase (listJourneys, moveStage), not Powertools' path-derived default.
    assert re.fullmatch(r"[a-z]+(?:[A-Z][a-z]+)+", operation["operationId"])


def test_operation_ids_are_unique() -> None:
    ids = [operation["operationId"] for operation in OPERATIONS.values()]
    assert len(ids) == len(set(ids))
