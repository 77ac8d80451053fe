"""template.yaml as the one source of truth for the local stack.

Everything the local stack creates or serves (tables, queues, the bus and its rule, routes,
function environments) is read from the SAM template here, so the local stack cannot drift
from what is deployed. cfn-lint parses the template; the intrinsic functions the template uses
(Ref, GetAtt, Sub, Select, Split, and If over the Conditions) are resolved against the local
resources; the resource types it declares are created in moto, one creator per type
(``RESOURCE_KINDS``).
"""

from __future__ import annotations

import functools
import gc
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TEMPLATE_PATH = REPO_ROOT / "template.yaml"

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
STACK_NAME = "journeys-local"
DEFAULT_PREFIX = STACK_NAME

PSEUDO_PARAMETERS = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT_ID, "AWS::Partition": "aws"}

LocalResource = dict[str, Any]
"""What the local stack knows about a created resource: ``name``, ``arn``, ``ref`` (what
``!Ref`` returns) and ``attributes`` (what ``!GetAtt`` returns, by attribute name)."""

ClientFor = Callable[[str], Any]


@functools.cache
def _cfn_lint_decoder() -> Callable[[str], tuple[Any, list[Any]]]:
    """cfn-lint's template decoder, imported when a template is first read: cfn-lint brings
    sympy and networkx along (about a second). Their objects are then frozen out of the cyclic
    collector's sight, or every later collection, and the interpreter's exit (another second),
    would walk them."""
    from cfnlint.decode import decode_str

    gc.freeze()
    return decode_str


def parse_template(text: str) -> dict[str, Any]:
    """Template text (short tags allowed) as plain long-form data, parsed by cfn-lint."""
    template, errors = _cfn_lint_decoder()(text)
    if errors or not isinstance(template, dict):
        raise ValueError(f"template.yaml does not parse: {errors or 'not a mapping'}")
    return template


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
    """The template's resources whose Type is one of ``types``, by logical id."""
    return {
        logical_id: resource
        for logical_id, resource in (template.get("Resources") or {}).items()
        if resource.get("Type") in types
    }


def _properties(resource: Mapping[str, Any]) -> dict[str, Any]:
    return dict(resource.get("Properties") or {})


# Intrinsic functions, resolved against local resources

_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")
# What ``!Ref AWS::NoValue`` resolves to: the enclosing key or item is dropped.
NO_VALUE = object()


class Resolver:
    """Evaluates the template's intrinsic functions with parameter defaults and the local
    resources. A resource the local stack does not create is referred to by its local name."""

    def __init__(
        self, template: Mapping[str, Any], resources: Mapping[str, LocalResource] | None = None
    ):
        self.template = template
        self.resources = resources if resources is not None else {}
        self._intrinsics: dict[str, Callable[[Any], Any]] = {
            "Ref": self._ref,
            "Fn::GetAtt": self._get_att,
            "Fn::Sub": self._sub,
            "Fn::Select": lambda args: self.resolve(args[1])[int(self.resolve(args[0]))],
            "Fn::Split": lambda args: self.resolve_string(args[1]).split(str(args[0])),
            "Fn::If": self._if,
        }
        self._conditions: dict[str, Callable[[Any], bool]] = {
            "Fn::Equals": lambda args: (
                as_string(self.resolve(args[0])) == as_string(self.resolve(args[1]))
            ),
            "Fn::Not": lambda args: not self.condition_holds(args[0]),
            "Fn::And": lambda args: all(map(self.condition_holds, args)),
            "Fn::Or": lambda args: any(map(self.condition_holds, args)),
            "Condition": lambda name: self.condition(name),
        }

    def resolve(self, value: Any) -> Any:
        """Resolve every intrinsic inside ``value``."""
        if isinstance(value, list):
            return [r for r in map(self.resolve, value) if r is not NO_VALUE]
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

    def parameter(self, name: str) -> str:
        parameter = (self.template.get("Parameters") or {}).get(name)
        if parameter is None:
            raise KeyError(f"unknown parameter {name!r}")
        if "Default" not in parameter:
            raise KeyError(f"parameter {name!r} has no Default to run locally with")
        return as_string(parameter["Default"])

    def condition(self, name: str) -> bool:
        """A condition of the template's Conditions, with the parameters' defaults."""
        conditions = self.template.get("Conditions") or {}
        if name not in conditions:
            raise KeyError(f"unknown condition {name!r}")
        return self.condition_holds(conditions[name])

    def condition_holds(self, expression: Any) -> bool:
        (key, argument), *_ = expression.items()
        return self._conditions[key](argument)

    def _if(self, argument: Any) -> Any:
        name, when_true, when_false = argument
        return self.resolve(when_true if self.condition(name) else when_false)

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
        if name in (self.template.get("Resources") or {}):
            return f"{STACK_NAME}-{name}"
        raise KeyError(f"unknown resource or parameter {name!r}")

    def _get_att(self, argument: Any) -> Any:
        logical_id, attribute = (self.resolve(part) for part in argument)
        attributes = (self.resources.get(logical_id) or {}).get("attributes") or {}
        if attribute not in attributes:
            raise KeyError(f"cannot resolve !GetAtt {logical_id}.{attribute} locally")
        return attributes[attribute]

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


