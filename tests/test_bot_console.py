"""The bot console (`/bots/<id>/console`): an operator steps through a bot's protocol in the
browser with the engine calls the bot API makes; the account moves exactly as for a phone,
the events name the operator, passwords stay masked until a logged reveal."""

from __future__ import annotations

import json
import re

import pytest
from dashboard_helpers import Browser, browser, dash  # noqa: F401
from warmup_helpers import add_bot, by_name, fleet, seed_templates, snapshot

from igctl.engine.domain import bots
from igctl.engine.flows import botwork

PASSWORD = "pw-walk-1"  # warmup_helpers.add_accounts: pw-<prefix>-<i>


@pytest.fixture
def walk(igctl, ws):
    """One account warming up with step 1 (change_pfp) due now, its proxy, and a bot."""
    seed_templates(ws)
    fleet(ws, 1, prefix="walk")
    igctl("warmup", "tick")
    bot = add_bot(ws, "phone1", slots=2)
    return {"bot": bot, "account": by_name(ws, "walk00001")}


def claim(browser, bot: int, key: str | None = None):
    page = browser.get(f"/bots/{bot}/console")
    assert page.code == 200, page.text
    key = key or re.search(r'name="claim_key" value="([^"]+)"', page.text).group(1)
    return browser.post(f"/bots/{bot}/console/claim", {"csrf_token": page.csrf, "claim_key": key}), key


def events(ws, **where) -> list[dict]:
    clause = " AND ".join(f"{k} = ?" for k in where) or "1"
    rows = ws.db().query(f"SELECT * FROM events WHERE {clause} ORDER BY id", list(where.values()))
    return [dict(r) for r in rows]


def all_event_text(ws) -> str:
    return "\n".join(
        f"{r['actor']} {r['message']} {r['details_json']}" for r in ws.db().query("SELECT * FROM events")
    ) + "".join(p.read_text(encoding="utf-8") for p in (ws.path / "logs").rglob("*") if p.is_file())


