"""What the handlers tell operators: one structured log line and one metric for every failed
record, refused action and caught exception, and X-Ray traces when the stack turns them on.

The alarms and the dashboard in template.yaml read these metrics (namespace and ``service``
dimension from the POWERTOOLS_* variables of the template's Globals).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar, cast

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
metrics = Metrics()

Handler = TypeVar("Handler", bound=Callable[..., Any])


def record_failure(
    what: str,
    metric: str,
    error: BaseException | None = None,
    reason: str | None = None,
    **ids: Any,
) -> None:
    """Something failed (and is retried, dead-lettered or answered 5xx): an ERROR line saying
    what, why (``reason``, or the exception with its traceback) and the ids to find it, and
    ``metric`` counted once."""
    if reason is None and error is not None:
        reason = f"{type(error).__name__}: {error}"
    logger.error(what, extra={"metric": metric, "reason": reason, **ids}, exc_info=error)
    metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)


def record_refusal(what: str, metric: str, reason: str, **ids: Any) -> None:
    """An action was refused on purpose (the rules, the caller's input): an INFO line saying
    what, why and the ids to find it, and ``metric`` counted once. Nothing will retry it."""
    logger.info(what, extra={"metric": metric, "reason": reason, **ids})
    metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)


def tracing_enabled() -> bool:
    """The template sets POWERTOOLS_TRACE_DISABLED to "false" with Tracing Active only."""
    return os.environ.get("POWERTOOLS_TRACE_DISABLED", "true").strip().lower() == "false"


def traced(handler: Handler) -> Handler:
    """``handler`` under Powertools Tracer when tracing is on, else ``handler`` itself. The
    X-Ray SDK is imported at the first invocation and only then: a stack without tracing
    does not pay for it at cold start."""
    chosen: list[Callable[..., Any]] = []

    @functools.wraps(handler)
    def run(event: Any, context: Any) -> Any:
        if not chosen:
            chosen.append(_with_tracer(handler) if tracing_enabled() else handler)
        return chosen[0](event, context)

    return cast(Handler, run)


def _with_tracer(handler: Callable[..., Any]) -> Callable[..., Any]:
    from aws_lambda_powertools import Tracer

    # Responses carry patients' data: they stay out of the traces.
    # Only the AWS SDK is patched: patching every library installed costs the first call a second.
    tracer = Tracer(patch_modules=("boto3", "botocore"))
    return tracer.capture_lambda_handler(handler, capture_response=False)
