"""`make backfill ARGS="[--org ORG] [--dry-run] {search,stale-index,all}"`: bring items an
earlier release wrote into the shape this release reads.

- ``search``: profiles without their ByName / ByEmail keys get them (the keys
  ``patients.search_keys`` gives a save), and enrollments without ``display_name`` get their
  profile's name (checked in the same transaction: a rename meanwhile wins).
- ``stale-index``: saved versions with stale rules that ByStaleRules does not list get the
  keys a save gives them now; then a current item the earlier release indexed leaves the
  index (its version now stands for it).

Table names come from the same variables the functions read (``PATIENTS_TABLE_NAME``,
``DEFINITIONS_TABLE_NAME``, ...; see the README's "Upgrading"). Nothing indexes "every patient"
or "every version", so this one-off admin job Scans the patients table (and the definitions
table without ``--org``; with it, one Query of the organization's partition). Each write is
conditional on the item still being in the old shape, so a second run, or a run restarted
after a failure, changes nothing already done.
"""

# ruff: noqa: E402  (the shared package goes on the path first, as the functions' layer does)
from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

_SHARED = str(Path(__file__).resolve().parents[1] / "shared")
if _SHARED not in sys.path:
    sys.path.insert(0, _SHARED)

from journeys_core.data import aws, repositories
from journeys_core.data.codec import error_code, from_item
from journeys_core.data.definitions import (
    STALE_RULES_PK,
    current_sk,
    org_pk,
    record_from_item,
    stale_rules_sk,
    version_sk,
)
from journeys_core.data.dynamo import UpdateExpression, query_all
from journeys_core.data.patients import (
    ENROLLMENT_PREFIX,
    PROFILE_SK,
    patient_pk,
    search_keys,
)
from journeys_core.settings import MissingSetting

VERSION_PREFIX = version_sk("", 0).split("#")[0] + "#"
CURRENT_PREFIX = current_sk("")
LOST = ("ConditionalCheckFailedException", "TransactionCanceledException")


def _items(
    table: str, filter_expression: str, values: dict[str, Any], pk: str | None
) -> Iterator[dict[str, Any]]:
    """Items matching the filter: one partition's Query when ``pk`` names one, else a Scan
    (an admin job run once per upgrade; no index lists every item of a kind)."""
    params: dict[str, Any] = {
        "TableName": table,
        "FilterExpression": filter_expression,
        "ExpressionAttributeValues": dict(values),
    }
    if pk is None:
        yield from query_all(params, operation="scan")
        return
    params["KeyConditionExpression"] = "pk = :pk"
    params["ExpressionAttributeValues"][":pk"] = {"S": pk}
    yield from query_all(params)


def _write(counts: Counter[str], what: str, dry_run: bool, write: Callable[[], Any]) -> None:
    """One conditional write: counted as done, or as left when the item changed meanwhile
    (a save of this release wrote the new shape itself)."""
    if dry_run:
        counts[f"{what} (dry run: would write)"] += 1
        return
    try:
        write()
    except Exception as error:
        if error_code(error) not in LOST:
            raise
        counts[f"{what}: changed meanwhile, left"] += 1
        return
    counts[what] += 1


def _update(
    counts: Counter[str],
    what: str,
    dry_run: bool,
    table: str,
    item: dict[str, Any],
    update: UpdateExpression,
    condition: str,
) -> None:
    """``_write`` of one UpdateItem of ``item`` (as read)."""
    params = {
        "TableName": table,
        "Key": {"pk": item["pk"], "sk": item["sk"]},
        "ConditionExpression": condition,
        **update.params(),
    }
    _write(counts, what, dry_run, partial(aws.dynamodb().update_item, **params))


