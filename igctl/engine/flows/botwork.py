"""A bot's work: claim the next task, report it done or failed, keep its leases alive.

These are what the bot API calls (`claim_next`, `complete`, `fail`, `heartbeat`); each is one
`BEGIN IMMEDIATE` transaction, takes a workspace, uses this thread's connection and returns a
plain dict. Expired leases are swept at the start of each of them (and of every tick).

What a kind of task means lives here, in two tables: `KIND_STATE` (the account state each kind
runs in; a task of an account in any other state is not handed out) and `FOLLOW_UPS` (what
follows a completed task of each kind). The status changes themselves are the queue's
(`queue/tasks.py`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from ..domain import bots, content, lifecycle, proxies
from ..domain.plan import Plan, backoff
from ..queue import tasks
from ..store.clock import from_db, to_db
from ..store.db import Database
from ..store.errors import Conflict, InvalidInput
from ..store.records import AccountRow, BotRow, Record, TaskRow
from ..store.workspace import Workspace
from . import models, warmup

KIND_STATE = {
    "warmup": lifecycle.WARMING_UP,
    "onboarding": lifecycle.ACTIVE,
    "post": lifecycle.ACTIVE,
    "story": lifecycle.ACTIVE,
    "highlight": lifecycle.ACTIVE,
    "cleanup": lifecycle.CLEANUP,
}

# (ws, db, the completed task, its account, now, actor) → what the completion answer adds
FollowUp = Callable[[Workspace, Database, TaskRow, AccountRow, datetime, str], dict[str, Any]]
# What follows a completed task, per kind. Kinds without an entry (post, story, highlight) need
# nothing more: each is one slot of the schedule, which tick plans on its own.
FOLLOW_UPS: dict[str, FollowUp] = {
    "warmup": warmup.step_done,
    "onboarding": models.onboarding_step_done,
    "cleanup": models.cleanup_step_done,
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
# a password the bot console shows masked until the operator reveals it
MASK = "••••••••"

# Candidates are read in batches: the first is small (nearly always its first row is taken),
# later ones grow, for a queue whose head waits for content.
CANDIDATE_BATCHES = (4, 32, 256)
PROXY_ERROR_WINDOW = timedelta(hours=24)


def bot_actor(bot: BotRow) -> str:
    return f"bot:{bot['name']}"


# -- leases ----------------------------------------------------------------------------------
def expire_leases(
    ws: Workspace, db: Database | None = None, now: datetime | str | None = None, actor: str = "system"
) -> int:
    """Every claimed task whose lease has run out (lease_expires_at <= now) goes back to the
    queue at once, its attempt settled as failed; the last allowed attempt sends the account to
    review. Returns how many leases expired."""
    db = db or ws.db()
    now = ws.instant(now)
    with db.write():
        rows = tasks.expired(db, to_db(now))
        for task in rows:
            bot = db.one("SELECT id, name FROM bots WHERE id = ?", [task["bot_id"]])
            holder = bot["name"] if bot else f"#{task['bot_id']}"
            _settle_failure(
                ws,
                db,
                task,
                now=now,
                actor=actor,
                bot_id=task["bot_id"],
                error_message=f"lease expired: bot {holder} did not report within {ws.config.bot.lease_minutes:g} minutes",
                error_kind=LEASE_EXPIRED,
                error_details={"lease_expires_at": task["lease_expires_at"]},
                review_now=False,
                delay=None,
                event_kind="task.lease_expired",
            )
    return len(rows)


# -- claiming --------------------------------------------------------------------------------
def _may_bind(db: Database, bot: BotRow) -> bool:
    """Whether the bot has a free slot for an account it does not have yet."""
    if bot["slots"] is None:
        return True
    return db.scalar("SELECT COUNT(*) FROM accounts WHERE bot_id = ?", [bot["id"]]) < bot["slots"]


def _state_of_kind_sql() -> str:
    """KIND_STATE as an SQL CASE over `t.kind`."""
    whens = " ".join(f"WHEN '{kind}' THEN '{state}'" for kind, state in KIND_STATE.items())
    return f"CASE t.kind {whens} END"


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
      AND a.lifecycle_state = {_state_of_kind_sql()}
      AND (a.bot_id = :bot OR (a.bot_id IS NULL AND :may_bind))
      AND NOT EXISTS (SELECT 1 FROM tasks c WHERE c.account_id = t.account_id AND c.status = 'claimed')
    ORDER BY t.due_at, t.id
    LIMIT :limit
"""


