"""How serve-bots writes, seen from outside: /api/health reports the mode and the processes, and
a writer process killed with SIGKILL is replaced while the server keeps answering (the bots'
calls of the lost group get a 503 and are safe to repeat)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from botserver_helpers import LiveServer
from warmup_helpers import fleet, seed_templates

from igctl.botclient import BotClient
from igctl.engine.domain import bots
from igctl.engine.flows import tick as engine_tick


@pytest.fixture
def arranged(ws):
    seed_templates(ws)
    fleet(ws, 20)
    engine_tick.tick(ws)
    return bots.add(ws, "phone1", actor="test")


@pytest.fixture
def server(ws_path, arranged):
    s = LiveServer(ws_path)
    yield s
    s.stop()


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_health_says_the_writes_run_in_a_process_of_their_own(server):
    status, _, body = server.call("GET", "/api/health")
    write = body["write"]
    assert status == 200 and body["status"] == "ok"
    assert write["mode"] == "process" and write["processes"] == 2 and write["restarts"] == 0
    assert write["degraded"] is False and write["server_pid"] == os.getpid()  # LiveServer: a thread of this test
    assert write["writer_pid"] not in (None, os.getpid()) and alive(write["writer_pid"])


def test_a_killed_writer_process_is_replaced_and_the_server_keeps_answering(server, arranged, ws):
    client = BotClient(server.url, arranged["token"], retries=3, backoff=0.01)
    task = client.next_task()
    client.complete(task["task_id"])
    first = client.health()["write"]["writer_pid"]
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while alive(first):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    done = []
    for _ in range(3):  # claims and completions go on, through the new writer process
        task = client.next_task()
        client.complete(task["task_id"])
        done.append(task["task_id"])
    health = client.health()
    write = health["write"]
    assert health["status"] == "ok" and write["mode"] == "process" and write["restarts"] == 1
    assert write["writer_pid"] != first and alive(write["writer_pid"])
    db = ws.db()
    assert all(db.scalar("SELECT status FROM tasks WHERE id = ?", [t]) == "completed" for t in done)
