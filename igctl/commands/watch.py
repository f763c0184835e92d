"""`igctl watch`: import files dropped into inbox/accounts/ and inbox/proxies/."""

from __future__ import annotations

import json
import signal

import click

from igctl.commands._common import json_option, open_workspace, print_json, workspace_option
from igctl.engine.flows import inbox


def _line(result: dict) -> str:
    label = f"{result['kind']}/{result['file']}"
    outcome = result["outcome"]
    if outcome == inbox.PROCESSED:
        text = f"{label}: processed, {inbox.counts_text(result)}"
    elif outcome == inbox.REPEAT:
        first = result["repeat_of"]
        text = f"{label}: repeat of {first['kind']}/{first['name']}, not imported again"
    elif outcome == inbox.FAILED:
        text = f"{label}: failed, {result['error']}"
    else:
        text = f"{label}: {outcome}, {result['error']}"
    if result.get("moved_to"):
        text += f" -> {result['moved_to']}"
    if result.get("move_error"):
        text += f" (warning: {result['move_error']})"
    return text


@click.command("watch")
@click.option(
    "--once",
    is_flag=True,
    help="Handle the files present now (after they settle) and exit, instead of running until stopped (for cron).",
)
@click.option(
    "--max-wait",
    type=click.FloatRange(min=0),
    default=60,
    show_default=True,
    metavar="SECONDS",
    help="With --once: how long to wait for files that are still being written; those not settled by then are left for the next run.",
)
@json_option
@workspace_option
def watch(once, max_wait, json_):
    """Import files dropped into inbox/accounts/ and inbox/proxies/: each once complete and at
    most once (by content hash), then moved to inbox/processed/ (with a .result.json) or
    inbox/failed/ (with an .error.txt). Runs until SIGINT/SIGTERM; --once for cron.
    Writers should write to a temporary name (*.tmp, *.part, .hidden) and rename when done."""
    ws = open_workspace()
    if once:
        results = inbox.run_once(ws, max_wait=max_wait, on_result=None if json_ else lambda r: click.echo(_line(r)))
        if json_:
            print_json(results)
        return

    def show(result: dict) -> None:
        click.echo(json.dumps(result, ensure_ascii=False, default=str) if json_ else _line(result))

    def ready() -> None:
        how = "file-system events and a rescan" if watcher.observing else "a rescan"
        click.echo(
            f"Watching {ws.inbox / 'accounts'} and {ws.inbox / 'proxies'} "
            f"({how} every {ws.config.watch.scan_interval_seconds:g} s); stop with Ctrl-C or SIGTERM.",
            err=True,
        )

    watcher = inbox.Watcher(ws, on_result=show, on_warning=lambda m: click.echo(f"Warning: {m}", err=True))
    previous = {
        sig: signal.signal(sig, lambda signum, frame: watcher.stop()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        watcher.run(on_ready=ready)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo("Stopped.", err=True)


COMMANDS = [watch]
