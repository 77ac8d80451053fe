"""What triggers each function besides HTTP, as template.yaml declares it.

The SAM event types the template uses: ``DynamoDB`` (a table's stream), ``SQS`` (a queue),
``EventBridgeRule`` (a rule on a bus with the function as its target) and ``ScheduleV2``
(an EventBridge Scheduler ``rate(...)``); and each function's ``EventInvokeConfig`` (retries
and ``OnFailure`` queue of its asynchronous invocations). Another type is named in the plan's
warnings, not delivered. ``local_stack.pollers`` runs the plan.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

from local_stack.template import (
    ACCOUNT_ID,
    DEFAULT_PREFIX,
    REGION,
    FunctionInfo,
    LocalResource,
    Resolver,
    as_string,
    function_properties,
    functions,
    truthy,
)

# Lambda's defaults where the template says nothing.
DEFAULT_STREAM_BATCH_SIZE = 100
DEFAULT_QUEUE_BATCH_SIZE = 10
DEFAULT_ASYNC_RETRIES = 2
# Streams retry "until the record expires" by default (-1), 24 hours in DynamoDB: locally a
# failing record would hold its shard for the whole session, so retries are bounded.
LOCAL_STREAM_RETRY_LIMIT = 10


@dataclass(frozen=True)
class AsyncInvokeConfig:
    """A function's handling of asynchronous invocations (EventBridge rules, schedules)."""

    maximum_retry_attempts: int = DEFAULT_ASYNC_RETRIES
    on_failure: str | None = None  # an SQS queue ARN


@dataclass(frozen=True)
class _Source:
    id: str  # Function.Event
    function: FunctionInfo
    kind: ClassVar[str]  # the SAM event type
    arn_field: ClassVar[str] = ""  # the field holding the ARN of what invokes the function

    @property
    def source(self) -> str:
        """The ARN of what invokes the function (as its invocations name it)."""
        return str(getattr(self, self.arn_field))


@dataclass(frozen=True)
class StreamSource(_Source):
    stream_arn: str
    batch_size: int = DEFAULT_STREAM_BATCH_SIZE
    starting_position: str = "LATEST"
    maximum_retry_attempts: int = LOCAL_STREAM_RETRY_LIMIT
    bisect_on_error: bool = False
    report_batch_item_failures: bool = False
    on_failure: str | None = None
    kind: ClassVar[str] = "DynamoDB"
    arn_field: ClassVar[str] = "stream_arn"


@dataclass(frozen=True)
class QueueSource(_Source):
    queue_arn: str
    batch_size: int = DEFAULT_QUEUE_BATCH_SIZE
    report_batch_item_failures: bool = False
    kind: ClassVar[str] = "SQS"
    arn_field: ClassVar[str] = "queue_arn"


@dataclass(frozen=True)
class RuleTarget(_Source):
    """A function as the target of an event-pattern rule, reached through a local queue."""

    rule_name: str
    bus_name: str
    target_id: str
    pattern: str  # JSON text
    kind: ClassVar[str] = "EventBridgeRule"

    @property
    def source(self) -> str:
        # Rules on the default bus have no bus in their ARN; rules on another bus do.
        bus = "" if self.bus_name in ("default", "") else f"{self.bus_name}/"
        return f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{bus}{self.rule_name}"


@dataclass(frozen=True)
class ScheduleSource(_Source):
    """An EventBridge Scheduler schedule (SAM ``ScheduleV2``) invoking its function."""

    rate: timedelta
    arn: str
    input: str  # JSON, with Scheduler's context attributes (<aws.scheduler.scheduled-time>)
    kind: ClassVar[str] = "ScheduleV2"
    arn_field: ClassVar[str] = "arn"


Source = StreamSource | QueueSource | RuleTarget | ScheduleSource


@dataclass
class EventSourcePlan:
    streams: list[StreamSource] = field(default_factory=list)
    queues: list[QueueSource] = field(default_factory=list)
    rules: list[RuleTarget] = field(default_factory=list)
    schedules: list[ScheduleSource] = field(default_factory=list)
    async_configs: dict[str, AsyncInvokeConfig] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def sources(self) -> list[Source]:
        return [*self.streams, *self.queues, *self.rules, *self.schedules]


# Schedule expressions: the template's schedules are rates

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$", re.I)
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def parse_rate(text: str) -> timedelta:
    """The period of ``rate(N unit)``; ValueError for anything else (cron and at() are not
    run locally)."""
    match = _RATE.match(text.strip())
    if match is None or int(match.group(1)) < 1:
        raise ValueError(f"schedule expression {text!r} is not a positive rate(...)")
    unit = match.group(2).lower().rstrip("s")
    return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[unit])


def next_run(period: timedelta, after: datetime, started: datetime) -> datetime:
    """A rate's next run strictly after ``after``, counting periods from ``started``."""
    elapsed = after - started
    periods = int(elapsed / period) + 1 if elapsed >= timedelta(0) else 1
    return started + periods * period


# Reading the template


def _reports_item_failures(properties: Mapping[str, Any]) -> bool:
    return "ReportBatchItemFailures" in (properties.get("FunctionResponseTypes") or [])


