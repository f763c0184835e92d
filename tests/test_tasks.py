"""The task queue through its engine functions (what the bot API calls): claim, complete, fail,
heartbeat, leases, device affinity, content, proxy errors. Real SQLite file, real content and
proxies engines; time passed explicitly as `now=` or through IGCTL_NOW."""

from __future__ import annotations

import json

import pytest
from warmup_helpers import account, add_accounts, add_bot, add_proxies, fleet, open_tasks, seed_templates, snapshot

from igctl.engine.domain import content, proxies
from igctl.engine.flows import botwork, warmup
from igctl.engine.flows import tick as engine_tick
from igctl.engine.queue import tasks
from igctl.engine.store.errors import Conflict, Forbidden, InvalidInput, NotFound

T0 = "2026-03-02T10:00:00Z"  # the fixtures' frozen now (a UTC workspace)


def iso(text: str) -> str:
    return text.replace("Z", ".000Z")


@pytest.fixture
def warm(ws):
    """Template content and three accounts on one proxy, their warm-ups started (step 1 due now)."""
    seed_templates(ws)
    ids = fleet(ws, 3)
    engine_tick.tick(ws)
    return ids


@pytest.fixture
def solo(ws):
    """One account, its warm-up started."""
    seed_templates(ws)
    ids = fleet(ws, 1)
    engine_tick.tick(ws)
    return ids


@pytest.fixture
def bot(ws):
    return add_bot(ws, "phone1")


def events(ws, kind):
    return ws.db().query("SELECT * FROM events WHERE kind = ? ORDER BY id", [kind])


# -- claiming ----------------------------------------------------------------------------------
def test_claim_hands_out_the_task_payload_with_decrypted_credentials(ws, warm, bot):
    t = botwork.claim_next(ws, bot)
    assert t["kind"] == "warmup" and t["step_number"] == 1 and t["step_name"] == "change_pfp"
    assert t["account"] == {
        "id": warm[0],
        "username": "acct00001",
        "password": "pw-acct-1",
        "email": "acct1@example.com",
        "email_password": "mailpw-acct-1",
    }
    assert t["proxy"]["password"] == "secret1" and t["proxy"]["username"] == "user1" and t["proxy"]["port"] == 8080
    assert t["slot"] == 1
    assert t["lease_expires_at"] == iso("2026-03-02T10:20:00Z")
    assert [i["type"] for i in t["content"]["images"]] == ["pfp"]
    row = ws.db().one("SELECT * FROM tasks WHERE id = ?", [t["task_id"]])
    assert (row["status"], row["bot_id"], row["attempts"]) == ("claimed", bot, 1)
    assert json.loads(row["content_json"]) == t["content"]
    log = ws.db().query("SELECT * FROM step_log WHERE task_id = ?", [t["task_id"]])
    assert [(s["status"], s["bot_id"]) for s in log] == [("in_progress", bot)]
    # the hand-out is in the event log: which bot, which account, which task; never a password
    handout = events(ws, "bot.credentials")
    assert [(e["bot_id"], e["account_id"], e["task_id"]) for e in handout] == [(bot, warm[0], t["task_id"])]
    everything = " ".join(str(tuple(r)) for r in ws.db().query("SELECT * FROM events"))
    assert "pw-acct-1" not in everything and "secret1" not in everything and "mailpw" not in everything


def test_claim_returns_none_when_nothing_is_due_and_needs_no_tick(ws, bot):
    seed_templates(ws)
    [a] = fleet(ws, 1)
    assert botwork.claim_next(ws, bot) is None  # not started yet: nothing queued
    db = ws.db()
    with db.write():
        warmup.start(ws, db, account(ws, a), ws.instant("2026-03-02T10:00:01Z"), "test")
    assert botwork.claim_next(ws, bot, now="2026-03-02T10:00:00.999Z") is None  # due 1 ms later
    assert botwork.claim_next(ws, bot, now="2026-03-02T10:00:01Z")["account"]["id"] == a  # due exactly now


