"""The local stack over real HTTP: the gateway's refusals, local routes and the invoke CLI."""

from __future__ import annotations

import http.client
import json
from pathlib import Path

import pytest

from local_stack.gateway import Gateway, HttpRequest
from local_stack.tokens import make_token
from tests.e2e.conftest import REPO_ROOT, LocalStack

pytestmark = pytest.mark.e2e

JOURNEYS = "/api/v1/journeys"


def test_health(local_stack: LocalStack) -> None:
    response = local_stack.request("GET", "/_local/health")

    assert response.status == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(None, id="no token"),
        pytest.param(
            make_token(secret="not-the-local-stack-secret-but-32-bytes-long"), id="bad signature"
        ),
        pytest.param(make_token(ttl_seconds=-60), id="expired"),
    ],
)
def test_requests_without_a_valid_token_are_401(local_stack: LocalStack, token: str | None) -> None:
    response = local_stack.request("GET", JOURNEYS, token=token)

    assert response.status == 401
    assert response.json() == {"message": "Unauthorized"}


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/v1/nothing-here"), ("PUT", JOURNEYS), ("GET", "/")],
)
def test_unknown_routes_are_404(local_stack: LocalStack, method: str, path: str) -> None:
    response = local_stack.request(method, path, token=make_token())

    assert response.status == 404
    assert response.json() == {"message": "Not Found"}


@pytest.mark.parametrize(
    ("method", "target"),
    [("TRACE", JOURNEYS), ("CONNECT", "example.com:443"), ("BREW", "/coffee")],
)
def test_unknown_methods_are_404_like_api_gateway(
    local_stack: LocalStack, method: str, target: str
) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", local_stack.port, timeout=30)
    try:
        connection.request(method, target, headers={"Authorization": f"Bearer {make_token()}"})
        response = connection.getresponse()
        status, body = response.status, response.read()
    finally:
        connection.close()

    assert status == 404  # never 501: HTTP APIs answer any method they have no route for
    assert json.loads(body) == {"message": "Not Found"}


def test_an_authorized_request_reaches_the_handler(local_stack: LocalStack) -> None:
    response = local_stack.request("GET", JOURNEYS, token=make_token(org="e2e-reader"))

    assert response.status == 200
    assert response.headers.get("apigw-requestid")
    assert isinstance(response.json(), dict | list)


def test_docs_and_openapi_routes(local_stack: LocalStack) -> None:
    # Swagger UI comes with Powertools and docs/openapi.json is checked in: both serve.
    docs = local_stack.request("GET", "/docs")
    openapi = local_stack.request("GET", "/openapi.json")

    assert docs.status == 200, docs.body[:200]
    assert docs.headers["content-type"].startswith("text/html")
    for asset in ("swagger-ui.css", "swagger-ui-bundle.js"):
        assert f"/docs/{asset}".encode() in docs.body
        assert local_stack.request("GET", f"/docs/{asset}").status == 200, asset
    assert openapi.status == 200
    assert openapi.json() == json.loads((REPO_ROOT / "docs" / "openapi.json").read_text())


def _write_list_event(directory: Path) -> Path:
    """An event built by the gateway itself, as API Gateway would send for GET /journeys."""
    request = HttpRequest(
        "GET",
        f"{JOURNEYS}?limit=5",
        headers=[("Authorization", f"Bearer {make_token()}"), ("Host", "127.0.0.1")],
    )
    _, event = Gateway().prepare(request)
    path = directory / "list-journeys.json"
    path.write_text(json.dumps(event), encoding="utf-8")
    return path


def test_invoke_cli_against_the_running_stack(local_stack: LocalStack, tmp_path: Path) -> None:
    event_path = _write_list_event(tmp_path)

    completed = local_stack.run_module("local_stack.invoke", "journeys", str(event_path))

    assert completed.returncode == 0, completed.stderr
    assert "running local stack" in completed.stderr
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert isinstance(result["statusCode"], int)
