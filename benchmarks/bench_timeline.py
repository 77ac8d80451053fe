"""Timeline generation throughput: our compiled engine next to a naive reference engine.

Workload: a 10-event spec (uniform delays, five events with ``depends_on``, two with a
probability below 1, 365 days) generated for 10,000 entities. The reference engine is
written the way an established Python engine does it: a ``random.Random`` seeded per
event and a ``list.sort()`` after every insert. Both run in the same process, one after
the other, best of 3 with ``time.perf_counter``; generation only (compiling is excluded
for ours, and the reference has nothing to compile).

Run alone with ``python -m benchmarks.bench_timeline``, or with the others via ``make bench``.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from benchmarks.rows import Row, row

ROOT = Path(__file__).resolve().parents[1]
ENTITIES = 10_000
# The reference is roughly an order of magnitude slower; a slice of the same entities
# gives a stable rate in a fraction of the time, and rates are per event anyway.
REFERENCE_ENTITIES = 2_000
REPEATS = 3
SEED = 42
START = date(2025, 1, 6)
TARGET_EVENTS_PER_SECOND = 650_000


def _event(
    event_id: str,
    event_type: str,
    days: tuple[int, int],
    depends_on: str | None = None,
    probability: float | None = None,
) -> dict[str, Any]:
    """One event of the workload: a uniform delay of ``days`` (min, max)."""
    event: dict[str, Any] = {
        "event_id": event_id,
        "event_type": event_type,
        "delay": {"min_days": days[0], "max_days": days[1]},
    }
    if depends_on is not None:
        event["depends_on"] = depends_on
    if probability is not None:
        event["probability"] = probability
    return event


WORKLOAD_SPEC: dict[str, Any] = {
    "journey_id": "bench-ten-events",
    "duration_days": 365,
    "events": [
        _event("intake", "encounter", (0, 7)),
        _event("intake-labs", "lab_order", (0, 3), depends_on="intake"),
        _event("first-rx", "prescription_fill", (1, 10), depends_on="intake", probability=0.9),
        _event("follow-up-1", "encounter", (25, 45)),
        _event("follow-up-labs", "lab_order", (0, 5), depends_on="follow-up-1"),
        _event("specialist", "encounter", (30, 60)),
        _event("imaging", "procedure", (3, 21), depends_on="specialist", probability=0.6),
        _event("follow-up-2", "encounter", (60, 90)),
        _event("refill", "prescription_fill", (0, 7), depends_on="follow-up-2"),
        _event("annual-review", "encounter", (90, 120)),
    ],
}


# ------------------------------------------------------------------ reference engine


@dataclass
class _ReferenceEvent:
    event_id: str
    event_type: str
    scheduled_date: date
    day_offset: int


def _reference_generate(spec: dict[str, Any], entity_id: str, start: date, seed: int) -> list:
    """Straightforward engine: fresh RNG per event, timeline kept sorted on every insert."""
    timeline: list[_ReferenceEvent] = []
    dates: dict[str, date] = {}
    happened: dict[str, bool] = {}
    horizon = start + timedelta(days=spec["duration_days"])
    cursor = start
    for event in spec["events"]:
        rng = random.Random(f"{seed}:{entity_id}:{event['event_id']}")
        delay = event.get("delay") or {}
        days = rng.randint(delay.get("min_days", 0), delay.get("max_days", 0))
        target = event.get("depends_on")
        if target is None:
            cursor = cursor + timedelta(days=days)
            when = cursor
            alive = True
        else:
            when = dates[target] + timedelta(days=days)
            alive = happened[target]
        dates[event["event_id"]] = when
        occurs = alive and rng.random() < event.get("probability", 1.0) and when <= horizon
        happened[event["event_id"]] = occurs
        if occurs:
            timeline.append(
                _ReferenceEvent(event["event_id"], event["event_type"], when, (when - start).days)
            )
            timeline.sort(key=lambda item: item.scheduled_date)
    return timeline


# ------------------------------------------------------------------------- measuring


def _best_of(repeats: int, work: Callable[[], int]) -> tuple[float, int]:
    """(best wall time in seconds, events produced by one run)."""
    best = float("inf")
    produced = 0
    for _ in range(repeats):
        began = time.perf_counter()
        produced = work()
        best = min(best, time.perf_counter() - began)
    return best, produced


def _measure_ours(entity_ids: list[str]) -> tuple[float, int]:
    # The layer is imported as Lambda sees it: `shared/` on the path (as the tests do).
    if str(ROOT / "shared") not in sys.path:
        sys.path.insert(0, str(ROOT / "shared"))
    from journeys_core.domain.timeline import TimelinePlan

    plan = TimelinePlan.compile(WORKLOAD_SPEC)
    generate = plan.generate

    def work() -> int:
        return sum(len(generate(entity_id, START, SEED)) for entity_id in entity_ids)

    return _best_of(REPEATS, work)


def _measure_reference(entity_ids: list[str]) -> tuple[float, int]:
    def work() -> int:
        return sum(
            len(_reference_generate(WORKLOAD_SPEC, entity_id, START, SEED))
            for entity_id in entity_ids
        )

    return _best_of(REPEATS, work)


def run() -> list[Row]:
    """Measure both engines on the workload; ratio = ours / reference on every row."""
    entity_ids = [f"patient-{number:06d}" for number in range(ENTITIES)]
    ours_seconds, ours_events = _measure_ours(entity_ids)
    ref_seconds, ref_events = _measure_reference(entity_ids[:REFERENCE_ENTITIES])

    ours_per_entity = ours_events / len(entity_ids)
    workload = f"10 events x {ENTITIES:,} entities, best of {REPEATS}"
    return [
        row(
            f"timeline generation ({workload})",
            ours_events / ours_seconds,
            "events/s",
            f">= {TARGET_EVENTS_PER_SECOND:,} events/s",
            baseline=ref_events / ref_seconds,
        ),
        row(
            "timeline time per entity (lower is better)",
            ours_seconds / len(entity_ids) * 1e6,
            "us/entity",
            f"<= {ours_per_entity / TARGET_EVENTS_PER_SECOND * 1e6:.1f} us",
            baseline=ref_seconds / REFERENCE_ENTITIES * 1e6,
        ),
        row(
            "timeline events per entity (same workload)",
            ours_per_entity,
            "events",
            "about 9.5 of 10 (two events have a probability)",
            baseline=ref_events / REFERENCE_ENTITIES,
        ),
    ]


if __name__ == "__main__":
    from benchmarks.run import render

    print(render(run()))
