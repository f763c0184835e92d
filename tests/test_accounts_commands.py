"""`igctl accounts list / show / retire` and the engine functions behind them."""

from __future__ import annotations

import csv
import io
import json
import sqlite3

import pytest

from igctl.engine.domain import accounts as engine
from igctl.engine.store.errors import NotFound

LIST_KEYS = {
    "id",
    "username",
    "lifecycle_state",
    "warmup_step",
    "proxy_id",
    "model",
    "requires_human_review",
    "retry_count",
    "last_error_message",
}
ACCOUNT_FIELDS_OF_REQUIREMENTS = {
    "lifecycle_state",
    "warmup_step",
    "warmup_started_at",
    "warmup_completed_at",
    "assigned_to_model_at",
    "proxy_id",
    "proxy_assigned_at",
    "last_bot_action_by",
    "last_bot_action_at",
    "requires_human_review",
    "last_error_message",
    "last_error_at",
    "retry_count",
}
T = "2026-03-01T08:00:00.000Z"


# -- arranging ---------------------------------------------------------------------------
def sql(ws_path, statement, params=()):
    conn = sqlite3.connect(ws_path / "igctl.db")
    conn.row_factory = sqlite3.Row
    try:
        with conn:
            return [dict(r) for r in conn.execute(statement, params)]
    finally:
        conn.close()


def snapshot(ws_path) -> dict:
    state = {
        t: sql(ws_path, f"SELECT * FROM {t} ORDER BY rowid") for t in ("accounts", "events", "proxies", "tasks", "bots")
    }
    state["logs"] = sorted((p.name, p.read_bytes()) for p in (ws_path / "logs").iterdir())
    return state


@pytest.fixture
def fleet(igctl, ws_path, write):
    """alice, bob, carol imported; a proxy; a model; a bot; some tasks."""
    igctl(
        "accounts",
        "import",
        "--no-assign",
        write("a.txt", "alice,Pw-Alice-1,alice@example.com,Mail-Alice-1,seed-A\nbob,Pw-Bob-1\ncarol,Pw-Carol-1\n"),
    )
    sql(
        ws_path,
        "INSERT INTO models (name, slug, created_at, updated_at) VALUES ('Alice Model', 'alice-model', ?, ?)",
        [T, T],
    )
    sql(ws_path, "INSERT INTO proxies (host, port, created_at, updated_at) VALUES ('192.0.2.1', 8080, ?, ?)", [T, T])
    sql(ws_path, "INSERT INTO proxies (host, port, created_at, updated_at) VALUES ('192.0.2.2', 8080, ?, ?)", [T, T])
    sql(ws_path, "INSERT INTO bots (name, token_hash, slots, created_at) VALUES ('pc-1', 'h1', 4, ?)", [T])
    # bob: active in the model on proxy 1, bound to bot pc-1 slot 2; carol: warming up on proxy 2 with an error
    sql(
        ws_path,
        "UPDATE accounts SET lifecycle_state = 'active', proxy_id = 1, model_id = 1, bot_id = 1, slot = 2, "
        "warmup_step = 5, assigned_to_model_at = ? WHERE username = 'bob'",
        [T],
    )
    sql(ws_path, "UPDATE proxies SET assigned_model_id = 1 WHERE id = 1")
    sql(
        ws_path,
        "UPDATE accounts SET lifecycle_state = 'warming_up', proxy_id = 2, warmup_step = 2, retry_count = 2, "
        "requires_human_review = 1, last_error_message = 'challenge required', last_error_at = ? WHERE username = 'carol'",
        [T],
    )
    for key, status, account in (
        ("b1", "queued", 2),
        ("b2", "claimed", 2),
        ("b3", "completed", 2),
        ("c1", "queued", 3),
    ):
        sql(
            ws_path,
            "INSERT INTO tasks (account_id, kind, step_name, idempotency_key, status, due_at, bot_id, created_at, updated_at) "
            "VALUES (?, 'post', 'post', ?, ?, ?, ?, ?, ?)",
            [account, key, status, T, 1 if status == "claimed" else None, T, T],
        )
    sql(
        ws_path,
        "INSERT INTO step_log (task_id, account_id, kind, step_number, step_name, started_at, status, error_message, "
        "error_details_json, retry_count) VALUES (4, 3, 'warmup', 2, 'change_bio', ?, 'failed', 'challenge required', "
        '\'{"screen": "checkpoint"}\', 1)',
        [T],
    )
    return ws_path


