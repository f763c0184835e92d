"""Group commit (engine/store/writer.py, writer_process.py, writer_child.py) and savepoints
(Database.savepoint): several calls in one transaction, each still all or nothing, answered
only after the commit; the transactions in a process of their own, and what happens when that
process fails."""

from __future__ import annotations

import json
import os
import queue
import signal
import sqlite3
import sys
import threading
import time
from pathlib import Path

import pytest
import writer_calls
from warmup_helpers import add_bot, fleet, seed_templates

from igctl.engine.flows import botwork
from igctl.engine.queue import tasks
from igctl.engine.store import writer as writer_module
from igctl.engine.store.errors import Conflict, NotFound
from igctl.engine.store.writer import Writer
from igctl.engine.store.writer_process import WriterLost

REAL_PYTHON = sys.executable


def mirrored(ws) -> list[dict]:
    return [
        json.loads(line)
        for f in sorted((ws.path / "logs").glob("events-*.jsonl"))
        for line in f.read_text().splitlines()
    ]


def note(ws, kind: str, fail: bool = False) -> int:
    """A write of one row and one event, failing at the end if asked."""
    db = ws.db()
    with db.write():
        db.execute("INSERT INTO meta (key, value) VALUES (?, ?)", [kind, "x"])
        event = ws.events.record(db, ws.now(), kind, "test", message=kind)
        if fail:
            raise Conflict(f"{kind} refused")
    return event


