"""The built-in journeys shipped in the layer: well formed, importable, generating."""

from __future__ import annotations

import re
from collections import deque
from datetime import date
from typing import Any

import pytest

from journeys_core.builtins import load_builtin_journeys
from journeys_core.domain.timeline import TimelinePlan, find_dependency_problems

NAME = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
ARCHETYPES = ["retreat_ibiza_2025", "carta_natal", "despertar_8s", "yoga_urban_om", "intake"]
TIMELINES = [
    "diabetic-first-year",
    "new-member-onboarding",
    "ckd-stage-3-management",
    "heart-failure-post-discharge",
    "hypertension-control",
    "clinical-trial-subject",
]
# The stale-journey rules of the hybrid state machine document, section 5, exactly.
EXPECTED_STALE_RULES = {
    ("retreat_ibiza_2025", "AWAITING_PAYMENT", 48),
    ("retreat_ibiza_2025", "PREPARATION_PHASE", 168),
    ("carta_natal", "AWAITING_BIRTH_DATA", 24),
    ("despertar_8s", "ONBOARDING", 168),
    ("despertar_8s", "DEEP_DIVE", 336),
    ("yoga_urban_om", "AWAITING_WAIVER", 24),
    ("intake", "AWAITING_PAYMENT", 48),
}
TERMINAL = {"COMPLETED", "CANCELLED"}
SCREENING = {"SCREENING_PENDING", "SCREENING_COMPLETED"}
# What POST /journeys accepts; the importer adds the `builtin` tag itself.
IMPORT_KEYS = {"name", "description", "tags", "products", "journey_spec"}

BUILTINS = load_builtin_journeys()
BY_NAME = {journey["name"]: journey for journey in BUILTINS}


def _spec(name: str) -> dict[str, Any]:
    return BY_NAME[name]["journey_spec"]


def _with_stages() -> list[str]:
    return [j["name"] for j in BUILTINS if j["journey_spec"].get("stages")]


def _with_events() -> list[str]:
    return [j["name"] for j in BUILTINS if j["journey_spec"].get("events")]


def _stage_references(spec: dict[str, Any]) -> set[str]:
    named = {spec["initial_stage"], *spec.get("locked_stages", []), *spec.get("guards", {})}
    for source, targets in spec.get("transitions", {}).items():
        named.update([source, *targets])
    named.update(rule["stage"] for rule in spec.get("stale_rules", []))
    return named


def _reachable(spec: dict[str, Any]) -> set[str]:
    seen = {spec["initial_stage"]}
    queue = deque(seen)
    while queue:
        for target in spec["transitions"].get(queue.popleft(), []):
            if target not in seen:
                seen.add(target)
                queue.append(target)
    return seen


# ------------------------------------------------------------------- the catalogue


def test_there_are_at_least_eleven_builtins_with_unique_valid_names() -> None:
    names = [journey["name"] for journey in BUILTINS]
    assert len(names) >= 11
    assert len(set(names)) == len(names)
    assert all(NAME.match(name) for name in names)
    assert set(ARCHETYPES + TIMELINES) <= set(names)


@pytest.mark.parametrize("journey", BUILTINS, ids=lambda journey: journey["name"])
def test_each_builtin_has_the_shape_the_importer_saves(journey: dict[str, Any]) -> None:
    assert set(journey) == IMPORT_KEYS
    assert journey["description"].strip()
    assert journey["tags"]
    assert all(isinstance(tag, str) and tag for tag in journey["tags"])
    spec = journey["journey_spec"]
    assert spec.get("events") or spec.get("stages")
    assert set(spec.get("products", [])) <= set(journey["products"])


def test_the_loader_hands_out_copies() -> None:
    # Given a caller that changes what it loaded
    first = load_builtin_journeys()
    first[0]["journey_spec"]["name"] = "changed"
    first.pop()
    # When loading again
    again = load_builtin_journeys()
    # Then it gets the originals back
    assert again == BUILTINS


# --------------------------------------------------------------- stage archetypes


def test_the_archetypes_carry_exactly_the_seven_stale_rules_of_the_document() -> None:
    found = {
        (name, rule["stage"], rule["max_hours"])
        for name in _with_stages()
        for rule in _spec(name).get("stale_rules", [])
    }
    assert found == EXPECTED_STALE_RULES
    assert sum(len(_spec(name).get("stale_rules", [])) for name in _with_stages()) == 7


@pytest.mark.parametrize("name", ARCHETYPES)
def test_each_archetype_is_a_kura_stage_machine(name: str) -> None:
    journey = BY_NAME[name]
    assert journey["products"] == ["kura"]
    spec = journey["journey_spec"]
    assert spec["initial_stage"] in spec["stages"]
    for rule in spec["stale_rules"]:
        assert rule["action"]
        assert rule["email_subject"].strip()


