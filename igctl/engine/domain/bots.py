"""Bot identities (a PC with its phone): tokens, listing, revocation and device affinity.

A token is `secrets.token_urlsafe(32)` (256 random bits) and only its SHA-256 is stored. A slow
password hash (bcrypt, scrypt) protects low-entropy secrets against guessing; a 256-bit random
token cannot be guessed, so one fast hash loses nothing and lets the API find the bot by an
indexed lookup (`bots.token_hash` is UNIQUE) on every request.

Device affinity (product.md §3): an account is bound to one bot and one numbered slot
(`accounts.bot_id`, `accounts.slot`, UNIQUE together). The claim binds an unbound account with
`lowest_free_slot()`; `move_account()` rebinds; `revoke()` unbinds.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, time, timedelta
from typing import Any

from ..queue import tasks
from ..store import clock
from ..store.db import Database
from ..store.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from ..store.events import EventLog
from ..store.records import AccountRow, BotRow
from ..store.workspace import Workspace

BOT_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
MAX_TOKEN_CHARS = 256


def get_bot(db: Database, bot_id: int, *, seen_at: str | None = None) -> BotRow:
    """A bot that may work: NotFound for an unknown id, Forbidden for a revoked one. With
    `seen_at` (inside a write) its last_seen_at is set in the same statement; a refusal's
    exception then rolls that back with the rest of the transaction."""
    if seen_at is None:
        bot = db.one("SELECT * FROM bots WHERE id = ?", [bot_id])
    else:
        bot = db.one("UPDATE bots SET last_seen_at = ? WHERE id = ? RETURNING *", [seen_at, bot_id])
    if bot is None:
        raise NotFound(f"no bot with id {bot_id}", detail={"bot_id": bot_id})
    if bot["revoked_at"] is not None:
        raise Forbidden(f"bot {bot['name']} is revoked", detail={"bot_id": bot_id})
    return bot


def bind(
    db: Database,
    events: EventLog,
    bot: BotRow,
    account: AccountRow,
    *,
    slot: int | None,
    at: str,
    actor: str | None = None,
) -> None:
    """An unbound account bound to `bot` and its `slot` by the bot's first claim of it (made by
    the bot itself, or by `actor`, an operator working the bot's console)."""
    db.execute(
        """UPDATE accounts SET bot_id = ?, slot = ?, updated_at = ?, last_bot_action_by = ?, last_bot_action_at = ?
           WHERE id = ? AND bot_id IS NULL""",
        [bot["id"], slot, at, bot["name"], at, account["id"]],
    )
    events.record(
        db,
        at,
        "account.bound",
        actor or f"bot:{bot['name']}",
        account_id=account["id"],
        bot_id=bot["id"],
        message=f"{account['username']} bound to bot {bot['name']}, slot {slot}",
        details={"slot": slot},
    )


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_slots(slots: object, about: tuple[str, ...] = ("slots",)) -> int | None:
    """A slot limit: None (no limit) or a whole number of at least 1; `about` names the input
    it came from (`bot add --slots N`; `bot set-slots` takes it as an argument)."""
    if slots is None:
        return None
    if isinstance(slots, bool) or not isinstance(slots, int) or slots < 1:
        raise InvalidInput(
            f"a bot's slots must be a whole number of at least 1 (got {slots}); without a number it has no limit",
            about=about,
        )
    return slots


def get(db: Database, name: str) -> BotRow:
    """A bot by name (names compare case-insensitively), or NotFound."""
    row = db.one("SELECT * FROM bots WHERE name = ? COLLATE NOCASE", [name])
    if row is None:
        raise NotFound(f"no bot named {name}")
    return row


def by_id(db: Database, bot_id: int) -> BotRow:
    row = db.one("SELECT * FROM bots WHERE id = ?", [bot_id])
    if row is None:
        raise NotFound(f"no bot with id {bot_id}")
    return row


def actor_of(bot: BotRow) -> str:
    return f"bot:{bot['name']}"


