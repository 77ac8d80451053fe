"""What a warm container keeps between invocations for a short time: journey definitions for
stage moves, automation rules per trigger, journey identities (name <-> id). One cache, one
``clear()`` (tests start a fresh account per test).

Each caller says how long it trusts a value; a value changed meanwhile is seen after at most
that long. Loaders returning None are not cached unless asked (a journey saved a moment ago
is found at once), and the cache empties itself past a size bound instead of growing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")
MAX_ENTRIES = 4096


class WarmCache:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._entries: dict[Hashable, tuple[float, Any]] = {}

    def get(
        self,
        key: Hashable,
        ttl_seconds: float,
        load: Callable[[], T],
        *,
        keep_none: bool = False,
    ) -> T:
        now = self._clock()
        hit = self._entries.get(key)
        if hit is not None and now - hit[0] < ttl_seconds:
            return hit[1]
        value = load()
        if value is None and not keep_none:
            self._entries.pop(key, None)
            return value
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[key] = (now, value)
        return value

    def forget(self, *keys: Hashable) -> None:
        for key in keys:
            self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()


warm_cache = WarmCache()
