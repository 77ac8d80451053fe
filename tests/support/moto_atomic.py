"""DynamoDB applies each conditional write atomically; moto checks the condition and writes
in two steps, which threads can interleave. Tests that race writes from threads serialize
moto's single-item writes (as local_stack.moto_fixes does for transactions), so that what
they observe is DynamoDB's behaviour, not moto's."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def atomic_item_writes() -> Iterator[None]:
    from moto.dynamodb.responses import DynamoHandler

    lock = threading.RLock()
    originals = {name: getattr(DynamoHandler, name) for name in ("put_item", "update_item")}

    def locked(original: Any) -> Any:
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            with lock:
                return original(self, *args, **kwargs)

        return call

    for name, original in originals.items():
        setattr(DynamoHandler, name, locked(original))
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(DynamoHandler, name, original)