def add(ws: Workspace, name: str, *, slots: int | None = None, actor: str) -> dict[str, Any]:
    """A new bot identity. The token is in the answer and nowhere else: only its hash is kept."""
    if not isinstance(name, str) or not BOT_NAME.match(name):
        raise InvalidInput(f"bot name {name!r} must be 1-64 letters, digits, '-', '_' or '.'")
    slots = check_slots(slots)
    db = ws.db()
    token = secrets.token_urlsafe(32)
    now = ws.now()
    with db.write():
        clash = db.one("SELECT name, revoked_at FROM bots WHERE name = ? COLLATE NOCASE", [name])
        if clash is not None:
            note = " (revoked; names stay taken so the log stays unambiguous)" if clash["revoked_at"] else ""
            raise Conflict(f"a bot named {clash['name']} already exists{note}")
        cur = db.execute(
            "INSERT INTO bots (name, token_hash, slots, created_at) VALUES (?, ?, ?, ?)",
            [name, hash_token(token), slots, now],
        )
        bot_id = cur.lastrowid
        ws.events.record(
            db,
            now,
            "bot.added",
            actor,
            bot_id=bot_id,
            message=f"bot {name} added ({'no slot limit' if slots is None else f'{slots} slots'})",
            details={"name": name, "slots": slots},
        )
    return {"id": bot_id, "name": name, "token": token, "slots": slots}


def authenticate(ws: Workspace, token: object, db: Database | None = None) -> BotRow:
    """The bot row a bearer token belongs to; Unauthorized for a missing, unknown or revoked
    token. The stored hash is compared with `hmac.compare_digest`, so the comparison takes the
    same time wherever the two differ; the lookup itself goes by the hash, which tells an
    attacker nothing about the token."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
        raise Unauthorized("a valid bot token is required")
    db = db or ws.db()
    wanted = hash_token(token)
    row = db.one("SELECT * FROM bots WHERE token_hash = ?", [wanted])
    stored = row["token_hash"] if row is not None else hash_token("")
    matches = hmac.compare_digest(stored.encode(), wanted.encode())  # run for unknown tokens too
    if row is None or not matches:
        raise Unauthorized("unknown bot token")
    if row["revoked_at"] is not None:
        raise Unauthorized("this bot's token was revoked")
    return row


def _today(ws: Workspace) -> tuple[str, str]:
    """The workspace's calendar day of now, as stored times [start, end)."""
    local = ws.clock.now().astimezone(ws.tz)
    start = datetime.combine(local.date(), time(0), tzinfo=ws.tz)
    end = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=ws.tz)
    return clock.to_db(start), clock.to_db(end)


def list_bots(ws: Workspace, db: Database | None = None) -> list[dict[str, Any]]:
    """Every bot with its liveliness, today's work and its bound accounts."""
    db = db or ws.db()
    now = ws.clock.now()
    online_since = clock.to_db(now - timedelta(minutes=ws.config.bot.offline_after_minutes))
    day_start, day_end = _today(ws)
    rows = db.query(
        """
        SELECT b.*,
          (SELECT count(*) FROM accounts a WHERE a.bot_id = b.id) AS bound,
          (SELECT count(*) FROM tasks t WHERE t.bot_id = b.id AND t.status = 'claimed') AS claimed,
          (SELECT count(*) FROM step_log s WHERE s.bot_id = b.id AND s.status = 'completed'
              AND COALESCE(s.completed_at, s.started_at) >= ? AND COALESCE(s.completed_at, s.started_at) < ?) AS done_today,
          (SELECT count(*) FROM step_log s WHERE s.bot_id = b.id AND s.status IN ('failed', 'requires_review')
              AND COALESCE(s.completed_at, s.started_at) >= ? AND COALESCE(s.completed_at, s.started_at) < ?) AS failed_today
        FROM bots b ORDER BY b.id
        """,
        [day_start, day_end, day_start, day_end],
    )
    out = []
    for r in rows:
        revoked = r["revoked_at"] is not None
        online = not revoked and r["last_seen_at"] is not None and r["last_seen_at"] >= online_since
        out.append(
            {
                "id": r["id"],
                "name": r["name"],
                "slots": r["slots"],
                "bound_accounts": r["bound"],
                "free_slots": None if r["slots"] is None else max(r["slots"] - r["bound"], 0),
                "claimed_tasks": r["claimed"],
                "done_today": r["done_today"],
                "failed_today": r["failed_today"],
                "online": online,
                "last_seen_at": r["last_seen_at"],
                "status": r["status"],
                "app_version": r["app_version"],
                "created_at": r["created_at"],
                "revoked": revoked,
                "revoked_at": r["revoked_at"],
            }
        )
    return out


