"""The warm-up: its start, its steps queued by the plan, and what follows each completed step.

The plan itself (which steps, their spacing, retry times) is `domain/plan.py`; this module puts
it into the queue. `start` moves a `proxy_assigned` account to `warming_up` with step 1 queued;
`step_done` (the follow-up of a completed `warmup` task) queues the next step at its due time,
or makes the account `ready` after the last one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..domain import lifecycle
from ..domain.plan import Plan
from ..queue import tasks
from ..store.clock import to_db
from ..store.db import Database
from ..store.records import AccountRow, TaskRow
from ..store.workspace import Workspace


def step_key(account_id: int, step_number: int) -> str:
    """The idempotency key of a warm-up step: an account does each plan step once."""
    return f"warmup:{account_id}:{step_number}"


def queue_step(
    ws: Workspace, db: Database, account_id: int, step_number: int, due_at: datetime, now: datetime, actor: str
) -> int | None:
    """Queue warm-up step `step_number` of an account (idempotent)."""
    plan = Plan.of(ws)
    return tasks.enqueue(
        db,
        ws.events,
        account_id=account_id,
        kind="warmup",
        step_number=step_number,
        step_name=plan.step_name(step_number),
        key=step_key(account_id, step_number),
        due_at=due_at,
        now=now,
        actor=actor,
    )


def start(
    ws: Workspace, db: Database, account: AccountRow, now: datetime, actor: str, cause: str = "warm-up started"
) -> int | None:
    """proxy_assigned → warming_up, step 1 queued due now (or at the start of active hours)."""
    plan = Plan.of(ws)
    lifecycle.move(
        db,
        ws.events,
        account,
        lifecycle.WARMING_UP,
        at=to_db(now),
        actor=actor,
        cause=cause,
        fields={"warmup_step": 1, "warmup_started_at": to_db(now), "retry_count": 0},
    )
    return queue_step(ws, db, account["id"], 1, plan.first_due(now), now, actor)


def step_done(
    ws: Workspace, db: Database, task: TaskRow, account: AccountRow, now: datetime, actor: str
) -> dict[str, Any]:
    """A warm-up step is done: the next one is queued (due by the plan), or after the last one
    the account is ready."""
    if account["lifecycle_state"] != lifecycle.WARMING_UP:
        return {}  # retired or moved on meanwhile: nothing follows
    plan = Plan.of(ws)
    step = task["step_number"]
    at = to_db(now)
    if plan.is_last(step):
        lifecycle.move(
            db,
            ws.events,
            account,
            lifecycle.READY,
            at=at,
            actor=actor,
            cause="warm-up completed",
            fields={"warmup_completed_at": at, "warmup_step": step, "requires_human_review": 0, "retry_count": 0},
        )
        return {}
    due = plan.next_due(account["id"], step, now)
    db.execute("UPDATE accounts SET warmup_step = ?, updated_at = ? WHERE id = ?", [step + 1, at, account["id"]])
    task_id = queue_step(ws, db, account["id"], step + 1, due, now, actor)
    if task_id is None:  # queued before (a repaired crash, a repeated resolve): reuse it
        row = tasks.by_key(db, step_key(account["id"], step + 1))
        assert row is not None
        task_id, due_text = row["id"], row["due_at"]
    else:
        due_text = to_db(due)
    next_task = {"task_id": task_id, "step_number": step + 1, "step_name": plan.step_name(step + 1), "due_at": due_text}
    return {"next_task": next_task}
