"""An operator's change, recorded one way for the CLI and the dashboard alike.

A change an operator asks for (a CLI command, a dashboard action) is the engine call and its
`command` event in one write transaction: `with operator_change(ws, command) as change:` opens
it and writes the event first, so the log reads cause before effects; the engine calls made in
the block join the transaction, so a refused call (an exception) leaves nothing but its error.
`change.note(...)` adds what the call did to the event (the usernames retried, the number
assigned); `change.discard()` takes the event back when nothing happened. With `dry_run` the
whole transaction, event included, is rolled back.

`record()` is the one function that writes a `command` event. Besides `operator_change`, only
the calls that must wait for the network before their transaction (the tick's proxy tests,
`proxy test`) and the demo (whose command comes before its many changes, each of its own)
use it directly, inside their own transaction (docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .db import Database
    from .workspace import Workspace

VIAS = ("cli", "dashboard")


@dataclass(frozen=True)
class Command:
    """Who asked for a change, through which face, and with what: `name` is the command
    ("accounts retire"), `actor` `user:<login>` or `operator:<name>`, `via` "cli" or
    "dashboard", `argv` the command line as it may be logged (secrets masked; CLI only),
    `details` what the face knows before the call (the model, the reason…)."""

    name: str
    actor: str
    via: str
    argv: list[str] | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.via not in VIAS:
            raise ValueError(f"a command comes via one of {', '.join(VIAS)}, not {self.via!r}")


def record(ws: Workspace, db: Database, command: Command, **more: Any) -> int:
    """Write `command`'s event (kind `command`, message its name) in the caller's transaction,
    with `more` added to its details. Returns the event's id."""
    details: dict[str, Any] = {}
    if command.argv is not None:
        details["argv"] = list(command.argv)
    details.update(command.details)
    details.update(more)
    details["via"] = command.via
    return ws.events.record(db, ws.now(), "command", command.actor, message=command.name, details=details)


class Change:
    """The open transaction of an operator's change (`operator_change`)."""

    def __init__(self, ws: Workspace, db: Database, event_id: int):
        self.ws, self.db, self.event_id = ws, db, event_id
        self.discarded = False

    def note(self, **details: Any) -> None:
        """Add what the call did to the command's event."""
        if self.discarded:
            raise RuntimeError("a discarded change has no event to note in")
        self.ws.events.amend(self.db, self.event_id, details)

    def discard(self) -> None:
        """Nothing happened: take the command's event back (the transaction commits nothing).
        Only for a call that did nothing: one that recorded events of its own cannot hide its
        cause."""
        if self.db.scalar("SELECT 1 FROM events WHERE id > ? LIMIT 1", [self.event_id]):
            raise RuntimeError(f"command {self.event_id} had effects: it cannot be discarded")
        self.ws.events.forget(self.db, self.event_id)
        self.discarded = True


@contextmanager
def operator_change(ws: Workspace, command: Command, *, dry_run: bool = False) -> Iterator[Change]:
    """One write transaction (`db.write(dry_run=...)`) that starts with `command`'s event and
    holds the engine calls made in the block. Must not be opened inside another transaction
    with `dry_run` (a dry run rolls back a transaction of its own)."""
    db = ws.db()
    with db.write(dry_run=dry_run):
        yield Change(ws, db, record(ws, db, command))
