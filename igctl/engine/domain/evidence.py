"""Screenshots a bot sends as evidence of what it saw (`POST /api/bot/tasks/<id>/screenshot`).

Files live under the workspace: `evidence/<task_id>/<n>.png|jpg`, numbered from 1 in the order
they came. The newest one's path (relative to the workspace) is written on the task's latest
step-log row (`step_log.screenshot_path`), so the attempt it belongs to shows it; every one of
them is also a `task.screenshot` event with its path, size and SHA-256, so none is forgotten.

Rules:
- Only the bot that worked the task's latest attempt may add evidence to it (while it holds
  the task, and after it reported: a screenshot of the failure usually follows the failure).
- PNG or JPEG only, recognised by their magic bytes, not by what the client claims.
- At most `server.max_body_mb` (the API refuses bigger bodies before they get here) and never
  empty.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from ..store.db import Database
from ..store.errors import Conflict, InvalidInput, NotFound, TooLarge
from ..store.workspace import Workspace
from .bots import get_bot

EVIDENCE_DIR = "evidence"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"


class NotAnImage(InvalidInput):
    """The body is neither PNG nor JPEG (HTTP 415 Unsupported Media Type)."""

    http_status = 415


def image_kind(data: bytes) -> str | None:
    """ "png", "jpg", or None, from the first bytes."""
    if data.startswith(PNG_MAGIC):
        return "png"
    if data.startswith(JPEG_MAGIC):
        return "jpg"
    return None


def max_bytes(ws: Workspace) -> int:
    return int(ws.config.server.max_body_mb * 1024 * 1024)


def _next_number(folder: Path) -> int:
    numbers = [int(p.stem) for p in folder.glob("*") if p.stem.isdigit()] if folder.is_dir() else []
    return max(numbers, default=0) + 1


def add_screenshot(ws: Workspace, task_id: int, bot_id: int, data: bytes) -> dict[str, Any]:
    """Keep `data` as evidence of task `task_id`. Returns `{"task_id", "step_log_id", "path",
    "sha256", "bytes"}` (`path` relative to the workspace). NotFound for an unknown task,
    Conflict when this bot did not work its latest attempt, NotAnImage for anything but PNG or
    JPEG, TooLarge over the limit, InvalidInput for an empty body."""
    if not data:
        raise InvalidInput("the screenshot is empty")
    if len(data) > max_bytes(ws):
        raise TooLarge(f"the screenshot is over the limit of {max_bytes(ws)} bytes")
    kind = image_kind(data)
    if kind is None:
        raise NotAnImage("the screenshot must be a PNG or JPEG image")
    db: Database = ws.db()
    now = ws.now()
    sha = hashlib.sha256(data).hexdigest()
    with db.write():
        bot = get_bot(db, bot_id)
        task = db.one("SELECT id, account_id FROM tasks WHERE id = ?", [task_id])
        if task is None:
            raise NotFound(f"no task with id {task_id}", detail={"task_id": task_id})
        attempt = db.one("SELECT id, bot_id FROM step_log WHERE task_id = ? ORDER BY id DESC LIMIT 1", [task_id])
        if attempt is None or attempt["bot_id"] != bot_id:
            raise Conflict(f"task {task_id} was not last worked by bot {bot['name']}", detail={"task_id": task_id})
        folder = ws.path / EVIDENCE_DIR / str(task_id)
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{_next_number(folder)}.{kind}"
        rel = f"{EVIDENCE_DIR}/{task_id}/{name}"
        target = folder / name
        tmp = folder / f".{name}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, target)
        try:
            db.execute("UPDATE step_log SET screenshot_path = ? WHERE id = ?", [rel, attempt["id"]])
            ws.events.record(
                db,
                now,
                "task.screenshot",
                f"bot:{bot['name']}",
                account_id=task["account_id"],
                bot_id=bot_id,
                task_id=task_id,
                message=f"screenshot {rel} kept as evidence of task {task_id}",
                details={"path": rel, "sha256": sha, "bytes": len(data), "step_log_id": attempt["id"]},
            )
        except BaseException:
            target.unlink(missing_ok=True)  # the transaction rolls back: no file without its row
            raise
    return {"task_id": task_id, "step_log_id": attempt["id"], "path": rel, "sha256": sha, "bytes": len(data)}


def for_task(ws: Workspace, task_id: int) -> list[dict[str, Any]]:
    """Every screenshot kept for a task, oldest first: `{"path", "sha256", "bytes", "at", "bot_id"}`."""
    rows = ws.db().query(
        "SELECT at, bot_id, details_json FROM events WHERE kind = 'task.screenshot' AND task_id = ? ORDER BY id",
        [task_id],
    )
    out = []
    for r in rows:
        d = json.loads(r["details_json"] or "{}")
        out.append(
            {
                "path": d.get("path"),
                "sha256": d.get("sha256"),
                "bytes": d.get("bytes"),
                "at": r["at"],
                "bot_id": r["bot_id"],
            }
        )
    return out
