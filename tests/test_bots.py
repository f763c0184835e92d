"""Bot identities: add, list, revoke, authenticate, and `accounts move` (device affinity)."""

from __future__ import annotations

import hmac
import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from igctl.cli import IgctlGroup
from igctl.commands._common import workspace_option
from igctl.commands.bot import ACCOUNTS_SUBCOMMANDS
from igctl.engine.domain import bots
from igctl.engine.store.errors import Unauthorized
from igctl.engine.store.workspace import Workspace

TABLES = ("bots", "accounts", "tasks", "step_log", "events")


def snapshot(ws) -> dict:
    db = ws.db()
    return {t: [tuple(r) for r in db.query(f"SELECT * FROM {t} ORDER BY id")] for t in TABLES}


def make_account(ws, username: str, state: str = "warming_up", bot_id=None, slot=None) -> int:
    db = ws.db()
    now = ws.now()
    with db.write():
        return db.execute(
            "INSERT INTO accounts (username, password_enc, lifecycle_state, bot_id, slot, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [username, ws.cipher.encrypt("pw"), state, bot_id, slot, now, now],
        ).lastrowid


def make_task(ws, account_id: int, status: str = "queued", bot_id=None, step_name: str = "change_pfp") -> int:
    db = ws.db()
    now = ws.now()
    claimed = status == "claimed"
    with db.write():
        return db.execute(
            "INSERT INTO tasks (account_id, kind, step_number, step_name, idempotency_key, status, due_at, bot_id,"
            " claimed_at, lease_expires_at, attempts, created_at, updated_at)"
            " VALUES (?, 'warmup', 1, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
            [
                account_id,
                step_name,
                f"{account_id}:{step_name}:{status}",
                status,
                now,
                bot_id,
                now if claimed else None,
                "2026-03-02T10:20:00.000Z" if claimed else None,
                now,
                now,
            ],
        ).lastrowid


def log_step(ws, bot_id: int, account_id: int, status: str, at: str) -> None:
    db = ws.db()
    with db.write():
        db.execute(
            "INSERT INTO step_log (account_id, kind, step_name, started_at, completed_at, status, bot_id)"
            " VALUES (?, 'warmup', 'change_pfp', ?, ?, ?, ?)",
            [account_id, at, at if status != "in_progress" else None, status, bot_id],
        )


def add(ws, name: str, slots=None) -> dict:
    return bots.add(ws, name, slots=slots, actor="test")


@pytest.fixture
def move_cli():
    """`igctl accounts move` as the lead attaches it: the real command under a root that maps
    engine errors like igctl's."""

    @click.group(cls=IgctlGroup)
    @workspace_option
    def root():
        pass

    @root.group("accounts")
    def accounts():
        pass

    for command in ACCOUNTS_SUBCOMMANDS:
        accounts.add_command(command)
    runner = CliRunner()

    def run(*args, expect=0):
        result = runner.invoke(root, ["accounts", "move", *map(str, args)], catch_exceptions=False)
        assert result.exit_code == expect, result.output
        return result

    return run


# -- add --------------------------------------------------------------------------------------
def test_add_prints_the_token_once_and_stores_only_its_hash(igctl, ws_path, ws):
    out = igctl.json("bot", "add", "pc-1.main_A", "--slots", "3")
    assert set(out) >= {"id", "name", "token", "slots"}
    assert isinstance(out["id"], int) and out["name"] == "pc-1.main_A" and out["slots"] == 3
    token = out["token"]
    assert len(token) >= 43
    human = igctl("bot", "add", "pc2")
    assert "cannot be shown again" in human.stdout
    token2 = human.stdout.split("Token: ")[1].split()[0]
    ws.close()  # checkpoint nothing: read the database files as they are on disk, WAL included
    for path in [*ws_path.glob("igctl.db*"), *ws_path.joinpath("logs").glob("*")]:
        data = Path(path).read_bytes()
        assert token.encode() not in data and token2.encode() not in data, path
    stored = Workspace.open(ws_path).db().scalar("SELECT token_hash FROM bots WHERE id = ?", [out["id"]])
    assert stored == bots.hash_token(token)
    assert bots.authenticate(ws, token)["name"] == "pc-1.main_A"
    assert bots.authenticate(ws, token2)["name"] == "pc2"


