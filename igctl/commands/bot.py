"""`igctl bot` (bot identities) and `igctl accounts move` (device affinity)."""

from __future__ import annotations

import click

from igctl.commands._common import (
    actor,
    changing,
    json_option,
    open_workspace,
    output_options,
    print_json,
    print_rows,
    workspace_option,
)
from igctl.engine.domain import bots as engine_bots
from igctl.engine.store.clock import show


@click.group("bot")
def bot():
    """Bot identities: one per PC with its phone, each with its own API token."""


@bot.command("add")
@click.argument("name")
@click.option("--slots", type=int, metavar="N", help="App containers on the bot's phone (default: no limit).")
@json_option
@workspace_option
def add(name, slots, json_):
    """Register bot NAME and print its API token (shown this once only)."""
    with changing("bot add") as change:
        result = engine_bots.add(change.ws, name, slots=slots, actor=actor())
    if json_:
        print_json(result)
        return
    limit = "no slot limit" if result["slots"] is None else f"{result['slots']} slots"
    click.echo(f"Bot {result['name']} added (id {result['id']}, {limit}).")
    click.echo(f"Token: {result['token']}")
    click.echo("Copy it to the bot now: only a hash is stored, so it cannot be shown again.")


@bot.command("list")
@output_options
@workspace_option
def list_(json_, csv_):
    """Bots: online or not, last seen, tasks done and failed today, bound accounts, free slots."""
    ws = open_workspace()
    rows = engine_bots.list_bots(ws)
    if json_ or csv_:
        print_rows(rows, json_=json_, csv_=csv_)
        return
    table = [
        {
            **r,
            "state": "revoked" if r["revoked"] else ("online" if r["online"] else "offline"),
            "last_seen_at": show(r["last_seen_at"], ws.tz) or "never",
            "slots": "-" if r["slots"] is None else r["slots"],
            "free_slots": "-" if r["free_slots"] is None else r["free_slots"],
        }
        for r in rows
    ]
    print_rows(
        table,
        [
            "id",
            "name",
            "state",
            "last_seen_at",
            "done_today",
            "failed_today",
            "claimed_tasks",
            "bound_accounts",
            "slots",
            "free_slots",
        ],
        headers={
            "last_seen_at": "last seen",
            "done_today": "done today",
            "failed_today": "failed today",
            "claimed_tasks": "claimed",
            "bound_accounts": "accounts",
            "free_slots": "free",
        },
        empty="(no bots; add one with `igctl bot add NAME`)",
    )


@bot.command("revoke")
@click.argument("name")
@json_option
@workspace_option
def revoke(name, json_):
    """Revoke bot NAME: its token stops working, its tasks go back to the queue, its accounts
    are unbound."""
    with changing("bot revoke") as change:
        result = engine_bots.revoke(change.ws, name, actor=actor())
    if json_:
        print_json(result)
        return
    click.echo(
        f"Bot {result['name']} revoked: {result['tasks_released']} task(s) back in the queue, "
        f"{result['accounts_unbound']} account(s) unbound."
    )


@click.command("move")
@click.argument("username")
@click.option("--bot", "bot_name", required=True, metavar="NAME", help="The bot (PC and phone) the account moves to.")
@json_option
@workspace_option
def move(username, bot_name, json_):
    """Bind account USERNAME to another bot and its lowest free slot."""
    with changing("accounts move") as change:
        result = engine_bots.move_account(change.ws, username, bot_name, actor=actor())
    if json_:
        print_json(result)
        return
    if not result["changed"]:
        click.echo(f"{result['username']} is already on bot {result['bot']} (slot {result['slot']}).")
    else:
        click.echo(f"{result['username']} moved to bot {result['bot']}, slot {result['slot']}.")


COMMANDS = [bot]
ACCOUNTS_SUBCOMMANDS = [move]
