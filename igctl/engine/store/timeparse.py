"""Dates and times typed by operators (`--since 2026-11-01`, `--since 2026-11-01T08:00`)."""

from __future__ import annotations

from datetime import date, datetime, time, tzinfo

from .clock import UTC, to_db
from .errors import InvalidInput


def operator_instant(text: str, tz: tzinfo) -> str:
    """A date (the start of that day in the workspace zone) or a date-time, as a stored time."""
    value = text.strip()
    try:
        if len(value) == 10:
            d = date.fromisoformat(value)
            return to_db(datetime.combine(d, time(0), tzinfo=tz))
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"not a date (YYYY-MM-DD) or date-time (YYYY-MM-DDTHH:MM): {text!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    return to_db(dt.astimezone(UTC))
