"""The service's EventBridge bus: the only code that puts events on it."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from journeys_core.data import aws


class EventNotPublished(RuntimeError):
    """EventBridge refused the entry (the caller retries: a stream record is re-delivered)."""


def put_event(
    bus_name: str, source: str, detail_type: str, detail: Mapping[str, Any], time: datetime
) -> str:
    """Put one event on the bus; its EventBridge id, or EventNotPublished."""
    response = aws.client("events").put_events(
        Entries=[
            {
                "EventBusName": bus_name,
                "Source": source,
                "DetailType": detail_type,
                "Detail": json.dumps(detail, separators=(",", ":")),
                "Time": time,
            }
        ]
    )
    entry = (response.get("Entries") or [{}])[0]
    if response.get("FailedEntryCount") or "EventId" not in entry:
        raise EventNotPublished(
            f"{detail_type} not published: {entry.get('ErrorCode')} {entry.get('ErrorMessage')}"
        )
    return str(entry["EventId"])


@dataclass(frozen=True)
class BusEntry:
    source: str
    detail_type: str
    detail: Mapping[str, Any]
    time: datetime


@dataclass(frozen=True)
class PutOutcome:
    """One entry's fate: its EventBridge id, or why EventBridge refused it."""

    event_id: str | None
    error: str | None = None


MAX_PUT_EVENTS_ENTRIES = 10


def put_events(bus_name: str, entries: Sequence[BusEntry]) -> list[PutOutcome]:
    """Put up to 10 events on the bus in ONE call; an outcome per entry, in order (a refused
    entry does not fail the others). Errors of the whole call (throttling) propagate."""
    if len(entries) > MAX_PUT_EVENTS_ENTRIES:
        raise ValueError(f"PutEvents takes at most {MAX_PUT_EVENTS_ENTRIES} entries")
    if not entries:
        return []
    response = aws.client("events").put_events(
        Entries=[
            {
                "EventBusName": bus_name,
                "Source": entry.source,
                "DetailType": entry.detail_type,
                "Detail": json.dumps(entry.detail, separators=(",", ":")),
                "Time": entry.time,
            }
            for entry in entries
        ]
    )
    results = response.get("Entries") or []
    outcomes = []
    for index in range(len(entries)):
        result = results[index] if index < len(results) else {}
        if result.get("EventId"):
            outcomes.append(PutOutcome(event_id=str(result["EventId"])))
        else:
            reason = f"{result.get('ErrorCode', 'NoResult')}: {result.get('ErrorMessage', '')}"
            outcomes.append(PutOutcome(event_id=None, error=reason.strip()))
    return outcomes
