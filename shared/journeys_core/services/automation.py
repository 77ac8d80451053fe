"""The automation engine: a domain event from the bus, processed once, moves journeys.

For each event (``detail-type`` = trigger, ``detail`` = ``{organization_id, patient_id,
event_id?, payload}``; the event id is ``detail.event_id``, else EventBridge's id):

1. once per (organization, event id): Powertools idempotency on DynamoDB; a redelivered event
   gets the first run's result and changes nothing;
2. the event is recorded as a system event (payload now, rule results at the end; a timeout
   the monitor recorded already gets the results appended);
3. the organization's active rules for the trigger (cached per warm container) are matched
   (``journeys_core.domain.automation``) and their actions run in priority order;
4. the event type is stored as seen for the patient (stage guards' ``requires_events``): in
   the move's own transaction when a move commits, else by one idempotent ADD, always before
   an email or an emitted event leaves.

``update_journey_status`` goes through :func:`move_patient_stage`, as actor ``automation``
with ``trigger_event_id`` set: locked stages and guards hold. A move the journey's rules
refuse is recorded on the system event, not retried. Throttling, a lost race for the same
patient (twice) or an unreachable bus or SES raise: the message is retried, then
dead-lettered; moves already made are no-ops on the retry, emitted events keep their ids.
"""

from __future__ import annotations

import dataclasses
import json
import re
from functools import cache
from typing import Any

from pydantic import ValidationError

from journeys_core.clock import utc_now
from journeys_core.data import repositories
from journeys_core.data.event_bus import put_event
from journeys_core.data.idempotency import IdempotentCall
from journeys_core.data.mailer import EmailRejected, send_email
from journeys_core.data.patients import PatientRecord
from journeys_core.data.warm_cache import warm_cache
from journeys_core.domain.automation import (
    MAX_CHAIN_DEPTH,
    conflict_event_id,
    derived_event_id,
    event_fingerprint,
    matching_rules,
    render_template,
)
from journeys_core.domain.stale_monitor import TIMEOUT_EVENT_TYPE
from journeys_core.errors import Conflict, InvalidInput, LostRace, NotFound
from journeys_core.models.automation import (
    EVENT_ID_PATTERN,
    MAX_ACTIVE_RULES_PER_TRIGGER,
    AutomationRule,
    BusEvent,
    DomainEvent,
    EmitEventParams,
    SendEmail,
    SendEmailParams,
    UpdateJourneyStatus,
    UpdateJourneyStatusParams,
)
from journeys_core.models.common import describe, validated
from journeys_core.models.patient import StageMove
from journeys_core.models.system_event import SystemEvent
from journeys_core.services.patients import (
    move_patient_stage,
    record_patient_event,
)
from journeys_core.settings import get_settings

AUTOMATION_ACTOR = "automation"
AUTOMATION_SOURCE = "journeys.automation"
# What one inbound event may set off: the rules run for it (in priority order; any more
# are recorded as refused, though saving them is refused already) and the events its
# actions emit (each of which may fan out the same way, down to MAX_CHAIN_DEPTH).
MAX_RULES_PER_EVENT = MAX_ACTIVE_RULES_PER_TRIGGER
MAX_EMITTED_PER_EVENT = 10
IDEMPOTENCY_KEY_PREFIX = "journeys-automation-event"
# Events whose system event other functions write results on too (the stale monitor records
# timeouts, the notifier adds its email's outcome).
SHARED_RESULTS_EVENTS = frozenset({"JOURNEY_STAGE_TIMEOUT"})
_EVENT_ID = re.compile(EVENT_ID_PATTERN)

Result = dict[str, Any]


class InvalidDomainEvent(ValueError):
    """A message that is not a domain event: no retry will make it one (dead-lettered)."""


def parse_bus_message(body: str) -> DomainEvent:
    """The domain event an SQS message body (an EventBridge event) carries."""
    try:
        raw = json.loads(body)
        envelope = BusEvent.model_validate(raw)
    except ValueError as error:  # JSONDecodeError and ValidationError are ValueErrors
        reason = describe(error, "event") if isinstance(error, ValidationError) else "not JSON"
        raise InvalidDomainEvent(f"not a domain event: {reason}") from error
    detail = envelope.detail
    event_id = detail.event_id or envelope.id
    if not _EVENT_ID.fullmatch(event_id):
        raise InvalidDomainEvent(f"not a domain event: unusable event id {event_id!r}")
    return DomainEvent(
        event_id=event_id,
        event_type=envelope.detail_type,
        organization_id=detail.organization_id,
        patient_id=detail.patient_id,
        source=envelope.source,
        occurred_at=envelope.time,
        payload=detail.payload,
        detail=raw["detail"],
        chain_depth=detail.chain_depth,
        fingerprint=event_fingerprint(envelope.detail_type, detail.patient_id, detail.payload),
        sender=_sender(raw["detail"]),
    )


