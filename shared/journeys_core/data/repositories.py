"""Every repository the services use, built once per warm container from the settings: the
one place that knows which table each repository works on."""

from __future__ import annotations

from functools import cache

from journeys_core.data.automation_rules import RulesRepository
from journeys_core.data.definitions import DefinitionsRepository
from journeys_core.data.executions import ExecutionsRepository
from journeys_core.data.journey_analytics import JourneyRollupsRepository
from journeys_core.data.journey_log import JourneyLogRepository
from journeys_core.data.migrations import MigrationsRepository
from journeys_core.data.patients import PatientsRepository
from journeys_core.data.stale_units import StaleUnitsQueue
from journeys_core.data.system_events import (
    EmailClaimsRepository,
    SystemEventsRepository,
    TimeoutGatesRepository,
    UnitPositionsRepository,
)
from journeys_core.settings import get_settings


@cache
def definitions() -> DefinitionsRepository:
    return DefinitionsRepository(get_settings().definitions_table)


@cache
def executions() -> ExecutionsRepository:
    settings = get_settings()
    return ExecutionsRepository(settings.executions_table, settings.definitions_table)


@cache
def patients() -> PatientsRepository:
    settings = get_settings()
    return PatientsRepository(
        settings.patients_table, settings.journey_log_table, settings.definitions_table
    )


@cache
def journey_log() -> JourneyLogRepository:
    return JourneyLogRepository(get_settings().journey_log_table)


@cache
def journey_rollups() -> JourneyRollupsRepository:
    return JourneyRollupsRepository(get_settings().rollups_table)


@cache
def rules() -> RulesRepository:
    return RulesRepository(get_settings().rules_table)


@cache
def migrations() -> MigrationsRepository:
    settings = get_settings()
    return MigrationsRepository(settings.system_events_table, settings.migrations_queue_url)


@cache
def system_events() -> SystemEventsRepository:
    return SystemEventsRepository(get_settings().system_events_table)


@cache
def timeout_gates() -> TimeoutGatesRepository:
    return TimeoutGatesRepository(get_settings().system_events_table)


@cache
def email_claims() -> EmailClaimsRepository:
    return EmailClaimsRepository(get_settings().system_events_table)


@cache
def unit_positions() -> UnitPositionsRepository:
    return UnitPositionsRepository(get_settings().system_events_table)


@cache
def stale_units() -> StaleUnitsQueue:
    return StaleUnitsQueue(get_settings().stale_units_queue_url)
