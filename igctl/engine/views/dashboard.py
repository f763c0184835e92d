"""Read-only compositions of engine calls that the dashboard shows and the CLI has no single
command for: the fleet figures of the front page, a model found by id, content problems per
model, a step's screenshot file. No rule lives in the web layer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..domain import accounts, bots, proxies
from ..domain.evidence import EVIDENCE_DIR
from ..store.errors import NotFound
from ..store.records import ModelRow
from ..store.workspace import Workspace
from . import reports
from .attention import attention


def model_by_id(ws: Workspace, model_id: int) -> ModelRow:
    """The models row of an id (archived models too); NotFound otherwise."""
    row = ws.db().one("SELECT * FROM models WHERE id = ?", [model_id])
    if row is None:
        raise NotFound(f"no model with id {model_id}")
    return row


def fleet(ws: Workspace) -> dict[str, Any]:
    """The fleet cards of the front page: accounts per state and proxy slots (as `report
    --json`), proxies with room (as `proxy list --free`), bots online (as `bot list`)."""
    report = reports.build_report(ws, daily=False)
    bot_rows = [b for b in bots.list_bots(ws) if not b["revoked"]]
    return {
        "accounts_by_state": report["accounts_by_state"],
        "accounts": sum(report["accounts_by_state"].values()),
        "proxies": report["proxies"],
        "proxies_with_room": len(proxies.list_proxies(ws, free=True)),
        "bots": len(bot_rows),
        "bots_online": sum(1 for b in bot_rows if b["online"]),
    }


def content_short(ws: Workspace) -> dict[str, list[dict[str, str]]]:
    """Per model name (or `_templates`), the review list's content problems (missing or running
    short): each its message and the pool to fill (`pool`, the key of /content/<pool>)."""
    out: dict[str, list[dict[str, str]]] = {}
    for item in attention(ws):
        if item["kind"] in ("content_missing", "content_short") and item.get("model"):
            out.setdefault(item["model"], []).append({"message": item["message"], "pool": item.get("pool") or ""})
    return out


def screenshot_file(ws: Workspace, username: str, step_log_id: int) -> Path:
    """The evidence file of one step-log row of an account, inside the workspace's evidence
    folder; NotFound for anything else."""
    account = accounts.get_account(ws, username)
    rel = ws.db().scalar(
        "SELECT screenshot_path FROM step_log WHERE id = ? AND account_id = ?", [step_log_id, account["id"]]
    )
    if not rel:
        raise NotFound(f"no screenshot for step {step_log_id} of {account['username']}")
    root = (ws.path / EVIDENCE_DIR).resolve()
    path = (ws.path / rel).resolve()
    if root not in path.parents or not path.is_file():
        raise NotFound(f"the screenshot of step {step_log_id} is not in the evidence folder")
    return path
