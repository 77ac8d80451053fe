"""Event sources delivered as AWS delivers them: what triggers each function, read from the
template, and the pollers that invoke the functions with Lambda's events.

- DynamoDB streams (SAM ``DynamoDB`` events): the stream is polled (four times a second
  while records come, backing off to once a second when idle), each batch goes to the
  function as Lambda's stream event; ``ReportBatchItemFailures`` retries from the first
  failed record, a function error bisects the batch (``BisectBatchOnFunctionError``), and a
  batch still failing after ``MaximumRetryAttempts`` goes to the ``OnFailure`` SQS
  destination as Lambda's invocation record.
- SQS queues (SAM ``SQS`` events): long polling; the records that succeeded are deleted,
  failed ones are left to become visible again after the queue's visibility timeout, so the
  queue's redrive policy moves them to its dead-letter queue after ``maxReceiveCount``.
- EventBridge rules with a function target (SAM ``EventBridgeRule``/``CloudWatchEvent``
  events, ``AWS::Events::Rule`` resources): moto cannot invoke a function, so the rule gets a
  queue of its own as its target; its poller invokes the function with the event, as an
  asynchronous invocation (the function's ``EventInvokeConfig`` retries, then its
  ``OnFailure`` destination or ``DeadLetterQueue``). Rules with SQS targets are moto's own.
- Schedules (SAM ``Schedule``/``ScheduleV2``, scheduled ``AWS::Events::Rule`` and
  ``AWS::Scheduler::Schedule``): a timer per schedule (``LOCAL_SCHEDULES=off`` disables them)
  invoking asynchronously with the scheduled event; ``fire_schedule`` runs one now.

Every invocation goes through ``lambdas.invoke``, whose lock gives functions one event at a
time as a Lambda execution environment does. A failing source is logged with its function and
counted in ``status()``; it never stops the others or the server.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

from local_stack import lambdas
from local_stack.lambda_events import (
    InvalidBatchResponse,
    ScheduleExpression,
    async_invocation_record,
    batch_item_failures,
    dynamodb_stream_record,
    eventbridge_event,
    records_event,
    scheduled_event,
    sequence_number,
    sqs_record,
    stream_failure_record,
    target_input,
)
from local_stack.template import (
    ACCOUNT_ID,
    DEFAULT_PREFIX,
    REGION,
    FunctionInfo,
    LocalResource,
    Resolver,
    as_string,
    functions,
    resources_of_type,
    target_service,
)

Invoker = Callable[[FunctionInfo, Any], Any]

# Lambda's defaults where the template says nothing.
DEFAULT_STREAM_BATCH_SIZE = 100
DEFAULT_QUEUE_BATCH_SIZE = 10
DEFAULT_ASYNC_RETRIES = 2
# Streams retry "until the record expires" by default (-1), 24 hours in DynamoDB: locally a
# failing record would hold its shard for the whole session, so retries are bounded.
LOCAL_STREAM_RETRY_LIMIT = 10
# Lambda waits about a minute, then two, between asynchronous retries; locally seconds, so a
# failing function shows its outcome (and its dead letter) while one is still looking.
ASYNC_RETRY_DELAYS_SECONDS = (1.0, 2.0)
# Stream polling: Lambda polls a shard four times a second; idle, we back off to once a second
# (the latency ceiling) so an idle stack costs next to no CPU.
STREAM_POLL_SECONDS = 0.25
IDLE_POLL_MAX_SECONDS = 1.0
# A long poll returns as soon as a message arrives; one second bounds how long stop() waits.
QUEUE_WAIT_SECONDS = 1
ERROR_BACKOFF_MAX_SECONDS = 10.0
SCHEDULE_TICK_SECONDS = 30.0  # a timer re-reads the clock at least this often


# ---------------------------------------------------------------------------
# What the template says: one dataclass per kind of source
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AsyncInvokeConfig:
    """A function's handling of asynchronous invocations (EventBridge, schedules)."""

    maximum_retry_attempts: int = DEFAULT_ASYNC_RETRIES
    on_success: str | None = None  # SQS queue ARNs
    on_failure: str | None = None
    dead_letter_queue: str | None = None


@dataclass(frozen=True)
class StreamSource:
    id: str
    function: FunctionInfo
    stream_arn: str
    batch_size: int = DEFAULT_STREAM_BATCH_SIZE
    starting_position: str = "LATEST"
    maximum_retry_attempts: int = LOCAL_STREAM_RETRY_LIMIT
    bisect_on_error: bool = False
    report_batch_item_failures: bool = False
    on_failure: str | None = None
    enabled: bool = True
    kind: str = "DynamoDB"

    @property
    def source(self) -> str:
        return self.stream_arn


@dataclass(frozen=True)
class QueueSource:
    id: str
    function: FunctionInfo
    queue_arn: str
    batch_size: int = DEFAULT_QUEUE_BATCH_SIZE
    report_batch_item_failures: bool = False
    enabled: bool = True
    kind: str = "SQS"

    @property
    def source(self) -> str:
        return self.queue_arn


