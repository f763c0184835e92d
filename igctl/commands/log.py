"""`igctl log`."""

from __future__ import annotations

import json
import time

import click

from igctl.commands._common import open_workspace, output_options, print_rows, workspace_option
from igctl.engine.domain import accounts, bots
from igctl.engine.store import events
from igctl.engine.store.clock import show
from igctl.engine.store.timeparse import operator_instant


@click.command("log")
@click.option("--account", "username", metavar="USERNAME", help="Only this account's events.")
@click.option("--bot", "bot_name", metavar="NAME", help="Only this bot's events.")
@click.option("--kind", metavar="KIND", help="Only this kind of event, or a family (e.g. account, proxy, task).")
@click.option("--since", metavar="DATE", help="From this date or date-time (workspace time zone).")
@click.option("--until", metavar="DATE", help="Before this date or date-time.")
@click.option("--limit", type=click.IntRange(min=1), help="Only the newest N events.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events as they come (JSON lines with --json).")
@output_options
@workspace_option
def log(username, bot_name, kind, since, until, limit, follow, json_, csv_):
    """The event log: state changes, bot actions, errors, commands, proxy changes."""
    ws = open_workspace()
    db = ws.db()
    filters = {"kind": kind}
    if username:
        filters["account_id"] = accounts.get_account(ws, username, db)["id"]
    if bot_name:
        filters["bot_id"] = bots.get(db, bot_name)["id"]
    if since:
        filters["since"] = operator_instant(since, ws.tz)
    if until:
        filters["until"] = operator_instant(until, ws.tz)

    rows = events.query(db, limit=limit, **filters)
    if follow:
        _follow(ws, db, rows, filters, json_)
        return
    if json_ or csv_:
        print_rows(rows, json_=json_, csv_=csv_)
        return
    print_rows([_human(r, ws.tz) for r in rows], ["at", "actor", "kind", "message"], empty="(no events)")


def _human(row: dict, tz) -> dict:
    text = row["message"] or ""
    if not text and row["details"]:
        text = json.dumps(row["details"], ensure_ascii=False)
    return {**row, "at": show(row["at"], tz), "message": text}


def _follow(ws, db, rows, filters, json_):
    last = rows[-1]["id"] if rows else events.last_id(db)

    def emit(batch):
        for r in batch:
            if json_:
                click.echo(json.dumps(r, ensure_ascii=False, default=str))
            else:
                h = _human(r, ws.tz)
                click.echo(f"{h['at']}  {h['actor']:<16} {h['kind']:<20} {h['message']}")

    emit(rows)
    try:
        while True:
            time.sleep(0.5)
            batch = events.query(db, after_id=last, **filters)
            if batch:
                emit(batch)
                last = batch[-1]["id"]
    except KeyboardInterrupt:
        pass


COMMANDS = [log]
