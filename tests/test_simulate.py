"""Simulated bots: the reusable core against a real server, and `igctl bots simulate`."""

from __future__ import annotations

import json

import pytest
from botserver_helpers import LiveServer
from warmup_helpers import fleet, seed_templates, snapshot

from igctl.engine.domain import bots
from igctl.engine.flows import tick as engine_tick
from igctl.simulation import run_bots, tiny_png


@pytest.fixture
def due(ws):
    seed_templates(ws)
    ids = fleet(ws, 12)
    engine_tick.tick(ws)
    return ids


@pytest.fixture
def server(ws_path, due):
    s = LiveServer(ws_path)
    yield s
    s.stop()


def test_tiny_png_is_a_png():
    data = tiny_png()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and data.endswith(b"IEND\xaeB`\x82")


def test_run_bots_works_every_due_task_once_and_stops_when_idle(ws, server, due):
    tokens = [bots.add(ws, f"sim{i}", actor="test")["token"] for i in range(3)]
    result = run_bots(
        server.url, tokens, duration=30, failure_rate=0.0, work_ms=(0, 2), idle_wait=0.05, stop_when_idle=0.3, seed=1
    )
    total = result["total"]
    assert total["completed"] == 12 and total["claimed"] == 12 and total["failed"] == 0
    assert total["errors"] == 0 and total["conflicts"] == 0
    assert total["images"] == 12 and total["metrics"] == 12 and total["heartbeats"] >= 3
    assert sorted(result["task_ids"]) == sorted(set(result["task_ids"]))
    db = ws.db()
    assert (
        db.scalar("SELECT COUNT(*) FROM tasks WHERE kind = 'warmup' AND step_number = 1 AND status = 'completed'") == 12
    )
    assert db.scalar("SELECT COUNT(*) FROM account_metrics") == 12
    assert result["seconds"] < 30


def test_run_bots_with_failures_reports_them_with_screenshots(ws, server, due):
    tokens = [bots.add(ws, f"sim{i}", actor="test")["token"] for i in range(2)]
    result = run_bots(
        server.url,
        tokens,
        duration=30,
        failure_rate=1.0,
        error_kinds=("challenge",),
        work_ms=(0, 1),
        idle_wait=0.05,
        stop_when_idle=0.3,
        seed=2,
    )
    total = result["total"]
    assert total["failed"] == 12 and total["completed"] == 0 and total["screenshots"] == 12
    db = ws.db()
    assert db.scalar("SELECT COUNT(*) FROM accounts WHERE lifecycle_state = 'human_review'") == 12
    assert db.scalar("SELECT COUNT(*) FROM step_log WHERE screenshot_path IS NOT NULL") == 12


def test_run_bots_stops_at_max_completed(ws, server, due):
    tokens = [bots.add(ws, "sim", actor="test")["token"]]
    result = run_bots(server.url, tokens, duration=30, failure_rate=0.0, work_ms=(0, 0), max_completed=5)
    assert result["total"]["completed"] == 5


def test_simulate_command_registers_bots_and_prints_a_table(igctl, ws, server, due):
    out = igctl(
        "bots",
        "simulate",
        "--bots",
        2,
        "--server",
        server.url,
        "--failure-rate",
        0,
        "--work-ms",
        "0-1",
        "--until-idle",
        0.3,
        "--duration",
        30,
        "--seed",
        3,
        "--json",
    )
    data = json.loads(out.stdout)
    assert data["total"]["completed"] == 12 and len(data["bots"]) == 2
    assert all(b["bot"].startswith("sim-") for b in data["bots"])
    assert ws.db().scalar("SELECT COUNT(*) FROM events WHERE kind = 'command' AND message = 'bots simulate'") == 1
    table = igctl("bots", "simulate", "--bots", 1, "--server", server.url, "--duration", 0.2, "--work-ms", "0")
    assert "total" in table.stdout and "completed" in table.stdout


def test_simulate_command_with_a_token_file(igctl, ws, server, due, write):
    a = bots.add(ws, "pc-a", actor="test")
    b = bots.add(ws, "pc-b", actor="test")
    tokens = write("tokens.txt", f"# our phones\n{a['token']}\n\n{json.dumps(b)}\n")
    data = json.loads(
        igctl(
            "bots",
            "simulate",
            "--token-file",
            tokens,
            "--server",
            server.url,
            "--failure-rate",
            0,
            "--work-ms",
            "0-1",
            "--until-idle",
            0.3,
            "--json",
        ).stdout
    )
    assert sorted(r["bot"] for r in data["bots"]) == ["pc-a", "pc-b"] and data["total"]["completed"] == 12


def test_simulate_refuses_bad_input_cleanly(igctl, ws, server, due, write):
    before = snapshot(ws)
    assert "not accepted" in igctl.error(
        "bots", "simulate", "--token-file", write("bad.txt", "not-a-valid-token-x\n"), "--server", server.url
    )
    assert "holds no token" in igctl.error(
        "bots", "simulate", "--token-file", write("empty.txt", "# nothing\n"), "--server", server.url
    )
    assert "not a bot token" in igctl.error(
        "bots", "simulate", "--token-file", write("junk.txt", "a b c\n"), "--server", server.url
    )
    assert "no bot API answers" in igctl.error("bots", "simulate", "--server", "http://127.0.0.1:9", "--duration", 1)
    assert "must be http" in igctl.error("bots", "simulate", "--server", "ftp://x", "--duration", 1)
    assert snapshot(ws) == before
    for args in (
        ["--failure-rate", "1.5"],
        ["--failure-rate", "-0.1"],
        ["--work-ms", "200-20"],
        ["--work-ms", "abc"],
        ["--bots", "0"],
        ["--duration", "0"],
        ["--error-kinds", "meteor"],
    ):
        result = igctl("bots", "simulate", "--server", server.url, *args, expect=2)
        assert "Traceback" not in result.output
    assert snapshot(ws) == before
