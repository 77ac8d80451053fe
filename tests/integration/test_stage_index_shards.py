"""A journey whose stage index is spread over several keys: everyone standing in a stage is
listed once, longest first, page after page; a cursor continues only its own listing; the
count grows without hiding anyone, a migration re-keys the standing patients, and the stale
monitor and analytics read every shard."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest

from journeys_core.clock import utc_now
from journeys_core.data import repositories
from journeys_core.data.codec import decode_token, encode_token
from journeys_core.data.stage_index import stage_partitions
from journeys_core.services.stale_monitor import check_stale_journeys
from journeys_core.settings import get_settings
from tests.conftest import ApiResult, all_pages, invoke
from tests.integration.test_migrations import migrate, migration, work_off_queue
from tests.support.bus import drain, queue_behind_rule
from tests.support.events import api_event
from tests.support.patients import define_journey, in_stage, move
from tests.support.stale_monitor import NOW, TIMEOUT_PATTERN, Clock, MonitorContext, run_monitor

pytestmark = pytest.mark.usefixtures("aws")

KEY = "sj"
SHARDS = 4
SHARDED: dict[str, Any] = {"stages": ["A", "B"], "stage_index_shards": SHARDS}


def enroll(count: int, key: str = KEY, org: str = "org-a") -> list[str]:
    """Patients p-00, p-01, … moved into stage A one after another (entered_at ascending)."""
    patients = [f"p-{n:02d}" for n in range(count)]
    for patient_id in patients:
        assert move(patient_id, "A", key=key, org=org).status == 200
    return patients


def list_stage(stage: str, key: str = KEY, limit: int = 3) -> tuple[list[dict[str, Any]], int]:
    """Every member of the stage, page by page; and how many pages that took."""
    return all_pages(in_stage, stage, key, limit=str(limit))


def stored_enrollments(key: str = KEY) -> dict[str, dict[str, Any]]:
    """Each patient's enrollment as the table holds it (read straight from moto)."""
    table = repositories.patients().table
    items = boto3.client("dynamodb").scan(TableName=table)["Items"]
    return {
        item["patient_id"]["S"]: item for item in items if item["sk"]["S"] == f"ENROLLMENT#{key}"
    }


def update_spec(spec: dict[str, Any], key: str = KEY) -> ApiResult:
    event = api_event(
        "journeys/update-journey",
        path_params={"name_or_id": key},
        body={"journey_spec": spec},
        org="org-a",
    )
    return invoke("journeys", event)


def test_a_sharded_stage_lists_everyone_once_longest_first_page_by_page(
    ddb_calls: Counter[str],
) -> None:
    define_journey(KEY, SHARDED)
    patients = enroll(13)
    move("p-04", "B", key=KEY)

    keys = {item["stage_pk"]["S"] for item in stored_enrollments().values()}
    a_keys = keys & set(stage_partitions("org-a", KEY, "A", SHARDS))
    assert len(a_keys) > 1  # the writes went to several keys
    ddb_calls.clear()
    first = in_stage("A", KEY, limit="3")
    assert dict(ddb_calls) == {"Query": SHARDS}  # one per shard, in parallel
    members, pages = list_stage("A")

    assert [m["patient_id"] for m in members] == [p for p in patients if p != "p-04"]
    entered = [m["entered_at"] for m in members]
    assert entered == sorted(entered)
    assert pages == 4
    assert first.body["items"] == members[:3]
    assert [m["patient_id"] for m in list_stage("B")[0]] == ["p-04"]


def test_a_page_as_large_as_the_stage_ends_without_a_cursor() -> None:
    define_journey(KEY, SHARDED)
    patients = enroll(5)

    whole = in_stage("A", KEY, limit="5").body
    bigger = in_stage("A", KEY, limit="50").body

    assert [m["patient_id"] for m in bigger["items"]] == patients
    assert bigger["next_cursor"] is None
    assert [m["patient_id"] for m in whole["items"]] == patients


def _tampered(cursor: str, change: Any) -> str:
    values = decode_token(cursor)
    change(values["shards"])
    return encode_token(values)


def test_a_sharded_cursor_continues_only_its_own_listing() -> None:
    define_journey(KEY, SHARDED)
    define_journey(KEY, SHARDED, org="org-b")
    define_journey("one", {"stages": ["A"]})
    enroll(8)
    enroll(8, org="org-b")
    enroll(3, key="one")
    cursor = in_stage("A", KEY, limit="3").body["next_cursor"]
    single = in_stage("A", "one", limit="1").body["next_cursor"]
    positions = decode_token(cursor)["shards"]
    moved = next(i for i, p in enumerate(positions) if isinstance(p, dict))

    def to_other_shard(shards: list[Any]) -> None:
        shards[(moved + 1) % SHARDS] = shards[moved]

    def to_other_org(shards: list[Any]) -> None:
        shards[moved]["pk"] = shards[moved]["pk"].replace("org-a", "org-b")

    def to_other_stage(shards: list[Any]) -> None:
        shards[moved]["stage_pk"] = shards[moved]["stage_pk"].replace("#S#A", "#S#B")

    forged = [
        _tampered(cursor, to_other_shard),
        _tampered(cursor, to_other_org),
        _tampered(cursor, to_other_stage),
        _tampered(cursor, lambda shards: shards.pop()),
        _tampered(cursor, lambda shards: shards.__setitem__(0, "anything")),
        single,
        "garbage",
    ]

    assert in_stage("A", KEY, cursor=cursor).status == 200
    for bad in forged:
        assert in_stage("A", KEY, cursor=bad).status == 422, bad
    assert in_stage("A", KEY, org="org-b", cursor=cursor).status == 422
    assert in_stage("B", KEY, cursor=cursor).status == 422
    assert in_stage("A", "one", cursor=cursor).status == 422


