"""The task queue: the one list of bot work.

A task is one piece of work for one account (a warm-up step, and for the models issue an
onboarding step, a post, a story, a highlight or a cleanup step). Its life:

    queued ──claim──▶ claimed ──complete──▶ completed
      ▲                 │  │
      │   retry (fail,  │  └──fail (last attempt, or review at once)──▶ review
      └── lease expiry)─┘                                          (review retry → queued,
    queued ──stale (tick)──▶ dropped                                review resolve → completed)
    queued/claimed, account retired or moved on ──▶ cancelled

Rules that hold everywhere:
- One task per plan step or schedule slot: `tasks.idempotency_key` is UNIQUE and every insert is
  `ON CONFLICT DO NOTHING`, so concurrent ticks cannot duplicate a task.
- One claimed task per account: a partial UNIQUE index, and claim skips such accounts.
- Every claim, completion, failure and lease expiry is one `BEGIN IMMEDIATE` transaction;
  expired leases are swept at the start of each of them (and of every tick).
- `attempts` counts claims (attempts started); a failure or an expiry settles the attempt.

The functions here are what the bot API calls: `claim_next`, `complete`, `fail`, `heartbeat`.
They take a workspace, use this thread's connection, and return plain dicts.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, Callable

from . import bots, content, lifecycle
from .clock import from_db, parse_instant, to_db
from .db import Database
from .errors import Conflict, Forbidden, InvalidInput, NotFound
from .plan import Plan, backoff

# The account state in which each kind of task runs; a task of an account in any other state
# is not handed out.
KIND_STATE = {
    "warmup": lifecycle.WARMING_UP,
    "onboarding": lifecycle.ACTIVE,
    "post": lifecycle.ACTIVE,
    "story": lifecycle.ACTIVE,
    "highlight": lifecycle.ACTIVE,
    "cleanup": lifecycle.CLEANUP,
}

ERROR_KINDS = (
    "challenge",
    "captcha",
    "login_failed",
    "action_blocked",
    "rate_limited",
    "ui_not_found",
    "device_offline",
    "proxy_error",
    "other",
)
# Failures a bot cannot get past by trying again: a person must look at the account.
REVIEW_AT_ONCE = {"challenge", "captcha", "login_failed"}
LEASE_EXPIRED = "lease_expired"

OPEN_STATUSES = ("queued", "claimed", "review")
# Candidates are read in batches: the first is small (nearly always its first row is taken),
# later ones grow, for a queue whose head waits for content.
CANDIDATE_BATCHES = (4, 32, 256)


# -- small helpers ---------------------------------------------------------------------------
def as_instant(ws, now: datetime | str | None) -> datetime:
    """`now` as an aware UTC datetime: given (a datetime or a stored/ISO string) or the clock's."""
    if now is None:
        return ws.clock.now()
    if isinstance(now, str):
        return parse_instant(now, ws.tz)
    return now


def bot_actor(bot) -> str:
    return f"bot:{bot['name']}"


def get_bot(db: Database, bot_id: int, *, seen_at: str | None = None):
    """A bot that may work: NotFound for an unknown id, Forbidden for a revoked one. With
    `seen_at` (inside a write) its last_seen_at is set in the same statement; a refusal's
    exception then rolls that back with the rest of the transaction."""
    if seen_at is None:
        bot = db.one("SELECT * FROM bots WHERE id = ?", [bot_id])
    else:
        bot = db.one("UPDATE bots SET last_seen_at = ? WHERE id = ? RETURNING *", [seen_at, bot_id])
    if bot is None:
        raise NotFound(f"no bot with id {bot_id}", detail={"bot_id": bot_id})
    if bot["revoked_at"] is not None:
        raise Forbidden(f"bot {bot['name']} is revoked", detail={"bot_id": bot_id})
    return bot


def get_task(db: Database, task_id: int):
    task = db.one("SELECT * FROM tasks WHERE id = ?", [task_id])
    if task is None:
        raise NotFound(f"no task with id {task_id}", detail={"task_id": task_id})
    return task


def get_account(db: Database, account_id: int):
    return db.one("SELECT * FROM accounts WHERE id = ?", [account_id])


