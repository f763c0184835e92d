"""Invariants by property-based testing (product.md §3, §4, §7, §8, §9): hypothesis drives
random sequences of engine calls — imports, proxy changes, ticks, claims, completions,
failures, lease expiries (time moving on), reviews, model assignments, unassignments, model
deletions and retirements — and after every step checks that
- no proxy holds more than 3 accounts (nor more than its max_accounts),
- a proxy serves at most one model,
- no account holds more than one claimed task,
- warmup_step is consistent with the state,
- a `ready` account has finished every plan step,
- no retired account has a queued or claimed task, and no task is handed out for an account on
  a proxy that is not active,
- the counts in `report` equal the counts of the rows,
and that a call the engine refuses (an expected error) changes nothing."""

from __future__ import annotations

import os
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from warmup_helpers import seed_templates, snapshot

from igctl.engine.domain import accounts, bots, proxies
from igctl.engine.domain.plan import Plan
from igctl.engine.flows import botwork, models, review
from igctl.engine.flows import tick as engine_tick
from igctl.engine.store.errors import IgctlError
from igctl.engine.store.workspace import Workspace, init_workspace
from igctl.engine.views import reports

pytestmark = pytest.mark.stress

ACTOR = "user:hypothesis"
KINDS = list(botwork.ERROR_KINDS)
LEASE = timedelta(minutes=20)
START = datetime(2026, 3, 2, 10, 0, 0)
# What the random runs reached (checked at the end: the invariants were tested in every state)
REACHED: Counter = Counter()


