"""The local stack (``make run``) at realistic sizes: stage moves, patient reads and in-stage
pages over real HTTP, with empty tables and with 100,000 unrelated items in each of the
patients and journey-log tables; then the stale monitor and the analytics request over
50,000 enrollments.

The stack runs in this process (``local_stack.server.serve`` in a thread, schedules off), so
the items are seeded straight into moto's backend (no stream records: they are old data),
fast. Unrelated items belong to 50 other organizations, in the same journey and stages, so
they share the tables and indexes but no partition with the measured requests. The cost of a
request should not depend on them.

Run alone with ``python -m benchmarks.bench_local_stack``, or with the others via
``make bench``.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.rows import Row, row

ROOT = Path(__file__).resolve().parents[1]
ORG = "demo"  # the organization the local stack imports the built-ins for
JOURNEY = "bench_cycle"
STAGES = ["A", "B", "C", "D"]
MOVERS, PARKED = 40, 60  # patients moved round the cycle; patients standing in stage A
MOVES, READS, PAGES = 300, 200, 100
FILL = 100_000  # unrelated items per table
OTHER_ORGS = 50
ENROLLMENTS = 50_000
STUCK = 500
NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class LocalStack:
    def __init__(self, base_url: str, token: str) -> None:
        self.base_url, self.token = base_url, token

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base_url + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with _DIRECT.open(request, timeout=300) as reply:
                return reply.status, json.loads(reply.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        status, answer = self.request(method, path, body)
        assert 200 <= status < 300, (method, path, status, answer)
        return answer

    def move(self, patient_id: str, stage: str) -> None:
        self.ok(
            "PATCH", f"/api/v1/patients/{patient_id}/journey", {"key": JOURNEY, "status": stage}
        )


@contextmanager
def local_stack() -> Iterator[LocalStack]:
    """``make run`` in a thread of this process, on free ports, schedules off."""
    from local_stack.embedded_aws import free_port
    from local_stack.server import Settings, serve
    from local_stack.tokens import make_token

    saved = dict(os.environ)
    os.environ["LOCAL_SCHEDULES"] = "off"
    os.environ["POWERTOOLS_LOG_LEVEL"] = "ERROR"
    settings = Settings(host="127.0.0.1", port=free_port(), aws_port=free_port())
    stop = threading.Event()
    server = threading.Thread(target=_quietly, args=(serve, settings, stop), daemon=True)
    server.start()
    stack = LocalStack(settings.base_url, make_token(org=ORG, roles=("admin", "staff")))
    deadline = time.monotonic() + 60
    while True:
        try:
            with _DIRECT.open(settings.base_url + "/_local/health", timeout=2):
                break
        except (urllib.error.URLError, OSError):
            assert time.monotonic() < deadline, "the local stack did not start"
            time.sleep(0.2)
    try:
        yield stack
    finally:
        stop.set()
        server.join(timeout=30)
        os.environ.clear()
        os.environ.update(saved)


def _quietly(serve: Callable[..., int], *args: Any) -> None:
    """The server's banner and request log would bury the table: only its warnings and
    errors are shown, once it has stopped."""
    import contextlib
    import io

    log = io.StringIO()
    try:
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            serve(*args)
    finally:
        lines = log.getvalue().splitlines()
        shown = [line for line in lines if line.startswith(("WARNING", "ERROR", "Traceback"))]
        print("\n".join(shown), file=sys.stderr)


def put_directly(table_name: str, items: Iterator[dict[str, Any]]) -> int:
    """Items (DynamoDB JSON) written into moto's backend without stream records, holding the
    lock every DynamoDB request holds."""
    from moto.dynamodb.models import dynamodb_backends

    from aws_sim.moto_patches import DYNAMODB_LOCK
    from local_stack.template import ACCOUNT_ID, REGION

    table = dynamodb_backends[ACCOUNT_ID][REGION].get_table(table_name)
    count = 0
    with DYNAMODB_LOCK:
        shard, table.stream_shard = table.stream_shard, None
        try:
            for item in items:
                table.put_item(item)
                count += 1
        finally:
            table.stream_shard = shard
    return count


def _enrollment(org: str, patient: str, journey: str, stage: str, entered: datetime) -> Any:
    from journeys_core.clock import format_timestamp
    from journeys_core.data.codec import to_item
    from journeys_core.data.patients import enrollment_sk, patient_pk, stage_pk

    at = format_timestamp(entered)
    return to_item(
        {
            "pk": patient_pk(org, patient),
            "sk": enrollment_sk(journey),
            "stage_pk": stage_pk(org, journey, stage),
            "organization_id": org,
            "patient_id": patient,
            "journey_key": journey,
            "stage": stage,
            "entered_at": at,
            "enrolled_at": at,
            "version": 1,
            "definition_version": 1,
        }
    )


def _log_entry(org: str, patient: str, journey: str, stage: str, at: datetime) -> Any:
    from journeys_core.data.journey_log import log_item
    from journeys_core.models.patient import JourneyLogEntry

    entry = JourneyLogEntry(
        id=f"jlog-{org}-{patient}",
        organization_id=org,
        patient_id=patient,
        journey_key=journey,
        from_stage=None,
        to_stage=stage,
        changed_at=at,
        actor="bench",
        definition_version=1,
    )
    return log_item(entry)


def _fill(patients_table: str, log_table: str) -> None:
    """FILL enrollments and FILL log entries of other organizations."""
    start = NOW - timedelta(days=30)

    def people() -> Iterator[tuple[str, str, str, datetime]]:
        for n in range(FILL):
            at = start + timedelta(seconds=n)
            yield f"other-{n % OTHER_ORGS}", f"p-{n:06d}", STAGES[n % len(STAGES)], at

    put_directly(patients_table, (_enrollment(o, p, JOURNEY, s, t) for o, p, s, t in people()))
    put_directly(log_table, (_log_entry(o, p, JOURNEY, s, t) for o, p, s, t in people()))


def _rate(count: int, action: Callable[[int], None]) -> float:
    began = time.perf_counter()
    for n in range(count):
        action(n)
    return count / (time.perf_counter() - began)


def _measure_requests(stack: LocalStack) -> dict[str, float]:
    """Moves per second round the cycle, and milliseconds per read and per in-stage page."""

    def move(n: int) -> None:
        patient, lap = divmod(n, MOVERS)[1], n // MOVERS
        stack.move(f"mover-{patient:03d}", STAGES[(lap + 1) % len(STAGES)])

    def read(n: int) -> None:
        assert stack.ok("GET", f"/api/v1/patients/parked-{n % PARKED:03d}")["enrollments"]

    def page(_: int) -> None:
        answer = stack.ok("GET", f"/api/v1/patients?journey_key={JOURNEY}&stage=A&limit=50")
        assert len(answer["items"]) == 50

    return {
        "moves": _rate(MOVES, move),
        "read_ms": 1000 / _rate(READS, read),
        "page_ms": 1000 / _rate(PAGES, page),
    }


def _seconds(action: Callable[[], Any]) -> float:
    began = time.perf_counter()
    action()
    return time.perf_counter() - began


def _stale_monitor_seconds(stack: LocalStack, patients_table: str) -> float:
    """One monitor run over ENROLLMENTS enrollments in the built-ins' rule stages, STUCK of
    them stuck (the workload of bench_monitor)."""
    from benchmarks.bench_monitor import FRESH_AGE, RULE_STAGES, STUCK_AGE

    def enrollments() -> Iterator[Any]:
        for n in range(ENROLLMENTS):
            journey, stage = RULE_STAGES[n % len(RULE_STAGES)]
            age = STUCK_AGE if n < STUCK else FRESH_AGE
            entered = NOW - age - timedelta(milliseconds=n)
            yield _enrollment(ORG, f"stale-{n:06d}", journey, stage, entered)

    put_directly(patients_table, enrollments())
    planned: dict[str, Any] = {}

    def run() -> None:
        # The planner answers at once; the stack's SQS poller hands the units to the worker.
        planned.update(
            stack.ok("POST", "/_local/schedules/stale_monitor", {"time": NOW.isoformat()})
        )
        deadline = time.monotonic() + 600
        while _published_gates() < STUCK:
            assert time.monotonic() < deadline, "the units did not finish within 10 minutes"
            time.sleep(0.1)

    seconds = _seconds(run)
    assert planned.get("units") == len(RULE_STAGES), planned
    assert _published_gates() == STUCK
    return seconds


def _published_gates() -> int:
    """Timeout gates the workers confirmed published (read in moto's backend, under the lock
    every DynamoDB request holds)."""
    from moto.dynamodb.models import dynamodb_backends

    from aws_sim.moto_patches import DYNAMODB_LOCK
    from local_stack.template import ACCOUNT_ID, REGION

    table = dynamodb_backends[ACCOUNT_ID][REGION].get_table(os.environ["SYSTEM_EVENTS_TABLE_NAME"])
    with DYNAMODB_LOCK:
        items = [item.to_json()["Attributes"] for item in table.all_items()]
    return sum(1 for item in items if item.get("state") == {"S": "published"})


def _analytics_seconds(stack: LocalStack, patients_table: str, log_table: str) -> float:
    """The analytics request for the bench journey over a period in which ENROLLMENTS
    patients enrolled, all standing in it now."""
    start = NOW - timedelta(days=20)

    def people() -> Iterator[tuple[str, str, datetime]]:
        for n in range(ENROLLMENTS):
            yield f"analysed-{n:06d}", STAGES[n % len(STAGES)], start + timedelta(seconds=n)

    put_directly(patients_table, (_enrollment(ORG, p, JOURNEY, s, t) for p, s, t in people()))
    put_directly(log_table, (_log_entry(ORG, p, JOURNEY, s, t) for p, s, t in people()))
    period = f"from={start.strftime('%Y-%m-%dT%H:%M:%SZ')}&to={NOW.strftime('%Y-%m-%dT%H:%M:%SZ')}"
    answer: dict[str, Any] = {}

    def run() -> None:
        answer.update(stack.ok("GET", f"/api/v1/analytics/journeys/{JOURNEY}?{period}"))

    seconds = _seconds(run)
    assert answer, "the analytics answered"
    return seconds


def run() -> list[Row]:
    sys.path[:0] = [str(ROOT / "shared"), str(ROOT)]
    with local_stack() as stack:
        stack.ok("POST", "/api/v1/journeys", {"name": JOURNEY, "journey_spec": {"stages": STAGES}})
        for n in range(MOVERS):
            stack.move(f"mover-{n:03d}", STAGES[0])
        for n in range(PARKED):
            stack.move(f"parked-{n:03d}", STAGES[0])
        patients_table = os.environ["PATIENTS_TABLE_NAME"]
        log_table = os.environ["JOURNEY_LOG_TABLE_NAME"]
        empty = _measure_requests(stack)
        _fill(patients_table, log_table)
        full = _measure_requests(stack)
        monitor = _stale_monitor_seconds(stack, patients_table)
        analytics = _analytics_seconds(stack, patients_table, log_table)

    size = f"{FILL:,} items per table (vs empty)"
    return [
        row(
            f"local stack: stage moves per second, {size}",
            full["moves"],
            "moves/s",
            ">= 30, >= empty / 1.5",
            baseline=empty["moves"],
        ),
        row(
            f"local stack: GET /patients/{{id}}, {size}",
            full["read_ms"],
            "ms",
            "<= 1.5x empty",
            baseline=empty["read_ms"],
        ),
        row(
            f"local stack: in-stage page of 50, {size}",
            full["page_ms"],
            "ms",
            "<= 1.5x empty",
            baseline=empty["page_ms"],
        ),
        row(
            f"local stack: stale monitor run, {ENROLLMENTS:,} enrollments, {STUCK} stuck",
            monitor,
            "s",
            "seconds",
        ),
        row(
            f"local stack: analytics request, {ENROLLMENTS:,} enrollments in the period",
            analytics,
            "s",
            "seconds",
        ),
    ]


if __name__ == "__main__":
    from benchmarks.run import render

    print(render(run()))
