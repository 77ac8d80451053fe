"""The stale-journey monitor at scale: what it reads and how long it runs, as the number of
enrollments grows with the number of stuck ones fixed, and as the stuck ones grow.

Workload: the built-in journeys (seven stale rules) imported for one organization through
the API; enrollments written straight into moto with BatchWriteItem (the items
``commit_stage_change`` writes), spread evenly over the seven rule stages; the stuck ones
entered their stage a week past the longest rule, the others an hour ago. So every
enrollment sits in a partition the monitor queries: only the key condition on
``entered_at`` keeps the fresh ones out. One scheduled run of the Lambda handler each.

Figures per run: enrollment items the monitor's Queries return (DynamoDB bills reads, and
spends time, per item returned), DynamoDB calls, PutEvents calls, the run's wall time on
moto, and the part of it spent in the monitor's own code (the wall time minus the time
inside AWS calls). moto (patched by aws_sim/moto_patches.py) reads only the queried
index partition, but its cost per item returned is high; the monitor's own time and the
items it reads are what it controls.

Run alone with ``python -m benchmarks.bench_monitor``, or with the others via ``make bench``.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.bench_dynamodb_calls import BenchContext, batch_write, call, moto_account
from benchmarks.rows import Row, row

ROOT = Path(__file__).resolve().parents[1]
ORG = "demo"  # the organization of the sample events
NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
RULE_STAGES = [
    ("retreat_ibiza_2025", "AWAITING_PAYMENT"),
    ("retreat_ibiza_2025", "PREPARATION_PHASE"),
    ("carta_natal", "AWAITING_BIRTH_DATA"),
    ("despertar_8s", "ONBOARDING"),
    ("despertar_8s", "DEEP_DIVE"),
    ("yoga_urban_om", "AWAITING_WAIVER"),
    ("intake", "AWAITING_PAYMENT"),
]
STUCK_AGE = timedelta(hours=336 + 168)
FRESH_AGE = timedelta(hours=1)
# Five minutes left on every call: the runs are measured, never cut short.
MONITOR_CONTEXT = BenchContext(remaining_ms=300_000, function_name="bench-stale-monitor")
# Row (c) measures this many stuck (all of them) on moto and works 100,000 out from it.
FANOUT_STUCK = 2_000


@dataclass(frozen=True)
class Measured:
    enrollments: int
    stuck: int
    emitted: int
    items_read: int
    dynamodb_calls: int
    scans: int
    put_events_calls: int
    wall_seconds: float
    own_seconds: float
    # The next hour's run: the same stuck enrollments, all within their 24 hours.
    repeat_dynamodb_calls: int
    repeat_emitted: int


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _seed(table: str, enrollments: int, stuck: int) -> None:
    """``enrollments`` items, the first ``stuck`` of them stuck, 25 per BatchWriteItem."""
    items: list[dict[str, Any]] = []
    for n in range(enrollments):
        journey, stage = RULE_STAGES[n % len(RULE_STAGES)]
        age = STUCK_AGE if n < stuck else FRESH_AGE
        entered = _timestamp(NOW - age - timedelta(milliseconds=n))
        patient = f"p-{n:06d}"
        item = {
            "pk": f"ORG#{ORG}#PATIENT#{patient}",
            "sk": f"ENROLLMENT#{journey}",
            "organization_id": ORG,
            "patient_id": patient,
            "journey_key": journey,
            "stage": stage,
            "entered_at": entered,
            "enrolled_at": entered,
            "version": "1",
            "definition_version": "1",
            "stage_pk": f"ORG#{ORG}#J#{journey}#S#{stage}",
        }
        items.append(
            {k: ({"N": v} if k.endswith("version") else {"S": v}) for k, v in item.items()}
        )
    batch_write(table, items)


def measure(enrollments: int, stuck: int) -> Measured:
    """One monitor run over a fresh account holding ``enrollments`` (``stuck`` of them)."""
    import os

    import boto3

    with moto_account() as dynamodb_counts:
        assert call("journeys", "journeys/import-builtin")["statusCode"] == 200
        _seed(os.environ["PATIENTS_TABLE_NAME"], enrollments, stuck)

        from journeys_core.data.aws import client, dynamodb

        counts: Counter[str] = Counter()
        in_aws = [0.0]
        started: dict[int, float] = {}

        def before(**kwargs: Any) -> None:
            started[id(kwargs.get("context"))] = time.perf_counter()

        def after(**kwargs: Any) -> None:
            began = started.pop(id(kwargs.get("context")), None)
            if began is not None:
                in_aws[0] += time.perf_counter() - began

        def returned(parsed: dict[str, Any], **_: Any) -> None:
            counts["items"] += int(parsed.get("Count", 0))

        for service in (dynamodb(), client("events")):
            service.meta.events.register("before-call", before)
            service.meta.events.register("after-call", after)
        dynamodb().meta.events.register("after-call.dynamodb.Query", returned)
        client("events").meta.events.register(
            "before-call.events.PutEvents", lambda **_: counts.update(["put_events"])
        )
        boto3.client("events")  # warm the factory so the run measures the monitor only
        dynamodb_counts.clear()
        in_aws[0] = 0.0
        began = time.perf_counter()
        result = scheduled_run(NOW)
        wall = time.perf_counter() - began
        own = wall - in_aws[0]
        definitions_read = 5  # the watched built-ins' versions, from the ByStaleRules index
        items_read = counts["items"] - definitions_read
        first_calls = sum(dynamodb_counts.values())
        scans = dynamodb_counts["Scan"]
        dynamodb_counts.clear()
        repeat = scheduled_run(NOW + timedelta(hours=1))
        return Measured(
            enrollments=enrollments,
            stuck=stuck,
            emitted=result.emitted,
            items_read=items_read,
            dynamodb_calls=first_calls,
            scans=scans + dynamodb_counts["Scan"],
            put_events_calls=counts["put_events"],
            wall_seconds=wall,
            own_seconds=own,
            repeat_dynamodb_calls=sum(dynamodb_counts.values()),
            repeat_emitted=repeat.emitted,
        )


@dataclass(frozen=True)
class ScheduledRun:
    """One scheduled run: the planner, then every unit it queued through the worker."""

    units: int
    invocations: int
    emitted: int
    processed: int
    # The longest worker invocation, and the most stuck enrollments one unit examined.
    longest_invocation_seconds: float
    largest_unit: int


def scheduled_run(at: datetime) -> ScheduledRun:
    """The planner's handler for ``at``, then each message of the work queue handed to the
    worker's ``run_unit`` as its handler does (continuations included), one at a time."""
    import importlib
    import json

    import boto3

    from journeys_core.domain.stale_monitor import UnitMessage
    from journeys_core.services.stale_fanout import run_unit
    from journeys_core.settings import get_settings

    planner = importlib.import_module("functions.stale_monitor.app")
    event = {"time": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "detail-type": "Scheduled Event"}
    units = int(planner.handler(event, MONITOR_CONTEXT)["units"])
    sqs, url = boto3.client("sqs"), get_settings().stale_units_queue_url
    per_unit: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    seconds: list[float] = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1).get("Messages"):
        (message,) = messages
        unit = UnitMessage.from_json(json.loads(message["Body"]))
        began = time.perf_counter()
        result = run_unit(unit, MONITOR_CONTEXT.get_remaining_time_in_millis)
        seconds.append(time.perf_counter() - began)
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        totals.update(emitted=result.emitted, processed=result.processed)
        per_unit[unit.watch.unit_id] += result.processed
    return ScheduledRun(
        units,
        len(seconds),
        totals["emitted"],
        totals["processed"],
        max(seconds, default=0.0),
        max(per_unit.values(), default=0),
    )


