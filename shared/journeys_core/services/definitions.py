"""Journey definition use cases (the guide's save/load/update/delete/list, per tenant)."""

from __future__ import annotations

from dataclasses import dataclass

from journeys_core.clock import utc_now
from journeys_core.data import repositories
from journeys_core.data.definitions import ListFilters
from journeys_core.data.warm_cache import warm_cache
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

BUILTIN_TAG = "builtin"
IDENTITY_TTL_SECONDS = 300.0


def save_journey(org: str, request: JourneyCreate) -> JourneyRecord:
    record = new_journey_record(request, utc_now(), new_journey_id())
    repositories.definitions().create(org, record)
    return record


def find_journey(org: str, name_or_id: str) -> JourneyRecord:
    """By id (``journey-`` + 8 hex) or by name; another tenant's journey is not found."""
    repo = repositories.definitions()
    record = repo.get_by_id(org, name_or_id) if looks_like_journey_id(name_or_id) else None
    record = record or repo.get_by_name(org, name_or_id)
    if record is None:
        raise NotFound(f"journey {name_or_id!r} not found")
    return record


@dataclass(frozen=True)
class JourneyIdentity:
    id: str
    name: str


def journey_identity(org: str, name_or_id: str) -> JourneyIdentity:
    """A journey's id and name never change, so a warm container skips the definition read
    for a while. A stale entry (the journey was deleted, maybe saved again, by another
    container) is caught where it is used: a recording's transaction checks the id, and a
    deleted journey's executions begin with a tombstone (see ``ExecutionsRepository``)."""

    def read() -> JourneyIdentity:
        record = find_journey(org, name_or_id)
        return JourneyIdentity(record.id, record.name)

    return warm_cache.get(("identity", org, name_or_id), IDENTITY_TTL_SECONDS, read)


def forget_journey_identity(org: str, *names_or_ids: str) -> None:
    warm_cache.forget(*(("identity", org, name_or_id) for name_or_id in names_or_ids))


def load_journey(org: str, name_or_id: str, version: int | None = None) -> JourneyRecord:
    record = find_journey(org, name_or_id)
    if version is None or version == record.version:
        return record
    snapshot = repositories.definitions().get_version(org, record.id, version)
    if snapshot is None:
        raise NotFound(f"journey {name_or_id!r} has no version {version}")
    return snapshot


def list_journey_versions(org: str, name_or_id: str) -> list[JourneyRecord]:
    record = find_journey(org, name_or_id)
    return repositories.definitions().list_versions(org, record.id)


def update_journey(org: str, name_or_id: str, update: JourneyUpdate) -> JourneyRecord:
    current = find_journey(org, name_or_id)
    record = updated_journey_record(current, update, utc_now())
    repositories.definitions().replace(org, record, expected_version=current.version)
    return record


def delete_journey(org: str, name_or_id: str, delete_executions: bool = True) -> None:
    """Remove the definition and its versions, and its executions unless asked to keep them
    (kept ones still show for their entity). Journey logs are never deleted."""
    record = find_journey(org, name_or_id)
    repositories.definitions().delete(org, record)
    forget_journey_identity(org, name_or_id, record.name, record.id)
    executions = repositories.executions()
    if delete_executions:
        executions.delete_for_journey(org, record.id)
    executions.mark_journey_deleted(org, record.id)


def list_journeys(
    org: str, filters: ListFilters, limit: int = 50, cursor: str | None = None
) -> JourneyPage:
    items, next_cursor = repositories.definitions().list_current(org, filters, limit, cursor)
    return JourneyPage(items=items, next_cursor=next_cursor)


def list_journey_templates(org: str) -> JourneyTemplateList:
    templates = []
    for record in repositories.definitions().list_with_stages(org):
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

    repo = repositories.definitions()
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