def _sender(detail: dict[str, Any]) -> str | None:
    """Who says they sent it: POST /events names the caller, an emitted event its rule."""
    submitted_by = detail.get("submitted_by")
    if isinstance(submitted_by, str) and submitted_by:
        return submitted_by[:200]
    caused_by = detail.get("caused_by")
    if isinstance(caused_by, dict) and isinstance(caused_by.get("rule_id"), str):
        return f"rule:{caused_by['rule_id'][:100]}"
    return None


@cache
def _process_once() -> IdempotentCall:
    settings = get_settings()
    return IdempotentCall(
        process_domain_event,
        table_name=settings.idempotency_table,
        data_keyword_argument="event",
        # The content's hash too: an id reused for another event is not answered with the
        # first one's result, it reaches process_domain_event and is recorded as a conflict.
        event_key_jmespath="[organization_id, event_id, fingerprint]",
        key_prefix=IDEMPOTENCY_KEY_PREFIX,
        expires_after_seconds=settings.idempotency_ttl_seconds,
    )


def register_lambda_context(context: Any) -> None:
    _process_once().register_lambda_context(context)


def process_bus_message(body: str) -> Result:
    """Process the domain event of one queue message, once per event id; what was done."""
    event = parse_bus_message(body)
    result: Result = _process_once()(event=event)
    return result


def process_domain_event(*, event: DomainEvent) -> Result:
    """Record the event, run the actions of the rules it matches, record what they did.
    Not idempotent by itself: call it through :func:`process_bus_message`."""
    org = event.organization_id
    system_events = repositories.system_events()
    first_time = system_events.record(
        SystemEvent(
            event_id=event.event_id,
            organization_id=org,
            event_type=event.event_type,
            patient_id=event.patient_id,
            source=event.source,
            received_at=utc_now(),
            payload=event.payload,
            sender=event.sender,
            fingerprint=event.fingerprint,
        )
    )
    if not first_time:  # a retry after a failure, or a redelivery older than idempotency's TTL
        earlier = system_events.get(org, event.event_id)
        if earlier is not None and earlier.fingerprint not in (None, event.fingerprint):
            return _record_conflict(event, earlier)
        if earlier is not None and earlier.status == "processed":
            matched_before = {r["rule_id"] for r in earlier.results if "rule_id" in r}
            return _summary(event, len(matched_before), earlier.results)

    repository = repositories.rules()
    rules = warm_cache.get(
        ("rules", repository.table, org, event.event_type),
        get_settings().rules_cache_seconds,
        lambda: repository.active_for_trigger(org, event.event_type),
        keep_none=True,
    )
    matched = matching_rules(rules, event.event_type, event.detail)
    run = _EventRun(event)
    results = [
        run.perform(rule, index, action)
        for rule in matched[:MAX_RULES_PER_EVENT]
        for index, action in enumerate(rule.actions)
    ] + [
        {
            "rule_id": rule.id,
            "rule_name": rule.name,
            "outcome": "refused",
            "detail": f"not run: more than {MAX_RULES_PER_EVENT} rules matched one event",
        }
        for rule in matched[MAX_RULES_PER_EVENT:]
    ]
    run.ensure_event_seen()
    if event.event_type in SHARED_RESULTS_EVENTS:
        # The notifier appends its outcome to the same system event: append, never replace.
        for index, result in enumerate(results):
            last = index == len(results) - 1
            system_events.add_result(
                org, event.event_id, result, status="processed" if last else None
            )
    else:
        system_events.set_results(org, event.event_id, "processed", results)
    return _summary(event, len(matched), results)


def _record_conflict(event: DomainEvent, earlier: SystemEvent) -> Result:
    """An event reusing an id taken by another event: neither processed nor lost, recorded
    under a derived id with what it said and which event holds the id."""
    result: Result = {
        "outcome": "conflict",
        "detail": f"event id {event.event_id!r} was already used by a "
        f"{earlier.event_type} for patient {earlier.patient_id!r}: not processed",
    }
    repositories.system_events().record(
        SystemEvent(
            event_id=conflict_event_id(event.event_id, event.fingerprint),
            organization_id=event.organization_id,
            event_type=event.event_type,
            patient_id=event.patient_id,
            source=event.source,
            received_at=utc_now(),
            payload=event.payload,
            status="conflict",
            results=[result],
            sender=event.sender,
            fingerprint=event.fingerprint,
        )
    )
    return _summary(event, 0, [result])


def _summary(event: DomainEvent, rules_matched: int, results: list[Result]) -> Result:
    return {
        "event_id": event.event_id,
        "event_type": event.event_type,
        "organization_id": event.organization_id,
        "patient_id": event.patient_id,
        "rules_matched": rules_matched,
        "results": results,
    }


