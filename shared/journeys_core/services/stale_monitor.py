"""The stale-journey monitor: find the patients stuck in a stage for too long and emit one
``JOURNEY_STAGE_TIMEOUT`` per stuck (patient, journey, stage), at most once per 24 hours.

A run, for "now" (the scheduled event's time, or the clock for the admin check):

1. the watched definitions: one Query on the definitions' sparse ``ByStaleRules`` index (all
   organizations, or the caller's);
2. per (organization, journey, stage) with rules, the stuck enrollments only: Queries on the
   patients' sparse ``ByStage`` index with ``entered_at < now - max_hours``, page by page;
3. per 100 stuck enrollments: one BatchGetItem of their timeout gates (to skip the ones that
   fired within 24 hours), then per open gate one conditional PutItem (the claim: exactly
   one run wins it, however many overlap or retry);
4. the claimed timeouts are recorded as system events (BatchWriteItem), put on the bus
   (PutEvents, 10 a call), and their gates confirmed ``published`` (BatchWriteItem).

A scheduled run keeps an eye on the Lambda's remaining time: when it gets short, the run
saves where it stopped (a checkpoint) and ends cleanly; the next run starts there. Nothing is
lost (an unclaimed enrollment is still stuck next hour; a claim whose timeout never got out
is taken over after the lease) and nothing is doubled (the claim).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from journeys_core.data import repositories
from journeys_core.data.event_bus import BusEntry, put_events
from journeys_core.data.system_events import TimeoutGate
from journeys_core.domain.stale_monitor import (
    GATE_READ_BATCH,
    PUT_EVENTS_BATCH,
    TIMEOUT_EVENT_TYPE,
    Checkpoint,
    StageTimeout,
    StageWatch,
    StuckEnrollment,
    chunks,
    new_timeout_event_id,
    plan_watches,
    stage_timeout,
    stage_watches,
    timeout_gate_is_open,
)
from journeys_core.models.stale_monitor import StaleCheckResult
from journeys_core.models.system_event import SystemEvent
from journeys_core.services.stage_changes import EVENT_SOURCE
from journeys_core.settings import get_settings

TimeLeftMs = Callable[[], int]


def run_scheduled_check(now: datetime, time_left_ms: TimeLeftMs | None = None) -> StaleCheckResult:
    """The hourly run: every organization, resuming where a cut-short run stopped."""
    return _MonitorRun(now, org=None, dry_run=False, time_left_ms=time_left_ms).execute()


def check_stale_journeys(
    org: str, now: datetime, *, dry_run: bool = False, time_left_ms: TimeLeftMs | None = None
) -> StaleCheckResult:
    """The same run for one organization (the admin check); ``dry_run`` reports what would
    time out without writing or publishing anything. It neither reads nor moves the
    scheduled runs' checkpoint."""
    return _MonitorRun(now, org=org, dry_run=dry_run, time_left_ms=time_left_ms).execute()


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