def _choose_content(ws: Workspace, db: Database, task: TaskRow, account: AccountRow, at: str, actor: str) -> Any:
    """The task's content: what was chosen before (stable across attempts), or a new choice
    by the content engine (recorded by the claim); None when the step's content type has no
    item at all."""
    if task["content_json"] is not None:
        return json.loads(task["content_json"])
    return content.choose_for_task(ws, db, task, account, actor=actor, now=at, record=False)


def _split_candidate(row: Record) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A candidate row as (task, account, proxy) dicts."""
    task: dict[str, Any] = {}
    account: dict[str, Any] = {}
    proxy: dict[str, Any] = {}
    for key in row.keys():
        if key.startswith("a__"):
            account[key[3:]] = row[key]
        elif key.startswith("p__"):
            proxy[key[3:]] = row[key]
        else:
            task[key] = row[key]
    account["id"], proxy["id"] = task["account_id"], account["proxy_id"]
    return task, account, proxy


def claim_next(
    ws: Workspace,
    bot_id: int,
    now: datetime | str | None = None,
    idempotency_key: str | None = None,
    *,
    actor: str | None = None,
) -> dict[str, Any] | None:
    """Hand the oldest due task this bot may work on to it, or return None when there is none.

    One BEGIN IMMEDIATE transaction: expired leases are swept, the candidate is chosen (due,
    not stale, account in the state its kind runs in, proxy active, account bound to this bot
    or unbound while the bot has a free slot, no other claimed task of the account, content
    available), the account is bound, and the claim, the attempt's step-log row and the
    credential hand-out are recorded. Returns the task payload of the bot API (§7).

    `idempotency_key`: kept with the claim; while the task is still claimed by this bot, a
    claim with the same key returns that task again instead of a new one (`_claimed_again`).

    `actor`: who claims for the bot when it is not the bot itself: the bot console passes the
    operator (`operator:<name>`), and the events name the operator (their `bot_id` stays the
    bot's); the bot is not marked as seen, since its phone was not."""
    db = ws.db()
    now = ws.instant(now)
    at = to_db(now)
    with db.write():
        bot = bots.get_bot(db, bot_id, seen_at=None if actor else at)
        operator = actor  # None: the bot itself, through the API
        actor = operator or bot_actor(bot)
        expire_leases(ws, db, now, actor="system")
        if idempotency_key is not None:
            again = _claimed_again(ws, db, bot, idempotency_key, at, operator)
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
                {
                    "now": at,
                    "after_due": after_due,
                    "after_id": after_id,
                    "bot": bot_id,
                    "may_bind": may_bind,
                    "limit": limit,
                },
            )
            for row in batch:
                candidate, candidate_account, candidate_proxy = _split_candidate(row)
                if candidate_account["bot_id"] is None:
                    free_slot = free_slot or bots.lowest_free_slot(db, bot)
                    if free_slot is None:
                        continue
                chosen_content = _choose_content(ws, db, candidate, candidate_account, at, actor)
                if chosen_content is not None:
                    task, account, proxy = candidate, candidate_account, candidate_proxy
                    payload_content = chosen_content
                    break
            if task is None:
                if len(batch) < limit:
                    return None
                after_due, after_id = batch[-1]["due_at"], batch[-1]["id"]
        assert account is not None and proxy is not None

        slot = account["slot"]
        lease = to_db(now + timedelta(minutes=ws.config.bot.lease_minutes))
        if account["bot_id"] is None:
            slot = free_slot
            bots.bind(db, ws.events, bot, account, slot=slot, at=at, actor=operator)
        else:
            db.execute(
                "UPDATE accounts SET last_bot_action_by = ?, last_bot_action_at = ? WHERE id = ?",
                [bot["name"], at, account["id"]],
            )
        attempt = tasks.claim(
            db,
            ws.events,
            task,
            bot=bot,
            username=account["username"],
            proxy_id=account["proxy_id"],
            at=at,
            lease=lease,
            content_json=tasks.as_json(payload_content),
            claim_key=idempotency_key,
            actor=operator,
        )
        return _task_payload(ws, task, account, proxy, slot=slot, attempt=attempt, content=payload_content, lease=lease)


