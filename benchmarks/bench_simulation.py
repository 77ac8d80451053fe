"""Simulation: the built-in retreat with the default playbook on 10,000 synthetic patients over
365 days, in process (the domain code the simulate route runs, without the two reads)."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

from benchmarks.rows import Row, row
from journeys_core.builtins import load_builtin_journeys
from journeys_core.domain.automation import playbook_rules
from journeys_core.domain.simulation import Cohort, simulate_cohort
from journeys_core.models.automation import AutomationRule

KEY = "retreat_ibiza_2025"
PATIENTS = 10_000
DAYS = 365
# API Gateway gives up after 29 s; a request with compare_with runs the cohort twice.
GATEWAY_SECONDS = 29.0


def _cohort() -> Cohort:
    spec = next(j for j in load_builtin_journeys() if j["name"] == KEY)["journey_spec"]
    now = datetime(2026, 1, 1, tzinfo=UTC)
    rules = [
        AutomationRule.model_validate(
            {
                **body.model_dump(mode="json"),
                "id": rule_id,
                "organization_id": "bench",
                "version": 1,
                "created_at": now,
                "updated_at": now,
            }
        )
        for rule_id, body in playbook_rules({KEY: spec["stages"]})
    ]
    return Cohort(KEY, "bench", spec, rules, PATIENTS, 1, date(2026, 1, 1), DAYS)


def run() -> list[Row]:
    cohort = _cohort()
    began = time.perf_counter()
    outcome = simulate_cohort(cohort)
    seconds = time.perf_counter() - began
    patient_days = outcome.enrolled * DAYS
    return [
        row(
            f"simulation: {PATIENTS:,} patients x {DAYS} days (retreat, playbook)",
            seconds,
            "s",
            f"<= {GATEWAY_SECONDS / 2:.1f} s (twice fits in 29 s with compare_with)",
        ),
        row(
            "simulated patient-days per second",
            patient_days / seconds,
            "patient-days/s",
            f">= {2 * PATIENTS * DAYS / GATEWAY_SECONDS:,.0f}",
        ),
        row(
            "simulated stale timeouts in that run",
            outcome.timeouts.total,
            "timeouts",
            "one a day per non-payer once past 48 h",
        ),
    ]


if __name__ == "__main__":
    from benchmarks.run import render

    print(render(run()))
