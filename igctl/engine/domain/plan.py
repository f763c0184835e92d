"""The warm-up plan and its due times: calendar days, active hours, cooldowns, DST.

The plan is data (`warmup.steps`, `warmup.spacing`, `warmup.active_hours` in igctl.yaml); this
module turns it into instants. Everything but the two views at the end (`pipeline`,
`account_plan`) is pure: no database, no clock.

Rules (docs/lifecycle.md explains them for operators):
- `calendar_day`: step k+1 is due at the start of the calendar day (workspace zone) after the
  day on which step k completed, or at the start of `active_hours` on that day when set.
- cooldown `{min_hours, max_hours}`: step k+1 is due a number of hours after the completion,
  drawn per account and step from a hash of both, so a repeat gives the same due time.
- With `active_hours`, any warm-up due time outside those hours moves to the start of the next
  window (the same day's if it is still ahead, else the next day's).
- A wall time that does not exist on a DST day (the spring gap) is pushed forward by the gap,
  as clocks do; an ambiguous one (the autumn fold) is its first occurrence.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from ..store.clock import UTC, from_db, to_db
from ..store.errors import NotFound
from ..store.records import Record, TaskRow
from ..store.workspace import Workspace

if TYPE_CHECKING:  # importing config costs pydantic: only where a file is validated
    from ..store.config import Cooldown, WarmupSettings


@dataclass(frozen=True)
class Window:
    start: time
    end: time | None  # None: until midnight ("…-24:00")


def parse_window(text: str | None) -> Window | None:
    """`"HH:MM-HH:MM"` (already validated by the config model) as a Window."""
    if not text:
        return None
    left, right = text.split("-")
    sh, sm = (int(x) for x in left.split(":"))
    eh, em = (int(x) for x in right.split(":"))
    end = None if (eh, em) == (24, 0) else time(eh, em)
    return Window(time(sh, sm), end)


def local_instant(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """The instant (UTC) of wall time `wall` on `day` in `tz`. fold=0: a time in the autumn fold
    is its first occurrence; a time in the spring gap comes out shifted forward by the gap."""
    return datetime.combine(day, wall, tzinfo=tz).replace(fold=0).astimezone(UTC)


def start_of_day(day: date, tz: ZoneInfo) -> datetime:
    return local_instant(day, time(0), tz)


def local_date(instant: datetime, tz: ZoneInfo) -> date:
    return instant.astimezone(tz).date()


def clamp_to_window(instant: datetime, tz: ZoneInfo, window: Window | None) -> datetime:
    """`instant` if it falls inside the active hours, else the start of the next window."""
    if window is None:
        return instant
    day = local_date(instant, tz)
    start = local_instant(day, window.start, tz)
    end = local_instant(day, window.end, tz) if window.end else start_of_day(day + timedelta(days=1), tz)
    if instant < start:
        return start
    if instant < end:
        return instant
    return local_instant(day + timedelta(days=1), window.start, tz)


def cooldown_hours(cooldown: Cooldown, account_id: int, step_number: int) -> float:
    """A draw in [min_hours, max_hours], fixed by account and step."""
    digest = hashlib.sha256(f"igctl-cooldown:{account_id}:{step_number}".encode()).digest()
    fraction = int.from_bytes(digest[:8], "big") / 2**64
    return cooldown.min_hours + (cooldown.max_hours - cooldown.min_hours) * fraction


class Plan:
    """The warm-up plan of one workspace."""

    def __init__(self, settings: WarmupSettings, tz: ZoneInfo):
        # `settings`: igctl.yaml's warmup section (config.WarmupSettings)
        self.settings = settings
        self.tz = tz
        self.steps = list(settings.steps)
        self.window = parse_window(settings.active_hours)

    @classmethod
    def of(cls, ws: Workspace) -> Plan:
        return cls(ws.config.warmup, ws.tz)

    def __len__(self) -> int:
        return len(self.steps)

    def step_name(self, number: int) -> str:
        if not 1 <= number <= len(self.steps):
            raise ValueError(f"the plan has no step {number}")
        return self.steps[number - 1]

    def is_last(self, number: int) -> bool:
        return number >= len(self.steps)

    @property
    def spacing_label(self) -> str:
        s = self.settings.spacing
        return s if isinstance(s, str) else f"cooldown {s.min_hours:g}-{s.max_hours:g} h"

    def first_due(self, now: datetime) -> datetime:
        """Step 1 of a warm-up started at `now`."""
        return clamp_to_window(now, self.tz, self.window)

    def next_due(self, account_id: int, completed_step: int, completed_at: datetime) -> datetime:
        """When step `completed_step + 1` becomes due, given step `completed_step` completed at
        `completed_at`."""
        spacing = self.settings.spacing
        if not isinstance(spacing, str):  # a cooldown {min_hours, max_hours}
            hours = cooldown_hours(spacing, account_id, completed_step + 1)
            return clamp_to_window(completed_at + timedelta(hours=hours), self.tz, self.window)
        next_day = local_date(completed_at, self.tz) + timedelta(days=1)
        if self.window is not None:
            return local_instant(next_day, self.window.start, self.tz)
        return start_of_day(next_day, self.tz)

    def retry_due(self, failed_at: datetime, delay: timedelta) -> datetime:
        return clamp_to_window(failed_at + delay, self.tz, self.window)

    def projection(self, account_id: int, from_step: int, from_due: datetime) -> list[tuple[int, str, datetime]]:
        """Due times of steps from_step..last, assuming each completes the moment it is due."""
        out = []
        due = from_due
        for number in range(from_step, len(self.steps) + 1):
            if number > from_step:
                due = self.next_due(account_id, number - 1, due)
            out.append((number, self.step_name(number), due))
        return out


def backoff(settings: WarmupSettings, attempt: int) -> timedelta:
    """The wait after failed attempt number `attempt` (1-based): base × 2^(attempt-1)."""
    return timedelta(minutes=settings.retry_backoff_minutes * 2 ** max(attempt - 1, 0))


# -- views over the database -----------------------------------------------------------------
# (the only part of this module that reads the database)

PIPELINE_STATUSES = ("waiting", "due", "retry_wait", "in_progress", "human_review", "missing")


def _step_status(row: Record, now_db: str) -> str:
    if row["task_status"] is None:
        return "missing"
    if row["task_status"] == "claimed":
        return "in_progress"
    if row["task_status"] == "review" or row["lifecycle_state"] == "human_review":
        return "human_review"
    if row["task_last_error"] is not None and row["due_at"] > now_db:
        return "retry_wait"
    return "due" if row["due_at"] <= now_db else "waiting"


def pipeline(ws: Workspace, now: datetime | None = None) -> dict[str, Any]:
    """View C, the warm-up pipeline: every account in warm-up (and every one in human review
    during its warm-up) with its step, the step's status, due time, attempts, last error and
    bound bot; and a count per step of the plan."""
    db = ws.db()
    plan = Plan.of(ws)
    now_db = ws.now() if now is None else to_db(now)
    rows = db.query(
        """SELECT a.id, a.username, a.lifecycle_state, a.warmup_step, a.warmup_started_at, a.last_error_message,
                  a.last_error_at, a.retry_count, a.slot, a.proxy_id, b.name AS bot,
                  t.id AS task_id, t.status AS task_status, t.step_number, t.step_name, t.due_at, t.attempts,
                  t.lease_expires_at, t.last_error AS task_last_error, t.last_error_kind
           FROM accounts a
           LEFT JOIN tasks t ON t.id = (SELECT x.id FROM tasks x WHERE x.account_id = a.id AND x.kind = 'warmup'
                                        AND x.status IN ('queued', 'claimed', 'review') ORDER BY x.id DESC LIMIT 1)
           LEFT JOIN bots b ON b.id = a.bot_id
           WHERE a.lifecycle_state = 'warming_up'
              OR (a.lifecycle_state = 'human_review' AND a.warmup_completed_at IS NULL AND a.warmup_step IS NOT NULL)
           ORDER BY a.warmup_step, t.due_at, a.id"""
    )
    accounts = []
    counts: dict[int, dict[str, Any]] = {
        n: {"step_number": n, "step_name": name, "accounts": 0, **{s: 0 for s in PIPELINE_STATUSES}}
        for n, name in enumerate(plan.steps, start=1)
    }
    for r in rows:
        step = r["step_number"] or r["warmup_step"]
        status = _step_status(r, now_db)
        name = r["step_name"] or (plan.steps[step - 1] if step and step <= len(plan) else None)
        accounts.append(
            {
                "account_id": r["id"],
                "username": r["username"],
                "lifecycle_state": r["lifecycle_state"],
                "step_number": step,
                "step_name": name,
                "step_status": status,
                "due_at": r["due_at"],
                "attempts": r["attempts"] or 0,
                "lease_expires_at": r["lease_expires_at"],
                "last_error": r["task_last_error"] or r["last_error_message"],
                "last_error_kind": r["last_error_kind"],
                "last_error_at": r["last_error_at"],
                "bot": r["bot"],
                "slot": r["slot"],
                "proxy_id": r["proxy_id"],
                "task_id": r["task_id"],
                "warmup_started_at": r["warmup_started_at"],
            }
        )
        if step in counts:
            counts[step]["accounts"] += 1
            counts[step][status] += 1
    return {"accounts": accounts, "steps": list(counts.values())}


def account_plan(ws: Workspace, username: str, now: datetime | None = None) -> dict[str, Any]:
    """`warmup plan USERNAME`: each step of the plan with its status and the date it became or
    will become due (remaining steps projected as if each completes the moment it is due)."""
    db = ws.db()
    plan = Plan.of(ws)
    now = now or ws.clock.now()
    account = db.one("SELECT * FROM accounts WHERE username = ?", [username.strip()])
    if account is None:
        raise NotFound(f"no account named {username}")
    tasks = {
        r["step_number"]: r
        for r in db.query("SELECT * FROM tasks WHERE account_id = ? AND kind = 'warmup' ORDER BY id", [account["id"]])
    }
    state = account["lifecycle_state"]
    steps: list[dict[str, Any]] = []

    def add(
        number: int, status: str, due: str | None = None, completed: str | None = None, task: TaskRow | None = None
    ) -> None:
        steps.append(
            {
                "step_number": number,
                "step_name": plan.step_name(number),
                "status": status,
                "due_at": due,
                "completed_at": completed,
                "attempts": task["attempts"] if task else 0,
            }
        )

    note = None
    if state in ("imported", "proxy_assigned"):
        note = (
            "not started: the warm-up starts at the first tick after a proxy is assigned"
            if state == "imported"
            else "not started: the next tick starts the warm-up"
        )
        for number, _name, due in plan.projection(account["id"], 1, plan.first_due(now)):
            add(number, "planned", to_db(due))
    elif state == "retired":
        note = "retired: no further steps"
    else:
        current = None
        for number in range(1, len(plan) + 1):
            task = tasks.get(number)
            if task is not None and task["status"] == "completed":
                add(number, "completed", task["due_at"], task["completed_at"], task)
            elif current is None and state in ("warming_up", "human_review") and account["warmup_completed_at"] is None:
                current = number
                if task is None:
                    due, status = now, "missing"
                else:
                    due = from_db(task["due_at"])
                    status = {"claimed": "in_progress", "review": "human_review"}.get(task["status"], task["status"])
                    if status == "queued":
                        status = "due" if due <= now else "waiting"
                    if state == "human_review":
                        status = "human_review"
                add(number, status, to_db(due), None, task)
                base = max(due, now) if status != "human_review" else now
                for n, _name, later in plan.projection(account["id"], number, base)[1:]:
                    add(n, "planned", to_db(later))
                break
        if account["warmup_completed_at"] is not None:
            note = f"warm-up completed {account['warmup_completed_at']}"
    return {
        "username": account["username"],
        "account_id": account["id"],
        "lifecycle_state": state,
        "spacing": plan.spacing_label,
        "active_hours": plan.settings.active_hours,
        "timezone": str(ws.tz),
        "note": note,
        "steps": steps,
    }
