"""Every command has help, appears in the docs, and docs/cli.md is generated from --help."""

from __future__ import annotations

import click

from igctl import clidoc
from igctl.cli import cli


def _commands():
    return list(clidoc.walk(cli, ["igctl"]))


def test_every_command_has_help_text():
    for path, command in _commands():
        assert (command.help or "").strip(), f"{' '.join(path)} has no help text"
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                assert (param.help or "").strip(), f"{' '.join(path)} {param.opts} has no help"


def test_help_runs_for_every_command(igctl):
    for path, _ in _commands():
        result = igctl(*path[1:], "--help")
        assert "Usage: igctl" in result.stdout


def test_cli_reference_is_up_to_date():
    """In a process of its own: click caches each command's help option, so a command first
    shown under another group (some tests build one) would render differently in-process."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "igctl.clidoc", "--check"], capture_output=True, text=True)
    assert result.returncode == 0, "docs/cli.md is out of date: run `python -m igctl.clidoc`"


# Listing and report commands that are not named `list` (product.md §6: every one has --csv).
LISTING = {
    ("igctl", "log"),
    ("igctl", "report"),
    ("igctl", "model", "show"),
    ("igctl", "warmup", "pipeline"),
    ("igctl", "warmup", "plan"),
}


def test_listing_commands_have_json_and_csv():
    paths = {tuple(path) for path, _ in _commands()}
    assert paths >= LISTING, LISTING - paths
    for path, command in _commands():
        names = {o for p in command.params for o in getattr(p, "opts", [])}
        if path[-1] == "list" or tuple(path) in LISTING:
            assert {"--json", "--csv"} <= names, " ".join(path)


def test_configuration_reference_names_every_setting():
    from pathlib import Path

    from igctl.engine.store.config import Config

    text = (Path(__file__).resolve().parents[1] / "docs" / "configuration.md").read_text()

    def keys(model, prefix=""):
        for name, field in model.model_fields.items():
            key = prefix + (field.alias or name)
            annotation = field.annotation
            if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
                yield from keys(annotation, key + ".")
            else:
                yield key

    missing = [k for k in keys(Config) if f"`{k}`" not in text]
    assert not missing, f"docs/configuration.md does not describe: {missing}"


def test_the_root_help_lines_equal_each_commands_own_help():
    """The root group lists commands without importing them, from cli.COMMANDS."""
    from igctl.cli import COMMANDS

    ctx = click.Context(cli)
    for name, (_, _, line) in COMMANDS.items():
        command = cli.get_command(ctx, name)
        assert command is not None, f"{name} is not defined"
        assert command.get_short_help_str(limit=10_000) == line, name


def test_root_help_imports_no_command_module():
    """`igctl --help` must start fast: no command module, no engine, no pydantic."""
    import subprocess
    import sys

    code = (
        "import sys; from igctl.cli import cli\n"
        "try:\n    cli(['--help'], prog_name='igctl')\nexcept SystemExit: pass\n"
        "heavy = [m for m in sys.modules if m.startswith(('igctl.commands.', 'igctl.engine', 'pydantic', 'tabulate', 'sqlite_utils', 'bottle'))"
        " and m != 'igctl.commands._options']\n"
        "print(heavy, file=sys.stderr); sys.exit(1 if heavy else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
