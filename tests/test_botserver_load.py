"""Load: 16 BotClients (and 64) in threads, released together by a barrier, against one real
server (its writes in a process of their own) until every task is done — no task handed out
twice, none lost, no 5xx, and the write-ahead log kept small all along."""

from __future__ import annotations

import os
import threading
from collections import Counter

import pytest
from botserver_helpers import LiveServer
from warmup_helpers import fleet, seed_templates

from igctl.botclient import ApiError, BotClient, ServerError
from igctl.engine.domain import bots
from igctl.engine.flows import tick as engine_tick

# SQLite checkpoints once the log passes 1,000 pages (4 MiB); in `bench.api` a log left to a
# background checkpointer grew to 340 MB in 3,000 round trips (docs/reliability.md, defect 13)
MAX_WAL_BYTES = 12 * 1024 * 1024


@pytest.mark.stress
@pytest.mark.parametrize("CLIENTS, TASKS", [(16, 2000), (64, 1000)])  # TASKS accounts with warm-up step 1 due
def test_many_clients_finish_every_task_each_exactly_once(ws, ws_path, CLIENTS, TASKS):
    seed_templates(ws)
    fleet(ws, TASKS)
    engine_tick.tick(ws)  # every warm-up started: step 1 of each account due now
    db = ws.db()
    assert db.scalar("SELECT COUNT(*) FROM tasks WHERE status = 'queued' AND due_at <= ?", [ws.now()]) == TASKS
    tokens = [bots.add(ws, f"phone{i}", actor="test")["token"] for i in range(CLIENTS)]
    server = LiveServer(ws_path, threads=8)
    barrier = threading.Barrier(CLIENTS)
    done: dict[int, list[int]] = {i: [] for i in range(CLIENTS)}
    errors: list[BaseException] = []
    server_errors: list[ApiError] = []

    def worker(i: int) -> None:
        client = BotClient(server.url, tokens[i], retries=0, timeout=60)  # retries off: a 5xx must show
        try:
            client.me()
            barrier.wait()
            idle = 0
            while idle < 3:
                task = client.next_task()
                if task is None:
                    idle += 1
                    continue
                idle = 0
                client.complete(task["task_id"], execution_time_ms=1)
                done[i].append(task["task_id"])
        except ServerError as exc:
            server_errors.append(exc)
        except BaseException as exc:  # noqa: BLE001 - every error must reach the assertions
            errors.append(exc)
        finally:
            client.close()

    wal_sizes: list[int] = []
    finished = threading.Event()

    def watch_wal() -> None:  # a stat only: opening the file would disturb SQLite's locks
        while not finished.wait(0.05):
            try:
                wal_sizes.append(os.stat(ws_path / "igctl.db-wal").st_size)
            except FileNotFoundError:
                pass

    watcher = threading.Thread(target=watch_wal)
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(CLIENTS)]
    try:
        watcher.start()
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=600)
    finally:
        finished.set()
        watcher.join()
        server.stop()
    assert server_errors == [] and errors == []
    assert wal_sizes and max(wal_sizes) <= MAX_WAL_BYTES, max(wal_sizes)
    handed = [t for got in done.values() for t in got]
    assert len(handed) == TASKS and len(set(handed)) == TASKS  # each exactly once, none lost
    assert db.scalar("SELECT COUNT(*) FROM tasks WHERE step_number = 1 AND status != 'completed'") == 0
    assert db.scalar("SELECT COUNT(*) FROM tasks WHERE step_number = 2 AND status = 'queued'") == TASKS
    claims = Counter(r[0] for r in db.query("SELECT task_id FROM events WHERE kind = 'task.claimed'"))
    assert set(claims.values()) == {1}
    assert sum(1 for got in done.values() if got) > 1  # the work was shared
