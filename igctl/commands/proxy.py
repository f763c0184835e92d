"""`igctl proxy`: add, import, list, assign, auto-assign, unassign, set-status, remove."""

from __future__ import annotations

import click

from igctl.commands._common import (
    actor,
    json_option,
    open_workspace,
    output_options,
    print_json,
    print_rows,
    record_command,
    workspace_option,
)
from igctl.engine import proxies
from igctl.engine.clock import show


@click.group("proxy")
def proxy():
    """Proxies: add and import them, see their use, put accounts on them."""


@proxy.command("add")
@click.argument("spec")
@click.option("--provider", metavar="P", help="Who sells the proxy (free text).")
@click.option("--location", metavar="L", help="Where it exits, e.g. DE (used by --location filters).")
@click.option("--cost", type=float, metavar="C", help="Monthly cost (a number, at least 0).")
@click.option("--max-accounts", "max_accounts", type=int, metavar="N",
              help="How many accounts it may hold: 1, 2 or 3 (default: proxies.default_max_accounts).")
@json_option
@workspace_option
def add(spec, provider, location, cost, max_accounts, json_):
    """Add one proxy. SPEC is host:port, host:port:user:pass, user:pass@host:port or
    scheme://user:pass@host:port (schemes http, https, socks5, socks5h; IPv6 hosts in brackets)."""
    ws = open_workspace()
    db = ws.db()
    with db.write():
        record_command(ws, db, "proxy add")
        row = proxies.add(ws, spec, provider=provider, location=location, cost=cost,
                          max_accounts=max_accounts, actor=actor())
    if json_:
        print_json(row)
    else:
        click.echo(f"Added proxy {row['id']}: {_label(row)} (holds up to {row['max_accounts']} accounts).")


@proxy.command("import")
@click.argument("file", metavar="FILE")
@click.option("--provider", metavar="P", help="Provider of every proxy in the file.")
@click.option("--location", metavar="L", help="Location of every proxy in the file, e.g. DE.")
@click.option("--cost", type=float, metavar="C", help="Monthly cost of each proxy in the file.")
@json_option
@workspace_option
def import_(file, provider, location, cost, json_):
    """Import proxies from FILE, one spec a line (the formats of `proxy add`). Blank lines and
    # comments are skipped; invalid lines and duplicates are reported and skipped."""
    ws = open_workspace()
    db = ws.db()
    with db.write():
        record_command(ws, db, "proxy import")
        result = proxies.import_file(ws, file, provider=provider, location=location, cost=cost, actor=actor())
    if json_:
        print_json(result)
        return
    click.echo(f"Imported {result['imported']} proxies from {file}; "
               f"{len(result['duplicates'])} duplicates and {len(result['invalid'])} invalid lines skipped.")
    for d in result["duplicates"]:
        click.echo(f"  line {d['line']}: duplicate {d['proxy']} ({d['reason']})")
    for bad in result["invalid"]:
        click.echo(f"  line {bad['line']}: {bad['reason']}")


@proxy.command("list")
@click.option("--free", is_flag=True, help="Only active proxies with room for another account.")
@click.option("--model", metavar="M", help="Only proxies serving model M.")
@click.option("--location", metavar="L", help="Only proxies in location L (case-insensitive).")
@click.option("--status", type=click.Choice(proxies.STATUSES), help="Only proxies with this status.")
@output_options
@workspace_option
def list_(free, model, location, status, json_, csv_):
    """Proxies with their use (accounts of max) and the model they serve."""
    ws = open_workspace()
    rows = proxies.list_proxies(ws, free=free, model=model, location=location, status=status)
    if json_ or csv_:
        print_rows(rows, json_=json_, csv_=csv_)
        return
    table = [
        {**r, "proxy": _label(r), "use": f"{r['account_count']}/{r['max_accounts']}",
         "last_tested_at": show(r["last_tested_at"], ws.tz)}
        for r in rows
    ]
    print_rows(table, ["id", "proxy", "provider", "location", "status", "use", "model", "last_tested_at"],
               headers={"last_tested_at": "last tested"}, empty="(no proxies)")


@proxy.command("assign")
@click.argument("username")
@click.argument("proxy_id", type=int, required=False)
@workspace_option
def assign(username, proxy_id):
    """Put USERNAME on proxy PROXY_ID, or without PROXY_ID on the proxy auto-assign would pick."""
    ws = open_workspace()
    db = ws.db()
    with db.write():
        record_command(ws, db, "proxy assign")
        result = proxies.assign(ws, username, proxy_id, actor=actor())
    moved = f" (moved from proxy {result['from_proxy_id']})" if result["from_proxy_id"] is not None else ""
    click.echo(f"{result['username']} is on proxy {result['proxy_id']}{moved}; state {result['lifecycle_state']}.")


@proxy.command("auto-assign")
@click.option("--location", metavar="L", help="Only use proxies in location L.")
@json_option
@workspace_option
def auto_assign(location, json_):
    """Give every imported account without a proxy the fullest active proxy that has room."""
    ws = open_workspace()
    db = ws.db()
    with db.write():
        record_command(ws, db, "proxy auto-assign")
        result = proxies.auto_assign(ws, location=location, actor=actor())
    if json_:
        print_json(result)
    else:
        click.echo(f"{result['assigned']} accounts got a proxy; {result['left_without_proxy']} are left without one.")


@proxy.command("unassign")
@click.argument("username")
@workspace_option
def unassign(username):
    """Take USERNAME off its proxy (proxy_assigned accounts go back to imported)."""
    ws = open_workspace()
    db = ws.db()
    with db.write():
        record_command(ws, db, "proxy unassign")
        result = proxies.unassign(ws, username, actor=actor())
    click.echo(f"{result['username']} is off proxy {result['proxy_id']}; state {result['lifecycle_state']}.")


@proxy.command("set-status")
@click.argument("proxy_id", type=int)
@click.argument("status", type=click.Choice(proxies.STATUSES))
@click.option("--reason", metavar="TEXT", help="Why (kept in the event log).")
@workspace_option
def set_status(proxy_id, status, reason):
    """Set PROXY_ID's status: active, inactive or error (inactive and error proxies get no new
    accounts and their accounts get no tasks)."""
    ws = open_workspace()
    db = ws.db()
    with db.write():
        record_command(ws, db, "proxy set-status")
        result = proxies.set_status(ws, proxy_id, status, actor=actor(), cause=reason)
    if result["changed"]:
        click.echo(f"Proxy {proxy_id}: {result['old_status']} → {status}.")
    else:
        click.echo(f"Proxy {proxy_id} is already {status}.")


@proxy.command("remove")
@click.argument("proxy_id", type=int)
@workspace_option
def remove(proxy_id):
    """Delete PROXY_ID; refused while accounts use it."""
    ws = open_workspace()
    db = ws.db()
    with db.write():
        record_command(ws, db, "proxy remove")
        row = proxies.remove(ws, proxy_id, actor=actor())
    click.echo(f"Removed proxy {proxy_id} ({_label(row)}).")


def _label(row: dict) -> str:
    host = f"[{row['host']}]" if ":" in row["host"] else row["host"]
    user = f"{row['username']}@" if row["username"] else ""
    return f"{row['scheme']}://{user}{host}:{row['port']}"


COMMANDS = [proxy]
