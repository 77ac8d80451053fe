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
    TaggedRoutes,
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
journey_api = TaggedRoutes(app, "Journeys")
execution_api = TaggedRoutes(app, "Executions")
migration_api = TaggedRoutes(app, "Migrations")
simulation_api = TaggedRoutes(app, "Simulation")
NameOrId = Annotated[str, Path(min_length=1, max_length=100)]


def _split(csv: str | None) -> list[str]:
    return [v.strip() for v in (csv or "").split(",") if v.strip()]


@journey_api.route(
    "POST",
    "/api/v1/journeys/import-builtin",
    "importBuiltinJourneys",
    "Import the built-in journeys the organization lacks",
)
def import_builtin_journeys(caller: Admin) -> ImportResult:
    result = definitions.import_builtin_journeys(caller.org)
    metrics.add_metric(name="BuiltinJourneysImported", unit=MetricUnit.Count, value=result.imported)
    return result


@journey_api.route(
    "POST", "/api/v1/journeys", "saveJourney", "Save a new journey (version 1)", status_code=201
)
def save_journey(body: JourneyCreate, caller: Admin) -> JourneyRecord:
    record = definitions.save_journey(caller.org, body)
    metrics.add_metric(name="JourneySaved", unit=MetricUnit.Count, value=1)
    return record


@journey_api.route("GET", "/api/v1/journeys", "listJourneys", "List journeys, newest update first")
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


@journey_api.route(
    "GET", "/api/v1/journeys/<name_or_id>", "loadJourney", "Load a journey, or one of its versions"
)
def load_journey(
    name_or_id: NameOrId,
    caller: Reader,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> JourneyRecord:
    return definitions.load_journey(caller.org, name_or_id, version)


@journey_api.route(
    "GET",
    "/api/v1/journeys/<name_or_id>/versions",
    "listJourneyVersions",
    "List every version of a journey",
)
def list_journey_versions(name_or_id: NameOrId, caller: Reader) -> JourneyVersions:
    return JourneyVersions(items=definitions.list_journey_versions(caller.org, name_or_id))


@journey_api.route(
    "PATCH", "/api/v1/journeys/<name_or_id>", "updateJourney", "Update or retire a journey"
)
def update_journey(name_or_id: NameOrId, body: JourneyUpdate, caller: Admin) -> JourneyRecord:
    return definitions.update_journey(caller.org, name_or_id, body)


@journey_api.route(
    "DELETE",
    "/api/v1/journeys/<name_or_id>",
    "deleteJourney",
    "Delete a journey nobody was enrolled in",
    status_code=204,
)
def delete_journey(
    name_or_id: NameOrId,
    caller: Admin,
    delete_executions: Annotated[bool, Query()] = True,
) -> Response[None]:
    definitions.delete_journey(caller.org, name_or_id, delete_executions)
    return Response(status_code=204)


@execution_api.route(
    "POST",
    "/api/v1/journeys/<name_or_id>/executions",
    "recordExecution",
    "Record an execution of a journey",
    status_code=201,
)
def record_execution(name_or_id: NameOrId, body: ExecutionCreate, caller: Admin) -> ExecutionRecord:
    from journeys_core.services import executions

    execution = executions.record_execution(caller.org, name_or_id, body)
    metrics.add_metric(name="ExecutionRecorded", unit=MetricUnit.Count, value=1)
    return execution


@execution_api.route(
    "GET",
    "/api/v1/journeys/<name_or_id>/executions",
    "listJourneyExecutions",
    "List a journey's executions, newest first",
)
def list_journey_executions(
    name_or_id: NameOrId, caller: Reader, limit: Limit = 20, cursor: Cursor = None
) -> ExecutionPage:
    from journeys_core.services import executions

    return executions.list_journey_executions(caller.org, name_or_id, limit, cursor)


@execution_api.route(
    "GET",
    "/api/v1/entities/<entity_id>/journeys",
    "listEntityExecutions",
    "List an entity's executions across journeys",
)
def list_entity_journeys(
    entity_id: Annotated[str, Path(min_length=1, max_length=100)],
    caller: Reader,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> ExecutionPage:
    from journeys_core.services import executions

    return executions.list_entity_executions(caller.org, entity_id, limit, cursor)


@execution_api.route(
    "POST",
    "/api/v1/journeys/<name_or_id>/timeline",
    "generateTimeline",
    "Generate dated timelines for entities",
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


@migration_api.route(
    "POST",
    "/api/v1/journeys/<name_or_id>/migrations",
    "startMigration",
    "Migrate enrollments to another version (or preview it)",
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


@migration_api.route(
    "GET",
    "/api/v1/journeys/<name_or_id>/migrations/<migration_id>",
    "getMigration",
    "Follow a migration",
)
def get_migration(
    name_or_id: NameOrId,
    migration_id: Annotated[str, Path(pattern=r"^mig-[0-9a-f]{16}$")],
    caller: Admin,
) -> MigrationStatus:
    from journeys_core.services import migrations

    return migrations.get_migration(caller.org, name_or_id, migration_id)


@simulation_api.route(
    "POST",
    "/api/v1/journeys/<name_or_id>/simulate",
    "simulateJourney",
    "Rehearse a journey on a synthetic cohort",
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


@journey_api.route(
    "GET", "/api/v1/journey-templates", "listJourneyTemplates", "List the journeys that have stages"
)
def list_journey_templates(caller: Reader) -> JourneyTemplateList:
    return definitions.list_journey_templates(caller.org)


@traced
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
