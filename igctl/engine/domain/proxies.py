"""Proxies: the spec formats, storage, and the rules for putting accounts on them.

Rules (product.md §4), each in one function here:
- a proxy holds at most `max_accounts` accounts (1–3, never more than 3); retired accounts do
  not count (retiring frees the slot);
- a proxy serves at most one model (`proxies.assigned_model_id`): once one of its accounts is in
  model M, its other accounts can only go to M or stay without a model (`check_model`), and the
  proxy's model is cleared when none of its accounts is in M any more (`refresh_proxy_model`);
- only `active` proxies get new accounts;
- auto-assignment packs: the proxy with the most accounts that still has room, ties by lowest id.
"""

from __future__ import annotations

import heapq
import ipaddress
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..store.db import Database
from ..store.errors import Conflict, IllegalTransition, InvalidInput, NotFound
from ..store.events import EventLog
from ..store.records import AccountRow, ProxyRow
from ..store.workspace import Workspace
from . import lifecycle

MIB = 1024 * 1024

SCHEMES = ("http", "https", "socks5", "socks5h")
STATUSES = ("active", "inactive", "error")
MAX_ACCOUNTS_LIMIT = 3

# The accounts that occupy a proxy slot: every account on it that is not retired.
_USES = "lifecycle_state != 'retired'"

_HOST_LABEL = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$")
_LINE_BREAK = re.compile(r"\r\n|\n|\r")


# -- the spec -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProxySpec:
    scheme: str
    host: str  # lower-case; an IPv6 address without brackets, in its compressed form
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def host_port(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def label(self) -> str:
        """How the proxy is named to operators: never with its password."""
        return f"{self.username}@{self.host_port}" if self.username else self.host_port


def parse_spec(text: str) -> ProxySpec:
    """One proxy spec: `host:port`, `host:port:user:pass`, `user:pass@host:port`,
    `scheme://user:pass@host:port` or `scheme://host:port`; IPv6 hosts in brackets.
    Surrounding whitespace is ignored; anything else that does not fit is InvalidInput with the
    reason, never guessed."""
    if not isinstance(text, str):
        raise InvalidInput("a proxy spec must be text")
    s = text.strip()
    if not s:
        raise InvalidInput("empty proxy spec")
    if any(ch.isspace() for ch in s):
        raise InvalidInput("a proxy spec may not contain spaces")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in s):
        raise InvalidInput("a proxy spec may not contain control characters")

    scheme = "http"
    username = password = None
    if "://" in s:
        given, s = s.split("://", 1)
        if not given:
            raise InvalidInput("empty scheme before '://'")
        scheme = given.lower()
        if scheme not in SCHEMES:
            raise InvalidInput(f"unknown scheme {given!r} (use http, https, socks5 or socks5h)")
        if s.endswith("/"):  # an empty URL path, as in http://host:port/
            s = s[:-1]
        if "/" in s or "?" in s or "#" in s:
            raise InvalidInput("a proxy URL may not have a path, query or fragment after the port")
        if "@" in s:
            creds, s = s.rsplit("@", 1)
            username, password = _credentials(creds)
        host, port = _host_port(s)
    elif "@" in s:
        creds, s = s.rsplit("@", 1)
        username, password = _credentials(creds)
        host, port = _host_port(s)
    else:
        host, port, username, password = _colon_form(s)
    return ProxySpec(scheme, host, port, username, password)


def _credentials(creds: str) -> tuple[str, str]:
    if ":" not in creds:
        raise InvalidInput("the part before '@' must be user:pass")
    user, password = creds.split(":", 1)
    return _check_credentials(user, password)


def _check_credentials(user: str, password: str) -> tuple[str, str]:
    if not user:
        raise InvalidInput("empty proxy username")
    if not password:
        raise InvalidInput("empty proxy password")
    return user, password


def _bare_ipv6(parts: list[str]) -> bool:
    """Whether the leading colon-separated parts form an IPv6 address (written without brackets)."""
    for k in range(3, len(parts) + 1):
        try:
            ipaddress.IPv6Address(":".join(parts[:k]))
            return True
        except ValueError:
            continue
    return False


_NEEDS_BRACKETS = "an IPv6 address must be in brackets, e.g. [2001:db8::1]:8080"


def _bracketed(s: str) -> tuple[str, str]:
    """`[v6]rest` → (host, rest)."""
    end = s.find("]")
    if end < 0:
        raise InvalidInput("'[' without a closing ']' around the IPv6 address")
    inner, rest = s[1:end], s[end + 1 :]
    if not inner:
        raise InvalidInput("empty host")
    if "%" in inner:
        raise InvalidInput("an IPv6 zone id (%…) is not allowed in a proxy host")
    try:
        host = ipaddress.IPv6Address(inner).compressed
    except ValueError:
        raise InvalidInput(f"{inner!r} in brackets is not an IPv6 address") from None
    return host, rest


def _host_port(s: str) -> tuple[str, int]:
    if s.startswith("["):
        host, rest = _bracketed(s)
        if not rest:
            raise InvalidInput("missing port (expected [host]:port)")
        if not rest.startswith(":"):
            raise InvalidInput("expected ':' and a port after ']'")
        return host, _port(rest[1:])
    if "[" in s or "]" in s:
        raise InvalidInput("brackets are only allowed around an IPv6 host")
    parts = s.split(":")
    if len(parts) > 2 and _bare_ipv6(parts):
        raise InvalidInput(_NEEDS_BRACKETS)
    if len(parts) == 1:
        if not s:
            raise InvalidInput("empty host")
        raise InvalidInput("missing port (expected host:port)")
    if len(parts) > 2:
        raise InvalidInput("too many ':' (expected host:port; a scheme:// URL takes user:pass@host:port)")
    return _host(parts[0]), _port(parts[1])


