"""The event log: the `events` table is the record; `logs/events-YYYY-MM-DD.jsonl` mirrors it
(one file a UTC day, so old files can be archived or deleted without touching the database).
A day's file that would grow past `MAX_FILE_BYTES` is continued in `events-YYYY-MM-DD.1.jsonl`,
`.2.jsonl`, … (docs/analytics.md, "Log files").

Every state transition, bot action, error, data-changing user command, proxy status change and
credential hand-out is an event. Details pass through `redact()` so that no secret reaches the
table or the files.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from .db import Database
from .records import Record

# A details key that names a secret: password, email_password, token, secret_key, api_key, cookie…
SECRET_KEYS = re.compile(r"(^|_)(pass|passwd|password|secret|token|api_key|secret_key|authorization|cookie)s?$", re.I)
REDACTED = "***"


def redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (REDACTED if SECRET_KEYS.search(str(k)) and v is not None else redact(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    return value


_COLON_FORM = re.compile(r"^(?P<pre>(?:\[[^\]]+\]|[^:\s\[\]@]+):\d+:[^:\s@]*:)(?P<pw>.+)$")


def redact_argument(arg: str) -> str:
    """A command-line argument as it may be logged: proxy specs lose their password
    (user:pass@host:port, scheme://user:pass@host:port, host:port:user:pass)."""
    if "@" in arg:
        left, at, right = arg.rpartition("@")
        scheme, sep, creds = left.rpartition("://")
        if ":" in creds:
            return f"{scheme}{sep}{creds.split(':', 1)[0]}:{REDACTED}{at}{right}"
        return arg
    return _COLON_FORM.sub(lambda m: m.group("pre") + REDACTED, arg)


MAX_FILE_BYTES = 64 * 1024 * 1024


class EventLog:
    def __init__(self, logs_dir: Path | None, max_file_bytes: int = MAX_FILE_BYTES):
        self.logs_dir = logs_dir
        self.max_file_bytes = max_file_bytes
        self._parts: dict[str, int] = {}  # day → the part this process last wrote to

    def log_file(self, day: str, incoming: int = 0) -> Path:
        """The file of UTC day `day` (YYYY-MM-DD) that `incoming` more bytes go to: the day's
        first part with room (an empty part always has room, so one huge line still goes
        somewhere). Parts are only ever added, so processes writing at once agree enough: at
        worst two of them append to the same part."""
        assert self.logs_dir is not None, "only called when events are mirrored to files"
        part = self._parts.get(day, 0)
        while True:
            path = self.logs_dir / (f"events-{day}.jsonl" if part == 0 else f"events-{day}.{part}.jsonl")
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                size = 0
            if size == 0 or size + incoming <= self.max_file_bytes:
                self._parts[day] = part
                return path
            part += 1

    def record(
        self,
        db: Database,
        at: str,
        kind: str,
        actor: str,
        *,
        account_id: int | None = None,
        proxy_id: int | None = None,
        bot_id: int | None = None,
        model_id: int | None = None,
        task_id: int | None = None,
        old_state: str | None = None,
        new_state: str | None = None,
        cause: str | None = None,
        message: str | None = None,
        details: dict | None = None,
    ) -> int:
        details = redact(details) if details else None
        row = {
            "at": at,
            "kind": kind,
            "actor": actor,
            "account_id": account_id,
            "proxy_id": proxy_id,
            "bot_id": bot_id,
            "model_id": model_id,
            "task_id": task_id,
            "old_state": old_state,
            "new_state": new_state,
            "cause": cause,
            "message": message,
            "details_json": json.dumps(details, sort_keys=True, default=str) if details else None,
        }
        cur = db.execute(
            f"INSERT INTO events ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
            list(row.values()),
        )
        event_id = cur.lastrowid
        assert event_id is not None  # an INSERT sets it
        if self.logs_dir is not None:
            line = {"id": event_id, **{k: v for k, v in row.items() if v is not None and k != "details_json"}}
            if details:
                line["details"] = details
            db.after_commit_batch("events", line, self._mirror_many)
        return event_id

    def amend(self, db: Database, event_id: int, details: dict) -> None:
        """Add `details` to those of event `event_id`, recorded in this very transaction: the
        row and the line waiting for the log file (which is written only after the commit)."""
        assert db.in_transaction, "an event is amended inside the transaction that recorded it"
        stored = db.scalar("SELECT details_json FROM events WHERE id = ?", [event_id])
        merged = redact({**(json.loads(stored) if stored else {}), **details})
        db.execute(
            "UPDATE events SET details_json = ? WHERE id = ?",
            [json.dumps(merged, sort_keys=True, default=str) if merged else None, event_id],
        )
        for line in db.pending("events"):
            if line["id"] == event_id:
                if merged:
                    line["details"] = merged
                else:
                    line.pop("details", None)

    def forget(self, db: Database, event_id: int) -> None:
        """Take back event `event_id`, recorded in this very transaction: its row and its line
        waiting for the log file."""
        assert db.in_transaction, "an event is forgotten inside the transaction that recorded it"
        db.execute("DELETE FROM events WHERE id = ?", [event_id])
        lines = db.pending("events")
        lines[:] = [line for line in lines if line["id"] != event_id]

    def record_many(self, db: Database, events: list[dict]) -> int:
        """Many events at once, for bulk work (e.g. 100,000 state changes of one auto-assignment):
        each item holds `record()`'s arguments by name (`at`, `kind`, `actor`, and any of the
        keyword ones). One executemany and one write per log file instead of one per event.
        Must run inside a write transaction. Returns how many were written."""
        if not events:
            return 0
        assert db.in_transaction, "record_many must run inside db.write()"
        columns = [
            "at",
            "kind",
            "actor",
            "account_id",
            "proxy_id",
            "bot_id",
            "model_id",
            "task_id",
            "old_state",
            "new_state",
            "cause",
            "message",
        ]
        rows, lines = [], []
        # Inside the write lock ids are handed out one after another from max(id) + 1.
        next_id = (db.scalar("SELECT max(id) FROM events") or 0) + 1
        for number, event in enumerate(events):
            unknown = set(event) - {*columns, "details"}
            if unknown:
                raise TypeError(f"record_many: unknown event fields {sorted(unknown)}")
            details = redact(event["details"]) if event.get("details") else None
            row = {c: event.get(c) for c in columns}
            row["details_json"] = json.dumps(details, sort_keys=True, default=str) if details else None
            rows.append(list(row.values()))
            line = {"id": next_id + number, **{k: v for k, v in row.items() if v is not None and k != "details_json"}}
            if details:
                line["details"] = details
            lines.append(line)
        db.conn.executemany(
            f"INSERT INTO events ({', '.join(columns)}, details_json) VALUES ({', '.join('?' * (len(columns) + 1))})",
            rows,
        )
        if self.logs_dir is not None:
            db.after_commit(lambda: self._mirror_many(lines))
        return len(rows)

    def _mirror_many(self, lines: list[dict]) -> None:
        by_day: dict[str, list[bytes]] = {}
        for line in lines:
            by_day.setdefault(line["at"][:10], []).append(
                (json.dumps(line, sort_keys=True, default=str) + "\n").encode()
            )
        try:
            for day, texts in by_day.items():
                chunk: list[bytes] = []
                size = 0
                for text in texts + [None]:
                    # flush when the next line would not fit the current part (or at the end)
                    if chunk and (text is None or size + len(text) > self.max_file_bytes):
                        self._append(day, b"".join(chunk))
                        chunk, size = [], 0
                    if text is not None:
                        chunk.append(text)
                        size += len(text)
        except OSError:
            # The table is the record; a full disk or a read-only logs/ must not undo a commit.
            pass

    def _append(self, day: str, data: bytes) -> None:
        """One O_APPEND write of whole lines, without a buffered file object (the bot API pays
        for this inside the write lock). logs/ is made again if someone removed it."""
        path = self.log_file(day, len(data))
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        except FileNotFoundError:
            assert self.logs_dir is not None
            self.logs_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)


