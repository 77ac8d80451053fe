"""System events: inbound domain events and emitted timeouts, as the service recorded them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from journeys_core.models.common import Page

# ``conflict``: the event reused an id already taken by an event that said something else;
# recorded under a derived id so that it is visible, and not processed.
SystemEventStatus = Literal["received", "processed", "failed", "emitted", "conflict"]


class SystemEvent(BaseModel):
    event_id: str
    organization_id: str
    event_type: str
    patient_id: str | None = None
    source: str
    received_at: datetime
    payload: dict[str, Any] = {}
    status: SystemEventStatus = "received"
    # Who put it on the bus: the person or integration (JWT sub) behind POST /events, the
    # rule whose action emitted it; None for a producer that does not say.
    sender: str | None = None
    # The hash of what the event says (type, patient, payload), see event_fingerprint.
    fingerprint: str | None = None
    # What the service did with it: one entry per matched rule / action, e.g.
    # {"rule_id": "...", "action": "update_journey_status", "outcome": "moved", "detail": "..."}
    results: list[dict[str, Any]] = []


class SystemEventsPage(Page[SystemEvent]):
    """``GET /patients/{id}/events``: the events about one patient, newest first."""
