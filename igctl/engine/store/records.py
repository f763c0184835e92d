"""Rows that cross layers, typed.

A row handed from one module to another is a `Record`: read by column name, with `keys()`.
`sqlite3.Row` is one (what `Database.one` and `Database.query` return), and so is a plain dict
built from a row (flows/botwork.py's `_split_candidate`), so a function typed with a record
takes either. The aliases name the table a record comes from: to mypy they are all `Record`,
to a reader they say which columns to expect (migrations.py has the tables).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol, TypeAlias


class Record(Protocol):
    """A row read by column name: `sqlite3.Row`, or a dict with string keys."""

    def __getitem__(self, key: str, /) -> Any: ...

    def keys(self) -> Iterable[str]: ...


# a row of `tasks` (queue/tasks.py changes them; flows read them)
TaskRow: TypeAlias = Record
# a row of `accounts`, sometimes joined with its proxy's or bot's columns
AccountRow: TypeAlias = Record
# a row of `proxies`
ProxyRow: TypeAlias = Record
# a row of `bots`
BotRow: TypeAlias = Record
# a row of `models`
ModelRow: TypeAlias = Record
