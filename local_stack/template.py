"""template.yaml as the one source of truth for the local stack.

Everything the local stack creates or serves (tables, queues, buses, topics, routes, function
environments) is read from the SAM template here, so the local stack cannot drift from what is
deployed. Resource types are handled through small data-driven tables (``RESOURCE_KINDS``) so a
new type needs one creator function and one table entry.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import graphlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TEMPLATE_PATH = REPO_ROOT / "template.yaml"

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
STACK_NAME = "journeys-local"
DEFAULT_PREFIX = STACK_NAME

PSEUDO_PARAMETERS: dict[str, Any] = {
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT_ID,
    "AWS::StackName": STACK_NAME,
    "AWS::StackId": (
        f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{STACK_NAME}/"
        "00000000-0000-0000-0000-000000000000"
    ),
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::NotificationARNs": [],
}

LocalResource = dict[str, Any]
"""What the local stack knows about a created resource: ``name``, ``arn``, ``ref`` (what
``!Ref`` returns) and ``attributes`` (what ``!GetAtt`` returns, by attribute name)."""

ClientFor = Callable[[str], Any]


# ---------------------------------------------------------------------------
# Loading: a SafeLoader that understands CloudFormation short-form tags
# ---------------------------------------------------------------------------


class CloudFormationLoader(yaml.SafeLoader):
    """SafeLoader turning ``!Ref x`` etc. into their long forms (``{"Ref": "x"}``)."""


def _construct_node(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    raise yaml.constructor.ConstructorError(None, None, f"unexpected node {node!r}")


def _construct_get_att(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
    value = _construct_node(loader, node)
    if isinstance(value, str):
        # Only the first dot separates: attribute names such as Endpoint.Address contain dots.
        value = value.split(".", 1)
    return {"Fn::GetAtt": value}


def _long_form_constructor(key: str) -> Callable[[yaml.SafeLoader, yaml.Node], dict[str, Any]]:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        return {key: _construct_node(loader, node)}

    return construct


_SHORT_TAGS = {
    "!Ref": "Ref",
    "!Condition": "Condition",
    **{
        f"!{name}": f"Fn::{name}"
        for name in (
            *("Sub", "Join", "If", "Select", "Split", "Equals", "Not", "And", "Or"),
            *("FindInMap", "ImportValue", "GetAZs", "Base64", "Cidr", "Length", "ToJsonString"),
        )
    },
}
for _tag, _key in _SHORT_TAGS.items():
    CloudFormationLoader.add_constructor(_tag, _long_form_constructor(_key))
CloudFormationLoader.add_constructor("!GetAtt", _construct_get_att)


def parse_template(text: str) -> dict[str, Any]:
    """Parse template text (short tags allowed) into plain long-form data."""
    loaded = yaml.load(text, Loader=CloudFormationLoader)  # a SafeLoader subclass: safe
    if not isinstance(loaded, dict):
        raise ValueError("a CloudFormation template must be a mapping")
    return loaded


@functools.lru_cache(maxsize=8)
def _load_template_cached(path: str, modified_ns: int) -> dict[str, Any]:
    return parse_template(Path(path).read_text(encoding="utf-8"))


def load_template(path: str | Path | None = None) -> dict[str, Any]:
    """Load the SAM template (the repo root's template.yaml by default), parsed once per
    version of the file: an edited template is read again.

    The result is shared between callers: treat it as read-only.
    """
    resolved = Path(path or DEFAULT_TEMPLATE_PATH).resolve()
    return _load_template_cached(str(resolved), resolved.stat().st_mtime_ns)


def resources_of_type(template: Mapping[str, Any], *types: str) -> dict[str, dict[str, Any]]:
    """The template's resources whose Type is one of ``types``, by logical id, leaving out
    those whose ``Condition`` is false with the parameters' defaults (CloudFormation would
    not create them either)."""
    resolver = Resolver(template)
    return {
        logical_id: resource
        for logical_id, resource in (template.get("Resources") or {}).items()
        if resource.get("Type") in types
        and ("Condition" not in resource or resolver.condition(resource["Condition"]))
    }


def _properties(resource: Mapping[str, Any]) -> dict[str, Any]:
    return dict(resource.get("Properties") or {})


# ---------------------------------------------------------------------------
# Intrinsic functions, resolved against local resources
# ---------------------------------------------------------------------------


class _NoValue:
    """What ``!Ref AWS::NoValue`` resolves to: the enclosing key or item is dropped."""


NO_VALUE = _NoValue()

# Local stand-ins for resources the local stack does not create (functions, log groups, the
# API...): their ARN format by type, "{service}" being derived from the type when absent here.
_UNMANAGED_ARN_FORMATS = {
    "AWS::Serverless::Function": "arn:aws:lambda:{region}:{account}:function:{name}",
    "AWS::Lambda::Function": "arn:aws:lambda:{region}:{account}:function:{name}",
    "AWS::Logs::LogGroup": "arn:aws:logs:{region}:{account}:log-group:{name}",
    "AWS::Serverless::StateMachine": "arn:aws:states:{region}:{account}:stateMachine:{name}",
    "AWS::StepFunctions::StateMachine": "arn:aws:states:{region}:{account}:stateMachine:{name}",
}
_UNMANAGED_NAME_PROPERTIES = {
    "AWS::Serverless::Function": "FunctionName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::Serverless::LayerVersion": "LayerName",
    "AWS::Serverless::StateMachine": "Name",
}
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


class Resolver:
    """Evaluates intrinsic functions with parameter defaults and the local resources."""

    def __init__(
        self, template: Mapping[str, Any], resources: Mapping[str, LocalResource] | None = None
    ):
        self.template = template
        self.resources = resources if resources is not None else {}
        self._intrinsics: dict[str, Callable[[Any], Any]] = {
            "Ref": self._ref,
            "Fn::GetAtt": self._get_att,
            "Fn::Sub": self._sub,
            "Fn::Join": self._join,
            "Fn::Select": self._select,
            "Fn::Split": self._split,
            "Fn::If": self._if,
            "Fn::Equals": self._equals,
            "Fn::Not": lambda args: not self._truth(args[0]),
            "Fn::And": lambda args: all(self._truth(arg) for arg in args),
            "Fn::Or": lambda args: any(self._truth(arg) for arg in args),
            "Condition": self.condition,
            "Fn::FindInMap": self._find_in_map,
            "Fn::ImportValue": self._import_value,
            "Fn::GetAZs": lambda _region: [f"{REGION}{zone}" for zone in "abc"],
            "Fn::Base64": lambda value: base64.b64encode(
                str(self.resolve(value)).encode()
            ).decode(),
            "Fn::Length": lambda value: len(self.resolve(value)),
            "Fn::ToJsonString": lambda value: json.dumps(self.resolve(value)),
        }

    def resolve(self, value: Any) -> Any:
        """Resolve every intrinsic inside ``value``; ``AWS::NoValue`` entries disappear."""
        if isinstance(value, list):
            items = (self.resolve(item) for item in value)
            return [item for item in items if item is not NO_VALUE]
        if isinstance(value, dict):
            if len(value) == 1:
                key, argument = next(iter(value.items()))
                intrinsic = self._intrinsics.get(key)
                if intrinsic is not None:
                    return intrinsic(argument)
            resolved = {key: self.resolve(item) for key, item in value.items()}
            return {key: item for key, item in resolved.items() if item is not NO_VALUE}
        return value

    def resolve_string(self, value: Any) -> str:
        return as_string(self.resolve(value))

    # -- Ref / GetAtt --------------------------------------------------------

    def parameter(self, name: str) -> Any:
        parameter = (self.template.get("Parameters") or {}).get(name)
        if parameter is None:
            raise KeyError(f"unknown parameter {name!r}")
        if "Default" not in parameter:
            raise KeyError(f"parameter {name!r} has no Default to run locally with")
        default = parameter["Default"]
        if str(parameter.get("Type", "")).startswith(("CommaDelimitedList", "List<")):
            return [item.strip() for item in str(default).split(",")]
        return as_string(default)

    def _ref(self, name: Any) -> Any:
        name = self.resolve(name)
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in PSEUDO_PARAMETERS:
            return PSEUDO_PARAMETERS[name]
        if name in (self.template.get("Parameters") or {}):
            return self.parameter(name)
        if name in self.resources:
            return self.resources[name]["ref"]
        return self._unmanaged_name(name)

    def _get_att(self, argument: Any) -> Any:
        logical_id, attribute = (self.resolve(part) for part in argument)
        local = self.resources.get(logical_id)
        if local is not None and attribute in local["attributes"]:
            return local["attributes"][attribute]
        if local is None and attribute in ("Arn", "Name"):
            name = self._unmanaged_name(logical_id)
            return name if attribute == "Name" else self._unmanaged_arn(logical_id, name)
        raise KeyError(f"cannot resolve !GetAtt {logical_id}.{attribute} locally")

    def _resource(self, logical_id: str) -> dict[str, Any]:
        resource = (self.template.get("Resources") or {}).get(logical_id)
        if resource is None:
            raise KeyError(f"unknown resource or parameter {logical_id!r}")
        return dict(resource)

    def _unmanaged_name(self, logical_id: str) -> str:
        resource = self._resource(logical_id)
        name_property = _UNMANAGED_NAME_PROPERTIES.get(resource.get("Type", ""))
        explicit_name = _properties(resource).get(name_property or "")
        if explicit_name is not None:
            return self.resolve_string(explicit_name)
        return f"{STACK_NAME}-{logical_id}"

    def _unmanaged_arn(self, logical_id: str, name: str) -> str:
        resource_type = self._resource(logical_id).get("Type", "")
        service = resource_type.split("::")[1].lower() if "::" in resource_type else "local"
        arn_format = _UNMANAGED_ARN_FORMATS.get(
            resource_type, "arn:aws:{service}:{region}:{account}:{name}"
        )
        return arn_format.format(service=service, region=REGION, account=ACCOUNT_ID, name=name)

    # -- string functions ------------------------------------------------------

    def _sub(self, argument: Any) -> str:
        if isinstance(argument, list):
            text, variables = argument[0], self.resolve(argument[1])
        else:
            text, variables = argument, {}

        def substitute(match: re.Match[str]) -> str:
            expression = match.group(1)
            if expression.startswith("!"):  # ${!Literal} is how Sub escapes a literal ${...}
                return "${" + expression[1:] + "}"
            if expression in variables:
                return as_string(variables[expression])
            if "." in expression and expression not in PSEUDO_PARAMETERS:
                return as_string(self._get_att(expression.split(".", 1)))
            return as_string(self._ref(expression))

        return _SUB_VARIABLE.sub(substitute, str(text))

    def _join(self, argument: Any) -> str:
        delimiter, items = argument
        return str(delimiter).join(as_string(item) for item in self.resolve(items))

    def _select(self, argument: Any) -> Any:
        index, items = argument
        return self.resolve(items)[int(self.resolve(index))]

    def _split(self, argument: Any) -> list[str]:
        delimiter, text = argument
        return self.resolve_string(text).split(str(delimiter))

    def _find_in_map(self, argument: Any) -> Any:
        map_name, top_key, second_key, *default = (self.resolve(part) for part in argument)
        try:
            return self.template["Mappings"][map_name][top_key][second_key]
        except KeyError:
            if default and isinstance(default[0], dict) and "DefaultValue" in default[0]:
                return default[0]["DefaultValue"]
            raise

    def _import_value(self, argument: Any) -> str:
        # Exports of other stacks do not exist locally; the export's name is the best stand-in.
        return self.resolve_string(argument)

    # -- conditions ------------------------------------------------------------

    def condition(self, name: str) -> bool:
        expression = (self.template.get("Conditions") or {}).get(name)
        if expression is None:
            raise KeyError(f"unknown condition {name!r}")
        return self._truth(expression)

    def _truth(self, expression: Any) -> bool:
        value = self.resolve(expression)
        if isinstance(value, str):
            return value.lower() == "true"
        return bool(value)

    def _if(self, argument: Any) -> Any:
        condition_name, when_true, when_false = argument
        return self.resolve(when_true if self.condition(condition_name) else when_false)

    def _equals(self, argument: Any) -> bool:
        left, right = (as_string(self.resolve(side)) for side in argument)
        return left == right


def as_string(value: Any) -> str:
    """The string CloudFormation would make of a scalar (booleans lower-case)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def _referenced_ids(value: Any) -> set[str]:
    """Logical ids that ``value`` refers to through Ref, GetAtt or Sub."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= _referenced_ids(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                found.add(item)
            elif key == "Fn::GetAtt" and isinstance(item, list) and item:
                found.add(str(item[0]))
            elif key == "Fn::Sub":
                text = item[0] if isinstance(item, list) else item
                found |= {
                    expression.split(".", 1)[0]
                    for expression in _SUB_VARIABLE.findall(str(text))
                    if not expression.startswith("!")
                }
            found |= _referenced_ids(item)
    return found


# ---------------------------------------------------------------------------
# DynamoDB table definitions
# ---------------------------------------------------------------------------

_TABLE_PASSTHROUGH = (
    "AttributeDefinitions",
    "KeySchema",
    "BillingMode",
    "ProvisionedThroughput",
    "OnDemandThroughput",
    "TableClass",
    "Tags",
)
_GSI_KEYS = ("IndexName", "KeySchema", "Projection", "ProvisionedThroughput", "OnDemandThroughput")
_LSI_KEYS = ("IndexName", "KeySchema", "Projection")


def _pick(mapping: Mapping[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    return {key: mapping[key] for key in keys if key in mapping}


def create_table_kwargs(properties: Mapping[str, Any]) -> dict[str, Any]:
    """boto3 ``create_table`` kwargs (without TableName) from resolved AWS::DynamoDB::Table props.

    CloudFormation-only settings (point-in-time recovery, deletion protection, TTL, Kinesis,
    contributor insights) are dropped: TTL is applied after creation, the rest has no local use.
    """
    kwargs = _pick(properties, _TABLE_PASSTHROUGH)
    if "GlobalSecondaryIndexes" in properties:
        kwargs["GlobalSecondaryIndexes"] = [
            _pick(index, _GSI_KEYS) for index in properties["GlobalSecondaryIndexes"]
        ]
    if "LocalSecondaryIndexes" in properties:
        kwargs["LocalSecondaryIndexes"] = [
            _pick(index, _LSI_KEYS) for index in properties["LocalSecondaryIndexes"]
        ]
    stream = properties.get("StreamSpecification")
    if stream and stream.get("StreamViewType"):
        # CloudFormation implies StreamEnabled from the view type; the API wants it explicit.
        kwargs["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": stream["StreamViewType"],
        }
    sse = properties.get("SSESpecification")
    if sse is not None:
        kwargs["SSESpecification"] = {"Enabled": _truthy(sse.get("SSEEnabled", False))}
    return kwargs


def _simple_table_properties(properties: Mapping[str, Any]) -> dict[str, Any]:
    """AWS::Serverless::SimpleTable expanded into AWS::DynamoDB::Table properties."""
    primary_key = properties.get("PrimaryKey") or {"Name": "id", "Type": "String"}
    attribute_type = {"String": "S", "Number": "N", "Binary": "B"}[primary_key["Type"]]
    expanded: dict[str, Any] = {
        "AttributeDefinitions": [
            {"AttributeName": primary_key["Name"], "AttributeType": attribute_type}
        ],
        "KeySchema": [{"AttributeName": primary_key["Name"], "KeyType": "HASH"}],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if properties.get("ProvisionedThroughput"):
        expanded["BillingMode"] = "PROVISIONED"
        expanded["ProvisionedThroughput"] = properties["ProvisionedThroughput"]
    if properties.get("SSESpecification"):
        expanded["SSESpecification"] = properties["SSESpecification"]
    return expanded


def _table_properties(resource: Mapping[str, Any], resolver: Resolver) -> dict[str, Any]:
    properties = resolver.resolve(_properties(resource))
    if resource.get("Type") == "AWS::Serverless::SimpleTable":
        return _simple_table_properties(properties)
    return dict(properties)


TABLE_TYPES = ("AWS::DynamoDB::Table", "AWS::Serverless::SimpleTable")


def dynamodb_table_definitions(template: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``create_table`` kwargs (no TableName) for every table of the template, by logical id."""
    resolver = Resolver(template)
    return {
        logical_id: create_table_kwargs(_table_properties(resource, resolver))
        for logical_id, resource in resources_of_type(template, *TABLE_TYPES).items()
    }


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


