"""Every function's environment in template.yaml supplies every setting its code can read.

The local stack and the tests merge all functions' environments into one process, so a
variable missing from one function's entry would only show in production. Here each
function's code (its folder and every ``journeys_core`` module it imports, transitively) is
read for the settings it uses, and compared with what its template entry and the Globals set.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest
from cfnlint.decode import decode

from journeys_core.settings import RESOURCE_VARIABLES, MissingSetting, Settings, get_settings

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT / "shared"


def _template() -> dict:
    template, problems = decode(str(ROOT / "template.yaml"))
    assert not problems
    return template


def _functions(template: dict) -> dict[str, dict]:
    return {
        name: resource["Properties"]
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def _variables_of(settings_name: str) -> str:
    """The environment variable behind a Settings attribute."""
    if settings_name in RESOURCE_VARIABLES:
        return RESOURCE_VARIABLES[settings_name]
    alias = Settings.model_fields[settings_name].alias
    assert alias
    return alias


SETTING_NAMES = (set(RESOURCE_VARIABLES) | set(Settings.model_fields)) - {"resources"}


def _module_file(module: str) -> Path | None:
    base = SHARED / module.replace(".", "/")
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):  # lazy imports inside functions count too
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name.startswith("journeys_core")}


def _settings_read(tree: ast.AST) -> set[str]:
    """Attributes read off a Settings object (``get_settings().x``, ``settings.x``)."""
    return {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr in SETTING_NAMES
    }


REPOSITORIES = "journeys_core.data.repositories"


def _factory_reads() -> dict[str, set[str]]:
    """What each repository factory reads: a module that calls ``repositories.patients()``
    needs the patients' settings, not every table's."""
    tree = ast.parse((SHARED / "journeys_core/data/repositories.py").read_text())
    return {
        node.name: _settings_read(node) for node in tree.body if isinstance(node, ast.FunctionDef)
    }


def _factories_called(tree: ast.AST) -> set[str]:
    return {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "repositories"
    }


def settings_read_by(code_dir: Path) -> set[str]:
    factories = _factory_reads()
    pending = list(code_dir.glob("*.py"))
    seen: set[Path] = set()
    used: set[str] = set()
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        tree = ast.parse(path.read_text())
        if path.name != "settings.py":  # the model's own definitions are not reads
            used |= _settings_read(tree)
        for factory in _factories_called(tree):
            used |= factories[factory]
        for module in _imports(tree) - {REPOSITORIES}:
            module_file = _module_file(module)
            if module_file is not None:
                pending.append(module_file)
    return used


TEMPLATE = _template()
FUNCTIONS = _functions(TEMPLATE)
GLOBAL_VARIABLES = set(TEMPLATE["Globals"]["Function"]["Environment"]["Variables"])


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_the_template_supplies_every_setting_the_function_reads(logical_id: str) -> None:
    properties = FUNCTIONS[logical_id]
    own = set(properties.get("Environment", {}).get("Variables", {}))
    supplied = GLOBAL_VARIABLES | own
    read = settings_read_by(ROOT / properties["CodeUri"])
    required = {_variables_of(name) for name in read if name in RESOURCE_VARIABLES}

    assert required, f"{logical_id}: no resource settings found: the reader is broken"
    assert required <= supplied, f"{logical_id} lacks {sorted(required - supplied)}"


def test_the_reader_sees_a_setting_read_through_an_import(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(
        "from journeys_core.services.automation_rules import list_rules\n"
    )

    assert "rules_table" in settings_read_by(tmp_path)


def test_a_missing_resource_name_fails_at_first_use_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("RULES_TABLE_NAME", raising=False)
    get_settings.cache_clear()
    try:
        settings = get_settings()  # reading the others still works
        assert settings.patients_table == os.environ["PATIENTS_TABLE_NAME"]
        with pytest.raises(MissingSetting, match="RULES_TABLE_NAME"):
            _ = settings.rules_table
    finally:
        get_settings.cache_clear()
