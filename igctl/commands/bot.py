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
    print_mapping,
    print_rows,
    workspace_option,
)
from igctl.engine.domain import bots as engine_bots
from igctl.engine.store.clock import show
from igctl.engine.views import bots as bot_views


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


class SlotLimit(click.ParamType):
    """N (a whole number) or `none` (no limit); which numbers are allowed is the engine's rule."""

    name = "N|none"

    def convert(self, value, param, ctx):
        if isinstance(value, int) or value is None:
            return value
        text = str(value).strip()
        if text.lower() in ("none", "no-limit", "unlimited"):
            return None
        try:
            return int(text)
        except ValueError:
            self.fail(f"{value!r} is neither a whole number nor 'none'", param, ctx)


@bot.command("set-slots")
@click.argument("name")
@click.argument("slots", type=SlotLimit(), metavar="N|none")
@json_option
@workspace_option
def set_slots(name, slots, json_):
    """Set how many app containers bot NAME's phone runs (`none`: no limit). Refused below the
    slots its bound accounts use: move or retire those accounts first."""
    with changing("bot set-slots") as change:
        result = engine_bots.set_slots(change.ws, name, slots, actor=actor())
        if not result["changed"]:
            change.discard()
    if json_:
        print_json(result)
        return
    limit = "no slot limit" if result["slots"] is None else f"{result['slots']} slots"
    if not result["changed"]:
        click.echo(f"Bot {result['name']} already has {limit}.")
    else:
        click.echo(f"Bot {result['name']} now has {limit} ({result['bound_accounts']} account(s) bound).")


@bot.command("show")
@click.argument("name")
@click.option(
    "--limit",
    type=int,
    default=bot_views.RECENT,
    show_default=True,
    metavar="N",
    help="How many of its last tasks (attempts) to show.",
)
@json_option
@workspace_option
def show_(name, limit, json_):
    """One bot: its last heartbeat (status, app version, system info), the accounts bound to it,
    the tasks it holds now with their lease, and its last tasks with their outcomes."""
    ws = open_workspace()
    data = bot_views.show(ws, name, limit=limit)
    if json_:
        print_json(data)
        return
    state = "revoked" if data["revoked"] else ("online" if data["online"] else "offline")
    print_mapping(
        {
            "bot": f"{data['name']} (id {data['id']})",
            "state": state,
            "slots": "no limit" if data["slots"] is None else data["slots"],
            "bound accounts": data["bound_accounts"],
            "last seen": show(data["last_seen_at"], ws.tz) or "never",
            "status": data["status"] or "",
            "app version": data["app_version"] or "",
            "current task": data["current_task_id"] or "",
            "system info": data["system_info"] or "",
            "added": show(data["created_at"], ws.tz),
            **({"revoked": show(data["revoked_at"], ws.tz)} if data["revoked"] else {}),
        }
    )
    click.echo("\nAccounts bound:")
    print_rows(
        data["accounts"],
        ["slot", "username", "lifecycle_state", "model", "proxy_id"],
        headers={"lifecycle_state": "state"},
    )
    click.echo("\nTasks held now:")
    print_rows(
        [{**t, "lease_expires_at": show(t["lease_expires_at"], ws.tz)} for t in data["held"]],
        ["task_id", "username", "kind", "step_name", "attempt", "lease_expires_at"],
        headers={"task_id": "task", "step_name": "step", "lease_expires_at": "lease until"},
    )
    click.echo(f"\nLast {limit} tasks:")
    print_rows(
        [{**r, "started_at": show(r["started_at"], ws.tz), "error": r["error_kind"] or ""} for r in data["recent"]],
        ["task_id", "username", "kind", "step_name", "attempt", "started_at", "outcome", "error"],
        headers={"task_id": "task", "step_name": "step", "started_at": "started"},
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
