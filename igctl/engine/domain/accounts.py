"""Accounts: importing account files, listing, showing and retiring accounts.

An accounts file is read as a stream (never held in memory as a whole) inside ONE write
transaction, so a file is stored entirely or not at all; see docs/account-file-format.md for
the format and every decision about it.
"""

from __future__ import annotations

import codecs
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..store.db import Database
from ..store.errors import IllegalTransition, InvalidInput, NotFound
from ..store.events import query as query_events
from ..store.migrations import STATES
from ..store.records import AccountRow, Record
from ..store.workspace import Workspace
from . import lifecycle

SEPARATORS = (",", "\t", ";", ":")  # the order breaks ties in detection
SEPARATOR_NAMES = {",": "comma", "\t": "tab", ";": "semicolon", ":": "colon"}
USERNAME = re.compile(r"^[A-Za-z0-9._]{1,30}$")
USERNAME_CHARS = re.compile(r"[A-Za-z0-9._]*")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
# Control characters other than tab: never part of a username, password or e-mail.
CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")

DETECT_LINES = 50  # data lines looked at to detect the separator…
DETECT_MAX_LINES = 1000  # …within at most this many lines (comments included)
BATCH_ROWS = 500  # accounts inserted per executemany
PROGRESS_EVERY = 1000  # lines between progress callbacks
SNIFF_BYTES = 8192
MIB = 1024 * 1024

UTF8_BOM = codecs.BOM_UTF8
OTHER_BOMS = {
    codecs.BOM_UTF32_LE: "UTF-32",
    codecs.BOM_UTF32_BE: "UTF-32",
    codecs.BOM_UTF16_LE: "UTF-16",
    codecs.BOM_UTF16_BE: "UTF-16",
}


# -- reading the file ------------------------------------------------------------------------
def check_file(ws: Workspace, path: Path) -> int:
    """Refusals that need no parsing: missing, a folder, too big, not text. Returns the size."""
    if not path.exists():
        raise InvalidInput(f"{path}: no such file")
    if path.is_dir():
        raise InvalidInput(f"{path} is a folder, not an accounts file")
    if not path.is_file():
        raise InvalidInput(f"{path} is not a regular file")
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read it ({exc.strerror or exc})") from None
    limit_mb = ws.config.import_.max_file_mb
    if size > limit_mb * MIB:
        raise InvalidInput(
            f"{path} is {_mb(size)} MB, over the import limit of {limit_mb:g} MB (import.max_file_mb in igctl.yaml)"
        )
    for bom, name in OTHER_BOMS.items():
        if head.startswith(bom) and not head.startswith(UTF8_BOM):
            raise InvalidInput(f"{path} is {name} text; save it as UTF-8 and import it again")
    if b"\x00" in head:
        raise InvalidInput(f"{path} is not a text file (it holds binary data)")
    return size


def _mb(size: int) -> str:
    return f"{size / MIB:.3f}".rstrip("0").rstrip(".")


@dataclass
class _Line:
    number: int
    text: str | None  # None when the line is too long (its text is not kept)


def _read_lines(path: Path, max_chars: int) -> Iterator[_Line]:
    """The file's lines, one at a time, without their line ending. Raises InvalidInput for a
    NUL byte or invalid UTF-8 anywhere (with the line number). A line over `max_chars`
    characters is yielded with text None; it is read in bounded pieces, so even a file that
    is one huge line never sits in memory."""
    limit = max_chars * 4 + 6  # bytes: every character at most 4 bytes, plus BOM and CRLF
    number = 0
    with open(path, "rb") as fh:
        while True:
            raw = fh.readline(limit)
            if not raw:
                return
            number += 1
            # readline(limit) stops short of a newline only at the end of the file or the limit
            too_long = len(raw) == limit and not raw.endswith(b"\n")
            if number == 1 and raw.startswith(UTF8_BOM):
                raw = raw[len(UTF8_BOM) :]
            if too_long:
                # Too long: validate the rest of it piece by piece, keep none of it.
                decoder = codecs.getincrementaldecoder("utf-8")()
                piece = raw
                while True:
                    _check_bytes(path, piece, number, decoder)
                    if piece.endswith(b"\n"):
                        break
                    piece = fh.readline(limit)
                    if not piece:
                        break
                _check_bytes(path, b"", number, decoder, final=True)
                yield _Line(number, None)
                continue
            if b"\x00" in raw:
                raise InvalidInput(f"{path} is not a text file (NUL byte on line {number}); nothing was imported")
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidInput(
                    f"{path} is not valid UTF-8 (line {number}); save it as UTF-8 — nothing was imported"
                ) from None
            if text.endswith("\n"):
                text = text[:-1]
            if text.endswith("\r"):
                text = text[:-1]
            yield _Line(number, None if len(text) > max_chars else text)


