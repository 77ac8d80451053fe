"""The client as a drop-in for HealthSim's journey manager, against the local stack.

Every call of the persistence guide, written as the guide writes it (argument names, the
``manager.journeys`` entry point), with the record types and Python field types of the guide's
data model tables, the manager's return values (``delete_journey`` ``True``/``False``,
``journey_exists``, integer execution ids) and its errors (``ValueError``\\ s saying
"already exists" and "not found"). The last tests run a script written for the guide's
manager with only its import line swapped.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from journeys_client import (
    AlreadyExistsError,
    JourneyExecutionRecord,
    JourneyRecord,
    JourneysClient,
    JourneySummary,
    NotFoundError,
    get_manager,
)

from journeys_core.builtins import load_builtin_journeys
from local_stack.tokens import make_token
from tests.e2e.conftest import REPO_ROOT, LocalStack, small_spec

pytestmark = pytest.mark.e2e

# The guide's quick start spec, as written there.
DIABETIC_FIRST_YEAR: dict[str, Any] = {
    "journey_id": "diabetic-first-year",
    "name": "First Year Diabetes Management",
    "duration_days": 365,
    "products": ["patientsim"],
    "events": [
        {
            "event_id": "quarterly-visit",
            "name": "Quarterly PCP Visit",
            "event_type": "encounter",
            "delay": {"min_days": 90, "max_days": 90},
        },
        {
            "event_id": "hba1c-lab",
            "name": "HbA1c Lab Order",
            "event_type": "lab_order",
            "delay": {"min_days": 90, "max_days": 90},
        },
        {
            "event_id": "annual-eye-exam",
            "name": "Annual Ophthalmology Visit",
            "event_type": "encounter",
            "delay": {"min_days": 60, "max_days": 60},
        },
    ],
}

# The guide's multi-product spec: the built-in new-member-onboarding is it, as written there
# (tests/unit/test_builtins_data.py holds it to the guide).
NEW_MEMBER_ONBOARDING: dict[str, Any] = next(
    journey["journey_spec"]
    for journey in load_builtin_journeys()
    if journey["name"] == "new-member-onboarding"
)

# The guide's data model: each field and its Python type.
JOURNEY_RECORD_FIELDS: dict[str, type | tuple[type, ...]] = {
    "id": str,
    "name": str,
    "description": str,
    "version": int,
    "journey_spec": dict,
    "products": list,
    "tags": list,
    "duration_days": int,
    "event_count": int,
    "created_at": datetime,
    "updated_at": datetime,
}
JOURNEY_SUMMARY_FIELDS: dict[str, type | tuple[type, ...]] = {
    "id": str,
    "name": str,
    "description": str,
    "version": int,
    "products": list,
    "tags": list,
    "duration_days": int,
    "event_count": int,
    "execution_count": int,
    "last_executed": datetime,
}
EXECUTION_RECORD_FIELDS: dict[str, type | tuple[type, ...]] = {
    "id": int,
    "journey_id": str,
    "profile_id": str,
    "cohort_id": str,
    "entity_id": str,
    "start_date": date,
    "end_date": date,
    "events_generated": int,
    "duration_ms": int,
    "status": str,
}


def assert_guide_types(record: object, fields: dict[str, type | tuple[type, ...]]) -> None:
    for name, expected in fields.items():
        value = getattr(record, name)
        assert isinstance(value, expected), f"{name} is {value!r}, not {expected}"
        if expected is list:
            assert all(isinstance(item, str) for item in value), name
    # The guide's date fields are dates, not datetimes (a datetime is a date too).
    for name, expected in fields.items():
        if expected is date:
            assert not isinstance(getattr(record, name), datetime), name


@pytest.fixture
def manager(
    local_stack: LocalStack, org: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[JourneysClient]:
    """``get_manager()`` as the guide calls it: configured from the environment only."""
    monkeypatch.setenv("JOURNEYS_URL", local_stack.base_url)
    monkeypatch.setenv("JOURNEYS_TOKEN", make_token(org=org, roles="admin,staff"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")  # loopback never through a proxy
    with get_manager() as manager:
        yield manager


# -- quick start -----------------------------------------------------------------------------


def test_quick_start_saving_loading_and_recording(manager: JourneysClient) -> None:
    journey_spec = DIABETIC_FIRST_YEAR
    journey_id = manager.journeys.save_journey(
        name="diabetic-first-year",
        journey_spec=journey_spec,
        description="Quarterly visits with labs for new diabetics",
        tags=["diabetes", "chronic-care", "primary-care"],
    )
    assert isinstance(journey_id, str)
    assert journey_id.startswith("journey-")

    # Load by name
    journey = manager.journeys.load_journey("diabetic-first-year")
    assert isinstance(journey, JourneyRecord)
    assert_guide_types(journey, JOURNEY_RECORD_FIELDS)
    assert (journey.id, journey.duration_days, journey.event_count, journey.version) == (
        journey_id,
        365,
        3,
        1,
    )
    assert journey.journey_spec == DIABETIC_FIRST_YEAR
    assert journey.products == ["patientsim"]  # from the spec
    assert journey.tags == ["diabetes", "chronic-care", "primary-care"]

    start_date = date(2024, 1, 1)
    exec_id = manager.journeys.record_execution(
        journey_id=journey.id,
        entity_id="patient-001",
        start_date=start_date,
        end_date=start_date + timedelta(days=365),
        events_generated=11,
        duration_ms=37,
    )
    assert isinstance(exec_id, int)
    assert exec_id > 0
    (execution,) = manager.journeys.get_executions("diabetic-first-year")
    assert execution.id == exec_id
    assert (execution.start_date, execution.end_date) == (date(2024, 1, 1), date(2024, 12, 31))


# -- journey management ----------------------------------------------------------------------


def test_listing_journeys_by_product_tag_and_search(manager: JourneysClient) -> None:
    manager.journeys.save_journey(
        name="diabetic-first-year", journey_spec=DIABETIC_FIRST_YEAR, tags=["diabetes"]
    )
    manager.journeys.save_journey(
        name="new-member-onboarding",
        journey_spec=NEW_MEMBER_ONBOARDING,
        products=["membersim", "patientsim", "rxmembersim"],
        tags=["onboarding", "multi-product"],
    )
    manager.journeys.save_journey(
        name="heart-failure",
        journey_spec=small_spec("visit"),
        description="Cardiac follow-up after discharge",
        products=["membersim"],
    )
    manager.journeys.record_execution(journey_id="heart-failure", entity_id="patient-001")

    # List all journeys
    all_journeys = manager.journeys.list_journeys()
    # Filter by product
    patient_journeys = manager.journeys.list_journeys(products=["patientsim"])
    # Filter by tags
    diabetes_journeys = manager.journeys.list_journeys(tags=["diabetes"])
    # Search by name/description
    cardiac_journeys = manager.journeys.list_journeys(search="cardiac")

    assert [j.name for j in all_journeys] == [
        "heart-failure",  # newest update first
        "new-member-onboarding",
        "diabetic-first-year",
    ]
    assert {j.name for j in patient_journeys} == {"diabetic-first-year", "new-member-onboarding"}
    assert [j.name for j in diabetes_journeys] == ["diabetic-first-year"]
    assert [j.name for j in cardiac_journeys] == ["heart-failure"]
    # Each result is a JourneySummary with execution stats
    printed = []
    for j in all_journeys:
        assert isinstance(j, JourneySummary)
        printed.append(f"{j.name}: {j.event_count} events, executed {j.execution_count} times")
    assert printed == [
        "heart-failure: 1 events, executed 1 times",
        "new-member-onboarding: 3 events, executed 0 times",
        "diabetic-first-year: 3 events, executed 0 times",
    ]
    executed = all_journeys[0]
    assert_guide_types(executed, JOURNEY_SUMMARY_FIELDS)
    assert (executed.event_count, executed.execution_count) == (1, 1)
    assert all_journeys[1].execution_count == 0
    assert all_journeys[1].last_executed is None  # never executed


def test_updating_a_spec_bumps_the_version_and_metadata_only_does_not(
    manager: JourneysClient,
) -> None:
    manager.journeys.save_journey(
        name="diabetic-first-year", journey_spec=DIABETIC_FIRST_YEAR, tags=["diabetes"]
    )
    new_spec = {**DIABETIC_FIRST_YEAR, "events": DIABETIC_FIRST_YEAR["events"][:2]}

    # Update specification (bumps version)
    updated = manager.journeys.update_journey("diabetic-first-year", journey_spec=new_spec)
    assert isinstance(updated, JourneyRecord)
    assert (updated.version, updated.event_count) == (2, 2)
    assert updated.tags == ["diabetes"]  # left as it was

    # Update metadata only
    same = manager.journeys.update_journey(
        "diabetic-first-year",
        description="Updated description",
        tags=["diabetes", "hedis"],
        bump_version=False,  # Don't increment version for metadata-only changes
    )
    assert (same.version, same.description, same.tags) == (
        2,
        "Updated description",
        ["diabetes", "hedis"],
    )
    assert manager.journeys.load_journey("diabetic-first-year") == same


def test_deleting_returns_whether_a_journey_was_deleted(manager: JourneysClient) -> None:
    old_id = manager.journeys.save_journey(name="old-journey", journey_spec=small_spec("a"))
    manager.journeys.record_execution(journey_id=old_id, entity_id="patient-001")
    assert manager.journeys.journey_exists("old-journey") is True
    assert manager.journeys.journey_exists(old_id) is True

    # Delete journey and execution history
    assert manager.journeys.delete_journey("old-journey") is True
    assert manager.journeys.journey_exists("old-journey") is False
    assert manager.journeys.journey_exists(old_id) is False
    assert manager.journeys.get_entity_journeys("patient-001") == []

    # A journey that is not there: False, no exception.
    assert manager.journeys.delete_journey("old-journey") is False
    assert manager.journeys.delete_journey("never-existed", delete_executions=False) is False

    # Delete journey but keep execution history
    kept_id = manager.journeys.save_journey(name="old-journey", journey_spec=small_spec("a"))
    kept_exec = manager.journeys.record_execution(journey_id=kept_id, entity_id="patient-001")
    assert manager.journeys.delete_journey("old-journey", delete_executions=False) is True
    assert manager.journeys.journey_exists("old-journey") is False
    assert [e.id for e in manager.journeys.get_entity_journeys("patient-001")] == [kept_exec]


# -- execution history -----------------------------------------------------------------------


def test_tracking_and_viewing_executions(manager: JourneysClient) -> None:
    manager.journeys.save_journey(name="diabetic-first-year", journey_spec=DIABETIC_FIRST_YEAR)
    journey = manager.journeys.load_journey("diabetic-first-year")

    # Record successful execution
    exec_id = manager.journeys.record_execution(
        journey_id=journey.id,
        profile_id="profile-abc123",  # Optional: link to profile
        cohort_id="cohort-xyz789",  # Optional: link to cohort
        entity_id="patient-001",
        start_date=date(2024, 1, 1),
        end_date=date(2024, 12, 31),
        events_generated=48,
        duration_ms=1500,
        metadata={"source": "batch-generation"},
    )
    # Record failed execution
    failed_id = manager.journeys.record_execution(
        journey_id=journey.id,
        entity_id="patient-002",
        events_generated=0,
        status="failed",
        error_message="Missing required condition for event",
    )
    assert isinstance(exec_id, int)
    assert isinstance(failed_id, int)
    assert failed_id > exec_id  # recorded later, a greater id

    # Get executions for a journey
    executions = manager.journeys.get_executions("diabetic-first-year", limit=10)
    assert [e.id for e in executions] == [failed_id, exec_id]  # newest first
    assert sorted(e.id for e in executions) == [exec_id, failed_id]
    printed = []
    for exec in executions:
        assert isinstance(exec, JourneyExecutionRecord)
        assert isinstance(exec.executed_at, datetime)
        printed.append(f"{exec.events_generated} events for {exec.entity_id}")
    assert printed == ["0 events for patient-002", "48 events for patient-001"]
    failed, success = executions
    assert_guide_types(success, EXECUTION_RECORD_FIELDS)
    assert (success.journey_id, success.profile_id, success.cohort_id) == (
        journey.id,
        "profile-abc123",
        "cohort-xyz789",
    )
    assert (success.events_generated, success.duration_ms, success.status) == (
        48,
        1500,
        "completed",
    )
    assert success.metadata == {"source": "batch-generation"}
    assert (failed.status, failed.error_message) == (
        "failed",
        "Missing required condition for event",
    )
    assert (failed.events_generated, failed.duration_ms) == (0, 0)  # the manager's defaults
    assert (failed.profile_id, failed.start_date) == (None, None)  # optional

    # Get all journeys for a specific entity
    patient_journeys = manager.journeys.get_entity_journeys("patient-001")
    assert [(e.journey_id, e.start_date, e.end_date) for e in patient_journeys] == [
        (journey.id, date(2024, 1, 1), date(2024, 12, 31))
    ]
    assert manager.journeys.get_executions("diabetic-first-year", limit=1) == [failed]


def test_recording_a_cohort_linked_to_its_profile(manager: JourneysClient) -> None:
    manager.journeys.save_journey(name="diabetic-first-year", journey_spec=DIABETIC_FIRST_YEAR)
    journey = manager.journeys.load_journey("diabetic-first-year")
    result = {
        "cohort_id": "cohort-42",
        "patients": [{"id": f"patient-{n:03d}"} for n in range(1, 6)],
        "encounters": [{}] * 12,
    }

    recorded = []
    for patient in result["patients"]:
        recorded.append(
            manager.journeys.record_execution(
                journey_id=journey.id,
                profile_id="harris-diabetic",
                cohort_id=result["cohort_id"],
                entity_id=patient["id"],
                events_generated=len(result["encounters"]),
            )
        )

    assert recorded == sorted(recorded)  # ids grow as executions are recorded
    assert len(set(recorded)) == 5
    executions = manager.journeys.get_executions(journey.id)
    assert [e.entity_id for e in executions] == [f"patient-{n:03d}" for n in range(5, 0, -1)]
    assert {(e.profile_id, e.cohort_id, e.events_generated) for e in executions} == {
        ("harris-diabetic", "cohort-42", 12)
    }
    (summary,) = manager.journeys.list_journeys()
    assert summary.execution_count == 5


# -- multi-product journeys and built-in templates --------------------------------------------


def test_a_multi_product_journey(manager: JourneysClient) -> None:
    cross_product_spec = NEW_MEMBER_ONBOARDING
    manager.journeys.save_journey(
        name="new-member-onboarding",
        journey_spec=cross_product_spec,
        products=["membersim", "patientsim", "rxmembersim"],
        tags=["onboarding", "multi-product"],
    )

    journey = manager.journeys.load_journey("new-member-onboarding")
    assert journey.products == ["membersim", "patientsim", "rxmembersim"]
    assert (journey.duration_days, journey.event_count) == (90, 3)
    assert [j.name for j in manager.journeys.list_journeys(products=["rxmembersim"])] == [
        "new-member-onboarding"
    ]


def test_importing_the_builtin_templates(manager: JourneysClient) -> None:
    # Import built-in templates
    count = manager.journeys.import_builtin_journeys()
    assert isinstance(count, int)
    assert count > 0

    # List available templates
    builtin = manager.journeys.list_journeys(tags=["builtin"])
    assert len(builtin) == count
    assert all(isinstance(j.description, str) and j.description for j in builtin)
    assert manager.journeys.journey_exists("diabetic-first-year")
    assert manager.journeys.import_builtin_journeys() == 0


# -- the manager's errors ----------------------------------------------------------------------


def test_a_duplicate_name_and_a_missing_journey_are_value_errors(
    manager: JourneysClient,
) -> None:
    manager.journeys.save_journey(name="diabetic-first-year", journey_spec=DIABETIC_FIRST_YEAR)

    with pytest.raises(ValueError, match="already exists") as duplicate:
        manager.journeys.save_journey(name="diabetic-first-year", journey_spec=DIABETIC_FIRST_YEAR)
    assert isinstance(duplicate.value, AlreadyExistsError)

    for call in (
        lambda: manager.journeys.load_journey("no-such-journey"),
        lambda: manager.journeys.update_journey("no-such-journey", description="x"),
        lambda: manager.journeys.get_executions("no-such-journey"),
        lambda: manager.journeys.record_execution(journey_id="no-such-journey"),
    ):
        with pytest.raises(ValueError, match="not found") as missing:
            call()
        assert isinstance(missing.value, NotFoundError)
        assert "no-such-journey" in str(missing.value)


# -- the manager's positional arguments -------------------------------------------------------


def test_arguments_by_position_in_the_managers_order(manager: JourneysClient) -> None:
    # save_journey(name, journey_spec, description, products, tags, metadata)
    journey_id = manager.journeys.save_journey(
        "positional", small_spec("a"), "By position", ["membersim"], ["t1"], {"k": "v"}
    )
    # record_execution(journey_id, profile_id, cohort_id, entity_id, start_date, end_date,
    #                  events_generated, duration_ms, status, error_message, metadata)
    exec_id = manager.journeys.record_execution(
        journey_id,
        "profile-1",
        "cohort-1",
        "patient-9",
        date(2024, 1, 1),
        date(2024, 1, 31),
        3,
        25,
        "partial",
        "stopped early",
        {"run": 1},
    )
    # update_journey(name_or_id, journey_spec, description, products, tags, metadata,
    #                bump_version)
    updated = manager.journeys.update_journey(
        "positional", None, "Changed", None, ["t2"], None, False
    )

    assert (updated.description, updated.products, updated.tags, updated.metadata) == (
        "Changed",
        ["membersim"],
        ["t2"],
        {"k": "v"},
    )
    assert updated.version == 1
    (execution,) = manager.journeys.get_executions(journey_id, 20)
    assert execution.id == exec_id
    assert (execution.profile_id, execution.cohort_id, execution.entity_id) == (
        "profile-1",
        "cohort-1",
        "patient-9",
    )
    assert (execution.start_date, execution.end_date) == (date(2024, 1, 1), date(2024, 1, 31))
    assert (execution.events_generated, execution.duration_ms, execution.status) == (
        3,
        25,
        "partial",
    )
    assert (execution.error_message, execution.metadata) == ("stopped early", {"run": 1})
    assert manager.journeys.delete_journey("positional", True) is True


# -- get_manager and the import swap ----------------------------------------------------------


def test_get_manager_reads_the_environment_and_names_what_is_missing(
    local_stack: LocalStack, org: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JOURNEYS_URL", raising=False)
    monkeypatch.delenv("JOURNEYS_TOKEN", raising=False)
    with pytest.raises(ValueError, match="JOURNEYS_URL"):
        get_manager(token="t")
    with pytest.raises(ValueError, match="JOURNEYS_TOKEN"):
        get_manager(url=local_stack.base_url)

    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("JOURNEYS_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("JOURNEYS_TOKEN", make_token(org=org))
    # Arguments win over the environment.
    with get_manager(url=local_stack.base_url + "/api/v1") as manager:
        assert manager.journeys.list_journeys() == []
        assert manager.journeys.journey_exists("anything") is False


# A script written for HealthSim's journey manager: the guide's calls, nothing else.
HEALTHSIM_SCRIPT = """
from datetime import date, timedelta

