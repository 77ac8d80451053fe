"""A function's environment as template.yaml writes it, read without the local stack's code."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def declared_variables(template: Mapping[str, Any], logical_id: str) -> dict[str, Any]:
    """The variables SAM gives the function, unresolved: Globals', then its own."""
    scopes = (template["Globals"]["Function"], template["Resources"][logical_id]["Properties"])
    return {
        name: value
        for scope in scopes
        for name, value in scope.get("Environment", {}).get("Variables", {}).items()
    }
