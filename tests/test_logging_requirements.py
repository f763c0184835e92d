"""requirements.md's "Logging Requirements", each checked against the event log of one full
scenario: import, proxies, warm-up by stand-in bots (engine calls the bot API makes) with
failures, review, retire — and the product's additions (§8, §9): commands with their
arguments and no secret, credential hand-outs.

- All bot actions with timestamps
- Error details with stack traces
- Performance metrics per operation
- User actions and changes
- Proxy status changes
- Account state transitions
"""

from __future__ import annotations

import json

import pytest
from warmup_helpers import add_bot, seed_templates

from igctl.engine.domain import evidence
from igctl.engine.flows import botwork
from igctl.engine.store import events
from igctl.engine.store.workspace import Workspace

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def scenario(igctl, ws_path, clock, write):
    """The operator works through the CLI; the bots through the engine functions of the bot API."""
    ws = Workspace.open(ws_path)
    seed_templates(ws)
    igctl("proxy", "add", "http://puser:Sup3rSecret@10.9.0.1:3128", "--cost", "9")
    igctl("proxy", "add", "10.9.0.2:3128:quser:Other-Secret-9")
    accounts = write(
        "accounts.txt",
        "username,password,email\nann,Ann-Pw-1,ann@example.com\nbob,Bob-Pw-2,bob@example.com\n"
        "cat,Cat-Pw-3,cat@example.com\n",
    )
    igctl("accounts", "import", accounts)
    bot = add_bot(ws, "phone1")
    clock.set("2026-03-02T09:00:00")
    igctl("warmup", "tick")

    t = botwork.claim_next(ws, bot)
    assert t["account"]["username"] == "ann"
    botwork.complete(ws, t["task_id"], bot, execution_time_ms=4321, now="2026-03-02T09:01:15")
    t = botwork.claim_next(ws, bot, now="2026-03-02T09:02:00")
    assert t["account"]["username"] == "bob"
    botwork.fail(
        ws,
        t["task_id"],
        bot,
        error_message="Edit profile button not found",
        error_kind="ui_not_found",
        error_details={"stack_trace": "Traceback (most recent call last):\n  tap('edit') failed", "screen": "profile"},
        now="2026-03-02T09:02:30",
    )
    clock.set("2026-03-02T09:02:30")
    evidence.add_screenshot(ws, t["task_id"], bot, PNG)
    t = botwork.claim_next(ws, bot, now="2026-03-02T09:03:00")
    assert t["account"]["username"] == "cat"
    botwork.fail(
        ws, t["task_id"], bot, error_message="Enter the code we sent", error_kind="challenge", now="2026-03-02T09:03:20"
    )
    clock.set("2026-03-02T10:00:00")
    igctl("review", "resolve", "cat", "--note", "entered the code by hand")
    igctl("proxy", "set-status", "2", "error")
    igctl("accounts", "retire", "bob", "--reason", "banned")
    ws.close()
    return ws_path


def log(igctl, *args) -> list[dict]:
    return igctl.json("log", *args)


def test_every_account_state_transition_with_old_new_cause_actor(igctl, scenario):
    moves = [(e["old_state"], e["new_state"], e["actor"], e["cause"]) for e in log(igctl, "--kind", "account.state")]
    by_account = {}
    for e in log(igctl, "--kind", "account.state"):
        by_account.setdefault(e["account_id"], []).append((e["old_state"], e["new_state"]))
    ids = {u: r["id"] for u, r in ((u, igctl.json("accounts", "show", u)) for u in ("ann", "bob", "cat"))}
    assert by_account[ids["ann"]] == [("imported", "proxy_assigned"), ("proxy_assigned", "warming_up")]
    assert by_account[ids["bob"]] == [
        ("imported", "proxy_assigned"),
        ("proxy_assigned", "warming_up"),
        ("warming_up", "retired"),
    ]
    assert by_account[ids["cat"]] == [
        ("imported", "proxy_assigned"),
        ("proxy_assigned", "warming_up"),
        ("warming_up", "human_review"),
        ("human_review", "warming_up"),
    ]
    assert all(cause for *_, cause in moves)
    actors = {a for _, _, a, _ in moves}
    assert "tick" in actors and "bot:phone1" in actors and any(a.startswith("user") for a in actors)
    # the account's own page shows the same events
    shown = igctl.json("accounts", "show", "cat")["events"]
    assert [(e["old_state"], e["new_state"]) for e in shown if e["kind"] == "account.state"] == by_account[ids["cat"]]


def test_all_bot_actions_with_timestamps_and_timing(igctl, scenario):
    bot_events = log(igctl, "--bot", "phone1")
    kinds = [e["kind"] for e in bot_events]
    for kind in (
        "task.claimed",
        "bot.credentials",
        "task.completed",
        "task.failed",
        "task.screenshot",
        "account.bound",
    ):
        assert kind in kinds, kind
    assert all(
        e["at"].endswith("Z") and e["actor"] == "bot:phone1" for e in bot_events if e["kind"].startswith("task.")
    )
    (completed,) = [e for e in bot_events if e["kind"] == "task.completed"]
    # performance per operation: the bot's own execution time and the claim → completion time
    assert completed["at"] == "2026-03-02T09:01:15.000Z"
    assert completed["details"]["execution_time_ms"] == 4321
    assert completed["details"]["seconds_since_claim"] == 75.0
    # the step log keeps the same timing per attempt
    ann = igctl.json("accounts", "show", "ann")
    assert ann["step_log"][0]["execution_time_ms"] == 4321


