"""The stale-journey monitor: find the patients stuck in a stage for too long and emit a
``JOURNEY_STAGE_TIMEOUT`` per stuck (patient, journey, stage) stay, at most once per 24
hours and backing off (see ``journeys_core.domain.stale_monitor``).

A scheduled run, for "now" (the scheduled event's time), fans out:

1. **the planner** (the scheduled function) lists the watched versions (one Query on the
   definitions' sparse ``ByStaleRules`` index, one BatchGetItem per 100 of their journeys
   for whether they are active), groups their rules into units, one per (organization,
   journey, stage[, index shard]), and puts one message per unit on the work queue (10 a
   SendMessageBatch). It reads no enrollment, so it takes the same short time however many
   patients are stuck;
2. **a worker per unit** (SQS, with a maximum concurrency) reads the unit's stuck
   enrollments only: Queries on the patients' sparse ``ByStage`` index with
   ``entered_at < now - max_hours``, page by page; per 100 of them one BatchGetItem of their
   timeout gates, then per gate that lets one through a conditional write (the claim: one
   run wins it however many overlap or retry); the claimed timeouts are recorded as system
   events (BatchWriteItem), put on the bus (PutEvents, 10 a call) and their gates confirmed
   ``published`` (BatchWriteItem).

Each unit keeps its own position (after every page): a worker short of Lambda time saves it
and queues the unit's continuation; a redelivered message resumes there; a finished unit is
not read twice for the same run. A unit that fails is retried by SQS, then dead-lettered,
without holding back any other. Nothing is lost (an unclaimed enrollment is still stuck
next hour; a claim whose timeout never got out is taken over after the lease) and nothing
is doubled (the claim).

Here: the units and how one is read (:class:`UnitsRun`), and the admin check, which reads the
units of one organization one after the other in its own request (a dry run writes
nothing), without positions. The planner and the worker are in
``journeys_core.services.stale_fanout``.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from journeys_core.data import repositories
from journeys_core.data.event_bus import BusEntry, put_events
from journeys_core.data.system_events import TimeoutGate
from journeys_core.domain.stale_monitor import (
    GATE_READ_BATCH,
    PUT_EVENTS_BATCH,
    TIMEOUT_EVENT_TYPE,
    GateClaim,
    StageTimeout,
    StageWatch,
    StuckEnrollment,
    chunks,
    gate_claim,
    new_timeout_event_id,
    stage_timeout,
    stage_watches,
)
from journeys_core.models.stale_monitor import StaleCheckResult
from journeys_core.models.system_event import SystemEvent
from journeys_core.services.stage_changes import EVENT_SOURCE
from journeys_core.settings import get_settings

TimeLeftMs = Callable[[], int]
StartKey = Mapping[str, Any]


@dataclass(frozen=True)
class CutShort:
    """Where a unit stopped for time: to resume after ``key`` (None: from its start)."""

    key: StartKey | None


def watched_units(org: str | None = None) -> list[StageWatch]:
    """The units of a run: every organization's, or ``org``'s."""
    watched = repositories.definitions().list_with_stale_rules(org)
    return stage_watches((w.org, w.name, w.version, w.journey_spec) for w in watched)


def check_stale_journeys(
    org: str, now: datetime, *, dry_run: bool = False, time_left_ms: TimeLeftMs | None = None
) -> StaleCheckResult:
    """Every unit of one organization, now, in this request (the admin check); ``dry_run``
    reports what would time out without writing or publishing anything. It neither reads
    nor moves the scheduled runs' positions."""
    run = UnitsRun(now, dry_run=dry_run, time_left_ms=time_left_ms)
    for unit in watched_units(org):
        if run.read(unit, None) is not None:  # cut short
            return run.result(complete=False)
    return run.result(complete=True)


def _system_event(timeout: StageTimeout, now: datetime) -> SystemEvent:
    return SystemEvent(
        event_id=timeout.event_id,
        organization_id=timeout.org,
        event_type=TIMEOUT_EVENT_TYPE,
        patient_id=timeout.patient_id,
        source=EVENT_SOURCE,
        received_at=now,
        payload=timeout.payload(),
        status="emitted",
    )


Claimed = tuple[TimeoutGate, GateClaim, StageTimeout]


