"""Proxy health (igctl.engine.domain.proxy_health, `igctl proxy test`): real requests through real proxies
on 127.0.0.1 (tests/proxy_servers.py), the results on the proxy and in the event log, the health
rules (quarantine after proxies.fail_threshold failures, auto_recover, exit IP changes), the
hooks for `warmup tick` and `review list`, and bad input (one line, exit 1, nothing changed)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml
from proxy_servers import (  # noqa: F401 - fixtures
    EchoServer,
    HangingPort,
    HttpProxy,
    SilentPort,
    Socks5Proxy,
    certificate,
    echo,
    http_proxy,
    refusing_port,
    silent_port,
    socks_proxy,
    tls_echo,
)

from igctl.engine.domain import proxies, proxy_health
from igctl.engine.store.workspace import Workspace

SECRET = "Zq7:hunter2@secret"
NOW_UTC = "2026-03-02T10:00:00.000Z"  # conftest's NOW; the workspace zone is UTC


# -- helpers ----------------------------------------------------------------------------------
def configure(ws_path: Path, **settings) -> None:
    """Set `proxies.*` settings in the workspace's igctl.yaml (the CLI reads it afresh)."""
    path = ws_path / "igctl.yaml"
    data = yaml.safe_load(path.read_text())
    data["proxies"].update(settings)
    path.write_text(yaml.safe_dump(data))


def fresh(ws_path: Path) -> Workspace:
    """The engine's view with the settings as they are in igctl.yaml now."""
    return Workspace.open(ws_path)


def snapshot(ws):
    db = ws.db()
    return (
        [tuple(r) for r in db.query("SELECT * FROM proxies ORDER BY id")],
        [tuple(r) for r in db.query("SELECT id, lifecycle_state, proxy_id FROM accounts ORDER BY id")],
        db.scalar("SELECT COUNT(*) FROM events"),
    )


def events(ws, kind):
    return [
        dict(r) | {"details": json.loads(r["details_json"] or "null")}
        for r in ws.db().query("SELECT * FROM events WHERE kind = ? ORDER BY id", [kind])
    ]


def proxy(ws, proxy_id=1) -> dict:
    return proxies.get_proxy(ws, proxy_id)


def add_accounts(ws, proxy_id, names, state="warming_up"):
    db = ws.db()
    with db.write():
        for name in names:
            db.execute(
                "INSERT INTO accounts (username, password_enc, lifecycle_state, proxy_id, created_at, updated_at) "
                "VALUES (?, 'x', ?, ?, 'x', 'x')",
                [name, state, proxy_id],
            )


@pytest.fixture
def checked(ws_path, echo):
    """A workspace whose check URL is the local echo server, with a short timeout."""
    configure(ws_path, check_url=echo.url, test_timeout_seconds=0.5)
    return echo


@pytest.fixture
def tls_checked(ws_path, tls_echo, certificate):
    configure(ws_path, check_url=tls_echo.url, test_timeout_seconds=0.5, ca_file=str(certificate[0]))
    return tls_echo


# -- one request through each kind of proxy ---------------------------------------------------
def test_http_proxy_with_an_http_check_url_sends_a_get_with_the_absolute_uri(igctl, ws, checked, http_proxy):
    igctl("proxy", "add", http_proxy.spec())
    out = igctl.json("proxy", "test", "1")
    [r] = out["results"]
    assert (out["tested"], out["passed"], out["failed"]) == (1, 1, 0)
    assert r["ok"] is True and r["exit_ip"] == "127.0.0.2" and r["error"] is None
    assert isinstance(r["latency_ms"], int) and 0 <= r["latency_ms"] < 500
    assert http_proxy.requests == [f"GET {checked.url} HTTP/1.1"]
    row = proxy(ws)
    assert row["last_tested_at"] == NOW_UTC and row["last_test_ok"] is True
    assert row["last_exit_ip"] == "127.0.0.2" and row["last_latency_ms"] == r["latency_ms"]
    assert row["last_test_error"] is None and row["status"] == "active"
    [event] = events(ws, "proxy.tested")
    assert event["proxy_id"] == 1 and event["details"]["ok"] is True and event["details"]["exit_ip"] == "127.0.0.2"
    assert event["actor"].startswith("user")
    assert [e["message"] for e in events(ws, "command")][-1] == "proxy test"


