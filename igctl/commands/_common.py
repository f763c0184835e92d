"""What every command shares: the workspace option, the actor, output rendering, progress."""

from __future__ import annotations

import contextlib
import csv
import functools
import getpass
import io
import json
import logging
import sys
from collections.abc import Iterable
from typing import Any

import click

from igctl.commands._options import WS_KEY, workspace_option  # noqa: F401  (re-exported)


def open_workspace():
    from igctl.engine.store.workspace import Workspace  # start-up time: loaded when the command runs

    ctx = click.get_current_context()
    root = ctx.find_root()
    # Every engine call needs the workspace, so this is where the command that makes it is known:
    # an engine UsageError is shown with this command's usage (cli.IgctlGroup.invoke).
    root.meta["igctl.leaf"] = ctx
    ws = root.meta.get("igctl.opened")
    if ws is None:
        ws = Workspace.open(root.meta.get(WS_KEY))
        root.meta["igctl.opened"] = ws
        root.call_on_close(ws.close)
    return ws


def actor() -> str:
    try:
        return f"user:{getpass.getuser()}"
    except Exception:  # no login name in some containers
        return "user"


def command_line() -> list[str]:
    """This command's arguments as they may be logged: proxy passwords masked."""
    from igctl.engine.store.events import redact_argument  # start-up time: loaded when the command runs

    ctx = click.get_current_context(silent=True)
    argv = ctx.find_root().meta.get("igctl.argv") if ctx else None
    return [redact_argument(a) for a in (sys.argv[1:] if argv is None else argv)]


def command(name: str, **details):
    """This CLI command as the `command` event of its change: the login, the command line."""
    from igctl.engine.store.changes import Command  # start-up time: loaded when the command runs

    return Command(name, actor(), "cli", argv=command_line(), details=details)


@contextlib.contextmanager
def changing(name: str, *, dry_run: bool = False, **details):
    """This command's change (engine/store/changes.py): one write transaction that starts with
    its `command` event; the engine calls made in the block join it, so a refused command
    leaves no trace. Yields the `Change` (`.ws`, `.db`, `.note(...)`, `.discard()`)."""
    from igctl.engine.store.changes import operator_change  # start-up time: loaded when the command runs

    ws = open_workspace()
    with operator_change(ws, command(name, **details), dry_run=dry_run) as change:
        yield change


# -- output ------------------------------------------------------------------------------
def output_options(fn):
    """--json and --csv for a listing command; the function gets `json_` and `csv_`."""
    fn = click.option("csv_", "--csv", is_flag=True, help="Print CSV (every column) instead of a table.")(fn)
    fn = click.option("json_", "--json", is_flag=True, help="Print JSON on stdout and nothing else.")(fn)
    return fn


def json_option(fn):
    return click.option("json_", "--json", is_flag=True, help="Print JSON on stdout and nothing else.")(fn)


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _cell(value):
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return "" if value is None else value


# A spreadsheet runs a cell that begins with one of these as a formula (`=cmd|' /C calc'!A0`);
# CSV cells that are text and begin so get a leading `'`, which spreadsheets show as text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    value = _cell(value)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def print_rows(
    rows: list[dict],
    columns: list[str] | None = None,
    *,
    json_: bool = False,
    csv_: bool = False,
    headers: dict[str, str] | None = None,
    empty: str = "(none)",
) -> None:
    """One renderer for every listing: JSON (every key), CSV (every key) or a table (`columns`)."""
    if json_:
        print_json(rows)
        return
    if csv_:
        keys = list(rows[0].keys()) if rows else list(columns or [])
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=keys, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: csv_cell(row.get(k)) for k in keys})
        click.echo(buf.getvalue(), nl=False)
        return
    if not rows:
        click.echo(empty)
        return
    from tabulate import tabulate  # start-up time: loaded when the command runs

    cols = columns or list(rows[0].keys())
    head = [(headers or {}).get(c, c) for c in cols]
    click.echo(tabulate([[_cell(r.get(c)) for c in cols] for r in rows], headers=head, tablefmt="simple"))


def print_mapping(data: dict, *, json_: bool = False) -> None:
    if json_:
        print_json(data)
        return
    width = max((len(k) for k in data), default=0)
    for k, v in data.items():
        click.echo(f"{k.ljust(width)}  {_cell(v)}")


class _StderrLines(logging.Handler):
    """Server lines on stderr, flushed one by one (journald reads them live)."""

    def emit(self, record):
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:  # noqa: BLE001 - a log line must never take a request down
            self.handleError(record)


def log_to_stderr(*logger_names: str) -> None:
    """Send these loggers' lines (a server's access log, its own notes) to stderr with a time stamp."""
    handler = _StderrLines()
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    for name in logger_names:
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(logging.INFO)
        logger.propagate = False


def show_progress(json_: bool = False) -> bool:
    """Progress bars only for a person at a terminal."""
    return not json_ and sys.stdout.isatty()


def progress_callback(total: int, label: str, enabled: bool):
    """A (callback, finish) pair; the callback takes how many units were done since last time."""
    if not enabled or total <= 0:
        return (lambda n: None), (lambda: None)
    bar = click.progressbar(length=total, label=label, file=sys.stderr)
    bar.__enter__()
    return bar.update, functools.partial(bar.__exit__, None, None, None)


def comma_list(values: Iterable[str]) -> str:
    return ", ".join(values)