def _colon_form(s: str) -> tuple[str, int, str | None, str | None]:
    """`host:port` or `host:port:user:pass` (the password is everything after the third ':')."""
    if s.startswith("["):
        host, rest = _bracketed(s)
        if not rest:
            raise InvalidInput("missing port (expected [host]:port)")
        if not rest.startswith(":"):
            raise InvalidInput("expected ':' and a port after ']'")
        fields = rest[1:].split(":", 2)
    else:
        if "[" in s or "]" in s:
            raise InvalidInput("brackets are only allowed around an IPv6 host")
        parts = s.split(":")
        if len(parts) > 2 and _bare_ipv6(parts):
            raise InvalidInput(_NEEDS_BRACKETS)
        if len(parts) == 1:
            raise InvalidInput("missing port (expected host:port)")
        host = _host(parts[0])
        fields = s.split(":", 3)[1:]
    if len(fields) == 1:
        return host, _port(fields[0]), None, None
    if len(fields) == 2:
        raise InvalidInput("expected host:port or host:port:user:pass (3 fields given)")
    port = _port(fields[0])
    user, password = _check_credentials(fields[1], fields[2])
    return host, port, user, password


def _host(text: str) -> str:
    if not text:
        raise InvalidInput("empty host")
    host = text.lower()
    if re.fullmatch(r"[0-9.]+", host):
        try:
            return str(ipaddress.IPv4Address(host))
        except ValueError:
            raise InvalidInput(f"{text!r} is not a valid IPv4 address") from None
    labels = host.split(".")
    if len(host) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
        raise InvalidInput(f"{text!r} is not a valid host name")
    return host


def _port(text: str) -> int:
    if not text:
        raise InvalidInput("missing port (expected host:port)")
    if not text.isascii() or not text.isdigit():
        raise InvalidInput(f"port {text!r} is not a number")
    port = int(text)
    if not 1 <= port <= 65535:
        raise InvalidInput(f"port {port} is out of range (1–65535)")
    return port


# -- reading --------------------------------------------------------------------------------
_SELECT = f"""
    SELECT p.*, m.name AS model_name,
           (SELECT COUNT(*) FROM accounts a WHERE a.proxy_id = p.id AND a.{_USES}) AS account_count
    FROM proxies p LEFT JOIN models m ON m.id = p.assigned_model_id
"""


def proxy_dict(row: ProxyRow) -> dict[str, Any]:
    """A proxy as the CLI, the API and the dashboard show it: never with its password."""
    return {
        "id": row["id"],
        "host": row["host"],
        "port": row["port"],
        "scheme": row["scheme"],
        "username": row["username"] or None,
        "provider": row["provider"],
        "location": row["location"],
        "monthly_cost": row["monthly_cost"],
        "status": row["status"],
        "account_count": row["account_count"],
        "max_accounts": row["max_accounts"],
        "model": row["model_name"],
        "last_tested_at": row["last_tested_at"],
        "last_test_ok": None if row["last_test_ok"] is None else bool(row["last_test_ok"]),
        "last_latency_ms": row["last_latency_ms"],
        "last_exit_ip": row["last_exit_ip"],
        "last_test_error": row["last_test_error"],
        "consecutive_failures": row["consecutive_failures"],
        "exit_ip_changed_at": row["exit_ip_changed_at"],
        "previous_exit_ip": row["previous_exit_ip"],
        "status_changed_at": row["status_changed_at"],
        "created_at": row["created_at"],
    }


def _row(db: Database, proxy_id: int | None) -> ProxyRow:
    row = db.one(_SELECT + " WHERE p.id = ?", [proxy_id])
    if row is None:
        raise NotFound(f"no proxy with id {proxy_id}")
    return row


def get_proxy(ws: Workspace, proxy_id: int) -> dict[str, Any]:
    return proxy_dict(_row(ws.db(), proxy_id))


def _model_id(db: Database, name: str) -> int:
    row = db.one("SELECT id FROM models WHERE name = ?", [name])
    if row is None:
        raise NotFound(f"no model named {name}")
    return row["id"]


def _check_status(status: str) -> str:
    if status not in STATUSES:
        raise InvalidInput(f"unknown proxy status {status!r} (use active, inactive or error)")
    return status


def list_proxies(
    ws: Workspace,
    *,
    free: bool = False,
    model: str | None = None,
    location: str | None = None,
    status: str | None = None,
) -> list[dict[str, Any]]:
    """Every proxy matching the filters, by id. `free`: active proxies with room for an account.
    `location` compares case-insensitively."""
    db = ws.db()
    where: list[str] = []
    params: list[Any] = []
    if model is not None:
        where.append("p.assigned_model_id = ?")
        params.append(_model_id(db, model))
    if location is not None:
        where.append("p.location = ? COLLATE NOCASE")
        params.append(location.strip())
    if status is not None:
        where.append("p.status = ?")
        params.append(_check_status(status))
    if free:
        where.append("p.status = 'active'")
    sql = _SELECT + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY p.id"
    rows = [proxy_dict(r) for r in db.query(sql, params)]
    if free:
        rows = [r for r in rows if r["account_count"] < min(r["max_accounts"], MAX_ACCOUNTS_LIMIT)]
    return rows


