"""igctl log and the event log's mirror and redaction."""

from __future__ import annotations

import json

import pytest

from igctl.engine.store.events import redact, redact_argument


def _add_events(ws, *specs):
    db = ws.db()
    with db.write():
        for kind, at in specs:
            ws.events.record(db, at, kind, "tick", message=kind, details={"password": "pw1", "n": 1})


def test_log_lists_filters_and_limits(ws, igctl):
    _add_events(
        ws,
        ("proxy.status", "2026-03-01T10:00:00.000Z"),
        ("account.state", "2026-03-02T08:00:00.000Z"),
        ("account.reveal", "2026-03-03T08:00:00.000Z"),
    )
    every = igctl.json("log")
    assert [e["kind"] for e in every] == ["workspace.init", "proxy.status", "account.state", "account.reveal"]
    assert [e["kind"] for e in igctl.json("log", "--kind", "account")] == ["account.state", "account.reveal"]
    assert [e["kind"] for e in igctl.json("log", "--kind", "account.state")] == ["account.state"]
    assert [e["kind"] for e in igctl.json("log", "--since", "2026-03-03")] == ["account.reveal"]
    assert [e["kind"] for e in igctl.json("log", "--since", "2026-03-01", "--until", "2026-03-02")] == ["proxy.status"]
    assert [e["kind"] for e in igctl.json("log", "--limit", "2")] == ["account.state", "account.reveal"]
    table = igctl("log").stdout
    assert "account.reveal" in table and "actor" in table
    csv_text = igctl("log", "--csv").stdout
    assert csv_text.splitlines()[0].startswith("id,at,kind,actor")


def test_details_are_redacted_in_table_and_mirror(ws, ws_path):
    _add_events(ws, ("x.y", "2026-03-02T08:00:00.000Z"))
    stored = ws.db().scalar("SELECT details_json FROM events WHERE kind = 'x.y'")
    assert json.loads(stored) == {"n": 1, "password": "***"}
    mirror = (ws_path / "logs" / "events-2026-03-02.jsonl").read_text()
    assert "pw1" not in mirror and '"kind": "x.y"' in mirror


def test_a_rolled_back_event_is_not_mirrored(ws, ws_path):
    db = ws.db()
    with pytest.raises(RuntimeError), db.write():
        ws.events.record(db, "2026-05-05T00:00:00.000Z", "ghost", "tick")
        raise RuntimeError
    assert not (ws_path / "logs" / "events-2026-05-05.jsonl").exists()
    assert db.scalar("SELECT count(*) FROM events WHERE kind = 'ghost'") == 0


@pytest.mark.parametrize(
    "bad, message",
    [
        (["--account", "nobody"], "no account named nobody"),
        (["--bot", "nobot"], "no bot named nobot"),
        (["--since", "last week"], "not a date"),
    ],
)
def test_log_bad_filters(ws_path, igctl, bad, message):
    assert message in igctl.error("log", *bad)


def test_redaction_rules():
    assert redact(
        {"password": "a", "email_password": "b", "token": "c", "idempotency_key": "d", "n": [{"pass": 1}]}
    ) == {"password": "***", "email_password": "***", "token": "***", "idempotency_key": "d", "n": [{"pass": "***"}]}
    assert redact_argument("user:pw@192.0.2.1:80") == "user:***@192.0.2.1:80"
    assert redact_argument("socks5://user:pw@192.0.2.1:80") == "socks5://user:***@192.0.2.1:80"
    assert redact_argument("192.0.2.1:8080:user:pw") == "192.0.2.1:8080:user:***"
    assert redact_argument("[2001:db8::1]:8080:user:pw") == "[2001:db8::1]:8080:user:***"
    assert redact_argument("192.0.2.1:8080") == "192.0.2.1:8080"
    assert redact_argument("someone@example.com") == "someone@example.com"


@pytest.mark.slow
def test_follow_prints_new_events_as_json_lines(ws_path, igctl):
    """`log --follow --json` in a real process: the events there, then each new one as it comes."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "IGCTL_WORKSPACE": str(ws_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "igctl", "log", "--follow", "--json"], env=env, stdout=subprocess.PIPE, text=True
    )
    import threading

    guard = threading.Timer(30, proc.kill)  # a missing event fails the test instead of hanging it
    guard.start()
    try:
        first = json.loads(proc.stdout.readline())
        assert first["kind"] == "workspace.init"
        igctl("proxy", "add", "192.0.2.1:8080:user:pw-follow")
        seen = []
        while not any(e["kind"] == "proxy.added" for e in seen):
            seen.append(json.loads(proc.stdout.readline()))  # blocks until the follower prints
        assert all("pw-follow" not in json.dumps(e) for e in seen)
    finally:
        guard.cancel()
        proc.terminate()
        proc.wait(timeout=10)