# ---------------------------------------------------------------------------
# Creating resources (data-driven: one creator per resource type)
# ---------------------------------------------------------------------------


def _local_resource(name: str, arn: str, ref: str, **attributes: Any) -> LocalResource:
    return {
        "name": name,
        "arn": arn,
        "ref": ref,
        "attributes": {"Arn": arn, "Name": name, **attributes},
    }


def _create_dynamodb_table(
    client_for: ClientFor, name: str, resource: Mapping[str, Any], resolver: Resolver
) -> LocalResource:
    dynamodb = client_for("dynamodb")
    properties = _table_properties(resource, resolver)
    try:
        dynamodb.create_table(TableName=name, **create_table_kwargs(properties))
    except dynamodb.exceptions.ResourceInUseException:
        pass  # created earlier by another process sharing this moto: attach to it
    else:
        _apply_time_to_live(dynamodb, name, properties.get("TimeToLiveSpecification"))
    table = dynamodb.describe_table(TableName=name)["Table"]
    attributes = {"StreamArn": table["LatestStreamArn"]} if "LatestStreamArn" in table else {}
    return _local_resource(name, table["TableArn"], ref=name, **attributes)


def _apply_time_to_live(dynamodb: Any, name: str, specification: Any) -> None:
    if specification and _truthy(specification.get("Enabled")):
        dynamodb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={
                "AttributeName": specification["AttributeName"],
                "Enabled": True,
            },
        )


