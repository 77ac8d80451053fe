"""Journey rollups: the counters analytics reads instead of the journey log (pure: no AWS).

The log's stream consumer turns each batch of new log entries into counter increments,
summed over the batch, so that each counter gets one update per batch however many moves
touched it. Per (organization, journey, stage) there are:

- one **day** item per UTC day, about the stays that *began* that day in the stage:
  ``entries`` (moves into it), ``enrolled`` (of them, first enrollments and new episodes),
  ``ended`` (of them, stays that a later move closed), ``h#{bucket}`` (how long the ended
  ones lasted: a log-scale histogram), ``to#{stage}`` (where the ended ones went) and
  ``standing#{hour}`` (of those that began in that hour of the day, how many still stand
  there: +1 on entry, -1 when they leave);
- one **live** item: ``count``, who stands in the stage now.

A stay is closed by one entry: each entry carries ``from_entered_at`` (when the patient
entered the stage it leaves), so the day item the stay began in is known without reading
anything. Entries from before ``from_entered_at`` existed close no stay (the live count
still moves).

The histogram buckets grow by ``GAMMA`` (DDSketch's mapping): a duration is reported as its
bucket's midpoint 2γⁱ/(γ+1), within (γ-1)/(γ+1) ≈ 4.8% of the true value, so quantiles
read from it are within ±5% of the exact ones.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from journeys_core.models.patient import JourneyLogEntry

GAMMA = 1.1
_LOG_GAMMA = math.log(GAMMA)
LIVE = "LIVE"
DAY_PREFIX = "DAY#"
ENTRIES, ENROLLED, ENDED, COUNT = "entries", "enrolled", "ended", "count"
HISTOGRAM_PREFIX, CONVERSION_PREFIX, STANDING_PREFIX = "h#", "to#", "standing#"


def duration_bucket(seconds: float) -> int:
    """The histogram bucket of a duration: 0 for a second or less, else ⌈log_γ(seconds)⌉
    (bucket i holds (γⁱ⁻¹, γⁱ] seconds)."""
    if seconds <= 1:
        return 0
    return max(1, math.ceil(math.log(seconds) / _LOG_GAMMA - 1e-12))


def bucket_hours(bucket: int) -> float:
    """The duration a bucket stands for, in hours (its midpoint 2γⁱ/(γ+1))."""
    if bucket <= 0:
        return 0.0
    return 2 * GAMMA**bucket / (GAMMA + 1) / 3600


def day_slot(day: date) -> str:
    return f"{DAY_PREFIX}{day.isoformat()}"


@dataclass(frozen=True)
class RollupKey:
    """One rollup item: a stage's day item (``slot`` ``DAY#yyyy-mm-dd``) or live item."""

    org: str
    journey_key: str
    stage: str
    slot: str


@dataclass
class RollupDeltas:
    """A batch's increments: per item, per counter (never zero); and per (org, journey) the
    stages its entries named (so analytics also finds stages a definition dropped)."""

    counters: dict[RollupKey, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    stages: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))

    def _add(self, key: RollupKey, counter: str, amount: int = 1) -> None:
        self.counters[key][counter] += amount

    def add_entry(self, entry: JourneyLogEntry) -> None:
        org, key, to_stage = entry.organization_id, entry.journey_key, entry.to_stage
        entered = entry.changed_at
        day = RollupKey(org, key, to_stage, day_slot(entered.date()))
        self._add(day, ENTRIES)
        if entry.from_stage is None:
            self._add(day, ENROLLED)
        self._add(day, f"{STANDING_PREFIX}{entered.hour:02d}")
        self._add(RollupKey(org, key, to_stage, LIVE), COUNT)
        self.stages[(org, key)].add(to_stage)
        left = entry.from_stage or entry.reentered_from
        if left is None:
            return
        self._add(RollupKey(org, key, left, LIVE), COUNT, -1)
        began = entry.from_entered_at
        if began is None:
            return  # written before entries said when the stay began
        stay = RollupKey(org, key, left, day_slot(began.date()))
        self._add(stay, f"{STANDING_PREFIX}{began.hour:02d}", -1)
        if entry.from_stage is not None:  # a new episode leaves a final stage: no conversion
            self._add(stay, ENDED)
            lasted = (entered - began).total_seconds()
            self._add(stay, f"{HISTOGRAM_PREFIX}{duration_bucket(lasted)}")
            self._add(stay, f"{CONVERSION_PREFIX}{to_stage}")

    def nonzero(self) -> dict[RollupKey, dict[str, int]]:
        """The items to update and their counters, without increments that cancelled out."""
        result = {}
        for key, counters in self.counters.items():
            kept = {name: amount for name, amount in counters.items() if amount}
            if kept:
                result[key] = kept
        return result


def rollup_deltas(entries: Iterable[JourneyLogEntry]) -> RollupDeltas:
    deltas = RollupDeltas()
    for entry in entries:
        deltas.add_entry(entry)
    return deltas


@dataclass(frozen=True)
class StageDay:
    """A stage's day item as read: the stays that began that day."""

    day: date
    counters: Mapping[str, int]

    def get(self, name: str) -> int:
        return int(self.counters.get(name, 0))

    def prefixed(self, prefix: str) -> dict[str, int]:
        return {
            name[len(prefix) :]: int(amount)
            for name, amount in self.counters.items()
            if name.startswith(prefix)
        }

    def standing_since(self, moment: datetime) -> int:
        """Of the stays that began this day, those standing now that began in or after the
        hour of ``moment``."""
        start = datetime(self.day.year, self.day.month, self.day.day, tzinfo=moment.tzinfo)
        first = moment.replace(minute=0, second=0, microsecond=0)
        return sum(
            amount
            for hour, amount in self.prefixed(STANDING_PREFIX).items()
            if start + timedelta(hours=int(hour)) >= first
        )
