"""Make moto's DynamoDB transactions behave like DynamoDB's under load.

moto 5 backs up a table with ``copy.deepcopy`` once per *item* of a transaction, so a
100-item transaction on a table of a few thousand items copies the table 100 times (tens of
seconds and gigabytes), and it runs transactions from several threads interleaved, so two
conditional transactions can both pass their checks. We copy each table once per
transaction and run transactions one at a time: DynamoDB's own semantics (serializable,
all-or-nothing), at moto's speed. Tests, the local stack and the benchmarks apply this.
"""

from __future__ import annotations

import copy
import threading
from types import SimpleNamespace
from typing import Any

_applied = False
_transaction_lock = threading.RLock()


def apply() -> None:
    global _applied
    if _applied:
        return
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
    _applied = True
