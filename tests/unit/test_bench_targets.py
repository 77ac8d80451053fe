"""`make bench` measures the cold start of every function of template.yaml against its
target (the issues' ratios: journeys and patients 1.6, automation 2.0, the others 2.0)."""

from __future__ import annotations

from benchmarks.bench_cold_start import TARGETS
from local_stack.template import functions, load_template


def test_every_function_has_its_cold_start_measured_against_a_target() -> None:
    function_dirs = {info.function_dir for info in functions(load_template()).values()}
    assert set(TARGETS) == function_dirs
    assert TARGETS["journeys"] == TARGETS["patients"] == 1.6
    assert all(TARGETS[name] <= 2.0 for name in function_dirs)
