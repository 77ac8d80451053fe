"""Live patient journeys: profiles, enrollments, validated stage moves and their history.

:func:`move_patient_stage` is the one way a patient changes stage, for people (the HTTP API)
and for automation and the stale monitor alike.
"""

from __future__ import annotations

import re

from journeys_core.clock import utc_now
from journeys_core.data import repositories
from journeys_core.data.journey_log import new_log_entry_id
from journeys_core.data.patients import PatientRecord
from journeys_core.data.throttling import throttling_as_unavailable
from journeys_core.data.warm_cache import warm_cache
from journeys_core.domain.log_chain import verify_chain
from journeys_core.domain.patient_search import (
    MAX_SEARCH_CHARS,
    is_email_search,
    normalized_name,
)
from journeys_core.domain.stage_machine import StageMachine, is_reentry, plan_stage_move
from journeys_core.errors import Conflict, InvalidInput, JourneyChanged, NotFound
from journeys_core.models.journey import (
    NAME_PATTERN,
    STAGE_PATTERN,
    JourneyRecord,
    stage_index_shards,
)
from journeys_core.models.patient import (
    PATIENT_ID_PATTERN,
    JourneyHistoryPage,
    LogVerification,
    PatientProfileUpdate,
    PatientSearchPage,
    PatientView,
    StageMembersPage,
    StageMove,
)
from journeys_core.models.system_event import SystemEventsPage
from journeys_core.settings import get_settings

_PATIENT_ID = re.compile(PATIENT_ID_PATTERN)
_JOURNEY_KEY = re.compile(NAME_PATTERN)
_STAGE = re.compile(STAGE_PATTERN)
_EVENT_TEXT = re.compile(r"^[\x21-\x7e]{1,200}$")  # event ids and types: printable, no spaces


def _check(name: str, value: str | None, pattern: re.Pattern[str], what: str) -> None:
    # The HTTP layer validates its input already; automation calls these functions directly.
    if value is not None and not pattern.fullmatch(value):
        raise InvalidInput(f"{name}: {what}")


def _check_ids(patient_id: str, journey_key: str | None = None) -> None:
    _check("patient_id", patient_id, _PATIENT_ID, "1-100 letters, digits, '-', '_' or '.'")
    _check("key", journey_key, _JOURNEY_KEY, "1-100 letters, digits, '-', '_' or '.'")


# -- profiles and reads -----------------------------------------------------------------------


def put_patient(
    org: str, patient_id: str, update: PatientProfileUpdate
) -> tuple[PatientView, bool]:
    """Create or update a profile; the patient as GET returns it, and whether it is new.
    A new name is written on the patient's enrollments too (one more call, when it has
    some), so that a stage's list shows it."""
    _check_ids(patient_id)
    repository = repositories.patients()
    created = repository.save_profile(org, patient_id, update, utc_now())
    record = repository.read(org, patient_id)
    if "display_name" in update.model_fields_set:
        repository.name_enrollments(
            org, patient_id, update.display_name, sorted(record.enrollments)
        )
    return record.view(), created


def search_patients(
    org: str, term: str, limit: int = 50, cursor: str | None = None
) -> PatientSearchPage:
    """Patients whose name starts with ``term`` (case and accents aside) or, for a term with
    an ``@``, whose email is ``term``: one Query on an index, in the caller's organization."""
    term = term.strip()
    if not term or len(term) > MAX_SEARCH_CHARS:
        raise InvalidInput(f"search: 1-{MAX_SEARCH_CHARS} characters")
    if not is_email_search(term) and not normalized_name(term):
        raise InvalidInput("search: a name needs at least one letter or digit")
    items, next_cursor = repositories.patients().search(org, term, limit, cursor)
    return PatientSearchPage(items=items, next_cursor=next_cursor)


def get_patient(org: str, patient_id: str) -> PatientView:
    """Profile, ``journey_status`` and every enrollment (one Query); 404 if neither a
    profile nor an enrollment exists in the caller's organization."""
    _check_ids(patient_id)
    record = repositories.patients().read(org, patient_id)
    if not record.exists:
        raise NotFound(f"patient {patient_id!r} not found")
    return record.view()