# -- list ------------------------------------------------------------------------------------
def test_list_json_has_the_contract_keys_and_types(igctl, fleet):
    data = igctl.json("accounts", "list")
    assert [r["username"] for r in data] == ["alice", "bob", "carol"]
    for row in data:
        assert set(row) >= LIST_KEYS
        assert set(row) >= ACCOUNT_FIELDS_OF_REQUIREMENTS
        assert isinstance(row["id"], int) and isinstance(row["requires_human_review"], bool)
        assert not any(k.endswith("_enc") or "password" in k for k in row)
    alice, bob, carol = data
    assert (alice["lifecycle_state"], alice["proxy_id"], alice["model"], alice["email"]) == (
        "imported",
        None,
        None,
        "alice@example.com",
    )
    assert (bob["lifecycle_state"], bob["proxy_id"], bob["model"], bob["bot"], bob["slot"]) == (
        "active",
        1,
        "Alice Model",
        "pc-1",
        2,
    )
    assert (
        carol["warmup_step"],
        carol["retry_count"],
        carol["requires_human_review"],
        carol["last_error_message"],
    ) == (
        2,
        2,
        True,
        "challenge required",
    )


def test_list_filters(igctl, fleet):
    assert [r["username"] for r in igctl.json("accounts", "list", "--state", "warming_up")] == ["carol"]
    assert [r["username"] for r in igctl.json("accounts", "list", "--model", "alice model")] == ["bob"]
    assert [r["username"] for r in igctl.json("accounts", "list", "--proxy", "2")] == ["carol"]
    assert igctl.json("accounts", "list", "--state", "ready") == []
    assert igctl.json("accounts", "list", "--state", "active", "--proxy", "2") == []
    assert [r["username"] for r in igctl.json("accounts", "list", "--limit", "2")] == ["alice", "bob"]


def test_list_csv_has_every_column(igctl, fleet):
    out = igctl("accounts", "list", "--csv").stdout
    records = list(csv.DictReader(io.StringIO(out)))
    assert [r["username"] for r in records] == ["alice", "bob", "carol"]
    assert set(records[0]) >= LIST_KEYS


def test_list_table_shows_local_times(igctl, fleet):
    out = igctl("accounts", "list").stdout
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["id", "username", "state", "step"]
    carol = next(line for line in lines if "carol" in line)
    assert "yes" in carol and "challenge required" in carol and "2026-03-02 10:00" in carol


def test_list_empty(igctl, ws_path):
    assert igctl("accounts", "list").stdout.strip() == "(no accounts)"
    assert igctl.json("accounts", "list") == []


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ("--state", "warming"),
            "Error: unknown state 'warming'; the states are: imported, proxy_assigned, warming_up, human_review, ready, active, cleanup, retired",
        ),
        (("--model", "Nobody"), "Error: no model named Nobody"),
        (("--proxy", "99"), "Error: no proxy with id 99"),
    ],
)
def test_list_bad_filters(igctl, fleet, args, message):
    before = snapshot(fleet)
    assert igctl.error("accounts", "list", *args) == message
    assert snapshot(fleet) == before


def test_list_malformed_option_values_are_usage_errors(igctl, fleet):
    assert igctl("accounts", "list", "--proxy", "x", expect=2).exit_code == 2
    assert igctl("accounts", "list", "--limit", "0", expect=2).exit_code == 2


