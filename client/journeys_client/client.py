"""``JourneysClient``: one session with ``.journeys`` (the guide's journey manager),
``.patients``, ``.events``, ``.rules``, ``.analytics`` and ``.admin``; and ``get_manager()``,
the guide's entry point, configured from the environment.

    from journeys_client import get_manager   # instead of: from healthsim.state import ...

    manager = get_manager()                   # JOURNEYS_URL, JOURNEYS_TOKEN
    journey = manager.journeys.load_journey("diabetic-first-year")
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from types import TracebackType
from typing import Final

import httpx

from .events import EventsApi
from .insights import AdminApi, AnalyticsApi
from .journeys import JourneysApi
from .operations import client_operations
from .patients import PatientsApi
from .rules import RulesApi
from .transport import (
    DEFAULT_BACKOFF_BASE,
    DEFAULT_BACKOFF_MAX,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_PAGE_SIZE,
    DEFAULT_READ_TIMEOUT,
    Http,
    RetryPolicy,
)

URL_VARIABLE: Final = "JOURNEYS_URL"
API_GROUPS: Final = (JourneysApi, PatientsApi, EventsApi, RulesApi, AnalyticsApi, AdminApi)
TOKEN_VARIABLE: Final = "JOURNEYS_TOKEN"


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
        self._http = Http(
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
        self.rules = RulesApi(self._http, page_size)
        self.analytics = AnalyticsApi(self._http)
        self.admin = AdminApi(self._http)

    @staticmethod
    def operations() -> dict[str, list[str]]:
        """operationId (as in the service's OpenAPI document) → the methods that call it."""
        return client_operations(*API_GROUPS)

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


def _setting(given: str | None, variable: str, what: str) -> str:
    value = given if given is not None else os.environ.get(variable, "")
    if not value:
        raise ValueError(f"{variable} is not set: give {what} or set the variable")
    return value


def get_manager(url: str | None = None, token: str | None = None) -> JourneysClient:
    """A client whose ``.journeys`` is the guide's journey manager, so that code written for
    ``healthsim.state.get_manager()`` runs unchanged after its import line.

    ``url`` (the API root or the stack's ``ApiUrl``) and ``token`` (a JWT) default to the
    ``JOURNEYS_URL`` and ``JOURNEYS_TOKEN`` environment variables; a missing one is a
    ``ValueError`` that names it. Each call opens a new session: keep the one you get
    (``close()`` it, or use it in a ``with`` block, when done).
    """
    return JourneysClient(
        _setting(url, URL_VARIABLE, "url="),
        _setting(token, TOKEN_VARIABLE, "token="),
    )
