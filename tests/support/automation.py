"""The automation pipeline on moto, as deployed: template.yaml's bus rule routes events to the
automation queue (both created from the template by the ``aws`` fixture); messages are read
from the queue and handed to the automation handler as Lambda's SQS event source mapping
does (delete what succeeded, leave failures to SQS and its redrive policy)."""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.conftest import RESOURCE_PREFIX, LambdaContext, invoke
from tests.support.bus import queue_behind_rule
from tests.support.events import api_event

SQS_RECORD_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
)


@dataclass
class Pipeline:
    """The bus, the automation queue and its dead-letter queue of one moto account."""

    bus: str
    queue_url: str
    queue_arn: str
    dead_letter_url: str
    max_receive_count: int
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    # The function the queue feeds, and the Lambda context of its next invocations.
    function_dir: str = "automation"
    contexts: list[Any] = field(default_factory=list)

    def put(
        self,
        detail_type: str,
        detail: Mapping[str, Any],
        source: str = "integration.tests",
    ) -> str:
        """Put one event on the bus with boto3, as any producer does; its EventBridge id."""
        import boto3

        response = boto3.client("events").put_events(
            Entries=[
                {
                    "EventBusName": self.bus,
                    "Source": source,
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail),
                }
            ]
        )
        assert response["FailedEntryCount"] == 0, response
        return str(response["Entries"][0]["EventId"])

    def receive(self, max_messages: int = 10) -> list[dict[str, Any]]:
        """Messages waiting on the queue, received with visibility timeout 0 (so a message
        left undeleted is received again at once, as after its visibility timeout)."""
        import boto3

        return list(
            boto3.client("sqs")
            .receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=max_messages,
                VisibilityTimeout=0,
                MessageSystemAttributeNames=["All"],
            )
            .get("Messages", [])
        )

    def lambda_event(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        """The SQS event Lambda hands the function for these messages."""
        return {
            "Records": [
                {
                    "messageId": message["MessageId"],
                    "receiptHandle": message["ReceiptHandle"],
                    "body": message["Body"],
                    "attributes": {
                        key: message["Attributes"][key]
                        for key in SQS_RECORD_ATTRIBUTES
                        if key in message.get("Attributes", {})
                    },
                    "messageAttributes": {},
                    "md5OfBody": message["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.queue_arn,
                    "awsRegion": os.environ["AWS_DEFAULT_REGION"],
                }
                for message in messages
            ]
        }

    def deliver(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        """One invocation of the queue's function with these messages; like the event
        source mapping, delete the messages it did not report as failed."""
        import boto3

        context = self.contexts.pop(0) if self.contexts else LambdaContext()
        try:
            response = process(self.lambda_event(messages), self.function_dir, context)
        except Exception:  # an invocation error: Lambda deletes nothing
            response = {"batchItemFailures": [{"itemIdentifier": m["MessageId"]} for m in messages]}
        failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
        for message in messages:
            if message["MessageId"] not in failed:
                boto3.client("sqs").delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
        self.deliveries.append(response)
        return response

    def drain(self, max_invocations: int = 50) -> int:
        """Deliver until the queue is empty (failed messages come back until SQS moves them
        to the dead-letter queue); the number of invocations."""
        for invocation in range(max_invocations):
            messages = self.receive()
            if not messages:
                return invocation
            self.deliver(messages)
        raise AssertionError(f"the queue still holds messages after {max_invocations} tries")

    def dead_letters(self) -> list[dict[str, Any]]:
        import boto3

        return list(
            boto3.client("sqs")
            .receive_message(QueueUrl=self.dead_letter_url, MaxNumberOfMessages=10)
            .get("Messages", [])
        )


def process(
    event: dict[str, Any], function_dir: str = "automation", context: Any = None
) -> dict[str, Any]:
    """Invoke a queue's handler (the automation function's by default) in-process with a
    Lambda SQS event."""
    module = importlib.import_module(f"functions.{function_dir}.app")
    return dict(module.handler(event, context or LambdaContext()))


def install_pipeline() -> Pipeline:
    """The automation pipeline of the current moto account: the ``aws`` fixture created
    template.yaml's bus, rule and queues (the local stack's ``create_resources``)."""
    import boto3

    from local_stack.template import create_resources

    resources = create_resources(boto3.session.Session(), RESOURCE_PREFIX)  # looks them up
    rule = resources["AutomationEventsRule"]
    targets = boto3.client("events").list_targets_by_rule(
        Rule=rule["name"], EventBusName=rule["attributes"]["EventBusName"]
    )["Targets"]
    assert [t["Arn"] for t in targets] == [resources["AutomationQueue"]["arn"]], targets
    return queue_pipeline("AutomationQueue", "AutomationDeadLetterQueue", "automation")


def queue_pipeline(queue_id: str, dead_letter_id: str, function_dir: str) -> Pipeline:
    """A queue of template.yaml (by logical id) and the function it feeds, as Lambda's SQS
    event source drives it, in the current moto account."""
    import boto3

    from local_stack.template import Resolver, create_resources, load_template

    template = load_template()
    resources = create_resources(boto3.session.Session(), RESOURCE_PREFIX)  # looks them up
    redrive = json.loads(
        Resolver(template, resources).resolve_string(
            template["Resources"][queue_id]["Properties"]["RedrivePolicy"]
        )
    )
    return Pipeline(
        bus=resources["JourneysBus"]["name"],
        queue_url=resources[queue_id]["ref"],
        queue_arn=resources[queue_id]["arn"],
        dead_letter_url=resources[dead_letter_id]["ref"],
        max_receive_count=int(redrive["maxReceiveCount"]),
        function_dir=function_dir,
    )


# -- the rules API -----------------------------------------------------------------------------


def rules_api(
    sample: str,
    *,
    body: Any = ...,
    rule_id: str | None = None,
    org: str = "org-a",
    roles: str | None = None,
    query: dict[str, str] | None = None,
) -> Any:
    event = api_event(
        f"automation_rules/{sample}",
        path_params={"rule_id": rule_id} if rule_id else None,
        body=body,
        org=org,
        roles=roles,
        query=query,
    )
    return invoke("automation_rules", event)


def import_playbook(org: str = "org-a") -> Any:
    result = rules_api("import-playbook", org=org)
    assert result.status == 200, result.body
    return result


def import_builtin_journeys(org: str = "org-a") -> None:
    result = invoke("journeys", api_event("journeys/import-builtin", org=org))
    assert result.status == 200, result.body


# -- what left the service -------------------------------------------------------------------


@dataclass(frozen=True)
class SentEmail:
    source: str
    to: list[str]
    subject: str
    body: str


def verify_sender() -> str:
    """Verify the function's sender address in SES (a real account needs it verified too)."""
    import boto3

    sender = os.environ["NOTIFICATION_SENDER"]
    boto3.client("ses").verify_email_identity(EmailAddress=sender)
    return sender


def sent_emails() -> list[SentEmail]:
    """The emails SES accepted in this moto account (moto's record of them)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses import ses_backends

    backend = ses_backends[DEFAULT_ACCOUNT_ID][os.environ["AWS_DEFAULT_REGION"]]
    return [
        SentEmail(m.source, list(m.destinations.get("ToAddresses", [])), m.subject, m.body)
        for m in backend.sent_messages
    ]


def catch_on_bus(bus: str, detail_types: list[str], name: str = "caught") -> str:
    """A queue behind a rule catching these detail types on the bus (a test's listener)."""
    return queue_behind_rule(f"{name}-listener", {"detail-type": detail_types}, bus=bus)


def publish_stage_changes() -> dict[str, Any]:
    """Run the stage-change publisher over the journey log's stream so far."""
    from tests.support.streams import lambda_stream_records

    records = lambda_stream_records(os.environ["JOURNEY_LOG_TABLE_NAME"])
    module = importlib.import_module("functions.stage_change_publisher.app")
    return dict(module.handler({"Records": records}, LambdaContext()))


def system_event(event_id: str, org: str = "org-a") -> Any:
    from journeys_core.data import repositories

    return repositories.system_events().get(org, event_id)
