"""The template's HTTP API in-process: the local stack's gateway (route matching, the JWT
authorizer, payload format 2.0) in front of the handlers, on whatever AWS is mocked.

``GatewayApp`` makes it a WSGI application, so tools that speak WSGI (schemathesis) send
their requests through exactly what the local server runs, without a socket.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

from local_stack.gateway import Gateway, HttpRequest, HttpResponse
from local_stack.tokens import make_token

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


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


class GatewayApp:
    """A WSGI application answering every request through ``gateway.handle``."""

    def __init__(self, gateway: Gateway | None = None) -> None:
        self.gateway = gateway or Gateway()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        target = _request_target(environ)
        response = self.gateway.handle(
            HttpRequest(environ["REQUEST_METHOD"], target, headers=_headers(environ), body=body)
        )
        reason = HTTPStatus(response.status).phrase if response.status in _STATUSES else ""
        start_response(f"{response.status} {reason}".strip(), list(response.headers))
        return [response.body]


_STATUSES = {status.value for status in HTTPStatus}


def _request_target(environ: Mapping[str, Any]) -> str:
    """The path as sent (still percent-encoded, as API Gateway matches it) and the query."""
    raw = environ.get("REQUEST_URI")
    if raw:
        path = _wsgi_text(raw.partition("?")[0])
    else:  # PATH_INFO is decoded: encode its bytes again
        path = quote(environ.get("PATH_INFO") or "/", safe="/", encoding="latin-1")
    query = _wsgi_text(environ.get("QUERY_STRING", ""))
    return f"{path}?{query}" if query else path


def _wsgi_text(value: str) -> str:
    # WSGI carries request-line bytes as latin-1 text.
    return value.encode("latin-1").decode("utf-8", "replace")


def _headers(environ: Mapping[str, Any]) -> list[tuple[str, str]]:
    headers = [
        (key[5:].replace("_", "-").lower(), str(value))
        for key, value in environ.items()
        if key.startswith("HTTP_")
    ]
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers.append((key.replace("_", "-").lower(), str(environ[key])))
    return headers
