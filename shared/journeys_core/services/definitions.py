"""Journey definition use cases (the guide's save/load/update/delete/list, per tenant)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from journeys_core.clock import utc_now
from journeys_core.data.definitions import DefinitionsRepository, ListFilters
from journeys_core.data.executions import ExecutionsRepository
from journeys_core.domain.definitions import (
    looks_like_journey_id,
    new_journey_id,
    new_journey_record,
    updated_journey_record,
)
from journeys_core.errors import AlreadyExists, NotFound
from journeys_core.models.journey import (
    ImportResult,
    JourneyCreate,
    JourneyPage,
    JourneyRecord,
    JourneySpec,
    JourneyTemplate,
    JourneyTemplateList,
    JourneyUpdate,
)
from journeys_core.settings import get_settings

BUILTIN_TAG = "builtin"
IDENTITY_TTL_SECONDS = 300.0


def definitions_repository() -> DefinitionsRepository:
    return DefinitionsRepository(get_settings().definitions_table)


def executions_repository() -> ExecutionsRepository:
    settings = get_settings()
    return ExecutionsRepository(settings.executions_table, settings.definitions_table)


def save_journey(org: str, request: JourneyCreate) -> JourneyRecord:
    record = new_journey_record(request, utc_now(), new_journey_id())
    definitions_repository().create(org, record)
    return record


def find_journey(org: str, name_or_id: str) -> JourneyRecord:
    """By id (``journey-`` + 8 hex) or by name; another tenant's journey is not found."""
    repo = definitions_repository()
    record = repo.get_by_id(org, name_or_id) if looks_like_journey_id(name_or_id) else None
    record = record or repo.get_by_name(org, name_or_id)
    if record is None:
        raise NotFound(f"journey {name_or_id!r} not found")
    return record


@dataclass(frozen=True)
class JourneyIdentity:
    id: str
    name: str


# (org, name_or_id) -> (expires, identity). A journey's id and name never change, so a warm
# container can skip the definition read; a stale entry (deleted and saved again) is caught
# by the transaction's condition on the id and refreshed.
_identities: dict[tuple[str, str], tuple[float, JourneyIdentity]] = {}


def journey_identity(org: str, name_or_id: str) -> JourneyIdentity:
    cached = _identities.get((org, name_or_id))
    if cached and cached[0] > time.monotonic():
        return cached[1]
    record = find_journey(org, name_or_id)
    identity = JourneyIdentity(record.id, record.name)
    if len(_identities) > 4096:
        _identities.clear()
    expires = time.monotonic() + IDENTITY_TTL_SECONDS
    _identities[(org, name_or_id)] = (expires, identity)
    return identity


def forget_journey_identity(org: str, *names_or_ids: str) -> None:
    for name_or_id in names_or_ids:
        _identities.pop((org, name_or_id), None)


def load_journey(org: str, name_or_id: str, version: int | None = None) -> JourneyRecord:
    record = find_journey(org, name_or_id)
    if version is None or version == record.version:
        return record
    snapshot = definitions_repository().get_version(org, record.id, version)
    if snapshot is None:
        raise NotFound(f"journey {name_or_id!r} has no version {version}")
    return snapshot


def list_journey_versions(org: str, name_or_id: str) -> list[JourneyRecord]:
    record = find_journey(org, name_or_id)
    return definitions_repository().list_versions(org, record.id)


def update_journey(org: str, name_or_id: str, update: JourneyUpdate) -> JourneyRecord:
    current = find_journey(org, name_or_id)
    record = updated_journey_record(current, update, utc_now())
    definitions_repository().replace(org, record, expected_version=current.version)
    return record


def delete_journey(org: str, name_or_id: str, delete_executions: bool = True) -> None:
    """Remove the definition and its versions, and its executions unless asked to keep them
    (kept ones still show for their entity). Journey logs are never deleted."""
    record = find_journey(org, name_or_id)
    definitions_repository().delete(org, record)
    forget_journey_identity(org, name_or_id, record.name, record.id)
    if delete_executions:
        executions_repository().delete_for_journey(org, record.id)


def list_journeys(
    org: str, filters: ListFilters, limit: int = 50, cursor: str | None = None
) -> JourneyPage:
    items, next_cursor = definitions_repository().list_current(org, filters, limit, cursor)
    return JourneyPage(items=items, next_cursor=next_cursor)


def list_journey_templates(org: str) -> JourneyTemplateList:
    templates = []
    for record in definitions_repository().list_with_stages(org):
        spec = JourneySpec.model_validate(record.journey_spec)
        templates.append(
            JourneyTemplate(
                id=record.id,
                organization_id=org,
                name=spec.name or record.name,
                key=record.name,
                allowed_stages=spec.stages or [],
                initial_stage=spec.effective_initial_stage,
                locked_stages=spec.locked_stages or [],
                is_active=record.is_active,
                version=record.version,
            )
        )
    return JourneyTemplateList(items=sorted(templates, key=lambda t: t.key))


def import_builtin_journeys(org: str) -> ImportResult:
    """Save every built-in journey the organization does not have yet, tagged ``builtin``."""
    from journeys_core.builtins import load_builtin_journeys

    repo = definitions_repository()
    present = repo.existing_names(org)
    imported: list[str] = []
    for builtin in load_builtin_journeys():
        if builtin["name"] in present:
            continue
        tags = list(dict.fromkeys([*builtin.get("tags", []), BUILTIN_TAG]))
        request = JourneyCreate.model_validate({**builtin, "tags": tags})
        try:
            save_journey(org, request)
        except AlreadyExists:
            continue  # saved meanwhile by a concurrent import
        imported.append(request.name)
    return ImportResult(imported=len(imported), names=imported)