def warmup_key(account_id: int, step_number: int) -> str:
    """The idempotency key of a warm-up step: an account does each plan step once."""
    return f"warmup:{account_id}:{step_number}"


def _json(value) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=str)


# -- queueing --------------------------------------------------------------------------------
def enqueue(
    ws,
    db: Database,
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
        [account_id, kind, step_number, step_name, model_id, key, to_db(due_at),
         to_db(stale_at) if stale_at else None, at, at],
    )
    if cur.rowcount != 1:
        return None
    task_id = cur.lastrowid
    ws.events.record(
        db, at, "task.queued", actor, account_id=account_id, model_id=model_id, task_id=task_id,
        message=f"{kind} {step_name} queued, due {to_db(due_at)}",
        details={"kind": kind, "step_number": step_number, "step_name": step_name, "due_at": to_db(due_at)},
    )
    return task_id


def queue_warmup_step(ws, db: Database, account_id: int, step_number: int, due_at: datetime, now: datetime, actor: str) -> int | None:
    """Queue warm-up step `step_number` of an account (idempotent)."""
    plan = Plan.of(ws)
    return enqueue(
        ws, db, account_id=account_id, kind="warmup", step_number=step_number,
        step_name=plan.step_name(step_number), key=warmup_key(account_id, step_number),
        due_at=due_at, now=now, actor=actor,
    )


def start_warmup(ws, db: Database, account, now: datetime, actor: str, cause: str = "warm-up started") -> int | None:
    """proxy_assigned → warming_up, step 1 queued due now (or at the start of active hours)."""
    plan = Plan.of(ws)
    lifecycle.move(
        db, ws.events, account, lifecycle.WARMING_UP, at=to_db(now), actor=actor, cause=cause,
        fields={"warmup_step": 1, "warmup_started_at": to_db(now), "retry_count": 0},
    )
    return queue_warmup_step(ws, db, account["id"], 1, plan.first_due(now), now, actor)


# -- leases ----------------------------------------------------------------------------------
def expire_leases(ws, db: Database | None = None, now: datetime | str | None = None, actor: str = "system") -> int:
    """Every claimed task whose lease has run out (lease_expires_at <= now) goes back to the
    queue at once, its attempt settled as failed; the last allowed attempt sends the account to
    review. Returns how many leases expired."""
    db = db or ws.db()
    now = as_instant(ws, now)
    with db.write():
        rows = db.query(
            "SELECT * FROM tasks WHERE status = 'claimed' AND lease_expires_at <= ? ORDER BY lease_expires_at, id",
            [to_db(now)],
        )
        for task in rows:
            bot = db.one("SELECT id, name FROM bots WHERE id = ?", [task["bot_id"]])
            holder = bot["name"] if bot else f"#{task['bot_id']}"
            _settle_failure(
                ws, db, task, now=now, actor=actor, bot_id=task["bot_id"],
                error_message=f"lease expired: bot {holder} did not report within {ws.config.bot.lease_minutes:g} minutes",
                error_kind=LEASE_EXPIRED, error_details={"lease_expires_at": task["lease_expires_at"]},
                review_now=False, delay=None, event_kind="task.lease_expired",
            )
    return len(rows)


# -- claiming --------------------------------------------------------------------------------
def _may_bind(db: Database, bot) -> bool:
    """Whether the bot has a free slot for an account it does not have yet."""
    if bot["slots"] is None:
        return True
    return db.scalar("SELECT COUNT(*) FROM accounts WHERE bot_id = ?", [bot["id"]]) < bot["slots"]


