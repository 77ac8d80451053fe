"""DynamoDB calls per request, counted on moto through the real handlers (deterministic:
the same numbers are asserted in the tests)."""

from __future__ import annotations

import contextlib
import importlib
import json
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.rows import Row, row

ROOT = Path(__file__).resolve().parents[1]
PREFIX = "journeys-bench"
BATCH = 25  # BatchWriteItem takes at most 25 items


@contextlib.contextmanager
def moto_account() -> Iterator[Counter[str]]:
    """Fake credentials, moto with template.yaml's resources, every function's environment,
    and a counter of the service client's DynamoDB calls. The environment is put back and
    the warm container forgotten after: a later benchmark in the same run (the local
    stack's tables have other names) must not inherit this account's tables or items."""
    from aws_sim import moto_patches
    from local_stack.embedded_aws import FAKE_AWS_ENVIRONMENT

    saved = dict(os.environ)
    os.environ.update(
        FAKE_AWS_ENVIRONMENT,
        POWERTOOLS_LOG_LEVEL="ERROR",
        POWERTOOLS_METRICS_NAMESPACE="JourneysBench",
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    import boto3
    from moto import mock_aws

    from journeys_core.data.aws import dynamodb
    from local_stack.template import (
        create_resources,
        function_environment,
        functions,
        load_template,
    )

    moto_patches.apply()  # the moto the tests and the local stack run
    template = load_template()
    try:
        with mock_aws():
            resources = create_resources(boto3.session.Session(), PREFIX, template)
            for logical_id in functions(template):
                os.environ.update(function_environment(template, logical_id, resources))
            forget_warm_container()
            counts: Counter[str] = Counter()
            dynamodb().meta.events.register(
                "before-call.dynamodb", lambda model, **_: counts.update([model.name])
            )
            yield counts
    finally:
        forget_warm_container()
        os.environ.clear()
        os.environ.update(saved)


def forget_warm_container() -> None:
    """What a warm container keeps (clients, settings, repositories and their table names,
    cached definitions) dropped, as a fresh container starts."""
    from journeys_core.data import repositories
    from journeys_core.data.aws import reset_clients
    from journeys_core.data.warm_cache import warm_cache
    from journeys_core.settings import get_settings

    reset_clients()
    get_settings.cache_clear()
    warm_cache.clear()
    for factory in vars(repositories).values():
        if callable(getattr(factory, "cache_clear", None)):
            factory.cache_clear()


@dataclass
class BenchContext:
    """A Lambda context whose time never runs out: the benchmarks measure work, not a
    function racing its deadline."""

    remaining_ms: int = 20_000
    function_name: str = "bench"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id: str = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def batch_write(table: str, items: list[dict[str, Any]]) -> None:
    """Put ``items`` (typed attribute values) straight into moto, 25 per BatchWriteItem."""
    import boto3

    client = boto3.client("dynamodb")
    for first in range(0, len(items), BATCH):
        requests = [{"PutRequest": {"Item": item}} for item in items[first : first + BATCH]]
        while requests:
            unprocessed = client.batch_write_item(RequestItems={table: requests})
            requests = unprocessed.get("UnprocessedItems", {}).get(table, [])


def call(function_dir: str, sample: str, **changes: Any) -> dict[str, Any]:
    event = json.loads((ROOT / "events" / f"{sample}.json").read_text())
    if "body" in changes:
        event["body"] = json.dumps(changes["body"])
    if "query" in changes:
        event["queryStringParameters"] = changes["query"]
    for name, value in changes.get("path", {}).items():  # the resolver routes on rawPath
        old = f"/{event['pathParameters'][name]}"
        event["rawPath"] = event["rawPath"].replace(old, f"/{value}")
        event["requestContext"]["http"]["path"] = event["rawPath"]
        event["pathParameters"][name] = value
    module = importlib.import_module(f"functions.{function_dir}.app")
    response: dict[str, Any] = module.handler(event, BenchContext())
    return response


SCANS: Counter[str] = Counter()


def _calls(counts: Counter[str], action: Callable[[], object]) -> int:
    counts.clear()
    response: Any = action()
    assert response["statusCode"] < 300, response
    SCANS["Scan"] += counts["Scan"]
    return sum(counts.values())


def run() -> list[Row]:
    import sys

    sys.path[:0] = [str(ROOT / "shared"), str(ROOT)]
    spec = json.loads((ROOT / "events/journeys/save-journey.json").read_text())["body"]
    body = json.loads(spec)
    with moto_account() as counts:
        body["name"] = "diabetic-first-year"  # the journey the other samples address
        save = _calls(counts, lambda: call("journeys", "journeys/save-journey", body=body))
        for i in range(120):
            call("journeys", "journeys/save-journey", body={**body, "name": f"bulk-{i:03d}"})
        load = _calls(counts, lambda: call("journeys", "journeys/load-journey", body=None))
        update = _calls(counts, lambda: call("journeys", "journeys/update-journey"))
        page = _calls(
            counts, lambda: call("journeys", "journeys/list-journeys", query={"limit": "100"})
        )
    scans = SCANS["Scan"]
    return [
        row("DynamoDB calls: save a journey", save, "calls", "= 1"),
        row("DynamoDB calls: load a journey", load, "calls", "= 1"),
        row("DynamoDB calls: update a journey", update, "calls", "<= 2"),
        row("DynamoDB calls: list page of 100 (121 journeys)", page, "calls", "1 per 1 MB"),
        row("DynamoDB Scan calls in request paths", scans, "calls", "= 0"),
    ]