def _task_payload(
    ws: Workspace,
    task: Any,
    account: Any,
    proxy: Any,
    *,
    slot: int | None,
    attempt: int,
    content: Any,
    lease: str,
    masked: bool = False,
) -> dict[str, Any]:
    """A claimed task as the bot API hands it out, credentials decrypted (inside the claim's
    transaction: no claim stays without its hand-out); `masked`: every password that is set
    shown as MASK instead (the bot console before the operator reveals them)."""
    cipher = ws.cipher

    def secret(token: str | None) -> str | None:
        value = cipher.decrypt(token)
        return MASK if masked and value else value

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
            "password": secret(account["password_enc"]),
            "email": account["email"],
            "email_password": secret(account["email_password_enc"]),
        },
        "proxy": {
            "id": proxy["id"],
            "scheme": proxy["scheme"],
            "host": proxy["host"],
            "port": proxy["port"],
            "username": proxy["username"] or None,
            "password": secret(proxy["password_enc"]),
        },
        "content": content,
        "lease_expires_at": lease,
    }


def _claimed_again(
    ws: Workspace, db: Database, bot: Any, key: str, at: str, actor: str | None
) -> dict[str, Any] | None:
    """The task this bot claimed with `key` and still holds, handed out again (its answer was
    lost on the way and the bot retried), or None. No new claim, lease or attempt; the
    credentials hand-out is recorded again, as every hand-out is (`actor`: the operator at
    the bot console, None for the bot itself)."""
    task = db.one("SELECT * FROM tasks WHERE bot_id = ? AND claim_key = ? AND status = 'claimed'", [bot["id"], key])
    if task is None:
        return None
    account = db.one("SELECT * FROM accounts WHERE id = ?", [task["account_id"]])
    assert account is not None  # a task's account is never deleted (a foreign key)
    proxy = db.one("SELECT * FROM proxies WHERE id = ?", [account["proxy_id"]])
    tasks.log_handout(
        db,
        ws.events,
        task,
        bot=bot,
        username=account["username"],
        proxy_id=account["proxy_id"],
        at=at,
        again=True,
        actor=actor,
    )
    content = json.loads(task["content_json"]) if task["content_json"] else None
    return _task_payload(
        ws,
        task,
        account,
        proxy,
        slot=account["slot"],
        attempt=task["attempts"],
        content=content,
        lease=task["lease_expires_at"],
    )


# -- the bot console -------------------------------------------------------------------------
def _held(db: Database, bot_id: int, task_id: int) -> tuple[BotRow, TaskRow, AccountRow, Record]:
    """A task this bot holds now, with its account and proxy: NotFound / Forbidden (revoked)
    for the bot, NotFound for the task, Conflict when the bot does not hold it."""
    bot = bots.get_bot(db, bot_id)
    task = tasks.get(db, task_id)
    _check_holder(task, bot)
    account = db.one("SELECT * FROM accounts WHERE id = ?", [task["account_id"]])
    assert account is not None  # a task's account is never deleted (a foreign key)
    proxy = db.one("SELECT * FROM proxies WHERE id = ?", [account["proxy_id"]])
    if proxy is None:
        raise Conflict(f"account {account['username']} has no proxy any more", detail={"task_id": task_id})
    return bot, task, account, proxy


