"""`igctl warmup tick`, `warmup pipeline` and `warmup plan` through the real CLI."""

from __future__ import annotations

from warmup_helpers import (
    account,
    add_accounts,
    add_bot,
    add_proxies,
    by_name,
    fleet,
    open_tasks,
    seed_templates,
    snapshot,
)

from igctl.engine.flows import botwork
from igctl.engine.queue import tasks
from igctl.engine.store.workspace import Workspace


def configure(ws_path, **replacements):
    """Edit igctl.yaml: replacements of whole `key: value` lines, e.g. max_starts_per_day="3"."""
    path = ws_path / "igctl.yaml"
    text = path.read_text(encoding="utf-8")
    for key, value in replacements.items():
        lines = text.splitlines()
        hits = [i for i, line in enumerate(lines) if line.strip().startswith(f"{key}:")]
        assert len(hits) == 1, key
        indent = lines[hits[0]][: len(lines[hits[0]]) - len(lines[hits[0]].lstrip())]
        lines[hits[0]] = f"{indent}{key}: {value}"
        text = "\n".join(lines) + "\n"
    path.write_text(text, encoding="utf-8")
    return Workspace.open(ws_path)


def tick_json(igctl, *extra):
    return igctl.json("warmup", "tick", *extra)


def test_tick_starts_warmups_and_a_second_tick_does_nothing(igctl, ws):
    ids = fleet(ws, 4)
    result = tick_json(igctl)
    assert result["warmups_started"] == 4 and result["started"] == [f"acct0000{i}" for i in range(1, 5)]
    for a in ids:
        acc = account(ws, a)
        assert (acc["lifecycle_state"], acc["warmup_step"], acc["warmup_started_at"]) == (
            "warming_up",
            1,
            "2026-03-02T10:00:00.000Z",
        )
        [t] = open_tasks(ws, a)
        assert (t["kind"], t["step_number"], t["step_name"], t["due_at"]) == (
            "warmup",
            1,
            "change_pfp",
            "2026-03-02T10:00:00.000Z",
        )
    moves = ws.db().query("SELECT * FROM events WHERE kind = 'account.state' AND new_state = 'warming_up'")
    assert len(moves) == 4 and {m["actor"] for m in moves} == {"tick"}
    [cmd] = ws.db().query("SELECT * FROM events WHERE kind = 'command'")
    assert cmd["message"] == "warmup tick"

    before = snapshot(ws)
    again = tick_json(igctl)
    assert not any(v for k, v in again.items() if isinstance(v, int) and not isinstance(v, bool))
    assert snapshot(ws) == before  # a tick with nothing to do writes nothing, not even its command event


def test_tick_assigns_proxies_to_imported_accounts_and_starts_them(igctl, ws):
    add_proxies(ws, 1)
    add_accounts(ws, 4, state="imported")
    result = tick_json(igctl)
    assert result["proxies_assigned"] == 3 and result["warmups_started"] == 3
    states = [r[0] for r in ws.db().query("SELECT lifecycle_state FROM accounts ORDER BY id")]
    assert states == ["warming_up", "warming_up", "warming_up", "imported"]


def test_accounts_on_a_proxy_that_is_not_active_are_not_started(igctl, ws):
    [good] = add_proxies(ws, 1)
    [bad] = add_proxies(ws, 1, status="inactive", start=2)
    add_accounts(ws, 1, proxy_ids=[good])
    add_accounts(ws, 1, proxy_ids=[bad], start=2)
    assert tick_json(igctl)["started"] == ["acct00001"]
    assert by_name(ws, "acct00002")["lifecycle_state"] == "proxy_assigned"


def test_max_starts_per_day_counts_calendar_days_in_the_workspace_zone(igctl, ws_path, clock):
    ws = configure(ws_path, timezone="Europe/Berlin", max_starts_per_day="2")
    fleet(ws, 5)
    clock.set("2026-03-02T23:59:00")  # Berlin
    first = tick_json(igctl)
    assert (first["warmups_started"], first["warmups_deferred"]) == (2, 3)
    clock.set("2026-03-02T23:59:59")
    assert tick_json(igctl)["warmups_started"] == 0  # still the same Berlin day
    clock.set("2026-03-03T00:00:00")
    second = tick_json(igctl)
    assert (second["warmups_started"], second["warmups_deferred"]) == (2, 1)
    clock.set("2026-03-04T09:00:00")
    assert tick_json(igctl)["started"] == ["acct00005"]