# A candidate row carries what the claim needs of its account (a__) and proxy (p__), so that
# handing a task out reads nothing more (the write lock is held throughout).
_ACCOUNT_COLUMNS = ("bot_id", "slot", "username", "proxy_id", "model_id", "password_enc", "email", "email_password_enc")
_PROXY_COLUMNS = ("scheme", "host", "port", "username", "password_enc")
_CANDIDATES = f"""
    SELECT t.*, {", ".join(f"a.{c} AS a__{c}" for c in _ACCOUNT_COLUMNS)},
           {", ".join(f"p.{c} AS p__{c}" for c in _PROXY_COLUMNS)}
    FROM tasks t
    JOIN accounts a ON a.id = t.account_id
    JOIN proxies p ON p.id = a.proxy_id
    WHERE t.status = 'queued' AND t.due_at <= :now
      AND (t.due_at > :after_due OR (t.due_at = :after_due AND t.id > :after_id))
      AND (t.stale_at IS NULL OR t.stale_at > :now)
      AND p.status = 'active'
      AND a.lifecycle_state = CASE t.kind WHEN 'warmup' THEN 'warming_up'
                                          WHEN 'cleanup' THEN 'cleanup'
                                          ELSE 'active' END
      AND (a.bot_id = :bot OR (a.bot_id IS NULL AND :may_bind))
      AND NOT EXISTS (SELECT 1 FROM tasks c WHERE c.account_id = t.account_id AND c.status = 'claimed')
    ORDER BY t.due_at, t.id
    LIMIT :limit
"""


def _choose_content(ws, db: Database, task, account, at: str, actor: str):
    """The task's content: what was chosen before (stable across attempts), or a new choice
    by the content engine (recorded by the claim's own UPDATE of the task); None when the
    step's content type has no item at all."""
    if task["content_json"] is not None:
        return json.loads(task["content_json"])
    return content.choose_for_task(ws, db, task, account, actor=actor, now=at, record=False)


def _split_candidate(row) -> tuple[dict, dict, dict]:
    """A candidate row as (task, account, proxy) dicts."""
    task, account, proxy = {}, {}, {}
    for key in row.keys():
        if key.startswith("a__"):
            account[key[3:]] = row[key]
        elif key.startswith("p__"):
            proxy[key[3:]] = row[key]
        else:
            task[key] = row[key]
    account["id"], proxy["id"] = task["account_id"], account["proxy_id"]
    return task, account, proxy


