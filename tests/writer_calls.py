"""Module-level functions for the writer-process tests: the child finds a call's function by its
module and name, so these live here (the tests put this folder on the child's PYTHONPATH)."""

from __future__ import annotations

import os


def where_and_when(ws) -> tuple[int, str]:
    """The process that ran the call, and the workspace clock as that call saw it."""
    db = ws.db()
    with db.write():
        db.execute("INSERT INTO meta (key, value) VALUES (?, ?)", [f"stamp-{ws.now()}", str(os.getpid())])
    return os.getpid(), ws.now()


class Unpicklable(Exception):
    def __init__(self, a, b):  # pickle rebuilds an exception from its args: (a,) cannot
        super().__init__(a)
        self.b = b


def broken(ws, kind: str):
    """A bug in an engine function, as the writer process meets it."""
    if kind == "value":
        raise ValueError("a bug in the engine")
    if kind == "unpicklable":
        raise Unpicklable("cannot travel", lambda: None)
    if kind == "answer":
        return lambda: None  # an answer that cannot be sent back
    raise AssertionError(kind)


def hold(ws, started: str, release: str) -> str:
    """Keeps the writer process busy: marks `started`, then waits for the file `release` (a test
    kills the child meanwhile, or creates the file)."""
    import time
    from pathlib import Path

    Path(started).touch()
    deadline = time.monotonic() + 30
    while not Path(release).exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    return "released"


def pragma(ws, name: str):
    """A setting of the connection the call runs on."""
    return ws.db().scalar(f"PRAGMA {name}")


def echo(ws, *args):
    """Its arguments as the child got them (type names and values)."""
    return [(type(a).__name__, a if isinstance(a, (str, int)) else None) for a in args]
