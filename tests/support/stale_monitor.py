"""Driving the stale monitor in tests: a clock for enrollments, runs at any moment (the
scheduled event's time: the planner, then its units through the worker as Lambda's SQS
event source hands them over), and a Lambda context whose remaining time the test decides."""

from __future__ import annotations

import importlib
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import invoke
from tests.support.automation import Pipeline, queue_pipeline
from tests.support.events import api_event, load_sample
from tests.support.patients import move

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
TIMEOUT_PATTERN = {"source": ["journeys.service"], "detail-type": ["JOURNEY_STAGE_TIMEOUT"]}


def import_builtins(org: str = "org-a") -> None:
    """The built-in journeys (the five archetypes bring the seven stale rules)."""
    result = invoke("journeys", api_event("journeys/import-builtin", org=org))
    assert result.status == 200, result.body


class Clock:
    """The time stage moves are made at (``journeys_core.services.patients.utc_now``)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, origin: datetime = NOW) -> None:
        from journeys_core.services import patients

        self.origin = self.now = origin
        monkeypatch.setattr(patients, "utc_now", lambda: self.now)

    def enroll(
        self, patient_id: str, key: str, stage: str, hours_ago: float, org: str = "org-a"
    ) -> None:
        """Put the patient in ``stage`` as of ``hours_ago`` hours before the origin."""
        self.now = self.origin - timedelta(hours=hours_ago)
        result = move(patient_id, stage, key=key, org=org)
        assert result.status == 200, result.body
        self.now = self.origin


class MonitorContext:
    """A Lambda context with plenty of time, or with the remaining times given, one per
    question (the last one repeats)."""

    function_name = "journeys-test-stale-monitor"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:stale-monitor"
    aws_request_id = "00000000-0000-0000-0000-000000000005"

    def __init__(self, remaining_ms: Iterable[int] = (300_000,)) -> None:
        self.remaining = list(remaining_ms)

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining.pop(0) if len(self.remaining) > 1 else self.remaining[0]


def scheduled_event(at: datetime) -> dict[str, Any]:
    event = load_sample("stale_monitor/hourly-check")
    event["time"] = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return event


def unit_pipeline() -> Pipeline:
    """The monitor's work queue and the worker function it feeds."""
    return queue_pipeline("StaleUnitsQueue", "StaleUnitsDeadLetterQueue", "stale_worker")


def run_monitor(
    at: datetime = NOW, context: Any = None, max_invocations: int = 200
) -> dict[str, Any]:
    """One scheduled run, "now" being ``at``: the planner's Lambda handler, then every unit
    (and continuation) it queued through the worker's, ``context`` for the first worker
    invocation. What the units did, added up, with the planner's count of units."""
    planner = importlib.import_module("functions.stale_monitor.app")
    plan = planner.handler(scheduled_event(at), MonitorContext())
    units = unit_pipeline()
    if context is not None:
        units.contexts.append(context)
    worker = importlib.import_module("functions.stale_worker.app")
    run_unit = worker.run_unit
    results: list[Any] = []

    def recorded(*args: Any, **kwargs: Any) -> Any:
        results.append(run_unit(*args, **kwargs))
        return results[-1]

    worker.run_unit = recorded  # the handler answers batch item failures only
    try:
        invocations = units.drain(max_invocations)
    finally:
        worker.run_unit = run_unit
    triggered: Counter[str] = Counter()
    for result in results:
        triggered.update(result.rules_triggered)
    return {
        "units": plan["units"],
        "invocations": invocations,
        "failed": sum(len(d["batchItemFailures"]) for d in units.deliveries),
        "dead_letters": len(units.dead_letters()),
        "processed": sum(r.processed for r in results),
        "emitted": sum(r.emitted for r in results),
        "rules_triggered": dict(sorted(triggered.items())),
        "complete": all(r.complete for r in results),
    }