def test_https_check_url_goes_through_a_connect_tunnel(igctl, ws, tls_checked, http_proxy):
    igctl("proxy", "add", http_proxy.spec())
    [r] = igctl.json("proxy", "test", "1")["results"]
    assert r["ok"] is True and r["exit_ip"] == "127.0.0.2"
    assert http_proxy.requests == [f"CONNECT 127.0.0.1:{tls_checked.port} HTTP/1.1"]


def test_an_untrusted_certificate_fails_the_test(igctl, ws, ws_path, tls_echo, http_proxy):
    configure(ws_path, check_url=tls_echo.url, test_timeout_seconds=0.5)  # system CAs only
    igctl("proxy", "add", http_proxy.spec())
    [r] = igctl.json("proxy", "test", "1")["results"]
    assert r["ok"] is False and r["error"].startswith("TLS certificate not trusted")


def test_https_proxy_reached_over_tls_with_tls_inside(igctl, ws, tls_checked, certificate):
    with HttpProxy(tls=certificate, exit_ip="127.0.0.3") as tls_proxy:
        igctl("proxy", "add", tls_proxy.spec())
        assert tls_proxy.spec().startswith("https://")
        [r] = igctl.json("proxy", "test", "1")["results"]
    assert r["ok"] is True and r["exit_ip"] == "127.0.0.3"
    assert tls_proxy.requests == [f"CONNECT 127.0.0.1:{tls_checked.port} HTTP/1.1"]


@pytest.mark.parametrize("check", ["http", "https"])
def test_credentials_go_to_the_proxy_and_a_wrong_password_fails(igctl, ws, ws_path, echo, tls_echo, certificate, check):
    url = echo.url if check == "http" else tls_echo.url
    configure(ws_path, check_url=url, test_timeout_seconds=0.5, ca_file=str(certificate[0]))
    with HttpProxy(username="alice", password=SECRET) as guarded:
        igctl("proxy", "add", guarded.spec("alice", SECRET))
        igctl("proxy", "add", f"127.0.0.1:{guarded.port}:bob:wrong")
        out = igctl.json("proxy", "test", "1", "2")
    good, bad = out["results"]
    assert good["ok"] is True and good["exit_ip"] == "127.0.0.2"
    assert bad["ok"] is False and "refused its credentials" in bad["error"] and "407" in bad["error"]
    assert proxy(ws, 2)["last_test_error"] == bad["error"]


def test_no_proxy_password_anywhere_in_the_workspace_or_output(igctl, ws, ws_path, checked):
    with HttpProxy(username="alice", password=SECRET) as guarded:
        igctl("proxy", "add", guarded.spec("alice", SECRET))
        igctl("proxy", "add", f"http://bob:{SECRET}x@127.0.0.1:{guarded.port}")  # wrong: fails, with an error text
        result = igctl("proxy", "test", "--all", "--json")
        human = igctl("proxy", "test", "--all")
    ws.close()
    for text in (result.stdout, result.stderr, human.stdout):
        assert SECRET not in text
    leaks = [str(p) for p in ws_path.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]
    assert leaks == []


@pytest.mark.parametrize("check", ["http", "https"])
def test_socks5_proxy_with_user_and_password(igctl, ws, ws_path, echo, tls_echo, certificate, check):
    url = echo.url if check == "http" else tls_echo.url
    configure(ws_path, check_url=url, test_timeout_seconds=0.5, ca_file=str(certificate[0]))
    port = echo.port if check == "http" else tls_echo.port
    with Socks5Proxy(username="sam", password=SECRET) as socks:
        igctl("proxy", "add", socks.spec(username="sam", password=SECRET))
        igctl("proxy", "add", socks.spec(username="sally", password="nope"))
        good, bad = igctl.json("proxy", "test", "--all")["results"]
        assert socks.targets == [("127.0.0.1", port)]
    assert good["ok"] is True and good["exit_ip"] == "127.0.0.4"
    assert bad["ok"] is False and bad["error"].startswith("the proxy refused the connection")