def test_oldest_due_task_first(ws, bot):
    seed_templates(ws)
    a, b, c = fleet(ws, 3)
    db = ws.db()
    with db.write():
        for acc, due in ((a, "09:30"), (b, "08:00"), (c, "09:00")):
            warmup.start(ws, db, account(ws, acc), ws.instant(f"2026-03-02T{due}:00Z"), "test")
    order = [botwork.claim_next(ws, bot)["account"]["id"] for _ in range(3)]
    assert order == [b, c, a]


def test_one_claimed_task_per_account(ws, warm, bot):
    db = ws.db()
    with db.write():  # a second due task of the first account
        tasks.enqueue(
            db,
            ws.events,
            account_id=warm[0],
            kind="warmup",
            step_name="change_bio",
            step_number=2,
            key="extra",
            due_at=ws.instant(T0),
            now=ws.instant(T0),
            actor="test",
        )
    got = [botwork.claim_next(ws, bot)["account"]["id"] for _ in range(3)]
    assert sorted(got) == sorted(warm)  # the second task of warm[0] waits
    assert botwork.claim_next(ws, bot) is None
    assert db.scalar("SELECT COUNT(*) FROM tasks WHERE account_id = ? AND status = 'claimed'", [warm[0]]) == 1


@pytest.mark.parametrize("status", ["inactive", "error"])
def test_accounts_on_a_proxy_that_is_not_active_get_no_task(ws, warm, bot, status):
    proxy_id = account(ws, warm[0])["proxy_id"]
    proxies.set_status(ws, proxy_id, status, actor="test")
    assert botwork.claim_next(ws, bot) is None
    proxies.set_status(ws, proxy_id, "active", actor="test")
    assert botwork.claim_next(ws, bot) is not None


def test_retired_accounts_and_accounts_in_another_state_get_no_task(ws, warm, bot):
    from igctl.engine.domain import accounts

    accounts.retire(ws, ["acct00001"], reason="banned", actor="test")
    db = ws.db()
    with db.write():  # arrange: an account whose state does not run warm-up tasks
        db.execute("UPDATE accounts SET lifecycle_state = 'ready' WHERE id = ?", [warm[1]])
    t = botwork.claim_next(ws, bot)
    assert t["account"]["id"] == warm[2]
    assert botwork.claim_next(ws, bot) is None


def test_stale_tasks_are_not_handed_out(ws, bot):
    seed_templates(ws)
    [a] = fleet(ws, 1, state="active")
    db = ws.db()
    now = ws.instant(T0)
    with db.write():
        tasks.enqueue(
            db,
            ws.events,
            account_id=a,
            kind="story",
            step_name="story",
            key="slot-1",
            due_at=now,
            now=now,
            stale_at=ws.instant("2026-03-02T10:00:01Z"),
            actor="test",
        )
    assert botwork.claim_next(ws, bot, now="2026-03-02T10:00:01Z") is None  # stale at that instant
    assert botwork.claim_next(ws, bot, now="2026-03-02T10:00:00.999Z")["kind"] == "story"


# -- device affinity ---------------------------------------------------------------------------
def test_first_claim_binds_the_account_to_the_bot_and_its_lowest_free_slot(ws, warm):
    b1, b2 = add_bot(ws, "one"), add_bot(ws, "two")
    t = botwork.claim_next(ws, b1)
    acc = account(ws, t["account"]["id"])
    assert (acc["bot_id"], acc["slot"]) == (b1, 1)
    botwork.complete(ws, t["task_id"], b1)
    # the next step of that account (tomorrow) goes to b1 only
    nxt = "2026-03-03T00:00:00Z"
    for _ in range(2):
        other = botwork.claim_next(ws, b2)
        assert other["account"]["id"] != acc["id"] and other["slot"] in (1, 2)
        botwork.complete(ws, other["task_id"], b2)
    assert botwork.claim_next(ws, b2, now=nxt)["account"]["id"] != acc["id"]
    t = botwork.claim_next(ws, b1, now=nxt)
    assert t["account"]["id"] == acc["id"] and t["slot"] == 1
    assert [e["account_id"] for e in events(ws, "account.bound")] == [acc["id"], warm[1], warm[2]]


