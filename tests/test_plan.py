"""The warm-up plan's due times: calendar days, midnight, both DST changes, a zone far from UTC,
active hours, cooldowns, backoff. Pure functions; instants are checked in UTC."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from igctl.engine.domain.plan import Plan, backoff, clamp_to_window, cooldown_hours, parse_window
from igctl.engine.store.clock import parse_instant, to_db
from igctl.engine.store.config import Cooldown, WarmupSettings

BERLIN = ZoneInfo("Europe/Berlin")


def plan(tz=BERLIN, **settings) -> Plan:
    return Plan(WarmupSettings(**settings), tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz))


def at(text: str, tz=BERLIN):
    """A wall time in `tz` (or an instant with offset) as an aware datetime."""
    return parse_instant(text, tz)


def due_after(p: Plan, completed: str, step: int = 1, account_id: int = 7) -> str:
    return to_db(p.next_due(account_id, step, at(completed, p.tz)))


# -- calendar days and midnight ----------------------------------------------------------------
def test_next_step_is_due_at_the_start_of_the_next_calendar_day():
    # Berlin in March before the change is UTC+1: local midnight is 23:00 UTC the day before.
    assert due_after(plan(), "2026-03-02T10:00:00") == "2026-03-02T23:00:00.000Z"


def test_completion_one_minute_before_midnight_makes_the_next_step_due_a_minute_later():
    assert due_after(plan(), "2026-03-02T23:59:00") == "2026-03-02T23:00:00.000Z"
    assert due_after(plan(), "2026-03-02T23:59:59.999") == "2026-03-02T23:00:00.000Z"


def test_completion_at_midnight_belongs_to_the_new_day():
    # 00:00 on the 3rd is the 3rd: the next step waits for the start of the 4th.
    assert due_after(plan(), "2026-03-03T00:00:00") == "2026-03-03T23:00:00.000Z"


def test_calendar_day_is_the_workspace_zone_not_utc():
    # 23:30 UTC on the 2nd is already 00:30 on the 3rd in Berlin.
    assert due_after(plan(), "2026-03-02T23:30:00+00:00") == "2026-03-03T23:00:00.000Z"
    # The same instant in a UTC workspace is still the 2nd.
    assert due_after(plan("UTC"), "2026-03-02T23:30:00+00:00") == "2026-03-03T00:00:00.000Z"


# -- DST: Europe/Berlin, both changes ------------------------------------------------------------
def test_spring_forward_day_starts_at_cet_midnight_and_the_next_at_cest_midnight():
    p = plan()
    # Sunday 29 March 2026, 02:00 CET → 03:00 CEST: a 23-hour day.
    assert due_after(p, "2026-03-28T15:00:00") == "2026-03-28T23:00:00.000Z"  # 29th 00:00 CET
    assert due_after(p, "2026-03-28T23:59:00") == "2026-03-28T23:00:00.000Z"
    assert due_after(p, "2026-03-29T12:00:00") == "2026-03-29T22:00:00.000Z"  # 30th 00:00 CEST
    # A completion in the hour after the jump is still the 29th.
    assert due_after(p, "2026-03-29T03:00:00") == "2026-03-29T22:00:00.000Z"
    day = p.next_due(1, 1, at("2026-03-29T12:00:00")) - p.next_due(1, 1, at("2026-03-28T12:00:00"))
    assert day == timedelta(hours=23)


def test_fall_back_day_starts_at_cest_midnight_and_the_next_at_cet_midnight():
    p = plan()
    # Sunday 25 October 2026, 03:00 CEST → 02:00 CET: a 25-hour day.
    assert due_after(p, "2026-10-24T15:00:00") == "2026-10-24T22:00:00.000Z"  # 25th 00:00 CEST
    assert due_after(p, "2026-10-25T12:00:00") == "2026-10-25T23:00:00.000Z"  # 26th 00:00 CET
    # Both 02:30s of the 25th (first CEST, then CET) are the 25th.
    first = datetime(2026, 10, 25, 2, 30, tzinfo=BERLIN, fold=0)
    second = datetime(2026, 10, 25, 2, 30, tzinfo=BERLIN, fold=1)
    assert second.astimezone(ZoneInfo("UTC")) - first.astimezone(ZoneInfo("UTC")) == timedelta(hours=1)
    assert to_db(p.next_due(1, 1, first)) == to_db(p.next_due(1, 1, second)) == "2026-10-25T23:00:00.000Z"
    day = p.next_due(1, 1, at("2026-10-25T12:00:00")) - p.next_due(1, 1, at("2026-10-24T12:00:00"))
    assert day == timedelta(hours=25)


def test_active_hours_start_in_the_spring_gap_is_pushed_forward_by_the_gap():
    p = plan(active_hours="02:30-20:00")
    # 02:30 does not exist on 29 March in Berlin; the clocks read 03:30 CEST then (01:30 UTC).
    assert due_after(p, "2026-03-28T12:00:00") == "2026-03-29T01:30:00.000Z"
    # The day after is an ordinary CEST day.
    assert due_after(p, "2026-03-29T12:00:00") == "2026-03-30T00:30:00.000Z"


def test_active_hours_start_in_the_autumn_fold_is_its_first_occurrence():
    p = plan(active_hours="02:30-20:00")
    assert due_after(p, "2026-10-24T12:00:00") == "2026-10-25T00:30:00.000Z"  # 02:30 CEST


# -- zones far from UTC --------------------------------------------------------------------------
def test_kiritimati_utc_plus_14_midnight_boundaries():
    p = plan("Pacific/Kiritimati")
    # 09:59 UTC is 23:59 local on the 2nd; 10:00 UTC is 00:00 local on the 3rd.
    assert due_after(p, "2026-03-02T09:59:00+00:00") == "2026-03-02T10:00:00.000Z"
    assert due_after(p, "2026-03-02T10:00:00+00:00") == "2026-03-03T10:00:00.000Z"


def test_auckland_end_of_daylight_saving():
    p = plan("Pacific/Auckland")
    # 5 April 2026, 03:00 NZDT (UTC+13) → 02:00 NZST (UTC+12).
    assert due_after(p, "2026-04-04T12:00:00") == "2026-04-04T11:00:00.000Z"  # 5th 00:00 NZDT
    assert due_after(p, "2026-04-05T12:00:00") == "2026-04-05T12:00:00.000Z"  # 6th 00:00 NZST


# -- active hours --------------------------------------------------------------------------------
def test_active_hours_put_the_next_step_at_their_start_on_the_next_day():
    assert due_after(plan(active_hours="10:00-22:00"), "2026-03-02T21:00:00") == "2026-03-03T09:00:00.000Z"
    # even a completion after the window's end: the next day's start, never the day after that
    assert due_after(plan(active_hours="10:00-22:00"), "2026-03-02T23:30:00") == "2026-03-03T09:00:00.000Z"


@pytest.mark.parametrize(
    "wall, expected",
    [
        ("2026-03-02T09:59:59", "2026-03-02T09:00:00.000Z"),  # just before the start → the start
        ("2026-03-02T10:00:00", "2026-03-02T09:00:00.000Z"),  # at the start → itself
        ("2026-03-02T21:59:59", "2026-03-02T20:59:59.000Z"),  # just inside the end → itself
        ("2026-03-02T22:00:00", "2026-03-03T09:00:00.000Z"),  # at the end → tomorrow's start
    ],
)
def test_clamp_to_active_hours_boundaries(wall, expected):
    assert to_db(clamp_to_window(at(wall), BERLIN, parse_window("10:00-22:00"))) == expected


def test_active_hours_until_midnight():
    window = parse_window("08:00-24:00")
    assert window.end is None
    assert to_db(clamp_to_window(at("2026-03-02T23:59:00"), BERLIN, window)) == "2026-03-02T22:59:00.000Z"
    assert to_db(clamp_to_window(at("2026-03-03T00:00:00"), BERLIN, window)) == "2026-03-03T07:00:00.000Z"


def test_first_step_is_due_now_or_at_the_start_of_active_hours():
    assert to_db(plan().first_due(at("2026-03-02T03:00:00"))) == "2026-03-02T02:00:00.000Z"
    assert to_db(plan(active_hours="10:00-22:00").first_due(at("2026-03-02T03:00:00"))) == "2026-03-02T09:00:00.000Z"


# -- cooldown spacing ----------------------------------------------------------------------------
def test_cooldown_is_a_draw_in_range_fixed_per_account_and_step():
    p = plan(spacing={"min_hours": 15, "max_hours": 24})
    done = at("2026-03-02T10:00:00")
    first = p.next_due(42, 1, done)
    assert p.next_due(42, 1, done) == first  # a repeat gives the same due time
    hours = [(p.next_due(a, s, done) - done).total_seconds() / 3600 for a in range(1, 60) for s in range(1, 5)]
    assert all(15 <= h <= 24 for h in hours)
    assert len({round(h, 6) for h in hours}) > 50  # drawn, not one fixed value
    assert cooldown_hours(Cooldown(min_hours=15, max_hours=24), 42, 2) != cooldown_hours(
        Cooldown(min_hours=15, max_hours=24), 42, 3
    )


def test_cooldown_with_equal_bounds_is_exact_and_respects_active_hours():
    p = plan(spacing={"min_hours": 12, "max_hours": 12})
    assert due_after(p, "2026-03-02T08:00:00") == "2026-03-02T19:00:00.000Z"  # 20:00 local
    p = plan(spacing={"min_hours": 12, "max_hours": 12}, active_hours="10:00-18:00")
    assert due_after(p, "2026-03-02T08:00:00") == "2026-03-03T09:00:00.000Z"  # 20:00 is outside → next 10:00


# -- backoff and projection ------------------------------------------------------------------------
def test_backoff_doubles_from_the_configured_base():
    s = WarmupSettings()
    assert [backoff(s, n) for n in (1, 2, 3)] == [timedelta(minutes=30), timedelta(minutes=60), timedelta(minutes=120)]
    assert backoff(WarmupSettings(retry_backoff_minutes=5), 3) == timedelta(minutes=20)


def test_on_time_accounts_finish_in_exactly_five_calendar_days():
    p = plan()
    steps = p.projection(1, 1, at("2026-03-02T10:00:00"))
    days = [due.astimezone(BERLIN).date().isoformat() for _n, _name, due in steps]
    assert [name for _n, name, _d in steps] == ["change_pfp", "change_bio", "post_highlight", "post_story", "post_post"]
    assert days == ["2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05", "2026-03-06"]


def test_a_plan_with_an_added_step_is_data_not_code():
    p = plan(steps=["change_pfp", "change_name", "change_bio"])
    assert len(p) == 3 and p.step_name(2) == "change_name" and p.is_last(3) and not p.is_last(2)
    with pytest.raises(ValueError):
        p.step_name(4)
