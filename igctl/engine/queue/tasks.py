"""The task queue, and the one place where a task changes.

A task is one piece of work for one account. The queue knows no kind of task: what a kind
means (the account state it runs in, what follows its completion) belongs to the flows above.
Its life:

    queued ──claim──▶ claimed ──complete──▶ completed
      ▲                 │  │
      │   retry (fail,  │  └──fail (last attempt, or review at once)──▶ review
      └── lease expiry,─┘                                          (review retry → queued,
          bot revoked)                                              review resolve → completed)
    queued ──stale (tick)──▶ dropped
    queued/claimed/review, account retired or moved on ──▶ cancelled
    dropped/cancelled ──repair (tick), review retry──▶ queued
    dropped/cancelled ──review resolve (a warm-up step done by hand)──▶ completed

Rules that hold everywhere:
- `set_status` is the only code that changes `tasks.status`: it checks `TRANSITIONS`, guards the
  UPDATE by the old status, and the verbs below it write each change's event in the same
  transaction. Every other change of a task row (its content, its result, its lease) is here
  too: no other module updates the tasks table.
- One task per plan step or schedule slot: `tasks.idempotency_key` is UNIQUE and `enqueue` is
  `ON CONFLICT DO NOTHING`, so concurrent ticks cannot duplicate a task.
- One claimed task per account: a partial UNIQUE index (migrations), and claims skip such
  accounts.
- `attempts` counts claims (attempts started); a failure or an expiry settles the attempt.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from ..store.clock import to_db
from ..store.db import Database
from ..store.errors import IllegalTransition, NotFound
from ..store.events import EventLog
from ..store.records import BotRow, TaskRow

QUEUED, CLAIMED, COMPLETED, REVIEW, CANCELLED, DROPPED = (
    "queued",
    "claimed",
    "completed",
    "review",
    "cancelled",
    "dropped",
)
STATUSES = (QUEUED, CLAIMED, COMPLETED, REVIEW, CANCELLED, DROPPED)

# Which status may follow which. Anything else is refused, never half-applied.
# A table reads better aligned (fmt: skip).
TRANSITIONS: dict[str, tuple[str, ...]] = {
    QUEUED:    (CLAIMED, DROPPED, CANCELLED),
    CLAIMED:   (COMPLETED, QUEUED, REVIEW, CANCELLED),
    REVIEW:    (QUEUED, COMPLETED, CANCELLED),
    DROPPED:   (QUEUED, COMPLETED),
    CANCELLED: (QUEUED, COMPLETED),
    COMPLETED: (),
}  # fmt: skip

# The columns a verb may set beside the status.
_FIELDS = frozenset(
    {
        "bot_id",
        "claimed_at",
        "lease_expires_at",
        "attempts",
        "content_json",
        "result_json",
        "due_at",
        "stale_at",
        "completed_at",
        "last_error",
        "last_error_kind",
        "claim_key",
    }
)

Task = TaskRow


def can_move(old: str, new: str) -> bool:
    return new in TRANSITIONS.get(old, ())


def as_json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=str)


def get(db: Database, task_id: int) -> Task:
    task = db.one("SELECT * FROM tasks WHERE id = ?", [task_id])
    if task is None:
        raise NotFound(f"no task with id {task_id}", detail={"task_id": task_id})
    return task


# -- the chokepoint --------------------------------------------------------------------------
def set_status(
    db: Database,
    to: str,
    *,
    old: Iterable[str],
    where: str,
    params: list[Any],
    at: str,
    fields: dict[str, Any] | None = None,
    raw: str = "",
    raw_params: list[Any] | None = None,
) -> list[sqlite3.Row]:
    """The only UPDATE of `tasks.status`: the tasks matching `where` whose status is one of `old`
    move to `to` (every old → new pair must be in TRANSITIONS), with `fields` set beside it (and
    `raw`, SQL assignments that depend on the row, with `raw_params`). Returns the moved rows
    (`id, account_id, kind, step_name, step_number, model_id`). Must run inside db.write()."""
    assert db.in_transaction, "a task changes inside db.write()"
    olds = tuple(old)
    bad = [o for o in olds if not can_move(o, to)]
    if bad or to not in STATUSES:
        raise IllegalTransition(f"a task cannot go from {', '.join(bad) or '?'} to {to}")
    fields = fields or {}
    unknown = set(fields) - _FIELDS
    assert not unknown, f"not a task field: {sorted(unknown)}"
    sets = "".join(f", {k} = ?" for k in fields) + (f", {raw}" if raw else "")
    marks = ", ".join("?" for _ in olds)
    return db.query(
        f"""UPDATE tasks SET status = ?{sets}, updated_at = ?
            WHERE status IN ({marks}) AND ({where})
            RETURNING id, account_id, kind, step_name, step_number, model_id""",
        [to, *fields.values(), *(raw_params or []), at, *olds, *params],
    )


def _move_one(
    db: Database,
    task: Task,
    to: str,
    *,
    at: str,
    fields: dict[str, Any] | None = None,
    raw: str = "",
    raw_params: list[Any] | None = None,
) -> None:
    """One task from the status it was read in to `to`; IllegalTransition when it has changed."""
    moved = set_status(
        db,
        to,
        old=[task["status"]],
        where="id = ?",
        params=[task["id"]],
        at=at,
        fields=fields,
        raw=raw,
        raw_params=raw_params,
    )
    if not moved:
        raise IllegalTransition(f"task {task['id']} is no longer {task['status']}")


# -- queueing --------------------------------------------------------------------------------
def enqueue(
    db: Database,
    events: EventLog,
    *,
    account_id: int,
    kind: str,
    step_name: str,
    key: str,
    due_at: datetime,
    now: datetime,
    actor: str,
    step_number: int | None = None,
    model_id: int | None = None,
    stale_at: datetime | None = None,
) -> int | None:
    """Queue a task unless its idempotency key exists already. Returns the new task's id, or
    None when the task was there before. Must run inside db.write()."""
    assert db.in_transaction, "enqueue must run inside db.write()"
    at = to_db(now)
    cur = db.execute(
        """INSERT INTO tasks (account_id, kind, step_number, step_name, model_id, idempotency_key,
                              status, due_at, stale_at, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?)
           ON CONFLICT (idempotency_key) DO NOTHING""",
        [
            account_id,
            kind,
            step_number,
            step_name,
            model_id,
            key,
            to_db(due_at),
            to_db(stale_at) if stale_at else None,
            at,
            at,
        ],
    )
    if cur.rowcount != 1:
        return None
    task_id = cur.lastrowid
    events.record(
        db,
        at,
        "task.queued",
        actor,
        account_id=account_id,
        model_id=model_id,
        task_id=task_id,
        message=f"{kind} {step_name} queued, due {to_db(due_at)}",
        details={"kind": kind, "step_number": step_number, "step_name": step_name, "due_at": to_db(due_at)},
    )
    return task_id


def by_key(db: Database, key: str) -> TaskRow | None:
    return db.one("SELECT id, due_at, status FROM tasks WHERE idempotency_key = ?", [key])


# -- a bot's claim and its outcome -----------------------------------------------------------
def claim(
    db: Database,
    events: EventLog,
    task: Task,
    *,
    bot: BotRow,
    username: str,
    proxy_id: int | None,
    at: str,
    lease: str,
    content_json: str | None,
    claim_key: str | None = None,
    actor: str | None = None,
) -> int:
    """queued → claimed by `bot` until `lease`: the attempt counted, its step-log row opened,
    the claim and the hand-out of credentials recorded; `claim_key`, the claim's
    Idempotency-Key, kept with it. `actor`: who claimed for the bot when not the bot itself
    (an operator at the bot console); the events name it. Returns the attempt's number."""
    attempt = task["attempts"] + 1
    _move_one(
        db,
        task,
        CLAIMED,
        at=at,
        fields={
            "bot_id": bot["id"],
            "claimed_at": at,
            "lease_expires_at": lease,
            "attempts": attempt,
            "content_json": content_json,
            "result_json": None,
            "claim_key": claim_key,
        },
    )
    db.execute(
        """INSERT INTO step_log (task_id, account_id, kind, step_number, step_name, started_at, status,
                                 bot_id, content_used_json, retry_count)
           VALUES (?, ?, ?, ?, ?, ?, 'in_progress', ?, ?, ?)""",
        [
            task["id"],
            task["account_id"],
            task["kind"],
            task["step_number"],
            task["step_name"],
            at,
            bot["id"],
            content_json,
            attempt - 1,
        ],
    )
    events.record(
        db,
        at,
        "task.claimed",
        actor or f"bot:{bot['name']}",
        account_id=task["account_id"],
        bot_id=bot["id"],
        task_id=task["id"],
        proxy_id=proxy_id,
        message=f"bot {bot['name']} claimed {task['kind']} {task['step_name']} of {username} (attempt {attempt})"
        + (f", by {actor}" if actor else ""),
        details={"kind": task["kind"], "step_name": task["step_name"], "attempt": attempt, "lease_expires_at": lease},
    )
    log_handout(db, events, task, bot=bot, username=username, proxy_id=proxy_id, at=at, actor=actor)
    return attempt


