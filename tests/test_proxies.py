"""igctl.engine.domain.proxies: spec parsing, storage, the 3-account cap, packing, one model per proxy,
statuses, removal, file import; and lifecycle.move_many / EventLog.record_many that it uses."""

from __future__ import annotations

import json

import pytest

from igctl.engine.domain import lifecycle, proxies
from igctl.engine.store.errors import Conflict, IllegalTransition, InvalidInput, NotFound

ACTOR = "user:test"


# -- helpers: arrange state directly in the database -----------------------------------------
def make_accounts(ws, names, state="imported", **fields):
    """Accounts in creation order (each a second older than the next)."""
    db = ws.db()
    ids = []
    with db.write():
        for i, name in enumerate(names):
            created = f"2026-03-01T{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}.000Z"
            cols = {
                "username": name,
                "password_enc": "x",
                "lifecycle_state": state,
                "created_at": created,
                "updated_at": created,
                **fields,
            }
            cur = db.execute(
                f"INSERT INTO accounts ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", list(cols.values())
            )
            ids.append(cur.lastrowid)
    return ids


def make_model(ws, name):
    db = ws.db()
    with db.write():
        return db.execute(
            "INSERT INTO models (name, slug, created_at, updated_at) VALUES (?, ?, 'x', 'x')", [name, name.lower()]
        ).lastrowid


def add_proxies(ws, n, start=1, **kw):
    return [proxies.add(ws, f"192.0.2.{start + i}:8080", actor=ACTOR, **kw)["id"] for i in range(n)]


def sql(ws, query, params=()):
    db = ws.db()
    with db.write():
        db.execute(query, params)


def proxy_of(ws, username):
    return ws.db().scalar("SELECT proxy_id FROM accounts WHERE username = ?", [username])


def state_of(ws, username):
    return ws.db().scalar("SELECT lifecycle_state FROM accounts WHERE username = ?", [username])


def kinds(ws):
    return [r["kind"] for r in ws.db().query("SELECT kind FROM events ORDER BY id")]


# -- parse_spec: accepted -------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, scheme, host, port, user, password",
    [
        ("192.0.2.1:8080", "http", "192.0.2.1", 8080, None, None),
        ("192.0.2.1:8080:alice:pw", "http", "192.0.2.1", 8080, "alice", "pw"),
        ("alice:pw@192.0.2.1:8080", "http", "192.0.2.1", 8080, "alice", "pw"),
        ("http://alice:pw@192.0.2.1:8080", "http", "192.0.2.1", 8080, "alice", "pw"),
        ("https://alice:pw@192.0.2.1:443", "https", "192.0.2.1", 443, "alice", "pw"),
        ("socks5://alice:pw@192.0.2.1:1080", "socks5", "192.0.2.1", 1080, "alice", "pw"),
        ("SOCKS5H://alice:pw@192.0.2.1:1080", "socks5h", "192.0.2.1", 1080, "alice", "pw"),
        ("http://192.0.2.1:8080", "http", "192.0.2.1", 8080, None, None),
        ("socks5://192.0.2.1:1080/", "socks5", "192.0.2.1", 1080, None, None),
        ("Gate.Proxy.EXAMPLE:10001", "http", "gate.proxy.example", 10001, None, None),
        ("gate.proxy.example:10001:Alice:PW", "http", "gate.proxy.example", 10001, "Alice", "PW"),
        ("  192.0.2.1:8080  ", "http", "192.0.2.1", 8080, None, None),
        # IPv6 in brackets, in every form; stored lower-case and compressed, without brackets
        ("[2001:db8::1]:8080", "http", "2001:db8::1", 8080, None, None),
        ("[2001:DB8:0:0:0:0:0:1]:8080:alice:pw", "http", "2001:db8::1", 8080, "alice", "pw"),
        ("alice:pw@[2001:db8::1]:8080", "http", "2001:db8::1", 8080, "alice", "pw"),
        ("socks5://alice:pw@[2001:db8::1]:1080", "socks5", "2001:db8::1", 1080, "alice", "pw"),
        ("http://[2001:db8::1]:8080", "http", "2001:db8::1", 8080, None, None),
        # passwords keep every character but whitespace: ':' in the colon form, '@' and ':' in URLs
        ("192.0.2.1:8080:alice:pa:ss", "http", "192.0.2.1", 8080, "alice", "pa:ss"),
        ("alice:p@ss:w@192.0.2.1:8080", "http", "192.0.2.1", 8080, "alice", "p@ss:w"),
        # port boundaries, just inside
        ("192.0.2.1:1", "http", "192.0.2.1", 1, None, None),
        ("192.0.2.1:65535", "http", "192.0.2.1", 65535, None, None),
    ],
)
def test_parse_spec_accepts(text, scheme, host, port, user, password):
    spec = proxies.parse_spec(text)
    assert (spec.scheme, spec.host, spec.port, spec.username, spec.password) == (scheme, host, port, user, password)


def test_spec_repr_and_label_never_show_the_password():
    spec = proxies.parse_spec("socks5://alice:hunter2@[2001:db8::1]:1080")
    assert "hunter2" not in repr(spec) and "hunter2" not in spec.label
    assert spec.label == "alice@[2001:db8::1]:1080"


