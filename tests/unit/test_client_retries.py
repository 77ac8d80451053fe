"""The Python client's retry policy, timeouts and error mapping, on ``httpx.MockTransport``
(no network): which calls are repeated, on what, how often, and how long it waits."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from journeys_client import (
    AlreadyExistsError,
    AuthError,
    ConflictError,
    JourneysClient,
    JourneysError,
    NotFoundError,
    RetryPolicy,
    ServiceError,
    ValidationError,
)

NOW = "2024-05-01T10:00:00Z"
RECORD = {
    "id": "journey-0123abcd",
    "name": "diabetic-first-year",
    "description": "",
    "version": 1,
    "products": ["patientsim"],
    "tags": [],
    "duration_days": 365,
    "event_count": 1,
    "is_active": True,
    "metadata": {},
    "created_at": NOW,
    "updated_at": NOW,
    "execution_count": 0,
    "last_executed": None,
    "journey_spec": {"events": [{"event_id": "a"}]},
}
EXECUTION = {
    "id": 2271732316811066727,
    "journey_id": "journey-0123abcd",
    "journey_name": "diabetic-first-year",
    "executed_at": NOW,
    "events_generated": 0,
    "status": "completed",
}
PATIENT = {
    "id": "patient-001",
    "organization_id": "org",
    "journey_status": {"booking": "CONFIRMED"},
}

Reply = httpx.Response | Exception


def error(status: int, message: str = "nope", code: str | None = None, **headers: str) -> Reply:
    body = {"statusCode": status, "message": message, **({"code": code} if code else {})}
    return httpx.Response(status, json=body, headers=headers)


def ok(body: Any, status: int = 200) -> Reply:
    return httpx.Response(status, json=body)


class Script:
    """A transport that answers requests with the replies given, in order."""

    def __init__(self, *replies: Reply) -> None:
        self.replies: Iterator[Reply] = iter(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = next(self.replies)
        if isinstance(reply, Exception):
            if isinstance(reply, httpx.RequestError):
                reply.request = request
            raise reply
        return reply

    @property
    def calls(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.requests]


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client_for(sleeps: list[float]) -> Iterator[Callable[..., JourneysClient]]:
    clients: list[JourneysClient] = []

    def make(script: Script, **options: Any) -> JourneysClient:
        client = JourneysClient(
            "https://api.example.org/api/v1/",
            "the-token",
            transport=httpx.MockTransport(script),
            sleep=sleeps.append,
            **options,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


# -- the brief's three cases ------------------------------------------------------------------


def test_a_get_is_retried_on_503_then_succeeds(
    client_for: Callable[..., JourneysClient], sleeps: list[float]
) -> None:
    script = Script(
        error(503, "throttled", "service_unavailable", **{"Retry-After": "1"}), ok(RECORD)
    )

    journey = client_for(script).journeys.load_journey("diabetic-first-year")

    assert journey.id == "journey-0123abcd"
    assert script.calls == ["GET /api/v1/journeys/diabetic-first-year"] * 2
    assert sleeps == [1.0]  # the service's Retry-After


def test_a_post_is_not_retried(
    client_for: Callable[..., JourneysClient], sleeps: list[float]
) -> None:
    script = Script(error(503, "throttled", "service_unavailable"))

    with pytest.raises(ServiceError) as failed:
        client_for(script).journeys.record_execution(journey_id="diabetic-first-year")

    assert failed.value.status_code == 503
    assert script.calls == ["POST /api/v1/journeys/diabetic-first-year/executions"]
    assert sleeps == []


def test_gives_up_after_3_attempts_with_service_error(
    client_for: Callable[..., JourneysClient], sleeps: list[float]
) -> None:
    script = Script(error(503), error(502), error(504), ok(RECORD))

    with pytest.raises(ServiceError) as failed:
        client_for(script).journeys.load_journey("diabetic-first-year")

    assert failed.value.status_code == 504
    assert len(script.requests) == 3
    assert len(sleeps) == 2


# -- what is retried, on what -----------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_gets_are_retried_on_throttling_and_gateway_errors(
    client_for: Callable[..., JourneysClient], status: int
) -> None:
    script = Script(error(status), ok({"items": [], "next_cursor": None}))

    assert client_for(script).journeys.list_journeys() == []
    assert len(script.requests) == 2


@pytest.mark.parametrize("status", [500, 501])
def test_other_server_errors_are_not_retried(
    client_for: Callable[..., JourneysClient], status: int
) -> None:
    script = Script(error(status, "boom"), ok(RECORD))

    with pytest.raises(ServiceError, match="boom"):
        client_for(script).journeys.load_journey("x")
    assert len(script.requests) == 1


def test_a_get_is_retried_on_connection_errors_and_timeouts(
    client_for: Callable[..., JourneysClient],
) -> None:
    script = Script(httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), ok(RECORD))

    assert client_for(script).journeys.load_journey("x").version == 1
    assert len(script.requests) == 3


def test_no_answer_at_all_is_a_service_error_without_status(
    client_for: Callable[..., JourneysClient],
) -> None:
    script = Script(*(httpx.ConnectError("refused") for _ in range(3)))

    with pytest.raises(ServiceError, match="could not connect") as failed:
        client_for(script).journeys.load_journey("x")
    assert failed.value.status_code is None
    assert len(script.requests) == 3


def test_a_post_is_not_retried_after_a_timeout_that_may_have_gone_through(
    client_for: Callable[..., JourneysClient],
) -> None:
    script = Script(httpx.ReadTimeout("slow"), ok(RECORD, 201))

    with pytest.raises(ServiceError, match="ReadTimeout"):
        client_for(script).journeys.save_journey(name="x", journey_spec={"events": []})
    assert len(script.requests) == 1


def test_a_post_is_retried_when_the_connection_could_not_even_be_opened(
    client_for: Callable[..., JourneysClient],
) -> None:
    script = Script(httpx.ConnectError("refused"), ok(RECORD, 201))

    assert client_for(script).journeys.save_journey(name="x", journey_spec={}) == RECORD["id"]
    assert len(script.requests) == 2


@pytest.mark.parametrize(
    ("call", "repeated"),
    [
        pytest.param(
            lambda c: c.journeys.save_journey(name="x", journey_spec={}), False, id="save"
        ),
        pytest.param(lambda c: c.journeys.import_builtin_journeys(), False, id="import"),
        pytest.param(
            lambda c: c.journeys.update_journey("x", description="d"), False, id="update+bump"
        ),
        pytest.param(
            lambda c: c.journeys.update_journey("x", description="d", bump_version=False),
            True,
            id="update-no-bump",
        ),
        pytest.param(lambda c: c.journeys.delete_journey("x"), True, id="delete"),
        pytest.param(lambda c: c.patients.upsert("p", display_name="A"), True, id="upsert"),
        pytest.param(lambda c: c.patients.move("p", "booking", "CONFIRMED"), False, id="move"),
        pytest.param(
            lambda c: c.patients.move("p", "booking", "CONFIRMED", expected_stage="AWAITING"),
            True,
            id="move-expected-stage",
        ),
        pytest.param(
            lambda c: c.journeys.generate_timeline("x", "p", record_execution=False),
            True,
            id="timeline-no-record",
        ),
        pytest.param(lambda c: c.journeys.generate_timeline("x", "p"), False, id="timeline"),
        pytest.param(lambda c: c.events.publish("PAYMENT_SUCCEEDED", "p", {}), True, id="publish"),
    ],
)
def test_which_calls_are_repeated(
    client_for: Callable[..., JourneysClient],
    call: Callable[[JourneysClient], Any],
    repeated: bool,
) -> None:
    script = Script(*(error(503) for _ in range(3)))

    with pytest.raises(ServiceError):
        call(client_for(script))

    assert len(script.requests) == (3 if repeated else 1)
    assert len({str(r.url) for r in script.requests}) == 1


def test_a_published_event_keeps_its_id_across_retries(
    client_for: Callable[..., JourneysClient],
) -> None:
    script = Script(error(502), ok({"event_id": "x", "type": "PAYMENT_SUCCEEDED"}, 202))

    client_for(script).events.publish("PAYMENT_SUCCEEDED", "patient-001", {"amount": 1})

    first, second = (json.loads(r.content) for r in script.requests)
    assert first == second
    assert first["event_id"].startswith("evt-")


def test_a_delete_whose_first_answer_was_lost_is_done(
    client_for: Callable[..., JourneysClient],
) -> None:
    script = Script(error(504, "gateway timeout"), error(404, "journey 'x' not found"))

    assert client_for(script).journeys.delete_journey("x") is True
    assert len(script.requests) == 2


def test_a_delete_refused_as_throttled_then_not_found_found_nothing(
    client_for: Callable[..., JourneysClient],
) -> None:
    script = Script(error(503), error(404, "journey 'x' not found"))

    assert client_for(script).journeys.delete_journey("x") is False
    assert len(script.requests) == 2


def test_a_delete_that_fails_otherwise_raises(
    client_for: Callable[..., JourneysClient],
) -> None:
    script = Script(error(403, "admin role needed", "forbidden"))

    with pytest.raises(AuthError):
        client_for(script).journeys.delete_journey("x")


def lost_answer_then_standing_in(stage: str) -> Script:
    """A conditional move whose first answer is lost, whose retry is refused because the
    patient stands in ``stage``, and the read that shows the patient there."""
    return Script(
        httpx.ReadTimeout("slow"),
        error(409, f"expected the patient in 'AWAITING', but the patient stands in '{stage}'"),
        ok({**PATIENT, "journey_status": {"booking": stage}}),
    )


def move_from_awaiting_to_confirmed(client: JourneysClient) -> Any:
    return client.patients.move("patient-001", "booking", "CONFIRMED", expected_stage="AWAITING")


def test_a_conditional_move_whose_first_answer_was_lost_is_confirmed_by_reading(
    client_for: Callable[..., JourneysClient],
) -> None:
    script = lost_answer_then_standing_in("CONFIRMED")

    patient = move_from_awaiting_to_confirmed(client_for(script))

    assert patient.journey_status == {"booking": "CONFIRMED"}
    assert script.calls == [
        "PATCH /api/v1/patients/patient-001/journey",
        "PATCH /api/v1/patients/patient-001/journey",
        "GET /api/v1/patients/patient-001",
    ]


def test_a_conditional_move_that_really_conflicts_raises(
    client_for: Callable[..., JourneysClient],
) -> None:
    script = lost_answer_then_standing_in("CANCELLED")

    with pytest.raises(ConflictError, match="CANCELLED"):
        move_from_awaiting_to_confirmed(client_for(script))


def test_max_attempts_is_configurable(
    client_for: Callable[..., JourneysClient], sleeps: list[float]
) -> None:
    script = Script(error(503))

    with pytest.raises(ServiceError):
        client_for(script, max_attempts=1).journeys.load_journey("x")
    assert (len(script.requests), sleeps) == (1, [])


# -- backoff and timeouts ---------------------------------------------------------------------


def test_backoff_is_exponential_with_full_jitter_and_capped() -> None:
    policy = RetryPolicy(max_attempts=3, backoff_base=0.5, backoff_max=10.0)
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (10, 10.0)]:
        delays = [policy.delay(attempt) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling / 2  # jitter spreads over the whole range
        assert len(set(delays)) > 100
    assert policy.delay(1, retry_after=3.0) == 3.0
    assert policy.delay(1, retry_after=60.0) == 10.0


def test_timeouts_default_to_3s_connect_30s_read_and_are_configurable() -> None:
    with JourneysClient("http://127.0.0.1:1", "t") as client:
        assert (client.timeout.connect, client.timeout.read) == (3.0, 30.0)
        assert client.retry.max_attempts == 3
    with JourneysClient("http://127.0.0.1:1", "t", connect_timeout=1, read_timeout=5) as client:
        assert (client.timeout.connect, client.timeout.read) == (1, 5)


# -- requests and error mapping ---------------------------------------------------------------


def test_requests_carry_the_token_and_encode_arguments(
    client_for: Callable[..., JourneysClient],
) -> None:
    script = Script(ok({"items": [], "next_cursor": None}), ok(RECORD))
    client = client_for(script)

    client.journeys.list_journeys(products=["patientsim", "membersim"], tags=["a"], search="s")
    client.journeys.load_journey("name with/slash", version=2)

    listing, load = script.requests
    assert listing.headers["Authorization"] == "Bearer the-token"
    assert listing.headers["User-Agent"].startswith("journeys-client/")
    assert dict(listing.url.params) == {
        "products": "patientsim,membersim",
        "tags": "a",
        "search": "s",
        "limit": "100",
    }
    assert load.url.raw_path == b"/api/v1/journeys/name%20with%2Fslash?version=2"


@pytest.mark.parametrize(
    ("reply", "expected", "code"),
    [
        (error(404, "journey 'x' not found", "not_found"), NotFoundError, "not_found"),
        (error(409, "taken", "already_exists"), AlreadyExistsError, "already_exists"),
        (error(409, "moved meanwhile", "conflict"), ConflictError, "conflict"),
        (error(422, "name: bad", "validation_error"), ValidationError, "validation_error"),
        (error(401, "Unauthorized"), AuthError, None),
        (error(403, "this needs the admin role", "forbidden"), AuthError, "forbidden"),
        (error(418, "teapot"), JourneysError, None),
    ],
)
def test_error_answers_become_exceptions(
    client_for: Callable[..., JourneysClient],
    reply: Reply,
    expected: type[JourneysError],
    code: str | None,
) -> None:
    with pytest.raises(expected) as raised:
        client_for(Script(reply)).journeys.load_journey("x")
    assert type(raised.value) is expected
    assert raised.value.code == code


def test_validation_errors_name_the_field(client_for: Callable[..., JourneysClient]) -> None:
    body = {
        "statusCode": 422,
        "message": "body.end_date: must not be before start_date; status: bad",
        "code": "validation_error",
        "detail": [{"loc": ["body"], "msg": "end_date: must not be before start_date"}],
    }
    script = Script(httpx.Response(422, json=body))

    with pytest.raises(ValidationError) as refused:
        client_for(script).journeys.record_execution(journey_id="x")

    assert refused.value.field == "end_date"
    assert refused.value.message == "must not be before start_date"
    assert str(refused.value) == f"422 {body['message']}"
    assert refused.value.details == body["detail"]