def event_row(row: Record) -> dict[str, Any]:
    """An events row as the JSON the CLI and API print."""
    out = {k: row[k] for k in row.keys() if k != "details_json"}
    out["details"] = json.loads(row["details_json"]) if row["details_json"] else None
    return out


def last_id(db: Database) -> int:
    """The id of the newest event (0 when there is none): where `log --follow` starts."""
    return db.scalar("SELECT max(id) FROM events") or 0


def query(
    db: Database,
    *,
    account_id: int | None = None,
    bot_id: int | None = None,
    kind: str | None = None,
    since: str | None = None,
    until: str | None = None,
    after_id: int | None = None,
    limit: int | None = None,
) -> list[dict]:
    """Events in order, filtered. `kind` matches a kind or a family (`account` → `account.*`)."""
    where: list[str] = []
    params: list[Any] = []
    if account_id is not None:
        where.append("account_id = ?")
        params.append(account_id)
    if bot_id is not None:
        where.append("bot_id = ?")
        params.append(bot_id)
    if kind:
        where.append("(kind = ? OR kind LIKE ? ESCAPE '\\')")
        params += [kind, kind.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + ".%"]
    if since:
        where.append("at >= ?")
        params.append(since)
    if until:
        where.append("at < ?")
        params.append(until)
    if after_id is not None:
        where.append("id > ?")
        params.append(after_id)
    sql = "SELECT * FROM events"
    if where:
        sql += " WHERE " + " AND ".join(where)
    if limit is not None:
        # the newest `limit` events, still printed oldest first
        sql = f"SELECT * FROM ({sql} ORDER BY id DESC LIMIT {int(limit)}) ORDER BY id"
    else:
        sql += " ORDER BY id"
    return [event_row(r) for r in db.query(sql, params)]
