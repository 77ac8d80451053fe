"""The hourly stale-journey monitor on moto: the archetypes' seven rules time out exactly the
patients stuck past their threshold, at most once per 24 hours per stay, even when runs
overlap, are cut short or the bus refuses an event; and it reads stuck enrollments only.
Fanned out: the planner queues one unit per watched (organization, journey, stage) and reads
no enrollment; each unit goes through the worker function as Lambda's SQS event source hands
it over, keeps its own position and fails alone; a stay still stuck fires again after a day,
three days and a week, then stops."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from importlib import import_module
from pathlib import Path
from typing import Any

import pytest

from journeys_core.data.aws import client, dynamodb
from journeys_core.data.event_bus import PutOutcome
from journeys_core.data.patients import PatientsRepository
from journeys_core.data.system_events import TimeoutGatesRepository
from journeys_core.domain.stale_monitor import UnitMessage
from journeys_core.services import stale_monitor
from journeys_core.services.stale_fanout import run_unit
from journeys_core.services.stale_monitor import watched_units
from tests.conftest import invoke
from tests.support.bus import drain, queue_behind_rule
from tests.support.events import api_event, load_sample
from tests.support.patients import define_journey, move
from tests.support.stale_monitor import (
    NOW,
    TIMEOUT_PATTERN,
    Clock,
    MonitorContext,
    import_builtins,
    run_monitor,
    scheduled_event,
)

BUILTINS = Path(__file__).resolve().parents[2] / "shared/journeys_core/builtins"
# The archetypes' seven stale rules: (journey, stage, max_hours, action).
ARCHETYPE_RULES = [
    ("retreat_ibiza_2025", "AWAITING_PAYMENT", 48, "send_payment_reminder"),
    ("retreat_ibiza_2025", "PREPARATION_PHASE", 168, "send_preparation_reminder"),
    ("carta_natal", "AWAITING_BIRTH_DATA", 24, "request_birth_data"),
    ("despertar_8s", "ONBOARDING", 168, "send_engagement_nudge"),
    ("despertar_8s", "DEEP_DIVE", 336, "alert_stagnation"),
    ("yoga_urban_om", "AWAITING_WAIVER", 24, "send_waiver_reminder"),
    ("intake", "AWAITING_PAYMENT", 48, "send_payment_reminder"),
]
RULES_BY_STAGE = {(j, s): (m, a) for j, s, m, a in ARCHETYPE_RULES}
FOLLOW_UP = {
    "stages": ["WAITING", "DONE"],
    "stale_rules": [
        {"stage": "WAITING", "max_hours": 2, "action": "send_follow_up", "email_subject": "Hi"}
    ],
}


def subject_of(journey: str, stage: str) -> str:
    spec = json.loads((BUILTINS / f"{journey}.json").read_text())["journey_spec"]
    (rule,) = [r for r in spec["stale_rules"] if r["stage"] == stage]
    return str(rule["email_subject"])


@pytest.fixture
def clock(aws: None, monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


@pytest.fixture
def bus(aws: None) -> str:
    """A queue catching every JOURNEY_STAGE_TIMEOUT put on the service's bus."""
    return queue_behind_rule("timeouts-caught", TIMEOUT_PATTERN)


def timed_out(queue_url: str) -> list[tuple[str, str, str]]:
    return sorted(
        (e["detail"]["patient_id"], e["detail"]["journey_key"], e["detail"]["stage"])
        for e in drain(queue_url)
    )


def stored_event(org: str, event_id: str) -> dict[str, Any]:
    item = dynamodb().get_item(
        TableName=stale_monitor.get_settings().system_events_table,
        Key={"pk": {"S": f"ORG#{org}#EVENT#{event_id}"}, "sk": {"S": "EVENT"}},
    )["Item"]
    return {
        "event_type": item["event_type"]["S"],
        "status": item["status"]["S"],
        "payload": json.loads(item["payload_json"]["S"]),
    }


