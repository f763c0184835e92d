"""The operator's access to the web dashboard: one password, sessions and CSRF tokens.

Everything is kept in the `meta` table, so no schema change was needed:
- `dashboard.password`: the password's scrypt hash, `scrypt$N$r$p$salt$hash` (salt and hash
  base64). scrypt (stdlib `hashlib.scrypt`) with N=2**14, r=8, p=1, a 16-byte random salt and a
  32-byte key: about 16 MiB and a few tens of milliseconds per check, so guessing is slow even
  with a copy of the database. Comparison is constant-time.
- `dashboard.session.<sha256 of the token>`: one row a session, JSON `{"operator", "csrf",
  "created_at", "expires_at"}`. The cookie holds the token; the database only its hash, so a
  copy of the database opens no session. A session lasts SESSION_HOURS from login, by the
  workspace clock (so tests move it with IGCTL_NOW); logout and a new password end sessions.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from datetime import timedelta
from typing import Any

from ..store.clock import from_db, to_db
from ..store.errors import InvalidInput, Unauthorized
from ..store.workspace import Workspace

PASSWORD_KEY = "dashboard.password"
SESSION_PREFIX = "dashboard.session."
SESSION_HOURS = 12
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 1024
SCRYPT_N, SCRYPT_R, SCRYPT_P, SCRYPT_DKLEN, SALT_BYTES = 2**14, 8, 1, 32, 16
OPERATOR_NAME = re.compile(r"^[A-Za-z0-9._-]{1,40}$")
DEFAULT_OPERATOR = "dashboard"


# -- the password --------------------------------------------------------------------------------
def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(
    password: str, *, salt: bytes | None = None, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P
) -> str:
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    key = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=SCRYPT_DKLEN, maxmem=64 * 1024 * 1024
    )
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(key)
        got = hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=64 * 1024 * 1024,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def check_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_CHARS:
        raise InvalidInput(f"the password must have at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise InvalidInput(f"the password must have at most {MAX_PASSWORD_CHARS} characters")
    if password != password.strip() or "\n" in password or "\r" in password:
        raise InvalidInput("the password must not start or end with a space or hold a line break")
    return password


def has_password(ws: Workspace) -> bool:
    return ws.db().scalar("SELECT 1 FROM meta WHERE key = ?", [PASSWORD_KEY]) is not None


def set_password(ws: Workspace, password: str, *, actor: str) -> dict[str, Any]:
    """Store the operator password (its scrypt hash) and end every open session. Joins the
    caller's transaction."""
    check_password(password)
    hashed = hash_password(password)
    db = ws.db()
    now = ws.now()
    with db.write():
        replaced = has_password(ws)
        db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [PASSWORD_KEY, hashed],
        )
        ended = db.execute("DELETE FROM meta WHERE key LIKE ?", [SESSION_PREFIX + "%"]).rowcount
        ws.events.record(
            db,
            now,
            "dashboard.password_set",
            actor,
            message="dashboard password " + ("changed" if replaced else "set") + f"; {ended} session(s) ended",
            details={"replaced": replaced, "sessions_ended": ended},
        )
    return {"replaced": replaced, "sessions_ended": ended}


# -- sessions ------------------------------------------------------------------------------------
def operator_actor(name: str) -> str:
    return f"operator:{name}"


def check_operator_name(name: str | None) -> str:
    name = (name or "").strip()
    if not name:
        return DEFAULT_OPERATOR
    if not OPERATOR_NAME.match(name):
        raise InvalidInput("the operator name may hold 1-40 letters, digits, '.', '_' and '-'")
    return name


def _session_key(token: str) -> str:
    return SESSION_PREFIX + hashlib.sha256(token.encode("utf-8")).hexdigest()


def login(ws: Workspace, password: str, *, operator: str | None = None, address: str = "-") -> dict[str, Any]:
    """Check the password; on success open a session. Returns `{"token", "csrf", "operator",
    "expires_at"}`. A wrong password raises Unauthorized (and is in the event log)."""
    name = check_operator_name(operator)
    db = ws.db()
    stored = db.scalar("SELECT value FROM meta WHERE key = ?", [PASSWORD_KEY])
    if stored is None:
        raise Unauthorized("no dashboard password is set: run `igctl dashboard set-password`")
    now = ws.clock.now()
    if not isinstance(password, str) or len(password) > MAX_PASSWORD_CHARS or not verify_password(password, stored):
        with db.write():
            ws.events.record(
                db,
                to_db(now),
                "dashboard.login_failed",
                operator_actor(name),
                message=f"wrong dashboard password from {address}",
                details={"address": address},
            )
        raise Unauthorized("wrong password")
    token = secrets.token_urlsafe(32)
    session = {
        "operator": name,
        "csrf": secrets.token_urlsafe(32),
        "created_at": to_db(now),
        "expires_at": to_db(now + timedelta(hours=SESSION_HOURS)),
    }
    with db.write():
        # forget expired sessions while here, so the table does not grow
        for row in db.query("SELECT key, value FROM meta WHERE key LIKE ?", [SESSION_PREFIX + "%"]):
            if json.loads(row["value"])["expires_at"] <= to_db(now):
                db.execute("DELETE FROM meta WHERE key = ?", [row["key"]])
        db.execute("INSERT INTO meta (key, value) VALUES (?, ?)", [_session_key(token), json.dumps(session)])
        ws.events.record(
            db,
            to_db(now),
            "dashboard.login",
            operator_actor(name),
            message=f"operator {name} logged in to the dashboard from {address}",
            details={"address": address},
        )
    return {"token": token, **session}


def session(ws: Workspace, token: str | None) -> dict[str, Any] | None:
    """The open session of a cookie's token, or None (no token, unknown, ended or expired)."""
    if not token or len(token) > 200:
        return None
    row = ws.db().scalar("SELECT value FROM meta WHERE key = ?", [_session_key(token)])
    if row is None:
        return None
    data = json.loads(row)
    if data["expires_at"] <= ws.now():
        return None
    return data


def check_csrf(sess: dict, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(str(given).encode("utf-8"), sess["csrf"].encode("utf-8"))


def logout(ws: Workspace, token: str | None) -> bool:
    sess = session(ws, token)
    db = ws.db()
    with db.write():
        gone = db.execute("DELETE FROM meta WHERE key = ?", [_session_key(token or "")]).rowcount
        if sess is not None:
            ws.events.record(
                db,
                ws.now(),
                "dashboard.logout",
                operator_actor(sess["operator"]),
                message=f"operator {sess['operator']} logged out of the dashboard",
            )
    return bool(gone)


def expire_in(ws: Workspace, sess: dict) -> int:
    """Seconds until the session ends (for the cookie's Max-Age)."""
    return max(int((from_db(sess["expires_at"]) - ws.clock.now()).total_seconds()), 0)
