"""The OpenAPI document is generated from the resolvers, matches template.yaml's routes,
and the committed docs/openapi.json is the current one (`make openapi` refreshes it)."""

from __future__ import annotations

import json
from pathlib import Path

from local_stack.openapi import build_document
from local_stack.template import http_routes, load_template

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = build_document()


def test_every_route_of_the_template_is_documented_and_nothing_else() -> None:
    documented = {
        f"{method.upper()} {path}"
        for path, operations in DOCUMENT["paths"].items()
        for method in operations
    }
    routes = {route.route_key for route in http_routes(load_template())}
    assert documented == routes


def test_every_operation_describes_its_errors_with_the_error_body() -> None:
    for path, operations in DOCUMENT["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert {"401", "403", "404", "422"} <= set(responses), (method, path)
            schema = responses["422"]["content"]["application/json"]["schema"]
            assert schema["$ref"].endswith("/ValidationErrorBody")
    error = DOCUMENT["components"]["schemas"]["ErrorBody"]
    assert set(error["required"]) == {"statusCode", "message"}


def test_the_committed_document_is_current() -> None:
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert committed == DOCUMENT, "run `make openapi` and commit docs/openapi.json"
