"""Execution ids: positive 63-bit integers, time-ordered, made without a shared counter.

An id is the milliseconds since 2020-01-01 UTC (41 bits, enough until 2089) followed by 22
random bits. Ids made later compare greater, so sorting by id sorts by recording time, and
two Lambda environments recording in the same millisecond collide once in about four
million. Within one process ids only ever grow (a same-millisecond id takes the last one
plus one), so a batch never repeats an id.

Executions recorded before ids were integers keep their stored text id ``exec-`` + 16 hex
digits; :func:`execution_id_from_text` reads it as a number (the hex value reduced to the
same positive 63-bit range), the same number on every read.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from typing import Final

EPOCH_MS: Final = 1_577_836_800_000  # 2020-01-01T00:00:00Z
RANDOM_BITS: Final = 22
MAX_EXECUTION_ID: Final = 2**63 - 1
# Zero-padded to this width in sort keys, so that text order is numeric order.
EXECUTION_ID_DIGITS: Final = len(str(MAX_EXECUTION_ID))
_LEGACY_ID = re.compile(r"^exec-(?P<hex>[0-9a-f]{1,16})$")

_lock = threading.Lock()
_last_issued = 0


def new_execution_id() -> int:
    """A fresh execution id, greater than every id this process issued before."""
    global _last_issued
    elapsed_ms = time.time_ns() // 1_000_000 - EPOCH_MS
    candidate = (elapsed_ms << RANDOM_BITS) | secrets.randbits(RANDOM_BITS)
    with _lock:
        _last_issued = max(candidate, _last_issued + 1)
        issued = _last_issued
    if not 0 < issued <= MAX_EXECUTION_ID:
        raise OverflowError("execution id outside 63 bits: check the clock")
    return issued


def execution_id_from_text(text: str) -> int:
    """The integer id of a stored text id: decimal digits as they are, a legacy
    ``exec-<hex>`` id as its hex value reduced to 1..2**63-1."""
    if text.isdecimal():
        return int(text)
    legacy = _LEGACY_ID.match(text)
    if legacy is None:
        raise ValueError(f"not an execution id: {text!r}")
    return int(legacy["hex"], 16) % MAX_EXECUTION_ID + 1


def execution_sort_part(execution_id: int) -> str:
    """The id as it goes into a sort key: fixed width, so text order is numeric order."""
    return str(execution_id).zfill(EXECUTION_ID_DIGITS)
