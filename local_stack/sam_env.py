"""``python -m local_stack.sam_env``: env.json for ``sam local invoke``/``start-api --env-vars``.

For every function of the template, every variable its ``Environment`` declares (Globals
included), resolved to the resources the running local stack created, plus
``AWS_ENDPOINT_URL`` at the stack's embedded AWS. SAM passes a function only the variables
the template declares (it drops the file's others), hence template.yaml declares
``AWS_ENDPOINT_URL`` (absent when deployed). SAM takes the credentials and the region from its
own session, never from this file: the commands printed set dummy ones.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from local_stack.embedded_aws import (
    FAKE_AWS_ENVIRONMENT,
    LOOPBACK,
    Settings,
    endpoint_url,
    moto_is_running,
    provision,
    use_fake_aws,
)
from local_stack.template import (
    REGION,
    REPO_ROOT,
    LocalResource,
    declared_environment,
    function_environment,
    functions,
    load_template,
)

ENV_FILE = "env.json"
ENDPOINT_VARIABLE = "AWS_ENDPOINT_URL"
# Docker Desktop's name for the host; on Linux, `--docker-network host` reaches 127.0.0.1.
DOCKER_DESKTOP_HOST = "host.docker.internal"
# Set in the shell of the `sam` command: SAM hands the container its own session's keys.
SAM_SHELL_CREDENTIALS = (
    f"AWS_ACCESS_KEY_ID={FAKE_AWS_ENVIRONMENT['AWS_ACCESS_KEY_ID']} "
    f"AWS_SECRET_ACCESS_KEY={FAKE_AWS_ENVIRONMENT['AWS_SECRET_ACCESS_KEY']} AWS_SESSION_TOKEN="
)


def sam_env(
    template: Mapping[str, Any], resources: Mapping[str, LocalResource], aws_endpoint: str
) -> dict[str, dict[str, str]]:
    """``{function logical id: {variable: value}}``, the standard ``--env-vars`` format."""
    undeclared = [
        logical_id
        for logical_id in functions(template)
        if ENDPOINT_VARIABLE not in declared_environment(template, logical_id)
    ]
    if undeclared:
        raise ValueError(
            f"{', '.join(undeclared)} do not declare {ENDPOINT_VARIABLE} in their Environment: "
            "SAM would drop it and boto3 would call real AWS"
        )
    return {
        logical_id: {
            **function_environment(template, logical_id, resources),
            ENDPOINT_VARIABLE: aws_endpoint,
        }
        for logical_id in functions(template)
    }


def sam_commands(docker_network_host: bool = True) -> list[str]:
    """The commands that use the file (the README shows them word for word)."""
    network = " --docker-network host" if docker_network_host else ""
    options = f"--env-vars {ENV_FILE}{network} --region {REGION}"
    sam = f"{SAM_SHELL_CREDENTIALS} .venv-sam/bin/sam local"
    return [
        f"{sam} invoke JourneysFunction -e events/journeys/list-journeys.json {options}",
        f"{sam} start-api --port 3100 {options}",
    ]


def write_sam_env(output: Path, aws_port: int, host: str) -> dict[str, dict[str, str]]:
    """Attach to the running stack's AWS (it names its resources deterministically, as
    ``make invoke`` relies on too) and write the file."""
    if not moto_is_running(aws_port):
        raise OSError(
            f"no local stack's AWS answers on {LOOPBACK}:{aws_port}: start it with `make run` "
            "(same PORT) first"
        )
    template = load_template()
    use_fake_aws(endpoint_url(aws_port))
    environment = sam_env(template, provision(template=template), endpoint_url(aws_port, host))
    output.write_text(json.dumps(environment, indent=2) + "\n", encoding="utf-8")
    return environment


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_stack.sam_env", description=__doc__)
    parser.add_argument("--output", type=Path, default=REPO_ROOT / ENV_FILE)
    parser.add_argument(
        "--host",
        default=LOOPBACK,
        help=f"how containers reach this machine: {LOOPBACK} with --docker-network host "
        f"(Linux), {DOCKER_DESKTOP_HOST} on Docker Desktop",
    )
    args = parser.parse_args(argv)
    aws_port = Settings.from_environ(os.environ).aws_port
    try:
        environment = write_sam_env(args.output, aws_port, args.host)
    except (OSError, ValueError) as error:
        print(f"sam-env: {error}", file=sys.stderr)
        return 1
    print(f"wrote {args.output} ({len(environment)} functions, AWS at {args.host}:{aws_port})")
    print("\n".join(sam_commands(docker_network_host=args.host == LOOPBACK)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
