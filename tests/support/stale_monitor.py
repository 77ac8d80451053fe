"""Driving the stale monitor in tests: a clock for enrollments, runs at any moment (the
scheduled event's time), and a Lambda context whose remaining time the test decides."""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import invoke
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


def run_monitor(at: datetime = NOW, context: Any = None) -> dict[str, Any]:
    """One scheduled run of the monitor's Lambda handler, "now" being ``at``."""
    module = importlib.import_module("functions.stale_monitor.app")
    result: dict[str, Any] = module.handler(scheduled_event(at), context or MonitorContext())
    return result
