"""The service's AWS clients give up on a throttled call quickly (no AWS: the HTTP layer is
answered in-process)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from journeys_core.data import aws


class _Raw:
    """The body botocore reads from a response."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


THROTTLED = b'{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"no"}'


@pytest.fixture
def clients() -> Iterator[None]:
    aws.reset_clients()
    yield
    aws.reset_clients()


def test_a_throttled_dynamodb_call_is_tried_three_times_then_raised_within_seconds(
    clients: None,
) -> None:
    # Given DynamoDB answering every attempt with throttling
    attempts = []

    def throttled(request: Any, **_: Any) -> AWSResponse:
        attempts.append(request)
        headers = {"x-amzn-errortype": "ThrottlingException"}
        return AWSResponse(request.url, 400, headers, _Raw(THROTTLED))

    client = aws.dynamodb()
    client.meta.events.register("before-send.dynamodb", throttled)
    began = time.perf_counter()

    # When the service makes a call
    with pytest.raises(client.exceptions.ClientError, match="ThrottlingException"):
        client.get_item(TableName="t", Key={"pk": {"S": "x"}})

    # Then it gave up after three attempts, long before a function or API timeout
    assert len(attempts) == aws.MAX_ATTEMPTS == 3
    assert time.perf_counter() - began < 5
