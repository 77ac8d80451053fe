"""`make openapi`: one OpenAPI document for the whole HTTP API, generated from the
resolvers of every function that serves routes in template.yaml."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from local_stack.lambdas import load_handler
from local_stack.template import REPO_ROOT, functions, http_routes, load_template

TITLE = "Journeys API"
VERSION = "1.0.0"
REF = "#/components/schemas/"


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
    _describe_errors(document)
    return document


def _describe_errors(document: dict[str, Any]) -> None:
    """Every operation documents the error answers the service gives (journeys_core.http),
    with our error body instead of Powertools' default 422 schema (whose ``msg`` we never
    send)."""
    from journeys_core.http import ERROR_RESPONSES

    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for _, model in ERROR_RESPONSES.values():
        schemas[model.__name__] = model.model_json_schema(ref_template=REF + "{model}")
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    for operations in document["paths"].values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status, (description, model) in ERROR_RESPONSES.items():
                responses[str(status)] = {
                    "description": description,
                    "content": {"application/json": {"schema": {"$ref": REF + model.__name__}}},
                }
            operation["responses"] = dict(sorted(responses.items()))


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
