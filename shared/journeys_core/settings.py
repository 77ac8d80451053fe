"""Settings read once from environment variables (cached), never at import time."""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field


class Settings(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)

    definitions_table: str = Field(default="journeys-definitions", alias="DEFINITIONS_TABLE_NAME")
    executions_table: str = Field(default="journeys-executions", alias="EXECUTIONS_TABLE_NAME")
    # Live patient journeys (issue 4)
    patients_table: str = Field(default="journeys-patients", alias="PATIENTS_TABLE_NAME")
    journey_log_table: str = Field(default="journeys-journey-log", alias="JOURNEY_LOG_TABLE_NAME")
    system_events_table: str = Field(
        default="journeys-system-events", alias="SYSTEM_EVENTS_TABLE_NAME"
    )
    event_bus_name: str = Field(default="journeys", alias="EVENT_BUS_NAME")
    # How long a warm container trusts a journey definition it read for stage moves.
    definition_cache_seconds: float = Field(default=30.0, ge=0, alias="DEFINITION_CACHE_SECONDS")
    # Automation engine (issue 6)
    rules_table: str = Field(default="journeys-rules", alias="RULES_TABLE_NAME")
    idempotency_table: str = Field(default="journeys-idempotency", alias="IDEMPOTENCY_TABLE_NAME")
    # How long a warm automation container trusts the rules it read for one trigger.
    rules_cache_seconds: float = Field(default=60.0, ge=0, alias="RULES_CACHE_SECONDS")
    # How long a processed event id is remembered (the dead-letter queue keeps 14 days).
    idempotency_ttl_seconds: int = Field(
        default=14 * 24 * 3600, ge=60, alias="IDEMPOTENCY_TTL_SECONDS"
    )
    # Stale-journey monitor and notifier (issue 5)
    notification_sender: str = Field(default="", alias="NOTIFICATION_SENDER")
    # A run stops (and the next one resumes) when less than this much Lambda time is left.
    monitor_stop_margin_seconds: float = Field(
        default=15.0, ge=0, alias="STALE_MONITOR_STOP_MARGIN_SECONDS"
    )
    # Journey analytics (issue 8): the longest period one request may read.
    analytics_max_period_days: int = Field(
        default=366, ge=1, le=3660, alias="ANALYTICS_MAX_PERIOD_DAYS"
    )
    stage: str = Field(default="dev", alias="STAGE")
    max_body_bytes: int = Field(default=256 * 1024, alias="MAX_BODY_BYTES")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.model_validate(dict(os.environ))