def _check_bytes(
    path: Path, piece: bytes, number: int, decoder: codecs.IncrementalDecoder, final: bool = False
) -> None:
    if b"\x00" in piece:
        raise InvalidInput(f"{path} is not a text file (NUL byte on line {number}); nothing was imported")
    try:
        decoder.decode(piece, final)
    except UnicodeDecodeError:
        raise InvalidInput(
            f"{path} is not valid UTF-8 (line {number}); save it as UTF-8 — nothing was imported"
        ) from None


def count_lines(path: str | Path) -> int:
    """The number of lines in a file, read in blocks (for a progress bar's length)."""
    count, last = 0, b"\n"
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            count += block.count(b"\n")
            last = block[-1:]
    return count + (0 if last == b"\n" else 1)


# -- parsing one line ----------------------------------------------------------------------
def _is_skipped(text: str) -> bool:
    stripped = text.strip()
    return not stripped or stripped.startswith("#")


def _separator_vote(text: str) -> str | None:
    """A username is only letters, digits, '.' and '_', so in a good line the first other
    character is the separator."""
    stripped = text.lstrip()
    match = USERNAME_CHARS.match(stripped)
    assert match is not None  # the pattern matches the empty string
    run = match.end()
    if run and run < len(stripped) and stripped[run] in SEPARATORS:
        return stripped[run]
    return None


def detect_separator(lines: list[str]) -> str:
    """The separator of a file, from its first data lines: the character that most of them
    have right after the username; ties go to `,` then tab, `;`, `:`. Comma when none says."""
    votes = Counter(v for v in (_separator_vote(t) for t in lines) if v)
    if not votes:
        return ","
    best = max(votes.values())
    return next(s for s in SEPARATORS if votes.get(s) == best)


def _is_header(text: str, sep: str) -> bool:
    return text.split(sep, 1)[0].strip().lower() == "username"


@dataclass
class Parsed:
    username: str
    password: str
    email: str | None
    email_password: str | None
    extras: list[str]


def parse_line(text: str, sep: str) -> Parsed | str:
    """One data line → its fields, or the reason it is invalid (never quoting a password)."""
    if CONTROL.search(text):
        if "\r" in text:
            return "holds a carriage return inside the line (use LF or CRLF line endings)"
        return "holds a control character"
    fields = [f.strip() for f in text.split(sep)]
    while len(fields) > 3 and fields[-1] == "":
        fields.pop()  # empty trailing columns, as spreadsheets export them
    username = fields[0]
    if not username:
        return "no username"
    if len(username) > 30:
        return f"username {username[:40]!r} is longer than 30 characters"
    if not USERNAME.match(username):
        return f"username {username!r} may hold only letters, digits, '.' and '_'"
    password = fields[1] if len(fields) > 1 else ""
    if not password:
        return f"no password for {username} (fields are separated by {SEPARATOR_NAMES[sep]}s in this file)"
    email = fields[2] if len(fields) > 2 and fields[2] else None
    if email is not None and not EMAIL.match(email):
        return f"{email[:60]!r} is not an e-mail address (third field)"
    email_password = fields[3] if len(fields) > 3 and fields[3] else None
    return Parsed(username, password, email, email_password, fields[4:])


# -- import ----------------------------------------------------------------------------------
@dataclass
class _Report:
    path: Path
    separator: str = ","
    lines: int = 0
    imported: int = 0
    header_line: int | None = None
    duplicates: list[tuple[int, str, str]] = field(default_factory=list)  # line, username, where
    invalid: list[dict] = field(default_factory=list)
    proxies_assigned: int = 0

    def result(self, dry_run: bool) -> dict[str, Any]:
        dups = sorted(self.duplicates)
        return {
            "imported": self.imported,
            "duplicates": [u for _, u, _ in dups],
            "invalid": self.invalid,
            "proxies_assigned": self.proxies_assigned,
            "file": str(self.path),
            "duplicate_lines": [{"line": n, "username": u, "reason": why} for n, u, why in dups],
            "separator": self.separator,
            "lines": self.lines,
            "header_line": self.header_line,
            "dry_run": dry_run,
        }


