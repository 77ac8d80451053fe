"""HTTP for every call: the token, timeouts, retries, error answers as exceptions, paging.

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

import logging
import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from .errors import ServiceError, error_from_response

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


class Http:
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

    def call(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        raise_for_error: bool = True,
    ) -> _Answer:
        """The answer, retried as the policy allows. An error answer raises the matching
        :class:`JourneysError`, or is returned as it is when ``raise_for_error=False``."""
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
            if raise_for_error and not response.is_success:
                raise error_from_response(response)
            return _Answer(response, maybe_done)
        raise AssertionError("unreachable")  # pragma: no cover

    def delete(self, path: str, params: Mapping[str, Any] | None = None) -> bool:
        """DELETE, repeated as safe: ``True`` when it deleted, ``False`` when there was
        nothing there. After an attempt whose answer was lost, a 404 means that attempt
        deleted it."""
        answer = self.call("DELETE", path, idempotent=True, params=params, raise_for_error=False)
        if answer.response.status_code == 404:
            return answer.maybe_done_before
        if not answer.response.is_success:
            raise error_from_response(answer.response)
        return True

    def _wait(
        self, method: str, path: str, attempt: int, why: str, response: httpx.Response | None
    ) -> None:
        delay = self._retry.delay(attempt, _retry_after(response) if response else None)
        logger.info("%s %s: %s, attempt %d, retrying in %.2fs", method, path, why, attempt, delay)
        self._sleep(delay)


def path_segment(value: str) -> str:
    """An id or name as one URL path segment."""
    if not value:
        raise ValueError("an id or name must not be empty")
    return quote(value, safe="")


def without_none(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


class Pager:
    """Base of the API groups: the session, and every item over every page."""

    def __init__(self, http: Http, page_size: int) -> None:
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
            query = {**without_none(params), "limit": want}
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
