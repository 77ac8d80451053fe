"""The local stack reads everything it creates and serves from template.yaml."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto import mock_aws

from local_stack.template import (
    DEFAULT_TEMPLATE_PATH,
    Resolver,
    create_resources,
    dynamodb_table_definitions,
    find_function,
    function_environment,
    functions,
    http_routes,
    load_template,
    parse_template,
)


class _IgnoreTagsLoader(yaml.SafeLoader):
    """Reads template.yaml without local_stack's tag handling: an independent view."""


_IgnoreTagsLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def _raw_template() -> dict[str, Any]:
    text = Path(DEFAULT_TEMPLATE_PATH).read_text(encoding="utf-8")
    loaded: dict[str, Any] = yaml.load(text, Loader=_IgnoreTagsLoader)
    return loaded


# -- loading ---------------------------------------------------------------------------


def test_short_tags_become_long_forms() -> None:
    loaded = parse_template(
        """
a: !Ref Thing
b: !GetAtt Table.Arn
c: !GetAtt [Table, StreamArn]
d: !Sub "${AWS::Region}-x"
e: !Sub ["${A}-y", {A: !Ref Thing}]
f: !Join [",", [x, y]]
g: !If [IsProd, 1, 2]
h: !Select [0, !Split [",", "a,b"]]
i: !Equals [a, b]
j: !Not [!Condition IsProd]
k: !And [!Condition IsProd, !Or [!Condition A, !Condition B]]
l: !FindInMap [Map, Top, Second]
m: !ImportValue Exported
n: !GetAZs ""
o: !Base64 text
p: !GetAtt Db.Endpoint.Address
"""
    )

    assert loaded["a"] == {"Ref": "Thing"}
    assert loaded["b"] == {"Fn::GetAtt": ["Table", "Arn"]}
    assert loaded["c"] == {"Fn::GetAtt": ["Table", "StreamArn"]}
    assert loaded["d"] == {"Fn::Sub": "${AWS::Region}-x"}
    assert loaded["e"] == {"Fn::Sub": ["${A}-y", {"A": {"Ref": "Thing"}}]}
    assert loaded["f"] == {"Fn::Join": [",", ["x", "y"]]}
    assert loaded["g"] == {"Fn::If": ["IsProd", 1, 2]}
    assert loaded["h"] == {"Fn::Select": [0, {"Fn::Split": [",", "a,b"]}]}
    assert loaded["i"] == {"Fn::Equals": ["a", "b"]}
    assert loaded["j"] == {"Fn::Not": [{"Condition": "IsProd"}]}
    assert loaded["k"]["Fn::And"][1] == {"Fn::Or": [{"Condition": "A"}, {"Condition": "B"}]}
    assert loaded["l"] == {"Fn::FindInMap": ["Map", "Top", "Second"]}
    assert loaded["m"] == {"Fn::ImportValue": "Exported"}
    assert loaded["n"] == {"Fn::GetAZs": ""}
    assert loaded["o"] == {"Fn::Base64": "text"}
    assert loaded["p"] == {"Fn::GetAtt": ["Db", "Endpoint.Address"]}


def test_load_template_is_cached() -> None:
    assert load_template() is load_template(DEFAULT_TEMPLATE_PATH)


# -- DynamoDB table definitions ----------------------------------------------------------


def test_definitions_table_kwargs_come_from_the_template() -> None:
    raw = _raw_template()["Resources"]["DefinitionsTable"]["Properties"]

    kwargs = dynamodb_table_definitions(load_template())["DefinitionsTable"]

    assert kwargs["KeySchema"] == raw["KeySchema"]
    assert kwargs["AttributeDefinitions"] == raw["AttributeDefinitions"]
    assert kwargs["GlobalSecondaryIndexes"] == raw["GlobalSecondaryIndexes"]
    assert kwargs["BillingMode"] == raw["BillingMode"]
    assert kwargs["SSESpecification"] == {"Enabled": raw["SSESpecification"]["SSEEnabled"]}
    assert "TableName" not in kwargs
    assert "PointInTimeRecoverySpecification" not in kwargs


def test_every_table_of_the_template_has_a_definition() -> None:
    raw_tables = {
        logical_id
        for logical_id, resource in _raw_template()["Resources"].items()
        if resource["Type"] == "AWS::DynamoDB::Table"
    }

    assert set(dynamodb_table_definitions(load_template())) == raw_tables