def test_errors_with_details_stack_trace_and_screenshot(igctl, scenario):
    failed = {e["details"]["error_kind"]: e for e in log(igctl, "--kind", "task.failed")}
    ui = failed["ui_not_found"]
    assert ui["message"].endswith("Edit profile button not found → retry_scheduled")
    assert ui["details"]["error_details"]["stack_trace"].startswith("Traceback (most recent call last)")
    assert ui["details"]["attempts"] == 1 and ui["details"]["retry_at"]
    assert failed["challenge"]["details"]["outcome"] == "human_review"
    (shot,) = log(igctl, "--kind", "task.screenshot")
    assert shot["task_id"] == ui["task_id"] and shot["details"]["path"].endswith(".png")
    bob = igctl.json("accounts", "show", "bob")
    assert bob["step_log"][0]["screenshot_path"] == shot["details"]["path"]


def test_user_actions_with_arguments_and_no_secret(igctl, scenario):
    commands = log(igctl, "--kind", "command")
    names = [e["message"] for e in commands]
    for name in ("proxy add", "accounts import", "review resolve", "proxy set-status", "accounts retire"):
        assert name in names, (name, names)
    retire = next(e for e in commands if e["message"] == "accounts retire")
    assert retire["details"]["argv"] == ["accounts", "retire", "bob", "--reason", "banned"]
    assert retire["actor"].startswith("user")
    proxy_add = next(e for e in commands if e["message"] == "proxy add")
    assert proxy_add["details"]["argv"][-3:] == ["http://puser:***@10.9.0.1:3128", "--cost", "9"]
    resolved = log(igctl, "--kind", "account.review_resolved")
    assert resolved[0]["details"]["note"] == "entered the code by hand"
    # no password of an account or a proxy anywhere in the log, the table or the files
    everything = json.dumps(log(igctl)) + "".join(p.read_text() for p in (scenario / "logs").glob("*.jsonl"))
    for secret in ("Sup3rSecret", "Other-Secret-9", "Ann-Pw-1", "Bob-Pw-2", "Cat-Pw-3"):
        assert secret not in everything


def test_proxy_status_changes(igctl, scenario):
    (change,) = log(igctl, "--kind", "proxy.status")
    assert (change["proxy_id"], change["old_state"], change["new_state"]) == (2, "active", "error")
    assert change["actor"].startswith("user")


def test_credential_hand_outs(igctl, scenario):
    handed = log(igctl, "--kind", "bot.credentials")
    claims = log(igctl, "--kind", "task.claimed")
    assert len(handed) == len(claims) == 3
    assert [(h["account_id"], h["task_id"], h["bot_id"]) for h in handed] == [
        (c["account_id"], c["task_id"], c["bot_id"]) for c in claims
    ]


def test_mirror_files_hold_the_same_events(igctl, scenario):
    table = log(igctl)
    lines = [
        json.loads(line)
        for p in sorted((scenario / "logs").glob("events-*.jsonl"))
        for line in p.read_text().splitlines()
    ]
    assert sorted(e["id"] for e in lines) == [e["id"] for e in table]


def test_log_files_rotate_by_size_within_a_day(tmp_path, ws):
    """A day's file that would pass the size limit continues in .1.jsonl, .2.jsonl, …; each
    line is whole in one file and none is lost."""
    log_ = events.EventLog(tmp_path / "logs", max_file_bytes=600)
    db = ws.db()
    with db.write():
        for i in range(10):
            log_.record(db, f"2026-03-02T10:00:{i:02d}.000Z", "test.event", "test", message="x" * 100)
        log_.record_many(
            db,
            [
                {"at": "2026-03-02T11:00:00.000Z", "kind": "test.bulk", "actor": "test", "message": "y" * 100}
                for _ in range(10)
            ],
        )
        log_.record(db, "2026-03-03T00:00:00.000Z", "test.event", "test", message="next day")
    files = sorted(p.name for p in (tmp_path / "logs").iterdir())
    assert files[0] == "events-2026-03-02.1.jsonl" and "events-2026-03-02.jsonl" in files
    assert "events-2026-03-03.jsonl" in files
    day = [p for p in (tmp_path / "logs").iterdir() if p.name.startswith("events-2026-03-02")]
    assert all(p.stat().st_size <= 600 for p in day)
    assert len(day) >= 6  # 20 lines of ~200 bytes, at most 3 to a file of 600
    lines = [json.loads(line) for p in day for line in p.read_text().splitlines()]
    assert len(lines) == 20


def test_one_line_over_the_limit_still_goes_somewhere(tmp_path, ws):
    log_ = events.EventLog(tmp_path / "logs", max_file_bytes=50)
    db = ws.db()
    with db.write():
        log_.record(db, "2026-03-02T10:00:00.000Z", "test.event", "test", message="z" * 200)
        log_.record(db, "2026-03-02T10:00:01.000Z", "test.event", "test", message="z" * 200)
    assert sorted(p.name for p in (tmp_path / "logs").iterdir()) == [
        "events-2026-03-02.1.jsonl",
        "events-2026-03-02.jsonl",
    ]