def import_file(
    ws: Workspace,
    path: str | Path,
    *,
    dry_run: bool = False,
    assign: bool = True,
    actor: str = "operator",
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Import one accounts file in one transaction; see docs/account-file-format.md.

    Returns {"imported", "duplicates", "invalid", "proxies_assigned", "file", ...}. A refused
    file raises InvalidInput and stores nothing. With `dry_run` the same work is done in a
    transaction that is rolled back. Joins the caller's transaction if there is one (not for a
    dry run, which needs a transaction of its own to roll back)."""
    path = Path(path)
    check_file(ws, path)
    db = ws.db()
    report = _Report(path)
    with db.write(dry_run=dry_run):
        _import(ws, db, path, report, assign, actor, progress, dry_run=dry_run)
    return report.result(dry_run)


def _import(
    ws: Workspace,
    db: Database,
    path: Path,
    report: _Report,
    assign: bool,
    actor: str,
    progress: Callable[[int], None] | None,
    dry_run: bool,
) -> None:
    cipher = ws.cipher
    now = ws.now()
    max_chars = ws.config.import_.max_line_chars
    # Duplicates are found through the database, so memory stays flat in the file's size: rows
    # this import inserted have ids above `first_new` and record their line (import_line).
    first_new = (db.scalar("SELECT max(id) FROM accounts") or 0) + 1
    pending: dict[str, tuple[int, Parsed]] = {}  # this batch only: lower-cased username → line
    unreported = 0
    header_possible = True

    def flush() -> None:
        if not pending:
            return
        names = [p.username for _, p in pending.values()]
        marks = ",".join("?" * len(names))
        stored = {
            r["username"].lower(): r
            for r in db.query(f"SELECT id, username, import_line FROM accounts WHERE username IN ({marks})", names)
        }
        rows = []
        for number, p in pending.values():
            found = stored.get(p.username.lower())
            if found is not None:
                where = (
                    f"also on line {found['import_line']} of this file"
                    if found["id"] >= first_new
                    else "already stored"
                )
                report.duplicates.append((number, p.username, where))
                continue
            rows.append(
                (
                    p.username,
                    cipher.encrypt(p.password),
                    p.email,
                    cipher.encrypt(p.email_password),
                    cipher.encrypt(json.dumps(p.extras, ensure_ascii=False)) if p.extras else None,
                    path.name,
                    number,
                    now,
                    now,
                )
            )
        db.conn.executemany(
            "INSERT INTO accounts (username, password_enc, email, email_password_enc, extras_enc, "
            "lifecycle_state, import_source, import_line, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, 'imported', ?, ?, ?, ?)",
            rows,
        )
        report.imported += len(rows)
        pending.clear()

    def handle(line: _Line) -> None:
        nonlocal header_possible
        if line.text is None:
            report.invalid.append({"line": line.number, "reason": f"line is longer than {max_chars} characters"})
            return
        if _is_skipped(line.text):
            return
        if header_possible:
            # A header is recognised only as the first data line: later, "username" is an account.
            header_possible = False
            if _is_header(line.text, report.separator):
                report.header_line = line.number
                return
        parsed = parse_line(line.text, report.separator)
        if isinstance(parsed, str):
            report.invalid.append({"line": line.number, "reason": parsed})
            return
        key = parsed.username.lower()
        if key in pending:
            report.duplicates.append((line.number, parsed.username, f"also on line {pending[key][0]} of this file"))
            return
        pending[key] = (line.number, parsed)
        if len(pending) >= BATCH_ROWS:
            flush()

    lines = _read_lines(path, max_chars)
    # Look ahead at the first data lines to detect the separator; only they are buffered.
    head: list[_Line] = []
    data = 0
    for line in lines:
        head.append(line)
        if line.text is not None and not _is_skipped(line.text):
            data += 1
            if data >= DETECT_LINES:
                break
        if len(head) >= DETECT_MAX_LINES:
            break
    report.separator = detect_separator([ln.text for ln in head if ln.text is not None and not _is_skipped(ln.text)])

    def all_lines() -> Iterator[_Line]:
        yield from head
        yield from lines

    for line in all_lines():
        handle(line)
        report.lines = line.number
        unreported += 1
        if progress is not None and unreported >= PROGRESS_EVERY:
            progress(unreported)
            unreported = 0
    flush()
    if progress is not None and unreported:
        progress(unreported)

    if assign:
        from . import proxies  # here, not at the top: `accounts list` needs no proxy code (start-up time)

        report.proxies_assigned = int(proxies.auto_assign(ws, actor=actor).get("assigned", 0))
    ws.events.record(
        db,
        now,
        "accounts.import",
        actor,
        message=f"{report.imported} accounts imported from {path.name}" + (" (dry run)" if dry_run else ""),
        details={
            "file": str(path),
            "imported": report.imported,
            "duplicates": len(report.duplicates),
            "invalid": len(report.invalid),
            "proxies_assigned": report.proxies_assigned,
            "separator": SEPARATOR_NAMES[report.separator],
            "lines": report.lines,
        },
    )


# -- reading accounts ------------------------------------------------------------------------
# Every column of `accounts` except the encrypted ones, in the order the JSON shows them.
ACCOUNT_FIELDS = [
    "id",
    "username",
    "lifecycle_state",
    "warmup_step",
    "proxy_id",
    "model",
    "requires_human_review",
    "retry_count",
    "last_error_message",
    "last_error_at",
    "email",
    "model_id",
    "bot",
    "bot_id",
    "slot",
    "warmup_started_at",
    "warmup_completed_at",
    "assigned_to_model_at",
    "proxy_assigned_at",
    "last_bot_action_by",
    "last_bot_action_at",
    "retired_at",
    "retired_reason",
    "import_source",
    "import_line",
    "created_at",
    "updated_at",
]

_SELECT = """
    SELECT a.*, m.name AS model, b.name AS bot
    FROM accounts a
    LEFT JOIN models m ON m.id = a.model_id
    LEFT JOIN bots b ON b.id = a.bot_id
