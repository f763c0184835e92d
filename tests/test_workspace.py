"""igctl init, workspace discovery, igctl.yaml validation, the clock."""

from __future__ import annotations

import os
import stat

import pytest

from igctl.engine.store.clock import Clock, from_db, parse_instant, to_db
from igctl.engine.store.config import Config
from igctl.engine.store.workspace import FOLDERS, Workspace


def test_init_creates_every_folder_db_and_key(tmp_path, igctl):
    path = tmp_path / "agency"
    result = igctl("init", path, "--timezone", "Europe/Berlin")
    assert "Created workspace" in result.stdout
    for folder in FOLDERS:
        assert (path / folder).is_dir(), folder
    assert (path / "igctl.db").is_file()
    assert (path / "content/_templates/texts.yaml").is_file()
    assert stat.S_IMODE((path / "secret.key").stat().st_mode) == 0o600
    ws = Workspace.open(path)
    assert ws.config.timezone == "Europe/Berlin"
    assert ws.db().scalar("PRAGMA journal_mode") == "wal"
    assert ws.db().scalar("PRAGMA foreign_keys") == 1
    ws.close()


def test_init_refuses_an_existing_workspace_and_changes_nothing(tmp_path, igctl):
    path = tmp_path / "ws"
    igctl("init", path)
    before = (path / "secret.key").read_bytes()
    assert "already holds a workspace" in igctl.error("init", path)
    assert (path / "secret.key").read_bytes() == before


def test_init_refuses_a_non_empty_folder(tmp_path, igctl):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    assert "not empty" in igctl.error("init", tmp_path / "busy")
    assert sorted(p.name for p in (tmp_path / "busy").iterdir()) == ["notes.txt"]


def test_init_refuses_an_unknown_timezone(tmp_path, igctl):
    assert "unknown time zone" in igctl.error("init", tmp_path / "ws", "--timezone", "Mars/Base")
    assert not (tmp_path / "ws").exists()


def test_template_documents_every_setting_with_its_default(tmp_path, igctl):
    """The commented igctl.yaml and the pydantic model must agree, key for key and value for value."""
    import yaml

    igctl("init", tmp_path / "ws")
    shipped = yaml.safe_load((tmp_path / "ws" / "igctl.yaml").read_text())
    defaults = Config().model_dump(by_alias=True)
    assert shipped == defaults


def test_discovery_by_option_env_and_parent_folders(tmp_path, igctl, monkeypatch):
    path = tmp_path / "ws"
    igctl("init", path)
    assert igctl("log", "--json", "-w", path).exit_code == 0
    assert igctl("-w", path, "log", "--json").exit_code == 0
    monkeypatch.setenv("IGCTL_WORKSPACE", str(path))
    assert igctl("log", "--json").exit_code == 0
    monkeypatch.delenv("IGCTL_WORKSPACE")
    deep = path / "content" / "_templates" / "pfp"
    monkeypatch.chdir(deep)
    assert igctl("log", "--json").exit_code == 0


def test_no_workspace_is_a_one_line_error(tmp_path, igctl, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert "no workspace here" in igctl.error("log")
    assert "not an igctl workspace" in igctl.error("log", "-w", tmp_path)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("warmup:\n  retry_backof_minutes: 5\n", "warmup.retry_backof_minutes (line 2): unknown setting"),
        ("timezone: Mars/Base\n", "unknown time zone"),
        ("warmup:\n  max_attempts: 0\n", "warmup.max_attempts (line 2)"),
        ("proxies:\n  default_max_accounts: 4\n", "proxies.default_max_accounts"),
        ("warmup:\n  active_hours: '22:00-10:00'\n", "warmup.active_hours"),
        ("warmup: [\n", "not valid YAML"),
        ("- just\n- a list\n", "expected a mapping"),
        ("warmup:\n  spacing: {min_hours: 20, max_hours: 10}\n", "max_hours must be at least min_hours"),
    ],
)
def test_a_broken_igctl_yaml_is_a_clear_error(ws_path, igctl, text, expected):
    (ws_path / "igctl.yaml").write_text(text)
    message = igctl.error("log")
    assert message.startswith("Error: igctl.yaml")
    assert expected in message


