"""Report benchmark: `python -m bench.report [--accounts 100000] [--steps 1000000]`.

`igctl report --json` (and `--html`) as a command in a new process, on a workspace with
`accounts` accounts, `steps` step-log rows and about as many events (a state change per step of
the way, a completion or failure per attempt): the figures operators ask for on a large fleet.
The workspace is written with plain executemany so that building it takes seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

NOW = "2026-06-01T12:00:00Z"
START = datetime(2026, 3, 1, tzinfo=UTC)
STEPS = ["change_pfp", "change_bio", "post_highlight", "post_story", "post_post"]
ERRORS = ["ui_not_found", "rate_limited", "action_blocked", "proxy_error", "challenge", "lease_expired"]


def stamp(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def build(root: Path, accounts: int, steps: int) -> tuple[Path, dict]:
    os.environ["IGCTL_NOW"] = NOW
    from igctl.engine.store.workspace import init_workspace

    rng = random.Random(6)
    path = root / "ws"
    ws = init_workspace(path)
    db = ws.db()
    secret = ws.cipher.encrypt("same-secret-for-speed")
    at = stamp(START)
    n_proxies = (accounts + 2) // 3
    n_bots, n_models = 40, 20
    with db.write():
        db.conn.executemany(
            "INSERT INTO proxies (id, host, port, username, password_enc, status, monthly_cost, created_at, updated_at)"
            " VALUES (?, ?, 8080, 'u', ?, ?, 4.5, ?, ?)",
            (
                (
                    i,
                    f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}",
                    secret,
                    "error" if i % 97 == 0 else "active",
                    at,
                    at,
                )
                for i in range(1, n_proxies + 1)
            ),
        )
        db.conn.executemany(
            "INSERT INTO bots (id, name, token_hash, created_at, last_seen_at) VALUES (?, ?, ?, ?, ?)",
            ((i, f"phone{i:02d}", f"h{i}", at, at) for i in range(1, n_bots + 1)),
        )
        db.conn.executemany(
            "INSERT INTO models (id, name, slug, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
            ((i, f"model{i}", f"model{i}", at, at) for i in range(1, n_models + 1)),
        )
        # states: 10% imported, 5% proxy_assigned, 20% warming_up, 5% review, 25% ready, 30% active, 5% retired
        plan = [
            ("imported", 10),
            ("proxy_assigned", 5),
            ("warming_up", 20),
            ("human_review", 5),
            ("ready", 25),
            ("active", 30),
            ("retired", 5),
        ]
        states = [s for s, pct in plan for _ in range(pct)]
        account_rows, events, step_rows = [], [], []
        per_account = max(steps // accounts, 1)
        for i in range(1, accounts + 1):
            state = states[i % 100]
            created = START + timedelta(minutes=i % 40_000)
            model = (i % n_models) + 1 if state == "active" else None
            proxy = (i - 1) // 3 + 1 if state not in ("imported", "retired") else None
            account_rows.append(
                (i, f"user{i:07d}", secret, state, model, proxy, (i % n_bots) + 1, stamp(created), stamp(created))
            )
            path_states = {
                "imported": [],
                "proxy_assigned": ["proxy_assigned"],
                "warming_up": ["proxy_assigned", "warming_up"],
                "human_review": ["proxy_assigned", "warming_up", "human_review"],
                "ready": ["proxy_assigned", "warming_up", "ready"],
                "active": ["proxy_assigned", "warming_up", "ready", "active"],
                "retired": ["proxy_assigned", "warming_up", "retired"],
            }[state]
            old = "imported"
            for k, new in enumerate(path_states):
                events.append((stamp(created + timedelta(days=k)), "account.state", "tick", i, old, new))
                old = new
            if state in ("imported", "proxy_assigned"):
                continue
            t = created + timedelta(days=1)
            for k in range(per_account * 10 // 8):
                number = k % 5 + 1
                kind = "warmup" if k < 5 else ("post", "story")[k % 2]
                start = t + timedelta(days=k, minutes=rng.randrange(600))
                seconds = rng.randrange(30, 600)
                failed = rng.random() < 0.1
                end = start + timedelta(seconds=seconds)
                step_rows.append(
                    (
                        i,
                        kind,
                        number if kind == "warmup" else None,
                        STEPS[number - 1] if kind == "warmup" else kind,
                        stamp(start),
                        stamp(end),
                        "failed" if failed else "completed",
                        (i % n_bots) + 1,
                        rng.choice(ERRORS) if failed else None,
                        None if failed else seconds * 900,
                        model if kind != "warmup" else None,
                    )
                )
                events.append(
                    (
                        stamp(end),
                        "task.failed" if failed else "task.completed",
                        f"bot:phone{(i % n_bots) + 1:02d}",
                        i,
                        None,
                        None,
                    )
                )
                if len(step_rows) >= steps:
                    break
            if len(step_rows) >= steps:
                per_account = 0
        db.conn.executemany(
            "INSERT INTO accounts (id, username, password_enc, lifecycle_state, model_id, proxy_id, bot_id, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            account_rows,
        )
        # one task per step-log row, so that per-model figures join through tasks as in a real workspace
        db.conn.executemany(
            "INSERT INTO tasks (id, account_id, kind, step_number, step_name, model_id, idempotency_key, status, due_at,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'completed', ?, ?, ?)",
            ((n, r[0], r[1], r[2], r[3], r[10], f"k{n}", r[4], r[4], r[4]) for n, r in enumerate(step_rows, 1)),
        )
        db.conn.executemany(
            "INSERT INTO step_log (task_id, account_id, kind, step_number, step_name, started_at, completed_at, status,"
            " bot_id, error_kind, execution_time_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ((n, *r[:10]) for n, r in enumerate(step_rows, 1)),
        )
        db.conn.executemany(
            "INSERT INTO events (at, kind, actor, account_id, old_state, new_state) VALUES (?, ?, ?, ?, ?, ?)", events
        )
        metrics = []
        for i in range(1, accounts + 1):
            if states[i % 100] == "active":
                for d in range(3):
                    metrics.append((i, stamp(START + timedelta(days=30 * d)), 1000 + 10 * d + i % 7))
        db.conn.executemany("INSERT INTO account_metrics (account_id, at, followers) VALUES (?, ?, ?)", metrics)
    db.execute("ANALYZE")
    sizes = {
        t: db.scalar(f"SELECT COUNT(*) FROM {t}")
        for t in ("accounts", "step_log", "events", "tasks", "account_metrics")
    }
    ws.close()
    return path, sizes


def timed_command(args: list[str], env: dict, repeat: int = 3) -> tuple[float, subprocess.CompletedProcess]:
    """The median of `repeat` runs after one untimed run (which pays for a cold page cache)."""
    times, result = [], None
    for number in range(repeat + 1):
        start = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "igctl", *args], env=env, capture_output=True, text=True)
        if result.returncode != 0:
            raise SystemExit(f"igctl {' '.join(args)} failed:\n{result.stderr}")
        if number:
            times.append(time.perf_counter() - start)
    return statistics.median(times), result


def bench(accounts: int, steps: int) -> dict:
    root = Path(tempfile.mkdtemp(prefix="igctl-bench-report-"))
    try:
        start = time.perf_counter()
        path, sizes = build(root, accounts, steps)
        figures: dict = {**sizes, "build_seconds": round(time.perf_counter() - start, 1)}
        env = {**os.environ, "IGCTL_WORKSPACE": str(path), "IGCTL_NOW": NOW}
        seconds, result = timed_command(["report", "--json"], env)
        report = json.loads(result.stdout)
        assert sum(report["accounts_by_state"].values()) == accounts
        figures["report_json_seconds"] = round(seconds, 2)
        seconds, _ = timed_command(["report"], env)
        figures["report_tables_seconds"] = round(seconds, 2)
        seconds, _ = timed_command(["report", "--html", str(root / "report.html")], env)
        figures["report_html_seconds"] = round(seconds, 2)
        figures["html_kib"] = round((root / "report.html").stat().st_size / 1024)
        seconds, _ = timed_command(["report", "--json", "--model", "model3"], env)
        figures["report_json_one_model_seconds"] = round(seconds, 2)
        seconds, _ = timed_command(["report", "--json", "--since", "2026-04-01", "--until", "2026-04-08"], env)
        figures["report_json_one_week_seconds"] = round(seconds, 2)
        seconds, _ = timed_command(["--help"], env)
        figures["igctl_help_seconds"] = round(seconds, 2)
        return figures
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000, help="accounts in the workspace")
    parser.add_argument("--steps", type=int, default=1_000_000, help="step-log rows")
    args = parser.parse_args(argv)
    print(json.dumps(bench(args.accounts, args.steps), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
