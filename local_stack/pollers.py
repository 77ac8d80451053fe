"""The pollers: the event sources of ``local_stack.event_sources`` delivered to the functions
as AWS delivers them.

- DynamoDB streams: the stream is polled (four times a second while records come, backing
  off to once a second when idle), each batch goes to the function as Lambda's stream event;
  ``ReportBatchItemFailures`` retries from the first failed record, a function error bisects
  the batch (``BisectBatchOnFunctionError``), and a batch still failing after
  ``MaximumRetryAttempts`` goes to the ``OnFailure`` SQS destination as Lambda's record.
- SQS queues: long polling; the records that succeeded are deleted, failed ones are left to
  become visible again after the queue's visibility timeout, so the queue's redrive policy
  moves them to its dead-letter queue after ``maxReceiveCount``.
- EventBridge rules with a function target: moto cannot invoke a function, so the rule gets a
  queue of its own as its target; its poller invokes the function with each event, as an
  asynchronous invocation (the function's ``EventInvokeConfig`` retries, then its
  ``OnFailure`` queue). Rules with SQS targets are moto's own.
- Schedules: a timer per schedule (``LOCAL_SCHEDULES=off`` disables them) invoking
  asynchronously with the scheduled event; ``fire_schedule`` runs one now.

Every invocation goes through ``lambdas.invoke``, whose lock gives functions one event at a
time as a Lambda execution environment does. A failing source is logged with its function and
counted in ``status()``; it never stops the others or the server.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from local_stack import lambdas
from local_stack.embedded_aws import aws_client
from local_stack.event_sources import (
    DEFAULT_ASYNC_RETRIES,
    AsyncInvokeConfig,
    EventSourcePlan,
    QueueSource,
    RuleTarget,
    ScheduleSource,
    Source,
    StreamSource,
    local_name,
    next_run,
)
from local_stack.lambda_events import (
    InvalidBatchResponse,
    async_invocation_record,
    batch_item_failures,
    dynamodb_stream_record,
    iso_millis,
    records_event,
    scheduled_event,
    sequence_number,
    sqs_record,
    stream_failure_record,
)
from local_stack.template import DEFAULT_PREFIX, REGION, FunctionInfo

Invoker = Callable[[FunctionInfo, Any], Any]

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


@dataclass
class SourceStatus:
    """What a source delivered, for ``GET /_local/events/status``."""

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
            self.last_delivery_at = iso_millis(datetime.now(UTC))

    def failed(self, error: str) -> None:
        with self._lock:
            self.failures += 1
            self.last_error = error
            self.last_error_at = iso_millis(datetime.now(UTC))

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return {key: value for key, value in self.__dict__.items() if not key.startswith("_")}


def schedules_enabled(environ: Mapping[str, str]) -> bool:
    """LOCAL_SCHEDULES: ``on`` (default: schedules fire in real time) or ``off``."""
    return environ.get("LOCAL_SCHEDULES", "on").strip().lower() not in ("off", "false", "0", "no")


def _aws_client(service: str, endpoint: str) -> Any:
    from botocore.config import Config

    # Few retries and short timeouts: a poller reports a failure and tries again itself.
    config = Config(
        retries={"max_attempts": 2, "mode": "standard"},
        connect_timeout=2,
        read_timeout=QUEUE_WAIT_SECONDS + 10,
    )
    return aws_client(service, endpoint, config)


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
    ):
        self.plan = plan
        self.endpoint = endpoint
        self.schedules_on = schedules
        self.prefix = prefix
        self._invoke_function = invoke
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._status = {
            source.id: SourceStatus(
                source.id, source.kind, source.function.logical_id, source.source
            )
            for source in plan.sources
        }
        self.rule_queue_urls: dict[str, str] = {}
        self.sqs = _aws_client("sqs", endpoint)
        self._setup_done = False

    def log(self, message: str) -> None:
        print(f"events: {message}", file=sys.stderr, flush=True)

    def log_failure(self, source: Source, what: str, error: BaseException | str) -> None:
        text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        self._status[source.id].failed(text)
        self.log(f"{source.id} -> {source.function.logical_id}: {what}: {text}")
        if isinstance(error, BaseException):
            traceback.print_exception(error, file=sys.stderr)

    def queue_url(self, arn: str) -> str:
        return str(self.sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[-1])["QueueUrl"])

    def setup(self) -> None:
        """Give every rule with a function target its local queue. Idempotent."""
        if self._setup_done:
            return
        for warning in self.plan.warnings:
            self.log(f"note: {warning}")
        events = _aws_client("events", self.endpoint)
        for rule in self.plan.rules:
            try:
                self.rule_queue_urls[rule.id] = self._connect_rule(events, rule)
            except Exception as error:  # one bad rule must not cost the others theirs
                self.log_failure(rule, "cannot connect the rule", error)
        self._setup_done = True

    def _connect_rule(self, events: Any, rule: RuleTarget) -> str:
        # Long enough that a message is not received again while its retries are running.
        visibility = max(30, rule.function.timeout * (2 + DEFAULT_ASYNC_RETRIES) + 10)
        url = self.sqs.create_queue(
            QueueName=local_name(self.prefix, rule.id, "target", limit=80),
            Attributes={"VisibilityTimeout": str(min(visibility, 43200))},
        )["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        events.put_rule(Name=rule.rule_name, EventBusName=rule.bus_name, EventPattern=rule.pattern)
        target = {"Id": rule.target_id, "Arn": arn}
        events.put_targets(Rule=rule.rule_name, EventBusName=rule.bus_name, Targets=[target])
        return str(url)

    def start(self) -> None:
        self.setup()
        workers: list[_Worker] = [
            *(_StreamPoller(self, stream) for stream in self.plan.streams),
            *(_QueuePoller(self, queue, batch_size=queue.batch_size) for queue in self.plan.queues),
            *(
                _RulePoller(self, rule, self.rule_queue_urls[rule.id])
                for rule in self.plan.rules
                if rule.id in self.rule_queue_urls
            ),
            *(_ScheduleTimer(self, s) for s in self.plan.schedules if self.schedules_on),
        ]
        for worker in workers:
            name = f"events:{worker.source.id}"
            thread = threading.Thread(target=worker.run, name=name, daemon=True)
            self._status[worker.source.id].running = True
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

    def invoke(self, source: Source, event: Any) -> tuple[Any, BaseException | None]:
        """One invocation; an exception is logged with the function, counted and returned."""
        try:
            return self._invoke_function(source.function, event), None
        except Exception as error:
            self.log_failure(source, "the function failed", error)
            return None, error

    def send_to_queue(self, source: Source, arn: str, body: Any) -> None:
        """A failure record to an OnFailure queue; a failure to send is logged and counted."""
        try:
            url = self.queue_url(arn)
            self.sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body, default=str))
        except Exception as error:
            self.log_failure(source, f"cannot send to {arn}", error)

    def invoke_async(self, source: Source, event: Any) -> None:
        """An asynchronous invocation as Lambda runs one: retries, then the OnFailure queue."""
        config = self.plan.async_configs.get(source.function.logical_id, AsyncInvokeConfig())
        attempts = 0
        while True:
            attempts += 1
            _, error = self.invoke(source, event)
            if error is None:
                self._status[source.id].delivered(1)
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
                event, function_arn=source.function.arn, invoke_count=attempts, error=error
            )
            self.send_to_queue(source, config.on_failure, record)

    def find_schedule(self, name: str) -> ScheduleSource:
        """A schedule by id (``Function.Event``), event name, or its function (logical id or
        folder) when it has one."""
        schedules = self.plan.schedules
        for matches in (
            lambda s: name == s.id,
            lambda s: name == s.id.partition(".")[2],
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
        return scheduled_event(schedule.input, resource_arn=schedule.arn, when=when)

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


class _Worker:
    """A polling loop: ``poll()`` returns whether it found work; errors back off."""

    idle_start = STREAM_POLL_SECONDS

    def __init__(self, sources: EventSources, source: Source):
        self.sources = sources
        self.source = source
        self.status = sources.source_status(source.id)

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
                    self.sources.log_failure(self.source, "polling failed", error)
                    self.sources.wait(min(ERROR_BACKOFF_MAX_SECONDS, 0.5 * 2**errors))
                    continue
                if busy:
                    idle = self.idle_start
                elif idle > 0:
                    self.sources.wait(idle)
                    idle = min(idle * 2, IDLE_POLL_MAX_SECONDS)
        finally:
            self.status.running = False


class _StreamPoller(_Worker):
    source: StreamSource

    def __init__(self, sources: EventSources, source: StreamSource):
        super().__init__(sources, source)
        self.streams = _aws_client("dynamodbstreams", sources.endpoint)
        self.iterators: dict[str, str] | None = None
        self.checkpoints: dict[str, str] = {}  # shard -> last sequence number handled

    def _open(self) -> dict[str, str]:
        """An iterator per shard: after its checkpoint, else at the starting position."""
        description = self.streams.describe_stream(StreamArn=self.source.stream_arn)
        iterators: dict[str, str] = {}
        for shard in description["StreamDescription"].get("Shards") or []:
            shard_id = shard["ShardId"]
            position: dict[str, Any] = {"ShardIteratorType": self.source.starting_position}
            if shard_id in self.checkpoints:
                position = {
                    "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
                    "SequenceNumber": self.checkpoints[shard_id],
                }
            iterators[shard_id] = self.streams.get_shard_iterator(
                StreamArn=self.source.stream_arn, ShardId=shard_id, **position
            )["ShardIterator"]
        return iterators

    def poll(self) -> bool:
        if self.iterators is None:
            self.iterators = self._open()
        busy = False
        for shard_id, iterator in list(self.iterators.items()):
            if self.sources.stopping:
                break
            try:
                response = self.streams.get_records(
                    ShardIterator=iterator, Limit=self.source.batch_size
                )
            except Exception:
                self.iterators = None  # expired or lost: reopen after the checkpoints
                raise
            # moto's shards never close (no split, no table deletion here): a next iterator
            # always comes back.
            self.iterators[shard_id] = response["NextShardIterator"]
            records = [
                dynamodb_stream_record(record, self.source.stream_arn, REGION)
                for record in response.get("Records") or []
            ]
            if records:
                busy = True
                self.deliver(shard_id, records)
                self.checkpoints[shard_id] = sequence_number(records[-1])
        return busy

    def deliver(self, shard_id: str, records: list[dict[str, Any]]) -> None:
        """Invoke until the batch succeeds, or its retries run out and it is discarded."""
        source, status = self.source, self.status
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
                function_arn=source.function.arn,
                shard_id=shard_id,
                stream_arn=source.stream_arn,
                invoke_count=attempts,
                function_error=function_error,
            )
            self.sources.send_to_queue(source, source.on_failure, record)


class _QueuePoller(_Worker):
    """An SQS event source mapping: a batch of up to ten messages (ReceiveMessage's limit, the
    template's batch size) per invocation."""

    source: QueueSource
    idle_start = 0.0  # the long poll is the wait

    def __init__(self, sources: EventSources, source: Source, url: str = "", batch_size: int = 10):
        super().__init__(sources, source)
        self.url = url
        self.batch_size = min(10, batch_size)

    def poll(self) -> bool:
        self.url = self.url or self.sources.queue_url(self.source.queue_arn)
        messages = self.sources.sqs.receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=QUEUE_WAIT_SECONDS,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages")
        if messages:
            self.handle(messages)
        return bool(messages)

    def delete(self, messages: Sequence[Mapping[str, Any]]) -> None:
        if not messages:
            return
        entries = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
        ]
        response = self.sources.sqs.delete_message_batch(QueueUrl=self.url, Entries=entries)
        if response.get("Failed"):
            raise RuntimeError(f"deleting messages failed: {response['Failed']}")

    def handle(self, messages: list[dict[str, Any]]) -> None:
        records = [sqs_record(message, self.source.queue_arn, REGION) for message in messages]
        result, error = self.sources.invoke(self.source, records_event(records))
        if error is not None:
            return  # every message becomes visible again after the visibility timeout
        ids = [message["MessageId"] for message in messages]
        try:
            failed = set(
                batch_item_failures(result, ids) if self.source.report_batch_item_failures else []
            )
        except InvalidBatchResponse as invalid:
            self.status.failed(f"invalid batch response, the whole batch fails: {invalid}")
            return
        self.delete([m for m in messages if m["MessageId"] not in failed])
        if failed:
            self.status.failed(f"{len(failed)} of {len(ids)} messages reported as failed")
        else:
            self.status.delivered(len(messages))