# CloudFormation queue properties that map one-to-one onto SQS queue attributes.
_QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
    "RedrivePolicy",
    "RedriveAllowPolicy",
)


def _create_sqs_queue(
    client_for: ClientFor, name: str, resource: Mapping[str, Any], resolver: Resolver
) -> LocalResource:
    sqs = client_for("sqs")
    properties = resolver.resolve(_properties(resource))
    attributes = {key: as_string(properties[key]) for key in _QUEUE_ATTRIBUTES if key in properties}
    if _truthy(properties.get("FifoQueue")):
        name += ".fifo"  # SQS requires the suffix on FIFO queue names
    try:
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    except sqs.exceptions.QueueNameExists:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return _local_resource(name, arn, ref=url, QueueName=name, QueueUrl=url)


def _create_event_bus(
    client_for: ClientFor, name: str, resource: Mapping[str, Any], resolver: Resolver
) -> LocalResource:
    events = client_for("events")
    try:
        arn = events.create_event_bus(Name=name)["EventBusArn"]
    except events.exceptions.ResourceAlreadyExistsException:
        arn = events.describe_event_bus(Name=name)["Arn"]
    return _local_resource(name, arn, ref=name)


# Target services moto's EventBridge delivers to itself. Lambda targets are left out: moto
# raises on them at PutEvents time (failing the publisher's call); local_stack.event_sources
# gives each function target a queue of its own and invokes the function from it.
MOTO_DELIVERED_TARGET_SERVICES = ("sqs", "logs", "events")


