"""The group-commit writer's transactions in a process of their own (`Writer(ws, process=True)`,
what `igctl serve-bots` uses).

Why: the bot API server is one Python process, so one GIL. Run in a thread of it, the engine's
work for a claim and a completion (about 30 SQLite statements, each giving up the GIL and
taking it back) competed with the HTTP threads for that lock: a round trip cost about 2.4 ms
of the server's CPU, and throughput stopped at about a fifth of what the server does with
`/api/health`. In a process of its own the same work runs on the other core, with no thread to
compete with, and the server's CPU per round trip falls to about 1 ms (docs/benchmarks.md,
"Bot API").

What does not change: the child runs the calls with `Writer._run`, the very code the thread
mode runs (one `BEGIN IMMEDIATE`, a savepoint per call, the answers only after the COMMIT), on
a connection of its own to the same workspace. Each call carries the instant the caller's clock
read when it was made, and the child's clock returns exactly that while the call runs: the
server's clock (`IGCTL_NOW`, a test's fixed clock) stays the only clock.

The protocol, over the child's stdin and stdout (both moved away from fds 0 and 1 first, so a
stray print cannot corrupt it): frames of a 4-byte length and a pickle.
- Parent to child: a group, a list of pickled `((module, function name), args, kwargs,
  instant)`, one per call (so a call that cannot be pickled fails alone), where the argument
  `WS` stands for the workspace. Only module-level functions can be sent (found by name); a call
  the child cannot unpickle or find fails alone.
- Child to parent: `("ready", pid)` or `("error", message)` once at start, then per group
  `(answers, transactions, calls)`, with an answer `(True, result)` or `(False, exception)` per
  call.

Failures: a child that cannot start makes `WriterProcess()` raise (the writer then runs its
transactions in its thread, degraded, and tries again later); a child that dies makes `run()`
raise `WriterLost` and the writer starts another (a group the child never received runs in the
new one; one it had gets the error, HTTP 503). The child ignores SIGINT and SIGTERM (Ctrl-C reaches the whole process group;
the server decides when to stop) and exits when its stdin closes: when the writer stops, or when
the server dies however it dies.

Tried and dropped: two groups in the child's hands at once (the next sent while it runs one,
answers read by a thread of their own). Twelve alternating runs of `bench.api`, four each of
one group at a time, a first version with two and the finished version with two, had medians
of 611, 609 and 602 round trips/s: nothing beyond this machine's noise, for a second thread
and a harder shutdown.
"""

from __future__ import annotations

import logging
import os
import pickle
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import IgctlError

if TYPE_CHECKING:
    from .workspace import Workspace
    from .writer import _Call

log = logging.getLogger("igctl.server")


class WorkspaceArg:
    """Stands for the workspace among a call's arguments (a class of its own, so no argument a
    client sent can be mistaken for it)."""

    def __reduce__(self) -> tuple[type[WorkspaceArg], tuple[()]]:
        return (WorkspaceArg, ())


WS = WorkspaceArg()
# How the child starts: `-P` keeps the current directory (often the workspace) off its module
# path, where any `json.py` lying there would shadow the standard library in the process that
# decrypts passwords; the folder this igctl was imported from goes first only when it is not on
# the path already (a source checkout), so an installed igctl's site-packages keeps its place
# after the standard library.
_BOOT = (
    "import sys; root = sys.argv[1]; root in sys.path or sys.path.insert(0, root); "
    "from igctl.engine.store.writer_child import main; raise SystemExit(main(sys.argv[2:]))"
)
_HEAD = struct.Struct("!I")
STOP_SECONDS = 30.0


class WriterLost(IgctlError):
    """The writer process stopped answering: the calls of its last group may or may not have
    been committed (HTTP 503: the bot repeats them; every bot write is safe to repeat).
    `delivered` False: the group never reached it (nothing of it ran there)."""

    http_status = 503

    def __init__(self, message: str, delivered: bool = True):
        super().__init__(
            message, detail={"committed": "unknown: repeat the request (a claim with the same Idempotency-Key)"}
        )
        self.delivered = delivered


def send(fd: int, obj: object) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_HEAD.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view) :]


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks = []
    while size:
        chunk = os.read(fd, size)
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def receive(fd: int) -> Any:
    """The next frame, or None at the end of the stream."""
    head = _read_exactly(fd, _HEAD.size)
    if head is None:
        return None
    body = _read_exactly(fd, _HEAD.unpack(head)[0])
    return None if body is None else pickle.loads(body)


def function_name(fn: Callable[..., Any]) -> tuple[str, str]:
    """How the child finds `fn`: only a module-level function can be sent."""
    module, name = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    if not module or module == "__main__" or not name or "." in name or "<" in name:
        raise TypeError(f"{fn!r} cannot run in the writer process: only a module-level function can")
    return module, name


class WriterProcess:
    """The parent's side: starts the child and hands it groups of calls."""

    def __init__(self, ws: Workspace) -> None:
        package_root = str(Path(__file__).resolve().parents[3])
        args = [sys.executable, "-P", "-c", _BOOT, package_root, str(ws.path)]
        self.ws = ws
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True)
        assert self.proc.stdin is not None and self.proc.stdout is not None  # both PIPE
        self._to, self._from = self.proc.stdin.fileno(), self.proc.stdout.fileno()
        first = self._receive()
        if not (isinstance(first, tuple) and first[0] == "ready"):
            self.close()
            why = first[1] if isinstance(first, tuple) else f"it stopped with exit code {self.proc.returncode}"
            raise WriterLost(f"the writer process did not start: {why}")
        self.pid = first[1]

    def _receive(self) -> Any:
        try:
            return receive(self._from)
        except (OSError, EOFError, pickle.UnpicklingError):
            return None

    def run(self, items: list[_Call]) -> tuple[int, int]:
        """Run the calls `items` (writer._Call) in one group in the child; sets each one's result
        or error (answering is the caller's, except for a call that cannot be pickled: it is
        answered at once with a TypeError). Returns the child's (transactions, calls) for it.
        WriterLost when the child is gone."""
        sent, payload = [], []
        for item in items:
            try:  # each call's own pickle: one that cannot be sent fails alone
                payload.append(
                    pickle.dumps(
                        (
                            function_name(item.fn),
                            tuple(WS if a is self.ws else a for a in item.args),
                            item.kwargs,
                            item.at,
                        ),
                        protocol=pickle.HIGHEST_PROTOCOL,
                    )
                )
                sent.append(item)
            except Exception as exc:  # noqa: BLE001 - its caller gets it
                item.answer(TypeError(f"this call cannot be sent to the writer process: {exc}"))
        if not sent:
            return 0, 0
        try:
            send(self._to, payload)
        except OSError as exc:  # a pipe with no reader: the child never read any of it
            raise WriterLost(f"the writer process is gone ({exc})", delivered=False) from None
        reply = self._receive()
        if reply is None:
            try:
                self.proc.wait(1)  # its exit code, for the log
            except subprocess.TimeoutExpired:
                pass
            raise WriterLost(f"the writer process stopped (exit code {self.proc.returncode})")
        answers, transactions, calls = reply
        for item, (ok, value) in zip(sent, answers, strict=False):
            item.result, item.error = (value, None) if ok else (None, value)
        return transactions, calls

    def close(self, timeout: float = STOP_SECONDS) -> None:
        """Close the child's stdin (it finishes its group and exits) and wait for it."""
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.error("the writer process did not stop within %.0f s: killed", timeout)
            self.proc.kill()
            self.proc.wait()