def backfill_search(org: str | None, dry_run: bool) -> Counter[str]:
    """Search keys on old profiles, the profile's name on old enrollments."""
    patients = repositories.patients()
    counts: Counter[str] = Counter()
    condition = (
        "(sk = :profile AND ((attribute_exists(display_name) AND attribute_not_exists(name_pk))"
        " OR (attribute_exists(email) AND attribute_not_exists(email_pk))))"
        " OR (begins_with(sk, :enrollment) AND attribute_not_exists(display_name))"
    )
    values: dict[str, Any] = {
        ":profile": {"S": PROFILE_SK},
        ":enrollment": {"S": ENROLLMENT_PREFIX},
    }
    if org is not None:
        condition = f"begins_with(pk, :org) AND ({condition})"
        values[":org"] = {"S": patient_pk(org, "")}
    for item in _items(patients.table, condition, values, None):
        stored = from_item(item)
        item_org, patient_id = stored["organization_id"], stored["patient_id"]
        if stored["sk"] == PROFILE_SK:
            counts["profiles in the old shape"] += 1
            _index_profile(counts, patients.table, item, dry_run)
            continue
        counts["enrollments without a name"] += 1
        name = (patients.read(item_org, patient_id).profile or {}).get("display_name")
        if not name:
            counts["enrollments without a name: the profile has none"] += 1
            continue
        enrollment = {
            "Update": {
                "TableName": patients.table,
                "Key": {"pk": item["pk"], "sk": item["sk"]},
                "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(#n)",
                "UpdateExpression": "SET #n = :name",
                "ExpressionAttributeNames": {"#n": "display_name"},
                "ExpressionAttributeValues": {":name": {"S": name}},
            }
        }
        actions = [enrollment, patients._name_check(item_org, patient_id, name)]
        _write(
            counts,
            "enrollments named",
            dry_run,
            partial(aws.dynamodb().transact_write_items, TransactItems=actions),
        )
    return counts


def _index_profile(counts: Counter[str], table: str, item: dict[str, Any], dry_run: bool) -> None:
    """The profile's search keys, written only while it still has the name and email read."""
    profile = from_item(item)
    given = {field: profile.get(field) for field in ("display_name", "email")}
    keys = search_keys(profile["organization_id"], profile["patient_id"], given)
    to_set = {name: key for name, key in keys.items() if key}
    if not to_set:  # an empty name and no email: nothing to find it by
        counts["profiles with nothing to index"] += 1
        return
    update = UpdateExpression().set(to_set)
    unchanged = " AND ".join(
        f"{update.name(field)} = {update.value(value)}"
        if value
        else f"attribute_not_exists({update.name(field)})"
        for field, value in given.items()
    )
    _update(counts, "profiles indexed", dry_run, table, item, update, unchanged)


def _definitions(
    table: str, prefix: str, *, indexed: bool, pk: str | None
) -> Iterator[dict[str, Any]]:
    """Definition items of one kind (``sk`` prefix), in ByStaleRules or not."""
    test = "attribute_exists" if indexed else "attribute_not_exists"
    condition = f"begins_with(sk, :prefix) AND {test}(stale_pk)"
    return _items(table, condition, {":prefix": {"S": prefix}}, pk)


def backfill_stale_index(org: str | None, dry_run: bool) -> Counter[str]:
    """Versions with stale rules into ByStaleRules, then old current items out of it."""
    table = repositories.definitions().table
    counts: Counter[str] = Counter()
    pk = org_pk(org) if org is not None else None
    for item in _definitions(table, VERSION_PREFIX, indexed=False, pk=pk):
        record = record_from_item(item)
        if not record.journey_spec.get("stale_rules"):
            continue  # the index is sparse: a version without rules stays out
        counts["versions with stale rules not indexed"] += 1
        item_org = item["organization_id"]["S"]
        update = UpdateExpression().set(
            {
                "stale_pk": STALE_RULES_PK,
                "stale_sk": stale_rules_sk(item_org, record.name, record.version),
            }
        )
        unindexed = "attribute_exists(pk) AND attribute_not_exists(stale_pk)"
        _update(counts, "versions indexed", dry_run, table, item, update, unindexed)
    # Only now: until its version is indexed, the old current item is what watches it.
    for item in _definitions(table, CURRENT_PREFIX, indexed=True, pk=pk):
        counts["current items indexed by the earlier release"] += 1
        update = UpdateExpression().remove(["stale_pk", "stale_sk"])
        version = int(item["version"]["N"])  # a save meanwhile takes it out itself
        unsaved = f"{update.name('version')} = {update.value(version)}"
        what = "current items taken out of the index"
        _update(counts, what, dry_run, table, item, update, unsaved)
    return counts


STEPS = {"search": backfill_search, "stale-index": backfill_stale_index}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.backfill", description=__doc__)
    parser.add_argument("--org", help="one organization only (default: every one)")
    parser.add_argument("--dry-run", action="store_true", help="count, write nothing")
    parser.add_argument("step", choices=[*STEPS, "all"])
    args = parser.parse_args(argv)
    for name, step in STEPS.items():
        if args.step in (name, "all"):
            try:
                counts = step(args.org, args.dry_run)
            except MissingSetting as error:
                parser.exit(2, f"{error} (export the stack's table names: README, Upgrading)\n")
            print(f"{name}:")
            for what, count in sorted(counts.items()):
                print(f"  {what}: {count}")
            if not counts:
                print("  nothing in the old shape")
    return 0


if __name__ == "__main__":
    sys.exit(main())
