"""Journey analytics over a large log: items read and time per request for a period holding
100,000 log entries, beside the same figures for a period holding 10,000.

Workload: the retreat journey (9 stages) with 20,000 patients who each made 5 moves, one
entry a minute in time order (100,000 entries over about 69 days, seeded with BatchWriteItem
straight into moto), and 2,000 patients standing in the journey now. The 10,000-entry period
is the last 10,000 minutes of the same log. Each request goes through the real handler on
moto in-process, once each (moto, even patched to read only the queried partition, spends
long on each item it returns): the items read are what DynamoDB would read and
bill; the time is reported twice, as the wall time on moto and as our own time outside the
DynamoDB calls (parsing the pages and the analysis).

Run alone with ``python -m benchmarks.bench_analytics``, or with the others via ``make bench``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.bench_dynamodb_calls import batch_write, call, moto_account
from benchmarks.rows import Row, row

ROOT = Path(__file__).resolve().parents[1]
ORG = "demo"  # the organization of the sample events
KEY = "retreat_ibiza_2025"
PATIENTS = 20_000
MOVES = ("SCREENING_PENDING", "SCREENING_COMPLETED", "AWAITING_PAYMENT", "CONFIRMED")
STANDING = 2_000
START = datetime(2026, 8, 1, tzinfo=UTC)
STEP = timedelta(minutes=1)
LARGE, SMALL = 100_000, 10_000


def _log_items() -> list[dict[str, Any]]:
    from journeys_core.data.journey_log import log_item
    from journeys_core.models.patient import JourneyLogEntry

    path = [None, *MOVES, "PREPARATION_PHASE"]
    items = []
    for index in range(PATIENTS * 5):
        patient, move = divmod(index, 5)
        entry = JourneyLogEntry(
            id=f"jlog-{index:016x}",
            organization_id=ORG,
            patient_id=f"p-{patient:05d}",
            journey_key=KEY,
            from_stage=path[move],
            to_stage=str(path[move + 1]),
            changed_at=START + index * STEP,
            actor="bench",
            definition_version=1,
        )
        items.append(log_item(entry))
    return items


def _enrollment_items(now: datetime) -> list[dict[str, Any]]:
    from journeys_core.clock import format_timestamp
    from journeys_core.data.codec import to_item
    from journeys_core.data.patients import enrollment_sk, patient_pk, stage_pk

    items = []
    for number in range(STANDING):
        patient = f"p-{PATIENTS - STANDING + number:05d}"
        stage = ("AWAITING_PAYMENT", "PREPARATION_PHASE")[number % 2]
        entered = format_timestamp(now - timedelta(hours=number % 200))
        items.append(
            to_item(
                {
                    "pk": patient_pk(ORG, patient),
                    "sk": enrollment_sk(KEY),
                    "stage_pk": stage_pk(ORG, KEY, stage),
                    "organization_id": ORG,
                    "patient_id": patient,
                    "journey_key": KEY,
                    "stage": stage,
                    "entered_at": entered,
                    "enrolled_at": entered,
                    "version": 5,
                    "definition_version": 1,
                }
            )
        )
    return items


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _TimeInDynamoDB:
    """Seconds spent inside DynamoDB calls (here: moto), to tell them from our own time."""

    def __init__(self) -> None:
        from journeys_core.data.aws import dynamodb

        self.seconds = 0.0
        self._began = 0.0
        events = dynamodb().meta.events
        events.register("before-call.dynamodb", self._before)
        events.register("after-call.dynamodb", self._after)

    def _before(self, **_: Any) -> None:
        self._began = time.perf_counter()

    def _after(self, **_: Any) -> None:
        self.seconds += time.perf_counter() - self._began


def _measure(
    counts: Counter[str], start: datetime, end: datetime
) -> tuple[dict[str, Any], float, float]:
    """The answer, the request's wall time and the part of it outside DynamoDB calls."""
    in_dynamodb = _TimeInDynamoDB()
    counts.clear()
    began = time.perf_counter()
    response = call(
        "analytics",
        "analytics/journey-analytics",
        query={"from": _iso(start), "to": _iso(end)},
    )
    seconds = time.perf_counter() - began
    assert response["statusCode"] == 200, response
    assert counts["Scan"] == 0
    return json.loads(response["body"]), seconds, seconds - in_dynamodb.seconds


def run() -> list[Row]:
    sys.path[:0] = [str(ROOT / "shared"), str(ROOT)]
    with moto_account() as counts:
        builtin = json.loads((ROOT / f"shared/journeys_core/builtins/{KEY}.json").read_text())
        saved = call(
            "journeys",
            "journeys/save-journey",
            body={"name": KEY, "journey_spec": builtin["journey_spec"]},
        )
        assert saved["statusCode"] == 201, saved
        last = START + (PATIENTS * 5 - 1) * STEP
        batch_write(os.environ["JOURNEY_LOG_TABLE_NAME"], _log_items())
        batch_write(os.environ["PATIENTS_TABLE_NAME"], _enrollment_items(last))
        print("analytics bench: seeded; measuring", file=sys.stderr)
        small, small_seconds, small_ours = _measure(counts, last - (SMALL - 1) * STEP, last)
        large, large_seconds, large_ours = _measure(counts, START, last)
    assert large["reads"]["log_items"] == LARGE, large["reads"]
    assert small["reads"]["log_items"] == SMALL, small["reads"]
    return [
        row(
            "analytics: log items read, 100,000-entry period (vs 10,000)",
            large["reads"]["log_items"],
            "items",
            "= entries in the period",
            baseline=small["reads"]["log_items"],
        ),
        row(
            "analytics: enrollment items read, either period",
            large["reads"]["enrollment_items"],
            "items",
            "= patients standing now",
        ),
        row(
            "analytics: DynamoDB Query calls, 100,000-entry period (vs 10,000)",
            large["reads"]["queries"],
            "calls",
            "stages + 1 per 1 MB page of log",
            baseline=small["reads"]["queries"],
        ),
        row(
            "analytics: our time per request (outside DynamoDB), 100,000 (vs 10,000)",
            large_ours * 1000,
            "ms",
            "~ linear, < 29 s timeout",
            baseline=small_ours * 1000,
        ),
        row(
            "analytics: wall time per request on moto, 100,000 (vs 10,000)",
            large_seconds * 1000,
            "ms",
            "moto's Query is slow",
            baseline=small_seconds * 1000,
        ),
    ]


if __name__ == "__main__":
    from benchmarks.run import render

    print(render(run()))