def as_string(value: Any) -> str:
    """The string CloudFormation would make of a scalar (booleans lower-case)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


# DynamoDB table definitions

_TABLE_PASSTHROUGH = ("AttributeDefinitions", "KeySchema", "BillingMode")
_INDEX_KEYS = ("IndexName", "KeySchema", "Projection")
TABLE_TYPE = "AWS::DynamoDB::Table"


def _pick(mapping: Mapping[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    return {key: mapping[key] for key in keys if key in mapping}


def create_table_kwargs(properties: Mapping[str, Any]) -> dict[str, Any]:
    """boto3 ``create_table`` kwargs (without TableName) from resolved AWS::DynamoDB::Table props.

    CloudFormation-only settings (point-in-time recovery, deletion protection, TTL) are dropped:
    TTL is applied after creation, the rest has no local use.
    """
    kwargs = _pick(properties, _TABLE_PASSTHROUGH)
    if "GlobalSecondaryIndexes" in properties:
        kwargs["GlobalSecondaryIndexes"] = [
            _pick(index, _INDEX_KEYS) for index in properties["GlobalSecondaryIndexes"]
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
        kwargs["SSESpecification"] = {"Enabled": truthy(sse.get("SSEEnabled", False))}
    return kwargs


def dynamodb_table_definitions(template: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``create_table`` kwargs (no TableName) for every table of the template, by logical id."""
    resolver = Resolver(template)
    return {
        logical_id: create_table_kwargs(resolver.resolve(_properties(resource)))
        for logical_id, resource in resources_of_type(template, TABLE_TYPE).items()
    }


def truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


# Creating resources (one creator per resource type)


def _local_resource(name: str, arn: str, ref: str, **attributes: Any) -> LocalResource:
    return {
        "name": name,
        "arn": arn,
        "ref": ref,
        "attributes": {"Arn": arn, "Name": name, **attributes},
    }


def _create_dynamodb_table(
    client_for: ClientFor, name: str, properties: Mapping[str, Any]
) -> LocalResource:
    dynamodb = client_for("dynamodb")
    try:
        dynamodb.create_table(TableName=name, **create_table_kwargs(properties))
    except dynamodb.exceptions.ResourceInUseException:
        pass  # created earlier by another process sharing this moto: attach to it
    else:
        ttl = properties.get("TimeToLiveSpecification")
        if ttl and truthy(ttl.get("Enabled")):
            dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )
    table = dynamodb.describe_table(TableName=name)["Table"]
    attributes = {"StreamArn": table["LatestStreamArn"]} if "LatestStreamArn" in table else {}
    return _local_resource(name, table["TableArn"], ref=name, **attributes)


def _create_sqs_queue(
    client_for: ClientFor, name: str, properties: Mapping[str, Any]
) -> LocalResource:
    sqs = client_for("sqs")
    # The CloudFormation properties the template sets are SQS queue attributes, one to one.
    attributes = {key: as_string(value) for key, value in properties.items()}
    try:
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    except sqs.exceptions.QueueNameExists:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return _local_resource(name, arn, ref=url, QueueName=name, QueueUrl=url)


def _create_event_bus(
    client_for: ClientFor, name: str, properties: Mapping[str, Any]
) -> LocalResource:
    events = client_for("events")
    try:
        arn = events.create_event_bus(Name=name)["EventBusArn"]
    except events.exceptions.ResourceAlreadyExistsException:
        arn = events.describe_event_bus(Name=name)["Arn"]
    return _local_resource(name, arn, ref=name)


def _create_events_rule(
    client_for: ClientFor, name: str, properties: Mapping[str, Any]
) -> LocalResource:
    """A rule with queue targets: moto's EventBridge delivers to SQS itself."""
    events = client_for("events")
    bus = str(properties.get("EventBusName") or "default")
    rule = {
        "Name": name,
        "EventBusName": bus,
        "EventPattern": json.dumps(properties["EventPattern"]),
    }
    rule |= {
        key: as_string(properties[key]) for key in ("State", "Description") if key in properties
    }
    arn = events.put_rule(**rule)["RuleArn"]  # PutRule creates or updates: idempotent
    events.put_targets(Rule=name, EventBusName=bus, Targets=list(properties.get("Targets") or []))
    return _local_resource(name, arn, ref=name, EventBusName=bus)


ResourceCreator = Callable[[ClientFor, str, Mapping[str, Any]], LocalResource]

RESOURCE_KINDS: dict[str, ResourceCreator] = {
    TABLE_TYPE: _create_dynamodb_table,
    "AWS::SQS::Queue": _create_sqs_queue,
    "AWS::Events::EventBus": _create_event_bus,
    "AWS::Events::Rule": _create_events_rule,
}
"""Resource types the local stack creates in moto, in the order it creates them, with the
function creating one from its resolved properties."""


