"""`igctl accounts`: import, list, show, update, retire."""

from __future__ import annotations

import sys
from pathlib import Path

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
    progress_callback,
    show_progress,
    workspace_option,
)
from igctl.commands.bot import ACCOUNTS_SUBCOMMANDS
from igctl.engine.domain import accounts as engine
from igctl.engine.domain import credentials as engine_credentials
from igctl.engine.store.clock import show
from igctl.engine.store.errors import IgctlError, InvalidInput
from igctl.engine.store.migrations import STATES


@click.group("accounts")
def accounts():
    """Instagram accounts: import, list, show, update, retire."""


# -- import ----------------------------------------------------------------------------------
@accounts.command("import")
@click.argument("files", nargs=-1, required=True, metavar="FILE...", type=click.Path(dir_okay=True))
@click.option("--dry-run", is_flag=True, help="Parse and report what would be imported; store nothing.")
@click.option("--no-assign", is_flag=True, help="Do not auto-assign free proxy slots to the new accounts.")
@json_option
@workspace_option
def import_(files, dry_run, no_assign, json_):
    """Import accounts files (username,password,email[,email password[,extra…]] a line).

    Each file is one transaction: all of its good lines are stored, or none. Bad lines and
    duplicates are reported and skipped. See docs/account-file-format.md."""
    ws = open_workspace()
    paths = [Path(f) for f in files]
    for path in paths:
        # The refusals that need no parsing come first, for every file, before any is imported.
        engine.check_file(ws, path)
    results: list[dict] = []
    for path in paths:
        try:
            results.append(_import_one(ws, path, dry_run=dry_run, assign=not no_assign, json_=json_))
        except IgctlError as exc:
            if results:
                done = ", ".join(f"{Path(r['file']).name} ({r['imported']} imported)" for r in results)
                verb = "would have been imported" if dry_run else "stay imported"
                raise type(exc)(f"{exc.message}; files before it {verb}: {done}") from None
            raise
    if json_:
        print_json(results[0] if len(results) == 1 else _combined(results))
        return
    for result in results:
        _print_summary(result, ws)
    if len(results) > 1:
        total = _combined(results)
        click.echo(
            f"Total: {total['imported']} imported, {len(total['duplicates'])} duplicates, "
            f"{len(total['invalid'])} invalid lines, {total['proxies_assigned']} proxy slots assigned"
            f" in {len(results)} files."
        )
    if dry_run:
        click.echo("Dry run: nothing was stored.")


def _import_one(ws, path: Path, *, dry_run: bool, assign: bool, json_: bool) -> dict:
    bar = show_progress(json_)
    update, finish = progress_callback(engine.count_lines(path) if bar else 0, f"Importing {path.name}", bar)
    try:
        if dry_run:
            return engine.import_file(ws, path, dry_run=True, assign=assign, actor=actor(), progress=update)
        with changing("accounts import", file=str(path)):
            return engine.import_file(ws, path, assign=assign, actor=actor(), progress=update)
    finally:
        finish()


def _combined(results: list[dict]) -> dict:
    """Several files: the counts summed, the lists joined (each entry naming its file), and
    each file's own result under "files"."""
    return {
        "imported": sum(r["imported"] for r in results),
        "duplicates": [u for r in results for u in r["duplicates"]],
        "invalid": [{**i, "file": r["file"]} for r in results for i in r["invalid"]],
        "proxies_assigned": sum(r["proxies_assigned"] for r in results),
        "dry_run": results[0]["dry_run"],
        "files": results,
    }


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def _print_summary(result: dict, ws) -> None:
    name = Path(result["file"]).name
    verb = "would be imported" if result["dry_run"] else "imported"
    parts = [
        f"{_plural(result['imported'], 'account')} {verb}",
        _plural(len(result["duplicates"]), "duplicate"),
        _plural(len(result["invalid"]), "invalid line"),
    ]
    parts.append(_plural(result["proxies_assigned"], "proxy slot") + " assigned")
    click.echo(f"{name}: " + ", ".join(parts) + f" ({engine.SEPARATOR_NAMES[result['separator']]}-separated).")
    notes = [(bad["line"], bad["reason"]) for bad in result["invalid"]]
    notes += [(dup["line"], f"duplicate {dup['username']} ({dup['reason']})") for dup in result["duplicate_lines"]]
    for line, note in sorted(notes):
        click.echo(f"  line {line}: {note}")