# -- creating resources ------------------------------------------------------------------

RESOURCES_TEMPLATE = parse_template(
    """
Parameters:
  Stage: {Type: String, Default: test}
Resources:
  Things:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
      StreamSpecification: {StreamViewType: NEW_AND_OLD_IMAGES}
      TimeToLiveSpecification: {AttributeName: expires_at, Enabled: true}
      PointInTimeRecoverySpecification: {PointInTimeRecoveryEnabled: true}
      DeletionProtectionEnabled: true
  WorkQueue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 60
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt WorkDeadLetters.Arn
        maxReceiveCount: 3
  WorkDeadLetters:
    Type: AWS::SQS::Queue
  Bus:
    Type: AWS::Events::EventBus
    Properties: {Name: !Sub "bus-${Stage}"}
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/worker/
      Handler: app.handler
      Environment:
        Variables:
          THINGS_TABLE: !Ref Things
          THINGS_STREAM: !GetAtt Things.StreamArn
          QUEUE_URL: !Ref WorkQueue
          QUEUE_ARN: !GetAtt WorkQueue.Arn
          BUS_NAME: !Ref Bus
          REGIONAL: !Sub "${AWS::Region}/${AWS::AccountId}/${Stage}/${Things.Arn}"
"""
)


@pytest.fixture
def aws_session(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.session.Session]:
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(variable, "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield boto3.session.Session(region_name="us-east-1")


def test_create_resources_creates_every_supported_resource(
    aws_session: boto3.session.Session,
) -> None:
    created = create_resources(aws_session, "t", RESOURCES_TEMPLATE)

    assert set(created) == {"Things", "WorkQueue", "WorkDeadLetters", "Bus"}
    dynamodb = aws_session.client("dynamodb")
    table = dynamodb.describe_table(TableName="t-Things")["Table"]
    assert table["TableArn"] == created["Things"]["arn"]
    assert table["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    ttl = dynamodb.describe_time_to_live(TableName="t-Things")["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expires_at"

    sqs = aws_session.client("sqs")
    attributes = sqs.get_queue_attributes(
        QueueUrl=created["WorkQueue"]["ref"], AttributeNames=["All"]
    )["Attributes"]
    assert attributes["VisibilityTimeout"] == "60"
    assert created["WorkDeadLetters"]["arn"] in attributes["RedrivePolicy"]

    assert created["Bus"]["name"] == "t-Bus"


def test_create_resources_is_idempotent(aws_session: boto3.session.Session) -> None:
    first = create_resources(aws_session, "t", RESOURCES_TEMPLATE)
    second = create_resources(aws_session, "t", RESOURCES_TEMPLATE)

    assert second == first


def test_create_resources_creates_the_real_templates_tables(
    aws_session: boto3.session.Session,
) -> None:
    created = create_resources(aws_session, "journeys-local")

    table_names = aws_session.client("dynamodb").list_tables()["TableNames"]
    assert created["DefinitionsTable"]["name"] == "journeys-local-DefinitionsTable"
    assert "journeys-local-DefinitionsTable" in table_names


# -- environment ------------------------------------------------------------------------


def test_function_environment_resolves_to_local_resources(
    aws_session: boto3.session.Session,
) -> None:
    created = create_resources(aws_session, "t", RESOURCES_TEMPLATE)

    environment = function_environment(RESOURCES_TEMPLATE, "Worker", created)

    assert environment["THINGS_TABLE"] == "t-Things"
    assert environment["THINGS_STREAM"] == created["Things"]["attributes"]["StreamArn"]
    assert environment["QUEUE_URL"].endswith("/t-WorkQueue")
    assert environment["QUEUE_ARN"] == created["WorkQueue"]["arn"]
    assert environment["BUS_NAME"] == "t-Bus"
    assert environment["REGIONAL"] == f"us-east-1/123456789012/test/{created['Things']['arn']}"


def test_real_function_environment_merges_globals() -> None:
    resources = {
        "DefinitionsTable": {
            "name": "local-defs",
            "arn": "arn:aws:dynamodb:us-east-1:123456789012:table/local-defs",
            "ref": "local-defs",
            "attributes": {},
        }
    }
    raw_globals = _raw_template()["Globals"]["Function"]["Environment"]["Variables"]

    environment = function_environment(load_template(), "JourneysFunction", resources)

    assert environment["DEFINITIONS_TABLE_NAME"] == "local-defs"
    assert environment["STAGE"] == _raw_template()["Parameters"]["Stage"]["Default"]
    assert environment["POWERTOOLS_SERVICE_NAME"] == raw_globals["POWERTOOLS_SERVICE_NAME"]
    assert all(isinstance(value, str) for value in environment.values())


def _one_function(globals_: str, properties: str) -> dict[str, Any]:
    """A template of one function, ``Fn`` (functions/fn/app.handler), with these Globals
    and these further properties (YAML lines, indented as they stand)."""
    return parse_template(
        f"""
Globals:
{globals_}
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/fn/
      Handler: app.handler
{properties}
"""
    )


def test_function_variables_override_globals() -> None:
    template = _one_function(
        globals_="  Function:\n    Environment: {Variables: {LEVEL: INFO, KEEP: kept}}",
        properties="      Environment: {Variables: {LEVEL: DEBUG, FLAG: true, COUNT: 3}}",
    )

    assert function_environment(template, "Fn", {}) == {
        "LEVEL": "DEBUG",
        "KEEP": "kept",
        "FLAG": "true",
        "COUNT": "3",
    }


def test_resolver_intrinsics() -> None:
    template = parse_template(
        """
Parameters:
  Stage: {Type: String, Default: prod}
"""
    )
    resolver = Resolver(template)

    assert resolver.resolve({"Fn::Select": [1, {"Fn::Split": [",", "x,y,z"]}]}) == "y"
    assert resolver.resolve({"Fn::Sub": "${!Literal}-${Stage}"}) == "${Literal}-prod"


def test_if_follows_the_templates_conditions_with_parameter_defaults() -> None:
    template = parse_template(
        """
Parameters:
  Mode: {Type: String, Default: pool}
  Topic: {Type: String, Default: ""}
Conditions:
  Pool: !Equals [!Ref Mode, pool]
  HasTopic: !Not [!Equals [!Ref Topic, ""]]
  PoolWithTopic: !And [!Condition Pool, !Condition HasTopic]
  Either: !Or [!Condition Pool, !Condition HasTopic]
"""
    )
    resolver = Resolver(template)

    assert resolver.resolve({"Fn::If": ["Pool", "made", "given"]}) == "made"
    assert resolver.resolve({"Fn::If": ["PoolWithTopic", "both", "not both"]}) == "not both"
    assert resolver.resolve({"Fn::If": ["Either", ["a"], ["b"]]}) == ["a"]
    assert resolver.resolve([{"Fn::If": ["HasTopic", "x", {"Ref": "AWS::NoValue"}]}]) == []
    with pytest.raises(KeyError, match="Missing"):
        resolver.resolve({"Fn::If": ["Missing", 1, 2]})


# -- functions and routes ----------------------------------------------------------------


def test_functions_and_lookup_by_folder_or_logical_id() -> None:
    template = load_template()
    journeys = functions(template)["JourneysFunction"]

    assert journeys.function_dir == "journeys"
    assert journeys.handler == "app.handler"
    assert find_function(template, "journeys") == journeys
    assert find_function(template, "JourneysFunction") == journeys
    with pytest.raises(KeyError):
        find_function(template, "nope")


def test_http_routes_match_the_templates_events() -> None:
    expected = {
        (
            f"{event['Properties']['Method'].upper()} {event['Properties']['Path']}",
            Path(resource["Properties"]["CodeUri"]).name,
        )
        for resource in _raw_template()["Resources"].values()
        if resource["Type"] == "AWS::Serverless::Function"
        for event in (resource["Properties"].get("Events") or {}).values()
        if event["Type"] == "HttpApi"
    }

    routes = http_routes(load_template())

    assert {(route.route_key, route.function_dir) for route in routes} == expected


def test_authorizer_none_makes_a_public_route() -> None:
    template = _one_function(
        globals_="  HttpApi:\n    Auth: {DefaultAuthorizer: Jwt}",
        properties="""\
      Events:
        Open: {Type: HttpApi, Properties: {Path: /open, Method: get, Auth: {Authorizer: NONE}}}
        Closed: {Type: HttpApi, Properties: {Path: /closed, Method: GET}}""",
    )

    auth_by_key = {route.route_key: route.auth for route in http_routes(template)}

    assert auth_by_key == {"GET /open": False, "GET /closed": True}
