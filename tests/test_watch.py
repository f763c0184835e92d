"""The drop folder: `igctl watch --once`, the long-running `igctl watch`, and the settle rule."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from igctl.engine.flows import inbox
from igctl.engine.flows.inbox import Snapshot, free_name, ignore_reason, is_settled, observe, settles_at
from igctl.engine.store.workspace import Workspace

ACCOUNTS = "alice,alicepw111,alice@example.com\nbob,bobpw2222,bob@example.com\n"
PROXIES = "10.0.0.1:8000:puser:proxysecret9\n10.0.0.2:8001\n"
STAMP = "20260302T100000Z"  # the frozen clock of conftest, as a name suffix


def set_config(ws_path: Path, **watch) -> None:
    cfg = ws_path / "igctl.yaml"
    text = cfg.read_text()
    for key, value in watch.items():
        old = {
            "settle_seconds": "settle_seconds: 1",
            "scan_interval_seconds": "scan_interval_seconds: 10",
            "max_file_mb": "max_file_mb: 200",
        }[key]
        assert old in text
        text = text.replace(old, f"{key}: {value}")
    cfg.write_text(text)


@pytest.fixture
def wsp(ws_path) -> Path:
    """A workspace whose files settle at once (settle_seconds: 0): tests do not wait."""
    set_config(ws_path, settle_seconds=0)
    return ws_path


def drop(ws_path: Path, kind: str, name: str, content) -> Path:
    path = ws_path / "inbox" / kind / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")
    return path


def db_of(ws_path: Path):
    return Workspace.open(ws_path).db()


def plain(ws_path: Path, path: Path) -> bytes:
    """The original bytes of a kept (sealed) file."""
    from igctl.engine.store.secrets import unseal_bytes

    return unseal_bytes(Workspace.open(ws_path).cipher, path)


def count(ws_path: Path, table: str, where: str = "1") -> int:
    return db_of(ws_path).scalar(f"SELECT count(*) FROM {table} WHERE {where}")


def snapshot_of_db(ws_path: Path) -> dict:
    db = db_of(ws_path)
    return {
        t: db.query(f"SELECT * FROM {t} ORDER BY 1").__len__() for t in ("accounts", "proxies", "events", "inbox_files")
    }


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def all_text_under(ws_path: Path) -> str:
    """Every byte igctl wrote into the workspace (database, logs, notes), as text, to search
    for leaked secrets. The dropped files themselves are the operator's originals, kept as they
    came (docs/watch.md)."""
    kept = {
        p
        for d in ("processed", "failed")
        for p in (ws_path / "inbox" / d).iterdir()
        if not p.name.endswith((".result.json", ".error.txt"))
    }
    chunks = []
    for p in ws_path.rglob("*"):
        if p.is_file() and p.name != "secret.key" and p not in kept:
            chunks.append(p.read_bytes().decode("utf-8", "replace"))
    return "\n".join(chunks)


# -- the settle rule (pure, no waiting) -----------------------------------------------------
def test_settled_exactly_at_the_boundary_not_before():
    snap = Snapshot(size=10, mtime_ns=5, since=100.0)
    assert not is_settled(snap, 100.999, 1.0)
    assert is_settled(snap, 101.0, 1.0)
    assert is_settled(snap, 101.001, 1.0)
    assert settles_at(snap, 1.0) == 101.0
    # settle_seconds 0: complete when first seen
    assert is_settled(Snapshot(0, 0, 7.0), 7.0, 0)


def test_observe_keeps_the_start_only_while_nothing_changes():
    first = observe(None, 10, 5, 100.0)
    assert first == Snapshot(10, 5, 100.0)
    same = observe(first, 10, 5, 100.9)
    assert same.since == 100.0 and is_settled(same, 101.0, 1.0)
    grown = observe(first, 11, 6, 100.9)
    assert grown.since == 100.9 and not is_settled(grown, 101.0, 1.0) and is_settled(grown, 101.9, 1.0)
    touched = observe(first, 10, 6, 100.5)  # same size, written again: not settled
    assert touched.since == 100.5
    rewritten_same_mtime = observe(first, 9, 5, 100.5)  # truncated within one mtime tick
    assert rewritten_same_mtime.since == 100.5


@pytest.mark.parametrize(
    "name, ignored",
    [
        ("accounts.txt", False),
        ("accounts", False),
        ("accounts.csv", False),
        (".accounts.txt", True),
        ("accounts.txt.tmp", True),
        ("accounts.txt.part", True),
        ("accounts.PART", True),
        ("accounts.txt.partial", True),
        ("accounts.txt.crdownload", True),
        ("accounts.txt~", True),
        ("accounts.txt.error.txt", True),
        ("accounts.txt.result.json", True),
        ("parted.txt", False),
        ("tmp.txt", False),
    ],
)
def test_which_names_are_left_alone(name, ignored):
    assert (ignore_reason(name) is not None) is ignored


def test_free_name_never_reuses_a_name_of_a_file_or_its_note(tmp_path):
    assert free_name(tmp_path, "a.txt", ".result.json", STAMP) == tmp_path / "a.txt"
    (tmp_path / "a.txt.result.json").write_text("{}")  # only the note is there: still taken
    assert free_name(tmp_path, "a.txt", ".result.json", STAMP) == tmp_path / f"a-{STAMP}.txt"
    (tmp_path / f"a-{STAMP}.txt").write_text("x")
    assert free_name(tmp_path, "a.txt", ".result.json", STAMP) == tmp_path / f"a-{STAMP}-2.txt"
    (tmp_path / "plain").write_text("x")
    assert free_name(tmp_path, "plain", ".error.txt", STAMP) == tmp_path / f"plain-{STAMP}"
    (tmp_path / ".hidden").write_text("x")
    assert free_name(tmp_path, ".hidden", ".error.txt", STAMP) == tmp_path / f".hidden-{STAMP}"


# -- --once: the happy paths ----------------------------------------------------------------
def test_an_accounts_file_is_imported_and_moved_with_its_result(wsp, igctl):
    drop(wsp, "accounts", "batch1.txt", ACCOUNTS)
    out = igctl("watch", "--once").stdout
    assert out.strip() == (
        "accounts/batch1.txt: processed, 2 imported, 0 duplicates, 0 invalid, 0 assigned to proxies"
        " -> inbox/processed/batch1.txt"
    )
    assert listing(wsp / "inbox" / "accounts") == []
    assert listing(wsp / "inbox" / "processed") == ["batch1.txt", "batch1.txt.result.json"]
    kept = wsp / "inbox" / "processed" / "batch1.txt"
    assert b"alicepw111" not in kept.read_bytes()  # sealed: no plaintext password stays in the workspace
    assert plain(wsp, kept) == ACCOUNTS.encode()  # moved, and its original is intact
    note = json.loads((wsp / "inbox" / "processed" / "batch1.txt.result.json").read_text())
    assert note["outcome"] == "processed" and note["imported"] == 2 and note["duplicates"] == 0
    assert note["file"] == "batch1.txt" and note["moved_to"] == "inbox/processed/batch1.txt"
    assert note["result"]["invalid"] == [] and "file" not in note["result"]
    db = db_of(wsp)
    assert [r[0] for r in db.query("SELECT username FROM accounts ORDER BY username")] == ["alice", "bob"]
    row = db.one("SELECT * FROM inbox_files")
    assert row["name"] == "batch1.txt" and row["kind"] == "accounts" and row["outcome"] == "processed"
    event = db.one("SELECT * FROM events WHERE kind = 'inbox.processed'")
    assert event["actor"] == "watch" and "batch1.txt" in event["message"]
    assert json.loads(event["details_json"])["imported"] == 2
    # the importer's own event carries the watch actor too
    assert [r["actor"] for r in db.query("SELECT actor FROM events WHERE kind = 'accounts.import'")] == ["watch"]
    assert "alicepw111" not in all_text_under(wsp)


def test_a_proxies_file_is_imported(wsp, igctl):
    drop(wsp, "proxies", "px.txt", PROXIES)
    [result] = igctl.json("watch", "--once")
    assert result["outcome"] == "processed" and result["kind"] == "proxies"
    assert result["imported"] == 2 and result["proxies_assigned"] is None
    assert result["moved_to"] == "inbox/processed/px.txt" and isinstance(result["imported"], int)
    assert count(wsp, "proxies") == 2
    assert (wsp / "inbox" / "processed" / "px.txt.result.json").exists()
    assert "proxysecret9" not in all_text_under(wsp)
    assert (wsp / "inbox" / "processed" / "px.txt").stat().st_mode & 0o077 == 0  # the original: owner only


def test_proxies_are_handled_before_accounts_so_the_accounts_get_them(wsp, igctl):
    drop(wsp, "accounts", "a.txt", ACCOUNTS)
    drop(wsp, "proxies", "z.txt", "10.0.0.9:8000\n")
    results = igctl.json("watch", "--once")
    assert [(r["kind"], r["outcome"]) for r in results] == [("proxies", "processed"), ("accounts", "processed")]
    assert results[1]["proxies_assigned"] == 2
    assert count(wsp, "accounts", "proxy_id IS NOT NULL") == 2
    assert {r[0] for r in db_of(wsp).query("SELECT DISTINCT actor FROM events WHERE kind = 'account.state'")} == {
        "watch"
    }


def test_json_output_is_a_list_and_nothing_else(wsp, igctl):
    assert igctl.json("watch", "--once") == []
    assert igctl("watch", "--once").stdout == ""  # nothing to do: silent, for cron
    drop(wsp, "accounts", "a.txt", ACCOUNTS)
    result = igctl("watch", "--once", "--json")
    [item] = json.loads(result.stdout)
    assert item["file"] == "a.txt" and item["sha256"] and item["error"] is None


def test_a_file_with_some_bad_lines_is_processed_and_the_bad_lines_are_listed(wsp, igctl):
    drop(wsp, "accounts", "mixed.txt", "good_one,pw12345,g@example.com\nbad user!,hushhush77,b@example.com\nnopass\n")
    [r] = igctl.json("watch", "--once")
    assert r["outcome"] == "processed" and r["imported"] == 1 and r["invalid"] == 2
    note = json.loads((wsp / "inbox" / "processed" / "mixed.txt.result.json").read_text())
    assert [i["line"] for i in note["result"]["invalid"]] == [2, 3]
    assert "hushhush77" not in (wsp / "inbox" / "processed" / "mixed.txt.result.json").read_text()


def test_a_file_of_duplicates_only_is_processed_not_failed(wsp, igctl):
    drop(wsp, "accounts", "one.txt", ACCOUNTS)
    igctl("watch", "--once")
    drop(wsp, "accounts", "again.txt", "ALICE,otherpw99,x@example.com\n")
    [r] = igctl.json("watch", "--once")
    assert r["outcome"] == "processed" and r["imported"] == 0 and r["duplicates"] == 1
    assert (wsp / "inbox" / "processed" / "again.txt").exists()
    assert count(wsp, "accounts") == 2


# -- at most once ---------------------------------------------------------------------------
def test_the_same_content_under_another_name_is_not_imported_twice(wsp, igctl):
    drop(wsp, "accounts", "first.txt", ACCOUNTS)
    igctl("watch", "--once")
    before = snapshot_of_db(wsp)
    drop(wsp, "accounts", "second.txt", ACCOUNTS)
    out = igctl("watch", "--once").stdout
    assert (
        out.strip()
        == "accounts/second.txt: repeat of accounts/first.txt, not imported again -> inbox/processed/second.txt"
    )
    after = snapshot_of_db(wsp)
    assert after["accounts"] == before["accounts"] == 2
    assert after["inbox_files"] == 1
    assert after["events"] == before["events"] + 1  # only the inbox.processed note of the repeat
    last = db_of(wsp).one("SELECT * FROM events ORDER BY id DESC LIMIT 1")
    assert last["kind"] == "inbox.processed" and "repeat" in last["message"]
    note = json.loads((wsp / "inbox" / "processed" / "second.txt.result.json").read_text())
    assert note["outcome"] == "repeat" and note["imported"] == 0
    assert note["repeat_of"]["name"] == "first.txt" and note["first_result"]["imported"] == 2
    assert "not imported again" in note["note"]


def test_crash_between_commit_and_move_is_recovered_without_a_second_import(wsp, igctl):
    # The state a crash after the commit leaves: the hash recorded, the file still in the inbox.
    drop(wsp, "accounts", "batch.txt", ACCOUNTS)
    igctl("watch", "--once")
    processed = wsp / "inbox" / "processed"
    os.replace(processed / "batch.txt", wsp / "inbox" / "accounts" / "batch.txt")
    (processed / "batch.txt.result.json").unlink()
    accounts_before = db_of(wsp).query("SELECT id, username, created_at FROM accounts ORDER BY id")

    [r] = igctl.json("watch", "--once")
    assert r["outcome"] == "repeat" and r["moved_to"] == "inbox/processed/batch.txt"
    assert listing(wsp / "inbox" / "accounts") == []
    assert listing(processed) == ["batch.txt", "batch.txt.result.json"]
    assert [tuple(x) for x in db_of(wsp).query("SELECT id, username, created_at FROM accounts ORDER BY id")] == [
        tuple(x) for x in accounts_before
    ]


def test_name_clash_in_processed_never_overwrites(wsp, igctl):
    processed = wsp / "inbox" / "processed"
    (processed / "daily.txt").write_text("an older file\n")
    drop(wsp, "accounts", "daily.txt", "carol,carolpw11,c@example.com\n")
    [r] = igctl.json("watch", "--once")
    assert r["moved_to"] == f"inbox/processed/daily-{STAMP}.txt"
    drop(wsp, "accounts", "daily.txt", "dave,davepw111,d@example.com\n")
    [r] = igctl.json("watch", "--once")
    assert r["moved_to"] == f"inbox/processed/daily-{STAMP}-2.txt"
    assert plain(wsp, processed / "daily.txt") == b"an older file\n"
    assert plain(wsp, processed / f"daily-{STAMP}.txt").startswith(b"carol,")
    assert plain(wsp, processed / f"daily-{STAMP}-2.txt").startswith(b"dave,")
    assert json.loads((processed / f"daily-{STAMP}-2.txt.result.json").read_text())["file"] == "daily.txt"
    assert count(wsp, "accounts") == 2


# -- failures -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kind, content, message",
    [
        ("accounts", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "not a text file"),
        ("accounts", "carol,pw\xe9\xe9,c@example.com\n".encode("latin-1"), "UTF-8"),
        ("proxies", b"\x00\x01\x02binary", "not a text file"),
        ("proxies", "10.0.0.1:80:u:p\xe4ss\n".encode("latin-1"), "UTF-8"),
    ],
)
def test_a_refused_file_goes_to_failed_with_an_error_note_and_nothing_is_imported(wsp, igctl, kind, content, message):
    drop(wsp, kind, "bad.txt", content)
    before = count(wsp, "accounts") + count(wsp, "proxies")
    result = igctl("watch", "--once")  # exit 0 although the file failed
    assert result.stdout.startswith(f"{kind}/bad.txt: failed, ")
    assert result.stdout.rstrip().endswith("-> inbox/failed/bad.txt")
    assert count(wsp, "accounts") + count(wsp, "proxies") == before == 0
    failed = wsp / "inbox" / "failed"
    assert listing(failed) == ["bad.txt", "bad.txt.error.txt"]
    assert plain(wsp, failed / "bad.txt") == content
    note = (failed / "bad.txt.error.txt").read_text()
    assert message in note and "Hint:" in note and f"inbox/{kind}/bad.txt" in note
    assert str(wsp) not in note  # the message names the file as the operator knows it
    db = db_of(wsp)
    assert db.one("SELECT outcome FROM inbox_files")["outcome"] == "failed"
    event = db.one("SELECT * FROM events WHERE kind = 'inbox.failed'")
    assert event["actor"] == "watch" and message in event["message"]
    assert db.scalar("SELECT count(*) FROM events WHERE kind = 'inbox.processed'") == 0


def test_a_file_where_every_line_is_invalid_fails_and_changes_nothing(wsp, igctl):
    drop(wsp, "proxies", "p.txt", "10.0.0.1:8000\n")
    igctl("watch", "--once")  # a free proxy: a good accounts line would be assigned to it
    drop(wsp, "accounts", "junk.txt", "bad user!,sekretpw55,x@example.com\n# comment\nno_password_here\n")
    before = snapshot_of_db(wsp)
    [r] = igctl.json("watch", "--once")
    assert r["outcome"] == "failed" and r["imported"] == 0 and r["invalid"] == 2
    assert "none of its 2 data lines is valid" in r["error"]
    note = (wsp / "inbox" / "failed" / "junk.txt.error.txt").read_text()
    assert "line 1:" in note and "line 3:" in note and "sekretpw55" not in note
    after = snapshot_of_db(wsp)
    assert after["accounts"] == before["accounts"] == 0
    assert after["events"] == before["events"] + 1  # inbox.failed only


def test_an_empty_file_fails(wsp, igctl):
    drop(wsp, "accounts", "empty.txt", "")
    drop(wsp, "proxies", "comments.txt", "# nothing yet\n\n")
    results = igctl.json("watch", "--once")
    assert [(r["file"], r["outcome"]) for r in results] == [("comments.txt", "failed"), ("empty.txt", "failed")]
    assert "no data lines" in results[0]["error"]
    assert listing(wsp / "inbox" / "failed") == [
        "comments.txt",
        "comments.txt.error.txt",
        "empty.txt",
        "empty.txt.error.txt",
    ]


def test_a_failed_file_moved_back_is_tried_again(wsp, igctl):
    set_config(wsp, max_file_mb=0.00001)  # 10 bytes
    drop(wsp, "accounts", "big.txt", ACCOUNTS)
    [r] = igctl.json("watch", "--once")
    assert r["outcome"] == "failed" and "over the import limit" in r["error"]
    assert count(wsp, "accounts") == 0
    set_config_text = (wsp / "igctl.yaml").read_text().replace("max_file_mb: 1e-05", "max_file_mb: 200")
    (wsp / "igctl.yaml").write_text(set_config_text)
    os.replace(wsp / "inbox" / "failed" / "big.txt", wsp / "inbox" / "accounts" / "big.txt")
    [r] = igctl.json("watch", "--once")
    assert r["outcome"] == "processed" and r["imported"] == 2
    db = db_of(wsp)
    assert db.one("SELECT outcome FROM inbox_files")["outcome"] == "processed"
    # the old note stays in failed/, the file itself is now only in processed/
    assert listing(wsp / "inbox" / "failed") == ["big.txt.error.txt"]
    assert listing(wsp / "inbox" / "processed") == ["big.txt", "big.txt.result.json"]


# -- what is left alone ---------------------------------------------------------------------
def test_hidden_temporary_and_note_files_and_folders_are_left_alone(wsp, igctl):
    names = [".hidden.txt", "upload.txt.part", "b.tmp", "c.txt~", "d.crdownload", "e.partial", "x.txt.error.txt"]
    for name in names:
        drop(wsp, "accounts", name, ACCOUNTS)
    (wsp / "inbox" / "accounts" / "subfolder").mkdir()
    drop(wsp, "accounts", "subfolder/inside.txt", ACCOUNTS)
    assert igctl.json("watch", "--once") == []
    assert listing(wsp / "inbox" / "accounts") == sorted(names + ["subfolder"])
    assert count(wsp, "accounts") == 0 and count(wsp, "inbox_files") == 0
    # the writer's rename makes it a file to import
    os.replace(wsp / "inbox" / "accounts" / "upload.txt.part", wsp / "inbox" / "accounts" / "upload.txt")
    [r] = igctl.json("watch", "--once")
    assert r["file"] == "upload.txt" and r["outcome"] == "processed"


def test_a_file_still_being_written_is_not_touched(ws_path, igctl):
    """The real run_once with a stand-in for real time: every wait appends to the file, as a
    slow writer would, so the file never settles; after max_wait it is left in the inbox."""
    set_config(ws_path, settle_seconds=1)
    path = drop(ws_path, "accounts", "growing.txt", "erin,erinpw111,e@example.com\n")
    now = [1000.0]
    waits = []

    def sleep(seconds):
        waits.append(seconds)
        now[0] += seconds
        with open(path, "a") as fh:
            fh.write(f"user{len(waits)},pw{len(waits)}xxxx,u@example.com\n")

    ws = Workspace.open(ws_path)
    results = inbox.run_once(ws, max_wait=5, monotonic=lambda: now[0], sleep=sleep)
    assert [r["outcome"] for r in results] == ["skipped"]
    assert "still being written" in results[0]["error"]
    assert path.exists() and count(ws_path, "accounts") == 0 and count(ws_path, "inbox_files") == 0
    assert sum(waits) == pytest.approx(5) and all(w <= 1 for w in waits)

    # once the writer stops, the file is handled after exactly settle_seconds of quiet
    waits.clear()
    results = inbox.run_once(
        ws, max_wait=5, monotonic=lambda: now[0], sleep=lambda s: (waits.append(s), now.__setitem__(0, now[0] + s))
    )
    assert [r["outcome"] for r in results] == ["processed"] and waits == [1]
    assert count(ws_path, "accounts") == 1 + 5
    ws.close()


def test_once_waits_for_settle_seconds_of_real_time(ws_path, igctl):
    set_config(ws_path, settle_seconds=0.3)
    drop(ws_path, "proxies", "p.txt", PROXIES)
    started = time.monotonic()
    [r] = igctl.json("watch", "--once")
    assert r["outcome"] == "processed"
    assert time.monotonic() - started >= 0.3


def test_a_file_gone_before_it_is_handled_is_skipped_quietly(wsp):
    ws = Workspace.open(wsp)
    assert inbox.handle_file(ws, wsp / "inbox" / "accounts" / "vanished.txt") is None
    ws.close()


# -- cannot run -----------------------------------------------------------------------------
def test_no_workspace_is_an_error(tmp_path, igctl, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert "no workspace" in igctl.error("watch", "--once")
    assert "not an igctl workspace" in igctl.error("watch", "--once", "-w", tmp_path / "nowhere")


def test_a_bad_watch_setting_is_an_error_and_nothing_moves(ws_path, igctl):
    cfg = ws_path / "igctl.yaml"
    cfg.write_text(cfg.read_text().replace("settle_seconds: 1", "settle_seconds: -1"))
    drop(ws_path, "accounts", "a.txt", ACCOUNTS)
    assert "settle_seconds" in igctl.error("watch", "--once")
    assert listing(ws_path / "inbox" / "accounts") == ["a.txt"]


def test_a_wrong_key_stops_watch_before_any_file_is_touched(wsp, igctl, monkeypatch):
    from cryptography.fernet import Fernet

    drop(wsp, "accounts", "a.txt", ACCOUNTS)
    monkeypatch.setenv("IGCTL_SECRET_KEY", Fernet.generate_key().decode())
    assert "key" in igctl.error("watch", "--once")
    assert listing(wsp / "inbox" / "accounts") == ["a.txt"]
    assert listing(wsp / "inbox" / "failed") == [] and count(wsp, "inbox_files") == 0


def test_bad_max_wait_is_a_usage_error(wsp, igctl):
    result = igctl("watch", "--once", "--max-wait", "-1", expect=2)
    assert "max-wait" in result.stderr


# -- the long-running watcher, in a real process --------------------------------------------
def _start_watch(ws_path: Path) -> subprocess.Popen:
    env = {**os.environ, "IGCTL_WORKSPACE": str(ws_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "igctl", "watch"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    ready, deadline = "", time.monotonic() + 30
    while "Watching" not in ready:  # the watcher prints this once it is listening
        assert time.monotonic() < deadline, "igctl watch did not start"
        if select.select([proc.stderr], [], [], 0.5)[0]:
            line = proc.stderr.readline()
            assert line, f"igctl watch exited early: {proc.wait()}"
            ready += line
    return proc


def _wait_for(path: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.05)


@pytest.mark.slow
def test_the_watcher_picks_up_files_and_stops_cleanly_on_sigterm(ws_path):
    # A long rescan interval: the file dropped later can only be found through its event.
    set_config(ws_path, settle_seconds=0.2, scan_interval_seconds=3600)
    drop(ws_path, "proxies", "early.txt", PROXIES)  # present at start: the first scan finds it
    proc = _start_watch(ws_path)
    try:
        processed = ws_path / "inbox" / "processed"
        _wait_for(processed / "early.txt.result.json")
        # a writer that writes to a temporary name and renames it when complete
        tmp = drop(ws_path, "accounts", "late.txt.part", "")
        with open(tmp, "a") as fh:
            for line in ACCOUNTS.splitlines(keepends=True):
                fh.write(line)
                fh.flush()
        os.replace(tmp, ws_path / "inbox" / "accounts" / "late.txt")
        _wait_for(processed / "late.txt.result.json")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "Stopped." in err
    assert out.splitlines() == [
        "proxies/early.txt: processed, 2 imported, 0 duplicates, 0 invalid -> inbox/processed/early.txt",
        "accounts/late.txt: processed, 2 imported, 0 duplicates, 0 invalid, 2 assigned to proxies -> inbox/processed/late.txt",
    ]
    assert count(ws_path, "accounts") == 2 and count(ws_path, "proxies") == 2
    assert listing(ws_path / "inbox" / "accounts") == [] and listing(ws_path / "inbox" / "proxies") == []


@pytest.mark.slow
def test_the_watcher_stops_cleanly_on_sigint(ws_path):
    set_config(ws_path, settle_seconds=0)
    proc = _start_watch(ws_path)
    try:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0 and out == "" and "Traceback" not in err


# -- sealing: no plaintext password stays in the workspace ---------------------------------------
def test_no_plaintext_password_anywhere_in_the_workspace_after_watch(wsp, igctl):
    drop(wsp, "accounts", "a.txt", ACCOUNTS)
    drop(wsp, "proxies", "p.txt", "192.0.2.7:8080:puser:proxypw999\n")
    drop(wsp, "accounts", "bad.txt", "zed,Zed-Pw.latin1\xe9\n".encode("latin-1"))
    igctl("watch", "--once")
    for path in wsp.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            # whole passwords, never a short piece: sealed files, the database and its WAL hold
            # Fernet's url-safe base64, which contains any short run of letters by chance
            for secret in (b"alicepw111", b"bobpw2222", b"proxypw999", b"Zed-Pw.latin1"):
                assert secret not in data, f"{secret!r} in {path}"


def test_secrets_unseal_gives_the_original_back_and_is_logged(wsp, igctl, tmp_path):
    drop(wsp, "accounts", "a.txt", ACCOUNTS)
    igctl("watch", "--once")
    kept = wsp / "inbox" / "processed" / "a.txt"
    assert igctl("secrets", "unseal", kept).stdout == ACCOUNTS
    out = tmp_path / "copy.txt"
    igctl("secrets", "unseal", kept, "-o", out)
    assert out.read_text() == ACCOUNTS and (out.stat().st_mode & 0o777) == 0o600
    assert db_of(wsp).scalar("SELECT count(*) FROM events WHERE kind = 'secrets.unseal'") == 2
    assert "not a file sealed by igctl" in igctl.error("secrets", "unseal", kept.with_name("a.txt.result.json"))


def test_rotation_re_encrypts_the_sealed_files(wsp, igctl):
    drop(wsp, "accounts", "a.txt", ACCOUNTS)
    igctl("watch", "--once")
    kept = wsp / "inbox" / "processed" / "a.txt"
    before = kept.read_bytes()
    assert igctl.json("secrets", "rotate")["re_encrypted"]["sealed_files"] == 1
    assert kept.read_bytes() != before
    assert igctl("secrets", "unseal", kept).stdout == ACCOUNTS


def test_a_kept_file_left_plain_by_a_crash_is_sealed_at_the_next_start(wsp, igctl):
    # A crash between the move and the sealing leaves a plain file in processed/.
    (wsp / "inbox" / "processed" / "left.txt").write_text(ACCOUNTS)
    igctl("watch", "--once")
    assert b"alicepw111" not in (wsp / "inbox" / "processed" / "left.txt").read_bytes()
    assert plain(wsp, wsp / "inbox" / "processed" / "left.txt") == ACCOUNTS.encode()


def test_a_file_sealed_by_another_workspace_fails_cleanly(wsp, igctl, tmp_path):
    from cryptography.fernet import Fernet

    from igctl.engine.store.secrets import SEAL_HEADER

    foreign = SEAL_HEADER + Fernet(Fernet.generate_key()).encrypt(ACCOUNTS.encode()) + b"\n"
    drop(wsp, "accounts", "foreign.txt", foreign)
    [r] = igctl.json("watch", "--once")
    assert r["outcome"] == "failed" and "cannot unseal" in r["error"]
    assert count(wsp, "accounts") == 0
