"""Journey definitions API: /api/v1/journeys…"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from journeys_core.data.definitions import ListFilters
from journeys_core.http import (
    Admin,
    Cursor,
    Limit,
    Reader,
    Staff,
    build_resolver,
    logger,
    metrics,
    require_admin,
)
from journeys_core.models.execution import (
    ExecutionCreate,
    ExecutionPage,
    ExecutionRecord,
    TimelineRequest,
    TimelineResponse,
)
from journeys_core.models.journey import (
    ImportResult,
    JourneyCreate,
    JourneyPage,
    JourneyRecord,
    JourneyTemplateList,
    JourneyUpdate,
    JourneyVersions,
)
from journeys_core.models.migration import MigrationPreview, MigrationRequest, MigrationStatus
from journeys_core.models.simulation import SimulationRequest, SimulationResult
from journeys_core.observability import traced
from journeys_core.services import definitions

# The executions, migrations and simulation services are imported by their routes when first
# called: a cold start for the definitions' routes does not load the timeline generator, the
# stage machine or the patients' data access.
app = build_resolver()
NameOrId = Annotated[str, Path(min_length=1, max_length=100)]


def _split(csv: str | None) -> list[str]:
    return [v.strip() for v in (csv or "").split(",") if v.strip()]


@app.post(
    "/api/v1/journeys/import-builtin",
    operation_id="importBuiltinJourneys",
    summary="Import the built-in journeys the organization lacks",
    tags=["Journeys"],
)
def import_builtin_journeys(caller: Admin) -> ImportResult:
    result = definitions.import_builtin_journeys(caller.org)
    metrics.add_metric(name="BuiltinJourneysImported", unit=MetricUnit.Count, value=result.imported)
    return result


@app.post(
    "/api/v1/journeys",
    operation_id="saveJourney",
    summary="Save a new journey (version 1)",
    tags=["Journeys"],
    status_code=201,
)
def save_journey(body: JourneyCreate, caller: Admin) -> JourneyRecord:
    record = definitions.save_journey(caller.org, body)
    metrics.add_metric(name="JourneySaved", unit=MetricUnit.Count, value=1)
    return record


@app.get(
    "/api/v1/journeys",
    operation_id="listJourneys",
    summary="List journeys, newest update first",
    tags=["Journeys"],
)
def list_journeys(
    caller: Reader,
    products: Annotated[str | None, Query(max_length=1000)] = None,
    tags: Annotated[str | None, Query(max_length=1000)] = None,
    search: Annotated[str | None, Query(max_length=200)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> JourneyPage:
    filters = ListFilters(products=_split(products), tags=_split(tags), search=search or None)
    return definitions.list_journeys(caller.org, filters, limit, cursor)


@app.get(
    "/api/v1/journeys/<name_or_id>",
    operation_id="loadJourney",
    summary="Load a journey, or one of its versions",
    tags=["Journeys"],
)
def load_journey(
    name_or_id: NameOrId,
    caller: Reader,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> JourneyRecord:
    return definitions.load_journey(caller.org, name_or_id, version)


@app.get(
    "/api/v1/journeys/<name_or_id>/versions",
    operation_id="listJourneyVersions",
    summary="List every version of a journey",
    tags=["Journeys"],
)
def list_journey_versions(name_or_id: NameOrId, caller: Reader) -> JourneyVersions:
    return JourneyVersions(items=definitions.list_journey_versions(caller.org, name_or_id))


@app.patch(
    "/api/v1/journeys/<name_or_id>",
    operation_id="updateJourney",
    summary="Update or retire a journey",
    tags=["Journeys"],
)
def update_journey(name_or_id: NameOrId, body: JourneyUpdate, caller: Admin) -> JourneyRecord:
    return definitions.update_journey(caller.org, name_or_id, body)


@app.delete(
    "/api/v1/journeys/<name_or_id>",
    operation_id="deleteJourney",
    summary="Delete a journey nobody was enrolled in",
    tags=["Journeys"],
    status_code=204,
)
def delete_journey(
    name_or_id: NameOrId,
    caller: Admin,
    delete_executions: Annotated[bool, Query()] = True,
) -> Response[None]:
    definitions.delete_journey(caller.org, name_or_id, delete_executions)
    return Response(status_code=204)


@app.post(
    "/api/v1/journeys/<name_or_id>/executions",
    operation_id="recordExecution",
    summary="Record an execution of a journey",
    tags=["Executions"],
    status_code=201,
)
def record_execution(name_or_id: NameOrId, body: ExecutionCreate, caller: Admin) -> ExecutionRecord:
    from journeys_core.services import executions

    execution = executions.record_execution(caller.org, name_or_id, body)
    metrics.add_metric(name="ExecutionRecorded", unit=MetricUnit.Count, value=1)
    return execution


@app.get(
    "/api/v1/journeys/<name_or_id>/executions",
    operation_id="listJourneyExecutions",
    summary="List a journey's executions, newest first",
    tags=["Executions"],
)
def list_journey_executions(
    name_or_id: NameOrId, caller: Reader, limit: Limit = 20, cursor: Cursor = None
) -> ExecutionPage:
    from journeys_core.services import executions

    return executions.list_journey_executions(caller.org, name_or_id, limit, cursor)


@app.get(
    "/api/v1/entities/<entity_id>/journeys",
    operation_id="listEntityExecutions",
    summary="List an entity's executions across journeys",
    tags=["Executions"],
)
def list_entity_journeys(
    entity_id: Annotated[str, Path(min_length=1, max_length=100)],
    caller: Reader,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> ExecutionPage:
    from journeys_core.services import executions

    return executions.list_entity_executions(caller.org, entity_id, limit, cursor)


@app.post(
    "/api/v1/journeys/<name_or_id>/timeline",
    operation_id="generateTimeline",
    summary="Generate dated timelines for entities",
    tags=["Executions"],
)
def generate_timeline(
    name_or_id: NameOrId, body: TimelineRequest, caller: Reader
) -> TimelineResponse:
    from journeys_core.services import executions

    if body.record_execution:
        require_admin(caller)  # recording executions is a write: admins only
    result = executions.generate_timelines(caller.org, name_or_id, body)
    metrics.add_metric(name="TimelineEvents", unit=MetricUnit.Count, value=result.events_generated)
    return result


@app.post(
    "/api/v1/journeys/<name_or_id>/migrations",
    operation_id="startMigration",
    summary="Migrate enrollments to another version (or preview it)",
    tags=["Migrations"],
    responses={
        200: {
            "description": "Dry run: who would move, per stage, nothing written",
            "content": {"application/json": {"model": MigrationPreview}},
        },
        202: {
            "description": "The migration is queued; follow it at .../migrations/{id}",
            "content": {"application/json": {"model": MigrationStatus}},
        },
    },
)
def start_migration(
    name_or_id: NameOrId, body: MigrationRequest, caller: Admin
) -> Response[MigrationPreview | MigrationStatus]:
    from journeys_core.services import migrations

    if body.dry_run:
        preview = migrations.preview_migration(caller.org, name_or_id, body)
        return Response(status_code=200, content_type="application/json", body=preview)
    status = migrations.start_migration(caller.org, name_or_id, body)
    metrics.add_metric(name="MigrationStarted", unit=MetricUnit.Count, value=1)
    return Response(status_code=202, content_type="application/json", body=status)


@app.get(
    "/api/v1/journeys/<name_or_id>/migrations/<migration_id>",
    operation_id="getMigration",
    summary="Follow a migration",
    tags=["Migrations"],
)
def get_migration(
    name_or_id: NameOrId,
    migration_id: Annotated[str, Path(pattern=r"^mig-[0-9a-f]{16}$")],
    caller: Admin,
) -> MigrationStatus:
    from journeys_core.services import migrations

    return migrations.get_migration(caller.org, name_or_id, migration_id)


@app.post(
    "/api/v1/journeys/<name_or_id>/simulate",
    operation_id="simulateJourney",
    summary="Rehearse a journey on a synthetic cohort",
    tags=["Simulation"],
)
def simulate_journey(
    name_or_id: NameOrId, body: SimulationRequest, caller: Staff
) -> SimulationResult:
    # Loaded on first use: the other routes' cold starts do not pay for the simulator.
    from journeys_core.services import simulation

    result = simulation.simulate_journey(caller.org, name_or_id, body)
    metrics.add_metric(
        name="SimulatedPatientDays", unit=MetricUnit.Count, value=result.enrolled * result.days
    )
    return result


@app.get(
    "/api/v1/journey-templates",
    operation_id="listJourneyTemplates",
    summary="List the journeys that have stages",
    tags=["Journeys"],
)
def list_journey_templates(caller: Reader) -> JourneyTemplateList:
    return definitions.list_journey_templates(caller.org)


@traced
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
