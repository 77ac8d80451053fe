"""Stage moves under contention, throttling and cancelled transactions: one winner, and the
enrollment and its log never disagree."""

from __future__ import annotations

import importlib.util
import itertools
import random
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from journeys_core.data.aws import dynamodb
from tests.conftest import ApiResult, LambdaContext, invoke
from tests.support.aws_faults import broken_rollbacks, cancelled_in_dynamodb, throttled
from tests.support.events import api_event
from tests.support.patients import (
    KEY,
    define_journey,
    full_history,
    get_patient,
    history,
    in_stage,
    move,
)

PATIENTS_APP = Path(__file__).resolve().parents[2] / "functions" / "patients" / "app.py"
RACERS = 32
ROUNDS = 20


def _warm_containers(count: int) -> list[ModuleType]:
    """The patients function loaded ``count`` times: like Lambda, one request at a time per
    container (a resolver holds the current event), many containers at once."""
    containers = []
    for index in range(count):
        spec = importlib.util.spec_from_file_location(f"patients_container_{index}", PATIENTS_APP)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        containers.append(module)
    return containers


def _resolve(container: ModuleType, event: dict[str, Any]) -> int:
    return int(container.app.resolve(event, LambdaContext())["statusCode"])


def _race(
    containers: list[ModuleType], events: list[dict[str, Any]]
) -> tuple[list[int], list[BaseException]]:
    """Send one event per container at once; every racer has read the enrollment before any
    of them writes, so only the conditional transaction can tell them apart."""
    all_read = threading.Barrier(len(events), timeout=30)
    statuses: list[int] = []
    errors: list[BaseException] = []

    def wait_for_everyone(**_: Any) -> None:
        all_read.wait()

    def race(container: ModuleType, event: dict[str, Any]) -> None:
        try:
            statuses.append(_resolve(container, event))
        except BaseException as error:  # surfaced by the caller, never swallowed
            errors.append(error)
            all_read.abort()

    hook = "before-call.dynamodb.TransactWriteItems"
    dynamodb().meta.events.register(hook, wait_for_everyone)
    try:
        threads = [
            threading.Thread(target=race, args=(container, event))
            for container, event in zip(containers, events, strict=True)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        dynamodb().meta.events.unregister(hook, wait_for_everyone)
    return statuses, errors


@pytest.mark.usefixtures("aws")
def test_concurrent_moves_from_the_same_stage_have_exactly_one_winner() -> None:
    define_journey()
    containers = _warm_containers(RACERS)
    for round_number in range(ROUNDS):
        patient_id = f"p-race-{round_number}"
        assert move(patient_id, "SCREENING_PENDING").status == 200
        targets = ["SCREENING_COMPLETED", "BLOCKED_HIGH_RISK", "CANCELLED"]
        events = [
            api_event(
                "patients/move-patient-stage",
                path_params={"patient_id": patient_id},
                body={
                    "key": KEY,
                    "status": targets[i % len(targets)],
                    "expected_stage": "SCREENING_PENDING",
                },
                org="org-a",
                sub=f"nurse-{i}",
            )
            for i in range(RACERS)
        ]
        statuses, errors = _race(containers, events)

        assert errors == []
        assert Counter(statuses) == {200: 1, 409: RACERS - 1}, round_number
        entries = full_history(patient_id)
        assert len(entries) == 2  # the enrollment and the one winning move
        enrollment = get_patient(patient_id).body["enrollments"][KEY]
        assert enrollment["version"] == 2
        assert enrollment["stage"] == entries[-1]["to_stage"]
        assert entries[-1]["from_stage"] == "SCREENING_PENDING"


# -- throttling ------------------------------------------------------------------------------

STAGES = ["A", "B", "C", "D"]
PATIENTS = [f"p-{i:02d}" for i in range(25)]
MOVES = 1000
THROTTLE_RATE = 0.2
CANCEL_RATE = 0.1


def _throttle_one_in_five(rng: random.Random) -> Callable[[], str | None]:
    codes = [
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "TransactionCanceledException",
    ]
    return lambda: rng.choice(codes) if rng.random() < THROTTLE_RATE else None


def _move_under_faults(moves: int, seed: int) -> None:
    """Random moves, one in five throttled before it reaches DynamoDB and one in ten cancelled
    inside it after its writes ran; then every answer, enrollment and log must agree."""
    define_journey("chaos", {"stages": STAGES})
    rng = random.Random(seed)
    believed: dict[str, str | None] = dict.fromkeys(PATIENTS)  # what the answers told us
    moved_versions: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()

    with (
        cancelled_in_dynamodb(dynamodb(), lambda: rng.random() < CANCEL_RATE) as cancelled,
        throttled(dynamodb(), "TransactWriteItems", _throttle_one_in_five(rng)) as injected,
    ):
        for _ in range(moves):
            patient_id, to_stage = rng.choice(PATIENTS), rng.choice(STAGES)
            fields: dict[str, Any] = {}
            if rng.random() < 0.3:
                fields["expected_stage"] = rng.choice([believed[patient_id] or "A", "D"])
            throttles, cancels = len(injected), len(cancelled)
            result: ApiResult = move(patient_id, to_stage, key="chaos", **fields)
            current = believed[patient_id]

            if "expected_stage" in fields and fields["expected_stage"] != current:
                assert result.status == 409, result.body
                outcomes["expected-stage 409"] += 1
            elif len(injected) > throttles:
                assert result.status == 503, result.body
                assert "retry" in result.body["message"]
                assert to_stage != current  # only a write can be throttled
                outcomes["throttled 503"] += 1
            elif len(cancelled) > cancels:
                assert result.status == 409, result.body
                assert to_stage != current  # only a write can be cancelled
                outcomes["cancelled 409"] += 1
            else:
                assert result.status == 200, result.body
                enrollment = result.body["enrollments"]["chaos"]
                assert enrollment["stage"] == to_stage
                if to_stage != current:
                    moved_versions[patient_id] += 1
                    assert enrollment["version"] == moved_versions[patient_id]
                    outcomes["moved"] += 1
                else:
                    outcomes["no-op"] += 1
                believed[patient_id] = to_stage

    writes = outcomes["moved"] + outcomes["throttled 503"] + outcomes["cancelled 409"]
    assert 0.15 <= outcomes["throttled 503"] / writes <= 0.25  # about one write in five
    assert outcomes["cancelled 409"] >= moves // 40
    assert outcomes["moved"] > moves * 0.4
    for patient_id in PATIENTS:
        patient = get_patient(patient_id)
        if believed[patient_id] is None:
            assert patient.status == 404
            assert history(patient_id, "chaos").status == 404
            continue
        entries = full_history(patient_id, "chaos")
        enrollment = patient.body["enrollments"]["chaos"]
        # The stage equals the last log entry's; every committed move has its entry, in order.
        assert enrollment["stage"] == entries[-1]["to_stage"] == believed[patient_id]
        assert enrollment["version"] == len(entries) == moved_versions[patient_id]
        assert entries[0]["from_stage"] is None
        for before, after in itertools.pairwise(entries):
            assert after["from_stage"] == before["to_stage"]
            assert after["changed_at"] > before["changed_at"]
    enrolled = [p for p in PATIENTS if believed[p] is not None]
    assert sum(len(full_history(p, "chaos")) for p in enrolled) == outcomes["moved"]


def test_throttled_and_cancelled_moves_never_split_a_move_from_its_log(aws: None) -> None:
    _move_under_faults(MOVES, seed=20260107)


def test_a_transaction_that_is_not_rolled_back_is_caught(aws: None) -> None:
    """The check above notices a cancelled move that left its writes behind."""
    with broken_rollbacks(), pytest.raises(AssertionError):
        _move_under_faults(200, seed=20260107)


def test_a_throttled_enrollment_leaves_no_patient_behind(aws: None) -> None:
    define_journey()
    with throttled(dynamodb(), "TransactWriteItems", lambda: "ThrottlingException"):
        result = invoke("patients", api_event("patients/enroll-patient", org="org-a"))

    assert result.status == 503
    assert get_patient("patient-0042").status == 404
    assert history("patient-0042").status == 404
    assert in_stage("SCREENING_PENDING").body["items"] == []
