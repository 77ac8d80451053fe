"""template.yaml can be operated: every function and dead-letter queue has its alarms, alarms
notify the given topic, the dashboard shows them, tracing follows its parameter, and the
deploy refuses placeholder parameters (its Rules, evaluated here) while samconfig.toml's
defaults pass everything but what only the deployer can know."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from local_stack.template import functions, load_template, resources_of_type

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template()
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
ALARMS = resources_of_type(TEMPLATE, "AWS::CloudWatch::Alarm")
GLOBAL_VARIABLES = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]


def _walk(value: Any) -> Any:
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def _queue_of(reference: Any) -> str:
    (logical_id, attribute) = reference["Fn::GetAtt"]
    assert attribute == "Arn"
    return str(logical_id)


def dead_letter_queues() -> set[str]:
    """Every SQS queue something sends its failures to: redrive targets, dead-letter configs
    of rules and schedules, and on-failure destinations of invocations and streams."""
    found = set()
    for node in _walk(RESOURCES):
        if not isinstance(node, dict):
            continue
        if "deadLetterTargetArn" in node:
            found.add(_queue_of(node["deadLetterTargetArn"]))
        if "Arn" in node.get("DeadLetterConfig", {}):
            found.add(_queue_of(node["DeadLetterConfig"]["Arn"]))
        on_failure = node.get("OnFailure", {})
        if "Destination" in on_failure:
            found.add(_queue_of(on_failure["Destination"]))
    return {q for q in found if RESOURCES[q]["Type"] == "AWS::SQS::Queue"}


def _alarms_on(namespace: str, metric: str, dimension: str) -> dict[str, Any]:
    """Alarm properties by the dimension value they watch (a resource by its logical id)."""
    watched = {}
    for alarm in ALARMS.values():
        properties = alarm["Properties"]
        if (properties["Namespace"], properties["MetricName"]) == (namespace, metric):
            (only,) = properties["Dimensions"]
            assert only["Name"] == dimension
            value = only["Value"]
            if isinstance(value, dict):  # a resource: by its logical id
                value = value.get("Ref") or value["Fn::GetAtt"][0]
            watched[str(value)] = properties
    return watched


def test_the_dead_letter_queues_are_found() -> None:
    assert {"AutomationDeadLetterQueue", "StageChangeDeadLetterQueue"} <= dead_letter_queues()


@pytest.mark.parametrize("logical_id", sorted(functions(TEMPLATE)))
@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_every_function_has_an_errors_and_a_throttles_alarm(logical_id: str, metric: str) -> None:
    alarm = _alarms_on("AWS/Lambda", metric, "FunctionName").get(logical_id)

    assert alarm is not None, f"{logical_id} has no {metric} alarm"
    assert alarm["Threshold"] == 1
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


@pytest.mark.parametrize("queue", sorted(dead_letter_queues()))
def test_every_dead_letter_queue_has_a_depth_alarm(queue: str) -> None:
    alarm = _alarms_on("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName").get(queue)

    assert alarm is not None, f"{queue} has no depth alarm"
    assert alarm["Dimensions"][0]["Value"] == {"Fn::GetAtt": [queue, "QueueName"]}
    assert alarm["Threshold"] == 1


def test_the_api_5xx_alarm_watches_the_http_api() -> None:
    assert "HttpApi" in _alarms_on("AWS/ApiGateway", "5xx", "ApiId")


def _custom_metric_alarm(metric: str) -> dict[str, Any]:
    alarm = _alarms_on(GLOBAL_VARIABLES["POWERTOOLS_METRICS_NAMESPACE"], metric, "service")
    assert list(alarm) == [GLOBAL_VARIABLES["POWERTOOLS_SERVICE_NAME"]], "Powertools' dimension"
    return alarm[GLOBAL_VARIABLES["POWERTOOLS_SERVICE_NAME"]]


def _code_of(function_dir: str) -> str:
    return (ROOT / "functions" / function_dir / "app.py").read_text()


def test_a_monitor_that_stops_completing_raises_its_alarm_even_when_it_stops_reporting() -> None:
    alarm = _custom_metric_alarm("StaleCheckCompleted")

    assert '"StaleCheckCompleted"' in _code_of("stale_monitor")
    assert alarm["ComparisonOperator"] == "LessThanThreshold"
    assert alarm["Threshold"] == 1
    assert alarm["Period"] * alarm["EvaluationPeriods"] == 2 * 3600
    assert alarm["TreatMissingData"] == "breaching"


def test_a_changed_journey_log_entry_raises_the_tamper_alarm() -> None:
    alarm = _custom_metric_alarm("JourneyLogEntryChanged")

    assert alarm["Threshold"] == 1
    assert alarm["TreatMissingData"] == "notBreaching"


def test_every_alarm_notifies_the_alarm_topic_when_one_is_given() -> None:
    notify = {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}
    assert TEMPLATE["Parameters"]["AlarmTopicArn"]["Default"] == ""
    for logical_id, alarm in ALARMS.items():
        assert alarm["Properties"]["AlarmActions"] == notify, logical_id
        assert alarm["Properties"]["OKActions"] == notify, logical_id


def test_the_dashboard_shows_every_function_and_dead_letter_queue() -> None:
    (dashboard,) = resources_of_type(TEMPLATE, "AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    shown = set(re.findall(r"\$\{(\w+)[.}]", body))

    assert set(functions(TEMPLATE)) <= shown
    assert dead_letter_queues() <= shown
    assert "HttpApi" in shown


def test_tracing_follows_its_parameter_and_the_tracer_is_off_without_it() -> None:
    function_globals = TEMPLATE["Globals"]["Function"]

    assert function_globals["Tracing"] == {"Fn::If": ["TracingActive", "Active", "PassThrough"]}
    assert GLOBAL_VARIABLES["POWERTOOLS_TRACE_DISABLED"] == {
        "Fn::If": ["TracingActive", "false", "true"]
    }
    assert TEMPLATE["Parameters"]["Tracing"]["Default"] == "PassThrough"


# -- the deploy's Rules ----------------------------------------------------------------------


def _value(expression: Any, parameters: dict[str, str]) -> Any:
    """A rule expression, evaluated as CloudFormation does before it creates anything."""
    if isinstance(expression, str):
        return expression
    if isinstance(expression, list):
        return [_value(item, parameters) for item in expression]
    ((function, argument),) = expression.items()
    if function == "Ref":
        return parameters[argument]
    if function == "Fn::Not":
        return not _value(argument[0], parameters)
    if function == "Fn::Equals":
        return _value(argument[0], parameters) == _value(argument[1], parameters)
    if function == "Fn::Contains":
        return _value(argument[1], parameters) in _value(argument[0], parameters)
    raise AssertionError(f"no evaluation for {function}")


def refusals(overrides: dict[str, str]) -> list[str]:
    """The AssertDescription of every rule assertion the parameters fail."""
    parameters = {
        name: str(parameter.get("Default", ""))
        for name, parameter in TEMPLATE["Parameters"].items()
    } | overrides
    failed = []
    for rule in TEMPLATE["Rules"].values():
        if "RuleCondition" in rule and not _value(rule["RuleCondition"], parameters):
            continue
        failed += [
            assertion["AssertDescription"]
            for assertion in rule["Assertions"]
            if not _value(assertion["Assert"], parameters)
        ]
    return failed


REAL_SENDER = {"NotificationSender": "journeys@clinic.example.net"}


def test_the_example_sender_refuses_the_deploy_naming_the_parameter() -> None:
    (refusal,) = refusals({})

    assert refusal.startswith("NotificationSender is a placeholder")
    assert refusals(REAL_SENDER) == []


@pytest.mark.parametrize(
    "issuer",
    ["", "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_EXAMPLE"],
)
def test_an_external_issuer_must_be_given_and_not_the_example(issuer: str) -> None:
    external = REAL_SENDER | {"IdentityProvider": "ExternalIssuer", "JwtAudience": "api"}

    assert [r.split(",")[0] for r in refusals(external | {"JwtIssuer": issuer})] == [
        "IdentityProvider ExternalIssuer needs JwtIssuer"
    ]
    assert refusals(external | {"JwtIssuer": "https://login.clinic.example/realm"}) == []


def test_an_external_issuer_needs_its_audience() -> None:
    external = REAL_SENDER | {
        "IdentityProvider": "ExternalIssuer",
        "JwtIssuer": "https://login.clinic.example/realm",
    }

    assert any("needs JwtAudience" in r for r in refusals(external))


def _samconfig_overrides() -> dict[str, str]:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    deploy = config["default"]["deploy"]["parameters"]
    assert "CAPABILITY_IAM" in deploy["capabilities"]
    assert deploy["resolve_s3"] is True
    return dict(re.findall(r'(\w+)="([^"]*)"', deploy["parameter_overrides"]))


def test_samconfig_overrides_are_valid_values_and_leave_only_the_sender_to_give() -> None:
    overrides = _samconfig_overrides()

    for name, value in overrides.items():
        parameter = TEMPLATE["Parameters"][name]
        assert value in [str(v) for v in parameter.get("AllowedValues", [value])], name
        assert re.fullmatch(parameter.get("AllowedPattern", ".*"), value), name
    assert overrides["IdentityProvider"] == "CognitoUserPool"
    assert [r.split(" ")[0] for r in refusals(overrides)] == ["NotificationSender"]
    assert refusals(overrides | REAL_SENDER) == []
