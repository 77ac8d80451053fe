"""The journey log is append-only by construction: template.yaml must keep it that way."""

from __future__ import annotations

from typing import Any

import pytest

from local_stack.template import load_template

TEMPLATE = load_template()
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
LOG_TABLE = "JourneyLogTable"
# What a function may do on the log table; PutItem only inside TransactWriteItems.
ALLOWED_ON_LOG = {"dynamodb:PutItem", "dynamodb:Query", "dynamodb:GetItem"}
STREAM_ACTIONS = {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"}
# SAM policy templates that grant writes on whatever table they name.
WRITING_POLICY_TEMPLATES = {
    "DynamoDBCrudPolicy",
    "DynamoDBWritePolicy",
    "DynamoDBBackupFullAccessPolicy",
    "DynamoDBRestoreFromBackupPolicy",
}


def _mentions(value: Any, logical_id: str) -> bool:
    """Whether a (long-form) template value refers to the resource, by Ref, GetAtt or Sub."""
    if isinstance(value, dict):
        if value.get("Ref") == logical_id:
            return True
        get_att = value.get("Fn::GetAtt")
        if isinstance(get_att, list) and get_att[:1] == [logical_id]:
            return True
        sub = value.get("Fn::Sub")
        text = sub[0] if isinstance(sub, list) else sub
        if isinstance(text, str) and f"${{{logical_id}" in text:
            return True
        return any(_mentions(v, logical_id) for v in value.values())
    if isinstance(value, list):
        return any(_mentions(v, logical_id) for v in value)
    return False


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _function_policies() -> list[tuple[str, Any]]:
    return [
        (logical_id, policy)
        for logical_id, resource in RESOURCES.items()
        if resource["Type"] in ("AWS::Serverless::Function", "AWS::IAM::Role", "AWS::IAM::Policy")
        for policy in _as_list(
            resource["Properties"].get("Policies")
            or resource["Properties"].get("PolicyDocument")
            or []
        )
    ]


def _statements_on_the_log() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for logical_id, policy in _function_policies():
        document = policy.get("PolicyDocument", policy) if isinstance(policy, dict) else {}
        for statement in _as_list(document.get("Statement", [])):
            if _mentions(statement.get("Resource"), LOG_TABLE) or statement.get("Resource") in (
                "*",
                ["*"],
            ):
                found.append((logical_id, statement))
    return found


def test_the_log_table_keeps_its_data_whatever_happens_to_the_stack() -> None:
    table = RESOURCES[LOG_TABLE]
    assert table["Type"] == "AWS::DynamoDB::Table"
    assert table.get("DeletionPolicy") == "Retain"
    assert table.get("UpdateReplacePolicy") == "Retain"
    properties = table["Properties"]
    assert properties.get("DeletionProtectionEnabled") is True
    pitr = properties.get("PointInTimeRecoverySpecification", {})
    assert pitr.get("PointInTimeRecoveryEnabled") is True
    assert properties.get("SSESpecification", {}).get("SSEEnabled") is True
    assert properties.get("StreamSpecification", {}).get("StreamViewType") == "NEW_IMAGE"
    assert "TimeToLiveSpecification" not in properties  # nothing expires out of the log


def test_no_function_may_update_or_delete_log_entries() -> None:
    statements = _statements_on_the_log()
    assert statements, "the patients function must be able to append to the log"
    for logical_id, statement in statements:
        if statement.get("Effect", "Allow") != "Allow":
            continue
        actions = set(_as_list(statement["Action"]))
        assert "NotAction" not in statement, logical_id
        assert not any("*" in action for action in actions), (logical_id, actions)
        assert actions <= ALLOWED_ON_LOG | STREAM_ACTIONS, (logical_id, actions - ALLOWED_ON_LOG)
        assert not actions & {
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:BatchWriteItem",
            "dynamodb:PartiQLUpdate",
            "dynamodb:PartiQLDelete",
            "dynamodb:PartiQLInsert",
            "dynamodb:DeleteTable",
            "dynamodb:UpdateTable",
            "dynamodb:RestoreTableToPointInTime",
        }, logical_id


def test_log_entries_are_put_only_inside_a_transaction() -> None:
    puts = [
        (logical_id, statement)
        for logical_id, statement in _statements_on_the_log()
        if "dynamodb:PutItem" in _as_list(statement["Action"])
    ]
    assert puts
    for logical_id, statement in puts:
        assert set(_as_list(statement["Action"])) == {"dynamodb:PutItem"}, logical_id
        condition = statement.get("Condition", {}).get("ForAnyValue:StringEquals", {})
        enclosing = _as_list(condition.get("dynamodb:EnclosingOperation", []))
        assert enclosing == ["TransactWriteItems"], (logical_id, "PutItem outside a transaction")


def test_no_sam_policy_template_grants_writes_on_the_log() -> None:
    for logical_id, policy in _function_policies():
        if isinstance(policy, dict):
            for name, arguments in policy.items():
                if name in WRITING_POLICY_TEMPLATES:
                    assert not _mentions(arguments, LOG_TABLE), (logical_id, name)


@pytest.mark.parametrize("logical_id", ["JourneysFunction"])
def test_the_definitions_function_cannot_touch_the_log(logical_id: str) -> None:
    """Deleting a journey definition can never delete its log entries."""
    assert not _mentions(RESOURCES[logical_id]["Properties"].get("Policies"), LOG_TABLE)


def test_the_publisher_and_the_rollups_read_the_log_stream_and_the_publisher_announces() -> None:
    readers = [
        logical_id
        for logical_id, resource in RESOURCES.items()
        if resource["Type"] == "AWS::Serverless::Function"
        and any(
            event.get("Type") == "DynamoDB" and _mentions(event["Properties"]["Stream"], LOG_TABLE)
            for event in (resource["Properties"].get("Events") or {}).values()
        )
    ]
    # Two readers: as many as a DynamoDB stream serves per shard without throttling.
    assert sorted(readers) == ["JourneyRollupsFunction", "StageChangePublisherFunction"]
    rollups = RESOURCES["JourneyRollupsFunction"]["Properties"]["Events"]["JourneyLogStream"]
    # counters are not idempotent: a failed batch is retried whole, never split
    assert rollups["Properties"]["BisectBatchOnFunctionError"] is False
    assert _mentions(
        rollups["Properties"]["DestinationConfig"]["OnFailure"], "JourneyRollupsDeadLetterQueue"
    )
    stream = RESOURCES["StageChangePublisherFunction"]["Properties"]["Events"]["JourneyLogStream"]
    properties = stream["Properties"]
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert _mentions(properties["DestinationConfig"]["OnFailure"], "StageChangeDeadLetterQueue")
    assert RESOURCES["JourneysBus"]["Type"] == "AWS::Events::EventBus"


def test_a_changed_or_removed_entry_raises_the_alarm_on_the_publishers_metric() -> None:
    """IAM cannot stop a transactional Put from replacing an entry: the publisher counts
    every MODIFY or REMOVE on the stream, and this alarm fires on the first one."""
    from functions.stage_change_publisher.app import LOG_TAMPERING_METRIC

    alarm = RESOURCES["JourneyLogTamperingAlarm"]
    properties = alarm["Properties"]
    assert alarm["Type"] == "AWS::CloudWatch::Alarm"
    assert properties["MetricName"] == LOG_TAMPERING_METRIC
    namespace = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert properties["Namespace"] == namespace["POWERTOOLS_METRICS_NAMESPACE"]
    assert properties["Dimensions"] == [
        {"Name": "service", "Value": namespace["POWERTOOLS_SERVICE_NAME"]}
    ]
    assert (properties["Threshold"], properties["ComparisonOperator"]) == (
        0,
        "GreaterThanThreshold",
    )
    assert _mentions(properties["AlarmActions"], "AlarmTopicArn")
