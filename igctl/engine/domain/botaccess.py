"""What a bot may see besides its own task queue: the content of a task, the accounts bound to
it. The bot API calls these; the rules of who may see what live here and nowhere else.

- A bot sees the content of a task only for an account bound to it (device affinity: the
  claim binds the account, so the bot that claimed the task is the one that sees its content),
  and only once the content has been chosen (at the claim).
- A bot reports metrics only for an account bound to it.
"""

from __future__ import annotations

import json
from typing import Any

from ..store.db import Database
from ..store.errors import Conflict, Forbidden, NotFound
from ..store.records import AccountRow, BotRow
from ..store.workspace import Workspace
from .bots import get_bot

# where a bot fetches an image (the bot API's route, GET /api/bot/images/<content_id>)
IMAGE_URL = "/api/bot/images/{}"


def bound_account(db: Database, bot: BotRow, account_id: int) -> AccountRow:
    """The account row when it is bound to `bot`; NotFound for an unknown account, Forbidden
    for one bound to another bot or to none."""
    account = db.one("SELECT * FROM accounts WHERE id = ?", [account_id])
    if account is None:
        raise NotFound(f"no account with id {account_id}", detail={"account_id": account_id})
    if account["bot_id"] != bot["id"]:
        raise Forbidden(
            f"account {account_id} is not bound to bot {bot['name']}",
            detail={"account_id": account_id, "bot_id": bot["id"]},
        )
    return account


def task_content(ws: Workspace, bot_id: int, account_id: int, task_id: int) -> dict[str, Any]:
    """The content chosen for task `task_id` of account `account_id`, as recorded at the claim:
    `{"texts": {type: {"content_id", "text"}}, "images": [{"content_id", "type", "sha256", "path"}]}`.
    The same answer every time (the choice is stored on the task). NotFound for an unknown task
    or one of another account; Forbidden when the account is not bound to this bot; Conflict
    when the task has not been claimed yet (content is chosen at the claim)."""
    db = ws.db()
    bot = get_bot(db, bot_id)
    task = db.one("SELECT id, account_id, status, content_json FROM tasks WHERE id = ?", [task_id])
    if task is None or task["account_id"] != account_id:
        raise NotFound(
            f"account {account_id} has no task {task_id}", detail={"account_id": account_id, "task_id": task_id}
        )
    bound_account(db, bot, account_id)
    if task["content_json"] is None:
        raise Conflict(
            f"task {task_id} has not been claimed yet: its content is chosen when a bot claims it",
            detail={"task_id": task_id, "status": task["status"]},
        )
    return json.loads(task["content_json"])


def api_content(chosen: dict[str, Any]) -> dict[str, Any]:
    """The content of a task as a bot gets it: texts as chosen, each image with the URL to
    fetch it from and its SHA-256 (the workspace path stays on the server)."""
    return {
        "texts": chosen.get("texts", {}),
        "images": [
            {
                "content_id": i["content_id"],
                "type": i.get("type"),
                "url": IMAGE_URL.format(i["content_id"]),
                "sha256": i["sha256"],
            }
            for i in chosen.get("images", [])
        ],
    }
