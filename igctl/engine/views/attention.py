"""Needs attention: every item of requirements.md's "Needs Attention" view, read only.

Accounts in human review (with the last error and how long they have waited), accounts without
a proxy, accounts on a proxy that is not active, proxy health, bots silent past
`bot.offline_after_minutes`, failed operations (tasks waiting for a retry, tasks dropped in the
last day), content problems (a type with no item at all, content running short), and model
problems (a strategy file that cannot be applied, a reassignment waiting for a proxy).
What an operator does about them is `flows/review.py`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ..domain import content, proxy_health
from ..flows.models import strategy_problems
from ..store.clock import from_db, to_db
from ..store.db import Database
from ..store.records import Record
from ..store.workspace import Workspace

DROPPED_WINDOW = timedelta(hours=24)
ITEM_KEYS = (
    "kind",
    "username",
    "account_id",
    "state",
    "step_number",
    "step_name",
    "proxy_id",
    "bot",
    "model",
    "since",
    "waited_seconds",
    "message",
)


def _item(**values: Any) -> dict[str, Any]:
    return {k: values.get(k) for k in ITEM_KEYS} | {k: v for k, v in values.items() if k not in ITEM_KEYS}


def _waited(now: datetime, since: str | None) -> int | None:
    return None if since is None else max(int((now - from_db(since)).total_seconds()), 0)


def attention(ws: Workspace, now: datetime | str | None = None) -> list[dict[str, Any]]:
    """Every item that needs a person, most urgent kinds first, oldest first within a kind."""
    db = ws.db()
    now = ws.instant(now)
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


def _human_review(db: Database, now: datetime) -> list[dict[str, Any]]:
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
            kind="human_review",
            username=r["username"],
            account_id=r["id"],
            state=r["lifecycle_state"],
            step_number=r["task_step"],
            step_name=r["task_step_name"],
            proxy_id=r["proxy_id"],
            bot=r["bot_name"],
            model=r["model_name"],
            since=r["last_error_at"],
            waited_seconds=_waited(now, r["last_error_at"]),
            message=r["last_error_message"],
            task_id=r["task_id"],
            task_kind=r["task_kind"],
            error_kind=r["last_error_kind"],
            attempts=r["attempts"],
            retry_count=r["retry_count"],
        )
        for r in rows
    ]


def _without_proxy(db: Database, now: datetime) -> list[dict[str, Any]]:
    rows = db.query(
        """SELECT a.*, m.name AS model_name FROM accounts a LEFT JOIN models m ON m.id = a.model_id
           WHERE a.proxy_id IS NULL AND a.lifecycle_state != 'retired'
           ORDER BY a.created_at, a.id"""
    )
    return [
        _item(
            kind="no_proxy",
            username=r["username"],
            account_id=r["id"],
            state=r["lifecycle_state"],
            model=r["model_name"],
            since=r["created_at"],
            waited_seconds=_waited(now, r["created_at"]),
            message="no proxy: add proxies (igctl proxy add/import) or free a slot, then igctl proxy auto-assign",
        )
        for r in rows
    ]


def _bad_proxy(db: Database, now: datetime) -> list[dict[str, Any]]:
    rows = db.query(
        """SELECT a.*, p.status AS proxy_status, p.host, p.port, p.updated_at AS proxy_changed_at, m.name AS model_name
           FROM proxies p JOIN accounts a ON a.proxy_id = p.id
           LEFT JOIN models m ON m.id = a.model_id
           WHERE p.status != 'active' AND a.lifecycle_state != 'retired'
           ORDER BY p.id, a.id"""
    )
    return [
        _item(
            kind="bad_proxy",
            username=r["username"],
            account_id=r["id"],
            state=r["lifecycle_state"],
            proxy_id=r["proxy_id"],
            model=r["model_name"],
            since=r["proxy_changed_at"],
            waited_seconds=_waited(now, r["proxy_changed_at"]),
            proxy_status=r["proxy_status"],
            message=f"proxy {r['proxy_id']} ({r['host']}:{r['port']}) is {r['proxy_status']}: its accounts get no tasks",
        )
        for r in rows
    ]


def _proxy_health(ws: Workspace, now: datetime) -> list[dict[str, Any]]:
    """Proxies in error or inactive (with or without accounts) and unacknowledged exit-IP
    changes, from the proxy health engine."""
    return [_item(**item, waited_seconds=_waited(now, item.get("since"))) for item in proxy_health.attention(ws)]


def _silent_bots(ws: Workspace, db: Database, now: datetime) -> list[dict[str, Any]]:
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
        out.append(
            _item(
                kind="bot_offline",
                bot=r["name"],
                since=seen or r["created_at"],
                waited_seconds=_waited(now, seen or r["created_at"]),
                bound_accounts=r["bound"],
                claimed_tasks=r["claimed"],
                message=f"bot {r['name']} silent for more than {minutes:g} minutes ({what}); {r['bound']} bound accounts wait for it",
            )
        )
    return out


def _task_item(r: Record, now: datetime, *, kind: str, message: str, **extra: Any) -> dict[str, Any]:
    """An item about one task and its account (a row of `_failed_operations`' queries)."""
    return _item(
        kind=kind,
        username=r["username"],
        account_id=r["account_id"],
        state=r["lifecycle_state"],
        step_number=r["step_number"],
        step_name=r["step_name"],
        proxy_id=r["proxy_id"],
        bot=r["bot_name"],
        model=r["model_name"],
        since=r["updated_at"],
        waited_seconds=_waited(now, r["updated_at"]),
        task_id=r["id"],
        task_kind=r["kind"],
        message=message,
        **extra,
    )


def _failed_operations(db: Database, now: datetime) -> list[dict[str, Any]]:
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
        _task_item(
            r,
            now,
            kind="retrying",
            error_kind=r["last_error_kind"],
            attempts=r["attempts"],
            retry_at=r["due_at"],
            message=f"{r['kind']} {r['step_name']} failed (attempt {r['attempts']}): {r['last_error']}; retry due {r['due_at']}",
        )
        for r in retrying
    ]
    out += [
        _task_item(
            r,
            now,
            kind="dropped",
            message=f"{r['kind']} {r['step_name']} dropped: nobody claimed it before {r['stale_at']}",
        )
        for r in dropped
    ]
    return out