# -- parse_spec: rejected, each with its reason ---------------------------------------------
@pytest.mark.parametrize(
    "text, reason",
    [
        ("", "empty proxy spec"),
        ("   ", "empty proxy spec"),
        ("192.0.2.1", "missing port"),
        ("192.0.2.1:", "missing port"),
        ("[2001:db8::1]", "missing port"),
        ("alice:pw@192.0.2.1", "missing port"),
        ("192.0.2.1:0", "port 0 is out of range"),
        ("192.0.2.1:65536", "port 65536 is out of range"),
        ("192.0.2.1:70000", "port 70000 is out of range"),
        ("192.0.2.1:abc", "port 'abc' is not a number"),
        ("192.0.2.1:-1", "port '-1' is not a number"),
        ("192.0.2.1:８０", "is not a number"),
        (":8080", "empty host"),
        ("alice:pw@:8080", "empty host"),
        ("http://:8080", "empty host"),
        ("[]:8080", "empty host"),
        ("192.0.2.1 :8080", "may not contain spaces"),
        ("192.0.2.1:8080:alice:pass word", "may not contain spaces"),
        ("192.0.2.1:8080:alice:p\x07w", "control characters"),
        ("2001:db8::1:8080", "IPv6 address must be in brackets"),
        ("2001:db8:0:0:0:0:0:1:8080:alice:pw", "IPv6 address must be in brackets"),
        ("alice:pw@2001:db8::1:8080", "IPv6 address must be in brackets"),
        ("http://2001:db8::1:8080", "IPv6 address must be in brackets"),
        ("[2001:db8::1:8080", "without a closing ']'"),
        ("[192.0.2.1]:8080", "is not an IPv6 address"),
        ("[fe80::1%eth0]:8080", "zone id"),
        ("[2001:db8::1]8080", "expected ':' and a port after ']'"),
        ("192.0.2.1]:8080", "brackets are only allowed"),
        ("999.0.2.1:8080", "not a valid IPv4 address"),
        ("192.0.2:8080", "not a valid IPv4 address"),
        ("ho$t.example:8080", "not a valid host name"),
        ("-host.example:8080", "not a valid host name"),
        ("192.0.2.1:8080:alice", "3 fields given"),
        ("192.0.2.1:8080::pw", "empty proxy username"),
        ("192.0.2.1:8080:alice:", "empty proxy password"),
        (":pw@192.0.2.1:8080", "empty proxy username"),
        ("alice:@192.0.2.1:8080", "empty proxy password"),
        ("alice@192.0.2.1:8080", "must be user:pass"),
        ("ftp://192.0.2.1:21", "unknown scheme 'ftp'"),
        ("://192.0.2.1:8080", "empty scheme"),
        ("http://192.0.2.1:8080/path", "path, query or fragment"),
        ("http://192.0.2.1:8080:alice:pw", "too many ':'"),
        ("192.0.2.1:8080:alice:p@ss", "missing port"),
    ],
)
def test_parse_spec_refuses(text, reason):
    with pytest.raises(InvalidInput) as err:
        proxies.parse_spec(text)
    assert reason in err.value.message


# -- add ------------------------------------------------------------------------------------
def test_add_stores_an_encrypted_password_and_an_event_without_it(ws):
    row = proxies.add(
        ws, "socks5://alice:hunter2@[2001:db8::1]:1080", provider="acme", location="DE", cost=4.5, actor=ACTOR
    )
    assert row["id"] == 1 and row["scheme"] == "socks5" and row["host"] == "2001:db8::1"
    assert row["monthly_cost"] == 4.5 and row["max_accounts"] == 3 and row["account_count"] == 0
    assert "password" not in row and "password_enc" not in row
    stored = ws.db().one("SELECT password_enc FROM proxies WHERE id = 1")["password_enc"]
    assert "hunter2" not in stored and ws.cipher.decrypt(stored) == "hunter2"
    event = ws.db().one("SELECT * FROM events WHERE kind = 'proxy.added'")
    assert event["proxy_id"] == 1 and event["actor"] == ACTOR
    assert "hunter2" not in json.dumps(dict(event))
    assert json.loads(event["details_json"])["username"] == "alice"


def test_a_proxy_without_credentials_has_no_password(ws):
    proxies.add(ws, "192.0.2.1:8080", actor=ACTOR)
    row = ws.db().one("SELECT username, password_enc FROM proxies")
    assert row["username"] == "" and row["password_enc"] is None
    assert proxies.get_proxy(ws, 1)["username"] is None


@pytest.mark.parametrize(
    "second",
    ["alice:other@192.0.2.1:8080", "socks5://alice:x@192.0.2.1:8080", "192.0.2.1:8080:alice:pw"],
)
def test_same_host_port_and_username_is_a_duplicate(ws, second):
    proxies.add(ws, "192.0.2.1:8080:alice:pw", actor=ACTOR)
    with pytest.raises(Conflict, match=r"alice@192.0.2.1:8080 is already stored \(id 1\)"):
        proxies.add(ws, second, actor=ACTOR)
    assert ws.db().scalar("SELECT COUNT(*) FROM proxies") == 1