def wait_until(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


# -- savepoints ---------------------------------------------------------------------------------
def test_a_failing_savepoint_takes_back_its_rows_and_its_log_lines_only(ws):
    db = ws.db()
    with db.write():
        with db.savepoint():
            note(ws, "test.kept")
        with pytest.raises(Conflict), db.savepoint():
            note(ws, "test.dropped", fail=True)
        with db.savepoint():
            note(ws, "test.kept.too")
    kinds = [r[0] for r in db.query("SELECT kind FROM events WHERE actor = 'test' ORDER BY id")]
    assert kinds == ["test.kept", "test.kept.too"]
    assert db.scalar("SELECT COUNT(*) FROM meta WHERE key = 'test.dropped'") == 0
    assert [e["kind"] for e in mirrored(ws) if e["actor"] == "test"] == ["test.kept", "test.kept.too"]


def test_a_savepoint_needs_a_transaction(ws):
    with pytest.raises(AssertionError), ws.db().savepoint():
        pass


# -- the writer -----------------------------------------------------------------------------------
def test_calls_queued_meanwhile_share_one_transaction_and_a_failing_one_changes_nothing(ws):
    writer = Writer(ws).start()
    try:
        entered, release = threading.Event(), threading.Event()

        def hold():  # keeps the writer busy while the other calls queue up
            entered.set()
            release.wait(10)
            return note(ws, "test.first")

        results: dict[str, object] = {}

        def caller(name, *args):
            try:
                results[name] = writer.call(*args)
            except Exception as exc:  # noqa: BLE001 - compared below
                results[name] = exc

        first = threading.Thread(target=caller, args=("first", hold))
        first.start()
        assert entered.wait(10)
        threads = [threading.Thread(target=caller, args=(f"c{i}", note, ws, f"test.c{i}", i == 2)) for i in range(5)]
        for th in threads:
            th.start()
        wait_until(lambda: writer._queue.qsize() == 5)
        release.set()
        for th in [first, *threads]:
            th.join(10)
    finally:
        writer.stop()
    assert isinstance(results["c2"], Conflict) and str(results["c2"]) == "test.c2 refused"
    assert all(isinstance(results[k], int) for k in ("first", "c0", "c1", "c3", "c4"))
    assert (writer.transactions, writer.calls) == (2, 6)  # the first alone, then the five together
    db = ws.db()
    kinds = {r[0] for r in db.query("SELECT kind FROM events WHERE actor = 'test'")}
    assert kinds == {"test.first", "test.c0", "test.c1", "test.c3", "test.c4"}
    assert db.scalar("SELECT COUNT(*) FROM meta WHERE key = 'test.c2'") == 0
    assert {e["kind"] for e in mirrored(ws) if e["actor"] == "test"} == kinds


def test_an_answer_comes_only_after_the_commit(ws):
    """A caller that has its answer finds its work in the database from another connection."""
    writer = Writer(ws).start()
    seen = []
    try:
        for i in range(20):
            event = writer.call(note, ws, f"test.n{i}")
            other = ws.connect()
            seen.append(other.scalar("SELECT kind FROM events WHERE id = ?", [event]))
            other.close()
    finally:
        writer.stop()
    assert seen == [f"test.n{i}" for i in range(20)]


def test_without_a_running_writer_calls_run_in_the_callers_thread(ws):
    writer = Writer(ws)
    where = writer.call(lambda: threading.current_thread().name)
    assert where == threading.current_thread().name
    writer.start()
    assert writer.call(lambda: threading.current_thread().name) == "igctl-writer"
    writer.stop()
    assert not writer.running
    assert writer.call(lambda: 42) == 42


def test_an_engine_error_reaches_the_caller_as_itself(ws):
    bot = add_bot(ws, "phone")
    writer = Writer(ws).start()
    try:
        with pytest.raises(NotFound):
            writer.call(botwork.complete, ws, 999, bot)
    finally:
        writer.stop()


@pytest.mark.parametrize("process", [False, True], ids=["thread", "process"])
def test_many_threads_through_one_writer_claim_each_task_once(ws, process):
    seed_templates(ws)
    ids = fleet(ws, 120, state="cleanup")
    db = ws.db()
    now = ws.instant("2026-03-02T10:00:00Z")
    with db.write():
        for a in ids:
            tasks.enqueue(
                db,
                ws.events,
                account_id=a,
                kind="cleanup",
                step_name="reset_pfp",
                key=f"cleanup:{a}",
                due_at=now,
                now=now,
                actor="test",
            )
    bots = [add_bot(ws, f"phone{n}") for n in range(8)]
    ws.cipher  # noqa: B018 - loaded once, before the threads
    writer = Writer(ws, process=process).start()
    handed: list[int] = []
    errors: list[BaseException] = []

    def worker(bot):
        try:
            while (task := writer.call(botwork.claim_next, ws, bot)) is not None:
                handed.append(task["task_id"])
                writer.call(botwork.complete, ws, task["task_id"], bot)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(b,)) for b in bots]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    writer.stop()
    assert errors == []
    assert sorted(handed) == sorted(set(handed)) and len(handed) == 120
    assert db.scalar("SELECT COUNT(*) FROM tasks WHERE status = 'completed'") == 120
    assert writer.calls == 2 * 120 + 8  # every claim, every completion, and each bot's last "nothing left"


# -- the writer when things go wrong (found in review) ------------------------------------------
class Group:
    """Calls that queue while the writer is held busy, so they run as one group in order."""

    def __init__(self, ws):
        self.writer = Writer(ws).start()
        self.results: dict[str, object] = {}
        self.threads: list[threading.Thread] = []
        self.entered, self.release = threading.Event(), threading.Event()
        self._add("hold", self._hold)
        assert self.entered.wait(10)

    def _hold(self):
        self.entered.set()
        self.release.wait(10)

    def _add(self, name, fn):
        def caller():
            try:
                self.results[name] = self.writer.call(fn)
            except BaseException as exc:  # noqa: BLE001 - compared by the tests
                self.results[name] = exc

        th = threading.Thread(target=caller)
        th.start()
        self.threads.append(th)

    def add(self, name, fn):
        queued = self.writer._queue.qsize()
        self._add(name, fn)
        wait_until(lambda: self.writer._queue.qsize() == queued + 1)  # in this order

    def run(self):
        self.release.set()
        for th in self.threads:
            th.join(10)
        self.writer.stop()
        return self.results