"""


def _account_dict(row: AccountRow) -> dict[str, Any]:
    out = {k: row[k] for k in ACCOUNT_FIELDS}
    out["requires_human_review"] = bool(out["requires_human_review"])
    return out


def list_accounts(
    ws: Workspace,
    *,
    state: str | None = None,
    model: str | None = None,
    proxy_id: int | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Accounts in id order, filtered by state, model name and proxy id."""
    db = ws.db()
    where: list[str] = []
    params: list[Any] = []
    if state is not None:
        if state not in STATES:
            raise InvalidInput(f"unknown state {state!r}; the states are: {', '.join(STATES)}")
        where.append("a.lifecycle_state = ?")
        params.append(state)
    if model is not None:
        model_id = db.scalar("SELECT id FROM models WHERE name = ?", [model])
        if model_id is None:
            raise NotFound(f"no model named {model}")
        where.append("a.model_id = ?")
        params.append(model_id)
    if proxy_id is not None:
        if db.scalar("SELECT id FROM proxies WHERE id = ?", [proxy_id]) is None:
            raise NotFound(f"no proxy with id {proxy_id}")
        where.append("a.proxy_id = ?")
        params.append(proxy_id)
    sql = _SELECT + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY a.id"
    if limit is not None:
        if limit < 1:
            raise InvalidInput("a limit must be at least 1", about=("limit",))
        sql += f" LIMIT {int(limit)}"
    return [_account_dict(r) for r in db.query(sql, params)]


def get_account(ws: Workspace, username: str, db: Database | None = None) -> AccountRow:
    """The accounts row of `username` (case-insensitive); NotFound if there is none."""
    db = db or ws.db()
    row = db.one("SELECT * FROM accounts WHERE username = ?", [username.strip()])
    if row is None:
        raise NotFound(f"no account named {username}")
    return row


def _json_columns(row: Record) -> dict[str, Any]:
    out = {}
    for key in row.keys():
        if key.endswith("_json"):
            out[key[: -len("_json")]] = json.loads(row[key]) if row[key] else None
        else:
            out[key] = row[key]
    return out


