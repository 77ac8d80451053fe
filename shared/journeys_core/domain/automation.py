"""Automation rules, evaluated (pure: no AWS).

A rule matches a domain event when it is active, its ``trigger_event`` is the event's type
and every condition holds over the event's ``detail``. Matching rules run in ascending
``priority``, then by id, so the order never depends on storage.

Conditions: ``path`` is a dotted path into ``detail`` (``payload.risk_level``; a number
indexes a list). A path that leads nowhere satisfies only ``exists: false``. ``eq``, ``ne``
and ``in`` compare JSON values strictly (``true`` is not ``1``, ``"1"`` is not ``1``);
``gt``, ``gte``, ``lt`` and ``lte`` compare two numbers or two strings, anything else is
false.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from journeys_core.models.automation import (
    AutomationRule,
    AutomationRuleCreate,
    Condition,
    SendEmail,
    UpdateJourneyStatus,
)

MISSING: Any = object()
# Rules emitting events that set off rules emitting events...: the fourth link is refused.
MAX_CHAIN_DEPTH = 3
_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_.-]{1,200})\}")


def new_rule_id() -> str:
    return f"rule-{secrets.token_hex(4)}"


def new_event_id() -> str:
    return f"evt-{secrets.token_hex(12)}"


def value_at(detail: Any, path: str) -> Any:
    """The value at a dotted path, or MISSING."""
    value = detail
    for part in path.split("."):
        if isinstance(value, Mapping):
            value = value.get(part, MISSING)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return MISSING
        if value is MISSING:
            return MISSING
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same(left: Any, right: Any) -> bool:
    """JSON equality: booleans are not numbers, 1 equals 1.0."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left is right
    if _is_number(left) and _is_number(right):
        return bool(left == right)
    if type(left) is not type(right):
        return False
    if isinstance(left, list):
        return len(left) == len(right) and all(map(_same, left, right))
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(_same(left[k], right[k]) for k in left)
    return bool(left == right)


def _ordered(left: Any, right: Any) -> bool:
    return (_is_number(left) and _is_number(right)) or (
        isinstance(left, str) and isinstance(right, str)
    )


def condition_holds(condition: Condition, detail: Mapping[str, Any]) -> bool:
    actual = value_at(detail, condition.path)
    op, expected = condition.op, condition.value
    if op == "exists":
        return (actual is not MISSING) is bool(expected)
    if actual is MISSING:
        return False
    if op == "eq":
        return _same(actual, expected)
    if op == "ne":
        return not _same(actual, expected)
    if op == "in":
        return any(_same(actual, option) for option in expected)
    if not _ordered(actual, expected):
        return False
    if op == "gt":
        return bool(actual > expected)
    if op == "gte":
        return bool(actual >= expected)
    if op == "lt":
        return bool(actual < expected)
    return bool(actual <= expected)  # lte


def rule_matches(rule: AutomationRule, event_type: str, detail: Mapping[str, Any]) -> bool:
    return (
        rule.is_active
        and rule.trigger_event == event_type
        and all(condition_holds(c, detail) for c in rule.conditions)
    )


def matching_rules(
    rules: Iterable[AutomationRule], event_type: str, detail: Mapping[str, Any]
) -> list[AutomationRule]:
    """The rules an event sets off, in the order they run."""
    matched = [rule for rule in rules if rule_matches(rule, event_type, detail)]
    return sorted(matched, key=lambda rule: (rule.priority, rule.id))


def render_template(text: str, context: Mapping[str, Any]) -> str:
    """Fill ``{path}`` placeholders from ``context`` (dotted paths as in conditions).
    Unknown placeholders stay as written; nothing is evaluated, so a template can never
    reach beyond the values it is given."""

    def fill(match: re.Match[str]) -> str:
        value = value_at(context, match.group(1))
        if value is MISSING or value is None or isinstance(value, dict | list):
            return match.group(0)
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    return _PLACEHOLDER.sub(fill, text)


def derived_event_id(event_id: str, rule_id: str, action_index: int) -> str:
    """The id of an event a rule's action emits: the same every time the triggering event is
    processed, so a retried event never emits a second, different event."""
    digest = hashlib.sha256(f"{event_id}|{rule_id}|{action_index}".encode()).hexdigest()
    return f"evt-{digest[:24]}"


