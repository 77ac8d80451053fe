"""The stale monitor's rules, without AWS: who is stuck, which rule applies by which version,
the 24-hour gate and its back-off, units on the queue, and the scheduled time."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from time import tzset
from typing import Any

import pytest

from journeys_core.builtins import load_builtin_journeys
from journeys_core.clock import format_timestamp
from journeys_core.domain.stale_monitor import (
    CLAIM_LEASE,
    GateClaim,
    StuckEnrollment,
    TimeoutRule,
    UnitMessage,
    chunks,
    gate_claim,
    hours_stale,
    is_stuck,
    new_timeout_event_id,
    refire_gap,
    scheduled_time,
    sends_email,
    stage_timeout,
    stage_watches,
)
from journeys_core.domain.timeout_emails import timeout_email

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def archetype_watches() -> list[Any]:
    builtins = load_builtin_journeys()
    return stage_watches(("org-a", b["name"], 1, b["journey_spec"]) for b in builtins)


def test_the_archetypes_bring_seven_rules_on_seven_stages() -> None:
    watches = archetype_watches()

    assert sorted((w.label, w.rules[1][0].max_hours) for w in watches) == [
        ("carta_natal.AWAITING_BIRTH_DATA", 24),
        ("despertar_8s.DEEP_DIVE", 336),
        ("despertar_8s.ONBOARDING", 168),
        ("intake.AWAITING_PAYMENT", 48),
        ("retreat_ibiza_2025.AWAITING_PAYMENT", 48),
        ("retreat_ibiza_2025.PREPARATION_PHASE", 168),
        ("yoga_urban_om.AWAITING_WAIVER", 24),
    ]


@pytest.mark.parametrize("max_hours", [24, 48, 168, 336])
def test_an_enrollment_is_stuck_only_once_it_is_older_than_max_hours(max_hours: int) -> None:
    threshold = NOW - timedelta(hours=max_hours)

    assert not is_stuck(threshold + MINUTE, max_hours, NOW)
    assert not is_stuck(threshold, max_hours, NOW)  # exactly max_hours: not yet
    assert is_stuck(threshold - MINUTE, max_hours, NOW)


@pytest.mark.parametrize(
    ("in_stage", "shown"),
    [
        (timedelta(hours=48, minutes=30), 48.5),
        (timedelta(hours=24, seconds=1), 24.0),
        (timedelta(hours=48, minutes=2), 48.0),  # 48.03: one decimal, rounded down
        (timedelta(hours=48, minutes=5), 48.1),  # 48.08: rounded up
        (timedelta(hours=1000, minutes=59), 1001.0),
        (timedelta(hours=9999), 9999.0),
        (timedelta(minutes=6), 0.1),
    ],
)
def test_hours_stale_is_the_time_in_the_stage_to_one_decimal(
    in_stage: timedelta, shown: float
) -> None:
    assert hours_stale(NOW - in_stage, NOW) == shown


def test_only_send_and_request_actions_send_email() -> None:
    actions = {
        rule.action: sends_email(rule.action) for w in archetype_watches() for rule in w.rules[1]
    }

    assert actions == {
        "request_birth_data": True,
        "send_engagement_nudge": True,
        "alert_stagnation": False,
        "send_payment_reminder": True,
        "send_preparation_reminder": True,
        "send_waiver_reminder": True,
    }


def test_several_rules_on_one_stage_apply_the_longest_one_passed() -> None:
    spec = {
        "stale_rules": [
            {"stage": "AWAITING_PAYMENT", "max_hours": 96, "action": "alert_finance"},
            {"stage": "AWAITING_PAYMENT", "max_hours": 48, "action": "send_payment_reminder"},
        ]
    }
    (watch,) = stage_watches([("org-a", "intake", 1, spec)])

    assert watch.cutoff(NOW) == NOW - timedelta(hours=48)
    assert watch.rule_for(NOW - timedelta(hours=47), 1, NOW) is None
    assert watch.rule_for(NOW - timedelta(hours=50), 1, NOW).action == "send_payment_reminder"  # type: ignore[union-attr]
    assert watch.rule_for(NOW - timedelta(hours=97), 1, NOW).action == "alert_finance"  # type: ignore[union-attr]


def test_an_enrollment_is_timed_out_by_the_rules_of_its_own_version() -> None:
    # Given v1 with a 48-hour rule on WAITING, v2 with a 12-hour rule there, v3 with none
    def spec(*hours: float) -> dict[str, Any]:
        rules = [{"stage": "WAITING", "max_hours": h, "action": f"after_{h:g}"} for h in hours]
        return {"stale_rules": rules}

    (watch,) = stage_watches(
        [("org-a", "j", 1, spec(48)), ("org-a", "j", 2, spec(12)), ("org-a", "j", 3, {})]
    )
    entered = NOW - timedelta(hours=30)

    def action(version: int, ended: bool = False) -> str | None:
        stuck = StuckEnrollment("p", entered, {}, definition_version=version, ended=ended)
        timeout = stage_timeout(watch, stuck, NOW, "t")
        return timeout.action if timeout else None

    # Then the read reaches the shortest rule of any version, each stay is judged by its own
    assert watch.cutoff(NOW) == NOW - timedelta(hours=12)
    assert (action(1), action(2), action(3)) == (None, "after_12", None)
    assert action(2, ended=True) is None  # an ended episode waits on nothing


def test_a_timeout_carries_the_rule_and_the_stay() -> None:
    (watch,) = [w for w in archetype_watches() if w.label == "carta_natal.AWAITING_BIRTH_DATA"]
    stuck = StuckEnrollment("p-1", NOW - timedelta(hours=30), {}, definition_version=1)

    timeout = stage_timeout(watch, stuck, NOW, "timeout-1")

    assert timeout is not None
    assert timeout.detail() == {
        "organization_id": "org-a",
        "patient_id": "p-1",
        "journey_key": "carta_natal",
        "stage": "AWAITING_BIRTH_DATA",
        "hours_stale": 30.0,
        "action": "request_birth_data",
        "email_subject": "🌙 Necesitamos tus datos de nacimiento para preparar tu Carta Natal",
        "event_id": "timeout-1",
    }
    assert timeout.entered_at == NOW - timedelta(hours=30)  # the stay the gate remembers


def test_a_timeout_event_id_is_fresh_each_time() -> None:
    first, second = new_timeout_event_id(), new_timeout_event_id()

    assert re.fullmatch(r"timeout-[0-9a-f]{24}", first), first
    assert first != second


RULE = TimeoutRule(max_hours=48, action="send_payment_reminder")


class TestTheGate:
    entered = format_timestamp(NOW - timedelta(hours=500))

    def gate(
        self, emitted_ago: timedelta, state: str = "published", fires: int = 1, **changes: Any
    ) -> Any:
        return {
            "entered_at": self.entered,
            "last_emitted_at": format_timestamp(NOW - emitted_ago),
            "state": state,
            "fires": fires,
            "rule_hours": 48,
            **changes,
        }

    def claim(self, gate: Any, rule: TimeoutRule = RULE, entered: str | None = None) -> Any:
        return gate_claim(gate, entered or self.entered, rule, NOW)

    def test_a_gate_never_opened_lets_the_first_timeout_through(self) -> None:
        assert self.claim(None) == GateClaim(fires=1, rule_hours=48)

    def test_it_stays_shut_for_24_hours_after_a_timeout(self) -> None:
        assert self.claim(self.gate(timedelta(hours=23))) is None
        assert self.claim(self.gate(timedelta(hours=24))) == GateClaim(fires=2, rule_hours=48)

    @pytest.mark.parametrize(("fires", "wait_hours"), [(1, 24), (2, 72), (3, 168)])
    def test_re_fires_back_off_a_day_three_days_a_week(self, fires: int, wait_hours: int) -> None:
        early = timedelta(hours=wait_hours) - MINUTE
        assert self.claim(self.gate(early, fires=fires)) is None
        due = self.claim(self.gate(timedelta(hours=wait_hours), fires=fires))
        assert due == GateClaim(fires=fires + 1, rule_hours=48)

    def test_then_the_stay_fires_no_more(self) -> None:
        assert self.claim(self.gate(timedelta(days=365), fires=4)) is None

    def test_each_rule_sets_its_own_back_off(self) -> None:
        weekly = TimeoutRule(max_hours=48, action="a", backoff_hours=(168, 168))
        once = TimeoutRule(max_hours=48, action="a", backoff_hours=())
        assert self.claim(self.gate(timedelta(hours=100)), weekly) is None
        assert self.claim(self.gate(timedelta(hours=168)), weekly) is not None
        assert self.claim(self.gate(timedelta(hours=168), fires=3), weekly) is None
        assert self.claim(self.gate(timedelta(days=30)), once) is None

    def test_a_longer_rule_starts_its_own_series_after_the_24_hour_gate(self) -> None:
        escalation = TimeoutRule(max_hours=96, action="alert_finance")
        spent = self.gate(timedelta(hours=23), fires=4)
        assert self.claim(spent, escalation) is None
        assert self.claim(
            {**spent, "last_emitted_at": format_timestamp(NOW - timedelta(hours=24))}, escalation
        ) == GateClaim(fires=1, rule_hours=96)

    def test_a_gate_from_before_the_back_off_counts_as_one_timeout(self) -> None:
        old = {
            "entered_at": self.entered,
            "last_emitted_at": format_timestamp(NOW - timedelta(hours=24)),
            "state": "published",
        }
        assert self.claim(old) == GateClaim(fires=2, rule_hours=48)

    def test_a_new_stay_in_the_stage_opens_it_at_once(self) -> None:
        moved_back = format_timestamp(NOW - timedelta(hours=50))
        spent = self.gate(timedelta(hours=1), fires=4)
        assert self.claim(spent, entered=moved_back) == GateClaim(fires=1, rule_hours=48)

    def test_an_unconfirmed_claim_is_taken_over_only_after_the_lease(self) -> None:
        inside = CLAIM_LEASE - MINUTE
        taken = self.gate(CLAIM_LEASE, "claimed", fires=2, event_id="timeout-1")
        assert self.claim(self.gate(inside, "claimed")) is None
        assert self.claim(taken) == GateClaim(fires=2, rule_hours=48, event_id="timeout-1")
        assert self.claim(self.gate(CLAIM_LEASE, "published")) is None


def test_the_simulator_and_the_gate_share_one_schedule() -> None:
    assert [refire_gap(RULE, n) for n in (1, 2, 3, 4)] == [
        timedelta(hours=24),
        timedelta(hours=72),
        timedelta(hours=168),
        None,
    ]


def test_a_unit_travels_on_the_queue_and_back_unchanged() -> None:
    (watch,) = [w for w in archetype_watches() if w.label == "retreat_ibiza_2025.AWAITING_PAYMENT"]
    message = UnitMessage(watch, NOW, {"pk": {"S": "x"}})

    back = UnitMessage.from_json(json.loads(json.dumps(message.as_json())))

    assert back == message
    assert watch.unit_id == "org-a#retreat_ibiza_2025#AWAITING_PAYMENT"
    with pytest.raises(ValueError, match="not a stale-monitor unit"):
        UnitMessage.from_json({"org": "org-a"})


def test_chunks_cut_batches_of_at_most_the_size_given() -> None:
    assert [list(c) for c in chunks(list(range(23)), 10)] == [
        list(range(10)),
        list(range(10, 20)),
        [20, 21, 22],
    ]


NO_TIME = "the scheduled event carries no 'time' (see events/stale_monitor/)"


class TestScheduledTime:
    @pytest.mark.parametrize(
        "time", ["2026-11-21T10:00:00Z", "2026-11-21T11:00:00+01:00", "2026-11-21T10:00:00+00:00"]
    )
    def test_now_is_the_time_of_the_scheduled_event_in_utc(
        self, time: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # On a machine whose clock is not on UTC, "now" is still UTC.
        monkeypatch.setenv("TZ", "America/Bogota")
        tzset()
        try:
            moment = scheduled_time({"time": time})
        finally:
            monkeypatch.undo()
            tzset()

        assert moment == NOW
        assert moment.isoformat() == "2026-11-21T10:00:00+00:00"

    @pytest.mark.parametrize(
        ("event", "message"),
        [
            ({}, NO_TIME),
            ({"time": ""}, NO_TIME),
            ({"time": 1795255200}, NO_TIME),  # epoch seconds are not what EventBridge sends
            (None, NO_TIME),
            (["2026-11-21T10:00:00Z"], NO_TIME),
            (
                {"time": "yesterday"},
                "the scheduled event's time 'yesterday' is not an ISO 8601 time",
            ),
            (
                {"time": "2026-11-21T10:00:00z"},
                "the scheduled event's time '2026-11-21T10:00:00z' is not an ISO 8601 time",
            ),
            (
                {"time": "2026-11-21T10:00:00"},
                "the scheduled event's time '2026-11-21T10:00:00' has no time zone",
            ),
        ],
    )
    def test_an_event_without_a_usable_time_is_refused_saying_why(
        self, event: Any, message: str
    ) -> None:
        with pytest.raises(ValueError) as refused:
            scheduled_time(event)
        assert str(refused.value) == message


def test_the_email_names_the_patient_the_journey_and_the_stage() -> None:
    message = timeout_email(
        "Ana", "retreat_ibiza_2025", "AWAITING_PAYMENT", "⏰ Completa tu reserva"
    )

    assert message.subject == "⏰ Completa tu reserva"
    assert "Ana" in message.text
    assert "retreat_ibiza_2025" in message.text
    assert "AWAITING_PAYMENT" in message.text
    assert timeout_email(None, "intake", "X", None).subject.startswith("A reminder")