def claim_next(ws, bot_id: int, now: datetime | str | None = None, idempotency_key: str | None = None) -> dict | None:
    """Hand the oldest due task this bot may work on to it, or return None when there is none.

    One BEGIN IMMEDIATE transaction: expired leases are swept, the candidate is chosen (due,
    not stale, account in the state its kind runs in, proxy active, account bound to this bot
    or unbound while the bot has a free slot, no other claimed task of the account, content
    available), the account is bound, and the claim, the attempt's step-log row and the
    credential hand-out are recorded. Returns the task payload of the bot API (§7).

    `idempotency_key`: kept with the claim; while the task is still claimed by this bot, a
    claim with the same key returns that task again instead of a new one (`_claimed_again`)."""
    db = ws.db()
    now = as_instant(ws, now)
    at = to_db(now)
    with db.write():
        bot = get_bot(db, bot_id, seen_at=at)
        actor = bot_actor(bot)
        expire_leases(ws, db, now, actor="system")
        if idempotency_key is not None:
            again = _claimed_again(ws, db, bot, idempotency_key, at, actor)
            if again is not None:
                return again
        may_bind = _may_bind(db, bot)
        free_slot = None
        after_due, after_id = "", 0
        task = account = proxy = payload_content = None
        batches = 0
        while task is None:
            limit = CANDIDATE_BATCHES[min(batches, len(CANDIDATE_BATCHES) - 1)]
            batches += 1
            batch = db.query(
                _CANDIDATES,
                {"now": at, "after_due": after_due, "after_id": after_id, "bot": bot_id,
                 "may_bind": may_bind, "limit": limit},
            )
            for row in batch:
                candidate, candidate_account, candidate_proxy = _split_candidate(row)
                if candidate_account["bot_id"] is None:
                    free_slot = free_slot or bots.lowest_free_slot(db, bot)
                    if free_slot is None:
                        continue
                chosen_content = _choose_content(ws, db, candidate, candidate_account, at, actor)
                if chosen_content is not None:
                    task, account, proxy, payload_content = candidate, candidate_account, candidate_proxy, chosen_content
                    break
            if task is None:
                if len(batch) < limit:
                    return None
                after_due, after_id = batch[-1]["due_at"], batch[-1]["id"]

        slot = account["slot"]
        lease = to_db(now + timedelta(minutes=ws.config.bot.lease_minutes))
        attempt = task["attempts"] + 1
        if account["bot_id"] is None:
            slot = free_slot
            db.execute(
                """UPDATE accounts SET bot_id = ?, slot = ?, updated_at = ?, last_bot_action_by = ?, last_bot_action_at = ?
                   WHERE id = ? AND bot_id IS NULL""",
                [bot_id, slot, at, bot["name"], at, account["id"]],
            )
            ws.events.record(
                db, at, "account.bound", actor, account_id=account["id"], bot_id=bot_id,
                message=f"{account['username']} bound to bot {bot['name']}, slot {slot}", details={"slot": slot},
            )
        else:
            db.execute(
                "UPDATE accounts SET last_bot_action_by = ?, last_bot_action_at = ? WHERE id = ?",
                [bot["name"], at, account["id"]],
            )
        content_json = _json(payload_content)
        db.execute(
            """UPDATE tasks SET status = 'claimed', bot_id = ?, claimed_at = ?, lease_expires_at = ?,
                      attempts = ?, content_json = ?, result_json = NULL, updated_at = ?, claim_key = ?
               WHERE id = ? AND status = 'queued'""",
            [bot_id, at, lease, attempt, content_json, at, idempotency_key, task["id"]],
        )
        db.execute(
            """INSERT INTO step_log (task_id, account_id, kind, step_number, step_name, started_at, status,
                                     bot_id, content_used_json, retry_count)
               VALUES (?, ?, ?, ?, ?, ?, 'in_progress', ?, ?, ?)""",
            [task["id"], account["id"], task["kind"], task["step_number"], task["step_name"], at, bot_id,
             content_json, attempt - 1],
        )
        ws.events.record(
            db, at, "task.claimed", actor, account_id=account["id"], bot_id=bot_id, task_id=task["id"],
            proxy_id=account["proxy_id"],
            message=f"bot {bot['name']} claimed {task['kind']} {task['step_name']} of {account['username']} (attempt {attempt})",
            details={"kind": task["kind"], "step_name": task["step_name"], "attempt": attempt, "lease_expires_at": lease},
        )
        ws.events.record(
            db, at, "bot.credentials", actor, account_id=account["id"], bot_id=bot_id, task_id=task["id"],
            proxy_id=account["proxy_id"],
            message=f"credentials of {account['username']} and its proxy handed to bot {bot['name']}",
            details={"handed_out": ["account login", "email login", "proxy login"]},
        )
        return _task_payload(ws, task, account, proxy, slot=slot, attempt=attempt, content=payload_content, lease=lease)


def _task_payload(ws, task, account, proxy, *, slot, attempt, content, lease) -> dict:
    """A claimed task as the bot API hands it out, credentials decrypted (inside the claim's
    transaction: no claim stays without its hand-out)."""
    cipher = ws.cipher
    return {
        "task_id": task["id"],
        "kind": task["kind"],
        "step_number": task["step_number"],
        "step_name": task["step_name"],
        "attempt": attempt,
        "slot": slot,
        "account": {
            "id": account["id"],
            "username": account["username"],
            "password": cipher.decrypt(account["password_enc"]),
            "email": account["email"],
            "email_password": cipher.decrypt(account["email_password_enc"]),
        },
        "proxy": {
            "id": proxy["id"],
            "scheme": proxy["scheme"],
            "host": proxy["host"],
            "port": proxy["port"],
            "username": proxy["username"] or None,
            "password": cipher.decrypt(proxy["password_enc"]),
        },
        "content": content,
        "lease_expires_at": lease,
    }


def _claimed_again(ws, db: Database, bot, key: str, at: str, actor: str) -> dict | None:
    """The task this bot claimed with `key` and still holds, handed out again (its answer was
    lost on the way and the bot retried), or None. No new claim, lease or attempt; the
    credentials hand-out is recorded again, as every hand-out is."""
    task = db.one("SELECT * FROM tasks WHERE bot_id = ? AND claim_key = ? AND status = 'claimed'", [bot["id"], key])
    if task is None:
        return None
    account = db.one("SELECT * FROM accounts WHERE id = ?", [task["account_id"]])
    proxy = db.one("SELECT * FROM proxies WHERE id = ?", [account["proxy_id"]])
    ws.events.record(
        db, at, "bot.credentials", actor, account_id=account["id"], bot_id=bot["id"], task_id=task["id"],
        proxy_id=account["proxy_id"],
        message=f"credentials of {account['username']} and its proxy handed to bot {bot['name']} again (a repeated claim)",
        details={"handed_out": ["account login", "email login", "proxy login"], "repeated_claim": True},
    )
    content = json.loads(task["content_json"]) if task["content_json"] else None
    return _task_payload(ws, task, account, proxy, slot=account["slot"], attempt=task["attempts"], content=content,
                         lease=task["lease_expires_at"])  # fmt: skip


