"""Administration API: /api/v1/admin/…"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from journeys_core.clock import utc_now
from journeys_core.http import Admin, build_resolver, logger, metrics
from journeys_core.models.stale_monitor import StaleCheckResult
from journeys_core.observability import traced
from journeys_core.services.stale_monitor import check_stale_journeys

app = build_resolver()


@app.get(
    "/api/v1/admin/stale-journeys/check",
    operation_id="checkStaleJourneys",
    summary="Run the stale-journey monitor now",
    tags=["Admin"],
)
def check_stale_journeys_now(
    caller: Admin, dry_run: Annotated[bool, Query()] = False
) -> StaleCheckResult:
    """Run the stale-journey monitor now for the caller's organization."""
    result = check_stale_journeys(
        caller.org,
        utc_now(),
        dry_run=dry_run,
        time_left_ms=app.lambda_context.get_remaining_time_in_millis,
    )
    metrics.add_metric(name="StageTimeoutsEmitted", unit=MetricUnit.Count, value=result.emitted)
    return result


@traced
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
