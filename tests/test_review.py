"""`igctl review list|retry|resolve`: every Needs Attention item, and the way out of review."""

from __future__ import annotations

import pytest
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

from igctl.engine.domain import proxies
from igctl.engine.flows import botwork


@pytest.fixture
def stuck(igctl, ws):
    """Three accounts in warm-up: acct00001 and acct00002 in human review on step 1, acct00003 fine."""
    seed_templates(ws)
    fleet(ws, 3)
    igctl("warmup", "tick")
    bot = add_bot(ws, "phone")
    for _ in range(2):
        t = botwork.claim_next(ws, bot)
        botwork.fail(
            ws, t["task_id"], bot, error_message=f"challenge on {t['account']['username']}", error_kind="challenge"
        )
    return bot


def kinds(items):
    return sorted({i["kind"] for i in items})


def test_review_list_shows_human_review_with_the_last_error_and_the_wait(igctl, ws, stuck, clock):
    clock.set("2026-03-02T12:30:00")
    items = igctl.json("review", "list")
    review = [i for i in items if i["kind"] == "human_review"]
    assert [i["username"] for i in review] == ["acct00001", "acct00002"]
    first = review[0]
    assert first["message"] == "challenge on acct00001" and first["error_kind"] == "challenge"
    assert first["step_name"] == "change_pfp" and first["since"] == "2026-03-02T10:00:00.000Z"
    assert first["waited_seconds"] == 2 * 3600 + 30 * 60 and isinstance(first["account_id"], int)
    table = igctl("review", "list").stdout
    assert "challenge on acct00001" in table and "2h30m" in table


def test_review_list_has_every_kind_of_item(igctl, ws, stuck, clock):
    [bad] = add_proxies(ws, 1, start=50)
    add_accounts(ws, 1, proxy_ids=[bad], prefix="onbad")
    proxies.set_status(ws, bad, "error", actor="test")  # bad proxy
    add_bot(ws, "silent")  # never seen
    t = botwork.claim_next(ws, stuck)  # acct00003, then a failure waiting for its retry
    botwork.fail(ws, t["task_id"], stuck, error_message="blocked", error_kind="action_blocked")
    db = ws.db()
    with db.write():  # a step whose content type has no item at all
        db.execute("UPDATE content SET active = 0 WHERE content_type IN ('pfp', 'any')")
    fleet(ws, 1, prefix="fresh")
    igctl("warmup", "tick")  # its step 1 (change_pfp) waits for an image
    add_accounts(ws, 1, state="imported", prefix="noproxy")  # no proxy
    clock.set("2026-03-02T10:11:00")
    items = igctl.json("review", "list")
    assert kinds(items) == [
        "bad_proxy",
        "bot_offline",
        "content_missing",
        "human_review",
        "no_proxy",
        "proxy_error",
        "retrying",
    ]
    by = {i["kind"]: i for i in items}
    assert by["proxy_error"]["proxy_id"] == bad and by["proxy_error"]["account_count"] == 1
    assert by["no_proxy"]["username"] == "noproxy00001"
    assert by["bad_proxy"]["username"] == "onbad00001" and by["bad_proxy"]["proxy_id"] == bad
    assert {i["bot"] for i in items if i["kind"] == "bot_offline"} == {"phone", "silent"}  # both silent since 10:00
    assert by["retrying"]["username"] == "acct00003" and by["retrying"]["retry_at"] == "2026-03-02T10:30:00.000Z"
    assert by["content_missing"]["content_type"] == "pfp" and by["content_missing"]["model"] == "_templates"
    csv_text = igctl("review", "list", "--csv").stdout
    assert csv_text.splitlines()[0].startswith("kind,username,account_id,")
    assert len(csv_text.splitlines()) == len(items) + 1


def test_a_bot_is_listed_once_silent_past_offline_after_minutes(igctl, ws, clock):
    add_bot(ws, "b")  # created at 10:00
    clock.set("2026-03-02T10:09:59")
    assert igctl.json("review", "list") == []
    clock.set("2026-03-02T10:10:01")
    assert [i["bot"] for i in igctl.json("review", "list")] == ["b"]


def test_nothing_needs_attention(igctl, ws):
    assert igctl.json("review", "list") == []
    assert "Nothing needs attention." in igctl("review", "list").stdout


