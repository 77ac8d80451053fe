"""Cold start: importing a function's module in a fresh interpreter, next to `import boto3`
alone, measured alternately in the same run (median of several fresh interpreters).

With the template's Tracing Active the first invocation also sets up Powertools Tracer (the
X-Ray SDK, its botocore patch): the "tracing on" rows add that to the import and boto3,
to set against the "+ boto3" rows (a cold start with tracing off)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

from benchmarks.rows import Row, row

ROOT = Path(__file__).resolve().parents[1]
RUNS = 9
# Targets: journeys and patients 1.6x, automation 2.0x; the other functions are held
# to 2.0x too so a heavy import anywhere shows up.
TARGETS = {
    "journeys": 1.6,
    "patients": 1.6,
    "automation": 2.0,
    "automation_rules": 2.0,
    "stage_change_publisher": 2.0,
    "stale_monitor": 2.0,
    "stale_worker": 2.0,
    "notifier": 2.0,
    "admin": 2.0,
    "analytics": 2.0,
    "migrations": 2.0,
    "journey_rollups": 2.0,
}

# The functions whose cold start with tracing on is shown (the API's busiest and the engine).
TRACED = ("journeys", "patients", "automation")
# What the first invocation does before the handler when tracing is on.
TRACER_SETUP = "from journeys_core.observability import _with_tracer; _with_tracer(app.handler)"

_TIMED_IMPORT = (
    "import sys, time; sys.path[:0] = ['shared', '.', {code_dir!r}]; t = time.perf_counter(); "
    "{statement}; print(time.perf_counter() - t)"
)


def fresh_interpreter(script: str, **environment: str) -> str:
    """What ``script`` prints, run by a fresh interpreter in the repository (as a cold Lambda
    container runs its first import), with ``environment`` over this one's."""
    env = {**os.environ, "POWERTOOLS_SERVICE_NAME": "journeys", "AWS_DEFAULT_REGION": "us-east-1"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env | environment,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def _import_seconds(statement: str, code_dir: str = ".", tracing: bool = False) -> float:
    """Seconds to run ``statement`` in a fresh interpreter with the layer and the function's
    own folder on the path, as Lambda has them."""
    script = _TIMED_IMPORT.format(statement=statement, code_dir=code_dir)
    output = fresh_interpreter(script, POWERTOOLS_TRACE_DISABLED=str(not tracing).lower())
    return float(output.strip().splitlines()[-1])


def measure(function_dir: str) -> tuple[float, float, float]:
    """Median seconds for: import boto3; import the module; import the module and boto3."""
    module, code_dir = f"import functions.{function_dir}.app", f"functions/{function_dir}"
    boto, app, both = [], [], []
    _import_seconds(module, code_dir)  # compile .pyc once so every run measures the same
    for _ in range(RUNS):
        boto.append(_import_seconds("import boto3"))
        app.append(_import_seconds(module, code_dir))
        both.append(_import_seconds(module + "; import boto3", code_dir))
    return statistics.median(boto), statistics.median(app), statistics.median(both)


def measure_traced(function_dir: str) -> tuple[float, float]:
    """Median seconds for: import boto3; import the module and boto3 and set up its tracer."""
    module, code_dir = f"import functions.{function_dir}.app as app", f"functions/{function_dir}"
    statement = f"{module}; import boto3; {TRACER_SETUP}"
    _import_seconds(statement, code_dir, tracing=True)
    boto, traced = [], []
    for _ in range(RUNS):
        boto.append(_import_seconds("import boto3"))
        traced.append(_import_seconds(statement, code_dir, tracing=True))
    return statistics.median(boto), statistics.median(traced)


def run() -> list[Row]:
    rows = []
    for function_dir, target in TARGETS.items():
        boto, app, both = measure(function_dir)
        rows.append(
            row(
                f"cold start: import {function_dir} (vs import boto3)",
                app * 1000,
                "ms",
                f"ratio <= {target}",
                baseline=boto * 1000,
            )
        )
        rows.append(
            row(
                f"cold start: import {function_dir} + boto3 (vs import boto3)",
                both * 1000,
                "ms",
                "informative",
                baseline=boto * 1000,
            )
        )
    for function_dir in TRACED:
        boto, traced = measure_traced(function_dir)
        rows.append(
            row(
                f"cold start, tracing on: import {function_dir} + boto3 + Tracer (vs import boto3)",
                traced * 1000,
                "ms",
                "informative (Tracing Active)",
                baseline=boto * 1000,
            )
        )
    return rows
