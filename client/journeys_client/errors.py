"""What the client raises instead of HTTP errors.

Every exception is a :class:`JourneysError` carrying the HTTP ``status_code`` (``None`` when no
answer came), the service's error ``code`` and ``message``, and the API Gateway request id.
``NotFoundError``, ``AlreadyExistsError`` and ``ValidationError`` are also ``ValueError``\\ s,
which is what the guide's journey manager raised for a missing or duplicate journey.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

# The service's messages name the field first: "journey_spec.events: duplicate event_id a".
_FIELD_FIRST = re.compile(r"^(?P<field>[A-Za-z0-9_.\[\]-]+): (?P<message>.+)$", re.DOTALL)


class JourneysError(Exception):
    """Base of every error this client raises."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.request_id = request_id
        self.body = body

    def __str__(self) -> str:
        # The whole message given, also where a subclass keeps a part of it as ``message``.
        status = f"{self.status_code} " if self.status_code is not None else ""
        return f"{status}{self.args[0]}"


class NotFoundError(JourneysError, ValueError):
    """404: no such journey, version, patient or entity in the caller's organization."""


class ConflictError(JourneysError):
    """409: the change conflicts with the current state (an ``expected_stage`` that does not
    match, a move the journey's transitions refuse, a concurrent change)."""


class AlreadyExistsError(ConflictError, ValueError):
    """409 ``already_exists``: a journey with that name exists already."""


class ValidationError(JourneysError, ValueError):
    """422 (also 400 and 413): the request was refused as invalid.

    ``field`` is the first field the service named (``"name"``, ``"journey_spec.events"``,
    ``"status"``; ``"body"`` when the body as a whole was refused) and ``message`` the problem
    with it; ``str(error)`` is the service's whole message, ``details`` its per-field list.
    """

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message, **context)
        self.full_message = message
        first = message.split("; ", 1)[0]
        match = _FIELD_FIRST.match(first)
        field = match["field"] if match else "body"
        # A check across fields is reported under the body: "body.end_date" is "end_date".
        self.field: str = field.removeprefix("body.") or "body"
        self.message = match["message"] if match else message
        details = self.body.get("detail") if isinstance(self.body, dict) else None
        self.details: list[dict[str, Any]] = list(details) if isinstance(details, list) else []


class AuthError(JourneysError):
    """401 (missing, badly signed or expired token) or 403 (no organization in the token, or
    a role the call needs: writing definitions needs ``admin``, patients ``staff``/``admin``)."""


class ServiceError(JourneysError):
    """The service could not answer: a 5xx or 429 after the retries the call allows, or no
    answer at all (connection refused, timeout). ``status_code`` is ``None`` for the latter."""


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