def show_account(ws: Workspace, username: str, *, reveal: bool = False, actor: str = "operator") -> dict[str, Any]:
    """One account: the fields of `list_accounts`, its proxy, open tasks, step log and events.
    Passwords only with `reveal`, and then the reveal is itself written to the event log."""
    db = ws.db()
    account = get_account(ws, username, db)
    if reveal:
        with db.write():
            ws.events.record(
                db,
                ws.now(),
                "account.reveal",
                actor,
                account_id=account["id"],
                message=f"credentials of {account['username']} shown",
            )
    row = db.one(_SELECT + " WHERE a.id = ?", [account["id"]])
    assert row is not None  # the account was read just above
    out = _account_dict(row)
    out["has_email_password"] = row["email_password_enc"] is not None
    out["has_extras"] = row["extras_enc"] is not None
    if reveal:
        cipher = ws.cipher
        out["password"] = cipher.decrypt(row["password_enc"])
        out["email_password"] = cipher.decrypt(row["email_password_enc"])
        out["extras"] = json.loads(cipher.decrypt(row["extras_enc"])) if row["extras_enc"] else []
    proxy = None
    if row["proxy_id"] is not None:
        p = db.one(
            "SELECT id, scheme, host, port, username, location, provider, status FROM proxies WHERE id = ?",
            [row["proxy_id"]],
        )
        proxy = dict(p) if p is not None else None
    out["proxy"] = proxy
    out["open_tasks"] = [
        dict(t)
        for t in db.query(
            "SELECT id, kind, step_number, step_name, status, due_at, attempts, lease_expires_at FROM tasks "
            "WHERE account_id = ? AND status IN ('queued', 'claimed') ORDER BY due_at, id",
            [row["id"]],
        )
    ]
    out["step_log"] = [
        _json_columns(r) for r in db.query("SELECT * FROM step_log WHERE account_id = ? ORDER BY id", [row["id"]])
    ]
    out["events"] = query_events(db, account_id=row["id"])
    return out


# -- retiring --------------------------------------------------------------------------------
def _cancelled_on_retiring(username: str) -> Callable[[int], str]:
    return lambda task_id: f"task {task_id} of {username} cancelled: account retired"


def retire(ws: Workspace, usernames: list[str], *, reason: str, actor: str) -> list[dict[str, Any]]:
    """Every named account → `retired`: proxy slot and device slot freed, queued and claimed
    tasks cancelled. All or nothing: an unknown or already retired account refuses the lot."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("a reason is required to retire an account", about=("reason",))
    if not usernames:
        raise InvalidInput("name at least one account to retire", about=("usernames",))
    db = ws.db()
    out = []
    with db.write():
        accounts, missing, seen = [], [], set()
        for name in usernames:
            row = db.one("SELECT * FROM accounts WHERE username = ?", [name.strip()])
            if row is None:
                missing.append(name)
            elif row["id"] not in seen:
                seen.add(row["id"])
                accounts.append(row)
        if missing:
            raise NotFound(
                f"no account named {', '.join(missing)}"
                if len(missing) == 1
                else f"no accounts named {', '.join(missing)}"
            )
        for row in accounts:
            if not lifecycle.can_move(row["lifecycle_state"], lifecycle.RETIRED):
                raise IllegalTransition(f"account {row['username']} is already retired")
        now = ws.now()
        for row in accounts:
            from ..queue import tasks  # here, not at the top: listings need no queue code (start-up time)

            cancelled = tasks.cancel(
                db,
                ws.events,
                old=[tasks.QUEUED, tasks.CLAIMED],
                where="account_id = ?",
                params=[row["id"]],
                at=now,
                actor=actor,
                each=_cancelled_on_retiring(row["username"]),
            )
            freed = {"proxy_id": row["proxy_id"], "bot_id": row["bot_id"], "slot": row["slot"]}
            lifecycle.move(
                db,
                ws.events,
                row,
                lifecycle.RETIRED,
                at=now,
                actor=actor,
                cause=f"retired: {reason}",
                fields={
                    "retired_at": now,
                    "retired_reason": reason,
                    "proxy_id": None,
                    "bot_id": None,
                    "slot": None,
                    "requires_human_review": 0,
                },
                details={"reason": reason, **freed, "cancelled_tasks": [t["id"] for t in cancelled]},
            )
            if row["proxy_id"] is not None:
                _refresh_proxy_model(ws, db, row["proxy_id"], at=now, actor=actor)
            out.append(
                {
                    "id": row["id"],
                    "username": row["username"],
                    "old_state": row["lifecycle_state"],
                    "reason": reason,
                    **freed,
                    "cancelled_tasks": [t["id"] for t in cancelled],
                }
            )
    return out


def _refresh_proxy_model(ws: Workspace, db: Database, proxy_id: int, *, at: str, actor: str) -> None:
    """A proxy serves a model only while one of its accounts is in it (the rule lives in proxies)."""
    from . import proxies  # (start-up time, as above)

    proxies.refresh_proxy_model(db, proxy_id, events=ws.events, at=at, actor=actor)