def test_max_starts_per_day_zero_starts_nothing(igctl, ws_path):
    ws = configure(ws_path, max_starts_per_day="0")
    fleet(ws, 2)
    assert tick_json(igctl)["warmups_deferred"] == 2
    assert ws.db().scalar("SELECT COUNT(*) FROM tasks") == 0


def test_dry_run_reports_what_it_would_do_and_changes_nothing(igctl, ws):
    add_proxies(ws, 1)
    add_accounts(ws, 2, state="imported")
    before = snapshot(ws)
    log_files = sorted(p.name for p in (ws.path / "logs").iterdir())
    result = tick_json(igctl, "--dry-run")
    assert result["dry_run"] is True and result["proxies_assigned"] == 2 and result["warmups_started"] == 2
    assert snapshot(ws) == before
    assert sorted(p.name for p in (ws.path / "logs").iterdir()) == log_files
    text = igctl("warmup", "tick", "--dry-run").stdout
    assert "Dry run: nothing was changed" in text and "warm-ups started" in text
    assert snapshot(ws) == before


def test_tick_expires_leases(igctl, ws, clock):
    seed_templates(ws)
    fleet(ws, 1)
    tick_json(igctl)
    bot = add_bot(ws, "phone")
    t = botwork.claim_next(ws, bot)
    clock.set("2026-03-02T10:19:59")
    assert tick_json(igctl)["leases_expired"] == 0
    clock.set("2026-03-02T10:20:00")
    assert tick_json(igctl)["leases_expired"] == 1
    [e] = ws.db().query("SELECT * FROM events WHERE kind = 'task.lease_expired'")
    assert (e["task_id"], e["actor"]) == (t["task_id"], "tick")
    assert ws.db().scalar("SELECT status FROM tasks WHERE id = ?", [t["task_id"]]) == "queued"


def test_tick_drops_stale_tasks(igctl, ws, clock):
    [a] = fleet(ws, 1, state="active")
    db = ws.db()
    now = ws.instant("2026-03-02T10:00:00Z")
    with db.write():
        tasks.enqueue(
            db,
            ws.events,
            account_id=a,
            kind="post",
            step_name="post",
            key="post-slot",
            due_at=now,
            now=now,
            stale_at=ws.instant("2026-03-02T16:00:00Z"),
            actor="test",
        )
    clock.set("2026-03-02T15:59:59")
    assert tick_json(igctl)["tasks_dropped"] == 0
    clock.set("2026-03-02T16:00:00")
    assert tick_json(igctl)["tasks_dropped"] == 1
    assert db.scalar("SELECT status FROM tasks") == "dropped"
    [e] = db.query("SELECT * FROM events WHERE kind = 'task.dropped'")
    assert e["account_id"] == a and e["cause"] == "stale"
    items = igctl.json("review", "list")
    assert [i["kind"] for i in items] == ["dropped"]


def test_tick_repairs_a_warming_up_account_without_an_open_task(igctl, ws):
    fleet(ws, 2)
    tick_json(igctl)
    db = ws.db()
    with db.write():  # arrange what a crash or a hand edit could leave: no open task at all
        db.execute("DELETE FROM tasks WHERE account_id = 1")
        db.execute("UPDATE tasks SET status = 'cancelled' WHERE account_id = 2")
    result = tick_json(igctl)
    assert result["steps_requeued"] == 2 and result["requeued"] == ["acct00001", "acct00002"]
    for a in (1, 2):
        [t] = open_tasks(ws, a)
        assert (t["status"], t["step_number"], t["due_at"]) == ("queued", 1, "2026-03-02T10:00:00.000Z")
    assert tick_json(igctl)["steps_requeued"] == 0


def test_tick_advances_an_account_whose_completed_step_was_not_followed_up(igctl, ws):
    fleet(ws, 1)
    tick_json(igctl)
    db = ws.db()
    with db.write():  # the step is marked done but the next one was never queued
        db.execute("UPDATE tasks SET status = 'completed', completed_at = '2026-03-02T10:00:00.000Z'")
    assert tick_json(igctl)["steps_requeued"] == 1
    [t] = open_tasks(ws, 1)
    assert (t["step_number"], t["due_at"]) == (2, "2026-03-03T00:00:00.000Z")
    assert account(ws, 1)["warmup_step"] == 2


