"""Journey analytics API (/api/v1/analytics/…) and the staff dashboard's files (/dashboard).

The dashboard's page, scripts and styles are public and hold no data: every figure the page
shows comes from the API, called with the signed-in user's token.
"""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.openapi.types import (
    OpenAPIResponse,
    OpenAPIResponseContentSchema,
)
from aws_lambda_powertools.logging import correlation_paths
from sign_in import CONFIG_ASSET, config_script, token_origins
from static_assets import StaticAssets

from journeys_core.http import Staff, TaggedRoutes, build_resolver, logger, metrics
from journeys_core.models.analytics import JourneyAnalytics
from journeys_core.models.common import BoundedDatetime
from journeys_core.models.journey import NAME_PATTERN
from journeys_core.observability import traced
from journeys_core.services import analytics
from journeys_core.settings import get_settings

app = build_resolver()
analytics_api = TaggedRoutes(app, "Analytics")
dashboard_api = TaggedRoutes(app, "Dashboard")
dashboard = StaticAssets(FilePath(__file__).resolve().parent / "dashboard")

JourneyKey = Annotated[str, Path(pattern=NAME_PATTERN)]
PUBLIC = "Public (no token): the page holds no data, it calls this API with the user's token."
TEXT: OpenAPIResponseContentSchema = {"schema": {"type": "string"}}
PAGE: dict[int, OpenAPIResponse] = {
    200: {"description": "The staff dashboard's page", "content": {"text/html": TEXT}},
}
ASSET: dict[int, OpenAPIResponse] = {
    200: {
        "description": "A file of the staff dashboard (HTML, JavaScript or CSS)",
        "content": {"text/html": TEXT, "text/javascript": TEXT, "text/css": TEXT},
    }
}


@analytics_api.route(
    "GET",
    "/api/v1/analytics/journeys/<key>",
    "getJourneyAnalytics",
    "A journey's funnel over a period",
)
def journey_analytics(
    key: JourneyKey,
    caller: Staff,
    from_: Annotated[
        BoundedDatetime | None,
        Query(alias="from", description="period start, ISO 8601 (default: 30 days before to)"),
    ] = None,
    to: Annotated[
        BoundedDatetime | None,
        Query(description="period end, ISO 8601, UTC unless zoned (default: now)"),
    ] = None,
) -> JourneyAnalytics:
    return analytics.journey_analytics(caller.org, key, from_, to)


@dashboard_api.route(
    "GET",
    "/dashboard",
    "getDashboardPage",
    "The staff dashboard's page",
    responses=PAGE,
    description=PUBLIC,
)
def dashboard_page() -> Response[str]:
    return dashboard.response("index.html", connect_origins=token_origins(get_settings()))


@dashboard_api.route(
    "GET",
    "/dashboard/<asset>",
    "getDashboardAsset",
    "A file of the staff dashboard",
    responses=ASSET,
    description=PUBLIC,
)
def dashboard_asset(asset: Annotated[str, Path(min_length=1, max_length=100)]) -> Response[str]:
    if asset == CONFIG_ASSET:  # made from this deployment's settings
        return dashboard.response(asset, body=config_script(get_settings()))
    return dashboard.response(asset)


@traced
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