def list_patients_in_stage(
    org: str, journey_key: str, stage: str, limit: int = 50, cursor: str | None = None
) -> StageMembersPage:
    """Who stands in a stage now, longest first: one Query on the sparse ByStage index per
    shard of the journey, in parallel (one in all at one shard, the definition cached)."""
    _check("journey_key", journey_key, _JOURNEY_KEY, "1-100 letters, digits, '-', '_' or '.'")
    _check("stage", stage, _STAGE, "1-64 letters, digits, '-', '_' or '.'")
    items, next_cursor = repositories.patients().members_in_stage(
        org, journey_key, stage, limit, cursor, shards=journey_stage_shards(org, journey_key)
    )
    return StageMembersPage(items=items, next_cursor=next_cursor)


def journey_stage_shards(org: str, journey_key: str) -> int:
    """How many stage index keys the journey spreads each stage over (its current
    definition's, cached; counts only grow, so no enrollment stands beyond them). A journey
    the organization does not have lists nobody: one shard."""
    try:
        return stage_index_shards(current_definition(org, journey_key).journey_spec)
    except NotFound:
        return 1


def journey_history(
    org: str,
    patient_id: str,
    journey_key: str,
    limit: int = 50,
    cursor: str | None = None,
    episode: int | None = None,
) -> JourneyHistoryPage:
    """A patient's log entries in one journey (of one episode, if given), oldest first (one
    Query; one more only to tell an unknown patient (404) from one with no history)."""
    _check_ids(patient_id, journey_key)
    items, next_cursor = repositories.journey_log().history(
        org, patient_id, journey_key, limit, cursor, episode
    )
    if not items and not cursor and not repositories.patients().read(org, patient_id).exists:
        raise NotFound(f"patient {patient_id!r} not found")
    return JourneyHistoryPage(items=items, next_cursor=next_cursor)


def verify_journey_history(org: str, patient_id: str, journey_key: str) -> LogVerification:
    """Walk a patient's log in a journey oldest first and check every entry's hash and link,
    and that the newest is the one the enrollment was moved with (journeys_core.domain.
    log_chain). 404 for an unknown patient or one never enrolled in the journey."""
    _check_ids(patient_id, journey_key)
    # The enrollment first: a move made while the log is read only adds entries after it.
    enrollment = repositories.patients().read(org, patient_id).enrollments.get(journey_key)
    entries = repositories.journey_log().all_entries(org, patient_id, journey_key)
    if enrollment is None and not entries:
        raise NotFound(f"patient {patient_id!r} has no history in journey {journey_key!r}")
    return verify_chain(entries, enrollment.log_hash if enrollment else None)


def patient_events(
    org: str, patient_id: str, limit: int = 50, cursor: str | None = None
) -> SystemEventsPage:
    """The system events about a patient, newest first: inbound domain events, timeouts and
    what the service did with each (rule results, emails sent, skipped or failed). One Query;
    one more only to tell an unknown patient (404) from one nothing happened to."""
    _check_ids(patient_id)
    with throttling_as_unavailable(f"events of patient {patient_id!r}"):
        items, next_cursor = repositories.system_events().about_patient(
            org, patient_id, limit, cursor
        )
    if not items and not cursor and not repositories.patients().read(org, patient_id).exists:
        raise NotFound(f"patient {patient_id!r} not found")
    return SystemEventsPage(items=items, next_cursor=next_cursor)


def record_patient_event(org: str, patient_id: str, event_type: str) -> None:
    """Remember that the patient had a domain event of this type (for stage guards)."""
    _check_ids(patient_id)
    _check("event_type", event_type, _EVENT_TEXT, "1-200 printable characters, no spaces")
    repositories.patients().record_event_seen(org, patient_id, event_type)


# -- stage moves ------------------------------------------------------------------------------


# A saved version never changes: a warm container keeps its snapshot for as long as it lives.
VERSION_CACHE_SECONDS = 24 * 3600.0


