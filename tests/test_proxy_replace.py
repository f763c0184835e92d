"""`igctl proxy replace OLD NEW` and `igctl proxy rebalance --from OLD`: every account moves off a
proxy keeping its state, model and bot binding, each move logged; the 3-account cap and the
one-model-per-proxy rule hold; refusals are one line, exit 1, and change nothing."""

from __future__ import annotations

import json

import pytest

from igctl.engine.domain import proxies


# -- arranging state directly in the database -------------------------------------------------
def add_proxies(igctl, n, location=None, max_accounts=None):
    for _ in range(n):
        add_proxies.counter += 1
        args = ["proxy", "add", f"192.0.2.{add_proxies.counter}:8080"]
        if location:
            args += ["--location", location]
        if max_accounts:
            args += ["--max-accounts", str(max_accounts)]
        igctl(*args)


add_proxies.counter = 0


@pytest.fixture(autouse=True)
def _fresh_counter():
    add_proxies.counter = 0


def model(ws, name) -> int:
    db = ws.db()
    with db.write():
        return db.execute(
            "INSERT INTO models (name, slug, created_at, updated_at) VALUES (?, ?, 'x', 'x')", [name, name.lower()]
        ).lastrowid


def bot(ws, name) -> int:
    db = ws.db()
    with db.write():
        return db.execute("INSERT INTO bots (name, token_hash, created_at) VALUES (?, ?, 'x')", [name, name]).lastrowid


def account(ws, name, proxy_id, state="warming_up", model_id=None, bot_id=None, slot=None) -> int:
    db = ws.db()
    with db.write():
        account_id = db.execute(
            "INSERT INTO accounts (username, password_enc, lifecycle_state, proxy_id, model_id, bot_id, slot, "
            "created_at, updated_at) VALUES (?, 'x', ?, ?, ?, ?, ?, 'x', 'x')",
            [name, state, proxy_id, model_id, bot_id, slot],
        ).lastrowid
        if model_id is not None and state != "retired":
            proxies.set_proxy_model(db, proxy_id, model_id)
    return account_id


def where(ws) -> dict:
    return {
        r["username"]: (r["proxy_id"], r["lifecycle_state"], r["model_id"], r["bot_id"], r["slot"])
        for r in ws.db().query("SELECT * FROM accounts ORDER BY id")
    }


def snapshot(ws):
    db = ws.db()
    return (
        [tuple(r) for r in db.query("SELECT * FROM proxies ORDER BY id")],
        [tuple(r) for r in db.query("SELECT * FROM accounts ORDER BY id")],
        db.scalar("SELECT COUNT(*) FROM events"),
    )


def events(ws, kind):
    return [
        dict(r) | {"details": json.loads(r["details_json"] or "null")}
        for r in ws.db().query("SELECT * FROM events WHERE kind = ? ORDER BY id", [kind])
    ]


# -- replace ----------------------------------------------------------------------------------
def test_replace_moves_every_account_keeping_state_model_and_bot(igctl, ws):
    add_proxies(igctl, 2)
    alice, pc1 = model(ws, "Alice"), bot(ws, "pc1")
    account(ws, "a_active", 1, state="active", model_id=alice, bot_id=pc1, slot=1)
    account(ws, "a_ready", 1, state="ready", bot_id=pc1, slot=2)
    account(ws, "a_review", 1, state="human_review")
    account(ws, "a_retired", 1, state="retired")  # holds no slot: stays where it was
    out = igctl.json("proxy", "replace", "1", "2")
    assert out["dry_run"] is False and out["from_proxy_id"] == 1 and out["to_proxy_ids"] == [2]
    assert [(m["username"], m["lifecycle_state"], m["model"], m["to_proxy_id"]) for m in out["moved"]] == [
        ("a_active", "active", "Alice", 2),
        ("a_ready", "ready", None, 2),
        ("a_review", "human_review", None, 2),
    ]
    assert where(ws) == {
        "a_active": (2, "active", alice, pc1, 1),
        "a_ready": (2, "ready", None, pc1, 2),
        "a_review": (2, "human_review", None, None, None),
        "a_retired": (1, "retired", None, None, None),
    }
    assert proxies.get_proxy(ws, 2)["model"] == "Alice" and proxies.get_proxy(ws, 1)["model"] is None
    assert proxies.get_proxy(ws, 1)["account_count"] == 0 and proxies.get_proxy(ws, 2)["account_count"] == 3
    moves = events(ws, "proxy.moved")
    assert [(e["proxy_id"], e["details"]["from_proxy_id"], e["cause"]) for e in moves] == [
        (2, 1, "proxy 1 replaced by proxy 2")
    ] * 3
    assert moves[0]["details"]["bot_id"] == pc1 and moves[0]["details"]["lifecycle_state"] == "active"
    assert not events(ws, "account.state")  # no state changed
    [summary] = events(ws, "proxy.replaced")
    assert summary["details"]["accounts"] == ["a_active", "a_ready", "a_review"]
    assert events(ws, "command")[-1]["message"] == "proxy replace"