def test_socks5h_lets_the_proxy_resolve_the_check_host(igctl, ws, ws_path, certificate):
    with EchoServer(tls=certificate) as tls_echo, Socks5Proxy() as socks:
        configure(
            ws_path,
            check_url=f"https://localhost:{tls_echo.port}/",
            test_timeout_seconds=1,
            ca_file=str(certificate[0]),
        )
        igctl("proxy", "add", socks.spec("socks5h"))
        [r] = igctl.json("proxy", "test", "1")["results"]
        assert socks.targets == [("localhost", tls_echo.port)]
    assert r["ok"] is True and r["exit_ip"] == "127.0.0.4"


# -- failures are results -----------------------------------------------------------------------
def test_a_refusing_port_and_a_silent_port_fail_with_their_reason_and_exit_0(
    igctl, ws, checked, refusing_port, silent_port
):
    igctl("proxy", "add", f"127.0.0.1:{refusing_port.port}")
    igctl("proxy", "add", f"127.0.0.1:{silent_port.port}")
    started = time.monotonic()
    result = igctl("proxy", "test", "--all", "--json")  # exit 0 asserted by the fixture
    elapsed = time.monotonic() - started
    out = json.loads(result.stdout)
    refused, silent = out["results"]
    assert (out["tested"], out["passed"], out["failed"]) == (2, 0, 2)
    assert refused["ok"] is False and refused["error"] == "connection refused by the proxy"
    assert silent["ok"] is False and silent["error"] == "timed out after 0.5 s"
    # the timeout holds: without it the silent port would hold the test forever (about 0.5 s
    # here; the bound leaves room for a loaded machine)
    assert elapsed < 5
    assert proxy(ws, 1)["last_test_ok"] is False and proxy(ws, 1)["last_latency_ms"] is None
    assert proxy(ws, 2)["consecutive_failures"] == 1
    assert [e["details"]["error"] for e in events(ws, "proxy.tested")] == [refused["error"], silent["error"]]


def test_a_proxy_answering_with_an_error_status_fails(igctl, ws, checked, http_proxy):
    checked.status = 503
    igctl("proxy", "add", http_proxy.spec())
    [r] = igctl.json("proxy", "test", "1")["results"]
    assert r["ok"] is False and r["error"] == "HTTP 503 Service Unavailable instead of the check URL's answer"
    assert r["http_status"] == 503


def test_an_answer_without_an_ip_passes_with_a_note(igctl, ws, checked, http_proxy):
    checked.body = b"<html>hello</html>"
    igctl("proxy", "add", http_proxy.spec())
    [r] = igctl.json("proxy", "test", "1")["results"]
    assert r["ok"] is True and r["exit_ip"] is None and r["note"] == "the check URL's answer holds no IP address"


def test_proxies_are_tested_side_by_side(igctl, ws, ws_path, echo):
    configure(ws_path, check_url=echo.url, test_timeout_seconds=1)
    ports = [SilentPort() for _ in range(6)]
    try:
        for p in ports:
            igctl("proxy", "add", f"127.0.0.1:{p.port}")
        started = time.monotonic()
        out = igctl.json("proxy", "test", "--all", "--concurrency", "6")
        elapsed = time.monotonic() - started
    finally:
        for p in ports:
            p.close()
    assert out["failed"] == 6 and [r["proxy_id"] for r in out["results"]] == [1, 2, 3, 4, 5, 6]
    assert elapsed < 3.5  # side by side about 1 s; one after another would take 6 s


