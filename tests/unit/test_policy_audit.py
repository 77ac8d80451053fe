"""Least privilege, audited from template.yaml: what each function may do is declared here, as
data, so adding a permission is a conscious change to this file.

- No ``*`` in any action or resource of a function's statements (no ``index/*`` either:
  each index a function queries is named).
- Each function may do exactly what EXPECTED says: the tables, indexes, streams, queues, bus
  and identities its code uses, with the actions it uses on each. The contract tier checks
  the same map from the other side: every AWS call the API functions make during the run is
  allowed, and every permission of theirs is used (tests/contract/test_schemathesis.py).
- The journey log: only the two functions that move stages may append to it, and
  tests/unit/test_journey_log_append_only.py checks that they may only PutItem, only inside
  TransactWriteItems, and that nobody may update or delete an entry.
- Accepted exceptions, outside the template's statements: SAM gives every function
  AWSLambdaBasicExecutionRole (its own log streams), and a function with a polled event
  source the managed execution role of that source, whose Resource is ``*``
  (SAM_MANAGED_POLICIES below: adding an SQS, stream or Kafka source must be acknowledged).
"""

from __future__ import annotations

from typing import Any

import pytest

from local_stack.template import functions, load_template
from tests.support.policies import as_list, grants, statements
from tests.unit.test_journey_log_append_only import _statements_on_the_log

TEMPLATE = load_template()
FUNCTIONS = sorted(functions(TEMPLATE))

QUERY = {"dynamodb:Query"}
PUT_EVENTS = {"events:PutEvents"}
SEND_EMAIL = {"ses:SendEmail"}
SEND_MESSAGE = {"sqs:SendMessage"}
MOVE_CHECKS = {"dynamodb:GetItem", "dynamodb:ConditionCheckItem", "dynamodb:UpdateItem"}
SENDER = "ses:identity/${NotificationSender}"
SENDER_DOMAIN = "ses:identity/${domain of NotificationSender}"

