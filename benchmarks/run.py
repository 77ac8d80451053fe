"""`make bench`: every benchmark in one run, one table."""

from __future__ import annotations

import importlib
import os
import platform
import sys
import time
from datetime import UTC, datetime

from benchmarks.rows import Row

MODULES = [
    "bench_cold_start",
    "bench_dynamodb_calls",
    "bench_timeline",
    "bench_monitor",
    "bench_analytics",
    "bench_stage_index",
    "bench_local_stack",
    "bench_simulation",
]


def _format(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}" if abs(value) < 1000 else f"{value:,.0f}"


def render(rows: list[Row]) -> str:
    header = ("figure", "value", "unit", "baseline", "ratio", "target")
    lines = [
        [
            r["figure"],
            _format(r["value"]),
            r["unit"],
            _format(r["baseline"]),
            _format(r["ratio"]) + ("x" if r["ratio"] is not None else ""),
            r["target"],
        ]
        for r in rows
    ]
    widths = [max(len(str(x)) for x in column) for column in zip(header, *lines, strict=False)]
    out = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |"]
    out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    out += [
        "| " + " | ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)) + " |"
        for line in lines
    ]
    return "\n".join(out)


def main(selected: list[str]) -> None:
    # The handlers' logs and metrics would bury the table: keep only errors.
    os.environ["POWERTOOLS_LOG_LEVEL"] = "ERROR"
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    rows: list[Row] = []
    for name in selected or MODULES:
        try:
            module = importlib.import_module(f"benchmarks.{name}")
        except ModuleNotFoundError as error:
            print(f"skipped {name}: {error}", file=sys.stderr)
            continue
        started = time.perf_counter()
        rows += module.run()
        # Which row is slow, without burying the table (stderr).
        print(f"{name}: {time.perf_counter() - started:.0f} s", file=sys.stderr)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    print(
        f"Measured {stamp} on {platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.system()} ({_cpu_count()} cores)\n"
    )
    print(render(rows))


def _cpu_count() -> int:
    return os.cpu_count() or 0


if __name__ == "__main__":
    main(sys.argv[1:])
