"""`make openapi`: one OpenAPI document for the whole HTTP API, generated from the
resolvers of every function that serves routes in template.yaml."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler.openapi.models import Tag

from local_stack.lambdas import load_handler
from local_stack.template import REPO_ROOT, Route, functions, http_routes, load_template

if TYPE_CHECKING:
    from journeys_core.http import ErrorResponse

TITLE = "Journeys API"
VERSION = "1.0.0"
REF = "#/components/schemas/"
# Swagger UI groups operations by tag, in this order; every route names one of these.
TAGS: dict[str, str] = {
    "Journeys": "Journey definitions: versioned, tagged, searchable; built-ins to import",
    "Executions": "Recorded executions of a journey, and the timelines that record them",
    "Migrations": "Bringing enrolled patients onto a newer version of their journey",
    "Simulation": "Rehearsing a version or a draft on synthetic patients; writes nothing",
    "Patients": "Profiles, enrollments, checked stage moves and the append-only journey log",
    "Automation rules": "The organization's rules: a trigger, conditions and actions (admin)",
    "Events": "Domain events for the automation engine (integrations only)",
    "Admin": "Running the stale-journey monitor on demand (admin)",
    "Analytics": "A journey's funnel: entries, conversions and time in stage",
    "Dashboard": "The staff dashboard's public files (no token; they hold no data)",
}


def build_document() -> dict[str, Any]:
    template = load_template()
    serving = {route.function_logical_id for route in http_routes(template)}
    document: dict[str, Any] = {}
    for logical_id in sorted(serving):
        handler = load_handler(functions(template)[logical_id])
        app = sys.modules[handler.__module__].app
        schema = json.loads(
            app.get_openapi_json_schema(
                title=TITLE,
                version=VERSION,
                description="Journey definitions, executions, timelines and patient journeys.",
                security_schemes={
                    "jwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
                },
                security=[{"jwt": []}],
                tags=[Tag(name=name, description=text) for name, text in TAGS.items()],
            )
        )
        if not document:
            document = schema
            continue
        document["paths"].update(schema.get("paths", {}))
        components = document.setdefault("components", {})
        for kind, entries in schema.get("components", {}).items():
            components.setdefault(kind, {}).update(entries)
    document["paths"] = dict(sorted(document.get("paths", {}).items()))
    _describe_answers(document, {route.route_key: route for route in http_routes(template)})
    return document


def _describe_answers(document: dict[str, Any], routes: Mapping[str, Route]) -> None:
    """Every operation documents the error answers the service gives (journeys_core.http),
    with our error body instead of Powertools' default 422 schema (whose ``msg`` we never
    send); routes without the JWT authorizer (template.yaml) need no token and never answer
    401 or 403; a 204 has no body."""
    from journeys_core.http import ERROR_RESPONSES

    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for answer in ERROR_RESPONSES.values():
        for model in answer.bodies:
            schemas[model.__name__] = model.model_json_schema(ref_template=REF + "{model}")
    # Powertools' default validation bodies: we never send them (ResponseValidationError
    # would refer to the ValidationError removed here).
    for unused in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        schemas.pop(unused, None)
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            authenticated = routes[f"{method.upper()} {path}"].auth
            if not authenticated:
                operation["security"] = []  # public: overrides the document's default
            responses = operation.setdefault("responses", {})
            if "204" in responses:
                responses["204"].pop("content", None)
            for status, answer in ERROR_RESPONSES.items():
                if answer.authenticated_only and not authenticated:
                    responses.pop(str(status), None)
                    continue
                responses[str(status)] = _error_response(answer)
            operation["responses"] = dict(sorted(responses.items()))


def _error_response(answer: ErrorResponse) -> dict[str, Any]:
    refs = [{"$ref": REF + model.__name__} for model in answer.bodies]
    described: dict[str, Any] = {
        "description": answer.description,
        "content": {"application/json": {"schema": refs[0] if len(refs) == 1 else {"anyOf": refs}}},
    }
    if answer.headers:
        described["headers"] = {
            name: {"required": True, "schema": {"type": "string"}} for name in answer.headers
        }
    return described


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", default=str(REPO_ROOT / "docs" / "openapi.json"))
    args = parser.parse_args(argv)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(build_document(), indent=2, sort_keys=False) + "\n")
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
