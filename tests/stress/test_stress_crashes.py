"""Crashes (product.md §9: "a crash of any process at any point loses no committed data and
leaves no account stuck"; §7 leases). Real processes killed with SIGKILL — no clean-up runs:
- `serve-bots` during concurrent completions: the file passes integrity_check, every
  completion a bot got a 2xx for is recorded, every claimed task completes or goes back to the
  queue once its lease runs out, and the whole queue is then worked off with no task done twice;
- `warmup tick` at random points: re-running it gives exactly the tables of one uninterrupted run;
- `igctl watch` while it imports and moves a file: the file is in exactly one of inbox,
  processed or failed, and a re-run imports it exactly once;
- a bot process killed after claiming: the task is claimable again after the lease (not a
  second before), the attempt counted; a bot that keeps heartbeating keeps its task for three
  lease lengths with no second hand-out.
SIGKILL during `accounts import` is tests/test_import_crash.py."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from datetime import datetime, timedelta

import pytest
from botserver_helpers import LiveServer
from warmup_helpers import add_accounts, add_proxies, fleet, seed_templates

from igctl.botclient import ApiError, BotClient, ConnectionFailed
from igctl.engine.domain import bots
from igctl.engine.flows import tick as engine_tick

pytestmark = pytest.mark.stress

NOW = datetime(2026, 3, 2, 10, 0, 0)
LEASE = timedelta(minutes=20)  # bot.lease_minutes, the default


def at(delta: timedelta) -> str:
    return (NOW + delta).isoformat()


def integrity(db_path) -> str:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def start_server(ws_path, now: str, threads: int = 8):
    env = {**os.environ, "IGCTL_WORKSPACE": str(ws_path), "IGCTL_NOW": now}
    proc = subprocess.Popen(
        [sys.executable, "-m", "igctl", "serve-bots", "--port", "0", "--threads", str(threads)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    line = proc.stdout.readline()
    m = re.search(r"on (http://[^ ]+) \(", line)
    assert m, line
    return proc, m.group(1)


# -- serve-bots --------------------------------------------------------------------------------
TASKS = 1000
BOTS = 8


def work(url: str, tokens: list[str], *, stop_after: int | None = None):
    """Bots that claim and complete until the server is gone or nothing is left. Returns
    (claims answered, completions answered 2xx, server errors)."""
    claimed: list[int] = []
    completed: list[int] = []
    server_errors: list[ApiError] = []
    lock = threading.Lock()

    def bot(token):
        client = BotClient(url, token, retries=0, timeout=30)
        try:
            while True:
                task = client.next_task()
                if task is None:
                    return
                with lock:
                    claimed.append(task["task_id"])
                client.complete(task["task_id"], execution_time_ms=1)
                with lock:
                    completed.append(task["task_id"])
        except ConnectionFailed:
            return  # the server was killed
        except ApiError as exc:
            if exc.status >= 500:
                server_errors.append(exc)
        finally:
            client.close()

    threads = [threading.Thread(target=bot, args=(t,)) for t in tokens]
    for th in threads:
        th.start()
    return threads, claimed, completed, server_errors


def test_sigkill_of_serve_bots_during_a_thousand_concurrent_completions_loses_nothing(ws, ws_path):
    seed_templates(ws)
    fleet(ws, TASKS)
    engine_tick.tick(ws)
    tokens = [bots.add(ws, f"phone{i}", actor="test")["token"] for i in range(BOTS)]
    ws.close()
    survived = 0
    all_completed: list[int] = []
    for round_, kill_after in enumerate((120, 450)):
        proc, url = start_server(ws_path, at(timedelta(minutes=round_)))
        threads, claimed, completed, server_errors = work(url, tokens)
        deadline = time.monotonic() + 120
        while len(completed) < kill_after and time.monotonic() < deadline and any(t.is_alive() for t in threads):
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)  # in the middle of claims and completions
        proc.wait()
        for th in threads:
            th.join(timeout=60)
        assert server_errors == []
        assert integrity(ws_path / "igctl.db") == "ok"
        db = ws.db()
        # every completion answered 2xx is recorded
        for task_id in completed:
            assert db.scalar("SELECT status FROM tasks WHERE id = ?", [task_id]) == "completed"
        # every claim answered is either completed or still claimed (its lease runs out below)
        for task_id in set(claimed) - set(completed):
            assert db.scalar("SELECT status FROM tasks WHERE id = ?", [task_id]) in ("claimed", "completed")
        all_completed += completed
        survived += 1
        ws.close()

    # Restart once every lease has run out: the tasks the kills left claimed go back to the
    # queue at the first claim, and the bots finish the whole queue.
    db = ws.db()
    stuck = [r[0] for r in db.query("SELECT id FROM tasks WHERE status = 'claimed'")]
    ws.close()
    proc, url = start_server(ws_path, at(timedelta(minutes=2) + LEASE + timedelta(seconds=1)))
    try:
        threads, claimed, completed, server_errors = work(url, tokens)
        for th in threads:
            th.join(timeout=300)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    assert server_errors == []
    db = ws.db()
    assert db.scalar("SELECT COUNT(*) FROM tasks WHERE step_number = 1 AND status != 'completed'") == 0
    assert db.scalar("SELECT COUNT(*) FROM tasks WHERE step_number = 2") == TASKS  # each account advanced once
    done_events = Counter(r[0] for r in db.query("SELECT task_id FROM events WHERE kind = 'task.completed'"))
    assert len(done_events) == TASKS and set(done_events.values()) == {1}  # none done twice
    assert set(stuck) <= set(completed)  # the stranded tasks were handed out again and done
    expired = db.scalar("SELECT COUNT(*) FROM events WHERE kind = 'task.lease_expired'")
    assert expired == len(stuck)
    for task_id in stuck:
        assert db.scalar("SELECT attempts FROM tasks WHERE id = ?", [task_id]) == 2  # the lost attempt counted
    assert survived == 2 and len(all_completed) >= 120


# -- warmup tick ---------------------------------------------------------------------------------
TABLES = ("accounts", "tasks", "step_log", "proxies", "events", "models", "content_usage")


def table_rows(db_path) -> dict:
    conn = sqlite3.connect(db_path)
    try:
        out = {}
        for table in TABLES:
            cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
            out[table] = [tuple(r) for r in conn.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY rowid")]
        return out
    finally:
        conn.close()


def run_tick(ws_path, now: str) -> subprocess.Popen:
    env = {**os.environ, "IGCTL_WORKSPACE": str(ws_path), "IGCTL_NOW": now}
    return subprocess.Popen(
        [sys.executable, "-m", "igctl", "warmup", "tick", "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_sigkill_of_warmup_tick_at_random_points_then_a_rerun_equals_one_uninterrupted_run(ws, ws_path, tmp_path):
    # a fleet with work in every phase of a tick: proxies to assign, warm-ups to start,
    # accounts to repair, leases to expire
    seed_templates(ws)
    fleet(ws, 150, prefix="started")
    engine_tick.tick(ws)
    bot = bots.add(ws, "phone", actor="test")
    from igctl.engine.flows import botwork

    for _ in range(40):
        botwork.claim_next(ws, bot["id"])  # leases that the tick below finds expired
    add_proxies(ws, 200, start=1000)
    add_accounts(ws, 450, state="imported", prefix="new")
    add_accounts(ws, 60, state="warming_up", prefix="orphan", warmup_step=1)  # no task: repair queues one
    ws.db().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    ws.close()
    when = at(LEASE + timedelta(hours=1))

    baseline = tmp_path / "baseline"
    shutil.copytree(ws_path, baseline)
    started = time.monotonic()
    proc = run_tick(baseline, when)
    out, err = proc.communicate(timeout=300)
    duration = time.monotonic() - started
    assert proc.returncode == 0, err
    did = json.loads(out)
    assert did["proxies_assigned"] and did["warmups_started"] and did["leases_expired"] == 40
    expected = table_rows(baseline / "igctl.db")

    rng = random.Random(7)
    killed_inside = 0
    for n in range(6):
        copy = tmp_path / f"copy{n}"
        shutil.copytree(ws_path, copy)
        proc = run_tick(copy, when)
        time.sleep(rng.uniform(0.05, duration))
        if proc.poll() is None:
            killed_inside += 1
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        assert integrity(copy / "igctl.db") == "ok"
        after_kill = table_rows(copy / "igctl.db")
        assert after_kill in (table_rows(ws_path / "igctl.db"), expected)  # nothing half-done
        rerun = run_tick(copy, when)
        _, err = rerun.communicate(timeout=300)
        assert rerun.returncode == 0, err
        assert table_rows(copy / "igctl.db") == expected, n
    assert killed_inside >= 3  # most kills landed while the tick was running


# -- watch ---------------------------------------------------------------------------------------
def test_sigkill_of_watch_while_it_imports_and_moves_leaves_the_file_in_one_place(ws_path, tmp_path):
    config = ws_path / "igctl.yaml"
    config.write_text(config.read_text() + "\nwatch:\n  settle_seconds: 0\n")
    source = tmp_path / "drop.txt"
    lines = 40_000
    source.write_text("".join(f"drop_{i:06d},Pw-{i}-x,d{i}@example.com\n" for i in range(lines)))
    env = {**os.environ, "IGCTL_WORKSPACE": str(ws_path)}
    inbox = ws_path / "inbox"

    def places() -> list[str]:
        found = []
        for where in ("accounts", "processed", "failed"):
            found += [where for p in (inbox / where).iterdir() if p.name == "drop.txt"]
        return found

    # how long one undisturbed run takes, in a copy
    probe = tmp_path / "probe"
    shutil.copytree(ws_path, probe)
    shutil.copyfile(source, probe / "inbox" / "accounts" / "drop.txt")
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "igctl", "watch", "--once"],
        env={**env, "IGCTL_WORKSPACE": str(probe)},
        check=True,
        capture_output=True,
    )
    duration = time.monotonic() - started

    rng = random.Random(11)
    outcomes = Counter()
    for n in range(6):
        shutil.copyfile(source, inbox / "accounts" / "drop.txt")
        proc = subprocess.Popen(
            [sys.executable, "-m", "igctl", "watch", "--once"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.1, duration * 1.1))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        where = places()
        assert len(where) == 1, where  # in exactly one of inbox, processed, failed
        outcomes[where[0]] += 1
        assert integrity(ws_path / "igctl.db") == "ok"
        conn = sqlite3.connect(ws_path / "igctl.db")
        count = conn.execute("SELECT COUNT(*) FROM accounts").fetchone()[0]
        conn.close()
        assert count in (0, lines)  # the file's import is all or nothing
        # the next run finishes the job: imported exactly once, the file in processed/
        subprocess.run([sys.executable, "-m", "igctl", "watch", "--once"], env=env, check=True, capture_output=True)
        assert places() == ["processed"]
        conn = sqlite3.connect(ws_path / "igctl.db")
        assert conn.execute("SELECT COUNT(*) FROM accounts").fetchone()[0] == lines
        assert (
            conn.execute(
                "SELECT COUNT(*) FROM events WHERE kind = 'accounts.import' AND message NOT LIKE '%dry run%'"
            ).fetchone()[0]
            == 1
        )
        conn.close()
        # the copies that piled up in processed/ (repeats of the same content) are all kept
        kept = [p for p in (inbox / "processed").iterdir() if p.name.endswith("drop.txt")]
        assert len(kept) == n + 1
        for p in list((inbox / "processed").iterdir()):
            if p.name == "drop.txt" or p.name == "drop.txt.result.json":
                p.rename(inbox / "processed" / f"{n}-{p.name}")
    assert outcomes["accounts"] >= 1  # some kills landed before the move


# -- a bot killed after claiming; a bot that heartbeats -------------------------------------------
BOT_SCRIPT = textwrap.dedent("""
    import sys, time
    from igctl.botclient import BotClient
    client = BotClient(sys.argv[1], sys.argv[2], retries=0)
    task = client.next_task()
    print(task["task_id"], flush=True)
    time.sleep(600)  # "working" until killed