# -- completion ------------------------------------------------------------------------------
def _check_holder(db: Database, task, bot) -> None:
    if task["status"] != "claimed" or task["bot_id"] != bot["id"]:
        raise Conflict(
            f"bot {bot['name']} does not hold task {task['id']} (it is {task['status']})",
            detail={"task_id": task["id"], "status": task["status"]},
        )


def _check_number(name: str, value, *, minimum: float = 0) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        raise InvalidInput(f"{name} must be a number of at least {minimum:g}", detail={name: value})


def complete(
    ws,
    task_id: int,
    bot_id: int,
    *,
    execution_time_ms: int | None = None,
    content_used: Any = None,
    instagram_response: Any = None,
    now: datetime | str | None = None,
) -> dict:
    """The holder reports success. The attempt is logged, the account advances (the next step
    queued at once, due at its time), and the answer is kept: the same report again gets the
    same answer. Anyone but the holder gets Conflict, and so does the holder once its lease
    has run out."""
    _check_number("execution_time_ms", execution_time_ms)
    db = ws.db()
    now = as_instant(ws, now)
    at = to_db(now)
    with db.write():
        bot = get_bot(db, bot_id)
        task = get_task(db, task_id)
        if task["status"] == "completed" and task["bot_id"] == bot_id and task["result_json"]:
            return json.loads(task["result_json"])  # a repeated report changes nothing
        if expire_leases(ws, db, now, actor="system"):
            task = get_task(db, task_id)
        _check_holder(db, task, bot)
        db.execute("UPDATE bots SET last_seen_at = ? WHERE id = ?", [at, bot_id])
        actor = bot_actor(bot)
        db.execute(
            """UPDATE step_log SET status = 'completed', completed_at = ?, execution_time_ms = ?,
                      content_used_json = COALESCE(?, content_used_json), instagram_response_json = ?
               WHERE id = (SELECT MAX(id) FROM step_log WHERE task_id = ?) AND status = 'in_progress'""",
            [at, execution_time_ms, _json(content_used), _json(instagram_response), task_id],
        )
        account = db.one(
            """UPDATE accounts SET last_bot_action_by = ?, last_bot_action_at = ?, retry_count = 0, updated_at = ?
               WHERE id = ? RETURNING *""",
            [bot["name"], at, at, task["account_id"]],
        )
        timing = {"execution_time_ms": execution_time_ms,
                  "seconds_since_claim": round((now - from_db(task["claimed_at"])).total_seconds(), 3)}
        result = finish_task(ws, db, task, now=now, actor=actor, bot_id=bot_id, how="by bot " + bot["name"],
                             details=timing, account=account)
        return result


def finish_task(ws, db: Database, task, *, now: datetime, actor: str, bot_id: int | None, how: str,
                details: dict | None = None, account=None) -> dict:
    """Mark a task completed and run its kind's follow-up (shared by a bot's completion and a
    human's `review resolve`). Returns the answer, which is also stored on the task. `details`
    join the `task.completed` event's (a bot's timing); `account` is the task's account row
    when the caller has just read it."""
    at = to_db(now)
    account = account or get_account(db, task["account_id"])
    ws.events.record(
        db, at, "task.completed", actor, account_id=account["id"], bot_id=bot_id, task_id=task["id"],
        message=f"{task['kind']} {task['step_name']} of {account['username']} completed {how}",
        details={"kind": task["kind"], "step_number": task["step_number"], "step_name": task["step_name"],
                 "attempts": task["attempts"], **(details or {})},
    )
    follow_up = ON_COMPLETE.get(task["kind"])
    extra = follow_up(ws, db, task, account, now, actor) if follow_up else {}
    state = db.scalar("SELECT lifecycle_state FROM accounts WHERE id = ?", [account["id"]]) if follow_up else account["lifecycle_state"]
    result = {
        "task_id": task["id"],
        "status": "completed",
        "completed_at": at,
        "account_id": account["id"],
        "account_state": state,
        "next_task": extra.get("next_task"),
    }
    db.execute(
        """UPDATE tasks SET status = 'completed', completed_at = ?, lease_expires_at = NULL,
                  result_json = ?, updated_at = ? WHERE id = ?""",
        [at, _json(result), at, task["id"]],
    )
    return result


