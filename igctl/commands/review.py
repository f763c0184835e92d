"""`igctl review list|retry|resolve`."""

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
from igctl.engine.flows import review as engine_review
from igctl.engine.store.clock import show
from igctl.engine.views import attention


def _waited(seconds):
    if seconds is None:
        return ""
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 48:
        return f"{hours}h{minutes % 60:02d}m"
    return f"{hours // 24}d{hours % 24}h"


@click.group("review")
def review():
    """Needs attention: accounts in human review, without a proxy or on a bad proxy, silent
    bots, failed operations and content problems; and retrying or resolving stuck steps."""


@review.command("list")
@output_options
@workspace_option
def list_(json_, csv_):
    """Every item that needs a person (kinds: human_review, no_proxy, bad_proxy, bot_offline,
    retrying, dropped, content_missing, content_short), with how long it has waited."""
    ws = open_workspace()
    items = attention.attention(ws)
    if json_ or csv_:
        print_rows(items, json_=json_, csv_=csv_)
        return
    rows = [
        {
            **i,
            "who": i["username"] or i["bot"] or i["model"] or "",
            "since": show(i["since"], ws.tz),
            "waited": _waited(i["waited_seconds"]),
            "step": i["step_name"] or "",
        }
        for i in items
    ]
    print_rows(rows, ["kind", "who", "step", "since", "waited", "message"], empty="Nothing needs attention.")


@review.command("retry")
@click.argument("usernames", nargs=-1, metavar="USERNAME…")
@click.option("all_", "--all", is_flag=True, help="Every account in human review.")
@json_option
@workspace_option
def retry(usernames, all_, json_):
    """Put the stuck step of each account back in the queue, due now, with fresh attempts."""
    names = list(usernames)
    with changing("review retry", all=all_) as change:
        done = engine_review.retry(change.ws, names, all_=all_, actor=actor())
        if done:
            change.note(usernames=[d["username"] for d in done])
        else:
            change.discard()  # nobody in review: nothing happened, nothing to record
    if json_:
        print_json(done)
        return
    if not done:
        click.echo("No account is in human review.")
    for d in done:
        click.echo(f"{d['username']}: {d['kind']} {d['step_name']} queued again, due now")


@review.command("resolve")
@click.argument("usernames", nargs=-1, metavar="USERNAME…")
@click.option(
    "--note", required=True, metavar="TEXT", help="What was done by hand (kept in the step log and the event log)."
)
@click.option("all_", "--all", is_flag=True, help="Every account in human review.")
@json_option
@workspace_option
def resolve(usernames, note, all_, json_):
    """Record the stuck step of each account as done by hand and move on as a bot's completion
    would (the next step is queued; after the last warm-up step the account is ready)."""
    names = list(usernames)
    with changing("review resolve", all=all_, note=note) as change:
        ws = change.ws
        done = engine_review.resolve(ws, names, note=note, all_=all_, actor=actor())
        if done:
            change.note(usernames=[d["username"] for d in done])
        else:
            change.discard()  # nobody in review: nothing happened, nothing to record
    if json_:
        print_json(done)
        return
    if not done:
        click.echo("No account is in human review.")
    for d in done:
        nxt = d["next_task"]
        after = f"; next: step {nxt['step_number']} {nxt['step_name']} due {show(nxt['due_at'], ws.tz)}" if nxt else ""
        click.echo(f"{d['username']}: {d['kind']} {d['step_name']} recorded as done → {d['account_state']}{after}")


COMMANDS = [review]