def test_human_output_and_progress_only_on_a_terminal(igctl, ws, checked, http_proxy, refusing_port):
    igctl("proxy", "add", http_proxy.spec())
    igctl("proxy", "add", f"127.0.0.1:{refusing_port.port}")
    result = igctl("proxy", "test", "--all")
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["id", "proxy", "result", "latency", "exit", "IP", "status", "error"]
    assert "127.0.0.2" in lines[2] and " ok " in lines[2]
    assert "FAILED" in lines[3] and "connection refused by the proxy" in lines[3]
    assert lines[-1] == "Tested 2 proxies: 1 passed, 1 failed."
    assert "Testing proxies" not in result.stderr  # CliRunner is no terminal: no progress bar


def test_the_check_url_is_validated_as_a_setting(igctl, ws, ws_path):
    configure(ws_path, check_url="ftp://example.invalid/ip")
    assert "proxies.check_url" in igctl.error("proxy", "list")


def test_exit_ip_from_echo_answers():
    assert proxy_health.exit_ip_from(b'{"ip": "203.0.113.7"}') == "203.0.113.7"
    assert proxy_health.exit_ip_from(b'{"origin": "203.0.113.7, 10.0.0.1"}') == "203.0.113.7"
    assert proxy_health.exit_ip_from(b"203.0.113.7\n") == "203.0.113.7"
    assert proxy_health.exit_ip_from(b'"2001:DB8:0::1"') == "2001:db8::1"
    assert proxy_health.exit_ip_from(b'{"ip": "not an ip"}') is None
    assert proxy_health.exit_ip_from(b"<html></html>") is None
    assert proxy_health.exit_ip_from(b"") is None


# -- bad input: one line, exit 1, nothing sent, nothing changed -----------------------------------
@pytest.mark.parametrize(
    "args, message",
    [
        (["9"], "Error: no proxy with id 9"),
        (["1", "9", "12"], "Error: no proxies with ids 9, 12"),
        (["1", "--all"], "Error: name proxies or ask for all of them, not both (PROXY_ID…, --all)"),
        ([], "Error: name the proxies to test, or ask for all of them (PROXY_ID…, --all)"),
        (["1", "--concurrency", "0"], "Error: concurrency must be a whole number from 1 to 256, not 0"),
        (["1", "--concurrency", "257"], "Error: concurrency must be a whole number from 1 to 256, not 257"),
    ],
)
def test_bad_input(igctl, ws, checked, http_proxy, args, message):
    igctl("proxy", "add", http_proxy.spec())
    before = snapshot(ws)
    assert igctl.error("proxy", "test", *args) == message
    assert snapshot(ws) == before and checked.requests == 0 and http_proxy.requests == []


def test_concurrency_at_the_limits_is_accepted(igctl, ws, checked, http_proxy):
    igctl("proxy", "add", http_proxy.spec())
    assert igctl.json("proxy", "test", "1", "--concurrency", "1")["passed"] == 1
    assert igctl.json("proxy", "test", "1", "--concurrency", "256")["passed"] == 1


def test_a_missing_ca_file_is_an_error(igctl, ws, ws_path, tls_echo, http_proxy):
    configure(ws_path, check_url=tls_echo.url, ca_file="no-such.pem")
    igctl("proxy", "add", http_proxy.spec())
    before = snapshot(ws)
    assert igctl.error("proxy", "test", "1") == "Error: proxies.ca_file no-such.pem is not a file"
    assert snapshot(ws) == before and tls_echo.requests == 0


def test_a_relative_ca_file_is_read_from_the_workspace(igctl, ws, ws_path, tls_echo, certificate, http_proxy):
    (ws_path / "ca.pem").write_bytes(Path(certificate[0]).read_bytes())
    configure(ws_path, check_url=tls_echo.url, ca_file="ca.pem", test_timeout_seconds=0.5)
    igctl("proxy", "add", http_proxy.spec())
    assert igctl.json("proxy", "test", "1")["passed"] == 1


def test_all_with_no_proxies_tests_nothing_and_records_nothing(igctl, ws, checked):
    before = snapshot(ws)
    assert igctl.json("proxy", "test", "--all") == {
        "tested": 0,
        "passed": 0,
        "failed": 0,
        "quarantined": [],
        "recovered": [],
        "exit_ip_changed": [],
        "results": [],
    }
    assert snapshot(ws) == before


