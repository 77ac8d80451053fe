"""Rehearsing a journey before it goes live: a version or a draft, with the active rules, none
or draft rules, on a synthetic cohort over a virtual clock (journeys_core.domain.simulation).

Reads only: the definition (and the compared version) and, for ``rules: "active"``, the
organization's active rules (one Query per trigger on the rules' ByTrigger index). Nothing
is written, sent or published.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from journeys_core.clock import utc_now
from journeys_core.data import repositories
from journeys_core.domain.simulation import (
    Cohort,
    concerns_journey,
    simulate_cohort,
    stage_differences,
)
from journeys_core.models.automation import TRIGGER_EVENTS, AutomationRule
from journeys_core.models.journey import JourneyRecord
from journeys_core.models.simulation import (
    DEFAULT_DAYS,
    MAX_DAYS,
    CohortOutcome,
    SimulationRequest,
    SimulationResult,
)
from journeys_core.services.automation_rules import stored_rule
from journeys_core.services.definitions import find_journey, load_journey


def active_rules(org: str, journey_key: str) -> list[AutomationRule]:
    """The organization's active rules that can touch the journey, by trigger and priority."""
    repository = repositories.rules()
    rules = [
        rule
        for trigger in TRIGGER_EVENTS
        for rule in sorted(
            repository.active_for_trigger(org, trigger), key=lambda r: (r.priority, r.id)
        )
    ]
    return [rule for rule in rules if concerns_journey(rule, journey_key)]


def _draft_rules(org: str, request: SimulationRequest) -> list[AutomationRule]:
    assert isinstance(request.rules, list)
    # Ids that sort like the list, so equal priorities run in the order given.
    return [
        stored_rule(org, f"draft-{index:05d}", body) for index, body in enumerate(request.rules)
    ]


def _version(org: str, current: JourneyRecord, version: int | None) -> JourneyRecord:
    if version is None or version == current.version:
        return current
    return load_journey(org, current.id, version)


def simulate_journey(org: str, name_or_id: str, request: SimulationRequest) -> SimulationResult:
    """Run the request's cohort; with ``compare_with``, the same cohort on what is live too
    (that version, or the current one, with the active rules). 404 for an unknown journey or
    version; 422 for a journey without stages or a timeline event the rules cannot take."""
    current = find_journey(org, name_or_id)
    key = current.name
    if request.draft_spec is not None:
        spec, version = request.draft_spec.stored_form(), None
    else:
        record = _version(org, current, request.version)
        spec, version = record.journey_spec, record.version
    live: list[AutomationRule] | None = None
    if request.rules == "active":
        rules = live = active_rules(org, key)
    elif request.rules == "none":
        rules = []
    else:
        rules = _draft_rules(org, request)  # reported by index, each one
    days = request.days or min(spec.get("duration_days") or DEFAULT_DAYS, MAX_DAYS)
    # The cohort every run simulates, echoed in the answer as it was run.
    cohort: dict[str, Any] = {
        "cohort_size": request.cohort_size,
        "seed": request.seed,
        "start_date": request.start_date or utc_now().date(),
        "days": days,
        "arrivals_per_day": request.arrivals_per_day,
    }

    def run(
        spec: dict[str, object], rules: Sequence[AutomationRule], drafts: bool
    ) -> CohortOutcome:
        return simulate_cohort(
            Cohort(journey_key=key, org=org, spec=spec, rules=rules, draft_rules=drafts, **cohort)
        )

    outcome = run(spec, rules, isinstance(request.rules, list))
    compared_version, diff = None, None
    if request.compare_with is not None:
        wanted = None if request.compare_with == "current" else int(request.compare_with)
        compared = _version(org, current, wanted)
        baseline = run(
            compared.journey_spec, live if live is not None else active_rules(org, key), False
        )
        compared_version = compared.version
        diff = stage_differences(outcome.stages, baseline.stages)
    return SimulationResult(
        **dict(outcome),
        journey_key=key,
        version=version,
        rules_source="draft" if isinstance(request.rules, list) else request.rules,
        **cohort,
        compared_version=compared_version,
        diff=diff,
    )
