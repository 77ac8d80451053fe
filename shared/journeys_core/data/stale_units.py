"""The stale monitor's work queue: the planner puts one message per unit on it, a worker that
runs short of time puts its unit's continuation. SQS delivers each to the worker function."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from journeys_core.data import aws

SEND_BATCH = 10  # SendMessageBatch takes at most 10 entries
SEND_ATTEMPTS = 3


class UnitQueueRefused(RuntimeError):
    """SQS kept refusing some units: the planner's run fails (and is retried) rather than
    leave them out silently."""


class StaleUnitsQueue:
    def __init__(self, queue_url: str) -> None:
        self.queue_url = queue_url

    def enqueue(self, bodies: Sequence[Mapping[str, Any]]) -> int:
        """Queue every body (10 a SendMessageBatch, what SQS refuses sent again); how many
        were queued. UnitQueueRefused when some still fail after a few attempts."""
        sqs = aws.client("sqs")
        for start in range(0, len(bodies), SEND_BATCH):
            pending = {
                str(i): json.dumps(body, separators=(",", ":"))
                for i, body in enumerate(bodies[start : start + SEND_BATCH])
            }
            for _ in range(SEND_ATTEMPTS):
                response = sqs.send_message_batch(
                    QueueUrl=self.queue_url,
                    Entries=[{"Id": i, "MessageBody": body} for i, body in pending.items()],
                )
                pending = {f["Id"]: pending[f["Id"]] for f in response.get("Failed", [])}
                if not pending:
                    break
            if pending:
                raise UnitQueueRefused(f"{len(pending)} monitor units could not be queued")
        return len(bodies)
