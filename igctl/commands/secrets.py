"""`igctl secrets rotate`."""

from __future__ import annotations

import click

from igctl.commands._common import actor, json_option, open_workspace, print_json, workspace_option
from igctl.engine import secrets as engine_secrets


@click.group("secrets")
def secrets():
    """The key that encrypts every stored password."""


@secrets.command("rotate")
@json_option
@workspace_option
def rotate(json_):
    """Make a new key and re-encrypt every stored secret with it (the old key is then dropped)."""
    ws = open_workspace()
    result = engine_secrets.rotate(ws, actor())
    if json_:
        print_json(result)
    else:
        click.echo(f"New key in {ws.key_path}; {result['total']} secrets re-encrypted. Replace your backup of the key.")


COMMANDS = [secrets]
