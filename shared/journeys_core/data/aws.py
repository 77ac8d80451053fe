"""boto3 clients, created lazily once per warm container.

Endpoints come from boto3's standard configuration (``AWS_ENDPOINT_URL`` locally), so the
same code runs in Lambda, on moto and on the local stack.
"""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def client(service: str) -> Any:
    import boto3  # deferred: importing boto3 is most of a cold start

    return boto3.client(service)


def dynamodb() -> Any:
    return client("dynamodb")


def reset_clients() -> None:
    """Forget cached clients (tests start a fresh moto per test)."""
    client.cache_clear()