def log_handout(
    db: Database,
    events: EventLog,
    task: Task,
    *,
    bot: BotRow,
    username: str,
    proxy_id: int | None,
    at: str,
    again: bool = False,
    actor: str | None = None,
) -> None:
    """Every hand-out of an account's and its proxy's credentials to a bot is an event: with
    the claim, and `again` when a claim retried with its Idempotency-Key gets the task back.
    `actor`: the operator the bot console handed them to (passwords masked there until the
    operator reveals them, which is an event of its own)."""
    events.record(
        db,
        at,
        "bot.credentials",
        actor or f"bot:{bot['name']}",
        account_id=task["account_id"],
        bot_id=bot["id"],
        task_id=task["id"],
        proxy_id=proxy_id,
        message=f"credentials of {username} and its proxy handed to bot {bot['name']}"
        + (f"'s console, {actor}" if actor else "")
        + (" again (a repeated claim)" if again else ""),
        details={
            "handed_out": ["account login", "email login", "proxy login"],
            **({"repeated_claim": True} if again else {}),
        },
    )


def log_success(
    db: Database, task_id: int, *, at: str, execution_time_ms: int | None, content_used: Any, instagram_response: Any
) -> None:
    """The running attempt's step-log row, closed as completed with what the bot reported."""
    db.execute(
        """UPDATE step_log SET status = 'completed', completed_at = ?, execution_time_ms = ?,
                  content_used_json = COALESCE(?, content_used_json), instagram_response_json = ?
           WHERE id = (SELECT MAX(id) FROM step_log WHERE task_id = ?) AND status = 'in_progress'""",
        [at, execution_time_ms, as_json(content_used), as_json(instagram_response), task_id],
    )


