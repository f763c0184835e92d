"""Bot API benchmark: `python -m bench.api [--round-trips 2000] [--clients 16] [--threads 8]`.

The server runs as `igctl serve-bots` (cheroot; its supervisor and worker processes) on
127.0.0.1; 16 BotClients in threads of this process, each with its keep-alive connection, first
call `GET /api/health` (the ceiling: no database write), then do round trips of `next-task` +
`step-complete` (two writing requests each) until `--round-trips` are done. Figures: requests or
round trips per second, p50 and p99 latency of each request kind, the CPU time the server's
processes (all of them) and the clients spent per request or round trip (Linux /proc; NaN
elsewhere), and the checks: answers with a 5xx, tasks handed out twice, tasks lost (a claim
answered and never completed, or a completion answered and not in the database).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

NOW_SERVER = "2026-03-03T10:00:00Z"  # the day after bench.warmup.build's NOW: every current step is due


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, int(round(q / 100 * (len(ordered) - 1)))))
    return ordered[k]


def ms(values: list[float]) -> dict:
    return {"p50_ms": round(percentile(values, 50) * 1000, 1), "p99_ms": round(percentile(values, 99) * 1000, 1)}


def start_server(ws: Path, threads: int, extra: list[str] = ()) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "IGCTL_WORKSPACE": str(ws), "IGCTL_NOW": NOW_SERVER}
    args = [sys.executable, "-m", "igctl", "serve-bots", "--port", "0", "--threads", str(threads), *extra]
    proc = subprocess.Popen(
        args,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    line = proc.stdout.readline()
    m = re.search(r"(http://[0-9.]+:\d+)", line)
    if not m:
        proc.kill()
        raise SystemExit(f"serve-bots did not start: {line!r}")
    return proc, m.group(1)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")


def child_pids(pid: int) -> list[int]:
    """The processes `pid` started (the server's workers), from /proc."""
    found = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(c) for c in children.read_text().split()]
        except (OSError, ValueError):
            pass
    return found


def run_clients(url: str, tokens: list[str], work, seconds_cap: float) -> tuple[float, list]:
    """Run `work(client, out)` in one thread per token, released together; returns (seconds,
    per-thread outputs)."""
    from igctl.botclient import BotClient

    barrier = threading.Barrier(len(tokens) + 1)
    outs: list[dict] = [{} for _ in tokens]

    def thread(i: int) -> None:
        client = BotClient(url, tokens[i], retries=0, timeout=60)
        client.me()
        barrier.wait()
        work(client, outs[i])
        client.close()

    threads = [threading.Thread(target=thread, args=(i,)) for i in range(len(tokens))]
    for th in threads:
        th.start()
    barrier.wait()
    start = time.perf_counter()
    for th in threads:
        th.join(timeout=seconds_cap)
    return time.perf_counter() - start, outs


def server_cpu(pid: int) -> float:
    """CPU time so far of the server: its first process and the processes it started."""
    return cpu_seconds(pid) + sum(cpu_seconds(child) for child in child_pids(pid))


