"""One place that tells the time, so tests and replays can move it."""

from __future__ import annotations

from datetime import UTC, datetime

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_timestamp(moment: datetime) -> str:
    """Fixed-width UTC text, so that string order is time order in DynamoDB sort keys."""
    return moment.astimezone(UTC).strftime(TIMESTAMP_FORMAT)


def now_timestamp() -> str:
    return format_timestamp(utc_now())
