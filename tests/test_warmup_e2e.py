"""The whole 5-day warm-up of 50 accounts: imported from a file, given proxies by tick, worked by
three stand-in bots through the engine functions the bot API calls, with the clock moved day by
day. Every account is ready on calendar day 5."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

from warmup_helpers import add_bot, add_proxies, seed_templates

from igctl.engine.domain import accounts
from igctl.engine.flows import botwork
from igctl.engine.flows import tick as engine_tick
from igctl.engine.store.clock import from_db
from igctl.engine.store.workspace import Workspace

MONDAY = date(2026, 3, 2)


def work(ws, bots: list[int], fail_first: set[str], now: str) -> Counter:
    """Every bot claims and reports until nothing is due. Accounts in `fail_first` fail the first
    attempt of every step once (a UI hiccup) and are retried after the backoff."""
    done = Counter()
    busy = True
    while busy:
        busy = False
        for bot in bots:
            t = botwork.claim_next(ws, bot, now=now)
            if t is None:
                continue
            busy = True
            key = (t["account"]["username"], t["step_number"])
            if t["account"]["username"] in fail_first and t["attempt"] == 1:
                botwork.fail(
                    ws, t["task_id"], bot, error_message="button not found", error_kind="ui_not_found", now=now
                )
                done["failed"] += 1
            else:
                botwork.complete(ws, t["task_id"], bot, execution_time_ms=4000, now=now)
                done[key[1]] += 1
    return done


def test_fifty_accounts_warm_up_in_five_calendar_days(ws_path, clock, write):
    (ws_path / "igctl.yaml").write_text(
        (ws_path / "igctl.yaml").read_text().replace("timezone: UTC", "timezone: Europe/Berlin")
    )
    ws = Workspace.open(ws_path)
    seed_templates(ws)
    add_proxies(ws, 17)
    lines = ["username,password,email"] + [f"model.{i:02d},pw{i},m{i}@example.com" for i in range(50)]
    imported = accounts.import_file(ws, write("accounts.csv", "\n".join(lines) + "\n"), assign=False, actor="test")
    assert imported["imported"] == 50
    bots = [add_bot(ws, f"phone{n}", slots=20) for n in range(3)]
    flaky = {f"model.{i:02d}" for i in range(0, 50, 10)}

    for day in range(5):
        today = MONDAY + timedelta(days=day)
        clock.set(f"{today}T09:00:00")
        result = engine_tick.tick(ws)
        if day == 0:
            assert (result["proxies_assigned"], result["warmups_started"]) == (50, 50)
        else:
            assert result["warmups_started"] == 0 and result["steps_requeued"] == 0
        morning = work(ws, bots, flaky, now=ws.now())
        assert morning[day + 1] == 45 and morning["failed"] == 5
        clock.set(f"{today}T09:30:00")  # the backoff of the flaky ones has passed
        engine_tick.tick(ws)
        retried = work(ws, bots, flaky, now=ws.now())
        assert retried[day + 1] == 5 and retried["failed"] == 0
        states = Counter(r[0] for r in ws.db().query("SELECT lifecycle_state FROM accounts"))
        if day < 4:
            assert states == {"warming_up": 50}
            # nothing more is due today: the next step waits for tomorrow
            clock.set(f"{today}T23:59:59")
            assert all(botwork.claim_next(ws, b) is None for b in bots)
        else:
            assert states == {"ready": 50}

    db = ws.db()
    for row in db.query("SELECT * FROM accounts"):
        assert from_db(row["warmup_completed_at"]).astimezone(ws.tz).date() == MONDAY + timedelta(days=4)
        assert row["warmup_step"] == 5 and row["requires_human_review"] == 0
    # one task per account and step, each completed; every attempt logged; one phone per account
    per_step = db.query("SELECT account_id, step_number, COUNT(*) AS n, MIN(status) AS s FROM tasks GROUP BY 1, 2")
    assert len(per_step) == 250 and all(r["n"] == 1 and r["s"] == "completed" for r in per_step)
    assert db.scalar("SELECT COUNT(*) FROM step_log WHERE status = 'completed'") == 250
    assert db.scalar("SELECT COUNT(*) FROM step_log WHERE status = 'failed'") == 25
    assert db.scalar("SELECT MAX(n) FROM (SELECT COUNT(DISTINCT bot_id) AS n FROM step_log GROUP BY account_id)") == 1
    assert db.scalar("SELECT COUNT(*) FROM accounts WHERE bot_id IS NULL") == 0
    # each step on its own calendar day
    days = db.query("SELECT account_id, step_number, completed_at FROM tasks ORDER BY account_id, step_number")
    for r in days:
        assert from_db(r["completed_at"]).astimezone(ws.tz).date() == MONDAY + timedelta(days=r["step_number"] - 1)