def test_tick_cancels_open_tasks_of_retired_accounts(igctl, ws):
    fleet(ws, 1)
    tick_json(igctl)
    db = ws.db()
    with db.write():  # older data: retired without its tasks being cancelled
        db.execute("UPDATE accounts SET lifecycle_state = 'retired'")
    assert tick_json(igctl)["retired_released"] == 1
    assert db.scalar("SELECT status FROM tasks") == "cancelled"


def test_tick_human_output(igctl, ws):
    fleet(ws, 1)
    out = igctl("warmup", "tick").stdout
    assert "1  warm-ups started" in out and "started: acct00001" in out


# -- pipeline and plan -------------------------------------------------------------------------
def test_pipeline_shows_each_account_in_warm_up_and_counts_per_step(igctl, ws, clock):
    seed_templates(ws)
    fleet(ws, 4)
    tick_json(igctl)
    bot = add_bot(ws, "phone")
    t1 = botwork.claim_next(ws, bot)
    botwork.complete(ws, t1["task_id"], bot)
    t2 = botwork.claim_next(ws, bot)
    botwork.fail(ws, t2["task_id"], bot, error_message="no button", error_kind="ui_not_found")
    t3 = botwork.claim_next(ws, bot)
    botwork.fail(ws, t3["task_id"], bot, error_message="checkpoint", error_kind="challenge")
    view = igctl.json("warmup", "pipeline")
    rows = {r["username"]: r for r in view["accounts"]}
    assert rows["acct00001"]["step_number"] == 2 and rows["acct00001"]["step_status"] == "waiting"
    assert rows["acct00001"]["due_at"] == "2026-03-03T00:00:00.000Z" and rows["acct00001"]["bot"] == "phone"
    assert rows["acct00002"]["step_status"] == "retry_wait" and rows["acct00002"]["last_error"] == "no button"
    assert rows["acct00002"]["attempts"] == 1
    assert rows["acct00003"]["step_status"] == "human_review" and rows["acct00003"]["last_error"] == "checkpoint"
    assert rows["acct00004"]["step_status"] == "due" and rows["acct00004"]["bot"] is None
    steps = {s["step_number"]: s for s in view["steps"]}
    assert (
        steps[1]["accounts"] == 3
        and steps[1]["due"] == 1
        and steps[1]["retry_wait"] == 1
        and steps[1]["human_review"] == 1
    )
    assert steps[2]["accounts"] == 1 and steps[2]["waiting"] == 1
    assert [s["step_name"] for s in view["steps"]] == [
        "change_pfp",
        "change_bio",
        "post_highlight",
        "post_story",
        "post_post",
    ]
    table = igctl("warmup", "pipeline").stdout
    assert "acct00003" in table and "human_review" in table
    csv_text = igctl("warmup", "pipeline", "--csv").stdout
    assert csv_text.splitlines()[0].startswith("account_id,username,") and len(csv_text.splitlines()) == 5


def test_plan_shows_the_dates_of_the_remaining_steps(igctl, ws_path):
    ws = configure(ws_path, timezone="Europe/Berlin")
    seed_templates(ws)
    fleet(ws, 1)
    before = igctl.json("warmup", "plan", "acct00001")
    assert before["lifecycle_state"] == "proxy_assigned" and [s["status"] for s in before["steps"]] == ["planned"] * 5
    tick_json(igctl)
    bot = add_bot(ws, "phone")
    t = botwork.claim_next(ws, bot)
    botwork.complete(ws, t["task_id"], bot)  # Monday 10:00 Berlin
    view = igctl.json("warmup", "plan", "acct00001")
    assert [(s["step_number"], s["status"]) for s in view["steps"]] == [
        (1, "completed"),
        (2, "waiting"),
        (3, "planned"),
        (4, "planned"),
        (5, "planned"),
    ]
    # Berlin midnight of Tuesday to Friday, in UTC
    assert [s["due_at"] for s in view["steps"][1:]] == [
        "2026-03-02T23:00:00.000Z",
        "2026-03-03T23:00:00.000Z",
        "2026-03-04T23:00:00.000Z",
        "2026-03-05T23:00:00.000Z",
    ]
    text = igctl("warmup", "plan", "acct00001").stdout
    assert "2026-03-06 00:00" in text and "post_post" in text and "Europe/Berlin" in text


def test_plan_of_an_unknown_account_is_an_error(igctl, ws):
    assert igctl.error("warmup", "plan", "nobody") == "Error: no account named nobody"