# -- list ------------------------------------------------------------------------------------
@accounts.command("list")
@click.option("--state", metavar="STATE", help=f"Only accounts in this state: {', '.join(STATES)}.")
@click.option("--model", metavar="MODEL", help="Only accounts of this model (its name).")
@click.option("--proxy", "proxy_id", type=int, metavar="ID", help="Only accounts on this proxy.")
@click.option("--limit", type=click.IntRange(min=1), help="At most N accounts (the lowest ids).")
@output_options
@workspace_option
def list_(state, model, proxy_id, limit, json_, csv_):
    """Accounts with their state, warm-up step, proxy and model."""
    ws = open_workspace()
    rows = engine.list_accounts(ws, state=state, model=model, proxy_id=proxy_id, limit=limit)
    if json_ or csv_:
        print_rows(rows, json_=json_, csv_=csv_)
        return
    table = [
        {
            **r,
            "review": "yes" if r["requires_human_review"] else "",
            "last_error_message": _short(r["last_error_message"]),
            "created_at": show(r["created_at"], ws.tz),
        }
        for r in rows
    ]
    print_rows(
        table,
        [
            "id",
            "username",
            "lifecycle_state",
            "warmup_step",
            "proxy_id",
            "model",
            "review",
            "retry_count",
            "last_error_message",
            "created_at",
        ],
        headers={
            "lifecycle_state": "state",
            "warmup_step": "step",
            "proxy_id": "proxy",
            "retry_count": "retries",
            "last_error_message": "last error",
            "created_at": "imported",
        },
        empty="(no accounts)",
    )


def _short(text: str | None, width: int = 40) -> str:
    if not text:
        return ""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


# -- show ------------------------------------------------------------------------------------
TIME_FIELDS = {
    "last_error_at",
    "warmup_started_at",
    "warmup_completed_at",
    "assigned_to_model_at",
    "proxy_assigned_at",
    "last_bot_action_at",
    "retired_at",
    "created_at",
    "updated_at",
}


@accounts.command("show")
@click.argument("username")
@click.option(
    "--reveal", is_flag=True, help="Also show the password, e-mail password and extras (the reveal is logged)."
)
@json_option
@workspace_option
def show_(username, reveal, json_):
    """One account with its proxy, open tasks, step log and events (no password unless --reveal)."""
    ws = open_workspace()
    data = engine.show_account(ws, username, reveal=reveal, actor=actor())
    if json_:
        print_json(data)
        return
    fields = {}
    for key, value in data.items():
        if key in ("step_log", "events", "open_tasks", "proxy", "model_id", "bot_id"):  # names shown instead
            continue
        if key in TIME_FIELDS:
            value = show(value, ws.tz)
        elif isinstance(value, bool):
            value = "yes" if value else "no"
        fields[key] = value
    proxy = data["proxy"]
    if proxy:
        fields["proxy"] = (
            f"{proxy['host']}:{proxy['port']} ({proxy['status']}{', ' + proxy['location'] if proxy['location'] else ''})"
        )
    print_mapping(fields)
    click.echo("\nOpen tasks:")
    print_rows(
        [{**t, "due_at": show(t["due_at"], ws.tz)} for t in data["open_tasks"]],
        ["id", "kind", "step_name", "status", "due_at", "attempts"],
        empty="(none)",
    )
    click.echo("\nStep log:")
    print_rows(
        [
            {
                **s,
                "started_at": show(s["started_at"], ws.tz),
                "completed_at": show(s["completed_at"], ws.tz),
                "error_message": _short(s["error_message"]),
            }
            for s in data["step_log"]
        ],
        ["step_number", "step_name", "kind", "status", "started_at", "completed_at", "retry_count", "error_message"],
        headers={"step_number": "step", "retry_count": "retries", "error_message": "error"},
        empty="(none)",
    )
    click.echo("\nEvents:")
    print_rows(
        [{**e, "at": show(e["at"], ws.tz), "message": e["message"] or ""} for e in data["events"]],
        ["at", "actor", "kind", "message"],
        empty="(none)",
    )


