"""Settings read once from environment variables (cached), never at import time.

Resource names (tables, the bus) have no defaults: a function whose template entry forgets
one fails at the first use with an error naming the variable, not by writing to a table of
the same name in another stack. ``tests/unit/test_settings_template.py`` proves that every
function's ``Environment`` supplies every variable its code reads.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field


class MissingSetting(RuntimeError):
    """A variable the code needs is not in the function's environment."""


# Setting -> the environment variable that names the resource.
RESOURCE_VARIABLES = {
    "definitions_table": "DEFINITIONS_TABLE_NAME",
    "executions_table": "EXECUTIONS_TABLE_NAME",
    "patients_table": "PATIENTS_TABLE_NAME",
    "journey_log_table": "JOURNEY_LOG_TABLE_NAME",
    "rollups_table": "ROLLUPS_TABLE_NAME",
    "system_events_table": "SYSTEM_EVENTS_TABLE_NAME",
    "rules_table": "RULES_TABLE_NAME",
    "idempotency_table": "IDEMPOTENCY_TABLE_NAME",
    "event_bus_name": "EVENT_BUS_NAME",
    "migrations_queue_url": "MIGRATIONS_QUEUE_URL",
    "stale_units_queue_url": "STALE_UNITS_QUEUE_URL",
}


class _Resource:
    """A resource name read from ``RESOURCE_VARIABLES``' variable; MissingSetting if unset."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.variable = RESOURCE_VARIABLES[name]

    def __get__(self, settings: Settings | None, owner: type) -> str:
        name = settings.resources.get(self.variable) if settings is not None else None
        if not name:
            raise MissingSetting(
                f"{self.variable} is not set: the function's template entry must set it"
            )
        return name


class Settings(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)

    resources: dict[str, str] = Field(default_factory=dict)
    # How long a warm container trusts a journey definition it read for stage moves.
    definition_cache_seconds: float = Field(default=30.0, ge=0, alias="DEFINITION_CACHE_SECONDS")
    # How long a warm automation container trusts the rules it read for one trigger.
    rules_cache_seconds: float = Field(default=60.0, ge=0, alias="RULES_CACHE_SECONDS")
    # How long a processed event id is remembered (the dead-letter queue keeps 14 days).
    idempotency_ttl_seconds: int = Field(
        default=14 * 24 * 3600, ge=60, alias="IDEMPOTENCY_TTL_SECONDS"
    )
    # The verified SES identity timeout emails come from ("" sends none).
    notification_sender: str = Field(default="", alias="NOTIFICATION_SENDER")
    # A monitor unit stops (and its continuation resumes) when less Lambda time is left.
    monitor_stop_margin_seconds: float = Field(
        default=15.0, ge=0, alias="STALE_MONITOR_STOP_MARGIN_SECONDS"
    )
    # The longest period one analytics request may read.
    analytics_max_period_days: int = Field(
        default=366, ge=1, le=3660, alias="ANALYTICS_MAX_PERIOD_DAYS"
    )
    stage: str = Field(default="dev", alias="STAGE")
    # The dashboard's hosted sign-in (all three, or none: the page then takes a pasted token).
    dashboard_sign_in_url: str = Field(default="", alias="DASHBOARD_SIGN_IN_URL")
    dashboard_client_id: str = Field(default="", alias="DASHBOARD_CLIENT_ID")
    dashboard_redirect_uri: str = Field(default="", alias="DASHBOARD_REDIRECT_URI")
    # Machine clients (client credentials) and the organization each acts for:
    # "client-id=org-id,...". Their access tokens carry no custom:org_id of their own.
    integration_clients: str = Field(default="", alias="INTEGRATION_CLIENTS")

    def integration_organization(self, client_id: str) -> str | None:
        """The organization a machine client acts for, if it is one this function knows."""
        for pair in self.integration_clients.split(","):
            client, _, org = pair.strip().partition("=")
            if client and org and client == client_id:
                return org
        return None

    max_body_bytes: int = Field(default=256 * 1024, alias="MAX_BODY_BYTES")

    definitions_table: ClassVar[_Resource] = _Resource()
    executions_table: ClassVar[_Resource] = _Resource()
    patients_table: ClassVar[_Resource] = _Resource()
    journey_log_table: ClassVar[_Resource] = _Resource()
    rollups_table: ClassVar[_Resource] = _Resource()
    system_events_table: ClassVar[_Resource] = _Resource()
    rules_table: ClassVar[_Resource] = _Resource()
    idempotency_table: ClassVar[_Resource] = _Resource()
    event_bus_name: ClassVar[_Resource] = _Resource()
    migrations_queue_url: ClassVar[_Resource] = _Resource()
    stale_units_queue_url: ClassVar[_Resource] = _Resource()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    environment = dict(os.environ)
    resources = {v: environment[v] for v in RESOURCE_VARIABLES.values() if environment.get(v)}
    return Settings.model_validate({**environment, "resources": resources})