def test_host_case_and_ipv6_spelling_do_not_make_a_new_proxy(ws):
    proxies.add(ws, "Gate.Example:80", actor=ACTOR)
    with pytest.raises(Conflict):
        proxies.add(ws, "gate.example:80", actor=ACTOR)
    proxies.add(ws, "[2001:db8::1]:80", actor=ACTOR)
    with pytest.raises(Conflict):
        proxies.add(ws, "[2001:0DB8:0:0::1]:80", actor=ACTOR)


def test_other_username_or_port_is_another_proxy(ws):
    proxies.add(ws, "192.0.2.1:8080:alice:pw", actor=ACTOR)
    proxies.add(ws, "192.0.2.1:8080:bob:pw", actor=ACTOR)
    proxies.add(ws, "192.0.2.1:8081:alice:pw", actor=ACTOR)
    proxies.add(ws, "192.0.2.1:8080", actor=ACTOR)
    assert ws.db().scalar("SELECT COUNT(*) FROM proxies") == 4


@pytest.mark.parametrize("n", [1, 2, 3])
def test_max_accounts_one_to_three(ws, n):
    assert proxies.add(ws, "192.0.2.1:8080", max_accounts=n, actor=ACTOR)["max_accounts"] == n


@pytest.mark.parametrize("n", [0, 4, -1, 100])
def test_max_accounts_outside_one_to_three_is_refused(ws, n):
    with pytest.raises(InvalidInput, match="max accounts must be 1, 2 or 3"):
        proxies.add(ws, "192.0.2.1:8080", max_accounts=n, actor=ACTOR)
    assert ws.db().scalar("SELECT COUNT(*) FROM proxies") == 0


def test_max_accounts_defaults_to_the_setting(ws):
    ws.config.proxies.default_max_accounts = 2
    assert proxies.add(ws, "192.0.2.1:8080", actor=ACTOR)["max_accounts"] == 2


@pytest.mark.parametrize("cost", [-0.01, float("nan"), float("inf"), "abc"])
def test_bad_cost_is_refused(ws, cost):
    with pytest.raises(InvalidInput, match="cost"):
        proxies.add(ws, "192.0.2.1:8080", cost=cost, actor=ACTOR)


def test_zero_cost_is_allowed(ws):
    assert proxies.add(ws, "192.0.2.1:8080", cost=0, actor=ACTOR)["monthly_cost"] == 0


def test_get_proxy_unknown_id(ws):
    with pytest.raises(NotFound, match="no proxy with id 7"):
        proxies.get_proxy(ws, 7)


# -- the cap --------------------------------------------------------------------------------
def test_three_accounts_fit_the_fourth_does_not(ws):
    add_proxies(ws, 1)
    make_accounts(ws, ["a1", "a2", "a3", "a4"])
    for name in ("a1", "a2", "a3"):
        proxies.assign(ws, name, 1, actor=ACTOR)
    assert proxies.get_proxy(ws, 1)["account_count"] == 3
    with pytest.raises(Conflict, match=r"proxy 1 is full \(3 of 3 accounts\)"):
        proxies.assign(ws, "a4", 1, actor=ACTOR)
    assert proxy_of(ws, "a4") is None and state_of(ws, "a4") == "imported"


def test_a_smaller_max_accounts_is_its_cap(ws):
    add_proxies(ws, 1, max_accounts=2)
    make_accounts(ws, ["a1", "a2", "a3"])
    proxies.assign(ws, "a1", 1, actor=ACTOR)
    proxies.assign(ws, "a2", 1, actor=ACTOR)
    with pytest.raises(Conflict, match="full"):
        proxies.assign(ws, "a3", 1, actor=ACTOR)
    assert proxies.auto_assign(ws, actor=ACTOR) == {"assigned": 0, "accounts": [], "left_without_proxy": 1}


def test_a_retired_account_frees_its_slot(ws):
    add_proxies(ws, 1)
    make_accounts(ws, ["a1", "a2", "a3", "a4"])
    for name in ("a1", "a2", "a3"):
        proxies.assign(ws, name, 1, actor=ACTOR)
    sql(ws, "UPDATE accounts SET lifecycle_state = 'retired' WHERE username = 'a1'")
    assert proxies.get_proxy(ws, 1)["account_count"] == 2
    proxies.assign(ws, "a4", 1, actor=ACTOR)
    assert proxy_of(ws, "a4") == 1


# -- manual assignment ----------------------------------------------------------------------
def test_assign_moves_an_imported_account_to_proxy_assigned_with_events(ws):
    add_proxies(ws, 1)
    (account_id,) = make_accounts(ws, ["alice"])
    result = proxies.assign(ws, "ALICE", 1, actor=ACTOR)
    assert result == {"username": "alice", "proxy_id": 1, "from_proxy_id": None, "lifecycle_state": "proxy_assigned"}
    row = ws.db().one("SELECT * FROM accounts WHERE id = ?", [account_id])
    assert row["lifecycle_state"] == "proxy_assigned" and row["proxy_id"] == 1
    assert row["proxy_assigned_at"] == ws.now()
    state = ws.db().one("SELECT * FROM events WHERE kind = 'account.state'")
    assert (state["old_state"], state["new_state"], state["actor"]) == ("imported", "proxy_assigned", ACTOR)
    assigned = ws.db().one("SELECT * FROM events WHERE kind = 'proxy.assigned'")
    assert assigned["account_id"] == account_id and assigned["proxy_id"] == 1


