"""Building and updating journey definition records (pure: no AWS)."""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from typing import Any

from journeys_core.errors import InvalidInput
from journeys_core.models.journey import (
    JOURNEY_ID_PATTERN,
    JourneyCreate,
    JourneyRecord,
    JourneySpec,
    JourneyUpdate,
    stage_index_shards,
)

DEFAULT_PRODUCTS = ("patientsim",)
_JOURNEY_ID = re.compile(JOURNEY_ID_PATTERN)


def new_journey_id() -> str:
    return f"journey-{secrets.token_hex(4)}"


def looks_like_journey_id(name_or_id: str) -> bool:
    return bool(_JOURNEY_ID.match(name_or_id))


def _derived_from_spec(spec: JourneySpec) -> dict[str, object]:
    return {
        "journey_spec": spec.stored_form(),
        "event_count": len(spec.events or []),
        "duration_days": spec.duration_days,
    }


def new_journey_record(request: JourneyCreate, now: datetime, journey_id: str) -> JourneyRecord:
    """Version 1 of a definition; products and description fall back to the spec's."""
    spec = request.journey_spec
    products = request.products or spec.products or list(DEFAULT_PRODUCTS)
    return JourneyRecord.model_validate(
        {
            "id": journey_id,
            "name": request.name,
            "description": request.description or spec.description or "",
            "version": 1,
            "products": list(dict.fromkeys(products)),
            "tags": request.tags,
            "is_active": request.is_active,
            "metadata": request.metadata,
            "created_at": now,
            "updated_at": now,
            **_derived_from_spec(spec),
        }
    )


def _check_stage_index_shards(current: dict[str, Any], spec: JourneySpec) -> None:
    """A journey's stage index only spreads wider: readers of fewer shards than a patient
    was keyed with would not see it."""
    before = stage_index_shards(current)
    after = spec.stage_index_shards or 1
    if after < before:
        raise InvalidInput(
            f"journey_spec.stage_index_shards: the stage index is spread over {before} keys "
            f"per stage; it can grow but not shrink to {after} (patients keyed in the "
            "higher shards would no longer be listed)"
        )


def updated_journey_record(
    current: JourneyRecord, update: JourneyUpdate, now: datetime
) -> JourneyRecord:
    """Omitted fields keep their value; tags are replaced; derived fields follow a new spec.

    Versions are immutable: a changed ``journey_spec`` is always a new version (enrollments
    and log entries cite versions by number); ``bump_version=false`` keeps the number for
    metadata only (description, tags, products, metadata, is_active), and with a changed spec
    it is InvalidInput (422)."""
    spec_changes = (
        update.journey_spec is not None
        and update.journey_spec.stored_form() != current.journey_spec
    )
    if spec_changes and not update.bump_version:
        raise InvalidInput(
            "bump_version: a changed journey_spec is always a new version (saved versions "
            "never change); send bump_version=true or leave journey_spec out"
        )
    changes: dict[str, object] = {
        field: getattr(update, field)
        for field in ("description", "tags", "products", "metadata", "is_active")
        if getattr(update, field) is not None
    }
    if update.journey_spec is not None:
        _check_stage_index_shards(current.journey_spec, update.journey_spec)
        changes.update(_derived_from_spec(update.journey_spec))
    changes["updated_at"] = now
    changes["version"] = current.version + 1 if update.bump_version else current.version
    return current.model_copy(update=changes)
