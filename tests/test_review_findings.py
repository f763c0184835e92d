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
    moved = ws.db().one("SELECT details_json FROM events WHERE kind = 'account.state' AND new_state = 'cleanup'")
    assert '"tasks_cancelled": 1' in moved["details_json"]
    assert (
        ws.db()
        .scalar("SELECT message FROM events WHERE kind = 'task.cancelled'")
        .startswith("1 open task(s) of a00001")
    )


def test_review_resolve_and_retry_a_warmup_step_cancelled_or_dropped_by_hand(igctl, ws):
    # an account sent to review by hand, its warm-up step's task cancelled (or dropped): retry
    # and resolve take that task back, as before issue 14 (TRANSITIONS: cancelled/dropped →
    # queued/completed)
    from warmup_helpers import add_bot, by_name, fleet, seed_templates

    from igctl.engine.flows import botwork

    seed_templates(ws)
    fleet(ws, 2)
    igctl("warmup", "tick")
    db = ws.db()
    with db.write():
        db.execute(
            "UPDATE tasks SET status = 'cancelled' WHERE account_id = (SELECT id FROM accounts WHERE username = 'acct00001')"
        )
        db.execute(
            "UPDATE tasks SET status = 'dropped' WHERE account_id = (SELECT id FROM accounts WHERE username = 'acct00002')"
        )
        db.execute("UPDATE accounts SET lifecycle_state = 'human_review'")
    out = igctl.json("review", "retry", "acct00001")
    assert out[0]["step_number"] == 1 and by_name(ws, "acct00001")["lifecycle_state"] == "warming_up"
    assert db.scalar("SELECT status FROM tasks WHERE id = ?", [out[0]["task_id"]]) == "queued"
    out = igctl.json("review", "resolve", "acct00002", "--note", "done by hand")
    assert out[0]["account_state"] == "warming_up" and out[0]["next_task"]["step_number"] == 2
    assert db.scalar("SELECT status FROM tasks WHERE id = ?", [out[0]["task_id"]]) == "completed"
    bot = add_bot(ws, "pc")
    assert botwork.claim_next(ws, bot)["account"]["username"] == "acct00001"