def test_assign_without_proxy_id_picks_like_auto_assign(ws):
    add_proxies(ws, 3)
    make_accounts(ws, ["a1", "a2", "x"])
    proxies.assign(ws, "a1", 2, actor=ACTOR)
    proxies.assign(ws, "a2", 3, actor=ACTOR)
    proxies.assign(ws, "a2", 2, actor=ACTOR)  # proxy 2 now holds 2
    assert proxies.assign(ws, "x", actor=ACTOR)["proxy_id"] == 2


def test_assign_without_proxy_id_when_nothing_has_room(ws):
    add_proxies(ws, 1, max_accounts=1)
    make_accounts(ws, ["a1", "a2"])
    proxies.assign(ws, "a1", actor=ACTOR)
    with pytest.raises(Conflict, match="no active proxy has room"):
        proxies.assign(ws, "a2", actor=ACTOR)


def test_assign_an_account_in_a_later_state_keeps_its_state(ws):
    add_proxies(ws, 2)
    make_accounts(ws, ["r"], state="ready")
    proxies.assign(ws, "r", 1, actor=ACTOR)
    result = proxies.assign(ws, "r", 2, actor=ACTOR)
    assert result["from_proxy_id"] == 1 and result["lifecycle_state"] == "ready"
    assert state_of(ws, "r") == "ready" and proxy_of(ws, "r") == 2
    assert "account.state" not in kinds(ws)
    assert [p["account_count"] for p in proxies.list_proxies(ws)] == [0, 1]


def test_assign_refusals(ws):
    add_proxies(ws, 2)
    make_accounts(ws, ["a", "b"])
    make_accounts(ws, ["gone"], state="retired")
    with pytest.raises(NotFound, match="no account named nobody"):
        proxies.assign(ws, "nobody", 1, actor=ACTOR)
    with pytest.raises(NotFound, match="no proxy with id 9"):
        proxies.assign(ws, "a", 9, actor=ACTOR)
    with pytest.raises(IllegalTransition, match="retired"):
        proxies.assign(ws, "gone", 1, actor=ACTOR)
    proxies.assign(ws, "a", 1, actor=ACTOR)
    with pytest.raises(Conflict, match="already uses proxy 1"):
        proxies.assign(ws, "a", 1, actor=ACTOR)
    with pytest.raises(Conflict, match="already uses proxy 1; name the proxy"):
        proxies.assign(ws, "a", actor=ACTOR)
    for status in ("inactive", "error"):
        proxies.set_status(ws, 2, status, actor=ACTOR)
        with pytest.raises(Conflict, match=f"proxy 2 is {status}"):
            proxies.assign(ws, "b", 2, actor=ACTOR)
    assert proxy_of(ws, "b") is None


# -- auto-assignment ------------------------------------------------------------------------
def test_auto_assign_packs_fullest_first_ties_by_lowest_id(ws):
    add_proxies(ws, 3)
    make_accounts(ws, [f"a{i}" for i in range(7)])
    result = proxies.auto_assign(ws, actor=ACTOR)
    assert result["assigned"] == 7 and result["left_without_proxy"] == 0
    assert result["accounts"] == [f"a{i}" for i in range(7)]
    assert [proxy_of(ws, f"a{i}") for i in range(7)] == [1, 1, 1, 2, 2, 2, 3]
    assert {state_of(ws, f"a{i}") for i in range(7)} == {"proxy_assigned"}


def test_auto_assign_fills_the_proxy_with_the_most_accounts_first(ws):
    add_proxies(ws, 4)
    make_accounts(ws, ["p2", "p3a", "p3b"], state="ready")
    proxies.assign(ws, "p2", 2, actor=ACTOR)
    proxies.assign(ws, "p3a", 3, actor=ACTOR)
    proxies.assign(ws, "p3b", 3, actor=ACTOR)  # counts: 1→0, 2→1, 3→2, 4→0
    make_accounts(ws, ["n1", "n2", "n3", "n4", "n5", "n6"])
    proxies.auto_assign(ws, actor=ACTOR)
    assert [proxy_of(ws, f"n{i}") for i in range(1, 7)] == [3, 2, 2, 1, 1, 1]


def test_auto_assign_gives_the_oldest_accounts_the_free_slots(ws):
    add_proxies(ws, 1, max_accounts=2)
    make_accounts(ws, ["old", "middle", "new"])
    result = proxies.auto_assign(ws, actor=ACTOR)
    assert result == {"assigned": 2, "accounts": ["old", "middle"], "left_without_proxy": 1}
    assert state_of(ws, "new") == "imported" and proxy_of(ws, "new") is None


def test_auto_assign_only_takes_imported_accounts_without_a_proxy(ws):
    add_proxies(ws, 2)
    make_accounts(ws, ["ready1"], state="ready")
    make_accounts(ws, ["gone"], state="retired")
    assert proxies.auto_assign(ws, actor=ACTOR) == {"assigned": 0, "accounts": [], "left_without_proxy": 0}
    assert proxy_of(ws, "ready1") is None and proxy_of(ws, "gone") is None


def test_auto_assign_restricted_to_usernames(ws):
    add_proxies(ws, 1)
    make_accounts(ws, ["a", "b", "c"])
    result = proxies.auto_assign(ws, actor=ACTOR, usernames=["C", "a"])
    assert result == {"assigned": 2, "accounts": ["a", "c"], "left_without_proxy": 0}
    assert proxy_of(ws, "b") is None


