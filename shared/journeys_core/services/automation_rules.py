"""Managing an organization's automation rules, and installing the default playbook.

A rule is checked when saved: a known trigger and known action types (the model), and every
``update_journey_status`` naming a journey of the organization and a stage it has.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from journeys_core.clock import utc_now
from journeys_core.data import repositories
from journeys_core.domain.automation import new_rule_id, playbook_rules
from journeys_core.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from journeys_core.models.automation import (
    MAX_ACTIVE_RULES_PER_TRIGGER,
    AutomationRule,
    AutomationRuleCreate,
    AutomationRulePage,
    AutomationRuleUpdate,
    PlaybookResult,
    RuleOrigin,
    UpdateJourneyStatus,
)
from journeys_core.models.journey import JourneyRecord


def _check_journeys_and_stages(org: str, rule: AutomationRuleCreate) -> None:
    """Every journey move names a journey of the organization and one of its stages."""
    definitions = repositories.definitions()
    found: dict[str, JourneyRecord | None] = {}
    for index, action in enumerate(rule.actions):
        if not isinstance(action, UpdateJourneyStatus):
            continue
        key, status = action.params.key, action.params.status
        if key not in found:
            found[key] = definitions.get_by_name(org, key)
        record = found[key]
        where = f"actions.{index}.params"
        if record is None:
            raise InvalidInput(f"{where}.key: no journey {key!r} in this organization")
        stages = record.journey_spec.get("stages") or []
        if not stages:
            raise InvalidInput(f"{where}.key: journey {key!r} has no stages to move between")
        if status not in stages:
            raise InvalidInput(
                f"{where}.status: {status!r} is not a stage of journey {key!r} "
                f"(stages: {', '.join(stages)})"
            )


def stored_rule(
    org: str, rule_id: str, body: AutomationRuleCreate, origin: RuleOrigin = "custom"
) -> AutomationRule:
    """The rule ``body`` describes, as it is stored (version 1, created now)."""
    now = utc_now()
    return AutomationRule.model_validate(
        {
            **body.model_dump(mode="json"),
            "id": rule_id,
            "organization_id": org,
            "origin": origin,
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
    )


def _check_room_on_trigger(org: str, rule: AutomationRuleCreate, rule_id: str | None) -> None:
    """Conflict when the rule would be one active rule too many for its trigger."""
    if not rule.is_active:
        return
    others = [
        active
        for active in repositories.rules().active_for_trigger(org, rule.trigger_event)
        if active.id != rule_id
    ]
    if len(others) >= MAX_ACTIVE_RULES_PER_TRIGGER:
        raise Conflict(
            f"trigger_event: {rule.trigger_event} already has {len(others)} active rules, "
            f"the most one event runs; deactivate or delete one first"
        )


def create_rule(org: str, body: AutomationRuleCreate) -> AutomationRule:
    _check_journeys_and_stages(org, body)
    _check_room_on_trigger(org, body, None)
    rule = stored_rule(org, new_rule_id(), body)
    repositories.rules().create(rule)
    return rule


def get_rule(org: str, rule_id: str) -> AutomationRule:
    rule = repositories.rules().get(org, rule_id)
    if rule is None:
        raise NotFound(f"rule {rule_id!r} not found")
    return rule


def list_rules(org: str, limit: int = 50, cursor: str | None = None) -> AutomationRulePage:
    items, next_cursor = repositories.rules().page(org, limit, cursor)
    return AutomationRulePage(items=items, next_cursor=next_cursor)


def _validation_message(error: ValidationError) -> str:
    parts = []
    for problem in error.errors():
        where = ".".join(str(part) for part in problem["loc"])
        message = str(problem["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


def update_rule(org: str, rule_id: str, update: AutomationRuleUpdate) -> AutomationRule:
    """Fields given replace the rule's, the result is checked like a new rule, and written
    only if nobody changed the rule meanwhile (409 otherwise)."""
    current = get_rule(org, rule_id)
    merged: dict[str, Any] = {
        **current.model_dump(mode="json", include=set(AutomationRuleCreate.model_fields)),
        **update.model_dump(mode="json", exclude_unset=True),
    }
    try:
        body = AutomationRuleCreate.model_validate(merged)
    except ValidationError as error:
        raise InvalidInput(_validation_message(error)) from error
    _check_journeys_and_stages(org, body)
    _check_room_on_trigger(org, body, rule_id)
    rule = AutomationRule.model_validate(
        {
            **current.model_dump(mode="json"),
            **body.model_dump(mode="json"),
            "version": current.version + 1,
            "updated_at": utc_now(),
        }
    )
    repositories.rules().replace(rule, expected_version=current.version)
    return rule


def delete_rule(org: str, rule_id: str) -> None:
    repositories.rules().delete(org, rule_id)


def _archetype_names() -> set[str]:
    from journeys_core.builtins import load_builtin_journeys

    return {
        journey["name"]
        for journey in load_builtin_journeys()
        if journey.get("journey_spec", {}).get("stages")
    }


def _stages_by_journey(records: Iterable[JourneyRecord], names: set[str]) -> dict[str, list[str]]:
    return {
        record.name: list(record.journey_spec.get("stages") or [])
        for record in records
        if record.name in names
    }


def import_playbook(org: str) -> PlaybookResult:
    """Install the default rules for the built-in stage archetypes the organization has
    (as saved in its definitions: a row whose stage a journey lacks is left out). Rules have
    stable ids, so importing again installs only what is missing (a deleted default rule
    comes back; a changed one is kept as it is)."""
    records = repositories.definitions().list_with_stages(org)
    journeys = _stages_by_journey(records, _archetype_names())
    repository = repositories.rules()
    installed: list[AutomationRule] = []
    already_present = 0
    for rule_id, body in playbook_rules(journeys):
        rule = stored_rule(org, rule_id, body, origin="playbook")
        try:
            repository.create(rule)
        except AlreadyExists:
            already_present += 1
            continue
        installed.append(rule)
    return PlaybookResult(
        installed=len(installed), already_present=already_present, items=installed
    )