def test_a_bot_with_no_free_slot_gets_no_task_of_an_unbound_account(ws, warm):
    small = add_bot(ws, "small", slots=2)
    slots = [botwork.claim_next(ws, small)["slot"] for _ in range(2)]
    assert slots == [1, 2]
    assert botwork.claim_next(ws, small) is None  # warm[2] is unbound and small is full
    big = add_bot(ws, "big")
    assert botwork.claim_next(ws, big)["account"]["id"] == warm[2]


def test_slots_freed_by_retirement_are_reused_lowest_first(ws, warm):
    from igctl.engine.domain import accounts

    b = add_bot(ws, "b", slots=2)
    first = botwork.claim_next(ws, b)
    botwork.claim_next(ws, b)
    accounts.retire(ws, [first["account"]["username"]], reason="gone", actor="test")
    t = botwork.claim_next(ws, b)
    assert t["account"]["id"] == warm[2] and t["slot"] == first["slot"] == 1


def test_revoked_and_unknown_bots_are_refused(ws, warm, bot):
    from igctl.engine.domain import bots

    with pytest.raises(NotFound):
        botwork.claim_next(ws, 999)
    bots.revoke(ws, "phone1", actor="test")
    before = snapshot(ws)
    with pytest.raises(Forbidden):
        botwork.claim_next(ws, bot)
    assert snapshot(ws) == before


# -- content -----------------------------------------------------------------------------------
def test_a_step_whose_content_type_has_no_item_waits_and_the_next_task_goes_out(ws, bot):
    [a, b] = fleet(ws, 2)
    # only a bio text exists: step 1 (change_pfp) has no image at all
    (ws.content_dir / "_templates" / "texts.yaml").write_text("bio: [hello]\n", encoding="utf-8")
    content.sync(ws, "_templates", actor="test")
    db = ws.db()
    now = ws.instant(T0)
    with db.write():
        warmup.start(ws, db, account(ws, a), now, "test")
        tasks.enqueue(
            db,
            ws.events,
            account_id=b,
            kind="warmup",
            step_name="change_bio",
            step_number=2,
            key="bio-b",
            due_at=now,
            now=now,
            actor="test",
        )
        db.execute("UPDATE accounts SET lifecycle_state = 'warming_up' WHERE id = ?", [b])
    t = botwork.claim_next(ws, bot)
    assert (t["account"]["id"], t["step_name"]) == (b, "change_bio")
    assert t["content"]["texts"]["bio"]["text"] == "hello"
    assert botwork.claim_next(ws, bot) is None
    [waiting] = open_tasks(ws, a)
    assert waiting["status"] == "queued" and waiting["content_json"] is None and waiting["bot_id"] is None
    assert account(ws, a)["bot_id"] is None  # not bound by a task it did not get


def test_content_choice_is_kept_across_attempts(ws, warm, bot):
    t1, *others = [botwork.claim_next(ws, bot) for _ in warm]
    botwork.fail(ws, t1["task_id"], bot, error_message="tap missed", error_kind="ui_not_found")
    for o in others:
        botwork.complete(ws, o["task_id"], bot)
    t2 = botwork.claim_next(ws, bot, now="2026-03-02T10:30:00Z")
    assert t2["task_id"] == t1["task_id"] and t2["attempt"] == 2
    assert t2["content"] == t1["content"]
    assert ws.db().scalar("SELECT COUNT(*) FROM content_usage WHERE task_id = ?", [t1["task_id"]]) == 1