def target_service(arn: str) -> str:
    """The service of a target ARN (``arn:aws:sqs:...`` -> ``sqs``)."""
    parts = arn.split(":", 3)
    return parts[2] if len(parts) > 2 else ""


def _create_events_rule(
    client_for: ClientFor, name: str, resource: Mapping[str, Any], resolver: Resolver
) -> LocalResource:
    events = client_for("events")
    properties = resolver.resolve(_properties(resource))
    rule_name = str(properties.get("Name") or name)
    bus = str(properties.get("EventBusName") or "default")
    rule: dict[str, Any] = {"Name": rule_name, "EventBusName": bus}
    for key in ("EventPattern", "ScheduleExpression"):
        if key in properties:
            value = properties[key]
            rule[key] = value if isinstance(value, str) else json.dumps(value)
    for key in ("State", "Description", "RoleArn"):
        if key in properties:
            rule[key] = as_string(properties[key])
    arn = events.put_rule(**rule)["RuleArn"]  # PutRule creates or updates: idempotent
    targets = [
        dict(target)
        for target in properties.get("Targets") or []
        if target_service(str(target.get("Arn", ""))) in MOTO_DELIVERED_TARGET_SERVICES
    ]
    if targets:
        events.put_targets(Rule=rule_name, EventBusName=bus, Targets=targets)
    return _local_resource(rule_name, arn, ref=rule_name, EventBusName=bus)


