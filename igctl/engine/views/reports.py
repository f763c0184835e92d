"""Analytics: every figure of `igctl report` (product.md §8, requirements.md "Analytics & Tracking").

`build_report()` reads the tables directly and returns one plain dict — the JSON of
`igctl report --json` — which the terminal tables, the CSV export and the HTML page are all
rendered from. docs/analytics.md says what each figure means and how it is computed.

The scope of a report:
- `model`: only accounts currently assigned to that model (and the model's own row in `models`,
  the proxies that hold its accounts or serve it).
- `since` / `until` (stored UTC strings, `until` exclusive): activity — attempts settled in the
  window (`step_log.completed_at`), metric samples taken in it, and the funnel's cohort (accounts
  imported in it). `accounts_by_state` and the proxy figures are always "now".
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime, timedelta, tzinfo
from typing import Any

from ..domain.plan import Plan
from ..store.clock import from_db
from ..store.db import Database
from ..store.errors import InvalidInput, NotFound
from ..store.migrations import STATES
from ..store.workspace import Workspace

# The main path of an account, in order; conversion counts the accounts that ever reached each.
FUNNEL = ("imported", "proxy_assigned", "warming_up", "ready", "active")
SETTLED = ("completed", "failed", "requires_review")
FAILED = ("failed", "requires_review")
UNKNOWN_ERROR = "other"


# -- small helpers ---------------------------------------------------------------------------
def fraction(part: int | float, whole: int | float) -> float | None:
    """part / whole rounded to 4 places, or None when there is nothing to divide by."""
    return None if not whole else round(part / whole, 4)


def median(values: list[float]) -> float | None:
    """The middle value (the mean of the two middle ones for an even count); `values` sorted."""
    n = len(values)
    if not n:
        return None
    mid = n // 2
    return float(values[mid]) if n % 2 else (values[mid - 1] + values[mid]) / 2


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile of sorted `values`: the smallest value with at least p% of the
    values at or below it."""
    if not values:
        return None
    rank = max(math.ceil(p / 100 * len(values)), 1)
    return float(values[rank - 1])


def _seconds(ms: float | None) -> float | None:
    return None if ms is None else round(ms / 1000, 3)


class _Scope:
    """The WHERE fragments of one report's scope, for step_log (alias s) and accounts (alias a)."""

    def __init__(self, model_id: int | None, since: str | None, until: str | None):
        self.model_id, self.since, self.until = model_id, since, until

    def window(self, column: str) -> tuple[str, list]:
        sql, params = "", []
        if self.since:
            sql += f" AND {column} >= ?"
            params.append(self.since)
        if self.until:
            sql += f" AND {column} < ?"
            params.append(self.until)
        return sql, params

    def steps(self) -> tuple[str, list]:
        """Settled attempts (step_log rows, alias s) in scope."""
        sql, params = self.window("s.completed_at")
        if self.model_id is not None:
            sql += " AND s.account_id IN (SELECT id FROM accounts WHERE model_id = ?)"
            params.append(self.model_id)
        return sql, params

    def accounts(self) -> tuple[str, list]:
        if self.model_id is None:
            return "", []
        return " AND a.model_id = ?", [self.model_id]


def _model_id(db: Database, name: str) -> int:
    row = db.one("SELECT id FROM models WHERE name = ?", [name])
    if row is None:
        raise NotFound(f"no model named {name}")
    return row["id"]