# -- leases ------------------------------------------------------------------------------------
def test_lease_expiry_just_before_and_at_the_deadline(ws):
    seed_templates(ws)
    fleet(ws, 1)
    engine_tick.tick(ws)
    b1, b2 = add_bot(ws, "one"), add_bot(ws, "two")
    t = botwork.claim_next(ws, b1)  # lease until 10:20:00
    db = ws.db()
    with db.write():  # arrange: the account is rebound to b2's phone while b1 still holds the task
        db.execute("UPDATE accounts SET bot_id = ? WHERE id = ?", [b2, t["account"]["id"]])
    assert botwork.claim_next(ws, b2, now="2026-03-02T10:19:59.999Z") is None  # still b1's
    assert botwork.expire_leases(ws, now="2026-03-02T10:19:59.999Z") == 0
    again = botwork.claim_next(ws, b2, now="2026-03-02T10:20:00Z")  # expired at the deadline
    assert again["task_id"] == t["task_id"] and again["attempt"] == 2
    [expired] = events(ws, "task.lease_expired")
    assert (expired["task_id"], expired["bot_id"]) == (t["task_id"], b1)
    log = db.query("SELECT status, error_kind, bot_id FROM step_log WHERE task_id = ? ORDER BY id", [t["task_id"]])
    assert [tuple(r) for r in log] == [("failed", "lease_expired", b1), ("in_progress", None, b2)]
    # the old holder's report now conflicts
    with pytest.raises(Conflict):
        botwork.complete(ws, t["task_id"], b1, now="2026-03-02T10:21:00Z")


def test_an_expired_lease_goes_back_due_at_once_without_backoff(ws, warm, bot):
    t = botwork.claim_next(ws, bot)
    assert botwork.expire_leases(ws, now="2026-03-02T10:20:00Z") == 1
    row = ws.db().one("SELECT * FROM tasks WHERE id = ?", [t["task_id"]])
    assert (row["status"], row["bot_id"], row["due_at"], row["attempts"]) == ("queued", None, iso(T0), 1)
    assert account(ws, t["account"]["id"])["last_error_message"].startswith("lease expired")


def test_the_last_allowed_attempt_expiring_sends_the_account_to_review(ws, warm, bot):
    when = ["2026-03-02T10:00:00Z", "2026-03-02T10:20:00Z", "2026-03-02T10:40:00Z"]
    for now in when:
        t = botwork.claim_next(ws, bot, now=now)
        assert t["account"]["id"] == warm[0]
        # the other accounts' tasks: take them out of the way by completing them
        for _ in range(2):
            other = botwork.claim_next(ws, bot, now=now)
            if other:
                botwork.complete(ws, other["task_id"], bot, now=now)
    assert botwork.expire_leases(ws, now="2026-03-02T11:00:00Z") == 1
    acc = account(ws, warm[0])
    assert acc["lifecycle_state"] == "human_review" and acc["requires_human_review"] == 1 and acc["retry_count"] == 3
    assert ws.db().scalar("SELECT status FROM tasks WHERE id = ?", [t["task_id"]]) == "review"


def test_heartbeat_extends_the_holders_leases_but_not_an_expired_one(ws, warm, bot):
    t = botwork.claim_next(ws, bot)
    answer = botwork.heartbeat(ws, bot, status="working", app_version="1.2", now="2026-03-02T10:15:00Z")
    assert answer["server_time"] == iso("2026-03-02T10:15:00Z") and answer["leases_extended"] == 1
    assert ws.db().scalar("SELECT lease_expires_at FROM tasks WHERE id = ?", [t["task_id"]]) == iso(
        "2026-03-02T10:35:00Z"
    )
    b = ws.db().one("SELECT * FROM bots WHERE id = ?", [bot])
    assert (b["last_seen_at"], b["status"], b["app_version"]) == (iso("2026-03-02T10:15:00Z"), "working", "1.2")
    assert botwork.heartbeat(ws, bot, now="2026-03-02T10:35:00Z")["leases_extended"] == 0  # ran out at 10:35
    assert ws.db().scalar("SELECT status FROM tasks WHERE id = ?", [t["task_id"]]) == "queued"