# function -> resource (by logical id) -> actions
EXPECTED: dict[str, dict[str, set[str]]] = {
    "JourneysFunction": {
        # definitions: current item + versions; save/update/record are transactions
        "DefinitionsTable": {
            "dynamodb:GetItem",
            "dynamodb:Query",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:BatchWriteItem",
        },
        "DefinitionsTable/index/ByUpdated": QUERY,  # lists, journey templates
        "DefinitionsTable/index/ById": QUERY,  # load by id
        "ExecutionsTable": {"dynamodb:Query", "dynamodb:PutItem", "dynamodb:BatchWriteItem"},
        "ExecutionsTable/index/ByEntity": QUERY,  # an entity's executions
        # migrations: the job recorded and queued; a dry run reads who stands where
        "MigrationsQueue": SEND_MESSAGE,
        "SystemEventsTable": {"dynamodb:GetItem", "dynamodb:PutItem"},
        "PatientsTable/index/ByStage": QUERY,
        "RulesTable/index/ByTrigger": QUERY,  # a simulation's active rules (read only)
    },
    "PatientsFunction": {
        # a first enrollment checks the profile's name it copies
        "PatientsTable": {"dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"},
        "PatientsTable/index/ByStage": QUERY,  # who stands in a stage
        # the journey of a move, by name; the move's check on it and its enrollment count
        "DefinitionsTable": MOVE_CHECKS,
        "JourneyLogTable": {"dynamodb:Query", "dynamodb:PutItem"},  # history; append (in a tx)
        "PatientsTable/index/ByName": QUERY,  # search by name prefix
        "PatientsTable/index/ByEmail": QUERY,  # search by email
        "SystemEventsTable/index/ByPatient": QUERY,  # what happened to a patient
    },
    "StageChangePublisherFunction": {
        "JourneyLogTable/stream": {
            "dynamodb:DescribeStream",
            "dynamodb:GetRecords",
            "dynamodb:GetShardIterator",
        },
        "JourneysBus": PUT_EVENTS,
        "StageChangeDeadLetterQueue": SEND_MESSAGE,
    },
    "AutomationRulesFunction": {
        "RulesTable": {
            "dynamodb:GetItem",
            "dynamodb:Query",
            "dynamodb:PutItem",
            "dynamodb:DeleteItem",
        },
        "DefinitionsTable": {"dynamodb:GetItem"},  # a rule's journey and stage
        "DefinitionsTable/index/ByUpdated": QUERY,  # the playbook's journeys with stages
        "RulesTable/index/ByTrigger": QUERY,  # a trigger's active rules, counted
        "JourneysBus": PUT_EVENTS,  # POST /events
        "SystemEventsTable": {"dynamodb:PutItem"},  # POST /events takes the event id
    },
    "AutomationFunction": {
        "AutomationQueue": {
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:ChangeMessageVisibility",
            "sqs:GetQueueAttributes",
        },
        "RulesTable/index/ByTrigger": QUERY,
        "IdempotencyTable": {
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
        },
        "SystemEventsTable": {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"},
        "PatientsTable": {"dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"},
        "DefinitionsTable": MOVE_CHECKS,
        "JourneyLogTable": {"dynamodb:PutItem"},  # the move's transaction only
        "JourneysBus": PUT_EVENTS,  # emit_event actions
        SENDER: SEND_EMAIL,
        SENDER_DOMAIN: SEND_EMAIL,
    },
    "StaleMonitorFunction": {
        # the planner: the watched versions and whether their journeys are active
        "DefinitionsTable/index/ByStaleRules": QUERY,
        "DefinitionsTable": {"dynamodb:BatchGetItem"},
        "StaleUnitsQueue": SEND_MESSAGE,  # one message per unit (SendMessageBatch)
        "StaleMonitorDeadLetterQueue": SEND_MESSAGE,
    },
    "StaleWorkerFunction": {
        "StaleUnitsQueue": {
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:ChangeMessageVisibility",
            "sqs:GetQueueAttributes",
            "sqs:SendMessage",  # a unit short of time queues its continuation
        },
        "PatientsTable/index/ByStage": QUERY,
        # timeout gates, timeout events, the units' positions
        "SystemEventsTable": {
            "dynamodb:GetItem",
            "dynamodb:BatchGetItem",
            "dynamodb:PutItem",
            "dynamodb:BatchWriteItem",
            "dynamodb:UpdateItem",
        },
        "JourneysBus": PUT_EVENTS,
    },
    "NotifierFunction": {
        "PatientsTable": QUERY,  # the patient's profile
        "SystemEventsTable": {"dynamodb:GetItem", "dynamodb:UpdateItem"},  # the email's outcome
        SENDER: SEND_EMAIL,
        SENDER_DOMAIN: SEND_EMAIL,
        "NotifierDeadLetterQueue": SEND_MESSAGE,
    },
    "AdminFunction": {
        # the monitor's units of one organization, now, inline: no positions, so no GetItem
        "DefinitionsTable/index/ByStaleRules": QUERY,
        "DefinitionsTable": {"dynamodb:BatchGetItem"},  # are the watched journeys active
        "PatientsTable/index/ByStage": QUERY,
        "SystemEventsTable": {
            "dynamodb:BatchGetItem",
            "dynamodb:PutItem",
            "dynamodb:BatchWriteItem",
            "dynamodb:UpdateItem",
        },
        "JourneysBus": PUT_EVENTS,
    },
    "MigrationsFunction": {
        "MigrationsQueue": {
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:ChangeMessageVisibility",
            "sqs:GetQueueAttributes",
            "sqs:SendMessage",  # a run short of time queues its job again
        },
        "SystemEventsTable": {"dynamodb:GetItem", "dynamodb:PutItem"},  # the job
        "DefinitionsTable": {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:ConditionCheckItem"},
        "DefinitionsTable/index/ById": QUERY,
        "PatientsTable": {"dynamodb:Query", "dynamodb:UpdateItem"},
        "PatientsTable/index/ByStage": QUERY,
        "JourneyLogTable": {"dynamodb:PutItem"},  # the move's transaction only
    },
    "AnalyticsFunction": {
        "DefinitionsTable": {"dynamodb:GetItem"},
        # a stage's days (Query), the stages seen (GetItem), the live counts (BatchGetItem)
        "JourneyRollupsTable": {"dynamodb:Query", "dynamodb:GetItem", "dynamodb:BatchGetItem"},
    },
    "JourneyRollupsFunction": {
        "JourneyLogTable/stream": {
            "dynamodb:DescribeStream",
            "dynamodb:GetRecords",
            "dynamodb:GetShardIterator",
        },
        # counters added and the batch marked applied, in the batch's transactions
        "JourneyRollupsTable": {"dynamodb:UpdateItem", "dynamodb:PutItem"},
        "JourneyRollupsDeadLetterQueue": SEND_MESSAGE,
    },
}

# Event sources for which SAM attaches a managed execution role with Resource "*" (it polls
# the source on the function's behalf), and why each one is accepted.
POLLED_SOURCES = {"SQS", "DynamoDB", "Kinesis", "MQ", "MSK", "SelfManagedKafka", "DocumentDB"}
SAM_MANAGED_POLICIES = {
    "AutomationFunction": (
        "SQS",
        "AWSLambdaSQSQueueExecutionRole (sqs:ReceiveMessage, DeleteMessage, "
        "GetQueueAttributes on *): the statement ReadAutomationQueue names the queue too",
    ),
    "MigrationsFunction": (
        "SQS",
        "AWSLambdaSQSQueueExecutionRole (sqs:ReceiveMessage, DeleteMessage, "
        "GetQueueAttributes on *): the statement WorkOnMigrationsQueue names the queue too",
    ),
    "StaleWorkerFunction": (
        "SQS",
        "AWSLambdaSQSQueueExecutionRole (sqs:ReceiveMessage, DeleteMessage, "
        "GetQueueAttributes on *): the statement WorkOnStaleUnitsQueue names the queue too",
    ),
    "StageChangePublisherFunction": (
        "DynamoDB",
        "AWSLambdaDynamoDBExecutionRole (dynamodb:DescribeStream, GetRecords, "
        "GetShardIterator, ListStreams on *): JourneyLogStreamRead names the stream too",
    ),
    "JourneyRollupsFunction": (
        "DynamoDB",
        "AWSLambdaDynamoDBExecutionRole (dynamodb:DescribeStream, GetRecords, "
        "GetShardIterator, ListStreams on *): JourneyLogStreamRead names the stream too",
    ),
}


def _declared(logical_id: str) -> set[tuple[str, str]]:
    return {
        (action, resource)
        for resource, actions in EXPECTED[logical_id].items()
        for action in actions
    }


def test_every_function_of_the_template_is_declared() -> None:
    assert set(EXPECTED) == set(FUNCTIONS)


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_no_wildcard_in_any_action_or_resource(logical_id: str) -> None:
    for statement in statements(TEMPLATE, logical_id):
        assert "NotAction" not in statement and "NotResource" not in statement, logical_id
        assert statement.get("Effect") == "Allow", logical_id
        for action in as_list(statement["Action"]):
            assert "*" not in action, (logical_id, statement.get("Sid"), action)
        for resource in as_list(statement["Resource"]):
            assert "*" not in repr(resource), (logical_id, statement.get("Sid"), resource)


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_each_function_may_do_exactly_what_it_uses(logical_id: str) -> None:
    # Given the permissions this file declares for the function
    declared = _declared(logical_id)

    # When the template's statements are read
    granted = grants(TEMPLATE, logical_id)

    # Then they allow exactly those: nothing missing, nothing more
    assert sorted(granted - declared) == [], "granted but not declared here"
    assert sorted(declared - granted) == [], "declared here but not granted"


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_policies_are_inline_statements_on_the_role_sam_makes(logical_id: str) -> None:
    properties: dict[str, Any] = TEMPLATE["Resources"][logical_id]["Properties"]
    # No role of our own, no managed policies, no SAM policy templates: all of it is above.
    assert "Role" not in properties
    assert "PermissionsBoundary" not in properties
    for policy in properties.get("Policies") or []:
        assert isinstance(policy, dict) and set(policy) == {"Version", "Statement"}, policy


def test_only_the_stage_movers_may_append_to_the_journey_log() -> None:
    # How they may (PutItem inside TransactWriteItems only): test_journey_log_append_only.py
    writers = {
        logical_id
        for logical_id, statement in _statements_on_the_log()
        if "dynamodb:PutItem" in as_list(statement["Action"])
    }
    assert writers == {"PatientsFunction", "AutomationFunction", "MigrationsFunction"}


def test_managed_policies_with_any_resource_are_the_accepted_exceptions() -> None:
    polled = {
        logical_id: event["Type"]
        for logical_id in FUNCTIONS
        for event in (TEMPLATE["Resources"][logical_id]["Properties"].get("Events") or {}).values()
        if event.get("Type") in POLLED_SOURCES
    }
    accepted = {logical_id: source for logical_id, (source, _) in SAM_MANAGED_POLICIES.items()}
    assert polled == accepted


# The source each publisher puts events under (the code's constants).
PUBLISHED_SOURCES = {
    "StageChangePublisherFunction": "journeys.service",
    "AutomationRulesFunction": "journeys.api",
    "AutomationFunction": "journeys.automation",
    "StaleWorkerFunction": "journeys.service",
    "AdminFunction": "journeys.service",
}


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_a_function_puts_events_under_its_own_source_only(logical_id: str) -> None:
    from journeys_core.services.automation import AUTOMATION_SOURCE
    from journeys_core.services.domain_events import API_SOURCE
    from journeys_core.services.stage_changes import EVENT_SOURCE

    assert set(PUBLISHED_SOURCES.values()) == {API_SOURCE, AUTOMATION_SOURCE, EVENT_SOURCE}
    conditions = [
        statement.get("Condition")
        for statement in statements(TEMPLATE, logical_id)
        if "events:PutEvents" in as_list(statement["Action"])
    ]
    expected = PUBLISHED_SOURCES.get(logical_id)
    assert conditions == ([{"StringEquals": {"events:source": expected}}] if expected else [])


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_each_function_has_a_reserved_concurrency_parameter(logical_id: str) -> None:
    concurrency = TEMPLATE["Resources"][logical_id]["Properties"]["ReservedConcurrentExecutions"]

    (parameter,) = concurrency.values()
    assert concurrency == {"Ref": parameter}
    assert TEMPLATE["Parameters"][parameter]["Type"] == "Number"
