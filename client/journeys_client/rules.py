"""``client.rules``: the organization's automation rules (admin) and the default playbook."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .models import AutomationRule, PlaybookResult
from .operations import operation
from .transport import Pager, path_segment, without_none


def _dicts(values: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]] | None:
    return [dict(value) for value in values] if values is not None else None


def _rule_fields(
    name: str | None,
    trigger_event: str | None,
    actions: Sequence[Mapping[str, Any]] | None,
    conditions: Sequence[Mapping[str, Any]] | None,
    priority: int | None,
    is_active: bool | None,
    description: str | None,
) -> dict[str, Any]:
    """A rule's body as create and update take it: the fields given."""
    return without_none(
        {
            "name": name,
            "trigger_event": trigger_event,
            "actions": _dicts(actions),
            "conditions": _dicts(conditions),
            "priority": priority,
            "is_active": is_active,
            "description": description,
        }
    )


class RulesApi(Pager):
    """Automation rules: a trigger, conditions and actions (all calls need ``admin``)."""

    @operation("listRules")
    def iter_rules(self, limit: int | None = None) -> Iterator[AutomationRule]:
        """Every rule of the organization, by id, page by page as you iterate."""
        return self._iterate("/automation-rules", AutomationRule, {}, limit)

    @operation("listRules")
    def list_rules(self, limit: int | None = None) -> list[AutomationRule]:
        """:meth:`iter_rules` as a list."""
        return list(self.iter_rules(limit))

    @operation("getRule")
    def get_rule(self, rule_id: str) -> AutomationRule:
        """One rule; NotFoundError for another organization's or none."""
        path = f"/automation-rules/{path_segment(rule_id)}"
        return AutomationRule.model_validate(self._http.call("GET", path, idempotent=True).json())

    @operation("createRule")
    def create_rule(
        self,
        name: str,
        trigger_event: str,
        actions: Sequence[Mapping[str, Any]],
        conditions: Sequence[Mapping[str, Any]] | None = None,
        *,
        priority: int | None = None,
        is_active: bool | None = None,
        description: str | None = None,
    ) -> AutomationRule:
        """Create a rule: ``actions`` like ``{"type": "update_journey_status", "params":
        {"key": "retreat", "status": "CONFIRMED"}}``, ``conditions`` like ``{"path":
        "payload.risk_level", "op": "in", "value": ["high"]}``. Never repeated (each call
        makes a rule); ConflictError when the trigger has 20 active rules already."""
        body = _rule_fields(
            name, trigger_event, actions, conditions, priority, is_active, description
        )
        answer = self._http.call("POST", "/automation-rules", idempotent=False, json=body)
        return AutomationRule.model_validate(answer.json())

    @operation("updateRule")
    def update_rule(
        self,
        rule_id: str,
        *,
        name: str | None = None,
        trigger_event: str | None = None,
        actions: Sequence[Mapping[str, Any]] | None = None,
        conditions: Sequence[Mapping[str, Any]] | None = None,
        priority: int | None = None,
        is_active: bool | None = None,
        description: str | None = None,
    ) -> AutomationRule:
        """Replace the fields given (``None`` keeps one); the rule's ``version`` goes up, so
        the call is never repeated. ConflictError if it changed meanwhile."""
        body = _rule_fields(
            name, trigger_event, actions, conditions, priority, is_active, description
        )
        path = f"/automation-rules/{path_segment(rule_id)}"
        answer = self._http.call("PATCH", path, idempotent=False, json=body)
        return AutomationRule.model_validate(answer.json())

    @operation("deleteRule")
    def delete_rule(self, rule_id: str) -> bool:
        """``True`` when it deleted the rule, ``False`` when there was none."""
        return self._http.delete(f"/automation-rules/{path_segment(rule_id)}")

    @operation("importPlaybook")
    def import_playbook(self) -> PlaybookResult:
        """Install the default rules for the built-in journeys the organization has; again,
        only what is missing (so it is safe to repeat)."""
        answer = self._http.call("POST", "/automation-rules/import-playbook", idempotent=True)
        return PlaybookResult.model_validate(answer.json())
