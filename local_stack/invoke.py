"""``python -m local_stack.invoke FUNCTION EVENT_JSON_PATH``: ``sam local invoke`` without Docker.

FUNCTION is a logical id (``JourneysFunction``) or a folder under functions/ (``journeys``);
EVENT_JSON_PATH may be ``-`` for standard input.

If a local stack is running (its embedded AWS answers on 127.0.0.1:AWS_PORT, by default
PORT+1 with PORT defaulting to 3000) the function runs against that stack's data; otherwise a
fresh embedded AWS is started on a free port with the template's resources, and dropped after.
Whatever the handler logs comes first; the LAST line of stdout is its result as JSON (or, if it
raised, a Lambda-style error object, and the exit status is 1).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Mapping
from typing import Any

from local_stack import lambdas
from local_stack.embedded_aws import (
    Settings,
    endpoint_url,
    moto_is_running,
    provision,
    start_moto,
    use_fake_aws,
)
from local_stack.lambda_events import error_payload
from local_stack.template import FunctionInfo, find_function, function_environment, load_template


def _read_event(path: str) -> Any:
    if path == "-":
        return json.load(sys.stdin)
    with open(path, encoding="utf-8") as event_file:
        return json.load(event_file)


def _run(info: FunctionInfo, event: Any) -> int:
    try:
        result = lambdas.invoke(info, event)
    except Exception as error:
        traceback.print_exc(file=sys.stderr)
        sys.stdout.flush()
        print(json.dumps(error_payload(error)))
        return 1
    sys.stdout.flush()
    print(json.dumps(result, default=str))
    return 0


def invoke(function: str, event: Any, environ: Mapping[str, str] = os.environ) -> int:
    """Run ``function`` once on ``event``, against a running stack's AWS or a fresh one."""
    template = load_template()
    info = find_function(template, function)
    aws_port = Settings.from_environ(environ).aws_port  # where a running stack has its AWS
    moto = None
    if moto_is_running(aws_port):
        print(f"using the running local stack's AWS on port {aws_port}", file=sys.stderr)
    else:
        moto = start_moto(0)
        aws_port = moto.get_host_and_port()[1]
        print(f"no local stack running: fresh embedded AWS on port {aws_port}", file=sys.stderr)
    try:
        use_fake_aws(endpoint_url(aws_port))
        resources = provision(template=template)  # attaches to what already exists
        os.environ.update(function_environment(template, info.logical_id, resources))
        return _run(info, event)
    finally:
        if moto is not None:
            moto.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local_stack.invoke",
        description="Invoke one function of template.yaml in-process (no Docker).",
    )
    parser.add_argument("function", help="logical id (JourneysFunction) or folder (journeys)")
    parser.add_argument("event", help="path of the event JSON file, or - for standard input")
    args = parser.parse_args(argv)
    try:
        event = _read_event(args.event)
        return invoke(args.function, event)
    except (KeyError, OSError, ValueError) as error:
        print(f"invoke: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
