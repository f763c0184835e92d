"""Group commit: one thread runs the bot API's writes, several to a transaction.

Without it every request thread of the server opened its own write transaction on its own
connection, one after another behind the write lock. Each such transaction paid for a COMMIT,
found its page cache stale (another connection had written since), and, holding the lock,
competed for the GIL with the threads parsing HTTP. With it, a request thread hands its engine
call to the `Writer` and waits; the writer takes every call waiting in its queue (up to
`max_group`), runs each in a SAVEPOINT of one `BEGIN IMMEDIATE` transaction on its own
connection, commits once, and only then lets the callers answer. docs/benchmarks.md, "Bot
API", has the figures.

What does not change: every call is still all or nothing (a call that raises is rolled back
to its savepoint, with the event-log lines it had queued, and the others commit); a caller is
answered only after the COMMIT that holds its work, so nothing answered can be lost; calls run
in the order they arrived; other processes and the server's other writes meet the same write
lock as before (the writer's transaction takes it like any other). When the writer is not
running, `call()` runs the function in the caller's thread, as before.

`Writer(ws, process=True)` (what serve-bots uses) runs those transactions in a child process
instead (engine/writer_process.py: the same `_run`, on the child's connection), so that the
engine's work does not compete with the HTTP threads for this process's GIL; this thread then
only hands each group over and waits for the answers. The calls must then be module-level
functions (the child finds them by name), and each carries the caller's clock reading. A child
that dies is replaced at once (logged, counted in `restarts`); only when a new one cannot start
do the transactions run in this thread, with `degraded` set (so /api/health says "degraded")
and a new child tried again every RETRY_SECONDS. `status()` is what /api/health shows.

When things go wrong: if SQLite rolls the whole transaction back (a full disk, an I/O error),
the calls run so far in it get that error and the others run in a transaction of their own;
an after-commit step that fails is logged and fails nobody (the commit stands, engine/store/db.py);
if the thread cannot open its connection `start()` raises; if the loop itself breaks, every
waiting caller gets the error and later calls run in their own threads. The calls of a group
lost with a child get `WriterLost` (HTTP 503: the work may or may not have been committed;
every bot write is safe to repeat, a claim through its Idempotency-Key). No caller waits for a
writer that will not answer (tests/test_writer.py has each case).
"""

from __future__ import annotations

import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .writer_process import WriterLost, WriterProcess, function_name

if TYPE_CHECKING:
    from .db import Database
    from .workspace import Workspace

log = logging.getLogger("igctl.server")

MAX_GROUP = 32
RETRY_SECONDS = 30.0  # between attempts to start a writer process again, while none would start


class _Call:
    __slots__ = ("fn", "args", "kwargs", "at", "done", "taken", "result", "error", "answered")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], at: Any = None) -> None:
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.at = at  # the caller's clock when it called (process mode: the child's clock for it)
        # held until the call is done: the caller blocks acquiring it, the writer releases it
        # (one futex wait and wake; an Event adds a Condition and a lock of its own per wait)
        self.done = threading.Lock()
        self.done.acquire()
        self.taken = threading.Lock()  # whoever acquires it runs the call: the writer or its caller
        self.result: Any = None
        self.error: BaseException | None = None
        self.answered = False

    def take(self) -> bool:
        return self.taken.acquire(blocking=False)

    def answer(self, error: BaseException | None = None) -> None:
        """Let the caller go (once), with `error` if it has none yet."""
        if self.answered:
            return
        if error is not None and self.error is None:
            self.result, self.error = None, error
        self.answered = True
        self.done.release()


_STOP = object()


class _RolledBack(Exception):
    """SQLite rolled the whole transaction back (a full disk, an I/O error): not one call's doing."""


