"""Schema migrations: from empty, idempotent, concurrent, and a newer database refused."""

from __future__ import annotations

import sqlite3
import threading

from igctl.engine.store import migrations
from igctl.engine.store.db import Database


def test_migrate_from_empty_builds_the_whole_schema(tmp_path):
    db = Database(tmp_path / "x.db")
    applied = migrations.migrate(db)
    assert applied == len(migrations.MIGRATIONS)
    assert migrations.schema_version(db) == len(migrations.MIGRATIONS)
    tables = set(db.utils.table_names())
    assert {
        "meta",
        "models",
        "proxies",
        "bots",
        "accounts",
        "content",
        "tasks",
        "content_usage",
        "step_log",
        "account_metrics",
        "events",
        "inbox_files",
    } <= tables
    columns = {c.name for c in db.utils["accounts"].columns}
    # every field of requirements.md's Account
    assert {
        "lifecycle_state",
        "warmup_step",
        "warmup_started_at",
        "warmup_completed_at",
        "assigned_to_model_at",
        "proxy_id",
        "proxy_assigned_at",
        "last_bot_action_by",
        "last_bot_action_at",
        "requires_human_review",
        "last_error_message",
        "last_error_at",
        "retry_count",
    } <= columns
    assert migrations.migrate(db) == 0  # idempotent
    db.close()


def test_every_step_applies_on_top_of_the_previous_ones(tmp_path):
    """From each older version to the newest, one step at a time."""
    for stop in range(len(migrations.MIGRATIONS) + 1):
        db = Database(tmp_path / f"v{stop}.db")
        with db.write():
            for number in range(stop):
                migrations.MIGRATIONS[number](db)
                db.execute(f"PRAGMA user_version = {number + 1}")
        migrations.migrate(db)
        assert migrations.schema_version(db) == len(migrations.MIGRATIONS)
        db.close()


def test_a_database_from_a_newer_igctl_is_refused(ws_path, igctl):
    conn = sqlite3.connect(ws_path / "igctl.db")
    conn.execute(f"PRAGMA user_version = {len(migrations.MIGRATIONS) + 5}")
    conn.close()
    assert "newer than this igctl understands" in igctl.error("log")


def test_concurrent_first_opens_migrate_once(tmp_path):
    path = tmp_path / "race.db"
    barrier = threading.Barrier(6)
    results, errors = [], []

    def opener():
        db = Database(path)
        barrier.wait()
        try:
            results.append(migrations.migrate(db))
        except Exception as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=opener) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(results) == [0] * 5 + [len(migrations.MIGRATIONS)]


def test_a_failed_write_rolls_back_everything(tmp_path):
    db = Database(tmp_path / "t.db")
    migrations.migrate(db)
    try:
        with db.write():
            db.execute("INSERT INTO meta (key, value) VALUES ('a', '1')")
            with db.write():  # nested joins the outer transaction
                db.execute("INSERT INTO meta (key, value) VALUES ('b', '2')")
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert db.scalar("SELECT count(*) FROM meta") == 0
    assert not db.conn.in_transaction
    db.close()


def test_a_dry_run_write_does_the_work_then_takes_it_back(tmp_path):
    db = Database(tmp_path / "t.db")
    migrations.migrate(db)
    ran = []
    with db.write(dry_run=True):
        db.execute("INSERT INTO meta (key, value) VALUES ('a', '1')")
        assert db.scalar("SELECT count(*) FROM meta") == 1  # visible inside
        db.after_commit(lambda: ran.append("callback"))
    assert db.scalar("SELECT count(*) FROM meta") == 0 and ran == [] and not db.conn.in_transaction
    with db.write():
        try:
            with db.write(dry_run=True):  # a dry run cannot take back part of an outer transaction
                pass
        except RuntimeError:
            ran.append("refused")
    assert ran == ["refused"]
    db.close()
