"""Journey definitions as stage moves read them: the current item, kept per warm container for
a short time so that a move costs the enrollment read and its transaction only.

A definition changed meanwhile is seen after at most ``DEFINITION_CACHE_SECONDS``; every log
entry records the ``definition_version`` its move was validated against. Missing definitions
are not cached, so a journey saved a moment ago is found at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from journeys_core.data.definitions import DefinitionsRepository
from journeys_core.data.throttling import throttling_as_unavailable
from journeys_core.models.journey import JourneyRecord


class DefinitionCache:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._entries: dict[tuple[str, str, str], tuple[float, JourneyRecord]] = {}

    def get(
        self, repository: DefinitionsRepository, org: str, key: str, ttl_seconds: float
    ) -> JourneyRecord | None:
        cache_key = (repository.table, org, key)
        now = self._clock()
        hit = self._entries.get(cache_key)
        if hit is not None and now - hit[0] < ttl_seconds:
            return hit[1]
        with throttling_as_unavailable(f"journey {key!r}"):
            record = repository.get_by_name(org, key)
        if record is None:
            self._entries.pop(cache_key, None)
        else:
            self._entries[cache_key] = (now, record)
        return record

    def clear(self) -> None:
        self._entries.clear()


definition_cache = DefinitionCache()