def _content_problems(ws: Workspace, db: Database, now: datetime) -> list[dict[str, Any]]:
    out = []
    for m in content.missing_types(ws, db):
        out.append(
            _item(
                kind="content_missing",
                model=m["model"],
                pool=m["pool"],
                step_name=", ".join(m["steps"]),
                since=m["oldest_due_at"],
                waited_seconds=_waited(now, m["oldest_due_at"]),
                content_type=m["type"],
                waiting_tasks=m["waiting_tasks"],
                message=f"{m['model']} has no {m['type']} {m['kind']} at all: {m['waiting_tasks']} task(s) wait; add some to {m['folder']}",
            )
        )
    for s in content.running_short(ws, db):
        out.append(
            _item(
                kind="content_short",
                model=s["model"],
                pool=s["pool"],
                since=s["first_at"],
                waited_seconds=_waited(now, s["first_at"]),
                content_type=s["type"],
                reuses=s["reuses"],
                message=f"{s['model']} is running short of {s['type']} {s['kind']}s: reused {s['reuses']} time(s) by {s['accounts']} account(s)",
            )
        )
    return out


def _model_problems(ws: Workspace, db: Database, now: datetime) -> list[dict[str, Any]]:
    """A model's strategy file that cannot be applied (the stored strategy stays in force), and
    ready accounts whose reassignment waits for a proxy that may serve their new model."""
    out = [
        _item(kind="strategy_invalid", model=p["model"], message=f"strategy of {p['model']} not applied: {p['error']}")
        for p in strategy_problems(ws, db)
    ]
    rows = db.query(
        """SELECT a.*, m.name AS target FROM accounts a JOIN models m ON m.id = a.reassign_to_model_id
           WHERE a.reassign_to_model_id IS NOT NULL AND a.lifecycle_state = 'ready' ORDER BY a.updated_at, a.id"""
    )
    out += [
        _item(
            kind="reassign_waiting",
            username=r["username"],
            account_id=r["id"],
            state=r["lifecycle_state"],
            proxy_id=r["proxy_id"],
            model=r["target"],
            since=r["updated_at"],
            waited_seconds=_waited(now, r["updated_at"]),
            message=f"{r['username']} waits to join {r['target']}: no active proxy with room may serve it; add proxies "
            "or free a slot (tick retries)",
        )
        for r in rows
    ]
    return out
