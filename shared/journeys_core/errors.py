"""Domain errors. Data access translates AWS errors into these once; the HTTP layer maps
them to status codes in one place (``journeys_core.http``)."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """An error the caller gets as an HTTP answer: a subclass names its status and code in
    its class statement (``class NotFound(DomainError, status_code=404, code="not_found")``)
    and inherits them otherwise."""

    status_code = 400
    code = "bad_request"

    def __init_subclass__(
        cls, *, status_code: int | None = None, code: str | None = None, **kwargs: Any
    ) -> None:
        super().__init_subclass__(**kwargs)
        if status_code is not None:
            cls.status_code = status_code
        if code is not None:
            cls.code = code

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError, status_code=404, code="not_found"):
    """No such object in the caller's organization."""


class AlreadyExists(DomainError, status_code=409, code="already_exists"):
    """A create whose name or id is taken."""


class Conflict(DomainError, status_code=409, code="conflict"):
    """A write the object's current state refuses."""


class LostRace(Conflict):
    """A write refused because someone changed the item after it was read (the optimistic
    lock held): reading again and retrying may succeed, unlike a move the rules refuse."""


class JourneyChanged(Conflict):
    """The journey a move was checked against was deleted, retired or saved anew meanwhile."""


class Unauthorized(DomainError, status_code=401, code="unauthorized"):
    """No valid token (or no subject in it)."""


class Forbidden(DomainError, status_code=403, code="forbidden"):
    """The token lacks an organization, or the role or group this needs."""


class InvalidInput(DomainError, status_code=422, code="invalid_input"):
    """A request the schema accepts but the service cannot act on."""


class PayloadTooLarge(DomainError, status_code=413, code="payload_too_large"):
    """What would be stored is over the size DynamoDB holds."""


class ServiceUnavailable(DomainError, status_code=503, code="service_unavailable"):
    """AWS throttled us (retries exhausted): nothing was written, the caller may retry."""
