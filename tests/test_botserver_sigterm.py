"""`igctl serve-bots` as a real process: it prints where it listens, logs each request on
stderr, warns when bound beyond loopback, and stops cleanly on SIGTERM and SIGINT while bots are
busy — every answer a bot got is in the database, no request fails with a 5xx, exit 0."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from warmup_helpers import fleet, seed_templates

from igctl.botclient import ApiError, BotClient, ConnectionFailed, ServerError
from igctl.engine.domain import bots
from igctl.engine.flows import tick as engine_tick

pytestmark = pytest.mark.slow


_STARTED: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def _stop_what_a_test_left_running():
    """A test that fails before it stops its server must not leave it (and its writer process)
    running: each server runs in a session of its own, ended here."""
    yield
    while _STARTED:
        proc = _STARTED.pop()
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=30)


def start(ws_path, *args):
    env = {**os.environ, "IGCTL_WORKSPACE": str(ws_path)}
    # a session of its own: a Ctrl-C can be sent to its whole process group, as a terminal does
    proc = subprocess.Popen(
        [sys.executable, "-m", "igctl", "serve-bots", "--port", "0", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    _STARTED.append(proc)
    line = proc.stdout.readline()
    m = re.search(r"on (http://[^ ]+) \(", line)
    assert m, (line, proc.stderr.read() if proc.poll() is not None else "")
    return proc, m.group(1)


@pytest.fixture
def arranged(ws):
    seed_templates(ws)
    fleet(ws, 300)
    engine_tick.tick(ws)
    return [bots.add(ws, f"phone{i}", actor="test") for i in range(6)]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_server_cleanly_while_bots_are_busy(ws, ws_path, arranged, signum):
    proc, url = start(ws_path, "--threads", "4")
    answered_claims: list[int] = []
    answered_completions: list[int] = []
    failures: list[BaseException] = []
    stop = threading.Event()

    def bot(token):
        client = BotClient(url, token, retries=0, timeout=20)
        try:
            while not stop.is_set():
                task = client.next_task()
                if task is None:
                    return
                answered_claims.append(task["task_id"])
                client.complete(task["task_id"])
                answered_completions.append(task["task_id"])
        except ServerError as exc:
            failures.append(exc)
        except (ConnectionFailed, ApiError):
            return  # the server has gone: expected once it stopped
        except BaseException as exc:  # noqa: BLE001
            failures.append(exc)

    threads = [threading.Thread(target=bot, args=(b["token"],)) for b in arranged]
    for th in threads:
        th.start()
    deadline = time.monotonic() + 30
    while len(answered_completions) < 30 and time.monotonic() < deadline:
        time.sleep(0.01)
    child = writer_process(proc.pid)
    if signum == signal.SIGINT:
        os.killpg(proc.pid, signum)  # Ctrl-C: the server and its writer process both get it
    else:
        proc.send_signal(signum)
    out, err = proc.communicate(timeout=40)
    stop.set()
    for th in threads:
        th.join(timeout=30)
    assert proc.returncode == 0, err[-2000:]
    assert "Stopped." in out and "Traceback" not in err
    assert failures == []
    db = ws.db()
    status = {r["id"]: r["status"] for r in db.query("SELECT id, status FROM tasks")}
    assert answered_completions and all(status[t] == "completed" for t in answered_completions)
    assert all(status[t] in ("claimed", "completed") for t in answered_claims)
    # one access-log line per answered request at least, with the bot's name and never a token
    lines = [ln for ln in err.splitlines() if " GET /api/bot/next-task/" in ln or " POST /api/bot/step-complete " in ln]
    assert len(lines) >= len(answered_claims) + len(answered_completions)
    assert re.search(r"GET /api/bot/next-task/\d+ 200 [\d.]+ms bot=phone\d#\d+", err)
    assert all(b["token"] not in err for b in arranged)
    assert process_state(child) in (None, "Z")  # the writer process ended with the server


def process_state(pid: int) -> str | None:
    """The state letter of a process (Z: a zombie), None when there is none."""
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def writer_process(server_pid: int) -> int:
    """The pid of the writer process serve-bots started (engine/writer_process.py)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for tid in os.listdir(f"/proc/{server_pid}/task"):
            with open(f"/proc/{server_pid}/task/{tid}/children") as fh:
                children = fh.read().split()
            if children:
                assert len(children) == 1
                assert "igctl.engine.store.writer_child" in Path(f"/proc/{children[0]}/cmdline").read_text().replace(
                    "\0", " "
                )
                return int(children[0])
        time.sleep(0.01)
    raise AssertionError("serve-bots started no writer process")


def test_the_writer_process_ends_when_the_server_is_killed(ws_path, arranged):
    """SIGKILL leaves no clean-up to the server: the child sees its stdin close and exits."""
    proc, url = start(ws_path)
    child = writer_process(proc.pid)
    client = BotClient(url, arranged[0]["token"], retries=0)
    task = client.next_task()
    client.complete(task["task_id"])
    proc.kill()
    proc.wait(timeout=10)
    deadline = time.monotonic() + 20
    while process_state(child) not in (None, "Z"):
        assert time.monotonic() < deadline, "the writer process outlived the server"
        time.sleep(0.01)
    proc.stdout.close()
    proc.stderr.close()


def test_binding_beyond_loopback_warns_and_the_default_does_not(ws_path, arranged):
    proc, url = start(ws_path, "--host", "0.0.0.0")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "Warning: the bot API is bound to 0.0.0.0" in err
    proc, url = start(ws_path)
    assert BotClient(url, "x").health()["status"] == "ok"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "Warning" not in err and "GET /api/health 200" in err


def test_a_port_in_use_is_a_one_line_error(ws_path, arranged, igctl):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        line = igctl.error("serve-bots", "--port", port)
    assert f"cannot listen on 127.0.0.1:{port}" in line


def test_a_writer_process_killed_under_a_running_server_is_replaced_and_shown_in_health(ws_path, arranged):
    proc, url = start(ws_path)
    first = writer_process(proc.pid)
    client = BotClient(url, arranged[0]["token"], retries=3, backoff=0.05)
    assert client.health()["write"] == {
        "mode": "process",
        "processes": 2,
        "server_pid": proc.pid,
        "writer_pid": first,
        "restarts": 0,
        "degraded": False,
    }
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while process_state(first) not in (None, "Z"):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    task = client.next_task()  # the writes go on, in the new writer process
    client.complete(task["task_id"])
    health = client.health()
    assert health["status"] == "ok" and health["write"]["restarts"] == 1
    second = health["write"]["writer_pid"]
    assert second not in (None, first) and writer_process(proc.pid) == second
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=40)
    assert proc.returncode == 0 and "Traceback" not in err
    assert (
        f"the writer process {first} ended: writer process {second} started in its place (1 restart(s) so far)" in err
    )
    assert process_state(second) in (None, "Z")
