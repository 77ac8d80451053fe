"""Fixtures shared by every tier: fake credentials, moto with the template's resources,
in-process handler calls and a DynamoDB call counter."""

from __future__ import annotations

import importlib
import json
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.events import api_event

os.environ.update(
    AWS_DEFAULT_REGION="us-east-1",
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SECURITY_TOKEN="testing",
    AWS_SESSION_TOKEN="testing",
    POWERTOOLS_METRICS_NAMESPACE="JourneysTest",
    POWERTOOLS_SERVICE_NAME="journeys",
    POWERTOOLS_LOG_LEVEL="WARNING",
)
os.environ.pop("AWS_ENDPOINT_URL", None)

RESOURCE_PREFIX = "journeys-test"


def pytest_configure(config: pytest.Config) -> None:
    from aws_sim import moto_patches

    moto_patches.apply()


@dataclass
class ApiResult:
    status: int
    body: Any
    headers: dict[str, str]


class LambdaContext:
    function_name = "journeys-test"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:journeys-test"
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_group_name = "/aws/lambda/journeys-test"
    log_stream_name = "test"

    def get_remaining_time_in_millis(self) -> int:
        return 20_000


def _template_environment() -> dict[str, str]:
    """Resolve every function's environment against the resources a test account holds."""
    import boto3
    from moto import mock_aws

    from local_stack.template import (
        create_resources,
        function_environment,
        functions,
        load_template,
    )

    template = load_template()
    with mock_aws():
        resources = create_resources(boto3.session.Session(), RESOURCE_PREFIX)
    env: dict[str, str] = {}
    for logical_id in functions(template):
        env.update(function_environment(template, logical_id, resources))
    return env


@pytest.fixture(scope="session", autouse=True)
def _function_environment() -> None:
    """Every function's environment, resolved from template.yaml like the local stack does."""
    os.environ.update(_template_environment())


@pytest.fixture
def aws() -> Iterator[None]:
    """A fresh moto account holding every resource of template.yaml."""
    from moto import mock_aws

    from journeys_core.data.aws import reset_clients
    from journeys_core.data.warm_cache import warm_cache
    from local_stack.template import create_resources

    with mock_aws():
        reset_clients()
        warm_cache.clear()  # a warm container's definitions and rules belong to the old moto
        import boto3

        create_resources(boto3.session.Session(), RESOURCE_PREFIX)
        yield
        reset_clients()
        warm_cache.clear()


@pytest.fixture
def ddb_calls(aws: None) -> Counter[str]:
    """Counts DynamoDB API calls made by the service's own client, by operation name."""
    from journeys_core.data.aws import dynamodb

    counts: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        counts[model.name] += 1

    dynamodb().meta.events.register("before-call.dynamodb", count)
    return counts


def invoke(function_dir: str, event: dict[str, Any]) -> ApiResult:
    module = importlib.import_module(f"functions.{function_dir}.app")
    response = module.handler(event, LambdaContext())
    body = response.get("body")
    if body and "json" in response.get("headers", {}).get("Content-Type", ""):
        body = json.loads(body)
    return ApiResult(response["statusCode"], body, response.get("headers", {}))


def invoke_sample(sample: str, **parts: Any) -> ApiResult:
    """The function of ``events/<function>/…`` called with that sample event, the given parts
    replaced (see :func:`tests.support.events.api_event`)."""
    return invoke(sample.split("/", 1)[0], api_event(sample, **parts))


def all_pages(
    listing: Callable[..., ApiResult], *args: Any, **query: str
) -> tuple[list[dict[str, Any]], int]:
    """Every item of a paged listing, following ``next_cursor`` from the first page; and how
    many pages that took. ``listing(*args, **query)`` is one call of the API."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = listing(*args, **query, **({"cursor": cursor} if cursor else {}))
        assert page.status == 200, page.body
        items += page.body["items"]
        pages += 1
        cursor = page.body["next_cursor"]
        if not cursor:
            return items, pages


@pytest.fixture
def call(aws: None) -> Callable[[str, dict[str, Any]], ApiResult]:
    return invoke
