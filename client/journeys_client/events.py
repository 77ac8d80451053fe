"""``client.events``: domain events for the automation engine."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from .models import EventAccepted
from .operations import operation
from .transport import Http


class EventsApi:
    """Domain events (``POST /events``) for the automation engine."""

    def __init__(self, http: Http) -> None:
        self._http = http

    @operation("submitEvent")
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