def probe_table(ws):
    db = ws.db()
    with db.write():
        db.execute("CREATE TABLE IF NOT EXISTS probe (k TEXT)")


def insert(ws, key):
    def fn():
        db = ws.db()
        with db.write():
            db.execute("INSERT INTO probe (k) VALUES (?)", [key])
            ws.events.record(db, ws.now(), f"test.{key}", "test", message=key)
        return key

    return fn


def probes(ws) -> list[str]:
    return sorted(r[0] for r in ws.db().query("SELECT k FROM probe"))


def test_when_sqlite_rolls_the_whole_transaction_back_the_calls_so_far_fail_and_the_rest_run(ws):
    probe_table(ws)

    def interrupted():  # SQLITE_INTERRUPT rolls back the whole transaction, as a full disk can
        db = ws.db()
        with db.write():
            db.conn.create_function("stop_now", 0, lambda: db.conn.interrupt() or 1)
            db.execute("INSERT INTO probe (k) VALUES ('interrupted')")
            db.execute("UPDATE probe SET k = k WHERE stop_now() = 1")

    group = Group(ws)
    group.add("before", insert(ws, "before"))
    group.add("interrupted", interrupted)
    group.add("after", insert(ws, "after"))
    results = group.run()
    assert isinstance(results["interrupted"], sqlite3.OperationalError) and "interrupt" in str(results["interrupted"])
    assert results["before"] is results["interrupted"]  # its work went with the transaction
    assert results["after"] == "after"  # run again in a transaction of its own, committed
    assert probes(ws) == ["after"]
    assert [e["kind"] for e in mirrored(ws) if e["actor"] == "test"] == ["test.after"]


def test_a_failing_after_commit_step_neither_fails_the_callers_nor_stops_the_other_steps(ws):
    probe_table(ws)

    def bad_step():
        db = ws.db()
        with db.write():
            db.execute("INSERT INTO probe (k) VALUES ('bad')")
            db.after_commit(lambda: 1 / 0)
        return "bad"

    group = Group(ws)
    group.add("bad", bad_step)
    group.add("good", insert(ws, "good"))
    results = group.run()
    assert (results["bad"], results["good"]) == ("bad", "good")
    assert probes(ws) == ["bad", "good"]
    assert [e["kind"] for e in mirrored(ws) if e["actor"] == "test"] == ["test.good"]


def test_a_call_queued_while_the_writer_stops_is_still_answered(ws):
    """call()'s check and queueing, and stop()'s, are one step each: a call never lands behind
    the stop where nobody would run it."""

    class SlowQueue(queue.SimpleQueue):
        def put(self, item, block=True, timeout=None):
            if callable(getattr(item, "fn", None)):
                putting.set()
                time.sleep(0.2)  # widen the window between deciding to queue and queueing
            super().put(item, block, timeout)

    putting = threading.Event()
    writer = Writer(ws)
    writer._queue = SlowQueue()
    writer.start()
    answer: list = []
    caller = threading.Thread(target=lambda: answer.append(writer.call(lambda: "answered")))
    caller.start()
    assert putting.wait(10)
    writer.stop()
    caller.join(10)
    assert not caller.is_alive() and answer == ["answered"]


def test_a_writer_that_cannot_open_its_connection_says_so_and_calls_run_in_place(ws, monkeypatch):
    real_db = ws.db

    def db():
        if threading.current_thread().name == "igctl-writer":
            raise sqlite3.OperationalError("unable to open database file")
        return real_db()

    monkeypatch.setattr(ws, "db", db)
    writer = Writer(ws)
    with pytest.raises(sqlite3.OperationalError, match="unable to open"):
        writer.start()
    assert not writer.running
    assert writer.call(lambda: threading.current_thread().name) == threading.current_thread().name


