"""System events in DynamoDB: every inbound domain event and every emitted timeout, with
its payload and what the service did with it (the source system's SystemEventLog).

- event:        pk=ORG#{org}#EVENT#{event_id}                        sk=EVENT
                (+ patient_pk=ORG#{org}#PATIENT#{patient_id}, received_at: GSI ByPatient)
- event id:     pk=ORG#{org}#EVENT#{event_id}                        sk=SUBMITTED
                the id taken by POST /events, with the fingerprint of what that event said
                (the same id for other content is refused, 409)
- timeout gate: pk=ORG#{org}#TIMEOUT#{patient_id}#{journey_key}#{stage}  sk=GATE
                one per stuck (patient, journey, stage): the conditional write that lets
                a timeout through at most once per 24 hours, backing off, whoever runs the
                monitor (``fires`` under the rule of ``rule_hours``). ``state`` is
                ``claimed`` until the timeout is on the bus, then ``published``;
                ``event_id`` is the timeout's (an abandoned claim is taken over with the
                same id, see ``journeys_core.domain.stale_monitor``).
- unit position: pk=MONITOR#UNIT#{unit id}  sk=POSITION  how far the monitor's unit got in
                the run of ``at`` (``done`` once it finished): a redelivered or continued
                unit resumes there, each unit on its own.

One repository per job, all on the one table: :class:`SystemEventsRepository` (the events and
their results), :class:`TimeoutGatesRepository`, :class:`EmailClaimsRepository` (one email per
event) and :class:`UnitPositionsRepository`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from journeys_core.clock import format_timestamp
from journeys_core.data.codec import dump_json, error_code, from_item, to_item
from journeys_core.data.dynamo import (
    OnTable,
    UpdateExpression,
    batch_get,
    batch_write,
    in_partition,
    records_page,
)
from journeys_core.domain.stale_monitor import GATE_CLAIMED, GATE_PUBLISHED, GateClaim
from journeys_core.models.system_event import SystemEvent, SystemEventStatus

__all__ = [
    "EmailClaimsRepository",
    "SystemEventsRepository",
    "TimeoutGate",
    "TimeoutGatesRepository",
    "UnitPosition",
    "UnitPositionsRepository",
]

PATIENT_KEY_ATTRS = {"pk", "sk", "patient_pk", "received_at"}


def event_pk(org: str, event_id: str) -> str:
    return f"ORG#{org}#EVENT#{event_id}"


def patient_events_pk(org: str, patient_id: str) -> str:
    return f"ORG#{org}#PATIENT#{patient_id}"


def timeout_gate_pk(org: str, patient_id: str, journey_key: str, stage: str) -> str:
    return f"ORG#{org}#TIMEOUT#{patient_id}#{journey_key}#{stage}"


@dataclass(frozen=True)
class TimeoutGate:
    """One stuck (patient, journey, stage) stay, as its timeout gate knows it."""

    org: str
    patient_id: str
    journey_key: str
    stage: str
    entered_at: str

    @property
    def key(self) -> dict[str, Any]:
        pk = timeout_gate_pk(self.org, self.patient_id, self.journey_key, self.stage)
        return {"pk": {"S": pk}, "sk": {"S": "GATE"}}


def _event_item(event: SystemEvent) -> dict[str, Any]:
    values = event.model_dump(mode="json", exclude={"payload", "results"})
    values.update(
        pk=event_pk(event.organization_id, event.event_id),
        sk="EVENT",
        payload_json=dump_json(event.payload),
        results_json=dump_json(event.results),
        received_at=format_timestamp(event.received_at),
    )
    if event.patient_id:
        values["patient_pk"] = patient_events_pk(event.organization_id, event.patient_id)
    return to_item(values)


def event_from_item(item: dict[str, Any]) -> SystemEvent:
    values = from_item(item, payload=("payload_json", "{}"), results=("results_json", "[]"))
    return SystemEvent.model_validate(values)


class SystemEventsRepository(OnTable):
    """Inbound domain events and emitted timeouts, with what the service did with each."""

    def record(self, event: SystemEvent) -> bool:
        """Store an event once; False when an event with that id was already recorded."""
        try:
            self._db.put_item(
                TableName=self.table,
                Item=_event_item(event),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def claim_event_id(self, org: str, event_id: str, fingerprint: str) -> bool:
        """Take ``event_id`` for an event submitted through the API, or confirm it was taken
        for the same content (a retry); False when it was taken for other content. One
        conditional PutItem on ``sk=SUBMITTED`` beside the event's own item."""
        try:
            self._db.put_item(
                TableName=self.table,
                Item={
                    "pk": {"S": event_pk(org, event_id)},
                    "sk": {"S": "SUBMITTED"},
                    "fingerprint": {"S": fingerprint},
                },
                ConditionExpression="attribute_not_exists(pk) OR fingerprint = :fingerprint",
                ExpressionAttributeValues={":fingerprint": {"S": fingerprint}},
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def record_many(self, events: list[SystemEvent]) -> None:
        """Store events whose ids are fresh (timeouts the gate let through), 25 a batch."""
        batch_write(self.table, puts=[_event_item(event) for event in events])

    def set_results(
        self, org: str, event_id: str, status: str, results: list[dict[str, Any]]
    ) -> None:
        self._db.update_item(
            TableName=self.table,
            Key={"pk": {"S": event_pk(org, event_id)}, "sk": {"S": "EVENT"}},
            UpdateExpression="SET #status = :status, results_json = :results",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":status": {"S": status},
                ":results": {"S": dump_json(results)},
            },
        )

    def get(self, org: str, event_id: str) -> SystemEvent | None:
        response = self._db.get_item(
            TableName=self.table,
            Key={"pk": {"S": event_pk(org, event_id)}, "sk": {"S": "EVENT"}},
        )
        item = response.get("Item")
        return event_from_item(item) if item else None

    def about_patient(
        self, org: str, patient_id: str, limit: int, cursor: str | None
    ) -> tuple[list[SystemEvent], str | None]:
        """One page of the events about a patient, newest first, with what the service did
        with each (rule results, emails sent, skipped or failed): one Query on ByPatient."""
        partition = patient_events_pk(org, patient_id)
        params = {
            "TableName": self.table,
            "IndexName": "ByPatient",
            "KeyConditionExpression": "patient_pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": partition}},
            "ScanIndexForward": False,
        }
        owns = in_partition("patient_pk", partition)
        return records_page(
            params, event_from_item, "patient events", PATIENT_KEY_ATTRS, owns, limit, cursor
        )

    def mark_failed(self, org: str, event_ids: Sequence[str], reason: str) -> None:
        """Timeouts recorded but refused by the bus: their gates stay ``claimed`` and the
        next run past the lease publishes them again."""
        for event_id in event_ids:
            self.set_results(
                org,
                event_id,
                "failed",
                [{"step": "publish", "outcome": "failed", "detail": reason}],
            )

    def add_result(
        self,
        org: str,
        event_id: str,
        result: Mapping[str, Any],
        status: SystemEventStatus | None = None,
        attributes: Mapping[str, str] | None = None,
        attempts: int = 5,
    ) -> bool:
        """Append one result to a recorded event without losing anyone else's (optimistic:
        the write holds only if the results are still what was read), and set
        ``attributes`` beside it. False when no such event was recorded (nothing is written
        then)."""
        key = {"pk": {"S": event_pk(org, event_id)}, "sk": {"S": "EVENT"}}
        for _ in range(attempts):
            item = self._db.get_item(
                TableName=self.table, Key=key, ProjectionExpression="pk, results_json"
            ).get("Item")
            if item is None:
                return False
            stored = item.get("results_json")
            results = [*json.loads(stored["S"] if stored else "[]"), dict(result)]
            fields: dict[str, Any] = {
                "results_json": dump_json(results),
                **(attributes or {}),
            }
            if status is not None:
                fields["status"] = status
            update = UpdateExpression().set(fields)
            if stored is None:
                condition = "attribute_exists(pk) AND attribute_not_exists(results_json)"
            else:
                condition = f"{update.name('results_json')} = {update.value(stored['S'])}"
            try:
                self._db.update_item(
                    TableName=self.table, Key=key, ConditionExpression=condition, **update.params()
                )
            except Exception as error:
                if error_code(error) != "ConditionalCheckFailedException":
                    raise
                continue  # someone wrote results meanwhile: read them again
            return True
        raise RuntimeError(f"the results of event {event_id!r} kept changing; not recorded")