from healthsim.state import get_manager

manager = get_manager()

journey_spec = {
    "journey_id": "diabetic-first-year",
    "name": "First Year Diabetes Management",
    "duration_days": 365,
    "products": ["patientsim"],
    "events": [
        {"event_id": "quarterly-visit", "name": "Quarterly PCP Visit",
         "event_type": "encounter", "delay": {"min_days": 90, "max_days": 90}},
        {"event_id": "hba1c-lab", "name": "HbA1c Lab Order",
         "event_type": "lab_order", "delay": {"min_days": 90, "max_days": 90}},
    ],
}
if not manager.journeys.journey_exists("diabetic-first-year"):
    journey_id = manager.journeys.save_journey(
        name="diabetic-first-year",
        journey_spec=journey_spec,
        description="Quarterly visits with labs for new diabetics",
        tags=["diabetes", "chronic-care", "primary-care"],
    )
    print(f"Saved journey: {journey_id}")

journey = manager.journeys.load_journey("diabetic-first-year")
print(f"Duration: {journey.duration_days} days")
print(f"Events: {journey.event_count}")
print(f"Version: {journey.version}")

start_date = date(2024, 1, 1)
ids = []
for entity_id in ["patient-001", "patient-002"]:
    ids.append(manager.journeys.record_execution(
        journey_id=journey.id,
        entity_id=entity_id,
        start_date=start_date,
        end_date=start_date + timedelta(days=365),
        events_generated=8,
        duration_ms=12,
    ))
