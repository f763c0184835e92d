"""The model pages: the models dashboard (`model list`) and the model accounts page with its
views A-E (`model show`). Read only: a page shows the strategy file as it is now (validated)
without applying it; `model sync`, assignment and tick apply it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ..domain import metrics, plan, proxies
from ..domain import strategy as strategies
from ..domain.strategy import CLEANUP_STEPS, Strategy, find_model, label, stored
from ..flows.models import candidates, check_filters
from ..store.clock import to_db
from ..store.db import Database
from ..store.errors import InvalidInput
from ..store.records import AccountRow, ModelRow, TaskRow
from ..store.workspace import Workspace
from . import attention

METRICS_DAYS = 7
VIEWS = ("overview", "available", "pipeline", "proxies", "attention")


# -- pages --------------------------------------------------------------------------------------
def _figures(ws: Workspace, db: Database, account_id: int) -> tuple[int | None, int | None]:
    last = metrics.latest(ws, account_id, db=db)
    if last is None:
        return None, None
    moved = metrics.change(ws, account_id, days=METRICS_DAYS, db=db)
    return last["followers"], (moved or {}).get("followers")


def _counts(db: Database, model_id: int) -> dict[str, Any]:
    states = {
        r["lifecycle_state"]: r["n"]
        for r in db.query(
            "SELECT lifecycle_state, COUNT(*) AS n FROM accounts WHERE model_id = ? GROUP BY lifecycle_state",
            [model_id],
        )
    }
    onboarding = db.scalar(
        "SELECT COUNT(*) FROM accounts WHERE model_id = ? AND lifecycle_state = 'active' AND onboarded_at IS NULL",
        [model_id],
    )
    return {
        "active": states.get("active", 0),
        "onboarding": onboarding,
        "cleanup": states.get("cleanup", 0),
        "human_review": states.get("human_review", 0),
        "reassigning_in": db.scalar("SELECT COUNT(*) FROM accounts WHERE reassign_to_model_id = ?", [model_id]),
    }


def model_summary(
    ws: Workspace,
    model: ModelRow,
    db: Database | None = None,
    now: datetime | None = None,
    *,
    strategy: Strategy | None = None,
) -> dict[str, Any]:
    """One model as the dashboard shows it (`model list`): its accounts by state, tasks done and
    failed in the last 7 days, content counts by type, followers where bots reported them."""
    db = db or ws.db()
    now = now or ws.clock.now()
    since = to_db(now - timedelta(days=7))
    strategy = strategy or stored(model)
    mid = model["id"]
    done = db.scalar(
        "SELECT COUNT(*) FROM tasks WHERE model_id = ? AND status = 'completed' AND completed_at >= ?", [mid, since]
    )
    failed = db.scalar(
        """SELECT COUNT(*) FROM step_log s JOIN tasks t ON t.id = s.task_id
           WHERE t.model_id = ? AND s.status IN ('failed', 'requires_review') AND s.completed_at >= ?""",
        [mid, since],
    )
    content_counts: dict[str, int] = {}
    for r in db.query(
        """SELECT content_type, COUNT(*) AS n FROM content WHERE model_id = ? AND active = 1
           GROUP BY content_type ORDER BY content_type""",
        [mid],
    ):
        content_counts[r["content_type"]] = r["n"]
    followers_total = change_total = None
    reporting = 0
    for a in db.query("SELECT id FROM accounts WHERE model_id = ? AND lifecycle_state != 'retired'", [mid]):
        followers, change = _figures(ws, db, a["id"])
        if followers is not None:
            reporting += 1
            followers_total = (followers_total or 0) + followers
        if change is not None:
            change_total = (change_total or 0) + change
    return {
        "id": mid,
        "name": model["name"],
        "slug": model["slug"],
        "display_name": model["display_name"] or model["name"],
        "archived_at": model["archived_at"],
        **_counts(db, mid),
        "proxies": db.scalar("SELECT COUNT(*) FROM proxies WHERE assigned_model_id = ?", [mid]),
        "tasks_done_7d": done,
        "tasks_failed_7d": failed,
        "content": content_counts,
        "content_images": db.scalar(
            "SELECT COUNT(*) FROM content WHERE model_id = ? AND active = 1 AND path IS NOT NULL", [mid]
        ),
        "content_texts": db.scalar(
            "SELECT COUNT(*) FROM content WHERE model_id = ? AND active = 1 AND text_content IS NOT NULL", [mid]
        ),
        "followers_total": followers_total,
        "followers_change_7d": change_total,
        "accounts_reporting": reporting,
        "schedule": strategy.schedule_dict(),
        "templates": strategy.templates,
        "strategy_file": label(model["slug"]),
        "created_at": model["created_at"],
    }


def list_models(ws: Workspace, *, include_archived: bool = False) -> list[dict[str, Any]]:
    """`model list`: the models dashboard, one row a model, by name."""
    db = ws.db()
    where = "" if include_archived else " WHERE archived_at IS NULL"
    now = ws.clock.now()
    return [model_summary(ws, m, db, now) for m in db.query(f"SELECT * FROM models{where} ORDER BY name, id")]


def _current_task(db: Database, account_id: int) -> tuple[TaskRow | None, bool]:
    """The task the account is on (claimed, in review, or the next queued one), else its last."""
    open_ = db.one(
        """SELECT * FROM tasks WHERE account_id = ? AND status IN ('claimed', 'review', 'queued')
           ORDER BY CASE status WHEN 'claimed' THEN 0 WHEN 'review' THEN 1 ELSE 2 END, due_at, id LIMIT 1""",
        [account_id],
    )
    if open_ is not None:
        return open_, True
    return db.one(
        "SELECT * FROM tasks WHERE account_id = ? AND status != 'cancelled' ORDER BY updated_at DESC, id DESC LIMIT 1",
        [account_id],
    ), False


def _phase(a: AccountRow) -> str:
    if a["lifecycle_state"] == "active":
        return "onboarding" if a["onboarded_at"] is None else "active"
    if a["lifecycle_state"] == "cleanup" and a["reassign_to_model_id"] is not None:
        return "cleanup (reassigning)"
    return a["lifecycle_state"]


def overview(ws: Workspace, model: ModelRow, db: Database | None = None) -> list[dict[str, Any]]:
    """View A: the model's accounts with state, current or last task, last bot action,
    followers and their 7-day change."""
    db = db or ws.db()
    since = to_db(ws.clock.now() - timedelta(days=7))
    rows = db.query(
        """SELECT a.*, p.location, p.status AS proxy_status, b.name AS bot FROM accounts a
           LEFT JOIN proxies p ON p.id = a.proxy_id LEFT JOIN bots b ON b.id = a.bot_id
           WHERE a.model_id = ? AND a.lifecycle_state != 'retired' ORDER BY a.username""",
        [model["id"]],
    )
    out = []
    for a in rows:
        task, is_open = _current_task(db, a["id"])
        followers, change = _figures(ws, db, a["id"])
        out.append(
            {
                "account_id": a["id"],
                "username": a["username"],
                "lifecycle_state": a["lifecycle_state"],
                "phase": _phase(a),
                "proxy_id": a["proxy_id"],
                "proxy_location": a["location"],
                "proxy_status": a["proxy_status"],
                "bot": a["bot"],
                "task_id": task["id"] if task else None,
                "task_kind": task["kind"] if task else None,
                "task_step": task["step_name"] if task else None,
                "task_status": task["status"] if task else None,
                "task_due_at": task["due_at"] if task else None,
                "task_is_current": is_open if task else None,
                "last_bot_action_by": a["last_bot_action_by"],
                "last_bot_action_at": a["last_bot_action_at"],
                "followers": followers,
                "followers_change_7d": change,
                "tasks_done_7d": db.scalar(
                    "SELECT COUNT(*) FROM tasks WHERE account_id = ? AND model_id = ? AND status = 'completed' "
                    "AND completed_at >= ?",
                    [a["id"], model["id"], since],
                ),
                "assigned_to_model_at": a["assigned_to_model_at"],
                "onboarded_at": a["onboarded_at"],
                "next_slot_at": a["next_slot_at"],
                "last_error_message": a["last_error_message"],
            }
        )
    return out


def pipeline_view(
    ws: Workspace, model: ModelRow, db: Database | None = None, *, strategy: Strategy | None = None
) -> dict[str, Any]:
    """View C: the warm-up pipeline (the supply of ready accounts, fleet-wide, each marked when
    its proxy is in one of the model's preferred locations), and this model's accounts in
    onboarding and in cleanup with their step."""
    db = db or ws.db()
    strategy = strategy or stored(model)
    preferred = {loc.lower() for loc in strategy.locations}
    warm = plan.pipeline(ws)
    locations = {r["id"]: (r["location"] or "") for r in db.query("SELECT id, location FROM proxies")}
    for a in warm["accounts"]:
        a["proxy_location"] = locations.get(a["proxy_id"]) or None
        a["preferred_location"] = bool(preferred) and (a["proxy_location"] or "").lower() in preferred
    steps: dict[str, list[dict[str, Any]]] = {"onboarding": [], "cleanup": []}
    rows = db.query(
        """SELECT a.id, a.username, a.lifecycle_state, a.onboarded_at, a.reassign_to_model_id, t.id AS task_id, t.kind,
                  t.step_number, t.step_name, t.status, t.due_at, t.attempts, t.last_error
           FROM accounts a JOIN tasks t ON t.account_id = a.id AND t.status IN ('queued', 'claimed', 'review')
                                        AND t.kind IN ('onboarding', 'cleanup')
           WHERE a.model_id = ? ORDER BY a.username, t.id""",
        [model["id"]],
    )
    for r in rows:
        steps[r["kind"]].append(
            {
                "account_id": r["id"],
                "username": r["username"],
                "lifecycle_state": r["lifecycle_state"],
                "task_id": r["task_id"],
                "step_number": r["step_number"],
                "steps": len(strategy.onboarding) if r["kind"] == "onboarding" else len(CLEANUP_STEPS),
                "step_name": r["step_name"],
                "status": r["status"],
                "due_at": r["due_at"],
                "attempts": r["attempts"],
                "last_error": r["last_error"],
                "reassigning": r["reassign_to_model_id"] is not None,
            }
        )
    return {"warmup": warm, **steps}


def proxies_view(ws: Workspace, model: ModelRow, db: Database | None = None) -> dict[str, Any]:
    """View D: the model's proxies with their accounts, the free proxies with room (active, no
    model), and which model uses which proxy."""
    db = db or ws.db()
    mine = proxies.list_proxies(ws, model=model["name"])
    for p in mine:
        p["accounts"] = [
            r["username"]
            for r in db.query(
                "SELECT username FROM accounts WHERE proxy_id = ? AND lifecycle_state != 'retired' ORDER BY username",
                [p["id"]],
            )
        ]
    free = [p for p in proxies.list_proxies(ws, free=True) if p["model"] is None]
    used = [
        {
            "proxy_id": p["id"],
            "host": p["host"],
            "port": p["port"],
            "location": p["location"],
            "status": p["status"],
            "model": p["model"],
            "account_count": p["account_count"],
            "max_accounts": p["max_accounts"],
        }
        for p in proxies.list_proxies(ws)
        if p["model"] is not None
    ]
    return {"model_proxies": mine, "free_proxies": free, "proxy_models": used}


def attention_view(ws: Workspace, model: ModelRow, db: Database | None = None) -> list[dict[str, Any]]:
    """View E: the items of `review list` that concern this model, plus its strategy file's
    problems and the accounts waiting to join it."""
    db = db or ws.db()
    return [i for i in attention.attention(ws) if i.get("model") == model["name"]]


def available(
    ws: Workspace,
    model: ModelRow,
    *,
    location: str | None = None,
    max_retries: int | None = None,
    min_followers: int | None = None,
    db: Database | None = None,
    strategy: Strategy | None = None,
) -> list[dict[str, Any]]:
    """View B: ready accounts this model may take (and those it may not, with the reason)."""
    check_filters(None, max_retries, min_followers)
    db = db or ws.db()
    return candidates(
        ws,
        db,
        model,
        strategy or stored(model),
        location=location,
        max_retries=max_retries,
        min_followers=min_followers,
    )


def show(
    ws: Workspace,
    name: str,
    view: str = "overview",
    *,
    location: str | None = None,
    max_retries: int | None = None,
    min_followers: int | None = None,
) -> tuple[dict[str, Any], Any]:
    """`model show NAME --view V`: the model accounts page, as (summary, the view's data). A
    live model's strategy file is shown as it is now (an invalid one is an error), without
    applying it: a page never writes."""
    if view not in VIEWS:
        raise InvalidInput(f"unknown view {view!r}; one of: {', '.join(VIEWS)}")
    db = ws.db()
    model = find_model(db, name)
    strategy = strategies.shown(ws, model)
    data: Any
    if view == "overview":
        data = overview(ws, model, db)
    elif view == "available":
        data = available(
            ws, model, location=location, max_retries=max_retries, min_followers=min_followers, db=db, strategy=strategy
        )
    elif view == "pipeline":
        data = pipeline_view(ws, model, db, strategy=strategy)
    elif view == "proxies":
        data = proxies_view(ws, model, db)
    else:
        data = attention_view(ws, model, db)
    return model_summary(ws, model, db, strategy=strategy), data
