"""Account states and the transitions between them. This is the only module that writes
`accounts.lifecycle_state`; every change is checked against TRANSITIONS and written to the
event log with old state, new state, cause and actor.
"""

from __future__ import annotations

from .db import Database
from .errors import IllegalTransition
from .events import EventLog
from .migrations import STATES

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
    account,
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