def test_auto_assign_location_restricts(ws):
    add_proxies(ws, 1, start=1, location="DE")
    add_proxies(ws, 1, start=2, location="US")
    add_proxies(ws, 1, start=3)
    make_accounts(ws, ["a", "b", "c", "d"])
    result = proxies.auto_assign(ws, location="us", actor=ACTOR)
    assert result == {"assigned": 3, "accounts": ["a", "b", "c"], "left_without_proxy": 1}
    assert {proxy_of(ws, n) for n in "abc"} == {2} and proxy_of(ws, "d") is None
    assert proxies.auto_assign(ws, location="FR", actor=ACTOR)["assigned"] == 0


def test_inactive_and_error_proxies_get_no_accounts(ws):
    add_proxies(ws, 3)
    proxies.set_status(ws, 1, "inactive", actor=ACTOR)
    proxies.set_status(ws, 2, "error", actor=ACTOR)
    make_accounts(ws, [f"a{i}" for i in range(5)])
    result = proxies.auto_assign(ws, actor=ACTOR)
    assert result["assigned"] == 3 and result["left_without_proxy"] == 2
    assert {proxy_of(ws, f"a{i}") for i in range(3)} == {3}
    assert proxies.list_proxies(ws, free=True) == []


def test_auto_assign_writes_a_state_event_per_account_and_mirrors_them(ws, ws_path):
    add_proxies(ws, 2)
    make_accounts(ws, [f"a{i}" for i in range(4)])
    proxies.auto_assign(ws, actor="tick")
    rows = ws.db().query("SELECT * FROM events WHERE kind = 'account.state' ORDER BY id")
    assert len(rows) == 4
    assert {(r["old_state"], r["new_state"], r["actor"], r["cause"]) for r in rows} == {
        ("imported", "proxy_assigned", "tick", "proxy auto-assigned")
    }
    assert [json.loads(r["details_json"])["proxy_id"] for r in rows] == [1, 1, 1, 2]
    mirrored = [
        json.loads(line) for f in sorted((ws_path / "logs").glob("*.jsonl")) for line in f.read_text().splitlines()
    ]
    by_id = {e["id"]: e for e in mirrored}
    for r in rows:
        assert by_id[r["id"]]["kind"] == "account.state" and by_id[r["id"]]["account_id"] == r["account_id"]
    assert "proxy.auto_assigned" in kinds(ws)


def test_auto_assign_joins_the_callers_transaction(ws):
    add_proxies(ws, 1)
    make_accounts(ws, ["a"])
    db = ws.db()
    with pytest.raises(RuntimeError), db.write():
        proxies.auto_assign(ws, actor=ACTOR)
        raise RuntimeError("the caller fails after")
    assert proxy_of(ws, "a") is None and state_of(ws, "a") == "imported"


def test_auto_assign_packs_a_larger_fleet_exactly(ws):
    """Every proxy filled to its cap in id order, whatever the mix of caps."""
    db = ws.db()
    caps = [(i % 3) + 1 for i in range(300)]
    with db.write():
        db.conn.executemany(
            "INSERT INTO proxies (host, port, max_accounts, created_at, updated_at) VALUES (?, 8080, ?, 'x', 'x')",
            [(f"10.0.{i // 256}.{i % 256}", cap) for i, cap in enumerate(caps)],
        )
    make_accounts(ws, [f"u{i}" for i in range(700)])
    result = proxies.auto_assign(ws, actor=ACTOR)
    assert result["assigned"] == sum(caps) == 600 and result["left_without_proxy"] == 100
    expected = [pid for pid, cap in enumerate(caps, start=1) for _ in range(cap)]
    got = [r["proxy_id"] for r in db.query("SELECT proxy_id FROM accounts ORDER BY created_at, id")][:600]
    assert got == expected


@pytest.mark.stress
def test_auto_assign_100k_accounts_on_35k_proxies(ws):
    import time

    db = ws.db()
    with db.write():
        db.conn.executemany(
            "INSERT INTO proxies (host, port, created_at, updated_at) VALUES (?, 8080, 'x', 'x')",
            [(f"10.{i // 65536}.{i // 256 % 256}.{i % 256}",) for i in range(35_000)],
        )
        db.conn.executemany(
            "INSERT INTO accounts (username, password_enc, created_at, updated_at) VALUES (?, 'x', 'x', 'x')",
            [(f"u{i}",) for i in range(100_000)],
        )
    started = time.perf_counter()
    result = proxies.auto_assign(ws, actor=ACTOR)
    assert time.perf_counter() - started < 60
    assert result["assigned"] == 100_000
    assert db.scalar("SELECT max(n) FROM (SELECT COUNT(*) n FROM accounts GROUP BY proxy_id)") == 3
    assert db.scalar("SELECT COUNT(*) FROM events WHERE kind = 'account.state'") == 100_000