def test_the_full_walk_of_a_warmup_step(browser, ws, walk):
    bot, account = walk["bot"], walk["account"]
    answer, key = claim(browser, bot)
    assert answer.code == 303, answer.text
    task_id = int(re.search(r"/console/tasks/(\d+)$", answer.location).group(1))
    assert answer.location == f"/bots/{bot}/console/tasks/{task_id}"

    # the payload, as the API hands it out, passwords masked
    page = browser.get(answer.location)
    assert page.code == 200
    assert "Claimed task" in page.text and "walk00001" in page.text and "change_pfp" in page.text
    assert PASSWORD not in page.text and "mailpw-walk-1" not in page.text
    api = json.loads(re.search(r'<pre id="api-json">(.*?)</pre>', page.text, re.S).group(1).replace("&quot;", '"'))
    assert set(api) >= {"task_id", "kind", "step_number", "step_name", "slot", "account", "proxy", "content"}
    assert api["task_id"] == task_id and api["kind"] == "warmup" and api["step_name"] == "change_pfp"
    assert api["account"]["password"] == botwork.MASK and api["proxy"]["password"] == botwork.MASK
    assert api["account"]["username"] == "walk00001" and api["slot"] == 1
    image = api["content"]["images"][0]
    assert image["url"] == f"/api/bot/images/{image['content_id']}" and "path" not in image
    assert f'<img src="/content/images/{image["content_id"]}"' in page.text
    assert browser.get(f"/content/images/{image['content_id']}").code == 200
    # the console is where the operator comes back to a claimed task
    console = browser.get(f"/bots/{bot}/console")
    assert f'href="/bots/{bot}/console/tasks/{task_id}"' in console.text
    # the same click sent again (the same claim key) gets the same task, not a second one
    again, _ = claim(browser, bot, key)
    assert again.location == answer.location
    assert ws.db().scalar("SELECT COUNT(*) FROM tasks WHERE status = 'claimed'") == 1

    # reveal: a POST with CSRF, recorded with the operator and the account, never the password
    shown = browser.post(f"/bots/{bot}/console/tasks/{task_id}/reveal", {"csrf_token": page.csrf})
    assert shown.code == 200 and PASSWORD in shown.text and "mailpw-walk-1" in shown.text
    assert "secret1" in shown.text  # the proxy's password
    assert "no-store" in shown.header("Cache-Control")
    revealed = events(ws, kind="bot.credentials_revealed")
    assert len(revealed) == 1
    assert revealed[0]["actor"] == "operator:alice" and revealed[0]["account_id"] == account["id"]
    assert revealed[0]["task_id"] == task_id and revealed[0]["bot_id"] == bot
    assert PASSWORD not in all_event_text(ws) and "secret1" not in all_event_text(ws)

    # complete, with the figures the metrics endpoint takes
    done = browser.post(
        f"/bots/{bot}/console/tasks/{task_id}/complete",
        {"csrf_token": page.csrf, "execution_time_ms": "5300", "followers": "120"},
    )
    assert done.code == 303 and done.location == f"/bots/{bot}/console"
    flash = browser.get(done.location).text
    assert f"Task {task_id} completed" in flash and "change_bio" in flash
    after = by_name(ws, "walk00001")
    assert after["lifecycle_state"] == "warming_up" and after["warmup_step"] == 2
    assert after["bot_id"] == bot and after["slot"] == 1
    assert ws.db().scalar("SELECT status FROM tasks WHERE id = ?", [task_id]) == "completed"
    nxt = ws.db().one("SELECT * FROM tasks WHERE account_id = ? AND step_name = 'change_bio'", [account["id"]])
    assert (
        nxt["status"] == "queued" and nxt["due_at"] == "2026-03-03T00:00:00.000Z"
    )  # the next calendar day (UTC workspace)
    assert ws.db().scalar("SELECT followers FROM account_metrics WHERE account_id = ?", [account["id"]]) == 120
    step = ws.db().one("SELECT * FROM step_log WHERE task_id = ?", [task_id])
    assert step["status"] == "completed" and step["bot_id"] == bot and step["execution_time_ms"] == 5300

    # the events name the operator; their bot_id stays the bot's; each step has its command event
    of_task = events(ws, task_id=task_id)
    kinds = {e["kind"]: e for e in of_task}
    for kind in ("task.claimed", "bot.credentials", "task.completed"):
        assert kinds[kind]["actor"] == "operator:alice" and kinds[kind]["bot_id"] == bot, kind
    assert "for bot phone1" in kinds["task.completed"]["message"]
    bound = events(ws, kind="account.bound")
    assert bound[0]["actor"] == "operator:alice" and bound[0]["bot_id"] == bot
    moved = [e for e in events(ws, account_id=account["id"], kind="task.queued") if "change_bio" in e["message"]]
    assert moved[0]["actor"] == "operator:alice"
    commands = [(e["message"], json.loads(e["details_json"])) for e in events(ws, kind="command")]
    names = [m for m, d in commands if d.get("via") == "dashboard"]
    assert names == ["bot console claim", "bot console claim", "bot console reveal", "bot console complete"]
    assert all(e["actor"] == "operator:alice" for e in events(ws, kind="command") if "console" in e["message"])
    assert not events(ws, actor="bot:phone1")
    # the phone was not seen
    assert bots.by_id(ws.db(), bot)["last_seen_at"] is None
    # the task is no longer held: its console page refuses and the console lists nothing
    gone = browser.get(f"/bots/{bot}/console/tasks/{task_id}")
    assert gone.code == 409 and "does not hold task" in gone.text
    assert "(none)" in browser.get(f"/bots/{bot}/console").text


