"""Shared fixtures: a real workspace in tmp_path, the real CLI, a frozen clock.

Every test starts with IGCTL_WORKSPACE, IGCTL_SECRET_KEY and IGCTL_NOW cleared, then the clock
frozen at NOW (a Monday) — tests move it with `clock.set(...)`, never by sleeping.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from igctl.cli import cli
from igctl.engine.store.workspace import Workspace

NOW = "2026-03-02T10:00:00"  # Monday, workspace time


@pytest.fixture(autouse=True)
def _env(monkeypatch, tmp_path):
    for var in ("IGCTL_WORKSPACE", "IGCTL_SECRET_KEY", "IGCTL_NOW"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("IGCTL_NOW", NOW)
    # A home of its own, so nothing reads the developer's files.
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


class FrozenClock:
    def __init__(self, monkeypatch):
        self.mp = monkeypatch

    def set(self, when: str) -> None:
        self.mp.setenv("IGCTL_NOW", when)

    @property
    def now(self) -> str:
        return os.environ["IGCTL_NOW"]


@pytest.fixture
def clock(monkeypatch):
    return FrozenClock(monkeypatch)


class Cli:
    """The real CLI through click's CliRunner; stdout and stderr kept apart."""

    def __init__(self):
        self.runner = CliRunner()

    def __call__(self, *args, input=None, expect: int | None = 0):
        result = self.runner.invoke(cli, [str(a) for a in args], input=input, catch_exceptions=False)
        if expect is not None and result.exit_code != expect:
            raise AssertionError(
                f"igctl {' '.join(map(str, args))} exited {result.exit_code}, expected {expect}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result

    def json(self, *args):
        import json

        return json.loads(self(*args, "--json").stdout)

    def error(self, *args, input=None) -> str:
        """Run a command that must fail cleanly: exit 1, one `Error: …` line, no traceback."""
        result = self(*args, input=input, expect=1)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
        assert "Traceback" not in result.output
        return lines[0]


@pytest.fixture
def igctl():
    return Cli()


@pytest.fixture
def ws_path(tmp_path, igctl, monkeypatch) -> Path:
    """An initialised workspace, made the current one through IGCTL_WORKSPACE."""
    path = tmp_path / "ws"
    igctl("init", path)
    monkeypatch.setenv("IGCTL_WORKSPACE", str(path))
    return path


@pytest.fixture
def ws(ws_path) -> Workspace:
    """The engine's view of the same workspace (for arranging and checking state)."""
    workspace = Workspace.open(ws_path)
    yield workspace
    workspace.close()


@pytest.fixture
def write(tmp_path):
    """Write a file under tmp_path and return its path: write("a.txt", "text") or bytes."""

    def _write(name: str, content, encoding="utf-8") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding=encoding, newline="")
        return path

    return _write


def run_igctl_subprocess(*args, env=None, **kw):
    """The installed CLI in a real process (for the few end-to-end tests)."""
    import subprocess

    return subprocess.run(
        [sys.executable, "-m", "igctl", *map(str, args)], env=env, capture_output=True, text=True, **kw
    )