def test_a_proxy_removed_while_it_was_tested_is_skipped(ws):
    db = ws.db()
    with db.write():
        assert (
            proxy_health.record_results(
                ws, [proxy_health.Probe(proxy_id=42, ok=True, exit_ip="192.0.2.1")], actor="test"
            )
            == []
        )
    assert events(ws, "proxy.tested") == []


# -- quarantine and recovery ----------------------------------------------------------------------
def test_fail_threshold_failures_in_a_row_set_the_proxy_to_error(igctl, ws, ws_path, checked, refusing_port):
    configure(ws_path, fail_threshold=3)
    igctl("proxy", "add", f"127.0.0.1:{refusing_port.port}")
    for n in (1, 2):  # just inside: still active
        r = igctl.json("proxy", "test", "1")
        assert r["quarantined"] == [] and proxy(ws)["status"] == "active" and proxy(ws)["consecutive_failures"] == n
    r = igctl.json("proxy", "test", "1")  # the third in a row
    assert (
        r["quarantined"] == [1] and r["results"][0]["status"] == "error" and r["results"][0]["old_status"] == "active"
    )
    row = proxy(ws)
    assert row["status"] == "error" and row["status_changed_at"] == NOW_UTC
    [change] = events(ws, "proxy.status")
    assert (change["old_state"], change["new_state"]) == ("active", "error")
    assert change["cause"].startswith("3 failed tests in a row (proxies.fail_threshold 3)")
    igctl.json("proxy", "test", "1")  # a fourth failure: already error, no second event
    assert len(events(ws, "proxy.status")) == 1 and proxy(ws)["consecutive_failures"] == 4


def test_a_passing_test_resets_the_count(igctl, ws, ws_path, checked, http_proxy):
    configure(ws_path, fail_threshold=2)
    igctl("proxy", "add", http_proxy.spec())
    real_port = http_proxy.port
    with SilentPort() as dead:
        db = ws.db()
        with db.write():
            db.execute("UPDATE proxies SET port = ? WHERE id = 1", [dead.port])
        igctl.json("proxy", "test", "1")
        with db.write():
            db.execute("UPDATE proxies SET port = ? WHERE id = 1", [real_port])
        igctl.json("proxy", "test", "1")  # passes: the count starts again
        assert proxy(ws)["consecutive_failures"] == 0
        with db.write():
            db.execute("UPDATE proxies SET port = ? WHERE id = 1", [dead.port])
        igctl.json("proxy", "test", "1")
    assert proxy(ws)["status"] == "active" and proxy(ws)["consecutive_failures"] == 1


def test_without_auto_recover_an_error_proxy_stays_in_error(igctl, ws, ws_path, checked, http_proxy):
    igctl("proxy", "add", http_proxy.spec())
    igctl("proxy", "set-status", "1", "error")
    r = igctl.json("proxy", "test", "1")
    assert r["passed"] == 1 and r["recovered"] == [] and proxy(ws)["status"] == "error"


def test_with_auto_recover_a_passing_test_sets_an_error_proxy_active(igctl, ws, ws_path, checked, http_proxy):
    configure(ws_path, auto_recover=True)
    igctl("proxy", "add", http_proxy.spec())
    igctl("proxy", "add", f"{http_proxy.spec()}".replace("http://", "http://u:p@"))  # a second, inactive one
    igctl("proxy", "set-status", "1", "error")
    igctl("proxy", "set-status", "2", "inactive")
    r = igctl.json("proxy", "test", "--all")
    assert r["passed"] == 2 and r["recovered"] == [1]
    assert proxy(ws, 1)["status"] == "active" and proxy(ws, 2)["status"] == "inactive"  # an operator's inactive stays
    last = events(ws, "proxy.status")[-1]
    assert (last["proxy_id"], last["new_state"], last["cause"]) == (1, "active", "passed a test (proxies.auto_recover)")


