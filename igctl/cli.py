"""The root `igctl` group. Each commands/ module contributes one group or command here."""

from __future__ import annotations

import click

from igctl import __version__
from igctl.commands import (
    accounts,
    bot,
    content,
    log,
    model,
    proxy,
    report,
    review,
    secrets,
    serve,
    setup,
    simulate,
    warmup,
    watch,
)
from igctl.commands._common import workspace_option
from igctl.engine.errors import IgctlError


class IgctlGroup(click.Group):
    """Turns expected (domain) errors into `Error: …` and exit 1; bugs keep their traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except IgctlError as exc:
            raise click.ClickException(exc.message) from None


@click.group("igctl", cls=IgctlGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="igctl")
@workspace_option
def cli():
    """igctl runs a fleet of Instagram accounts through import, proxies, a 5-day warm-up,
    models and cleanup, for bot PCs that poll its API. It never talks to Instagram itself."""


for module in (setup, accounts, proxy, warmup, review, model, content, bot, serve, simulate, report, log, secrets, watch):
    for command in module.COMMANDS:
        cli.add_command(command)
# `accounts move` rebinds an account to another bot: it lives with the bot commands.
for command in bot.ACCOUNTS_SUBCOMMANDS:
    accounts.accounts.add_command(command)


def main() -> None:
    cli(prog_name="igctl")