def _warmup_step_done(ws, db: Database, task, account, now: datetime, actor: str) -> dict:
    """A warm-up step is done: the next one is queued (due by the plan), or after the last one
    the account is ready."""
    if account["lifecycle_state"] != lifecycle.WARMING_UP:
        return {}  # retired or moved on meanwhile: nothing follows
    plan = Plan.of(ws)
    step = task["step_number"]
    at = to_db(now)
    if plan.is_last(step):
        lifecycle.move(
            db, ws.events, account, lifecycle.READY, at=at, actor=actor, cause="warm-up completed",
            fields={"warmup_completed_at": at, "warmup_step": step, "requires_human_review": 0, "retry_count": 0},
        )
        return {}
    due = plan.next_due(account["id"], step, now)
    db.execute("UPDATE accounts SET warmup_step = ?, updated_at = ? WHERE id = ?", [step + 1, at, account["id"]])
    task_id = queue_warmup_step(ws, db, account["id"], step + 1, due, now, actor)
    if task_id is None:  # queued before (a repaired crash, a repeated resolve): reuse it
        row = db.one("SELECT id, due_at FROM tasks WHERE idempotency_key = ?", [warmup_key(account["id"], step + 1)])
        task_id, due_text = row["id"], row["due_at"]
    else:
        due_text = to_db(due)
    return {"next_task": {"task_id": task_id, "step_number": step + 1, "step_name": plan.step_name(step + 1), "due_at": due_text}}


def _onboarding_step_done(ws, db: Database, task, account, now: datetime, actor: str) -> dict:
    """The next onboarding step, or the start of the model's recurring schedule (models.py)."""
    from . import models

    return models.onboarding_step_done(ws, db, task, account, now, actor)


def _cleanup_step_done(ws, db: Database, task, account, now: datetime, actor: str) -> dict:
    """The next cleanup step, or ready again (and a pending reassignment) after the last (models.py)."""
    from . import models

    return models.cleanup_step_done(ws, db, task, account, now, actor)


# What follows a completed task, per kind. Kinds without an entry (post, story, highlight) need
# nothing more: each is one slot of the schedule, which tick plans on its own.
ON_COMPLETE: dict[str, Callable] = {
    "warmup": _warmup_step_done,
    "onboarding": _onboarding_step_done,
    "cleanup": _cleanup_step_done,
}