""")


@pytest.fixture
def one_task(ws, ws_path):
    seed_templates(ws)
    fleet(ws, 1)
    engine_tick.tick(ws)
    bot = bots.add(ws, "phone", actor="test")
    other = bots.add(ws, "other", actor="test")
    server = LiveServer(ws_path, threads=4)  # in this process: IGCTL_NOW moves its clock
    yield {"server": server, "bot": bot, "other": other}
    server.stop()


def test_a_bot_killed_after_claiming_gets_its_task_again_after_the_lease_not_before(one_task, ws, clock):
    server, bot, other = one_task["server"], one_task["bot"], one_task["other"]
    proc = subprocess.Popen(
        [sys.executable, "-c", BOT_SCRIPT, server.url, bot["token"]], stdout=subprocess.PIPE, text=True
    )
    task_id = int(proc.stdout.readline())
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    for when, expect in ((LEASE - timedelta(seconds=1), 204), (LEASE, 200)):
        clock.set(at(when))
        for who in (other, bot):
            status, _, body = server.call("GET", f"/api/bot/next-task/{who['id']}", token=who["token"])
            if who is other or expect == 204:
                assert status == 204, (when, who["name"], body)  # bound to the killed bot's phone
            else:
                assert status == 200 and body["task_id"] == task_id and body["attempt"] == 2
    db = ws.db()
    assert db.scalar("SELECT attempts FROM tasks WHERE id = ?", [task_id]) == 2
    assert db.scalar("SELECT COUNT(*) FROM events WHERE kind = 'task.lease_expired' AND task_id = ?", [task_id]) == 1
    assert db.scalar("SELECT COUNT(*) FROM events WHERE kind = 'task.claimed' AND task_id = ?", [task_id]) == 2


def test_a_heartbeating_bot_keeps_its_task_for_three_lease_lengths(one_task, ws, clock):
    server, bot = one_task["server"], one_task["bot"]
    other = one_task["other"]
    _, _, task = server.call("GET", f"/api/bot/next-task/{bot['id']}", token=bot["token"])
    step = LEASE - timedelta(minutes=1)
    elapsed = timedelta(0)
    while elapsed < 3 * LEASE:
        elapsed += step
        clock.set(at(elapsed))
        engine_tick.tick(ws)  # cron runs meanwhile: it must not take the task away
        status, _, beat = server.call(
            "PUT", f"/api/bot/heartbeat/{bot['id']}", token=bot["token"], body={"current_task_id": task["task_id"]}
        )
        assert status == 200 and beat["leases_extended"] == 1, beat
        for who in (bot, other):
            status, _, _ = server.call("GET", f"/api/bot/next-task/{who['id']}", token=who["token"])
            assert status == 204  # no second hand-out, to anyone
    assert elapsed >= 3 * LEASE
    status, _, done = server.call(
        "POST", "/api/bot/step-complete", token=bot["token"], body={"task_id": task["task_id"], "bot_id": bot["id"]}
    )
    assert status == 200 and done["status"] == "completed"
    db = ws.db()
    assert db.scalar("SELECT attempts FROM tasks WHERE id = ?", [task["task_id"]]) == 1
    assert db.scalar("SELECT COUNT(*) FROM events WHERE kind = 'task.lease_expired'") == 0
