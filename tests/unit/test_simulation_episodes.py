"""Episodes in the cohort simulator (no AWS), as the live stage moves and the monitor have
them: a final stage ends a patient's episode and the monitor leaves it alone; a later move is
a re-entry, episode 2, when the journey's ``reentry`` allows it, and a refusal of kind
``reentry`` when it does not (or not yet, or not again)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from journeys_core.domain.simulation import Cohort, CohortRun, simulate_cohort
from journeys_core.models.simulation import CohortOutcome

KEY = "course"
PATIENTS = 200


def course(**extra: Any) -> dict[str, Any]:
    """Enrolled, active the same day, finished four days later; the course times out both
    while active (a nudge a day) and once finished (a review request a day later)."""
    return {
        "stages": ["ENROLLED", "ACTIVE", "FINISHED", "DROPPED"],
        "initial_stage": "ENROLLED",
        "transitions": {
            "ENROLLED": ["ACTIVE", "DROPPED"],
            "ACTIVE": ["FINISHED", "DROPPED"],
            "FINISHED": [],
            "DROPPED": [],
        },
        "stale_rules": [
            {"stage": "ACTIVE", "max_hours": 24, "action": "nudge"},
            {"stage": "FINISHED", "max_hours": 24, "action": "ask_for_review"},
        ],
        "events": [
            {"event_id": "begin", "delay": {"min_days": 0, "max_days": 0}, "move_to": "ACTIVE"},
            {
                "event_id": "finish",
                "depends_on": "begin",
                "delay": {"min_days": 4, "max_days": 4},
                "move_to": "FINISHED",
            },
        ],
        **extra,
    }


def coming_back(after_days: int, **extra: Any) -> dict[str, Any]:
    """The course, where staff enroll every finished patient again ``after_days`` later and
    the patient starts once more the next day."""
    spec = course(**extra)
    spec["events"] += [
        {
            "event_id": "come-back",
            "depends_on": "finish",
            "delay": {"min_days": after_days, "max_days": after_days},
            "move_to": "ENROLLED",
        },
        {
            "event_id": "begin-again",
            "depends_on": "come-back",
            "delay": {"min_days": 1, "max_days": 1},
            "move_to": "ACTIVE",
        },
    ]
    return spec


def run(spec: dict[str, Any], days: int = 40) -> CohortOutcome:
    return simulate_cohort(
        Cohort(KEY, "org-a", spec, [], PATIENTS, seed=5, start_date=date(2026, 3, 1), days=days)
    )


def entries(outcome: CohortOutcome) -> dict[str, int]:
    return {stage.stage: stage.entries for stage in outcome.stages}


def test_a_finished_patient_gets_no_more_timeouts() -> None:
    # Given a course with a stale rule on its final stage FINISHED
    # When the cohort runs for 40 days, everyone finishing on day 4
    outcome = run(course())
    # Then everyone ends in FINISHED, and only the active days timed out: past 24 hours and a
    # day later (the next wait, three days, outlasts the stay); the monitor leaves an ended
    # episode alone, so the review request never goes out
    assert outcome.final["FINISHED"] == PATIENTS
    assert outcome.timeouts.by_rule == {"ACTIVE>24h:nudge": 2 * PATIENTS}
    assert outcome.timeouts.total == 2 * PATIENTS
    assert outcome.timeouts.per_day[5:] == [0] * 35


def test_a_final_stage_named_in_final_stages_ends_the_episode_too() -> None:
    # Given a course whose DROPPED stage may be left again, yet is final
    spec = course(final_stages=["FINISHED", "DROPPED"])
    spec["transitions"]["DROPPED"] = ["ENROLLED"]
    spec["stale_rules"].append({"stage": "DROPPED", "max_hours": 1, "action": "win_back"})
    spec["events"][1]["move_to"] = "DROPPED"
    # When everyone drops out on day 4
    outcome = run(spec)
    # Then nobody is reminded in DROPPED either
    assert outcome.final["DROPPED"] == PATIENTS
    assert set(outcome.timeouts.by_rule) == {"ACTIVE>24h:nudge"}


def test_a_move_after_an_ended_episode_starts_episode_two() -> None:
    # Given a course that lets a patient come back a week after finishing
    spec = coming_back(10, reentry={"allowed": True, "min_days_between": 7})
    # When staff enroll every finished patient again 10 days later
    outcome = run(spec)
    # Then each comes back: a second entry of ENROLLED, then of ACTIVE, nothing refused
    assert outcome.refused == []
    stages = {stage.stage: stage for stage in outcome.stages}
    assert entries(outcome) == {
        "ENROLLED": 2 * PATIENTS,
        "ACTIVE": 2 * PATIENTS,
        "FINISHED": PATIENTS,
        "DROPPED": 0,
    }
    assert stages["ENROLLED"].conversions[0].model_dump() == {
        "to_stage": "ACTIVE",
        "count": 2 * PATIENTS,
        "rate": 1.0,
    }
    # and the second episode is live like the first: everyone active at the end, nudged
    # again (past 24 hours, then 1, 3 and 7 days later) on top of the first episode's two
    assert outcome.final["ACTIVE"] == PATIENTS
    assert outcome.timeouts.by_rule == {"ACTIVE>24h:nudge": (2 + 4) * PATIENTS}
    # and the stay that ended the first episode was never left: each episode is its own course
    assert stages["FINISHED"].conversions == []
    assert stages["FINISHED"].time_in_stage.ended == 0


@pytest.mark.parametrize(
    "reentry",
    [
        pytest.param({"allowed": False}, id="not-allowed"),
        pytest.param({"allowed": True, "min_days_between": 30}, id="too-soon"),
        pytest.param({"allowed": True, "max_episodes": 1}, id="one-episode-only"),
    ],
)
def test_a_reentry_the_journey_does_not_allow_is_refused_as_reentry(
    reentry: dict[str, Any],
) -> None:
    # Given a course whose re-entry rules do not let a patient back 10 days after finishing
    spec = coming_back(10, reentry=reentry)
    # When staff try to enroll every finished patient again
    outcome = run(spec)
    # Then every try is refused as a re-entry, and the patients stay where they ended
    assert [(r.from_stage, r.to_stage, r.why, r.count) for r in outcome.refused] == [
        ("FINISHED", "ACTIVE", "reentry", PATIENTS),
        ("FINISHED", "ENROLLED", "reentry", PATIENTS),
    ]
    assert entries(outcome)["ENROLLED"] == PATIENTS
    assert outcome.final["FINISHED"] == PATIENTS


def test_without_reentry_a_final_stage_has_nowhere_to_go() -> None:
    # Given the course without any reentry rules
    # When staff try to enroll finished patients again
    outcome = run(coming_back(10))
    # Then the moves are refused as transitions the journey lacks, as the live API does
    assert {(r.from_stage, r.to_stage, r.why) for r in outcome.refused} == {
        ("FINISHED", "ENROLLED", "transition"),
        ("FINISHED", "ACTIVE", "transition"),
    }


def test_episodes_keep_a_run_reproducible_and_each_patient_independent() -> None:
    # Given the course with re-entry
    spec = coming_back(10, reentry={"allowed": True, "min_days_between": 7})

    def cohort(size: int) -> Cohort:
        return Cohort(KEY, "org-a", spec, [], size, seed=5, start_date=date(2026, 3, 1), days=40)

    # When it runs twice, and once with a larger cohort
    first, again = simulate_cohort(cohort(50)), simulate_cohort(cohort(50))
    larger = CohortRun(cohort(80))
    larger.run()
    # Then the runs are identical byte for byte, and the first 50 patients' log points are
    # the same in the larger cohort, episodes included
    assert first.model_dump_json() == again.model_dump_json()
    small = CohortRun(cohort(50))
    small.run()
    ids = {f"patient-{n}" for n in range(1, 51)}
    assert [p for p in larger.points if p.patient_id in ids] == small.points
    assert {p.episode for p in small.points} == {1, 2}
