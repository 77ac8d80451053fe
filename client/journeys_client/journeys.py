"""``client.journeys``: the persistence guide's journey manager over HTTP.

Every method of HealthSim's ``JourneyManager`` is here with its parameters in the same order
and with the same names, defaults and return types, so code written against that manager
runs unchanged: ``save_journey``, ``load_journey``, ``update_journey``, ``delete_journey``
(``True``/``False``), ``journey_exists``, ``list_journeys``, ``record_execution`` (an ``int``
id), ``get_executions``, ``get_entity_journeys``, ``import_builtin_journeys``. A missing or
duplicate journey raises :class:`NotFoundError` / :class:`AlreadyExistsError`, both
``ValueError`` as the manager's were. Extras the service adds are keyword arguments or other
methods (``version=``, ``is_active=``, ``list_versions``, ``generate_timeline``…).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any, ParamSpec, TypeVar

from .errors import NotFoundError
from .models import (
    ExecutionStatus,
    JourneyExecutionRecord,
    JourneyRecord,
    JourneySummary,
    JourneyTemplate,
    Migration,
    MigrationPreview,
    Simulation,
    Timeline,
)
from .operations import operation
from .transport import Pager, path_segment, without_none

DateLike = date | datetime | str
P = ParamSpec("P")
Answer = TypeVar("Answer")
Result = TypeVar("Result")


def _date(value: DateLike | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return value.date().isoformat()
    return value.isoformat()


def _csv(values: Sequence[str] | str | None) -> str | None:
    if values is None:
        return None
    items = [values] if isinstance(values, str) else list(values)
    return ",".join(items) or None


def _listed(values: Sequence[str] | None) -> list[str] | None:
    return list(values) if values is not None else None


def _mapping(values: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return dict(values) if values is not None else None


def _same_call(
    method: Callable[P, Answer], finish: Callable[[Answer], Result], doc: str
) -> Callable[P, Result]:
    """A method taking what ``method`` takes and answering ``finish`` of its answer: where the
    guide's manager answers less (an id, a list) than a method of this client (the record, an
    iterator), one signature serves both."""

    @functools.wraps(method)
    def call(*args: P.args, **kwargs: P.kwargs) -> Result:
        return finish(method(*args, **kwargs))

    call.__doc__ = doc
    return call


class JourneysApi(Pager):
    """The guide's ``manager.journeys``: definitions, versions, executions, timelines."""

    # -- definitions ----------------------------------------------------------------------

    @operation("saveJourney")
    def save_journey_record(
        self,
        name: str,
        journey_spec: Mapping[str, Any],
        description: str | None = None,
        products: Sequence[str] | None = None,
        tags: Sequence[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> JourneyRecord:
        """Like :meth:`save_journey`, returning the whole saved record (version 1)."""
        body = without_none(
            {
                "name": name,
                "journey_spec": dict(journey_spec),
                "description": description,
                "tags": _listed(tags),
                "products": _listed(products),
                "metadata": _mapping(metadata),
            }
        )
        answer = self._http.call("POST", "/journeys", idempotent=False, json=body)
        return JourneyRecord.model_validate(answer.json())

    save_journey = _same_call(
        save_journey_record,
        lambda record: record.id,
        """Save a new journey; its id (``journey-`` + 8 hex). Products default to the spec's,
        else ``["patientsim"]``; the description to the spec's.

        Raises AlreadyExistsError ("... already exists", a ValueError) if the name is taken,
        ValidationError for a bad spec or name.
        """,
    )

    @operation("loadJourney")
    def load_journey(self, name_or_id: str, version: int | None = None) -> JourneyRecord:
        """A journey by name or id, the current version or ``version``; NotFoundError
        ("... not found", a ValueError) if there is none."""
        answer = self._http.call(
            "GET",
            f"/journeys/{path_segment(name_or_id)}",
            idempotent=True,
            params=without_none({"version": version}),
        )
        return JourneyRecord.model_validate(answer.json())

    def journey_exists(self, name_or_id: str) -> bool:
        """Whether the organization has a journey with this name or id."""
        try:
            self.load_journey(name_or_id)
        except NotFoundError:
            return False
        return True

    @operation("listJourneyVersions")
    def list_versions(self, name_or_id: str) -> list[JourneyRecord]:
        """Every version of a journey, newest first."""
        answer = self._http.call(
            "GET", f"/journeys/{path_segment(name_or_id)}/versions", idempotent=True
        )
        return [JourneyRecord.model_validate(item) for item in answer.json()["items"]]

    @operation("listJourneyTemplates")
    def list_journey_templates(self) -> list[JourneyTemplate]:
        """The organization's journeys that have stages (what patients can be enrolled in)."""
        answer = self._http.call("GET", "/journey-templates", idempotent=True)
        return [JourneyTemplate.model_validate(item) for item in answer.json()["items"]]

    @operation("listJourneys")
    def iter_journeys(
        self,
        products: Sequence[str] | None = None,
        tags: Sequence[str] | None = None,
        search: str | None = None,
        limit: int | None = None,
    ) -> Iterator[JourneySummary]:
        """:meth:`list_journeys`, page by page as you iterate."""
        params = {"products": _csv(products), "tags": _csv(tags), "search": search or None}
        return self._iterate("/journeys", JourneySummary, params, limit)

    list_journeys = _same_call(
        iter_journeys,
        list,
        """Summaries (with execution stats), newest update first, over every page.

        ``products`` and ``tags`` match any of those given; ``search`` looks in name and
        description; ``limit`` caps the total (``None``: all of them).
        """,
    )

    @operation("updateJourney")
    def update_journey(
        self,
        name_or_id: str,
        journey_spec: Mapping[str, Any] | None = None,
        description: str | None = None,
        products: Sequence[str] | None = None,
        tags: Sequence[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        bump_version: bool = True,
        *,
        is_active: bool | None = None,
    ) -> JourneyRecord:
        """Change what is given (``None`` keeps a field; tags are replaced); the version goes
        up unless ``bump_version=False``. The updated record."""
        body = without_none(
            {
                "journey_spec": _mapping(journey_spec),
                "description": description,
                "tags": _listed(tags),
                "products": _listed(products),
                "metadata": _mapping(metadata),
                "is_active": is_active,
            }
        )
        body["bump_version"] = bump_version
        answer = self._http.call(
            "PATCH",
            f"/journeys/{path_segment(name_or_id)}",
            idempotent=not bump_version,  # a repeat would bump the version twice
            json=body,
        )
        return JourneyRecord.model_validate(answer.json())

    @operation("deleteJourney")
    def delete_journey(self, name_or_id: str, delete_executions: bool = True) -> bool:
        """Delete a journey and its versions, and its execution history unless
        ``delete_executions=False`` (kept executions still show for their entity).
        ``True`` when it deleted the journey, ``False`` when there was none."""
        return self._http.delete(
            f"/journeys/{path_segment(name_or_id)}",
            params={"delete_executions": "true" if delete_executions else "false"},
        )

    @operation("importBuiltinJourneys")
    def import_builtin_journeys(self) -> int:
        """Import the built-in journeys the organization does not have yet (tagged
        ``builtin``); how many were imported (0 the second time)."""
        answer = self._http.call("POST", "/journeys/import-builtin", idempotent=False)
        return int(answer.json()["imported"])

    # -- executions -----------------------------------------------------------------------

    @operation("recordExecution")
    def record_execution_record(
        self,
        journey_id: str,
        profile_id: str | None = None,
        cohort_id: str | None = None,
        entity_id: str | None = None,
        start_date: DateLike | None = None,
        end_date: DateLike | None = None,
        events_generated: int = 0,
        duration_ms: int = 0,
        status: ExecutionStatus = "completed",
        error_message: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> JourneyExecutionRecord:
        """Like :meth:`record_execution`, returning the whole execution record."""
        body = without_none(
            {
                "entity_id": entity_id,
                "profile_id": profile_id,
                "cohort_id": cohort_id,
                "start_date": _date(start_date),
                "end_date": _date(end_date),
                "events_generated": events_generated,
                "duration_ms": duration_ms,
                "status": status,
                "error_message": error_message,
                "metadata": _mapping(metadata),
            }
        )
        answer = self._http.call(
            "POST",
            f"/journeys/{path_segment(journey_id)}/executions",
            idempotent=False,
            json=body,
        )
        return JourneyExecutionRecord.model_validate(answer.json())

    record_execution = _same_call(
        record_execution_record,
        lambda record: record.id,
        """Record an execution of a journey (by id or name); its execution id, a positive
        integer (a greater id was recorded later). The journey's ``execution_count`` and
        ``last_executed`` move with it.""",
    )

    @operation("listJourneyExecutions")
    def iter_executions(
        self, journey_id: str, limit: int | None = None
    ) -> Iterator[JourneyExecutionRecord]:
        """A journey's (by id or name) executions, newest first, page by page as you
        iterate; at most ``limit`` (``None``: all)."""
        path = f"/journeys/{path_segment(journey_id)}/executions"
        return self._iterate(path, JourneyExecutionRecord, {}, limit)

    @operation("listJourneyExecutions")
    def get_executions(
        self, journey_id: str, limit: int | None = 20
    ) -> list[JourneyExecutionRecord]:
        """A journey's (by id or name) executions, newest first, at most ``limit``
        (``None``: all)."""
        return list(self.iter_executions(journey_id, limit))

    @operation("listEntityExecutions")
    def iter_entity_journeys(
        self, entity_id: str, limit: int | None = None
    ) -> Iterator[JourneyExecutionRecord]:
        """An entity's executions across journeys, newest first, page by page as you
        iterate; at most ``limit``."""
        path = f"/entities/{path_segment(entity_id)}/journeys"
        return self._iterate(path, JourneyExecutionRecord, {}, limit)

    @operation("listEntityExecutions")
    def get_entity_journeys(
        self, entity_id: str, limit: int | None = None
    ) -> list[JourneyExecutionRecord]:
        """An entity's executions across journeys, newest first, at most ``limit``."""
        return list(self.iter_entity_journeys(entity_id, limit))

    @operation("generateTimeline")
    def generate_timeline(
        self,
        name_or_id: str,
        entity_id: str | None = None,
        *,
        entity_ids: Sequence[str] | None = None,
        start_date: DateLike | None = None,
        seed: int = 0,
        record_execution: bool = True,
        profile_id: str | None = None,
        cohort_id: str | None = None,
    ) -> Timeline:
        """Dated events for ``entity_id`` or each of ``entity_ids`` (≤ 1000), the same for
        the same (seed, entity, event); records one execution per entity unless
        ``record_execution=False`` (recording needs the admin role)."""
        body = without_none(
            {
                "entity_id": entity_id,
                "entity_ids": _listed(entity_ids),
                "start_date": _date(start_date),
                "seed": seed,
                "record_execution": record_execution,
                "profile_id": profile_id,
                "cohort_id": cohort_id,
            }
        )
        answer = self._http.call(
            "POST",
            f"/journeys/{path_segment(name_or_id)}/timeline",
            idempotent=not record_execution,
            json=body,
        )
        return Timeline.model_validate(answer.json())

    # -- migrations -----------------------------------------------------------------------

    @operation("startMigration")
    def migrate_journey(
        self,
        name_or_id: str,
        *,
        from_version: int | None = None,
        to_version: int | None = None,
        stage_map: Mapping[str, str] | None = None,
        dry_run: bool = False,
        reason: str | None = None,
    ) -> MigrationPreview | Migration:
        """Re-pin the enrollments on ``from_version`` (every other version when None) to
        ``to_version`` (the current one when None), moving patients whose stage
        ``stage_map`` names. A dry run answers a :class:`MigrationPreview` and writes
        nothing; otherwise the :class:`Migration` started: follow it with
        :meth:`get_migration` (running it twice moves nobody twice)."""
        body = without_none(
            {
                "from_version": from_version,
                "to_version": to_version,
                "stage_map": _mapping(stage_map),
                "dry_run": dry_run,
                "reason": reason,
            }
        )
        answer = self._http.call(
            "POST",
            f"/journeys/{path_segment(name_or_id)}/migrations",
            idempotent=dry_run,
            json=body,
        )
        if dry_run:
            return MigrationPreview.model_validate(answer.json())
        return Migration.model_validate(answer.json())

    @operation("getMigration")
    def get_migration(self, name_or_id: str, migration_id: str) -> Migration:
        """A migration's status (``running``, ``completed``, ``failed``) and counts."""
        path = f"/journeys/{path_segment(name_or_id)}/migrations/{path_segment(migration_id)}"
        return Migration.model_validate(self._http.call("GET", path, idempotent=True).json())

    @operation("simulateJourney")
    def simulate_journey(
        self,
        name_or_id: str,
        *,
        cohort_size: int = 1000,
        version: int | None = None,
        draft_spec: Mapping[str, Any] | None = None,
        rules: str | Sequence[Mapping[str, Any]] = "active",
        seed: int = 0,
        start_date: DateLike | None = None,
        days: int | None = None,
        arrivals_per_day: int | None = None,
        compare_with: str | int | None = None,
    ) -> Simulation:
        """Rehearse a version (default: the current one) or ``draft_spec`` with the
        organization's ``active`` rules, ``"none"`` or draft rules, on ``cohort_size``
        synthetic patients (≤ 10,000) over ``days`` (default the journey's duration, ≤ 730);
        ``compare_with="current"`` (or a version) adds the differences against what is live.
        Writes nothing, so it is safe to retry. ``.table()`` renders it for a terminal."""
        body = without_none(
            {
                "version": version,
                "draft_spec": _mapping(draft_spec),
                "rules": rules if isinstance(rules, str) else [dict(r) for r in rules],
                "cohort_size": cohort_size,
                "seed": seed,
                "start_date": _date(start_date),
                "days": days,
                "arrivals_per_day": arrivals_per_day,
                "compare_with": compare_with,
            }
        )
        answer = self._http.call(
            "POST", f"/journeys/{path_segment(name_or_id)}/simulate", idempotent=True, json=body
        )
        return Simulation.model_validate(answer.json())