def test_a_failure_with_an_error_kind(browser, ws, walk, clock):
    bot, account = walk["bot"], walk["account"]
    answer, _ = claim(browser, bot)
    task_id = int(answer.location.rsplit("/", 1)[1])
    csrf = browser.get(answer.location).csrf
    failed = browser.post(
        f"/bots/{bot}/console/tasks/{task_id}/fail",
        {"csrf_token": csrf, "error_kind": "ui_not_found", "error_message": "the button is not there"},
    )
    assert failed.code == 303 and failed.location == f"/bots/{bot}/console"
    flash = browser.get(failed.location).text
    assert "ui_not_found" in flash and "a retry is due" in flash
    task = ws.db().one("SELECT * FROM tasks WHERE id = ?", [task_id])
    assert task["status"] == "queued" and task["last_error_kind"] == "ui_not_found" and task["bot_id"] is None
    assert task["due_at"] == "2026-03-02T10:30:00.000Z"  # the first backoff: 30 minutes
    after = by_name(ws, "walk00001")
    assert after["lifecycle_state"] == "warming_up" and after["last_error_message"] == "the button is not there"
    failed_events = events(ws, kind="task.failed", task_id=task_id)
    assert failed_events[0]["actor"] == "operator:alice" and failed_events[0]["bot_id"] == bot
    step = ws.db().one("SELECT * FROM step_log WHERE task_id = ?", [task_id])
    assert step["status"] == "failed" and step["error_kind"] == "ui_not_found"

    # the retry, claimed when due, fails with a kind that needs a person: human review at once
    clock.set("2026-03-02T10:31:00")
    answer, _ = claim(browser, bot)
    assert answer.location == f"/bots/{bot}/console/tasks/{task_id}"
    csrf = browser.get(answer.location).csrf
    review = browser.post(
        f"/bots/{bot}/console/tasks/{task_id}/fail",
        {"csrf_token": csrf, "error_kind": "challenge", "error_message": "a challenge screen"},
    )
    assert review.code == 303 and "human review" in browser.get(review.location).text
    after = by_name(ws, "walk00001")
    assert after["lifecycle_state"] == "human_review" and after["requires_human_review"] == 1
    state = [e for e in events(ws, kind="account.state", account_id=account["id"]) if e["new_state"] == "human_review"]
    assert state[0]["actor"] == "operator:alice"


def test_refused_reports_change_nothing(browser, ws, walk):
    bot = walk["bot"]
    answer, _ = claim(browser, bot)
    task_id = int(answer.location.rsplit("/", 1)[1])
    csrf = browser.get(answer.location).csrf
    before = snapshot(ws)
    refusals = [
        ("fail", {"error_kind": "gremlins", "error_message": "x"}, "unknown error_kind"),
        ("fail", {"error_kind": "other", "error_message": "  "}, "error_message is required"),
        ("fail", {"error_kind": "other", "error_message": "x", "retry_after_seconds": "soon"}, "whole number"),
        ("complete", {"followers": "many"}, "followers must be a whole number"),
        ("complete", {"followers": "-3"}, "followers"),
        ("complete", {"execution_time_ms": "-5"}, "execution_time_ms"),
    ]
    for action, data, message in refusals:
        page = browser.post(f"/bots/{bot}/console/tasks/{task_id}/{action}", {"csrf_token": csrf, **data})
        assert page.code in (400, 409) and "Not done" in page.text and message in page.text, (data, page.text)
    # a task this bot does not hold, a bot that does not exist
    other = add_bot(ws, "phone2")
    before = snapshot(ws)
    for path in (
        f"/bots/{other}/console/tasks/{task_id}/complete",
        f"/bots/{other}/console/tasks/{task_id}/reveal",
        f"/bots/{bot}/console/tasks/9999/complete",
        "/bots/9999/console/claim",
    ):
        page = browser.post(path, {"csrf_token": csrf})
        assert page.code in (404, 409) and "Not done" in page.text, (path, page.text)
    assert snapshot(ws) == before


def test_reveal_without_csrf_is_refused(browser, ws, walk):
    bot = walk["bot"]
    answer, _ = claim(browser, bot)
    task_id = int(answer.location.rsplit("/", 1)[1])
    before = snapshot(ws)
    for data in ({}, {"csrf_token": "forged"}):
        page = browser.post(f"/bots/{bot}/console/tasks/{task_id}/reveal", data)
        assert page.code == 403 and "no valid CSRF token" in page.text and PASSWORD not in page.text
    assert snapshot(ws) == before
    assert not events(ws, kind="bot.credentials_revealed")


def test_claim_without_csrf_is_refused(browser, ws, walk):
    before = snapshot(ws)
    page = browser.post(f"/bots/{walk['bot']}/console/claim", {"claim_key": "console-x"})
    assert page.code == 403 and snapshot(ws) == before


def test_a_revoked_bots_console_refuses(browser, ws, walk):
    bot = walk["bot"]
    bots.revoke(ws, "phone1", actor="test")
    page = browser.get(f"/bots/{bot}/console")
    assert page.code == 200 and "is revoked" in page.text and "claim-button" not in page.text
    before = snapshot(ws)
    refused = browser.post(f"/bots/{bot}/console/claim", {"csrf_token": page.csrf, "claim_key": "console-abc"})
    assert refused.code == 403 and "Not done" in refused.text and "bot phone1 is revoked" in refused.text
    assert snapshot(ws) == before


