"""Lists that hold a fleet: one page of a filtered, searched, sorted query and its total.

Every long list of the dashboard (and any CLI listing that wants it) goes through `page_of`:
the caller builds its FROM/WHERE with parameters, names the columns it may be sorted by, and
gets one page of rows plus the total count. `ListRequest` is what the operator asked for
(page, page size, sort, direction, search text, filters), parsed and checked in one place so
a bookmarked URL means the same thing everywhere. Offset paging: at 100,000 rows an indexed
OFFSET is a few milliseconds in SQLite, and an operator jumps to any page (docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..store.db import Database
from ..store.errors import InvalidInput

PAGE_SIZES = (50, 100, 500)
DEFAULT_PAGE_SIZE = PAGE_SIZES[0]
MAX_PAGE = 10_000_000
SEARCH_MAX = 200


@dataclass(frozen=True)
class ListRequest:
    """One view of a list: page (1 = first), page size, sort column and direction, the search
    text (None: no search) and the filters given (name → value, only non-empty ones)."""

    page: int = 1
    per_page: int = DEFAULT_PAGE_SIZE
    sort: str | None = None
    descending: bool = False
    search: str | None = None
    filters: dict[str, str] = field(default_factory=dict)

    def query(self, **changes: Any) -> dict[str, str]:
        """This view as URL query parameters (defaults left out), with `changes` applied; a
        change to None removes the parameter. What the pager and the sort links use."""
        out: dict[str, str] = dict(self.filters)
        if self.search:
            out["q"] = self.search
        if self.sort:
            out["sort"] = self.sort
            if self.descending:
                out["dir"] = "desc"
        if self.per_page != DEFAULT_PAGE_SIZE:
            out["per_page"] = str(self.per_page)
        if self.page != 1:
            out["page"] = str(self.page)
        for key, value in changes.items():
            if value is None:
                out.pop(key, None)
            else:
                out[key] = str(value)
        if out.get("page") == "1":
            out.pop("page")
        if out.get("per_page") == str(DEFAULT_PAGE_SIZE):
            out.pop("per_page")
        return out


def _whole(value: str, name: str, low: int, high: int) -> int:
    text = value.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 9 or not low <= int(text) <= high:
        raise InvalidInput(f"{name} must be a whole number from {low} to {high}", about=(name,))
    return int(text)


def list_request(
    params: Mapping[str, str],
    *,
    sorts: Sequence[str],
    filters: Sequence[str] = (),
    default_sort: str | None = None,
    default_descending: bool = False,
) -> ListRequest:
    """Read a view from query parameters: `page`, `per_page` (one of PAGE_SIZES), `sort` (one
    of `sorts`), `dir` (`asc`/`desc`), `q` (the search) and each name in `filters`. Unknown
    values are InvalidInput naming the parameter; empty ones count as not given."""
    page = _whole(params["page"], "page", 1, MAX_PAGE) if (params.get("page") or "").strip() else 1
    per_page = DEFAULT_PAGE_SIZE
    if (params.get("per_page") or "").strip():
        per_page = _whole(params["per_page"], "per_page", 1, max(PAGE_SIZES))
        if per_page not in PAGE_SIZES:
            raise InvalidInput(f"per_page must be one of {', '.join(map(str, PAGE_SIZES))}", about=("per_page",))
    sort = (params.get("sort") or "").strip() or default_sort
    if sort is not None and sort not in sorts:
        raise InvalidInput(f"cannot sort by {sort!r}; sort by one of: {', '.join(sorts)}", about=("sort",))
    direction = (params.get("dir") or "").strip().lower()
    if direction not in ("", "asc", "desc"):
        raise InvalidInput("dir must be asc or desc", about=("dir",))
    descending = default_descending if not direction else direction == "desc"
    search = (params.get("q") or "").strip() or None
    if search is not None and len(search) > SEARCH_MAX:
        raise InvalidInput(f"a search is at most {SEARCH_MAX} characters", about=("q",))
    given = {name: value.strip() for name in filters if (value := params.get(name)) and value.strip()}
    return ListRequest(page, per_page, sort, descending, search, given)


def search_sql(columns: Sequence[str], text: str) -> tuple[str, list[str]]:
    """`(sql, params)` matching rows where any of `columns` holds `text` (a substring, any case,
    `%` `_` `\\` and quotes literal). ASCII text uses SQLite's LIKE, which folds A-Z by itself;
    other text compares `fold()` (Python's casefold, registered on every connection) of both."""
    if text.isascii():
        parts = [f"{c} LIKE ? ESCAPE '\\'" for c in columns]
        return "(" + " OR ".join(parts) + ")", [like(text)] * len(columns)
    parts = [f"fold({c}) LIKE ? ESCAPE '\\'" for c in columns]
    return "(" + " OR ".join(parts) + ")", [like(text.casefold())] * len(columns)


def like(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, its `%`, `_` and `\\` taken literally: use with
    `LIKE ? ESCAPE '\\'` (search_sql builds the whole condition)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def page_of(
    db: Database,
    *,
    select: str,
    from_where: str,
    params: Sequence[Any],
    order: Mapping[str, str],
    request: ListRequest,
    tiebreak: str,
) -> dict[str, Any]:
    """One page of `SELECT {select} {from_where}` ordered by `order[request.sort]` (an SQL
    expression; the whole ORDER BY is that, then `tiebreak`, so pages never overlap), and the
    total. A page past the end is empty (its `page` is kept, `pages` says how many there are).
    Returns {"rows", "total", "page", "pages", "per_page", "first_row", "last_row"}."""
    total = int(db.scalar(f"SELECT COUNT(*) {from_where}", list(params)) or 0)
    pages = max(1, -(-total // request.per_page))
    direction = "DESC" if request.descending else "ASC"
    key = order[request.sort] if request.sort else None
    order_sql = (f"{key} {direction}, " if key else "") + f"{tiebreak} {direction if key is None else 'ASC'}"
    offset = (request.page - 1) * request.per_page
    rows = (
        db.query(
            f"SELECT {select} {from_where} ORDER BY {order_sql} LIMIT ? OFFSET ?",
            [*params, request.per_page, offset],
        )
        if offset < total
        else []
    )
    return {
        "rows": rows,
        "total": total,
        "page": request.page,
        "pages": pages,
        "per_page": request.per_page,
        "first_row": offset + 1 if rows else 0,
        "last_row": offset + len(rows),
    }
