"""The journey log's hash chain (pure: no AWS).

Each entry carries ``previous_hash`` (the ``entry_hash`` of the previous entry of the same
patient and journey, None for the first) and ``entry_hash``: the SHA-256 of its canonical
content, ``previous_hash`` included. The enrollment keeps the latest hash (``log_hash``), so
a move chains its entry to what it read anyway: no extra DynamoDB call. Episodes and
migrations write to the same log, so they continue the same chain.

Canonical content: the entry's fields except ``entry_hash``, those without a value left out
(so a field added later does not change old hashes), timestamps as stored (fixed-width UTC),
as JSON with sorted keys and no spaces, UTF-8.

Entries written before logs were chained carry no hash. They can only be the oldest of a
log: the first chained entry names no previous hash; an unhashed entry after it is invalid.
They are counted as ``unchained`` and cannot be verified.

The chain has no key: it detects an entry changed in place (content), one inserted, removed
or reordered (link), and a rewrite of the newest entries (anchor: the enrollment's hash).
Someone able to rewrite the log *and* the enrollment consistently is not detected by it;
the log's stream alarm (any MODIFY or REMOVE) is the other half.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from journeys_core.clock import format_timestamp
from journeys_core.models.patient import (
    ChainProblem,
    Enrollment,
    InvalidLogEntry,
    JourneyLogEntry,
    LogVerification,
)


def _canonical(value: Any) -> Any:
    return format_timestamp(value) if isinstance(value, datetime) else value


def content_hash(entry: JourneyLogEntry) -> str:
    """The SHA-256 (hex) of the entry's canonical content."""
    values = entry.model_dump(exclude={"entry_hash"}, exclude_none=True)
    text = json.dumps(
        {name: _canonical(value) for name, value in values.items()},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(text.encode()).hexdigest()


def chain_entry(
    entry: JourneyLogEntry, moved: Enrollment, before: Enrollment | None
) -> tuple[JourneyLogEntry, Enrollment]:
    """The entry linked to the latest hash of the enrollment as read (``before``), and the
    moved enrollment keeping the entry's hash. Every writer of log entries goes through it."""
    linked = entry.model_copy(update={"previous_hash": before.log_hash if before else None})
    sealed = linked.model_copy(update={"entry_hash": content_hash(linked)})
    return sealed, moved.model_copy(update={"log_hash": sealed.entry_hash})


def _invalid(entry: JourneyLogEntry, position: int, problem: ChainProblem) -> InvalidLogEntry:
    return InvalidLogEntry(
        entry_id=entry.id, position=position, changed_at=entry.changed_at, problem=problem
    )


def verify_chain(entries: Sequence[JourneyLogEntry], anchor: str | None) -> LogVerification:
    """Walk a log oldest first. ``anchor``: the enrollment's ``log_hash``, read *before* the
    entries (so moves made meanwhile only add entries after it)."""
    unchained = 0
    previous: str | None = None
    chained = False
    anchor_at: int | None = None
    for position, entry in enumerate(entries, start=1):
        if entry.entry_hash is None:
            if chained:
                return _verdict(entries, unchained, _invalid(entry, position, "unchained"))
            unchained += 1
            continue
        chained = True
        if entry.previous_hash != previous:
            return _verdict(entries, unchained, _invalid(entry, position, "link"))
        if content_hash(entry) != entry.entry_hash:
            return _verdict(entries, unchained, _invalid(entry, position, "content"))
        previous = entry.entry_hash
        if entry.entry_hash == anchor:
            anchor_at = position
    if anchor is not None and anchor_at is None:
        # The newest entries are not the ones the enrollment was moved with.
        last = entries[-1] if entries else None
        if last is None:
            return LogVerification(entries=0, valid=False, first_invalid=None, unchained=0)
        return _verdict(entries, unchained, _invalid(last, len(entries), "anchor"))
    return _verdict(entries, unchained, None)


def _verdict(
    entries: Sequence[JourneyLogEntry], unchained: int, invalid: InvalidLogEntry | None
) -> LogVerification:
    return LogVerification(
        entries=len(entries), valid=invalid is None, first_invalid=invalid, unchained=unchained
    )
