"""`warmup tick`: the cron job. The queue never waits for it (a claim hands out any due task, a
completion queues the next step, a failure re-queues); tick does what nobody else triggers:

0. test the proxies due a test (`proxies.test_every_hours`; off by default) — before the
   transaction, since it waits for the network, and never in a dry run,
1. expire leases (also done by every claim),
2. drop queued tasks past their `stale_at` (scheduled work missed by more than its grace),
3. give `imported` accounts a free proxy slot (the proxies engine's auto-assignment),
4. start warm-ups of `proxy_assigned` accounts whose proxy is active, oldest first, capped by
   `warmup.max_starts_per_day` (counted per calendar day in the workspace zone),
5. repair what a crash or a manual edit of the database left behind: a `warming_up` account
   without an open task gets its current step queued (or, when that step is done, is advanced);
   open tasks of a retired account are cancelled,
6. apply the models' changed strategy files (an invalid file keeps the stored strategy and is
   reported), let ready accounts waiting to be reassigned join their new model, and queue the
   recurring post/story/highlight slots of active accounts due within the next 24 hours
   (models.py, schedule.py).

Every phase is an indexed query that finds only the work there is, so a tick with nothing to do
costs little however large the fleet is; every change goes through the same functions as
everywhere else and is idempotent (state-guarded moves, UNIQUE idempotency keys), so ticks may
run as often and as concurrently as cron likes. `dry_run` runs it all in one transaction that is
rolled back.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ..domain import lifecycle, proxies, proxy_health
from ..domain.plan import Plan, local_date, start_of_day
from ..queue import tasks
from ..store import changes
from ..store.changes import Command
from ..store.clock import to_db
from ..store.db import Database
from ..store.workspace import Workspace
from . import botwork, models, warmup

TICK_ACTOR = "tick"


def tick(
    ws: Workspace,
    *,
    dry_run: bool = False,
    now: datetime | str | None = None,
    actor: str = TICK_ACTOR,
    command: Command | None = None,
) -> dict[str, Any]:
    """Run one tick in one BEGIN IMMEDIATE transaction and return counts of what it did (with
    dry_run: would have done, and nothing is kept) plus the usernames concerned. `command` (the
    operator's `warmup tick`) is recorded in that transaction, with the counts, only when the
    tick did something (`did_something`): cron's idle ticks leave no trace, and a dry run none
    at all. The tick keeps a transaction of its own because its proxy tests wait for the
    network before it, so the command's event comes after theirs."""
    db = ws.db()
    if db.in_transaction:
        raise RuntimeError("tick runs its own transaction; do not call it inside db.write()")
    now = ws.instant(now)
    # Proxy tests wait for the network, so they run before the transaction (never in a dry run);
    # a proxy they quarantine is then skipped by this very tick.
    health = {} if dry_run else proxy_health.run_due_tests(ws, actor=actor)
    with db.write(dry_run=dry_run):
        result = _run(ws, db, now, actor)
        counts = {k: v for k, v in result.items() if isinstance(v, int) and not isinstance(v, bool)}
        result.update(health)
        result["dry_run"] = dry_run
        if command is not None and did_something(result):
            changes.record(ws, db, command, counts=counts, dry_run=dry_run)
    return result


# Counts that describe what waits rather than what the tick did.
WAITING_KEYS = ("reassignments_waiting",)


def did_something(result: dict) -> bool:
    return any(v for k, v in result.items() if isinstance(v, int) and not isinstance(v, bool) and k not in WAITING_KEYS)


def _run(ws: Workspace, db: Database, now: datetime, actor: str) -> dict[str, Any]:
    at = to_db(now)
    expired = botwork.expire_leases(ws, db, now, actor=actor)
    dropped = drop_stale(ws, db, now, actor)
    assigned = proxies.auto_assign(ws, actor=actor)
    started, deferred = start_warmups(ws, db, now, actor)
    repaired = repair(ws, db, now, actor)
    strategies = models.sync_strategies(ws, db, now, actor)
    reassigned = models.reassign_pending(ws, db, now, actor)
    scheduled = models.schedule_due(ws, db, now, actor)
    return {
        "at": at,
        "leases_expired": expired,
        "tasks_dropped": dropped,
        "proxies_assigned": assigned["assigned"],
        "warmups_started": len(started),
        "warmups_deferred": deferred,
        "steps_requeued": len(repaired["requeued"]),
        "retired_released": repaired["released"],
        "strategies_applied": len(strategies["applied"]),
        "reassignments_joined": len(reassigned["joined"]),
        "reassignments_waiting": reassigned["waiting"],
        "slots_queued": scheduled["queued"],
        "slots_skipped": scheduled["skipped"],
        "started": started,
        "requeued": repaired["requeued"],
        "reassigned": reassigned["joined"],
        "strategy_errors": strategies["errors"],
    }


def drop_stale(ws: Workspace, db: Database, now: datetime, actor: str) -> int:
    """Queued tasks whose `stale_at` has passed are dropped, each with an event."""
    at = to_db(now)
    rows = db.query(
        """SELECT t.id, t.account_id, t.kind, t.step_name, t.stale_at, a.username
           FROM tasks t JOIN accounts a ON a.id = t.account_id
           WHERE t.status = 'queued' AND t.stale_at IS NOT NULL AND t.stale_at <= ?""",
        [at],
    )
    for t in rows:
        tasks.drop_stale(db, ws.events, t, at=at, actor=actor, username=t["username"])
    return len(rows)


def starts_today(ws: Workspace, db: Database, now: datetime) -> int:
    day = local_date(now, ws.tz)
    start, end = start_of_day(day, ws.tz), start_of_day(day + timedelta(days=1), ws.tz)
    return db.scalar(
        "SELECT COUNT(*) FROM accounts WHERE warmup_started_at >= ? AND warmup_started_at < ?",
        [to_db(start), to_db(end)],
    )


def start_warmups(ws: Workspace, db: Database, now: datetime, actor: str) -> tuple[list[str], int]:
    """Start the warm-up of `proxy_assigned` accounts on an active proxy, oldest assignment first,
    within today's cap. Returns (usernames started, how many wait for a later day's cap)."""
    cap = ws.config.warmup.max_starts_per_day
    candidates = db.query(
        """SELECT a.id, a.username, a.lifecycle_state FROM accounts a JOIN proxies p ON p.id = a.proxy_id
           WHERE a.lifecycle_state = 'proxy_assigned' AND p.status = 'active'
           ORDER BY a.proxy_assigned_at, a.id"""
    )
    room = len(candidates) if cap is None else max(cap - starts_today(ws, db, now), 0)
    chosen, deferred = candidates[:room], len(candidates) - min(room, len(candidates))
    if not chosen:
        return [], deferred
    at = to_db(now)
    lifecycle.move_many(
        db,
        ws.events,
        [lifecycle.Move(a, {"warmup_step": 1, "warmup_started_at": at, "retry_count": 0}) for a in chosen],
        lifecycle.WARMING_UP,
        at=at,
        actor=actor,
        cause="warm-up started",
    )
    due = Plan.of(ws).first_due(now)
    for a in chosen:
        warmup.queue_step(ws, db, a["id"], 1, due, now, actor)
    return [a["username"] for a in chosen], deferred


def repair(ws: Workspace, db: Database, now: datetime, actor: str) -> dict[str, Any]:
    """Put right what an interrupted or hand-edited workspace may hold."""
    at = to_db(now)
    plan = Plan.of(ws)
    requeued = []
    # A warming_up account must always have its current step open (queued, claimed or in review).
    orphans = db.query(
        """SELECT a.* FROM accounts a
           WHERE a.lifecycle_state = 'warming_up'
             AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.account_id = a.id AND t.status IN ('queued', 'claimed', 'review'))"""
    )
    for account in orphans:
        step = min(max(account["warmup_step"] or 1, 1), len(plan))
        key = warmup.step_key(account["id"], step)
        existing = db.one("SELECT * FROM tasks WHERE idempotency_key = ?", [key])
        if existing is not None and existing["status"] == "completed":
            # the step was done but the account was not advanced: advance it now
            warmup.step_done(ws, db, existing, account, now, actor)
        elif existing is not None:
            # dropped or cancelled by hand: back in the queue, due now
            tasks.requeue(
                db,
                ws.events,
                existing,
                at=at,
                due=at,
                actor=actor,
                cause="repair",
                message=f"warm-up step {step} of {account['username']} back in the queue (it had no open task)",
            )
        else:
            warmup.queue_step(ws, db, account["id"], step, now, now, actor)
        requeued.append(account["username"])
    # A retired account holds nothing (retiring frees the slots; this catches older data).
    released = 0
    for row in db.query(
        """SELECT DISTINCT a.id, a.username FROM tasks t JOIN accounts a ON a.id = t.account_id
           WHERE t.status IN ('queued', 'claimed') AND a.lifecycle_state = 'retired'"""
    ):
        tasks.cancel(
            db,
            ws.events,
            old=[tasks.QUEUED, tasks.CLAIMED],
            where="account_id = ?",
            params=[row["id"]],
            at=at,
            actor=actor,
            cause="repair",
            account_id=row["id"],
            summary=tasks.saying(f"open tasks of retired account {row['username']} cancelled"),
        )
        released += 1
    return {"requeued": requeued, "released": released}