# -- completion --------------------------------------------------------------------------------
def test_completion_queues_the_next_step_for_the_next_calendar_day(ws, warm, bot):
    t = botwork.claim_next(ws, bot)
    answer = botwork.complete(
        ws, t["task_id"], bot, execution_time_ms=5400, instagram_response={"ok": True}, now="2026-03-02T10:05:00Z"
    )
    assert answer["status"] == "completed" and answer["account_state"] == "warming_up"
    assert answer["next_task"]["step_number"] == 2 and answer["next_task"]["due_at"] == iso("2026-03-03T00:00:00Z")
    acc = account(ws, warm[0])
    assert acc["warmup_step"] == 2 and acc["last_bot_action_by"] == "phone1"
    log = ws.db().one("SELECT * FROM step_log WHERE task_id = ?", [t["task_id"]])
    assert (log["status"], log["execution_time_ms"], json.loads(log["instagram_response_json"])) == (
        "completed",
        5400,
        {"ok": True},
    )


def test_a_repeated_completion_gets_the_same_answer_and_changes_nothing(ws, warm, bot):
    t = botwork.claim_next(ws, bot)
    first = botwork.complete(ws, t["task_id"], bot, now="2026-03-02T10:05:00Z")
    before = snapshot(ws)
    assert botwork.complete(ws, t["task_id"], bot, now="2026-03-02T12:00:00Z") == first
    assert snapshot(ws) == before


def test_completion_by_another_bot_or_after_the_lease_is_a_conflict(ws, warm, bot):
    other = add_bot(ws, "other")
    t = botwork.claim_next(ws, bot)
    before = snapshot(ws)
    with pytest.raises(Conflict):
        botwork.complete(ws, t["task_id"], other)
    with pytest.raises(Conflict):
        botwork.fail(ws, t["task_id"], other, error_message="x")
    assert snapshot(ws) == before
    ok = botwork.complete(ws, t["task_id"], bot, now="2026-03-02T10:19:59.999Z")  # just inside the lease
    assert ok["status"] == "completed"
    t2 = botwork.claim_next(ws, bot)
    with pytest.raises(Conflict):
        botwork.complete(ws, t2["task_id"], bot, now="2026-03-02T10:20:00Z")  # at its deadline: expired
    with pytest.raises(NotFound):
        botwork.complete(ws, 9999, bot)


def test_the_last_step_makes_the_account_ready(ws, bot):
    ws.config.warmup.steps = ["change_pfp", "change_bio"]
    seed_templates(ws)
    [a] = fleet(ws, 1)
    engine_tick.tick(ws)
    t = botwork.claim_next(ws, bot)
    botwork.complete(ws, t["task_id"], bot)
    t = botwork.claim_next(ws, bot, now="2026-03-03T08:00:00Z")
    answer = botwork.complete(ws, t["task_id"], bot, now="2026-03-03T08:01:00Z")
    assert answer["account_state"] == "ready" and answer["next_task"] is None
    acc = account(ws, a)
    assert acc["lifecycle_state"] == "ready" and acc["warmup_completed_at"] == iso("2026-03-03T08:01:00Z")
    assert open_tasks(ws, a) == []


def test_complete_and_fail_are_generic_over_the_kind(ws, bot):
    seed_templates(ws)
    [a] = fleet(ws, 1, state="cleanup")
    db = ws.db()
    now = ws.instant(T0)
    with db.write():
        for step in ("reset_pfp", "delete_posts"):
            tasks.enqueue(
                db,
                ws.events,
                account_id=a,
                kind="cleanup",
                step_name=step,
                key=f"cleanup:{a}:{step}",
                due_at=now,
                now=now,
                actor="test",
            )
    t = botwork.claim_next(ws, bot)
    assert (t["kind"], t["step_name"]) == ("cleanup", "reset_pfp")
    assert botwork.complete(ws, t["task_id"], bot)["next_task"] is None
    t = botwork.claim_next(ws, bot)
    assert t["step_name"] == "delete_posts" and t["content"] == {"images": [], "texts": {}}
    assert botwork.fail(ws, t["task_id"], bot, error_message="x", error_kind="challenge")["status"] == "human_review"
    assert account(ws, a)["lifecycle_state"] == "human_review"


