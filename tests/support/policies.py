"""What template.yaml lets each function do, as (action, resource) pairs, and the AWS calls a
function really makes, in the same terms: resources are named by logical id
(``DefinitionsTable``, ``DefinitionsTable/index/ById``, ``JourneyLogTable/stream``), so the
policy audit (tests/unit/test_policy_audit.py) and the contract tier compare like with like.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

Grant = tuple[str, str]  # ("dynamodb:GetItem", "DefinitionsTable/index/ById")

_ARN_PREFIX = re.compile(
    r"^arn:\$\{AWS::Partition\}:([a-z0-9-]+):\$\{AWS::Region\}:\$\{AWS::AccountId\}:"
)
_SUB_ARN = re.compile(r"^\$\{(\w+)\.Arn\}(.*)$")


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(template: Mapping[str, Any], logical_id: str) -> list[dict[str, Any]]:
    """The inline policy statements of a function (SAM policy templates are not used)."""
    found: list[dict[str, Any]] = []
    for policy in template["Resources"][logical_id]["Properties"].get("Policies") or []:
        assert isinstance(policy, dict) and "Statement" in policy, (logical_id, policy)
        found += as_list(policy["Statement"])
    return found


def resource_label(value: Any) -> str:
    """A statement's resource (long-form template value) named by logical id."""
    if isinstance(value, str):
        return value
    if "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        return {"Arn": logical_id, "StreamArn": f"{logical_id}/stream"}.get(
            attribute, f"{logical_id}.{attribute}"
        )
    if "Fn::Sub" in value:
        text, variables = (
            (value["Fn::Sub"], {}) if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"]
        )
        matched = _SUB_ARN.match(text)
        if matched:
            return matched.group(1) + matched.group(2)
        text = _ARN_PREFIX.sub(lambda m: f"{m.group(1)}:", text)
        for name, expression in variables.items():
            text = text.replace("${" + name + "}", "${" + _describe(expression) + "}")
        return text
    return repr(value)


def _describe(expression: Any) -> str:
    """``!Select [1, !Split ["@", !Ref X]]`` -> ``domain of X`` (the one form the template uses)."""
    select = expression.get("Fn::Select") if isinstance(expression, dict) else None
    if select and select[0] in (1, "1") and "Fn::Split" in select[1]:
        separator, source = select[1]["Fn::Split"]
        if separator == "@" and "Ref" in source:
            return f"domain of {source['Ref']}"
    return repr(expression)


def grants(template: Mapping[str, Any], logical_id: str) -> set[Grant]:
    """Every (action, resource) a function's statements allow."""
    allowed: set[Grant] = set()
    for statement in statements(template, logical_id):
        if statement.get("Effect", "Allow") != "Allow":
            continue
        for action in as_list(statement["Action"]):
            for resource in as_list(statement["Resource"]):
                allowed.add((action, resource_label(resource)))
    return allowed


# -- the calls functions make ------------------------------------------------------------------

_TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


@dataclass
class CallRecorder:
    """Records (function, action, resource) for every call the service's boto3 clients make
    while a function runs. ``names`` maps physical resource names to logical ids."""

    names: Mapping[str, str]
    calls: set[tuple[str, str, str]] = field(default_factory=set)
    function: str | None = None

    @contextmanager
    def running(self, logical_id: str) -> Iterator[None]:
        self.function = logical_id
        try:
            yield
        finally:
            self.function = None

    def watch(self, client: Any) -> None:
        client.meta.events.register("before-parameter-build", self._record)

    def _record(self, params: Mapping[str, Any], model: Any, **_: Any) -> None:
        if self.function is None:
            return
        service = model.service_model.endpoint_prefix
        for action, resource in _accesses(service, model.name, params, self.names):
            self.calls.add((self.function, f"{service}:{action}", resource))


def _accesses(
    service: str, operation: str, params: Mapping[str, Any], names: Mapping[str, str]
) -> Iterator[tuple[str, str]]:
    def name(physical: str) -> str:
        return names.get(physical, physical)

    if service == "dynamodb":
        if operation == "TransactWriteItems":
            for item in params["TransactItems"]:
                ((kind, request),) = item.items()
                yield _TRANSACT_ACTIONS[kind], name(request["TableName"])
        elif operation in ("BatchWriteItem", "BatchGetItem"):
            for table in params["RequestItems"]:
                yield operation, name(table)
        else:
            table = name(params["TableName"])
            index = params.get("IndexName")
            yield operation, f"{table}/index/{index}" if index else table
    elif service == "events" and operation == "PutEvents":
        for entry in params["Entries"]:
            yield operation, name(entry.get("EventBusName", "default"))
    elif service == "sqs" and "QueueUrl" in params:  # .../{account}/{queue name}
        yield operation, name(params["QueueUrl"].rstrip("/").rsplit("/", 1)[-1])
    else:
        yield operation, "*"


def recording_invoker(
    recorder: CallRecorder, invoke: Callable[[Any, dict[str, Any]], Any]
) -> Callable[[Any, dict[str, Any]], Any]:
    """A gateway invoker that attributes the calls made during ``invoke`` to its function."""

    def recorded(info: Any, event: dict[str, Any]) -> Any:
        with recorder.running(info.logical_id):
            return invoke(info, event)

    return recorded
