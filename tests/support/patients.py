"""Calls of the patients API (and the journey definitions it needs), built from events/."""

from __future__ import annotations

from typing import Any

from tests.conftest import ApiResult, invoke
from tests.support.events import api_event

KEY = "retreat_ibiza_2025"
# The stage machine of the built-in retreat_ibiza_2025 (copied: tests own their data), so the
# sample events in events/patients/ work against the local stack's imported built-ins too.
RETREAT: dict[str, Any] = {
    "stages": [
        "SCREENING_PENDING",
        "SCREENING_COMPLETED",
        "BLOCKED_HIGH_RISK",
        "AWAITING_PAYMENT",
        "PAYMENT_PENDING",
        "CONFIRMED",
        "PREPARATION_PHASE",
        "COMPLETED",
        "CANCELLED",
    ],
    "initial_stage": "SCREENING_PENDING",
    "transitions": {
        "SCREENING_PENDING": ["SCREENING_COMPLETED", "BLOCKED_HIGH_RISK", "CANCELLED"],
        "SCREENING_COMPLETED": ["AWAITING_PAYMENT", "BLOCKED_HIGH_RISK", "CANCELLED"],
        "BLOCKED_HIGH_RISK": ["SCREENING_PENDING", "SCREENING_COMPLETED", "CANCELLED"],
        "AWAITING_PAYMENT": ["PAYMENT_PENDING", "CONFIRMED", "CANCELLED"],
        "PAYMENT_PENDING": ["CONFIRMED", "AWAITING_PAYMENT", "CANCELLED"],
        "CONFIRMED": ["PREPARATION_PHASE", "CANCELLED"],
        "PREPARATION_PHASE": ["COMPLETED", "CANCELLED"],
        "COMPLETED": [],
        "CANCELLED": [],
    },
    "locked_stages": ["BLOCKED_HIGH_RISK"],
    "guards": {"CONFIRMED": {"requires_events": ["PAYMENT_SUCCEEDED"]}},
}


def define_journey(
    name: str = KEY, spec: dict[str, Any] | None = None, org: str = "org-a"
) -> ApiResult:
    body = {"name": name, "journey_spec": spec or RETREAT}
    result = invoke("journeys", api_event("journeys/save-journey", body=body, org=org))
    assert result.status == 201, result.body
    return result


def move(
    patient_id: str,
    status: str,
    *,
    key: str = KEY,
    org: str = "org-a",
    roles: str | None = None,
    sub: str | None = None,
    **fields: Any,
) -> ApiResult:
    event = api_event(
        "patients/move-patient-stage",
        path_params={"patient_id": patient_id},
        body={"key": key, "status": status, **fields},
        org=org,
        roles=roles,
        sub=sub,
    )
    return invoke("patients", event)


def get_patient(patient_id: str, org: str = "org-a", roles: str | None = None) -> ApiResult:
    event = api_event(
        "patients/get-patient", path_params={"patient_id": patient_id}, org=org, roles=roles
    )
    return invoke("patients", event)


def _patients_api(
    sample: str, org: str, roles: str | None, path: dict[str, str] | None = None, **parts: Any
) -> ApiResult:
    """One call of the patients function: ``events/patients/<sample>.json`` with its parts."""
    event = api_event(f"patients/{sample}", path_params=path, org=org, roles=roles, **parts)
    return invoke("patients", event)


def put_patient(
    patient_id: str, body: dict[str, Any], org: str = "org-a", roles: str | None = None
) -> ApiResult:
    return _patients_api("put-patient", org, roles, {"patient_id": patient_id}, body=body)


def history(
    patient_id: str,
    key: str = KEY,
    org: str = "org-a",
    roles: str | None = None,
    **query: str,
) -> ApiResult:
    path = {"patient_id": patient_id, "key": key}
    return _patients_api("get-journey-history", org, roles, path, query=query)


def full_history(patient_id: str, key: str = KEY, org: str = "org-a") -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = history(patient_id, key, org, limit="200", **({"cursor": cursor} if cursor else {}))
        assert page.status == 200, page.body
        entries += page.body["items"]
        cursor = page.body["next_cursor"]
        if not cursor:
            return entries


def in_stage(
    stage: str,
    key: str = KEY,
    org: str = "org-a",
    roles: str | None = None,
    **query: str,
) -> ApiResult:
    query = {"journey_key": key, "stage": stage, **query}
    return _patients_api("list-patients-in-stage", org, roles, query=query)


def search(term: str, org: str = "org-a", roles: str | None = None, **query: str) -> ApiResult:
    return _patients_api("search-patients", org, roles, query={"search": term, **query})


def patient_events(
    patient_id: str, org: str = "org-a", roles: str | None = None, **query: str
) -> ApiResult:
    path = {"patient_id": patient_id}
    return _patients_api("list-patient-events", org, roles, path, query=query)