@pytest.mark.parametrize("name", ARCHETYPES)
def test_every_stage_an_archetype_names_is_declared(name: str) -> None:
    spec = _spec(name)
    assert len(set(spec["stages"])) == len(spec["stages"])
    assert _stage_references(spec) <= set(spec["stages"])


@pytest.mark.parametrize("name", ARCHETYPES)
def test_every_stage_can_be_reached_and_any_open_one_cancelled(name: str) -> None:
    spec = _spec(name)
    assert _reachable(spec) == set(spec["stages"])
    for stage in set(spec["stages"]) - TERMINAL:
        assert "CANCELLED" in spec["transitions"][stage], stage


@pytest.mark.parametrize("name", ARCHETYPES)
def test_screening_archetypes_can_block_high_risk_patients(name: str) -> None:
    spec = _spec(name)
    screening = SCREENING & set(spec["stages"])
    if not screening:
        assert "BLOCKED_HIGH_RISK" not in spec["stages"]
        return
    # Screening leads to the block, the block is locked (a person lifts it), and from it a
    # therapist can send the patient back to screening or cancel.
    assert spec["locked_stages"] == ["BLOCKED_HIGH_RISK"]
    for stage in screening:
        assert "BLOCKED_HIGH_RISK" in spec["transitions"][stage]
    way_out = set(spec["transitions"]["BLOCKED_HIGH_RISK"])
    assert way_out & screening
    assert "CANCELLED" in way_out


def test_confirming_a_paid_booking_requires_the_payment() -> None:
    for name in ARCHETYPES:
        spec = _spec(name)
        if "CONFIRMED" in spec["stages"] and "AWAITING_PAYMENT" in spec["stages"]:
            assert spec["guards"]["CONFIRMED"] == {"requires_events": ["PAYMENT_SUCCEEDED"]}


# ------------------------------------------------------------------ timelines


@pytest.mark.parametrize("name", TIMELINES)
def test_every_event_depends_only_on_an_earlier_event(name: str) -> None:
    events = _spec(name)["events"]
    assert find_dependency_problems(events) == []
    earlier: set[str] = set()
    for event in events:
        assert NAME.match(event["event_id"])
        if event.get("depends_on"):
            assert event["depends_on"] in earlier, event["event_id"]
        earlier.add(event["event_id"])


@pytest.mark.parametrize("name", TIMELINES)
def test_every_event_is_well_formed(name: str) -> None:
    spec = _spec(name)
    for event in spec["events"]:
        assert event["event_type"]
        assert event.get("product") in spec["products"]
        assert 0 <= event.get("probability", 1) <= 1
        delay = event.get("delay", {})
        assert all(isinstance(v, int) and v >= 0 for k, v in delay.items() if k != "distribution")


@pytest.mark.parametrize("name", _with_events())
def test_every_timeline_builtin_generates_within_its_duration(name: str) -> None:
    # Given the built-in compiled once
    spec = _spec(name)
    plan = TimelinePlan.compile(spec)
    # When generated for a small cohort
    timelines = [plan.generate(f"patient-{n:03d}", date(2025, 1, 1), seed=1) for n in range(50)]
    # Then every patient gets events, none after the journey ends
    assert all(timelines)
    latest = max(item.day_offset for timeline in timelines for item in timeline)
    assert latest <= spec["duration_days"]


def test_new_member_onboarding_is_the_guides_three_product_journey() -> None:
    journey = BY_NAME["new-member-onboarding"]
    products = ["membersim", "patientsim", "rxmembersim"]
    assert journey["products"] == journey["journey_spec"]["products"] == products
    assert journey["journey_spec"]["duration_days"] == 90
    assert journey["journey_spec"]["events"] == [
        {"event_id": "enrollment", "event_type": "new_enrollment", "product": "membersim"},
        {
            "event_id": "welcome-visit",
            "event_type": "encounter",
            "product": "patientsim",
            "delay": {"min_days": 14, "max_days": 30},
        },
        {
            "event_id": "first-rx",
            "event_type": "prescription_fill",
            "product": "rxmembersim",
            "delay": {"min_days": 14, "max_days": 45},
        },
    ]


def test_the_diabetic_first_year_has_four_quarterly_visits_each_with_an_hba1c() -> None:
    plan = TimelinePlan.compile(_spec("diabetic-first-year"))
    timeline = plan.generate("patient-001", date(2025, 1, 1))
    visits = [item.day_offset for item in timeline if item.event_id == "quarterly-visit"]
    labs = [item.day_offset for item in timeline if item.event_id == "hba1c-lab"]
    assert visits == [90, 180, 270, 360]
    assert len(labs) == 4
    assert all(0 <= lab - visit <= 3 for visit, lab in zip(visits, labs, strict=True))
