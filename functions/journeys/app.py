"""Journey definitions API: /api/v1/journeys…"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from journeys_core.data.definitions import ListFilters
from journeys_core.http import Auth, Caller, build_resolver, logger, metrics
from journeys_core.models.journey import (
    ImportResult,
    JourneyCreate,
    JourneyPage,
    JourneyRecord,
    JourneyUpdate,
    JourneyVersions,
)
from journeys_core.services import definitions

app = build_resolver()
auth = Auth(app)

Reader = Annotated[Caller, Depends(auth.reader)]
Admin = Annotated[Caller, Depends(auth.admin)]
NameOrId = Annotated[str, Path(min_length=1, max_length=100)]


def _split(csv: str | None) -> list[str]:
    return [v.strip() for v in (csv or "").split(",") if v.strip()]


def _created(record: JourneyRecord) -> Response[dict[str, Any]]:
    return Response(
        status_code=201,
        content_type=content_types.APPLICATION_JSON,
        body=record.model_dump(mode="json"),
    )


@app.post("/api/v1/journeys/import-builtin")
def import_builtin_journeys(caller: Admin) -> ImportResult:
    result = definitions.import_builtin_journeys(caller.org)
    metrics.add_metric(name="BuiltinJourneysImported", unit=MetricUnit.Count, value=result.imported)
    return result


@app.post("/api/v1/journeys")
def save_journey(body: JourneyCreate, caller: Admin) -> Response[dict[str, Any]]:
    record = definitions.save_journey(caller.org, body)
    metrics.add_metric(name="JourneySaved", unit=MetricUnit.Count, value=1)
    return _created(record)


@app.get("/api/v1/journeys")
def list_journeys(
    caller: Reader,
    products: Annotated[str | None, Query(max_length=1000)] = None,
    tags: Annotated[str | None, Query(max_length=1000)] = None,
    search: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> JourneyPage:
    filters = ListFilters(products=_split(products), tags=_split(tags), search=search or None)
    return definitions.list_journeys(caller.org, filters, limit, cursor)


@app.get("/api/v1/journeys/<name_or_id>")
def load_journey(
    name_or_id: NameOrId,
    caller: Reader,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> JourneyRecord:
    return definitions.load_journey(caller.org, name_or_id, version)


@app.get("/api/v1/journeys/<name_or_id>/versions")
def list_journey_versions(name_or_id: NameOrId, caller: Reader) -> JourneyVersions:
    return JourneyVersions(items=definitions.list_journey_versions(caller.org, name_or_id))


@app.patch("/api/v1/journeys/<name_or_id>")
def update_journey(name_or_id: NameOrId, body: JourneyUpdate, caller: Admin) -> JourneyRecord:
    return definitions.update_journey(caller.org, name_or_id, body)


@app.delete("/api/v1/journeys/<name_or_id>")
def delete_journey(
    name_or_id: NameOrId,
    caller: Admin,
    delete_executions: Annotated[bool, Query()] = True,
) -> Response[None]:
    definitions.delete_journey(caller.org, name_or_id, delete_executions)
    return Response(status_code=204)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
