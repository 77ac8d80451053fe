"""The upgrade backfill (tools/backfill.py) on items an earlier release wrote: profiles
without search keys, enrollments without the profile's name, versions with stale rules that
ByStaleRules does not list. Given the old shape, when the backfill runs, then search finds
the patient, a stage's list names it, the monitor times out a patient pinned to an old
version; and a second run writes nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from journeys_core.data.aws import dynamodb
from journeys_core.settings import get_settings
from tests.integration.test_stale_monitor import V1_RULE_ON_A, V2_RULE_ON_B, timed_out
from tests.support.bus import queue_behind_rule
from tests.support.patients import define_journey, in_stage, put_patient, search, update_journey
from tests.support.stale_monitor import NOW, TIMEOUT_PATTERN, Clock, run_monitor
from tools import backfill
from tools.backfill import main

KEY = "pinned"


def _table_items(table: str) -> list[dict[str, Any]]:
    items = dynamodb().scan(TableName=table)["Items"]
    return sorted(items, key=lambda item: (item["pk"]["S"], item["sk"]["S"]))


def _remove(table: str, key: dict[str, Any], *attributes: str) -> None:
    dynamodb().update_item(
        TableName=table, Key=key, UpdateExpression=f"REMOVE {', '.join(attributes)}"
    )


@pytest.fixture
def old_release(aws: None, monkeypatch: pytest.MonkeyPatch) -> Clock:
    """org-a as an earlier release left it: patient p-1 (a profile without search keys, an
    enrollment without its name) pinned to version 1 of ``pinned`` (a rule on A), now at
    version 2 (a rule on B); the current item indexed in ByStaleRules, no version."""
    settings = get_settings()
    clock = Clock(monkeypatch)
    define_journey(KEY, V1_RULE_ON_A)
    profile_key = {"pk": {"S": "ORG#org-a#PATIENT#p-1"}, "sk": {"S": "PROFILE"}}
    dynamodb().put_item(
        TableName=settings.patients_table,
        Item={
            **profile_key,
            "organization_id": {"S": "org-a"},
            "patient_id": {"S": "p-1"},
            "display_name": {"S": "Ana Ruiz"},
            "email": {"S": "ana@example.com"},
            "created_at": {"S": "2026-11-01T00:00:00+00:00"},
            "updated_at": {"S": "2026-11-01T00:00:00+00:00"},
        },
    )
    clock.enroll("p-1", KEY, "A", 30)
    _remove(
        settings.patients_table,
        {"pk": profile_key["pk"], "sk": {"S": f"ENROLLMENT#{KEY}"}},
        "display_name",
    )
    assert update_journey({"journey_spec": V2_RULE_ON_B}, name=KEY).body["version"] == 2
    table = settings.definitions_table
    versions = dynamodb().query(
        TableName=table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :v)",
        ExpressionAttributeValues={":pk": {"S": "ORG#org-a"}, ":v": {"S": "VERSION#"}},
    )["Items"]
    for version in versions:
        _remove(table, {"pk": version["pk"], "sk": version["sk"]}, "stale_pk", "stale_sk")
    dynamodb().update_item(
        TableName=table,
        Key={"pk": {"S": "ORG#org-a"}, "sk": {"S": f"JOURNEY#{KEY}"}},
        UpdateExpression="SET stale_pk = :pk, stale_sk = :sk",
        ExpressionAttributeValues={":pk": {"S": "STALE"}, ":sk": {"S": f"ORG#org-a#JOURNEY#{KEY}"}},
    )
    return clock


def _found(term: str) -> list[str]:
    result = search(term)
    assert result.status == 200, result.body
    return [p["id"] for p in result.body["items"]]


def _names_in_stage(stage: str) -> list[tuple[str, str | None]]:
    return [(m["patient_id"], m["display_name"]) for m in in_stage(stage, key=KEY).body["items"]]


def test_old_profiles_and_enrollments_are_found_and_named_after_the_backfill(
    old_release: Clock,
) -> None:
    assert (_found("ana"), _found("ana@example.com")) == ([], [])
    assert _names_in_stage("A") == [("p-1", None)]

    assert main(["search"]) == 0

    assert (_found("ana"), _found("ANA@example.com")) == (["p-1"], ["p-1"])
    assert _names_in_stage("A") == [("p-1", "Ana Ruiz")]


def test_a_patient_pinned_to_an_old_version_times_out_after_the_backfill(
    old_release: Clock,
) -> None:
    bus = queue_behind_rule("timeouts-caught", TIMEOUT_PATTERN)
    run_monitor(NOW)
    assert timed_out(bus) == []  # the earlier release's index watches version 2's rule only

    assert main(["--org", "org-a", "stale-index"]) == 0

    run_monitor(NOW + timedelta(minutes=1))
    assert timed_out(bus) == [("p-1", KEY, "A")]


def test_a_dry_run_writes_nothing_and_a_second_run_changes_nothing(
    old_release: Clock, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = get_settings()
    tables = (settings.patients_table, settings.definitions_table)
    before = [_table_items(table) for table in tables]

    assert main(["--dry-run", "all"]) == 0
    assert [_table_items(table) for table in tables] == before
    assert "profiles indexed (dry run: would write): 1" in capsys.readouterr().out

    main(["all"])
    first = capsys.readouterr().out
    after_first = [_table_items(table) for table in tables]
    main(["all"])
    second = capsys.readouterr().out

    assert [_table_items(table) for table in tables] == after_first != before
    assert "profiles indexed: 1" in first
    assert "enrollments named: 1" in first
    assert "versions indexed: 2" in first
    assert "current items taken out of the index: 1" in first
    assert (
        second == "search:\n  nothing in the old shape\nstale-index:\n  nothing in the old shape\n"
    )


def test_a_profile_renamed_during_the_backfill_keeps_the_new_name(
    old_release: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    patients = backfill.repositories.patients()  # the service's own, shared with the API
    read = patients.read
    renamed: list[str] = []

    def rename_first(org: str, patient_id: str) -> Any:
        """The backfill's read of the profile, then a rename before it writes."""
        record = read(org, patient_id)
        if not renamed:
            renamed.append(patient_id)
            assert put_patient(patient_id, {"display_name": "Ana Vega"}).status == 200
        return record

    monkeypatch.setattr(patients, "read", rename_first)
    main(["search"])

    assert renamed == ["p-1"]
    assert _names_in_stage("A") == [("p-1", "Ana Vega")]
    assert _found("ana v") == ["p-1"]