def test_an_inactive_proxy_that_fails_stays_inactive(igctl, ws, ws_path, checked, refusing_port):
    configure(ws_path, fail_threshold=1)
    igctl("proxy", "add", f"127.0.0.1:{refusing_port.port}")
    igctl("proxy", "set-status", "1", "inactive")
    assert igctl.json("proxy", "test", "1")["quarantined"] == []
    assert proxy(ws)["status"] == "inactive"


def test_set_status_active_starts_the_count_afresh(igctl, ws, ws_path, checked, refusing_port):
    configure(ws_path, fail_threshold=2)
    igctl("proxy", "add", f"127.0.0.1:{refusing_port.port}")
    igctl.json("proxy", "test", "1")
    igctl.json("proxy", "test", "1")
    assert proxy(ws)["status"] == "error"
    igctl("proxy", "set-status", "1", "active")
    assert proxy(ws)["consecutive_failures"] == 0
    assert igctl.json("proxy", "test", "1")["quarantined"] == []  # one failure, not three
    assert proxy(ws)["status"] == "active"


# -- exit IP changes ------------------------------------------------------------------------------
def test_an_exit_ip_change_is_an_event_and_needs_attention_until_acknowledged(igctl, ws, ws_path, checked, http_proxy):
    igctl("proxy", "add", http_proxy.spec())
    first = igctl.json("proxy", "test", "1")
    assert first["exit_ip_changed"] == [] and proxy_health.attention(fresh(ws_path)) == []
    http_proxy.exit_ip = "127.0.0.9"
    second = igctl.json("proxy", "test", "1")
    assert second["exit_ip_changed"] == [1]
    assert second["results"][0]["previous_exit_ip"] == "127.0.0.2" and second["results"][0]["exit_ip"] == "127.0.0.9"
    [event] = events(ws, "proxy.exit_ip_changed")
    assert event["proxy_id"] == 1 and event["details"] == {"old_exit_ip": "127.0.0.2", "new_exit_ip": "127.0.0.9"}
    [item] = proxy_health.attention(fresh(ws_path))
    assert item["kind"] == "proxy_ip_changed" and item["proxy_id"] == 1 and item["since"] == NOW_UTC
    assert (item["old_exit_ip"], item["new_exit_ip"]) == ("127.0.0.2", "127.0.0.9")
    assert "127.0.0.2 to 127.0.0.9" in item["message"]
    # a passing test that sees the same IP again acknowledges it
    assert igctl.json("proxy", "test", "1")["exit_ip_changed"] == []
    assert proxy_health.attention(fresh(ws_path)) == []
    assert proxy(ws)["exit_ip_changed_at"] is None and proxy(ws)["last_exit_ip"] == "127.0.0.9"


def test_set_status_acknowledges_an_exit_ip_change(igctl, ws, ws_path, checked, http_proxy):
    igctl("proxy", "add", http_proxy.spec())
    igctl.json("proxy", "test", "1")
    http_proxy.exit_ip = "127.0.0.9"
    igctl.json("proxy", "test", "1")
    out = igctl("proxy", "set-status", "1", "active").stdout
    assert out.splitlines() == ["Proxy 1 is already active.", "Exit IP change of proxy 1 acknowledged (now 127.0.0.9)."]
    assert proxy_health.attention(fresh(ws_path)) == []
    [ack] = events(ws, "proxy.exit_ip_acknowledged")
    assert ack["details"] == {"old_exit_ip": "127.0.0.2", "new_exit_ip": "127.0.0.9"}


def test_a_failed_test_keeps_the_last_known_exit_ip(igctl, ws, ws_path, checked, http_proxy):
    igctl("proxy", "add", http_proxy.spec())
    igctl.json("proxy", "test", "1")
    checked.status = 502
    igctl.json("proxy", "test", "1")
    checked.status = 200
    assert proxy(ws)["last_exit_ip"] == "127.0.0.2"
    assert igctl.json("proxy", "test", "1")["exit_ip_changed"] == []  # same IP as the last one known


