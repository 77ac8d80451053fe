"""boto3 clients, created lazily once per warm container.

Endpoints come from boto3's standard configuration (``AWS_ENDPOINT_URL`` locally), so the
same code runs in Lambda, on moto and on the local stack.
"""

from __future__ import annotations

from functools import cache
from typing import Any

# Standard retries, three attempts in all: a throttled call gives up (503 to the caller, a
# retry to a queue) within about a second, well inside the 20 s function timeout and API
# Gateway's 30 s, instead of DynamoDB's legacy ten attempts with growing backoff.
MAX_ATTEMPTS = 3


@cache
def client(service: str) -> Any:
    import boto3  # deferred: importing boto3 is most of a cold start
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS})
    return boto3.client(service, config=config)


def dynamodb() -> Any:
    return client("dynamodb")


def reset_clients() -> None:
    """Forget cached clients (tests start a fresh moto per test)."""
    client.cache_clear()
