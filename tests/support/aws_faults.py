"""Faults AWS produces and moto does not: throttling, and transactions cancelled inside DynamoDB
(plus a broken rollback, to prove the tests notice one)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

THROTTLE_ERRORS: dict[str, dict[str, Any]] = {
    # What a throttled call answers once boto3's own retries are spent.
    "ProvisionedThroughputExceededException": {
        "Error": {
            "Code": "ProvisionedThroughputExceededException",
            "Message": "The level of configured provisioned throughput for the table was exceeded",
        }
    },
    "ThrottlingException": {
        "Error": {"Code": "ThrottlingException", "Message": "Rate of requests exceeds the limit"}
    },
    # A transaction refused for capacity: DynamoDB cancels it, reason ThrottlingError.
    "TransactionCanceledException": {
        "Error": {
            "Code": "TransactionCanceledException",
            "Message": "Transaction cancelled, please refer cancellation reasons for specific "
            "reasons [ThrottlingError, None]",
        },
        "CancellationReasons": [
            {"Code": "ThrottlingError", "Message": "Throughput exceeds the current capacity"},
            {"Code": "None"},
        ],
    },
}


@contextmanager
def throttled(
    client: Any,
    operation: str,
    should_throttle: Callable[[], str | None],
) -> Iterator[list[str]]:
    """Answer ``operation`` calls on ``client`` with a throttling error whenever
    ``should_throttle()`` names one (a key of THROTTLE_ERRORS): the request never reaches
    DynamoDB and botocore does not retry it (the answer is given before its retry loop),
    as when its retries are exhausted. Yields the list of errors injected so far."""
    from botocore.awsrequest import AWSResponse

    injected: list[str] = []

    def maybe_throttle(**_: Any) -> tuple[Any, dict[str, Any]] | None:
        code = should_throttle()
        if code is None:
            return None
        injected.append(code)
        http = AWSResponse("https://dynamodb.us-east-1.amazonaws.com/", 400, {}, None)
        parsed = {**THROTTLE_ERRORS[code], "ResponseMetadata": {"HTTPStatusCode": 400}}
        return http, parsed

    event = f"before-call.{client.meta.service_model.service_id.hyphenize()}.{operation}"
    client.meta.events.register(event, maybe_throttle)
    try:
        yield injected
    finally:
        client.meta.events.unregister(event, maybe_throttle)


SENTINEL_KEY_VALUE = "never-written: a fault injected into a transaction"


@contextmanager
def cancelled_in_dynamodb(
    client: Any, should_cancel: Callable[[], bool]
) -> Iterator[list[dict[str, Any]]]:
    """Make DynamoDB cancel ``TransactWriteItems`` calls on ``client`` after their writes ran,
    whenever ``should_cancel()`` says so: a ConditionCheck that cannot pass (its item does not
    exist) is appended to the transaction, so moto applies every other operation first, then
    cancels (reason ConditionalCheckFailed) and must roll them back, as DynamoDB never shows
    them. Yields the cancelled requests (their TransactItems, as sent)."""
    cancelled: list[dict[str, Any]] = []

    def add_failing_check(params: dict[str, Any], **_: Any) -> None:
        if not should_cancel():
            return
        operations = [op for entry in params["TransactItems"] for op in entry.values()]
        keyed = next(op for op in operations if "Key" in op)
        assert all("S" in value for value in keyed["Key"].values()), "string keys only"
        check = {
            "TableName": keyed["TableName"],
            "Key": {name: {"S": SENTINEL_KEY_VALUE} for name in keyed["Key"]},
            "ConditionExpression": "attribute_exists(#key)",
            "ExpressionAttributeNames": {"#key": next(iter(keyed["Key"]))},
        }
        params["TransactItems"] = [*params["TransactItems"], {"ConditionCheck": check}]
        cancelled.append(params)

    event = "before-parameter-build.dynamodb.TransactWriteItems"
    client.meta.events.register(event, add_failing_check)
    try:
        yield cancelled
    finally:
        client.meta.events.unregister(event, add_failing_check)


@contextmanager
def broken_rollbacks() -> Iterator[None]:
    """moto keeps the writes of a cancelled transaction: a DynamoDB that is not all-or-nothing,
    for proving that a test notices one."""
    from aws_sim import moto_patches

    original = moto_patches.TouchedItems.restore
    moto_patches.TouchedItems.restore = lambda self: None  # type: ignore[method-assign]
    try:
        yield
    finally:
        moto_patches.TouchedItems.restore = original  # type: ignore[method-assign]
