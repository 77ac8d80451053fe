"""System events in DynamoDB: every inbound domain event and every emitted timeout, with
its payload and what the service did with it (the source system's SystemEventLog).

- event:        pk=ORG#{org}#EVENT#{event_id}                        sk=EVENT
                (+ patient_pk=ORG#{org}#PATIENT#{patient_id}, received_at: GSI ByPatient)
- timeout gate: pk=ORG#{org}#TIMEOUT#{patient_id}#{journey_key}#{stage}  sk=GATE
                one per stuck (patient, journey, stage): the conditional write that lets
                at most one timeout through per 24 hours, whoever runs the monitor.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from journeys_core.clock import format_timestamp
from journeys_core.data import aws
from journeys_core.data.codec import from_item, to_item
from journeys_core.models.system_event import SystemEvent

TIMEOUT_WINDOW = timedelta(hours=24)


def event_pk(org: str, event_id: str) -> str:
    return f"ORG#{org}#EVENT#{event_id}"


def timeout_gate_pk(org: str, patient_id: str, journey_key: str, stage: str) -> str:
    return f"ORG#{org}#TIMEOUT#{patient_id}#{journey_key}#{stage}"


def _event_item(event: SystemEvent) -> dict[str, Any]:
    values = event.model_dump(mode="json", exclude={"payload", "results"})
    values.update(
        pk=event_pk(event.organization_id, event.event_id),
        sk="EVENT",
        payload_json=json.dumps(event.payload, separators=(",", ":")),
        results_json=json.dumps(event.results, separators=(",", ":")),
        received_at=format_timestamp(event.received_at),
    )
    if event.patient_id:
        values["patient_pk"] = f"ORG#{event.organization_id}#PATIENT#{event.patient_id}"
    return to_item(values)


def event_from_item(item: dict[str, Any]) -> SystemEvent:
    values = from_item(item)
    values["payload"] = json.loads(values.pop("payload_json", "{}"))
    values["results"] = json.loads(values.pop("results_json", "[]"))
    return SystemEvent.model_validate(values)


class SystemEventsRepository:
    def __init__(self, table_name: str) -> None:
        self.table = table_name

    @property
    def _db(self) -> Any:
        return aws.dynamodb()

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

    def record_many(self, events: list[SystemEvent]) -> None:
        """Store events whose ids are fresh (timeouts the gate let through), 25 a batch."""
        for start in range(0, len(events), 25):
            requests = [
                {"PutRequest": {"Item": _event_item(e)}} for e in events[start : start + 25]
            ]
            while requests:
                response = self._db.batch_write_item(RequestItems={self.table: requests})
                requests = response.get("UnprocessedItems", {}).get(self.table, [])

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
                ":results": {"S": json.dumps(results, separators=(",", ":"))},
            },
        )

    def get(self, org: str, event_id: str) -> SystemEvent | None:
        response = self._db.get_item(
            TableName=self.table,
            Key={"pk": {"S": event_pk(org, event_id)}, "sk": {"S": "EVENT"}},
        )
        item = response.get("Item")
        return event_from_item(item) if item else None

    def claim_timeout(
        self,
        org: str,
        patient_id: str,
        journey_key: str,
        stage: str,
        entered_at: str,
        now: datetime,
    ) -> bool:
        """True for exactly one caller per (patient, journey, stage) per 24 hours.

        The gate remembers when it last opened and for which stay in the stage
        (``entered_at``): a patient who left the stage and came back starts the clock again.
        Concurrent or retried monitor runs race on this one conditional write."""
        emitted_at = format_timestamp(now)
        try:
            self._db.put_item(
                TableName=self.table,
                Item={
                    "pk": {"S": timeout_gate_pk(org, patient_id, journey_key, stage)},
                    "sk": {"S": "GATE"},
                    "last_emitted_at": {"S": emitted_at},
                    "entered_at": {"S": entered_at},
                },
                ConditionExpression=(
                    "attribute_not_exists(pk) OR entered_at <> :entered OR last_emitted_at <= :cut"
                ),
                ExpressionAttributeValues={
                    ":entered": {"S": entered_at},
                    ":cut": {"S": format_timestamp(now - TIMEOUT_WINDOW)},
                },
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True
