"""The one clock. Every "now" in igctl comes from here.

`IGCTL_NOW` (ISO-8601) freezes it; a value without an offset is read in the workspace timezone.
Times are stored as fixed-width UTC strings (`2026-11-26T06:20:11.123Z`) so that SQLite can
compare them as text.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timezone
from typing import overload
from zoneinfo import ZoneInfo

from .errors import InvalidInput

UTC = UTC


def parse_instant(text: str, tz: ZoneInfo | timezone = UTC) -> datetime:
    """An ISO-8601 instant; naive values are in `tz`. Returns an aware UTC datetime."""
    value = text.strip()
    if value.endswith("Z") or value.endswith("z"):
        value = value[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"not an ISO-8601 date or time: {text!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    return dt.astimezone(UTC)


def to_db(dt: datetime) -> str:
    """The stored form: UTC, millisecond precision, fixed width."""
    # isoformat is done in C: several times faster than strftime, and this runs per event.
    return dt.astimezone(UTC).isoformat(timespec="milliseconds")[:23] + "Z"


@overload
def from_db(text: str) -> datetime: ...
@overload
def from_db(text: None) -> None: ...
@overload
def from_db(text: str | None) -> datetime | None: ...
def from_db(text: str | None) -> datetime | None:
    if text is None:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def show(text: str | None, tz: ZoneInfo) -> str:
    """A stored time as an operator reads it: local to the workspace, to the minute."""
    if not text:
        return ""
    return from_db(text).astimezone(tz).strftime("%Y-%m-%d %H:%M")


class Clock:
    """Real time, or the instant frozen by IGCTL_NOW (re-read on every call, so a long-running
    process in a test can be moved by changing the environment)."""

    def __init__(self, tz: ZoneInfo, fixed: datetime | None = None):
        self.tz = tz
        self.fixed = fixed

    def now(self) -> datetime:
        if self.fixed is not None:
            return self.fixed
        frozen = os.environ.get("IGCTL_NOW")
        if frozen:
            return parse_instant(frozen, self.tz)
        return datetime.now(UTC)

    def now_db(self) -> str:
        return to_db(self.now())

    def local(self, dt: datetime) -> datetime:
        return dt.astimezone(self.tz)