class UnitsRun:
    """Reads units one after the other within one Lambda's time, counting what it did."""

    def __init__(
        self,
        now: datetime,
        *,
        dry_run: bool,
        time_left_ms: TimeLeftMs | None,
        on_page: Callable[[StartKey | None], None] | None = None,
    ) -> None:
        settings = get_settings()
        self.now = now
        self.dry_run = dry_run
        self.time_left_ms = time_left_ms
        self.on_page = on_page
        # Stop with this much time left; never more than a quarter of what the run starts
        # with (a 29-second API call must not give up at once for a 20-second margin).
        self.margin_ms = settings.monitor_stop_margin_seconds * 1000
        if time_left_ms is not None:
            self.margin_ms = min(self.margin_ms, time_left_ms() / 4)
        self.bus_name = settings.event_bus_name
        self.patients = repositories.patients()
        self.events = repositories.system_events()
        self.gates = repositories.timeout_gates()
        self.processed = 0
        self.emitted = 0
        self.triggered: Counter[str] = Counter()

    def _out_of_time(self) -> bool:
        return self.time_left_ms is not None and self.time_left_ms() < self.margin_ms

    def read(self, unit: StageWatch, start_key: StartKey | None) -> CutShort | None:
        """Every stuck enrollment of one unit after ``start_key``; where to resume if time
        ran short (even before the first page), else None: the unit is done."""
        key = dict(start_key) if start_key else None
        cutoff = unit.cutoff(self.now)
        while True:
            if self._out_of_time():
                return CutShort(key)
            page, next_key = self.patients.stuck_enrollments(
                unit.org,
                unit.journey_key,
                unit.stage,
                cutoff,
                shard=unit.shard or 0,
                start_after=key,
            )
            for chunk in chunks(page, GATE_READ_BATCH):
                if self._out_of_time():
                    return CutShort(key)
                self._time_out(unit, chunk)
                key = dict(chunk[-1].resume_key)
            if next_key is None:
                return None
            key = next_key
            if self.on_page is not None:
                self.on_page(key)

    def _time_out(self, unit: StageWatch, stuck: Sequence[StuckEnrollment]) -> None:
        """Claim, record, publish and confirm the timeouts of up to 100 stuck enrollments."""
        # Stuck by the rules of their own version (the Query's cutoff is the shortest rule
        # of any version), in an episode that has not ended.
        timeouts = [
            timeout
            for s in stuck
            if (timeout := stage_timeout(unit, s, self.now, new_timeout_event_id())) is not None
        ]
        self.processed += len(timeouts)
        if not timeouts:
            return
        gates = [
            TimeoutGate(unit.org, t.patient_id, unit.journey_key, unit.stage, t.entered_at_text)
            for t in timeouts
        ]
        stored = self.gates.read_timeout_gates(gates)
        due = [
            (timeout, gate, state, claim)
            for timeout, gate, state in zip(timeouts, gates, stored, strict=True)
            if (claim := gate_claim(state, gate.entered_at, timeout.rule, self.now)) is not None
        ]
        if self.dry_run:
            self.triggered[unit.label] += len(due)
            return
        claimed: list[Claimed] = []
        for timeout, gate, state, claim in due:
            event_id = claim.event_id or timeout.event_id  # a taken-over claim keeps its id
            if self.gates.claim_timeout(gate, state, claim, self.now, event_id):
                claimed.append((gate, claim, dataclasses.replace(timeout, event_id=event_id)))
        if claimed:
            # Recorded before they go out: the notifier adds its result to the record.
            self.events.record_many([_system_event(t, self.now) for _, _, t in claimed])
            self._publish(unit, claimed)

    def _publish(self, unit: StageWatch, claimed: list[Claimed]) -> None:
        published: list[tuple[TimeoutGate, str, GateClaim]] = []
        refused: dict[str, str] = {}
        try:
            for batch in chunks(claimed, PUT_EVENTS_BATCH):
                entries = [
                    BusEntry(EVENT_SOURCE, TIMEOUT_EVENT_TYPE, timeout.detail(), self.now)
                    for _, _, timeout in batch
                ]
                outcomes = put_events(self.bus_name, entries)
                for (gate, claim, timeout), outcome in zip(batch, outcomes, strict=True):
                    if outcome.event_id:
                        published.append((gate, timeout.event_id, claim))
                    else:
                        refused[timeout.event_id] = outcome.error or "refused"
        except Exception as error:
            # The bus is unreachable or throttles us: what did not go out stays claimed and
            # is published by a run after the lease.
            done = {event_id for _, event_id, _ in published} | set(refused)
            refused.update(
                {t.event_id: repr(error) for _, _, t in claimed if t.event_id not in done}
            )
            raise
        finally:
            if published:
                self.gates.confirm_timeouts_published(published, self.now)
            for reason in set(refused.values()):
                ids = [event_id for event_id, why in refused.items() if why == reason]
                self.events.mark_failed(unit.org, ids, reason)
            self.emitted += len(published)
            self.triggered[unit.label] += len(published)

    def result(self, *, complete: bool) -> StaleCheckResult:
        return StaleCheckResult(
            processed=self.processed,
            rules_triggered=dict(sorted(self.triggered.items())),
            emitted=self.emitted,
            dry_run=self.dry_run,
            complete=complete,
        )