# -- proxy list -------------------------------------------------------------------------------------
def test_list_shows_the_last_test_and_filters_by_status(igctl, ws, ws_path, checked, http_proxy, refusing_port):
    configure(ws_path, fail_threshold=1)
    igctl("proxy", "add", http_proxy.spec())
    igctl("proxy", "add", f"127.0.0.1:{refusing_port.port}")
    igctl("proxy", "add", "192.0.2.50:8080")  # never tested
    tested = igctl.json("proxy", "test", "1", "2")
    rows = igctl.json("proxy", "list")
    assert [(r["id"], r["status"], r["last_test_ok"], r["last_exit_ip"]) for r in rows] == [
        (1, "active", True, "127.0.0.2"),
        (2, "error", False, None),
        (3, "active", None, None),
    ]
    assert rows[0]["last_latency_ms"] == tested["results"][0]["latency_ms"]
    assert rows[1]["last_test_error"] == "connection refused by the proxy"
    assert [r["id"] for r in igctl.json("proxy", "list", "--status", "error")] == [2]
    table = igctl("proxy", "list").stdout.splitlines()
    assert table[0].split() == [
        "id",
        "proxy",
        "provider",
        "location",
        "status",
        "use",
        "model",
        "last",
        "tested",
        "test",
        "latency",
        "exit",
        "IP",
    ]
    assert "2026-03-02 10:00" in table[2] and " ok " in table[2] and "ms" in table[2] and "127.0.0.2" in table[2]
    assert " failed" in table[3] and "error" in table[3]
    csv_lines = igctl("proxy", "list", "--status", "error", "--csv").stdout.splitlines()
    assert "last_exit_ip" in csv_lines[0] and len(csv_lines) == 2


# -- warmup tick's hook --------------------------------------------------------------------------------
def test_run_due_tests_does_nothing_while_test_every_hours_is_null(ws, ws_path, checked, http_proxy):
    proxies.add(ws, http_proxy.spec(), actor="test")
    assert proxy_health.run_due_tests(fresh(ws_path)) == {
        "proxies_tested": 0,
        "proxies_passed": 0,
        "proxies_failed": 0,
        "proxies_quarantined": 0,
        "proxies_recovered": 0,
        "proxy_exit_ip_changes": 0,
    }
    assert checked.requests == 0


def test_run_due_tests_tests_what_was_not_tested_within_test_every_hours(
    ws, ws_path, clock, checked, http_proxy, refusing_port
):
    configure(ws_path, test_every_hours=24, fail_threshold=1)
    for spec in (http_proxy.spec(), f"127.0.0.1:{refusing_port.port}", "192.0.2.9:1", "192.0.2.10:1"):
        proxies.add(ws, spec, actor="test")
    proxies.set_status(ws, 3, "inactive", actor="test")  # an operator's inactive: not tested
    db = ws.db()
    with db.write():  # proxy 4 was tested 2 hours ago
        db.execute("UPDATE proxies SET last_tested_at = '2026-03-02T08:00:00.000Z' WHERE id = 4")
    first = proxy_health.run_due_tests(fresh(ws_path))
    assert first == {
        "proxies_tested": 2,
        "proxies_passed": 1,
        "proxies_failed": 1,
        "proxies_quarantined": 1,
        "proxies_recovered": 0,
        "proxy_exit_ip_changes": 0,
    }
    assert {e["actor"] for e in events(ws, "proxy.tested")} == {"tick"}
    assert proxy(ws, 3)["last_tested_at"] is None and proxy(ws, 4)["last_tested_at"] == "2026-03-02T08:00:00.000Z"
    clock.set("2026-03-03T07:59:59")  # proxy 4: 1 s short of 24 h; 1 and 2: 2 h 0 min 1 s short
    assert proxy_health.due_proxy_ids(fresh(ws_path)) == []
    clock.set("2026-03-03T08:00:00")  # exactly 24 h since proxy 4's test
    assert proxy_health.due_proxy_ids(fresh(ws_path)) == [4]
    clock.set("2026-03-03T10:00:00")  # and 24 h since 1 and 2 (2 is in error now: tested, for recovery)
    assert proxy_health.due_proxy_ids(fresh(ws_path)) == [4, 1, 2]