def test_each_archetype_rule_times_out_just_after_its_threshold_and_never_before(
    clock: Clock, bus: str
) -> None:
    import_builtins()
    for journey, stage, max_hours, _ in ARCHETYPE_RULES:
        clock.enroll(f"{journey}.{stage}.before", journey, stage, max_hours - 1 / 60)
        clock.enroll(f"{journey}.{stage}.after", journey, stage, max_hours + 1 / 60)
    clock.enroll("long-confirmed", "retreat_ibiza_2025", "CANCELLED", 2000)  # no rule there

    result = run_monitor(NOW)

    events = drain(bus)
    assert sorted(e["detail"]["patient_id"] for e in events) == sorted(
        f"{journey}.{stage}.after" for journey, stage, _, _ in ARCHETYPE_RULES
    )
    for event in events:
        detail = event["detail"]
        journey, stage = detail["journey_key"], detail["stage"]
        (max_hours, action) = RULES_BY_STAGE[(journey, stage)]
        assert event["source"] == "journeys.service"
        assert event["detail-type"] == "JOURNEY_STAGE_TIMEOUT"
        assert detail == {
            "organization_id": "org-a",
            "patient_id": f"{journey}.{stage}.after",
            "journey_key": journey,
            "stage": stage,
            "hours_stale": round(max_hours + 1 / 60, 1),
            "action": action,
            "email_subject": subject_of(journey, stage),
            "event_id": detail["event_id"],
        }
        recorded = stored_event("org-a", detail["event_id"])
        assert recorded == {
            "event_type": "JOURNEY_STAGE_TIMEOUT",
            "status": "emitted",
            "payload": {k: detail[k] for k in detail if k not in ("organization_id", "event_id")},
        }
    assert result["processed"] == 7
    assert result["emitted"] == 7
    assert result["rules_triggered"] == {f"{j}.{s}": 1 for j, s, _, _ in ARCHETYPE_RULES}
    assert result["complete"] is True


def test_a_second_run_within_24_hours_emits_nothing_for_the_same_stays(
    clock: Clock, bus: str
) -> None:
    import_builtins()
    for n in range(3):
        clock.enroll(f"p-{n}", "intake", "AWAITING_PAYMENT", 50)
    run_monitor(NOW)
    assert len(drain(bus)) == 3

    later = [run_monitor(NOW + timedelta(hours=h)) for h in (1, 12, 23.9)]

    assert drain(bus) == []
    assert [r["emitted"] for r in later] == [0, 0, 0]
    assert [r["processed"] for r in later] == [3, 3, 3]  # still stuck: read, not emitted


def test_a_run_25_hours_later_emits_again_for_those_still_stuck(clock: Clock, bus: str) -> None:
    import_builtins()
    clock.enroll("stays", "intake", "AWAITING_PAYMENT", 49)
    clock.enroll("leaves", "intake", "AWAITING_PAYMENT", 49)
    run_monitor(NOW)
    first = {e["detail"]["patient_id"]: e["detail"] for e in drain(bus)}
    clock.now = NOW + timedelta(hours=2)
    assert move("leaves", "CANCELLED", key="intake").status == 200

    run_monitor(NOW + timedelta(hours=25))

    (again,) = [e["detail"] for e in drain(bus)]
    assert again["patient_id"] == "stays"
    assert again["hours_stale"] == 49 + 25
    assert again["event_id"] != first["stays"]["event_id"]


def test_moving_to_another_stage_and_back_starts_the_clock_again(clock: Clock, bus: str) -> None:
    define_journey("follow-up", FOLLOW_UP)
    clock.enroll("p-1", "follow-up", "WAITING", 3)
    run_monitor(NOW)
    assert timed_out(bus) == [("p-1", "follow-up", "WAITING")]
    clock.now = NOW + timedelta(minutes=10)
    assert move("p-1", "DONE", key="follow-up").status == 200
    clock.now = NOW + timedelta(minutes=20)
    assert move("p-1", "WAITING", key="follow-up").status == 200

    run_monitor(NOW + timedelta(hours=2))  # 1 h 40 min into the new stay: not stuck
    assert timed_out(bus) == []
    run_monitor(NOW + timedelta(hours=2, minutes=21))  # 2 h 1 min: stuck again, 2 h after

    assert timed_out(bus) == [("p-1", "follow-up", "WAITING")]


