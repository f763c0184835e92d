"""Slot times of recurring work (engine/schedule.py): pure functions, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from igctl.engine.domain import schedule

UTC = UTC
BERLIN = ZoneInfo("Europe/Berlin")


def local(text: str, tz=BERLIN) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=tz).astimezone(UTC)


def week_slots(sched, hours, tz, account_id=1, monday="2026-03-02"):
    start = local(f"{monday}T00:00", tz)
    return schedule.slots_between(
        sched,
        hours,
        tz,
        account_id,
        start - timedelta(microseconds=1),
        start + timedelta(days=7) - timedelta(microseconds=1),
    )


def test_per_week_counts_calendar_weeks_monday_to_sunday():
    for n in (1, 3, 7, 10):
        slots = week_slots({"post": {"per_week": n}}, "10:00-22:00", BERLIN)
        assert len(slots) == n
    # the next week has the same count, and no slot of one week falls into the other
    slots = week_slots({"post": {"per_week": 3}}, None, BERLIN, monday="2026-03-09")
    assert len(slots) == 3
    assert all(local("2026-03-09T00:00") <= s.at < local("2026-03-16T00:00") for s in slots)


def test_per_week_slots_are_spread_over_the_week():
    slots = week_slots({"post": {"per_week": 3}}, "10:00-22:00", BERLIN)
    days = [s.at.astimezone(BERLIN).weekday() for s in slots]
    # three equal parts of 28 active hours: Mon-Tue+4h, Wed..Thu, Fri..Sun
    assert days[0] in (0, 1, 2) and days[1] in (2, 3, 4) and days[2] in (4, 5, 6)
    assert len(set(days)) == 3


def test_per_day_slots_inside_active_hours_every_day():
    slots = week_slots({"story": {"per_day": 2}}, "10:00-22:00", BERLIN)
    assert len(slots) == 14
    for s in slots:
        wall = s.at.astimezone(BERLIN)
        assert 10 <= wall.hour < 22
    per_day = {}
    for s in slots:
        per_day.setdefault(s.at.astimezone(BERLIN).date(), []).append(s)
    assert all(len(v) == 2 for v in per_day.values())
    # the first falls in 10:00-16:00, the second in 16:00-22:00
    for v in per_day.values():
        assert v[0].at.astimezone(BERLIN).hour < 16 <= v[1].at.astimezone(BERLIN).hour


def test_zero_and_missing_kinds_have_no_slots():
    assert week_slots({"highlight": {"per_week": 0}}, None, BERLIN) == []
    assert week_slots({}, None, BERLIN) == []
    assert schedule.next_after({}, None, BERLIN, 1, local("2026-03-02T00:00")) is None


def test_slots_are_stable_per_account_and_differ_between_accounts():
    a = week_slots({"post": {"per_week": 3}}, None, BERLIN, account_id=1)
    assert a == week_slots({"post": {"per_week": 3}}, None, BERLIN, account_id=1)
    b = week_slots({"post": {"per_week": 3}}, None, BERLIN, account_id=2)
    assert [s.at for s in a] != [s.at for s in b]


def test_bounds_are_exclusive_after_inclusive_until():
    slots = week_slots({"story": {"per_day": 1}}, None, BERLIN)
    first = slots[0].at
    assert schedule.slots_between({"story": {"per_day": 1}}, None, BERLIN, 1, first, first + timedelta(hours=1)) == []
    just = schedule.slots_between({"story": {"per_day": 1}}, None, BERLIN, 1, first - timedelta(seconds=1), first)
    assert [s.at for s in just] == [first]
    assert schedule.next_after({"story": {"per_day": 1}}, None, BERLIN, 1, first - timedelta(seconds=1)) == first
    assert schedule.next_after({"story": {"per_day": 1}}, None, BERLIN, 1, first) == slots[1].at


@pytest.mark.parametrize(
    "monday", ["2026-03-23", "2026-10-19"]
)  # the weeks of the DST changes (Sun 29 Mar, Sun 25 Oct)
def test_dst_weeks_keep_counts_and_active_hours(monday):
    slots = week_slots({"story": {"per_day": 3}, "post": {"per_week": 5}}, "09:00-21:00", BERLIN, monday=monday)
    assert schedule.count_by_kind(slots) == {"story": 21, "post": 5}
    for s in slots:
        wall = s.at.astimezone(BERLIN)
        assert 9 <= wall.hour < 21


def test_window_until_midnight():
    slots = week_slots({"story": {"per_day": 4}}, "18:00-24:00", UTC)
    assert len(slots) == 28
    assert all(s.at.hour >= 18 for s in slots)