@dataclass(frozen=True)
class RuleTarget:
    """A function as the target of an event-pattern rule, reached through a local queue."""

    id: str
    function: FunctionInfo
    rule_name: str
    bus_name: str
    target_id: str
    pattern: str | None = None  # JSON text; None when the rule already exists in moto
    state: str = "ENABLED"
    input: Any = None
    input_path: str | None = None
    input_transformer: Mapping[str, Any] | None = None
    kind: str = "EventBridgeRule"

    @property
    def source(self) -> str:
        # Rules on the default bus have no bus in their ARN; rules on another bus do.
        bus = "" if self.bus_name in ("default", "") else f"{self.bus_name}/"
        return f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{bus}{self.rule_name}"

    @property
    def creates_rule(self) -> bool:
        return self.pattern is not None


@dataclass(frozen=True)
class ScheduleSource:
    id: str
    function: FunctionInfo
    expression: str
    arn: str
    event_source: str  # aws.events (scheduled rule) or aws.scheduler (EventBridge Scheduler)
    input: str | None = None
    timezone: str | None = None
    enabled: bool = True
    aliases: tuple[str, ...] = ()
    kind: str = "Schedule"

    @property
    def source(self) -> str:
        return self.arn


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


def _truthy(value: Any, default: bool = True) -> bool:
    if value is None:
        return default
    return value is True or as_string(value).lower() == "true"


def _enabled(properties: Mapping[str, Any]) -> bool:
    state = properties.get("State")
    if state is not None and as_string(state).upper() != "ENABLED":
        return False
    return _truthy(properties.get("Enabled"), default=True)


def _reports_item_failures(properties: Mapping[str, Any]) -> bool:
    return "ReportBatchItemFailures" in (properties.get("FunctionResponseTypes") or [])


def _sqs_destination(
    destination: Mapping[str, Any] | None, what: str, warnings: list[str]
) -> str | None:
    """An SQS destination's ARN; other kinds (SNS, Lambda, EventBridge, S3) are named in the
    warnings and not delivered locally."""
    if not destination:
        return None
    arn = str(destination.get("Destination") or destination.get("Arn") or "")
    if target_service(arn) == "sqs":
        return arn
    warnings.append(f"{what}: destination {arn or destination!r} is not delivered locally")
    return None


def _function_arns(resolver: Resolver, infos: Mapping[str, FunctionInfo]) -> dict[str, str]:
    return {
        str(resolver.resolve({"Fn::GetAtt": [logical_id, "Arn"]})): logical_id
        for logical_id in infos
    }


def _unqualified(arn: str) -> str:
    """A function ARN without its version or alias (the first 7 colon-separated parts)."""
    return ":".join(arn.split(":")[:7])


def _local_name(*parts: str, limit: int) -> str:
    """A resource name AWS accepts ([A-Za-z0-9_-]); trimmed from the left part if too long."""
    name = re.sub(r"[^A-Za-z0-9_-]", "-", "-".join(part for part in parts if part))
    return name[-limit:] if len(name) > limit else name


def _async_config(
    properties: Mapping[str, Any], what: str, warnings: list[str]
) -> AsyncInvokeConfig:
    invoke_config = dict(properties.get("EventInvokeConfig") or {})
    destinations = dict(invoke_config.get("DestinationConfig") or {})
    dead_letter = dict(properties.get("DeadLetterQueue") or {})
    dead_letter_arn = None
    if dead_letter:
        if str(dead_letter.get("Type", "")).upper() == "SQS":
            dead_letter_arn = str(dead_letter.get("TargetArn"))
        else:
            warnings.append(f"{what}: DeadLetterQueue {dead_letter!r} is not delivered locally")
    return AsyncInvokeConfig(
        maximum_retry_attempts=int(
            invoke_config.get("MaximumRetryAttempts", DEFAULT_ASYNC_RETRIES)
        ),
        on_success=_sqs_destination(destinations.get("OnSuccess"), f"{what} OnSuccess", warnings),
        on_failure=_sqs_destination(destinations.get("OnFailure"), f"{what} OnFailure", warnings),
        dead_letter_queue=dead_letter_arn,
    )


_ASYNC_PROPERTIES = ("EventInvokeConfig", "DeadLetterQueue")
# Event types the gateway serves, not the pollers.
_HTTP_EVENT_TYPES = ("HttpApi", "Api")