# -- the report ------------------------------------------------------------------------------
def build_report(
    ws: Workspace,
    *,
    model: str | None = None,
    since: str | None = None,
    until: str | None = None,
    daily: bool = True,
    db: Database | None = None,
) -> dict[str, Any]:
    """Every figure of the report as one dict (the JSON of `igctl report --json`).

    `since`/`until` are stored UTC times (`timeparse.operator_instant`), `until` exclusive.
    `daily=False` leaves out the per-day series (the HTML charts' data) to save a scan."""
    db = db or ws.db()
    if since and until and since >= until:
        raise InvalidInput("the start of the period must be before its end", about=("since", "until"))
    model_id = _model_id(db, model) if model else None
    scope = _Scope(model_id, since, until)
    # One read transaction: every figure is of the same moment even while bots write.
    own = not db.conn.in_transaction
    if own:
        db.execute("BEGIN")
    try:
        report = {
            "generated_at": ws.now(),
            "timezone": str(ws.tz),
            "scope": {"model": model, "since": since, "until": until},
            "accounts_by_state": accounts_by_state(db, scope),
            "warmup_steps": warmup_steps(db, scope, Plan.of(ws).steps),
            "proxies": proxy_figures(db, scope),
            "bots": bot_figures(db, scope),
            "models": model_figures(db, scope),
        }
        report.update(error_figures(db, scope))
        report["conversion"] = conversion(db, scope)
        if daily:
            report["daily"] = daily_series(db, scope, ws.tz)
    finally:
        if own:
            db.execute("COMMIT")
    return report


def accounts_by_state(db: Database, scope: _Scope) -> dict[str, Any]:
    """Accounts in each of the 8 states now (zeros included), in lifecycle order."""
    where, params = scope.accounts()
    counts = {
        state: n
        for state, n in db.query(f"SELECT lifecycle_state, COUNT(*) FROM accounts a WHERE 1 {where} GROUP BY 1", params)
    }
    return {state: counts.get(state, 0) for state in STATES}


# Claim → completion in milliseconds; identical to the expression of the index
# step_log_step_times (migrations.py), so that SQLite reads it from the index.
DURATION_MS = "CAST(ROUND((julianday(completed_at) - julianday(started_at)) * 86400000) AS INTEGER)"


def _nth(db: Database, sql: str, params: list, n: int, offset: int, count: int = 1) -> list:
    """Values `offset`.. of an ordered query whose matching rows number `n` (walking an index)."""
    if n <= 0:
        return []
    return [r[0] for r in db.query(f"{sql} LIMIT {int(count)} OFFSET {int(offset)}", params)]


