"""Automation rules API: /api/v1/automation-rules… (admin), and POST /api/v1/events, the way
into the automation engine for callers that do not publish on EventBridge themselves."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from journeys_core.http import (
    Admin,
    Cursor,
    Integration,
    Limit,
    TaggedRoutes,
    build_resolver,
    logger,
    metrics,
)
from journeys_core.models.automation import (
    RULE_ID_PATTERN,
    AutomationRule,
    AutomationRuleCreate,
    AutomationRulePage,
    AutomationRuleUpdate,
    DomainEventSubmission,
    EventAccepted,
    PlaybookResult,
)
from journeys_core.observability import traced
from journeys_core.services import automation_rules, domain_events

app = build_resolver()
rules_api = TaggedRoutes(app, "Automation rules")
events_api = TaggedRoutes(app, "Events")
RuleId = Annotated[str, Path(pattern=RULE_ID_PATTERN)]
JSON = content_types.APPLICATION_JSON


def _json(status: int, body: Any) -> Response[dict[str, Any]]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=body.model_dump(mode="json"),
    )


@rules_api.route(
    "POST",
    "/api/v1/automation-rules/import-playbook",
    "importPlaybook",
    "Install the default rules for the built-in journeys",
)
def import_playbook(caller: Admin) -> PlaybookResult:
    result = automation_rules.import_playbook(caller.org)
    metrics.add_metric(name="PlaybookRulesInstalled", unit=MetricUnit.Count, value=result.installed)
    return result


@rules_api.route(
    "POST",
    "/api/v1/automation-rules",
    "createRule",
    "Create an automation rule",
    responses={201: {"description": "Rule created", "content": {JSON: {"model": AutomationRule}}}},
)
def create_rule(body: AutomationRuleCreate, caller: Admin) -> Response[dict[str, Any]]:
    return _json(201, automation_rules.create_rule(caller.org, body))


@rules_api.route(
    "GET", "/api/v1/automation-rules", "listRules", "List the organization's automation rules"
)
def list_rules(caller: Admin, limit: Limit = 50, cursor: Cursor = None) -> AutomationRulePage:
    return automation_rules.list_rules(caller.org, limit, cursor)


@rules_api.route("GET", "/api/v1/automation-rules/<rule_id>", "getRule", "Get an automation rule")
def get_rule(rule_id: RuleId, caller: Admin) -> AutomationRule:
    return automation_rules.get_rule(caller.org, rule_id)


@rules_api.route(
    "PATCH", "/api/v1/automation-rules/<rule_id>", "updateRule", "Change an automation rule"
)
def update_rule(rule_id: RuleId, body: AutomationRuleUpdate, caller: Admin) -> AutomationRule:
    return automation_rules.update_rule(caller.org, rule_id, body)


@rules_api.route(
    "DELETE",
    "/api/v1/automation-rules/<rule_id>",
    "deleteRule",
    "Delete an automation rule",
    responses={204: {"description": "Rule deleted"}},
)
def delete_rule(rule_id: RuleId, caller: Admin) -> Response[None]:
    automation_rules.delete_rule(caller.org, rule_id)
    return Response(status_code=204)


@events_api.route(
    "POST",
    "/api/v1/events",
    "submitEvent",
    "Submit a domain event to the automation engine",
    responses={
        202: {
            "description": "Accepted: on the bus, processed once per event id (an id given "
            "again for other content is 409). For integrations (the integration group) only.",
            "content": {JSON: {"model": EventAccepted}},
        }
    },
)
def submit_event(body: DomainEventSubmission, caller: Integration) -> Response[dict[str, Any]]:
    accepted = domain_events.submit_domain_event(caller.org, caller.actor, body)
    metrics.add_metric(name="DomainEventSubmitted", unit=MetricUnit.Count, value=1)
    return _json(202, accepted)


@traced
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