def test_bot_with_no_slot_limit(igctl, ws_path):
    assert igctl.json("bot", "add", "pc")["slots"] is None


@pytest.mark.parametrize(
    "args, message",
    [
        (["pc", "--slots", "0"], "at least 1"),
        (["pc", "--slots", "-1"], "at least 1"),
        (["x" * 65], "1-64"),
        (["bad name"], "1-64"),
        (["bad/name"], "1-64"),
        ([""], "1-64"),
        (["ümlaut"], "1-64"),
    ],
)
def test_bad_bot_input_is_a_one_line_error_and_changes_nothing(igctl, ws_path, ws, args, message):
    add(ws, "existing")
    before = snapshot(ws)
    assert message in igctl.error("bot", "add", *args)
    assert snapshot(ws) == before


def test_name_of_64_characters_and_one_slot_are_accepted(igctl, ws_path):
    out = igctl.json("bot", "add", "x" * 64, "--slots", "1")
    assert out["slots"] == 1


def test_duplicate_name_is_refused_case_insensitively_even_after_revocation(igctl, ws_path, ws):
    add(ws, "pc1")
    before = snapshot(ws)
    assert "already exists" in igctl.error("bot", "add", "pc1")
    assert "already exists" in igctl.error("bot", "add", "PC1")
    assert snapshot(ws) == before
    bots.revoke(ws, "pc1", actor="test")
    assert "revoked" in igctl.error("bot", "add", "pc1")


def test_slots_that_are_not_a_number_are_bad_usage(igctl, ws_path, ws):
    result = igctl("bot", "add", "pc", "--slots", "many", expect=2)
    assert "many" in result.stderr
    assert ws.db().scalar("SELECT count(*) FROM bots") == 0


# -- authenticate -----------------------------------------------------------------------------
def test_authenticate_compares_the_hash_in_constant_time(ws_path, ws, monkeypatch):
    token = add(ws, "pc")["token"]
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(bots.hmac, "compare_digest", spy)
    assert bots.authenticate(ws, token)["name"] == "pc"
    assert calls == [(bots.hash_token(token).encode(), bots.hash_token(token).encode())]
    calls.clear()
    with pytest.raises(Unauthorized):
        bots.authenticate(ws, token + "x")
    assert len(calls) == 1  # an unknown token takes the same path


@pytest.mark.parametrize("token", [None, "", "nope", "x" * 300, 12345])
def test_authenticate_refuses_missing_and_unknown_tokens(ws_path, ws, token):
    add(ws, "pc")
    with pytest.raises(Unauthorized):
        bots.authenticate(ws, token)


def test_a_token_of_another_workspace_is_unknown(ws_path, ws):
    token = add(ws, "pc")["token"]
    assert bots.authenticate(ws, token)
    ws.db().execute("UPDATE bots SET token_hash = ?", [bots.hash_token("other")])
    with pytest.raises(Unauthorized):
        bots.authenticate(ws, token)


# -- list ---------------------------------------------------------------------------------------
def test_list_shows_slots_bound_accounts_and_online_within_the_window(igctl, ws_path, ws, clock):
    pc1 = add(ws, "pc1", slots=3)["id"]
    pc2 = add(ws, "pc2")["id"]
    make_account(ws, "a1", bot_id=pc1, slot=1)
    make_account(ws, "a2", bot_id=pc1, slot=2)
    db = ws.db()
    # offline_after_minutes is 10: seen exactly 10 minutes ago is online, a millisecond more is not
    db.execute("UPDATE bots SET last_seen_at = '2026-03-02T09:50:00.000Z' WHERE id = ?", [pc1])
    db.execute("UPDATE bots SET last_seen_at = '2026-03-02T09:49:59.999Z' WHERE id = ?", [pc2])
    rows = {r["name"]: r for r in igctl.json("bot", "list")}
    assert rows["pc1"]["online"] is True and rows["pc2"]["online"] is False
    assert rows["pc1"]["bound_accounts"] == 2 and rows["pc1"]["free_slots"] == 1 and rows["pc1"]["slots"] == 3
    assert rows["pc2"]["free_slots"] is None and rows["pc2"]["slots"] is None
    assert isinstance(rows["pc1"]["id"], int) and rows["pc1"]["revoked"] is False
    assert rows["pc1"]["last_seen_at"] == "2026-03-02T09:50:00.000Z"
    table = igctl("bot", "list").stdout
    assert "online" in table and "offline" in table and "2026-03-02 09:50" in table
    csv_lines = igctl("bot", "list", "--csv").stdout.splitlines()
    assert csv_lines[0].startswith("id,name,") and len(csv_lines) == 3


