"""The template's HTTP API in-process: the local stack's gateway (route matching, the JWT
authorizer, payload format 2.0) in front of the handlers, on whatever AWS is mocked.

Tools that speak WSGI (schemathesis) use ``local_stack.gateway.GatewayApp`` instead: the
WSGI application the local server runs, without a socket.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from local_stack.gateway import Gateway, HttpRequest, HttpResponse
from local_stack.tokens import make_token


def bearer(org: str, roles: str = "admin,staff", **token: Any) -> dict[str, str]:
    """The Authorization header of a signed token for ``org`` with ``roles``."""
    return {"Authorization": f"Bearer {make_token(org=org, roles=roles, **token)}"}


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str]


class GatewayClient:
    """Requests through the gateway, the way a caller of the deployed API makes them."""

    def __init__(self, gateway: Gateway | None = None) -> None:
        self.gateway = gateway or Gateway()

    def request(
        self,
        method: str,
        target: str,
        *,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
        body: bytes = b"",
    ) -> Answer:
        all_headers = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body).encode()
            all_headers.setdefault("Content-Type", "application/json")
        response = self.gateway.handle(
            HttpRequest(method, target, headers=list(all_headers.items()), body=body)
        )
        return _answer(response)


def _answer(response: HttpResponse) -> Answer:
    headers = {key.lower(): value for key, value in response.headers}
    content = response.body
    parsed: Any = content
    if content and "json" in headers.get("content-type", ""):
        parsed = json.loads(content)
    return Answer(response.status, parsed, headers)
