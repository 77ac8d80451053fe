"""Domain errors. Data access translates AWS errors into these once; the HTTP layer maps
them to status codes in one place (``journeys_core.http``)."""

from __future__ import annotations


class DomainError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class AlreadyExists(DomainError):
    status_code = 409
    code = "already_exists"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class LostRace(Conflict):
    """A write refused because someone changed the item after it was read (the optimistic
    lock held): reading again and retrying may succeed, unlike a move the rules refuse."""


class JourneyChanged(Conflict):
    """The journey a move was checked against was deleted, retired or saved anew meanwhile."""


class Unauthorized(DomainError):
    status_code = 401
    code = "unauthorized"


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"


class InvalidInput(DomainError):
    status_code = 422
    code = "invalid_input"


class PayloadTooLarge(DomainError):
    status_code = 413
    code = "payload_too_large"


class ServiceUnavailable(DomainError):
    """AWS throttled us (retries exhausted): nothing was written, the caller may retry."""

    status_code = 503
    code = "service_unavailable"