def test_a_bug_in_the_writer_loop_releases_every_waiting_caller(ws, monkeypatch):
    writer = Writer(ws).start()
    entered, release = threading.Event(), threading.Event()
    results: list = []

    def hold():
        entered.set()
        release.wait(10)

    def caller(fn):
        try:
            results.append(writer.call(fn))
        except BaseException as exc:  # noqa: BLE001
            results.append(exc)

    first = threading.Thread(target=caller, args=(hold,))
    first.start()
    assert entered.wait(10)
    monkeypatch.setattr(writer, "_run", lambda db, items: (_ for _ in ()).throw(RuntimeError("a bug")))
    waiting = threading.Thread(target=caller, args=(lambda: 1,))
    waiting.start()
    wait_until(lambda: writer._queue.qsize() == 1)
    release.set()
    first.join(10)
    waiting.join(10)
    assert not waiting.is_alive()
    assert [type(r) for r in results].count(RuntimeError) >= 1
    assert not writer.running and writer.call(lambda: 2) == 2
    writer.stop()


# -- the writer in a process of its own (what serve-bots runs) -------------------------------------
TESTS = str(Path(__file__).resolve().parent)


@pytest.fixture
def in_process(ws, monkeypatch):
    """A process-mode writer, started; this folder on the child's path (writer_calls.py)."""
    monkeypatch.setenv("PYTHONPATH", TESTS)
    writer = Writer(ws, process=True).start()
    yield writer
    writer.stop()


def process_state(pid: int) -> str | None:
    """The state letter of a process (Z: a zombie), None when there is none."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def test_in_process_mode_calls_run_in_the_child_with_the_callers_clock(ws, clock, in_process):
    assert in_process.pid not in (None, os.getpid()) and process_state(in_process.pid) not in (None, "Z")
    pid, when = in_process.call(writer_calls.where_and_when, ws)
    assert (pid, when) == (in_process.pid, ws.now())
    clock.set("2026-03-05T23:30:00")  # the parent's clock moves; the child follows, call by call
    assert in_process.call(writer_calls.where_and_when, ws) == (in_process.pid, ws.now())
    assert ws.now() != when
    # committed before the answer: this connection sees both rows
    assert ws.db().scalar("SELECT COUNT(*) FROM meta WHERE key LIKE 'stamp-%'") == 2


def test_the_writer_process_keeps_sqlites_automatic_checkpoints(ws, in_process):
    """Its commits checkpoint the log back to its start once it passes 1,000 pages: a log left to
    a background checkpointer kept growing under a steady load (docs/reliability.md, defect 13)."""
    assert in_process.call(writer_calls.pragma, ws, "wal_autocheckpoint") == 1000
    assert in_process.call(writer_calls.pragma, ws, "journal_mode") == "wal"


def test_in_process_mode_a_domain_error_arrives_as_itself(ws, in_process):
    bot = add_bot(ws, "phone")
    with pytest.raises(NotFound) as raised:
        in_process.call(botwork.complete, ws, 999, bot)
    with pytest.raises(NotFound) as in_place:
        botwork.complete(ws, 999, bot)
    assert (str(raised.value), raised.value.detail) == (str(in_place.value), in_place.value.detail)


def test_in_process_mode_a_bug_arrives_with_the_childs_traceback(ws, in_process):
    with pytest.raises(ValueError, match="a bug in the engine") as raised:
        in_process.call(writer_calls.broken, ws, "value")
    notes = "\n".join(raised.value.__notes__)
    assert "raised in the writer process" in notes and "writer_calls.py" in notes
    with pytest.raises(RuntimeError, match="Unpicklable: cannot travel"):
        in_process.call(writer_calls.broken, ws, "unpicklable")
    with pytest.raises(RuntimeError, match="could not send an answer back"):
        in_process.call(writer_calls.broken, ws, "answer")
    assert in_process.call(writer_calls.where_and_when, ws)[0] == in_process.pid  # still serving


def test_in_process_mode_an_argument_is_the_workspace_only_when_it_was_the_workspace(ws, in_process):
    from igctl.engine.store.writer_process import WS

    assert in_process.call(writer_calls.echo, ws, ws, "<the workspace>", 7) == [
        ("Workspace", None),
        ("str", "<the workspace>"),
        ("int", 7),
    ]
    assert in_process.call(writer_calls.echo, ws, WS) == [("Workspace", None)]


def test_in_process_mode_a_call_the_child_cannot_find_fails_alone(ws, in_process, tmp_path, monkeypatch):
    """A module only this process can import: that call fails in the child, the rest of its
    group runs, and the child goes on."""
    (tmp_path / "parent_only.py").write_text("def stamp(ws):\n    return 'ran'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import parent_only

    started, release = tmp_path / "started", tmp_path / "release"
    results: dict = {}

    def caller(name, *args):
        try:
            results[name] = in_process.call(*args)
        except BaseException as exc:  # noqa: BLE001 - compared below
            results[name] = exc

    held = threading.Thread(target=caller, args=("held", writer_calls.hold, ws, str(started), str(release)))
    held.start()
    wait_until(started.exists)  # the next two queue behind it: one group
    threads = [
        threading.Thread(target=caller, args=("lost", parent_only.stamp, ws)),
        threading.Thread(target=caller, args=("good", writer_calls.where_and_when, ws)),
    ]
    for th in threads:
        th.start()
        wait_until(lambda th=th: in_process._queue.qsize() == threads.index(th) + 1)
    release.touch()
    for th in [held, *threads]:
        th.join(10)
    assert isinstance(results["lost"], ModuleNotFoundError) and "parent_only" in str(results["lost"])
    assert results["good"][0] == in_process.pid  # in the same group, committed by the same child
    assert results["held"] == "released"


def test_the_writer_process_does_not_import_from_the_current_directory(ws, tmp_path, monkeypatch):
    """Started in a folder holding a `shutil.py` (the workspace, say), the child still uses the
    standard library's."""
    planted = tmp_path / "planted"
    planted.mkdir()
    (planted / "shutil.py").write_text(f"open({str(planted / 'ran')!r}, 'w').close()\nfrom os import *\n")
    monkeypatch.chdir(planted)
    monkeypatch.setenv("PYTHONPATH", TESTS)
    writer = Writer(ws, process=True).start()
    try:
        assert writer.pid is not None
        assert writer.call(writer_calls.where_and_when, ws)[0] == writer.pid
    finally:
        writer.stop()
    assert not (planted / "ran").exists()