def lowest_free_slot(db: Database, bot: BotRow) -> int | None:
    """A free slot number for the bot: with a slot limit, the lowest free one from 1 (None when
    all are taken); a bot without a limit always has one: the next after its highest (an index lookup;
    such a bot may hold thousands of accounts)."""
    if bot["slots"] is None:
        return db.scalar("SELECT COALESCE(MAX(slot), 0) + 1 FROM accounts WHERE bot_id = ?", [bot["id"]])
    used = {r[0] for r in db.query("SELECT slot FROM accounts WHERE bot_id = ? AND slot IS NOT NULL", [bot["id"]])}
    limit = bot["slots"]
    slot = 1
    while slot in used:
        slot += 1
    if limit is not None and (slot > limit or len(used) >= limit):
        return None
    return slot


def revoke(ws: Workspace, name: str, *, actor: str) -> dict[str, Any]:
    """Revoke a bot: its token stops working, its claimed tasks go back to the queue (due as
    they were; the attempt is given back, the release is not held against the account), its
    accounts are unbound so the next bot to claim them binds them."""
    db = ws.db()
    now = ws.now()
    with db.write():
        bot = get(db, name)
        if bot["revoked_at"] is not None:
            raise Conflict(f"bot {bot['name']} is already revoked")
        db.execute("UPDATE bots SET revoked_at = ?, current_task_id = NULL WHERE id = ?", [now, bot["id"]])
        held = db.query("SELECT * FROM tasks WHERE bot_id = ? AND status = 'claimed' ORDER BY id", [bot["id"]])
        for task in held:
            tasks.release(db, ws.events, task, at=now, actor=actor, bot=bot)
        accounts = db.query("SELECT id, username, slot FROM accounts WHERE bot_id = ? ORDER BY id", [bot["id"]])
        db.execute("UPDATE accounts SET bot_id = NULL, slot = NULL, updated_at = ? WHERE bot_id = ?", [now, bot["id"]])
        for a in accounts:
            ws.events.record(
                db,
                now,
                "account.unbound",
                actor,
                account_id=a["id"],
                bot_id=bot["id"],
                cause="bot revoked",
                message=f"{a['username']} unbound from bot {bot['name']} (slot {a['slot']})",
                details={"bot": bot["name"], "slot": a["slot"]},
            )
        ws.events.record(
            db,
            now,
            "bot.revoked",
            actor,
            bot_id=bot["id"],
            message=f"bot {bot['name']} revoked: {len(held)} task(s) released, {len(accounts)} account(s) unbound",
            details={"name": bot["name"], "tasks_released": len(held), "accounts_unbound": len(accounts)},
        )
    return {"name": bot["name"], "tasks_released": len(held), "accounts_unbound": len(accounts)}


