"""Make moto behave like AWS where the service and the local stack rely on it.

Transactions: moto 5 backs up a table with ``copy.deepcopy`` once per *item* of a
transaction, so a 100-item transaction on a table of a few thousand items copies the table
100 times (tens of seconds and gigabytes), and it runs transactions from several threads
interleaved, so two conditional transactions can both pass their checks. We copy each table
once per transaction and run transactions one at a time: DynamoDB's own semantics
(serializable, all-or-nothing), at moto's speed.

EventBridge: moto hands an SQS target the event without its ``account`` (and in another key
order than AWS), and delivers to the targets of disabled rules too. We give targets the event
AWS gives them, and only from enabled rules.

DynamoDB Streams: moto keeps every shard iterator it ever handed out, and the local stack's
stream pollers ask for a new one several times a second: iterators now expire 15 minutes
after they were issued, as in DynamoDB Streams, so a long ``make run`` does not grow forever.

Tests, the local stack and the benchmarks apply this.
"""

from __future__ import annotations

import copy
import threading
import time
from types import SimpleNamespace
from typing import Any

_applied = False
_apply_lock = threading.Lock()
_transaction_lock = threading.RLock()

# The event EventBridge delivers to a target without an input transformer, keys in AWS's order.
AWS_EVENT_TEMPLATE = (
    '{"version": "0", "id": "<id>", "detail-type": "<detail-type>", "source": "<source>", '
    '"account": "<account>", "time": <time>, "region": "<region>", "resources": <resources>, '
    '"detail": <detail>}'
)
SHARD_ITERATOR_LIFETIME_SECONDS = 15 * 60


def apply() -> None:
    global _applied
    with _apply_lock:
        if _applied:
            return
        _serialize_transactions()
        _deliver_events_as_aws_does()
        _expire_shard_iterators()
        _applied = True


def _serialize_transactions() -> None:
    from moto.dynamodb import models

    original = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        with _transaction_lock:
            copies: dict[int, tuple[Any, Any]] = {}

            def copy_once(value: Any, memo: Any = None) -> Any:
                if id(value) not in copies:  # keep `value` alive so its id stays unique
                    copies[id(value)] = (value, copy.deepcopy(value, memo))
                return copies[id(value)][1]

            models.copy = SimpleNamespace(deepcopy=copy_once)  # type: ignore[assignment]
            try:
                return original(self, transact_items)
            finally:
                models.copy = copy

    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def _deliver_events_as_aws_does() -> None:
    from moto.events import models, utils

    # The default paths map already extracts "$.account"; only the template left it out.
    utils.EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE = AWS_EVENT_TEMPLATE
    original = models.Rule.send_to_targets

    def send_to_targets(self: Any, original_event: Any, transform_input: bool = True) -> None:
        if getattr(self, "state", "ENABLED") != "ENABLED":
            return  # a disabled rule matches nothing in EventBridge
        original(self, original_event, transform_input)

    models.Rule.send_to_targets = send_to_targets  # type: ignore[method-assign]


def _expire_shard_iterators() -> None:
    from moto.dynamodbstreams import models

    original_init = models.ShardIterator.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.issued_at = time.monotonic()

    models.ShardIterator.__init__ = __init__  # type: ignore[method-assign]

    for name in ("get_shard_iterator", "get_records"):
        original = getattr(models.DynamoDBStreamsBackend, name)

        def pruning(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            _drop_expired_iterators(self.shard_iterators)
            return _original(self, *args, **kwargs)

        setattr(models.DynamoDBStreamsBackend, name, pruning)


def _drop_expired_iterators(iterators: dict[str, Any]) -> None:
    """Iterators are kept in the order they were issued: drop from the oldest while expired."""
    cutoff = time.monotonic() - SHARD_ITERATOR_LIFETIME_SECONDS
    while iterators:
        arn, oldest = next(iter(iterators.items()))
        if getattr(oldest, "issued_at", cutoff - 1) >= cutoff:
            return
        iterators.pop(arn, None)
