"""Writes docs/cli.md from the commands' own --help, so the reference cannot drift.

python -m igctl.clidoc            # rewrite docs/cli.md
python -m igctl.clidoc --check    # exit 1 if docs/cli.md is out of date (the tests do this)
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from igctl.cli import cli

HEADER = """# CLI reference

Generated from `--help` by `python -m igctl.clidoc`; do not edit by hand (a test fails when this
file and the commands disagree).
"""


def walk(command: click.Command, path: list[str]):
    yield path, command
    if isinstance(command, click.Group):
        ctx = click.Context(command)
        for name in command.list_commands(ctx):
            yield from walk(command.get_command(ctx, name), [*path, name])


def help_text(path: list[str], command: click.Command) -> str:
    """The help exactly as `igctl … --help` prints it, with the usage line naming the full path."""
    settings = {"help_option_names": ["-h", "--help"], "terminal_width": 100, "max_content_width": 100}
    parent, current = None, cli
    for i, name in enumerate(path):
        ctx = click.Context(current, info_name=name, parent=parent, **settings)
        if i + 1 < len(path):
            parent, current = ctx, current.get_command(ctx, path[i + 1])
    return command.get_help(ctx)


def render() -> str:
    parts = [HEADER]
    for path, command in walk(cli, ["igctl"]):
        title = " ".join(path)
        parts.append(f"\n## `{title}`\n\n```\n{help_text(path, command)}\n```\n")
    return "".join(parts)


def target() -> Path:
    return Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        current = target().read_text(encoding="utf-8") if target().exists() else ""
        if current != text:
            print("docs/cli.md is out of date: run python -m igctl.clidoc", file=sys.stderr)
            return 1
        return 0
    target().write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