def held_task(ws: Workspace, bot_id: int, task_id: int) -> dict[str, Any]:
    """A task the bot holds, as the claim handed it out (the bot API's payload: the content as
    chosen, the lease as it is now), every password that is set masked (MASK). For the bot
    console, to come back to a claimed task; it reads and records nothing."""
    _bot, task, account, proxy = _held(ws.db(), bot_id, task_id)
    return _held_payload(ws, task, account, proxy, masked=True)


def _held_payload(ws: Workspace, task: TaskRow, account: AccountRow, proxy: Any, *, masked: bool) -> dict[str, Any]:
    """A held task's payload as its claim handed it out: the content as chosen, the lease as now."""
    return _task_payload(
        ws,
        task,
        account,
        proxy,
        slot=account["slot"],
        attempt=task["attempts"],
        content=json.loads(task["content_json"]) if task["content_json"] else None,
        lease=task["lease_expires_at"],
        masked=masked,
    )


def reveal_credentials(ws: Workspace, bot_id: int, task_id: int, *, actor: str) -> dict[str, Any]:
    """The payload of a task the bot holds with its passwords shown, for the operator at the
    bot console: a `bot.credentials_revealed` event names the operator (`actor`), the account
    and the task, never a password. Only while the bot holds the task (Conflict otherwise)."""
    db = ws.db()
    at = ws.now()
    with db.write():
        bot, task, account, proxy = _held(db, bot_id, task_id)
        ws.events.record(
            db,
            at,
            "bot.credentials_revealed",
            actor,
            account_id=account["id"],
            bot_id=bot["id"],
            task_id=task["id"],
            proxy_id=proxy["id"],
            message=f"{actor} revealed the passwords of {account['username']} and its proxy "
            f"at bot {bot['name']}'s console (task {task['id']})",
            details={"revealed": ["account password", "email password", "proxy password"], "bot": bot["name"]},
        )
        return _held_payload(ws, task, account, proxy, masked=False)


# -- completion ------------------------------------------------------------------------------
def _check_holder(task: TaskRow, bot: BotRow) -> None:
    if task["status"] != tasks.CLAIMED or task["bot_id"] != bot["id"]:
        raise Conflict(
            f"bot {bot['name']} does not hold task {task['id']} (it is {task['status']})",
            detail={"task_id": task["id"], "status": task["status"]},
        )


def _check_number(name: str, value: Any, *, minimum: float = 0) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        raise InvalidInput(f"{name} must be a number of at least {minimum:g}", detail={name: value})


