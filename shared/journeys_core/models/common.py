"""Model pieces every API shares: strict request bodies, de-duplicated lists, pages."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints, ValidationError

from journeys_core.errors import InvalidInput

T = TypeVar("T")

# An organization id, wherever one arrives (the token's ``custom:org_id``, a bus event's
# ``detail``). No ``#``: every DynamoDB key writes it as ``ORG#{org}#...``, and a ``#`` inside
# would let one organization's key prefix match another's. 64 characters keep every key far
# below DynamoDB's key size limits.
ORGANIZATION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
OrganizationId = Annotated[str, StringConstraints(pattern=ORGANIZATION_PATTERN)]
_ORGANIZATION = re.compile(ORGANIZATION_PATTERN)


def is_organization_id(value: str) -> bool:
    return _ORGANIZATION.fullmatch(value) is not None


M = TypeVar("M", bound=BaseModel)


# Dates the service takes: far enough for any journey, near enough that moving a date by a
# time zone or by a journey's length never leaves what Python's dates hold (years 1-9999).
MIN_YEAR, MAX_YEAR = 1900, 2200


def _within_years(value: Any) -> Any:
    if value is not None and not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"a date must fall within the years {MIN_YEAR}-{MAX_YEAR}")
    return value


BoundedDate = Annotated[date, AfterValidator(_within_years)]
BoundedDatetime = Annotated[datetime, AfterValidator(_within_years)]


class Model(BaseModel):
    """The service's models: each builds its validator when first used, not at import, so a
    function's cold start pays only for the models its request touches."""

    model_config = ConfigDict(defer_build=True)


class Strict(Model):
    """A request body: unknown fields are an error, not ignored."""

    model_config = ConfigDict(extra="forbid")


def _unique(values: list[Any] | None) -> list[Any] | None:
    return list(dict.fromkeys(values)) if values is not None else None


# A list kept in its order with repeats dropped (tags, products).
Unique = AfterValidator(_unique)


class Page(BaseModel, Generic[T]):
    """One page of a list and the cursor of the next (None on the last page)."""

    items: list[T]
    next_cursor: str | None = None


def describe(error: ValidationError, whole: str = "value", limit: int = 5) -> str:
    """``field: message; ...`` for the first problems of a validation error (``whole`` names
    a problem of the value as a whole)."""
    return "; ".join(
        f"{'.'.join(str(part) for part in e['loc']) or whole}: {e['msg']}"
        for e in error.errors()[:limit]
    )


def validated(model: type[M], **fields: Any) -> M:
    """The model, or InvalidInput (422) naming the fields that are wrong."""
    try:
        return model.model_validate(fields)
    except ValidationError as error:
        raise InvalidInput(describe(error)) from error
