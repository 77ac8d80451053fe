"""``client.patients``: live patient journeys (profiles, stage moves, the journey log)."""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from typing import Any, Final

from .errors import error_from_response
from .models import (
    JourneyLogEntry,
    LogVerification,
    Patient,
    PatientSummary,
    StageMember,
    SystemEvent,
)
from .operations import operation
from .transport import Pager, path_segment, without_none


class _Unset(enum.Enum):
    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = _Unset.UNSET
"""``patients.upsert``: leave this field as it is (``None`` clears it)."""


class PatientsApi(Pager):
    """Live patient journeys: profiles, stage moves and the journey log."""

    @operation("getPatient")
    def get(self, patient_id: str) -> Patient:
        """The patient; NotFoundError until it has a profile or an enrollment."""
        answer = self._http.call("GET", f"/patients/{path_segment(patient_id)}", idempotent=True)
        return Patient.model_validate(answer.json())

    @operation("putPatient")
    def upsert(
        self,
        patient_id: str,
        *,
        display_name: str | _Unset | None = UNSET,
        email: str | _Unset | None = UNSET,
        metadata: Mapping[str, Any] | _Unset | None = UNSET,
    ) -> Patient:
        """Create or update the patient's profile: fields given are set (``None`` clears
        one), fields left out keep their value."""
        given = {"display_name": display_name, "email": email, "metadata": metadata}
        body = {
            key: dict(value) if isinstance(value, Mapping) else value
            for key, value in given.items()
            if value is not UNSET
        }
        answer = self._http.call(
            "PUT", f"/patients/{path_segment(patient_id)}", idempotent=True, json=body
        )
        return Patient.model_validate(answer.json())

    @operation("moveStage")
    def move(
        self,
        patient_id: str,
        key: str,
        status: str,
        reason: str | None = None,
        expected_stage: str | None = None,
    ) -> Patient:
        """Enroll the patient in journey ``key`` or move it to stage ``status``.

        ``expected_stage``: only if the patient stands there now (ConflictError otherwise);
        with it the call is retried safely. ``reason`` is needed to leave a locked stage.
        ConflictError for a move the journey refuses, NotFoundError for an unknown journey,
        ValidationError for a stage the journey does not have.
        """
        path = f"/patients/{path_segment(patient_id)}/journey"
        body = without_none(
            {"key": key, "status": status, "reason": reason, "expected_stage": expected_stage}
        )
        conditional = expected_stage is not None
        answer = self._http.call(
            "PATCH", path, idempotent=conditional, json=body, raise_for_error=False
        )
        if answer.response.status_code == 409 and answer.maybe_done_before:
            patient = self.get(patient_id)
            if patient.journey_status.get(key) == status:
                return patient  # an earlier attempt made the move and its answer was lost
        if not answer.response.is_success:
            raise error_from_response(answer.response)
        return Patient.model_validate(answer.json())

    @operation("getJourneyHistory")
    def iter_history(
        self, patient_id: str, key: str, limit: int | None = None, episode: int | None = None
    ) -> Iterator[JourneyLogEntry]:
        """The patient's journey log in journey ``key``, oldest first, page by page as you
        iterate (``episode``: that episode only)."""
        path = f"/patients/{path_segment(patient_id)}/journeys/{path_segment(key)}/history"
        return self._iterate(path, JourneyLogEntry, {"episode": episode}, limit)

    @operation("verifyJourneyHistory")
    def verify_history(self, patient_id: str, key: str) -> LogVerification:
        """Check the patient's journey log in journey ``key`` hash by hash (admin):
        ``valid``, and the first entry that does not hold. NotFoundError for a patient
        never in the journey, AuthError for a caller who is not an admin."""
        path = f"/patients/{path_segment(patient_id)}/journeys/{path_segment(key)}/history/verify"
        answer = self._http.call("GET", path, idempotent=True)
        return LogVerification.model_validate(answer.json())

    @operation("getJourneyHistory")
    def history(
        self, patient_id: str, key: str, limit: int | None = None, episode: int | None = None
    ) -> list[JourneyLogEntry]:
        """:meth:`iter_history` as a list."""
        return list(self.iter_history(patient_id, key, limit, episode))

    @operation("listPatientsInStage")
    def iter_in_stage(
        self, journey_key: str, stage: str, limit: int | None = None
    ) -> Iterator[StageMember]:
        """Who stands in ``stage`` of journey ``journey_key`` now, longest first, page by
        page as you iterate."""
        params = {"journey_key": journey_key, "stage": stage}
        return self._iterate("/patients", StageMember, params, limit)

    @operation("listPatientsInStage")
    def in_stage(self, journey_key: str, stage: str, limit: int | None = None) -> list[StageMember]:
        """:meth:`iter_in_stage` as a list."""
        return list(self.iter_in_stage(journey_key, stage, limit))

    @operation("listPatientsInStage")
    def iter_search(self, term: str, limit: int | None = None) -> Iterator[PatientSummary]:
        """Patients whose name starts with ``term`` (case and accents aside), by name; or,
        when ``term`` has an ``@``, whose email is ``term``; page by page as you iterate."""
        return self._iterate("/patients", PatientSummary, {"search": term}, limit)

    @operation("listPatientsInStage")
    def search(self, term: str, limit: int | None = None) -> list[PatientSummary]:
        """:meth:`iter_search` as a list."""
        return list(self.iter_search(term, limit))

    @operation("listPatientEvents")
    def iter_events(self, patient_id: str, limit: int | None = None) -> Iterator[SystemEvent]:
        """What happened to the patient, newest first: domain events and timeouts, with what
        the service did with each (rule results, emails sent, skipped or failed); page by
        page as you iterate."""
        path = f"/patients/{path_segment(patient_id)}/events"
        return self._iterate(path, SystemEvent, {}, limit)

    @operation("listPatientEvents")
    def events(self, patient_id: str, limit: int | None = None) -> list[SystemEvent]:
        """:meth:`iter_events` as a list."""
        return list(self.iter_events(patient_id, limit))