# -- adding ---------------------------------------------------------------------------------
def _text_option(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if any(ord(ch) < 32 for ch in value):
        raise InvalidInput(f"{name} may not contain control characters")
    return value or None


def _options(
    ws: Workspace, provider: str | None, location: str | None, cost: float | str | None, max_accounts: int | str | None
) -> dict[str, Any]:
    if cost is not None:
        try:
            cost = float(cost)
        except (TypeError, ValueError):
            raise InvalidInput(f"cost {cost!r} is not a number") from None
        if not cost >= 0 or cost == float("inf"):  # also refuses NaN
            raise InvalidInput(f"cost must be a number of at least 0, not {cost}")
    if max_accounts is None:
        max_accounts = ws.config.proxies.default_max_accounts
    if (
        isinstance(max_accounts, bool)
        or not isinstance(max_accounts, int)
        or not 1 <= max_accounts <= MAX_ACCOUNTS_LIMIT
    ):
        raise InvalidInput(f"max accounts must be 1, 2 or 3 (a proxy holds at most 3 accounts), not {max_accounts}")
    return {
        "provider": _text_option(provider, "provider"),
        "location": _text_option(location, "location"),
        "monthly_cost": cost,
        "max_accounts": max_accounts,
    }


_INSERT = """
    INSERT INTO proxies (scheme, host, port, username, password_enc, provider, location, monthly_cost,
                         max_accounts, created_at, updated_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""


def _insert_params(ws: Workspace, spec: ProxySpec, opts: dict, at: str) -> list:
    return [
        spec.scheme,
        spec.host,
        spec.port,
        spec.username or "",
        ws.cipher.encrypt(spec.password),
        opts["provider"],
        opts["location"],
        opts["monthly_cost"],
        opts["max_accounts"],
        at,
        at,
    ]


def _existing_id(db: Database, spec: ProxySpec) -> int | None:
    return db.scalar(
        "SELECT id FROM proxies WHERE host = ? AND port = ? AND username = ?",
        [spec.host, spec.port, spec.username or ""],
    )


def add(
    ws: Workspace,
    spec_text: str,
    *,
    provider: str | None = None,
    location: str | None = None,
    cost: float | str | None = None,
    max_accounts: int | str | None = None,
    actor: str,
) -> dict[str, Any]:
    """Store one proxy. The same host, port and username already stored → Conflict."""
    spec = parse_spec(spec_text)
    opts = _options(ws, provider, location, cost, max_accounts)
    db = ws.db()
    with db.write():
        existing = _existing_id(db, spec)
        if existing is not None:
            raise Conflict(f"proxy {spec.label} is already stored (id {existing})")
        at = ws.now()
        proxy_id = db.execute(_INSERT, _insert_params(ws, spec, opts, at)).lastrowid
        ws.events.record(
            db,
            at,
            "proxy.added",
            actor,
            proxy_id=proxy_id,
            message=f"proxy {proxy_id} added: {spec.scheme}://{spec.label}",
            details={"scheme": spec.scheme, "host": spec.host, "port": spec.port, "username": spec.username, **opts},
        )
        return proxy_dict(_row(db, proxy_id))


def read_text_file(path: str | Path, max_bytes: float) -> str:
    """A text file as an import reads it: UTF-8 (a BOM is dropped), not binary, not too big."""
    p = Path(path)
    if not p.exists():
        raise InvalidInput(f"no such file: {path}")
    if not p.is_file():
        raise InvalidInput(f"{path} is not a file")
    size = p.stat().st_size
    if size > max_bytes:
        raise InvalidInput(
            f"{path} is {size:,} bytes, over the limit of {int(max_bytes):,} bytes "
            f"(import.max_file_mb: {max_bytes / MIB:g} in igctl.yaml)"
        )
    data = p.read_bytes()
    if b"\x00" in data:
        raise InvalidInput(f"{path} is not a text file (it holds NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path} is not UTF-8 text (bad byte at offset {exc.start})") from None


def import_file(
    ws: Workspace,
    path: str | Path,
    *,
    provider: str | None = None,
    location: str | None = None,
    cost: float | str | None = None,
    actor: str,
) -> dict[str, Any]:
    """Store every valid proxy of a file (one spec a line) in one transaction. Blank lines and
    `#` comments are skipped; invalid lines and duplicates (in the file or already stored) are
    reported with their line numbers and skipped. A file that cannot be read as text → InvalidInput."""
    opts = _options(ws, provider, location, cost, None)
    text = read_text_file(path, ws.config.import_.max_file_mb * MIB)  # MB means MiB, as for accounts files
    max_line = ws.config.import_.max_line_chars
    db = ws.db()
    invalid: list[dict] = []
    duplicates: list[dict] = []
    with db.write():
        stored = {
            (r["host"], r["port"], r["username"]): r["id"]
            for r in db.query("SELECT id, host, port, username FROM proxies")
        }
        seen: dict[tuple, int] = {}
        params = []
        at = ws.now()
        for number, raw in enumerate(_LINE_BREAK.split(text), start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if len(line) > max_line:
                invalid.append({"line": number, "reason": f"line longer than {max_line} characters"})
                continue
            try:
                spec = parse_spec(line)
            except InvalidInput as exc:
                invalid.append({"line": number, "reason": exc.message})
                continue
            key = (spec.host, spec.port, spec.username or "")
            if key in stored:
                duplicates.append(
                    {"line": number, "proxy": spec.label, "reason": f"already stored as proxy {stored[key]}"}
                )
                continue
            if key in seen:
                duplicates.append({"line": number, "proxy": spec.label, "reason": f"repeats line {seen[key]}"})
                continue
            seen[key] = number
            params.append(_insert_params(ws, spec, opts, at))
        db.conn.executemany(_INSERT, params)
        result = {"imported": len(params), "duplicates": duplicates, "invalid": invalid, "file": str(path)}
        ws.events.record(
            db,
            at,
            "proxy.imported",
            actor,
            message=f"{len(params)} proxies imported from {Path(path).name}",
            details={
                "file": str(path),
                "imported": len(params),
                "duplicates": len(duplicates),
                "invalid": len(invalid),
                **opts,
            },
        )
    return result


# -- the model rule -------------------------------------------------------------------------
def check_model(db: Database, proxy_id: int, model_id: int) -> None:
    """May an account on this proxy go to model `model_id`? Conflict when the proxy serves another
    model (by its `assigned_model_id`, or by another model's account still on it)."""
    row = _row(db, proxy_id)
    other = row["assigned_model_id"]
    if other is None or other == model_id:
        other = db.scalar(
            f"SELECT model_id FROM accounts WHERE proxy_id = ? AND {_USES} AND model_id IS NOT NULL "
            "AND model_id != ? LIMIT 1",
            [proxy_id, model_id],
        )
    if other is not None and other != model_id:
        name = db.scalar("SELECT name FROM models WHERE id = ?", [other]) or f"#{other}"
        raise Conflict(f"proxy {proxy_id} serves model {name}", detail={"proxy_id": proxy_id, "model": name})


def _model_event(
    db: Database, events: EventLog | None, at: str | None, actor: str, proxy_id: int, old: int | None, new: int | None
) -> None:
    if events is None or old == new:
        return
    assert at is not None, "a proxy.model event needs `at` beside `events`"
    names = {r["id"]: r["name"] for r in db.query("SELECT id, name FROM models WHERE id IN (?, ?)", [old, new])}
    events.record(
        db,
        at,
        "proxy.model",
        actor,
        proxy_id=proxy_id,
        model_id=new if new is not None else old,
        message=f"proxy {proxy_id} serves {names.get(new, 'no model')}"
        if new
        else f"proxy {proxy_id} serves no model any more",
        details={"old_model": names.get(old), "new_model": names.get(new)},
    )


def set_proxy_model(
    db: Database,
    proxy_id: int,
    model_id: int,
    *,
    events: EventLog | None = None,
    at: str | None = None,
    actor: str = "operator",
) -> None:
    """Make the proxy serve `model_id` (after `check_model`). With `events` and `at`, a change is
    written to the event log as `proxy.model`. Must run inside a write transaction."""
    assert db.in_transaction, "set_proxy_model must run inside db.write()"
    check_model(db, proxy_id, model_id)
    old = db.scalar("SELECT assigned_model_id FROM proxies WHERE id = ?", [proxy_id])
    if old != model_id:
        db.execute(
            "UPDATE proxies SET assigned_model_id = ?, updated_at = coalesce(?, updated_at) WHERE id = ?",
            [model_id, at, proxy_id],
        )
        _model_event(db, events, at, actor, proxy_id, old, model_id)


def refresh_proxy_model(
    db: Database,
    proxy_id: int | None,
    *,
    events: EventLog | None = None,
    at: str | None = None,
    actor: str = "operator",
) -> int | None:
    """Clear the proxy's model when none of its (non-retired) accounts is in it any more; returns
    the model the proxy serves afterwards. Call it after an account leaves a proxy or a model.
    Must run inside a write transaction."""
    if proxy_id is None:
        return None
    assert db.in_transaction, "refresh_proxy_model must run inside db.write()"
    model_id = db.scalar("SELECT assigned_model_id FROM proxies WHERE id = ?", [proxy_id])
    if model_id is None:
        return None
    still = db.scalar(
        f"SELECT 1 FROM accounts WHERE proxy_id = ? AND model_id = ? AND {_USES} LIMIT 1", [proxy_id, model_id]
    )
    if still:
        return model_id
    db.execute(
        "UPDATE proxies SET assigned_model_id = NULL, updated_at = coalesce(?, updated_at) WHERE id = ?", [at, proxy_id]
    )
    _model_event(db, events, at, actor, proxy_id, model_id, None)
    return None


# -- assignment -----------------------------------------------------------------------------
def _account(db: Database, username: str) -> AccountRow:
    row = db.one(
        "SELECT id, username, lifecycle_state, proxy_id, model_id FROM accounts WHERE username = ?", [username]
    )
    if row is None:
        raise NotFound(f"no account named {username}")
    return row


def _room(row: ProxyRow) -> int:
    return min(row["max_accounts"], MAX_ACCOUNTS_LIMIT) - row["account_count"]


def pick_proxy(db: Database, model_id: int | None, location: str | None = None) -> ProxyRow | None:
    """The proxy auto-assignment would choose for one account: active, with room, serving no
    other model; the most accounts first, then the lowest id."""
    where = ["p.status = 'active'"]
    params: list = []
    if model_id is not None:
        where.append("(p.assigned_model_id IS NULL OR p.assigned_model_id = ?)")
        params.append(model_id)
    if location is not None:
        where.append("p.location = ? COLLATE NOCASE")
        params.append(location)
    rows = db.query(
        f"SELECT * FROM ({_SELECT} WHERE {' AND '.join(where)}) "
        f"WHERE account_count < min(max_accounts, {MAX_ACCOUNTS_LIMIT}) ORDER BY account_count DESC, id",
        params,
    )
    for row in rows:
        if model_id is None:
            return row
        try:
            check_model(db, row["id"], model_id)
            return row
        except Conflict:
            continue
    return None


def assign(ws: Workspace, username: str, proxy_id: int | None = None, *, actor: str) -> dict[str, Any]:
    """Put one account on a proxy (or on the proxy auto-assignment would pick for it). An
    `imported` account becomes `proxy_assigned`; an account in another state keeps it and only
    changes proxy; a retired account cannot get one."""
    db = ws.db()
    with db.write():
        account = _account(db, username)
        if account["lifecycle_state"] == lifecycle.RETIRED:
            raise IllegalTransition(f"account {account['username']} is retired; it cannot get a proxy")
        if proxy_id is None:
            if account["proxy_id"] is not None:
                raise Conflict(
                    f"account {account['username']} already uses proxy {account['proxy_id']}; "
                    "name the proxy to move it to"
                )
            proxy = pick_proxy(db, account["model_id"])
            if proxy is None:
                raise Conflict(
                    "no active proxy has room for another account"
                    + (" of this account's model" if account["model_id"] is not None else "")
                )
        else:
            proxy = _row(db, proxy_id)
            if account["proxy_id"] == proxy["id"]:
                raise Conflict(f"account {account['username']} already uses proxy {proxy['id']}")
            if proxy["status"] != "active":
                raise Conflict(f"proxy {proxy['id']} is {proxy['status']}; only active proxies get accounts")
            if _room(proxy) <= 0:
                raise Conflict(
                    f"proxy {proxy['id']} is full ({proxy['account_count']} of {proxy['max_accounts']} accounts)"
                )
            if account["model_id"] is not None:
                check_model(db, proxy["id"], account["model_id"])
        at = ws.now()
        old_proxy = account["proxy_id"]
        fields = {"proxy_id": proxy["id"], "proxy_assigned_at": at}
        if account["lifecycle_state"] == lifecycle.IMPORTED:
            lifecycle.move(
                db,
                ws.events,
                account,
                lifecycle.PROXY_ASSIGNED,
                at=at,
                actor=actor,
                cause="proxy assigned",
                fields=fields,
                details={"proxy_id": proxy["id"]},
            )
        else:
            db.execute(
                "UPDATE accounts SET proxy_id = ?, proxy_assigned_at = ?, updated_at = ? WHERE id = ?",
                [proxy["id"], at, at, account["id"]],
            )
        if account["model_id"] is not None:
            set_proxy_model(db, proxy["id"], account["model_id"], events=ws.events, at=at, actor=actor)
        ws.events.record(
            db,
            at,
            "proxy.assigned",
            actor,
            account_id=account["id"],
            proxy_id=proxy["id"],
            message=f"{account['username']} → proxy {proxy['id']}"
            + (f" (was proxy {old_proxy})" if old_proxy is not None else ""),
            details={"from_proxy_id": old_proxy, "to_proxy_id": proxy["id"]},
        )
        refresh_proxy_model(db, old_proxy, events=ws.events, at=at, actor=actor)
        return {
            "username": account["username"],
            "proxy_id": proxy["id"],
            "from_proxy_id": old_proxy,
            "lifecycle_state": lifecycle.PROXY_ASSIGNED
            if account["lifecycle_state"] == lifecycle.IMPORTED
            else account["lifecycle_state"],
        }


class _Packer:
    """The active proxies with room, kept so that the next pick (most accounts, then lowest id)
    costs O(log n): one min-heap of ids per current account count. Entries whose proxy has
    moved on to another count are skipped when they come up."""

    def __init__(self, rows: Iterable[ProxyRow]):
        self.count: dict[int, int] = {}
        self.cap: dict[int, int] = {}
        self.model: dict[int, int | None] = {}
        self.buckets: list[list[int]] = [[] for _ in range(MAX_ACCOUNTS_LIMIT)]
        for r in rows:
            pid, n, cap = r["id"], r["account_count"], min(r["max_accounts"], MAX_ACCOUNTS_LIMIT)
            self.count[pid], self.cap[pid], self.model[pid] = n, cap, r["assigned_model_id"]
            if n < cap:
                self.buckets[n].append(pid)
        for b in self.buckets:
            heapq.heapify(b)

    def pick(self) -> int | None:
        for n in range(MAX_ACCOUNTS_LIMIT - 1, -1, -1):
            bucket = self.buckets[n]
            while bucket and self.count[bucket[0]] != n:
                heapq.heappop(bucket)  # stale: this proxy has more accounts by now
            if bucket:
                pid = heapq.heappop(bucket)
                self._took(pid)
                return pid
        return None

    def pick_for_model(self, allowed: Callable[[int], bool]) -> int | None:
        """The rare slow path (an imported account that already has a model): a linear scan."""
        best = None
        for pid, n in self.count.items():
            if n < self.cap[pid] and allowed(pid) and (best is None or (-n, pid) < (-self.count[best], best)):
                best = pid
        if best is not None:
            self._took(best)
        return best

    def _took(self, pid: int) -> None:
        self.count[pid] += 1
        n = self.count[pid]
        if n < self.cap[pid]:
            heapq.heappush(self.buckets[n], pid)


def auto_assign(
    ws: Workspace, *, location: str | None = None, actor: str = "operator", usernames: list[str] | None = None
) -> dict[str, Any]:
    """Give every `imported` account without a proxy (oldest first; only `usernames` when given)
    the active proxy with the most accounts that still has room, ties by lowest id; `location`
    restricts the proxies. Joins the caller's transaction. Returns
    `{"assigned": n, "accounts": [usernames], "left_without_proxy": n}`."""
    db = ws.db()
    with db.write():
        accounts = db.query(
            "SELECT id, username, lifecycle_state, model_id FROM accounts "
            "WHERE lifecycle_state = 'imported' AND proxy_id IS NULL ORDER BY created_at, id"
        )
        if usernames is not None:
            wanted = {u.lower() for u in usernames}
            accounts = [a for a in accounts if a["username"].lower() in wanted]
        if not accounts:
            return {"assigned": 0, "accounts": [], "left_without_proxy": 0}
        where, params = "p.status = 'active'", []
        if location is not None:
            where += " AND p.location = ? COLLATE NOCASE"
            params.append(location.strip())
        rows = db.query(
            f"""SELECT p.id, p.max_accounts, p.assigned_model_id, coalesce(c.n, 0) AS account_count
                FROM proxies p LEFT JOIN (SELECT proxy_id, COUNT(*) AS n FROM accounts
                                          WHERE proxy_id IS NOT NULL AND {_USES} GROUP BY proxy_id) c
                ON c.proxy_id = p.id WHERE {where}""",
            params,
        )
        packer = _Packer(rows)
        at = ws.now()
        moves: list[lifecycle.Move] = []
        for account in accounts:
            model_id = account["model_id"]
            if model_id is None:
                pid = packer.pick()
            else:

                def allowed(p: int, m: int = model_id) -> bool:
                    if packer.model[p] not in (None, m):
                        return False
                    try:
                        check_model(db, p, m)
                        return True
                    except Conflict:
                        return False

                pid = packer.pick_for_model(allowed)
                if pid is not None and packer.model[pid] is None:
                    packer.model[pid] = model_id
                    set_proxy_model(db, pid, model_id, events=ws.events, at=at, actor=actor)
            if pid is None:
                if model_id is None:
                    break  # no room left anywhere
                continue
            moves.append(lifecycle.Move(account, {"proxy_id": pid, "proxy_assigned_at": at}, {"proxy_id": pid}))
        lifecycle.move_many(
            db, ws.events, moves, lifecycle.PROXY_ASSIGNED, at=at, actor=actor, cause="proxy auto-assigned"
        )
        result = {
            "assigned": len(moves),
            "accounts": [m.account["username"] for m in moves],
            "left_without_proxy": len(accounts) - len(moves),
        }
        if moves:
            ws.events.record(
                db,
                at,
                "proxy.auto_assigned",
                actor,
                message=f"{len(moves)} accounts given a proxy, {result['left_without_proxy']} left without",
                details={
                    "assigned": len(moves),
                    "left_without_proxy": result["left_without_proxy"],
                    "location": location,
                },
            )
        return result


def unassign(ws: Workspace, username: str, *, actor: str) -> dict[str, Any]:
    """Take an account off its proxy. `proxy_assigned` goes back to `imported`; an account in a
    later state keeps its state without a proxy (it gets no tasks until it has one again and
    shows under needs attention). The proxy's model is refreshed."""
    db = ws.db()
    with db.write():
        account = _account(db, username)
        if account["lifecycle_state"] == lifecycle.RETIRED:
            raise IllegalTransition(f"account {account['username']} is retired")
        old_proxy = account["proxy_id"]
        if old_proxy is None:
            raise Conflict(f"account {account['username']} has no proxy")
        at = ws.now()
        fields = {"proxy_id": None, "proxy_assigned_at": None}
        state = account["lifecycle_state"]
        if state == lifecycle.PROXY_ASSIGNED:
            lifecycle.move(
                db,
                ws.events,
                account,
                lifecycle.IMPORTED,
                at=at,
                actor=actor,
                cause="proxy unassigned",
                fields=fields,
                details={"proxy_id": old_proxy},
            )
            state = lifecycle.IMPORTED
        else:
            db.execute(
                "UPDATE accounts SET proxy_id = NULL, proxy_assigned_at = NULL, updated_at = ? WHERE id = ?",
                [at, account["id"]],
            )
        ws.events.record(
            db,
            at,
            "proxy.unassigned",
            actor,
            account_id=account["id"],
            proxy_id=old_proxy,
            message=f"{account['username']} taken off proxy {old_proxy}",
            details={"proxy_id": old_proxy},
        )
        refresh_proxy_model(db, old_proxy, events=ws.events, at=at, actor=actor)
        return {"username": account["username"], "proxy_id": old_proxy, "lifecycle_state": state}


# -- status and removal ---------------------------------------------------------------------
def set_status(
    ws: Workspace, proxy_id: int, status: str, *, actor: str, cause: str | None = None, acknowledge: bool = False
) -> dict[str, Any]:
    """Set a proxy's status (active, inactive, error), with a `proxy.status` event holding the old
    and the new status. Setting the status it already has changes nothing and records nothing.
    Setting it `active` starts the count of failed tests afresh. `acknowledge` (an operator's
    `proxy set-status`) also clears an exit IP change shown under needs attention, with a
    `proxy.exit_ip_acknowledged` event, even when the status stays. Returns the proxy with
    `changed` (whether the status changed), `old_status` and `acknowledged`."""
    _check_status(status)
    db = ws.db()
    with db.write():
        row = _row(db, proxy_id)
        old = row["status"]
        at = ws.now()
        if old != status:
            db.execute(
                "UPDATE proxies SET status = ?, status_changed_at = ?, updated_at = ? WHERE id = ?",
                [status, at, at, proxy_id],
            )
            if status == "active":
                db.execute("UPDATE proxies SET consecutive_failures = 0 WHERE id = ?", [proxy_id])
            ws.events.record(
                db,
                at,
                "proxy.status",
                actor,
                proxy_id=proxy_id,
                old_state=old,
                new_state=status,
                cause=cause,
                message=f"proxy {proxy_id}: {old} → {status}" + (f" ({cause})" if cause else ""),
                details={"old_status": old, "new_status": status},
            )
        acknowledged = bool(acknowledge and row["exit_ip_changed_at"])
        if acknowledged:
            db.execute("UPDATE proxies SET exit_ip_changed_at = NULL, previous_exit_ip = NULL WHERE id = ?", [proxy_id])
            ws.events.record(
                db,
                at,
                "proxy.exit_ip_acknowledged",
                actor,
                proxy_id=proxy_id,
                message=f"proxy {proxy_id}: exit IP change {row['previous_exit_ip']} → {row['last_exit_ip']} acknowledged",
                details={"old_exit_ip": row["previous_exit_ip"], "new_exit_ip": row["last_exit_ip"]},
            )
        return {
            **proxy_dict(_row(db, proxy_id)),
            "changed": old != status,
            "old_status": old,
            "acknowledged": acknowledged,
        }


def remove(ws: Workspace, proxy_id: int, *, actor: str) -> dict[str, Any]:
    """Delete a proxy nobody uses. Refused (Conflict) while any non-retired account is on it.
    Retired accounts and content-usage history that still point at it lose the reference."""
    db = ws.db()
    with db.write():
        row = _row(db, proxy_id)
        if row["account_count"]:
            n = row["account_count"]
            raise Conflict(
                f"proxy {proxy_id} is used by {n} account{'s' if n != 1 else ''}; "
                "move them off first (proxy unassign, or proxy assign USERNAME OTHER_ID)"
            )
        gone = proxy_dict(row)
        db.execute("UPDATE accounts SET proxy_id = NULL WHERE proxy_id = ?", [proxy_id])
        db.execute("UPDATE content_usage SET proxy_id = NULL WHERE proxy_id = ?", [proxy_id])
        db.execute("DELETE FROM proxies WHERE id = ?", [proxy_id])
        label = f"{row['username']}@" if row["username"] else ""
        host = f"[{row['host']}]" if ":" in row["host"] else row["host"]
        ws.events.record(
            db,
            ws.now(),
            "proxy.removed",
            actor,
            proxy_id=proxy_id,
            message=f"proxy {proxy_id} removed: {label}{host}:{row['port']}",
            details={k: gone[k] for k in ("host", "port", "scheme", "username", "provider", "location")},
        )
        return gone


# -- moving every account off a proxy ---------------------------------------------------------
def _accounts_on(db: Database, proxy_id: int) -> Sequence[AccountRow]:
    return db.query(
        f"""SELECT a.id, a.username, a.lifecycle_state, a.model_id, a.bot_id, a.slot, m.name AS model_name
            FROM accounts a LEFT JOIN models m ON m.id = a.model_id
            WHERE a.proxy_id = ? AND a.{_USES} ORDER BY a.id""",
        [proxy_id],
    )


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def _moves_result(old_id: int, plan: list[tuple[AccountRow, int]], dry_run: bool) -> dict[str, Any]:
    return {
        "from_proxy_id": old_id,
        "dry_run": dry_run,
        "moved": [
            {
                "username": a["username"],
                "account_id": a["id"],
                "lifecycle_state": a["lifecycle_state"],
                "model": a["model_name"],
                "from_proxy_id": old_id,
                "to_proxy_id": new_id,
            }
            for a, new_id in plan
        ],
        "to_proxy_ids": sorted({new_id for _a, new_id in plan}),
    }


def _move_accounts(
    ws: Workspace, db: Database, old_id: int, plan: list[tuple[AccountRow, int]], *, actor: str, cause: str
) -> None:
    """Put each account of `plan` [(account, new proxy id)] on its new proxy: state, model, bot
    binding and slot stay; the proxies' models follow; one `proxy.moved` event per account."""
    at = ws.now()
    for account, new_id in plan:
        cur = db.execute(
            "UPDATE accounts SET proxy_id = ?, proxy_assigned_at = ?, updated_at = ? WHERE id = ? AND proxy_id = ?",
            [new_id, at, at, account["id"], old_id],
        )
        if cur.rowcount != 1:
            raise Conflict(f"account {account['username']} changed proxy meanwhile; try again")
        if account["model_id"] is not None:
            set_proxy_model(db, new_id, account["model_id"], events=ws.events, at=at, actor=actor)
        ws.events.record(
            db,
            at,
            "proxy.moved",
            actor,
            account_id=account["id"],
            proxy_id=new_id,
            model_id=account["model_id"],
            cause=cause,
            message=f"{account['username']}: proxy {old_id} → proxy {new_id} ({cause}); stays {account['lifecycle_state']}",
            details={
                "from_proxy_id": old_id,
                "to_proxy_id": new_id,
                "lifecycle_state": account["lifecycle_state"],
                "bot_id": account["bot_id"],
                "slot": account["slot"],
            },
        )
    refresh_proxy_model(db, old_id, events=ws.events, at=at, actor=actor)


def _check_replacement(db: Database, old_id: int, new: ProxyRow, accounts: Sequence[AccountRow]) -> None:
    """May proxy `new` take every account of proxy `old_id` (`replace`)? Conflict saying why not."""
    new_id = new["id"]
    if new["status"] != "active":
        raise Conflict(f"proxy {new_id} is {new['status']}; only active proxies get accounts")
    if len(accounts) > _room(new):
        raise Conflict(
            f"proxy {new_id} has room for {_plural(max(_room(new), 0), 'more account')} "
            f"({new['account_count']} of {new['max_accounts']}); proxy {old_id} has {_plural(len(accounts), 'account')}"
        )
    models = sorted({a["model_id"] for a in accounts if a["model_id"] is not None})
    if len(models) > 1:
        names = ", ".join(sorted({a["model_name"] for a in accounts if a["model_id"] is not None}))
        raise Conflict(
            f"proxy {old_id}'s accounts are in several models ({names}); one proxy serves one model: "
            "use proxy rebalance or proxy assign"
        )
    for model_id in models:
        check_model(db, new_id, model_id)


def replacement_candidates(ws: Workspace, old_id: int) -> list[dict[str, Any]]:
    """The proxies `replace(old_id, …)` would accept now, as `list_proxies` shows them (reads
    only): active, with room for all of its accounts, serving no other model than theirs."""
    db = ws.db()
    _row(db, old_id)
    accounts = _accounts_on(db, old_id)
    out = []
    for candidate in list_proxies(ws, free=True):
        if candidate["id"] == old_id:
            continue
        try:
            _check_replacement(db, old_id, _row(db, candidate["id"]), accounts)
        except Conflict:
            continue
        out.append(candidate)
    return out


def replace(ws: Workspace, old_id: int, new_id: int, *, dry_run: bool = False, actor: str) -> dict[str, Any]:
    """Move every account of proxy `old_id` to proxy `new_id`, keeping their states, models and
    bot bindings. All or nothing: `new_id` must be active, have room for all of them and may
    not serve another model than theirs; replacing a proxy with itself is InvalidInput. With
    `dry_run` nothing is written. Returns `{"from_proxy_id", "to_proxy_ids", "dry_run",
    "moved": [{"username", "account_id", "lifecycle_state", "model", "from_proxy_id", "to_proxy_id"}]}`."""
    if old_id == new_id:
        raise InvalidInput(f"cannot replace proxy {old_id} with itself")
    db = ws.db()
    with db.write():
        _row(db, old_id)
        new = _row(db, new_id)
        accounts = _accounts_on(db, old_id)
        _check_replacement(db, old_id, new, accounts)
        plan = [(a, new_id) for a in accounts]
        if plan and not dry_run:
            _move_accounts(ws, db, old_id, plan, actor=actor, cause=f"proxy {old_id} replaced by proxy {new_id}")
            ws.events.record(
                db,
                ws.now(),
                "proxy.replaced",
                actor,
                proxy_id=old_id,
                message=f"proxy {old_id} replaced by proxy {new_id}: {_plural(len(plan), 'account')} moved",
                details={"from_proxy_id": old_id, "to_proxy_id": new_id, "accounts": [a["username"] for a in accounts]},
            )
        result = _moves_result(old_id, plan, dry_run)
        result["to_proxy_ids"] = [new_id]
        return result


def rebalance(
    ws: Workspace, old_id: int, *, location: str | None = None, dry_run: bool = False, actor: str
) -> dict[str, Any]:
    """Spread the accounts of proxy `old_id` over the other active proxies with room that may
    serve their model: accounts with a model first, each onto the proxy of its old proxy's
    location (when it has one), then with the most accounts, then the lowest id (the packing
    rule). `location` restricts the proxies to that location. All or nothing: when one account
    finds no place, Conflict and nothing moves. Returns what `replace` returns."""
    db = ws.db()
    with db.write():
        old = _row(db, old_id)
        accounts = _accounts_on(db, old_id)
        where: list[str] = ["p.status = 'active'", "p.id != ?"]
        params: list[Any] = [old_id]
        if location is not None:
            where.append("p.location = ? COLLATE NOCASE")
            params.append(location.strip())
        rows = db.query(f"SELECT * FROM ({_SELECT} WHERE {' AND '.join(where)}) ORDER BY id", params)
        count = {r["id"]: r["account_count"] for r in rows}
        cap = {r["id"]: min(r["max_accounts"], MAX_ACCOUNTS_LIMIT) for r in rows}
        home = (old["location"] or "").lower()
        far = {r["id"]: bool(home) and (r["location"] or "").lower() != home for r in rows}
        served: dict[int, set] = {
            r["id"]: ({r["assigned_model_id"]} if r["assigned_model_id"] else set()) for r in rows
        }
        for r in db.query(
            f"SELECT DISTINCT proxy_id, model_id FROM accounts WHERE model_id IS NOT NULL AND {_USES} "
            "AND proxy_id IS NOT NULL"
        ):
            if r["proxy_id"] in served:
                served[r["proxy_id"]].add(r["model_id"])
        plan, unplaced = [], []
        for account in sorted(accounts, key=lambda a: (a["model_id"] is None, a["id"])):
            m = account["model_id"]
            options = [pid for pid in count if count[pid] < cap[pid] and (m is None or served[pid] <= {m})]
            if not options:
                unplaced.append(account)
                continue
            pid = min(options, key=lambda p: (far[p], -count[p], p))
            count[pid] += 1
            if m is not None:
                served[pid].add(m)
            plan.append((account, pid))
        if unplaced:
            where_text = f" in {location.strip()}" if location is not None else ""
            raise Conflict(
                f"no room for {_plural(len(unplaced), 'account')} of proxy {old_id} "
                f"({', '.join(a['username'] for a in unplaced)}) on active proxies{where_text} that may serve "
                "their model; nothing moved"
            )
        plan.sort(key=lambda item: item[0]["id"])
        if plan and not dry_run:
            _move_accounts(ws, db, old_id, plan, actor=actor, cause=f"proxy {old_id} rebalanced")
            ws.events.record(
                db,
                ws.now(),
                "proxy.rebalanced",
                actor,
                proxy_id=old_id,
                message=f"proxy {old_id} rebalanced: {_plural(len(plan), 'account')} moved to proxies "
                f"{', '.join(map(str, sorted({p for _a, p in plan})))}",
                details={"from_proxy_id": old_id, "moves": {a["username"]: p for a, p in plan}, "location": location},
            )
        return _moves_result(old_id, plan, dry_run)