# -- show ------------------------------------------------------------------------------------
def test_show_json_without_secrets(igctl, fleet):
    data = json.loads(igctl("accounts", "show", "CAROL", "--json").stdout)
    assert set(data) >= LIST_KEYS and set(data) >= ACCOUNT_FIELDS_OF_REQUIREMENTS
    assert data["username"] == "carol" and data["lifecycle_state"] == "warming_up"
    assert "password" not in data and "email_password" not in data and "extras" not in data
    assert data["proxy"] == {
        "id": 2,
        "scheme": "http",
        "host": "192.0.2.2",
        "port": 8080,
        "username": "",
        "location": None,
        "provider": None,
        "status": "active",
    }
    assert [t["status"] for t in data["open_tasks"]] == ["queued"]
    (step,) = data["step_log"]
    assert (step["step_number"], step["step_name"], step["status"]) == (2, "change_bio", "failed")
    assert step["error_details"] == {"screen": "checkpoint"}
    assert isinstance(data["events"], list)
    assert "Pw-Carol" not in json.dumps(data)


def test_show_events_are_this_accounts(igctl, fleet):
    igctl("accounts", "retire", "alice", "--reason", "banned")
    data = json.loads(igctl("accounts", "show", "alice", "--json").stdout)
    assert [e["kind"] for e in data["events"]] == ["account.state"]
    assert data["events"][0]["new_state"] == "retired"
    assert json.loads(igctl("accounts", "show", "bob", "--json").stdout)["events"] == []


def test_show_reveal_decrypts_and_is_logged(igctl, fleet):
    data = json.loads(igctl("accounts", "show", "alice", "--reveal", "--json").stdout)
    assert (data["password"], data["email_password"], data["extras"]) == ("Pw-Alice-1", "Mail-Alice-1", ["seed-A"])
    assert data["has_email_password"] is True and data["has_extras"] is True
    reveal = sql(fleet, "SELECT * FROM events WHERE kind = 'account.reveal'")
    assert len(reveal) == 1 and reveal[0]["account_id"] == 1 and reveal[0]["actor"].startswith("user")
    assert [e["kind"] for e in data["events"]] == ["account.reveal"]
    bob = json.loads(igctl("accounts", "show", "bob", "--reveal", "--json").stdout)
    assert (bob["password"], bob["email_password"], bob["extras"]) == ("Pw-Bob-1", None, [])


def test_show_human(igctl, fleet):
    out = igctl("accounts", "show", "carol").stdout
    assert "lifecycle_state        warming_up" in out
    assert "proxy                  192.0.2.2:8080 (active)" in out
    assert "Step log:" in out and "change_bio" in out and "Events:" in out
    assert "Pw-Carol" not in out
    assert not any(line.startswith(("password ", "email_password ", "extras ")) for line in out.splitlines())
    revealed = igctl("accounts", "show", "carol", "--reveal").stdout
    assert "password               Pw-Carol-1" in revealed.splitlines()


def test_show_unknown_account(igctl, fleet):
    before = snapshot(fleet)
    assert igctl.error("accounts", "show", "nobody") == "Error: no account named nobody"
    assert igctl.error("accounts", "show", "nobody", "--reveal") == "Error: no account named nobody"
    assert snapshot(fleet) == before


def test_get_account_is_case_insensitive(ws, fleet):
    assert engine.get_account(ws, "ALICE")["username"] == "alice"
    with pytest.raises(NotFound, match="no account named zed"):
        engine.get_account(ws, "zed")