def test_tasks_done_and_failed_today_follow_the_workspace_calendar_day(igctl, tmp_path, monkeypatch, clock):
    path = tmp_path / "tokyo"
    igctl("init", path, "--timezone", "Asia/Tokyo")
    monkeypatch.setenv("IGCTL_WORKSPACE", str(path))
    clock.set("2026-03-02T10:00:00")  # Tokyo time: the day is 2026-03-01T15:00Z .. 2026-03-02T15:00Z
    ws = Workspace.open(path)
    pc = add(ws, "pc")["id"]
    acc = make_account(ws, "a")
    log_step(ws, pc, acc, "completed", "2026-03-01T14:59:59.999Z")  # yesterday, just
    log_step(ws, pc, acc, "completed", "2026-03-01T15:00:00.000Z")  # today, just
    log_step(ws, pc, acc, "completed", "2026-03-02T14:59:59.999Z")
    log_step(ws, pc, acc, "failed", "2026-03-02T01:00:00.000Z")
    log_step(ws, pc, acc, "requires_review", "2026-03-02T02:00:00.000Z")
    log_step(ws, pc, acc, "failed", "2026-03-02T15:00:00.000Z")  # tomorrow
    log_step(ws, pc, acc, "in_progress", "2026-03-02T03:00:00.000Z")
    (row,) = igctl.json("bot", "list")
    assert row["done_today"] == 2 and row["failed_today"] == 2
    ws.close()


# -- revoke ---------------------------------------------------------------------------------------
def test_revoke_releases_tasks_unbinds_accounts_and_kills_the_token(igctl, ws_path, ws):
    pc = add(ws, "pc", slots=2)
    other = add(ws, "other")
    a1 = make_account(ws, "a1", bot_id=pc["id"], slot=1)
    a2 = make_account(ws, "a2", bot_id=pc["id"], slot=2)
    a3 = make_account(ws, "a3", bot_id=other["id"], slot=1)
    t1 = make_task(ws, a1, "claimed", pc["id"])
    t3 = make_task(ws, a3, "claimed", other["id"])
    t2 = make_task(ws, a2, "queued")
    log_step(ws, pc["id"], a1, "in_progress", ws.now())
    ws.db().execute("UPDATE step_log SET task_id = ?", [t1])
    out = igctl("bot", "revoke", "pc").stdout
    assert "1 task(s)" in out and "2 account(s)" in out
    db = ws.db()
    task = db.one("SELECT * FROM tasks WHERE id = ?", [t1])
    assert (
        task["status"] == "queued"
        and task["bot_id"] is None
        and task["lease_expires_at"] is None
        and task["claimed_at"] is None
    )
    assert task["attempts"] == 0  # the claim's attempt is given back: not held against the account
    assert db.one("SELECT status, bot_id FROM tasks WHERE id = ?", [t3])[0] == "claimed"
    assert db.scalar("SELECT status FROM tasks WHERE id = ?", [t2]) == "queued"
    assert [tuple(r) for r in db.query("SELECT id, bot_id, slot FROM accounts ORDER BY id")] == [
        (a1, None, None),
        (a2, None, None),
        (a3, other["id"], 1),
    ]
    assert tuple(db.one("SELECT status, error_kind FROM step_log")) == ("failed", "bot_revoked")
    released = db.one("SELECT * FROM events WHERE kind = 'task.released'")
    assert released["task_id"] == t1 and released["account_id"] == a1
    assert db.scalar("SELECT count(*) FROM events WHERE kind = 'bot.revoked'") == 1
    assert db.scalar("SELECT revoked_at FROM bots WHERE name = 'pc'") == "2026-03-02T10:00:00.000Z"
    with pytest.raises(Unauthorized):
        bots.authenticate(ws, pc["token"])
    assert bots.authenticate(ws, other["token"])["name"] == "other"
    rows = {r["name"]: r for r in igctl.json("bot", "list")}
    assert rows["pc"]["revoked"] is True and rows["pc"]["online"] is False
    assert "revoked" in igctl("bot", "list").stdout