def test_review_retry_puts_the_step_back_due_now_with_fresh_attempts(igctl, ws, stuck, clock):
    clock.set("2026-03-02T15:00:00")
    done = igctl.json("review", "retry", "acct00001")
    assert [(d["username"], d["step_name"], d["due_at"]) for d in done] == [
        ("acct00001", "change_pfp", "2026-03-02T15:00:00.000Z")
    ]
    acc = by_name(ws, "acct00001")
    assert (acc["lifecycle_state"], acc["requires_human_review"], acc["retry_count"]) == ("warming_up", 0, 0)
    [t] = open_tasks(ws, acc["id"])
    assert (t["status"], t["attempts"], t["due_at"], t["bot_id"]) == ("queued", 0, "2026-03-02T15:00:00.000Z", None)
    assert by_name(ws, "acct00002")["lifecycle_state"] == "human_review"
    other = botwork.claim_next(ws, stuck)  # acct00003's task, due since 10:00, comes first
    assert other["account"]["username"] == "acct00003"
    botwork.complete(ws, other["task_id"], stuck)
    again = botwork.claim_next(ws, stuck)
    assert again["task_id"] == t["id"] and again["attempt"] == 1
    moved = ws.db().query(
        "SELECT * FROM events WHERE kind = 'account.state' AND account_id = ? ORDER BY id", [acc["id"]]
    )
    assert (moved[-1]["old_state"], moved[-1]["new_state"], moved[-1]["cause"]) == (
        "human_review",
        "warming_up",
        "review retry",
    )
    assert moved[-1]["actor"].startswith("user")


def test_review_retry_all(igctl, ws, stuck):
    done = igctl.json("review", "retry", "--all")
    assert [d["username"] for d in done] == ["acct00001", "acct00002"]
    assert ws.db().scalar("SELECT COUNT(*) FROM accounts WHERE lifecycle_state = 'human_review'") == 0
    assert igctl.json("review", "retry", "--all") == []


def test_review_resolve_records_the_step_as_done_by_hand_and_moves_on(igctl, ws, stuck):
    done = igctl.json("review", "resolve", "acct00002", "--note", "changed the picture by hand")
    [d] = done
    assert d["account_state"] == "warming_up" and d["next_task"]["step_name"] == "change_bio"
    assert d["next_task"]["due_at"] == "2026-03-03T00:00:00.000Z"
    acc = by_name(ws, "acct00002")
    assert (acc["lifecycle_state"], acc["warmup_step"], acc["requires_human_review"]) == ("warming_up", 2, 0)
    log = ws.db().query(
        "SELECT status, bot_id, bot_session_id FROM step_log WHERE account_id = ? ORDER BY id", [acc["id"]]
    )
    assert [r["status"] for r in log] == ["requires_review", "completed"]
    assert log[-1]["bot_id"] is None and log[-1]["bot_session_id"].startswith("human:")
    [e] = ws.db().query("SELECT * FROM events WHERE kind = 'account.review_resolved'")
    assert "changed the picture by hand" in e["message"]
    out = igctl("review", "resolve", "acct00001", "--note", "done").stdout
    assert "acct00001: warmup change_pfp recorded as done → warming_up" in out


def test_resolving_the_last_step_makes_the_account_ready(igctl, ws_path, ws):
    text = (
        (ws_path / "igctl.yaml")
        .read_text()
        .replace("steps: [change_pfp, change_bio, post_highlight, post_story, post_post]", "steps: [change_pfp]")
    )
    (ws_path / "igctl.yaml").write_text(text)
    seed_templates(ws)
    fleet(ws, 1)
    igctl("warmup", "tick")
    bot = add_bot(ws, "phone")
    t = botwork.claim_next(ws, bot)
    botwork.fail(ws, t["task_id"], bot, error_message="captcha", error_kind="captcha")
    [d] = igctl.json("review", "resolve", "--all", "--note", "solved the captcha")
    assert d["account_state"] == "ready" and d["next_task"] is None
    assert account(ws, 1)["warmup_completed_at"] == "2026-03-02T10:00:00.000Z"


@pytest.mark.parametrize(
    "args, message",
    [
        (["retry", "nobody"], "Error: no account named nobody"),
        (["retry", "acct00001", "nobody"], "Error: no account named nobody"),
        (["retry", "acct00001", "acct00003"], "Error: not in human review: acct00003 (warming_up)"),
        (["resolve", "acct00003", "--note", "x"], "Error: not in human review: acct00003 (warming_up)"),
        (
            ["resolve", "acct00001", "--note", "   "],
            "Error: a note saying what was done is required to resolve a review (--note TEXT)",
        ),
    ],
)
def test_refused_review_commands_change_nothing(igctl, ws, stuck, args, message):
    before = snapshot(ws)
    assert igctl.error("review", *args) == message
    assert snapshot(ws) == before


@pytest.mark.parametrize(
    "args",
    [["retry"], ["retry", "acct00001", "--all"], ["resolve", "--all"], ["resolve", "acct00001"]],
)
def test_bad_usage_exits_2(igctl, ws, stuck, args):
    before = snapshot(ws)
    result = igctl("review", *args, expect=2)
    assert "Usage:" in result.stderr and "Traceback" not in result.output
    assert snapshot(ws) == before


def test_review_resolve_and_retry_a_warmup_step_cancelled_or_dropped_by_hand(igctl, ws):
    # an account sent to review by hand, its warm-up step's task cancelled (or dropped): retry
    # and resolve take that task back, as they always did (TRANSITIONS: cancelled/dropped →
    # queued/completed)
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