class TimeoutGatesRepository(OnTable):
    """At most one timeout per stuck (patient, journey, stage) stay per 24 hours, backing off."""

    def claim_timeout(
        self,
        gate: TimeoutGate,
        stored: Mapping[str, Any] | None,
        claim: GateClaim,
        now: datetime,
        event_id: str,
    ) -> bool:
        """Take the gate for the timeout ``event_id`` (the domain decided, in
        :func:`~journeys_core.domain.stale_monitor.gate_claim`, that ``stored`` lets it
        through); True for exactly one caller: the write holds only while the gate is still
        as read, so overlapping or retried runs race on it and one wins (a whole-item put:
        the gate holds nothing else). The gate is ``claimed`` until
        :meth:`confirm_timeouts_published`."""
        item = {**gate.key, **to_item(_gate_values(gate, now, GATE_CLAIMED, event_id, claim))}
        names = {"#entered": "entered_at", "#last": "last_emitted_at", "#state": "state"}
        values: dict[str, Any] = {}
        conditions = []
        for placeholder, name in names.items():
            if stored is not None and stored.get(name) is not None:
                values[f":{name}"] = {"S": str(stored[name])}
                conditions.append(f"{placeholder} = :{name}")
            else:
                conditions.append(f"attribute_not_exists({placeholder})")
        condition = "attribute_not_exists(pk)" if stored is None else " AND ".join(conditions)
        try:
            self._db.put_item(
                TableName=self.table,
                Item=item,
                ConditionExpression=condition,
                **({"ExpressionAttributeNames": names} if stored is not None else {}),
                **({"ExpressionAttributeValues": values} if values else {}),
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def confirm_timeouts_published(
        self, claims: Sequence[tuple[TimeoutGate, str, GateClaim]], claimed_at: datetime
    ) -> None:
        """Mark claimed gates ``published`` (their timeouts are on the bus), 25 a batch.
        A plain put is safe: nobody else can take a gate within its 24 hours or its lease."""
        items = [
            to_item(
                {
                    **from_item(gate.key),
                    **_gate_values(gate, claimed_at, GATE_PUBLISHED, event_id, claim),
                }
            )
            for gate, event_id, claim in claims
        ]
        batch_write(self.table, puts=items)

    def read_timeout_gates(self, gates: Sequence[TimeoutGate]) -> list[dict[str, Any] | None]:
        """The stored state of each gate (None: never opened), 100 keys a BatchGetItem."""
        unique = list({gate.key["pk"]["S"]: gate for gate in gates}.values())
        items = batch_get(
            self.table,
            [gate.key for gate in unique],
            projection={
                "ProjectionExpression": (
                    "pk, entered_at, last_emitted_at, #state, event_id, fires, rule_hours"
                ),
                "ExpressionAttributeNames": {"#state": "state"},
            },
        )
        found = {item["pk"]["S"]: from_item(item) for item in items}
        return [found.get(gate.key["pk"]["S"]) for gate in gates]


def _gate_values(
    gate: TimeoutGate, at: datetime, state: str, event_id: str, claim: GateClaim
) -> dict[str, Any]:
    return {
        "last_emitted_at": format_timestamp(at),
        "entered_at": gate.entered_at,
        "state": state,
        "event_id": event_id,
        "fires": claim.fires,
        "rule_hours": claim.rule_hours,
    }


class EmailClaimsRepository(OnTable):
    """One email per event, whoever wants to send it."""

    def claim_email(self, org: str, event_id: str, claimant: str) -> bool | None:
        """Let one sender email about this event: True for the first claimant, False for
        everyone after (the notifier and an automation rule may both want to send a timeout's
        reminder; the patient gets one), None when no such event was recorded (a hand-made
        event: nothing to claim on, the caller decides)."""
        try:
            self._db.update_item(
                TableName=self.table,
                Key={"pk": {"S": event_pk(org, event_id)}, "sk": {"S": "EVENT"}},
                UpdateExpression="SET email_claimed_by = :claimant",
                ConditionExpression=(
                    "attribute_exists(pk) AND attribute_not_exists(email_claimed_by)"
                ),
                ExpressionAttributeValues={":claimant": {"S": claimant}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self._db.exceptions.ConditionalCheckFailedException as error:
            return False if getattr(error, "response", {}).get("Item") else None
        return True

    def email_receipt(self, org: str, event_id: str) -> str | None:
        """The SES message id of the email sent for this event, if one was (kept beside the
        results, which other writers may replace)."""
        item = self._db.get_item(
            TableName=self.table,
            Key={"pk": {"S": event_pk(org, event_id)}, "sk": {"S": "EVENT"}},
            ProjectionExpression="email_message_id",
        ).get("Item")
        receipt = (item or {}).get("email_message_id", {}).get("S")
        return str(receipt) if receipt else None


@dataclass(frozen=True)
class UnitPosition:
    """How far a monitor unit got in the run of ``at``: after ``start_key``, or ``done``."""

    at: str
    start_key: Mapping[str, Any] | None = None
    done: bool = False


class UnitPositionsRepository(OnTable):
    """Where each monitor unit stands, so that a unit resumes on its own (a redelivered
    message, a continuation) without holding back any other."""

    @staticmethod
    def _key(unit_id: str) -> dict[str, Any]:
        return {"pk": {"S": f"MONITOR#UNIT#{unit_id}"}, "sk": {"S": "POSITION"}}

    def load_position(self, unit_id: str) -> UnitPosition | None:
        item = self._db.get_item(
            TableName=self.table, Key=self._key(unit_id), ConsistentRead=True
        ).get("Item")
        if not item:
            return None
        values = from_item(item)
        start_key = json.loads(values["start_key_json"]) if values.get("start_key_json") else None
        return UnitPosition(values["at"], start_key, bool(values.get("done")))

    def save_position(self, unit_id: str, position: UnitPosition) -> None:
        values: dict[str, Any] = {
            "at": position.at,
            "done": position.done,
            "start_key_json": json.dumps(dict(position.start_key)) if position.start_key else None,
        }
        self._db.put_item(TableName=self.table, Item={**self._key(unit_id), **to_item(values)})
