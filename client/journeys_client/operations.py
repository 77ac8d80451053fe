"""Which client method calls which operation of the API (the ``operationId`` in the service's
``docs/openapi.json``): ``@operation("listJourneys")`` on the method. The service's tests
compare :func:`client_operations` with the document, so an operation the client lacks, or a
name the document no longer has, fails there."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Final, TypeVar

Method = TypeVar("Method", bound=Callable[..., Any])
_ATTRIBUTE: Final = "__journeys_operation__"


def operation(operation_id: str) -> Callable[[Method], Method]:
    """Mark a method as the one that calls ``operation_id`` (several methods may: a list and
    its iterator, a guide-shaped answer and the whole record)."""

    def mark(method: Method) -> Method:
        setattr(method, _ATTRIBUTE, operation_id)
        return method

    return mark


def operation_of(method: Any) -> str | None:
    """The operationId a method calls, or None for a method that calls none by itself."""
    value = getattr(method, _ATTRIBUTE, None)
    return value if isinstance(value, str) else None


def client_operations(*groups: type) -> dict[str, list[str]]:
    """operationId → the methods (``Group.method``) of these API groups that call it."""
    found: dict[str, list[str]] = {}
    for group in groups:
        for name, member in inspect.getmembers(group, callable):
            operation_id = operation_of(member)
            if operation_id is not None:
                found.setdefault(operation_id, []).append(f"{group.__name__}.{name}")
    return found
