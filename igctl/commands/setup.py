"""`igctl init`."""

from __future__ import annotations

import click

from igctl.commands._common import actor
from igctl.engine.store.workspace import init_workspace


@click.command("init")
@click.argument("path", type=click.Path(file_okay=False))
@click.option(
    "--timezone", "timezone", metavar="TZ", help="IANA time zone of the workspace (default UTC), e.g. Europe/Berlin."
)
def init(path, timezone):
    """Create a new workspace in PATH (a new or empty folder)."""
    ws = init_workspace(path, timezone, actor=actor())
    click.echo(f"Created workspace {ws.path} (time zone {ws.config.timezone}).")
    click.echo(f"Keep a backup of {ws.key_path}: without it the stored passwords cannot be read.")


COMMANDS = [init]
