"""Account performance figures sent by bots (`POST /api/bot/account/<id>/metrics`), kept as a
time series in `account_metrics`: one row per report, `followers`, `following` and `posts` in
their own columns, any other numeric figure (`likes`, `reach`, …) in `data_json`.

Rules:
- Only the bot the account is bound to reports its figures.
- `followers`, `following`, `posts`: whole numbers ≥ 0. Other figures: numbers (not booleans,
  not strings), names of lower-case letters, digits and `_`, at most MAX_EXTRAS of them.
- At least one figure per report.
"""

from __future__ import annotations

import json
import math
import re
from datetime import timedelta
from typing import Any

from ..store.clock import from_db, to_db
from ..store.db import Database
from ..store.errors import InvalidInput
from ..store.records import Record
from ..store.workspace import Workspace
from .botaccess import bound_account
from .bots import get_bot

CORE = ("followers", "following", "posts")
EXTRA_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_EXTRAS = 50
MAX_COUNT = 2**63 - 1  # SQLite's INTEGER range


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_figures(figures: dict) -> tuple[dict, dict]:
    """(core, extras) from a report, or InvalidInput naming the first bad figure."""
    if not isinstance(figures, dict):
        raise InvalidInput("metrics must be a JSON object of numbers")
    core, extras = {}, {}
    for name, value in figures.items():
        if name in CORE:
            if value is None:
                continue
            if isinstance(value, float) and value.is_integer():
                value = int(value)  # JSON (and JSON Schema) make no difference between 5 and 5.0
            if not (isinstance(value, int) and not isinstance(value, bool)) or not 0 <= value <= MAX_COUNT:
                raise InvalidInput(f"{name} must be a whole number of at least 0", detail={name: value})
            core[name] = value
        else:
            if not isinstance(name, str) or not EXTRA_NAME.match(name):
                raise InvalidInput(
                    f"metric name {name!r} must be lower-case letters, digits and _ (at most 40)", detail={"name": name}
                )
            if not _is_number(value):
                raise InvalidInput(f"metric {name} must be a number", detail={name: value})
            extras[name] = value
    if len(extras) > MAX_EXTRAS:
        raise InvalidInput(f"at most {MAX_EXTRAS} extra metrics per report (got {len(extras)})")
    if not core and not extras:
        raise InvalidInput("no figures: send at least one of followers, following, posts or another number")
    return core, extras


def record(ws: Workspace, account_id: int, bot_id: int, figures: dict) -> dict[str, Any]:
    """Store one report. Returns `{"id", "account_id", "at", "followers", "following", "posts",
    "extra": {...}}`. NotFound / Forbidden as `botaccess.bound_account`; InvalidInput for bad
    figures."""
    core, extras = check_figures(figures)
    db = ws.db()
    now = ws.now()
    with db.write():
        bot = get_bot(db, bot_id)
        bound_account(db, bot, account_id)
        cur = db.execute(
            "INSERT INTO account_metrics (account_id, bot_id, at, followers, following, posts, data_json)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                account_id,
                bot_id,
                now,
                core.get("followers"),
                core.get("following"),
                core.get("posts"),
                json.dumps(extras, sort_keys=True) if extras else None,
            ],
        )
    return {"id": cur.lastrowid, "account_id": account_id, "at": now, **{k: core.get(k) for k in CORE}, "extra": extras}


def _row(r: Record) -> dict[str, Any]:
    return {
        "id": r["id"],
        "account_id": r["account_id"],
        "bot_id": r["bot_id"],
        "at": r["at"],
        "followers": r["followers"],
        "following": r["following"],
        "posts": r["posts"],
        "extra": json.loads(r["data_json"]) if r["data_json"] else {},
    }


def series(
    ws: Workspace, account_id: int, *, since: str | None = None, db: Database | None = None
) -> list[dict[str, Any]]:
    """Every report of an account, oldest first (from `since`, a stored time, when given)."""
    db = db or ws.db()
    rows = db.query(
        "SELECT * FROM account_metrics WHERE account_id = ? AND at >= ? ORDER BY at, id", [account_id, since or ""]
    )
    return [_row(r) for r in rows]


def latest(ws: Workspace, account_id: int, db: Database | None = None) -> dict[str, Any] | None:
    """The newest report of an account, or None."""
    db = db or ws.db()
    r = db.one("SELECT * FROM account_metrics WHERE account_id = ? ORDER BY at DESC, id DESC LIMIT 1", [account_id])
    return _row(r) if r else None


def change(ws: Workspace, account_id: int, days: float = 7, db: Database | None = None) -> dict[str, Any] | None:
    """How the figures moved over the last `days`: the newest report against the newest one at
    or before now − days (or, when the series is younger than that, its oldest report).
    `{"since", "until", "followers", "following", "posts"}` with each a difference, or None
    where either report lacks that figure; None when the account has fewer than two reports."""
    db = db or ws.db()
    last = latest(ws, account_id, db)
    if last is None:
        return None
    cutoff = to_db(ws.clock.now() - timedelta(days=days))
    base = db.one(
        "SELECT * FROM account_metrics WHERE account_id = ? AND at <= ? ORDER BY at DESC, id DESC LIMIT 1",
        [account_id, cutoff],
    ) or db.one("SELECT * FROM account_metrics WHERE account_id = ? ORDER BY at, id LIMIT 1", [account_id])
    if base is None or base["id"] == last["id"]:
        return None
    out = {"since": base["at"], "until": last["at"]}
    for k in CORE:
        out[k] = None if base[k] is None or last[k] is None else last[k] - base[k]
    out["days"] = round((from_db(last["at"]) - from_db(base["at"])).total_seconds() / 86400, 3)
    return out