def measure(
    ws: Path, tokens: list[str], threads: int, health_requests: int, round_trips: int, extra: list[str] = ()
) -> dict:
    from igctl.botclient import ApiError, ServerError

    proc, url = start_server(ws, threads, extra)
    try:
        time.sleep(1.0)  # the workers forked and listening
        per_client = max(1, health_requests // len(tokens))

        def health(client, out):
            lat = out.setdefault("lat", [])
            for _ in range(per_client):
                t = time.perf_counter()
                client.health()
                lat.append(time.perf_counter() - t)

        cpu = server_cpu(proc.pid)
        seconds, outs = run_clients(url, tokens, health, 600)
        cpu = server_cpu(proc.pid) - cpu
        lat = [x for o in outs for x in o["lat"]]
        from igctl.botclient import BotClient

        said = BotClient(url, "-", retries=0).health()
        figures: dict = {
            "health": {
                "requests": len(lat),
                "requests_per_second": round(len(lat) / seconds),
                **ms(lat),
                "server_cpu_ms_per_request": round(cpu * 1000 / len(lat), 3),
            },
            "write": said.get("write"),
            "server_processes": 1 + len(child_pids(proc.pid)),
        }

        remaining = [round_trips]
        lock = threading.Lock()

        def work(client, out):
            claims, completes, trips = (
                out.setdefault("claims", []),
                out.setdefault("completes", []),
                out.setdefault("trips", []),
            )
            claimed, completed, errors = (
                out.setdefault("claimed", []),
                out.setdefault("completed", []),
                out.setdefault("errors", []),
            )
            task = None
            while True:
                with lock:
                    if remaining[0] <= 0:
                        return
                    remaining[0] -= 1
                try:
                    t0 = time.perf_counter()
                    task = client.next_task()
                    t1 = time.perf_counter()
                    if task is None:
                        return
                    claimed.append(task["task_id"])
                    client.complete(task["task_id"], execution_time_ms=1)
                    completed.append(task["task_id"])
                    t2 = time.perf_counter()
                except ServerError as exc:  # counted; the run goes on
                    errors.append(exc.status)
                    continue
                except ApiError as exc:
                    errors.append(exc.status)
                    continue
                claims.append(t1 - t0)
                completes.append(t2 - t1)
                trips.append(t2 - t0)

        cpu, own = server_cpu(proc.pid), time.process_time()
        seconds, outs = run_clients(url, tokens, work, 600)
        cpu, own = server_cpu(proc.pid) - cpu, time.process_time() - own
        claimed = [t for o in outs for t in o.get("claimed", [])]
        errors = [e for o in outs for e in o.get("errors", [])]
        claims = [x for o in outs for x in o["claims"]]
        completes = [x for o in outs for x in o["completes"]]
        trips = [x for o in outs for x in o["trips"]]
        figures["round_trips"] = {
            "round_trips": len(trips),
            "round_trips_per_second": round(len(trips) / seconds),
            "round_trip": ms(trips),
            "next_task": ms(claims),
            "step_complete": ms(completes),
            "server_cpu_ms_per_round_trip": round(cpu * 1000 / max(1, len(trips)), 3),
            "clients_cpu_ms_per_round_trip": round(own * 1000 / max(1, len(trips)), 3),
            "answers_5xx": sum(1 for e in errors if e >= 500),
            "other_errors": sorted(e for e in errors if e < 500),
            "handed_out_twice": len(claimed) - len(set(claimed)),
        }
        figures["ratio_to_ceiling"] = round(
            figures["round_trips"]["round_trips_per_second"] / figures["health"]["requests_per_second"], 3
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    # checked in the database once the server has stopped
    from igctl.engine.store.workspace import Workspace

    workspace = Workspace.open(ws)
    db = workspace.db()
    status = {r[0]: r[1] for r in db.query("SELECT id, status FROM tasks")}
    claimed_twice = db.scalar(
        "SELECT COUNT(*) FROM (SELECT task_id FROM events WHERE kind = 'task.claimed' "
        "GROUP BY task_id HAVING COUNT(*) > 1)"
    )
    workspace.close()
    figures["round_trips"]["claimed_twice_in_events"] = claimed_twice
    figures["round_trips"]["lost"] = sum(1 for t in set(claimed) if status.get(t) != "completed")
    return figures


def bench(
    round_trips: int = 2000, clients: int = 16, threads: int = 8, health_requests: int = 8000, extra: list[str] = ()
) -> dict:
    from bench.warmup import build
    from igctl.engine.domain import bots
    from igctl.engine.store.workspace import Workspace

    root = Path(tempfile.mkdtemp(prefix="igctl-bench-api-"))
    try:
        figures: dict = {"clients": clients, "server_threads": threads}
        path = build(root, round_trips + 500, round_trips + 500)
        ws = Workspace.open(path)
        tokens = [bots.add(ws, f"bench{i}", actor="bench")["token"] for i in range(clients)]
        ws.close()
        figures["serve_bots"] = measure(path, tokens, threads, health_requests, round_trips, extra)
        return figures
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__.splitlines()[0])
    parser.add_argument("--round-trips", type=int, default=2000, help="next-task + step-complete round trips to time")
    parser.add_argument("--clients", type=int, default=16, help="concurrent BotClients")
    parser.add_argument("--threads", type=int, default=8, help="server worker threads")
    parser.add_argument("--server-arg", action="append", default=[], help="one more argument for serve-bots (repeat)")
    args = parser.parse_args(argv)
    print(json.dumps(bench(args.round_trips, args.clients, args.threads, extra=args.server_arg), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
