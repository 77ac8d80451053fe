"""Live patient journeys API: /api/v1/patients…"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import content_types
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from journeys_core.domain.patient_search import MAX_SEARCH_CHARS
from journeys_core.errors import Forbidden, InvalidInput
from journeys_core.http import (
    Admin,
    Cursor,
    Limit,
    Staff,
    TaggedRoutes,
    build_resolver,
    logger,
    metrics,
)
from journeys_core.models.journey import NAME_PATTERN, STAGE_PATTERN
from journeys_core.models.patient import (
    PATIENT_ID_PATTERN,
    JourneyHistoryPage,
    LogVerification,
    PatientProfileUpdate,
    PatientSearchPage,
    PatientView,
    StageMembersPage,
    StageMove,
    StageMoveRequest,
)
from journeys_core.models.system_event import SystemEventsPage
from journeys_core.observability import traced
from journeys_core.services import patients

app = build_resolver()
api = TaggedRoutes(app, "Patients")
PatientId = Annotated[str, Path(pattern=PATIENT_ID_PATTERN)]
JourneyKey = Annotated[str, Path(pattern=NAME_PATTERN)]
JSON = content_types.APPLICATION_JSON


@api.route(
    "PUT",
    "/api/v1/patients/<patient_id>",
    "putPatient",
    "Create or update a patient's profile",
    responses={
        200: {"description": "Profile updated", "content": {JSON: {"model": PatientView}}},
        201: {"description": "Profile created", "content": {JSON: {"model": PatientView}}},
    },
)
def put_patient(
    patient_id: PatientId, body: PatientProfileUpdate, caller: Staff
) -> tuple[PatientView, int]:
    patient, created = patients.put_patient(caller.org, patient_id, body)
    return patient, 201 if created else 200


@api.route(
    "GET",
    "/api/v1/patients/<patient_id>",
    "getPatient",
    "Get a patient, their stages and enrollments",
)
def get_patient(patient_id: PatientId, caller: Staff) -> PatientView:
    return patients.get_patient(caller.org, patient_id)


@api.route(
    "GET",
    "/api/v1/patients",
    "listPatientsInStage",
    "List the patients standing in a stage now, or find patients by name or email",
    description=(
        "Either `search` (a name prefix, case and accents aside, or an exact email) or "
        "`journey_key` and `stage` (who stands in a stage now, longest first)."
    ),
)
def list_patients_in_stage(
    caller: Staff,
    journey_key: Annotated[str | None, Query(pattern=NAME_PATTERN)] = None,
    stage: Annotated[str | None, Query(pattern=STAGE_PATTERN)] = None,
    search: Annotated[str | None, Query(min_length=1, max_length=MAX_SEARCH_CHARS)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> StageMembersPage | PatientSearchPage:
    if search is not None and journey_key is None and stage is None:
        return patients.search_patients(caller.org, search, limit, cursor)
    if search is None and journey_key is not None and stage is not None:
        return patients.list_patients_in_stage(caller.org, journey_key, stage, limit, cursor)
    raise InvalidInput("give either search, or journey_key and stage")


@api.route(
    "PATCH",
    "/api/v1/patients/<patient_id>/journey",
    "moveStage",
    "Enroll a patient or move them to another stage",
)
def move_patient_stage(patient_id: PatientId, body: StageMoveRequest, caller: Staff) -> PatientView:
    if body.override_guard and "admin" not in caller.roles:
        raise Forbidden("override_guard needs the admin role")
    move = StageMove(
        org=caller.org,
        patient_id=patient_id,
        journey_key=body.key,
        to_stage=body.status,
        actor=caller.actor,
        reason=body.reason,
        expected_stage=body.expected_stage,
        override_guard=body.override_guard,
    )
    patient = patients.move_patient_stage(move)
    metrics.add_metric(name="PatientStageMoveRequested", unit=MetricUnit.Count, value=1)
    return patient


@api.route(
    "GET",
    "/api/v1/patients/<patient_id>/journeys/<key>/history",
    "getJourneyHistory",
    "Read a patient's journey log, oldest first",
)
def journey_history(
    patient_id: PatientId,
    key: JourneyKey,
    caller: Staff,
    limit: Limit = 50,
    cursor: Cursor = None,
    episode: Annotated[int | None, Query(ge=1)] = None,
) -> JourneyHistoryPage:
    return patients.journey_history(caller.org, patient_id, key, limit, cursor, episode)


@api.route(
    "GET",
    "/api/v1/patients/<patient_id>/journeys/<key>/history/verify",
    "verifyJourneyHistory",
    "Check a patient's journey log hash by hash (admin)",
)
def verify_journey_history(
    patient_id: PatientId, key: JourneyKey, caller: Admin
) -> LogVerification:
    return patients.verify_journey_history(caller.org, patient_id, key)


@api.route(
    "GET",
    "/api/v1/patients/<patient_id>/events",
    "listPatientEvents",
    "List what happened to a patient: events, timeouts, emails, rule results",
)
def patient_events(
    patient_id: PatientId, caller: Staff, limit: Limit = 50, cursor: Cursor = None
) -> SystemEventsPage:
    return patients.patient_events(caller.org, patient_id, limit, cursor)


@traced
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