@pytest.fixture
def settled_definitions(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """As if every warm container had read the journey's latest definition (no cache)."""
    monkeypatch.setenv("DEFINITION_CACHE_SECONDS", "0")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.usefixtures("settled_definitions")
def test_raising_the_count_hides_nobody_and_a_migration_re_keys_the_standing() -> None:
    define_journey(KEY, {"stages": ["A", "B"]})
    patients = enroll(12)
    assert {item["stage_pk"]["S"] for item in stored_enrollments().values()} == {
        "ORG#org-a#J#sj#S#A"  # one shard: the key an unsharded index had
    }

    assert update_spec({**SHARDED, "stage_index_shards": 8}).status == 200
    before = list_stage("A")[0]
    started = migrate(KEY)
    work_off_queue()
    status = migration(started.body["id"], KEY).body
    after = list_stage("A")[0]

    assert [m["patient_id"] for m in before] == patients
    assert status["status"] == "completed"
    assert status["repinned"] == 12  # (seen again in its new shard, one counts as skipped)
    stored = stored_enrollments().values()
    assert {item["stage_shards"]["N"] for item in stored} == {"8"}
    assert len({item["stage_pk"]["S"] for item in stored}) > 1
    assert after == [{**m, "version": m["version"] + 1} for m in before]


def test_a_re_key_waits_until_every_reader_reads_the_new_count() -> None:
    define_journey(KEY, {"stages": ["A", "B"]})
    patients = enroll(3)  # this container caches the definition of one shard
    assert update_spec(SHARDED).status == 200

    started = migrate(KEY)
    runs = work_off_queue()

    assert runs == 1  # it queued itself again, delayed past the definition cache
    assert migration(started.body["id"], KEY).body["status"] == "running"
    assert {item["stage_shards"]["N"] for item in stored_enrollments().values()} == {"1"}
    assert [m["patient_id"] for m in list_stage("A")[0]] == patients


def test_the_count_never_shrinks() -> None:
    define_journey(KEY, SHARDED)

    refused = update_spec({**SHARDED, "stage_index_shards": 2})

    assert refused.status == 422
    assert "can grow but not shrink" in refused.body["message"]
    assert update_spec({**SHARDED, "stage_index_shards": 33}).status == 422


def test_the_monitor_sees_every_shard() -> None:
    # (Analytics reads the rollups the log's stream keeps, never the stage index.)
    rule = {"stage": "A", "max_hours": 1, "action": "alert_stagnation"}
    define_journey(KEY, {**SHARDED, "stale_rules": [rule]})
    enroll(10)

    check = check_stale_journeys("org-a", utc_now() + timedelta(hours=2), dry_run=True)

    assert check.rules_triggered == {f"{KEY}.A": 10}


def test_stuck_enrollments_of_every_shard_come_page_by_page_each_once() -> None:
    define_journey(KEY, SHARDED)
    patients = enroll(11)

    pages = list(
        repositories.patients().stuck_in_every_shard(
            "org-a", KEY, "A", utc_now() + timedelta(seconds=1), shards=SHARDS, limit=2
        )
    )
    fresh = list(
        repositories.patients().stuck_in_every_shard(
            "org-a", KEY, "A", utc_now() - timedelta(hours=1), shards=SHARDS
        )
    )

    found = [stuck.patient_id for page in pages for stuck in page]
    assert sorted(found) == patients
    assert len(pages) > 1 and all(len(page) <= 2 * SHARDS for page in pages)
    assert fresh == []


def test_a_sharded_stage_is_one_monitor_unit_per_shard_each_stay_read_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock(monkeypatch)
    bus = queue_behind_rule("sharded-timeouts", TIMEOUT_PATTERN)
    rule = {"stage": "A", "max_hours": 2, "action": "alert_stagnation"}
    define_journey(KEY, {**SHARDED, "stale_rules": [rule]})
    for n in range(20):
        clock.enroll(f"p-{n:02d}", KEY, "A", hours_ago=3)

    # The first worker runs short of time after a few questions, with units not yet begun
    # in its batch: each of them continues too (not "done" for having read nothing).
    run = run_monitor(NOW, MonitorContext([300_000] * 4 + [1_000]))

    assert run["units"] == SHARDS
    assert run["processed"] == 20  # nobody read twice, nobody missed
    emitted = Counter(event["detail"]["patient_id"] for event in drain(bus))
    assert sorted(emitted) == [f"p-{n:02d}" for n in range(20)]
    assert set(emitted.values()) == {1}
