"""Calls of the patients API (and the journey definitions it needs), built from events/."""

from __future__ import annotations

import time
from typing import Any

import pytest

from journeys_core.data.warm_cache import warm_cache
from tests.conftest import ApiResult, all_pages, invoke_sample

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
    result = invoke_sample("journeys/save-journey", body=body, org=org)
    assert result.status == 201, result.body
    return result


def update_journey(changes: dict[str, Any], name: str = KEY, org: str = "org-a") -> ApiResult:
    path = {"name_or_id": name}
    return invoke_sample("journeys/update-journey", path_params=path, body=changes, org=org)


def expire_cached_definitions(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if the definition cache's time to live had passed in this warm container."""
    monkeypatch.setattr(warm_cache, "_clock", lambda: time.monotonic() + 3600)


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
    return invoke_sample(
        "patients/move-patient-stage",
        path_params={"patient_id": patient_id},
        body={"key": key, "status": status, **fields},
        org=org,
        roles=roles,
        sub=sub,
    )


def get_patient(patient_id: str, org: str = "org-a", roles: str | None = None) -> ApiResult:
    path = {"patient_id": patient_id}
    return invoke_sample("patients/get-patient", path_params=path, org=org, roles=roles)


def put_patient(
    patient_id: str, body: dict[str, Any], org: str = "org-a", roles: str | None = None
) -> ApiResult:
    path = {"patient_id": patient_id}
    return invoke_sample("patients/put-patient", path_params=path, body=body, org=org, roles=roles)


def history(
    patient_id: str, key: str = KEY, org: str = "org-a", roles: str | None = None, **query: str
) -> ApiResult:
    path = {"patient_id": patient_id, "key": key}
    return invoke_sample(
        "patients/get-journey-history", path_params=path, query=query, org=org, roles=roles
    )


def full_history(patient_id: str, key: str = KEY, org: str = "org-a") -> list[dict[str, Any]]:
    return all_pages(history, patient_id, key, org, limit="200")[0]


def in_stage(
    stage: str, key: str = KEY, org: str = "org-a", roles: str | None = None, **query: str
) -> ApiResult:
    query = {"journey_key": key, "stage": stage, **query}
    return invoke_sample("patients/list-patients-in-stage", query=query, org=org, roles=roles)


def search(term: str, org: str = "org-a", roles: str | None = None, **query: str) -> ApiResult:
    query = {"search": term, **query}
    return invoke_sample("patients/search-patients", query=query, org=org, roles=roles)


def patient_events(
    patient_id: str, org: str = "org-a", roles: str | None = None, **query: str
) -> ApiResult:
    path = {"patient_id": patient_id}
    return invoke_sample(
        "patients/list-patient-events", path_params=path, query=query, org=org, roles=roles
    )