def _create_sns_topic(
    client_for: ClientFor, name: str, resource: Mapping[str, Any], resolver: Resolver
) -> LocalResource:
    sns = client_for("sns")
    properties = resolver.resolve(_properties(resource))
    attributes = {
        key: as_string(properties[key])
        for key in ("FifoTopic", "ContentBasedDeduplication")
        if key in properties
    }
    if _truthy(properties.get("FifoTopic")):
        name += ".fifo"
    # CreateTopic is idempotent for an existing name with the same attributes.
    arn = sns.create_topic(Name=name, Attributes=attributes)["TopicArn"]
    return _local_resource(name, arn, ref=arn, TopicArn=arn, TopicName=name)


def _create_s3_bucket(
    client_for: ClientFor, name: str, resource: Mapping[str, Any], resolver: Resolver
) -> LocalResource:
    s3 = client_for("s3")
    name = name.lower()  # bucket names must be lower-case
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=name)
    return _local_resource(
        name, f"arn:aws:s3:::{name}", ref=name, DomainName=f"{name}.s3.amazonaws.com"
    )


ResourceCreator = Callable[[ClientFor, str, Mapping[str, Any], Resolver], LocalResource]

RESOURCE_KINDS: dict[str, ResourceCreator] = {
    "AWS::DynamoDB::Table": _create_dynamodb_table,
    "AWS::Serverless::SimpleTable": _create_dynamodb_table,
    "AWS::SQS::Queue": _create_sqs_queue,
    "AWS::Events::EventBus": _create_event_bus,
    "AWS::Events::Rule": _create_events_rule,
    "AWS::SNS::Topic": _create_sns_topic,
    "AWS::S3::Bucket": _create_s3_bucket,
}
"""Resource types the local stack creates in moto, with the function creating one."""