def event_fingerprint(event_type: str, patient_id: str, payload: Mapping[str, Any]) -> str:
    """What an event says, as one hash: two events with the same id and fingerprint are the
    same event (a retry); the same id with another fingerprint is a conflict, never a retry."""
    canonical = json.dumps(
        [event_type, patient_id, payload], sort_keys=True, separators=(",", ":"), default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def conflict_event_id(event_id: str, fingerprint: str) -> str:
    """The id under which an event reusing ``event_id`` for other content is recorded."""
    return f"{event_id}.conflict-{fingerprint[:16]}"


# -- the default playbook ------------------------------------------------------------------


@dataclass(frozen=True)
class PlaybookRow:
    """One row of the hybrid state machine document's table of triggers."""

    row_id: str
    trigger_event: str
    describes: str
    to_stage: str | None = None  # update_journey_status to this stage, when it exists
    conditions: tuple[dict[str, Any], ...] = ()
    priority: int = 100


PLAYBOOK: tuple[PlaybookRow, ...] = (
    PlaybookRow(
        "form-submitted",
        "FORM_SUBMISSION_COMPLETED",
        "form submitted",
        to_stage="SCREENING_COMPLETED",
    ),
    PlaybookRow("payment-succeeded", "PAYMENT_SUCCEEDED", "payment succeeded", "CONFIRMED"),
    PlaybookRow(
        "high-risk",
        "RISK_ANALYSIS_COMPLETED",
        "risk analysis high or critical",
        to_stage="BLOCKED_HIGH_RISK",
        conditions=({"path": "payload.risk_level", "op": "in", "value": ["high", "critical"]},),
        priority=10,  # blocking goes before anything else the same event would do
    ),
    PlaybookRow("booking-cancelled", "BOOKING_CANCELLED", "booking cancelled", "CANCELLED"),
    PlaybookRow("stage-timeout", "JOURNEY_STAGE_TIMEOUT", "stage timeout"),
)

REMINDER_SUBJECT = "{email_subject}"
REMINDER_TEMPLATE = (
    "Hola {patient.display_name}:\n\n"
    "Tu proceso «{journey_key}» sigue esperando en la etapa {stage} desde hace "
    "{hours_stale} horas. Si necesitas ayuda, responde a este correo.\n"
)


def playbook_rule_id(journey_key: str, row_id: str) -> str:
    """Stable per (journey, row): installing the playbook twice finds the rules it made."""
    digest = hashlib.sha256(f"playbook|{journey_key}|{row_id}".encode()).hexdigest()
    return f"rule-{digest[:8]}"


def playbook_rules(
    journeys: Mapping[str, Sequence[str]],
) -> list[tuple[str, AutomationRuleCreate]]:
    """The default rules for the given journeys ({key: stages}), with their stable ids.

    A row that moves patients is installed for a journey only if the journey has the target
    stage; the timeout reminder for every journey given, scoped to it by a condition."""
    rules: list[tuple[str, AutomationRuleCreate]] = []
    for key in sorted(journeys):
        stages = set(journeys[key])
        for row in PLAYBOOK:
            action: UpdateJourneyStatus | SendEmail
            if row.to_stage is not None:
                if row.to_stage not in stages:
                    continue
                action = UpdateJourneyStatus.model_validate(
                    {
                        "type": "update_journey_status",
                        "params": {"key": key, "status": row.to_stage},
                    }
                )
                conditions = list(row.conditions)
                outcome = f"-> {row.to_stage}"
            else:
                action = SendEmail.model_validate(
                    {
                        "type": "send_email",
                        "params": {"subject": REMINDER_SUBJECT, "template": REMINDER_TEMPLATE},
                    }
                )
                conditions = [{"path": "journey_key", "op": "eq", "value": key}]
                outcome = "-> reminder email"
            rule = AutomationRuleCreate.model_validate(
                {
                    "name": f"{key}: {row.describes} {outcome}",
                    "description": "Default playbook (POST /automation-rules/import-playbook)",
                    "trigger_event": row.trigger_event,
                    "conditions": conditions,
                    "actions": [action],
                    "priority": row.priority,
                }
            )
            rules.append((playbook_rule_id(key, row.row_id), rule))
    return rules
