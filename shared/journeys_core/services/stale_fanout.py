"""The stale monitor fanned out: the scheduled planner puts one message per unit on the work
queue; the worker reads one unit from where it stands in its run (see
``journeys_core.services.stale_monitor`` for the whole flow)."""

from __future__ import annotations

from datetime import datetime

from journeys_core.clock import format_timestamp
from journeys_core.data import repositories
from journeys_core.data.system_events import UnitPosition
from journeys_core.domain.stale_monitor import UnitMessage
from journeys_core.models.stale_monitor import StaleCheckResult, StalePlanResult
from journeys_core.services.stale_monitor import StartKey, TimeLeftMs, UnitsRun, watched_units


def plan_scheduled_check(now: datetime) -> StalePlanResult:
    """The hourly planner: one message per unit on the work queue."""
    units = watched_units()
    queued = repositories.stale_units().enqueue([UnitMessage(u, now).as_json() for u in units])
    return StalePlanResult(
        units=len(units), queued=queued, organizations=len({u.org for u in units})
    )


def run_unit(message: UnitMessage, time_left_ms: TimeLeftMs | None = None) -> StaleCheckResult:
    """One unit of a scheduled run, from where it stands in that run; a unit short of time
    saves its position and queues its continuation."""
    positions = repositories.unit_positions()
    unit_id, at = message.watch.unit_id, format_timestamp(message.now)
    start_key = message.start_key
    stored = positions.load_position(unit_id)
    if stored is not None and stored.at == at:
        if stored.done:  # a redelivery of a unit that finished: nothing left to read
            return StaleCheckResult(complete=True)
        start_key = stored.start_key or start_key

    def save(key: StartKey | None) -> None:
        positions.save_position(unit_id, UnitPosition(at, key))

    run = UnitsRun(message.now, dry_run=False, time_left_ms=time_left_ms, on_page=save)
    stopped = run.read(message.watch, start_key)
    if stopped is None:
        positions.save_position(unit_id, UnitPosition(at, done=True))
        return run.result(complete=True)
    save(stopped.key)
    continuation = UnitMessage(message.watch, message.now, stopped.key)
    repositories.stale_units().enqueue([continuation.as_json()])
    return run.result(complete=False)
