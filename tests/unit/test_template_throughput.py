"""template.yaml's throughput settings: the stream publisher batches and runs in parallel,
every SQS event source is capped at what its function may run, and every retry is bounded
(standard SDK retries, stream and async retries, queue redrives)."""

from __future__ import annotations

from typing import Any

import pytest

from journeys_core.data import aws
from journeys_core.data.event_bus import MAX_PUT_EVENTS_ENTRIES
from local_stack.template import functions, load_template

TEMPLATE = load_template()
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
PARAMETERS: dict[str, Any] = TEMPLATE["Parameters"]


def _event_sources(kind: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (logical_id, event["Properties"])
        for logical_id in functions(TEMPLATE)
        for event in RESOURCES[logical_id]["Properties"].get("Events", {}).values()
        if event["Type"] == kind
    ]


def _default(value: Any) -> int:
    """A literal, or the default of the parameter a ``!Ref`` names."""
    if isinstance(value, dict):
        return int(PARAMETERS[value["Ref"]]["Default"])
    return int(value)


def _reserved_concurrency(logical_id: str) -> int:
    return _default(RESOURCES[logical_id]["Properties"]["ReservedConcurrentExecutions"])


def test_the_publisher_takes_100_records_ten_batches_of_a_shard_at_once() -> None:
    (stream,) = [
        source
        for logical_id, source in _event_sources("DynamoDB")
        if logical_id == "StageChangePublisherFunction"
    ]
    logical_id = "StageChangePublisherFunction"

    assert stream["BatchSize"] == 100
    assert stream["BatchSize"] % MAX_PUT_EVENTS_ENTRIES == 0  # whole PutEvents calls
    assert stream["ParallelizationFactor"] == 10
    # One stream shard fully parallel, and a second, within the function's reservation.
    assert _reserved_concurrency(logical_id) >= 2 * stream["ParallelizationFactor"]


@pytest.mark.parametrize("logical_id, queue", _event_sources("SQS"))
def test_every_queue_source_runs_no_more_pollers_than_its_function_may(
    logical_id: str, queue: dict[str, Any]
) -> None:
    maximum = queue.get("ScalingConfig", {}).get("MaximumConcurrency")

    assert maximum is not None, f"{logical_id}: no MaximumConcurrency on its queue"
    assert 2 <= _default(maximum) <= _reserved_concurrency(logical_id)
    if isinstance(maximum, dict):
        assert PARAMETERS[maximum["Ref"]]["MinValue"] >= 2  # SQS refuses less


def test_every_sdk_client_retries_in_standard_mode_a_bounded_number_of_times() -> None:
    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]

    assert variables["AWS_RETRY_MODE"] == "standard"
    assert int(variables["AWS_MAX_ATTEMPTS"]) == aws.MAX_ATTEMPTS == 3


def test_every_stream_retry_and_async_retry_is_bounded() -> None:
    for logical_id, stream in _event_sources("DynamoDB"):
        assert 0 <= stream["MaximumRetryAttempts"] <= 10, logical_id
        assert stream["DestinationConfig"]["OnFailure"]["Destination"], logical_id
    for logical_id in functions(TEMPLATE):
        invoke_config = RESOURCES[logical_id]["Properties"].get("EventInvokeConfig")
        if invoke_config is not None:
            assert invoke_config["MaximumRetryAttempts"] <= 2, logical_id


def test_every_queue_a_function_reads_dead_letters_after_a_few_receives() -> None:
    for logical_id, queue in _event_sources("SQS"):
        queue_id = queue["Queue"]["Fn::GetAtt"][0]
        redrive = RESOURCES[queue_id]["Properties"]["RedrivePolicy"]
        assert 1 <= redrive["maxReceiveCount"] <= 10, logical_id