def _client_factory(session_or_clients: Any) -> ClientFor:
    """Accept a boto3 Session (or the boto3 module), or a mapping of service name to client."""
    if isinstance(session_or_clients, Mapping):
        return lambda service: session_or_clients[service]
    if session_or_clients is None:
        import boto3

        session_or_clients = boto3.session.Session()
    cache: dict[str, Any] = {}

    def client_for(service: str) -> Any:
        if service not in cache:
            cache[service] = session_or_clients.client(service)
        return cache[service]

    return client_for


def _creation_order(template: Mapping[str, Any]) -> list[str]:
    """Managed resources ordered so that referenced ones (e.g. a dead-letter queue) come first."""
    managed = resources_of_type(template, *RESOURCE_KINDS)
    graph = {
        logical_id: _referenced_ids(resource.get("Properties") or {}) & managed.keys()
        for logical_id, resource in managed.items()
    }
    return list(graphlib.TopologicalSorter(graph).static_order())


def create_resources(
    session_or_clients: Any = None,
    prefix: str = DEFAULT_PREFIX,
    template: Mapping[str, Any] | None = None,
) -> dict[str, LocalResource]:
    """Create every supported resource of the template (named ``f"{prefix}-{logical_id}"``).

    Idempotent: a resource that already exists (another process attached to the same moto) is
    looked up instead. Returns ``{logical_id: {"name", "arn", "ref", "attributes"}}``.
    """
    template = template if template is not None else load_template()
    client_for = _client_factory(session_or_clients)
    created: dict[str, LocalResource] = {}
    resolver = Resolver(template, created)
    resources = template.get("Resources") or {}
    for logical_id in _creation_order(template):
        resource = resources[logical_id]
        creator = RESOURCE_KINDS[resource["Type"]]
        created[logical_id] = creator(client_for, f"{prefix}-{logical_id}", resource, resolver)
    return created


