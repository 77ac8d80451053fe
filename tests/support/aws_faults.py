"""Faults AWS produces and moto does not: throttling, and the serializability of DynamoDB."""

from __future__ import annotations

import threading
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


_BACKEND_OPERATIONS = (
    "get_item",
    "put_item",
    "update_item",
    "delete_item",
    "query",
    "scan",
    "batch_write_item",
    "batch_get_item",
    "transact_write_items",
    "transact_get_items",
)


@contextmanager
def serializable_dynamodb() -> Iterator[None]:
    """Make moto's DynamoDB apply each request as one isolated step, as DynamoDB does.

    moto checks a transaction's conditions and applies its writes item by item, and rolls
    a failed one back by restoring a copy of the whole table taken when it started: with
    threads, two transactions conditioned on the same item can both pass their checks, and a
    rollback can erase another thread's commit. DynamoDB serializes a transaction against
    every other write to its items. This lock gives moto that guarantee (and nothing more:
    the read-decide-write race of the service stays real, and only the conditional write
    decides who wins).
    """
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    originals = {name: getattr(DynamoDBBackend, name) for name in _BACKEND_OPERATIONS}

    def serialized(original: Callable[..., Any]) -> Callable[..., Any]:
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            with lock:
                return original(self, *args, **kwargs)

        return call

    for name, original in originals.items():
        setattr(DynamoDBBackend, name, serialized(original))
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(DynamoDBBackend, name, original)


class _RolledBack:
    """Stands in for moto's pre-transaction table copy; touching it means a rollback."""

    def __init__(self, table_name: str) -> None:
        self._table_name = table_name

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(
            f"moto cancelled a transaction on {self._table_name}: this test expects none "
            "to be cancelled inside DynamoDB (throttles are answered before it)"
        )


@contextmanager
def no_transaction_rollbacks() -> Iterator[None]:
    """Skip moto's whole-table copy before every TransactWriteItems (its rollback snapshot),
    for tests in which no transaction can be cancelled inside DynamoDB.

    moto deep-copies every table a transaction touches, so a test that commits N moves costs
    O(N²). Here the copy is replaced by a tripwire: if moto ever does roll back, the table is
    replaced by an object that fails the test at its first use, so nothing passes silently.
    """
    import copy
    import types

    import moto.dynamodb.models as models
    from moto.dynamodb.models.table import Table

    def deepcopy(value: Any, memo: Any = None) -> Any:
        if isinstance(value, Table):
            return _RolledBack(value.name)
        return copy.deepcopy(value, memo)

    shim = types.SimpleNamespace(deepcopy=deepcopy, copy=copy.copy)
    original = models.copy
    models.copy = shim  # type: ignore[assignment]
    try:
        yield
    finally:
        models.copy = original
