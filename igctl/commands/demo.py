"""`igctl demo`: a throw-away workspace taken through the whole lifecycle by simulated bots."""

from __future__ import annotations

import time
from pathlib import Path

import click

from igctl.commands._common import actor, print_json


@click.command("demo")
@click.argument("path", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--accounts", type=click.IntRange(3, 3000), default=30, show_default=True, help="Accounts to generate and import."
)
@click.option(
    "--days",
    type=click.IntRange(1, 28),
    default=7,
    show_default=True,
    help="Days of posting once the accounts are assigned to the models.",
)
@click.option(
    "--bots",
    type=click.IntRange(1, 32),
    default=3,
    show_default=True,
    help="Simulated phones working the queue over HTTP.",
)
@click.option(
    "--failure-rate",
    type=click.FloatRange(0, 0.5),
    default=0.05,
    show_default=True,
    help="Share of tasks the simulated phones report as failed (retried by the queue).",
)
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the generated data and the failures.")
@click.option(
    "json_",
    "--json",
    is_flag=True,
    help="Print the result (workspace, HTML report path, task counts, timeline, report) as JSON only.",
)
def demo(path, accounts, days, bots, failure_rate, seed, json_):
    """A throw-away workspace taken through the whole lifecycle by simulated bots.

    Creates a workspace in PATH (a new or empty folder; default: a new temporary folder) with
    generated accounts, proxies in two locations, two models with strategies and content, serves
    the bot API on a free loopback port and lets simulated phones work over HTTP while a
    simulated clock runs: import, proxies, the 5-day warm-up with some failures and a human
    review resolved, assignment to the models, DAYS of posting, a retired account, and a model
    deleted with its accounts cleaned up. Ends with the report and the path of its HTML page.
    Afterwards, look around with `igctl -w PATH …`."""
    from igctl.demo import run_demo  # start-up time: loaded when the command runs

    started = time.monotonic()

    def say(line: str) -> None:
        if not json_:
            click.echo(line)

    result = run_demo(
        path, accounts=accounts, days=days, bots=bots, failure_rate=failure_rate, seed=seed, actor=actor(), say=say
    )
    seconds = round(time.monotonic() - started, 1)
    if json_:
        print_json({**result, "seconds": seconds})
        return
    from igctl.commands.report import print_report_tables  # start-up time: loaded when the command runs
    from igctl.engine.store.workspace import Workspace
    from igctl.engine.views import reports

    t = result["tasks"]
    click.echo(
        f"\nSimulated phones: {t['claimed']} tasks claimed, {t['completed']} completed, {t['failed']} failed, "
        f"{t['images']} images fetched over HTTP ({seconds} s)."
    )
    click.echo()
    ws = Workspace.open(result["workspace"])
    try:
        print_report_tables(result["report"], reports.tables(result["report"]), ws.tz)
    finally:
        ws.close()
    click.echo(f"\nHTML report: {result['html_report']}")
    click.echo(f"Workspace:   {result['workspace']}")
    click.echo(f"Look around: igctl -w {result['workspace']} model list   (or accounts list, log, review list …)")


COMMANDS = [demo]