def test_in_process_mode_only_module_level_functions_can_be_sent(ws, in_process):
    with pytest.raises(TypeError, match="only a module-level function"):
        in_process.call(lambda: 1)
    with pytest.raises(TypeError, match="only a module-level function"):
        in_process.call(insert(ws, "x"))
    assert in_process.calls == 0


def test_in_process_mode_a_child_that_dies_fails_the_calls_it_held_and_another_takes_its_place(
    ws, in_process, caplog, tmp_path
):
    pid, started = in_process.pid, tmp_path / "started"
    outcome: list = []

    def caller():
        try:
            outcome.append(in_process.call(writer_calls.hold, ws, str(started), str(tmp_path / "never")))
        except BaseException as exc:  # noqa: BLE001 - compared below
            outcome.append(exc)

    held = threading.Thread(target=caller)
    held.start()
    wait_until(started.exists)  # the child is running the call
    os.kill(pid, signal.SIGKILL)
    held.join(10)
    assert len(outcome) == 1 and isinstance(outcome[0], WriterLost)  # its work went with the child
    assert outcome[0].http_status == 503  # the bot repeats it
    new = in_process.call(writer_calls.where_and_when, ws)[0]
    assert new == in_process.pid and new not in (pid, os.getpid())  # a new child runs the writes
    assert process_state(pid) is None  # the dead one was reaped
    assert in_process.status() == {
        "mode": "process",
        "processes": 2,
        "server_pid": os.getpid(),
        "writer_pid": new,
        "restarts": 1,
        "degraded": False,
    }
    assert f"the writer process {pid} ended: writer process {new} started in its place" in caplog.text


