"""`igctl warmup tick|pipeline|plan`."""

from __future__ import annotations

import click

from igctl.commands._common import (
    command,
    json_option,
    open_workspace,
    output_options,
    print_json,
    print_rows,
    workspace_option,
)
from igctl.engine.domain import plan as engine_plan
from igctl.engine.flows import tick as engine_tick
from igctl.engine.store.clock import show

TICK_LABELS = {
    "leases_expired": "leases expired (tasks back in the queue)",
    "tasks_dropped": "stale tasks dropped",
    "proxies_assigned": "accounts given a proxy",
    "warmups_started": "warm-ups started",
    "warmups_deferred": "warm-ups left for another day (max_starts_per_day)",
    "steps_requeued": "warm-up steps re-queued (repair)",
    "retired_released": "retired accounts' open tasks cancelled (repair)",
    "strategies_applied": "model strategy files applied (changed since last read)",
    "reassignments_joined": "accounts joined their new model after cleanup (--reassign)",
    "reassignments_waiting": "accounts waiting for a proxy to join their new model",
    "slots_queued": "recurring post/story/highlight tasks queued",
    "slots_skipped": "recurring slots skipped (missed by more than schedule.grace_hours)",
}


@click.group("warmup")
def warmup():
    """The warm-up: the cron tick, the pipeline and each account's plan."""


@warmup.command("tick")
@click.option("--dry-run", is_flag=True, help="Show what the tick would do and change nothing.")
@json_option
@workspace_option
def tick(dry_run, json_):
    """The cron job: expire leases, drop stale tasks, assign proxies, start warm-ups, repair
    what a crash left half-done. Idempotent: run it as often as you like (e.g. every minute)."""
    ws = open_workspace()
    # recorded by the tick in its own transaction, when it did something (engine/flows/tick.py)
    result = engine_tick.tick(ws, dry_run=dry_run, command=command("warmup tick"))
    if json_:
        print_json(result)
        return
    if dry_run:
        click.echo("Dry run: nothing was changed. The tick would have done this:")
    for key, label in TICK_LABELS.items():
        click.echo(f"{result[key]:>7}  {label}")
    if result["started"]:
        click.echo("started: " + ", ".join(result["started"]))
    if result["requeued"]:
        click.echo("re-queued: " + ", ".join(result["requeued"]))
    for problem in result["strategy_errors"]:
        click.echo(f"strategy of {problem['model']} not applied: {problem['error']}", err=True)


@warmup.command("pipeline")
@output_options
@workspace_option
def pipeline(json_, csv_):
    """Accounts in warm-up: step, its status, due time, attempts, last error, bound bot; and a
    count per step. Step status is one of waiting, due, retry_wait, in_progress, human_review,
    missing (no open task; the next tick repairs it)."""
    ws = open_workspace()
    view = engine_plan.pipeline(ws)
    if json_:
        print_json(view)
        return
    if csv_:
        print_rows(view["accounts"], csv_=True)
        return
    rows = [{**a, "due_at": show(a["due_at"], ws.tz), "last_error": _short(a["last_error"])} for a in view["accounts"]]
    print_rows(
        rows,
        ["username", "step_number", "step_name", "step_status", "due_at", "attempts", "last_error", "bot"],
        headers={"step_number": "step", "step_name": "name", "step_status": "status", "due_at": f"due ({ws.tz})"},
        empty="(no account in warm-up)",
    )
    click.echo("")
    print_rows(
        view["steps"],
        [
            "step_number",
            "step_name",
            "accounts",
            "waiting",
            "due",
            "retry_wait",
            "in_progress",
            "human_review",
            "missing",
        ],
        headers={"step_number": "step", "step_name": "name"},
    )


def _short(text, width: int = 60):
    if not text:
        return text
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


@warmup.command("plan")
@click.argument("username")
@output_options
@workspace_option
def plan(username, json_, csv_):
    """The dates on which each step of USERNAME's warm-up became or will become due (remaining
    steps projected as if each is done the moment it is due)."""
    ws = open_workspace()
    view = engine_plan.account_plan(ws, username)
    if json_:
        print_json(view)
        return
    if csv_:
        print_rows(view["steps"], csv_=True)
        return
    click.echo(
        f"{view['username']} ({view['lifecycle_state']}), spacing {view['spacing']}, times in {view['timezone']}"
    )
    if view["note"]:
        click.echo(view["note"])
    rows = [
        {**s, "due_at": show(s["due_at"], ws.tz), "completed_at": show(s["completed_at"], ws.tz)} for s in view["steps"]
    ]
    print_rows(
        rows,
        ["step_number", "step_name", "status", "due_at", "completed_at", "attempts"],
        headers={"step_number": "step", "step_name": "name", "due_at": "due", "completed_at": "completed"},
        empty="(no steps)",
    )


COMMANDS = [warmup]
