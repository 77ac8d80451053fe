"""template.yaml keeps its promises: runtime, logs, least privilege, one sample event per route."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from local_stack.template import functions, http_routes, load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template()
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]


def _statements(function: dict[str, Any]) -> list[dict[str, Any]]:
    statements = []
    for policy in function["Properties"].get("Policies", []):
        assert isinstance(policy, dict) and "Statement" in policy, "inline statements only"
        statements += policy["Statement"]
    return statements


def test_globals_pin_a_current_python_on_arm64_with_powertools_settings() -> None:
    function_globals = TEMPLATE["Globals"]["Function"]
    assert function_globals["Runtime"] in ("python3.12", "python3.13")
    assert function_globals["Architectures"] == ["arm64"]
    variables = function_globals["Environment"]["Variables"]
    assert {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"} <= set(variables)


@pytest.mark.parametrize("logical_id", sorted(functions(TEMPLATE)))
def test_every_function_logs_to_its_own_group_with_retention(logical_id: str) -> None:
    group = RESOURCES[logical_id]["Properties"]["LoggingConfig"]["LogGroup"]
    assert RESOURCES[group["Ref"]]["Properties"]["RetentionInDays"]


@pytest.mark.parametrize("logical_id", sorted(functions(TEMPLATE)))
def test_policies_name_exact_actions_on_exact_resources(logical_id: str) -> None:
    statements = _statements(RESOURCES[logical_id])
    assert statements
    for statement in statements:
        actions = statement["Action"]
        actions = actions if isinstance(actions, list) else [actions]
        assert all("*" not in action for action in actions), actions
        resources = statement["Resource"]
        resources = resources if isinstance(resources, list) else [resources]
        assert "*" not in resources
    assert not any(s.get("Effect") == "Allow" and "NotAction" in s for s in statements)


def test_every_http_route_has_a_sample_event_with_its_route_key() -> None:
    samples = {
        json.loads(path.read_text()).get("routeKey") for path in (ROOT / "events").rglob("*.json")
    }
    missing = [r.route_key for r in http_routes(TEMPLATE) if r.route_key not in samples]
    assert missing == []


def test_data_tables_keep_their_data_when_the_stack_goes() -> None:
    for logical_id, resource in RESOURCES.items():
        if resource["Type"] == "AWS::DynamoDB::Table":
            assert resource.get("DeletionPolicy") == "Retain", logical_id
            properties = resource["Properties"]
            assert properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]