# -- retire ----------------------------------------------------------------------------------
def test_retire_frees_proxy_and_device_slots_and_cancels_tasks(igctl, fleet):
    out = igctl("accounts", "retire", "bob", "--reason", "banned by Instagram").stdout
    assert out.strip() == "Retired bob (was active; proxy 1 slot freed; device slot freed; 2 tasks cancelled)."
    (bob,) = sql(fleet, "SELECT * FROM accounts WHERE username = 'bob'")
    assert bob["lifecycle_state"] == "retired"
    assert (bob["proxy_id"], bob["bot_id"], bob["slot"]) == (None, None, None)
    assert bob["retired_reason"] == "banned by Instagram" and bob["retired_at"] == "2026-03-02T10:00:00.000Z"
    assert bob["model_id"] == 1  # kept for the record and the reports
    tasks = {t["idempotency_key"]: t["status"] for t in sql(fleet, "SELECT * FROM tasks WHERE account_id = 2")}
    assert tasks == {"b1": "cancelled", "b2": "cancelled", "b3": "completed"}
    assert sql(fleet, "SELECT status FROM tasks WHERE idempotency_key = 'c1'") == [{"status": "queued"}]
    (move,) = sql(fleet, "SELECT * FROM events WHERE kind = 'account.state'")
    assert (move["old_state"], move["new_state"], move["cause"]) == (
        "active",
        "retired",
        "retired: banned by Instagram",
    )
    details = json.loads(move["details_json"])
    assert details["proxy_id"] == 1 and details["bot_id"] == 1 and details["slot"] == 2
    assert details["cancelled_tasks"] == [1, 2]
    assert len(sql(fleet, "SELECT * FROM events WHERE kind = 'task.cancelled'")) == 2
    # the proxy no longer serves the model: none of its accounts is in it
    assert sql(fleet, "SELECT assigned_model_id FROM proxies WHERE id = 1") == [{"assigned_model_id": None}]
    assert sql(fleet, "SELECT message FROM events WHERE kind = 'command'")[-1]["message"] == "accounts retire"


def test_retire_several_from_any_state(igctl, fleet):
    data = json.loads(igctl("accounts", "retire", "alice", "CAROL", "carol", "--reason", "given up", "--json").stdout)
    assert [(r["username"], r["old_state"], r["proxy_id"], r["cancelled_tasks"]) for r in data] == [
        ("alice", "imported", None, []),
        ("carol", "warming_up", 2, [4]),
    ]
    states = {
        r["username"]: (r["lifecycle_state"], r["requires_human_review"]) for r in sql(fleet, "SELECT * FROM accounts")
    }
    assert states == {"alice": ("retired", 0), "bob": ("active", 0), "carol": ("retired", 0)}


def test_retired_accounts_are_listed_by_state(igctl, fleet):
    igctl("accounts", "retire", "alice", "--reason", "disabled")
    assert [r["username"] for r in igctl.json("accounts", "list", "--state", "retired")] == ["alice"]


def test_retire_with_an_unknown_username_changes_nothing(igctl, fleet):
    before = snapshot(fleet)
    assert igctl.error("accounts", "retire", "alice", "ghost", "--reason", "x") == "Error: no account named ghost"
    assert (
        igctl.error("accounts", "retire", "ghost", "phantom", "--reason", "x")
        == "Error: no accounts named ghost, phantom"
    )
    assert snapshot(fleet) == before


def test_retire_a_retired_account_is_refused_and_changes_nothing(igctl, fleet):
    igctl("accounts", "retire", "carol", "--reason", "banned")
    before = snapshot(fleet)
    assert (
        igctl.error("accounts", "retire", "alice", "carol", "--reason", "again")
        == "Error: account carol is already retired"
    )
    assert snapshot(fleet) == before


def test_retire_needs_a_reason(igctl, fleet):
    before = snapshot(fleet)
    assert igctl("accounts", "retire", "alice", expect=2).exit_code == 2
    assert (
        igctl.error("accounts", "retire", "alice", "--reason", "   ")
        == "Error: a reason is required to retire an account (--reason TEXT)"
    )
    assert snapshot(fleet) == before


def test_retired_proxy_slot_is_free_again(igctl, fleet, write):
    # proxy 2 held carol; after retiring her, auto-assignment may fill it again
    igctl("accounts", "retire", "carol", "--reason", "banned")
    result = json.loads(igctl("accounts", "import", write("b.txt", "dave,pw\n"), "--json").stdout)
    assert result["proxies_assigned"] == 2  # alice and dave
    placed = {r["username"]: r["proxy_id"] for r in sql(fleet, "SELECT * FROM accounts")}
    assert placed["carol"] is None and placed["dave"] is not None


def test_engine_retire_is_all_or_nothing(ws, fleet):
    db = ws.db()
    before = snapshot(fleet)
    with pytest.raises(NotFound):
        engine.retire(ws, ["bob", "nobody"], reason="x", actor="test")
    assert snapshot(fleet) == before
    assert db.scalar("SELECT lifecycle_state FROM accounts WHERE username = 'bob'") == "active"
