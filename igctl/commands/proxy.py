"""`igctl proxy`: add, import, list, assign, auto-assign, unassign, set-status, remove, test,
replace, rebalance."""

from __future__ import annotations

import click

from igctl.commands._common import (
    actor,
    changing,
    command,
    json_option,
    open_workspace,
    output_options,
    print_json,
    print_rows,
    progress_callback,
    show_progress,
    workspace_option,
)
from igctl.engine.domain import proxies, proxy_health
from igctl.engine.store.clock import show


@click.group("proxy")
def proxy():
    """Proxies: add and import them, see their use, put accounts on them."""


@proxy.command("add")
@click.argument("spec")
@click.option("--provider", metavar="P", help="Who sells the proxy (free text).")
@click.option("--location", metavar="L", help="Where it exits, e.g. DE (used by --location filters).")
@click.option("--cost", type=float, metavar="C", help="Monthly cost (a number, at least 0).")
@click.option(
    "--max-accounts",
    "max_accounts",
    type=int,
    metavar="N",
    help="How many accounts it may hold: 1, 2 or 3 (default: proxies.default_max_accounts).",
)
@json_option
@workspace_option
def add(spec, provider, location, cost, max_accounts, json_):
    """Add one proxy. SPEC is host:port, host:port:user:pass, user:pass@host:port or
    scheme://user:pass@host:port (schemes http, https, socks5, socks5h; IPv6 hosts in brackets)."""
    with changing("proxy add") as change:
        row = proxies.add(
            change.ws, spec, provider=provider, location=location, cost=cost, max_accounts=max_accounts, actor=actor()
        )
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
    with changing("proxy import") as change:
        result = proxies.import_file(change.ws, file, provider=provider, location=location, cost=cost, actor=actor())
    if json_:
        print_json(result)
        return
    click.echo(
        f"Imported {result['imported']} proxies from {file}; "
        f"{len(result['duplicates'])} duplicates and {len(result['invalid'])} invalid lines skipped."
    )
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
        {
            **r,
            "proxy": _label(r),
            "use": f"{r['account_count']}/{r['max_accounts']}",
            "last_tested_at": show(r["last_tested_at"], ws.tz),
            "test": _test_word(r["last_test_ok"]),
            "latency": "" if r["last_latency_ms"] is None else f"{r['last_latency_ms']} ms",
        }
        for r in rows
    ]
    print_rows(
        table,
        [
            "id",
            "proxy",
            "provider",
            "location",
            "status",
            "use",
            "model",
            "last_tested_at",
            "test",
            "latency",
            "last_exit_ip",
        ],
        headers={"last_tested_at": "last tested", "last_exit_ip": "exit IP"},
        empty="(no proxies)",
    )


def _test_word(ok) -> str:
    return "" if ok is None else ("ok" if ok else "failed")


@proxy.command("assign")
@click.argument("username")
@click.argument("proxy_id", type=int, required=False)
@workspace_option
def assign(username, proxy_id):
    """Put USERNAME on proxy PROXY_ID, or without PROXY_ID on the proxy auto-assign would pick."""
    with changing("proxy assign") as change:
        result = proxies.assign(change.ws, username, proxy_id, actor=actor())
    moved = f" (moved from proxy {result['from_proxy_id']})" if result["from_proxy_id"] is not None else ""
    click.echo(f"{result['username']} is on proxy {result['proxy_id']}{moved}; state {result['lifecycle_state']}.")


@proxy.command("auto-assign")
@click.option("--location", metavar="L", help="Only use proxies in location L.")
@json_option
@workspace_option
def auto_assign(location, json_):
    """Give every imported account without a proxy the fullest active proxy that has room."""
    with changing("proxy auto-assign") as change:
        result = proxies.auto_assign(change.ws, location=location, actor=actor())
    if json_:
        print_json(result)
    else:
        click.echo(f"{result['assigned']} accounts got a proxy; {result['left_without_proxy']} are left without one.")


@proxy.command("unassign")
@click.argument("username")
@workspace_option
def unassign(username):
    """Take USERNAME off its proxy (proxy_assigned accounts go back to imported)."""
    with changing("proxy unassign") as change:
        result = proxies.unassign(change.ws, username, actor=actor())
    click.echo(f"{result['username']} is off proxy {result['proxy_id']}; state {result['lifecycle_state']}.")


@proxy.command("set-status")
@click.argument("proxy_id", type=int)
@click.argument("status", type=click.Choice(proxies.STATUSES))
@click.option("--reason", metavar="TEXT", help="Why (kept in the event log).")
@workspace_option
def set_status(proxy_id, status, reason):
    """Set PROXY_ID's status: active, inactive or error (inactive and error proxies get no new
    accounts and their accounts get no tasks). Also acknowledges a change of the proxy's exit IP
    shown under needs attention, even when the status stays."""
    with changing("proxy set-status") as change:
        result = proxies.set_status(change.ws, proxy_id, status, actor=actor(), cause=reason, acknowledge=True)
    if result["changed"]:
        click.echo(f"Proxy {proxy_id}: {result['old_status']} → {status}.")
    else:
        click.echo(f"Proxy {proxy_id} is already {status}.")
    if result["acknowledged"]:
        click.echo(f"Exit IP change of proxy {proxy_id} acknowledged (now {result['last_exit_ip']}).")


