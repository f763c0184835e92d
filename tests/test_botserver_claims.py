"""Idempotent claims over a real server: `GET /api/bot/next-task/<bot_id>` with an
`Idempotency-Key` header. The same bot retrying with the same key while it still holds the task
gets that task again (no second claim, lease or attempt; the credentials hand-out is logged
again); a new key is a new claim; a malformed key is 400."""

from __future__ import annotations

import pytest
from botserver_helpers import LiveServer
from warmup_helpers import fleet, seed_templates

from igctl.engine.domain import bots
from igctl.engine.flows import tick as engine_tick


@pytest.fixture
def arranged(ws):
    seed_templates(ws)
    fleet(ws, 3)
    engine_tick.tick(ws)
    return {"bot": bots.add(ws, "phone1", actor="test"), "other": bots.add(ws, "phone2", actor="test")}


@pytest.fixture
def server(ws_path, arranged):
    s = LiveServer(ws_path)
    yield s
    s.stop()


def claim(server, bot, key=None):
    headers = {"Idempotency-Key": key} if key is not None else {}
    return server.call("GET", f"/api/bot/next-task/{bot['id']}", token=bot["token"], headers=headers)


def events(ws, kind, task_id):
    return ws.db().scalar("SELECT COUNT(*) FROM events WHERE kind = ? AND task_id = ?", [kind, task_id])


def test_a_claim_retried_with_its_key_gets_the_same_task_back(server, arranged, ws):
    bot = arranged["bot"]
    status, _, first = claim(server, bot, "claim-1")
    assert status == 200
    status, _, again = claim(server, bot, "claim-1")  # the first answer was "lost"
    assert status == 200 and again == first
    task = ws.db().one("SELECT * FROM tasks WHERE id = ?", [first["task_id"]])
    assert task["status"] == "claimed" and task["attempts"] == 1 and task["claim_key"] == "claim-1"
    assert events(ws, "task.claimed", first["task_id"]) == 1
    assert events(ws, "bot.credentials", first["task_id"]) == 2  # every hand-out is logged
    assert ws.db().scalar("SELECT COUNT(*) FROM tasks WHERE status = 'claimed'") == 1


def test_a_new_key_is_a_new_claim_for_a_bot_with_several_slots(server, arranged, ws):
    bot = arranged["bot"]  # no slot limit
    first = claim(server, bot, "claim-1")[2]
    second = claim(server, bot, "claim-2")[2]
    assert first["task_id"] != second["task_id"]
    assert claim(server, bot, "claim-1")[2]["task_id"] == first["task_id"]
    assert claim(server, bot, "claim-2")[2]["task_id"] == second["task_id"]
    without = claim(server, bot)[2]  # no key: a new claim every time, as before
    assert without["task_id"] not in (first["task_id"], second["task_id"])


def test_a_key_is_the_bots_own_and_lasts_only_while_it_holds_the_task(server, arranged, ws):
    bot, other = arranged["bot"], arranged["other"]
    first = claim(server, bot, "same-key")[2]
    theirs = claim(server, other, "same-key")[2]  # another bot's key space
    assert theirs["task_id"] != first["task_id"]
    status, _, _ = server.call(
        "POST", "/api/bot/step-complete", token=bot["token"], body={"task_id": first["task_id"], "bot_id": bot["id"]}
    )
    assert status == 200
    status, _, after = claim(server, bot, "same-key")  # completed: the key hands out the next task
    assert status == 200 and after["task_id"] not in (first["task_id"], theirs["task_id"])


@pytest.mark.parametrize("key", ["", "x" * 201, "caf\u00e9", "tab\there", "bell\x07"])
def test_a_malformed_key_is_400_and_claims_nothing(server, arranged, ws, key):
    status, headers, body = claim(server, arranged["bot"], key)
    assert status == 400 and headers["content-type"].startswith("application/json"), (status, body)
    assert "Idempotency-Key" in body["error"]
    assert ws.db().scalar("SELECT COUNT(*) FROM tasks WHERE status = 'claimed'") == 0


def test_the_longest_key_is_accepted(server, arranged):
    key = "~" * 200  # just inside
    first = claim(server, arranged["bot"], key)
    assert first[0] == 200 and claim(server, arranged["bot"], key)[2] == first[2]
