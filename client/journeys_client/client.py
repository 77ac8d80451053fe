"""``JourneysClient``: the guide's journey manager calls, patients and events, over HTTP.

Retries (exponential backoff with full jitter, at most ``max_attempts`` = 3 attempts in all):

* on 429, 502, 503 and 504 answers and on connection errors, and only for calls that are safe
  to repeat: a repeat must not do anything the first attempt did not already do;
* safe to repeat: every GET; ``patients.upsert`` (PUT sets the fields given);
  ``delete_journey`` (DELETE; a 404 after an attempt that may have gone through counts as
  deleted); ``update_journey(..., bump_version=False)`` (sets values, the version stays);
  ``patients.move(..., expected_stage=...)`` (the move is conditional on the stage, so it
  happens at most once; a 409 after an attempt that may have gone through is resolved by
  reading the patient: standing in ``status`` means the move was made);
  ``generate_timeline(..., record_execution=False)`` (pure computation); ``events.publish``
  (the client gives each event an id when you do not, and the service processes an id once);
* never repeated: ``save_journey``, ``record_execution``, ``import_builtin_journeys``,
  ``update_journey`` with ``bump_version=True`` (each one bumps the version),
  ``patients.move`` without ``expected_stage``, ``generate_timeline`` that records
  executions. Their failures surface at once as :class:`ServiceError`;
* one exception: a connection that could not be opened at all (connect error or timeout,
  no free connection in the pool) sent nothing, so every call retries that.

A ``Retry-After`` answer header (the service sends one with its 503) is honoured, capped at
``backoff_max``. Timeouts: ``connect_timeout`` 3 s, ``read_timeout`` 30 s (also used for
writing the request and waiting for a pooled connection).
"""

from __future__ import annotations

import enum
import logging
import random
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from types import TracebackType
from typing import Any, Final, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from .errors import (
    AlreadyExistsError,
    AuthError,
    ConflictError,
    JourneysError,
    NotFoundError,
    ServiceError,
    ValidationError,
)
from .models import (
    EventAccepted,
    ExecutionStatus,
    JourneyExecutionRecord,
    JourneyLogEntry,
    JourneyRecord,
    JourneySummary,
    Patient,
    StageMember,
    Timeline,
)

logger = logging.getLogger("journeys_client")

VERSION: Final = "0.1.0"
API_PREFIX: Final = "/api/v1"
DEFAULT_CONNECT_TIMEOUT: Final = 3.0
DEFAULT_READ_TIMEOUT: Final = 30.0
DEFAULT_MAX_ATTEMPTS: Final = 3
DEFAULT_BACKOFF_BASE: Final = 0.5
DEFAULT_BACKOFF_MAX: Final = 10.0
DEFAULT_PAGE_SIZE: Final = 100
MAX_PAGE_SIZE: Final = 200  # the service's largest `limit`
RETRY_STATUSES: Final = frozenset({429, 502, 503, 504})
# Answers after which the request may have been carried out (a gateway lost the answer).
# 429 and 503 are refusals: API Gateway throttled, or the service answered "nothing written".
_MAYBE_DONE_STATUSES: Final = frozenset({502, 504})
# Nothing was sent: the connection could not be opened.
_NOT_SENT_ERRORS: Final = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

T = TypeVar("T", bound=BaseModel)
DateLike = date | datetime | str


class _Unset(enum.Enum):
    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = _Unset.UNSET