# -- failure ---------------------------------------------------------------------------------
def fail(
    ws,
    task_id: int,
    bot_id: int,
    *,
    error_message: str,
    error_kind: str = "other",
    error_details: Any = None,
    requires_review: bool = False,
    retryable: bool = True,
    retry_after_seconds: float | None = None,
    now: datetime | str | None = None,
) -> dict:
    """The holder reports failure. The attempt is logged with its error, the error is kept on
    the account, and the task is re-queued at its retry time, or the account goes to human
    review (at once for challenge, captcha, login_failed, requires_review or not retryable;
    otherwise after `warmup.max_attempts` attempts). Repeated `proxy_error` reports from
    different accounts of one proxy set the proxy to `error`. The same report again gets the
    same answer; anyone but the holder gets Conflict."""
    if not isinstance(error_message, str) or not error_message.strip():
        raise InvalidInput("error_message is required")
    if error_kind not in ERROR_KINDS:
        raise InvalidInput(f"unknown error_kind {error_kind!r}; one of: {', '.join(ERROR_KINDS)}", detail={"error_kind": error_kind})
    _check_number("retry_after_seconds", retry_after_seconds)
    db = ws.db()
    now = as_instant(ws, now)
    with db.write():
        bot = get_bot(db, bot_id)
        task = get_task(db, task_id)
        repeat = _repeated_failure(db, task, bot_id)
        if repeat is not None:
            return repeat
        expire_leases(ws, db, now, actor="system")
        task = get_task(db, task_id)
        _check_holder(db, task, bot)
        settings = ws.config.warmup
        if error_kind == "rate_limited" and retry_after_seconds is not None:
            delay = timedelta(seconds=retry_after_seconds)
        else:
            delay = backoff(settings, task["attempts"])
            if retry_after_seconds is not None:
                delay = max(delay, timedelta(seconds=retry_after_seconds))
        review_now = bool(requires_review) or not retryable or error_kind in REVIEW_AT_ONCE
        db.execute("UPDATE bots SET last_seen_at = ? WHERE id = ?", [to_db(now), bot_id])
        result = _settle_failure(
            ws, db, task, now=now, actor=bot_actor(bot), bot_id=bot_id, error_message=error_message.strip(),
            error_kind=error_kind, error_details=error_details, review_now=review_now, delay=delay,
            event_kind="task.failed",
        )
        if error_kind == "proxy_error":
            _check_proxy(ws, db, task["account_id"], now, bot_actor(bot))
        return result


def _repeated_failure(db: Database, task, bot_id: int) -> dict | None:
    """The stored answer when this bot's failure report for this task was already taken."""
    if task["status"] == "claimed" or not task["result_json"]:
        return None
    last = db.one("SELECT bot_id, status, error_kind FROM step_log WHERE task_id = ? ORDER BY id DESC LIMIT 1", [task["id"]])
    if (
        last is not None
        and last["bot_id"] == bot_id
        and last["status"] in ("failed", "requires_review")
        and last["error_kind"] != LEASE_EXPIRED
    ):
        answer = json.loads(task["result_json"])
        if answer.get("status") != "completed":
            return answer
    return None


def _settle_failure(
    ws,
    db: Database,
    task,
    *,
    now: datetime,
    actor: str,
    bot_id: int | None,
    error_message: str,
    error_kind: str,
    error_details: Any,
    review_now: bool,
    delay: timedelta | None,
    event_kind: str,
) -> dict:
    """Settle a failed attempt (a bot's report, or a lease that ran out; delay None = back in
    the queue at once, at its old due time)."""
    at = to_db(now)
    account = get_account(db, task["account_id"])
    attempts = task["attempts"]
    review = review_now or attempts >= ws.config.warmup.max_attempts
    expected = KIND_STATE[task["kind"]]
    if account["lifecycle_state"] != expected:
        outcome, due = "cancelled", None
    elif review:
        outcome, due = "human_review", None
    elif delay is None:
        outcome, due = "queued", from_db(task["due_at"])
    else:
        plan_due = Plan.of(ws).retry_due(now, delay) if task["kind"] == "warmup" else now + delay
        outcome, due = "queued", plan_due

    db.execute(
        """UPDATE step_log SET status = ?, completed_at = ?, error_message = ?, error_kind = ?, error_details_json = ?
           WHERE id = (SELECT MAX(id) FROM step_log WHERE task_id = ?) AND status = 'in_progress'""",
        ["requires_review" if outcome == "human_review" else "failed", at, error_message, error_kind,
         _json(error_details), task["id"]],
    )
    result = {
        "task_id": task["id"],
        "status": {"queued": "retry_scheduled", "human_review": "human_review", "cancelled": "cancelled"}[outcome],
        "attempts": attempts,
        "max_attempts": ws.config.warmup.max_attempts,
        "retry_at": to_db(due) if due else None,
        "account_id": account["id"],
    }
    task_status = {"queued": "queued", "human_review": "review", "cancelled": "cancelled"}[outcome]
    db.execute(
        """UPDATE tasks SET status = ?, bot_id = NULL, lease_expires_at = NULL, due_at = COALESCE(?, due_at),
                  last_error = ?, last_error_kind = ?, updated_at = ? WHERE id = ?""",
        [task_status, to_db(due) if due else None, error_message, error_kind, at, task["id"]],
    )
    fields = {"last_error_message": error_message, "last_error_at": at, "retry_count": attempts}
    if outcome == "human_review":
        lifecycle.move(
            db, ws.events, account, lifecycle.HUMAN_REVIEW, at=at, actor=actor,
            cause=f"{task['kind']} {task['step_name']} failed: {error_kind}",
            fields={**fields, "requires_human_review": 1},
            details={"task_id": task["id"], "error_message": error_message, "attempts": attempts},
        )
    else:
        sets = ", ".join(f"{k} = ?" for k in fields)
        db.execute(f"UPDATE accounts SET {sets}, updated_at = ? WHERE id = ?", [*fields.values(), at, account["id"]])
    if bot_id is not None and event_kind == "task.failed":
        bot = db.one("SELECT name FROM bots WHERE id = ?", [bot_id])
        db.execute("UPDATE accounts SET last_bot_action_by = ?, last_bot_action_at = ? WHERE id = ?", [bot["name"], at, account["id"]])
    result["account_state"] = get_account(db, account["id"])["lifecycle_state"]
    db.execute("UPDATE tasks SET result_json = ? WHERE id = ?", [_json(result), task["id"]])
    ws.events.record(
        db, at, event_kind, actor, account_id=account["id"], bot_id=bot_id, task_id=task["id"],
        proxy_id=account["proxy_id"], cause=error_kind,
        message=f"{task['kind']} {task['step_name']} of {account['username']}, attempt {attempts}: {error_message} → {result['status']}",
        details={"error_kind": error_kind, "error_details": error_details, "attempts": attempts,
                 "retry_at": result["retry_at"], "outcome": result["status"]},
    )
    return result


