"""Behaviour kept across issue 14's move of the task logic (found in review)."""

from __future__ import annotations

from test_models import proxy, ready_on


def test_unassign_records_state_change_before_the_cancelled_tasks(igctl, ws_path, ws):
    # before issue 14 start_cleanup wrote the account's move to cleanup, then task.cancelled
    igctl("model", "create", "Alice")
    ready_on(ws, proxy(ws, 1), 1, "a")
    igctl("model", "assign", "Alice", "a00001")  # onboarding step 1 queued
    igctl("model", "unassign", "Alice", "a00001")
    kinds = [
        r["kind"]
        for r in ws.db().query(
            "SELECT kind FROM events WHERE cause = 'cleanup' OR message LIKE '%unassigned%' ORDER BY id"
        )
    ]
    cancelled = kinds.index("task.cancelled")
    assert any(k.startswith("account.") for k in kinds[:cancelled]), kinds