print(f"Latest execution: {max(ids) == ids[-1]}")

for exec in manager.journeys.get_executions("diabetic-first-year", limit=10):
    print(f"  {exec.events_generated} events for {exec.entity_id}")

for j in manager.journeys.list_journeys(tags=["diabetes"]):
    print(f"{j.name}: {j.event_count} events, executed {j.execution_count} times")

updated = manager.journeys.update_journey("diabetic-first-year", journey_spec=journey_spec)
print(f"Now at version {updated.version}")

if manager.journeys.delete_journey("old-journey"):
    print("Deleted old-journey")
else:
    print("No old-journey")
try:
    manager.journeys.load_journey("old-journey")
except ValueError as error:
    print(f"Missing: {'not found' in str(error)}")
"""


def test_a_script_for_the_guides_manager_runs_after_swapping_its_import(
    local_stack: LocalStack, org: str
) -> None:
    swapped = HEALTHSIM_SCRIPT.replace(
        "from healthsim.state import get_manager", "from journeys_client import get_manager"
    )
    changed = set(swapped.splitlines()) ^ set(HEALTHSIM_SCRIPT.splitlines())
    assert changed == {
        "from healthsim.state import get_manager",
        "from journeys_client import get_manager",
    }
    environment = {
        **os.environ,
        "JOURNEYS_URL": local_stack.base_url,
        "JOURNEYS_TOKEN": make_token(org=org, roles="admin"),
        "NO_PROXY": "127.0.0.1,localhost",
        # This checkout's client, whichever one is installed.
        "PYTHONPATH": os.pathsep.join(
            [str(REPO_ROOT / "client"), os.environ.get("PYTHONPATH", "")]
        ),
    }

    run = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(swapped)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("Saved journey: journey-")
    assert lines[1:5] == ["Duration: 365 days", "Events: 2", "Version: 1", "Latest execution: True"]
    assert lines[5:7] == ["  8 events for patient-002", "  8 events for patient-001"]
    assert lines[7:] == [
        "diabetic-first-year: 2 events, executed 2 times",
        "Now at version 2",
        "No old-journey",
        "Missing: True",
    ]