# -- one model per proxy --------------------------------------------------------------------
def test_an_account_of_model_a_cannot_go_to_a_proxy_of_model_b(ws):
    a, b = make_model(ws, "Alice"), make_model(ws, "Bella")
    add_proxies(ws, 2)
    sql(ws, "UPDATE proxies SET assigned_model_id = ? WHERE id = 1", [b])
    make_accounts(ws, ["acc"], state="active", model_id=a)
    with pytest.raises(Conflict, match="proxy 1 serves model Bella"):
        proxies.assign(ws, "acc", 1, actor=ACTOR)
    proxies.assign(ws, "acc", 2, actor=ACTOR)
    assert proxies.get_proxy(ws, 2)["model"] == "Alice"
    assert "proxy.model" in kinds(ws)


def test_check_model_also_sees_accounts_of_another_model(ws):
    a, b = make_model(ws, "Alice"), make_model(ws, "Bella")
    add_proxies(ws, 1)
    make_accounts(ws, ["acc"], state="active", model_id=b, proxy_id=1)
    db = ws.db()
    proxies.check_model(db, 1, b)
    with pytest.raises(Conflict, match="proxy 1 serves model Bella"):
        proxies.check_model(db, 1, a)
    with pytest.raises(NotFound):
        proxies.check_model(db, 5, a)


def test_set_proxy_model_and_refresh(ws):
    a, b = make_model(ws, "Alice"), make_model(ws, "Bella")
    add_proxies(ws, 1)
    make_accounts(ws, ["x", "y"], state="active", proxy_id=1)
    db = ws.db()
    with db.write():
        sql(ws, "UPDATE accounts SET model_id = ?", [a])
        proxies.set_proxy_model(db, 1, a, events=ws.events, at=ws.now(), actor=ACTOR)
    assert proxies.list_proxies(ws, model="alice")[0]["id"] == 1
    with pytest.raises(Conflict, match="serves model Alice"), db.write():
        proxies.set_proxy_model(db, 1, b)
    with db.write():
        db.execute("UPDATE accounts SET model_id = NULL WHERE username = 'x'")
        assert proxies.refresh_proxy_model(db, 1) == a  # y is still in Alice
        db.execute("UPDATE accounts SET model_id = NULL WHERE username = 'y'")
        assert proxies.refresh_proxy_model(db, 1, events=ws.events, at=ws.now(), actor=ACTOR) is None
        assert proxies.refresh_proxy_model(db, None) is None
    assert proxies.get_proxy(ws, 1)["model"] is None
    changes = ws.db().query("SELECT details_json FROM events WHERE kind = 'proxy.model' ORDER BY id")
    assert [json.loads(c["details_json"]) for c in changes] == [
        {"old_model": None, "new_model": "Alice"},
        {"old_model": "Alice", "new_model": None},
    ]


def test_an_account_without_a_model_may_share_a_model_proxy(ws):
    a = make_model(ws, "Alice")
    add_proxies(ws, 1)
    make_accounts(ws, ["in_model"], state="active", model_id=a)
    proxies.assign(ws, "in_model", 1, actor=ACTOR)
    make_accounts(ws, ["new"])
    assert proxies.auto_assign(ws, actor=ACTOR)["assigned"] == 1
    assert proxy_of(ws, "new") == 1 and proxies.get_proxy(ws, 1)["model"] == "Alice"


def test_auto_assign_puts_an_account_with_a_model_only_where_its_model_fits(ws):
    a, b = make_model(ws, "Alice"), make_model(ws, "Bella")
    add_proxies(ws, 3)
    sql(ws, "UPDATE proxies SET assigned_model_id = ? WHERE id = 1", [b])
    make_accounts(ws, ["m"], model_id=a)
    result = proxies.auto_assign(ws, actor=ACTOR)
    assert result["assigned"] == 1 and proxy_of(ws, "m") == 2
    assert proxies.get_proxy(ws, 2)["model"] == "Alice"


def test_unassign_clears_the_proxy_model_when_its_last_model_account_leaves(ws):
    a = make_model(ws, "Alice")
    add_proxies(ws, 1)
    make_accounts(ws, ["m"], state="active", model_id=a)
    proxies.assign(ws, "m", 1, actor=ACTOR)
    proxies.unassign(ws, "m", actor=ACTOR)
    assert proxies.get_proxy(ws, 1)["model"] is None


# -- unassign -------------------------------------------------------------------------------
def test_unassign_a_proxy_assigned_account_goes_back_to_imported(ws):
    add_proxies(ws, 1)
    make_accounts(ws, ["a"])
    proxies.assign(ws, "a", 1, actor=ACTOR)
    assert proxies.unassign(ws, "a", actor=ACTOR) == {"username": "a", "proxy_id": 1, "lifecycle_state": "imported"}
    row = ws.db().one("SELECT * FROM accounts WHERE username = 'a'")
    assert row["lifecycle_state"] == "imported" and row["proxy_id"] is None and row["proxy_assigned_at"] is None
    assert kinds(ws)[-2:] == ["account.state", "proxy.unassigned"]


def test_unassign_a_warming_account_keeps_its_state(ws):
    add_proxies(ws, 1)
    make_accounts(ws, ["w"], state="warming_up", proxy_id=1)
    assert proxies.unassign(ws, "w", actor=ACTOR)["lifecycle_state"] == "warming_up"
    assert state_of(ws, "w") == "warming_up" and proxy_of(ws, "w") is None


