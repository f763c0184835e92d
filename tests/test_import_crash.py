"""A crash in the middle of an import leaves none of that file: `igctl accounts import` of a
200,000-line file in a real process, killed with SIGKILL while its transaction is being written."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time

import pytest

LINES = 200_000
MIB = 1024 * 1024


def write_big_file(path, lines: int) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("username,password,email,email_password\n")
        for i in range(lines):
            fh.write(f"crash_user_{i:07d},Pw-{i:07d}-q!,crash{i}@example.com,Mail-{i:07d}\n")


def check_database(db_path) -> tuple[int, int]:
    """(accounts, accounts.import events) after recovery; the file must pass integrity_check."""
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        accounts = conn.execute("SELECT count(*) FROM accounts").fetchone()[0]
        events = conn.execute("SELECT count(*) FROM events WHERE kind = 'accounts.import'").fetchone()[0]
        return accounts, events
    finally:
        conn.close()


def start_import(ws, source) -> subprocess.Popen:
    env = {**os.environ, "IGCTL_WORKSPACE": str(ws)}
    return subprocess.Popen(
        [sys.executable, "-m", "igctl", "accounts", "import", str(source), "--no-assign", "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wal_size(ws) -> int:
    try:
        return (ws / "igctl.db-wal").stat().st_size
    except FileNotFoundError:
        return 0


@pytest.mark.stress
def test_sigkill_mid_import_leaves_none_or_all_of_the_file(tmp_path, igctl):
    source = tmp_path / "big.txt"
    write_big_file(source, LINES)
    outcomes = []
    # Kill once the transaction has spilled this much into the WAL: early, middle, late.
    for n, grown in enumerate((256 * 1024, 4 * MIB, 16 * MIB, 32 * MIB)):
        ws = tmp_path / f"ws{n}"
        igctl("init", ws)
        baseline = wal_size(ws)
        proc = start_import(ws, source)
        deadline = time.monotonic() + 120
        while proc.poll() is None and wal_size(ws) < baseline + grown and time.monotonic() < deadline:
            time.sleep(0.005)
        killed_while_running = proc.poll() is None
        proc.kill()
        proc.communicate()
        accounts, events = check_database(ws / "igctl.db")
        assert (accounts, events) in ((0, 0), (LINES, 1)), (grown, accounts, events)
        outcomes.append((killed_while_running, accounts))

    # At least one kill must have landed inside the transaction, or this test proved nothing.
    assert (True, 0) in outcomes, outcomes

    # The workspace a crash left behind imports the whole file afterwards.
    proc = start_import(tmp_path / "ws0", source)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()
    assert json.loads(out)["imported"] == LINES
    assert check_database(tmp_path / "ws0" / "igctl.db") == (LINES, 1)
