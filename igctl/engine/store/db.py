"""Connections and transactions.

One connection per thread (sqlite3 refuses cross-thread use, and so does sqlite_utils).
Connections run in autocommit mode; every write goes through `Database.write()`, which opens
`BEGIN IMMEDIATE` so that the write lock is taken up front (no lock upgrade deadlocks between
readers that turn into writers) and waits on `busy_timeout` rather than failing.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

BUSY_TIMEOUT_MS = 30_000

# One lock per database file for the write transactions of this process. SQLite's busy handler
# sleeps and retries, which is unfair under contention (a waiting writer can lose again and
# again: seconds of tail latency); threads of one process queue here instead, in order, and
# only other processes meet the busy handler. Re-entrant, so a second connection opened by the
# same thread waits on SQLite (and times out) rather than deadlocking here.
_WRITE_LOCKS: dict[str, threading.RLock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()
log = logging.getLogger("igctl")


def _write_lock(path: Path) -> threading.RLock:
    key = str(path.resolve())
    with _WRITE_LOCKS_GUARD:
        lock = _WRITE_LOCKS.get(key)
        if lock is None:
            lock = _WRITE_LOCKS[key] = threading.RLock()
        return lock


def connect(path: Path | str) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if mode.lower() != "wal":  # pragma: no cover - only on filesystems without shared memory
        raise sqlite3.OperationalError(f"could not switch {path} to WAL mode (got {mode})")
    # WAL + NORMAL: a committed transaction survives any process crash; only a power loss
    # can take back the last few commits.
    conn.execute("PRAGMA synchronous = NORMAL")
    # savepoints' statement journals (writer.py runs each call in one) and temporary b-trees
    # in memory rather than in files created and deleted under /var/tmp
    conn.execute("PRAGMA temp_store = MEMORY")
    # case-insensitive search beyond ASCII (SQLite's LIKE and lower() fold only A-Z): lists use
    # it only for a search that holds other letters (engine/views/listing.py)
    conn.create_function("fold", 1, _fold, deterministic=True)
    return conn


def _fold(value: str | None) -> str | None:
    return value.casefold() if isinstance(value, str) else value


class Database:
    """A connection with the transaction discipline of igctl, for one thread."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.conn = connect(self.path)
        self._owner = threading.get_ident()
        self._depth = 0
        self._dry_run = False
        self._after_commit: list[Callable[[], None]] = []
        self._batches: dict[str, list[Any]] = {}
        self._lock = _write_lock(self.path)

    # -- reading -----------------------------------------------------------------------
    def query(self, sql: str, params: Any = ()) -> list[sqlite3.Row]:
        return self.conn.execute(sql, params).fetchall()

    def one(self, sql: str, params: Any = ()) -> sqlite3.Row | None:
        return self.conn.execute(sql, params).fetchone()

    def scalar(self, sql: str, params: Any = ()) -> Any:
        row = self.conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    @property
    def utils(self) -> Any:
        """sqlite-utils over the same connection, for introspection and reads (imported only
        when used: it costs ~35 ms of start-up)."""
        import sqlite_utils

        return sqlite_utils.Database(self.conn)

    @property
    def in_transaction(self) -> bool:
        return self._depth > 0

    @property
    def dry_run(self) -> bool:
        """Inside a write transaction that will be rolled back (`write(dry_run=True)`): what is
        done in it is only what would be done."""
        return self._depth > 0 and self._dry_run

    # -- writing -----------------------------------------------------------------------
    @contextmanager
    def write(self, *, dry_run: bool = False) -> Iterator[Database]:
        """A write transaction (`BEGIN IMMEDIATE`). Nested calls join the outer transaction.
        Callbacks registered with `after_commit` run once the outermost one commits. With
        `dry_run` the work is done and then rolled back (only for the outermost transaction:
        a dry run cannot take back part of someone else's)."""
        if self._depth:
            if dry_run:
                raise RuntimeError("a dry run needs a transaction of its own")
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
            return
        with self._lock:
            self._begin_immediate()
            self._depth = 1
            self._dry_run = dry_run
            try:
                yield self
            except BaseException:
                self._end(commit=False)
                raise
            self._end(commit=not dry_run)

    def _end(self, *, commit: bool) -> None:
        """Commit (then run the after-commit callbacks) or roll back."""
        self._depth = 0
        self._dry_run = False
        callbacks, self._after_commit, self._batches = self._after_commit, [], {}
        if not commit:
            try:
                self.conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            return
        try:
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        # Committed: a callback that fails cannot take that back, nor stop the others.
        for cb in callbacks:
            try:
                cb()
            except Exception:  # noqa: BLE001
                log.exception("an after-commit step failed (the transaction stands)")

    @contextmanager
    def savepoint(self) -> Iterator[Database]:
        """Inside a write transaction, a part that can fail alone: on an exception its changes
        are rolled back (and the after-commit callbacks it registered forgotten) while the
        rest of the transaction stands. Used to run several requests in one transaction
        (writer.py)."""
        assert self._depth, "a savepoint needs a write transaction"
        callbacks = len(self._after_commit)
        batches = {key: len(items) for key, items in self._batches.items()}
        self.conn.execute("SAVEPOINT part")
        try:
            yield self
        except BaseException:
            del self._after_commit[callbacks:]
            for key in list(self._batches):
                if key in batches:
                    del self._batches[key][batches[key] :]
                else:
                    del self._batches[key]  # its flush callback was registered after the mark
            # After a full disk or an I/O error SQLite may have rolled back the whole
            # transaction, savepoint included: the error that did it is the one to raise.
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK TO part")
                self.conn.execute("RELEASE part")
            raise
        self.conn.execute("RELEASE part")

    def after_commit(self, callback: Callable[[], None]) -> None:
        if self._depth:
            self._after_commit.append(callback)
        else:
            callback()

    def after_commit_batch(self, key: str, item: Any, flush: Callable[[list[Any]], None]) -> None:
        """Collect `item` under `key`; once the outermost transaction commits, `flush(items)`
        runs once with all of them (e.g. one append to the event-log file per transaction
        instead of one per event). Outside a transaction it runs at once with [item]."""
        if not self._depth:
            flush([item])
            return
        batch = self._batches.get(key)
        if batch is None:
            batch = self._batches[key] = []
            self._after_commit.append(lambda: flush(batch))
        batch.append(item)

    def pending(self, key: str) -> list:
        """The items collected under `key` by `after_commit_batch` in this transaction and not
        yet flushed (empty outside a transaction). The list itself: a caller may amend or remove
        an item it added before the commit (EventLog.amend, EventLog.forget)."""
        return self._batches.get(key, []) if self._depth else []

    def _begin_immediate(self) -> None:
        # busy_timeout covers most waits; a second loop covers the rare SQLITE_BUSY that
        # SQLite returns at once (e.g. while another connection checkpoints the WAL).
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        delay = 0.005
        while True:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                if time.monotonic() > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.1)

    def close(self) -> None:
        self.conn.close()