class _Discovery:
    def __init__(
        self, template: Mapping[str, Any], resources: Mapping[str, LocalResource], prefix: str
    ):
        self.template = template
        self.resolver = Resolver(template, resources)
        self.prefix = prefix
        self.infos = functions(template)
        self.function_arns = _function_arns(self.resolver, self.infos)
        self.plan = EventSourcePlan()
        globals_function = dict(((template.get("Globals") or {}).get("Function")) or {})
        raw_resources = template.get("Resources") or {}
        for logical_id in self.infos:
            merged = {**globals_function, **dict(raw_resources[logical_id].get("Properties") or {})}
            # Only what asynchronous invocations need: the rest may not resolve locally.
            wanted = {key: merged[key] for key in _ASYNC_PROPERTIES if key in merged}
            try:
                resolved = self.resolver.resolve(wanted)
            except KeyError as error:
                self.plan.warnings.append(f"{logical_id}: cannot resolve {error}")
                resolved = {}
            self.plan.async_configs[logical_id] = _async_config(
                resolved, logical_id, self.plan.warnings
            )

    def run(self) -> EventSourcePlan:
        for info in self.infos.values():
            for event_name, event in info.events.items():
                self._function_event(info, event_name, event)
        self._rule_resources()
        self._scheduler_resources()
        return self.plan

    def _function_event(
        self, info: FunctionInfo, event_name: str, event: Mapping[str, Any]
    ) -> None:
        kind = str(event.get("Type"))
        source_id = f"{info.logical_id}.{event_name}"
        if kind in _HTTP_EVENT_TYPES:
            return
        try:
            properties = self.resolver.resolve(dict(event.get("Properties") or {}))
        except KeyError as error:
            self.plan.warnings.append(f"{source_id}: cannot resolve its properties ({error})")
            return
        handler = {
            "DynamoDB": self._stream,
            "SQS": self._queue,
            "EventBridgeRule": self._function_rule,
            "CloudWatchEvent": self._cloudwatch_event_rule,
            "Schedule": self._schedule,
            "ScheduleV2": self._schedule_v2,
        }.get(kind)
        if handler is None:
            self.plan.warnings.append(f"{source_id}: {kind} events are not delivered locally")
            return
        if properties.get("FilterCriteria"):
            self.plan.warnings.append(
                f"{source_id}: FilterCriteria is not applied locally (every record is delivered)"
            )
        handler(info, event_name, source_id, properties)

    def _stream(
        self, info: FunctionInfo, event_name: str, source_id: str, p: Mapping[str, Any]
    ) -> None:
        retries = int(p.get("MaximumRetryAttempts", -1))
        retries = (
            LOCAL_STREAM_RETRY_LIMIT if retries < 0 else min(retries, LOCAL_STREAM_RETRY_LIMIT)
        )
        on_failure = _sqs_destination(
            (p.get("DestinationConfig") or {}).get("OnFailure"), source_id, self.plan.warnings
        )
        self.plan.streams.append(
            StreamSource(
                id=source_id,
                function=info,
                stream_arn=str(p["Stream"]),
                batch_size=int(p.get("BatchSize", DEFAULT_STREAM_BATCH_SIZE)),
                starting_position=str(p.get("StartingPosition", "LATEST")).upper(),
                maximum_retry_attempts=retries,
                bisect_on_error=_truthy(p.get("BisectBatchOnFunctionError"), default=False),
                report_batch_item_failures=_reports_item_failures(p),
                on_failure=on_failure,
                enabled=_truthy(p.get("Enabled"), default=True),
            )
        )

    def _queue(
        self, info: FunctionInfo, event_name: str, source_id: str, p: Mapping[str, Any]
    ) -> None:
        self.plan.queues.append(
            QueueSource(
                id=source_id,
                function=info,
                queue_arn=str(p["Queue"]),
                batch_size=int(p.get("BatchSize", DEFAULT_QUEUE_BATCH_SIZE)),
                report_batch_item_failures=_reports_item_failures(p),
                enabled=_truthy(p.get("Enabled"), default=True),
            )
        )

    def _cloudwatch_event_rule(
        self, info: FunctionInfo, event_name: str, source_id: str, p: Mapping[str, Any]
    ) -> None:
        self._function_rule(info, event_name, source_id, p, kind="CloudWatchEvent")

    def _function_rule(
        self,
        info: FunctionInfo,
        event_name: str,
        source_id: str,
        p: Mapping[str, Any],
        kind: str = "EventBridgeRule",
    ) -> None:
        pattern = p.get("Pattern") or {}
        target = dict(p.get("Target") or {})
        self.plan.rules.append(
            RuleTarget(
                id=source_id,
                function=info,
                # SAM names the rule {Function}{Event} when RuleName is not given.
                rule_name=str(
                    p.get("RuleName")
                    or _local_name(self.prefix, info.logical_id + event_name, limit=64)
                ),
                bus_name=str(p.get("EventBusName") or "default"),
                target_id=str(target.get("Id") or f"{info.logical_id}{event_name}LambdaTarget")[
                    :64
                ],
                pattern=pattern if isinstance(pattern, str) else json.dumps(pattern),
                state=str(p.get("State") or "ENABLED"),
                input=p.get("Input"),
                input_path=p.get("InputPath"),
                input_transformer=p.get("InputTransformer"),
                kind=kind,
            )
        )

    def _schedule(
        self, info: FunctionInfo, event_name: str, source_id: str, p: Mapping[str, Any]
    ) -> None:
        name = str(
            p.get("Name") or _local_name(self.prefix, info.logical_id + event_name, limit=64)
        )
        self.plan.schedules.append(
            ScheduleSource(
                id=source_id,
                function=info,
                expression=str(p.get("Schedule")),
                arn=f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{name}",
                event_source="aws.events",
                input=as_string(p["Input"]) if p.get("Input") is not None else None,
                enabled=_enabled(p),
                aliases=(event_name, info.logical_id + event_name, name),
                kind="Schedule",
            )
        )

    def _schedule_v2(
        self, info: FunctionInfo, event_name: str, source_id: str, p: Mapping[str, Any]
    ) -> None:
        name = str(
            p.get("Name") or _local_name(self.prefix, info.logical_id + event_name, limit=64)
        )
        group = str(p.get("GroupName") or "default")
        self.plan.schedules.append(
            ScheduleSource(
                id=source_id,
                function=info,
                expression=str(p.get("ScheduleExpression")),
                arn=f"arn:aws:scheduler:{REGION}:{ACCOUNT_ID}:schedule/{group}/{name}",
                event_source="aws.scheduler",
                input=as_string(p["Input"]) if p.get("Input") is not None else None,
                timezone=p.get("ScheduleExpressionTimezone"),
                enabled=_enabled(p),
                aliases=(event_name, info.logical_id + event_name, name),
                kind="ScheduleV2",
            )
        )

    def _target_function(self, arn: str) -> FunctionInfo | None:
        logical_id = self.function_arns.get(_unqualified(arn))
        return self.infos.get(logical_id) if logical_id else None

    def _rule_resources(self) -> None:
        for logical_id, resource in resources_of_type(self.template, "AWS::Events::Rule").items():
            try:
                p = self.resolver.resolve(dict(resource.get("Properties") or {}))
            except KeyError as error:
                self.plan.warnings.append(f"{logical_id}: cannot resolve its properties ({error})")
                continue
            rule_name = str(p.get("Name") or f"{self.prefix}-{logical_id}")
            for target in p.get("Targets") or []:
                arn = str(target.get("Arn", ""))
                service = target_service(arn)
                if service != "lambda":
                    if service not in ("sqs", "logs", "events"):
                        self.plan.warnings.append(
                            f"{logical_id}: target {arn} ({service}) is not delivered locally"
                        )
                    continue
                info = self._target_function(arn)
                if info is None:
                    self.plan.warnings.append(f"{logical_id}: target {arn} is not a local function")
                    continue
                source_id = f"{logical_id}.{target.get('Id')}"
                if p.get("ScheduleExpression"):
                    self.plan.schedules.append(
                        ScheduleSource(
                            id=source_id,
                            function=info,
                            expression=str(p["ScheduleExpression"]),
                            arn=f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{rule_name}",
                            event_source="aws.events",
                            input=as_string(target["Input"]) if "Input" in target else None,
                            enabled=_enabled(p),
                            aliases=(logical_id, rule_name),
                            kind="AWS::Events::Rule",
                        )
                    )
                    continue
                self.plan.rules.append(
                    RuleTarget(
                        id=source_id,
                        function=info,
                        rule_name=rule_name,
                        bus_name=str(p.get("EventBusName") or "default"),
                        target_id=str(target.get("Id")),
                        pattern=None,  # created, pattern and all, with the template's resources
                        state=str(p.get("State") or "ENABLED"),
                        input=target.get("Input"),
                        input_path=target.get("InputPath"),
                        input_transformer=target.get("InputTransformer"),
                        kind="AWS::Events::Rule",
                    )
                )

    def _scheduler_resources(self) -> None:
        for logical_id, resource in resources_of_type(
            self.template, "AWS::Scheduler::Schedule"
        ).items():
            try:
                p = self.resolver.resolve(dict(resource.get("Properties") or {}))
            except KeyError as error:
                self.plan.warnings.append(f"{logical_id}: cannot resolve its properties ({error})")
                continue
            target = dict(p.get("Target") or {})
            info = self._target_function(str(target.get("Arn", "")))
            if info is None:
                self.plan.warnings.append(f"{logical_id}: only function targets run locally")
                continue
            name = str(p.get("Name") or f"{self.prefix}-{logical_id}")
            group = str(p.get("GroupName") or "default")
            self.plan.schedules.append(
                ScheduleSource(
                    id=logical_id,
                    function=info,
                    expression=str(p.get("ScheduleExpression")),
                    arn=f"arn:aws:scheduler:{REGION}:{ACCOUNT_ID}:schedule/{group}/{name}",
                    event_source="aws.scheduler",
                    input=as_string(target["Input"]) if "Input" in target else None,
                    timezone=p.get("ScheduleExpressionTimezone"),
                    enabled=_enabled(p),
                    aliases=(name,),
                    kind="AWS::Scheduler::Schedule",
                )
            )