"""``patients.upsert``: leave this field as it is (``None`` clears it)."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait between attempts (see the module's docstring)."""

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    backoff_base: float = DEFAULT_BACKOFF_BASE
    backoff_max: float = DEFAULT_BACKOFF_MAX

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed ``attempt`` (1-based): full jitter over
        ``backoff_base * 2**(attempt-1)``, at least ``Retry-After``, at most ``backoff_max``."""
        ceiling = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
        wait = random.uniform(0, ceiling)
        if retry_after is not None:
            wait = max(wait, retry_after)
        return min(wait, self.backoff_max)


@dataclass
class _Answer:
    response: httpx.Response
    maybe_done_before: bool  # an earlier attempt of this call may have been carried out

    def json(self) -> Any:
        try:
            return self.response.json()
        except ValueError as error:
            raise ServiceError(
                f"the service answered {self.response.status_code} with a body that is not JSON",
                status_code=self.response.status_code,
                request_id=self.response.headers.get("apigw-requestid"),
            ) from error


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: fall back to the backoff


def error_from_response(response: httpx.Response) -> JourneysError:
    """The exception for an error answer (``{"statusCode", "message", "code"}``)."""
    status = response.status_code
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    if isinstance(body, dict):
        message = str(body.get("message") or response.reason_phrase or "error")
        code = body.get("code")
    else:
        message = str(body).strip() or response.reason_phrase or "error"
        code = None
    fields: dict[str, Any] = {
        "status_code": status,
        "code": code,
        "request_id": response.headers.get("apigw-requestid"),
        "body": body,
    }
    if status == 404:
        return NotFoundError(message, **fields)
    if status == 409:
        cls = AlreadyExistsError if code == "already_exists" else ConflictError
        return cls(message, **fields)
    if status in (400, 413, 422):
        return ValidationError(message, **fields)
    if status in (401, 403):
        return AuthError(message, **fields)
    if status == 429 or status >= 500:
        return ServiceError(message, **fields)
    return JourneysError(message, **fields)


class _Http:
    """One ``httpx.Client`` with the token, the timeouts and the retry policy."""

    def __init__(
        self,
        base_url: str,
        token: str | Callable[[], str],
        *,
        timeout: httpx.Timeout,
        retry: RetryPolicy,
        transport: httpx.BaseTransport | None,
        trust_env: bool,
        sleep: Callable[[float], None],
    ) -> None:
        root = base_url.rstrip("/")
        root = root.removesuffix(API_PREFIX)  # the stack's ApiUrl output ends with /api/v1
        self._token = token
        self._retry = retry
        self._sleep = sleep
        self._client = httpx.Client(
            base_url=root + API_PREFIX,
            timeout=timeout,
            transport=transport,
            trust_env=trust_env,
            headers={"Accept": "application/json", "User-Agent": f"journeys-client/{VERSION}"},
        )

    def close(self) -> None:
        self._client.close()

    def _headers(self) -> dict[str, str]:
        token = self._token() if callable(self._token) else self._token
        return {"Authorization": f"Bearer {token}"}

    def send(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> _Answer:
        """The answer, retried as the policy allows; error answers are returned as they are."""
        maybe_done = False
        attempts = max(1, self._retry.max_attempts)
        for attempt in range(1, attempts + 1):
            last = attempt == attempts
            try:
                response = self._client.request(
                    method, path, params=params, json=json, headers=self._headers()
                )
            except _NOT_SENT_ERRORS as error:
                if last:
                    raise ServiceError(f"{method} {path}: could not connect: {error}") from error
                self._wait(method, path, attempt, f"{type(error).__name__}", None)
                continue
            except httpx.TransportError as error:
                if not idempotent or last:
                    raise ServiceError(
                        f"{method} {path}: no answer ({type(error).__name__}: {error})"
                    ) from error
                maybe_done = True
                self._wait(method, path, attempt, f"{type(error).__name__}", None)
                continue
            if response.status_code in RETRY_STATUSES and idempotent and not last:
                maybe_done = maybe_done or response.status_code in _MAYBE_DONE_STATUSES
                self._wait(method, path, attempt, str(response.status_code), response)
                continue
            return _Answer(response, maybe_done)
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait(
        self, method: str, path: str, attempt: int, why: str, response: httpx.Response | None
    ) -> None:
        delay = self._retry.delay(attempt, _retry_after(response) if response else None)
        logger.info("%s %s: %s, attempt %d, retrying in %.2fs", method, path, why, attempt, delay)
        self._sleep(delay)

    def call(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> _Answer:
        """Like :meth:`send`, raising the matching :class:`JourneysError` for an error answer."""
        answer = self.send(method, path, idempotent=idempotent, params=params, json=json)
        if not answer.response.is_success:
            raise error_from_response(answer.response)
        return answer


def _segment(value: str) -> str:
    if not value:
        raise ValueError("an id or name must not be empty")
    return quote(value, safe="")


def _date(value: DateLike | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return value.date().isoformat()
    return value.isoformat()


def _csv(values: Sequence[str] | str | None) -> str | None:
    if values is None:
        return None
    items = [values] if isinstance(values, str) else list(values)
    return ",".join(items) or None


def _without_none(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


class _Pager:
    def __init__(self, http: _Http, page_size: int) -> None:
        self._http = http
        self._page_size = max(1, min(page_size, MAX_PAGE_SIZE))

    def _iterate(
        self, path: str, model: type[T], params: Mapping[str, Any], limit: int | None
    ) -> Iterator[T]:
        """Every item over every page (``next_cursor``), at most ``limit`` in all."""
        if limit is not None and limit <= 0:
            return
        given = 0
        cursor: str | None = None
        while True:
            want = self._page_size if limit is None else min(self._page_size, limit - given)
            query = {**_without_none(params), "limit": want}
            if cursor:
                query["cursor"] = cursor
            page = self._http.call("GET", path, idempotent=True, params=query).json()
            for item in page.get("items", []):
                yield model.model_validate(item)
                given += 1
                if limit is not None and given >= limit:
                    return
            next_cursor = page.get("next_cursor")
            if not next_cursor:
                return
            if next_cursor == cursor:
                raise ServiceError(f"GET {path}: the service returned the same cursor twice")
            cursor = next_cursor


class JourneysApi(_Pager):
    """The guide's ``manager.journeys``: definitions, versions, executions, timelines."""

    # -- definitions ----------------------------------------------------------------------

    def save_journey_record(
        self,
        name: str,
        journey_spec: Mapping[str, Any],
        description: str | None = None,
        *,
        tags: Sequence[str] | None = None,
        products: Sequence[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> JourneyRecord:
        """Like :meth:`save_journey`, returning the whole saved record (version 1)."""
        body = _without_none(
            {
                "name": name,
                "journey_spec": dict(journey_spec),
                "description": description,
                "tags": list(tags) if tags is not None else None,
                "products": list(products) if products is not None else None,
                "metadata": dict(metadata) if metadata is not None else None,
            }
        )
        answer = self._http.call("POST", "/journeys", idempotent=False, json=body)
        return JourneyRecord.model_validate(answer.json())

    def save_journey(
        self,
        name: str,
        journey_spec: Mapping[str, Any],
        description: str | None = None,
        *,
        tags: Sequence[str] | None = None,
        products: Sequence[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> str:
        """Save a new journey; its id (``journey-`` + 8 hex). Products default to the spec's,
        else ``["patientsim"]``; the description to the spec's.

        Raises AlreadyExistsError if the name is taken, ValidationError for a bad spec/name.
        """
        record = self.save_journey_record(
            name, journey_spec, description, tags=tags, products=products, metadata=metadata
        )
        return record.id

    def load_journey(self, name_or_id: str, version: int | None = None) -> JourneyRecord:
        """A journey by name or id, the current version or ``version``; NotFoundError if none."""
        answer = self._http.call(
            "GET",
            f"/journeys/{_segment(name_or_id)}",
            idempotent=True,
            params=_without_none({"version": version}),
        )
        return JourneyRecord.model_validate(answer.json())

    def list_versions(self, name_or_id: str) -> list[JourneyRecord]:
        """Every version of a journey, newest first."""
        answer = self._http.call(
            "GET", f"/journeys/{_segment(name_or_id)}/versions", idempotent=True
        )
        return [JourneyRecord.model_validate(item) for item in answer.json()["items"]]

    def iter_journeys(
        self,
        products: Sequence[str] | None = None,
        tags: Sequence[str] | None = None,
        search: str | None = None,
        limit: int | None = None,
    ) -> Iterator[JourneySummary]:
        """:meth:`list_journeys`, page by page as you iterate."""
        params = {"products": _csv(products), "tags": _csv(tags), "search": search or None}
        return self._iterate("/journeys", JourneySummary, params, limit)

    def list_journeys(
        self,
        products: Sequence[str] | None = None,
        tags: Sequence[str] | None = None,
        search: str | None = None,
        limit: int | None = None,
    ) -> list[JourneySummary]:
        """Summaries (with execution stats), newest update first, over every page.

        ``products`` and ``tags`` match any of those given; ``search`` looks in name and
        description; ``limit`` caps the total (``None``: all of them).
        """
        return list(self.iter_journeys(products, tags, search, limit))

    def update_journey(
        self,
        name_or_id: str,
        journey_spec: Mapping[str, Any] | None = None,
        description: str | None = None,
        *,
        tags: Sequence[str] | None = None,
        products: Sequence[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        is_active: bool | None = None,
        bump_version: bool = True,
    ) -> JourneyRecord:
        """Change what is given (``None`` keeps a field; tags are replaced); the version goes
        up unless ``bump_version=False``. The updated record."""
        body = _without_none(
            {
                "journey_spec": dict(journey_spec) if journey_spec is not None else None,
                "description": description,
                "tags": list(tags) if tags is not None else None,
                "products": list(products) if products is not None else None,
                "metadata": dict(metadata) if metadata is not None else None,
                "is_active": is_active,
            }
        )
        body["bump_version"] = bump_version
        answer = self._http.call(
            "PATCH",
            f"/journeys/{_segment(name_or_id)}",
            idempotent=not bump_version,  # a repeat would bump the version twice
            json=body,
        )
        return JourneyRecord.model_validate(answer.json())

    def delete_journey(self, name_or_id: str, delete_executions: bool = True) -> None:
        """Delete a journey and its versions, and its execution history unless
        ``delete_executions=False`` (kept executions still show for their entity).
        NotFoundError if there is no such journey."""
        answer = self._http.send(
            "DELETE",
            f"/journeys/{_segment(name_or_id)}",
            idempotent=True,
            params={"delete_executions": "true" if delete_executions else "false"},
        )
        if answer.response.status_code == 404 and answer.maybe_done_before:
            return  # an earlier attempt deleted it and its answer was lost
        if not answer.response.is_success:
            raise error_from_response(answer.response)

    def import_builtin_journeys(self) -> int:
        """Import the built-in journeys the organization does not have yet (tagged
        ``builtin``); how many were imported (0 the second time)."""
        answer = self._http.call("POST", "/journeys/import-builtin", idempotent=False)
        return int(answer.json()["imported"])

    # -- executions -----------------------------------------------------------------------

    def record_execution_record(
        self,
        journey_id: str,
        *,
        entity_id: str | None = None,
        profile_id: str | None = None,
        cohort_id: str | None = None,
        start_date: DateLike | None = None,
        end_date: DateLike | None = None,
        events_generated: int = 0,
        duration_ms: int | None = None,
        status: ExecutionStatus = "completed",
        error_message: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> JourneyExecutionRecord:
        """Like :meth:`record_execution`, returning the whole execution record."""
        body = _without_none(
            {
                "entity_id": entity_id,
                "profile_id": profile_id,
                "cohort_id": cohort_id,
                "start_date": _date(start_date),
                "end_date": _date(end_date),
                "events_generated": events_generated,
                "duration_ms": duration_ms,
                "status": status,
                "error_message": error_message,
                "metadata": dict(metadata) if metadata is not None else None,
            }
        )
        answer = self._http.call(
            "POST", f"/journeys/{_segment(journey_id)}/executions", idempotent=False, json=body
        )
        return JourneyExecutionRecord.model_validate(answer.json())

    def record_execution(
        self,
        journey_id: str,
        *,
        entity_id: str | None = None,
        profile_id: str | None = None,
        cohort_id: str | None = None,
        start_date: DateLike | None = None,
        end_date: DateLike | None = None,
        events_generated: int = 0,
        duration_ms: int | None = None,
        status: ExecutionStatus = "completed",
        error_message: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> int:
        """Record an execution of a journey (by id or name); its execution id (an integer).
        The journey's ``execution_count`` and ``last_executed`` move with it."""
        return self.record_execution_record(
            journey_id,
            entity_id=entity_id,
            profile_id=profile_id,
            cohort_id=cohort_id,
            start_date=start_date,
            end_date=end_date,
            events_generated=events_generated,
            duration_ms=duration_ms,
            status=status,
            error_message=error_message,
            metadata=metadata,
        ).id

    def get_executions(
        self, name_or_id: str, limit: int | None = 20
    ) -> list[JourneyExecutionRecord]:
        """A journey's executions, newest first, at most ``limit`` (``None``: all)."""
        path = f"/journeys/{_segment(name_or_id)}/executions"
        return list(self._iterate(path, JourneyExecutionRecord, {}, limit))

    def get_entity_journeys(
        self, entity_id: str, limit: int | None = None
    ) -> list[JourneyExecutionRecord]:
        """An entity's executions across journeys, newest first, at most ``limit``."""
        path = f"/entities/{_segment(entity_id)}/journeys"
        return list(self._iterate(path, JourneyExecutionRecord, {}, limit))

    def generate_timeline(
        self,
        name_or_id: str,
        entity_id: str | None = None,
        *,
        entity_ids: Sequence[str] | None = None,
        start_date: DateLike | None = None,
        seed: int = 0,
        record_execution: bool = True,
        profile_id: str | None = None,
        cohort_id: str | None = None,
    ) -> Timeline:
        """Dated events for ``entity_id`` or each of ``entity_ids`` (≤ 1000), the same for
        the same (seed, entity, event); records one execution per entity unless
        ``record_execution=False`` (recording needs the admin role)."""
        body = _without_none(
            {
                "entity_id": entity_id,
                "entity_ids": list(entity_ids) if entity_ids is not None else None,
                "start_date": _date(start_date),
                "seed": seed,
                "record_execution": record_execution,
                "profile_id": profile_id,
                "cohort_id": cohort_id,
            }
        )
        answer = self._http.call(
            "POST",
            f"/journeys/{_segment(name_or_id)}/timeline",
            idempotent=not record_execution,
            json=body,
        )
        return Timeline.model_validate(answer.json())


class PatientsApi(_Pager):
    """Live patient journeys: profiles, stage moves and the journey log."""

    def get(self, patient_id: str) -> Patient:
        """The patient; NotFoundError until it has a profile or an enrollment."""
        answer = self._http.call("GET", f"/patients/{_segment(patient_id)}", idempotent=True)
        return Patient.model_validate(answer.json())

    def upsert(
        self,
        patient_id: str,
        *,
        display_name: str | _Unset | None = UNSET,
        email: str | _Unset | None = UNSET,
        metadata: Mapping[str, Any] | _Unset | None = UNSET,
    ) -> Patient:
        """Create or update the patient's profile: fields given are set (``None`` clears
        one), fields left out keep their value."""
        given = {"display_name": display_name, "email": email, "metadata": metadata}
        body = {
            key: dict(value) if isinstance(value, Mapping) else value
            for key, value in given.items()
            if value is not UNSET
        }
        answer = self._http.call(
            "PUT", f"/patients/{_segment(patient_id)}", idempotent=True, json=body
        )
        return Patient.model_validate(answer.json())

    def move(
        self,
        patient_id: str,
        key: str,
        status: str,
        reason: str | None = None,
        expected_stage: str | None = None,
    ) -> Patient:
        """Enroll the patient in journey ``key`` or move it to stage ``status``.

        ``expected_stage``: only if the patient stands there now (ConflictError otherwise);
        with it the call is retried safely. ``reason`` is needed to leave a locked stage.
        ConflictError for a move the journey refuses, NotFoundError for an unknown journey,
        ValidationError for a stage the journey does not have.
        """
        path = f"/patients/{_segment(patient_id)}/journey"
        body = _without_none(
            {"key": key, "status": status, "reason": reason, "expected_stage": expected_stage}
        )
        conditional = expected_stage is not None
        answer = self._http.send("PATCH", path, idempotent=conditional, json=body)
        if answer.response.status_code == 409 and answer.maybe_done_before:
            patient = self.get(patient_id)
            if patient.journey_status.get(key) == status:
                return patient  # an earlier attempt made the move and its answer was lost
        if not answer.response.is_success:
            raise error_from_response(answer.response)
        return Patient.model_validate(answer.json())

    def history(self, patient_id: str, key: str, limit: int | None = None) -> list[JourneyLogEntry]:
        """The patient's journey log in journey ``key``, oldest first, over every page."""
        path = f"/patients/{_segment(patient_id)}/journeys/{_segment(key)}/history"
        return list(self._iterate(path, JourneyLogEntry, {}, limit))

    def in_stage(self, journey_key: str, stage: str, limit: int | None = None) -> list[StageMember]:
        """Who stands in ``stage`` of journey ``journey_key`` now, longest first."""
        params = {"journey_key": journey_key, "stage": stage}
        return list(self._iterate("/patients", StageMember, params, limit))


class EventsApi:
    """Domain events (``POST /events``) for the automation engine."""

    def __init__(self, http: _Http) -> None:
        self._http = http

    def publish(
        self,
        type: str,
        patient_id: str,
        payload: Mapping[str, Any] | None = None,
        event_id: str | None = None,
    ) -> EventAccepted:
        """Submit a domain event about a patient (``PAYMENT_SUCCEEDED``…). Without
        ``event_id`` the client makes one, so retries never make the event count twice."""
        body = {
            "type": type,
            "patient_id": patient_id,
            "payload": dict(payload or {}),
            "event_id": event_id or f"evt-{uuid.uuid4().hex}",
        }
        answer = self._http.call("POST", "/events", idempotent=True, json=body)
        return EventAccepted.model_validate(answer.json())


class JourneysClient:
    """A client of the journeys service.

    ``base_url``: the API's root (``http://127.0.0.1:3000``) or the stack's ``ApiUrl``
    output (ending with ``/api/v1``). ``token``: a JWT (Cognito ID token) or a function that
    returns a fresh one for each request. Use it as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        base_url: str,
        token: str | Callable[[], str],
        *,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        backoff_base: float = DEFAULT_BACKOFF_BASE,
        backoff_max: float = DEFAULT_BACKOFF_MAX,
        page_size: int = DEFAULT_PAGE_SIZE,
        transport: httpx.BaseTransport | None = None,
        trust_env: bool = True,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.retry = RetryPolicy(max_attempts, backoff_base, backoff_max)
        self.timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        self._http = _Http(
            base_url,
            token,
            timeout=self.timeout,
            retry=self.retry,
            transport=transport,
            trust_env=trust_env,
            sleep=sleep,
        )
        self.journeys = JourneysApi(self._http, page_size)
        self.patients = PatientsApi(self._http, page_size)
        self.events = EventsApi(self._http)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> JourneysClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
