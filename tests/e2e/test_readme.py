"""Every shell and Python snippet of README.md runs, exactly as written, against the local
stack, in the README's order (a snippet's exports reach the ones after it), so the README
cannot rot. A snippet that cannot run here says so on its first line, visibly:
``# not run by the tests: <why>``; those are few, and each says why.

What the test supplies is what a reader has: the stack on ``PORT`` (``make run``'s own
variable), ``make`` pointed at this interpreter's environment (a reader's ``.venv``), a fresh
virtual environment for ``pip``, and this checkout's client on the path."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import venv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.conftest import REPO_ROOT, LocalStack

pytestmark = pytest.mark.e2e

README = REPO_ROOT / "README.md"
NOT_RUN = "# not run by the tests:"
MOST_NOT_RUN = 4
SHELL = {"bash", "sh", "shell"}
PYTHON = {"python", "py"}
FENCE = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
SNIPPET_TIMEOUT_SECONDS = 240  # `pip install` builds and installs the client


@dataclass(frozen=True)
class Snippet:
    line: int
    language: str
    code: str

    @property
    def runs(self) -> bool:
        return not self.code.startswith(NOT_RUN)

    @property
    def name(self) -> str:
        return f"README.md:{self.line}-{self.language}"


def readme_snippets(text: str) -> list[Snippet]:
    """The fenced shell and Python blocks, with the line each starts on."""
    return [
        Snippet(text.count("\n", 0, match.start()) + 1, match[1], match[2])
        for match in FENCE.finditer(text)
        if match[1] in SHELL | PYTHON
    ]


SNIPPETS = readme_snippets(README.read_text(encoding="utf-8"))
RUNNABLE = [snippet for snippet in SNIPPETS if snippet.runs]


def test_the_snippet_finder_sees_fences_and_the_marker() -> None:
    text = "a\n```bash\necho hi\n```\n```json\n{}\n```\n```python\n# not run by the tests: x\n```\n"
    found = readme_snippets(text)
    assert [(s.line, s.language, s.runs) for s in found] == [
        (2, "bash", True),
        (8, "python", False),
    ]


def test_snippets_that_do_not_run_are_few_and_say_why() -> None:
    skipped = [snippet for snippet in SNIPPETS if not snippet.runs]
    for snippet in skipped:
        reason = snippet.code.splitlines()[0].removeprefix(NOT_RUN).strip()
        assert len(reason) > 10, f"{snippet.name}: say why it cannot run here"
    assert len(skipped) <= MOST_NOT_RUN, [snippet.name for snippet in skipped]
    assert len(RUNNABLE) >= 3


@dataclass
class Outcome:
    returncode: int
    output: str


def _read_environment(path: Path) -> dict[str, str]:
    pairs = (entry.split("=", 1) for entry in path.read_bytes().decode().split("\0") if entry)
    return dict(pair for pair in pairs if len(pair) == 2)


@pytest.fixture(scope="module")
def readme_run(
    local_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Outcome]]:
    """Every runnable snippet, in order, once; each one's exit code and output by name."""
    work = tmp_path_factory.mktemp("readme")
    pip_venv = work / "venv"
    venv.create(pip_venv, with_pip=True)
    fresh = work / "installed"
    fresh.touch()  # make's install stamp: newer than the requirements, so nothing reinstalls
    environment = {
        **local_stack.environment,
        "PORT": str(local_stack.port),
        # make's targets use this interpreter's environment (a reader's .venv)
        "MAKEFLAGS": f"BIN={Path(sys.executable).parent} STAMP={fresh}",
        "PATH": os.pathsep.join([str(pip_venv / "bin"), os.environ.get("PATH", "")]),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "NO_PROXY": "127.0.0.1,localhost",
        "PYTHONPATH": os.pathsep.join(
            [str(REPO_ROOT / "client"), os.environ.get("PYTHONPATH", "")]
        ),
    }
    exported = work / "environment"
    outcomes: dict[str, Outcome] = {}
    for snippet in RUNNABLE:
        if snippet.language in SHELL:
            # The snippet as written, then what it exported, for the snippets after it.
            command = [
                "bash",
                "-c",
                f'set -euo pipefail\n{snippet.code}\nenv -0 > "{exported}"\n',
            ]
        else:
            command = [sys.executable, "-c", snippet.code]
        run = subprocess.run(
            command,
            cwd=REPO_ROOT,
            env=environment,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=SNIPPET_TIMEOUT_SECONDS,
            check=False,
        )
        outcomes[snippet.name] = Outcome(run.returncode, run.stdout + run.stderr)
        if snippet.language in SHELL and run.returncode == 0:
            environment = _read_environment(exported)
    yield outcomes


@pytest.mark.parametrize("snippet", RUNNABLE, ids=[snippet.name for snippet in RUNNABLE])
def test_the_readme_snippet_runs(snippet: Snippet, readme_run: dict[str, Outcome]) -> None:
    outcome = readme_run[snippet.name]
    assert outcome.returncode == 0, f"{snippet.name} failed:\n{snippet.code}\n---\n{outcome.output}"