PROXY_ERROR_WINDOW = timedelta(hours=24)


def _check_proxy(ws, db: Database, account_id: int, now: datetime, actor: str) -> None:
    """proxy_error reports from `proxies.error_accounts_threshold` different accounts of one proxy,
    within a day and since the proxy was last changed, set it to `error`."""
    proxy = db.one(
        "SELECT p.* FROM proxies p JOIN accounts a ON a.proxy_id = p.id WHERE a.id = ?", [account_id]
    )
    if proxy is None or proxy["status"] != "active":
        return
    since = max(to_db(now - PROXY_ERROR_WINDOW), proxy["updated_at"])
    accounts = db.scalar(
        """SELECT COUNT(DISTINCT s.account_id) FROM accounts a JOIN step_log s ON s.account_id = a.id
           WHERE a.proxy_id = ? AND s.error_kind = 'proxy_error' AND s.completed_at >= ?""",
        [proxy["id"], since],
    )
    if accounts >= ws.config.proxies.error_accounts_threshold:
        from . import proxies

        proxies.set_status(
            ws, proxy["id"], "error", actor=actor,
            cause=f"proxy_error reported for {accounts} accounts",
        )


# -- heartbeat -------------------------------------------------------------------------------
def heartbeat(
    ws,
    bot_id: int,
    *,
    status: str | None = None,
    current_task_id: int | None = None,
    app_version: str | None = None,
    system_info: Any = None,
    now: datetime | str | None = None,
) -> dict:
    """The bot is alive: its last-seen time is set and the leases of the tasks it holds are
    extended to now + `bot.lease_minutes` (a lease that already ran out stays expired)."""
    db = ws.db()
    now = as_instant(ws, now)
    at = to_db(now)
    with db.write():
        get_bot(db, bot_id)
        expire_leases(ws, db, now, actor="system")
        lease = to_db(now + timedelta(minutes=ws.config.bot.lease_minutes))
        extended = db.execute(
            "UPDATE tasks SET lease_expires_at = ?, updated_at = ? WHERE status = 'claimed' AND bot_id = ? AND lease_expires_at > ?",
            [lease, at, bot_id, at],
        ).rowcount
        db.execute(
            """UPDATE bots SET last_seen_at = ?, status = COALESCE(?, status), current_task_id = ?,
                      app_version = COALESCE(?, app_version), system_info_json = COALESCE(?, system_info_json)
               WHERE id = ?""",
            [at, status, current_task_id, app_version, _json(system_info), bot_id],
        )
    return {"server_time": at, "leases_extended": extended, "lease_expires_at": lease if extended else None}
