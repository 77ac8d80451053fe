"""Handlers are imported from their folders and called like Lambda calls them."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pytest

from local_stack.lambdas import LambdaContext, invoke, load_handler, make_context
from local_stack.template import FunctionInfo

SLOW_HANDLER = """
import threading
import time

running = []
overlaps = []
_guard = threading.Lock()


def handler(event, context):
    with _guard:
        if running:
            overlaps.append(event)
        running.append(event)
    time.sleep(0.05)
    with _guard:
        running.remove(event)
    return {"event": event, "request_id": context.aws_request_id}
"""


def _function_in(directory: Path, source: str, timeout: int = 3) -> FunctionInfo:
    (directory / "app.py").write_text(source, encoding="utf-8")
    return FunctionInfo(
        logical_id=f"Tmp{uuid.uuid4().hex}",  # handlers are cached by logical id
        function_dir=directory.name,
        handler="app.handler",
        events={},
        code_uri=str(directory),
        function_name="tmp-function",
        memory_size=256,
        timeout=timeout,
    )


def test_the_real_handler_loads_by_folder_or_logical_id() -> None:
    by_folder = load_handler("journeys")

    assert callable(by_folder)
    assert load_handler("JourneysFunction") is by_folder


def test_context_fields_and_remaining_time() -> None:
    info = FunctionInfo("Fn", "fn", "app.handler", {}, "functions/fn/", "fn-name", 256, 2)

    first, second = make_context(info), make_context(info)

    assert first.function_name == "fn-name"
    assert first.memory_limit_in_mb == "256"
    assert first.function_version == "$LATEST"
    assert first.invoked_function_arn.endswith(":function:fn-name")
    assert first.log_group_name == "/aws/lambda/fn-name"
    assert first.aws_request_id != second.aws_request_id
    assert 1500 < first.get_remaining_time_in_millis() <= 2000


def test_remaining_time_never_goes_negative() -> None:
    context = LambdaContext(function_name="f", timeout_seconds=0.01)
    time.sleep(0.02)

    assert context.get_remaining_time_in_millis() == 0


def test_invocations_take_turns_like_one_execution_environment(tmp_path: Path) -> None:
    info = _function_in(tmp_path, SLOW_HANDLER)
    results: list[dict[str, object]] = []

    threads = [
        threading.Thread(target=lambda n=n: results.append(invoke(info, n))) for n in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    module = load_handler(info).__globals__
    assert module["overlaps"] == []
    assert sorted(result["event"] for result in results) == [0, 1, 2, 3]  # type: ignore[type-var]
    assert len({result["request_id"] for result in results}) == 4


def test_a_missing_handler_module_is_reported(tmp_path: Path) -> None:
    info = FunctionInfo("Missing", "missing", "app.handler", {}, str(tmp_path / "nowhere"))

    with pytest.raises(FileNotFoundError):
        load_handler(info)
