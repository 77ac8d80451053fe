"""AWS throttling (after boto3's own retries) becomes one domain error, in one place."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from journeys_core.data.codec import error_code
from journeys_core.errors import ServiceUnavailable

# Error codes of a whole call refused for capacity (DynamoDB, EventBridge, the AWS SDKs).
THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "LimitExceededException",
    }
)
# Cancellation reasons of a TransactWriteItems refused for capacity.
THROTTLED_REASONS = frozenset({"ThrottlingError", "ProvisionedThroughputExceeded"})


def unavailable(what: str) -> ServiceUnavailable:
    return ServiceUnavailable(f"{what}: the database is busy right now; nothing was changed, retry")


@contextmanager
def throttling_as_unavailable(what: str) -> Iterator[None]:
    """Run AWS calls; a throttled one is ServiceUnavailable (503), anything else unchanged."""
    try:
        yield
    except Exception as error:
        if error_code(error) in THROTTLING_CODES:
            raise unavailable(what) from error
        raise