def test_replace_human_output(igctl, ws):
    add_proxies(igctl, 2)
    account(ws, "a1", 1)
    assert igctl("proxy", "replace", "1", "2").stdout.splitlines() == [
        "  a1: proxy 1 → proxy 2 (warming_up)",
        "1 account moved off proxy 1.",
    ]


def test_replace_dry_run_changes_nothing(igctl, ws):
    add_proxies(igctl, 2)
    account(ws, "a1", 1)
    account(ws, "a2", 1)
    before = snapshot(ws)
    out = igctl.json("proxy", "replace", "1", "2", "--dry-run")
    assert out["dry_run"] is True and [m["username"] for m in out["moved"]] == ["a1", "a2"]
    assert igctl("proxy", "replace", "1", "2", "--dry-run").stdout.splitlines()[-1] == (
        "2 accounts would move off proxy 1 (dry run: nothing changed)."
    )
    assert snapshot(ws) == before


def test_replace_onto_a_proxy_that_just_has_room(igctl, ws):
    add_proxies(igctl, 2)
    account(ws, "a1", 1)
    account(ws, "a2", 1)
    account(ws, "b1", 2)  # 1 of 3: room for exactly 2
    igctl("proxy", "replace", "1", "2")
    assert proxies.get_proxy(ws, 2)["account_count"] == 3


def test_replace_of_a_proxy_without_accounts_moves_nothing(igctl, ws):
    add_proxies(igctl, 2)
    assert igctl("proxy", "replace", "1", "2").stdout.strip() == "Proxy 1 has no accounts; nothing to replace."
    assert igctl.json("proxy", "replace", "1", "2")["moved"] == []
    assert events(ws, "proxy.replaced") == []


def _refused(igctl, ws, *args) -> str:
    before = snapshot(ws)
    message = igctl.error(*args)
    assert snapshot(ws) == before
    return message


def test_replace_refusals_change_nothing(igctl, ws):
    add_proxies(igctl, 6)
    igctl("proxy", "add", "192.0.2.99:8080", "--max-accounts", "2")  # 7: holds 2
    alice, bella = model(ws, "Alice"), model(ws, "Bella")
    account(ws, "a1", 1, state="active", model_id=alice)
    account(ws, "a2", 1)
    account(ws, "full1", 2)
    account(ws, "full2", 2)  # proxy 2: 2 of 3, room for 1 — one short
    account(ws, "b1", 3, state="active", model_id=bella)  # proxy 3 serves Bella
    proxies.set_status(ws, 4, "inactive", actor="test")
    proxies.set_status(ws, 5, "error", actor="test")
    account(ws, "x", 7)  # proxy 7: 1 of 2, room for 1
    for args, message in [
        (("1", "1"), "Error: cannot replace proxy 1 with itself"),
        (("9", "2"), "Error: no proxy with id 9"),
        (("1", "9"), "Error: no proxy with id 9"),
        (("1", "2"), "Error: proxy 2 has room for 1 more account (2 of 3); proxy 1 has 2 accounts"),
        (("1", "7"), "Error: proxy 7 has room for 1 more account (1 of 2); proxy 1 has 2 accounts"),
        (("1", "3"), "Error: proxy 3 serves model Bella"),
        (("1", "4"), "Error: proxy 4 is inactive; only active proxies get accounts"),
        (("1", "5"), "Error: proxy 5 is error; only active proxies get accounts"),
    ]:
        assert _refused(igctl, ws, "proxy", "replace", *args) == message, args
        assert _refused(igctl, ws, "proxy", "replace", *args, "--dry-run") == message, args


def test_replace_onto_a_proxy_of_the_same_model_is_allowed(igctl, ws):
    add_proxies(igctl, 2)
    alice = model(ws, "Alice")
    account(ws, "a1", 1, state="active", model_id=alice)
    account(ws, "a2", 2, state="active", model_id=alice)
    igctl("proxy", "replace", "1", "2")
    assert where(ws)["a1"][0] == 2 and proxies.get_proxy(ws, 2)["model"] == "Alice"


def test_replace_a_full_proxy_onto_an_empty_one(igctl, ws):
    add_proxies(igctl, 2)
    for name in ("a1", "a2", "a3"):
        account(ws, name, 1)
    igctl("proxy", "replace", "1", "2")
    assert proxies.get_proxy(ws, 2)["account_count"] == 3