def complete(
    ws: Workspace,
    task_id: int,
    bot_id: int,
    *,
    execution_time_ms: int | None = None,
    content_used: Any = None,
    instagram_response: Any = None,
    now: datetime | str | None = None,
    actor: str | None = None,
) -> dict[str, Any]:
    """The holder reports success. The attempt is logged, the account advances (the next step
    queued at once, due at its time), and the answer is kept: the same report again gets the
    same answer. Anyone but the holder gets Conflict, and so does the holder once its lease
    has run out. `actor`: the operator reporting for the bot at its console (as `claim_next`)."""
    _check_number("execution_time_ms", execution_time_ms)
    db = ws.db()
    now = ws.instant(now)
    at = to_db(now)
    with db.write():
        bot = bots.get_bot(db, bot_id)
        task = tasks.get(db, task_id)
        if task["status"] == tasks.COMPLETED and task["bot_id"] == bot_id and task["result_json"]:
            return json.loads(task["result_json"])  # a repeated report changes nothing
        if expire_leases(ws, db, now, actor="system"):
            task = tasks.get(db, task_id)
        _check_holder(task, bot)
        if actor is None:
            db.execute("UPDATE bots SET last_seen_at = ? WHERE id = ?", [at, bot_id])
        how = "by bot " + bot["name"] if actor is None else f"by {actor} for bot {bot['name']}"
        actor = actor or bot_actor(bot)
        tasks.log_success(
            db,
            task_id,
            at=at,
            execution_time_ms=execution_time_ms,
            content_used=content_used,
            instagram_response=instagram_response,
        )
        account = db.one(
            """UPDATE accounts SET last_bot_action_by = ?, last_bot_action_at = ?, retry_count = 0, updated_at = ?
               WHERE id = ? RETURNING *""",
            [bot["name"], at, at, task["account_id"]],
        )
        timing = {
            "execution_time_ms": execution_time_ms,
            "seconds_since_claim": round((now - from_db(task["claimed_at"])).total_seconds(), 3),
        }
        return finish_task(
            ws,
            db,
            task,
            now=now,
            actor=actor,
            bot_id=bot_id,
            how=how,
            details=timing,
            account=account,
        )


def finish_task(
    ws: Workspace,
    db: Database,
    task: TaskRow,
    *,
    now: datetime,
    actor: str,
    bot_id: int | None,
    how: str,
    details: dict[str, Any] | None = None,
    account: AccountRow | None = None,
) -> dict[str, Any]:
    """Mark a task completed and run its kind's follow-up (shared by a bot's completion and a
    human's `review resolve`). Returns the answer, which is also stored on the task. `details`
    join the `task.completed` event's (a bot's timing); `account` is the task's account row
    when the caller has just read it."""
    at = to_db(now)
    account = account or db.one("SELECT * FROM accounts WHERE id = ?", [task["account_id"]])
    assert account is not None  # accounts are never deleted
    tasks.complete(
        db, ws.events, task, at=at, actor=actor, bot_id=bot_id, username=account["username"], how=how, details=details
    )
    follow_up = FOLLOW_UPS.get(task["kind"])
    extra = follow_up(ws, db, task, account, now, actor) if follow_up else {}
    if follow_up:
        state = db.scalar("SELECT lifecycle_state FROM accounts WHERE id = ?", [account["id"]])
    else:
        state = account["lifecycle_state"]
    result = {
        "task_id": task["id"],
        "status": "completed",
        "completed_at": at,
        "account_id": account["id"],
        "account_state": state,
        "next_task": extra.get("next_task"),
    }
    tasks.store_result(db, task["id"], result)
    return result


# -- failure ---------------------------------------------------------------------------------
def fail(
    ws: Workspace,
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
    actor: str | None = None,
) -> dict[str, Any]:
    """The holder reports failure. The attempt is logged with its error, the error is kept on
    the account, and the task is re-queued at its retry time, or the account goes to human
    review (at once for challenge, captcha, login_failed, requires_review or not retryable;
    otherwise after `warmup.max_attempts` attempts). Repeated `proxy_error` reports from
    different accounts of one proxy set the proxy to `error`. The same report again gets the
    same answer; anyone but the holder gets Conflict. `actor`: the operator reporting for the
    bot at its console (as `claim_next`)."""
    if not isinstance(error_message, str) or not error_message.strip():
        raise InvalidInput("error_message is required")
    if error_kind not in ERROR_KINDS:
        raise InvalidInput(
            f"unknown error_kind {error_kind!r}; one of: {', '.join(ERROR_KINDS)}", detail={"error_kind": error_kind}
        )
    _check_number("retry_after_seconds", retry_after_seconds)
    db = ws.db()
    now = ws.instant(now)
    with db.write():
        bot = bots.get_bot(db, bot_id)
        task = tasks.get(db, task_id)
        repeat = _repeated_failure(db, task, bot_id)
        if repeat is not None:
            return repeat
        expire_leases(ws, db, now, actor="system")
        task = tasks.get(db, task_id)
        _check_holder(task, bot)
        settings = ws.config.warmup
        if error_kind == "rate_limited" and retry_after_seconds is not None:
            delay = timedelta(seconds=retry_after_seconds)
        else:
            delay = backoff(settings, task["attempts"])
            if retry_after_seconds is not None:
                delay = max(delay, timedelta(seconds=retry_after_seconds))
        review_now = bool(requires_review) or not retryable or error_kind in REVIEW_AT_ONCE
        if actor is None:
            db.execute("UPDATE bots SET last_seen_at = ? WHERE id = ?", [to_db(now), bot_id])
        actor = actor or bot_actor(bot)
        result = _settle_failure(
            ws,
            db,
            task,
            now=now,
            actor=actor,
            bot_id=bot_id,
            error_message=error_message.strip(),
            error_kind=error_kind,
            error_details=error_details,
            review_now=review_now,
            delay=delay,
            event_kind="task.failed",
        )
        if error_kind == "proxy_error":
            _check_proxy(ws, db, task["account_id"], now, actor)
        return result


