"""The paged lists' core (engine/views/listing.py): a view read from query parameters, one page
of a query with its total, and a search that takes `%`, `_`, quotes and non-ASCII literally."""

from __future__ import annotations

import pytest

from igctl.engine.store.errors import InvalidInput
from igctl.engine.views.listing import ListRequest, list_request, page_of, search_sql


def view(**params) -> ListRequest:
    return list_request(params, sorts=("name", "n"), filters=("state",), default_sort="name")


@pytest.fixture
def names(ws):
    db = ws.db()
    db.execute("CREATE TEMP TABLE t (id INTEGER PRIMARY KEY, name TEXT, n INTEGER, state TEXT)")
    rows = [(f"user{i:03d}", i % 7, "a" if i % 2 else "b") for i in range(1, 121)]
    rows += [("50%_off", 0, "a"), ("o'brien", 0, "a"), ("Zoë", 0, "b"), ("zoe", 0, "b"), ("back\\slash", 0, "a")]
    for name, n, state in rows:
        db.execute("INSERT INTO t (name, n, state) VALUES (?, ?, ?)", [name, n, state])
    return db


def page(db, request: ListRequest, where: str = "", params=()):
    return page_of(
        db,
        select="id, name, n",
        from_where="FROM t" + (" WHERE " + where if where else ""),
        params=list(params),
        order={"name": "name", "n": "n"},
        request=request,
        tiebreak="id",
    )


def test_a_view_from_query_parameters_and_back():
    assert view() == ListRequest(sort="name")
    v = view(page="3", per_page="100", sort="n", dir="desc", q="  ann ", state="active", other="x")
    assert (v.page, v.per_page, v.sort, v.descending, v.search, v.filters) == (
        3,
        100,
        "n",
        True,
        "ann",
        {"state": "active"},
    )
    assert v.query() == {"state": "active", "q": "ann", "sort": "n", "dir": "desc", "per_page": "100", "page": "3"}
    assert v.query(page=1, q=None) == {"state": "active", "sort": "n", "dir": "desc", "per_page": "100"}
    assert view(page="", per_page="", q="  ") == view()


@pytest.mark.parametrize(
    "params, message",
    [
        ({"page": "0"}, "page must be a whole number from 1"),
        ({"page": "-1"}, "page must be a whole number"),
        ({"page": "2.5"}, "page must be a whole number"),
        ({"page": "١"}, "page must be a whole number"),  # an Arabic-Indic digit
        ({"per_page": "7"}, "per_page must be one of 50, 100, 500"),
        ({"per_page": "5000"}, "per_page must be a whole number from 1 to 500"),
        ({"sort": "password"}, "cannot sort by 'password'; sort by one of: name, n"),
        ({"dir": "up"}, "dir must be asc or desc"),
        ({"q": "x" * 201}, "a search is at most 200 characters"),
    ],
)
def test_a_bad_view_is_refused_naming_the_parameter(params, message):
    with pytest.raises(InvalidInput) as err:
        view(**params)
    assert message in err.value.message


def test_first_middle_last_and_past_the_end(names):
    first = page(names, view())
    assert first["total"] == 125 and first["pages"] == 3 and len(first["rows"]) == 50
    assert (first["first_row"], first["last_row"]) == (1, 50)
    middle = page(names, view(page="2"))
    assert [r["name"] for r in middle["rows"]][:1] == [sorted(r["name"] for r in names.query("SELECT name FROM t"))[50]]
    last = page(names, view(page="3"))
    assert len(last["rows"]) == 25 and (last["first_row"], last["last_row"]) == (101, 125)
    beyond = page(names, view(page="9"))
    assert beyond["rows"] == [] and beyond["page"] == 9 and beyond["pages"] == 3 and beyond["first_row"] == 0
    seen = [r["id"] for p in (1, 2, 3) for r in page(names, view(page=str(p), sort="n"))["rows"]]
    assert sorted(seen) == list(range(1, 126))  # sorting by a column with ties: no row twice, none lost


def test_sort_either_way_with_a_stable_tiebreak(names):
    up = [(r["n"], r["id"]) for r in page(names, view(sort="n", per_page="500"))["rows"]]
    down = [(r["n"], r["id"]) for r in page(names, view(sort="n", dir="desc", per_page="500"))["rows"]]
    assert up == sorted(up) and [n for n, _ in down] == sorted((n for n, _ in up), reverse=True)
    assert [i for n, i in down if n == 3] == sorted(i for n, i in down if n == 3)  # ties by id, ascending


@pytest.mark.parametrize(
    "text, found",
    [
        ("%", ["50%_off"]),
        ("_", ["50%_off"]),
        ("50%_", ["50%_off"]),
        ("'", ["o'brien"]),
        ("\\", ["back\\slash"]),
        ("ZOË", ["Zoë"]),
        ("USER12", ["user120"]),
        ("zoë", ["Zoë"]),
        ("ZO", ["Zoë", "zoe"]),
        ("nobody", []),
    ],
)
def test_search_takes_odd_characters_literally(names, text, found):
    where, params = search_sql(["name"], text)
    got = page(names, view(q=text), where, params)
    assert sorted(r["name"] for r in got["rows"]) == sorted(found)