def discover(
    template: Mapping[str, Any],
    resources: Mapping[str, LocalResource],
    prefix: str = DEFAULT_PREFIX,
) -> EventSourcePlan:
    """Every event source of the template that triggers a local function."""
    return _Discovery(template, resources, prefix).run()


# ---------------------------------------------------------------------------
# Status: what each source delivered, for GET /_local/events/status
# ---------------------------------------------------------------------------


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class SourceStatus:
    id: str
    kind: str
    function: str
    source: str
    running: bool = False
    deliveries: int = 0  # invocations that succeeded (every record of the batch)
    records: int = 0  # records or events handed to the function in those
    failures: int = 0  # failed invocations, partial batch failures and polling errors
    last_error: str | None = None
    last_error_at: str | None = None
    last_delivery_at: str | None = None
    next_run_at: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def delivered(self, records: int) -> None:
        with self._lock:
            self.deliveries += 1
            self.records += records
            self.last_delivery_at = _now_iso()

    def failed(self, error: str) -> None:
        with self._lock:
            self.failures += 1
            self.last_error = error
            self.last_error_at = _now_iso()

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return {key: value for key, value in self.__dict__.items() if not key.startswith("_")}


# ---------------------------------------------------------------------------
# Running: one daemon thread per source
# ---------------------------------------------------------------------------