def test_a_revoked_bots_claimed_task_can_no_longer_be_reported(browser, ws, walk):
    bot = walk["bot"]
    answer, _ = claim(browser, bot)
    task_id = int(answer.location.rsplit("/", 1)[1])
    csrf = browser.get(answer.location).csrf
    bots.revoke(ws, "phone1", actor="test")
    before = snapshot(ws)
    for action in ("complete", "reveal"):
        page = browser.post(f"/bots/{bot}/console/tasks/{task_id}/{action}", {"csrf_token": csrf})
        assert page.code == 403 and "bot phone1 is revoked" in page.text
    assert snapshot(ws) == before


def test_nothing_due_says_so_and_records_nothing(browser, ws, walk, igctl):
    bot = walk["bot"]
    claim(browser, bot)  # the only due task
    before = snapshot(ws)
    answer, _ = claim(browser, bot)
    assert answer.code == 303 and answer.location == f"/bots/{bot}/console"
    assert "No task for this bot now" in browser.get(answer.location).text
    assert snapshot(ws) == before


def test_a_full_bot_gets_no_task_of_an_unbound_account(browser, ws, igctl):
    seed_templates(ws)
    fleet(ws, 2, prefix="walk")
    igctl("warmup", "tick")
    bot = add_bot(ws, "tiny", slots=1)
    first, _ = claim(browser, bot)
    assert "/console/tasks/" in first.location
    before = snapshot(ws)
    answer, _ = claim(browser, bot)
    assert answer.location == f"/bots/{bot}/console"
    assert "No task for this bot now" in browser.get(answer.location).text
    assert snapshot(ws) == before


def test_console_pages_never_write(browser, ws, walk):
    from test_dashboard_bots import everything

    bot = walk["bot"]
    answer, _ = claim(browser, bot)
    before = everything(ws)
    for path in (f"/bots/{bot}/console", answer.location, f"/bots/{bot}", "/bots"):
        assert browser.get(path).code == 200, path
    assert everything(ws) == before


def test_the_api_still_records_the_bot(ws, walk):
    """Without an operator the engine calls record the bot, as before, and mark it seen."""
    bot = walk["bot"]
    last = ws.db().scalar("SELECT max(id) FROM events")
    task = botwork.claim_next(ws, bot)
    botwork.complete(ws, task["task_id"], bot)
    actors = {r["actor"] for r in ws.db().query("SELECT actor FROM events WHERE id > ?", [last])}
    assert actors == {"bot:phone1"}
    assert bots.by_id(ws.db(), bot)["last_seen_at"] is not None
    assert task["account"]["password"] == PASSWORD


def test_keep_the_lease(browser, ws, walk, clock):
    bot = walk["bot"]
    botwork.heartbeat(ws, bot, status="idle", app_version="1.0")  # the phone's own heartbeat
    phone = dict(bots.by_id(ws.db(), bot))
    answer, _ = claim(browser, bot)
    task_id = int(answer.location.rsplit("/", 1)[1])
    csrf = browser.get(answer.location).csrf
    clock.set("2026-03-02T10:15:00")
    kept = browser.post(f"/bots/{bot}/console/heartbeat", {"csrf_token": csrf, "next": answer.location})
    assert kept.code == 303 and kept.location == answer.location
    assert "1 lease(s) extended to 2026-03-02 10:35" in browser.get(kept.location).text
    assert ws.db().scalar("SELECT lease_expires_at FROM tasks WHERE id = ?", [task_id]) == "2026-03-02T10:35:00.000Z"
    assert dict(bots.by_id(ws.db(), bot)) == phone  # seen, status, version: still the phone's
    assert [e["message"] for e in events(ws, kind="command")][-1] == "bot console heartbeat"
    # once the lease ran out, the task goes back to the queue as for a phone, and the console says so
    clock.set("2026-03-02T10:36:00")
    kept = browser.post(f"/bots/{bot}/console/heartbeat", {"csrf_token": csrf})
    assert "No lease to extend" in browser.get(kept.location).text
    assert ws.db().scalar("SELECT status FROM tasks WHERE id = ?", [task_id]) == "queued"
    refused = browser.post(f"/bots/{bot}/console/tasks/{task_id}/complete", {"csrf_token": csrf})
    assert refused.code == 409 and "does not hold task" in refused.text
