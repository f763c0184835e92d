"""Needs attention: the review list, and what an operator does about it.

`attention()` gathers every item of requirements.md's "Needs Attention" view: accounts in human
review (with the last error and how long they have waited), accounts without a proxy, accounts
on a proxy that is not active, bots silent past `bot.offline_after_minutes`, failed operations
(tasks waiting for a retry, tasks dropped in the last day) and content problems (a type with
no item at all, content running short).

`retry()` puts an account's stuck task back in the queue, due now, with fresh attempts;
`resolve()` records the step as done by a person and moves on as a bot's completion would.
Both are all-or-nothing over the accounts named.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from . import content, lifecycle, tasks
from .clock import from_db, to_db
from .db import Database
from .errors import IllegalTransition, InvalidInput, NotFound

DROPPED_WINDOW = timedelta(hours=24)
ITEM_KEYS = ("kind", "username", "account_id", "state", "step_number", "step_name", "proxy_id", "bot",
             "model", "since", "waited_seconds", "message")  # fmt: skip


def _item(**values) -> dict:
    return {k: values.get(k) for k in ITEM_KEYS} | {k: v for k, v in values.items() if k not in ITEM_KEYS}


def _waited(now: datetime, since: str | None) -> int | None:
    return None if since is None else max(int((now - from_db(since)).total_seconds()), 0)


def attention(ws, now: datetime | str | None = None) -> list[dict]:
    """Every item that needs a person, most urgent kinds first, oldest first within a kind."""
    db = ws.db()
    now = tasks.as_instant(ws, now)
    items: list[dict] = []
    items += _human_review(db, now)
    items += _without_proxy(db, now)
    items += _bad_proxy(db, now)
    items += _proxy_health(ws, now)
    items += _silent_bots(ws, db, now)
    items += _failed_operations(db, now)
    items += _content_problems(ws, db, now)
    items += _model_problems(ws, db, now)
    return items


def _human_review(db: Database, now: datetime) -> list[dict]:
    rows = db.query(
        """SELECT a.*, t.id AS task_id, t.kind AS task_kind, t.step_number AS task_step, t.step_name AS task_step_name,
                  t.attempts, t.last_error_kind, b.name AS bot_name, m.name AS model_name
           FROM accounts a
           LEFT JOIN tasks t ON t.account_id = a.id AND t.status = 'review'
           LEFT JOIN bots b ON b.id = a.bot_id
           LEFT JOIN models m ON m.id = a.model_id
           WHERE a.lifecycle_state = 'human_review'
           ORDER BY a.last_error_at, a.id"""
    )
    return [
        _item(
            kind="human_review", username=r["username"], account_id=r["id"], state=r["lifecycle_state"],
            step_number=r["task_step"], step_name=r["task_step_name"], proxy_id=r["proxy_id"], bot=r["bot_name"],
            model=r["model_name"], since=r["last_error_at"], waited_seconds=_waited(now, r["last_error_at"]),
            message=r["last_error_message"], task_id=r["task_id"], task_kind=r["task_kind"],
            error_kind=r["last_error_kind"], attempts=r["attempts"], retry_count=r["retry_count"],
        )  # fmt: skip
        for r in rows
    ]


def _without_proxy(db: Database, now: datetime) -> list[dict]:
    rows = db.query(
        """SELECT a.*, m.name AS model_name FROM accounts a LEFT JOIN models m ON m.id = a.model_id
           WHERE a.proxy_id IS NULL AND a.lifecycle_state != 'retired'
           ORDER BY a.created_at, a.id"""
    )
    return [
        _item(
            kind="no_proxy", username=r["username"], account_id=r["id"], state=r["lifecycle_state"],
            model=r["model_name"], since=r["created_at"], waited_seconds=_waited(now, r["created_at"]),
            message="no proxy: add proxies (igctl proxy add/import) or free a slot, then igctl proxy auto-assign",
        )  # fmt: skip
        for r in rows
    ]


def _bad_proxy(db: Database, now: datetime) -> list[dict]:
    rows = db.query(
        """SELECT a.*, p.status AS proxy_status, p.host, p.port, p.updated_at AS proxy_changed_at, m.name AS model_name
           FROM proxies p JOIN accounts a ON a.proxy_id = p.id
           LEFT JOIN models m ON m.id = a.model_id
           WHERE p.status != 'active' AND a.lifecycle_state != 'retired'
           ORDER BY p.id, a.id"""
    )
    return [
        _item(
            kind="bad_proxy", username=r["username"], account_id=r["id"], state=r["lifecycle_state"],
            proxy_id=r["proxy_id"], model=r["model_name"], since=r["proxy_changed_at"],
            waited_seconds=_waited(now, r["proxy_changed_at"]), proxy_status=r["proxy_status"],
            message=f"proxy {r['proxy_id']} ({r['host']}:{r['port']}) is {r['proxy_status']}: its accounts get no tasks",
        )  # fmt: skip
        for r in rows
    ]


def _proxy_health(ws, now: datetime) -> list[dict]:
    """Proxies in error or inactive (with or without accounts) and unacknowledged exit-IP
    changes, from the proxy health engine."""
    from . import proxy_health

    return [_item(**item, waited_seconds=_waited(now, item.get("since"))) for item in proxy_health.attention(ws)]


def _silent_bots(ws, db: Database, now: datetime) -> list[dict]:
    minutes = ws.config.bot.offline_after_minutes
    cutoff = to_db(now - timedelta(minutes=minutes))
    rows = db.query(
        """SELECT b.*, (SELECT COUNT(*) FROM accounts a WHERE a.bot_id = b.id) AS bound,
                  (SELECT COUNT(*) FROM tasks t WHERE t.bot_id = b.id AND t.status = 'claimed') AS claimed
           FROM bots b WHERE b.revoked_at IS NULL AND COALESCE(b.last_seen_at, b.created_at) < ?
           ORDER BY COALESCE(b.last_seen_at, b.created_at), b.id""",
        [cutoff],
    )
    out = []
    for r in rows:
        seen = r["last_seen_at"]
        what = f"last seen {seen}" if seen else "never seen since it was added"
        out.append(_item(
            kind="bot_offline", bot=r["name"], since=seen or r["created_at"],
            waited_seconds=_waited(now, seen or r["created_at"]), bound_accounts=r["bound"], claimed_tasks=r["claimed"],
            message=f"bot {r['name']} silent for more than {minutes:g} minutes ({what}); {r['bound']} bound accounts wait for it",
        ))  # fmt: skip
    return out


def _failed_operations(db: Database, now: datetime) -> list[dict]:
    retrying = db.query(
        """SELECT t.*, a.username, a.lifecycle_state, a.proxy_id, b.name AS bot_name, m.name AS model_name
           FROM tasks t JOIN accounts a ON a.id = t.account_id LEFT JOIN bots b ON b.id = a.bot_id
           LEFT JOIN models m ON m.id = COALESCE(t.model_id, a.model_id)
           WHERE t.status = 'queued' AND t.last_error IS NOT NULL
           ORDER BY t.updated_at, t.id"""
    )
    dropped = db.query(
        """SELECT t.*, a.username, a.lifecycle_state, a.proxy_id, b.name AS bot_name, m.name AS model_name
           FROM tasks t JOIN accounts a ON a.id = t.account_id LEFT JOIN bots b ON b.id = a.bot_id
           LEFT JOIN models m ON m.id = COALESCE(t.model_id, a.model_id)
           WHERE t.status = 'dropped' AND t.updated_at >= ?
           ORDER BY t.updated_at, t.id""",
        [to_db(now - DROPPED_WINDOW)],
    )
    out = [
        _item(
            kind="retrying", username=r["username"], account_id=r["account_id"], state=r["lifecycle_state"],
            step_number=r["step_number"], step_name=r["step_name"], proxy_id=r["proxy_id"], bot=r["bot_name"],
            model=r["model_name"], since=r["updated_at"], waited_seconds=_waited(now, r["updated_at"]), task_id=r["id"],
            task_kind=r["kind"],
            error_kind=r["last_error_kind"], attempts=r["attempts"], retry_at=r["due_at"],
            message=f"{r['kind']} {r['step_name']} failed (attempt {r['attempts']}): {r['last_error']}; retry due {r['due_at']}",
        )  # fmt: skip
        for r in retrying
    ]
    out += [
        _item(
            kind="dropped", username=r["username"], account_id=r["account_id"], state=r["lifecycle_state"],
            step_number=r["step_number"], step_name=r["step_name"], proxy_id=r["proxy_id"], bot=r["bot_name"],
            model=r["model_name"], since=r["updated_at"], waited_seconds=_waited(now, r["updated_at"]), task_id=r["id"],
            task_kind=r["kind"],
            message=f"{r['kind']} {r['step_name']} dropped: nobody claimed it before {r['stale_at']}",
        )  # fmt: skip
        for r in dropped
    ]
    return out


def _content_problems(ws, db: Database, now: datetime) -> list[dict]:
    out = []
    for m in content.missing_types(ws, db):
        out.append(_item(
            kind="content_missing", model=m["model"], step_name=", ".join(m["steps"]), since=m["oldest_due_at"],
            waited_seconds=_waited(now, m["oldest_due_at"]), content_type=m["type"], waiting_tasks=m["waiting_tasks"],
            message=f"{m['model']} has no {m['type']} {m['kind']} at all: {m['waiting_tasks']} task(s) wait; add some to {m['folder']}",
        ))  # fmt: skip
    for s in content.running_short(ws, db):
        out.append(_item(
            kind="content_short", model=s["model"], since=s["first_at"], waited_seconds=_waited(now, s["first_at"]),
            content_type=s["type"], reuses=s["reuses"],
            message=f"{s['model']} is running short of {s['type']} {s['kind']}s: reused {s['reuses']} time(s) by {s['accounts']} account(s)",
        ))  # fmt: skip
    return out


def _model_problems(ws, db: Database, now: datetime) -> list[dict]:
    """A model's strategy file that cannot be applied (the stored strategy stays in force), and
    ready accounts whose reassignment waits for a proxy that may serve their new model."""
    from . import models

    out = [
        _item(kind="strategy_invalid", model=p["model"], message=f"strategy of {p['model']} not applied: {p['error']}")
        for p in models.strategy_problems(ws, db)
    ]
    rows = db.query(
        """SELECT a.*, m.name AS target FROM accounts a JOIN models m ON m.id = a.reassign_to_model_id
           WHERE a.reassign_to_model_id IS NOT NULL AND a.lifecycle_state = 'ready' ORDER BY a.updated_at, a.id"""
    )
    out += [
        _item(
            kind="reassign_waiting", username=r["username"], account_id=r["id"], state=r["lifecycle_state"],
            proxy_id=r["proxy_id"], model=r["target"], since=r["updated_at"], waited_seconds=_waited(now, r["updated_at"]),
            message=f"{r['username']} waits to join {r['target']}: no active proxy with room may serve it; add proxies "
                    "or free a slot (tick retries)",
        )  # fmt: skip
        for r in rows
    ]
    return out


# -- acting on review ------------------------------------------------------------------------
def _accounts_in_review(db: Database, usernames: list[str] | None, all_: bool) -> list:
    """The accounts to act on: every one in review (all_), or the named ones, each of which must
    exist and be in review (else nothing is done)."""
    if all_ and usernames:
        raise InvalidInput("give usernames or --all, not both")
    if all_:
        return db.query("SELECT * FROM accounts WHERE lifecycle_state = 'human_review' ORDER BY id")
    if not usernames:
        raise InvalidInput("name at least one account, or use --all")
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


def _review_task(ws, db: Database, account, now: datetime, actor: str):
    """The task the account is stuck on. An account sent to review without one (by hand, or by
    older data) gets its warm-up step's task, made if need be."""
    task = db.one("SELECT * FROM tasks WHERE account_id = ? AND status = 'review' ORDER BY id DESC LIMIT 1", [account["id"]])
    if task is not None:
        return task
    if account["warmup_completed_at"] is None and account["warmup_step"]:
        key = tasks.warmup_key(account["id"], account["warmup_step"])
        task = db.one("SELECT * FROM tasks WHERE idempotency_key = ?", [key])
        if task is None:
            tasks.queue_warmup_step(ws, db, account["id"], account["warmup_step"], now, now, actor)
            task = db.one("SELECT * FROM tasks WHERE idempotency_key = ?", [key])
        if task["status"] in ("queued", "claimed"):
            raise IllegalTransition(f"account {account['username']}: its step {task['step_number']} is already {task['status']}")
        if task["status"] == "completed":
            raise IllegalTransition(f"account {account['username']}: its step {task['step_number']} is already completed; nothing to resolve")
        return task
    raise IllegalTransition(f"account {account['username']} is in review without a step to retry or resolve")


