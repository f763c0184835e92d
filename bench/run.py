"""igctl benchmarks: run with `python -m bench` (all) or `python -m bench import --lines 100000`.

Each benchmark prints its figures; record them in docs/benchmarks.md with the machine and date.
Benchmarks drive the real command in a real process, and measure a floor next to it where one
makes sense, so a figure can be read as "how far from what the hardware allows".
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCHMARKS = {}


def benchmark(fn):
    BENCHMARKS[fn.__name__.removeprefix("bench_").replace("_", "-")] = fn
    return fn


def igctl(*args, env=None) -> subprocess.CompletedProcess:
    """Run igctl in a child process; exit with its error if it fails."""
    result = subprocess.run(
        [sys.executable, "-m", "igctl", *map(str, args)],
        capture_output=True,
        env={**os.environ, **(env or {})},
        text=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"igctl {' '.join(map(str, args))} failed:\n{result.stderr}")
    return result


def run_measured(args: list[str], env=None) -> tuple[subprocess.CompletedProcess, float, int]:
    """Run a child with its own rusage (os.wait4): exact peak RSS of that process."""
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "igctl", *map(str, args)],
            stdout=out,
            stderr=err,
            env={**os.environ, **(env or {})},
        )
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        code = os.waitstatus_to_exitcode(status)
        result = subprocess.CompletedProcess(proc.args, code, out.read(), err.read())
    if code != 0:
        raise SystemExit(f"igctl {' '.join(map(str, args))} failed:\n{result.stderr}")
    return result, seconds, usage.ru_maxrss  # KiB on Linux


def write_accounts_file(path: Path, lines: int) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("username,password,email,email_password\n")
        for i in range(lines):
            fh.write(f"bench_user_{i:07d},Pw-{i:07d}-x9!,bench{i}@example.com,Mail-{i:07d}\n")


def fresh_workspace(root: Path, name: str) -> Path:
    ws = root / name
    igctl("init", ws)
    return ws


def floor_import(ws_template_db: Path, target: Path, source: Path, key: bytes) -> float:
    """The floor: same rows, secrets encrypted with the same cipher, one executemany, one
    transaction, into a database with the same schema."""
    from cryptography.fernet import Fernet, MultiFernet

    shutil.copy(ws_template_db, target)
    cipher = MultiFernet([Fernet(key)])
    start = time.perf_counter()
    conn = sqlite3.connect(target, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    now = "2026-01-01T00:00:00.000Z"

    def rows():
        with open(source, encoding="utf-8") as fh:
            next(fh)
            for line in fh:
                user, pw, email, mail_pw = line.rstrip("\n").split(",")
                yield (
                    user,
                    cipher.encrypt(pw.encode()).decode(),
                    email,
                    cipher.encrypt(mail_pw.encode()).decode(),
                    "imported",
                    now,
                    now,
                )

    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        "INSERT INTO accounts (username, password_enc, email, email_password_enc, lifecycle_state, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        rows(),
    )
    conn.execute("COMMIT")
    conn.close()
    return time.perf_counter() - start


@benchmark
def bench_import(args) -> dict:
    """`igctl accounts import` of a generated file vs. the executemany floor; peak memory at
    two file sizes to show it is flat in the file's size."""
    root = Path(tempfile.mkdtemp(prefix="igctl-bench-"))
    try:
        figures = {}
        sizes = [args.lines // 4, args.lines]
        for lines in sizes:
            source = root / f"accounts-{lines}.txt"
            write_accounts_file(source, lines)
            ws = fresh_workspace(root, f"ws-{lines}")
            pristine = root / f"pristine-{lines}.db"
            shutil.copy(ws / "igctl.db", pristine)
            result, seconds, rss = run_measured(
                ["accounts", "import", source, "--json", "--no-assign"], env={"IGCTL_WORKSPACE": str(ws)}
            )
            imported = json.loads(result.stdout)["imported"]
            assert imported == lines, (imported, lines)
            key = (ws / "secret.key").read_text().split()[0].encode()
            floor = floor_import(pristine, root / f"floor-{lines}.db", source, key)
            figures[lines] = {
                "import_seconds": round(seconds, 2),
                "accounts_per_second": round(lines / seconds),
                "peak_rss_mib": round(rss / 1024, 1),
                "floor_seconds": round(floor, 2),
                "floor_rows_per_second": round(lines / floor),
                "ratio_to_floor": round(seconds / floor, 2),
            }
        return figures
    finally:
        shutil.rmtree(root, ignore_errors=True)


@benchmark
def bench_warmup(args) -> dict:
    """`warmup tick` on a big fleet (no-op and with work due) and claim_next throughput."""
    from bench import warmup

    return warmup.bench(args.accounts, args.warming, args.claims)


@benchmark
def bench_report(args) -> dict:
    """`igctl report --json` (and tables, --html, one model, one week) on a big fleet with its
    step log and events."""
    from bench import report

    return report.bench(args.accounts, args.steps)


@benchmark
def bench_api(args) -> dict:
    """The bot API over loopback: next-task + step-complete round trips with 16 concurrent
    BotClients, and /api/health on the same server as the ceiling; p50/p99 of each."""
    from bench import api

    return api.bench(args.round_trips, args.clients, args.server_threads)


def _startup(ws: Path, repeat: int = 15) -> dict:
    """Median wall time of `python -c pass`, `igctl --help` and `igctl accounts list --json` on
    a small workspace, each in a new process, interleaved so that load hits all three alike."""
    runs = {
        "python_c_pass": [sys.executable, "-c", "pass"],
        "igctl_help": [sys.executable, "-m", "igctl", "--help"],
        "igctl_accounts_list_json": [sys.executable, "-m", "igctl", "accounts", "list", "--json"],
    }
    env = {**os.environ, "IGCTL_WORKSPACE": str(ws)}
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(repeat):
        for name, argv in runs.items():
            start = time.perf_counter()
            subprocess.run(argv, env=env, check=True, capture_output=True)
            times[name].append(time.perf_counter() - start)
    out = {f"{k}_ms": round(sorted(v)[len(v) // 2] * 1000, 1) for k, v in times.items()}
    out["help_over_python_ms"] = round(out["igctl_help_ms"] - out["python_c_pass_ms"], 1)
    out["list_over_python_ms"] = round(out["igctl_accounts_list_json_ms"] - out["python_c_pass_ms"], 1)
    return out


@benchmark
def bench_startup(args) -> dict:
    """Start-up: `igctl --help` and `igctl accounts list --json` on a small workspace (20
    accounts) next to bare Python, the medians of 15 interleaved runs. Floors (issue 14):
    --help within 60 ms of bare Python, the listing within 150 ms."""
    root = Path(tempfile.mkdtemp(prefix="igctl-bench-startup-"))
    try:
        small = fresh_workspace(root, "small")
        source = root / "small.txt"
        write_accounts_file(source, 20)
        igctl("accounts", "import", source, "--no-assign", env={"IGCTL_WORKSPACE": str(small)})
        return _startup(small)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@benchmark
def bench_scale(args) -> dict:
    """The scale story in one run (docs/benchmarks.md, "Scale"): import at --scale-sizes, tick
    idle and busy at those fleet sizes, claim+complete over HTTP with --scale-clients, the report
    at the largest size, and start-up next to bare Python."""
    from bench import api, report, warmup

    sizes = [int(x) for x in args.scale_sizes.split(",")]
    figures: dict = {"sizes": sizes}
    root = Path(tempfile.mkdtemp(prefix="igctl-bench-scale-"))
    try:
        small = fresh_workspace(root, "small")
        source = root / "small.txt"
        write_accounts_file(source, 20)
        igctl("accounts", "import", source, "--no-assign", env={"IGCTL_WORKSPACE": str(small)})
        print("-- start-up", file=sys.stderr)
        figures["startup"] = _startup(small)
        for n in sizes:
            print(f"-- import {n:,}", file=sys.stderr)
            source = root / f"accounts-{n}.txt"
            write_accounts_file(source, n)
            ws = fresh_workspace(root, f"import-{n}")
            result, seconds, rss = run_measured(
                ["accounts", "import", source, "--json", "--no-assign"], env={"IGCTL_WORKSPACE": str(ws)}
            )
            assert json.loads(result.stdout)["imported"] == n
            figures[f"import_{n}"] = {
                "seconds": round(seconds, 1),
                "accounts_per_second": round(n / seconds),
                "peak_rss_mib": round(rss / 1024, 1),
            }
            source.unlink()
            shutil.rmtree(ws, ignore_errors=True)
        for n in sizes:
            print(f"-- tick at {n:,}", file=sys.stderr)
            figures[f"tick_{n}"] = warmup.bench(n, n // 5, 500)
        for clients in [int(x) for x in args.scale_clients.split(",")]:
            print(f"-- API with {clients} clients", file=sys.stderr)
            figures[f"api_{clients}_clients"] = api.bench(args.round_trips, clients, args.server_threads, 2000)
        big = max(sizes)
        print(f"-- report at {big:,}", file=sys.stderr)
        start = time.perf_counter()
        path, rows = report.build(root / "report", big, args.steps)
        built = round(time.perf_counter() - start, 1)
        env = {**os.environ, "IGCTL_WORKSPACE": str(path), "IGCTL_NOW": report.NOW}
        seconds, _ = report.timed_command(["report", "--json"], env)
        figures[f"report_{big}"] = {**rows, "build_seconds": built, "report_json_seconds": round(seconds, 2)}
        return figures
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default all but scale): {', '.join(BENCHMARKS)}")
    parser.add_argument("--lines", type=int, default=100_000, help="accounts in the generated import file")
    parser.add_argument("--accounts", type=int, default=100_000, help="fleet size for the warm-up benchmark")
    parser.add_argument("--warming", type=int, default=20_000, help="of which in warm-up")
    parser.add_argument("--claims", type=int, default=2_000, help="claims to time")
    parser.add_argument("--steps", type=int, default=1_000_000, help="step-log rows for the report benchmark")
    parser.add_argument("--round-trips", type=int, default=2_000, help="bot API round trips to time")
    parser.add_argument("--clients", type=int, default=16, help="concurrent bot clients for the API benchmark")
    parser.add_argument("--server-threads", type=int, default=8, help="server threads for the API benchmark")
    parser.add_argument("--scale-sizes", default="100000,1000000", help="fleet sizes of the scale benchmark")
    parser.add_argument("--scale-clients", default="16,64", help="concurrent bot clients of the scale benchmark")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    names = args.names or [n for n in BENCHMARKS if n != "scale"]  # scale runs the others at size: ask for it
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    report = {
        "machine": f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} cores, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}".strip(),
        "date": time.strftime("%Y-%m-%d"),
    }
    for name in names:
        print(f"== {name}", file=sys.stderr)
        report[name] = BENCHMARKS[name](args)
        if not args.json:
            print(f"{name}: {json.dumps(report[name], indent=2)}")
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"machine: {report['machine']}; date: {report['date']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