def test_a_task_of_an_account_retired_while_claimed_cannot_be_completed(ws, warm, bot):
    from igctl.engine.domain import accounts

    t = botwork.claim_next(ws, bot)
    accounts.retire(ws, [t["account"]["username"]], reason="banned", actor="test")
    with pytest.raises(Conflict):
        botwork.complete(ws, t["task_id"], bot)


# -- failure -----------------------------------------------------------------------------------
def test_failures_back_off_30_then_60_then_review_with_the_error_kept(ws, solo, bot):
    warm = solo
    t = botwork.claim_next(ws, bot)
    r1 = botwork.fail(
        ws,
        t["task_id"],
        bot,
        error_message="button not found",
        error_kind="ui_not_found",
        error_details={"screen": "profile"},
        now="2026-03-02T10:01:00Z",
    )
    assert (r1["status"], r1["retry_at"]) == ("retry_scheduled", iso("2026-03-02T10:31:00Z"))
    assert botwork.claim_next(ws, bot, now="2026-03-02T10:30:59Z") is None  # not yet
    t2 = botwork.claim_next(ws, bot, now="2026-03-02T10:31:00Z")
    assert t2["task_id"] == t["task_id"]
    r2 = botwork.fail(
        ws, t["task_id"], bot, error_message="again", error_kind="action_blocked", now="2026-03-02T10:32:00Z"
    )
    assert r2["retry_at"] == iso("2026-03-02T11:32:00Z")
    botwork.claim_next(ws, bot, now="2026-03-02T11:32:00Z")
    r3 = botwork.fail(ws, t["task_id"], bot, error_message="third time", now="2026-03-02T11:33:00Z")
    assert r3["status"] == "human_review" and r3["account_state"] == "human_review"
    acc = account(ws, warm[0])
    assert acc["requires_human_review"] == 1 and acc["retry_count"] == 3
    assert acc["last_error_message"] == "third time" and acc["last_error_at"] == iso("2026-03-02T11:33:00Z")
    log = ws.db().query(
        "SELECT status, error_kind, retry_count FROM step_log WHERE task_id = ? ORDER BY id", [t["task_id"]]
    )
    assert [tuple(r) for r in log] == [
        ("failed", "ui_not_found", 0),
        ("failed", "action_blocked", 1),
        ("requires_review", "other", 2),
    ]
    [moved] = [e for e in events(ws, "account.state") if e["new_state"] == "human_review"]
    assert moved["old_state"] == "warming_up" and moved["actor"] == "bot:phone1" and "other" in moved["cause"]


@pytest.mark.parametrize(
    "report",
    [
        {"error_kind": "challenge"},
        {"error_kind": "captcha"},
        {"error_kind": "login_failed"},
        {"error_kind": "other", "requires_review": True},
        {"error_kind": "ui_not_found", "retryable": False},
    ],
)
def test_failures_that_go_to_review_at_once(ws, warm, bot, report):
    t = botwork.claim_next(ws, bot)
    answer = botwork.fail(ws, t["task_id"], bot, error_message="stuck", **report)
    assert answer["status"] == "human_review" and answer["attempts"] == 1
    assert account(ws, warm[0])["lifecycle_state"] == "human_review"