@proxy.command("remove")
@click.argument("proxy_id", type=int)
@workspace_option
def remove(proxy_id):
    """Delete PROXY_ID; refused while accounts use it."""
    with changing("proxy remove") as change:
        row = proxies.remove(change.ws, proxy_id, actor=actor())
    click.echo(f"Removed proxy {proxy_id} ({_label(row)}).")


@proxy.command("test")
@click.argument("proxy_ids", metavar="[PROXY_ID]...", nargs=-1, type=int)
@click.option("all_", "--all", is_flag=True, help="Test every proxy.")
@click.option(
    "--concurrency",
    type=int,
    metavar="N",
    help="How many proxies to test at once, 1–256 (default: proxies.test_concurrency).",
)
@json_option
@workspace_option
def test(proxy_ids, all_, concurrency, json_):
    """Fetch proxies.check_url through each proxy: reachable or the error, latency, exit IP.
    Results are stored on the proxy; failed tests in a row put it in error (proxies.fail_threshold).
    Exits 0 when proxies fail their test (the results say so); 1 only for bad input."""
    ws = open_workspace()
    bar: dict = {}

    def progress(n, total):
        if not bar:
            bar["update"], bar["finish"] = progress_callback(total, "Testing proxies", show_progress(json_))
        bar["update"](n)

    try:
        result = proxy_health.check_proxies(
            ws,
            list(proxy_ids),
            all_=all_,
            concurrency=concurrency,
            actor=actor(),
            progress=progress,
            command=command("proxy test"),
        )
    finally:
        if bar:
            bar["finish"]()
    if json_:
        print_json(result)
        return
    rows = [
        {
            **r,
            "result": "ok" if r["ok"] else "FAILED",
            "latency": "" if r["latency_ms"] is None else f"{r['latency_ms']} ms",
            "exit_ip": (r["exit_ip"] or "") + (f" (was {r['previous_exit_ip']})" if r["exit_ip_changed"] else ""),
            "status": r["status"] if r["status"] == r["old_status"] else f"{r['old_status']} → {r['status']}",
            "error": r["error"] or r["note"] or "",
        }
        for r in result["results"]
    ]
    print_rows(
        rows,
        ["proxy_id", "proxy", "result", "latency", "exit_ip", "status", "error"],
        headers={"proxy_id": "id", "exit_ip": "exit IP"},
        empty="(no proxies to test)",
    )
    line = f"Tested {result['tested']} proxies: {result['passed']} passed, {result['failed']} failed."
    for key, words in (
        ("quarantined", "set to error"),
        ("recovered", "back to active"),
        ("exit_ip_changed", "exit IP changed"),
    ):
        if result[key]:
            line += f" {words.capitalize()}: {', '.join(map(str, result[key]))}."
    click.echo(line)


def _moves_output(result: dict, json_: bool, verb: str) -> None:
    if json_:
        print_json(result)
        return
    moved = result["moved"]
    would = "would move" if result["dry_run"] else "moved"
    if not moved:
        click.echo(f"Proxy {result['from_proxy_id']} has no accounts; nothing to {verb}.")
        return
    for m in moved:
        click.echo(f"  {m['username']}: proxy {m['from_proxy_id']} → proxy {m['to_proxy_id']} ({m['lifecycle_state']})")
    n = len(moved)
    click.echo(
        f"{n} account{'s' if n != 1 else ''} {would} off proxy {result['from_proxy_id']}"
        + (" (dry run: nothing changed)." if result["dry_run"] else ".")
    )


@proxy.command("replace")
@click.argument("old", type=int)
@click.argument("new", type=int)
@click.option("--dry-run", is_flag=True, help="Show what would move; change nothing.")
@json_option
@workspace_option
def replace(old, new, dry_run, json_):
    """Move every account of proxy OLD to proxy NEW (active, with room for all of them, serving
    no other model), keeping their states and bot bindings. All or nothing."""
    with changing("proxy replace", dry_run=dry_run) as change:
        result = proxies.replace(change.ws, old, new, dry_run=dry_run, actor=actor())
    _moves_output(result, json_, "replace")


@proxy.command("rebalance")
@click.option(
    "from_", "--from", "-f", type=int, required=True, metavar="OLD", help="The proxy to move the accounts off."
)
@click.option(
    "--location", metavar="L", help="Only use proxies in location L (default: any, same location as OLD first)."
)
@click.option("--dry-run", is_flag=True, help="Show what would move; change nothing.")
@json_option
@workspace_option
def rebalance(from_, location, dry_run, json_):
    """Spread the accounts of proxy OLD over other active proxies with room that may serve their
    model (fullest first, as auto-assign packs), keeping states and bot bindings. All or nothing."""
    with changing("proxy rebalance", dry_run=dry_run) as change:
        result = proxies.rebalance(change.ws, from_, location=location, dry_run=dry_run, actor=actor())
    _moves_output(result, json_, "rebalance")


def _label(row: dict) -> str:
    host = f"[{row['host']}]" if ":" in row["host"] else row["host"]
    user = f"{row['username']}@" if row["username"] else ""
    return f"{row['scheme']}://{user}{host}:{row['port']}"


COMMANDS = [proxy]