def schedules_enabled(environ: Mapping[str, str]) -> bool:
    """LOCAL_SCHEDULES: ``on`` (default: schedules fire in real time) or ``off``."""
    return environ.get("LOCAL_SCHEDULES", "on").strip().lower() not in ("off", "false", "0", "no")


def _aws_client(service: str, endpoint: str, read_timeout: float = 10.0) -> Any:
    import boto3
    from botocore.config import Config

    # Few retries and short timeouts: a poller reports a failure and tries again itself.
    config = Config(
        retries={"max_attempts": 2, "mode": "standard"},
        connect_timeout=2,
        read_timeout=read_timeout,
    )
    return boto3.session.Session().client(
        service,
        endpoint_url=endpoint,  # also spares dynamodbstreams botocore's account-based endpoint
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=config,
    )


class UnknownSchedule(KeyError):
    """No schedule, or more than one, answers to the name."""


class EventSources:
    """The pollers and timers of a plan: ``setup()`` once resources exist, ``start()``,
    ``stop()``; ``status()`` and ``fire_schedule()`` for the local-only routes."""

    def __init__(
        self,
        plan: EventSourcePlan,
        endpoint: str,
        *,
        invoke: Invoker = lambdas.invoke,
        schedules: bool = True,
        prefix: str = DEFAULT_PREFIX,
        output: TextIO | None = None,
    ):
        self.plan = plan
        self.endpoint = endpoint
        self.schedules_on = schedules
        self.prefix = prefix
        self._invoke_function = invoke
        self._output = output
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._status = {
            source.id: SourceStatus(
                source.id, source.kind, source.function.logical_id, source.source
            )
            for source in plan.sources
        }
        self._queue_urls: dict[str, str] = {}
        self._shim_urls: dict[str, str] = {}
        self._sqs = _aws_client("sqs", endpoint)
        self._setup_done = False

    # -- logging -------------------------------------------------------------

    def log(self, message: str) -> None:
        print(f"events: {message}", file=self._output or sys.stderr, flush=True)

    def _log_failure(self, source: Source, what: str, error: BaseException | str) -> None:
        text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        self._status[source.id].failed(text)
        self.log(f"{source.id} -> {source.function.logical_id}: {what}: {text}")
        if isinstance(error, BaseException):
            traceback.print_exception(error, file=self._output or sys.stderr)

    # -- set-up ----------------------------------------------------------------

    def queue_url(self, arn: str) -> str:
        if arn not in self._queue_urls:
            name = arn.rsplit(":", 1)[-1]
            account = arn.split(":")[4]
            self._queue_urls[arn] = self._sqs.get_queue_url(
                QueueName=name, QueueOwnerAWSAccountId=account
            )["QueueUrl"]
        return self._queue_urls[arn]

    def setup(self) -> None:
        """Give every rule with a function target its local queue. Idempotent."""
        if self._setup_done:
            return
        for warning in self.plan.warnings:
            self.log(f"note: {warning}")
        events = _aws_client("events", self.endpoint)
        for rule in self.plan.rules:
            try:
                self._shim_urls[rule.id] = self._connect_rule(events, rule)
            except Exception as error:  # one bad rule must not cost the others theirs
                self._log_failure(rule, "cannot connect the rule", error)
        self._setup_done = True

    def _connect_rule(self, events: Any, rule: RuleTarget) -> str:
        # Long enough that a message is not received again while its retries are running.
        visibility = max(30, rule.function.timeout * (2 + DEFAULT_ASYNC_RETRIES) + 10)
        url = self._sqs.create_queue(
            QueueName=_local_name(self.prefix, rule.id, "target", limit=80),
            Attributes={"VisibilityTimeout": str(min(visibility, 43200))},
        )["QueueUrl"]
        arn = self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        if rule.creates_rule:
            events.put_rule(
                Name=rule.rule_name,
                EventBusName=rule.bus_name,
                EventPattern=rule.pattern,
                State=rule.state,
            )
        target: dict[str, Any] = {"Id": rule.target_id, "Arn": arn}
        if rule.input_transformer:
            target["InputTransformer"] = dict(rule.input_transformer)  # moto applies it
        events.put_targets(Rule=rule.rule_name, EventBusName=rule.bus_name, Targets=[target])
        return str(url)

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> None:
        self.setup()
        workers: list[tuple[Source, Callable[[], None]]] = []
        for stream in self.plan.streams:
            if stream.enabled:
                workers.append((stream, _StreamPoller(self, stream).run))
        for queue in self.plan.queues:
            if queue.enabled:
                workers.append((queue, _QueuePoller(self, queue).run))
        for rule in self.plan.rules:
            if rule.id in self._shim_urls:
                workers.append((rule, _RulePoller(self, rule).run))
        if self.schedules_on:
            for schedule in self.plan.schedules:
                if schedule.enabled:
                    workers.append((schedule, _ScheduleTimer(self, schedule).run))
        for source, run in workers:
            thread = threading.Thread(target=run, name=f"events:{source.id}", daemon=True)
            self._status[source.id].running = True
            self._threads.append(thread)
            thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask every poller to stop and wait for them, ``timeout`` seconds at most in all (a
        function still running cannot be interrupted: its daemon thread ends with the process)."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        still_running = [thread.name for thread in self._threads if thread.is_alive()]
        if still_running:
            self.log(f"still busy at shutdown: {', '.join(still_running)}")

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep unless stopping; True if stopping."""
        return self._stop.wait(seconds)

    def status(self) -> dict[str, Any]:
        return {
            "schedules": "on" if self.schedules_on else "off",
            "sources": {source_id: status.as_dict() for source_id, status in self._status.items()},
        }

    def source_status(self, source_id: str) -> SourceStatus:
        return self._status[source_id]

    # -- invoking --------------------------------------------------------------

    def invoke(self, source: Source, event: Any) -> tuple[Any, BaseException | None]:
        """One invocation; an exception is logged with the function, counted and returned."""
        try:
            return self._invoke_function(source.function, event), None
        except Exception as error:
            self._log_failure(source, "the function failed", error)
            return None, error

    def send_to_queue(
        self, arn: str, body: Any, attributes: Mapping[str, Any] | None = None
    ) -> None:
        self._sqs.send_message(
            QueueUrl=self.queue_url(arn),
            MessageBody=body if isinstance(body, str) else json.dumps(body, default=str),
            **({"MessageAttributes": dict(attributes)} if attributes else {}),
        )

    def invoke_async(self, source: Source, event: Any) -> None:
        """An asynchronous invocation as Lambda runs one: retries, then destinations."""
        config = self.plan.async_configs.get(source.function.logical_id, AsyncInvokeConfig())
        function_arn = _function_arn(source.function)
        attempts = 0
        error: BaseException | None = None
        while True:
            attempts += 1
            result, error = self.invoke(source, event)
            if error is None:
                self._status[source.id].delivered(1)
                if config.on_success:
                    record = async_invocation_record(
                        event, function_arn=function_arn, invoke_count=attempts, result=result
                    )
                    self._safe_send(source, config.on_success, record)
                return
            if attempts > config.maximum_retry_attempts or self.stopping:
                break
            delay = ASYNC_RETRY_DELAYS_SECONDS[min(attempts, len(ASYNC_RETRY_DELAYS_SECONDS)) - 1]
            if self.wait(delay):
                break
        self.log(
            f"{source.id} -> {source.function.logical_id}: gave up after {attempts} attempt(s)"
        )
        if config.on_failure:
            record = async_invocation_record(
                event, function_arn=function_arn, invoke_count=attempts, error=error
            )
            self._safe_send(source, config.on_failure, record)
        if config.dead_letter_queue and error is not None:
            attributes = {
                "RequestID": {"DataType": "String", "StringValue": str(uuid.uuid4())},
                "ErrorCode": {"DataType": "Number", "StringValue": "200"},
                "ErrorMessage": {"DataType": "String", "StringValue": str(error)[:1000] or "error"},
            }
            self._safe_send(source, config.dead_letter_queue, event, attributes)

    def _safe_send(
        self, source: Source, arn: str, body: Any, attributes: Mapping[str, Any] | None = None
    ) -> None:
        try:
            self.send_to_queue(arn, body, attributes)
        except Exception as error:
            self._log_failure(source, f"cannot send to {arn}", error)

    # -- schedules fired by hand -----------------------------------------------

    def find_schedule(self, name: str) -> ScheduleSource:
        """A schedule by id (``Function.Event``), event name, SAM's ``FunctionEvent`` logical
        id, schedule or rule name, or its function (logical id or folder) when it has one."""
        schedules = self.plan.schedules
        for matches in (
            lambda s: name == s.id,
            lambda s: name in s.aliases,
            lambda s: name in (s.function.logical_id, s.function.function_dir),
        ):
            found = [schedule for schedule in schedules if matches(schedule)]
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                names = ", ".join(schedule.id for schedule in found)
                raise UnknownSchedule(f"{name!r} names several schedules: {names}")
        known = ", ".join(schedule.id for schedule in schedules) or "none"
        raise UnknownSchedule(f"no schedule {name!r}; the template's schedules: {known}")

    def scheduled_event(self, schedule: ScheduleSource, when: datetime) -> Any:
        return scheduled_event(
            source=schedule.event_source,
            resource_arn=schedule.arn,
            when=when,
            account=ACCOUNT_ID,
            region=REGION,
            input_text=schedule.input,
        )

    def fire_schedule(
        self, name: str, when: datetime | None = None
    ) -> tuple[ScheduleSource, Any, Any, BaseException | None]:
        """Invoke a schedule's function once now (synchronously, no retries), as if the
        schedule fired at ``when`` (default now): (schedule, event, result, error)."""
        schedule = self.find_schedule(name)
        event = self.scheduled_event(schedule, when or datetime.now(UTC))
        self.log(f"{schedule.id} -> {schedule.function.logical_id}: fired by hand")
        result, error = self.invoke(schedule, event)
        if error is None:
            self._status[schedule.id].delivered(1)
        return schedule, event, result, error


def _function_arn(info: FunctionInfo) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{info.function_name}"


class _Worker:
    """A polling loop: ``poll()`` returns whether it found work; errors back off."""

    idle_start = STREAM_POLL_SECONDS

    def __init__(self, sources: EventSources, source: Source):
        self.sources = sources
        self.source = source

    def poll(self) -> bool:
        raise NotImplementedError

    def run(self) -> None:
        idle = self.idle_start
        errors = 0
        try:
            while not self.sources.stopping:
                try:
                    busy = self.poll()
                    errors = 0
                except Exception as error:
                    if self.sources.stopping:
                        return  # the embedded AWS is going away with us
                    errors += 1
                    self.sources._log_failure(self.source, "polling failed", error)
                    self.sources.wait(min(ERROR_BACKOFF_MAX_SECONDS, 0.5 * 2**errors))
                    continue
                if busy:
                    idle = self.idle_start
                elif idle > 0:
                    self.sources.wait(idle)
                    idle = min(idle * 2, IDLE_POLL_MAX_SECONDS)
        finally:
            self.sources.source_status(self.source.id).running = False


class _StreamPoller(_Worker):
    source: StreamSource

    def __init__(self, sources: EventSources, source: StreamSource):
        super().__init__(sources, source)
        self.streams = _aws_client("dynamodbstreams", sources.endpoint)
        self.iterators: dict[str, str | None] | None = None
        self.checkpoints: dict[str, str] = {}  # shard -> last sequence number handled

    def _open(self) -> dict[str, str | None]:
        description = self.streams.describe_stream(StreamArn=self.source.stream_arn)
        iterators: dict[str, str | None] = {}
        for shard in description["StreamDescription"].get("Shards") or []:
            shard_id = shard["ShardId"]
            position: dict[str, Any]
            if shard_id in self.checkpoints:
                position = {
                    "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
                    "SequenceNumber": self.checkpoints[shard_id],
                }
            elif self.source.starting_position == "LATEST":
                position = {"ShardIteratorType": "LATEST"}
            else:  # TRIM_HORIZON (AT_TIMESTAMP is Kinesis-only)
                position = {"ShardIteratorType": "TRIM_HORIZON"}
            iterators[shard_id] = self.streams.get_shard_iterator(
                StreamArn=self.source.stream_arn, ShardId=shard_id, **position
            )["ShardIterator"]
        return iterators

    def poll(self) -> bool:
        if self.iterators is None:
            self.iterators = self._open()
        busy = False
        for shard_id, iterator in list(self.iterators.items()):
            if iterator is None or self.sources.stopping:
                continue
            try:
                response = self.streams.get_records(
                    ShardIterator=iterator, Limit=self.source.batch_size
                )
            except Exception:
                self.iterators = None  # expired or lost: reopen after the checkpoints
                raise
            self.iterators[shard_id] = response.get("NextShardIterator")
            raw_records = response.get("Records") or []
            if not raw_records:
                continue
            busy = True
            records = [
                dynamodb_stream_record(record, self.source.stream_arn, REGION)
                for record in raw_records
            ]
            self.deliver(shard_id, records)
            self.checkpoints[shard_id] = sequence_number(records[-1])
        if self.iterators is not None and all(value is None for value in self.iterators.values()):
            self.iterators = None  # every shard closed: look for their children
        return busy

    def deliver(self, shard_id: str, records: list[dict[str, Any]]) -> None:
        """Invoke until the batch succeeds, or its retries run out and it is discarded."""
        source, status = self.source, self.sources.source_status(self.source.id)
        attempts = 0
        while records:
            attempts += 1
            result, error = self.sources.invoke(source, records_event(records))
            function_error: str | None = None
            if error is None:
                numbers = [sequence_number(record) for record in records]
                try:
                    failed = (
                        batch_item_failures(result, numbers)
                        if source.report_batch_item_failures
                        else []
                    )
                except InvalidBatchResponse as invalid:
                    failed = numbers
                    status.failed(f"invalid batch response, the whole batch fails: {invalid}")
                if not failed:
                    status.delivered(len(records))
                    return
                if len(failed) < len(numbers):
                    status.failed(f"{len(failed)} of {len(numbers)} records reported as failed")
                # Checkpoint before the first failure: the retry starts there.
                records = records[numbers.index(failed[0]) :]
            else:
                function_error = "Unhandled"
                if source.bisect_on_error and len(records) > 1:
                    # Splitting does not use up retries: each half gets its own.
                    middle = len(records) // 2
                    self.deliver(shard_id, records[:middle])
                    self.deliver(shard_id, records[middle:])
                    return
            if self.sources.stopping:
                return
            if attempts > source.maximum_retry_attempts:
                self.discard(shard_id, records, attempts, function_error)
                return
            self.sources.wait(min(2.0, 0.1 * 2**attempts))

    def discard(
        self,
        shard_id: str,
        records: Sequence[Mapping[str, Any]],
        attempts: int,
        function_error: str | None,
    ) -> None:
        source = self.source
        first, last = sequence_number(records[0]), sequence_number(records[-1])
        self.sources.log(
            f"{source.id} -> {source.function.logical_id}: discarding records {first}..{last} "
            f"after {attempts} attempts"
            + (f", sent to {source.on_failure}" if source.on_failure else " (no OnFailure)")
        )
        if source.on_failure:
            record = stream_failure_record(
                records,
                function_arn=_function_arn(source.function),
                shard_id=shard_id,
                stream_arn=source.stream_arn,
                invoke_count=attempts,
                function_error=function_error,
            )
            self.sources._safe_send(source, source.on_failure, record)


def _receive(sqs: Any, url: str, limit: int, wait_seconds: int) -> list[dict[str, Any]]:
    """Up to ``limit`` messages: one long poll, then quick receives while more are there
    (ReceiveMessage returns ten at most)."""
    messages: list[dict[str, Any]] = []
    wait = wait_seconds
    while len(messages) < limit:
        batch = (
            sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=min(10, limit - len(messages)),
                WaitTimeSeconds=wait,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages")
            or []
        )
        messages.extend(batch)
        if not batch:
            break
        wait = 0
    return messages


def _delete(sqs: Any, url: str, messages: Iterable[Mapping[str, Any]]) -> None:
    entries = [
        {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
        for index, message in enumerate(messages)
    ]
    for start in range(0, len(entries), 10):
        response = sqs.delete_message_batch(QueueUrl=url, Entries=entries[start : start + 10])
        if response.get("Failed"):
            raise RuntimeError(f"deleting messages failed: {response['Failed']}")


class _QueuePoller(_Worker):
    source: QueueSource
    idle_start = 0.0  # the long poll is the wait

    def __init__(self, sources: EventSources, source: QueueSource):
        super().__init__(sources, source)
        self.sqs = _aws_client("sqs", sources.endpoint, read_timeout=QUEUE_WAIT_SECONDS + 10)
        self.url: str | None = None

    def poll(self) -> bool:
        if self.url is None:
            self.url = self.sources.queue_url(self.source.queue_arn)
        messages = _receive(self.sqs, self.url, self.source.batch_size, QUEUE_WAIT_SECONDS)
        if not messages:
            return False
        records = [sqs_record(message, self.source.queue_arn, REGION) for message in messages]
        result, error = self.sources.invoke(self.source, records_event(records))
        if error is not None:
            return True  # every message becomes visible again after the visibility timeout
        status = self.sources.source_status(self.source.id)
        ids = [message["MessageId"] for message in messages]
        try:
            failed = set(
                batch_item_failures(result, ids) if self.source.report_batch_item_failures else []
            )
        except InvalidBatchResponse as invalid:
            status.failed(f"invalid batch response, the whole batch fails: {invalid}")
            return True
        _delete(self.sqs, self.url, [m for m in messages if m["MessageId"] not in failed])
        if failed:
            status.failed(f"{len(failed)} of {len(ids)} messages reported as failed")
        else:
            status.delivered(len(messages))
        return True


class _RulePoller(_Worker):
    """A rule's function target: each event on the rule's local queue is one asynchronous
    invocation of the function."""

    source: RuleTarget
    idle_start = 0.0

    def __init__(self, sources: EventSources, source: RuleTarget):
        super().__init__(sources, source)
        self.sqs = _aws_client("sqs", sources.endpoint, read_timeout=QUEUE_WAIT_SECONDS + 10)
        self.url = sources._shim_urls[source.id]

    def poll(self) -> bool:
        messages = _receive(self.sqs, self.url, 10, QUEUE_WAIT_SECONDS)
        for message in messages:
            if self.sources.stopping:
                break
            try:
                delivered = json.loads(message.get("Body") or "null")
            except ValueError:
                delivered = message.get("Body")
            event: Any = delivered
            if isinstance(delivered, Mapping) and not self.source.input_transformer:
                event = eventbridge_event(delivered, ACCOUNT_ID, REGION)
            target = {"Input": self.source.input, "InputPath": self.source.input_path}
            self.sources.invoke_async(self.source, target_input(event, target))
            _delete(self.sqs, self.url, [message])
        return bool(messages)


class _ScheduleTimer:
    def __init__(self, sources: EventSources, source: ScheduleSource):
        self.sources = sources
        self.source = source

    def run(self) -> None:
        status = self.sources.source_status(self.source.id)
        try:
            expression = ScheduleExpression.parse(self.source.expression, self.source.timezone)
        except ValueError as error:
            self.sources._log_failure(
                self.source,
                "the schedule does not run locally (POST /_local/schedules/ does)",
                error,
            )
            status.running = False
            return
        started = datetime.now(UTC)
        due = expression.next_after(started, started)
        try:
            while due is not None and not self.sources.stopping:
                status.next_run_at = due.isoformat().replace("+00:00", "Z")
                remaining = (due - datetime.now(UTC)).total_seconds()
                if remaining > 0:
                    # Short naps: a changed clock (a laptop waking up) is noticed.
                    self.sources.wait(min(remaining, SCHEDULE_TICK_SECONDS))
                    continue
                try:
                    self.sources.invoke_async(
                        self.source, self.sources.scheduled_event(self.source, due)
                    )
                except Exception as error:  # a bug here must not end the timer
                    self.sources._log_failure(self.source, "the scheduled run failed", error)
                # Runs missed while this one ran (or while asleep) are skipped, not replayed.
                due = expression.next_after(max(due, datetime.now(UTC)), started)
        finally:
            status.running = False
            status.next_run_at = None