def current_definition(org: str, journey_key: str) -> JourneyRecord:
    """The journey's current definition (cached per warm container for a short time)."""
    repository = repositories.definitions()

    def read() -> JourneyRecord | None:
        with throttling_as_unavailable(f"journey {journey_key!r}"):
            return repository.get_by_name(org, journey_key)

    record = warm_cache.get(
        ("definition", repository.table, org, journey_key),
        get_settings().definition_cache_seconds,
        read,
    )
    if record is None:
        raise NotFound(f"journey {journey_key!r} not found")
    return record


def pinned_definition(org: str, current: JourneyRecord, version: int) -> JourneyRecord:
    """The version an enrollment follows: the current one, or its immutable snapshot."""
    if version == current.version:
        return current
    repository = repositories.definitions()

    def read() -> JourneyRecord | None:
        with throttling_as_unavailable(f"journey {current.name!r} version {version}"):
            return repository.get_version(org, current.id, version)

    snapshot = warm_cache.get(
        ("version", repository.table, org, current.id, version), VERSION_CACHE_SECONDS, read
    )
    if snapshot is None:
        raise NotFound(f"journey {current.name!r} has no version {version}")
    return snapshot


def stage_machine_of(definition: JourneyRecord) -> StageMachine:
    machine = StageMachine.from_spec(definition.name, definition.journey_spec)
    if machine is None:
        raise NotFound(f"journey {definition.name!r} has no stages to track")
    return machine


def move_patient_stage(move: StageMove, *, patient: PatientRecord | None = None) -> PatientView:
    """Enroll the patient in a journey or move it to another stage; the enrollment and its
    log entry are written in one transaction.

    A new enrollment follows the journey's current version, and only while the journey is
    active (a retired one is 409); an enrollment is moved by the rules of the version it is
    pinned to (``definition_version``), whatever the journey has become since. The
    transaction checks the definition still exists (and, for a new enrollment, is active),
    so a warm container's cached copy can never enroll into a deleted or retired journey.

    Costs two DynamoDB calls with the definition cached (the patient's Query and the
    transaction), none more for a no-op. Raises NotFound (404), InvalidInput (422), Conflict
    (409; LostRace when someone moved the patient meanwhile) or ServiceUnavailable (503); on
    any of them nothing was written.

    ``patient``: the patient as the caller read it just before (automation reads a patient
    once for all of an event's actions); the transaction still checks its stage and version.
    """
    try:
        return _move(move, patient)
    except JourneyChanged:
        # The cached definition was stale (saved anew, retired or deleted meanwhile): once
        # more on a fresh read, which answers as the journey stands now.
        forget_definition(move.org, move.journey_key)
        return _move(move, patient)


def _move(move: StageMove, patient: PatientRecord | None) -> PatientView:
    current = current_definition(move.org, move.journey_key)
    repository = repositories.patients()
    record = (
        patient
        if patient is not None and (patient.org, patient.patient_id) == (move.org, move.patient_id)
        else repository.read(move.org, move.patient_id)
    )
    enrollment = record.enrollments.get(move.journey_key)
    # A new episode follows the current version's re-entry rules.
    reenters = is_reentry(enrollment, move, current.journey_spec.get("reentry"))
    enrolls = enrollment is None or reenters
    if enrolls and not current.is_active:
        raise Conflict(
            f"journey {move.journey_key!r} is retired (is_active=false): it takes no new "
            "enrollments; patients already in it still move"
        )
    definition = (
        pinned_definition(move.org, current, enrollment.definition_version)
        if enrollment and not enrolls
        else current
    )
    planned = plan_stage_move(
        stage_machine_of(definition),
        move,
        enrollment,
        record.events_seen,
        definition_version=definition.version,
        now=utc_now(),
        entry_id=new_log_entry_id(),
        reenters=reenters,
    )
    if planned is None:
        return record.view()  # already there: nothing to write, nothing to log
    repository.commit_stage_change(
        planned,
        journey_id=current.id,
        journey_version=current.version,
        display_name=(record.profile or {}).get("display_name"),
        stage_shards=stage_index_shards(current.journey_spec),
    )
    return record.with_enrollment(planned.enrollment).view()


def forget_definition(org: str, journey_key: str) -> None:
    warm_cache.forget(("definition", repositories.definitions().table, org, journey_key))
