"""Options shared by the root group and every command; kept free of heavy imports, since the
root group loads it for `igctl --help`."""

from __future__ import annotations

import click

WS_KEY = "igctl.workspace"


def _remember_workspace(ctx: click.Context, param, value):
    if value is not None:
        ctx.find_root().meta[WS_KEY] = value
    return value


def workspace_option(fn):
    """`--workspace/-w PATH`, accepted on the root group and on every command."""
    return click.option(
        "--workspace",
        "-w",
        type=click.Path(file_okay=False),
        expose_value=False,
        is_eager=True,
        callback=_remember_workspace,
        help="Workspace folder (default: $IGCTL_WORKSPACE, else the nearest folder upwards with igctl.yaml).",
    )(fn)