def _creation_order(template: Mapping[str, Any]) -> list[str]:
    """Managed resources in RESOURCE_KINDS' order, so that what a resource refers to exists
    first: tables, dead-letter queues before the queues redriving to them, buses, rules."""
    managed = resources_of_type(template, *RESOURCE_KINDS)
    kinds = list(RESOURCE_KINDS)

    def rank(logical_id: str) -> tuple[int, bool]:
        properties = _properties(managed[logical_id])
        return kinds.index(managed[logical_id]["Type"]), "RedrivePolicy" in properties

    return sorted(managed, key=rank)


def create_resources(
    session: Any, prefix: str = DEFAULT_PREFIX, template: Mapping[str, Any] | None = None
) -> dict[str, LocalResource]:
    """Create every supported resource of the template (named ``f"{prefix}-{logical_id}"``).

    Idempotent: a resource that already exists (another process attached to the same moto) is
    looked up instead. Returns ``{logical_id: {"name", "arn", "ref", "attributes"}}``.
    """
    template = template if template is not None else load_template()
    client_for: ClientFor = functools.cache(session.client)
    created: dict[str, LocalResource] = {}
    resolver = Resolver(template, created)
    resources = template.get("Resources") or {}
    for logical_id in _creation_order(template):
        resource = resources[logical_id]
        create = RESOURCE_KINDS[resource["Type"]]
        properties = resolver.resolve(_properties(resource))
        created[logical_id] = create(client_for, f"{prefix}-{logical_id}", properties)
    return created


# Functions, their environment and their HTTP routes

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

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function_name}"


def _global_function_properties(template: Mapping[str, Any]) -> dict[str, Any]:
    return dict(((template.get("Globals") or {}).get("Function")) or {})


def function_properties(template: Mapping[str, Any], logical_id: str) -> dict[str, Any]:
    """A function's properties over the template's Globals.Function (unresolved)."""
    resource = (template.get("Resources") or {})[logical_id]
    return {**_global_function_properties(template), **_properties(resource)}


def functions(template: Mapping[str, Any]) -> dict[str, FunctionInfo]:
    """Every function of the template, by logical id."""
    resolver = Resolver(template)
    found: dict[str, FunctionInfo] = {}
    for logical_id in resources_of_type(template, FUNCTION_TYPE):
        properties = function_properties(template, logical_id)
        name = properties.get("FunctionName")
        found[logical_id] = FunctionInfo(
            logical_id=logical_id,
            function_dir=Path(properties["CodeUri"]).name,
            handler=str(properties["Handler"]),
            events=dict(properties.get("Events") or {}),
            code_uri=properties["CodeUri"],
            function_name=resolver.resolve_string(name) if name else f"{STACK_NAME}-{logical_id}",
            memory_size=int(resolver.resolve(properties.get("MemorySize", 128))),
            timeout=int(resolver.resolve(properties.get("Timeout", 3))),
        )
    return found


def find_function(template: Mapping[str, Any], name: str) -> FunctionInfo:
    """A function by logical id (``JourneysFunction``) or folder (``journeys``), in any case."""
    candidates = functions(template)
    for info in candidates.values():
        if name.lower() in (info.logical_id.lower(), info.function_dir.lower()):
            return info
    known = ", ".join(f"{info.logical_id} ({info.function_dir})" for info in candidates.values())
    raise KeyError(f"no function {name!r} in the template; known: {known}")


def declared_environment(template: Mapping[str, Any], logical_id: str) -> dict[str, Any]:
    """The function's environment variables as the template declares them (Globals first,
    intrinsics unresolved): those SAM passes the function."""
    scopes = (_global_function_properties(template), _properties(template["Resources"][logical_id]))
    return {
        name: value
        for scope in scopes
        for name, value in ((scope.get("Environment") or {}).get("Variables") or {}).items()
    }


def function_environment(
    template: Mapping[str, Any], logical_id: str, resources: Mapping[str, LocalResource]
) -> dict[str, str]:
    """The function's environment variables (Globals first), resolved to local values."""
    resolved = Resolver(template, resources).resolve(declared_environment(template, logical_id))
    return {key: as_string(value) for key, value in resolved.items()}


@dataclass(frozen=True)
class Route:
    method: str  # upper-case HTTP method, or ANY
    path: str  # e.g. /api/v1/journeys/{name_or_id}
    function_logical_id: str
    function_dir: str
    route_key: str  # e.g. "GET /api/v1/journeys/{name_or_id}"
    auth: bool


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
    method, path = str(properties["Method"]).upper(), str(properties["Path"])
    return Route(
        method=method,
        path=path,
        function_logical_id=info.logical_id,
        function_dir=info.function_dir,
        route_key=f"{method} {path}",
        auth=bool(authorizer) and authorizer != "NONE",
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
                issuer = configuration.get("issuer")
                return JwtSettings(
                    issuer=resolver.resolve_string(issuer) if issuer else None,
                    audiences=tuple(audience if isinstance(audience, list) else [audience]),
                )
    return JwtSettings(issuer=None, audiences=())