class _EventRun:
    """The actions of one event: the patient is read at most once (and kept up to date)."""

    def __init__(self, event: DomainEvent) -> None:
        self.event = event
        self._patient: PatientRecord | None = None
        self._seen_stored = False
        self._emitted = 0

    def patient(self) -> PatientRecord:
        if self._patient is None:
            self._patient = repositories.patients().read(
                self.event.organization_id, self.event.patient_id
            )
        return self._patient

    def ensure_event_seen(self) -> None:
        """Store the event type as seen for the patient, unless it already is."""
        if self._seen_stored:
            return
        if self._patient is None or self.event.event_type not in self._patient.events_seen:
            record_patient_event(
                self.event.organization_id, self.event.patient_id, self.event.event_type
            )
        self._seen_stored = True

    def perform(self, rule: AutomationRule, index: int, action: Any) -> Result:
        result: Result = {"rule_id": rule.id, "rule_name": rule.name, "action": action.type}
        if isinstance(action, UpdateJourneyStatus):
            result.update(self._move(rule, action.params))
        elif isinstance(action, SendEmail):
            result.update(self._email(action.params))
        else:
            result.update(self._emit(rule, index, action.params))
        return result

    def _move(self, rule: AutomationRule, params: UpdateJourneyStatusParams) -> Result:
        event, key = self.event, params.key
        target: Result = {"journey_key": key, "to_stage": params.status}
        for attempt in (1, 2):
            record = self.patient()
            before = record.enrollments.get(key)
            try:
                move = validated(
                    StageMove,
                    org=event.organization_id,
                    patient_id=event.patient_id,
                    journey_key=key,
                    to_stage=params.status,
                    actor=AUTOMATION_ACTOR,
                    reason=f"automation rule {rule.name!r} on {event.event_type}",
                    trigger_event_id=event.event_id,
                    trigger_event_type=event.event_type,
                    is_person=False,
                )
                view = move_patient_stage(move, patient=record)
            except LostRace:
                self._patient = None  # someone moved the patient meanwhile: read it again
                if attempt == 1:
                    continue
                raise
            except Conflict as error:
                return {**target, "outcome": "refused", "detail": error.message}
            except (InvalidInput, NotFound) as error:
                return {**target, "outcome": "refused", "detail": error.message}
            after = view.enrollments[key]
            if before is not None and before.version == after.version:
                return {**target, "outcome": "unchanged", "detail": f"already in {after.stage}"}
            # Committed: the move's transaction stored the event type as seen too.
            self._patient = dataclasses.replace(
                record.with_enrollment(after),
                events_seen=record.events_seen | {event.event_type},
            )
            self._seen_stored = True
            return {
                **target,
                "outcome": "moved",
                "from_stage": before.stage if before else None,
            }
        raise AssertionError("unreachable")

    def _email(self, params: SendEmailParams) -> Result:
        sender = get_settings().notification_sender
        profile = self.patient().profile or {}
        recipient = profile.get("email")
        if not sender:
            return {"outcome": "skipped", "detail": "no sender address (NOTIFICATION_SENDER) set"}
        if not recipient:
            return {"outcome": "skipped", "detail": "the patient has no email address"}
        if self.event.event_type == TIMEOUT_EVENT_TYPE:
            # The notifier also emails timeouts (DESIGN §2): whoever claims first sends.
            claimed = repositories.email_claims().claim_email(
                self.event.organization_id, self.event.event_id, "automation"
            )
            if claimed is False:
                return {"outcome": "duplicate", "detail": "this timeout was already emailed"}
        self.ensure_event_seen()
        context = {
            **self.event.detail,
            "event_id": self.event.event_id,
            "event_type": self.event.event_type,
            "patient": {
                "id": self.event.patient_id,
                "display_name": profile.get("display_name") or "",
                "email": recipient,
            },
        }
        subject = render_template(params.subject, context)[:300]
        body = render_template(params.template, context)
        try:
            message_id = send_email(sender, recipient, subject, body)
        except EmailRejected as error:
            return {"outcome": "failed", "detail": str(error)[:500]}
        return {"outcome": "sent", "detail": message_id, "subject": subject}

    def _emit(self, rule: AutomationRule, index: int, params: EmitEventParams) -> Result:
        event = self.event
        depth = event.chain_depth + 1
        if depth > MAX_CHAIN_DEPTH:
            return {
                "outcome": "refused",
                "detail": f"{params.type} not emitted: more than {MAX_CHAIN_DEPTH} events "
                "in a chain of rules",
            }
        if self._emitted >= MAX_EMITTED_PER_EVENT:
            return {
                "outcome": "refused",
                "detail": f"{params.type} not emitted: more than {MAX_EMITTED_PER_EVENT} "
                "events emitted for one event",
            }
        self._emitted += 1
        self.ensure_event_seen()
        emitted_id = derived_event_id(event.event_id, rule.id, index)
        put_event(
            get_settings().event_bus_name,
            AUTOMATION_SOURCE,
            params.type,
            {
                "organization_id": event.organization_id,
                "patient_id": event.patient_id,
                "event_id": emitted_id,
                "payload": params.payload,
                "caused_by": {
                    "event_id": event.event_id,
                    "event_type": event.event_type,
                    "rule_id": rule.id,
                },
                "chain_depth": depth,
            },
            utc_now(),
        )
        return {"outcome": "emitted", "detail": emitted_id, "event_type": params.type}
