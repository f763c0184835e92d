"""Account states and the transitions between them. This is the only module that writes
`accounts.lifecycle_state`; every change is checked against TRANSITIONS and written to the
event log with old state, new state, cause and actor.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from ..store.db import Database
from ..store.errors import IllegalTransition
from ..store.events import EventLog
from ..store.migrations import STATES
from ..store.records import AccountRow

IMPORTED = "imported"
PROXY_ASSIGNED = "proxy_assigned"
WARMING_UP = "warming_up"
HUMAN_REVIEW = "human_review"
READY = "ready"
ACTIVE = "active"
CLEANUP = "cleanup"
RETIRED = "retired"

# From-state → states it may move to. Retirement is possible from everywhere but itself.
TRANSITIONS: dict[str, set[str]] = {
    IMPORTED: {PROXY_ASSIGNED, RETIRED},
    PROXY_ASSIGNED: {IMPORTED, WARMING_UP, RETIRED},
    WARMING_UP: {HUMAN_REVIEW, READY, RETIRED},
    # Out of review an account goes back to the work it was doing when it got stuck.
    HUMAN_REVIEW: {WARMING_UP, READY, ACTIVE, CLEANUP, RETIRED},
    READY: {ACTIVE, RETIRED},
    ACTIVE: {CLEANUP, HUMAN_REVIEW, RETIRED},
    CLEANUP: {READY, HUMAN_REVIEW, RETIRED},
    RETIRED: set(),
}
assert set(TRANSITIONS) == set(STATES)


def can_move(old: str, new: str) -> bool:
    return new in TRANSITIONS.get(old, set())


def move(
    db: Database,
    events: EventLog,
    account: AccountRow,
    new_state: str,
    *,
    at: str,
    actor: str,
    cause: str,
    fields: dict | None = None,
    details: dict | None = None,
) -> None:
    """Move one account (a row with id, username and lifecycle_state) to `new_state`, setting
    `fields` in the same UPDATE. Must run inside a write transaction. The UPDATE is guarded by
    the old state, so a concurrent change makes it fail loudly instead of applying twice."""
    old_state = account["lifecycle_state"]
    if not can_move(old_state, new_state):
        raise IllegalTransition(
            f"account {account['username']} is {old_state}; it cannot become {new_state}",
            detail={"username": account["username"], "state": old_state, "wanted": new_state},
        )
    assert db.in_transaction, "lifecycle.move must run inside db.write()"
    values = {"lifecycle_state": new_state, "updated_at": at, **(fields or {})}
    sets = ", ".join(f"{k} = ?" for k in values)
    cur = db.execute(
        f"UPDATE accounts SET {sets} WHERE id = ? AND lifecycle_state = ?",
        [*values.values(), account["id"], old_state],
    )
    if cur.rowcount != 1:
        raise IllegalTransition(f"account {account['username']} changed state meanwhile; try again")
    events.record(
        db,
        at,
        "account.state",
        actor,
        account_id=account["id"],
        old_state=old_state,
        new_state=new_state,
        cause=cause,
        message=f"{account['username']}: {old_state} → {new_state} ({cause})",
        details=details,
    )


class Move(NamedTuple):
    """One account's part in `move_many`: the account row (id, username, lifecycle_state), the
    columns to set with the state, and the details of its `account.state` event."""

    account: AccountRow
    fields: dict | None = None
    details: dict | None = None


def move_many(
    db: Database,
    events: EventLog,
    moves: Iterable[Move],
    new_state: str,
    *,
    at: str,
    actor: str,
    cause: str,
) -> int:
    """`move()` for many accounts at once (bulk work such as auto-assignment of 100,000 accounts).

    The same rules: every move is checked against TRANSITIONS before anything is written, each
    UPDATE is guarded by the account's old state, and each account gets its own `account.state`
    event. Every move must set the same columns. Must run inside a write transaction; if any
    account changed state meanwhile, the whole batch fails (and the caller's transaction with it).
    Returns the number of accounts moved."""
    moves = list(moves)
    if not moves:
        return 0
    assert db.in_transaction, "lifecycle.move_many must run inside db.write()"
    keys = list(moves[0].fields or {})
    for m in moves:
        old_state = m.account["lifecycle_state"]
        if not can_move(old_state, new_state):
            raise IllegalTransition(
                f"account {m.account['username']} is {old_state}; it cannot become {new_state}",
                detail={"username": m.account["username"], "state": old_state, "wanted": new_state},
            )
        if list(m.fields or {}) != keys:
            raise ValueError("move_many: every move must set the same columns")
    sets = ", ".join(f"{k} = ?" for k in ["lifecycle_state", "updated_at", *keys])
    cur = db.conn.executemany(
        f"UPDATE accounts SET {sets} WHERE id = ? AND lifecycle_state = ?",
        ([new_state, at, *(m.fields or {}).values(), m.account["id"], m.account["lifecycle_state"]] for m in moves),
    )
    if cur.rowcount != len(moves):
        raise IllegalTransition("some accounts changed state meanwhile; try again")
    events.record_many(
        db,
        [
            {
                "at": at,
                "kind": "account.state",
                "actor": actor,
                "account_id": m.account["id"],
                "old_state": m.account["lifecycle_state"],
                "new_state": new_state,
                "cause": cause,
                "message": f"{m.account['username']}: {m.account['lifecycle_state']} → {new_state} ({cause})",
                "details": m.details,
            }
            for m in moves
        ],
    )
    return len(moves)
