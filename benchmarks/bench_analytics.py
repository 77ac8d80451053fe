"""Journey analytics from rollups: items read per request for a 30-day period holding
10,000 log entries, beside the same period holding 100,000.

Workload: two journeys with the retreat's 9 stages; in each, patients enroll evenly over the
first 24 of the same 30 days and move on every 36 hours, 4 times (5 entries a patient, from
2,000 patients for 10,000 entries, from 20,000 for 100,000), each entry carrying when the
stay it closes began. The entries go through the rollups' real code path
(``roll_up_log_entries``) in batches of 100 in time order, as the log's stream delivers
them, on moto; then each journey's analytics are asked once for the 30 days. The items read
are what DynamoDB would read and bill; the rollup updates per batch are the write cost.

Run alone with ``python -m benchmarks.bench_analytics``, or with the others via ``make bench``.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.bench_dynamodb_calls import call, moto_account
from benchmarks.rows import Row, row

ROOT = Path(__file__).resolve().parents[1]
ORG = "demo"  # the organization of the sample events
KEY = "retreat_ibiza_2025"
PATH = (None, "SCREENING_PENDING", "SCREENING_COMPLETED", "AWAITING_PAYMENT", "CONFIRMED")
PATH_END = "PREPARATION_PHASE"
START = datetime(2026, 8, 1, tzinfo=UTC)
PERIOD = timedelta(days=30)
SMALL, LARGE = 10_000, 100_000
BATCH = 100  # the rollups function's stream batch size
MOVE_EVERY = timedelta(hours=36)


def _entries(journey_key: str, total: int) -> list[Any]:
    """``total`` entries, 5 a patient: patients enroll evenly over the first 24 days and move
    on every 36 hours (so every stage has stays on most days), in time order."""
    from journeys_core.models.patient import JourneyLogEntry

    patients = total // 5
    stages = [*PATH, PATH_END]
    entries = []
    for number in range(patients):
        enrolled = START + PERIOD * 0.8 * number / patients
        for move in range(5):
            entries.append(
                JourneyLogEntry(
                    id=f"jlog-{journey_key}-{number:06d}-{move}",
                    organization_id=ORG,
                    patient_id=f"p-{number:06d}",
                    journey_key=journey_key,
                    from_stage=stages[move],
                    to_stage=str(stages[move + 1]),
                    changed_at=enrolled + move * MOVE_EVERY,
                    actor="bench",
                    definition_version=1,
                    from_entered_at=enrolled + (move - 1) * MOVE_EVERY if move else None,
                )
            )
    return sorted(entries, key=lambda entry: entry.changed_at)


def _roll_up(entries: list[Any]) -> list[int]:
    """The entries through the stream consumer's code, batch by batch; updates per batch."""
    from journeys_core.data.codec import from_item
    from journeys_core.data.journey_log import log_item
    from journeys_core.services.journey_rollups import roll_up_log_entries

    updates = []
    for first in range(0, len(entries), BATCH):
        batch = entries[first : first + BATCH]
        images = [(entry.id, from_item(log_item(entry))) for entry in batch]
        updates.append(roll_up_log_entries(images).updates)
    return updates


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _measure(counts: Counter[str], journey_key: str) -> tuple[dict[str, Any], float]:
    """The answer and the request's wall time."""
    counts.clear()
    began = time.perf_counter()
    response = call(
        "analytics",
        "analytics/journey-analytics",
        query={"from": _iso(START), "to": _iso(START + PERIOD)},
        path={"key": journey_key},
    )
    seconds = time.perf_counter() - began
    assert response["statusCode"] == 200, response
    assert counts["Scan"] == 0
    return json.loads(response["body"]), seconds


def run() -> list[Row]:
    # the analytics function imports its static_assets module from its own directory
    sys.path[:0] = [str(ROOT / "shared"), str(ROOT), str(ROOT / "functions" / "analytics")]
    from journeys_core.services import analytics

    builtin = json.loads((ROOT / f"shared/journeys_core/builtins/{KEY}.json").read_text())
    measured: dict[int, tuple[dict[str, Any], float, list[int]]] = {}
    with moto_account() as counts:
        analytics.utc_now = lambda: START + PERIOD
        for total in (SMALL, LARGE):
            key = f"retreat-{total}"
            saved = call(
                "journeys",
                "journeys/save-journey",
                body={"name": key, "journey_spec": builtin["journey_spec"]},
            )
            assert saved["statusCode"] == 201, saved
            updates = _roll_up(_entries(key, total))
            print(f"analytics bench: {total} entries rolled up; measuring", file=sys.stderr)
            answer, seconds = _measure(counts, key)
            assert sum(s["entries"] for s in answer["stages"]) == total, answer["stages"]
            measured[total] = (answer, seconds, updates)
    (small, small_seconds, small_updates) = measured[SMALL]
    (large, large_seconds, large_updates) = measured[LARGE]

    def items(answer: dict[str, Any]) -> int:
        return int(answer["reads"]["log_items"] + answer["reads"]["enrollment_items"])

    return [
        row(
            "analytics: items read, 30 days of 100,000 entries (vs 10,000)",
            items(large),
            "items",
            "ratio <= 1.2 (about stages x days)",
            baseline=items(small),
        ),
        row(
            "analytics: DynamoDB calls, 100,000-entry period (vs 10,000)",
            large["reads"]["queries"] + 1,
            "calls",
            "stages + 2, and the definition",
            baseline=small["reads"]["queries"] + 1,
        ),
        row(
            "rollups: item updates per stream batch of 100 entries, 100,000 (vs 10,000)",
            sum(large_updates) / len(large_updates),
            "updates",
            "one per counter item touched, never one per move",
            baseline=sum(small_updates) / len(small_updates),
        ),
        row(
            "analytics: wall time per request on moto, 100,000 (vs 10,000)",
            large_seconds * 1000,
            "ms",
            "independent of moves",
            baseline=small_seconds * 1000,
        ),
    ]


if __name__ == "__main__":
    from benchmarks.run import render

    print(render(run()))