def test_rate_limited_honours_retry_after_seconds(ws, solo, bot):
    t = botwork.claim_next(ws, bot)
    answer = botwork.fail(
        ws,
        t["task_id"],
        bot,
        error_message="slow down",
        error_kind="rate_limited",
        retry_after_seconds=7200,
        now="2026-03-02T10:00:00Z",
    )
    assert answer["retry_at"] == iso("2026-03-02T12:00:00Z")
    assert botwork.claim_next(ws, bot, now="2026-03-02T11:59:59Z") is None
    t = botwork.claim_next(ws, bot, now="2026-03-02T12:00:00Z")
    answer = botwork.fail(
        ws, t["task_id"], bot, error_message="slow down", error_kind="rate_limited", now="2026-03-02T12:00:00Z"
    )
    assert answer["retry_at"] == iso("2026-03-02T13:00:00Z")  # no retry_after: the backoff (2nd attempt: 60 min)


def test_a_repeated_failure_report_gets_the_same_answer(ws, warm, bot):
    t = botwork.claim_next(ws, bot)
    first = botwork.fail(ws, t["task_id"], bot, error_message="x", error_kind="other")
    before = snapshot(ws)
    assert botwork.fail(ws, t["task_id"], bot, error_message="x", error_kind="other") == first
    assert snapshot(ws) == before


@pytest.mark.parametrize(
    "bad",
    [
        {"error_message": ""},
        {"error_message": "   "},
        {"error_message": "x", "error_kind": "exploded"},
        {"error_message": "x", "retry_after_seconds": -1},
        {"error_message": "x", "retry_after_seconds": "soon"},
    ],
)
def test_bad_failure_reports_are_refused_and_change_nothing(ws, warm, bot, bad):
    t = botwork.claim_next(ws, bot)
    before = snapshot(ws)
    with pytest.raises(InvalidInput):
        botwork.fail(ws, t["task_id"], bot, **bad)
    assert snapshot(ws) == before


def test_bad_completion_report_is_refused(ws, warm, bot):
    t = botwork.claim_next(ws, bot)
    before = snapshot(ws)
    with pytest.raises(InvalidInput):
        botwork.complete(ws, t["task_id"], bot, execution_time_ms=-5)
    assert snapshot(ws) == before


def test_proxy_errors_from_two_accounts_mark_the_proxy_error(ws, warm, bot):
    proxy_id = account(ws, warm[0])["proxy_id"]
    t = botwork.claim_next(ws, bot)
    botwork.fail(ws, t["task_id"], bot, error_message="tunnel failed", error_kind="proxy_error")
    assert ws.db().scalar("SELECT status FROM proxies WHERE id = ?", [proxy_id]) == "active"
    # the same account again does not count twice
    botwork.claim_next(ws, bot, now="2026-03-02T10:30:00Z")  # another account's task first
    again = botwork.claim_next(ws, bot, now="2026-03-02T10:30:00Z")
    assert again["account"]["id"] != t["account"]["id"]
    botwork.fail(
        ws, again["task_id"], bot, error_message="tunnel failed", error_kind="proxy_error", now="2026-03-02T10:31:00Z"
    )
    row = ws.db().one("SELECT status FROM proxies WHERE id = ?", [proxy_id])
    assert row["status"] == "error"
    [change] = events(ws, "proxy.status")[-1:]
    assert (change["old_state"], change["new_state"], change["actor"]) == ("active", "error", "bot:phone1")
    assert botwork.claim_next(ws, bot, now="2026-03-02T12:00:00Z") is None  # its accounts get no tasks


def test_proxy_errors_from_one_account_do_not_mark_the_proxy(ws, bot):
    seed_templates(ws)
    [p] = add_proxies(ws, 1)
    [a] = add_accounts(ws, 1, proxy_ids=[p])
    engine_tick.tick(ws)
    for minute in ("00", "30"):
        t = botwork.claim_next(ws, bot, now=f"2026-03-02T10:{minute}:00Z")
        botwork.fail(
            ws, t["task_id"], bot, error_message="tunnel", error_kind="proxy_error", now=f"2026-03-02T10:{minute}:00Z"
        )
    assert ws.db().scalar("SELECT status FROM proxies WHERE id = ?", [p]) == "active"
