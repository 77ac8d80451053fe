"""Keeping journey rollups: each batch of the journey log's stream becomes one set of counter
increments (journeys_core.domain.journey_rollups), applied once per batch.

Counters are not idempotent, so a batch is applied all at once, in transactions that each
also write a marker of the batch (named from its record ids) on condition it is new: Lambda
retrying the batch (Lambda retries a failed stream batch whole, the same records) changes
nothing. An entry that cannot be read is skipped and reported, never retried: one bad
record must not hold the shard.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from journeys_core.clock import utc_now
from journeys_core.data import repositories
from journeys_core.data.journey_log import entry_from_values
from journeys_core.domain.journey_rollups import RollupDeltas


@dataclass(frozen=True)
class RollupOutcome:
    entries: int
    updates: int
    unreadable: list[str]


def roll_up_log_entries(records: Sequence[tuple[str, Mapping[str, Any]]]) -> RollupOutcome:
    """``records``: (stream record id, NewImage) of the batch's inserted log entries."""
    deltas = RollupDeltas()
    unreadable: list[str] = []
    for record_id, image in records:
        try:
            entry = entry_from_values(image)
        except ValueError:
            unreadable.append(record_id)
            continue
        deltas.add_entry(entry)
    batch_id = hashlib.sha256("|".join(r for r, _ in records).encode()).hexdigest()
    rollups = repositories.journey_rollups()
    updates = rollups.apply(deltas, batch_id, utc_now()) if deltas.counters else 0
    return RollupOutcome(len(records) - len(unreadable), updates, unreadable)
