"""Watching the service's EventBridge bus: a rule with an event pattern whose target is an
SQS queue, and the events that reached the queue. In-process moto by default; ``client``
points them at another AWS (the local stack's embedded one)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

Client = Callable[[str], Any]


def _default_client(service: str) -> Any:
    import boto3

    return boto3.client(service)


def queue_behind_rule(
    name: str, pattern: dict[str, Any], *, bus: str | None = None, client: Client | None = None
) -> str:
    """The URL of a new queue receiving what ``pattern`` matches on the bus (by default the
    service's, EVENT_BUS_NAME); the rule, the queue and the target are all called ``name``."""
    client = client or _default_client
    sqs, events = client("sqs"), client("events")
    bus = bus or os.environ["EVENT_BUS_NAME"]
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": name, "Arn": queue_arn}])
    return str(queue_url)


def drain(queue_url: str, client: Client | None = None) -> list[dict[str, Any]]:
    """Every event waiting in the queue (removed from it), oldest first."""
    sqs = (client or _default_client)("sqs")
    found: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        )
        if not messages:
            return found
        for message in messages:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
