"""System events: inbound domain events and emitted timeouts, as the service recorded them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

SystemEventStatus = Literal["received", "processed", "failed", "emitted"]


class SystemEvent(BaseModel):
    event_id: str
    organization_id: str
    event_type: str
    patient_id: str | None = None
    source: str
    received_at: datetime
    payload: dict[str, Any] = {}
    status: SystemEventStatus = "received"
    # What the service did with it: one entry per matched rule / action, e.g.
    # {"rule_id": "...", "action": "update_journey_status", "outcome": "moved", "detail": "..."}
    results: list[dict[str, Any]] = []
