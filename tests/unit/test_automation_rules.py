"""Rule evaluation without AWS: which rules an event sets off, and in which order
(journeys_core.domain.automation), and what a rule may say (journeys_core.models.automation)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from journeys_core.domain.automation import (
    condition_holds,
    derived_event_id,
    matching_rules,
    new_event_id,
    new_rule_id,
    playbook_rule_id,
    playbook_rules,
    render_template,
)
from journeys_core.models.automation import AutomationRule, AutomationRuleCreate, Condition

DETAIL: dict[str, Any] = {
    "organization_id": "org-a",
    "patient_id": "p-1",
    "journey_key": "intake",
    "payload": {
        "risk_level": "high",
        "score": 87,
        "ratio": 0.5,
        "paid": True,
        "note": None,
        "flags": ["cardiac", "medication"],
        "provider": {"name": "stripe"},
        "refunded": False,
        "tags": [1, True],
    },
}


def holds(path: str, op: str, value: Any = ...) -> bool:
    given = {} if value is ... else {"value": value}
    return condition_holds(Condition.model_validate({"path": path, "op": op, **given}), DETAIL)


@pytest.mark.parametrize(
    ("path", "op", "value", "expected"),
    [
        ("payload.risk_level", "eq", "high", True),
        ("payload.risk_level", "eq", "HIGH", False),
        ("payload.score", "eq", 87.0, True),
        ("payload.score", "eq", "87", False),
        ("payload.paid", "eq", 1, False),  # true is not 1
        ("payload.paid", "eq", True, True),
        ("payload.note", "eq", None, True),
        ("payload.risk_level", "ne", "low", True),
        ("payload.missing", "ne", "low", False),  # nothing there to differ
        ("payload.risk_level", "in", ["high", "critical"], True),
        ("payload.risk_level", "in", ["low"], False),
        ("payload.score", "gt", 80, True),
        ("payload.score", "gt", 87, False),
        ("payload.score", "gte", 87, True),
        ("payload.ratio", "lt", 1, True),
        ("payload.ratio", "lte", 0.4, False),
        ("payload.risk_level", "gt", "a", True),  # strings compare as strings
        ("payload.risk_level", "gt", 1, False),  # a string and a number never compare
        ("payload.paid", "gte", 0, False),  # nor a boolean and a number
        ("payload.note", "exists", True, True),  # null is there
        ("payload.missing", "exists", True, False),
        ("payload.missing", "exists", False, True),
        ("payload.flags.1", "eq", "medication", True),
        ("payload.flags.2", "exists", True, False),
        ("payload.provider.name", "eq", "stripe", True),
        ("payload.risk_level.deeper", "exists", True, False),
        ("journey_key", "eq", "intake", True),
        # ne is eq's opposite, with the same strict JSON equality
        ("payload.risk_level", "ne", "high", False),
        ("payload.score", "ne", 87.0, False),
        ("payload.score", "ne", "87", True),
        ("payload.paid", "ne", 1, True),
        # eq on lists and objects compares every element, in order
        ("payload.flags", "eq", ["cardiac", "medication"], True),
        ("payload.flags", "eq", ["medication", "cardiac"], False),
        ("payload.flags", "eq", ["cardiac"], False),
        ("payload.flags", "eq", "cardiac", False),
        ("payload.provider", "eq", {"name": "stripe"}, True),
        ("payload.provider", "eq", {"name": "paypal"}, False),
        ("payload.provider", "eq", {"title": "stripe"}, False),
        ("payload.provider", "eq", {"name": "stripe", "id": 1}, False),
        ("payload.tags", "eq", [1, True], True),
        ("payload.tags", "eq", [1.0, True], True),
        ("payload.tags", "eq", [True, 1], False),
        # false is a value like any other, and only false equals it
        ("payload.refunded", "eq", False, True),
        ("payload.refunded", "eq", True, False),
        ("payload.refunded", "eq", 0, False),
        ("payload.refunded", "eq", None, False),
        ("payload.score", "eq", False, False),
        ("payload.refunded", "in", [0, "false", False], True),
        ("payload.refunded", "in", [0, None], False),
        # the ordered operators at the boundary
        ("payload.ratio", "lt", 0.5, False),
        ("payload.ratio", "lte", 0.5, True),
        ("payload.ratio", "lt", 0.51, True),
        ("payload.ratio", "lte", 0.49, False),
        ("payload.score", "gte", 87.5, False),
        ("payload.score", "gt", 86.5, True),
        ("payload.risk_level", "lt", "high", False),
        ("payload.risk_level", "lte", "high", True),
        ("payload.risk_level", "lt", "i", True),
        ("payload.risk_level", "lte", 1, False),  # a string and a number never compare
        ("payload.paid", "lt", 2, False),  # nor a boolean and a number
        ("payload.paid", "lte", 2, False),
        ("payload.missing", "lt", 1, False),
        ("payload.missing", "eq", None, False),  # missing is not null
        ("payload.missing", "in", [None], False),
        # list indices: digits only, inside the list
        ("payload.flags.0", "eq", "cardiac", True),
        ("payload.flags.-1", "exists", True, False),
        ("payload.flags.x", "exists", True, False),
        ("payload.note.x", "exists", True, False),
    ],
)
def test_a_condition_looks_into_the_event_detail(
    path: str, op: str, value: Any, expected: bool
) -> None:
    assert holds(path, op, value) is expected


def test_exists_alone_means_the_path_is_there() -> None:
    assert holds("payload.score", "exists") is True
    assert holds("payload.nothing", "exists") is False


def rule(rule_id: str, priority: int = 100, **fields: Any) -> AutomationRule:
    now = datetime(2026, 11, 21, tzinfo=UTC)
    return AutomationRule.model_validate(
        {
            "id": rule_id,
            "organization_id": "org-a",
            "name": rule_id,
            "trigger_event": "RISK_ANALYSIS_COMPLETED",
            "conditions": [],
            "actions": [{"type": "emit_event", "params": {"type": "BOOKING_CANCELLED"}}],
            "priority": priority,
            "is_active": True,
            "version": 1,
            "created_at": now,
            "updated_at": now,
            **fields,
        }
    )


def test_matching_rules_run_by_priority_then_id() -> None:
    rules = [rule("rule-000000c0", 50), rule("rule-000000b0", 10), rule("rule-000000a0", 50)]

    matched = matching_rules(rules, "RISK_ANALYSIS_COMPLETED", DETAIL)

    assert [r.id for r in matched] == ["rule-000000b0", "rule-000000a0", "rule-000000c0"]


def test_a_rule_matches_only_its_trigger_when_active_and_every_condition_holds() -> None:
    high = {"path": "payload.risk_level", "op": "eq", "value": "high"}
    scored = {"path": "payload.score", "op": "gte", "value": 90}
    rules = [
        rule("rule-00000001", conditions=[high]),
        rule("rule-00000002", conditions=[high, scored]),  # 87 < 90
        rule("rule-00000003", is_active=False),
        rule("rule-00000004", trigger_event="PAYMENT_SUCCEEDED"),
    ]

    matched = matching_rules(rules, "RISK_ANALYSIS_COMPLETED", DETAIL)

    assert [r.id for r in matched] == ["rule-00000001"]


def test_a_template_fills_placeholders_and_leaves_the_rest_as_written() -> None:
    context = {**DETAIL, "patient": {"display_name": "Ana"}}

    text = render_template(
        "Hola {patient.display_name}: riesgo {payload.risk_level} ({payload.score}), "
        "pagado {payload.paid}, {payload.flags} {unknown} {payload.__class__} {0}",
        context,
    )

    assert text == (
        "Hola Ana: riesgo high (87), pagado true, {payload.flags} {unknown} {payload.__class__} {0}"
    )


@pytest.mark.parametrize(
    ("template", "text"),
    [
        ("refunded: {payload.refunded}", "refunded: false"),
        ("paid: {payload.paid}", "paid: true"),
        ("ratio {payload.ratio}, score {payload.score}", "ratio 0.5, score 87"),
        ("note: {payload.note}", "note: {payload.note}"),  # null is left as written
        ("{payload.provider}", "{payload.provider}"),  # so are objects
        ("{payload.flags.0}/{payload.flags.1}", "cardiac/medication"),
        ("{journey_key}-{patient_id}", "intake-p-1"),
        ("{payload.risk-level} {a b}", "{payload.risk-level} {a b}"),
    ],
)
def test_a_template_shows_json_values_as_a_reader_expects(template: str, text: str) -> None:
    assert render_template(template, DETAIL) == text


def test_a_template_placeholder_names_at_most_200_characters() -> None:
    longest, too_long = "y" * 200, "y" * 201
    context = {longest: "filled", too_long: "filled"}

    assert render_template("{" + longest + "}", context) == "filled"
    assert render_template("{" + too_long + "}", context) == "{" + too_long + "}"


def test_an_emitted_event_id_is_the_same_on_every_run_and_differs_per_action() -> None:
    first = derived_event_id("evt-1", "rule-00000001", 0)

    assert first == derived_event_id("evt-1", "rule-00000001", 0)
    assert first != derived_event_id("evt-1", "rule-00000001", 1)
    assert first != derived_event_id("evt-2", "rule-00000001", 0)
    assert first.startswith("evt-") and len(first) <= 128


# Ids other systems keep: a different derivation after a deploy would make a retried event
# emit a second event, and importing the playbook again would duplicate every rule.
@pytest.mark.parametrize(
    ("made", "expected"),
    [
        (lambda: derived_event_id("evt-1", "rule-00000001", 0), "evt-3027e0222c984c02f77dcb02"),
        (lambda: playbook_rule_id("intake", "high-risk"), "rule-a4b0f779"),
        (lambda: playbook_rule_id("intake", "stage-timeout"), "rule-cc954cb7"),
    ],
)
def test_a_derived_id_never_changes(made: Any, expected: str) -> None:
    assert made() == expected


@pytest.mark.parametrize(
    ("new_id", "pattern"),
    [(new_rule_id, r"rule-[0-9a-f]{8}"), (new_event_id, r"evt-[0-9a-f]{24}")],
)
def test_a_new_id_has_the_documented_shape_and_is_fresh(new_id: Any, pattern: str) -> None:
    first, second = new_id(), new_id()

    assert re.fullmatch(pattern, first), first
    assert first != second


# -- what a rule may say ---------------------------------------------------------------------

VALID: dict[str, Any] = {
    "name": "cancel",
    "trigger_event": "BOOKING_CANCELLED",
    "actions": [{"type": "update_journey_status", "params": {"key": "k", "status": "S"}}],
}


@pytest.mark.parametrize(
    "change",
    [
        {"trigger_event": "BOOKING_EXPLODED"},
        {"actions": [{"type": "update_journey_status", "params": {"key": "k"}}]},
        {"actions": [{"type": "send_email", "params": {"subject": " ", "template": "x"}}]},
        {"actions": [{"type": "emit_event", "params": {"type": "lower_case"}}]},
        {"actions": [{"type": "emit_event", "params": {"type": "JOURNEY_STAGE_CHANGED"}}]},
        {"actions": [{"type": "emit_event", "params": {"type": "BOOKING_CANCELLED"}}]},
        {"actions": [{"type": "drop_table", "params": {}}]},
        {"conditions": [{"path": "payload.x", "op": "matches", "value": ".*"}]},
        {"conditions": [{"path": "payload.x", "op": "exists", "value": "yes"}]},
        {"conditions": [{"path": "payload.x", "op": "lt", "value": [1]}]},
        {"conditions": [{"path": "payload.x", "op": "in", "value": []}]},
        {"conditions": [{"path": "", "op": "exists"}]},
        {"name": ""},
        {"unexpected": True},
    ],
)
def test_a_rule_the_engine_could_not_run_is_not_a_rule(change: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        AutomationRuleCreate.model_validate({**VALID, **change})


def test_a_valid_rule_keeps_what_was_given() -> None:
    created = AutomationRuleCreate.model_validate(VALID)

    assert (created.priority, created.is_active, created.conditions) == (100, True, [])


# -- the default playbook ----------------------------------------------------------------------


def test_the_playbook_moves_only_to_stages_a_journey_has() -> None:
    rules = playbook_rules(
        {
            "full": ["SCREENING_COMPLETED", "CONFIRMED", "BLOCKED_HIGH_RISK", "CANCELLED"],
            "small": ["WAITING", "CONFIRMED"],
        }
    )

    by_journey: dict[str, list[tuple[str, str]]] = {}
    for _, body in rules:
        key = body.name.split(":")[0]
        action = body.actions[0]
        target = getattr(action.params, "status", action.type)
        by_journey.setdefault(key, []).append((body.trigger_event, target))
    assert by_journey == {
        "full": [
            ("FORM_SUBMISSION_COMPLETED", "SCREENING_COMPLETED"),
            ("PAYMENT_SUCCEEDED", "CONFIRMED"),
            ("RISK_ANALYSIS_COMPLETED", "BLOCKED_HIGH_RISK"),
            ("BOOKING_CANCELLED", "CANCELLED"),
            ("JOURNEY_STAGE_TIMEOUT", "send_email"),
        ],
        "small": [
            ("PAYMENT_SUCCEEDED", "CONFIRMED"),
            ("JOURNEY_STAGE_TIMEOUT", "send_email"),
        ],
    }


def test_a_playbook_rule_says_what_it_does_and_where_it_came_from() -> None:
    rules = playbook_rules({"intake": ["BLOCKED_HIGH_RISK"]})

    assert [(rule_id, body.name, body.description) for rule_id, body in rules] == [
        (
            "rule-a4b0f779",
            "intake: risk analysis high or critical -> BLOCKED_HIGH_RISK",
            "Default playbook (POST /automation-rules/import-playbook)",
        ),
        (
            "rule-cc954cb7",
            "intake: stage timeout -> reminder email",
            "Default playbook (POST /automation-rules/import-playbook)",
        ),
    ]


def test_playbook_rules_keep_their_ids_and_blocking_goes_first() -> None:
    rules = dict(playbook_rules({"intake": ["BLOCKED_HIGH_RISK", "CANCELLED"]}))

    assert set(rules) == {
        playbook_rule_id("intake", "high-risk"),
        playbook_rule_id("intake", "booking-cancelled"),
        playbook_rule_id("intake", "stage-timeout"),
    }
    blocking = rules[playbook_rule_id("intake", "high-risk")]
    assert blocking.priority < rules[playbook_rule_id("intake", "booking-cancelled")].priority
    assert [c.model_dump() for c in blocking.conditions] == [
        {"path": "payload.risk_level", "op": "in", "value": ["high", "critical"]}
    ]
    reminder = rules[playbook_rule_id("intake", "stage-timeout")]
    assert [c.model_dump() for c in reminder.conditions] == [
        {"path": "journey_key", "op": "eq", "value": "intake"}
    ]


# -- what a queue message must carry -----------------------------------------------------------


def bus_body(**changes: Any) -> str:
    import json

    event = {
        "version": "0",
        "id": "6f2c0d1e-0000-4000-8000-000000000001",
        "detail-type": "PAYMENT_SUCCEEDED",
        "source": "payments.stripe",
        "time": "2026-11-21T10:05:00Z",
        "detail": {"organization_id": "org-a", "patient_id": "p-1", "payload": {"amount": 5}},
    }
    event.update(changes)
    return json.dumps(event)


def test_a_domain_event_without_its_own_id_takes_the_eventbridge_id() -> None:
    from journeys_core.services.automation import parse_bus_message

    event = parse_bus_message(bus_body())

    assert event.event_id == "6f2c0d1e-0000-4000-8000-000000000001"
    assert (event.organization_id, event.patient_id, event.event_type) == (
        "org-a",
        "p-1",
        "PAYMENT_SUCCEEDED",
    )
    assert event.detail == {
        "organization_id": "org-a",
        "patient_id": "p-1",
        "payload": {"amount": 5},
    }


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        bus_body(detail={"organization_id": "org-a", "payload": {}}),
        bus_body(detail={"organization_id": "org#a", "patient_id": "p-1"}),
        bus_body(detail={"organization_id": "org-a", "patient_id": "p 1"}),
        bus_body(detail={"organization_id": "org-a", "patient_id": "p-1", "event_id": "a b"}),
        bus_body(detail={"organization_id": "org-a", "patient_id": "p-1", "payload": []}),
        bus_body(**{"detail-type": "payment succeeded"}),
        bus_body(time="yesterday"),
    ],
)
def test_a_message_that_is_not_a_domain_event_is_refused(body: str) -> None:
    from journeys_core.services.automation import InvalidDomainEvent, parse_bus_message

    with pytest.raises(InvalidDomainEvent):
        parse_bus_message(body)