def _repeated_failure(db: Database, task: TaskRow, bot_id: int) -> dict[str, Any] | None:
    """The stored answer when this bot's failure report for this task was already taken."""
    if task["status"] == tasks.CLAIMED or not task["result_json"]:
        return None
    last = db.one(
        "SELECT bot_id, status, error_kind FROM step_log WHERE task_id = ? ORDER BY id DESC LIMIT 1", [task["id"]]
    )
    if (
        last is not None
        and last["bot_id"] == bot_id
        and last["status"] in ("failed", "requires_review")
        and last["error_kind"] != LEASE_EXPIRED
    ):
        answer: dict[str, Any] = json.loads(task["result_json"])
        if answer.get("status") != "completed":
            return answer
    return None


def _settle_failure(
    ws: Workspace,
    db: Database,
    task: TaskRow,
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
) -> dict[str, Any]:
    """Settle a failed attempt (a bot's report, or a lease that ran out; delay None = back in
    the queue at once, at its old due time)."""
    at = to_db(now)
    account = db.one("SELECT * FROM accounts WHERE id = ?", [task["account_id"]])
    assert account is not None  # accounts are never deleted
    attempts = task["attempts"]
    review = review_now or attempts >= ws.config.warmup.max_attempts
    due: datetime | None
    if account["lifecycle_state"] != KIND_STATE[task["kind"]]:
        outcome, due = "cancelled", None
    elif review:
        outcome, due = "human_review", None
    elif delay is None:
        outcome, due = "queued", from_db(task["due_at"])
    else:
        due = Plan.of(ws).retry_due(now, delay) if task["kind"] == "warmup" else now + delay
        outcome = "queued"

    tasks.log_failure(
        db,
        task["id"],
        at=at,
        review=outcome == "human_review",
        error_message=error_message,
        error_kind=error_kind,
        error_details=error_details,
    )
    result: dict[str, Any] = {
        "task_id": task["id"],
        "status": {"queued": "retry_scheduled", "human_review": "human_review", "cancelled": "cancelled"}[outcome],
        "attempts": attempts,
        "max_attempts": ws.config.warmup.max_attempts,
        "retry_at": to_db(due) if due else None,
        "account_id": account["id"],
    }
    fields = {"last_error_message": error_message, "last_error_at": at, "retry_count": attempts}
    if outcome == "human_review":
        lifecycle.move(
            db,
            ws.events,
            account,
            lifecycle.HUMAN_REVIEW,
            at=at,
            actor=actor,
            cause=f"{task['kind']} {task['step_name']} failed: {error_kind}",
            fields={**fields, "requires_human_review": 1},
            details={"task_id": task["id"], "error_message": error_message, "attempts": attempts},
        )
    else:
        sets = ", ".join(f"{k} = ?" for k in fields)
        db.execute(f"UPDATE accounts SET {sets}, updated_at = ? WHERE id = ?", [*fields.values(), at, account["id"]])
    if bot_id is not None and event_kind == "task.failed":
        bot = db.one("SELECT name FROM bots WHERE id = ?", [bot_id])
        assert bot is not None  # bots are revoked, never deleted
        db.execute(
            "UPDATE accounts SET last_bot_action_by = ?, last_bot_action_at = ? WHERE id = ?",
            [bot["name"], at, account["id"]],
        )
    result["account_state"] = db.scalar("SELECT lifecycle_state FROM accounts WHERE id = ?", [account["id"]])
    to = {"queued": tasks.QUEUED, "human_review": tasks.REVIEW, "cancelled": tasks.CANCELLED}[outcome]
    tasks.settle_failure(
        db,
        ws.events,
        task,
        to,
        at=at,
        actor=actor,
        bot_id=bot_id,
        due=to_db(due) if due else None,
        error_message=error_message,
        error_kind=error_kind,
        error_details=error_details,
        result=result,
        event_kind=event_kind,
        username=account["username"],
        proxy_id=account["proxy_id"],
    )
    return result


