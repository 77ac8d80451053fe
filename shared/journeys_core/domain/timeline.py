"""Timeline engine: turn a journey spec's ``events`` into dated events for one entity.

Pure Python, stdlib only, no AWS. A spec is compiled once into a :class:`TimelinePlan`
(every per-event decision made up front, stored in flat tuples) and the plan generates
timelines for many entities with a tight loop.

Semantics, in short:

* Events are read in spec order. An event without ``depends_on`` is offset from the
  previous independent event, so independent delays accumulate (the first is offset from
  ``start_date``). An event with ``depends_on`` is offset from the first occurrence of the
  event it names, and happens only if that occurrence happened.
* ``probability`` (default 1) decides whether an occurrence happens. A skipped
  independent event still moves the chain on: time passes whether or not the visit did.
* ``repeat: {every_days, max_occurrences?}`` repeats an event at fixed intervals after its
  first occurrence while it stays within ``duration_days``; each occurrence has its own
  probability draw. Dependents hang on the first occurrence only.
* Nothing after ``duration_days`` is emitted (day ``duration_days`` itself is).

Determinism: every random draw is a pure function of
``(seed, entity_id, event_id, occurrence)``, and each purpose (delay, probability) reads
its own bits of it. The entity part is hashed once per call (blake2b), the event part
once per plan, and the two are combined with the splitmix64 finalizer. Nothing depends
on the process (no ``hash()``), on other entities or on call order, so the same request
gives the same dates on any machine, alone or in a batch.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from statistics import NormalDist
from typing import Any

from journeys_core.domain.dependencies import (
    depends_on_of as _depends_on,
)
from journeys_core.domain.dependencies import (
    event_ids as _event_ids,
)
from journeys_core.domain.dependencies import (
    find_dependency_problems,
)

__all__ = [
    "MAX_EVENTS_PER_ENTITY",
    "ScheduledEvent",
    "TimelinePlan",
    "TimelineTooLarge",
    "events_per_entity_bound",
    "find_dependency_problems",
]

_MASK64 = 0xFFFFFFFFFFFFFFFF
_LOW32 = 0xFFFFFFFF
_TWO32 = 1 << 32
# splitmix64 finalizer multipliers (Steele, Lea & Flood 2014).
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB
# Personalisation strings version the draw derivation: changing how a draw is derived
# must change these, because it changes every generated date.
_ENTITY_PERSON = b"journeys.tl.ent1"
_EVENT_PERSON = b"journeys.tl.evt1"

# Delay kinds, compiled from the two delay shapes the spec accepts.
_FIXED = 0
_UNIFORM = 1
_NORMAL = 2
_FIXED_DRAWN = 3

# Stand-ins for "no bound" that keep the hot loops free of None checks.
_NO_LOWER = -(10**9)
_NO_UPPER = 10**9
_NO_HORIZON = 10**9
_NO_LIMIT = 10**9

# How many occurrence keys a repeated event gets precomputed when its count is unbounded
# by max_occurrences; later occurrences derive theirs on demand (same function, slower).
_MAX_PRECOMPUTED_OCCURRENCES = 4096

# Most events a single timeline may hold: a spec that could exceed it is refused when saved
# or compiled, from its repeats and duration alone, before any work is spent generating.
MAX_EVENTS_PER_ENTITY = 25_000

_std_normal_inv_cdf = NormalDist().inv_cdf


@dataclass(frozen=True, slots=True)
class ScheduledEvent:
    """One dated occurrence of a spec event for one entity."""

    event_id: str
    name: str
    event_type: str
    product: str | None
    scheduled_date: date
    day_offset: int
    occurrence: int


# Building a frozen dataclass costs about 1 us: its __init__ goes through
# object.__setattr__ once per field. generate() makes one per scheduled event, so it fills
# a plain twin with exactly the same slots (fast slot stores) and then retags it as a
# ScheduledEvent, which CPython allows between classes of identical layout. The result is
# an ordinary, frozen ScheduledEvent; the twin is derived from its slots so cannot drift.
_ScheduledEventDraft = type("_ScheduledEventDraft", (), {"__slots__": ScheduledEvent.__slots__})


# --------------------------------------------------------------------------- hashing


# Cloning a keyed hasher skips re-parsing the parameters: a quarter off the per-entity cost.
_ENTITY_HASHER = hashlib.blake2b(digest_size=8, person=_ENTITY_PERSON)


def _entity_key(seed: int, entity_id: str) -> int:
    hasher = _ENTITY_HASHER.copy()
    hasher.update(f"{seed}\x1f{entity_id}".encode())
    return int.from_bytes(hasher.digest(), "little")


def _event_key(event_id: str, occurrence: int) -> int:
    digest = hashlib.blake2b(
        f"{event_id}\x1f{occurrence}".encode(), digest_size=8, person=_EVENT_PERSON
    ).digest()
    return int.from_bytes(digest, "little")


def _fold(key: int) -> int:
    """The splitmix64 finalizer's first step, ``x ^ (x >> 30)``. It is linear over xor,
    so it can be applied to each key on its own: once per entity, once per event."""
    return key ^ (key >> 30)


def _mix_folded(entity_fold: int, event_fold: int) -> int:
    """The draw of one (seed, entity, event, occurrence): the splitmix64 finalizer of
    ``entity_key ^ event_key``, given both keys already _fold-ed. The hot loop inlines it.

    One draw serves both purposes of an occurrence, each from its own bits: the delay
    from the high bits (multiply-shift), the probability from the low 32 bits. After the
    finalizer the two are independent for all practical purposes, and it saves a draw.
    """
    z = ((entity_fold ^ event_fold) * _MIX1) & _MASK64
    z = ((z ^ (z >> 27)) * _MIX2) & _MASK64
    return z ^ (z >> 31)


def _normal_days(draw: int, low: int, normal: tuple[float, float, int] | None) -> int:
    """A normal delay from the high half of a draw, rounded and clamped to [low, high]."""
    assert normal is not None  # always compiled for a _NORMAL step; narrows the type
    mean, sigma, high = normal
    # 32 bits centred in their cell: u is never 0 or 1, so inv_cdf stays finite (the
    # farthest it reaches is about 6.2 sigma).
    u = ((draw >> 32) + 0.5) * (1.0 / 4294967296.0)
    days = round(mean + sigma * _std_normal_inv_cdf(u))
    return high if days > high else (low if days < low else days)


def _as_int(value: Any, what: str, event_id: str | None) -> int:
    """A whole number (JSON may carry 30.0), else ValueError naming the event."""
    where = f"event '{event_id}': {what}" if event_id is not None else what
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{where} must be a whole number")
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise ValueError(f"{where} must be a whole number")
        return int(value)
    return value


def _first_set(*values: int | None) -> int:
    return next((value for value in values if value is not None), 0)


def _optional_int(delay: Mapping[str, Any], key: str, event_id: str) -> int | None:
    value = delay.get(key)
    return None if value is None else _as_int(value, key, event_id)


# ------------------------------------------------------------------------ compiling

# One compiled step, in evaluation order (every anchor before the events that use it):
# (index, anchor, gate, kind, low, span, fold, threshold, repeat, normal)
# * anchor: index of the event this one is offset from; -1 (start_date) reads the spare
#   last slot of the offsets list, which always holds 0.
# * gate: the event that must have happened for this one to happen: the target of a
#   dependent, -1 for an independent event (the spare last slot of `happened`: True).
# * kind/low/span: the delay; uniform is low + [0, span), fixed is low, normal clamps to
#   [low, high] with normal = (mean, sigma, high). _FIXED_DRAWN is a fixed delay whose
#   probability still needs a draw; it shares the slow branch with _NORMAL.
# * fold: the event's key for occurrence 1, already _fold-ed.
# * threshold: an occurrence happens iff the low 32 bits of its draw are < threshold;
#   None means "always".
# * repeat: None, or (every_days, max_occurrences, folds) with the folded keys of
#   occurrences 2, 3, ... precomputed.
_Repeat = tuple[int, int, tuple[int, ...]]
_Normal = tuple[float, float, int]
_Step = tuple[int, int, int, int, int, int, int, int | None, _Repeat | None, _Normal | None]


def _compile_delay(raw: Any, event_id: str) -> tuple[int, int, int, _Normal | None]:
    """(kind, low, span, normal) for one event's ``delay``."""
    if raw is None:
        return _FIXED, 0, 1, None
    if not isinstance(raw, Mapping):
        raise ValueError(f"event '{event_id}': delay must be an object")

    if "min_days" in raw or "max_days" in raw:
        low = _optional_int(raw, "min_days", event_id)
        high = _optional_int(raw, "max_days", event_id)
        low = 0 if low is None else low
        high = low if high is None else high
        if low > high:
            raise ValueError(f"event '{event_id}': delay min_days is greater than max_days")
        if low == high:
            return _FIXED, low, 1, None
        return _UNIFORM, low, high - low + 1, None

    days = _optional_int(raw, "days", event_id)
    days_min = _optional_int(raw, "days_min", event_id)
    days_max = _optional_int(raw, "days_max", event_id)
    if days_min is not None and days_max is not None and days_min > days_max:
        raise ValueError(f"event '{event_id}': delay days_min is greater than days_max")
    distribution = raw.get("distribution")
    if distribution is None:
        # Without a distribution a bare range means "somewhere in it"; a `days` is exact.
        distribution = "fixed" if days is not None else "uniform"

    if distribution == "fixed":
        fixed = days if days is not None else (days_min if days_min is not None else 0)
        return _FIXED, fixed, 1, None
    if distribution == "uniform":
        # A missing bound falls back to `days`, then to the other bound.
        low = _first_set(days_min, days, days_max)
        high = _first_set(days_max, days, days_min)
        if low > high:
            raise ValueError(f"event '{event_id}': delay range is empty")
        if low == high:
            return _FIXED, low, 1, None
        return _UNIFORM, low, high - low + 1, None
    if distribution == "normal":
        if days is None:
            if days_min is None or days_max is None:
                raise ValueError(f"event '{event_id}': a normal delay needs days")
            mean = (days_min + days_max) / 2
        else:
            mean = float(days)
        if days_min is not None and days_max is not None:
            sigma = (days_max - days_min) / 4
        else:
            sigma = abs(mean) / 4
        # Without a lower bound a non-negative delay must not come out negative.
        low = days_min if days_min is not None else (0 if mean >= 0 else _NO_LOWER)
        high = days_max if days_max is not None else _NO_UPPER
        if sigma == 0:
            fixed = min(max(round(mean), low), high)
            return _FIXED, fixed, 1, None
        return _NORMAL, low, 1, (mean, sigma, high)
    raise ValueError(
        f"event '{event_id}': unknown delay distribution {distribution!r} "
        "(expected fixed, uniform or normal)"
    )


