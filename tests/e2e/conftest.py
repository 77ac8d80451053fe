"""The local stack (``python -m local_stack.server``) as a session fixture, over real HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from journeys_client import JourneysClient

from local_stack.embedded_aws import aws_client, endpoint_url, free_port
from local_stack.template import DEFAULT_PREFIX, load_template, resources_of_type
from local_stack.tokens import make_token
from tests.support.bus import drain, queue_behind_rule

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_SECONDS = 60
SHUTDOWN_TIMEOUT_SECONDS = 10

# Loopback only: an HTTP proxy from the environment must not see these requests.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class LocalStack:
    base_url: str
    port: int
    aws_port: int
    log_path: Path
    environment: dict[str, str] = field(default_factory=dict)

    def request(
        self,
        method: str,
        path: str,
        token: str | None = None,
        json: Any = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30,
    ) -> Response:
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        if json is not None:
            data = _json_dumps(json).encode()
            all_headers.setdefault("Content-Type", "application/json")
        request = urllib.request.Request(
            self.base_url + path, data=data, headers=all_headers, method=method
        )
        try:
            with _DIRECT.open(request, timeout=timeout) as reply:
                return Response(reply.status, dict(reply.headers.items()), reply.read())
        except urllib.error.HTTPError as error:
            return Response(error.code, dict(error.headers.items()), error.read())

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def aws(self, service: str) -> Any:
        """A client of this stack's embedded AWS."""
        return aws_client(service, endpoint_url(self.aws_port))

    def run_module(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        """``python -m <arguments>`` from the repository, with this stack's PORT/AWS_PORT."""
        return subprocess.run(
            [sys.executable, "-m", *arguments],
            cwd=REPO_ROOT,
            env=self.environment,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
        )


def _json_dumps(value: Any) -> str:
    return json.dumps(value)


def _healthy(base_url: str) -> bool:
    try:
        with _DIRECT.open(base_url + "/_local/health", timeout=2) as reply:
            return bool(reply.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _wait_until_healthy(process: subprocess.Popen[bytes], stack: LocalStack) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the local stack exited with {process.returncode}:\n{stack.log()}")
        if _healthy(stack.base_url):
            return
        time.sleep(0.2)
    process.kill()
    pytest.fail(
        f"the local stack was not healthy within {STARTUP_TIMEOUT_SECONDS}s:\n{stack.log()}"
    )


def _stack_environment(port: int, aws_port: int) -> dict[str, str]:
    environment = dict(os.environ)
    environment.update(
        {
            "PORT": str(port),
            "AWS_PORT": str(aws_port),
            "HOST": "127.0.0.1",
            "CI": "true",
            "PYTHONUNBUFFERED": "1",
            # If this test run is killed, the server notices and stops on its own.
            "LOCAL_STACK_PARENT_PID": str(os.getpid()),
        }
    )
    return environment


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    port, aws_port = free_port(), free_port()
    while aws_port == port:
        aws_port = free_port()
    environment = _stack_environment(port, aws_port)
    log_path = tmp_path_factory.mktemp("local_stack") / "server.log"
    stack = LocalStack(f"http://127.0.0.1:{port}", port, aws_port, log_path, environment)
    with log_path.open("wb") as log:
        # Output goes to a file: a pipe nobody reads would fill up and block the server.
        process = subprocess.Popen(
            [sys.executable, "-m", "local_stack.server"],
            cwd=REPO_ROOT,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_healthy(process, stack)
            yield stack
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                returncode = process.wait(timeout=SHUTDOWN_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                pytest.fail(f"the local stack ignored SIGTERM for {SHUTDOWN_TIMEOUT_SECONDS}s")
    assert returncode == 0, f"the local stack exited with {returncode}:\n{stack.log()}"


def eventually(probe: Callable[[], Any], what: str, seconds: float = 20, pause: float = 0.2) -> Any:
    """The first truthy answer of ``probe``, asked every ``pause`` seconds; the test fails
    when none comes within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(pause)
    pytest.fail(f"not within {seconds}s: {what}")


def bus_name() -> str:
    """The service's bus, as the local stack names template resources."""
    buses = resources_of_type(load_template(), "AWS::Events::EventBus")
    assert len(buses) == 1, f"expected one bus in the template, found {sorted(buses)}"
    return f"{DEFAULT_PREFIX}-{next(iter(buses))}"


Listen = Callable[[dict[str, Any]], Callable[[], list[dict[str, Any]]]]


@pytest.fixture
def bus_listener(local_stack: LocalStack) -> Iterator[Listen]:
    """Our own rule -> SQS queue on the service's bus; yields a function that, given an event
    pattern, returns a reader of every event the rule has delivered so far."""
    created: list[tuple[str, str]] = []

    def listen(pattern: dict[str, Any]) -> Callable[[], list[dict[str, Any]]]:
        name = f"e2e-listener-{uuid.uuid4().hex[:12]}"
        url = queue_behind_rule(name, pattern, bus=bus_name(), client=local_stack.aws)
        created.append((name, url))
        received: list[dict[str, Any]] = []

        def read() -> list[dict[str, Any]]:
            received.extend(drain(url, local_stack.aws))
            return list(received)

        return read

    yield listen
    events, sqs = local_stack.aws("events"), local_stack.aws("sqs")
    for name, url in created:
        events.remove_targets(Rule=name, EventBusName=bus_name(), Ids=[name])
        events.delete_rule(Name=name, EventBusName=bus_name())
        sqs.delete_queue(QueueUrl=url)


# -- clients of the Python client (client/), one organization per test ----------------------

MakeClient = Callable[..., JourneysClient]


def small_spec(*event_ids: str, duration_days: int = 30) -> dict[str, Any]:
    """A journey_spec with one encounter a day per event id."""
    return {
        "duration_days": duration_days,
        "events": [
            {"event_id": e, "event_type": "encounter", "delay": {"min_days": 1, "max_days": 1}}
            for e in event_ids
        ],
    }


@pytest.fixture
def org() -> str:
    """This test's organization (a unique ``custom:org_id``): tests never see each other's
    journeys, executions or patients."""
    return f"client-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def make_client(local_stack: LocalStack, org: str) -> Iterator[MakeClient]:
    """Clients of this test's organization; closed at the end of the test."""
    clients: list[JourneysClient] = []

    def make(roles: str = "admin,staff", **options: Any) -> JourneysClient:
        token = make_token(org=org, roles=roles)
        # Loopback only: a proxy from the environment must not see these requests.
        client = JourneysClient(local_stack.base_url, token, trust_env=False, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client: MakeClient) -> JourneysClient:
    return make_client()
