"""`igctl secrets rotate`."""

from __future__ import annotations

import os
from pathlib import Path

import click

from igctl.commands._common import actor, json_option, open_workspace, print_json, workspace_option
from igctl.engine.store import secrets as engine_secrets


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


@secrets.command("unseal")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the original bytes to this file (default: standard output).",
)
@workspace_option
def unseal(path, output):
    """Print the original of a sealed file (a dropped import file kept in inbox/processed/ or
    inbox/failed/, which igctl encrypts because it holds passwords)."""
    ws = open_workspace()
    data = engine_secrets.unseal_file(ws, path, actor=actor())
    if output is None:
        click.echo(data, nl=False)
    else:
        output.write_bytes(data)
        os.chmod(output, 0o600)
        click.echo(f"Wrote {output} (mode 0600; it holds plaintext passwords).", err=True)


COMMANDS = [secrets]