def set_slots(ws: Workspace, name: str, slots: int | None, *, actor: str) -> dict[str, Any]:
    """`bot set-slots NAME N|none`: how many app containers the bot's phone runs (None: no
    limit). Refused, with nothing changed, for a revoked bot and for a limit below the slots
    already in use: every bound account keeps its slot number (its app container), so a limit
    of N needs every bound account in slots 1..N; the message says how many accounts are bound
    and which slots lie above the limit (move or retire those accounts first). Setting the
    limit it has changes nothing (`changed` false, no event)."""
    slots = check_slots(slots, about=())
    db = ws.db()
    now = ws.now()
    with db.write():
        bot = get(db, name)
        if bot["revoked_at"] is not None:
            raise Conflict(f"bot {bot['name']} is revoked; its slots cannot change")
        old = bot["slots"]
        bound = db.query("SELECT slot FROM accounts WHERE bot_id = ? ORDER BY slot", [bot["id"]])
        answer = {"id": bot["id"], "name": bot["name"], "old_slots": old, "slots": slots, "bound_accounts": len(bound)}
        if old == slots:
            return {**answer, "changed": False}
        if slots is not None:
            above = [r["slot"] for r in bound if r["slot"] is not None and r["slot"] > slots]
            if above:
                raise Conflict(
                    f"bot {bot['name']} cannot go down to {slots} slot(s): it has {len(bound)} account(s) bound, "
                    f"{len(above)} of them in slot(s) above {slots} ({', '.join(map(str, above))}); "
                    "move or retire those accounts first"
                )
        db.execute("UPDATE bots SET slots = ? WHERE id = ?", [slots, bot["id"]])
        ws.events.record(
            db,
            now,
            "bot.slots_changed",
            actor,
            bot_id=bot["id"],
            message=f"bot {bot['name']}: {_limit(old)} → {_limit(slots)}",
            details={"name": bot["name"], "old_slots": old, "slots": slots, "bound_accounts": len(bound)},
        )
    return {**answer, "changed": True}


def _limit(slots: int | None) -> str:
    return "no slot limit" if slots is None else f"{slots} slot(s)"


def move_account(ws: Workspace, username: str, bot_name: str, *, actor: str) -> dict[str, Any]:
    """`accounts move USERNAME --bot NAME`: bind the account to that bot's lowest free slot.
    Refused while the account has a claimed task (the phone is working on it), for a retired
    account, a revoked bot, or a bot with no free slot."""
    db = ws.db()
    now = ws.now()
    with db.write():
        account = db.one("SELECT * FROM accounts WHERE username = ?", [username])
        if account is None:
            raise NotFound(f"no account named {username}")
        bot = get(db, bot_name)
        if bot["revoked_at"] is not None:
            raise Conflict(f"bot {bot['name']} is revoked")
        if account["lifecycle_state"] == "retired":
            raise Conflict(f"account {account['username']} is retired; it is never handed to a bot again")
        if account["bot_id"] == bot["id"]:
            return {
                "username": account["username"],
                "bot": bot["name"],
                "slot": account["slot"],
                "from_bot": bot["name"],
                "changed": False,
            }
        claimed = db.one("SELECT id FROM tasks WHERE account_id = ? AND status = 'claimed'", [account["id"]])
        if claimed is not None:
            raise Conflict(
                f"account {account['username']} has a task in progress (task {claimed['id']}); move it once that is done"
            )
        slot = lowest_free_slot(db, bot)
        if slot is None:
            raise Conflict(f"bot {bot['name']} has no free slot ({bot['slots']} slots, all bound)")
        old_bot = by_id(db, account["bot_id"]) if account["bot_id"] is not None else None
        db.execute(
            "UPDATE accounts SET bot_id = ?, slot = ?, updated_at = ? WHERE id = ?",
            [bot["id"], slot, now, account["id"]],
        )
        ws.events.record(
            db,
            now,
            "account.moved",
            actor,
            account_id=account["id"],
            bot_id=bot["id"],
            message=f"{account['username']} moved to bot {bot['name']} slot {slot}"
            + (f" (was {old_bot['name']} slot {account['slot']})" if old_bot else ""),
            details={
                "from_bot": old_bot["name"] if old_bot else None,
                "from_slot": account["slot"],
                "bot": bot["name"],
                "slot": slot,
            },
        )
    return {
        "username": account["username"],
        "bot": bot["name"],
        "slot": slot,
        "from_bot": old_bot["name"] if old_bot else None,
        "changed": True,
    }