def test_igctl_yaml_that_is_not_utf8(ws_path, igctl):
    (ws_path / "igctl.yaml").write_bytes(b"timezone: \xff\xfe\n")
    assert "not valid UTF-8" in igctl.error("log")


def test_settings_are_read(ws_path):
    (ws_path / "igctl.yaml").write_text(
        "timezone: Asia/Tokyo\nwarmup:\n  spacing: {min_hours: 15, max_hours: 24}\nimport:\n  max_file_mb: 1\n"
    )
    ws = Workspace.open(ws_path)
    assert ws.config.warmup.spacing.min_hours == 15
    assert ws.config.import_.max_file_mb == 1
    assert str(ws.tz) == "Asia/Tokyo"


def test_clock_is_frozen_by_igctl_now_in_the_workspace_zone(monkeypatch):
    from zoneinfo import ZoneInfo

    clock = Clock(ZoneInfo("Europe/Berlin"))
    monkeypatch.setenv("IGCTL_NOW", "2026-07-01T12:00:00")
    assert clock.now_db() == "2026-07-01T10:00:00.000Z"  # CEST is UTC+2
    monkeypatch.setenv("IGCTL_NOW", "2026-07-01T12:00:00+00:00")
    assert clock.now_db() == "2026-07-01T12:00:00.000Z"
    monkeypatch.setenv("IGCTL_NOW", "2026-01-01T00:30:00")
    assert clock.now_db() == "2025-12-31T23:30:00.000Z"  # CET is UTC+1
    monkeypatch.delenv("IGCTL_NOW")
    assert abs((clock.now() - parse_instant(to_db(clock.now()))).total_seconds()) < 1


def test_stored_times_are_fixed_width_and_sort_as_text():
    a = parse_instant("2026-03-29T00:59:59.999Z")
    b = parse_instant("2026-03-29T01:00:00Z")
    assert len(to_db(a)) == len(to_db(b)) == 24
    assert to_db(a) < to_db(b)
    assert from_db(to_db(b)) == b


def test_a_bad_igctl_now_is_a_clear_error(ws_path, igctl, monkeypatch):
    monkeypatch.setenv("IGCTL_NOW", "yesterday")
    assert "not an ISO-8601" in igctl.error("secrets", "rotate")


def test_workspace_files_are_not_world_writable(ws_path):
    mode = stat.S_IMODE(os.stat(ws_path / "secret.key").st_mode)
    assert mode & 0o077 == 0


def test_settings_are_validated_when_they_change_and_parsed_when_needed(ws_path, igctl):
    """A command whose igctl.yaml is unchanged since it was last found valid, and that needs no
    setting, does not import pydantic (it costs more than the rest of a small listing); a changed
    file is validated by the next command, whatever it is, so an invalid file is an error at once
    and is never remembered as valid."""
    import subprocess
    import sys

    igctl("log", "--json")
    code = (
        "import sys; from igctl.cli import main\n"
        "sys.argv = ['igctl', 'accounts', 'list', '--json']\n"
        "try:\n    main()\nexcept SystemExit: pass\n"
        "sys.exit(3 if 'pydantic' in sys.modules else 0)"
    )
    env = {**os.environ, "IGCTL_WORKSPACE": str(ws_path)}
    assert subprocess.run([sys.executable, "-c", code], env=env, capture_output=True).returncode == 0
    text = (ws_path / "igctl.yaml").read_text()
    (ws_path / "igctl.yaml").write_text(text.replace("max_attempts: 3", "max_attempts: 0"))
    assert "warmup.max_attempts" in igctl.error("log")  # the change is validated, not taken from memory
    (ws_path / "igctl.yaml").write_text(text.replace("max_attempts: 3", "max_attempts: 5"))
    assert Workspace.open(ws_path).config.warmup.max_attempts == 5
    assert subprocess.run([sys.executable, "-c", code], env=env, capture_output=True).returncode == 0