def log_by_hand(db: Database, task: Task, *, at: str, actor: str) -> None:
    """A step-log row for an attempt a person made (review resolve): completed at once, with the
    content chosen for the task and `human:<actor>` as its session."""
    db.execute(
        """INSERT INTO step_log (task_id, account_id, kind, step_number, step_name, started_at, completed_at,
                                 status, bot_session_id, content_used_json, retry_count)
           VALUES (?, ?, ?, ?, ?, ?, ?, 'completed', ?, ?, ?)""",
        [
            task["id"],
            task["account_id"],
            task["kind"],
            task["step_number"],
            task["step_name"],
            at,
            at,
            f"human:{actor}",
            task["content_json"],
            task["attempts"],
        ],
    )


def complete(
    db: Database,
    events: EventLog,
    task: Task,
    *,
    at: str,
    actor: str,
    bot_id: int | None,
    username: str,
    how: str,
    details: dict[str, Any] | None = None,
) -> None:
    """claimed (a bot's report) or review (a person's resolve) → completed, with its event. The
    answer is stored afterwards (`store_result`): it names what the completion queued next."""
    events.record(
        db,
        at,
        "task.completed",
        actor,
        account_id=task["account_id"],
        bot_id=bot_id,
        task_id=task["id"],
        message=f"{task['kind']} {task['step_name']} of {username} completed {how}",
        details={
            "kind": task["kind"],
            "step_number": task["step_number"],
            "step_name": task["step_name"],
            "attempts": task["attempts"],
            **(details or {}),
        },
    )
    _move_one(db, task, COMPLETED, at=at, fields={"completed_at": at, "lease_expires_at": None})


