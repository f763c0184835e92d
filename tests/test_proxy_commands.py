"""`igctl proxy …` through the real CLI: output, errors (one line, exit 1, nothing changed),
the JSON shape of `proxy list`, and no proxy password anywhere in the workspace."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from conftest import run_igctl_subprocess

SECRET = "Zq7-hunter2-secret"


def make_accounts(ws, names, state="imported", **fields):
    db = ws.db()
    with db.write():
        for i, name in enumerate(names):
            cols = {
                "username": name,
                "password_enc": "x",
                "lifecycle_state": state,
                "created_at": f"2026-03-01T00:00:{i:02d}.000Z",
                "updated_at": "x",
                **fields,
            }
            db.execute(
                f"INSERT INTO accounts ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", list(cols.values())
            )


def snapshot(ws):
    """Everything a refused command must leave as it was."""
    db = ws.db()
    return (
        [tuple(r) for r in db.query("SELECT * FROM proxies ORDER BY id")],
        [tuple(r) for r in db.query("SELECT id, lifecycle_state, proxy_id FROM accounts ORDER BY id")],
        db.scalar("SELECT COUNT(*) FROM events"),
    )


def files_containing(root: Path, needle: str) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file() and needle.encode() in p.read_bytes()]


# -- add ------------------------------------------------------------------------------------
def test_add_prints_the_proxy_without_its_password(igctl, ws):
    out = igctl(
        "proxy",
        "add",
        f"socks5://alice:{SECRET}@[2001:db8::1]:1080",
        "--provider",
        "acme",
        "--location",
        "DE",
        "--cost",
        "3.5",
        "--max-accounts",
        "2",
    ).stdout
    assert out.strip() == "Added proxy 1: socks5://alice@[2001:db8::1]:1080 (holds up to 2 accounts)."
    row = igctl.json("proxy", "add", "192.0.2.1:8080")
    assert row["id"] == 2 and row["host"] == "192.0.2.1" and row["port"] == 8080 and row["username"] is None


@pytest.mark.parametrize(
    "spec, message",
    [
        ("192.0.2.1", "Error: missing port (expected host:port)"),
        ("192.0.2.1:0", "Error: port 0 is out of range (1–65535)"),
        ("192.0.2.1:70000", "Error: port 70000 is out of range (1–65535)"),
        ("192.0.2.1:abc", "Error: port 'abc' is not a number"),
        ("2001:db8::1:8080", "Error: an IPv6 address must be in brackets, e.g. [2001:db8::1]:8080"),
        (":8080", "Error: empty host"),
        ("192.0.2.1 8080", "Error: a proxy spec may not contain spaces"),
        ("ftp://192.0.2.1:21", "Error: unknown scheme 'ftp' (use http, https, socks5 or socks5h)"),
    ],
)
def test_add_bad_spec(igctl, ws, spec, message):
    before = snapshot(ws)
    assert igctl.error("proxy", "add", spec) == message
    assert snapshot(ws) == before


def test_add_duplicate(igctl, ws):
    igctl("proxy", "add", "192.0.2.1:8080:alice:pw")
    before = snapshot(ws)
    assert igctl.error("proxy", "add", "alice:other@192.0.2.1:8080") == (
        "Error: proxy alice@192.0.2.1:8080 is already stored (id 1)"
    )
    assert snapshot(ws) == before


@pytest.mark.parametrize("n", ["0", "4"])
def test_add_max_accounts_outside_one_to_three(igctl, ws, n):
    before = snapshot(ws)
    assert igctl.error("proxy", "add", "192.0.2.1:8080", "--max-accounts", n) == (
        f"Error: max accounts must be 1, 2 or 3 (a proxy holds at most 3 accounts), not {n}"
    )
    assert snapshot(ws) == before


def test_add_malformed_option_values_are_usage_errors(igctl, ws):
    assert igctl("proxy", "add", "192.0.2.1:8080", "--max-accounts", "three", expect=2).exit_code == 2
    assert igctl("proxy", "add", "192.0.2.1:8080", "--cost", "cheap", expect=2).exit_code == 2
    assert igctl.error("proxy", "add", "192.0.2.1:8080", "--cost", "-1") == (
        "Error: cost must be a number of at least 0, not -1.0"
    )


def test_the_command_event_of_add_hides_the_password(igctl, ws, ws_path, monkeypatch):
    spec = f"alice:{SECRET}@192.0.2.1:8080"
    monkeypatch.setattr(sys, "argv", ["igctl", "proxy", "add", spec])
    igctl("proxy", "add", spec)
    event = ws.db().one("SELECT * FROM events WHERE kind = 'command'")
    assert event["message"] == "proxy add"
    assert json.loads(event["details_json"])["argv"] == ["proxy", "add", "alice:***@192.0.2.1:8080"]
    colon = f"192.0.2.2:8080:bob:{SECRET}"
    monkeypatch.setattr(sys, "argv", ["igctl", "proxy", "add", colon])
    igctl("proxy", "add", colon)
    assert files_containing(ws_path, SECRET) == []


@pytest.mark.slow
def test_no_proxy_password_in_the_workspace_after_a_real_add_and_import(tmp_path, ws_path):
    env = {**os.environ, "IGCTL_WORKSPACE": str(ws_path)}
    result = run_igctl_subprocess("proxy", "add", f"socks5://alice:{SECRET}@[2001:db8::1]:1080", env=env)
    assert result.returncode == 0, result.stderr
    listing = tmp_path / "p.txt"
    listing.write_text(f"192.0.2.1:8080:bob:{SECRET}1\ncarol:{SECRET}2@192.0.2.2:8080\n", encoding="utf-8")
    result = run_igctl_subprocess("proxy", "import", listing, env=env)
    assert result.returncode == 0, result.stderr
    argv = [
        json.loads(line)["details"]["argv"]
        for f in (ws_path / "logs").glob("*.jsonl")
        for line in f.read_text().splitlines()
        if json.loads(line)["kind"] == "command"
    ]
    assert ["proxy", "add", "socks5://alice:***@[2001:db8::1]:1080"] in argv
    assert files_containing(ws_path, SECRET) == []


# -- import ---------------------------------------------------------------------------------
def test_import_reports_invalid_lines_and_exits_0(igctl, ws, ws_path, write):
    path = write(
        "proxies.txt",
        f"# comment\n192.0.2.1:8080:alice:{SECRET}\n192.0.2.2\n\n192.0.2.1:8080:alice:x\nbob:pw@[2001:db8::5]:3128\n",
    )
    out = igctl("proxy", "import", path, "--location", "DE").stdout
    assert out.splitlines() == [
        f"Imported 2 proxies from {path}; 1 duplicates and 1 invalid lines skipped.",
        "  line 5: duplicate alice@192.0.2.1:8080 (repeats line 2)",
        "  line 3: missing port (expected host:port)",
    ]
    again = igctl.json("proxy", "import", path)
    assert again["imported"] == 0 and again["file"] == str(path)
    assert [d["line"] for d in again["duplicates"]] == [2, 5, 6]
    assert again["invalid"] == [{"line": 3, "reason": "missing port (expected host:port)"}]
    assert files_containing(ws_path, SECRET) == []
    assert [p["location"] for p in igctl.json("proxy", "list")] == ["DE", "DE"]


def test_import_refuses_a_missing_or_binary_file(igctl, ws, write, tmp_path):
    before = snapshot(ws)
    assert igctl.error("proxy", "import", tmp_path / "nope.txt") == f"Error: no such file: {tmp_path / 'nope.txt'}"
    binary = write("p.bin", b"\x89PNG\r\n\x1a\n\x00\x00")
    assert igctl.error("proxy", "import", binary) == f"Error: {binary} is not a text file (it holds NUL bytes)"
    assert snapshot(ws) == before


def test_import_refuses_a_file_over_the_size_limit(igctl, ws, ws_path, write):
    cfg = ws_path / "igctl.yaml"
    text = cfg.read_text()
    assert "max_file_mb: 200" in text
    cfg.write_text(text.replace("max_file_mb: 200", "max_file_mb: 0.00002"))
    ok = write("ok.txt", "192.0.2.1:8080\n".ljust(20, "#"))
    assert igctl.json("proxy", "import", ok)["imported"] == 1
    big = write("big.txt", "192.0.2.2:8080\n".ljust(21, "#"))
    before = snapshot(ws)
    assert "over the limit" in igctl.error("proxy", "import", big)
    assert snapshot(ws) == before


# -- list -----------------------------------------------------------------------------------
def test_list_json_shape(igctl, ws):
    igctl("proxy", "add", "alice:pw@192.0.2.1:8080", "--provider", "acme", "--location", "DE", "--cost", "2")
    igctl("proxy", "add", "[2001:db8::1]:3128", "--max-accounts", "1")
    rows = igctl.json("proxy", "list")
    untested = {
        "last_test_ok": None,
        "last_latency_ms": None,
        "last_exit_ip": None,
        "last_test_error": None,
        "consecutive_failures": 0,
        "exit_ip_changed_at": None,
        "previous_exit_ip": None,
        "status_changed_at": None,
    }
    assert [{k: v for k, v in r.items() if k not in untested} for r in rows] == [
        {
            "id": 1,
            "host": "192.0.2.1",
            "port": 8080,
            "scheme": "http",
            "username": "alice",
            "provider": "acme",
            "location": "DE",
            "monthly_cost": 2.0,
            "status": "active",
            "account_count": 0,
            "max_accounts": 3,
            "model": None,
            "last_tested_at": None,
            "created_at": "2026-03-02T10:00:00.000Z",
        },
        {
            "id": 2,
            "host": "2001:db8::1",
            "port": 3128,
            "scheme": "http",
            "username": None,
            "provider": None,
            "location": None,
            "monthly_cost": None,
            "status": "active",
            "account_count": 0,
            "max_accounts": 1,
            "model": None,
            "last_tested_at": None,
            "created_at": "2026-03-02T10:00:00.000Z",
        },
    ]
    assert all({k: r[k] for k in untested} == untested for r in rows)
    for key in ("id", "host", "port", "provider", "location", "status", "account_count", "max_accounts", "model"):
        assert all(key in r for r in rows)
    assert all(isinstance(r[k], int) for r in rows for k in ("id", "port", "account_count", "max_accounts"))


def test_list_table_csv_and_filters(igctl, ws):
    igctl("proxy", "add", "192.0.2.1:8080", "--location", "DE")
    igctl("proxy", "add", "192.0.2.2:8080", "--location", "US", "--max-accounts", "1")
    igctl("proxy", "add", "192.0.2.3:8080", "--location", "de")
    igctl("proxy", "set-status", "3", "error")
    make_accounts(ws, ["a"])
    igctl("proxy", "assign", "a", "2")
    table = igctl("proxy", "list").stdout
    assert "http://192.0.2.2:8080" in table and "1/1" in table and "0/3" in table
    assert igctl("proxy", "list", "--csv").stdout.splitlines()[0].startswith("id,host,port,scheme,username,provider")
    assert [p["id"] for p in igctl.json("proxy", "list", "--free")] == [1]
    assert [p["id"] for p in igctl.json("proxy", "list", "--location", "de")] == [1, 3]
    assert [p["id"] for p in igctl.json("proxy", "list", "--status", "error")] == [3]
    assert igctl("proxy", "list", "--status", "broken", expect=2).exit_code == 2
    assert igctl.error("proxy", "list", "--model", "Nobody") == "Error: no model named Nobody"
    assert igctl("proxy", "list", "--free", "--location", "US").stdout.strip() == "(no proxies)"


# -- assignment -----------------------------------------------------------------------------
def test_assign_three_fit_the_fourth_does_not(igctl, ws):
    igctl("proxy", "add", "192.0.2.1:8080")
    make_accounts(ws, ["a1", "a2", "a3", "a4"])
    for name in ("a1", "a2", "a3"):
        assert igctl("proxy", "assign", name, "1").stdout.strip() == f"{name} is on proxy 1; state proxy_assigned."
    before = snapshot(ws)
    assert igctl.error("proxy", "assign", "a4", "1") == "Error: proxy 1 is full (3 of 3 accounts)"
    assert snapshot(ws) == before
    assert igctl.json("proxy", "list")[0]["account_count"] == 3


def test_assign_errors(igctl, ws):
    igctl("proxy", "add", "192.0.2.1:8080")
    make_accounts(ws, ["a"])
    before = snapshot(ws)
    assert igctl.error("proxy", "assign", "nobody", "1") == "Error: no account named nobody"
    assert igctl.error("proxy", "assign", "a", "42") == "Error: no proxy with id 42"
    assert igctl("proxy", "assign", "a", "one", expect=2).exit_code == 2
    assert snapshot(ws) == before


def test_assign_to_a_proxy_of_another_model(igctl, ws):
    db = ws.db()
    with db.write():
        db.execute("INSERT INTO models (name, slug, created_at, updated_at) VALUES ('Alice', 'alice', 'x', 'x')")
        db.execute("INSERT INTO models (name, slug, created_at, updated_at) VALUES ('Bella', 'bella', 'x', 'x')")
    igctl("proxy", "add", "192.0.2.1:8080")
    with db.write():
        db.execute("UPDATE proxies SET assigned_model_id = 2")
    make_accounts(ws, ["acc"], state="active", model_id=1)
    before = snapshot(ws)
    assert igctl.error("proxy", "assign", "acc", "1") == "Error: proxy 1 serves model Bella"
    assert snapshot(ws) == before
    assert [p["id"] for p in igctl.json("proxy", "list", "--model", "bella")] == [1]


def test_auto_assign_and_unassign(igctl, ws):
    igctl("proxy", "add", "192.0.2.1:8080", "--location", "DE")
    igctl("proxy", "add", "192.0.2.2:8080", "--location", "US")
    make_accounts(ws, [f"a{i}" for i in range(5)])
    result = igctl.json("proxy", "auto-assign", "--location", "de")
    assert result == {"assigned": 3, "accounts": ["a0", "a1", "a2"], "left_without_proxy": 2}
    assert igctl("proxy", "auto-assign").stdout.strip() == "2 accounts got a proxy; 0 are left without one."
    assert [p["account_count"] for p in igctl.json("proxy", "list")] == [3, 2]
    assert igctl("proxy", "unassign", "a0").stdout.strip() == "a0 is off proxy 1; state imported."
    before = snapshot(ws)
    assert igctl.error("proxy", "unassign", "a0") == "Error: account a0 has no proxy"
    assert igctl.error("proxy", "unassign", "nobody") == "Error: no account named nobody"
    assert snapshot(ws) == before
    commands = [r["message"] for r in ws.db().query("SELECT message FROM events WHERE kind = 'command'")]
    assert commands == ["proxy add", "proxy add", "proxy auto-assign", "proxy auto-assign", "proxy unassign"]


# -- status and removal ---------------------------------------------------------------------
def test_set_status(igctl, ws):
    igctl("proxy", "add", "192.0.2.1:8080")
    assert igctl("proxy", "set-status", "1", "inactive", "--reason", "provider outage").stdout.strip() == (
        "Proxy 1: active → inactive."
    )
    assert igctl("proxy", "set-status", "1", "inactive").stdout.strip() == "Proxy 1 is already inactive."
    events = igctl.json("log", "--kind", "proxy.status")
    assert len(events) == 1
    assert events[0]["details"] == {"old_status": "active", "new_status": "inactive"}
    assert events[0]["cause"] == "provider outage" and events[0]["proxy_id"] == 1
    assert igctl("proxy", "set-status", "1", "broken", expect=2).exit_code == 2
    before = snapshot(ws)
    assert igctl.error("proxy", "set-status", "9", "error") == "Error: no proxy with id 9"
    assert snapshot(ws) == before
    make_accounts(ws, ["a"])
    assert igctl.json("proxy", "auto-assign")["assigned"] == 0


def test_remove(igctl, ws):
    igctl("proxy", "add", "192.0.2.1:8080")
    igctl("proxy", "add", "192.0.2.2:8080:alice:pw")
    make_accounts(ws, ["a", "b"])
    igctl("proxy", "assign", "a", "1")
    igctl("proxy", "assign", "b", "1")
    before = snapshot(ws)
    assert igctl.error("proxy", "remove", "1") == (
        "Error: proxy 1 is used by 2 accounts; move them off first (proxy unassign, or proxy assign USERNAME OTHER_ID)"
    )
    assert igctl.error("proxy", "remove", "7") == "Error: no proxy with id 7"
    assert snapshot(ws) == before
    assert igctl("proxy", "remove", "2").stdout.strip() == "Removed proxy 2 (http://alice@192.0.2.2:8080)."
    assert [p["id"] for p in igctl.json("proxy", "list")] == [1]
    assert igctl.json("log", "--kind", "proxy.removed")[0]["proxy_id"] == 2