# ---------------------------------------------------------------------------
# Functions, their environment and their HTTP routes
# ---------------------------------------------------------------------------

FUNCTION_TYPE = "AWS::Serverless::Function"


@dataclass(frozen=True)
class FunctionInfo:
    logical_id: str
    function_dir: str
    handler: str
    events: dict[str, Any]
    code_uri: str = ""
    function_name: str = ""
    memory_size: int = 128
    timeout: int = 3

    @property
    def code_path(self) -> Path:
        return REPO_ROOT / self.code_uri


def _function_globals(template: Mapping[str, Any]) -> dict[str, Any]:
    return dict(((template.get("Globals") or {}).get("Function")) or {})


def _function_info(
    template: Mapping[str, Any], logical_id: str, resource: Mapping[str, Any]
) -> FunctionInfo | None:
    properties = {**_function_globals(template), **_properties(resource)}
    code_uri = properties.get("CodeUri")
    if not isinstance(code_uri, str) or not properties.get("Handler"):
        return None  # inline code, container images or S3 locations are not run locally
    resolver = Resolver(template)
    name = properties.get("FunctionName")
    return FunctionInfo(
        logical_id=logical_id,
        function_dir=Path(code_uri).name,
        handler=str(properties["Handler"]),
        events=dict(properties.get("Events") or {}),
        code_uri=code_uri,
        function_name=resolver.resolve_string(name) if name else f"{STACK_NAME}-{logical_id}",
        memory_size=int(resolver.resolve(properties.get("MemorySize", 128))),
        timeout=int(resolver.resolve(properties.get("Timeout", 3))),
    )


def functions(template: Mapping[str, Any]) -> dict[str, FunctionInfo]:
    """Every locally runnable function of the template, by logical id."""
    found = {
        logical_id: _function_info(template, logical_id, resource)
        for logical_id, resource in resources_of_type(template, FUNCTION_TYPE).items()
    }
    return {logical_id: info for logical_id, info in found.items() if info is not None}


def find_function(template: Mapping[str, Any], name: str) -> FunctionInfo:
    """A function by logical id (``JourneysFunction``) or folder name (``journeys``)."""
    candidates = functions(template)
    for matches in (
        lambda info: name in (info.logical_id, info.function_dir),
        lambda info: name.lower() in (info.logical_id.lower(), info.function_dir.lower()),
    ):
        for info in candidates.values():
            if matches(info):
                return info
    known = ", ".join(f"{info.logical_id} ({info.function_dir})" for info in candidates.values())
    raise KeyError(f"no function {name!r} in the template; known: {known}")


def _environment_variables(properties: Mapping[str, Any]) -> dict[str, Any]:
    return dict(((properties.get("Environment") or {}).get("Variables")) or {})


