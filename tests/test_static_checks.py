"""The code's shape, checked on every run of the suite (and by .ci/run before it): the engine's
layers and no import cycle (import-linter, contracts in pyproject.toml), one module that changes
tasks, and the linters."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    found = BIN / name
    if not found.exists():
        which = shutil.which(name)
        if which is None:
            pytest.fail(f"{name} is not installed: install the test extra (pip install -e '.[test]')")
        return which
    return str(found)


def run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_layers_and_no_import_cycle():
    """lint-imports keeps every contract: views → flows → domain → queue → store, the engine
    imports no face (click, bottle, commands, ...), and no package of igctl has an import cycle."""
    result = run(tool("lint-imports"), "--no-cache")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_a_new_import_cycle_is_caught(tmp_path):
    """The cycle contract really fails on a cycle: two sibling modules of a package that import
    each other, checked with the project's own contract."""
    pkg = tmp_path / "demo_pkg"
    (pkg / "inner").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "inner" / "__init__.py").write_text("")
    (pkg / "inner" / "a.py").write_text("from . import b\n")
    (pkg / "inner" / "b.py").write_text(
        "def later():\n    from . import a  # a function-level import is still an edge\n"
    )
    (tmp_path / "setup.cfg").write_text(
        "[importlinter]\nroot_package = demo_pkg\n\n"
        "[importlinter:contract:acyclic]\nname = no cycle\ntype = acyclic_siblings\nancestors = demo_pkg\n"
    )
    result = subprocess.run(
        [tool("lint-imports"), "--no-cache"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(tmp_path), "PATH": str(BIN)},
    )
    assert result.returncode != 0 and "BROKEN" in result.stdout, result.stdout + result.stderr


def test_one_module_changes_tasks():
    """The task chokepoint: only engine/queue/tasks.py contains an UPDATE of the tasks table."""
    pattern = re.compile(r"UPDATE\s+tasks\s+SET", re.IGNORECASE)
    found = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "igctl").rglob("*.py") if pattern.search(p.read_text()))
    assert found == ["igctl/engine/queue/tasks.py"]


def test_ruff_check():
    result = run(tool("ruff"), "check", "--quiet", "igctl", "tests", "bench")
    assert result.returncode == 0, result.stdout[-4000:]


def test_ruff_format():
    result = run(tool("ruff"), "format", "--check", "--quiet", "igctl", "tests", "bench")
    assert result.returncode == 0, result.stdout[-4000:]


def test_mypy_over_the_engine():
    """mypy as configured in pyproject.toml ([tool.mypy]): every engine function typed, the
    workspace argument and the rows that cross layers included."""
    result = run(tool("mypy"))
    assert result.returncode == 0, result.stdout[-6000:]
