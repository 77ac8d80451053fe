"""Watching the service's EventBridge bus in moto: a rule with an event pattern whose target
is an SQS queue, and the events that reached the queue."""

from __future__ import annotations

import json
import os
from typing import Any


def queue_behind_rule(name: str, pattern: dict[str, Any]) -> str:
    """The URL of a new queue receiving what ``pattern`` matches on the service's bus."""
    import boto3

    sqs, events = boto3.client("sqs"), boto3.client("events")
    bus = os.environ["EVENT_BUS_NAME"]
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": name, "Arn": queue_arn}])
    return str(queue_url)


def drain(queue_url: str) -> list[dict[str, Any]]:
    """Every event waiting in the queue (removed from it), oldest first."""
    import boto3

    sqs = boto3.client("sqs")
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