def test_in_process_mode_a_child_that_died_idle_costs_no_call(ws, in_process):
    pid = in_process.pid
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: process_state(pid) in (None, "Z"))
    assert in_process.call(writer_calls.where_and_when, ws)[0] == in_process.pid not in (pid, os.getpid())
    assert process_state(pid) is None and in_process.restarts == 1


def test_in_process_mode_without_a_child_that_starts_is_degraded_and_tries_again(
    ws, clock, in_process, monkeypatch, caplog
):
    """No new child will start (here: the interpreter is missing): the writes run in this
    process, and the status says so, until a later try starts one."""
    pid = in_process.pid
    monkeypatch.setattr(sys, "executable", "/bin/false")
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: process_state(pid) in (None, "Z"))
    assert in_process.call(writer_calls.where_and_when, ws)[0] == os.getpid()
    status = in_process.status()
    assert status["mode"] == "thread" and status["degraded"] is True and status["processes"] == 1
    assert "the writes run in the server process, degraded" in caplog.text
    clock.set("2026-03-02T10:01:00")  # (each call stamps a row by the clock's instant)
    assert in_process.call(writer_calls.where_and_when, ws)[0] == os.getpid()  # not retried before RETRY_SECONDS
    monkeypatch.setattr(sys, "executable", REAL_PYTHON)
    monkeypatch.setattr(writer_module, "RETRY_SECONDS", 0.0)
    clock.set("2026-03-02T10:02:00")
    new = in_process.call(writer_calls.where_and_when, ws)[0]
    assert new == in_process.pid not in (pid, os.getpid())
    assert in_process.status()["degraded"] is False and in_process.status()["mode"] == "process"


def test_in_process_mode_stop_waits_for_the_groups_in_flight(ws, in_process, tmp_path):
    started, release = tmp_path / "started", tmp_path / "release"
    outcome: dict = {}
    held = threading.Thread(
        target=lambda: outcome.update(held=in_process.call(writer_calls.hold, ws, str(started), str(release)))
    )
    held.start()
    wait_until(started.exists)
    child = in_process.pid
    queued = threading.Thread(target=lambda: outcome.update(queued=in_process.call(writer_calls.where_and_when, ws)[0]))
    queued.start()  # the next group, queued while the child holds the first
    wait_until(lambda: in_process._queue.qsize() == 1)
    stopper = threading.Thread(target=in_process.stop)
    stopper.start()
    stopper.join(0.2)
    assert stopper.is_alive()  # waiting for the child's answers
    release.touch()
    for th in (held, queued, stopper):
        th.join(10)
    assert outcome == {"held": "released", "queued": child}  # both answered, both by the child


def test_in_process_mode_a_child_that_cannot_start_leaves_the_writes_in_the_thread(ws, monkeypatch, caplog):
    config = ws.path / "igctl.yaml"
    saved = config.read_bytes()
    config.write_text("server: [not, a, mapping\n")  # the child reads it at start; this process already has
    try:
        writer = Writer(ws, process=True).start()
    finally:
        config.write_bytes(saved)
    try:
        assert writer.running and writer.pid is None
        assert writer.call(writer_calls.where_and_when, ws)[0] == os.getpid()
    finally:
        writer.stop()
    assert "the writer process did not start" in caplog.text and "igctl.yaml" in caplog.text


def test_in_process_mode_stop_ends_the_child(ws, in_process):
    pid = in_process.pid
    in_process.call(writer_calls.where_and_when, ws)
    in_process.stop()
    assert process_state(pid) is None and in_process.pid is None


def test_in_process_mode_a_call_that_cannot_be_sent_fails_and_the_writer_goes_on(ws, in_process):
    with pytest.raises(TypeError, match="cannot be sent to the writer process"):
        in_process.call(writer_calls.where_and_when, threading.Lock())  # a lock does not pickle
    assert in_process.call(writer_calls.where_and_when, ws)[0] == in_process.pid
