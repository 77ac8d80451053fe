"""Every repository the services use, built once per warm container from the settings: the
one place that knows which table each repository works on.

Each factory imports its repository's module when first called: a function loads the data
modules (and their models) it uses, not every feature's, at cold start."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from journeys_core.settings import get_settings

if TYPE_CHECKING:
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


@cache
def definitions() -> DefinitionsRepository:
    from journeys_core.data.definitions import DefinitionsRepository

    return DefinitionsRepository(get_settings().definitions_table)


@cache
def executions() -> ExecutionsRepository:
    from journeys_core.data.executions import ExecutionsRepository

    settings = get_settings()
    return ExecutionsRepository(settings.executions_table, settings.definitions_table)


@cache
def patients() -> PatientsRepository:
    from journeys_core.data.patients import PatientsRepository

    settings = get_settings()
    return PatientsRepository(
        settings.patients_table, settings.journey_log_table, settings.definitions_table
    )


@cache
def journey_log() -> JourneyLogRepository:
    from journeys_core.data.journey_log import JourneyLogRepository

    return JourneyLogRepository(get_settings().journey_log_table)


@cache
def journey_rollups() -> JourneyRollupsRepository:
    from journeys_core.data.journey_analytics import JourneyRollupsRepository

    return JourneyRollupsRepository(get_settings().rollups_table)


@cache
def rules() -> RulesRepository:
    from journeys_core.data.automation_rules import RulesRepository

    return RulesRepository(get_settings().rules_table)


@cache
def migrations() -> MigrationsRepository:
    from journeys_core.data.migrations import MigrationsRepository

    settings = get_settings()
    return MigrationsRepository(settings.system_events_table, settings.migrations_queue_url)


@cache
def system_events() -> SystemEventsRepository:
    from journeys_core.data.system_events import SystemEventsRepository

    return SystemEventsRepository(get_settings().system_events_table)


@cache
def timeout_gates() -> TimeoutGatesRepository:
    from journeys_core.data.system_events import TimeoutGatesRepository

    return TimeoutGatesRepository(get_settings().system_events_table)


@cache
def email_claims() -> EmailClaimsRepository:
    from journeys_core.data.system_events import EmailClaimsRepository

    return EmailClaimsRepository(get_settings().system_events_table)


@cache
def unit_positions() -> UnitPositionsRepository:
    from journeys_core.data.system_events import UnitPositionsRepository

    return UnitPositionsRepository(get_settings().system_events_table)


@cache
def stale_units() -> StaleUnitsQueue:
    from journeys_core.data.stale_units import StaleUnitsQueue

    return StaleUnitsQueue(get_settings().stale_units_queue_url)