@dataclass(frozen=True)
class FannedOut:
    stuck: int
    run: ScheduledRun
    items_read: int
    wall_seconds: float


def measure_fanout(stuck: int) -> FannedOut:
    """One scheduled run over ``stuck`` enrollments, every one of them stuck, spread over the
    seven watched stages."""
    import os

    with moto_account():
        assert call("journeys", "journeys/import-builtin")["statusCode"] == 200
        _seed(os.environ["PATIENTS_TABLE_NAME"], stuck, stuck)

        from journeys_core.data.aws import dynamodb

        items = [0]

        def returned(parsed: dict[str, Any], **_: Any) -> None:
            items[0] += int(parsed.get("Count", 0))

        dynamodb().meta.events.register("after-call.dynamodb.Query", returned)
        began = time.perf_counter()
        run = scheduled_run(NOW)
        wall = time.perf_counter() - began
        return FannedOut(stuck, run, items[0] - 5, wall)  # less the 5 watched versions


def fanout_rows(stuck: int = FANOUT_STUCK, target: int = 100_000) -> list[Row]:
    """Row (c): units and items read for ``stuck`` stuck enrollments measured on moto, and the
    same run for ``target`` stuck worked out from it (units and items read do not depend on
    moto; the time per stuck enrollment does, so the extrapolation says so)."""
    m = measure_fanout(stuck)
    assert m.run.emitted == stuck, "every stuck one times out once"
    per_item = m.wall_seconds / stuck
    budget = MONITOR_CONTEXT.remaining_ms / 1000 - 20  # the worker's stop margin
    per_unit_at_target = -(-target // len(RULE_STAGES))
    label = f"{stuck:,} stuck, measured on moto"
    return [
        row(f"stale monitor fan-out: units ({label})", m.run.units, "units", "= watched stages"),
        row(
            f"stale monitor fan-out: items read / stuck ({label})",
            m.items_read / stuck,
            "ratio",
            "= 1",
        ),
        row(
            f"stale monitor fan-out: worker invocations ({label})",
            m.run.invocations,
            "calls",
            ">= units",
        ),
        row(
            f"stale monitor fan-out: largest unit ({label})",
            m.run.largest_unit,
            "items",
            "~ stuck / units",
        ),
        row(
            f"stale monitor fan-out: longest invocation on moto ({label})",
            m.run.longest_invocation_seconds,
            "s",
            f"<= {budget:.0f} s budget",
        ),
        row(
            f"stale monitor fan-out: time per stuck enrollment on moto ({label})",
            per_item * 1000,
            "ms",
            "moto: per write",
        ),
        row(
            f"stale monitor fan-out: units ({target:,} stuck, same 7 stages)",
            len(RULE_STAGES),
            "units",
            "independent",
        ),
        row(
            f"stale monitor fan-out: items read ({target:,} stuck)",
            target,
            "items",
            "= stuck (key condition)",
        ),
        row(
            f"stale monitor fan-out: largest unit ({target:,} stuck)",
            per_unit_at_target,
            "items",
            "extrapolated",
        ),
        row(
            f"stale monitor fan-out: invocations for the largest unit on moto ({target:,})",
            -(-per_unit_at_target * per_item // budget),
            "calls",
            "extrapolated: continuations",
        ),
    ]


def run() -> list[Row]:
    sys.path[:0] = [str(ROOT / "shared"), str(ROOT)]
    fixed_stuck = 500
    by_size = [measure(n, fixed_stuck) for n in (10_000, 50_000, 100_000)]
    by_stuck = [measure(50_000, s) for s in (250, 1_000)]
    spec = by_size[1]  # 50,000 enrollments, 1% stuck
    every = by_size + by_stuck
    assert all(m.emitted == m.stuck for m in every), "every stuck one times out"
    assert all(m.repeat_emitted == 0 for m in every), "nobody twice within 24 hours"
    rows = [
        row(
            "stale monitor: enrollments read / stuck (50,000 enrollments, 1% stuck)",
            spec.items_read / spec.stuck,
            "ratio",
            "<= 1.1",
        ),
        row(
            "stale monitor: DynamoDB calls per stuck enrollment (50,000, 1% stuck)",
            spec.dynamodb_calls / spec.stuck,
            "calls",
            "<= 2",
        ),
        row(
            "stale monitor: PutEvents calls per 10 timeouts (50,000, 1% stuck)",
            spec.put_events_calls * 10 / spec.emitted,
            "calls",
            "~ 1",
        ),
        row(
            "stale monitor: DynamoDB calls per stuck enrollment, next hour (nothing due)",
            spec.repeat_dynamodb_calls / spec.stuck,
            "calls",
            "<< 1",
        ),
        row("stale monitor: Scan calls", sum(m.scans for m in every), "calls", "= 0"),
        *fanout_rows(),
    ]
    base = by_size[0]
    for m in by_size:
        label = f"{m.enrollments:,} enrollments, {m.stuck} stuck"
        rows += [
            row(f"stale monitor: items read ({label})", m.items_read, "items", "= stuck"),
            row(
                f"stale monitor: own time ({label})",
                m.own_seconds,
                "s",
                "flat in enrollments",
                baseline=base.own_seconds,
            ),
            row(
                f"stale monitor: wall time on moto ({label})",
                m.wall_seconds,
                "s",
                "moto: per item returned",
                baseline=base.wall_seconds,
            ),
        ]
    low = by_stuck[0]
    for m in (by_stuck[0], spec, by_stuck[1]):
        label = f"50,000 enrollments, {m.stuck} stuck"
        rows.append(
            row(
                f"stale monitor: own time ({label})",
                m.own_seconds,
                "s",
                "grows with stuck",
                baseline=low.own_seconds,
            )
        )
    return rows


if __name__ == "__main__":
    from benchmarks.run import render

    print(render(run()))
