"""Ingesting domain events through the API (``POST /events``): validated, then put on the
service's bus, where they take the same path as every other producer's events."""

from __future__ import annotations

import json

from journeys_core.clock import utc_now
from journeys_core.data import repositories
from journeys_core.data.event_bus import EventNotPublished, put_event
from journeys_core.data.throttling import throttling_as_unavailable
from journeys_core.domain.automation import event_fingerprint, new_event_id
from journeys_core.errors import Conflict, InvalidInput, PayloadTooLarge, ServiceUnavailable
from journeys_core.models.automation import DomainEventSubmission, EventAccepted
from journeys_core.models.common import is_organization_id
from journeys_core.settings import get_settings

API_SOURCE = "journeys.api"
# EventBridge takes entries up to 256 KB; leave room for the envelope.
MAX_DETAIL_BYTES = 240_000


def submit_domain_event(
    org: str, submitted_by: str, submission: DomainEventSubmission
) -> EventAccepted:
    """Put the event on the bus for the caller's organization; its event id (the one given,
    else a new one). Processing happens later, once per event id. An id given again for the
    same content is a retry (accepted again, processed once); for other content, Conflict."""
    if not is_organization_id(org):
        raise InvalidInput("organization_id: the token's organization cannot receive events")
    event_id = submission.event_id or new_event_id()
    fingerprint = event_fingerprint(submission.type, submission.patient_id, submission.payload)
    detail = {
        "organization_id": org,
        "patient_id": submission.patient_id,
        "event_id": event_id,
        "payload": submission.payload,
        "submitted_by": submitted_by,
    }
    if len(json.dumps(detail, separators=(",", ":")).encode()) > MAX_DETAIL_BYTES:
        raise PayloadTooLarge(f"payload: an event carries at most {MAX_DETAIL_BYTES} bytes")
    with throttling_as_unavailable("the event ids"):
        taken = repositories.system_events().claim_event_id(org, event_id, fingerprint)
    if not taken:
        raise Conflict(
            f"event_id: {event_id!r} was already used for an event that said something else "
            "(another type, patient or payload): give each event its own id"
        )
    try:
        with throttling_as_unavailable("the event bus"):
            put_event(get_settings().event_bus_name, API_SOURCE, submission.type, detail, utc_now())
    except EventNotPublished as error:
        raise ServiceUnavailable(f"the bus did not take the event, retry: {error}") from error
    return EventAccepted(event_id=event_id, type=submission.type)
