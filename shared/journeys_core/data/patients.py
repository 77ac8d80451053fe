"""Patients in DynamoDB: profile, enrollments and the events a patient has had, in one
partition, so that reading a patient (or everything a stage move needs) is one Query.

- profile:      pk=ORG#{org}#PATIENT#{id}  sk=PROFILE
- enrollment:   pk=ORG#{org}#PATIENT#{id}  sk=ENROLLMENT#{journey}
                (+ stage_pk=ORG#{org}#J#{journey}#S#{stage}[#SH#{shard}], entered_at,
                stage_shards: sparse GSI ByStage, who stands in a stage now, longest first,
                write-sharded as ``data/stage_index`` says; the stale monitor reads
                ``entered_at < cutoff`` on it, so it reads stuck enrollments only)
                and display_name: the profile's, so a stage's list names its patients in
                the same Query (a rename updates it)
- events seen:  pk=ORG#{org}#PATIENT#{id}  sk=EVENTS_SEEN  (event_types: a string set)

Finding a patient: the profile carries name_pk=ORG#{org}#NAME and name_sk={normalized
name}#{id} (GSI ByName: a name prefix, case and accents aside, is one Query in the caller's
organization) and email_pk=ORG#{org}#EMAIL#{email} (GSI ByEmail: an exact email).

"Events seen" is how stage guards (``requires_events``) are checked: the automation engine
records each domain event type a patient has had with :meth:`record_event_seen` (an
idempotent ``ADD``), and a move triggered by an event records its type in the move's own
transaction. A patient exists once it has a profile or an enrollment.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from journeys_core.clock import format_timestamp
from journeys_core.data import aws
from journeys_core.data.codec import (
    cancellation_reasons,
    dump_json,
    error_code,
    from_item,
    to_item,
)
from journeys_core.data.definitions import current_sk, org_pk
from journeys_core.data.dynamo import UpdateExpression, query_all, records_page
from journeys_core.data.journey_log import log_item
from journeys_core.data.stage_index import (
    merged_page,
    read_shards,
    shard_of,
    shard_of_partition,
    stage_partitions,
    stage_pk,
    stored_key,
)
from journeys_core.data.throttling import (
    THROTTLED_REASONS,
    THROTTLING_CODES,
    throttling_as_unavailable,
    unavailable,
)
from journeys_core.domain.patient_search import (
    name_sort_key,
    normalized_email,
    normalized_name,
)
from journeys_core.domain.stage_machine import PlannedMove
from journeys_core.domain.stale_monitor import StuckEnrollment
from journeys_core.errors import DomainError, JourneyChanged, LostRace
from journeys_core.models.patient import (
    Enrollment,
    JourneyLogEntry,
    PatientProfileUpdate,
    PatientSummary,
    PatientView,
    StageMember,
)

PROFILE_SK = "PROFILE"
ENROLLMENT_PREFIX = "ENROLLMENT#"
EVENTS_SEEN_SK = "EVENTS_SEEN"
STAGE_KEY_ATTRS = {"pk", "sk", "stage_pk", "entered_at"}
NAME_KEY_ATTRS = {"pk", "sk", "name_pk", "name_sk"}
EMAIL_KEY_ATTRS = {"pk", "sk", "email_pk"}


def patient_pk(org: str, patient_id: str) -> str:
    return f"ORG#{org}#PATIENT#{patient_id}"


def enrollment_sk(journey_key: str) -> str:
    return f"{ENROLLMENT_PREFIX}{journey_key}"


def name_pk(org: str) -> str:
    return f"ORG#{org}#NAME"


def email_pk(org: str, email: str) -> str:
    return f"ORG#{org}#EMAIL#{normalized_email(email)}"


def search_keys(org: str, patient_id: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """The index keys of the profile fields being written (None removes a key: a cleared
    name or email is no longer found)."""
    keys: dict[str, Any] = {}
    if "display_name" in given:
        name = given["display_name"]
        keys["name_pk"] = name_pk(org) if name else None
        keys["name_sk"] = name_sort_key(name, patient_id) if name else None
    if "email" in given:
        keys["email_pk"] = email_pk(org, given["email"]) if given["email"] else None
    return keys


@dataclass(frozen=True)
class PatientRecord:
    """Everything stored about one patient (one Query)."""

    org: str
    patient_id: str
    profile: Mapping[str, Any] | None = None
    enrollments: Mapping[str, Enrollment] = field(default_factory=dict)
    events_seen: frozenset[str] = frozenset()

    @property
    def exists(self) -> bool:
        return self.profile is not None or bool(self.enrollments)

    def with_enrollment(self, enrollment: Enrollment) -> PatientRecord:
        enrollments = {**self.enrollments, enrollment.journey_key: enrollment}
        return PatientRecord(self.org, self.patient_id, self.profile, enrollments, self.events_seen)

    def view(self) -> PatientView:
        profile = self.profile or {}
        enrollments = dict(sorted(self.enrollments.items()))
        # A patient exists from its first profile write or enrollment, whichever came first.
        moments = [e.enrolled_at for e in enrollments.values()]
        if profile.get("created_at"):
            moments.append(datetime.fromisoformat(profile["created_at"]))
        return PatientView(
            id=self.patient_id,
            organization_id=self.org,
            display_name=profile.get("display_name"),
            email=profile.get("email"),
            metadata=json.loads(profile.get("metadata_json") or "{}"),
            journey_status={key: e.stage for key, e in enrollments.items()},
            enrollments=enrollments,
            created_at=min(moments, default=None),
            updated_at=profile.get("updated_at"),
        )


def _summary_of(item: dict[str, Any]) -> PatientSummary:
    values = from_item(item)
    return PatientSummary(
        id=values["patient_id"],
        display_name=values.get("display_name"),
        email=values.get("email"),
        updated_at=values.get("updated_at"),
    )


def _enrollment_from_values(values: Mapping[str, Any]) -> Enrollment:
    return Enrollment.model_validate(
        {name: values[name] for name in Enrollment.model_fields if name in values}
    )


@dataclass(frozen=True)
class StoredEnrollment:
    """An enrollment as the stage index lists it, with the shard count it was keyed with."""

    patient_id: str
    enrollment: Enrollment
    stage_shards: int


def _stage_index_values(
    org: str, patient_id: str, enrollment: Enrollment, shards: int
) -> dict[str, Any]:
    """The attributes that place an enrollment in the stage index."""
    return {
        "stage_pk": stage_pk(
            org, enrollment.journey_key, enrollment.stage, shard_of(patient_id, shards)
        ),
        "stage_shards": shards,
    }


class PatientsRepository:
    def __init__(self, table_name: str, log_table_name: str, definitions_table: str) -> None:
        self.table = table_name
        self.log_table = log_table_name
        self.definitions_table = definitions_table

    @property
    def _db(self) -> Any:
        return aws.dynamodb()

    # -- reads -----------------------------------------------------------------------------

    def read(self, org: str, patient_id: str) -> PatientRecord:
        """Profile, enrollments and events seen: one (strongly consistent) Query."""
        params: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": patient_pk(org, patient_id)}},
            "ConsistentRead": True,
        }
        with throttling_as_unavailable(f"patient {patient_id!r}"):
            items = list(query_all(params))
        profile: dict[str, Any] | None = None
        enrollments: dict[str, Enrollment] = {}
        events_seen: frozenset[str] = frozenset()
        for item in items:
            values = from_item(item)
            sk = values["sk"]
            if sk == PROFILE_SK:
                profile = values
            elif sk.startswith(ENROLLMENT_PREFIX):
                enrollment = _enrollment_from_values(values)
                enrollments[enrollment.journey_key] = enrollment
            elif sk == EVENTS_SEEN_SK:
                events_seen = frozenset(values.get("event_types") or ())
        return PatientRecord(org, patient_id, profile, enrollments, events_seen)

    def members_in_stage(
        self,
        org: str,
        journey_key: str,
        stage: str,
        limit: int,
        cursor: str | None,
        *,
        shards: int = 1,
    ) -> tuple[list[StageMember], str | None]:
        """One page of the patients standing in a stage now, longest first: one Query per
        shard, in parallel, merged by ``entered_at``."""
        params: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": "ByStage",
            "KeyConditionExpression": "stage_pk = :spk",
            "ScanIndexForward": True,
        }
        with throttling_as_unavailable("patients in stage"):
            page, next_cursor = merged_page(
                params,
                stage_partitions(org, journey_key, stage, shards),
                limit=limit,
                cursor=cursor,
                key_attrs=STAGE_KEY_ATTRS,
                owns=lambda key: key["pk"].startswith(patient_pk(org, "")),
            )
        return [StageMember.model_validate(from_item(item)) for item in page], next_cursor

    def search(
        self, org: str, term: str, limit: int, cursor: str | None
    ) -> tuple[list[PatientSummary], str | None]:
        """One page of the patients whose name starts with ``term`` (case and accents aside,
        by name) or whose email is ``term`` (an ``@`` makes it one): one Query on ByName or
        ByEmail, in the caller's organization only."""
        if "@" in term:
            partition = email_pk(org, term)
            params: dict[str, Any] = {
                "IndexName": "ByEmail",
                "KeyConditionExpression": "email_pk = :pk",
                "ExpressionAttributeValues": {":pk": {"S": partition}},
            }
            key_attrs = EMAIL_KEY_ATTRS

            def owns(key: dict[str, str]) -> bool:
                return key["email_pk"] == partition

        else:
            prefix = normalized_name(term)
            partition = name_pk(org)
            params = {
                "IndexName": "ByName",
                "KeyConditionExpression": "name_pk = :pk AND begins_with(name_sk, :prefix)",
                "ExpressionAttributeValues": {":pk": {"S": partition}, ":prefix": {"S": prefix}},
            }
            key_attrs = NAME_KEY_ATTRS

            def owns(key: dict[str, str]) -> bool:
                return key["name_pk"] == partition and key["name_sk"].startswith(prefix)

        params["TableName"] = self.table
        return records_page(params, _summary_of, "patient search", key_attrs, owns, limit, cursor)

    def enrollments_in_stage(
        self,
        org: str,
        journey_key: str,
        stage: str,
        *,
        shards: int,
        start_after: Mapping[str, Any] | None = None,
        limit: int = 100,
    ) -> tuple[list[StoredEnrollment], dict[str, Any] | None]:
        """One page of the enrollments standing in a stage, every shard, one shard after
        another (one Query); the second value is where the next page starts (JSON-ready:
        a background job stores it)."""
        shard = int(start_after["shard"]) if start_after else 0
        after = start_after.get("after") if start_after else None
        partitions = stage_partitions(org, journey_key, stage, shards)
        params: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": "ByStage",
            "KeyConditionExpression": "stage_pk = :spk",
            "ExpressionAttributeValues": {":spk": {"S": partitions[shard]}},
            "Limit": limit,
        }
        if after:
            params["ExclusiveStartKey"] = to_item(after)
        with throttling_as_unavailable("enrollments in stage"):
            response = self._db.query(**params)
        page = [
            StoredEnrollment(
                values["patient_id"],
                _enrollment_from_values(values),
                int(values.get("stage_shards") or 1),
            )
            for values in map(from_item, response.get("Items", []))
        ]
        last = response.get("LastEvaluatedKey")
        if last:
            return page, {"shard": shard, "after": stored_key(last, STAGE_KEY_ATTRS)}
        if shard + 1 < len(partitions):
            return page, {"shard": shard + 1, "after": None}
        return page, None

    def repin(
        self,
        org: str,
        patient_id: str,
        enrollment: Enrollment,
        to_version: int,
        *,
        stage_shards: int,
    ) -> None:
        """Pin an enrollment to another version of its journey, where it stands, keyed in
        the stage index for ``stage_shards`` (LostRace if it changed since it was read)."""
        update = UpdateExpression().set(
            {
                "definition_version": to_version,
                "version": enrollment.version + 1,
                **_stage_index_values(org, patient_id, enrollment, stage_shards),
            }
        )
        condition = f"{update.name('version')} = {update.value(enrollment.version)}"
        try:
            self._db.update_item(
                TableName=self.table,
                Key={
                    "pk": {"S": patient_pk(org, patient_id)},
                    "sk": {"S": enrollment_sk(enrollment.journey_key)},
                },
                ConditionExpression=condition,
                **update.params(),
            )
        except self._db.exceptions.ConditionalCheckFailedException as error:
            raise LostRace(f"patient {patient_id!r} was moved meanwhile") from error

    def stuck_enrollments(
        self,
        org: str,
        journey_key: str,
        stage: str,
        entered_before: datetime,
        *,
        shard: int = 0,
        start_after: Mapping[str, Any] | None = None,
        limit: int = 1000,
    ) -> tuple[list[StuckEnrollment], dict[str, Any] | None]:
        """One page of the enrollments standing in one shard of a stage since before
        ``entered_before``, longest first (one Query on ByStage with ``entered_at < cutoff``:
        the stale monitor reads stuck enrollments only). The second value is where the next
        page starts; a ``start_after`` key says its own shard."""
        if start_after:
            shard = shard_of_partition(start_after["stage_pk"]["S"])
        params: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": "ByStage",
            "KeyConditionExpression": "stage_pk = :spk AND entered_at < :cutoff",
            "ExpressionAttributeValues": {
                ":spk": {"S": stage_pk(org, journey_key, stage, shard)},
                ":cutoff": {"S": format_timestamp(entered_before)},
            },
            "ProjectionExpression": (
                "pk, sk, stage_pk, entered_at, patient_id, definition_version, ended_at"
            ),
            "ScanIndexForward": True,
            "Limit": limit,
        }
        if start_after:
            params["ExclusiveStartKey"] = dict(start_after)
        with throttling_as_unavailable("stuck enrollments"):
            response = self._db.query(**params)
        stuck = [
            StuckEnrollment(
                patient_id=item["patient_id"]["S"],
                entered_at=datetime.fromisoformat(item["entered_at"]["S"]),
                resume_key={k: item[k] for k in STAGE_KEY_ATTRS},
                definition_version=int(item["definition_version"]["N"]),
                ended="ended_at" in item,
            )
            for item in response.get("Items", [])
        ]
        return stuck, response.get("LastEvaluatedKey")

    def stuck_in_every_shard(
        self,
        org: str,
        journey_key: str,
        stage: str,
        entered_before: datetime,
        *,
        shards: int,
        limit: int = 1000,
    ) -> Iterator[list[StuckEnrollment]]:
        """Pages of the enrollments standing in a stage since before ``entered_before``, of
        every shard: each round reads the next page of every shard not yet done, in
        parallel (one Query each). A worker that owns one shard calls
        :meth:`stuck_enrollments` with ``shard=`` instead."""
        positions: dict[int, Mapping[str, Any] | None] = dict.fromkeys(range(shards))
        while positions:
            pending = list(positions)
            answers = read_shards(
                pending,
                lambda shard: self.stuck_enrollments(
                    org,
                    journey_key,
                    stage,
                    entered_before,
                    shard=shard,
                    start_after=positions[shard],
                    limit=limit,
                ),
            )
            page: list[StuckEnrollment] = []
            for shard, (stuck, next_key) in zip(pending, answers, strict=True):
                page += stuck
                if next_key is None:
                    del positions[shard]
                else:
                    positions[shard] = next_key
            if page:
                yield page

    # -- writes ----------------------------------------------------------------------------

    def save_profile(
        self, org: str, patient_id: str, update: PatientProfileUpdate, now: datetime
    ) -> bool:
        """Set the fields given (``null`` removes one); True when the profile is new."""
        timestamp = format_timestamp(now)
        given = update.model_dump(include=update.model_fields_set)
        to_set: dict[str, Any] = {
            "organization_id": org,
            "patient_id": patient_id,
            "updated_at": timestamp,
        }
        for name, value in given.items():  # a None removes the field
            stored_name = "metadata_json" if name == "metadata" else name
            to_set[stored_name] = dump_json(value) if name == "metadata" and value else value
        to_set.update(search_keys(org, patient_id, given))
        to_item(to_set)  # PayloadTooLarge naming the field, before DynamoDB would refuse it
        expression = UpdateExpression().set(to_set).set_if_missing("created_at", timestamp)
        with throttling_as_unavailable(f"patient {patient_id!r}"):
            response = self._db.update_item(
                TableName=self.table,
                Key={"pk": {"S": patient_pk(org, patient_id)}, "sk": {"S": PROFILE_SK}},
                ReturnValues="ALL_OLD",
                **expression.params(),
            )
        return not response.get("Attributes")

    def name_enrollments(
        self, org: str, patient_id: str, display_name: str | None, journey_keys: list[str]
    ) -> None:
        """Write the profile's (new) name on each of the patient's enrollments, in one
        transaction: a stage's list then names the patient without reading the profile."""
        if not journey_keys:
            return
        actions = []
        for journey_key in journey_keys:
            update = UpdateExpression().set({"display_name": display_name})
            actions.append(
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": {
                            "pk": {"S": patient_pk(org, patient_id)},
                            "sk": {"S": enrollment_sk(journey_key)},
                        },
                        "ConditionExpression": "attribute_exists(pk)",
                        **update.params(),
                    }
                }
            )
        with throttling_as_unavailable(f"patient {patient_id!r}"):
            self._db.transact_write_items(TransactItems=actions)

    def commit_stage_change(
        self,
        planned: PlannedMove,
        *,
        journey_id: str,
        journey_version: int,
        display_name: str | None = None,
        stage_shards: int,
    ) -> None:
        """The enrollment's new stage and its log entry in ONE transaction: neither exists
        without the other. The enrollment is written only if it still stands where it was
        read (stage and version), or does not exist yet for a first enrollment (else
        LostRace); and only while its journey (``journey_id``) exists, and for a first
        enrollment is active and still at ``journey_version``: that one also counts the
        enrollment on the definition, so a journey patients have walked is never deleted
        (else JourneyChanged). Throttling is ServiceUnavailable. A new enrollment (or
        episode) carries the profile's ``display_name`` and checks, in the same transaction,
        that the profile still has it (a rename meanwhile would miss this enrollment: LostRace);
        later moves leave the name to renames. The enrollment is keyed in the stage index for
        the journey's ``stage_shards``."""
        enrollment, entry = planned.enrollment, planned.entry
        if entry.entry_hash is None or enrollment.log_hash != entry.entry_hash:
            # Every writer chains its entry (journeys_core.domain.log_chain.chain_entry).
            raise ValueError(f"log entry {entry.id!r} is not chained to its enrollment")
        expected_version, expected_stage = planned.expected_version, planned.expected_stage
        org, patient_id = entry.organization_id, entry.patient_id
        update = UpdateExpression().set(
            {
                "organization_id": org,
                "patient_id": patient_id,
                "journey_key": enrollment.journey_key,
                "stage": enrollment.stage,
                "entered_at": format_timestamp(enrollment.entered_at),
                "enrolled_at": format_timestamp(enrollment.enrolled_at),
                "version": enrollment.version,
                "definition_version": enrollment.definition_version,
                **_stage_index_values(org, patient_id, enrollment, stage_shards),
                "episode": enrollment.episode,
                "ended_at": format_timestamp(enrollment.ended_at) if enrollment.ended_at else None,
                "episodes_ended": enrollment.episodes_ended,
                "log_hash": enrollment.log_hash,
            }
        )
        if planned.enrolls and display_name:
            update.set({"display_name": display_name})
        if expected_version is None:
            condition = "attribute_not_exists(pk)"
        else:
            condition = (
                f"{update.name('stage')} = {update.value(expected_stage)} AND "
                f"{update.name('version')} = {update.value(expected_version)}"
            )
        key = {
            "pk": {"S": patient_pk(org, patient_id)},
            "sk": {"S": enrollment_sk(enrollment.journey_key)},
        }
        actions: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": key,
                    "ConditionExpression": condition,
                    **update.params(),
                }
            },
            {
                "Put": {
                    "TableName": self.log_table,
                    "Item": log_item(entry),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]
        if planned.event_type_seen:
            actions.append(self._event_seen_action(org, patient_id, planned.event_type_seen))
        name_check = None
        if planned.enrolls:
            name_check = len(actions)
            actions.append(self._name_check(org, patient_id, display_name))
        actions.append(
            self._journey_check(
                org,
                enrollment.journey_key,
                journey_id,
                journey_version if planned.enrolls else None,
            )
        )
        try:
            self._db.transact_write_items(TransactItems=actions)
        except Exception as error:
            translated = _stage_change_error(
                error, entry, journey_check=len(actions) - 1, name_check=name_check
            )
            if translated is None:
                raise
            raise translated from error

    def _name_check(self, org: str, patient_id: str, display_name: str | None) -> dict[str, Any]:
        """The profile still names the patient as it did when the move read it."""
        check: dict[str, Any] = {
            "TableName": self.table,
            "Key": {"pk": {"S": patient_pk(org, patient_id)}, "sk": {"S": PROFILE_SK}},
            "ConditionExpression": "attribute_not_exists(display_name)",
        }
        if display_name is not None:
            check["ConditionExpression"] = "display_name = :name"
            check["ExpressionAttributeValues"] = {":name": {"S": display_name}}
        return {"ConditionCheck": check}

    def _journey_check(
        self, org: str, journey_key: str, journey_id: str, enrolls_at: int | None
    ) -> dict[str, Any]:
        """Moves: the journey still exists. First enrollments: it is active and at the
        version being enrolled in, and the enrollment is counted."""
        key = {"pk": {"S": org_pk(org)}, "sk": {"S": current_sk(journey_key)}}
        if enrolls_at is None:
            return {
                "ConditionCheck": {
                    "TableName": self.definitions_table,
                    "Key": key,
                    "ConditionExpression": "journey_id = :id",
                    "ExpressionAttributeValues": {":id": {"S": journey_id}},
                }
            }
        update = UpdateExpression().add("enrollment_count", 1)
        condition = " AND ".join(
            f"{update.name(name)} = {update.value(value)}"
            for name, value in (
                ("journey_id", journey_id),
                ("is_active", True),
                ("version", enrolls_at),
            )
        )
        return {
            "Update": {
                "TableName": self.definitions_table,
                "Key": key,
                "ConditionExpression": condition,
                **update.params(),
            }
        }

    def record_event_seen(self, org: str, patient_id: str, event_type: str) -> None:
        """Remember that the patient had a domain event of this type (idempotent)."""
        update = self._event_seen_action(org, patient_id, event_type)["Update"]
        with throttling_as_unavailable(f"patient {patient_id!r}"):
            self._db.update_item(**update)

    def _event_seen_action(self, org: str, patient_id: str, event_type: str) -> dict[str, Any]:
        update = UpdateExpression().add("event_types", {event_type})
        update.set({"organization_id": org, "patient_id": patient_id})
        return {
            "Update": {
                "TableName": self.table,
                "Key": {"pk": {"S": patient_pk(org, patient_id)}, "sk": {"S": EVENTS_SEEN_SK}},
                **update.params(),
            }
        }


def _stage_change_error(
    error: Exception, entry: JourneyLogEntry, journey_check: int, name_check: int | None = None
) -> DomainError | None:
    """The one translation of a failed stage-change transaction into a domain error."""
    code = error_code(error)
    where = f"patient {entry.patient_id!r} in journey {entry.journey_key!r}"
    if code == "TransactionCanceledException":
        reasons = cancellation_reasons(error)
        if THROTTLED_REASONS.intersection(reasons):
            return unavailable(f"moving {where}")
        failed = [i for i, reason in enumerate(reasons) if reason == "ConditionalCheckFailed"]
        if name_check is not None and failed == [name_check]:
            return LostRace(
                f"the profile of patient {entry.patient_id!r} was renamed meanwhile; nothing "
                "was changed, retry"
            )
        if failed == [journey_check]:
            return JourneyChanged(
                f"journey {entry.journey_key!r} was deleted, retired or saved anew meanwhile; "
                "nothing was changed, retry"
            )
        if reasons[:1] == ["ConditionalCheckFailed"]:
            return LostRace(
                f"{where} was moved or enrolled meanwhile; nothing was changed, "
                "read the patient again and retry"
            )
        if "TransactionConflict" in reasons or "ConditionalCheckFailed" in reasons:
            return LostRace(f"{where} is being moved by someone else right now; retry")
        return None
    if code in ("TransactionConflictException", "TransactionInProgressException"):
        return LostRace(f"{where} is being moved by someone else right now; retry")
    if code in THROTTLING_CODES:
        return unavailable(f"moving {where}")
    return None