class _RulePoller(_QueuePoller):
    """A rule's function target: each event on the rule's local queue is one asynchronous
    invocation of the function."""

    source: RuleTarget  # type: ignore[assignment]

    def handle(self, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            if self.sources.stopping:
                return
            # The bus delivers the event as EventBridge hands it to a Lambda target (moto as
            # aws_sim patches it: AWS's keys in AWS's order).
            self.sources.invoke_async(self.source, json.loads(message["Body"]))
            self.delete([message])


class _ScheduleTimer(_Worker):
    """A rate schedule's timer: each run is an asynchronous invocation with the schedule's
    event, at the time it was due."""

    source: ScheduleSource
    idle_start = 0.0  # poll() waits for the next run itself

    def __init__(self, sources: EventSources, source: ScheduleSource):
        super().__init__(sources, source)
        self.started = datetime.now(UTC)
        self.due = next_run(source.rate, self.started, self.started)

    def poll(self) -> bool:
        self.status.next_run_at = self.due.isoformat().replace("+00:00", "Z")
        remaining = (self.due - datetime.now(UTC)).total_seconds()
        if remaining > 0:
            # Naps of a minute at most: a changed clock (a laptop waking up) is noticed.
            self.sources.wait(min(remaining, 60))
            return False
        try:
            self.sources.invoke_async(
                self.source, self.sources.scheduled_event(self.source, self.due)
            )
        finally:
            # Runs missed while this one ran (or while asleep) are skipped, not replayed.
            self.due = next_run(self.source.rate, max(self.due, datetime.now(UTC)), self.started)
        return True
