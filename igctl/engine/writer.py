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
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any, Callable

log = logging.getLogger("igctl.server")

MAX_GROUP = 32


class _Call:
    __slots__ = ("fn", "args", "kwargs", "done", "result", "error")

    def __init__(self, fn, args, kwargs):
        self.fn, self.args, self.kwargs = fn, args, kwargs
        # held until the call is done: the caller blocks acquiring it, the writer releases it
        # (one futex wait and wake; an Event adds a Condition and a lock of its own per wait)
        self.done = threading.Lock()
        self.done.acquire()
        self.result: Any = None
        self.error: BaseException | None = None


_STOP = object()


class Writer:
    def __init__(self, ws, *, max_group: int = MAX_GROUP):
        self.ws = ws
        self.max_group = max_group
        self.transactions = 0  # how many group transactions ran, and how many calls they held
        self.calls = 0
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> "Writer":
        self._thread = threading.Thread(target=self._loop, name="igctl-writer", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Finish the calls already queued, then stop. Calls made after this run in the caller's
        thread."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(_STOP)
            thread.join()

    def call(self, fn: Callable, *args, **kwargs):
        """`fn(*args, **kwargs)` in the writer's transaction: its result, or its exception raised
        here. `fn` works on `ws.db()` inside `db.write()`, as every engine function does."""
        if self._thread is None:
            return fn(*args, **kwargs)
        item = _Call(fn, args, kwargs)
        self._queue.put(item)
        item.done.acquire()
        if item.error is not None:
            raise item.error
        return item.result

    def _loop(self) -> None:
        db = self.ws.db()  # the writer thread's own connection
        try:
            while True:
                first = self._queue.get()
                if first is _STOP:
                    return
                items, stop = [first], False
                while len(items) < self.max_group:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is _STOP:
                        stop = True
                        break
                    items.append(item)
                self._run(db, items)
                if stop:
                    return
        finally:
            self.ws.close()  # this thread's connection

    def _run(self, db, items: list[_Call]) -> None:
        try:
            with db.write():
                for item in items:
                    try:
                        with db.savepoint():
                            item.result = item.fn(*item.args, **item.kwargs)
                    except BaseException as exc:  # noqa: BLE001 - handed to its caller
                        item.error = exc
            self.transactions += 1
            self.calls += len(items)
        except BaseException as exc:  # noqa: BLE001 - BEGIN or COMMIT failed: nothing was written
            log.warning("a group of %d writes failed: %s", len(items), exc)
            for item in items:
                if item.error is None:
                    item.result, item.error = None, exc
        finally:
            for item in items:
                item.done.release()