def _back_to_work(ws, db: Database, account, task, now: datetime, actor: str, cause: str) -> None:
    lifecycle.move(
        db, ws.events, account, tasks.KIND_STATE[task["kind"]], at=to_db(now), actor=actor, cause=cause,
        fields={"requires_human_review": 0, "retry_count": 0},
    )


def retry(ws, usernames: list[str] | None = None, *, all_: bool = False, actor: str, now: datetime | str | None = None) -> list[dict]:
    """Put each account's stuck step back in the queue, due now, with fresh attempts; the
    account returns to the state its task runs in (warming_up for a warm-up step)."""
    db = ws.db()
    now = tasks.as_instant(ws, now)
    at = to_db(now)
    out = []
    with db.write():
        for account in _accounts_in_review(db, usernames, all_):
            task = _review_task(ws, db, account, now, actor)
            _back_to_work(ws, db, account, task, now, actor, cause="review retry")
            # a scheduled slot retried by a person gets a fresh grace period instead of going stale at once
            stale = to_db(now + timedelta(hours=ws.config.schedule.grace_hours))
            db.execute(
                """UPDATE tasks SET status = 'queued', due_at = ?, attempts = 0, bot_id = NULL, lease_expires_at = NULL,
                          stale_at = CASE WHEN stale_at IS NULL THEN NULL ELSE ? END,
                          result_json = NULL, updated_at = ? WHERE id = ?""",
                [at, stale, at, task["id"]],
            )
            ws.events.record(
                db, at, "task.requeued", actor, account_id=account["id"], task_id=task["id"], cause="review retry",
                message=f"{task['kind']} {task['step_name']} of {account['username']} back in the queue, due now",
            )
            out.append({"username": account["username"], "account_id": account["id"], "task_id": task["id"],
                        "kind": task["kind"], "step_number": task["step_number"], "step_name": task["step_name"],
                        "due_at": at})  # fmt: skip
    return out


