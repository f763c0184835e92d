"""WAL checkpoints in a background thread, for a busy server.

By default SQLite checkpoints inside the COMMIT that pushes the write-ahead log past 1,000
pages: that one commit copies the log's pages into the database file and syncs both, a few
milliseconds during which the server's write lock is held and every other bot waits. Measured
on the bot API's claim + complete round trip: about 1 commit in 100 took 4-5 ms, which was
0.22 ms of every 1.28 ms round trip on average (docs/benchmarks.md, "Bot API").

While a `Checkpointer` runs, the workspace's new connections are opened with
`wal_autocheckpoint = 0`, and the thread runs a PASSIVE checkpoint (it waits for nobody and
nobody waits for it) every `interval` in which the log was written to, told by the log file's
size and modification time (a `stat`; the thread never opens a database file itself: closing
any descriptor of a file drops every POSIX lock this process holds on it, and another process
that then found the `-shm` file unlocked would reset it under our connections' feet, a SIGBUS
seen in the load test). Its own connection does the work, with the GIL released inside SQLite,
so commits stay short. Other processes (commands run
beside the server) keep SQLite's automatic checkpoints. `stop()` runs one last checkpoint.
"""

from __future__ import annotations

import logging
import os
import threading

from .db import Database

log = logging.getLogger("igctl.server")

INTERVAL_SECONDS = 0.2  # at 500 round trips a second the log then stays under ~10 MB


class Checkpointer:
    def __init__(self, ws, *, interval: float = INTERVAL_SECONDS):
        self.ws = ws
        self.interval = interval
        self.checkpoints = 0  # how many ran (for tests and the benchmark)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seen: tuple[int, int] | None = None  # the log's (size, mtime) at the last checkpoint

    @property
    def wal_path(self):
        return self.ws.db_path.with_name(self.ws.db_path.name + "-wal")

    def log_state(self) -> tuple[int, int] | None:
        """The log file's (size, mtime in ns); None without one, or an empty one."""
        try:
            st = os.stat(self.wal_path)
        except FileNotFoundError:
            return None
        return (st.st_size, st.st_mtime_ns) if st.st_size else None

    def start(self) -> "Checkpointer":
        self.ws.checkpoint_in_background = True
        self._thread = threading.Thread(target=self._loop, name="igctl-checkpoint", daemon=True)
        self._thread.start()
        return self

    def run_once(self, *, force: bool = False, db: Database | None = None) -> bool:
        """A PASSIVE checkpoint if the log was written to since the last one (or `force`), on
        `db` (the thread's connection) or a connection of its own. Returns whether one ran."""
        state = self.log_state()
        if not force and (state is None or state == self._seen):
            return False
        own = db is None
        db = db or Database(self.ws.db_path)
        try:
            db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            if own:
                db.close()
        self._seen = state
        self.checkpoints += 1
        return True

    def _loop(self) -> None:
        db = None  # this thread's connection
        try:
            while not self._stop.wait(self.interval):
                try:
                    db = db or Database(self.ws.db_path)
                    self.run_once(db=db)
                except Exception as exc:  # noqa: BLE001 - a disk error, a file gone: try again next time
                    log.warning("WAL checkpoint failed: %s", exc)
        finally:
            if db is not None:
                db.close()

    def stop(self) -> None:
        """Stop the thread, put the workspace's automatic checkpoints back for connections opened
        from now on, and checkpoint once more (the log may have grown since the last run)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.ws.checkpoint_in_background = False
        try:
            self.run_once(force=True)
        except Exception as exc:  # noqa: BLE001 - stopping must not fail on it
            log.warning("WAL checkpoint failed: %s", exc)