def _check_proxy(ws: Workspace, db: Database, account_id: int, now: datetime, actor: str) -> None:
    """proxy_error reports from `proxies.error_accounts_threshold` different accounts of one proxy,
    within a day and since the proxy was last changed, set it to `error`."""
    proxy = db.one("SELECT p.* FROM proxies p JOIN accounts a ON a.proxy_id = p.id WHERE a.id = ?", [account_id])
    if proxy is None or proxy["status"] != "active":
        return
    since = max(to_db(now - PROXY_ERROR_WINDOW), proxy["updated_at"])
    accounts = db.scalar(
        """SELECT COUNT(DISTINCT s.account_id) FROM accounts a JOIN step_log s ON s.account_id = a.id
           WHERE a.proxy_id = ? AND s.error_kind = 'proxy_error' AND s.completed_at >= ?""",
        [proxy["id"], since],
    )
    if accounts >= ws.config.proxies.error_accounts_threshold:
        proxies.set_status(ws, proxy["id"], "error", actor=actor, cause=f"proxy_error reported for {accounts} accounts")


# -- heartbeat -------------------------------------------------------------------------------
def heartbeat(
    ws: Workspace,
    bot_id: int,
    *,
    status: str | None = None,
    current_task_id: int | None = None,
    app_version: str | None = None,
    system_info: Any = None,
    now: datetime | str | None = None,
    actor: str | None = None,
) -> dict[str, Any]:
    """The bot is alive: its last-seen time is set and the leases of the tasks it holds are
    extended to now + `bot.lease_minutes` (a lease that already ran out stays expired).
    `actor`: an operator keeping the leases of the bot console's tasks; only the leases are
    extended (what the bot row says of its phone, last seen included, stays the phone's)."""
    db = ws.db()
    now = ws.instant(now)
    at = to_db(now)
    with db.write():
        bots.get_bot(db, bot_id)
        expire_leases(ws, db, now, actor="system")
        lease = to_db(now + timedelta(minutes=ws.config.bot.lease_minutes))
        extended = tasks.extend_leases(db, bot_id, at=at, lease=lease)
        if actor is not None:
            return {"server_time": at, "leases_extended": extended, "lease_expires_at": lease if extended else None}
        db.execute(
            """UPDATE bots SET last_seen_at = ?, status = COALESCE(?, status), current_task_id = ?,
                      app_version = COALESCE(?, app_version), system_info_json = COALESCE(?, system_info_json)
               WHERE id = ?""",
            [at, status, current_task_id, app_version, tasks.as_json(system_info), bot_id],
        )
    return {"server_time": at, "leases_extended": extended, "lease_expires_at": lease if extended else None}
