"""mypy over the engine, as configured in pyproject.toml ([tool.mypy]): every function typed,
the workspace argument and the rows that cross layers included. Part of the test suite so that
`.ci/run` (which runs every test) fails on a type error."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_mypy_passes_over_the_engine():
    run = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
