"""`make sam-env`'s env.json against template.yaml: what `sam local invoke --env-vars` needs so
that a function in SAM's container uses the local stack, never real AWS."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from local_stack import sam_env as sam_env_module
from local_stack.embedded_aws import free_port
from local_stack.sam_env import ENDPOINT_VARIABLE, sam_commands, sam_env
from local_stack.template import (
    RESOURCE_KINDS,
    LocalResource,
    functions,
    load_template,
    resources_of_type,
)
from tests.support.template_environment import declared_variables

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template()
ENDPOINT = "http://127.0.0.1:3001"


def _stack_resources(template: dict[str, Any]) -> dict[str, LocalResource]:
    """What a running local stack created: every resource it manages, under a local name."""
    return {
        logical_id: {
            "name": f"journeys-local-{logical_id}",
            "arn": f"arn:aws:local:us-east-1:123456789012:{logical_id}",
            "ref": f"journeys-local-{logical_id}",
            "attributes": {},
        }
        for logical_id in resources_of_type(template, *RESOURCE_KINDS)
    }


ENV = sam_env(TEMPLATE, _stack_resources(TEMPLATE), ENDPOINT)


def test_every_function_of_the_template_has_its_entry() -> None:
    assert set(ENV) == set(functions(TEMPLATE))
    assert len(ENV) >= 9


@pytest.mark.parametrize("logical_id", sorted(functions(TEMPLATE)))
def test_every_declared_variable_is_given_a_local_value(logical_id: str) -> None:
    variables = ENV[logical_id]
    resources = _stack_resources(TEMPLATE)

    assert set(variables) == set(declared_variables(TEMPLATE, logical_id))
    for name, raw in declared_variables(TEMPLATE, logical_id).items():
        if isinstance(raw, dict) and raw.get("Ref") in resources:
            assert variables[name] == resources[raw["Ref"]]["ref"], name
    # The bug this file exists for: inside SAM's container, !Ref resolves to logical ids.
    assert not set(variables.values()) & set(TEMPLATE["Resources"])
    assert variables[ENDPOINT_VARIABLE] == ENDPOINT


def test_the_endpoint_is_declared_for_sam_and_absent_when_deployed() -> None:
    # SAM passes only declared variables; CloudFormation drops an AWS::NoValue one.
    declared = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]

    assert declared[ENDPOINT_VARIABLE] == {"Ref": "AWS::NoValue"}


def test_a_template_that_does_not_declare_the_endpoint_is_refused() -> None:
    template = copy.deepcopy(TEMPLATE)
    del template["Globals"]["Function"]["Environment"]["Variables"][ENDPOINT_VARIABLE]

    with pytest.raises(ValueError, match=r"JourneysFunction.*SAM would drop it"):
        sam_env(template, _stack_resources(template), ENDPOINT)


def test_without_a_running_stack_it_says_to_start_one(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AWS_PORT", str(free_port()))

    status = sam_env_module.main(["--output", str(tmp_path / "env.json")])

    assert status == 1
    assert "make run" in capsys.readouterr().err
    assert not (tmp_path / "env.json").exists()


def test_the_readme_shows_the_commands_word_for_word() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## With Docker", 1)[1].split("\n## ", 1)[0]

    for line in ("make run", "make sam-env", *sam_commands()):
        assert line in section, line
    assert "--docker-network host" not in "".join(sam_commands(docker_network_host=False))


# boto3 reads AWS_ENDPOINT_URL from 1.28.0 (botocore 1.31.0).
_ENDPOINT_URL_SINCE = {"boto3": (1, 28, 0), "botocore": (1, 31, 0)}


@pytest.mark.parametrize("requirements", ["shared/requirements.txt", "requirements-dev.txt"])
def test_no_pinned_boto3_predates_aws_endpoint_url(requirements: str) -> None:
    text = (ROOT / requirements).read_text(encoding="utf-8")
    for package, since in _ENDPOINT_URL_SINCE.items():
        for version in re.findall(rf"^{package}\s*(?:==|>=|~=)\s*([\d.]+)", text, re.MULTILINE):
            assert tuple(int(part) for part in version.split(".")) >= since, (package, version)