def local_name(*parts: str, limit: int) -> str:
    """A resource name AWS accepts ([A-Za-z0-9_-]); trimmed from the left part if too long."""
    name = re.sub(r"[^A-Za-z0-9_-]", "-", "-".join(part for part in parts if part))
    return name[-limit:] if len(name) > limit else name


def _on_failure(destinations: Any, what: str, warnings: list[str]) -> str | None:
    """An SQS ``OnFailure`` destination's ARN; another kind is named in the warnings."""
    destination = (destinations or {}).get("OnFailure")
    if not destination:
        return None
    arn = str(destination.get("Destination") or "")
    if arn.startswith("arn:aws:sqs:"):
        return arn
    warnings.append(f"{what}: OnFailure destination {arn!r} is not delivered locally")
    return None


@dataclass
class _Event:
    """One event of a function, its properties resolved."""

    info: FunctionInfo
    name: str
    properties: dict[str, Any]
    prefix: str

    @property
    def id(self) -> str:
        return f"{self.info.logical_id}.{self.name}"

    @property
    def default_name(self) -> str:
        """SAM names the rule or schedule {Function}{Event} when the event does not."""
        return local_name(self.prefix, self.info.logical_id + self.name, limit=64)


def _stream(plan: EventSourcePlan, event: _Event) -> None:
    p = event.properties
    retries = int(p.get("MaximumRetryAttempts", -1))
    plan.streams.append(
        StreamSource(
            id=event.id,
            function=event.info,
            stream_arn=str(p["Stream"]),
            batch_size=int(p.get("BatchSize", DEFAULT_STREAM_BATCH_SIZE)),
            starting_position=str(p.get("StartingPosition", "LATEST")).upper(),
            maximum_retry_attempts=LOCAL_STREAM_RETRY_LIMIT
            if retries < 0
            else min(retries, LOCAL_STREAM_RETRY_LIMIT),
            bisect_on_error=truthy(p.get("BisectBatchOnFunctionError")),
            report_batch_item_failures=_reports_item_failures(p),
            on_failure=_on_failure(p.get("DestinationConfig"), event.id, plan.warnings),
        )
    )


def _queue(plan: EventSourcePlan, event: _Event) -> None:
    p = event.properties
    plan.queues.append(
        QueueSource(
            id=event.id,
            function=event.info,
            queue_arn=str(p["Queue"]),
            batch_size=int(p.get("BatchSize", DEFAULT_QUEUE_BATCH_SIZE)),
            report_batch_item_failures=_reports_item_failures(p),
        )
    )


def _rule(plan: EventSourcePlan, event: _Event) -> None:
    p = event.properties
    plan.rules.append(
        RuleTarget(
            id=event.id,
            function=event.info,
            rule_name=str(p.get("RuleName") or event.default_name),
            bus_name=str(p.get("EventBusName") or "default"),
            target_id=f"{event.info.logical_id}{event.name}LambdaTarget"[:64],
            pattern=as_string(p.get("Pattern") or {}),
        )
    )


def _schedule(plan: EventSourcePlan, event: _Event) -> None:
    p = event.properties
    name = str(p.get("Name") or event.default_name)
    group = str(p.get("GroupName") or "default")
    plan.schedules.append(
        ScheduleSource(
            id=event.id,
            function=event.info,
            rate=parse_rate(str(p.get("ScheduleExpression"))),
            arn=f"arn:aws:scheduler:{REGION}:{ACCOUNT_ID}:schedule/{group}/{name}",
            input=as_string(p["Input"]),
        )
    )


_DECLARE: dict[str, Callable[[EventSourcePlan, _Event], None]] = {
    "DynamoDB": _stream,
    "SQS": _queue,
    "EventBridgeRule": _rule,
    "ScheduleV2": _schedule,
}


def discover(
    template: Mapping[str, Any],
    resources: Mapping[str, LocalResource],
    prefix: str = DEFAULT_PREFIX,
) -> EventSourcePlan:
    """Every event source of the template that triggers a local function."""
    resolver = Resolver(template, resources)
    plan = EventSourcePlan()
    for logical_id, info in functions(template).items():
        invoke_config = function_properties(template, logical_id).get("EventInvokeConfig") or {}
        invoke_config = resolver.resolve(invoke_config)
        plan.async_configs[logical_id] = AsyncInvokeConfig(
            maximum_retry_attempts=int(
                invoke_config.get("MaximumRetryAttempts", DEFAULT_ASYNC_RETRIES)
            ),
            on_failure=_on_failure(
                invoke_config.get("DestinationConfig"), logical_id, plan.warnings
            ),
        )
        for event_name, declared in info.events.items():
            kind = str(declared.get("Type"))
            if kind == "HttpApi":
                continue  # the gateway serves these
            event = _Event(info, event_name, {}, prefix)
            declare = _DECLARE.get(kind)
            if declare is None:
                plan.warnings.append(f"{event.id}: {kind} events are not delivered locally")
                continue
            try:
                event.properties = resolver.resolve(dict(declared.get("Properties") or {}))
                declare(plan, event)
            except (KeyError, ValueError) as error:
                plan.warnings.append(f"{event.id}: not delivered locally ({error})")
    return plan