class Writer:
    def __init__(self, ws: Workspace, *, max_group: int = MAX_GROUP, process: bool = False) -> None:
        self.ws = ws
        self.max_group = max_group
        # process: the transactions run in a child process (engine/writer_process.py), off this
        # process's GIL; this thread only hands groups over. A child that dies is replaced;
        # the thread's own connection serves (degraded) only while no child will start.
        self.process = process
        self.pid: int | None = None  # the child's, while there is one
        self.restarts = 0  # children started in place of one that died
        self.degraded = False  # process mode without a child: the writes run in this thread
        self.transactions = 0  # how many group transactions ran, and how many calls they held
        self.calls = 0
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> Writer:
        """Start the thread; returns once it has its connection (or raises why it could not)."""
        ready: list = []
        opened = threading.Event()
        thread = self._thread = threading.Thread(
            target=self._loop, args=(ready, opened), name="igctl-writer", daemon=True
        )
        thread.start()
        opened.wait()
        if ready and isinstance(ready[0], BaseException):
            thread.join()
            raise ready[0]
        return self

    def status(self) -> dict:
        """How the writes run, for /api/health: `mode` "process" (a child process runs them),
        "thread" (this process's writer thread, by choice or, `degraded`, because no child
        would start) or "request threads" (the writer is not running); `processes` serving the
        API (this one and its child); the child's pid and how many children were restarted."""
        if self._thread is None:
            mode = "request threads"
        else:
            mode = "process" if self.pid is not None else "thread"
        return {
            "mode": mode,
            "processes": 1 + (self.pid is not None),
            "server_pid": os.getpid(),
            "writer_pid": self.pid,
            "restarts": self.restarts,
            "degraded": self.degraded,
        }

    def stop(self) -> None:
        """Finish the calls already queued, then stop. Calls made after this run in the caller's
        thread."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(_STOP)
            thread.join()

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """`fn(*args, **kwargs)` in the writer's transaction: its result, or its exception raised
        here. `fn` works on `ws.db()` inside `db.write()`, as every engine function does."""
        if self._thread is None:
            return fn(*args, **kwargs)
        if self.process:
            function_name(fn)  # TypeError here, in the caller, for a function the child cannot find
        item = _Call(fn, args, kwargs, self.ws.clock.now() if self.process else None)
        self._queue.put(item)
        # Stopped (or broken) between the check and the put, the item may sit behind the stop
        # where the writer never takes it: then the caller takes and runs it itself. Exactly
        # one of the two takes it; no lock on this path.
        if self._thread is None and item.take():
            return fn(*args, **kwargs)
        item.done.acquire()
        if item.error is not None:
            raise item.error
        return item.result

    def _child(self) -> WriterProcess | None:
        """A new writer process, or None (logged, `degraded` set) when it cannot start."""
        try:
            remote = WriterProcess(self.ws)
        except Exception as exc:  # noqa: BLE001 - the thread's own connection will do meanwhile
            log.error("%s: the writes run in the server process, degraded (next try in %.0f s)", exc, RETRY_SECONDS)
            self.pid, self.degraded = None, True
            return None
        self.pid, self.degraded = remote.pid, False
        return remote

    def _loop(self, ready: list, opened: threading.Event) -> None:
        remote = db = None
        tried = time.monotonic()
        if self.process:
            remote = self._child()
        try:
            if remote is None:
                db = self.ws.db()  # the writer thread's own connection
        except BaseException as exc:  # noqa: BLE001 - start() raises it
            ready.append(exc)
            self._thread = None
            opened.set()
            return
        ready.append(True)
        opened.set()
        items: list[_Call] = []
        try:
            while True:
                first = self._queue.get()
                if first is _STOP:
                    return
                if self.process and remote is None and time.monotonic() - tried >= RETRY_SECONDS:
                    tried = time.monotonic()
                    remote = self._child()
                if not first.take():
                    continue  # its caller runs it
                items, stop = [first], False
                while len(items) < self.max_group:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is _STOP:
                        stop = True
                        break
                    if item.take():
                        items.append(item)
                if remote is not None and not self._run_remote(remote, items):
                    lost, tried = remote.pid, time.monotonic()
                    remote = self._child()
                    self.restarts += remote is not None
                    if remote is not None:
                        log.error(
                            "the writer process %s ended: writer process %s started in its place (%d restart(s) so far)",
                            lost,
                            remote.pid,
                            self.restarts,
                        )
                    undelivered = [item for item in items if not item.answered]
                    # the child never had them: they run in the new one, or here
                    if undelivered and (remote is None or not self._run_remote(remote, undelivered)):
                        remote, db, self.degraded = None, db or self.ws.db(), self.process
                        self._run(db, [item for item in undelivered if not item.answered])
                elif remote is None:
                    db = db or self.ws.db()
                    self._run(db, items)
                if stop:
                    return
        except BaseException as exc:  # noqa: BLE001 - a bug here must not leave callers waiting
            log.error("the writer thread stopped: %r", exc)
            self._thread = None  # calls from now on run in their own threads
            for item in items:  # the ones taken and the ones still queued get the error
                item.answer(exc)
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not _STOP and item.take():
                    item.answer(exc)
        finally:
            if remote is not None:
                remote.close()
                self.pid = None
            self.ws.close()  # this thread's connection

    def _run_remote(self, remote: WriterProcess, items: list[_Call]) -> bool:
        """`items` as one group in the child process, then their answers. False when the child
        is gone (the writer then starts another): if the group had reached the child, its
        callers get WriterLost (their work may or may not have been committed: as with a server
        that dies, the bot retries); if not, they are left unanswered, to run again."""
        try:
            transactions, calls = remote.run(items)
        except WriterLost as exc:
            log.error("%s", exc)
            remote.close()
            self.pid = None
            if exc.delivered:
                for item in items:
                    item.answer(exc)
            return False
        self.transactions += transactions
        self.calls += calls
        for item in items:
            item.answer()
        return True

    def _run(self, db: Database, items: list[_Call]) -> None:
        """One transaction for `items`, each call in its own savepoint. If SQLite itself rolls
        the transaction back (a full disk, an I/O error), the calls run so far get that error
        (their work is gone with it) and the rest run in a transaction of their own."""
        rest: list[_Call] = []
        try:
            with db.write():
                for number, item in enumerate(items):
                    try:
                        with db.savepoint():
                            item.result = item.fn(*item.args, **item.kwargs)
                    except BaseException as exc:  # noqa: BLE001 - handed to its caller
                        item.error = exc
                    if not db.conn.in_transaction:
                        error = item.error or sqlite3.OperationalError("the transaction was rolled back")
                        for earlier in items[: number + 1]:
                            earlier.result, earlier.error = None, error
                        rest = items[number + 1 :]
                        raise _RolledBack()
            self.transactions += 1
            self.calls += len(items)
        except _RolledBack:
            log.warning("a group of %d writes was rolled back by SQLite: %s", len(items) - len(rest), items[0].error)
        except BaseException as exc:  # noqa: BLE001 - BEGIN or COMMIT failed: nothing was written
            log.warning("a group of %d writes failed: %s", len(items), exc)
            for item in items:
                if item.error is None:
                    item.result, item.error = None, exc
        finally:
            for item in items:
                if item not in rest:
                    item.answer()
        if rest:
            self._run(db, rest)
