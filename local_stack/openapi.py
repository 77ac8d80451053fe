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
    return document


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
