"""`make mutation`'s report (tools/mutation.py): the score leaves equivalent mutants out, the
table says what a reader needs, and the list of equivalents is read strictly."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.mutation import EQUIVALENTS_FILE, MODULES, ModuleResult, read_equivalents, table

M = "journeys_core.domain.automation.x_f__mutmut_"


def result() -> ModuleResult:
    statuses = {f"{M}{n}": "killed" for n in range(1, 19)}
    statuses |= {f"{M}19": "survived", f"{M}20": "no tests"}
    return ModuleResult("journeys_core/domain/automation.py", statuses, equivalent={f"{M}19"})


def test_the_score_counts_killed_mutants_among_those_that_are_not_equivalent() -> None:
    outcome = result()

    assert (outcome.mutants, outcome.killed, outcome.survivors) == (20, 18, [f"{M}20"])
    assert outcome.score == pytest.approx(100 * 18 / 19)


def test_the_table_has_a_row_per_module() -> None:
    assert table([result()]).splitlines() == [
        "| module               | mutants | killed | survived | equivalent | score |",
        "|----------------------|---------|--------|----------|------------|-------|",
        "| domain/automation.py | 20      | 18     | 1        | 1          | 94.7% |",
    ]


@pytest.mark.parametrize(
    "line", ["journeys_core.domain.automation.x_f__mutmut_1", "not-a-mutant because reasons"]
)
def test_an_equivalent_needs_a_mutant_name_and_a_reason(line: str, tmp_path: Path) -> None:
    listing = tmp_path / "equivalents.txt"
    listing.write_text(f"# comment\n\n{line}\n")

    with pytest.raises(SystemExit) as refused:
        read_equivalents(listing)
    assert str(refused.value) == "equivalents.txt:3: expected '<mutant name> <reason>'"


def test_every_checked_in_equivalent_names_a_mutated_module_and_says_why() -> None:
    modules = {path.removesuffix(".py").replace("/", ".") for path in MODULES.values()}
    entries = read_equivalents(EQUIVALENTS_FILE)

    assert entries
    for name, reason in entries.items():
        assert name.rsplit(".", 1)[0] in modules, name
        assert len(reason.split()) >= 4, name