def _compile_probability(raw: Any, event_id: str) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not 0 <= raw <= 1:
        raise ValueError(f"event '{event_id}': probability must be a number in [0, 1]")
    if raw >= 1:
        return None
    # Compare 32 raw bits against an integer threshold: no float per draw.
    return int(raw * _TWO32)


def _repeat_bounds(raw: Any, event_id: str, horizon: int | None) -> tuple[int, int, int] | None:
    """``(every, limit, most)`` of an event's repeat: ``most`` occurrences can fall within
    the journey (None: the event does not repeat)."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise ValueError(f"event '{event_id}': repeat must be an object")
    every = _as_int(raw.get("every_days"), "repeat.every_days", event_id)
    if every < 1:
        raise ValueError(f"event '{event_id}': repeat.every_days must be at least 1")
    max_occurrences = raw.get("max_occurrences")
    if max_occurrences is None:
        if horizon is None:
            raise ValueError(
                f"event '{event_id}': repeat needs max_occurrences when the journey has "
                "no duration_days"
            )
        limit = _NO_LIMIT  # the horizon stops it
        most = horizon // every + 1
    else:
        limit = _as_int(max_occurrences, "repeat.max_occurrences", event_id)
        if limit < 1:
            raise ValueError(f"event '{event_id}': repeat.max_occurrences must be at least 1")
        most = limit if horizon is None else min(limit, horizon // every + 1)
    return every, limit, most


def _compile_repeat(event_id: str, bounds: tuple[int, int, int] | None) -> _Repeat | None:
    if bounds is None:
        return None
    every, limit, most = bounds
    known = min(most, _MAX_PRECOMPUTED_OCCURRENCES)
    folds = tuple(_fold(_event_key(event_id, occ)) for occ in range(2, known + 1))
    return every, limit, folds


class TimelineTooLarge(ValueError):
    """A spec whose timelines could hold more events than one entity may have."""

    def __init__(self, most: int) -> None:
        super().__init__(
            f"events: one timeline could hold {most} events, more than the "
            f"{MAX_EVENTS_PER_ENTITY} allowed (fewer repeats, or a shorter duration_days)"
        )
        self.most = most


def events_per_entity_bound(events: Any, duration_days: Any) -> int:
    """Most events one timeline of the spec can hold (delays being non-negative): counted
    from the spec alone, before anything is generated. Raises ValueError for a malformed
    repeat or duration, TimelineTooLarge past MAX_EVENTS_PER_ENTITY."""
    horizon = None if duration_days is None else _as_int(duration_days, "duration_days", None)
    ids = _event_ids(events or [])
    most = 0
    for event, event_id in zip(events or [], ids, strict=True):
        bounds = _repeat_bounds(event.get("repeat"), event_id, horizon)
        most += 1 if bounds is None else bounds[2]
    if most > MAX_EVENTS_PER_ENTITY:
        raise TimelineTooLarge(most)
    return most


def _evaluation_order(anchors: list[int]) -> list[int]:
    """Indices ordered so each event comes after its anchor (anchors form a forest)."""
    order: list[int] = []
    placed = [False] * len(anchors)
    for start in range(len(anchors)):
        chain = []
        node = start
        while node >= 0 and not placed[node]:
            chain.append(node)
            placed[node] = True
            node = anchors[node]
        order.extend(reversed(chain))
    return order


class TimelinePlan:
    """A journey spec's events compiled once, ready to generate many timelines."""

    __slots__ = ("_horizon", "_info", "_size", "_steps", "duration_days", "max_events_per_entity")

    duration_days: int | None
    # Most events one timeline can hold (delays being non-negative), so a caller can refuse
    # a spec that would build an enormous response before generating anything.
    max_events_per_entity: int
    _horizon: int
    _steps: tuple[_Step, ...]
    _info: tuple[tuple[str, str, str, str | None], ...]
    _size: int

    @classmethod
    def compile(cls, spec: Mapping[str, Any]) -> TimelinePlan:
        """Compile ``spec`` (a journey_spec dict).

        Raises ValueError naming the event for unknown ``depends_on`` targets, cycles and
        malformed delays, probabilities or repeats.
        """
        if not isinstance(spec, Mapping):
            raise ValueError("journey spec must be an object")
        events = spec.get("events") or []
        problems = find_dependency_problems(events)
        if problems:
            raise ValueError("; ".join(problems))

        duration = spec.get("duration_days")
        horizon = None if duration is None else _as_int(duration, "duration_days", None)
        if horizon is not None and horizon < 0:
            raise ValueError("duration_days must not be negative")
        most = events_per_entity_bound(events, duration)  # refused before any costly step

        ids = _event_ids(events)
        position = {event_id: index for index, event_id in enumerate(ids)}
        anchors: list[int] = []
        dependent: list[bool] = []
        previous_independent = -1
        for index, event in enumerate(events):
            target = _depends_on(event)
            if target is None:
                anchors.append(previous_independent)
                dependent.append(False)
                previous_independent = index
            else:
                anchors.append(position[target])
                dependent.append(True)

        info = []
        compiled: dict[int, _Step] = {}
        for index, (event, event_id) in enumerate(zip(events, ids, strict=True)):
            kind, low, span, normal = _compile_delay(event.get("delay"), event_id)
            bounds = _repeat_bounds(event.get("repeat"), event_id, horizon)
            repeat = _compile_repeat(event_id, bounds)
            threshold = _compile_probability(event.get("probability"), event_id)
            if kind == _FIXED and threshold is not None:
                kind = _FIXED_DRAWN
            product = event.get("product")
            info.append(
                (
                    event_id,
                    str(event.get("name") or event_id),
                    str(event.get("event_type") or "event"),
                    None if product is None else str(product),
                )
            )
            compiled[index] = (
                index,
                anchors[index],
                anchors[index] if dependent[index] else -1,
                kind,
                low,
                span,
                _fold(_event_key(event_id, 1)),
                threshold,
                repeat,
                normal,
            )

        plan = cls.__new__(cls)
        plan.duration_days = horizon
        plan._horizon = _NO_HORIZON if horizon is None else horizon
        plan._steps = tuple(compiled[i] for i in _evaluation_order(anchors))
        plan._info = tuple(info)
        plan._size = len(ids)
        plan.max_events_per_entity = most
        return plan

    @property
    def event_count(self) -> int:
        """Number of events in the spec (not occurrences)."""
        return self._size

    def generate(self, entity_id: str, start_date: date, seed: int = 0) -> list[ScheduledEvent]:
        """The dated events of one entity, sorted by (day_offset, spec order, occurrence)."""
        # Locals, not globals, in the loop below: it is the hot path of every request.
        entity_key = _entity_key(seed, entity_id)
        entity_fold = _fold(entity_key)
        horizon = self._horizon
        mask, low32, mix1, mix2, uniform, fixed = _MASK64, _LOW32, _MIX1, _MIX2, _UNIFORM, _FIXED
        offsets = [0] * (self._size + 1)  # spare last slot: the start date, offset 0
        happened = [False] * self._size + [True]  # spare last slot: "no gate"
        rows: list[tuple[int, int, int]] = []
        append = rows.append
        z = 0  # every step with a threshold draws first (compile makes sure of it)

        for index, anchor, gate, kind, low, span, fold, threshold, repeat, normal in self._steps:
            if not happened[gate]:
                continue  # its target never happened, so neither does it (nor its dependents)
            if kind == uniform:
                # _mix_folded inlined: a call per draw would cost a fifth of the loop.
                z = ((entity_fold ^ fold) * mix1) & mask
                z = ((z ^ (z >> 27)) * mix2) & mask
                z ^= z >> 31
                offset = offsets[anchor] + low + ((z * span) >> 64)  # multiply-shift
            elif kind == fixed:
                offset = offsets[anchor] + low
            else:
                z = _mix_folded(entity_fold, fold)
                offset = offsets[anchor] + (
                    low if kind == _FIXED_DRAWN else _normal_days(z, low, normal)
                )
            offsets[index] = offset
            if offset > horizon:
                continue
            if threshold is None or (z & low32) < threshold:
                happened[index] = True
                append((offset, index, 1))
            if repeat is not None:
                self._repeat(rows, entity_fold, index, offset, threshold, repeat)

        rows.sort()  # once, at the end: rows are (day_offset, spec order, occurrence)
        return self._materialise(rows, start_date)

    def _materialise(
        self, rows: list[tuple[int, int, int]], start_date: date
    ) -> list[ScheduledEvent]:
        info = self._info
        start_ordinal = start_date.toordinal()
        from_ordinal = date.fromordinal
        draft, final = _ScheduledEventDraft, ScheduledEvent
        timeline: list[ScheduledEvent] = []
        add = timeline.append
        try:
            for offset, index, occurrence in rows:
                event_id, name, event_type, product = info[index]
                item: Any = draft()
                item.event_id = event_id
                item.name = name
                item.event_type = event_type
                item.product = product
                item.scheduled_date = from_ordinal(start_ordinal + offset)
                item.day_offset = offset
                item.occurrence = occurrence
                item.__class__ = final  # see _ScheduledEventDraft
                add(item)
        except (ValueError, OverflowError) as error:
            raise ValueError("the timeline runs outside the supported date range") from error
        return timeline

    def _repeat(
        self,
        rows: list[tuple[int, int, int]],
        entity_fold: int,
        index: int,
        first_offset: int,
        threshold: int | None,
        repeat: _Repeat,
    ) -> None:
        """Occurrences 2, 3, ... of a repeated event (rare enough to leave the hot loop)."""
        if threshold == 0:
            return  # never happens, however often it is scheduled
        every, limit, folds = repeat
        horizon = self._horizon
        offset = first_offset
        for occurrence in range(2, limit + 1):
            offset += every
            if offset > horizon:
                return
            if threshold is not None:
                if occurrence - 2 < len(folds):
                    fold = folds[occurrence - 2]
                else:
                    fold = _fold(_event_key(self._info[index][0], occurrence))
                if _mix_folded(entity_fold, fold) & _LOW32 >= threshold:
                    continue
            rows.append((offset, index, occurrence))