def test_unassign_refusals(ws):
    add_proxies(ws, 1)
    make_accounts(ws, ["free"])
    make_accounts(ws, ["gone"], state="retired", proxy_id=1)
    with pytest.raises(Conflict, match="account free has no proxy"):
        proxies.unassign(ws, "free", actor=ACTOR)
    with pytest.raises(IllegalTransition, match="retired"):
        proxies.unassign(ws, "gone", actor=ACTOR)
    with pytest.raises(NotFound, match="no account named nobody"):
        proxies.unassign(ws, "nobody", actor=ACTOR)


# -- status and removal ---------------------------------------------------------------------
def test_set_status_records_old_and_new(ws):
    add_proxies(ws, 1)
    result = proxies.set_status(ws, 1, "error", actor="bot:pc1", cause="proxy_error reported for 2 accounts")
    assert result["status"] == "error" and result["changed"] and result["old_status"] == "active"
    event = ws.db().one("SELECT * FROM events WHERE kind = 'proxy.status'")
    assert (event["old_state"], event["new_state"], event["actor"]) == ("active", "error", "bot:pc1")
    assert event["cause"] == "proxy_error reported for 2 accounts" and event["proxy_id"] == 1
    assert json.loads(event["details_json"]) == {"old_status": "active", "new_status": "error"}


def test_set_status_to_the_same_status_records_nothing(ws):
    add_proxies(ws, 1)
    before = kinds(ws)
    assert proxies.set_status(ws, 1, "active", actor=ACTOR)["changed"] is False
    assert kinds(ws) == before


def test_set_status_refusals(ws):
    add_proxies(ws, 1)
    with pytest.raises(InvalidInput, match="unknown proxy status 'broken'"):
        proxies.set_status(ws, 1, "broken", actor=ACTOR)
    with pytest.raises(NotFound, match="no proxy with id 2"):
        proxies.set_status(ws, 2, "error", actor=ACTOR)


def test_remove_refuses_while_accounts_use_it(ws):
    add_proxies(ws, 1)
    make_accounts(ws, ["a", "b"], state="ready", proxy_id=1)
    with pytest.raises(Conflict, match="proxy 1 is used by 2 accounts"):
        proxies.remove(ws, 1, actor=ACTOR)
    sql(ws, "UPDATE accounts SET proxy_id = NULL WHERE username = 'b'")
    with pytest.raises(Conflict, match="proxy 1 is used by 1 account;"):
        proxies.remove(ws, 1, actor=ACTOR)
    assert ws.db().scalar("SELECT COUNT(*) FROM proxies") == 1


def test_remove_a_proxy_only_retired_accounts_used(ws):
    add_proxies(ws, 2)
    make_accounts(ws, ["gone"], state="retired", proxy_id=1)
    sql(ws, "INSERT INTO content (content_type, text_content, created_at, updated_at) VALUES ('bio', 'hi', 'x', 'x')")
    sql(ws, "INSERT INTO content_usage (content_id, account_id, proxy_id, used_at) VALUES (1, 1, 1, 'x')")
    removed = proxies.remove(ws, 1, actor=ACTOR)
    assert removed["id"] == 1
    assert [p["id"] for p in proxies.list_proxies(ws)] == [2]
    assert proxy_of(ws, "gone") is None
    assert ws.db().scalar("SELECT proxy_id FROM content_usage") is None
    assert kinds(ws)[-1] == "proxy.removed"
    with pytest.raises(NotFound, match="no proxy with id 1"):
        proxies.remove(ws, 1, actor=ACTOR)


# -- listing --------------------------------------------------------------------------------
def test_list_filters(ws):
    a = make_model(ws, "Alice")
    add_proxies(ws, 1, start=1, location="DE")
    add_proxies(ws, 1, start=2, location="de", max_accounts=1)
    add_proxies(ws, 1, start=3, location="US")
    make_accounts(ws, ["x"], state="active", model_id=a)
    proxies.assign(ws, "x", 2, actor=ACTOR)  # proxy 2 now full and serving Alice
    proxies.set_status(ws, 3, "inactive", actor=ACTOR)
    ids = lambda **kw: [p["id"] for p in proxies.list_proxies(ws, **kw)]  # noqa: E731
    assert ids() == [1, 2, 3]
    assert ids(free=True) == [1]
    assert ids(location="DE") == [1, 2]
    assert ids(status="inactive") == [3]
    assert ids(model="Alice") == [2]
    with pytest.raises(NotFound, match="no model named Nobody"):
        proxies.list_proxies(ws, model="Nobody")
    with pytest.raises(InvalidInput):
        proxies.list_proxies(ws, status="gone")


