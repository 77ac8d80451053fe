"""Automation rules in DynamoDB (their own table), and the warm container's cache of them.

- rule:  pk=ORG#{org}  sk=RULE#{id}
         (+ trigger_pk=ORG#{org}#TRIGGER#{trigger}, trigger_sk={priority:05d}#{id}, only while
         the rule is active: the sparse GSI ByTrigger reads an organization's active rules
         for one trigger, in priority order, in one Query)

Conditions and actions are stored as JSON text: their values are any JSON, which DynamoDB
numbers and empty strings would not keep as given.
"""

from __future__ import annotations

from typing import Any

from journeys_core.data.codec import dump_json, from_item, to_item
from journeys_core.data.definitions import org_pk
from journeys_core.data.dynamo import OnTable, in_partition, query_all, records_page, refused_as
from journeys_core.data.throttling import throttling_as_unavailable
from journeys_core.errors import AlreadyExists, Conflict, NotFound
from journeys_core.models.automation import AutomationRule

RULE_PREFIX = "RULE#"
LIST_KEY_ATTRS = {"pk", "sk"}
_STORED_ONLY = ("pk", "sk", "trigger_pk", "trigger_sk")


def rule_sk(rule_id: str) -> str:
    return f"{RULE_PREFIX}{rule_id}"


def trigger_pk(org: str, trigger_event: str) -> str:
    return f"ORG#{org}#TRIGGER#{trigger_event}"


def _rule_item(rule: AutomationRule) -> dict[str, Any]:
    values = rule.model_dump(mode="json", exclude={"conditions", "actions"})
    values.update(
        pk=org_pk(rule.organization_id),
        sk=rule_sk(rule.id),
        conditions_json=dump_json([c.model_dump(mode="json") for c in rule.conditions]),
        actions_json=dump_json([a.model_dump(mode="json") for a in rule.actions]),
    )
    if rule.is_active:
        values["trigger_pk"] = trigger_pk(rule.organization_id, rule.trigger_event)
        values["trigger_sk"] = f"{rule.priority:05d}#{rule.id}"
    return to_item(values)


def rule_from_item(item: dict[str, Any]) -> AutomationRule:
    values = from_item(item, conditions=("conditions_json", "[]"), actions=("actions_json", "[]"))
    for name in _STORED_ONLY:
        values.pop(name, None)
    return AutomationRule.model_validate(values)


class RulesRepository(OnTable):
    def create(self, rule: AutomationRule) -> None:
        """Store a new rule; AlreadyExists if one has its id."""
        refusal = AlreadyExists(f"a rule with id {rule.id!r} already exists")
        with refused_as(refusal), throttling_as_unavailable(f"rule {rule.id!r}"):
            self._db.put_item(
                TableName=self.table,
                Item=_rule_item(rule),
                ConditionExpression="attribute_not_exists(pk)",
            )

    def replace(self, rule: AutomationRule, expected_version: int) -> None:
        """Write the whole rule if nobody changed or deleted it since it was read."""
        refusal = Conflict(
            f"rule {rule.id!r} was changed or deleted meanwhile; read it again and retry"
        )
        with refused_as(refusal), throttling_as_unavailable(f"rule {rule.id!r}"):
            self._db.put_item(
                TableName=self.table,
                Item=_rule_item(rule),
                ConditionExpression="version = :v",
                ExpressionAttributeValues={":v": {"N": str(expected_version)}},
            )

    def delete(self, org: str, rule_id: str) -> None:
        refusal = NotFound(f"rule {rule_id!r} not found")
        with refused_as(refusal), throttling_as_unavailable(f"rule {rule_id!r}"):
            self._db.delete_item(
                TableName=self.table,
                Key={"pk": {"S": org_pk(org)}, "sk": {"S": rule_sk(rule_id)}},
                ConditionExpression="attribute_exists(pk)",
            )

    def get(self, org: str, rule_id: str) -> AutomationRule | None:
        with throttling_as_unavailable(f"rule {rule_id!r}"):
            item = self._db.get_item(
                TableName=self.table,
                Key={"pk": {"S": org_pk(org)}, "sk": {"S": rule_sk(rule_id)}},
            ).get("Item")
        return rule_from_item(item) if item else None

    def page(
        self, org: str, limit: int, cursor: str | None
    ) -> tuple[list[AutomationRule], str | None]:
        """One page of the organization's rules, by id (one Query)."""
        pk = org_pk(org)
        params: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": pk}, ":prefix": {"S": RULE_PREFIX}},
        }
        owns = in_partition("pk", pk)
        return records_page(params, rule_from_item, "rules", LIST_KEY_ATTRS, owns, limit, cursor)

    def active_for_trigger(self, org: str, trigger_event: str) -> list[AutomationRule]:
        """The organization's active rules for one trigger, in priority order (one Query
        on the sparse ByTrigger index, more only past 1 MB of rules)."""
        params: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": "ByTrigger",
            "KeyConditionExpression": "trigger_pk = :tpk",
            "ExpressionAttributeValues": {":tpk": {"S": trigger_pk(org, trigger_event)}},
        }
        with throttling_as_unavailable(f"rules for {trigger_event}"):
            items = list(query_all(params))
        return [rule_from_item(item) for item in items]
