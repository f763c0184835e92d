"""Ordered schema steps. `PRAGMA user_version` is the number of steps applied.

Append new steps at the end with `@migration`; never edit one that has shipped. `migrate()`
runs inside `BEGIN IMMEDIATE` and re-reads the version there, so two processes opening the
same workspace at once apply each step exactly once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable

from .db import Database
from .errors import WorkspaceError

MIGRATIONS: list[Callable[[Database], None]] = []


def migration(fn: Callable[[Database], None]) -> Callable[[Database], None]:
    MIGRATIONS.append(fn)
    return fn


STATES = ("imported", "proxy_assigned", "warming_up", "human_review", "ready", "active", "cleanup", "retired")
TASK_KINDS = ("warmup", "onboarding", "post", "story", "highlight", "cleanup")
TASK_STATUSES = ("queued", "claimed", "completed", "review", "dropped", "cancelled")


def _in(values: Iterable[str]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


@migration
def m001_initial(db: Database) -> None:
    run_script(
        db,
        f"""
        CREATE TABLE meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );

        CREATE TABLE models (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE COLLATE NOCASE,
            slug TEXT NOT NULL UNIQUE,
            display_name TEXT,
            strategy_json TEXT NOT NULL DEFAULT '{{}}',
            strategy_sha256 TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            archived_at TEXT  -- `model delete`: kept with its history and content, name stays taken
        );

        CREATE TABLE proxies (
            id INTEGER PRIMARY KEY,
            scheme TEXT NOT NULL DEFAULT 'http',
            host TEXT NOT NULL,
            port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
            username TEXT NOT NULL DEFAULT '',
            password_enc TEXT,
            provider TEXT,
            location TEXT,
            monthly_cost REAL,
            status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive', 'error')),
            assigned_model_id INTEGER REFERENCES models(id),
            max_accounts INTEGER NOT NULL DEFAULT 3 CHECK (max_accounts BETWEEN 1 AND 3),
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            last_tested_at TEXT,
            last_test_ok INTEGER,
            last_latency_ms INTEGER,
            last_exit_ip TEXT,
            last_test_error TEXT,
            -- proxy health (docs/proxy-operations.md): failed tests in a row, when the status last
            -- changed, and an exit IP change not yet acknowledged (the IP before it, and when)
            consecutive_failures INTEGER NOT NULL DEFAULT 0,
            status_changed_at TEXT,
            exit_ip_changed_at TEXT,
            previous_exit_ip TEXT,
            UNIQUE (host, port, username)
        );

        CREATE TABLE bots (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            token_hash TEXT NOT NULL UNIQUE,
            slots INTEGER CHECK (slots IS NULL OR slots >= 1),
            created_at TEXT NOT NULL,
            revoked_at TEXT,
            last_seen_at TEXT,
            status TEXT,
            app_version TEXT,
            system_info_json TEXT,
            current_task_id INTEGER
        );

        CREATE TABLE accounts (
            id INTEGER PRIMARY KEY,
            username TEXT NOT NULL UNIQUE COLLATE NOCASE,
            password_enc TEXT NOT NULL,
            email TEXT,
            email_password_enc TEXT,
            extras_enc TEXT,
            lifecycle_state TEXT NOT NULL DEFAULT 'imported' CHECK (lifecycle_state IN {_in(STATES)}),
            warmup_step INTEGER,
            warmup_started_at TEXT,
            warmup_completed_at TEXT,
            model_id INTEGER REFERENCES models(id),
            assigned_to_model_at TEXT,
            proxy_id INTEGER REFERENCES proxies(id),
            proxy_assigned_at TEXT,
            bot_id INTEGER REFERENCES bots(id),
            slot INTEGER,
            last_bot_action_by TEXT,
            last_bot_action_at TEXT,
            requires_human_review INTEGER NOT NULL DEFAULT 0,
            last_error_message TEXT,
            last_error_at TEXT,
            retry_count INTEGER NOT NULL DEFAULT 0,
            retired_at TEXT,
            retired_reason TEXT,
            import_source TEXT,
            -- models (docs/models.md): onboarding done in the current model, the next schedule
            -- slot tick has not materialised yet, and the model to join after cleanup (--reassign)
            onboarded_at TEXT,
            next_slot_at TEXT,
            reassign_to_model_id INTEGER REFERENCES models(id),
            import_line INTEGER,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            UNIQUE (bot_id, slot)
        );
        CREATE INDEX accounts_state ON accounts (lifecycle_state);
        CREATE INDEX accounts_proxy ON accounts (proxy_id);
        CREATE INDEX accounts_model ON accounts (model_id);
        -- tick schedules only the active accounts whose next slot comes within its horizon
        CREATE INDEX accounts_next_slot ON accounts (next_slot_at) WHERE lifecycle_state = 'active' AND next_slot_at IS NOT NULL;
        CREATE INDEX accounts_reassign ON accounts (reassign_to_model_id) WHERE reassign_to_model_id IS NOT NULL;
        -- warm-ups started per calendar day (warmup.max_starts_per_day)
        CREATE INDEX accounts_warmup_started ON accounts (warmup_started_at) WHERE warmup_started_at IS NOT NULL;

        -- Images and texts of one model (model_id NULL with is_template = 1: content/_templates).
        -- One table for both, so that content ids are one sequence, as bots and `content list`
        -- see them; requirements.md's TextPool rows are the rows with text_content set.
        CREATE TABLE content (
            id INTEGER PRIMARY KEY,
            model_id INTEGER REFERENCES models(id),
            is_template INTEGER NOT NULL DEFAULT 0,
            content_type TEXT NOT NULL,
            path TEXT,
            sha256 TEXT,
            text_content TEXT,
            order_priority INTEGER NOT NULL DEFAULT 0,
            usage_count INTEGER NOT NULL DEFAULT 0,
            active INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            retired_at TEXT,
            CHECK ((path IS NULL) <> (text_content IS NULL))
        );
        CREATE INDEX content_pool ON content (model_id, content_type, active);

        CREATE TABLE tasks (
            id INTEGER PRIMARY KEY,
            account_id INTEGER NOT NULL REFERENCES accounts(id),
            kind TEXT NOT NULL CHECK (kind IN {_in(TASK_KINDS)}),
            step_number INTEGER,
            step_name TEXT NOT NULL,
            model_id INTEGER REFERENCES models(id),
            idempotency_key TEXT NOT NULL UNIQUE,
            status TEXT NOT NULL DEFAULT 'queued' CHECK (status IN {_in(TASK_STATUSES)}),
            due_at TEXT NOT NULL,
            stale_at TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            bot_id INTEGER REFERENCES bots(id),
            claimed_at TEXT,
            lease_expires_at TEXT,
            completed_at TEXT,
            content_json TEXT,
            last_error TEXT,
            last_error_kind TEXT,
            -- the answer given to the bot's last report, repeated to a repeated report
            result_json TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX tasks_due ON tasks (status, due_at);
        CREATE INDEX tasks_stale ON tasks (stale_at) WHERE status = 'queued' AND stale_at IS NOT NULL;
        CREATE INDEX tasks_account ON tasks (account_id, status);
        CREATE INDEX tasks_lease ON tasks (status, lease_expires_at);
        CREATE INDEX tasks_model ON tasks (model_id, completed_at) WHERE model_id IS NOT NULL;
        -- The rule "never two claimed tasks of one account" held by the database itself.
        CREATE UNIQUE INDEX tasks_one_claim_per_account ON tasks (account_id) WHERE status = 'claimed';

        CREATE TABLE content_usage (
            id INTEGER PRIMARY KEY,
            content_id INTEGER NOT NULL REFERENCES content(id),
            account_id INTEGER NOT NULL REFERENCES accounts(id),
            proxy_id INTEGER REFERENCES proxies(id),
            task_id INTEGER REFERENCES tasks(id),
            used_at TEXT NOT NULL
        );
        CREATE INDEX content_usage_account ON content_usage (account_id, content_id);
        CREATE INDEX content_usage_proxy ON content_usage (proxy_id, content_id);

        -- requirements.md's WarmupStepLog, for every kind of task: one row per attempt.
        CREATE TABLE step_log (
            id INTEGER PRIMARY KEY,
            task_id INTEGER REFERENCES tasks(id),
            account_id INTEGER NOT NULL REFERENCES accounts(id),
            kind TEXT NOT NULL,
            step_number INTEGER,
            step_name TEXT NOT NULL,
            started_at TEXT NOT NULL,
            completed_at TEXT,
            status TEXT NOT NULL CHECK (status IN ('pending', 'in_progress', 'completed', 'failed', 'requires_review')),
            bot_id INTEGER REFERENCES bots(id),
            bot_session_id TEXT,
            content_used_json TEXT,
            error_message TEXT,
            error_kind TEXT,
            error_details_json TEXT,
            retry_count INTEGER NOT NULL DEFAULT 0,
            execution_time_ms INTEGER,
            instagram_response_json TEXT,
            screenshot_path TEXT
        );
        CREATE INDEX step_log_account ON step_log (account_id);
        CREATE INDEX step_log_task ON step_log (task_id);
        -- `igctl report` (engine/reports.py): per-step counts and claim → completion times, and
        -- per-bot counts and execution times, read from these indexes alone, medians by walking
        -- them in order. The duration expression must stay identical to reports.DURATION_MS.
        CREATE INDEX step_log_step_times ON step_log (
            kind, step_number, status,
            CAST(ROUND((julianday(completed_at) - julianday(started_at)) * 86400000) AS INTEGER),
            completed_at, bot_id
        );
        CREATE INDEX step_log_bot_times ON step_log (bot_id, status, execution_time_ms, completed_at);

        CREATE TABLE account_metrics (
            id INTEGER PRIMARY KEY,
            account_id INTEGER NOT NULL REFERENCES accounts(id),
            bot_id INTEGER REFERENCES bots(id),
            at TEXT NOT NULL,
            followers INTEGER,
            following INTEGER,
            posts INTEGER,
            data_json TEXT
        );
        CREATE INDEX account_metrics_account ON account_metrics (account_id, at);

        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            kind TEXT NOT NULL,
            actor TEXT NOT NULL,
            account_id INTEGER,
            proxy_id INTEGER,
            bot_id INTEGER,
            model_id INTEGER,
            task_id INTEGER,
            old_state TEXT,
            new_state TEXT,
            cause TEXT,
            message TEXT,
            details_json TEXT
        );
        CREATE INDEX events_at ON events (at);
        CREATE INDEX events_account ON events (account_id, id);
        CREATE INDEX events_kind ON events (kind, id);
        -- the report's funnel: the states each account ever reached, without reading other events
        CREATE INDEX events_state ON events (account_id, new_state) WHERE kind = 'account.state';

        -- Files taken in from the drop folder, by content hash: each at most once.
        CREATE TABLE inbox_files (
            sha256 TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            name TEXT NOT NULL,
            outcome TEXT NOT NULL,
            result_json TEXT,
            handled_at TEXT NOT NULL
        );
        """,
    )


@migration
def m002_claim_keys(db: Database) -> None:
    """The Idempotency-Key of the claim that handed a task out: the same bot asking again
    with the same key gets the same task back (a claim whose answer was lost)."""
    run_script(
        db,
        """
        ALTER TABLE tasks ADD COLUMN claim_key TEXT;
        CREATE INDEX tasks_claim_key ON tasks (bot_id, claim_key) WHERE status = 'claimed';
        """,
    )


@migration
def m003_template_sets(db: Database) -> None:
    """Named template sets (content/_templates/<set>/): a content row of a set has its set_id
    (model_id NULL, is_template 1); the default set's rows keep set_id NULL. A deleted set keeps
    its row (deleted_at) so its retired content still names it; a live name is unique.
    `content.disabled_at`: an item the operator disabled, never chosen for a task, kept by sync."""
    run_script(
        db,
        """
        CREATE TABLE template_sets (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            deleted_at TEXT
        );
        CREATE UNIQUE INDEX template_sets_live_name ON template_sets (name) WHERE deleted_at IS NULL;
        ALTER TABLE content ADD COLUMN set_id INTEGER REFERENCES template_sets(id);
        ALTER TABLE content ADD COLUMN disabled_at TEXT;
        CREATE INDEX content_set ON content (set_id, content_type, active) WHERE set_id IS NOT NULL;
        """,
    )


def run_script(db: Database, script: str) -> None:
    """Run several statements inside the current transaction (sqlite3's executescript would
    commit first)."""
    buf = ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            db.execute(buf)
            buf = ""
    if buf.strip():
        raise ValueError(f"incomplete SQL statement in migration: {buf.strip()[:60]}")


def schema_version(db: Database) -> int:
    return db.scalar("PRAGMA user_version")


def migrate(db: Database) -> int:
    """Apply what is missing; return the number of steps applied now."""
    known = len(MIGRATIONS)
    current = schema_version(db)
    if current > known:
        raise WorkspaceError(
            f"this workspace's database is at schema version {current}, newer than this igctl "
            f"understands ({known}); upgrade igctl"
        )
    if current == known:
        return 0
    with db.write():
        current = schema_version(db)  # another process may have migrated meanwhile
        if current > known:
            raise WorkspaceError(f"database schema version {current} is newer than this igctl ({known})")
        for number in range(current, known):
            MIGRATIONS[number](db)
            db.execute(f"PRAGMA user_version = {number + 1}")
        return known - current
