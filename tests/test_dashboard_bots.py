"""Bots in the dashboard and the CLI: add (the token shown once), revoke behind a confirmation,
change slots (`bot set-slots`), one bot's page (`bot show`): each action with its refusals."""

from __future__ import annotations

import json
import re

import pytest
from dashboard_helpers import browser, dash, scene  # noqa: F401
from warmup_helpers import add_bot, fleet, seed_templates, snapshot

from igctl.engine.domain import bots
from igctl.engine.flows import botwork
from igctl.engine.views import bots as bot_views


def everything(ws) -> dict:
    """Every row of every table, and every byte under logs/: what a page view must leave alone."""
    db = ws.db()
    tables = [r[0] for r in db.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    state: dict = {t: [tuple(r) for r in db.query(f'SELECT * FROM "{t}" ORDER BY rowid')] for t in tables}
    state["logs/"] = sorted(
        (str(p.relative_to(ws.path)), p.read_bytes()) for p in (ws.path / "logs").rglob("*") if p.is_file()
    )
    return state


def commands(ws) -> list[tuple[str, str, dict]]:
    return [
        (r["actor"], r["message"], json.loads(r["details_json"]))
        for r in ws.db().query("SELECT * FROM events WHERE kind = 'command' ORDER BY id")
    ]


@pytest.fixture
def working(ws, igctl):
    """A bot with 3 slots that worked: three accounts bound (one task completed, one failed, one
    held), a heartbeat with its app version and system info."""
    seed_templates(ws)
    fleet(ws, 3, prefix="acct")
    igctl("warmup", "tick")
    bot = add_bot(ws, "phone1", slots=3)
    first = botwork.claim_next(ws, bot)
    botwork.complete(ws, first["task_id"], bot, execution_time_ms=900)
    second = botwork.claim_next(ws, bot)
    botwork.fail(ws, second["task_id"], bot, error_message="no button", error_kind="ui_not_found")
    held = botwork.claim_next(ws, bot)
    botwork.heartbeat(
        ws,
        bot,
        status="working",
        current_task_id=held["task_id"],
        app_version="1.4.2",
        system_info={"battery_percent": 81, "phone_connected": True, "model": "iPhone 12"},
    )
    return {"bot": bot, "held": held, "first": first, "second": second}


# -- add -------------------------------------------------------------------------------------
def test_add_a_bot_shows_its_token_once(browser, ws):
    page = browser.get("/bots")
    assert "Add a bot" in page.text
    added = browser.post("/bots", {"csrf_token": page.csrf, "name": "pc-07", "slots": "4"})
    assert added.code == 200, added.text  # the answer itself, not a redirect
    assert added.header("Location") is None and "no-store" in added.header("Cache-Control")
    token = re.search(r'<code id="bot-token" class="secret">([^<]+)</code>', added.text).group(1)
    assert "cannot be shown again" in added.text
    row = bots.authenticate(ws, token)
    assert row["name"] == "pc-07" and row["slots"] == 4
    # the token is nowhere but on that page: not in an event, the log files or the bot's page
    assert token not in json.dumps([dict(r) for r in ws.db().query("SELECT * FROM events")])
    assert all(token not in p.read_text(encoding="utf-8") for p in (ws.path / "logs").rglob("*") if p.is_file())
    assert token not in browser.get(f"/bots/{row['id']}").text and token not in browser.get("/bots").text
    actor, name, details = commands(ws)[-1]
    assert (actor, name, details["via"], details["bot"], details["slots"]) == (
        "operator:alice",
        "bot add",
        "dashboard",
        "pc-07",
        4,
    )
    # no slots: no limit
    page = browser.post("/bots", {"csrf_token": page.csrf, "name": "pc-08", "slots": ""})
    assert page.code == 200 and bots.get(ws.db(), "pc-08")["slots"] is None


def test_add_refusals_change_nothing(browser, ws):
    add_bot(ws, "phone1")
    csrf = browser.csrf()
    before = snapshot(ws)
    for data, message in (
        ({"name": "phone1"}, "a bot named phone1 already exists"),
        ({"name": "PHONE1"}, "a bot named phone1 already exists"),
        ({"name": "bad name!"}, "must be 1-64 letters"),
        ({"name": ""}, "must be 1-64 letters"),
        ({"name": "pc-9", "slots": "0"}, "at least 1"),
        ({"name": "pc-9", "slots": "-2"}, "at least 1"),
        ({"name": "pc-9", "slots": "four"}, "slots must be a whole number"),
    ):
        page = browser.post("/bots", {"csrf_token": csrf, **data})
        assert page.code in (400, 409) and "Not done" in page.text and message in page.text, (data, page.text)
        assert "cannot be shown again" not in page.text
    page = browser.post("/bots", {"name": "pc-9"})
    assert page.code == 403 and "no valid CSRF token" in page.text
    assert snapshot(ws) == before


# -- one bot's page and `bot show` -------------------------------------------------------------
def test_the_bots_page_shows_heartbeat_accounts_held_and_recent_tasks(browser, ws, working, igctl):
    bot, held = working["bot"], working["held"]
    page = browser.get(f"/bots/{bot}")
    assert page.code == 200
    for text in ("1.4.2", "battery_percent", "81", "iPhone 12", "working", "Open the bot console"):
        assert text in page.text, text
    bound = re.search(r'<table id="bound-accounts">.*?</table>', page.text, re.S).group(0)
    assert bound.count("<tr>") == 4  # the header and three accounts
    held_table = re.search(r'<table id="held-tasks">.*?</table>', page.text, re.S).group(0)
    assert f"console/tasks/{held['task_id']}" in held_table and held["account"]["username"] in held_table
    recent = re.search(r'<table id="recent-tasks">.*?</table>', page.text, re.S).group(0)
    for outcome in ("completed", "failed", "in_progress", "ui_not_found: no button"):
        assert outcome in recent, outcome
    assert page.figure("slots") == "3" and page.figure("bound_accounts") == "3"

    # the CLI says the same
    shown = igctl.json("bot", "show", "phone1")
    assert shown == bot_views.show(ws, bot_id=bot)
    assert shown["app_version"] == "1.4.2" and shown["system_info"]["battery_percent"] == 81
    assert [a["slot"] for a in shown["accounts"]] == [1, 2, 3]
    assert [t["task_id"] for t in shown["held"]] == [held["task_id"]]
    assert (
        shown["held"][0]["lease_expires_at"] == held["lease_expires_at"] or shown["held"][0]["lease_expired"] is False
    )
    assert [r["outcome"] for r in shown["recent"]] == ["in_progress", "failed", "completed"]
    assert shown["recent"][1]["error_kind"] == "ui_not_found" and shown["recent"][1]["task_status"] == "queued"
    assert shown["recent"][2]["execution_time_ms"] == 900 and shown["recent"][2]["task_status"] == "completed"
    assert shown["current_task_id"] == held["task_id"]
    text = igctl("bot", "show", "phone1").stdout
    for line in ("1.4.2", "Accounts bound:", "Tasks held now:", "Last 50 tasks:", "ui_not_found"):
        assert line in text, line
    assert len(igctl.json("bot", "show", "phone1", "--limit", "1")["recent"]) == 1
    assert "Error: no bot named nobody" in igctl.error("bot", "show", "nobody")
    assert "at least 1" in igctl.error("bot", "show", "phone1", "--limit", "0")
    assert browser.get("/bots/999").code == 404


def test_the_last_fifty_tasks(ws, working):
    bot = working["bot"]
    account = working["held"]["account"]["id"]
    with ws.db().write():  # arranging: 60 earlier attempts in the step log
        for i in range(60):
            ws.db().execute(
                """INSERT INTO step_log (task_id, account_id, kind, step_number, step_name, started_at, completed_at,
                                         status, bot_id, error_kind, error_message)
                   VALUES (NULL, ?, 'warmup', 1, 'change_pfp', ?, ?, 'failed', ?, 'other', ?)""",
                [account, f"2026-02-01T10:{i:02d}:00.000Z", f"2026-02-01T10:{i:02d}:30.000Z", bot, f"try {i}"],
            )
    recent = bot_views.show(ws, bot_id=bot)["recent"]
    assert len(recent) == 50 and recent[0]["error_message"] == "try 59" and recent[-1]["error_message"] == "try 10"
    assert len(bot_views.show(ws, bot_id=bot, limit=100)["recent"]) == 63


# -- slots -------------------------------------------------------------------------------------
def test_set_slots(browser, ws, working, igctl):
    bot = working["bot"]
    csrf = browser.get(f"/bots/{bot}").csrf
    page = browser.post(f"/bots/{bot}/slots", {"csrf_token": csrf, "slots": "5"})
    assert page.code == 303 and "now has 5 slots" in browser.get(page.location).text
    assert bots.by_id(ws.db(), bot)["slots"] == 5
    changed = ws.db().one("SELECT * FROM events WHERE kind = 'bot.slots_changed'")
    assert changed["actor"] == "operator:alice" and json.loads(changed["details_json"])["old_slots"] == 3
    assert commands(ws)[-1][1] == "bot set-slots"
    page = browser.post(f"/bots/{bot}/slots", {"csrf_token": csrf, "slots": "none"})
    assert bots.by_id(ws.db(), bot)["slots"] is None and "no slot limit" in browser.get(page.location).text
    page = browser.post(f"/bots/{bot}/slots", {"csrf_token": csrf, "slots": "3"})  # exactly the slots in use
    assert page.code == 303 and bots.by_id(ws.db(), bot)["slots"] == 3
    # the same limit again: nothing to record
    before = snapshot(ws)
    page = browser.post(f"/bots/{bot}/slots", {"csrf_token": csrf, "slots": "3"})
    assert page.code == 303 and "nothing changed" in browser.get(page.location).text
    assert snapshot(ws) == before
    # the CLI
    assert "now has 4 slots" in igctl("bot", "set-slots", "phone1", "4").stdout
    assert igctl.json("bot", "set-slots", "phone1", "none")["slots"] is None
    assert "already has no slot limit" in igctl("bot", "set-slots", "phone1", "none").stdout


def test_set_slots_refusals_change_nothing(browser, ws, working, igctl):
    bot = working["bot"]
    csrf = browser.get(f"/bots/{bot}").csrf
    before = snapshot(ws)
    for value, message in (
        ("2", "cannot go down to 2 slot(s): it has 3 account(s) bound, 1 of them in slot(s) above 2 (3)"),
        ("0", "at least 1"),
        ("x", "slots must be a whole number"),
    ):
        page = browser.post(f"/bots/{bot}/slots", {"csrf_token": csrf, "slots": value})
        assert page.code in (400, 409) and "Not done" in page.text and message in page.text, (value, page.text)
    assert "3 account(s) bound, 2 of them in slot(s) above 1 (2, 3)" in igctl.error("bot", "set-slots", "phone1", "1")
    assert "at least 1" in igctl.error("bot", "set-slots", "phone1", "0")
    assert "no bot named nobody" in igctl.error("bot", "set-slots", "nobody", "3")
    assert igctl("bot", "set-slots", "phone1", "many", expect=2).exit_code == 2
    assert snapshot(ws) == before
    # a slot number above the limit counts, not only how many are bound
    account = ws.db().one("SELECT id FROM accounts WHERE bot_id = ? AND slot = 1", [bot])
    with ws.db().write():  # arranging: the account in slot 1 retired and unbound by hand
        ws.db().execute("UPDATE accounts SET bot_id = NULL, slot = NULL WHERE id = ?", [account["id"]])
    assert "2 account(s) bound, 1 of them in slot(s) above 2 (3)" in igctl.error("bot", "set-slots", "phone1", "2")
    bots.revoke(ws, "phone1", actor="test")
    before = snapshot(ws)
    assert "phone1 is revoked" in igctl.error("bot", "set-slots", "phone1", "5")
    page = browser.post(f"/bots/{bot}/slots", {"csrf_token": csrf, "slots": "5"})
    assert page.code == 409 and "phone1 is revoked" in page.text
    assert snapshot(ws) == before


# -- revoke ------------------------------------------------------------------------------------
def test_revoke_behind_a_confirmation(browser, ws, working):
    bot, held = working["bot"], working["held"]
    page = browser.get(f"/bots/{bot}")
    assert f'href="/bots/{bot}/revoke"' in page.text and "revoke-button" not in page.text
    before = everything(ws)
    confirm = browser.get(f"/bots/{bot}/revoke")
    assert confirm.code == 200 and "Revoke bot phone1?" in confirm.text
    assert "The 1 task(s) it holds go back" in confirm.text and "its 3 account(s) are unbound" in confirm.text
    assert everything(ws) == before
    done = browser.post(f"/bots/{bot}/revoke", {"csrf_token": confirm.csrf})
    assert done.code == 303 and done.location == f"/bots/{bot}"
    shown = browser.get(done.location).text
    assert "1 task(s) back in the queue, 3 account(s) unbound" in shown and "revoked" in shown
    assert "Open the bot console" not in shown and "Set slots" not in shown
    assert bots.by_id(ws.db(), bot)["revoked_at"] is not None
    assert ws.db().scalar("SELECT status FROM tasks WHERE id = ?", [held["task_id"]]) == "queued"
    assert commands(ws)[-1][:2] == ("operator:alice", "bot revoke")
    # again: refused, nothing changed
    before = snapshot(ws)
    again = browser.post(f"/bots/{bot}/revoke", {"csrf_token": confirm.csrf})
    assert again.code == 409 and "already revoked" in again.text
    assert browser.post(f"/bots/{bot}/revoke", {}).code == 403
    assert browser.post("/bots/999/revoke", {"csrf_token": confirm.csrf}).code == 404
    assert snapshot(ws) == before


def test_bot_pages_never_write(browser, ws, working, clock):
    bot = working["bot"]
    clock.set("2026-03-02T11:00:00")  # the held task's lease ran out meanwhile: a page view leaves it
    before = everything(ws)
    for path in ("/bots", f"/bots/{bot}", f"/bots/{bot}/revoke", f"/bots/{bot}/console", "/bots/999"):
        page = browser.get(path)
        assert page.code in (200, 404), path
    assert "(ran out)" in browser.get(f"/bots/{bot}").text
    assert everything(ws) == before