def test_revoke_unknown_or_already_revoked_is_an_error_and_changes_nothing(igctl, ws_path, ws):
    add(ws, "pc")
    before = snapshot(ws)
    assert "no bot named ghost" in igctl.error("bot", "revoke", "ghost")
    assert snapshot(ws) == before
    igctl("bot", "revoke", "PC")
    before = snapshot(ws)
    assert "already revoked" in igctl.error("bot", "revoke", "pc")
    assert snapshot(ws) == before


# -- move -------------------------------------------------------------------------------------------
def test_move_takes_the_lowest_free_slot(move_cli, ws_path, ws):
    pc1 = add(ws, "pc1")["id"]
    pc2 = add(ws, "pc2", slots=3)["id"]
    make_account(ws, "x1", bot_id=pc2, slot=1)
    make_account(ws, "x3", bot_id=pc2, slot=3)
    acc = make_account(ws, "mover", bot_id=pc1, slot=1)
    out = json.loads(move_cli("mover", "--bot", "pc2", "--json").stdout)
    assert out == {"username": "mover", "bot": "pc2", "slot": 2, "from_bot": "pc1", "changed": True}
    assert tuple(ws.db().one("SELECT bot_id, slot FROM accounts WHERE id = ?", [acc])) == (pc2, 2)
    event = ws.db().one("SELECT * FROM events WHERE kind = 'account.moved'")
    assert event["account_id"] == acc and json.loads(event["details_json"])["from_bot"] == "pc1"
    assert "already on bot pc2" in move_cli("MOVER", "--bot", "pc2").stdout


def test_move_an_unbound_account_to_a_bot_without_limit(move_cli, ws_path, ws):
    add(ws, "pc")
    make_account(ws, "free")
    assert "slot 1" in move_cli("free", "--bot", "pc").stdout


def test_move_refusals_are_one_line_errors_and_change_nothing(move_cli, ws_path, ws):
    full = add(ws, "full", slots=1)["id"]
    add(ws, "gone")
    bots.revoke(ws, "gone", actor="test")
    add(ws, "pc")
    make_account(ws, "sitting", bot_id=full, slot=1)
    busy = make_account(ws, "busy")
    make_task(ws, busy, "claimed", full)
    make_account(ws, "old", state="retired")
    make_account(ws, "plain")
    cases = [
        (("plain", "--bot", "full"), "no free slot"),
        (("plain", "--bot", "gone"), "revoked"),
        (("plain", "--bot", "ghost"), "no bot named ghost"),
        (("nobody", "--bot", "pc"), "no account named nobody"),
        (("busy", "--bot", "pc"), "task in progress"),
        (("old", "--bot", "pc"), "retired"),
    ]
    for args, message in cases:
        before = snapshot(ws)
        result = move_cli(*args, expect=1)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], result.stderr
        assert snapshot(ws) == before


def test_lowest_free_slot_at_the_limit(ws_path, ws):
    pc = add(ws, "pc", slots=2)
    db = ws.db()
    row = lambda: db.one("SELECT * FROM bots WHERE id = ?", [pc["id"]])  # noqa: E731
    assert bots.lowest_free_slot(db, row()) == 1
    make_account(ws, "a", bot_id=pc["id"], slot=2)
    assert bots.lowest_free_slot(db, row()) == 1
    make_account(ws, "b", bot_id=pc["id"], slot=1)
    assert bots.lowest_free_slot(db, row()) is None
    unlimited = add(ws, "u")
    make_account(ws, "c", bot_id=unlimited["id"], slot=1)
    assert bots.lowest_free_slot(db, db.one("SELECT * FROM bots WHERE id = ?", [unlimited["id"]])) == 2


def test_help_text_on_every_bot_command(igctl, move_cli):
    for sub in ("add", "list", "revoke"):
        out = igctl("bot", sub, "--help").stdout
        assert "Usage:" in out and len(out.splitlines()) > 3
    assert "--bot NAME" in move_cli("--help").stdout
