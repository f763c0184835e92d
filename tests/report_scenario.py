"""A workspace whose true report figures are known: built through the engine functions the CLI
and the bot API call (import, auto-assignment, tick, claim/complete/fail by two stand-in bots,
retire), with every time given, plus a few direct rows where no engine function exists yet
(a model, its recurring tasks, follower counts).

The story (workspace time zone UTC, Monday 2026-03-02 to Saturday 2026-03-07):
- u1..u8 imported from a file; proxies p1 (12.50/month) and p2 (7.50) active, p3 (10.00)
  inactive; auto-assignment packs u1..u3 on p1 and u4..u6 on p2; u7, u8 wait without a proxy.
- Day 1, tick at 09:00 starts six warm-ups. Bot b1 (4 slots) completes step 1 of u1..u4 in
  60, 120, 180, 240 s. Bot b2 fails u5 (ui_not_found) and u6 (challenge → human review), then
  completes u5's retry in 300 s.
- Days 2–5: each day's step of u1..u5 completes in 100 s (b1 u1..u4, b2 u5); on day 3 u1's
  first attempt is rate_limited and retried at noon.
- Day 6: u1, u2 go active in model "alice"; u5 is retired; alice's post of u1 completes and
  its story of u2 fails (action_blocked, retry queued); u1 grows 100 → 150 followers, u2
  shrinks 200 → 190.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from warmup_helpers import add_bot, by_name, seed_templates

from igctl.engine.domain import accounts, lifecycle, proxies
from igctl.engine.flows import botwork
from igctl.engine.flows import tick as engine_tick
from igctl.engine.store.clock import to_db

UTC_DAY = [f"2026-03-0{d}" for d in range(2, 8)]


def at(day: int, hhmmss: str) -> datetime:
    """Day 1..6 of the story at a UTC wall time."""
    return datetime.fromisoformat(f"{UTC_DAY[day - 1]}T{hhmmss}+00:00")


def build(ws, clock, write) -> dict:
    seed_templates(ws)
    clock.set("2026-03-02T08:00:00Z")
    p1 = proxies.add(ws, "10.1.0.1:8080:pu1:ppw1", cost=12.5, actor="test")["id"]
    p2 = proxies.add(ws, "10.1.0.2:8080:pu2:ppw2", cost=7.5, actor="test")["id"]
    p3 = proxies.add(ws, "10.1.0.3:8080:pu3:ppw3", cost=10, actor="test")["id"]
    proxies.set_status(ws, p3, "inactive", actor="test", cause="not paid this month")
    lines = ["username,password,email"] + [f"u{i},pw{i},u{i}@example.com" for i in range(1, 9)]
    result = accounts.import_file(ws, write("fleet.csv", "\n".join(lines) + "\n"), actor="test")
    assert result["imported"] == 8 and result["proxies_assigned"] == 6
    b1 = add_bot(ws, "b1", slots=4)
    b2 = add_bot(ws, "b2")

    engine_tick.tick(ws, now=at(1, "09:00:00"))

    def claim(bot, when, username):
        t = botwork.claim_next(ws, bot, now=when)
        assert t is not None and t["account"]["username"] == username, (username, t and t["account"]["username"])
        return t["task_id"]

    def done(bot, when, username, seconds, exec_ms):
        task = claim(bot, when, username)
        botwork.complete(ws, task, bot, execution_time_ms=exec_ms, now=when + timedelta(seconds=seconds))
        return when + timedelta(seconds=seconds)

    # day 1
    t = at(1, "09:00:00")
    for user, seconds, ms in (("u1", 60, 50_000), ("u2", 120, 110_000), ("u3", 180, 170_000), ("u4", 240, 230_000)):
        t = done(b1, t, user, seconds, ms)
    assert botwork.claim_next(ws, b1, now=t) is None  # b1's four slots are taken
    task = claim(b2, t, "u5")
    botwork.fail(
        ws,
        task,
        b2,
        error_message="Edit profile button not found",
        error_kind="ui_not_found",
        error_details={"screen": "profile", "stack_trace": "Traceback: tap(edit_profile) failed"},
        now=t + timedelta(seconds=30),
    )
    t += timedelta(seconds=30)
    task = claim(b2, t, "u6")
    botwork.fail(
        ws, task, b2, error_message="Instagram asks for a code", error_kind="challenge", now=t + timedelta(seconds=30)
    )
    done(b2, at(1, "09:41:00"), "u5", 300, 290_000)

    # days 2..5: b1 works whatever of u1..u4 is due, oldest first
    for day in range(2, 6):
        t = at(day, "09:00:00")
        worked = []
        while (claimed := botwork.claim_next(ws, b1, now=t)) is not None:
            user = claimed["account"]["username"]
            worked.append(user)
            if day == 3 and user == "u1" and claimed["attempt"] == 1:
                botwork.fail(
                    ws,
                    claimed["task_id"],
                    b1,
                    error_message="Try again later",
                    error_kind="rate_limited",
                    retry_after_seconds=600,
                    now=t + timedelta(seconds=10),
                )
                t += timedelta(seconds=10)
                continue
            t += timedelta(seconds=100)
            botwork.complete(ws, claimed["task_id"], b1, execution_time_ms=90_000, now=t)
        assert sorted(worked) == ["u1", "u2", "u3", "u4"], worked
        if day == 3:
            done(b1, at(3, "12:00:00"), "u1", 100, 90_000)
        done(b2, at(day, "10:00:00"), "u5", 100, 80_000)

    db = ws.db()
    states = {u: by_name(ws, u)["lifecycle_state"] for u in ("u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8")}
    assert states == {
        "u1": "ready",
        "u2": "ready",
        "u3": "ready",
        "u4": "ready",
        "u5": "ready",
        "u6": "human_review",
        "u7": "imported",
        "u8": "imported",
    }, states

    # day 6: a model, two accounts active in it (standing in for `model assign`), a retirement
    day6 = to_db(at(6, "08:00:00"))
    with db.write():
        model_id = db.execute(
            "INSERT INTO models (name, slug, created_at, updated_at) VALUES ('alice', 'alice', ?, ?)", [day6, day6]
        ).lastrowid
        for user in ("u1", "u2"):
            lifecycle.move(
                db,
                ws.events,
                by_name(ws, user),
                lifecycle.ACTIVE,
                at=day6,
                actor="test",
                cause="assigned to model alice",
                fields={"model_id": model_id, "assigned_to_model_at": day6},
            )
    clock.set("2026-03-07T08:30:00Z")
    accounts.retire(ws, ["u5"], reason="banned", actor="test")
    u1, u2 = by_name(ws, "u1")["id"], by_name(ws, "u2")["id"]
    with db.write():
        post = db.execute(
            """INSERT INTO tasks (account_id, kind, step_name, model_id, idempotency_key, status, due_at, attempts,
                                  completed_at, created_at, updated_at)
               VALUES (?, 'post', 'post', ?, 'post:u1:1', 'completed', ?, 1, ?, ?, ?)""",
            [u1, model_id, day6, to_db(at(6, "10:02:00")), day6, day6],
        ).lastrowid
        story = db.execute(
            """INSERT INTO tasks (account_id, kind, step_name, model_id, idempotency_key, status, due_at, attempts,
                                  created_at, updated_at)
               VALUES (?, 'story', 'story', ?, 'story:u2:1', 'queued', ?, 1, ?, ?)""",
            [u2, model_id, to_db(at(6, "12:00:00")), day6, day6],
        ).lastrowid
        db.execute(
            """INSERT INTO step_log (task_id, account_id, kind, step_name, started_at, completed_at, status, bot_id)
               VALUES (?, ?, 'post', 'post', ?, ?, 'completed', ?)""",
            [post, u1, to_db(at(6, "10:00:00")), to_db(at(6, "10:02:00")), b1],
        )
        db.execute(
            """INSERT INTO step_log (task_id, account_id, kind, step_name, started_at, completed_at, status, bot_id,
                                     error_message, error_kind)
               VALUES (?, ?, 'story', 'story', ?, ?, 'failed', ?, 'Action blocked', 'action_blocked')""",
            [story, u2, to_db(at(6, "11:00:00")), to_db(at(6, "11:01:00")), b1],
        )
        for account_id, first, last in ((u1, 100, 150), (u2, 200, 190)):
            db.execute(
                "INSERT INTO account_metrics (account_id, at, followers) VALUES (?, ?, ?)",
                [account_id, to_db(at(6, "09:00:00")), first],
            )
            db.execute(
                "INSERT INTO account_metrics (account_id, at, followers) VALUES (?, ?, ?)",
                [account_id, to_db(at(6, "20:00:00")), last],
            )
    clock.set("2026-03-07T21:00:00Z")
    return {"b1": b1, "b2": b2, "p1": p1, "p2": p2, "p3": p3, "model_id": model_id}