class _MonitorRun:
    def __init__(
        self, now: datetime, *, org: str | None, dry_run: bool, time_left_ms: TimeLeftMs | None
    ) -> None:
        settings = get_settings()
        self.now = now
        self.org = org
        self.dry_run = dry_run
        self.resumable = org is None and not dry_run
        self.time_left_ms = time_left_ms
        # Stop with this much time left; never more than a quarter of what the run starts
        # with (a 29-second API call must not give up at once for a 20-second margin).
        self.margin_ms = settings.monitor_stop_margin_seconds * 1000
        if time_left_ms is not None:
            self.margin_ms = min(self.margin_ms, time_left_ms() / 4)
        self.bus_name = settings.event_bus_name
        self.patients = repositories.patients()
        self.events = repositories.system_events()
        self.gates = repositories.timeout_gates()
        self.checkpoints = repositories.monitor_checkpoint()
        self.processed = 0
        self.emitted = 0
        self.triggered: Counter[str] = Counter()

    def execute(self) -> StaleCheckResult:
        watched = repositories.definitions().list_with_stale_rules(self.org)
        watches = stage_watches((w.org, w.name, w.version, w.journey_spec) for w in watched)
        checkpoint = self.checkpoints.load_checkpoint() if self.resumable else None
        for watch, start_key in plan_watches(watches, checkpoint):
            stopped_at = self._read_watch(watch, start_key)
            if stopped_at is not None:
                if self.resumable:
                    self.checkpoints.save_checkpoint(stopped_at, self.now)
                return self._result(complete=False)
        if checkpoint is not None:
            self.checkpoints.clear_checkpoint()
        return self._result(complete=True)

    def _out_of_time(self) -> bool:
        return self.time_left_ms is not None and self.time_left_ms() < self.margin_ms

    def _read_watch(
        self, watch: StageWatch, start_key: Mapping[str, Any] | None
    ) -> Checkpoint | None:
        """Every stuck enrollment of one watch; where it stopped if time ran short."""
        key = dict(start_key) if start_key else None
        cutoff = watch.cutoff(self.now)
        while True:
            if self._out_of_time():
                return Checkpoint(watch.position, key)
            page, next_key = self.patients.stuck_enrollments(
                watch.org, watch.journey_key, watch.stage, cutoff, start_after=key
            )
            for chunk in chunks(page, GATE_READ_BATCH):
                if self._out_of_time():
                    return Checkpoint(watch.position, key)
                self._time_out(watch, chunk)
                key = dict(chunk[-1].resume_key)
            if next_key is None:
                return None
            key = next_key

    def _time_out(self, watch: StageWatch, stuck: Sequence[StuckEnrollment]) -> None:
        """Claim, record, publish and confirm the timeouts of up to 100 stuck enrollments."""
        # Stuck by the rules of their own version (the Query's cutoff is the shortest rule
        # of any version), in an episode that has not ended.
        timeouts = [
            (s, timeout)
            for s in stuck
            if (timeout := stage_timeout(watch, s, self.now, new_timeout_event_id())) is not None
        ]
        self.processed += len(timeouts)
        if not timeouts:
            return
        gates = [
            TimeoutGate(watch.org, s.patient_id, watch.journey_key, watch.stage, s.entered_at_text)
            for s, _ in timeouts
        ]
        stored = self.gates.read_timeout_gates(gates)
        due = [
            (timeout, gate)
            for (_, timeout), gate, state in zip(timeouts, gates, stored, strict=True)
            if timeout_gate_is_open(state, gate.entered_at, self.now)
        ]
        if self.dry_run:
            self.triggered[watch.label] += len(due)
            return
        claimed: list[tuple[TimeoutGate, StageTimeout]] = []
        for timeout, gate in due:
            event_id = self.gates.claim_timeout(
                gate.org,
                gate.patient_id,
                gate.journey_key,
                gate.stage,
                gate.entered_at,
                self.now,
                event_id=timeout.event_id,
            )
            if event_id is not None:  # a taken-over claim keeps the id it had
                claimed.append((gate, dataclasses.replace(timeout, event_id=event_id)))
        if claimed:
            # Recorded before they go out: the notifier adds its result to the record.
            self.events.record_many([_system_event(t, self.now) for _, t in claimed])
            self._publish(watch, claimed)

    def _publish(self, watch: StageWatch, claimed: list[tuple[TimeoutGate, StageTimeout]]) -> None:
        published: list[tuple[TimeoutGate, str]] = []
        refused: dict[str, str] = {}
        try:
            for batch in chunks(claimed, PUT_EVENTS_BATCH):
                entries = [
                    BusEntry(EVENT_SOURCE, TIMEOUT_EVENT_TYPE, timeout.detail(), self.now)
                    for _, timeout in batch
                ]
                outcomes = put_events(self.bus_name, entries)
                for (gate, timeout), outcome in zip(batch, outcomes, strict=True):
                    if outcome.event_id:
                        published.append((gate, timeout.event_id))
                    else:
                        refused[timeout.event_id] = outcome.error or "refused"
        except Exception as error:
            # The bus is unreachable or throttles us: what did not go out stays claimed and
            # is published by a run after the lease.
            done = {event_id for _, event_id in published} | set(refused)
            refused.update({t.event_id: repr(error) for _, t in claimed if t.event_id not in done})
            raise
        finally:
            if published:
                self.gates.confirm_timeouts_published(published, self.now)
            for reason in set(refused.values()):
                ids = [event_id for event_id, why in refused.items() if why == reason]
                self.events.mark_failed(watch.org, ids, reason)
            self.emitted += len(published)
            self.triggered[watch.label] += len(published)

    def _result(self, *, complete: bool) -> StaleCheckResult:
        return StaleCheckResult(
            processed=self.processed,
            rules_triggered=dict(sorted(self.triggered.items())),
            emitted=self.emitted,
            dry_run=self.dry_run,
            complete=complete,
        )
