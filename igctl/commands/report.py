"""`igctl report`: analytics as tables, JSON, CSV files or a self-contained HTML page."""

from __future__ import annotations

import csv
from pathlib import Path

import click

from igctl import report_html
from igctl.commands._common import csv_cell, open_workspace, print_json, print_rows, workspace_option
from igctl.engine.store.clock import show
from igctl.engine.store.errors import InvalidInput
from igctl.engine.store.timeparse import operator_instant
from igctl.engine.views import reports


@click.command("report")
@click.option("--model", metavar="NAME", help="Only the accounts of this model (and its proxies, bots and tasks).")
@click.option("--since", metavar="DATE", help="Activity from this date or date-time on (workspace time zone).")
@click.option("--until", metavar="DATE", help="Activity before this date or date-time.")
@click.option("json_", "--json", is_flag=True, help="Print the report as JSON on stdout and nothing else.")
@click.option(
    "csv_dir", "--csv", metavar="DIR", help="Also write one CSV file per table into DIR (created when missing)."
)
@click.option(
    "html_file",
    "--html",
    metavar="FILE",
    help="Also write a self-contained HTML page with charts to FILE (opens offline).",
)
@workspace_option
def report(model, since, until, json_, csv_dir, html_file):
    """Analytics: accounts per state, warm-up success and duration per step, the conversion
    funnel, proxy utilisation, bots, models and errors."""
    ws = open_workspace()
    since_at = operator_instant(since, ws.tz) if since else None
    until_at = operator_instant(until, ws.tz) if until else None
    csv_path = _csv_target(csv_dir) if csv_dir else None
    html_path = _html_target(html_file) if html_file else None
    data = reports.build_report(ws, model=model, since=since_at, until=until_at, daily=bool(html_path or csv_path))
    tables = reports.tables(data)
    written = []
    if csv_path:
        csv_path.mkdir(parents=True, exist_ok=True)
        for name, rows in tables.items():
            written.append(_write_csv(csv_path / f"{name}.csv", rows))
    if html_path:
        html_path.write_text(report_html.render(data, title=_title(model)), encoding="utf-8")
        written.append(html_path)
    if json_:
        print_json(data)
        return
    print_report_tables(data, tables, ws.tz)
    for path in written:
        click.echo(f"wrote {path}")


def _csv_target(text: str) -> Path:
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise InvalidInput(f"--csv wants a folder; {text} is a file")
    return path


def _html_target(text: str) -> Path:
    path = Path(text)
    if path.is_dir():
        raise InvalidInput(f"--html wants a file name; {text} is a folder")
    if not path.parent.is_dir():
        raise InvalidInput(f"--html: folder {path.parent} does not exist")
    return path


def _title(model: str | None) -> str:
    return f"igctl report — model {model}" if model else "igctl report"


def _write_csv(path: Path, rows: list[dict]) -> Path:
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=keys, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: csv_cell(row.get(k)) for k in keys})
    return path


def _pct(x) -> str:
    return "–" if x is None else f"{x * 100:.1f}%"


def _num(x) -> str:
    return "–" if x is None else f"{x:g}"


def _heading(text: str) -> None:
    click.echo()
    click.echo(click.style(text, bold=True))


def print_report_tables(data: dict, tables: dict, tz) -> None:
    scope = data["scope"]
    what = [f"model {scope['model']}"] if scope["model"] else []
    what += [f"since {show(scope['since'], tz)}"] if scope["since"] else []
    what += [f"until {show(scope['until'], tz)}"] if scope["until"] else []
    click.echo(
        f"Report of {show(data['generated_at'], tz)} ({data['timezone']})" + (f", {', '.join(what)}" if what else "")
    )

    _heading("Accounts by state")
    print_rows(tables["accounts_by_state"], ["state", "accounts"])

    _heading("Conversion (accounts that ever reached each stage)")
    print_rows(
        [
            {
                **r,
                "rate_from_previous": _pct(r["rate_from_previous"]),
                "rate_from_imported": _pct(r["rate_from_imported"]),
            }
            for r in tables["conversion"]
        ],
        ["stage", "accounts", "rate_from_previous", "rate_from_imported"],
        headers={"rate_from_previous": "of previous", "rate_from_imported": "of imported"},
    )

    _heading("Warm-up steps")
    print_rows(
        [
            {
                **r,
                "success_rate": _pct(r["success_rate"]),
                "median_seconds": _num(r["median_seconds"]),
                "p90_seconds": _num(r["p90_seconds"]),
            }
            for r in tables["warmup_steps"]
        ],
        ["step", "step_name", "completed", "failed", "success_rate", "median_seconds", "p90_seconds"],
        headers={
            "step_name": "name",
            "failed": "failed attempts",
            "success_rate": "success",
            "median_seconds": "median s",
            "p90_seconds": "p90 s",
        },
    )

    p = data["proxies"]
    _heading("Proxies")
    click.echo(
        f"{p['total']} proxies ({p['active']} active, {p['inactive']} inactive, {p['in_error']} in error), "
        f"{p['in_use']} in use; slots {p['used_slots']}/{p['slots']} used ({_pct(p['utilization'])}), {p['free_slots']} free"
    )
    cost = "–" if p["cost_per_active_account"] is None else f"{p['cost_per_active_account']:.2f}"
    total = "–" if p["monthly_cost"] is None else f"{p['monthly_cost']:.2f}"
    click.echo(f"monthly cost {total}, per active account {cost} ({p['active_accounts']} active accounts)")

    _heading("Bots")
    print_rows(
        [
            {
                **b,
                "failure_rate": _pct(b["failure_rate"]),
                "median_execution_ms": _num(b["median_execution_ms"]),
                "last_seen_at": show(b["last_seen_at"], tz) or "never",
            }
            for b in data["bots"]
        ],
        ["name", "completed", "failed", "failure_rate", "median_execution_ms", "last_seen_at"],
        headers={"failure_rate": "failure rate", "median_execution_ms": "median ms", "last_seen_at": "last seen"},
        empty="(no bots)",
    )

    _heading("Models")
    print_rows(
        [{**m, "follower_growth": _num(m["follower_growth"])} for m in data["models"]],
        ["name", "accounts", "active_accounts", "tasks_completed", "tasks_failed", "tasks_open", "follower_growth"],
        headers={
            "active_accounts": "active",
            "tasks_completed": "tasks done",
            "tasks_failed": "failed",
            "tasks_open": "open",
            "follower_growth": "follower growth",
        },
        empty="(no models)",
    )

    _heading("Errors (failed attempts) by kind")
    print_rows(tables["errors"], ["error_kind", "failed_attempts"], empty="(no errors)")


COMMANDS = [report]
