"""``client.analytics`` (a journey's funnel) and ``client.admin`` (the stale-journey monitor
on demand)."""

from __future__ import annotations

from datetime import datetime

from .models import JourneyAnalytics, StaleCheckResult
from .operations import operation
from .transport import Http, path_segment, without_none


class AnalyticsApi:
    """Journey analytics (``staff``)."""

    def __init__(self, http: Http) -> None:
        self._http = http

    @operation("getJourneyAnalytics")
    def journey(
        self, key: str, start: datetime | str | None = None, end: datetime | str | None = None
    ) -> JourneyAnalytics:
        """The funnel of journey ``key`` for the stays begun from ``start`` to ``end``
        (default: the 30 days up to now; ISO 8601 strings or datetimes, UTC unless zoned)."""
        params = without_none(
            {
                "from": start.isoformat() if isinstance(start, datetime) else start,
                "to": end.isoformat() if isinstance(end, datetime) else end,
            }
        )
        path = f"/analytics/journeys/{path_segment(key)}"
        answer = self._http.call("GET", path, idempotent=True, params=params)
        return JourneyAnalytics.model_validate(answer.json())


class AdminApi:
    """Administration (``admin``)."""

    def __init__(self, http: Http) -> None:
        self._http = http

    @operation("checkStaleJourneys")
    def check_stale_journeys(self, dry_run: bool = False) -> StaleCheckResult:
        """Run the stale-journey monitor now for the caller's organization (``dry_run``:
        report without writing or publishing). Safe to repeat: each stuck stay times out at
        most once per 24 hours."""
        answer = self._http.call(
            "GET",
            "/admin/stale-journeys/check",
            idempotent=True,
            params={"dry_run": "true" if dry_run else "false"},
        )
        return StaleCheckResult.model_validate(answer.json())
