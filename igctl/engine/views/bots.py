"""One bot as `bot show NAME` and the dashboard's `/bots/<id>` show it: its row of `bot list`,
what its last heartbeat stored, the accounts bound to it, the tasks it holds now, and its last
attempts with their outcomes. Read only."""

from __future__ import annotations

import json
from typing import Any

from ..domain import bots
from ..store.errors import InvalidInput
from ..store.workspace import Workspace

RECENT = 50


def show(ws: Workspace, name: str | None = None, *, bot_id: int | None = None, limit: int = RECENT) -> dict[str, Any]:
    """A bot by name (or by id) with:

    - the keys of its `bot list` row, plus `system_info` (the heartbeat's, parsed),
      `current_task_id` (the heartbeat's) — `last_seen_at` is its last heartbeat, claim or report;
    - `accounts`: the accounts bound to it, by slot;
    - `held`: the tasks it holds now (claimed), oldest claim first, with their lease;
    - `recent`: its last `limit` attempts (step-log rows), newest first, each with its outcome
      (`in_progress`, `completed`, `failed`, `requires_review`), its error and the task's status now.

    NotFound for an unknown bot; a revoked bot is shown too (its history stays)."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidInput(
            f"the number of recent tasks must be a whole number of at least 1 (got {limit})", about=("limit",)
        )
    db = ws.db()
    row = bots.by_id(db, bot_id) if bot_id is not None else bots.get(db, name or "")
    listed = next(b for b in bots.list_bots(ws, db) if b["id"] == row["id"])
    now = ws.now()
    accounts = db.query(
        """SELECT a.id, a.username, a.slot, a.lifecycle_state, m.name AS model, a.proxy_id, a.warmup_step,
                  a.last_bot_action_at
           FROM accounts a LEFT JOIN models m ON m.id = a.model_id
           WHERE a.bot_id = ? ORDER BY a.slot, a.id""",
        [row["id"]],
    )
    held = db.query(
        """SELECT t.id AS task_id, t.account_id, a.username, a.slot, t.kind, t.step_number, t.step_name,
                  t.attempts AS attempt, t.claimed_at, t.lease_expires_at
           FROM tasks t JOIN accounts a ON a.id = t.account_id
           WHERE t.bot_id = ? AND t.status = 'claimed' ORDER BY t.claimed_at, t.id""",
        [row["id"]],
    )
    recent = db.query(
        """SELECT s.id AS step_log_id, s.task_id, s.account_id, a.username, s.kind, s.step_number, s.step_name,
                  s.retry_count + 1 AS attempt, s.started_at, s.completed_at, s.status AS outcome, s.error_kind,
                  s.error_message, s.execution_time_ms, t.status AS task_status
           FROM step_log s JOIN accounts a ON a.id = s.account_id LEFT JOIN tasks t ON t.id = s.task_id
           WHERE s.bot_id = ? ORDER BY s.id DESC LIMIT ?""",
        [row["id"], limit],
    )
    return {
        **listed,
        "system_info": json.loads(row["system_info_json"]) if row["system_info_json"] else None,
        "current_task_id": row["current_task_id"],
        "accounts": [dict(a) for a in accounts],
        "held": [{**dict(t), "lease_expired": t["lease_expires_at"] <= now} for t in held],
        "recent": [dict(r) for r in recent],
    }