# -- review list's hook --------------------------------------------------------------------------------
def test_attention_lists_error_and_inactive_proxies_with_their_accounts(
    igctl, ws, ws_path, clock, checked, refusing_port
):
    configure(ws_path, fail_threshold=1)
    igctl("proxy", "add", f"127.0.0.1:{refusing_port.port}")
    igctl("proxy", "add", "192.0.2.2:8080")
    igctl("proxy", "add", "192.0.2.3:8080")
    add_accounts(ws, 1, ["a1", "a2"])
    add_accounts(ws, 1, ["gone"], state="retired")
    igctl.json("proxy", "test", "1")  # → error
    clock.set("2026-03-02T11:00:00")
    igctl("proxy", "set-status", "2", "inactive")
    items = proxy_health.attention(fresh(ws_path))
    assert [(i["kind"], i["proxy_id"], i["account_count"], i["since"]) for i in items] == [
        ("proxy_error", 1, 2, NOW_UTC),
        ("proxy_inactive", 2, 0, "2026-03-02T11:00:00.000Z"),
    ]
    assert items[0]["message"].startswith(
        f"proxy 1 (http://127.0.0.1:{refusing_port.port}) is error; "
        "last test: connection refused by the proxy; 2 accounts get no tasks"
    )
    assert all({"kind", "proxy_id", "message", "since"} <= set(i) for i in items)
    igctl("proxy", "set-status", "1", "active")
    assert [i["proxy_id"] for i in proxy_health.attention(fresh(ws_path))] == [2]


def test_a_running_test_does_not_hold_the_write_lock(ws, ws_path, echo):
    """Bots must keep claiming tasks while proxies are tested: the network is waited for outside
    any transaction."""
    import threading

    configure(ws_path, check_url=echo.url, test_timeout_seconds=3)
    with HangingPort() as hanging:
        proxies.add(ws, f"127.0.0.1:{hanging.port}", actor="test")
        tester = fresh(ws_path)
        done = {}
        thread = threading.Thread(target=lambda: done.update(proxy_health.check_proxies(tester, [1], actor="test")))
        thread.start()
        assert hanging.accepted.wait(5)  # the test now waits for an answer that never comes
        other = fresh(ws_path).connect()
        started = time.monotonic()
        with other.write():
            other.execute("UPDATE proxies SET provider = 'acme' WHERE id = 1")
        waited = time.monotonic() - started
        other.close()
        thread.join()
    assert waited < 1.0  # a lock held through the network wait would keep this write waiting ~3 s
    assert done["failed"] == 1 and done["results"][0]["error"] == "timed out after 3 s"
    assert proxy(ws)["provider"] == "acme"


def test_warmup_tick_runs_the_due_proxy_tests_and_review_lists_what_they_found(
    igctl, ws, ws_path, clock, checked, http_proxy, refusing_port
):
    """The wiring: `warmup tick` tests the proxies due a test (never in a dry run), a quarantined
    proxy shows in `review list`, and a proxy tested within test_every_hours is left alone."""
    configure(ws_path, test_every_hours=24, fail_threshold=1)
    igctl("proxy", "add", http_proxy.spec())
    igctl("proxy", "add", f"127.0.0.1:{refusing_port.port}")
    dry = igctl.json("warmup", "tick", "--dry-run")
    assert "proxies_tested" not in dry and proxy(ws, 1)["last_tested_at"] is None
    first = igctl.json("warmup", "tick")
    assert (first["proxies_tested"], first["proxies_passed"], first["proxies_quarantined"]) == (2, 1, 1)
    assert proxy(ws, 2)["status"] == "error"
    items = [i for i in igctl.json("review", "list") if i["kind"] == "proxy_error"]
    assert [i["proxy_id"] for i in items] == [2] and items[0]["waited_seconds"] == 0
    clock.set("2026-03-02T11:00:00")
    assert igctl.json("warmup", "tick")["proxies_tested"] == 0  # both tested within 24 h
