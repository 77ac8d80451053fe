"""Mutation testing of the domain modules against the unit tests: ``make mutation``.

mutmut 3 does the work. It names a module after its path and strips only a ``src/``
prefix, while this repository keeps the package under ``shared/`` (tests import
``journeys_core`` through pytest's ``pythonpath``). So each module is run in a scratch copy
of the repository whose ``src/`` holds the package, with pytest pointed at ``src``; the
repository itself is never touched. One module at a time, one worker (the CPU is shared).

Equivalent mutants (no test can tell them from the original) are listed, each with its
reason, in ``tools/mutation_equivalents.txt``; they are left out of the score. An entry
that no longer names a surviving mutant is reported, so the list cannot go stale quietly.

mutmut switches mutants on inside each test, after collection: a test module that calls the
code under test at import time (a module-level constant built by it) never sees a mutant
there. Build such values inside the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EQUIVALENTS_FILE = REPO / "tools" / "mutation_equivalents.txt"
MODULES = {
    "stage_machine": "journeys_core/domain/stage_machine.py",
    "automation": "journeys_core/domain/automation.py",
    "stale_monitor": "journeys_core/domain/stale_monitor.py",
    "timeline": "journeys_core/domain/timeline.py",
}
TARGET_SCORE = 95.0
# Scratch copies leave out what is big, generated or not needed by the unit tests.
_NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv*", "mutants", "__pycache__", ".mypy_cache", ".ruff_cache", ".aws-sam", "build"
)
_RESULT = re.compile(r"^\s*(?P<name>\S+__mutmut_\d+): (?P<status>.+)$")


@dataclass
class ModuleResult:
    module: str
    statuses: dict[str, str]
    equivalent: set[str] = field(default_factory=set)

    @property
    def mutants(self) -> int:
        return len(self.statuses)

    @property
    def killed(self) -> int:
        return sum(status == "killed" for status in self.statuses.values())

    @property
    def survivors(self) -> list[str]:
        return sorted(
            name
            for name, status in self.statuses.items()
            if status != "killed" and name not in self.equivalent
        )

    @property
    def score(self) -> float:
        judged = self.mutants - len(self.equivalent)
        return 100.0 if judged == 0 else 100.0 * self.killed / judged


def read_equivalents(path: Path = EQUIVALENTS_FILE) -> dict[str, str]:
    """{mutant name: reason} from lines ``<mutant name>  <reason>`` (``#`` starts a comment)."""
    entries: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, reason = line.partition(" ")
        if "__mutmut_" not in name or not reason.strip():
            raise SystemExit(f"{path.name}:{number}: expected '<mutant name> <reason>'")
        entries[name] = reason.strip()
    return entries


def _scratch_copy(root: Path) -> None:
    shutil.copytree(REPO, root, ignore=_NOT_COPIED, dirs_exist_ok=True)
    shutil.copytree(REPO / "shared", root / "src", ignore=_NOT_COPIED)
    # Everything the unit tests may import or read, beside the package under test.
    also_copy = json.dumps(sorted(p.name for p in root.iterdir() if p.name not in {"src", "tests"}))
    config = "\n".join(
        [
            "",
            "[tool.mutmut]",
            'source_paths = ["src"]',
            "only_mutate = [{only}]",
            # client/: the copy's own Python client, not wherever the editable install points.
            'pytest_add_cli_args = ["-o", "pythonpath=src . client", "-p", "no:xdist", "-q"]',
            'pytest_add_cli_args_test_selection = ["tests/unit"]',
            f"also_copy = {also_copy}",
            "",
        ]
    )
    with (root / "pyproject.toml").open("a") as pyproject:
        pyproject.write(config)


def run_module(key: str, keep: Path | None = None) -> ModuleResult:
    relative = MODULES[key]
    root = Path(tempfile.mkdtemp(prefix=f"mutation-{key}-")) if keep is None else keep
    _scratch_copy(root)
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("{only}", f'"src/{relative}"'))
    mutmut = [sys.executable, "-m", "mutmut"]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    log = root / "mutmut.log"
    with log.open("w") as out:
        run = subprocess.run(
            [*mutmut, "run", "--max-children", "1"], cwd=root, env=env, stdout=out, stderr=out
        )
    if run.returncode != 0:
        raise SystemExit(f"mutmut failed on {relative}; its output is in {log}")
    listing = subprocess.run(
        [*mutmut, "results", "--all", "true"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    statuses = {
        match["name"]: match["status"].strip()
        for match in map(_RESULT.match, listing.splitlines())
        if match
    }
    if not statuses:
        raise SystemExit(f"mutmut made no mutants of {relative}; its output is in {log}")
    if keep is None:
        shutil.rmtree(root)
    return ModuleResult(module=relative, statuses=statuses)


def show_mutant(name: str, root: Path) -> str:
    return subprocess.run(
        [sys.executable, "-m", "mutmut", "show", name],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    ).stdout


def table(results: list[ModuleResult]) -> str:
    rows = [("module", "mutants", "killed", "survived", "equivalent", "score")]
    for result in results:
        rows.append(
            (
                result.module.removeprefix("journeys_core/"),
                str(result.mutants),
                str(result.killed),
                str(len(result.survivors)),
                str(len(result.equivalent)),
                f"{result.score:.1f}%",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) + " |"
        for row in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help=f"of {', '.join(MODULES)} (default: all)")
    parser.add_argument(
        "--keep", type=Path, help="run one module in this directory and keep it (to inspect)"
    )
    args = parser.parse_args(argv)
    keys = args.modules or list(MODULES)
    unknown = sorted(set(keys) - set(MODULES))
    if unknown:
        parser.error(f"unknown module {', '.join(unknown)}: choose from {', '.join(MODULES)}")
    if args.keep is not None and len(keys) != 1:
        parser.error("--keep takes exactly one module")
    equivalents = read_equivalents()
    results, stale = [], []
    for key in keys:
        print(f"mutating {MODULES[key]} ...", file=sys.stderr, flush=True)
        result = run_module(key, args.keep)
        for name in equivalents:
            if name.rsplit(".", 1)[0].startswith(MODULES[key][:-3].replace("/", ".")):
                if result.statuses.get(name, "killed") == "killed":
                    stale.append(name)
                else:
                    result.equivalent.add(name)
        results.append(result)
        for name in result.survivors:
            print(f"survived: {name}", file=sys.stderr)
            if args.keep is not None:
                print(show_mutant(name, args.keep), file=sys.stderr)
    print(table(results))
    for name in stale:
        print(f"{EQUIVALENTS_FILE.name}: {name} is not a surviving mutant any more: remove it")
    below = [r.module for r in results if r.score < TARGET_SCORE]
    if below:
        print(f"below {TARGET_SCORE:.0f}%: {', '.join(below)}")
    return 1 if below or stale else 0


if __name__ == "__main__":
    sys.exit(main())
