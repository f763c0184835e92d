"""Warm-up engine benchmarks: `python -m bench.warmup [--accounts 100000] [--warming 20000]`.

1. `warmup tick` on a big fleet with nothing to do (in-process, and the real command in a child
   process including interpreter start-up): it must not scan the fleet.
2. `warmup tick` with work due (N proxy_assigned accounts to start): cost grows with N.
3. `claim_next` (+ `complete`) throughput in-process, one thread, against the same fleet.

The fleet is written with plain executemany (secrets encrypted with the workspace's cipher) so
that building it takes seconds; the engine is then timed on it as it is.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NOW = "2026-03-02T10:00:00Z"


def build(root: Path, accounts: int, warming: int) -> Path:
    """A workspace with `accounts` accounts: `warming` in warm-up (each with its done steps and
    one queued step due tomorrow), 10% retired, the rest ready or active with a finished
    warm-up's five completed tasks each."""
    os.environ["IGCTL_NOW"] = NOW
    from igctl.engine.store.workspace import init_workspace

    path = root / "ws"
    ws = init_workspace(path)
    db = ws.db()
    cipher = ws.cipher
    at = ws.now()
    tomorrow = "2026-03-03T00:00:00.000Z"
    proxies = (accounts + 2) // 3
    secret = cipher.encrypt("same-secret-for-speed")
    with db.write():
        db.conn.executemany(
            "INSERT INTO proxies (id, host, port, username, password_enc, status, created_at, updated_at)"
            " VALUES (?, ?, 8080, 'u', ?, 'active', ?, ?)",
            ((i, f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}", secret, at, at) for i in range(1, proxies + 1)),
        )
        retired = accounts // 10

        def rows():
            for i in range(1, accounts + 1):
                if i <= warming:
                    state = "warming_up"
                elif i <= warming + retired:
                    state = "retired"
                elif i % 2:
                    state = "ready"
                else:
                    state = "active"
                proxy = None if state == "retired" else (i - 1) // 3 + 1
                step = (i % 4) + 2 if state == "warming_up" else (5 if state != "retired" else None)
                done = at if state in ("ready", "active") else None
                yield (i, f"user{i:07d}", secret, f"u{i}@example.com", secret, state, step, at, done, proxy, at, at, at)

        db.conn.executemany(
            "INSERT INTO accounts (id, username, password_enc, email, email_password_enc, lifecycle_state, warmup_step,"
            " warmup_started_at, warmup_completed_at, proxy_id, proxy_assigned_at, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows(),
        )

        def task_rows():
            steps = ["change_pfp", "change_bio", "post_highlight", "post_story", "post_post"]
            for i in range(1, accounts + 1):
                if warming < i <= warming + retired:
                    continue
                current = (i % 4) + 2 if i <= warming else 6
                for n in range(1, current + 1):
                    if n == 6:
                        break
                    status, due = ("queued", tomorrow) if n == current else ("completed", at)
                    yield (
                        i,
                        "warmup",
                        n,
                        steps[n - 1],
                        f"warmup:{i}:{n}",
                        status,
                        due,
                        at if status == "completed" else None,
                        at,
                        at,
                    )

        db.conn.executemany(
            "INSERT INTO tasks (account_id, kind, step_number, step_name, idempotency_key, status, due_at, completed_at,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            task_rows(),
        )
    # template content for every warm-up step, so that claims find content
    from igctl.engine.domain import content

    for kind in ("pfp", "post", "story", "highlight"):
        for i in range(20):
            (path / "content" / "_templates" / kind / f"{kind}{i}.jpg").write_bytes(f"bench image {kind} {i}".encode())
    texts = {kind: [f"{kind} text {i}" for i in range(20)] for kind in ("bio", "post", "story", "highlight")}
    (path / "content" / "_templates" / "texts.yaml").write_text(json.dumps(texts), encoding="utf-8")
    content.sync(ws, "_templates", actor="bench")
    db.execute("ANALYZE")
    ws.close()
    return path


def timed(fn, repeat: int = 5) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def bench(accounts: int, warming: int, claims: int) -> dict:
    from igctl.engine.flows import botwork, tick
    from igctl.engine.store.workspace import Workspace

    root = Path(tempfile.mkdtemp(prefix="igctl-bench-warmup-"))
    try:
        start = time.perf_counter()
        path = build(root, accounts, warming)
        figures: dict = {
            "accounts": accounts,
            "warming_up": warming,
            "build_seconds": round(time.perf_counter() - start, 1),
        }
        ws = Workspace.open(path)
        db = ws.db()
        figures["tasks_rows"] = db.scalar("SELECT COUNT(*) FROM tasks")

        first = tick.tick(ws)
        assert not tick.did_something(first), {k: v for k, v in first.items() if isinstance(v, int)}
        seconds, _ = timed(lambda: tick.tick(ws))
        figures["noop_tick_in_process_ms"] = round(seconds * 1000, 1)
        seconds, _ = timed(lambda: tick.tick(ws, dry_run=True))
        figures["noop_tick_dry_run_ms"] = round(seconds * 1000, 1)
        env = {**os.environ, "IGCTL_WORKSPACE": str(path), "IGCTL_NOW": NOW}
        seconds, _ = timed(
            lambda: subprocess.run(
                [sys.executable, "-m", "igctl", "warmup", "tick", "--json"], env=env, check=True, capture_output=True
            ),
            repeat=3,
        )
        figures["noop_tick_command_ms"] = round(seconds * 1000, 1)
        seconds, _ = timed(
            lambda: subprocess.run([sys.executable, "-m", "igctl", "--help"], env=env, check=True, capture_output=True),
            repeat=3,
        )
        figures["igctl_help_command_ms"] = round(seconds * 1000, 1)

        # ticks with work: N ready accounts turned back into proxy_assigned, started by one tick
        grow = {}
        offset = warming + accounts // 10
        for n in (accounts // 100, accounts // 20):
            with db.write():
                db.execute(
                    "UPDATE accounts SET lifecycle_state = 'proxy_assigned', warmup_step = NULL, warmup_started_at = NULL,"
                    " warmup_completed_at = NULL WHERE id IN (SELECT id FROM accounts WHERE lifecycle_state = 'ready'"
                    " AND id > ? LIMIT ?)",
                    [offset, n],
                )
                db.execute(
                    "DELETE FROM tasks WHERE account_id IN (SELECT id FROM accounts WHERE lifecycle_state = 'proxy_assigned')"
                )
            start = time.perf_counter()
            result = tick.tick(ws)
            grow[n] = round((time.perf_counter() - start) * 1000, 1)
            assert result["warmups_started"] == n, (n, result["warmups_started"])
        figures["tick_starting_n_ms"] = grow

        # claim_next + complete throughput: `claims` tasks due now
        bot = db.execute(
            "INSERT INTO bots (name, token_hash, created_at) VALUES ('bench', 'x', ?)", [ws.now()]
        ).lastrowid
        start = time.perf_counter()
        done = 0
        while done < claims:
            t = botwork.claim_next(ws, bot)
            if t is None:
                break
            botwork.complete(ws, t["task_id"], bot)
            done += 1
        seconds = time.perf_counter() - start
        figures["claim_complete_pairs"] = done
        figures["claim_complete_per_second"] = round(done / seconds)
        # claim only
        with db.write():
            db.execute("UPDATE tasks SET due_at = ? WHERE status = 'queued' AND kind = 'warmup'", [ws.now()])
        start = time.perf_counter()
        got = 0
        for _ in range(claims):
            if botwork.claim_next(ws, bot) is None:
                break
            got += 1
        seconds = time.perf_counter() - start
        figures["claims_per_second"] = round(got / seconds)
        ws.close()
        return figures
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.warmup", description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000, help="accounts in the workspace")
    parser.add_argument("--warming", type=int, default=20_000, help="of which in warm-up")
    parser.add_argument("--claims", type=int, default=2_000, help="claims to time")
    args = parser.parse_args(argv)
    print(json.dumps(bench(args.accounts, args.warming, args.claims), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
