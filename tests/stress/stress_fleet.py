"""A large fleet in every lifecycle state, built with direct inserts (arranging, not
transitioning — as tests/warmup_helpers.py does), for the load tests."""

from __future__ import annotations

from datetime import datetime

from warmup_helpers import add_accounts, add_proxies, seed_templates

from igctl.engine.flows import warmup
from igctl.engine.queue import tasks

# how many accounts of 5,000 are in each state; warming_up and cleanup accounts have a due task
MIX = {
    "imported": 400,
    "proxy_assigned": 450,
    "warming_up": 2100,
    "human_review": 250,
    "ready": 600,
    "active": 300,
    "cleanup": 500,
    "retired": 400,
}


def fleet_in_every_state(ws, now: datetime) -> dict[str, list[int]]:
    """5,000 accounts over the 8 states. Accounts that hold a proxy sit three to one active
    proxy; `imported` ones have none, and 150 free proxies wait for them (tick assigns them)."""
    seed_templates(ws)
    ids: dict[str, list[int]] = {}
    start = 1
    proxy_no = 1
    for state, n in MIX.items():
        if state == "imported":
            ids[state] = add_accounts(ws, n, state=state, prefix=state[:6], start=start)
        else:
            proxies = add_proxies(ws, (n + 2) // 3, start=proxy_no)
            proxy_no += len(proxies)
            fields = {"warmup_step": 1} if state == "warming_up" else {}
            ids[state] = add_accounts(ws, n, state=state, proxy_ids=proxies, prefix=state[:6], start=start, **fields)
        start += n
    add_proxies(ws, 150, start=proxy_no)
    db = ws.db()
    with db.write():
        for a in ids["warming_up"]:
            warmup.queue_step(ws, db, a, 1, now, now, "test")
        for a in ids["cleanup"]:
            tasks.enqueue(
                db,
                ws.events,
                account_id=a,
                kind="cleanup",
                step_name="reset_pfp",
                key=f"cleanup:{a}:reset_pfp",
                due_at=now,
                now=now,
                actor="test",
            )
    return ids
