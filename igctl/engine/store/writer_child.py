"""The writer process's side (engine/store/writer_process.py is the server's side, and says why
the bot API's transactions run in a process of their own).

Started by `WriterProcess` as `python -P -c ...` (the current directory, often the workspace, is
not on its module path), it reads groups of pickled calls from its stdin, runs each group with
`Writer._run` (one `BEGIN IMMEDIATE`, a savepoint per call) on its own connection, and answers
on its stdout. Each call runs with its caller's clock reading. It ignores SIGINT and SIGTERM and
exits when its stdin closes.
"""

from __future__ import annotations

import importlib
import logging
import os
import pickle
import signal
import sys
import traceback
from collections.abc import Callable
from datetime import datetime
from typing import Any

from .clock import Clock
from .errors import IgctlError
from .workspace import Workspace
from .writer import Writer, _Call
from .writer_process import WorkspaceArg, receive, send


class _CallClock(Clock):
    """The child's clock: the instant the caller's clock read, set before each call."""

    at: datetime | None = None

    def now(self) -> datetime:
        assert self.at is not None, "a call runs with its caller's instant"
        return self.at


def _portable(exc: BaseException) -> BaseException:
    """`exc` as it can travel to the parent: a domain error as it is; anything else (a bug)
    with the child's traceback as a note, so the server's log shows where it happened."""
    if not isinstance(exc, IgctlError):
        exc.add_note("raised in the writer process:\n" + "".join(traceback.format_exception(exc)).rstrip())
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001 - an exception that does not pickle travels as its text
        return RuntimeError(f"{type(exc).__name__}: {exc}\n" + "\n".join(getattr(exc, "__notes__", [])))


def _sendable(answer: tuple[bool, Any]) -> tuple[bool, Any]:
    try:
        pickle.dumps(answer)
        return answer
    except Exception as exc:  # noqa: BLE001
        return (
            False,
            RuntimeError(f"the writer process could not send an answer back ({exc}); its work was committed"),
        )


def _raise(exc: BaseException) -> None:
    raise exc


def _serve(path: str, inbox: int, outbox: int) -> int:
    try:
        ws = Workspace.open(path)
        ws.close()  # reopened below as the writer's connection
        clock = ws.clock = _CallClock(ws.config.tz)
        db = ws.db()
    except Exception as exc:  # noqa: BLE001 - told to the parent, which raises it
        send(outbox, ("error", str(exc)))
        return 1
    writer = Writer(ws)
    functions: dict[tuple[str, str], Callable[..., Any]] = {}

    def at(instant: datetime, fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            clock.at = instant
            return fn(*args, **kwargs)

        return call

    send(outbox, ("ready", os.getpid()))
    while True:
        try:
            group = receive(inbox)
        except (OSError, EOFError, pickle.UnpicklingError):
            group = None
        if group is None:  # the parent closed our stdin (or died)
            ws.close()
            return 0
        items = []
        for payload in group:
            try:  # a call this process cannot read or find fails alone, without running
                key, args, kwargs, instant = pickle.loads(payload)
                fn = functions.get(key)
                if fn is None:
                    fn = functions[key] = getattr(importlib.import_module(key[0]), key[1])
            except Exception as exc:  # noqa: BLE001 - its caller gets it
                items.append(_Call(_raise, (exc,), {}))
                continue
            items.append(_Call(at(instant, fn), tuple(ws if isinstance(a, WorkspaceArg) else a for a in args), kwargs))
        before = (writer.transactions, writer.calls)
        writer._run(db, items)
        answers = [(True, i.result) if i.error is None else (False, _portable(i.error)) for i in items]
        counts = (writer.transactions - before[0], writer.calls - before[1])
        try:
            try:
                send(outbox, (answers, *counts))
            except (pickle.PicklingError, TypeError, AttributeError):  # an answer that cannot travel: a bug
                send(outbox, ([_sendable(answer) for answer in answers], *counts))
        except OSError:  # the parent is gone
            ws.close()
            return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # the protocol keeps the original stdin and stdout; fd 0 becomes /dev/null and fd 1 stderr
    inbox, outbox = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s writer process: %(message)s"))
    logger = logging.getLogger("igctl")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    return _serve(argv[0], inbox, outbox)
