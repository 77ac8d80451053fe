"""Settings read once from environment variables (cached), never at import time."""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field


class Settings(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)

    definitions_table: str = Field(default="journeys-definitions", alias="DEFINITIONS_TABLE_NAME")
    stage: str = Field(default="dev", alias="STAGE")
    max_body_bytes: int = Field(default=256 * 1024, alias="MAX_BODY_BYTES")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.model_validate(dict(os.environ))