def store_result(db: Database, task_id: int, result: dict[str, Any]) -> None:
    """The answer a repeated report gets (step-complete and step-failed are idempotent)."""
    db.execute("UPDATE tasks SET result_json = ? WHERE id = ?", [as_json(result), task_id])


def log_failure(
    db: Database, task_id: int, *, at: str, review: bool, error_message: str, error_kind: str, error_details: Any
) -> None:
    """The running attempt's step-log row, closed as failed (or needing review) with its error."""
    db.execute(
        """UPDATE step_log SET status = ?, completed_at = ?, error_message = ?, error_kind = ?, error_details_json = ?
           WHERE id = (SELECT MAX(id) FROM step_log WHERE task_id = ?) AND status = 'in_progress'""",
        ["requires_review" if review else "failed", at, error_message, error_kind, as_json(error_details), task_id],
    )


def settle_failure(
    db: Database,
    events: EventLog,
    task: Task,
    to: str,
    *,
    at: str,
    actor: str,
    bot_id: int | None,
    due: str | None,
    error_message: str,
    error_kind: str,
    error_details: Any,
    result: dict[str, Any],
    event_kind: str,
    username: str,
    proxy_id: int | None,
) -> None:
    """A failed attempt (a bot's report, or a lease that ran out) settled: claimed → queued (due
    at `due`, or as it was), review, or cancelled; the answer stored and the event written."""
    fields = {
        "bot_id": None,
        "lease_expires_at": None,
        "last_error": error_message,
        "last_error_kind": error_kind,
        "result_json": as_json(result),
    }
    if due is not None:
        fields["due_at"] = due
    _move_one(db, task, to, at=at, fields=fields)
    events.record(
        db,
        at,
        event_kind,
        actor,
        account_id=task["account_id"],
        bot_id=bot_id,
        task_id=task["id"],
        proxy_id=proxy_id,
        cause=error_kind,
        message=f"{task['kind']} {task['step_name']} of {username}, attempt {task['attempts']}: {error_message} → {result['status']}",
        details={
            "error_kind": error_kind,
            "error_details": error_details,
            "attempts": task["attempts"],
            "retry_at": result["retry_at"],
            "outcome": result["status"],
        },
    )


def extend_leases(db: Database, bot_id: int, *, at: str, lease: str) -> int:
    """A heartbeat: the leases of the tasks the bot holds that have not run out yet, to `lease`."""
    return db.execute(
        "UPDATE tasks SET lease_expires_at = ?, updated_at = ? WHERE status = 'claimed' AND bot_id = ? AND lease_expires_at > ?",
        [lease, at, bot_id, at],
    ).rowcount


def expired(db: Database, at: str) -> Sequence[Task]:
    """Claimed tasks whose lease ran out at or before `at`, oldest lease first."""
    return db.query(
        "SELECT * FROM tasks WHERE status = 'claimed' AND lease_expires_at <= ? ORDER BY lease_expires_at, id", [at]
    )


def record_content(db: Database, task_id: int, content_json: str, *, at: str) -> None:
    """The content chosen for a task outside a claim (the claim records its own)."""
    db.execute("UPDATE tasks SET content_json = ?, updated_at = ? WHERE id = ?", [content_json, at, task_id])