def resolve(ws, usernames: list[str] | None = None, *, note: str, all_: bool = False, actor: str, now: datetime | str | None = None) -> list[dict]:
    """Record each account's stuck step as done by a person (the note kept in its step log and
    the event log) and move on exactly as a bot's completion would: the next step is queued, or
    after the plan's last step the account is ready."""
    note = (note or "").strip()
    if not note:
        raise InvalidInput("say what was done (--note TEXT)")
    db = ws.db()
    now = tasks.as_instant(ws, now)
    at = to_db(now)
    out = []
    with db.write():
        for account in _accounts_in_review(db, usernames, all_):
            task = _review_task(ws, db, account, now, actor)
            _back_to_work(ws, db, account, task, now, actor, cause="review resolved")
            db.execute(
                """INSERT INTO step_log (task_id, account_id, kind, step_number, step_name, started_at, completed_at,
                                         status, bot_session_id, content_used_json, retry_count)
                   VALUES (?, ?, ?, ?, ?, ?, ?, 'completed', ?, ?, ?)""",
                [task["id"], account["id"], task["kind"], task["step_number"], task["step_name"], at, at,
                 f"human:{actor}", task["content_json"], task["attempts"]],
            )
            ws.events.record(
                db, at, "account.review_resolved", actor, account_id=account["id"], task_id=task["id"],
                message=f"{task['kind']} {task['step_name']} of {account['username']} done by hand: {note}",
                details={"note": note, "step_number": task["step_number"], "step_name": task["step_name"]},
            )
            result = tasks.finish_task(ws, db, task, now=now, actor=actor, bot_id=None, how=f"by hand ({actor})")
            out.append({"username": account["username"], "account_id": account["id"], "task_id": task["id"],
                        "kind": task["kind"], "step_number": task["step_number"], "step_name": task["step_name"],
                        "account_state": result["account_state"], "next_task": result["next_task"]})  # fmt: skip
    return out
