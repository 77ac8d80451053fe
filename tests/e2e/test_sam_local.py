"""The Docker path, without Docker: `make sam-env`'s env.json names the running local stack's
live resources, and AWS's own `sam local generate-event` samples pass through `make invoke`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from local_stack.embedded_aws import FAKE_AWS_ENVIRONMENT
from local_stack.template import REGION, load_template
from tests.e2e.conftest import REPO_ROOT, LocalStack
from tests.support.template_environment import declared_variables

pytestmark = pytest.mark.e2e

SAMPLES = REPO_ROOT / "events" / "sam-generated"
TEMPLATE = load_template()


@pytest.fixture(scope="module")
def env_json(local_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Any:
    output = tmp_path_factory.mktemp("sam_env") / "env.json"
    completed = local_stack.run_module("local_stack.sam_env", "--output", str(output))
    assert completed.returncode == 0, completed.stderr
    assert "--env-vars env.json" in completed.stdout
    return json.loads(output.read_text(encoding="utf-8"))


class _AwsAt:
    """Clients with the dummy credentials and region of the README's `sam` commands, at
    exactly the endpoint the file gives the function."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.session = boto3.session.Session(
            aws_access_key_id=FAKE_AWS_ENVIRONMENT["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_AWS_ENVIRONMENT["AWS_SECRET_ACCESS_KEY"],
            region_name=REGION,
        )

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.endpoint)


# How to ask the embedded AWS about a resource, by type, given exactly the variable's value;
# each call raises when nothing has that name.
_LIVE_CHECKS: dict[str, Callable[[_AwsAt, str], object]] = {
    "AWS::DynamoDB::Table": lambda aws, name: aws.client("dynamodb").describe_table(TableName=name),
    "AWS::Events::EventBus": lambda aws, name: aws.client("events").describe_event_bus(Name=name),
    "AWS::SQS::Queue": lambda aws, url: aws.client("sqs").get_queue_attributes(QueueUrl=url),
}


def _referenced_resource(raw: Any) -> str | None:
    """The logical id a variable's template value names with !Ref, if a resource."""
    if isinstance(raw, dict) and raw.get("Ref") in TEMPLATE["Resources"]:
        return str(raw["Ref"])
    assert not (isinstance(raw, dict) and "Fn::GetAtt" in raw), f"no live check for {raw}"
    return None


def test_every_resource_variable_names_a_live_resource_of_the_stack(
    local_stack: LocalStack, env_json: Any
) -> None:
    checked = 0
    for logical_id, variables in env_json.items():
        endpoint = variables["AWS_ENDPOINT_URL"]
        assert endpoint == f"http://127.0.0.1:{local_stack.aws_port}"
        aws = _AwsAt(endpoint)
        for name, raw in declared_variables(TEMPLATE, logical_id).items():
            target = _referenced_resource(raw)
            if target is None:
                continue
            kind = TEMPLATE["Resources"][target]["Type"]
            assert kind in _LIVE_CHECKS, f"{logical_id} {name}: no live check for {kind}"
            _LIVE_CHECKS[kind](aws, variables[name])
            checked += 1

    assert checked >= 2 * len(env_json)  # each function names at least a table and the bus


def _invoke(stack: LocalStack, function: str, sample: str) -> tuple[Any, str]:
    """`make invoke FUNCTION=function EVENT=events/sam-generated/sample.json`: its result
    (the last line) and everything the function logged."""
    completed = stack.run_module("local_stack.invoke", function, str(SAMPLES / sample))
    assert completed.returncode == 0, completed.stderr
    *logged, last = completed.stdout.strip().splitlines()
    return json.loads(last), "\n".join(logged)


def _records(sample: str) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = json.loads((SAMPLES / sample).read_text())["Records"]
    return records


def test_the_http_api_sample_is_a_422_naming_what_the_journey_lacks(
    local_stack: LocalStack,
) -> None:
    result, _ = _invoke(local_stack, "journeys", "apigateway-http-api-proxy.json")

    assert result["statusCode"] == 422
    missing = {tuple(item["loc"]) for item in json.loads(result["body"])["detail"]}
    assert {("body", "name"), ("body", "journey_spec")} <= missing


def test_a_foreign_sqs_body_is_a_reported_batch_item_failure_with_a_log_line(
    local_stack: LocalStack,
) -> None:
    (record,) = _records("sqs-receive-message.json")

    result, logged = _invoke(local_stack, "automation", "sqs-receive-message.json")

    assert result == {"batchItemFailures": [{"itemIdentifier": record["messageId"]}]}
    (line,) = [json.loads(line) for line in logged.splitlines() if "not processed" in line]
    assert line["level"] == "ERROR"
    assert line["message_id"] == record["messageId"]
    assert "not a domain event" in line["exception"]


def test_a_foreign_stream_insert_is_reported_and_other_changes_ignored(
    local_stack: LocalStack,
) -> None:
    records = _records("dynamodb-update.json")
    inserts = [r["dynamodb"]["SequenceNumber"] for r in records if r["eventName"] == "INSERT"]
    assert len(records) > len(inserts) == 1

    result, logged = _invoke(local_stack, "stage_change_publisher", "dynamodb-update.json")

    assert result == {"batchItemFailures": [{"itemIdentifier": inserts[0]}]}
    assert "stage change not published" in logged


def test_the_scheduled_event_plans_its_own_time(local_stack: LocalStack) -> None:
    result, logged = _invoke(local_stack, "stale_monitor", "cloudwatch-scheduled-event.json")

    # every watched stage queued as a unit of the run of 1970 (in which nobody is stuck yet)
    assert set(result) == {"units", "queued", "organizations"}
    assert result["queued"] == result["units"]
    assert '"now":"1970-01-01T00:00:00+00:00"' in logged