class Fleet(RuleBasedStateMachine):
    """One workspace per example; the clock is IGCTL_NOW, moved by the rules."""

    def __init__(self):
        super().__init__()
        import tempfile

        self._saved_now = os.environ.get("IGCTL_NOW")
        self.tmp = tempfile.mkdtemp(prefix="igctl-hyp-")
        self.now = START
        os.environ["IGCTL_NOW"] = self.now.isoformat()
        init_workspace(Path(self.tmp) / "ws").close()
        self.ws = Workspace.open(Path(self.tmp) / "ws")
        seed_templates(self.ws)
        self.bots = [bots.add(self.ws, f"phone{i}", actor=ACTOR)["id"] for i in range(2)]
        self.usernames: list[str] = []
        self.files = 0
        self.models: list[str] = []
        self.proxy_count = 0

    def teardown(self):
        self.ws.close()
        import shutil

        shutil.rmtree(self.tmp, ignore_errors=True)
        if self._saved_now is None:
            os.environ.pop("IGCTL_NOW", None)
        else:
            os.environ["IGCTL_NOW"] = self._saved_now

    # -- helpers ---------------------------------------------------------------------------
    def refused_changes_nothing(self, call, *args, **kw):
        """Run an engine call; when it refuses (an expected error), nothing may have changed."""
        before = snapshot(self.ws)
        try:
            return call(*args, **kw)
        except IgctlError:
            assert snapshot(self.ws) == before, f"{call.__name__} refused but changed something"
            return None

    def claimed(self) -> list:
        return self.ws.db().query("SELECT * FROM tasks WHERE status = 'claimed'")

    # -- rules -----------------------------------------------------------------------------
    @initialize()
    def a_fleet_in_every_state(self):
        """Every example starts from a small fleet that went through the whole lifecycle (so the
        random steps meet accounts in every state, not only new ones)."""
        import random

        for _ in range(3):
            self.add_proxy(status="active")
        self.import_accounts(8, False)
        self.import_accounts(1, False)
        rng = random.Random(0)
        for _ in range(6):
            self.time_passes(24 * 60)
            self.work_off_the_queue(rng, failures=False)
        self.create_model(templates=True)
        models.assign(self.ws, "model1", count=5, actor=ACTOR)
        engine_tick.tick(self.ws)
        models.unassign(self.ws, "model1", [self.usernames[0]], actor=ACTOR)  # cleanup
        accounts.retire(self.ws, [self.usernames[1]], reason="banned", actor=ACTOR)
        task = botwork.claim_next(self.ws, self.bots[0])
        botwork.fail(self.ws, task["task_id"], self.bots[0], error_message="checkpoint", error_kind="challenge")
        self.import_accounts(2, False)  # imported / proxy_assigned
        states = {r[0] for r in self.ws.db().query("SELECT lifecycle_state FROM accounts")}
        assert {"ready", "active", "cleanup", "retired", "human_review"} <= states, states

    @rule(n=st.integers(1, 6), bad=st.booleans())
    def import_accounts(self, n, bad):
        self.files += 1
        lines = []
        for i in range(n):
            name = f"u{self.files}_{i}"
            lines.append(f"{name},pw-{name},{name}@example.com\n")
            self.usernames.append(name)
        if bad:
            lines.append("bad user,pw,x@example.com\n")
            if self.usernames:
                lines.append(f"{self.usernames[0].upper()},pw,dup@example.com\n")  # a duplicate
        path = Path(self.tmp) / f"f{self.files}.txt"
        path.write_text("".join(lines))
        result = accounts.import_file(self.ws, path, actor=ACTOR, assign=bool(n % 2))
        assert result["imported"] <= n

    @rule(status=st.sampled_from(["active", "active", "inactive", "error"]))
    def add_proxy(self, status):
        self.proxy_count += 1
        p = proxies.add(self.ws, f"10.5.{self.proxy_count // 250}.{self.proxy_count % 250 + 1}:8080:u:p", actor=ACTOR)
        if status != "active":
            proxies.set_status(self.ws, p["id"], status, actor=ACTOR)

    @rule(data=st.data(), status=st.sampled_from(["active", "inactive", "error"]))
    def set_proxy_status(self, data, status):
        pid = data.draw(st.integers(1, max(1, self.proxy_count)))
        self.refused_changes_nothing(proxies.set_status, self.ws, pid, status, actor=ACTOR)

    @precondition(lambda self: self.usernames)
    @rule(data=st.data())
    def assign_proxy(self, data):
        name = data.draw(st.sampled_from(self.usernames))
        pid = data.draw(st.none() | st.integers(1, max(1, self.proxy_count)))
        self.refused_changes_nothing(proxies.assign, self.ws, name, pid, actor=ACTOR)

    @precondition(lambda self: self.usernames)
    @rule(data=st.data())
    def unassign_proxy(self, data):
        self.refused_changes_nothing(proxies.unassign, self.ws, data.draw(st.sampled_from(self.usernames)), actor=ACTOR)

    @rule()
    def auto_assign(self):
        self.refused_changes_nothing(proxies.auto_assign, self.ws, actor=ACTOR)

    @rule(minutes=st.sampled_from([1, 19, 20, 21, 60, 6 * 60, 24 * 60]))
    def time_passes(self, minutes):
        self.now += timedelta(minutes=minutes)
        os.environ["IGCTL_NOW"] = self.now.isoformat()

    @rule()
    def tick(self):
        engine_tick.tick(self.ws)
        REACHED["tick"] += 1

    @rule(which=st.integers(0, 1))
    def claim(self, which):
        task = botwork.claim_next(self.ws, self.bots[which])
        REACHED["claim asked"] += 1
        if task is not None:
            REACHED["claim answered"] += 1
            db = self.ws.db()
            # handed out only for a usable account on an active proxy, never twice at once
            status = db.scalar(
                "SELECT p.status FROM proxies p JOIN accounts a ON a.proxy_id = p.id WHERE a.id = ?",
                [task["account"]["id"]],
            )
            assert status == "active"
            state = db.scalar("SELECT lifecycle_state FROM accounts WHERE id = ?", [task["account"]["id"]])
            assert state == botwork.KIND_STATE[task["kind"]]

    @rule(seed=st.integers(0, 2**16), days=st.integers(0, 3), assign=st.booleans())
    def bots_work_through_the_queue(self, seed, days, assign):
        """A day of work (compressed): time moves on, tick runs, both bots claim and report
        until nothing is due; about one report in eight is a failure."""
        import random

        rng = random.Random(seed)
        for _day in range(max(days, 1)):
            if days:
                self.time_passes(24 * 60)
            self.work_off_the_queue(rng)
            if assign and self.ws.db().scalar("SELECT COUNT(*) FROM accounts WHERE lifecycle_state = 'ready'"):
                if not self.models:
                    self.create_model(templates=True)
                self.refused_changes_nothing(models.assign, self.ws, rng.choice(self.models), count=2, actor=ACTOR)

    def work_off_the_queue(self, rng, failures: bool = True):
        engine_tick.tick(self.ws)
        for _ in range(60):
            got = 0
            for bot in self.bots:
                task = botwork.claim_next(self.ws, bot)
                if task is None:
                    continue
                got += 1
                REACHED["claim answered"] += 1
                if failures and rng.random() < 0.125:
                    botwork.fail(self.ws, task["task_id"], bot, error_message="simulated", error_kind=rng.choice(KINDS))
                else:
                    botwork.complete(self.ws, task["task_id"], bot, execution_time_ms=1)
            if not got:
                break

    @precondition(lambda self: self.claimed())
    @rule(data=st.data())
    def complete(self, data):
        task = data.draw(st.sampled_from(self.claimed()))
        self.refused_changes_nothing(botwork.complete, self.ws, task["id"], task["bot_id"], execution_time_ms=5)

    @precondition(lambda self: self.claimed())
    @rule(data=st.data(), kind=st.sampled_from(KINDS), review_now=st.booleans())
    def fail(self, data, kind, review_now):
        task = data.draw(st.sampled_from(self.claimed()))
        self.refused_changes_nothing(
            botwork.fail,
            self.ws,
            task["id"],
            task["bot_id"],
            error_message=f"simulated {kind}",
            error_kind=kind,
            requires_review=review_now,
        )

    @precondition(lambda self: self.claimed())
    @rule(data=st.data())
    def wrong_bot_reports(self, data):
        task = data.draw(st.sampled_from(self.claimed()))
        other = [b for b in self.bots if b != task["bot_id"]][0]
        self.refused_changes_nothing(botwork.complete, self.ws, task["id"], other)

    @rule(which=st.integers(0, 1))
    def heartbeat(self, which):
        botwork.heartbeat(self.ws, self.bots[which])

    @precondition(lambda self: self.usernames)
    @rule(data=st.data(), resolve=st.booleans())
    def review_account(self, data, resolve):
        name = data.draw(st.sampled_from(self.usernames))
        if resolve:
            self.refused_changes_nothing(review.resolve, self.ws, [name], note="fixed by hand", actor=ACTOR)
        else:
            self.refused_changes_nothing(review.retry, self.ws, [name], actor=ACTOR)

    @rule(templates=st.booleans())
    def create_model(self, templates):
        name = f"model{len(self.models) + 1}"
        path = Path(self.tmp) / f"{name}.yaml"
        path.write_text(f"templates: {'true' if templates else 'false'}\nschedule:\n  post: {{per_day: 1}}\n")
        models.create(self.ws, name, strategy_file=path, actor=ACTOR)
        self.models.append(name)

    @precondition(lambda self: self.ws.db().scalar("SELECT COUNT(*) FROM accounts WHERE lifecycle_state = 'ready'"))
    @rule(data=st.data(), count=st.integers(1, 4))
    def assign_model(self, data, count):
        if not self.models:
            self.create_model(templates=True)
        name = data.draw(st.sampled_from(self.models))
        self.refused_changes_nothing(models.assign, self.ws, name, count=count, actor=ACTOR)

    @precondition(lambda self: self.models and self.usernames)
    @rule(data=st.data())
    def assign_model_by_name(self, data):
        name = data.draw(st.sampled_from(self.models))
        who = data.draw(st.sampled_from(self.usernames))
        self.refused_changes_nothing(
            models.assign, self.ws, name, usernames=[who], reassign=data.draw(st.booleans()), actor=ACTOR
        )

    @precondition(lambda self: self.models and self.usernames)
    @rule(data=st.data())
    def unassign_model(self, data):
        name = data.draw(st.sampled_from(self.models))
        self.refused_changes_nothing(
            models.unassign, self.ws, name, [data.draw(st.sampled_from(self.usernames))], actor=ACTOR
        )

    @precondition(lambda self: self.models)
    @rule(data=st.data())
    def delete_model(self, data):
        self.refused_changes_nothing(models.delete, self.ws, data.draw(st.sampled_from(self.models)), actor=ACTOR)

    @precondition(lambda self: self.usernames)
    @rule(data=st.data())
    def retire(self, data):
        self.refused_changes_nothing(
            accounts.retire, self.ws, [data.draw(st.sampled_from(self.usernames))], reason="banned", actor=ACTOR
        )

    # -- invariants ------------------------------------------------------------------------
    @invariant()
    def note_what_was_reached(self):
        db = self.ws.db()
        for state, n in db.query("SELECT lifecycle_state, COUNT(*) FROM accounts GROUP BY 1"):
            REACHED[state] += n > 0
        for status, n in db.query("SELECT status, COUNT(*) FROM tasks GROUP BY 1"):
            REACHED["task " + status] += n > 0

    @invariant()
    def at_most_three_accounts_per_proxy(self):
        rows = self.ws.db().query(
            """SELECT p.id, p.max_accounts, COUNT(a.id) AS n FROM proxies p JOIN accounts a ON a.proxy_id = p.id
               GROUP BY p.id HAVING n > MIN(p.max_accounts, 3)"""
        )
        assert rows == [], [tuple(r) for r in rows]

    @invariant()
    def one_model_per_proxy(self):
        rows = self.ws.db().query(
            """SELECT proxy_id, COUNT(DISTINCT model_id) AS n FROM accounts
               WHERE proxy_id IS NOT NULL AND model_id IS NOT NULL AND lifecycle_state = 'active'
               GROUP BY proxy_id HAVING n > 1"""
        )
        assert rows == [], [tuple(r) for r in rows]
        wrong = self.ws.db().query(
            """SELECT a.id FROM accounts a JOIN proxies p ON p.id = a.proxy_id
               WHERE a.lifecycle_state = 'active' AND a.model_id IS NOT NULL AND p.assigned_model_id IS NOT a.model_id"""
        )
        assert wrong == [], "a proxy's model differs from its active accounts' model"

    @invariant()
    def at_most_one_claimed_task_per_account(self):
        rows = self.ws.db().query(
            "SELECT account_id FROM tasks WHERE status = 'claimed' GROUP BY account_id HAVING COUNT(*) > 1"
        )
        assert rows == []

    @invariant()
    def warmup_step_consistent_with_state(self):
        db = self.ws.db()
        plan = Plan.of(self.ws)
        last = len(plan.steps)
        bad = db.query(
            """SELECT username, lifecycle_state, warmup_step FROM accounts
               WHERE (lifecycle_state IN ('imported', 'proxy_assigned') AND warmup_step IS NOT NULL AND warmup_completed_at IS NULL
                      AND warmup_started_at IS NULL)
                  OR (lifecycle_state = 'warming_up' AND (warmup_step IS NULL OR warmup_step < 1 OR warmup_step > ?))
                  OR (lifecycle_state IN ('ready', 'active') AND warmup_step IS NOT ?)""",
            [last, last],
        )
        assert bad == [], [tuple(r) for r in bad]
        # the open warm-up task of an account in warm-up is its current step
        bad = db.query(
            """SELECT a.username FROM accounts a JOIN tasks t ON t.account_id = a.id
               WHERE a.lifecycle_state = 'warming_up' AND t.kind = 'warmup' AND t.status IN ('queued', 'claimed')
                 AND t.step_number != a.warmup_step"""
        )
        assert bad == []

    @invariant()
    def ready_means_every_plan_step_done(self):
        db = self.ws.db()
        plan = Plan.of(self.ws)
        steps = len(plan.steps)
        for row in db.query(
            "SELECT id, username FROM accounts WHERE lifecycle_state = 'ready' OR warmup_completed_at IS NOT NULL"
        ):
            done = db.scalar(
                "SELECT COUNT(DISTINCT step_number) FROM tasks WHERE account_id = ? AND kind = 'warmup' AND status = 'completed'",
                [row["id"]],
            )
            assert done == steps, (row["username"], done)

    @invariant()
    def nothing_open_for_a_retired_account(self):
        rows = self.ws.db().query(
            """SELECT t.id FROM tasks t JOIN accounts a ON a.id = t.account_id
               WHERE a.lifecycle_state = 'retired' AND t.status IN ('queued', 'claimed')"""
        )
        assert rows == []
        held = self.ws.db().query(
            "SELECT id FROM accounts WHERE lifecycle_state = 'retired' AND (proxy_id IS NOT NULL OR bot_id IS NOT NULL)"
        )
        assert held == []  # its proxy slot and device slot are free

    @invariant()
    def report_counts_equal_row_counts(self):
        db = self.ws.db()
        report = reports.build_report(self.ws, daily=False)
        by_state = dict(db.query("SELECT lifecycle_state, COUNT(*) FROM accounts GROUP BY 1"))
        for state, n in report["accounts_by_state"].items():
            assert n == by_state.get(state, 0), (state, n, by_state)
        assert report["proxies"]["total"] == db.scalar("SELECT COUNT(*) FROM proxies")
        in_use = db.scalar("SELECT COUNT(DISTINCT proxy_id) FROM accounts WHERE proxy_id IS NOT NULL")
        assert report["proxies"]["in_use"] == in_use
        completed = dict(
            db.query(
                "SELECT step_number, COUNT(*) FROM step_log WHERE kind = 'warmup' AND status = 'completed' GROUP BY 1"
            )
        )
        for step, figures in report["warmup_steps"].items():
            assert figures["completed"] == completed.get(int(step), 0), (step, figures, completed)


def test_engine_invariants_hold_under_random_sequences():
    REACHED.clear()
    run_state_machine_as_test(
        Fleet,
        settings=settings(
            max_examples=int(os.environ.get("IGCTL_STRESS_EXAMPLES", "80")),
            stateful_step_count=60,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
    print("\nREACHED " + repr(sorted(REACHED.items())))
    # the sequences went through the whole lifecycle, or the invariants were checked in vain
    for what in (
        "imported",
        "proxy_assigned",
        "warming_up",
        "human_review",
        "ready",
        "active",
        "cleanup",
        "retired",
        "task claimed",
        "task completed",
        "task queued",
        "task review",
        "task cancelled",
    ):
        assert REACHED[what] > 0, (what, REACHED)