# -- update ----------------------------------------------------------------------------------
def _read_secrets(wanted: list[str]) -> list[str]:
    """The secrets `wanted` names ("password", "e-mail password"), never from an argument: asked
    twice, hidden, on a terminal; else one a line from standard input, in that order."""
    if sys.stdin.isatty():
        return [click.prompt(f"New {what}", hide_input=True, confirmation_prompt=True) for what in wanted]
    lines = sys.stdin.read().splitlines()
    while len(lines) > len(wanted) and lines[-1] == "":
        lines.pop()  # blank lines at the end (an extra newline)
    if len(lines) != len(wanted):
        order = " and ".join(f"the {what} on line {n}" for n, what in enumerate(wanted, 1))
        raise InvalidInput(
            f"give {order} of standard input ({len(lines)} line{'s' if len(lines) != 1 else ''} given); "
            "nothing was changed"
        )
    return lines


@accounts.command("update")
@click.argument("username")
@click.option("--email", metavar="E", help="The new e-mail address.")
@click.option(
    "--password-stdin", is_flag=True, help="Read the new password from standard input (asked twice on a terminal)."
)
@click.option(
    "--email-password-stdin",
    is_flag=True,
    help="Read the new e-mail password from standard input; with --password-stdin too, the password is line 1 "
    "and the e-mail password line 2.",
)
@json_option
@workspace_option
def update(username, email, password_stdin, email_password_stdin, json_):
    """Change USERNAME's e-mail address, password or e-mail password. Secrets are read from
    standard input, never from an argument, stored encrypted and never printed; the event log
    names the fields that changed. The account's next task carries the new credentials."""
    wanted = [w for w, on in (("password", password_stdin), ("e-mail password", email_password_stdin)) if on]
    secrets = dict(zip(wanted, _read_secrets(wanted), strict=True)) if wanted else {}
    fields = [
        f
        for f, on in (
            ("email", email is not None),
            ("password", password_stdin),
            ("email_password", email_password_stdin),
        )
        if on
    ]
    with changing("accounts update", username=username, fields=fields) as change:
        result = engine_credentials.update_credentials(
            change.ws,
            username,
            email=email,
            password=secrets.get("password"),
            email_password=secrets.get("e-mail password"),
            actor=actor(),
        )
    if json_:
        print_json(result)
        return
    line = f"{result['username']}: {engine_credentials.field_words(result['changed'])} changed."
    if result["unchanged"]:
        line += f" Already as given: {engine_credentials.field_words(result['unchanged'])}."
    click.echo(line)
    held = result["tasks_in_hand"]
    if held:
        click.echo(
            f"Task{'s' if len(held) > 1 else ''} {', '.join(map(str, held))} "
            f"{'were' if len(held) > 1 else 'was'} handed out before the change with the old credentials; "
            "the next task carries the new ones."
        )


# -- retire ----------------------------------------------------------------------------------
@accounts.command("retire")
@click.argument("usernames", nargs=-1, required=True, metavar="USERNAME...")
@click.option(
    "--reason", required=True, metavar="TEXT", help="Why (banned, disabled, given up…); kept with the account."
)
@json_option
@workspace_option
def retire_(usernames, reason, json_):
    """Retire accounts for good: their proxy slot and device slot are freed, their queued and
    claimed tasks cancelled, and no bot gets them again. All named accounts or none."""
    with changing("accounts retire", usernames=list(usernames), reason=reason) as change:
        retired = engine.retire(change.ws, list(usernames), reason=reason, actor=actor())
    if json_:
        print_json(retired)
        return
    for r in retired:
        freed = []
        if r["proxy_id"] is not None:
            freed.append(f"proxy {r['proxy_id']} slot freed")
        if r["bot_id"] is not None:
            freed.append("device slot freed")
        if r["cancelled_tasks"]:
            freed.append(_plural(len(r["cancelled_tasks"]), "task") + " cancelled")
        click.echo(f"Retired {r['username']} (was {r['old_state']}" + "".join(f"; {f}" for f in freed) + ").")


COMMANDS = [accounts]


# `accounts move` rebinds an account to another bot: it is written with the bot commands.
for _command in ACCOUNTS_SUBCOMMANDS:
    accounts.add_command(_command)
