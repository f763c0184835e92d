"""Slot times of a model's recurring work (docs/models.md, "Scheduling").

Pure: no database, no clock. A strategy's `schedule` gives each recurring kind (`post`, `story`,
`highlight`) a count `per_day` or `per_week`; this module turns it into instants.

Rules:
- The period is a calendar day, or a calendar week Monday to Sunday, in the workspace zone.
- The period's active time is its days' `active_hours` windows (the whole day without them). The
  N slots of a period split that active time into N equal parts, one slot in each part, so they
  are spread over the period: `per_week: 3` with 10:00-22:00 gives one slot in the first 28 active
  hours of the week, one in the next 28, one in the last 28.
- Where in its part a slot falls is drawn per account and kind (a hash, between 10 % and 90 %
  of the part), so the accounts of a model do not all post in the same minute, and the same
  account, kind and period always give the same slots (tick may recompute them at will).
- Wall times are turned into instants like the warm-up's (plan.local_instant): a time in the
  spring DST gap moves forward by the gap, one in the autumn fold is its first occurrence.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from .plan import Window, local_date, local_instant, parse_window

KINDS = ("post", "story", "highlight")
DAY_MINUTES = 24 * 60
# How far ahead `next_after` looks for a slot: any count of at least 1 per day or per week has
# a slot within two weeks.
LOOKAHEAD = timedelta(days=15)


class Rule(NamedTuple):
    kind: str
    count: int  # type: ignore[assignment]  # a field named like tuple.count, which it hides
    period: str  # "day" or "week"


class Slot(NamedTuple):
    at: datetime  # UTC
    kind: str


def rules(schedule: dict) -> list[Rule]:
    """The rules of a strategy's `schedule` mapping ({kind: {per_day: n} | {per_week: n}}),
    without the kinds whose count is 0."""
    out = []
    for kind in KINDS:
        entry = schedule.get(kind)
        if not entry:
            continue
        if entry.get("per_day"):
            out.append(Rule(kind, int(entry["per_day"]), "day"))
        elif entry.get("per_week"):
            out.append(Rule(kind, int(entry["per_week"]), "week"))
    return out


def seed(account_id: int, kind: str) -> float:
    """Where in its part of the period a slot of this account and kind falls: 0.1 … 0.9."""
    digest = hashlib.sha256(f"igctl-slot:{account_id}:{kind}".encode()).digest()
    return 0.1 + 0.8 * (int.from_bytes(digest[:8], "big") / 2**64)


def _window_minutes(window: Window | None) -> tuple[int, int]:
    if window is None:
        return 0, DAY_MINUTES
    start = window.start.hour * 60 + window.start.minute
    end = DAY_MINUTES if window.end is None else window.end.hour * 60 + window.end.minute
    return start, end


def _at(day: date, minute_of_day: float, tz: ZoneInfo) -> datetime:
    seconds = int(minute_of_day * 60)
    if seconds >= DAY_MINUTES * 60:  # cannot happen with a seed below 1; kept inside the day
        seconds = DAY_MINUTES * 60 - 1
    wall = time(seconds // 3600, (seconds // 60) % 60, seconds % 60)
    return local_instant(day, wall, tz)


def period_slots(rule: Rule, first_day: date, window: Window | None, tz: ZoneInfo, fraction: float) -> list[datetime]:
    """The slots of one period of `rule` starting on `first_day` (a Monday for weekly rules)."""
    start, end = _window_minutes(window)
    length = end - start
    days = 1 if rule.period == "day" else 7
    total = days * length
    out = []
    for i in range(rule.count):
        offset = (i + fraction) * total / rule.count
        day_index = min(int(offset // length), days - 1)
        out.append(_at(first_day + timedelta(days=day_index), start + offset - day_index * length, tz))
    return out


def _period_start(rule: Rule, day: date) -> date:
    return day if rule.period == "day" else day - timedelta(days=day.weekday())


def slots_between(
    schedule: dict, active_hours: str | None, tz: ZoneInfo, account_id: int, after: datetime, until: datetime
) -> list[Slot]:
    """Every slot of the schedule with after < slot <= until, in time order."""
    window = parse_window(active_hours)
    out: list[Slot] = []
    if until <= after:
        return out
    for rule in rules(schedule):
        fraction = seed(account_id, rule.kind)
        step = timedelta(days=1 if rule.period == "day" else 7)
        day = _period_start(rule, local_date(after, tz) - timedelta(days=1))
        last = local_date(until, tz) + timedelta(days=1)
        while day <= last:
            for at in period_slots(rule, day, window, tz, fraction):
                if after < at <= until:
                    out.append(Slot(at, rule.kind))
            day += step
    out.sort()
    return out


def next_after(
    schedule: dict, active_hours: str | None, tz: ZoneInfo, account_id: int, instant: datetime
) -> datetime | None:
    """The first slot after `instant`, or None when the schedule has none (nothing recurring)."""
    found = slots_between(schedule, active_hours, tz, account_id, instant, instant + LOOKAHEAD)
    return found[0].at if found else None


def count_by_kind(slots: Iterable[Slot]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for s in slots:
        counts[s.kind] = counts.get(s.kind, 0) + 1
    return counts
