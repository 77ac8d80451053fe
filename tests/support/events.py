"""One small builder: every API event in the tests starts from a sample in ``events/``."""

from __future__ import annotations

import base64
import copy
import json
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

EVENTS_DIR = Path(__file__).resolve().parents[2] / "events"


@cache
def _sample(name: str) -> dict[str, Any]:
    return json.loads((EVENTS_DIR / f"{name}.json").read_text())


def load_sample(name: str) -> dict[str, Any]:
    return copy.deepcopy(_sample(name))


def api_event(
    sample: str,
    *,
    path_params: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    body: Any = ...,
    raw_body: bytes | str | None = None,
    org: str | None = None,
    roles: str | list[str] | None = None,
    sub: str | None = None,
) -> dict[str, Any]:
    """The sample event ``events/<sample>.json`` with the given parts replaced."""
    event = load_sample(sample)
    if path_params is not None:
        event["pathParameters"] = path_params
        _method, route_path = event["routeKey"].split(" ", 1)
        path = route_path
        for key, value in path_params.items():
            path = path.replace("{" + key + "}", value)
        event["rawPath"] = path
        event["requestContext"]["http"]["path"] = path
    if query is not None:
        event["rawQueryString"] = urlencode(query)
        if query:
            event["queryStringParameters"] = dict(query)
        else:
            event.pop("queryStringParameters", None)
    if body is not ...:
        if body is None:
            event.pop("body", None)
        else:
            event["body"] = json.dumps(body)
            event["isBase64Encoded"] = False
    if raw_body is not None:
        if isinstance(raw_body, bytes):
            event["body"] = base64.b64encode(raw_body).decode()
            event["isBase64Encoded"] = True
        else:
            event["body"] = raw_body
            event["isBase64Encoded"] = False
    claims = event["requestContext"]["authorizer"]["jwt"]["claims"]
    if org is not None:
        claims["custom:org_id"] = org
    if roles is not None:
        claims["cognito:groups"] = roles if isinstance(roles, str) else f"[{' '.join(roles)}]"
    if sub is not None:
        claims["sub"] = sub
    return event


def dashboard_event(asset: str | None = None) -> dict[str, Any]:
    """A browser's request for the dashboard's page, or for one of its files by name."""
    if asset is None:
        return load_sample("analytics/dashboard-page")
    event = load_sample("analytics/dashboard-asset")
    event["pathParameters"] = {"asset": asset}
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/dashboard/{asset}"
    return event