# -- an operator's or tick's changes ---------------------------------------------------------
def requeue(
    db: Database,
    events: EventLog,
    task: Task,
    *,
    at: str,
    due: str,
    actor: str,
    cause: str,
    message: str,
    fresh: bool = False,
    stale_at: str | None = None,
) -> None:
    """review, dropped or cancelled → queued, due at `due`. `fresh` (a review retry) also starts
    the attempts again, moves the stale time of a scheduled task, and forgets the last answer."""
    fields: dict[str, Any] = {"bot_id": None, "lease_expires_at": None, "due_at": due}
    if fresh:
        fields |= {"attempts": 0, "result_json": None}
    if fresh:
        _move_one(
            db,
            task,
            QUEUED,
            at=at,
            fields=fields,
            raw="stale_at = CASE WHEN stale_at IS NULL THEN NULL ELSE ? END",
            raw_params=[stale_at],
        )
    else:
        _move_one(db, task, QUEUED, at=at, fields=fields)
    events.record(
        db, at, "task.requeued", actor, account_id=task["account_id"], task_id=task["id"], cause=cause, message=message
    )


def release(db: Database, events: EventLog, task: Task, *, at: str, actor: str, bot: BotRow) -> None:
    """claimed → queued when its bot is revoked: due as it was, and the attempt given back (the
    operator's revocation is not the account's failure; a lease expiry, by contrast, counts).
    The attempt the bot had started ends here, so no step stays "in progress" forever."""
    _move_one(
        db,
        task,
        QUEUED,
        at=at,
        fields={"bot_id": None, "claimed_at": None, "lease_expires_at": None},
        raw="attempts = max(attempts - 1, 0)",
    )
    db.execute(
        "UPDATE step_log SET status = 'failed', completed_at = ?, error_kind = 'bot_revoked', error_message = ?"
        " WHERE task_id = ? AND bot_id = ? AND status = 'in_progress'",
        [at, f"bot {bot['name']} was revoked; the task went back to the queue", task["id"], bot["id"]],
    )
    events.record(
        db,
        at,
        "task.released",
        actor,
        account_id=task["account_id"],
        bot_id=bot["id"],
        task_id=task["id"],
        cause="bot revoked",
        message=f"task {task['id']} ({task['step_name']}) back to the queue: bot {bot['name']} revoked",
    )


def drop_stale(db: Database, events: EventLog, task: Task, *, at: str, actor: str, username: str) -> bool:
    """queued → dropped: a scheduled task nobody claimed before its stale time."""
    if not set_status(db, DROPPED, old=[QUEUED], where="id = ?", params=[task["id"]], at=at):
        return False
    events.record(
        db,
        at,
        "task.dropped",
        actor,
        account_id=task["account_id"],
        task_id=task["id"],
        cause="stale",
        message=f"{task['kind']} {task['step_name']} of {username} dropped: not claimed before {task['stale_at']}",
        details={"stale_at": task["stale_at"]},
    )
    return True


def saying(text: str) -> Callable[[int], str]:
    """A `cancel` message that does not depend on the task id or count: `text` as it is."""
    return lambda _n: text


def cancel(
    db: Database,
    events: EventLog,
    *,
    old: Iterable[str],
    where: str,
    params: list[Any],
    at: str,
    actor: str,
    each: Callable[[int], str] | None = None,
    summary: Callable[[int], str] | None = None,
    cause: str | None = None,
    account_id: int | None = None,
    model_id: int | None = None,
) -> Sequence[TaskRow]:
    """Open tasks matching `where` → cancelled, their leases ended. Recorded as one event per
    task (`each(task_id)` its message) or one for them all (`summary(n)`, written only when
    there were any). Returns the cancelled rows."""
    rows = set_status(db, CANCELLED, old=old, where=where, params=params, at=at, fields={"lease_expires_at": None})
    rows.sort(key=lambda r: r["id"])
    if each is not None:
        for r in rows:
            events.record(
                db,
                at,
                "task.cancelled",
                actor,
                account_id=r["account_id"],
                task_id=r["id"],
                cause=cause,
                message=each(r["id"]),
            )
    elif summary is not None and rows:
        events.record(
            db,
            at,
            "task.cancelled",
            actor,
            account_id=account_id,
            model_id=model_id,
            cause=cause,
            message=summary(len(rows)),
        )
    return rows
