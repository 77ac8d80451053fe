"""The cohort simulator on the built-in retreat with the default playbook (no AWS): the funnel
follows the timeline's delays and probabilities, refusals are counted by kind, stale rules
time out at most once per 24 hours, chains are cut, and a run is reproducible."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from journeys_core.builtins import load_builtin_journeys
from journeys_core.domain.automation import playbook_rules
from journeys_core.domain.simulation import (
    Cohort,
    CohortRun,
    first_timeout,
    simulate_cohort,
    stage_differences,
)
from journeys_core.domain.stale_monitor import is_stuck
from journeys_core.errors import InvalidInput
from journeys_core.models.automation import AutomationRule

KEY = "retreat_ibiza_2025"
START = date(2026, 1, 1)
RETREAT: dict[str, Any] = next(j for j in load_builtin_journeys() if j["name"] == KEY)[
    "journey_spec"
]


def rule(rule_id: str, body: dict[str, Any]) -> AutomationRule:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return AutomationRule.model_validate(
        {
            "priority": 100,
            "conditions": [],
            "is_active": True,
            **body,
            "id": rule_id,
            "organization_id": "org-a",
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
    )


PLAYBOOK = [
    rule(rule_id, body.model_dump(mode="json"))
    for rule_id, body in playbook_rules({KEY: RETREAT["stages"]})
]


def cohort(
    spec: dict[str, Any] | None = None,
    rules: list[AutomationRule] | None = None,
    size: int = 500,
    days: int = 120,
    **fields: Any,
) -> Cohort:
    return Cohort(
        journey_key=KEY,
        org="org-a",
        spec=RETREAT if spec is None else spec,
        rules=PLAYBOOK if rules is None else rules,
        cohort_size=size,
        seed=fields.pop("seed", 7),
        start_date=START,
        days=days,
        **fields,
    )


def by_stage(outcome: Any) -> dict[str, Any]:
    return {stage.stage: stage for stage in outcome.stages}


def event(spec: dict[str, Any], event_id: str) -> dict[str, Any]:
    return next(e for e in spec["events"] if e["event_id"] == event_id)


def test_the_funnel_follows_the_timelines_probabilities() -> None:
    # Given the retreat, where 80% of the patients offered a place pay
    assert event(RETREAT, "payment")["probability"] == 0.8
    # When 5,000 patients go through it with the default playbook
    outcome = simulate_cohort(cohort(size=5000))
    stages = by_stage(outcome)
    # Then every patient is screened and offered a place, and 80% +- 3% reach CONFIRMED
    assert outcome.enrolled == 5000
    assert stages["SCREENING_COMPLETED"].entries == 5000
    assert stages["AWAITING_PAYMENT"].entries == 5000
    assert 0.77 * 5000 <= stages["CONFIRMED"].entries <= 0.83 * 5000
    # and within 120 days every payer completes; the others still wait for payment
    assert outcome.final["COMPLETED"] == stages["CONFIRMED"].entries
    assert outcome.final["AWAITING_PAYMENT"] == 5000 - stages["CONFIRMED"].entries
    # and the delays show: payment 2-10 days after the place is offered
    paying = stages["AWAITING_PAYMENT"].time_in_stage
    assert 2 * 24 <= paying.median_hours <= 10 * 24
    # and nothing was refused; the high-risk and cancellation rules never fired
    assert outcome.refused == []
    never = {r.id for r in outcome.rules if r.fired == 0}
    assert set(outcome.never_fired) == never
    names = {r.id: r.name for r in outcome.rules}
    assert {names[i].split(": ")[1] for i in never} == {
        "risk analysis high or critical -> BLOCKED_HIGH_RISK",
        "booking cancelled -> CANCELLED",
    }


def test_a_draft_without_a_transition_shows_the_refusals_it_causes() -> None:
    # Given a draft that no longer lets a patient go from AWAITING_PAYMENT to CONFIRMED
    draft = copy.deepcopy(RETREAT)
    draft["transitions"]["AWAITING_PAYMENT"].remove("CONFIRMED")
    # When both run on the same cohort
    live = simulate_cohort(cohort())
    outcome = simulate_cohort(cohort(spec=draft))
    # Then every payment the live version confirms is refused as a transition
    confirmed = by_stage(live)["CONFIRMED"].entries
    kinds = {(r.from_stage, r.to_stage, r.why): r.count for r in outcome.refused}
    assert kinds == {
        ("AWAITING_PAYMENT", "CONFIRMED", "transition"): confirmed,
        # and so do the staff's later moves of the same patients
        ("AWAITING_PAYMENT", "PREPARATION_PHASE", "transition"): confirmed,
        ("AWAITING_PAYMENT", "COMPLETED", "transition"): confirmed,
    }
    assert by_stage(outcome)["CONFIRMED"].entries == 0
    payment_rule = next(r for r in outcome.rules if "payment succeeded" in r.name)
    assert (payment_rule.fired, payment_rule.moved, payment_rule.refused) == (
        confirmed,
        0,
        confirmed,
    )
    # and the comparison says where the patients went instead
    diff = stage_differences(outcome.stages, live.stages)
    assert diff["CONFIRMED"].entries.model_dump() == {
        "run": 0,
        "compared": confirmed,
        "change": -confirmed,
    }
    assert diff["AWAITING_PAYMENT"].final.change == confirmed
    assert diff["COMPLETED"].final.compared == confirmed


def test_guards_and_locked_stages_refuse_by_kind() -> None:
    # Given draft rules: a low risk blocks the patient (locked), a form confirms (no payment)
    rules = [
        rule(
            "rule-block",
            {
                "name": "block everyone",
                "trigger_event": "RISK_ANALYSIS_COMPLETED",
                "actions": [
                    {
                        "type": "update_journey_status",
                        "params": {"key": KEY, "status": "BLOCKED_HIGH_RISK"},
                    }
                ],
            },
        ),
        *PLAYBOOK,
    ]
    no_payment = copy.deepcopy(RETREAT)
    no_payment["transitions"]["SCREENING_COMPLETED"].append("CONFIRMED")
    no_payment["events"].insert(
        1,
        {"event_id": "confirm-early", "depends_on": "screening-form", "move_to": "CONFIRMED"},
    )
    # When the cohorts run
    blocked = simulate_cohort(cohort(rules=rules, size=100))
    guarded = simulate_cohort(cohort(spec=no_payment, size=100))
    # Then automation never leaves the locked stage, and staff cannot skip a transition
    kinds = {(r.from_stage, r.to_stage, r.why): r.count for r in blocked.refused}
    assert kinds[("BLOCKED_HIGH_RISK", "AWAITING_PAYMENT", "transition")] == 100
    assert blocked.final["BLOCKED_HIGH_RISK"] == 100
    # and nobody is confirmed without a payment
    assert [(r.from_stage, r.to_stage, r.why, r.count) for r in guarded.refused] == [
        ("SCREENING_COMPLETED", "CONFIRMED", "guard", 100)
    ]


def test_a_locked_stage_refuses_automation() -> None:
    # Given a draft rule that blocks every patient once the payment arrives
    rules = [
        rule(
            "rule-a",
            {
                "name": "block on payment",
                "trigger_event": "PAYMENT_SUCCEEDED",
                "priority": 1,
                "actions": [
                    {
                        "type": "update_journey_status",
                        "params": {"key": KEY, "status": "BLOCKED_HIGH_RISK"},
                    }
                ],
            },
        ),
        *PLAYBOOK,
    ]
    spec = copy.deepcopy(RETREAT)
    spec["transitions"]["AWAITING_PAYMENT"].append("BLOCKED_HIGH_RISK")
    # When it runs before the playbook's payment rule
    outcome = simulate_cohort(cohort(spec=spec, rules=rules, size=200))
    # Then the playbook's move out of the locked stage is refused as locked
    kinds = {(r.from_stage, r.to_stage, r.why): r.count for r in outcome.refused}
    payers = by_stage(outcome)["BLOCKED_HIGH_RISK"].entries
    assert payers > 0
    assert kinds[("BLOCKED_HIGH_RISK", "CONFIRMED", "locked")] == payers


def test_stale_timeouts_back_off_and_stop_as_the_monitor_s_gate_does() -> None:
    # Given a retreat where nobody pays: everyone waits in AWAITING_PAYMENT (48 h rule)
    spec = copy.deepcopy(RETREAT)
    event(spec, "payment")["probability"] = 0
    # When 300 patients are simulated for 60 days
    outcome = simulate_cohort(cohort(spec=spec, size=300, days=60))
    # Then no day has more timeouts than patients, and each stay fires four times (past
    # 48 h, then a day, three days and a week later) and no more
    per_day = outcome.timeouts.per_day
    assert max(per_day) <= 300
    assert outcome.timeouts.total == 4 * 300
    assert per_day[-30:] == [0] * 30
    assert outcome.timeouts.by_rule == {
        "AWAITING_PAYMENT>48h:send_payment_reminder": outcome.timeouts.total
    }
    # and each timeout sends one reminder, though the notifier and the playbook both email
    assert outcome.emails.per_day == per_day
    reminder = next(r for r in outcome.rules if "stage timeout" in r.name)
    assert reminder.fired == reminder.emails == outcome.timeouts.total


@pytest.mark.parametrize("entered", [0, 1, 59, 60, 61, 1439])
def test_the_first_timeout_is_the_first_hourly_run_that_finds_the_stay_stuck(entered: int) -> None:
    origin = datetime(2026, 1, 1, tzinfo=UTC)

    def moment(minute: int) -> datetime:
        return origin + timedelta(minutes=minute)

    first = first_timeout(entered, 48)
    assert first % 60 == 0
    assert is_stuck(moment(entered), 48, moment(first))
    assert not is_stuck(moment(entered), 48, moment(first - 60))


def test_emitted_events_set_off_rules_until_the_chain_is_cut() -> None:
    # Given rules that emit events that set off each other on every payment
    def emits(rule_id: str, trigger: str, emitted: str) -> AutomationRule:
        return rule(
            rule_id,
            {
                "name": f"{trigger} emits {emitted}",
                "trigger_event": trigger,
                "actions": [{"type": "emit_event", "params": {"type": emitted}}],
            },
        )

    rules = [
        emits("rule-1", "PAYMENT_SUCCEEDED", "BOOKING_CREATED"),
        emits("rule-2", "BOOKING_CREATED", "PAYMENT_FAILED"),
        emits("rule-3", "PAYMENT_FAILED", "BOOKING_CREATED"),
    ]
    # When the cohort runs
    outcome = simulate_cohort(cohort(rules=rules, size=200, draft_rules=True))
    # Then each payment sets off three links and the fourth is cut
    payers = outcome.rules[0].fired
    assert payers > 0
    assert [r.fired for r in outcome.rules] == [payers, 2 * payers, payers]
    assert outcome.chains_cut == payers
    assert [r.index for r in outcome.rules] == [0, 1, 2]


def test_draft_rules_that_never_fire_are_named_by_index() -> None:
    # Given draft rules whose first never matches (a payment failure never happens)
    never = rule(
        "draft-00000",
        {
            "name": "payment failed",
            "trigger_event": "PAYMENT_FAILED",
            "actions": [{"type": "send_email", "params": {"subject": "s", "template": "t"}}],
        },
    )
    # When simulated with the playbook after it
    outcome = simulate_cohort(cohort(rules=[never, *PLAYBOOK], size=50, draft_rules=True))
    # Then the first rule is reported by its index 0, the playbook's idle ones by theirs
    assert outcome.never_fired[0] == 0
    assert [r.index for r in outcome.rules] == list(range(1 + len(PLAYBOOK)))
    assert all(isinstance(index, int) for index in outcome.never_fired)


def test_a_run_is_reproducible_and_each_patient_independent_of_the_cohort() -> None:
    # Given one request
    request = cohort(size=300, arrivals_per_day=20)
    # When it runs twice
    first = simulate_cohort(request)
    second = simulate_cohort(request)
    # Then the answers are identical, and another seed gives another answer
    assert repr(first) == repr(second)
    assert repr(simulate_cohort(cohort(size=300, arrivals_per_day=20, seed=8))) != repr(first)
    # and a patient's course is the same in a cohort of 5 and of 300
    small, large = CohortRun(cohort(size=5, arrivals_per_day=20)), CohortRun(request)
    small.run()
    large.run()

    def course(run: CohortRun, patient: str) -> list[Any]:
        return [p for p in run.points if p.patient_id == patient]

    for patient in ("patient-1", "patient-5"):
        assert course(small, patient) == course(large, patient)
        assert course(small, patient)


def test_arrivals_spread_the_cohort_over_the_days() -> None:
    outcome = simulate_cohort(cohort(size=100, days=10, arrivals_per_day=20))
    # days 0..4 take 20 patients each; those arriving later than the period never enroll
    assert outcome.enrolled == 100
    late = simulate_cohort(cohort(size=300, days=10, arrivals_per_day=20))
    assert late.enrolled == 200


def test_a_timeline_event_must_stand_for_a_trigger_the_rules_take() -> None:
    spec = copy.deepcopy(RETREAT)
    event(spec, "payment")["trigger"] = "JOURNEY_STAGE_TIMEOUT"
    with pytest.raises(InvalidInput, match="trigger"):
        simulate_cohort(cohort(spec=spec, size=1))


ARCHETYPES = ["retreat_ibiza_2025", "intake", "carta_natal", "despertar_8s", "yoga_urban_om"]


@pytest.mark.parametrize("name", ARCHETYPES)
def test_each_stage_archetype_can_be_simulated_as_imported(name: str) -> None:
    # Given a built-in archetype and the playbook installed for it
    spec = next(j for j in load_builtin_journeys() if j["name"] == name)["journey_spec"]
    rules = [rule(i, b.model_dump(mode="json")) for i, b in playbook_rules({name: spec["stages"]})]
    # When 200 patients go through it
    outcome = simulate_cohort(
        Cohort(name, "org-a", spec, rules, 200, 1, START, spec["duration_days"])
    )
    # Then everyone enrolls, most complete, nothing is refused, and someone gets a reminder
    assert outcome.enrolled == 200
    assert outcome.final["COMPLETED"] > 100
    assert outcome.refused == []
    assert outcome.timeouts.total > 0


def test_timeouts_counted_in_bulk_match_those_played_one_by_one() -> None:
    # Given a retreat nobody pays for, and a reminder rule that reads hours_stale (so every
    # timeout is worked out on its own) next to the playbook's (counted in bulk)
    spec = copy.deepcopy(RETREAT)
    event(spec, "payment")["probability"] = 0.5
    reads_hours = rule(
        "rule-hours",
        {
            "name": "reminder that reads hours_stale",
            "trigger_event": "JOURNEY_STAGE_TIMEOUT",
            "conditions": [{"path": "hours_stale", "op": "gte", "value": 0}],
            "actions": [{"type": "send_email", "params": {"subject": "s", "template": "t"}}],
        },
    )
    emits = rule(
        "rule-emit",
        {
            "name": "timeout emits a booking",
            "trigger_event": "JOURNEY_STAGE_TIMEOUT",
            "actions": [{"type": "emit_event", "params": {"type": "BOOKING_CREATED"}}],
        },
    )
    # When the same cohort runs three ways
    runs = [
        simulate_cohort(cohort(spec=spec, rules=rules, size=100, days=90))
        for rules in (PLAYBOOK, [*PLAYBOOK, reads_hours], [*PLAYBOOK, emits])
    ]
    # Then the stale timeouts, backing off per stay, are the same each time
    assert runs[0].timeouts == runs[1].timeouts == runs[2].timeouts
    assert runs[0].emails == runs[1].emails == runs[2].emails
    assert runs[0].timeouts.total > 0
    # and a single patient who never pays gets one past 48 hours, then after a day, three
    # days and a week (the back-off of refire_gap), then none
    event(spec, "payment")["probability"] = 0
    alone = simulate_cohort(cohort(spec=spec, size=1, days=90)).timeouts.per_day
    first = alone.index(1)
    assert 3 <= first <= 7  # screened in 0-3 days, offered a place 1-2 days later, then 48 h
    assert [day - first for day, n in enumerate(alone) if n] == [0, 1, 4, 11]
    assert sum(alone) == 4


def test_work_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from journeys_core.domain import simulation

    # Given a rule that emits an event on every timeout (so each one is played out), and a
    # limit of 5,000 events through the rules
    monkeypatch.setattr(simulation, "MAX_RULE_EVALUATIONS", 5_000)
    emits = rule(
        "rule-emit",
        {
            "name": "timeout emits a booking",
            "trigger_event": "JOURNEY_STAGE_TIMEOUT",
            "actions": [{"type": "emit_event", "params": {"type": "BOOKING_CREATED"}}],
        },
    )
    spec = copy.deepcopy(RETREAT)
    event(spec, "payment")["probability"] = 0
    # When 2,000 patients would each time out four times, or a timeline would have too many
    # events; then the request is refused instead of running past the gateway's 29 seconds
    with pytest.raises(InvalidInput, match="fewer patients"):
        simulate_cohort(cohort(spec=spec, rules=[*PLAYBOOK, emits], size=2_000, days=60))
    assert simulate_cohort(cohort(spec=spec, rules=[*PLAYBOOK, emits], size=2, days=730))
    repeated = copy.deepcopy(RETREAT)
    repeated["duration_days"] = 36_500
    repeated["events"][0]["repeat"] = {"every_days": 1}
    # (refused by the spec's own bound on events per timeline, before any simulation)
    with pytest.raises(InvalidInput, match="one timeline could hold"):
        simulate_cohort(cohort(spec=repeated, size=10_000))
