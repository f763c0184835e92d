"""One way to record an operator's change (engine/store/changes.py): the `command` event first,
in the transaction of the engine call; what the call did noted on it; nothing left by a refusal,
a dry run or a change that did nothing; the same road for the CLI and the dashboard."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from warmup_helpers import add_bot, fleet, seed_model_content, seed_templates, snapshot

from igctl.engine.domain import proxies
from igctl.engine.flows import botwork
from igctl.engine.store.changes import Command, operator_change, record
from igctl.engine.store.errors import NotFound

ACTOR = "user:tester"


def log_lines(ws) -> list[dict]:
    return [json.loads(line) for p in sorted((ws.path / "logs").glob("*.jsonl")) for line in p.read_text().splitlines()]


def commands(ws) -> list[dict]:
    return [dict(r) for r in ws.db().query("SELECT * FROM events WHERE kind = 'command' ORDER BY id")]


def test_the_command_event_comes_first_and_notes_reach_the_row_and_the_log_file(ws):
    with operator_change(
        ws, Command("proxy add", ACTOR, "cli", argv=["proxy", "add", "10.0.0.1:80"], details={"a": 1})
    ) as change:
        proxies.add(change.ws, "10.0.0.1:80", actor=ACTOR)
        change.note(added=1, password="hunter2")
    rows = ws.db().query("SELECT id, kind, details_json FROM events WHERE kind != 'workspace.init' ORDER BY id")
    assert [r["kind"] for r in rows] == ["command", "proxy.added"]
    details = json.loads(rows[0]["details_json"])
    assert details == {"a": 1, "added": 1, "argv": ["proxy", "add", "10.0.0.1:80"], "password": "***", "via": "cli"}
    [line] = [line for line in log_lines(ws) if line["kind"] == "command"]
    assert line["details"] == details and line["id"] == rows[0]["id"] and line["actor"] == ACTOR
    assert line["message"] == "proxy add"


def test_a_refused_call_leaves_nothing(ws):
    before, lines = snapshot(ws), log_lines(ws)
    with pytest.raises(NotFound), operator_change(ws, Command("proxy remove", ACTOR, "cli")) as change:
        proxies.remove(change.ws, 99, actor=ACTOR)
    assert snapshot(ws) == before and log_lines(ws) == lines


def test_a_dry_run_leaves_nothing(ws):
    before, lines = snapshot(ws), log_lines(ws)
    with operator_change(ws, Command("proxy add", ACTOR, "cli"), dry_run=True) as change:
        assert change.db.dry_run
        proxies.add(change.ws, "10.0.0.1:80", actor=ACTOR)
        change.note(added=1)
    assert snapshot(ws) == before and log_lines(ws) == lines
    assert not ws.db().dry_run


def test_a_discarded_change_leaves_nothing_and_one_with_effects_cannot_be_discarded(ws):
    before, lines = snapshot(ws), log_lines(ws)
    with operator_change(ws, Command("review retry", "operator:ann", "dashboard")) as change:
        change.discard()
        with pytest.raises(RuntimeError):
            change.note(usernames=[])
    assert snapshot(ws) == before and log_lines(ws) == lines
    with (
        pytest.raises(RuntimeError, match="cannot be discarded"),
        operator_change(ws, Command("proxy add", ACTOR, "cli")) as change,
    ):
        proxies.add(change.ws, "10.0.0.1:80", actor=ACTOR)
        change.discard()
    assert snapshot(ws) == before and log_lines(ws) == lines


def test_a_command_comes_via_the_cli_or_the_dashboard():
    with pytest.raises(ValueError):
        Command("x", ACTOR, "api")


def test_cli_commands_record_their_argv_and_via(igctl, ws):
    igctl("proxy", "add", "http://u:secret-pw@10.9.0.1:3128")
    [cmd] = commands(ws)
    details = json.loads(cmd["details_json"])
    assert details == {"argv": ["proxy", "add", "http://u:***@10.9.0.1:3128"], "via": "cli"}
    assert cmd["actor"].startswith("user")


def test_review_commands_note_who_was_done_and_leave_nothing_when_nobody_is_in_review(igctl, ws):
    seed_templates(ws)
    fleet(ws, 2)
    igctl("warmup", "tick")
    bot = add_bot(ws, "phone")
    t = botwork.claim_next(ws, bot)
    botwork.fail(ws, t["task_id"], bot, error_message="captcha", error_kind="captcha")
    first_new = ws.db().scalar("SELECT max(id) FROM events")
    done = igctl.json("review", "retry", "--all")
    events = ws.db().query("SELECT kind, message, details_json FROM events WHERE id > ? ORDER BY id", [first_new])
    assert events[0]["kind"] == "command" and events[0]["message"] == "review retry"
    assert json.loads(events[0]["details_json"])["usernames"] == [d["username"] for d in done] != []
    assert json.loads(events[0]["details_json"])["all"] is True
    before, lines = snapshot(ws), log_lines(ws)
    assert igctl.json("review", "retry", "--all") == []
    assert igctl.json("review", "resolve", "--all", "--note", "nothing to do") == []
    assert snapshot(ws) == before and log_lines(ws) == lines


def test_model_assign_notes_the_number_assigned_and_a_dry_run_keeps_nothing(igctl, ws):
    from warmup_helpers import add_accounts

    seed_templates(ws)
    igctl("model", "create", "Alice")
    seed_model_content(ws, "Alice")
    p = proxies.add(ws, "10.1.0.1:8080", location="DE", actor="test")["id"]
    add_accounts(
        ws,
        2,
        state="ready",
        proxy_ids=[p],
        per_proxy=2,
        prefix="ready",
        warmup_started_at="2026-02-20T10:00:00.000Z",
        warmup_completed_at="2026-02-25T10:00:00.000Z",
    )
    before = snapshot(ws)
    assert igctl.json("model", "assign", "Alice", "--count", "1", "--dry-run")["dry_run"] is True
    assert snapshot(ws) == before
    result = igctl.json("model", "assign", "Alice", "--count", "1")
    assert result["dry_run"] is False
    cmd = commands(ws)[-1]
    assert cmd["message"] == "model assign"
    assert json.loads(cmd["details_json"]) | {"argv": None} == {
        "argv": None,
        "model": "Alice",
        "assigned": 1,
        "dry_run": False,
        "via": "cli",
    }
    kinds = [r["kind"] for r in ws.db().query("SELECT kind FROM events WHERE id >= ? ORDER BY id", [cmd["id"]])]
    assert kinds[0] == "command" and "account.state" in kinds


def test_tick_records_its_command_only_when_it_did_something(ws):
    from igctl.engine.flows import tick

    command = Command("warmup tick", ACTOR, "cli", argv=["warmup", "tick"])
    before = snapshot(ws)
    tick.tick(ws, command=command)
    assert snapshot(ws) == before  # nothing to do: no trace
    seed_templates(ws)
    fleet(ws, 1)
    tick.tick(ws, command=command, dry_run=True)
    assert commands(ws) == []
    result = tick.tick(ws, command=command)
    [cmd] = commands(ws)
    details = json.loads(cmd["details_json"])
    assert details["counts"]["warmups_started"] == result["warmups_started"] == 1
    assert details["dry_run"] is False and details["via"] == "cli" and details["argv"] == ["warmup", "tick"]


def test_only_changes_py_writes_a_command_event():
    """The one road: no other module records an event of kind `command` by itself."""
    root = Path(__file__).resolve().parent.parent / "igctl"
    writers = [
        str(p.relative_to(root))
        for p in root.rglob("*.py")
        if re.search(r"""\.record\([^,()]+,[^,]+,\s*["']command["']""", p.read_text(encoding="utf-8"))
    ]
    assert writers == ["engine/store/changes.py"]
    assert record.__module__ == "igctl.engine.store.changes"
