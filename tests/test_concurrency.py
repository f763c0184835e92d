"""Many claimers and many ticks at once: no task lost, duplicated or double-claimed, no account
with two claimed tasks, no `database is locked` reaching a caller."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import Counter, defaultdict

from warmup_helpers import add_accounts, add_bot, add_proxies, fleet, seed_templates

from igctl.engine.flows import botwork
from igctl.engine.queue import tasks

THREADS = 8
ACCOUNTS = 1000  # two due tasks each: 2,000 tasks


def test_eight_threads_claim_two_thousand_tasks_each_exactly_once(ws):
    seed_templates(ws)
    ids = fleet(ws, ACCOUNTS, state="cleanup")
    db = ws.db()
    now = ws.instant("2026-03-02T10:00:00Z")
    with db.write():
        for a in ids:
            for step in ("reset_pfp", "delete_posts"):
                tasks.enqueue(
                    db,
                    ws.events,
                    account_id=a,
                    kind="cleanup",
                    step_name=step,
                    key=f"cleanup:{a}:{step}",
                    due_at=now,
                    now=now,
                    actor="test",
                )
    assert db.scalar("SELECT COUNT(*) FROM tasks WHERE status = 'queued'") == 2 * ACCOUNTS
    bots = [add_bot(ws, f"phone{n}") for n in range(THREADS)]
    ws.cipher  # noqa: B018 - load the key once, before the threads share the workspace

    barrier = threading.Barrier(THREADS)
    claimed: dict[int, list[dict]] = defaultdict(list)
    errors: list[BaseException] = []

    def worker(bot: int) -> None:
        try:
            ws.db()  # this thread's own connection
            barrier.wait()
            while True:
                t = botwork.claim_next(ws, bot)
                if t is None:
                    return  # nothing left this bot may take (every account it holds is done)
                claimed[bot].append(t)
                botwork.complete(ws, t["task_id"], bot)
        except BaseException as exc:  # noqa: BLE001 - every error must reach the assertion below
            errors.append(exc)
        finally:
            ws.close()

    threads = [threading.Thread(target=worker, args=(b,)) for b in bots]
    for th in threads:
        th.start()
    for th in threads:
        th.join()

    assert errors == []
    handed = [t["task_id"] for got in claimed.values() for t in got]
    assert len(handed) == 2 * ACCOUNTS and len(set(handed)) == 2 * ACCOUNTS  # each exactly once
    assert db.scalar("SELECT COUNT(*) FROM tasks WHERE status != 'completed'") == 0
    claims = Counter(r[0] for r in db.query("SELECT task_id FROM events WHERE kind = 'task.claimed'"))
    assert set(claims.values()) == {1} and len(claims) == 2 * ACCOUNTS
    # no account ever held two claimed tasks: in event order, its claims and completions alternate
    held: dict[int, int] = {}
    for e in db.query(
        "SELECT kind, account_id, task_id FROM events WHERE kind IN ('task.claimed', 'task.completed') ORDER BY id"
    ):
        if e["kind"] == "task.claimed":
            assert e["account_id"] not in held, f"account {e['account_id']} claimed twice at once"
            held[e["account_id"]] = e["task_id"]
        else:
            assert held.pop(e["account_id"]) == e["task_id"]
    assert held == {}
    # both tasks of an account went to the one bot it was bound to
    per_account = db.query("SELECT account_id, COUNT(DISTINCT bot_id) AS n FROM tasks GROUP BY account_id")
    assert {r["n"] for r in per_account} == {1}
    assert len([b for b in claimed if claimed[b]]) > 1  # the work was shared


def test_four_processes_ticking_repeatedly_create_no_duplicate(ws, tmp_path):
    add_proxies(ws, 30)
    add_accounts(ws, 90, state="imported")
    env = {**os.environ, "IGCTL_WORKSPACE": str(ws.path), "IGCTL_NOW": "2026-03-02T10:00:00"}
    rounds = 3
    results = []
    for _ in range(rounds):
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "igctl", "warmup", "tick", "--json"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        for p in procs:
            out, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
            assert "locked" not in err
            results.append(json.loads(out))
    assert sum(r["proxies_assigned"] for r in results) == 90
    assert sum(r["warmups_started"] for r in results) == 90
    db = ws.db()
    assert db.scalar("SELECT COUNT(*) FROM tasks") == 90
    assert db.scalar("SELECT COUNT(DISTINCT account_id) FROM tasks WHERE step_number = 1") == 90
    starts = db.query(
        "SELECT account_id, COUNT(*) AS n FROM events WHERE kind = 'account.state' AND new_state = 'warming_up' GROUP BY account_id"
    )
    assert len(starts) == 90 and {r["n"] for r in starts} == {1}
    assert db.scalar("SELECT COUNT(*) FROM accounts WHERE lifecycle_state != 'warming_up'") == 0
