"""Journey definitions in DynamoDB.

One table, two kinds of item per definition:

- current:  pk=ORG#{org}  sk=JOURNEY#{name}           (+ list_pk/list_sk, journey_id: sparse GSIs)
- version:  pk=ORG#{org}  sk=VERSION#{id}#{version:08d}  (a snapshot of every saved version)

Versions are keyed by the journey id, not its name, so a definition deleted and saved again
under the same name never shows the old one's history.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from journeys_core.clock import format_timestamp
from journeys_core.data.codec import cancellation_reasons, dump_json, from_item, to_item
from journeys_core.data.dynamo import (
    OnTable,
    UpdateExpression,
    batch_get,
    batch_write,
    query_all,
    query_page,
)
from journeys_core.errors import AlreadyExists, Conflict, NotFound
from journeys_core.models.journey import JourneyRecord, JourneySummary

_RECORD_SCALARS = (
    "id",
    "name",
    "description",
    "version",
    "products",
    "tags",
    "duration_days",
    "event_count",
    "is_active",
    "created_at",
    "updated_at",
    "execution_count",
    "last_executed",
)
_COUNTERS = ("execution_count", "last_executed")
LIST_KEY_ATTRS = {"pk", "sk", "list_pk", "list_sk"}


def org_pk(org: str) -> str:
    return f"ORG#{org}"


def current_sk(name: str) -> str:
    return f"JOURNEY#{name}"


def version_sk(journey_id: str, version: int) -> str:
    return f"VERSION#{journey_id}#{version:08d}"


# The stale monitor's index (GSI ByStaleRules): every saved version that has stale rules,
# of every organization. Versions, not current definitions: an enrollment follows the rules
# of the version it is pinned to, which a later version may have dropped or changed.
STALE_RULES_PK = "STALE"


def stale_rules_sk(org: str, name: str, version: int) -> str:
    return f"ORG#{org}#JOURNEY#{name}#V#{version:08d}"


@dataclass(frozen=True)
class WatchedVersion:
    """A saved version with stale rules, of a journey that is active (retired journeys are
    not watched), as the ByStaleRules index projects it."""

    org: str
    name: str
    version: int
    journey_spec: dict[str, Any]


@dataclass(frozen=True)
class ListFilters:
    products: Sequence[str] = ()
    tags: Sequence[str] = ()
    search: str | None = None


def _record_values(org: str, record: JourneyRecord) -> dict[str, Any]:
    values = record.model_dump(mode="json", include=set(_RECORD_SCALARS))
    values["organization_id"] = org
    values["spec_json"] = dump_json(record.journey_spec)
    values["metadata_json"] = dump_json(record.metadata)
    values["search_text"] = f"{record.name}\n{record.description}".lower()
    values["has_stages"] = bool(record.journey_spec.get("stages"))
    return values


def _current_item(org: str, record: JourneyRecord) -> dict[str, Any]:
    return to_item(_current_values(org, record))


def _current_values(org: str, record: JourneyRecord) -> dict[str, Any]:
    values = _record_values(org, record)
    values.update(
        pk=org_pk(org),
        sk=current_sk(record.name),
        list_pk=org_pk(org),
        list_sk=f"{format_timestamp(record.updated_at)}#{record.id}",
        journey_id=record.id,
    )
    # Not in ByStaleRules: its versions are (None is REMOVEd on replace, so a current item
    # indexed by an earlier release leaves the index when it is next saved).
    values.update(stale_pk=None, stale_sk=None)
    return values


def _version_item(org: str, record: JourneyRecord) -> dict[str, Any]:
    values = _record_values(org, record)
    for counter in _COUNTERS:  # counters belong to the journey, not to one version
        values.pop(counter, None)
    values.update(pk=org_pk(org), sk=version_sk(record.id, record.version))
    if record.journey_spec.get("stale_rules"):
        # Sparse GSI ByStaleRules, written once with the snapshot (which never changes).
        values.update(
            stale_pk=STALE_RULES_PK, stale_sk=stale_rules_sk(org, record.name, record.version)
        )
    return to_item(values)


def record_from_item(item: Mapping[str, Any]) -> JourneyRecord:
    values = from_item(item, journey_spec=("spec_json", "{}"), metadata=("metadata_json", "{}"))
    return JourneyRecord.model_validate(values)


def summary_from_item(item: Mapping[str, Any]) -> JourneySummary:
    values = from_item(item, metadata=("metadata_json", "{}"))
    return JourneySummary.model_validate(values)


class DefinitionsRepository(OnTable):
    # -- writes ----------------------------------------------------------------------------

    def create(self, org: str, record: JourneyRecord) -> None:
        """Current item and version 1 in one transaction; a taken name is AlreadyExists."""
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": _current_item(org, record),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {"Put": {"TableName": self.table, "Item": _version_item(org, record)}},
                ]
            )
        except self._db.exceptions.TransactionCanceledException as error:
            if cancellation_reasons(error)[:1] == ["ConditionalCheckFailed"]:
                raise AlreadyExists(f"a journey named {record.name!r} already exists") from error
            raise

    def replace(self, org: str, record: JourneyRecord, expected_version: int) -> None:
        """Write the new current fields, and the snapshot of a new version, only if nobody
        else changed the definition since it was read (optimistic lock on ``version`` and
        ``updated_at``). An update, not a put: execution counters and the enrollment count
        move concurrently and must not be overwritten. A saved version's snapshot is never
        written again (``attribute_not_exists``)."""
        current = _current_values(org, record)
        update = UpdateExpression().set(
            {k: v for k, v in current.items() if k not in ("pk", "sk", *_COUNTERS)}
        )
        journey_id, version = update.value(record.id), update.value(expected_version)
        condition = f"journey_id = {journey_id} AND version = {version}"
        actions: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": {"pk": {"S": org_pk(org)}, "sk": {"S": current_sk(record.name)}},
                    "ConditionExpression": condition,
                    **update.params(),
                }
            }
        ]
        if record.version != expected_version:
            actions.append(
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": _version_item(org, record),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            )
        try:
            self._db.transact_write_items(TransactItems=actions)
        except self._db.exceptions.TransactionCanceledException as error:
            if "ConditionalCheckFailed" in cancellation_reasons(error):
                raise Conflict(
                    f"journey {record.name!r} changed meanwhile; load it again and retry"
                ) from error
            raise

    def delete(self, org: str, record: JourneyRecord) -> None:
        """Remove the current item (so the journey disappears at once), then its versions.

        Only a journey nobody was ever enrolled in: log entries cite its versions (Conflict,
        retire it instead). The condition and the enrollment's count are on the same item,
        so a delete and a first enrollment racing each other cannot both succeed."""
        try:
            self._db.delete_item(
                TableName=self.table,
                Key={"pk": {"S": org_pk(org)}, "sk": {"S": current_sk(record.name)}},
                ConditionExpression=(
                    "journey_id = :id AND "
                    "(attribute_not_exists(enrollment_count) OR enrollment_count = :none)"
                ),
                ExpressionAttributeValues={":id": {"S": record.id}, ":none": {"N": "0"}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self._db.exceptions.ConditionalCheckFailedException as error:
            stored = getattr(error, "response", {}).get("Item") or {}
            if stored.get("journey_id", {}).get("S") == record.id:
                enrolled = stored.get("enrollment_count", {}).get("N", "0")
                raise Conflict(
                    f"journey {record.name!r} has had {enrolled} enrollments and its log "
                    "entries cite its versions: retire it (PATCH is_active=false) instead "
                    "of deleting it"
                ) from error
            raise NotFound(f"journey {record.name!r} not found") from error
        version_keys = [
            {"pk": item["pk"], "sk": item["sk"]}
            for item in self._query_all(
                KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
                ExpressionAttributeValues={
                    ":pk": {"S": org_pk(org)},
                    ":prefix": {"S": f"VERSION#{record.id}#"},
                },
                ProjectionExpression="pk, sk",
            )
        ]
        batch_write(self.table, deletes=version_keys)

    # -- reads -----------------------------------------------------------------------------

    def get_by_name(self, org: str, name: str) -> JourneyRecord | None:
        response = self._db.get_item(
            TableName=self.table,
            Key={"pk": {"S": org_pk(org)}, "sk": {"S": current_sk(name)}},
        )
        item = response.get("Item")
        return record_from_item(item) if item else None

    def get_by_id(self, org: str, journey_id: str) -> JourneyRecord | None:
        response = self._db.query(
            TableName=self.table,
            IndexName="ById",
            KeyConditionExpression="journey_id = :id",
            ExpressionAttributeValues={":id": {"S": journey_id}},
        )
        for item in response.get("Items", []):
            if item["pk"]["S"] == org_pk(org):  # another tenant's journey does not exist here
                return record_from_item(item)
        return None

    def get_version(self, org: str, journey_id: str, version: int) -> JourneyRecord | None:
        response = self._db.get_item(
            TableName=self.table,
            Key={"pk": {"S": org_pk(org)}, "sk": {"S": version_sk(journey_id, version)}},
        )
        item = response.get("Item")
        return record_from_item(item) if item else None

    def list_versions(self, org: str, journey_id: str) -> list[JourneyRecord]:
        items = self._query_all(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={
                ":pk": {"S": org_pk(org)},
                ":prefix": {"S": f"VERSION#{journey_id}#"},
            },
            ScanIndexForward=False,
        )
        return [record_from_item(item) for item in items]

    def list_with_stages(self, org: str) -> list[JourneyRecord]:
        """Every current definition that has a stage machine (few per organization)."""
        items = self._query_all(
            IndexName="ByUpdated",
            KeyConditionExpression="list_pk = :pk",
            FilterExpression="has_stages = :yes",
            ExpressionAttributeValues={":pk": {"S": org_pk(org)}, ":yes": {"BOOL": True}},
        )
        return [record_from_item(item) for item in items]

    def list_with_stale_rules(self, org: str | None = None) -> list[WatchedVersion]:
        """Every saved version with stale rules of every active journey, of every
        organization or of ``org``: Queries on the sparse ByStaleRules index (a few items per
        journey, never a Scan), then one BatchGetItem per 100 journeys for whether each is
        still the same journey (a version of a deleted one is not watched) and active."""
        params: dict[str, Any] = {
            "IndexName": "ByStaleRules",
            "KeyConditionExpression": "stale_pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": STALE_RULES_PK}},
        }
        if org is not None:
            params["KeyConditionExpression"] += " AND begins_with(stale_sk, :org)"
            params["ExpressionAttributeValues"][":org"] = {"S": f"ORG#{org}#"}
        _project(params, ["sk", "organization_id", "name", "spec_json"])
        # (journey id or None, version or None, the version's rules); both None: a current
        # item an earlier release indexed, standing for the journey's current version until
        # it is saved again (then its new version is indexed and the current item leaves).
        found: list[tuple[str | None, int | None, WatchedVersion]] = []
        for item in self._query_all(**params):
            journey_id, version = None, None
            if item["sk"]["S"].startswith("VERSION#"):
                _, journey_id, number = item["sk"]["S"].split("#")
                version = int(number)
            watched = WatchedVersion(
                org=item["organization_id"]["S"],
                name=item["name"]["S"],
                version=version or 0,
                journey_spec=json.loads(item["spec_json"]["S"]),
            )
            # The prefix ends in '#', which no organization id holds; the exact comparison
            # keeps another organization out even so.
            if org is None or watched.org == org:
                found.append((journey_id, version, watched))
        active = self._active_journeys({(w.org, w.name) for _, _, w in found})
        return [
            dataclasses.replace(watched, version=version or current[1])
            for journey_id, version, watched in found
            if (current := active.get((watched.org, watched.name)))
            and journey_id in (None, current[0])
        ]

    def _active_journeys(self, journeys: set[tuple[str, str]]) -> dict[tuple[str, str], Any]:
        """(journey id, current version) of each given (org, name) journey that exists and
        is active."""
        keys = [
            {"pk": {"S": org_pk(org)}, "sk": {"S": current_sk(name)}}
            for org, name in sorted(journeys)
        ]
        items = batch_get(
            self.table,
            keys,
            projection={
                "ProjectionExpression": "organization_id, #name, journey_id, #version, is_active",
                "ExpressionAttributeNames": {"#name": "name", "#version": "version"},
            },
        )
        return {
            (item["organization_id"]["S"], item["name"]["S"]): (
                item["journey_id"]["S"],
                int(item["version"]["N"]),
            )
            for item in items
            if item.get("is_active", {}).get("BOOL") and "journey_id" in item
        }

    def existing_names(self, org: str) -> set[str]:
        items = self._query_all(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":pk": {"S": org_pk(org)}, ":prefix": {"S": "JOURNEY#"}},
            ProjectionExpression="sk",
        )
        return {item["sk"]["S"].removeprefix("JOURNEY#") for item in items}

    def list_current(
        self, org: str, filters: ListFilters, limit: int, cursor: str | None
    ) -> tuple[list[JourneySummary], str | None]:
        """Newest ``updated_at`` first. Filters are applied by DynamoDB before our limit:
        each Query reads up to 1 MB and we keep going until ``limit`` matches are found."""
        params: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": "ByUpdated",
            "KeyConditionExpression": "list_pk = :pk",
            "ScanIndexForward": False,
            "ExpressionAttributeValues": {":pk": {"S": org_pk(org)}},
        }
        _project(params, ["pk", "sk", "list_pk", "list_sk", "metadata_json", *_RECORD_SCALARS])
        _add_filters(params, filters)
        items, next_cursor = query_page(
            params,
            limit=limit,
            cursor=cursor,
            key_attrs=LIST_KEY_ATTRS,
            owns=lambda key: key["list_pk"] == org_pk(org),
        )
        return [summary_from_item(item) for item in items], next_cursor

    def _query_all(self, **params: Any) -> Iterator[dict[str, Any]]:
        return query_all({**params, "TableName": self.table})


def _project(params: dict[str, Any], attributes: Sequence[str]) -> None:
    """A projection through placeholders: several of our names are DynamoDB reserved words."""
    names = params.setdefault("ExpressionAttributeNames", {})
    placeholders = []
    for i, attribute in enumerate(attributes):
        names[f"#p{i}"] = attribute
        placeholders.append(f"#p{i}")
    params["ProjectionExpression"] = ", ".join(placeholders)


def _add_filters(params: dict[str, Any], filters: ListFilters) -> None:
    values = params["ExpressionAttributeValues"]
    clauses = []
    for attr, wanted in (("products", filters.products), ("tags", filters.tags)):
        if wanted:
            options = []
            for i, value in enumerate(wanted):
                values[f":{attr}{i}"] = {"S": value}
                options.append(f"contains({attr}, :{attr}{i})")
            clauses.append("(" + " OR ".join(options) + ")")
    if filters.search:
        values[":search"] = {"S": filters.search.lower()}
        clauses.append("contains(search_text, :search)")
    if clauses:
        params["FilterExpression"] = " AND ".join(clauses)