# -- rebalance ---------------------------------------------------------------------------------
def test_rebalance_packs_by_model_and_prefers_the_same_location(igctl, ws):
    add_proxies(igctl, 4, location="DE")  # 1 (the old one), 2, 3, 4
    add_proxies(igctl, 1, location="US")  # 5
    alice, bella, pc1 = model(ws, "Alice"), model(ws, "Bella"), bot(ws, "pc1")
    account(ws, "a1", 1, state="active", model_id=alice, bot_id=pc1, slot=3)
    account(ws, "a2", 1, state="active", model_id=alice)
    account(ws, "free", 1, state="ready")
    account(ws, "b1", 2, state="active", model_id=bella)  # proxy 2 serves Bella, 1 account
    account(ws, "x1", 4, state="active", model_id=alice)
    account(ws, "x2", 4, state="ready")  # proxy 4 serves Alice, 2 accounts: room for 1
    out = igctl.json("proxy", "rebalance", "--from", "1")
    moved = {m["username"]: m["to_proxy_id"] for m in out["moved"]}
    # a1 → 4 (Alice's, fullest); a2 → 3 (4 is full, 2 is Bella's, 3 is in DE like proxy 1, 5 is not);
    # free (no model) → 2 (1 account, as many as 3 now, and the lower id)
    assert moved == {"a1": 4, "a2": 3, "free": 2}
    assert out["to_proxy_ids"] == [2, 3, 4]
    assert where(ws)["a1"] == (4, "active", alice, pc1, 3) and where(ws)["free"][1] == "ready"
    assert proxies.get_proxy(ws, 3)["model"] == "Alice" and proxies.get_proxy(ws, 1)["model"] is None
    assert len(events(ws, "proxy.moved")) == 3 and len(events(ws, "proxy.rebalanced")) == 1
    assert {r["account_count"] for r in proxies.list_proxies(ws)} <= {0, 1, 2, 3}


def test_rebalance_location_restricts_the_proxies(igctl, ws):
    add_proxies(igctl, 2, location="DE")
    add_proxies(igctl, 1, location="US")
    account(ws, "a1", 1)
    out = igctl.json("proxy", "rebalance", "--from", "1", "--location", "us")
    assert [m["to_proxy_id"] for m in out["moved"]] == [3]


def test_rebalance_uses_another_location_when_its_own_is_full(igctl, ws):
    add_proxies(igctl, 1, location="DE")
    add_proxies(igctl, 1, location="US")
    account(ws, "a1", 1)
    assert [m["to_proxy_id"] for m in igctl.json("proxy", "rebalance", "--from", "1")["moved"]] == [2]


def test_rebalance_with_just_enough_room(igctl, ws):
    add_proxies(igctl, 3)
    for name in ("a1", "a2", "a3"):
        account(ws, name, 1)
    account(ws, "b1", 2)
    account(ws, "b2", 2)
    account(ws, "c1", 3)  # room: 1 on proxy 2, 2 on proxy 3 — exactly 3
    out = igctl.json("proxy", "rebalance", "--from", "1")
    assert [m["to_proxy_id"] for m in out["moved"]] == [2, 3, 3]


def test_rebalance_refuses_when_one_account_has_no_place_and_moves_nothing(igctl, ws):
    add_proxies(igctl, 3)
    alice, bella = model(ws, "Alice"), model(ws, "Bella")
    account(ws, "a1", 1, state="active", model_id=alice)
    account(ws, "a2", 1)
    account(ws, "b1", 2, state="active", model_id=bella)  # 2 serves Bella
    for name in ("c1", "c2"):
        account(ws, name, 3)  # 3 has room for one
    # one short: a2 could go to 2 or 3, a1 only to 3
    igctl("proxy", "set-status", "2", "inactive")
    message = _refused(igctl, ws, "proxy", "rebalance", "--from", "1")
    assert message == (
        "Error: no room for 1 account of proxy 1 (a2) on active proxies that may serve their model; nothing moved"
    )
    assert _refused(igctl, ws, "proxy", "rebalance", "--from", "1", "--dry-run") == message
    assert _refused(igctl, ws, "proxy", "rebalance", "--from", "1", "--location", "DE") == (
        "Error: no room for 2 accounts of proxy 1 (a1, a2) on active proxies in DE that may serve their model; "
        "nothing moved"
    )


def test_rebalance_never_puts_a_model_account_on_another_models_proxy(igctl, ws):
    add_proxies(igctl, 2)
    alice, bella = model(ws, "Alice"), model(ws, "Bella")
    account(ws, "a1", 1, state="active", model_id=alice)
    account(ws, "b1", 2, state="active", model_id=bella)
    assert _refused(igctl, ws, "proxy", "rebalance", "--from", "1") == (
        "Error: no room for 1 account of proxy 1 (a1) on active proxies that may serve their model; nothing moved"
    )


def test_rebalance_dry_run_and_bad_input(igctl, ws):
    add_proxies(igctl, 2)
    account(ws, "a1", 1)
    before = snapshot(ws)
    out = igctl.json("proxy", "rebalance", "--from", "1", "--dry-run")
    assert out["dry_run"] is True and out["moved"][0]["to_proxy_id"] == 2
    assert snapshot(ws) == before
    assert _refused(igctl, ws, "proxy", "rebalance", "--from", "9") == "Error: no proxy with id 9"
    assert igctl("proxy", "rebalance", expect=2).exit_code == 2  # --from is required (click's usage error)
    assert snapshot(ws) == before
