"""The automation engine on moto, wired as deployed: a domain event put on the bus with boto3
is routed by template.yaml's rule to the automation queue, read from it and handed to the
automation function exactly as Lambda's SQS event source does; the function runs the
organization's rules (here the default playbook over the built-in journeys)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from journeys_core.data.aws import dynamodb
from journeys_core.data.warm_cache import warm_cache
from tests.conftest import invoke
from tests.support.automation import (
    Pipeline,
    catch_on_bus,
    import_builtin_journeys,
    import_playbook,
    install_pipeline,
    process,
    publish_stage_changes,
    rules_api,
    sent_emails,
    system_event,
    verify_sender,
)
from tests.support.bus import drain as caught
from tests.support.events import api_event
from tests.support.patients import define_journey, full_history, get_patient, move, put_patient

KEY = "intake"  # built-in archetype: SCREENING_PENDING … BLOCKED_HIGH_RISK (locked) … CANCELLED


@pytest.fixture
def pipeline(aws: None) -> Iterator[Pipeline]:
    """Org ``org-a`` with the built-in journeys and the default playbook installed."""
    import_builtin_journeys()
    import_playbook()
    verify_sender()
    yield install_pipeline()


def enrolled(patient_id: str, stage: str, **profile: Any) -> None:
    """A patient a member of staff enrolled in the intake journey at ``stage``."""
    if profile:
        assert put_patient(patient_id, profile).status == 201
    result = move(patient_id, stage, key=KEY, sub="nurse-7")
    assert result.status == 200, result.body


def stage_of(patient_id: str, key: str = KEY) -> str:
    return str(get_patient(patient_id).body["journey_status"][key])


def domain_event(
    patient_id: str, event_id: str, org: str = "org-a", **payload: Any
) -> dict[str, Any]:
    return {
        "organization_id": org,
        "patient_id": patient_id,
        "event_id": event_id,
        "payload": payload,
    }


# -- the document's table, end to end --------------------------------------------------------

TABLE = [
    ("FORM_SUBMISSION_COMPLETED", "SCREENING_PENDING", {"form_id": "f-1"}, "SCREENING_COMPLETED"),
    ("PAYMENT_SUCCEEDED", "AWAITING_PAYMENT", {"amount": 120}, "CONFIRMED"),
    ("RISK_ANALYSIS_COMPLETED", "SCREENING_PENDING", {"risk_level": "high"}, "BLOCKED_HIGH_RISK"),
    (
        "RISK_ANALYSIS_COMPLETED",
        "SCREENING_COMPLETED",
        {"risk_level": "critical"},
        "BLOCKED_HIGH_RISK",
    ),
    ("BOOKING_CANCELLED", "AWAITING_PAYMENT", {"booking_id": "bk-1"}, "CANCELLED"),
]


@pytest.mark.parametrize(("trigger", "start", "payload", "expected"), TABLE)
def test_each_trigger_of_the_table_moves_the_patient_and_announces_it(
    pipeline: Pipeline, trigger: str, start: str, payload: dict[str, Any], expected: str
) -> None:
    enrolled("p-1", start)
    listener = catch_on_bus(pipeline.bus, ["JOURNEY_STAGE_CHANGED"])

    pipeline.put(
        trigger, domain_event("p-1", "evt-table-1", **payload), source="integration.partner"
    )
    invocations = pipeline.drain()

    assert invocations == 1
    assert pipeline.deliveries == [{"batchItemFailures": []}]
    assert stage_of("p-1") == expected
    enrollment_entry, automated = full_history("p-1", KEY)
    assert (automated["from_stage"], automated["to_stage"]) == (start, expected)
    assert automated["actor"] == "automation"
    assert automated["trigger_event_id"] == "evt-table-1"
    assert automated["trigger_event_type"] == trigger
    assert enrollment_entry["trigger_event_id"] is None
    recorded = system_event("evt-table-1")
    assert recorded.status == "processed"
    assert recorded.payload == payload
    assert [r["outcome"] for r in recorded.results if r["journey_key"] == KEY] == ["moved"]

    assert publish_stage_changes() == {"batchItemFailures": []}
    announced = [e["detail"] for e in caught(listener)]
    assert [(d["to_stage"], d["trigger_event_id"]) for d in announced] == [
        (start, None),
        (expected, "evt-table-1"),
    ]


def test_a_stage_timeout_sends_the_reminder_email_and_moves_nothing(pipeline: Pipeline) -> None:
    enrolled("p-1", "AWAITING_PAYMENT", display_name="Ana", email="ana@example.org")
    timeout = {
        **domain_event("p-1", "timeout-p-1-1"),
        "journey_key": KEY,
        "stage": "AWAITING_PAYMENT",
        "hours_stale": 49,
        "action": "send_payment_reminder",
        "email_subject": "Completa el pago de tu primera consulta",
    }

    pipeline.put("JOURNEY_STAGE_TIMEOUT", timeout, source="journeys.service")
    pipeline.drain()

    (email,) = sent_emails()
    assert email.to == ["ana@example.org"]
    assert email.subject == "Completa el pago de tu primera consulta"
    assert "AWAITING_PAYMENT" in email.body and "49" in email.body
    assert "{" not in email.body
    assert stage_of("p-1") == "AWAITING_PAYMENT"
    assert len(full_history("p-1", KEY)) == 1
    (result,) = system_event("timeout-p-1-1").results
    assert (result["action"], result["outcome"]) == ("send_email", "sent")


def test_a_timeout_keeps_what_the_monitor_and_the_notifier_recorded_on_it(
    pipeline: Pipeline,
) -> None:
    from journeys_core.clock import utc_now
    from journeys_core.data import repositories
    from journeys_core.models.system_event import SystemEvent

    enrolled("p-1", "AWAITING_PAYMENT", email="ana@example.org")
    detail = {**domain_event("p-1", "timeout-shared"), "journey_key": KEY, "stage": "S"}
    events = repositories.system_events()
    events.record(
        SystemEvent(
            event_id="timeout-shared",
            organization_id="org-a",
            event_type="JOURNEY_STAGE_TIMEOUT",
            patient_id="p-1",
            source="journeys.service",
            received_at=utc_now(),
            status="emitted",
        )
    )  # as the stale monitor records its timeouts
    events.add_result("org-a", "timeout-shared", {"step": "email", "outcome": "sent"})

    pipeline.put("JOURNEY_STAGE_TIMEOUT", detail, source="journeys.service")
    pipeline.drain()

    recorded = system_event("timeout-shared")
    assert [r.get("step") or r.get("action") for r in recorded.results] == ["email", "send_email"]
    assert recorded.status == "processed"


def test_a_timeout_of_another_journey_sends_only_that_journeys_reminder(
    pipeline: Pipeline,
) -> None:
    enrolled("p-1", "AWAITING_PAYMENT", email="ana@example.org")
    timeout = {
        **domain_event("p-1", "timeout-p-1-yoga"),
        "journey_key": "yoga_urban_om",
        "stage": "AWAITING_WAIVER",
        "hours_stale": 30,
        "email_subject": "Firma tu exención",
    }

    pipeline.put("JOURNEY_STAGE_TIMEOUT", timeout)
    pipeline.drain()

    assert [e.subject for e in sent_emails()] == ["Firma tu exención"]


def test_a_reminder_for_a_patient_without_an_email_is_skipped_and_said_so(
    pipeline: Pipeline,
) -> None:
    enrolled("p-1", "AWAITING_PAYMENT")
    timeout = {**domain_event("p-1", "timeout-p-1-2"), "journey_key": KEY, "stage": "X"}

    pipeline.put("JOURNEY_STAGE_TIMEOUT", timeout)
    pipeline.drain()

    assert sent_emails() == []
    (result,) = system_event("timeout-p-1-2").results
    assert result["outcome"] == "skipped"
    assert "no email address" in result["detail"]


def test_a_low_risk_analysis_matches_no_rule_and_changes_no_stage(pipeline: Pipeline) -> None:
    enrolled("p-1", "SCREENING_PENDING")

    pipeline.put("RISK_ANALYSIS_COMPLETED", domain_event("p-1", "risk-low", risk_level="low"))
    pipeline.drain()

    assert stage_of("p-1") == "SCREENING_PENDING"
    recorded = system_event("risk-low")
    assert (recorded.status, recorded.results) == ("processed", [])


def test_an_event_without_its_own_id_is_known_by_its_eventbridge_id(pipeline: Pipeline) -> None:
    enrolled("p-1", "SCREENING_PENDING")
    detail = domain_event("p-1", "unused")
    del detail["event_id"]

    bus_id = pipeline.put("FORM_SUBMISSION_COMPLETED", detail)
    pipeline.drain()

    assert full_history("p-1", KEY)[-1]["trigger_event_id"] == bus_id
    assert system_event(bus_id).event_type == "FORM_SUBMISSION_COMPLETED"


# -- exactly once ------------------------------------------------------------------------------


def test_the_same_event_published_three_times_moves_once_and_logs_once(
    pipeline: Pipeline,
) -> None:
    enrolled("p-1", "SCREENING_PENDING")
    detail = domain_event("p-1", "form-42")

    for _ in range(3):
        pipeline.put("FORM_SUBMISSION_COMPLETED", detail)
    pipeline.drain()

    entries = full_history("p-1", KEY)
    assert [e["to_stage"] for e in entries] == ["SCREENING_PENDING", "SCREENING_COMPLETED"]
    assert all(d == {"batchItemFailures": []} for d in pipeline.deliveries)


def test_the_same_message_delivered_three_times_changes_nothing_after_the_first(
    pipeline: Pipeline,
) -> None:
    enrolled("p-1", "SCREENING_PENDING")
    pipeline.put("FORM_SUBMISSION_COMPLETED", domain_event("p-1", "form-43"))
    messages = pipeline.receive()

    responses = [process(pipeline.lambda_event(messages)) for _ in range(3)]

    assert responses == [{"batchItemFailures": []}] * 3
    assert len(full_history("p-1", KEY)) == 2
    assert stage_of("p-1") == "SCREENING_COMPLETED"


def test_an_event_redelivered_after_its_idempotency_record_expired_changes_nothing(
    pipeline: Pipeline,
) -> None:
    import os

    import boto3

    enrolled("p-1", "SCREENING_PENDING", email="ana@example.org")
    rules_api(
        "create-rule",
        body={
            "name": "thank for the form",
            "trigger_event": "FORM_SUBMISSION_COMPLETED",
            "actions": [{"type": "send_email", "params": {"subject": "Gracias", "template": "."}}],
        },
    )
    pipeline.put("FORM_SUBMISSION_COMPLETED", domain_event("p-1", "form-old"))
    pipeline.drain()
    table = os.environ["IDEMPOTENCY_TABLE_NAME"]
    ddb = boto3.client("dynamodb")
    for item in ddb.scan(TableName=table)["Items"]:  # as DynamoDB's TTL would, days later
        ddb.delete_item(TableName=table, Key={"id": item["id"]})

    pipeline.put("FORM_SUBMISSION_COMPLETED", domain_event("p-1", "form-old"))
    pipeline.drain()

    assert len(full_history("p-1", KEY)) == 2
    assert len(sent_emails()) == 1


def test_the_same_event_id_in_another_organization_is_another_event(pipeline: Pipeline) -> None:
    import_builtin_journeys("org-b")
    import_playbook("org-b")
    enrolled("p-1", "SCREENING_PENDING")
    assert move("p-1", "SCREENING_PENDING", key=KEY, org="org-b").status == 200

    pipeline.put("FORM_SUBMISSION_COMPLETED", domain_event("p-1", "form-7"))
    pipeline.put("FORM_SUBMISSION_COMPLETED", domain_event("p-1", "form-7", org="org-b"))
    pipeline.drain()

    assert stage_of("p-1") == "SCREENING_COMPLETED"
    org_b = get_patient("p-1", org="org-b").body
    assert org_b["journey_status"][KEY] == "SCREENING_COMPLETED"


def test_a_poison_message_is_dead_lettered_while_its_batch_mates_succeed(
    pipeline: Pipeline,
) -> None:
    for patient in ("p-1", "p-2"):
        enrolled(patient, "SCREENING_PENDING")
    pipeline.put("FORM_SUBMISSION_COMPLETED", domain_event("p-1", "form-p1"))
    poison_id = pipeline.put(
        "FORM_SUBMISSION_COMPLETED", {"organization_id": "org-a", "payload": {}}
    )  # no patient: no retry will make it a domain event
    pipeline.put("FORM_SUBMISSION_COMPLETED", domain_event("p-2", "form-p2"))

    invocations = pipeline.drain()

    assert stage_of("p-1") == stage_of("p-2") == "SCREENING_COMPLETED"
    assert len(full_history("p-1", KEY)) == len(full_history("p-2", KEY)) == 2
    first, *retries = pipeline.deliveries
    assert len(first["batchItemFailures"]) == 1
    assert invocations == pipeline.max_receive_count
    assert all(len(r["batchItemFailures"]) == 1 for r in retries)
    (dead,) = pipeline.dead_letters()
    assert poison_id in dead["Body"]
    assert pipeline.receive() == []


def test_a_refused_move_is_recorded_on_the_event_and_not_retried(pipeline: Pipeline) -> None:
    enrolled("p-1", "SCREENING_PENDING")

    pipeline.put("PAYMENT_SUCCEEDED", domain_event("p-1", "pay-early", amount=50))
    invocations = pipeline.drain()

    assert invocations == 1
    assert pipeline.deliveries == [{"batchItemFailures": []}]
    assert stage_of("p-1") == "SCREENING_PENDING"
    (refused,) = [r for r in system_event("pay-early").results if r["journey_key"] == KEY]
    assert refused["outcome"] == "refused"
    assert "'SCREENING_PENDING' -> 'CONFIRMED'" in refused["detail"]


def test_a_refused_event_still_counts_for_the_journeys_guards(pipeline: Pipeline) -> None:
    enrolled("p-1", "SCREENING_PENDING")
    pipeline.put("PAYMENT_SUCCEEDED", domain_event("p-1", "pay-early", amount=50))
    pipeline.drain()
    move("p-1", "SCREENING_COMPLETED", key=KEY)
    move("p-1", "AWAITING_PAYMENT", key=KEY)

    result = move("p-1", "CONFIRMED", key=KEY)  # guard: requires PAYMENT_SUCCEEDED

    assert result.status == 200, result.body
    assert stage_of("p-1") == "CONFIRMED"
    last = full_history("p-1", KEY)[-1]
    assert (last["from_stage"], last["to_stage"]) == ("AWAITING_PAYMENT", "CONFIRMED")


# -- clinical blocking -----------------------------------------------------------------------


def test_a_high_risk_patient_stays_blocked_until_a_person_unblocks_with_a_reason(
    pipeline: Pipeline,
) -> None:
    enrolled("p-1", "SCREENING_PENDING")
    pipeline.put("RISK_ANALYSIS_COMPLETED", domain_event("p-1", "risk-1", risk_level="high"))
    pipeline.drain()
    assert stage_of("p-1") == "BLOCKED_HIGH_RISK"

    pipeline.put("FORM_SUBMISSION_COMPLETED", domain_event("p-1", "form-after-block"))
    pipeline.put("BOOKING_CANCELLED", domain_event("p-1", "cancel-after-block"))
    pipeline.put("PAYMENT_SUCCEEDED", domain_event("p-1", "pay-after-block"))
    pipeline.drain()

    assert stage_of("p-1") == "BLOCKED_HIGH_RISK"
    for event_id in ("form-after-block", "cancel-after-block"):
        (refused,) = [r for r in system_event(event_id).results if r["journey_key"] == KEY]
        assert refused["outcome"] == "refused"
        assert "locked stage" in refused["detail"]
    assert move("p-1", "SCREENING_COMPLETED", key=KEY).status == 409  # no reason

    unblocked = move("p-1", "SCREENING_COMPLETED", key=KEY, reason="reviewed by Dr. Ruiz")

    assert unblocked.status == 200
    assert stage_of("p-1") == "SCREENING_COMPLETED"
    last = full_history("p-1", KEY)[-1]
    assert (last["from_stage"], last["to_stage"]) == ("BLOCKED_HIGH_RISK", "SCREENING_COMPLETED")
    assert last["reason"] == "reviewed by Dr. Ruiz"
    pipeline.put("BOOKING_CANCELLED", domain_event("p-1", "cancel-after-review"))
    pipeline.drain()
    assert stage_of("p-1") == "CANCELLED"


# -- emitted events --------------------------------------------------------------------------


def test_an_emitted_event_sets_off_the_rules_of_its_own_type(pipeline: Pipeline) -> None:
    created = rules_api(
        "create-rule",
        body={
            "name": "critical risk cancels the booking",
            "trigger_event": "RISK_ANALYSIS_COMPLETED",
            "conditions": [{"path": "payload.risk_level", "op": "eq", "value": "critical"}],
            "actions": [{"type": "emit_event", "params": {"type": "BOOKING_CANCELLED"}}],
            "priority": 5,
        },
    )
    assert created.status == 201, created.body
    enrolled("p-1", "AWAITING_PAYMENT")

    pipeline.put("RISK_ANALYSIS_COMPLETED", domain_event("p-1", "risk-9", risk_level="critical"))
    pipeline.drain()

    assert stage_of("p-1") == "CANCELLED"
    (emitted,) = [r for r in system_event("risk-9").results if r["action"] == "emit_event"]
    assert emitted["outcome"] == "emitted"
    assert full_history("p-1", KEY)[-1]["trigger_event_id"] == emitted["detail"]


def test_rules_that_set_each_other_off_stop_after_a_few_links(pipeline: Pipeline) -> None:
    loop = (("PAYMENT_FAILED", "BOOKING_CREATED"), ("BOOKING_CREATED", "PAYMENT_FAILED"))
    for trigger, emits in loop:
        body = {
            "name": f"{trigger} -> {emits}",
            "trigger_event": trigger,
            "actions": [{"type": "emit_event", "params": {"type": emits}}],
        }
        assert rules_api("create-rule", body=body).status == 201

    pipeline.put("PAYMENT_FAILED", domain_event("p-1", "loop-0"))
    invocations = pipeline.drain()

    assert invocations == 4  # the event, then three emitted links
    chain, event_id = [], "loop-0"
    while event_id:
        (result,) = system_event(event_id).results
        chain.append(result["outcome"])
        event_id = result["detail"] if result["outcome"] == "emitted" else ""
    assert chain == ["emitted", "emitted", "emitted", "refused"]
    assert "more than 3 events in a chain" in result["detail"]


# -- cost ------------------------------------------------------------------------------------


def _calls_by_table() -> Counter[tuple[str, str]]:
    counts: Counter[tuple[str, str]] = Counter()

    def count(model: Any, params: dict[str, Any], **_: Any) -> None:
        tables = [params.get("TableName")] if "TableName" in params else []
        for item in params.get("TransactItems", []):
            tables += [action["TableName"] for action in item.values()]
        counts[(model.name, "+".join(sorted({t for t in tables if t})))] += 1

    dynamodb().meta.events.register("before-parameter-build.dynamodb", count)
    return counts


def test_a_processed_event_costs_four_dynamodb_calls_plus_its_system_event(
    pipeline: Pipeline,
) -> None:
    import os

    enrolled("p-1", "SCREENING_PENDING")
    enrolled("p-2", "SCREENING_PENDING")
    pipeline.put("FORM_SUBMISSION_COMPLETED", domain_event("p-1", "warm-up"))
    pipeline.drain()  # a warm container: rules and definitions read once, then cached
    counts = _calls_by_table()

    pipeline.put("FORM_SUBMISSION_COMPLETED", domain_event("p-2", "measured"))
    pipeline.drain()
    counted = Counter(counts)  # before the test's own reads below

    system_events = os.environ["SYSTEM_EVENTS_TABLE_NAME"]
    idempotency = os.environ["IDEMPOTENCY_TABLE_NAME"]
    patients = os.environ["PATIENTS_TABLE_NAME"]
    journey_log, definitions = (
        os.environ["JOURNEY_LOG_TABLE_NAME"],
        os.environ["DEFINITIONS_TABLE_NAME"],
    )
    logged = "+".join(sorted([patients, journey_log, definitions]))
    assert stage_of("p-2") == "SCREENING_COMPLETED"
    engine = {k: n for k, n in counted.items() if k[1] != system_events}
    assert engine == {
        ("PutItem", idempotency): 1,  # in
        ("Query", patients): 1,  # the patient, once for every rule's action
        # the move, its log entry, the event type seen, the check that the journey stands
        ("TransactWriteItems", logged): 1,
        ("UpdateItem", idempotency): 1,  # out
    }
    assert sum(engine.values()) <= 4
    assert counted[("PutItem", system_events)] == counted[("UpdateItem", system_events)] == 1


def test_a_redelivered_event_costs_one_dynamodb_call(pipeline: Pipeline) -> None:
    enrolled("p-1", "SCREENING_PENDING")
    pipeline.put("FORM_SUBMISSION_COMPLETED", domain_event("p-1", "form-once"))
    messages = pipeline.receive()
    process(pipeline.lambda_event(messages))
    counts = _calls_by_table()

    process(pipeline.lambda_event(messages))

    assert sum(counts.values()) == 1  # idempotency: the stored result comes back


def test_a_rule_saved_meanwhile_applies_once_the_cached_rules_expire(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    enrolled("p-1", "AWAITING_PAYMENT")
    enrolled("p-2", "AWAITING_PAYMENT")
    pipeline.put("PAYMENT_FAILED", domain_event("p-1", "fail-1"))
    pipeline.drain()  # caches: no rule for PAYMENT_FAILED
    body = {
        "name": "failed payment cancels",
        "trigger_event": "PAYMENT_FAILED",
        "actions": [
            {"type": "update_journey_status", "params": {"key": KEY, "status": "CANCELLED"}}
        ],
    }
    assert rules_api("create-rule", body=body).status == 201

    pipeline.put("PAYMENT_FAILED", domain_event("p-2", "fail-2"))
    pipeline.drain()
    assert stage_of("p-2") == "AWAITING_PAYMENT"  # still the cached answer
    monkeypatch.setattr(warm_cache, "_clock", lambda: time.monotonic() + 3600)
    pipeline.put("PAYMENT_FAILED", domain_event("p-2", "fail-3"))
    pipeline.drain()

    assert stage_of("p-2") == "CANCELLED"


# -- living journeys: pinned versions, retirement, episodes ---------------------------------

LIVING_V1 = {
    "stages": ["A", "B", "C"],
    "transitions": {"A": ["B"], "B": ["C"], "C": ["A"]},
    "final_stages": ["C"],
    "reentry": {"allowed": True},
}
LIVING_V2 = {**LIVING_V1, "stages": ["A", "C"], "transitions": {"A": ["C"], "C": ["A"]}}


def save_living_rule(status: str, trigger: str = "FORM_SUBMISSION_COMPLETED") -> None:
    body = {
        "name": f"{trigger} moves to {status}",
        "trigger_event": trigger,
        "actions": [{"type": "update_journey_status", "params": {"key": "vj", "status": status}}],
    }
    assert rules_api("create-rule", body=body).status == 201


def update_living(body: dict[str, Any]) -> None:
    event = api_event(
        "journeys/update-journey", path_params={"name_or_id": "vj"}, body=body, org="org-a"
    )
    assert invoke("journeys", event).status == 200


def outcome(event_id: str) -> str:
    (result,) = [r for r in system_event(event_id).results if r.get("journey_key") == "vj"]
    return f"{result['outcome']}: {result.get('detail', '')}"


def test_automation_moves_a_patient_by_the_rules_of_its_pinned_version(
    pipeline: Pipeline,
) -> None:
    # Given vj v1 A->B->C, a rule moving to B, and p-1 enrolled on v1
    define_journey("vj", LIVING_V1)
    save_living_rule("B")
    assert move("p-1", "A", key="vj").status == 200
    # When v2 drops B and p-2 enrolls on v2
    update_living({"journey_spec": LIVING_V2})
    assert move("p-2", "A", key="vj").status == 200
    pipeline.put("FORM_SUBMISSION_COMPLETED", domain_event("p-1", "form-v1"))
    pipeline.put("FORM_SUBMISSION_COMPLETED", domain_event("p-2", "form-v2"))
    pipeline.drain()

    # Then p-1 moves by v1's rules and p-2's move is refused by v2's
    assert stage_of("p-1", "vj") == "B"
    assert full_history("p-1", key="vj")[-1]["definition_version"] == 1
    assert outcome("form-v1").startswith("moved")
    assert stage_of("p-2", "vj") == "A"
    assert outcome("form-v2").startswith("refused")


def test_automation_enrolls_nobody_into_a_retired_journey_and_moves_who_is_in_it(
    pipeline: Pipeline,
) -> None:
    define_journey("vj", LIVING_V1)
    save_living_rule("B")
    save_living_rule("A", trigger="RISK_ANALYSIS_COMPLETED")
    assert move("p-1", "A", key="vj").status == 200
    update_living({"is_active": False})

    pipeline.put("FORM_SUBMISSION_COMPLETED", domain_event("p-1", "form-in"))
    pipeline.put("RISK_ANALYSIS_COMPLETED", domain_event("p-new", "form-new", risk_level="low"))
    pipeline.drain()

    assert stage_of("p-1", "vj") == "B"
    assert outcome("form-new").startswith("refused")
    assert "retired" in outcome("form-new")
    assert get_patient("p-new").status == 404


def test_automation_starts_the_next_episode_where_reentry_allows_it(pipeline: Pipeline) -> None:
    define_journey("vj", LIVING_V1)
    save_living_rule("A")
    for stage in ("A", "B", "C"):  # the first episode ends in C
        assert move("p-1", stage, key="vj").status == 200

    pipeline.put("FORM_SUBMISSION_COMPLETED", domain_event("p-1", "form-again"))
    pipeline.drain()

    enrollment = get_patient("p-1").body["enrollments"]["vj"]
    assert (enrollment["stage"], enrollment["episode"]) == ("A", 2)
    assert full_history("p-1", key="vj")[-1]["actor"] == "automation"
