"""What an operator does about an account in human review.

`retry()` puts an account's stuck task back in the queue, due now, with fresh attempts;
`resolve()` records the step as done by a person and moves on as a bot's completion would.
Both are all-or-nothing over the accounts named. The list of what needs attention is
`views/attention.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from ..domain import lifecycle
from ..queue import tasks
from ..store.clock import to_db
from ..store.db import Database
from ..store.errors import IllegalTransition, InvalidInput, NotFound, UsageError
from ..store.records import AccountRow, TaskRow
from ..store.workspace import Workspace
from . import botwork, warmup


# -- acting on review ------------------------------------------------------------------------
def _accounts_in_review(db: Database, usernames: list[str] | None, all_: bool) -> Sequence[AccountRow]:
    """The accounts to act on: every one in review (all_), or the named ones, each of which must
    exist and be in review (else nothing is done)."""
    if all_ and usernames:
        raise UsageError("name accounts or ask for all of them in review, not both", about=("usernames", "all"))
    if all_:
        return db.query("SELECT * FROM accounts WHERE lifecycle_state = 'human_review' ORDER BY id")
    if not usernames:
        raise UsageError("name at least one account, or ask for all of them in review", about=("usernames", "all"))
    rows, missing, not_review, seen = [], [], [], set()
    for name in usernames:
        row = db.one("SELECT * FROM accounts WHERE username = ?", [name.strip()])
        if row is None:
            missing.append(name)
        elif row["lifecycle_state"] != lifecycle.HUMAN_REVIEW:
            not_review.append(f"{row['username']} ({row['lifecycle_state']})")
        elif row["id"] not in seen:
            seen.add(row["id"])
            rows.append(row)
    if missing:
        raise NotFound(f"no account named {', '.join(missing)}")
    if not_review:
        raise IllegalTransition(f"not in human review: {', '.join(not_review)}")
    return rows


def _review_task(ws: Workspace, db: Database, account: AccountRow, now: datetime, actor: str) -> TaskRow:
    """The task the account is stuck on. An account sent to review without one (by hand, or by
    older data) gets its warm-up step's task, made if need be."""
    task = db.one(
        "SELECT * FROM tasks WHERE account_id = ? AND status = 'review' ORDER BY id DESC LIMIT 1", [account["id"]]
    )
    if task is not None:
        return task
    if account["warmup_completed_at"] is None and account["warmup_step"]:
        key = warmup.step_key(account["id"], account["warmup_step"])
        task = db.one("SELECT * FROM tasks WHERE idempotency_key = ?", [key])
        if task is None:
            warmup.queue_step(ws, db, account["id"], account["warmup_step"], now, now, actor)
            task = db.one("SELECT * FROM tasks WHERE idempotency_key = ?", [key])
            assert task is not None  # queued just above
        if task["status"] in ("queued", "claimed"):
            raise IllegalTransition(
                f"account {account['username']}: its step {task['step_number']} is already {task['status']}"
            )
        if task["status"] == "completed":
            raise IllegalTransition(
                f"account {account['username']}: its step {task['step_number']} is already completed; nothing to resolve"
            )
        return task
    raise IllegalTransition(f"account {account['username']} is in review without a step to retry or resolve")


def _back_to_work(
    ws: Workspace, db: Database, account: AccountRow, task: TaskRow, now: datetime, actor: str, cause: str
) -> None:
    lifecycle.move(
        db,
        ws.events,
        account,
        botwork.KIND_STATE[task["kind"]],
        at=to_db(now),
        actor=actor,
        cause=cause,
        fields={"requires_human_review": 0, "retry_count": 0},
    )


def retry(
    ws: Workspace,
    usernames: list[str] | None = None,
    *,
    all_: bool = False,
    actor: str,
    now: datetime | str | None = None,
) -> list[dict[str, Any]]:
    """Put each account's stuck step back in the queue, due now, with fresh attempts; the
    account returns to the state its task runs in (warming_up for a warm-up step)."""
    db = ws.db()
    now = ws.instant(now)
    at = to_db(now)
    out = []
    with db.write():
        for account in _accounts_in_review(db, usernames, all_):
            task = _review_task(ws, db, account, now, actor)
            _back_to_work(ws, db, account, task, now, actor, cause="review retry")
            # a scheduled slot retried by a person gets a fresh grace period instead of going stale at once
            stale = to_db(now + timedelta(hours=ws.config.schedule.grace_hours))
            tasks.requeue(
                db,
                ws.events,
                task,
                at=at,
                due=at,
                actor=actor,
                cause="review retry",
                fresh=True,
                stale_at=stale,
                message=f"{task['kind']} {task['step_name']} of {account['username']} back in the queue, due now",
            )
            out.append(
                {
                    "username": account["username"],
                    "account_id": account["id"],
                    "task_id": task["id"],
                    "kind": task["kind"],
                    "step_number": task["step_number"],
                    "step_name": task["step_name"],
                    "due_at": at,
                }
            )
    return out


def resolve(
    ws: Workspace,
    usernames: list[str] | None = None,
    *,
    note: str,
    all_: bool = False,
    actor: str,
    now: datetime | str | None = None,
) -> list[dict[str, Any]]:
    """Record each account's stuck step as done by a person (the note kept in its step log and
    the event log) and move on exactly as a bot's completion would: the next step is queued, or
    after the plan's last step the account is ready."""
    note = (note or "").strip()
    if not note:
        raise InvalidInput("a note saying what was done is required to resolve a review", about=("note",))
    db = ws.db()
    now = ws.instant(now)
    at = to_db(now)
    out = []
    with db.write():
        for account in _accounts_in_review(db, usernames, all_):
            task = _review_task(ws, db, account, now, actor)
            _back_to_work(ws, db, account, task, now, actor, cause="review resolved")
            tasks.log_by_hand(db, task, at=at, actor=actor)
            ws.events.record(
                db,
                at,
                "account.review_resolved",
                actor,
                account_id=account["id"],
                task_id=task["id"],
                message=f"{task['kind']} {task['step_name']} of {account['username']} done by hand: {note}",
                details={"note": note, "step_number": task["step_number"], "step_name": task["step_name"]},
            )
            result = botwork.finish_task(ws, db, task, now=now, actor=actor, bot_id=None, how=f"by hand ({actor})")
            out.append(
                {
                    "username": account["username"],
                    "account_id": account["id"],
                    "task_id": task["id"],
                    "kind": task["kind"],
                    "step_number": task["step_number"],
                    "step_name": task["step_name"],
                    "account_state": result["account_state"],
                    "next_task": result["next_task"],
                }
            )
    return out