def _median_p90(db: Database, sql: str, params: list, n: int) -> tuple[float | None, float | None]:
    """The median and the nearest-rank 90th percentile of the `n` values an ordered query gives,
    reading only the rows at those ranks."""
    if n <= 0:
        return None, None
    middle = _nth(db, sql, params, n, (n - 1) // 2, 2 if n % 2 == 0 else 1)
    p90 = _nth(db, sql, params, n, max(math.ceil(0.9 * n), 1) - 1)
    return median(middle) if n % 2 == 0 else float(middle[0]), float(p90[0])


def warmup_steps(db: Database, scope: _Scope, plan_steps: list[str]) -> dict[str, Any]:
    """Per warm-up step number: completions, failed attempts, success rate, and the claim →
    completion time of bot completions (median and 90th percentile, in seconds)."""
    where, params = scope.steps()
    rows = db.query(
        f"""SELECT s.step_number AS n,
                   SUM(s.status = 'completed') AS completed,
                   SUM(s.status = 'completed' AND s.bot_id IS NULL) AS by_hand,
                   SUM(s.status != 'completed') AS failed,
                   SUM(s.status = 'requires_review') AS to_review
            FROM step_log s
            WHERE s.kind = 'warmup' AND s.status IN ('completed', 'failed', 'requires_review') {where}
            GROUP BY s.step_number""",
        params,
    )
    counts = {r["n"]: r for r in rows}
    numbers = sorted(set(range(1, len(plan_steps) + 1)) | {n for n in counts if n is not None})
    out = {}
    for n in numbers:
        r = counts.get(n)
        completed, failed = (r["completed"], r["failed"]) if r else (0, 0)
        timed = completed - (r["by_hand"] if r else 0)
        mid, p90 = _median_p90(
            db,
            f"""SELECT {DURATION_MS} FROM step_log s
                WHERE kind = 'warmup' AND step_number = ? AND status = 'completed' AND bot_id IS NOT NULL {where}
                ORDER BY {DURATION_MS}""",
            [n, *params],
            timed,
        )
        out[str(n)] = {
            "step_name": plan_steps[n - 1] if 1 <= n <= len(plan_steps) else None,
            "completed": completed,
            "completed_by_hand": r["by_hand"] if r else 0,
            "failed": failed,
            "sent_to_review": r["to_review"] if r else 0,
            "success_rate": fraction(completed, completed + failed),
            "median_seconds": _seconds(mid),
            "p90_seconds": _seconds(p90),
            "timed": timed,
        }
    return out


def proxy_figures(db: Database, scope: _Scope) -> dict[str, Any]:
    """Slots and their use now. A slot is one of a proxy's `max_accounts` places; it is used by a
    non-retired account on the proxy and free when unused on an `active` proxy."""
    where, params = "", []
    if scope.model_id is not None:
        where = " WHERE p.assigned_model_id = ? OR p.id IN (SELECT proxy_id FROM accounts WHERE model_id = ?)"
        params = [scope.model_id, scope.model_id]
    r = db.one(
        f"""SELECT COUNT(*) AS total, COALESCE(SUM(used > 0), 0) AS in_use,
                   COALESCE(SUM(max_accounts), 0) AS slots, COALESCE(SUM(MIN(used, max_accounts)), 0) AS used_slots,
                   COALESCE(SUM(CASE WHEN status = 'active' THEN MAX(max_accounts - used, 0) ELSE 0 END), 0) AS free_slots,
                   COALESCE(SUM(status = 'active'), 0) AS active, COALESCE(SUM(status = 'inactive'), 0) AS inactive,
                   COALESCE(SUM(status = 'error'), 0) AS in_error,
                   SUM(monthly_cost) AS cost, COUNT(monthly_cost) AS priced
            FROM (SELECT p.id, p.status, p.max_accounts, p.monthly_cost,
                         (SELECT COUNT(*) FROM accounts a WHERE a.proxy_id = p.id AND a.lifecycle_state != 'retired') AS used
                  FROM proxies p {where})""",
        params,
    )
    assert r is not None  # an aggregate without GROUP BY gives one row
    aw, ap = scope.accounts()
    active_accounts = db.scalar(f"SELECT COUNT(*) FROM accounts a WHERE a.lifecycle_state = 'active' {aw}", ap)
    cost = round(r["cost"], 2) if r["priced"] else None
    return {
        "total": r["total"],
        "in_use": r["in_use"],
        "slots": r["slots"],
        "used_slots": r["used_slots"],
        "free_slots": r["free_slots"],
        "utilization": fraction(r["used_slots"], r["slots"]),
        "active": r["active"],
        "inactive": r["inactive"],
        "in_error": r["in_error"],
        "monthly_cost": cost,
        "active_accounts": active_accounts,
        "cost_per_active_account": None if cost is None or not active_accounts else round(cost / active_accounts, 2),
    }


def bot_figures(db: Database, scope: _Scope) -> list[dict[str, Any]]:
    """Per bot: attempts it settled in the window, completed (its throughput) and failed (a
    lease that ran out counts as its failure), the failure rate, the median execution time the
    bot reported, and when it was last seen."""
    where, params = scope.steps()
    counts = {
        r["bot_id"]: r
        for r in db.query(
            f"""SELECT s.bot_id, SUM(s.status = 'completed') AS completed, SUM(s.status != 'completed') AS failed,
                       SUM(s.status = 'completed' AND s.execution_time_ms IS NOT NULL) AS timed
                FROM step_log s WHERE s.bot_id IS NOT NULL AND s.status IN ('completed', 'failed', 'requires_review') {where}
                GROUP BY s.bot_id""",
            params,
        )
    }
    out = []
    for b in db.query("SELECT id, name, last_seen_at, revoked_at FROM bots ORDER BY id"):
        c = counts.get(b["id"])
        completed, failed = (c["completed"], c["failed"]) if c else (0, 0)
        if scope.model_id is not None and not c:
            continue  # a model's report lists the bots that worked on its accounts
        timed = c["timed"] if c else 0
        mid, _ = _median_p90(
            db,
            f"""SELECT s.execution_time_ms FROM step_log s
                WHERE s.bot_id = ? AND s.status = 'completed' AND s.execution_time_ms IS NOT NULL {where}
                ORDER BY s.execution_time_ms""",
            [b["id"], *params],
            timed,
        )
        out.append(
            {
                "id": b["id"],
                "name": b["name"],
                "throughput": completed,
                "completed": completed,
                "failed": failed,
                "failure_rate": fraction(failed, completed + failed),
                "median_execution_ms": mid,
                "last_seen_at": b["last_seen_at"],
                "revoked": b["revoked_at"] is not None,
            }
        )
    return out


def model_figures(db: Database, scope: _Scope) -> list[dict[str, Any]]:
    """Per model: its accounts now (all, active), its tasks (attempts completed and failed in the
    window, tasks open now) and its accounts' follower growth over the window."""
    models = db.query(
        "SELECT id, name, display_name FROM models"
        + (" WHERE id = ?" if scope.model_id is not None else "")
        + " ORDER BY id",
        [scope.model_id] if scope.model_id is not None else [],
    )
    if not models:
        return []
    accounts = {
        r["model_id"]: r
        for r in db.query(
            """SELECT model_id, COUNT(*) AS n, SUM(lifecycle_state = 'active') AS active
               FROM accounts WHERE model_id IS NOT NULL GROUP BY model_id"""
        )
    }
    win, wparams = scope.window("s.completed_at")
    attempts = {
        r["model_id"]: r
        for r in db.query(
            f"""SELECT t.model_id, SUM(s.status = 'completed') AS completed, SUM(s.status != 'completed') AS failed
                FROM tasks t JOIN step_log s ON s.task_id = t.id
                WHERE t.model_id IS NOT NULL AND s.status IN ('completed', 'failed', 'requires_review') {win}
                GROUP BY t.model_id""",
            wparams,
        )
    }
    open_tasks = {
        model_id: n
        for model_id, n in db.query(
            "SELECT model_id, COUNT(*) FROM tasks WHERE model_id IS NOT NULL AND status IN ('queued', 'claimed') GROUP BY model_id"
        )
    }
    mwin, mparams = scope.window("m.at")
    growth = {
        r["model_id"]: r
        for r in db.query(
            f"""SELECT model_id, COUNT(*) AS measured, SUM(first) AS first, SUM(last) AS last FROM (
                  SELECT a.model_id,
                    (SELECT m.followers FROM account_metrics m WHERE m.account_id = a.id AND m.followers IS NOT NULL {mwin}
                     ORDER BY m.at, m.id LIMIT 1) AS first,
                    (SELECT m.followers FROM account_metrics m WHERE m.account_id = a.id AND m.followers IS NOT NULL {mwin}
                     ORDER BY m.at DESC, m.id DESC LIMIT 1) AS last
                  FROM accounts a WHERE a.model_id IS NOT NULL)
                WHERE first IS NOT NULL GROUP BY model_id""",
            mparams + mparams,
        )
    }
    out = []
    for m in models:
        a, t, g = accounts.get(m["id"]), attempts.get(m["id"]), growth.get(m["id"])
        completed, failed = (t["completed"], t["failed"]) if t else (0, 0)
        out.append(
            {
                "id": m["id"],
                "name": m["name"],
                "display_name": m["display_name"] or m["name"],
                "accounts": a["n"] if a else 0,
                "active_accounts": a["active"] if a else 0,
                "tasks_completed": completed,
                "tasks_failed": failed,
                "tasks_open": open_tasks.get(m["id"], 0),
                "success_rate": fraction(completed, completed + failed),
                "accounts_measured": g["measured"] if g else 0,
                "followers_start": g["first"] if g else None,
                "followers_now": g["last"] if g else None,
                "follower_growth": (g["last"] - g["first"]) if g else None,
            }
        )
    return out


def error_figures(db: Database, scope: _Scope) -> dict[str, Any]:
    """Failed attempts by error kind (`errors`), and by task kind and step (`errors_by_step`)."""
    where, params = scope.steps()
    rows = db.query(
        f"""SELECT s.kind, s.step_name, COALESCE(s.error_kind, '{UNKNOWN_ERROR}') AS error_kind, COUNT(*) AS n
            FROM step_log s WHERE s.status IN ('failed', 'requires_review') {where}
            GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""",
        params,
    )
    by_kind: dict[str, int] = defaultdict(int)
    by_step: dict[str, dict[str, int]] = {}
    for r in rows:
        by_kind[r["error_kind"]] += r["n"]
        by_step.setdefault(f"{r['kind']}/{r['step_name']}", {})[r["error_kind"]] = r["n"]
    return {
        "errors": dict(sorted(by_kind.items(), key=lambda kv: (-kv[1], kv[0]))),
        "errors_by_step": by_step,
    }


def conversion(db: Database, scope: _Scope) -> dict[str, Any]:
    """The funnel imported → proxy_assigned → warming_up → ready → active over a cohort (accounts
    imported in the window; all accounts without one), counting accounts that ever reached each
    stage: the furthest stage of an account is the furthest of its current state and every state
    its `account.state` events moved it to. Also how many ever went to human review, and how many
    are retired."""
    rank_sql = (
        "CASE {col} "
        + " ".join(f"WHEN '{s}' THEN {i}" for i, s in enumerate(FUNNEL))
        + " WHEN 'cleanup' THEN 4 ELSE -1 END"
    )
    win, params = scope.window("a.created_at")
    aw, ap = scope.accounts()
    row_sql = f"""
        SELECT MAX({rank_sql.format(col="a.lifecycle_state")}, COALESCE(ev.furthest, -1)) AS furthest,
               COALESCE(ev.review, 0) OR a.lifecycle_state = 'human_review' AS review,
               a.lifecycle_state = 'retired' AS retired
        FROM accounts a LEFT JOIN (
            SELECT account_id, MAX({rank_sql.format(col="new_state")}) AS furthest, MAX(new_state = 'human_review') AS review
            FROM events WHERE kind = 'account.state' AND account_id IS NOT NULL GROUP BY account_id
        ) ev ON ev.account_id = a.id
        WHERE 1 {win} {aw}"""
    reached = [0] * len(FUNNEL)
    review = retired = cohort = 0
    for r in db.query(
        f"SELECT furthest, review, retired, COUNT(*) AS n FROM ({row_sql}) GROUP BY 1, 2, 3", params + ap
    ):
        cohort += r["n"]
        review += r["n"] if r["review"] else 0
        retired += r["n"] if r["retired"] else 0
        for i in range(0, max(r["furthest"], 0) + 1):
            reached[i] += r["n"]
    # Every account was imported, whatever else is known of it.
    reached[0] = cohort
    funnel = []
    for i, name in enumerate(FUNNEL):
        funnel.append(
            {
                "stage": name,
                "accounts": reached[i],
                "rate_from_previous": fraction(reached[i], reached[i - 1]) if i else (1.0 if cohort else None),
                "rate_from_imported": fraction(reached[i], cohort),
            }
        )
    stage = dict(zip(FUNNEL, reached, strict=True))
    return {
        "cohort": cohort,
        **{f"reached_{s}": n for s, n in stage.items()},
        "funnel": funnel,
        "went_to_review": review,
        "retired": retired,
        "imported_to_ready": fraction(stage["ready"], cohort),
        "ready_to_active": fraction(stage["active"], stage["ready"]),
        "imported_to_active": fraction(stage["active"], cohort),
    }


def daily_series(db: Database, scope: _Scope, tz: tzinfo) -> dict[str, Any]:
    """Per calendar day (workspace zone) of settled attempts: completed and failed tasks, failed
    attempts by error kind, and completions per bot. Counted by the UTC hour, each hour given to
    the local day it starts in."""
    where, params = scope.steps()
    days: dict[str, dict] = {}
    bots = {bot_id: name for bot_id, name in db.query("SELECT id, name FROM bots")}
    for hour, status, error_kind, bot_id, n in db.conn.execute(
        f"""SELECT substr(s.completed_at, 1, 13), s.status, COALESCE(s.error_kind, '{UNKNOWN_ERROR}'), s.bot_id, COUNT(*)
            FROM step_log s WHERE s.status IN ('completed', 'failed', 'requires_review') {where}
            GROUP BY 1, 2, 3, 4""",
        params,
    ):
        day = from_db(hour + ":00:00.000Z").astimezone(tz).date().isoformat()
        d = days.setdefault(day, {"completed": 0, "failed": 0, "errors": defaultdict(int), "bots": defaultdict(int)})
        if status == "completed":
            d["completed"] += n
            if bot_id is not None:
                d["bots"][bots.get(bot_id, f"#{bot_id}")] += n
        else:
            d["failed"] += n
            d["errors"][error_kind] += n
    if not days:
        return {"days": [], "completed": [], "failed": [], "errors_by_kind": {}, "completed_by_bot": {}}
    first, last = min(days), max(days)
    labels, day = [], datetime.fromisoformat(first).date()
    while day.isoformat() <= last:
        labels.append(day.isoformat())
        day += timedelta(days=1)
    kinds = sorted({k for d in days.values() for k in d["errors"]})
    names = sorted({b for d in days.values() for b in d["bots"]})
    empty = {"completed": 0, "failed": 0, "errors": {}, "bots": {}}
    return {
        "days": labels,
        "completed": [days.get(x, empty)["completed"] for x in labels],
        "failed": [days.get(x, empty)["failed"] for x in labels],
        "errors_by_kind": {k: [days.get(x, empty)["errors"].get(k, 0) for x in labels] for k in kinds},
        "completed_by_bot": {b: [days.get(x, empty)["bots"].get(b, 0) for x in labels] for b in names},
    }


# -- tables ----------------------------------------------------------------------------------
def tables(report: dict) -> dict[str, list[dict]]:
    """The report as named tables of rows: what the terminal shows and `--csv DIR` writes, one
    file per table."""
    out: dict[str, list[dict]] = {
        "accounts_by_state": [{"state": s, "accounts": n} for s, n in report["accounts_by_state"].items()],
        "warmup_steps": [{"step": int(k), **v} for k, v in report["warmup_steps"].items()],
        "proxies": [{"figure": k, "value": v} for k, v in report["proxies"].items()],
        "bots": list(report["bots"]),
        "models": list(report["models"]),
        "errors": [{"error_kind": k, "failed_attempts": n} for k, n in report["errors"].items()],
        "errors_by_step": [
            {"step": step, "error_kind": kind, "failed_attempts": n}
            for step, kinds in report["errors_by_step"].items()
            for kind, n in kinds.items()
        ],
    }
    conv = report["conversion"]
    out["conversion"] = [dict(row) for row in conv["funnel"]] + [
        {
            "stage": "went_to_review",
            "accounts": conv["went_to_review"],
            "rate_from_previous": None,
            "rate_from_imported": fraction(conv["went_to_review"], conv["cohort"]),
        },
        {
            "stage": "retired",
            "accounts": conv["retired"],
            "rate_from_previous": None,
            "rate_from_imported": fraction(conv["retired"], conv["cohort"]),
        },
    ]
    if "daily" in report:
        d = report["daily"]
        out["daily"] = [
            {
                "day": day,
                "completed": d["completed"][i],
                "failed": d["failed"][i],
                **{f"errors_{k}": v[i] for k, v in d["errors_by_kind"].items()},
            }
            for i, day in enumerate(d["days"])
        ]
    return out
