"""Loading Lambda handlers in-process, and the context object Lambda passes them."""

from __future__ import annotations

import importlib.util
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from local_stack.template import REPO_ROOT, FunctionInfo, find_function
from local_stack.template import load_template as _load_template

SHARED_DIR = REPO_ROOT / "shared"

Handler = Callable[[Any, Any], Any]


def ensure_layer_on_path() -> None:
    """Make the shared layer importable, as Lambda does by unpacking it under /opt/python."""
    shared = str(SHARED_DIR)
    if shared not in sys.path:
        sys.path.insert(0, shared)


def resolve_function(function_dir_or_logical_id: str) -> FunctionInfo:
    return find_function(_load_template(), function_dir_or_logical_id)


_handlers: dict[str, Handler] = {}
# Lambda gives each execution environment one event at a time, and handlers rely on it
# (Powertools' resolver keeps the current event on a module-level app; metrics are shared).
# All functions share this one process, so invocations take turns, whatever the thread.
_invocation_lock = threading.RLock()
# Server threads may ask for the same handler at once: import each module exactly once.
_import_lock = threading.RLock()


def _import_handler(info: FunctionInfo) -> Handler:
    ensure_layer_on_path()
    dotted, _, attribute = info.handler.rpartition(".")  # app.handler: app.py's handler
    module_file = info.code_path / (dotted.replace(".", "/") + ".py")
    if not module_file.is_file():
        raise FileNotFoundError(f"handler module {module_file} of {info.logical_id} not found")
    # Every function has an app.py: a per-function name keeps them apart in sys.modules.
    module_name = re.sub(r"\W", "_", f"lambda_{info.function_dir}_{module_file.stem}")
    spec = importlib.util.spec_from_file_location(module_name, module_file)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {module_file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    # The handler imports its sibling modules at import time, as from /var/task in Lambda.
    sys.path.insert(0, str(info.code_path))
    try:
        spec.loader.exec_module(module)
    except BaseException:
        # A half-imported module must not be served from the cache on the next attempt.
        sys.modules.pop(module_name, None)
        raise
    finally:
        sys.path.remove(str(info.code_path))
    handler = getattr(module, attribute, None)
    if not callable(handler):
        raise AttributeError(f"{module_file} has no callable {attribute!r}")
    return handler


def load_handler(function: str | FunctionInfo) -> Handler:
    """The handler of a function given by folder name, logical id or FunctionInfo (cached)."""
    info = function if isinstance(function, FunctionInfo) else resolve_function(function)
    with _import_lock:
        if info.logical_id not in _handlers:
            _handlers[info.logical_id] = _import_handler(info)
        return _handlers[info.logical_id]


@dataclass
class LambdaContext:
    """The fields and method of the Python runtime's context object.

    ``memory_limit_in_mb`` is a string, as the real runtime reads it from the environment.
    """

    function_name: str
    function_version: str = "$LATEST"
    memory_limit_in_mb: str = "128"
    invoked_function_arn: str = ""
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = ""
    timeout_seconds: float = 3.0
    identity: Any = None
    client_context: Any = None
    tenant_id: str | None = None
    _deadline: float = field(default=0.0, init=False, repr=False)

    def __post_init__(self) -> None:
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"
        self.log_stream_name = self.log_stream_name or (
            time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        )
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def make_context(info: FunctionInfo) -> LambdaContext:
    """A fresh context (new request id, full timeout) for one invocation of ``info``."""
    return LambdaContext(
        function_name=info.function_name,
        invoked_function_arn=info.arn,
        memory_limit_in_mb=str(info.memory_size),
        timeout_seconds=float(info.timeout),
    )


def invoke(function: str | FunctionInfo, event: Any) -> Any:
    """Call the handler once with ``event`` and a fresh context; exceptions propagate.

    Invocations run one at a time, as in a Lambda execution environment. The timeout is not
    enforced (a thread cannot be killed); an overrun is reported on stderr so slow handlers are
    still noticed.
    """
    info = function if isinstance(function, FunctionInfo) else resolve_function(function)
    handler = load_handler(info)
    with _invocation_lock:
        started = time.monotonic()
        try:
            return handler(event, make_context(info))
        finally:
            elapsed = time.monotonic() - started
            if elapsed > info.timeout:
                print(
                    f"WARNING: {info.logical_id} ran {elapsed:.1f}s, past its {info.timeout}s "
                    "timeout: Lambda would have stopped it",
                    file=sys.stderr,
                )