def test_two_overlapping_runs_emit_each_timeout_once(
    clock: Clock, bus: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import_builtins()
    for n in range(40):
        clock.enroll(f"p-{n:02d}", "intake", "AWAITING_PAYMENT", 50 + n)
        clock.enroll(f"q-{n:02d}", "yoga_urban_om", "AWAITING_WAIVER", 30 + n)
    # Force the overlap: each run reads a batch of gates, then waits until the other has
    # read the same batch, so both find every gate open and both try to claim it.
    both_read = threading.Barrier(2, timeout=60)
    reads: Counter[str] = Counter()
    read_gates = TimeoutGatesRepository.read_timeout_gates

    def read_then_wait(self: TimeoutGatesRepository, gates: Any) -> Any:
        stored = read_gates(self, gates)
        reads[threading.current_thread().name] += 1
        both_read.wait()
        return stored

    monkeypatch.setattr(TimeoutGatesRepository, "read_timeout_gates", read_then_wait)
    results: list[Any] = []

    def run() -> None:
        # One scheduled run's units, delivered twice at once (two workers on the same units)
        for unit in watched_units():
            results.append(run_unit(UnitMessage(unit, NOW)))

    threads = [threading.Thread(target=run, name=f"run-{n}") for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert reads == {"run-0": 2, "run-1": 2}  # one batch per unit, read by both workers
    emitted = Counter(patient for patient, _, _ in timed_out(bus))
    assert len(emitted) == 80
    assert set(emitted.values()) == {1}
    assert sum(r.emitted for r in results) == 80
    assert sum(r.processed for r in results) == 160


def test_a_unit_short_of_time_stops_cleanly_and_its_continuation_does_the_rest(
    clock: Clock, bus: str
) -> None:
    define_journey("follow-up", FOLLOW_UP)
    for n in range(130):
        clock.enroll(f"p-{n:03d}", "follow-up", "WAITING", 3 + n / 60)
    # Time at the start, for the first Query and the first 100 enrollments, then too little.
    short = MonitorContext([300_000, 300_000, 300_000, 1_000])

    run = run_monitor(NOW, short)

    # the worker saved its position and queued the unit's continuation, which finished it
    assert (run["units"], run["invocations"], run["processed"], run["emitted"]) == (
        1,
        2,
        130,
        130,
    )
    emitted = Counter(patient for patient, _, _ in timed_out(bus))
    assert len(emitted) == 130
    assert set(emitted.values()) == {1}
    # The next hour's run reads the unit from its start again, emitting nothing new.
    later = run_monitor(NOW + timedelta(hours=1))
    assert (later["complete"], later["processed"], later["emitted"]) == (True, 130, 0)


def test_a_timeout_the_bus_refused_goes_out_on_a_later_run_with_its_event_id(
    clock: Clock, bus: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    define_journey("follow-up", FOLLOW_UP)
    clock.enroll("p-1", "follow-up", "WAITING", 3)
    with monkeypatch.context() as refusing:
        refusing.setattr(
            stale_monitor,
            "put_events",
            lambda bus_name, entries: [PutOutcome(None, "InternalFailure: retry")] * len(entries),
        )
        refused = run_monitor(NOW)
    assert refused["emitted"] == 0
    table = stale_monitor.get_settings().system_events_table
    (event_id,) = [
        item["event_id"]["S"]
        for item in dynamodb().scan(TableName=table)["Items"]  # the test looks, not the service
        if item["sk"]["S"] == "EVENT"
    ]
    assert stored_event("org-a", event_id)["status"] == "failed"

    within_lease = run_monitor(NOW + timedelta(minutes=10))  # the claim may still be alive
    after_lease = run_monitor(NOW + timedelta(hours=1))

    assert within_lease["emitted"] == 0
    assert after_lease["emitted"] == 1
    (event,) = drain(bus)
    assert event["detail"]["event_id"] == event_id
    assert stored_event("org-a", event_id)["status"] == "emitted"


@pytest.fixture
def query_items(ddb_calls: Counter[str]) -> Iterator[Counter[str]]:
    """Items returned by the service's Queries."""
    counts: Counter[str] = Counter()

    def count(parsed: dict[str, Any], **_: Any) -> None:
        counts["items"] += int(parsed.get("Count", 0))

    dynamodb().meta.events.register("after-call.dynamodb.Query", count)
    yield counts


def test_a_run_reads_only_stuck_enrollments_within_two_dynamodb_calls_each(
    clock: Clock, bus: str, ddb_calls: Counter[str], query_items: Counter[str]
) -> None:
    define_journey("follow-up", FOLLOW_UP)
    for n in range(45):
        clock.enroll(f"stuck-{n:02d}", "follow-up", "WAITING", 3 + n / 60)
    for n in range(40):
        clock.enroll(f"fresh-{n:02d}", "follow-up", "WAITING", 1 + n / 60)  # under 2 hours
    put_events_calls: list[int] = []
    client("events").meta.events.register(
        "before-parameter-build.events.PutEvents",
        lambda params, **_: put_events_calls.append(len(params["Entries"])),
    )
    ddb_calls.clear()
    query_items.clear()

    result = run_monitor(NOW)

    assert result["emitted"] == 45
    assert query_items["items"] == 45 + 1  # the stuck enrollments and the one definition
    assert ddb_calls["Scan"] == 0
    assert sum(ddb_calls.values()) <= 2 * 45
    assert put_events_calls == [10, 10, 10, 10, 5]


def test_active_journeys_are_watched_by_the_rules_of_every_version_patients_follow(
    clock: Clock,
) -> None:
    define_journey("follow-up", FOLLOW_UP)
    clock.enroll("p-1", "follow-up", "WAITING", 30)  # pinned to version 1, which has the rule
    where: dict[str, Any] = {"path_params": {"name_or_id": "follow-up"}, "org": "org-a"}

    def update(body: dict[str, Any]) -> None:
        result = invoke("journeys", api_event("journeys/update-journey", body=body, **where))
        assert result.status == 200, result.body

    def stuck_seen(hours_later: int) -> int:
        return int(run_monitor(NOW + timedelta(hours=hours_later))["processed"])

    update({"is_active": False})
    inactive = stuck_seen(0)
    update({"is_active": True, "journey_spec": {"stages": ["WAITING", "DONE"]}})
    current_without_rules = stuck_seen(1)  # p-1 still follows version 1
    update({"journey_spec": FOLLOW_UP})
    watched = stuck_seen(2)
    # a journey patients walked is retired, never deleted (its log cites its versions)
    assert invoke("journeys", api_event("journeys/delete-journey", **where)).status == 409
    update({"is_active": False})
    retired = stuck_seen(3)

    assert (inactive, current_without_rules, watched, retired) == (0, 1, 1, 0)


V1_RULE_ON_A = {
    "stages": ["A", "B", "DONE"],
    "transitions": {"A": ["B", "DONE"], "B": ["A", "DONE"]},
    "stale_rules": [{"stage": "A", "max_hours": 2, "action": "v1_nudge_a"}],
}
V2_RULE_ON_B = {
    "stages": ["A", "B", "DONE"],
    "transitions": {"A": ["B", "DONE"], "B": ["A", "DONE"]},
    "stale_rules": [{"stage": "B", "max_hours": 2, "action": "v2_nudge_b"}],
}


def test_each_patient_times_out_by_the_stale_rules_of_its_pinned_version(
    clock: Clock, bus: str
) -> None:
    # Given v1 with a rule on A only; patients pinned to v1 in A and in B
    define_journey("pinned", V1_RULE_ON_A)
    clock.enroll("v1-in-a", "pinned", "A", 30)
    clock.enroll("v1-in-b", "pinned", "A", 40)
    clock.now = NOW - timedelta(hours=30)
    assert move("v1-in-b", "B", key="pinned").status == 200
    # When v2 moves the rule from A to B, and patients enroll on v2 in A and in B
    result = invoke(
        "journeys",
        api_event(
            "journeys/update-journey",
            path_params={"name_or_id": "pinned"},
            body={"journey_spec": V2_RULE_ON_B},
            org="org-a",
        ),
    )
    assert result.body["version"] == 2
    clock.enroll("v2-in-a", "pinned", "A", 30)
    clock.enroll("v2-in-b", "pinned", "A", 40)
    clock.now = NOW - timedelta(hours=30)
    assert move("v2-in-b", "B", key="pinned").status == 200
    clock.now = NOW

    run = run_monitor(NOW)

    # Then v1's rule reaches v1's patient in A, v2's rule v2's patient in B, nobody else
    actions = sorted((e["detail"]["patient_id"], e["detail"]["action"]) for e in drain(bus))
    assert actions == [("v1-in-a", "v1_nudge_a"), ("v2-in-b", "v2_nudge_b")]
    assert (run["processed"], run["emitted"]) == (2, 2)


def test_a_patient_whose_episode_ended_is_not_stuck(clock: Clock, bus: str) -> None:
    # Given a rule on the final stage too (a follow-up after the end, say)
    spec = {
        "stages": ["WAITING", "DONE"],
        "transitions": {"WAITING": ["DONE"]},
        "stale_rules": [
            {"stage": "WAITING", "max_hours": 2, "action": "nudge"},
            {"stage": "DONE", "max_hours": 2, "action": "nudge"},
        ],
    }
    define_journey("ends", spec)
    clock.enroll("finished", "ends", "WAITING", 40)
    clock.now = NOW - timedelta(hours=30)
    assert move("finished", "DONE", key="ends").status == 200
    clock.enroll("waiting", "ends", "WAITING", 30)

    run_monitor(NOW)

    assert timed_out(bus) == [("waiting", "ends", "WAITING")]


# -- fanned out: units, their positions and failures, and the back-off -------------------


def waiting_spec(**rule: Any) -> dict[str, Any]:
    return {
        "stages": ["WAITING", "DONE"],
        "stale_rules": [{"stage": "WAITING", "max_hours": 2, "action": "send_nudge", **rule}],
    }


def test_the_planner_queues_one_unit_per_watched_stage_and_reads_no_enrollment(
    clock: Clock, ddb_calls: Counter[str]
) -> None:
    import_builtins("org-a")
    import_builtins("org-b")
    for n in range(5):
        clock.enroll(f"p-{n}", "intake", "AWAITING_PAYMENT", 50)
    ddb_calls.clear()

    plan = import_module("functions.stale_monitor.app").handler(
        scheduled_event(NOW), MonitorContext()
    )

    # seven rules on seven stages in each organization; one Query and one BatchGetItem
    assert plan == {"units": 14, "queued": 14, "organizations": 2}
    assert dict(ddb_calls) == {"Query": 1, "BatchGetItem": 1}


@pytest.mark.parametrize(
    ("rule", "fires_at_hours"),
    [
        ({}, [0, 24, 96, 264]),  # then a day, three days and a week later, then no more
        ({"backoff_hours": [48]}, [0, 48]),
        ({"backoff_hours": []}, [0]),
    ],
)
def test_a_stay_still_stuck_fires_again_backing_off_then_stops(
    clock: Clock, bus: str, rule: dict[str, Any], fires_at_hours: list[int]
) -> None:
    define_journey("wait", waiting_spec(**rule))
    clock.enroll("p-1", "wait", "WAITING", 3)

    # each hour it should fire, the hour before, and long after the last
    last = fires_at_hours[-1]
    probes = sorted({*fires_at_hours, *(h - 1 for h in fires_at_hours if h), last + 168, 720})
    fired = [h for h in probes if run_monitor(NOW + timedelta(hours=h))["emitted"]]

    assert fired == fires_at_hours
    assert len(drain(bus)) == len(fires_at_hours)


def test_a_failing_unit_is_dead_lettered_alone_and_the_others_go_on(
    clock: Clock, bus: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    define_journey("broken", waiting_spec())
    define_journey("healthy", waiting_spec())
    clock.enroll("p-broken", "broken", "WAITING", 3)
    clock.enroll("p-healthy", "healthy", "WAITING", 3)
    stuck_enrollments = PatientsRepository.stuck_enrollments

    def failing_for_broken(self: PatientsRepository, org: str, key: str, *a: Any, **k: Any) -> Any:
        if key == "broken":
            raise RuntimeError("the broken unit's index is unavailable")
        return stuck_enrollments(self, org, key, *a, **k)

    monkeypatch.setattr(PatientsRepository, "stuck_enrollments", failing_for_broken)

    run = run_monitor(NOW)

    assert [e["detail"]["patient_id"] for e in drain(bus)] == ["p-healthy"]
    assert (run["units"], run["emitted"], run["failed"], run["dead_letters"]) == (2, 1, 3, 1)


def test_a_unit_delivered_again_after_it_finished_reads_nothing(
    clock: Clock, bus: str, ddb_calls: Counter[str]
) -> None:
    define_journey("wait", waiting_spec())
    clock.enroll("p-1", "wait", "WAITING", 3)
    (unit,) = watched_units()
    first = run_unit(UnitMessage(unit, NOW))
    ddb_calls.clear()

    again = run_unit(UnitMessage(unit, NOW))  # SQS delivers at least once
    next_hour = run_unit(UnitMessage(unit, NOW + timedelta(hours=1)))

    assert (first.emitted, again.processed, again.emitted) == (1, 0, 0)
    assert next_hour.processed == 1  # a new run reads the unit again (the gate holds)
    assert next_hour.emitted == 0
    assert len(drain(bus)) == 1


def test_the_sample_unit_message_times_out_a_stuck_patient(clock: Clock, bus: str) -> None:
    import_builtins("demo")
    clock.enroll("p-demo", "retreat_ibiza_2025", "AWAITING_PAYMENT", 50, org="demo")
    worker = import_module("functions.stale_worker.app")

    answer = worker.handler(load_sample("stale_worker/check-unit"), MonitorContext())

    assert answer == {"batchItemFailures": []}
    (event,) = drain(bus)
    assert (event["detail"]["patient_id"], event["detail"]["hours_stale"]) == ("p-demo", 50.0)


def test_a_journey_indexed_by_an_earlier_release_is_watched_on_its_current_version(
    clock: Clock, bus: str
) -> None:
    # Given a definition as an earlier release indexed it: the current item, not its versions
    define_journey("follow-up", FOLLOW_UP)
    clock.enroll("p-1", "follow-up", "WAITING", 3)
    table = stale_monitor.get_settings().definitions_table
    versions = dynamodb().query(
        TableName=table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :v)",
        ExpressionAttributeValues={":pk": {"S": "ORG#org-a"}, ":v": {"S": "VERSION#"}},
    )["Items"]
    for key in [{"pk": v["pk"], "sk": v["sk"]} for v in versions]:
        dynamodb().update_item(TableName=table, Key=key, UpdateExpression="REMOVE stale_pk")
    dynamodb().update_item(
        TableName=table,
        Key={"pk": {"S": "ORG#org-a"}, "sk": {"S": "JOURNEY#follow-up"}},
        UpdateExpression="SET stale_pk = :pk, stale_sk = :sk",
        ExpressionAttributeValues={
            ":pk": {"S": "STALE"},
            ":sk": {"S": "ORG#org-a#JOURNEY#follow-up"},
        },
    )

    run = run_monitor(NOW)

    assert (run["units"], run["emitted"]) == (1, 1)
    assert timed_out(bus) == [("p-1", "follow-up", "WAITING")]