def function_environment(
    template: Mapping[str, Any], logical_id: str, resources: Mapping[str, LocalResource]
) -> dict[str, str]:
    """The function's environment variables (Globals first), resolved to local values."""
    resource = (template.get("Resources") or {})[logical_id]
    variables = {
        **_environment_variables(_function_globals(template)),
        **_environment_variables(_properties(resource)),
    }
    resolved = Resolver(template, resources).resolve(variables)
    return {key: as_string(value) for key, value in resolved.items()}


@dataclass(frozen=True)
class Route:
    method: str  # upper-case HTTP method, or ANY
    path: str  # e.g. /api/v1/journeys/{name_or_id}; "$default" for the catch-all route
    function_logical_id: str
    function_dir: str
    route_key: str  # e.g. "GET /api/v1/journeys/{name_or_id}", or "$default"
    auth: bool
    authorization_scopes: tuple[str, ...] = ()


def _api_auth(template: Mapping[str, Any], api_id: Any) -> dict[str, Any]:
    """The Auth settings of the HttpApi an event belongs to (Globals.HttpApi underneath)."""
    global_auth = dict((((template.get("Globals") or {}).get("HttpApi")) or {}).get("Auth") or {})
    if isinstance(api_id, dict) and "Ref" in api_id:
        api = (template.get("Resources") or {}).get(api_id["Ref"]) or {}
        return {**global_auth, **(_properties(api).get("Auth") or {})}
    return global_auth


def _route_for_event(
    template: Mapping[str, Any], info: FunctionInfo, event: Mapping[str, Any]
) -> Route:
    properties = dict(event.get("Properties") or {})
    event_auth = dict(properties.get("Auth") or {})
    authorizer = event_auth.get("Authorizer") or _api_auth(template, properties.get("ApiId")).get(
        "DefaultAuthorizer"
    )
    path, method = properties.get("Path"), properties.get("Method")
    if path is None and method is None:
        method, path, route_key = "ANY", "$default", "$default"
    else:
        method = str(method or "ANY").upper()
        method = "ANY" if method in ("ANY", "X-AMAZON-APIGATEWAY-ANY-METHOD") else method
        route_key = f"{method} {path}"
    return Route(
        method=method,
        path=str(path),
        function_logical_id=info.logical_id,
        function_dir=info.function_dir,
        route_key=route_key,
        auth=bool(authorizer) and authorizer != "NONE",
        authorization_scopes=tuple(event_auth.get("AuthorizationScopes") or ()),
    )


def http_routes(template: Mapping[str, Any]) -> list[Route]:
    """Every HttpApi event of every function, as a route."""
    return [
        _route_for_event(template, info, event)
        for info in functions(template).values()
        for event in info.events.values()
        if event.get("Type") == "HttpApi"
    ]


@dataclass(frozen=True)
class JwtSettings:
    issuer: str | None
    audiences: tuple[str, ...]


def jwt_settings(template: Mapping[str, Any]) -> JwtSettings:
    """Issuer and audiences of the HTTP API's JWT authorizer, resolved to parameter defaults."""
    resolver = Resolver(template)
    apis = resources_of_type(template, "AWS::Serverless::HttpApi")
    for api_id in [None, *({"Ref": logical_id} for logical_id in apis)]:
        for authorizer in (_api_auth(template, api_id).get("Authorizers") or {}).values():
            configuration = authorizer.get("JwtConfiguration")
            if configuration:
                audience = resolver.resolve(configuration.get("audience") or [])
                return JwtSettings(
                    issuer=resolver.resolve_string(configuration["issuer"])
                    if "issuer" in configuration
                    else None,
                    audiences=tuple(audience if isinstance(audience, list) else [audience]),
                )
    parameters = template.get("Parameters") or {}
    return JwtSettings(
        issuer=resolver.parameter("JwtIssuer") if "JwtIssuer" in parameters else None,
        audiences=(resolver.parameter("JwtAudience"),) if "JwtAudience" in parameters else (),
    )