# -- import ---------------------------------------------------------------------------------
def test_import_file_reports_lines_and_stores_the_good_ones(ws, write):
    proxies.add(ws, "198.51.100.9:3128:carol:pw", actor=ACTOR)
    path = write(
        "proxies.txt",
        "\ufeff# our proxies\r\n"
        "192.0.2.1:8080\r\n"
        "\r\n"
        "alice:pw1@192.0.2.2:8080\r\n"
        "192.0.2.3\r\n"
        "socks5://bob:pw2@[2001:db8::1]:1080\r\n"
        "   # indented comment\r\n"
        "192.0.2.1:8080\r\n"
        "198.51.100.9:3128:carol:other\r\n"
        "192.0.2.4:0\n"
        "192.0.2.5:8080:dave:pw3",
    )
    result = proxies.import_file(ws, path, provider="acme", location="DE", cost=2, actor=ACTOR)
    assert result == {
        "imported": 4,
        "duplicates": [
            {"line": 8, "proxy": "192.0.2.1:8080", "reason": "repeats line 2"},
            {"line": 9, "proxy": "carol@198.51.100.9:3128", "reason": "already stored as proxy 1"},
        ],
        "invalid": [
            {"line": 5, "reason": "missing port (expected host:port)"},
            {"line": 10, "reason": "port 0 is out of range (1–65535)"},
        ],
        "file": str(path),
    }
    rows = proxies.list_proxies(ws, location="de")
    assert [(r["host"], r["username"], r["provider"], r["monthly_cost"]) for r in rows] == [
        ("192.0.2.1", None, "acme", 2.0),
        ("192.0.2.2", "alice", "acme", 2.0),
        ("2001:db8::1", "bob", "acme", 2.0),
        ("192.0.2.5", "dave", "acme", 2.0),
    ]
    db = ws.db()
    assert ws.cipher.decrypt(db.scalar("SELECT password_enc FROM proxies WHERE username = 'dave'")) == "pw3"
    event = db.one("SELECT * FROM events WHERE kind = 'proxy.imported'")
    assert json.loads(event["details_json"])["imported"] == 4


def test_import_file_refuses_overlong_lines(ws, write):
    ws.config.import_.max_line_chars = 80
    path = write("p.txt", "192.0.2.1:8080:" + "u" * 40 + ":" + "p" * 40 + "\n192.0.2.2:8080\n")
    result = proxies.import_file(ws, path, actor=ACTOR)
    assert result["imported"] == 1 and result["invalid"] == [{"line": 1, "reason": "line longer than 80 characters"}]


def test_import_file_is_one_transaction(ws, write):
    path = write("p.txt", "192.0.2.1:8080\n192.0.2.2:8080\n")
    db = ws.db()
    with pytest.raises(RuntimeError), db.write():
        proxies.import_file(ws, path, actor=ACTOR)
        raise RuntimeError("crash after the file")
    assert db.scalar("SELECT COUNT(*) FROM proxies") == 0


@pytest.mark.parametrize(
    "content, message",
    [
        (b"192.0.2.1:8080\n\x00\x01\x02", "is not a text file"),
        (b"192.0.2.1:8080\n\xff\xfe bad", "is not UTF-8 text (bad byte at offset 15)"),
    ],
)
def test_import_file_refuses_files_that_are_not_text(ws, write, content, message):
    path = write("p.bin", content)
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        proxies.import_file(ws, path, actor=ACTOR)
    assert ws.db().scalar("SELECT COUNT(*) FROM proxies") == 0


def test_import_file_refuses_missing_folder_and_too_big(ws, write, tmp_path):
    with pytest.raises(InvalidInput, match="no such file"):
        proxies.import_file(ws, tmp_path / "nope.txt", actor=ACTOR)
    with pytest.raises(InvalidInput, match="is not a file"):
        proxies.import_file(ws, tmp_path, actor=ACTOR)
    ws.config.import_.max_file_mb = 100 / (1024 * 1024)  # 100 bytes (MB means MiB, as for accounts files)
    just_in = write("in.txt", "192.0.2.1:8080\n".ljust(100, "#"))
    assert proxies.import_file(ws, just_in, actor=ACTOR)["imported"] == 1
    just_out = write("out.txt", "192.0.2.2:8080\n".ljust(101, "#"))
    with pytest.raises(InvalidInput, match="over the limit"):
        proxies.import_file(ws, just_out, actor=ACTOR)


# -- lifecycle.move_many ----------------------------------------------------------------------
def test_move_many_refuses_the_whole_batch_on_one_illegal_transition(ws):
    make_accounts(ws, ["a", "b"])
    make_accounts(ws, ["r"], state="ready")
    db = ws.db()
    rows = db.query("SELECT id, username, lifecycle_state FROM accounts ORDER BY id")
    with pytest.raises(IllegalTransition, match="account r is ready; it cannot become proxy_assigned"), db.write():
        lifecycle.move_many(
            db, ws.events, [lifecycle.Move(r) for r in rows], "proxy_assigned", at=ws.now(), actor=ACTOR, cause="test"
        )
    assert {state_of(ws, n) for n in ("a", "b")} == {"imported"}
    assert "account.state" not in kinds(ws)


def test_move_many_fails_when_an_account_changed_meanwhile(ws):
    make_accounts(ws, ["a", "b"])
    db = ws.db()
    rows = db.query("SELECT id, username, lifecycle_state FROM accounts ORDER BY id")
    sql(ws, "UPDATE accounts SET lifecycle_state = 'retired' WHERE username = 'b'")
    with pytest.raises(IllegalTransition, match="changed state meanwhile"), db.write():
        lifecycle.move_many(
            db, ws.events, [lifecycle.Move(r) for r in rows], "proxy_assigned", at=ws.now(), actor=ACTOR, cause="test"
        )
    assert state_of(ws, "a") == "imported"


def test_move_many_with_nothing_to_do(ws):
    db = ws.db()
    with db.write():
        assert lifecycle.move_many(db, ws.events, [], "ready", at=ws.now(), actor=ACTOR, cause="x") == 0
