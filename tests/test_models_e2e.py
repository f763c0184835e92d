"""Issue 5's scenario end to end: a model created and filled with content, 10 accounts assigned
by --count with a location filter, onboarding and a calendar week of scheduled work done by
bots (engine calls standing in for them) while the clock moves, a reassignment through cleanup
to a second model, an unassign, and the model deleted with every account back to ready and its
proxies released. The one-model-per-proxy rule is checked after every step."""

from __future__ import annotations

from datetime import timedelta

from warmup_helpers import IMAGE_BYTES, add_accounts, add_bot, by_name, seed_templates

from igctl.engine.domain import proxies
from igctl.engine.flows import botwork, models, tick
from igctl.engine.store.clock import from_db, parse_instant, to_db

STRATEGY = """\
display_name: Alice
onboarding: [change_pfp, change_bio]
schedule:
  post: {per_week: 3}
  story: {per_day: 1}
  highlight: {per_week: 0}
active_hours: "10:00-22:00"
locations: [DE]
"""


def check_one_model_per_proxy(ws) -> None:
    db = ws.db()
    for p in db.query("SELECT id, assigned_model_id FROM proxies"):
        models = {
            r["model_id"]
            for r in db.query(
                "SELECT DISTINCT model_id FROM accounts WHERE proxy_id = ? AND model_id IS NOT NULL AND lifecycle_state != 'retired'",
                [p["id"]],
            )
        }
        assert len(models) <= 1, (p["id"], models)
        assert p["assigned_model_id"] == (next(iter(models)) if models else None), (
            p["id"],
            p["assigned_model_id"],
            models,
        )
        count = db.scalar(
            "SELECT COUNT(*) FROM accounts WHERE proxy_id = ? AND lifecycle_state != 'retired'", [p["id"]]
        )
        assert count <= 3


def drain(ws, bot_id: int) -> list[dict]:
    """A bot working until nothing is due: claim, complete."""
    done = []
    while True:
        task = botwork.claim_next(ws, bot_id)
        if task is None:
            return done
        botwork.complete(ws, task["task_id"], bot_id, execution_time_ms=1200)
        done.append(task)


def fill_content(ws_path) -> None:
    folder = ws_path / "content" / "alice"
    for kind in ("pfp", "post", "story"):
        for i in range(4):
            (folder / kind / f"{i}_{kind}.jpg").write_bytes(IMAGE_BYTES + f"alice-{kind}-{i}".encode())
    (folder / "texts.yaml").write_text("bio: [Alice here, Hi from Alice]\npost: [Sunny day]\nstory: [Coffee]\n")


def test_model_lifecycle_scenario(igctl, ws_path, ws, clock, write):
    seed_templates(ws)  # cleanup resets draw from content/_templates
    de = [proxies.add(ws, f"10.2.0.{i}:8080:u{i}:p{i}", location="DE", actor="test")["id"] for i in range(1, 5)]
    us = [proxies.add(ws, f"10.3.0.{i}:8080:u{i}:p{i}", location="US", actor="test")["id"] for i in range(1, 4)]
    done_at = {"warmup_started_at": "2026-02-20T10:00:00.000Z", "warmup_completed_at": "2026-02-25T10:00:00.000Z"}
    add_accounts(ws, 12, state="ready", proxy_ids=de, prefix="de", **done_at)
    add_accounts(ws, 9, state="ready", proxy_ids=us, prefix="us", **done_at)
    bot = add_bot(ws, "pc1")
    check_one_model_per_proxy(ws)

    # a model, its content (Sunday morning)
    clock.set("2026-03-01T08:00:00")
    igctl("model", "create", "Alice", "--strategy", write("alice.yaml", STRATEGY))
    fill_content(ws_path)
    igctl("content", "sync", "Alice")
    assert igctl.json("model", "list")[0]["content"] == {"bio": 2, "post": 5, "pfp": 4, "story": 5}

    # 10 accounts by --count with a location filter
    out = igctl.json("model", "assign", "Alice", "--count", "10", "--location", "DE")
    assert len(out["assigned"]) == 10 and out["skipped"] == []
    assert all(u.startswith("de") for u in out["assigned"])
    alice = out["assigned"]
    check_one_model_per_proxy(ws)
    assert {p["model"] for p in igctl.json("proxy", "list") if p["id"] in de} == {"Alice"}

    # onboarding: change_pfp then change_bio, one after another, with the model's content
    work = drain(ws, bot)
    assert [(t["kind"], t["step_name"]) for t in work].count(("onboarding", "change_pfp")) == 10
    assert [(t["kind"], t["step_name"]) for t in work].count(("onboarding", "change_bio")) == 10
    assert all(
        i["path"].startswith("alice/pfp/")
        for t in work
        if t["step_name"] == "change_pfp"
        for i in t["content"]["images"]
    )
    assert all(
        t["content"]["texts"]["bio"]["text"] in ("Alice here", "Hi from Alice")
        for t in work
        if t["step_name"] == "change_bio"
    )
    assert all(by_name(ws, u)["onboarded_at"] for u in alice)
    overview = igctl.json("model", "show", "Alice")
    assert {r["phase"] for r in overview} == {"active"} and len(overview) == 10
    check_one_model_per_proxy(ws)

    # a calendar week of scheduled work, ticks every hour (one through the CLI), bots draining
    t = parse_instant("2026-03-01T09:00:00")
    end = parse_instant("2026-03-09T00:30:00")
    while t <= end:
        clock.set(to_db(t))
        if t.hour == 12:
            igctl("warmup", "tick", "--json")
        else:
            tick.tick(ws)
        drain(ws, bot)
        t += timedelta(hours=1)
    check_one_model_per_proxy(ws)
    monday, next_monday = "2026-03-02T00:00:00.000Z", "2026-03-09T00:00:00.000Z"
    db = ws.db()
    for username in alice:
        account = by_name(ws, username)
        counts = {
            r["kind"]: r["n"]
            for r in db.query(
                "SELECT kind, COUNT(*) AS n FROM tasks WHERE account_id = ? AND status = 'completed' AND due_at >= ? AND due_at < ? GROUP BY kind",
                [account["id"], monday, next_monday],
            )
        }
        assert counts == {"post": 3, "story": 7}, (username, counts)
        for row in db.query(
            "SELECT due_at, stale_at FROM tasks WHERE account_id = ? AND kind IN ('post', 'story')", [account["id"]]
        ):
            assert 10 <= from_db(row["due_at"]).hour < 22
            assert from_db(row["stale_at"]) - from_db(row["due_at"]) == timedelta(hours=6)
    # idempotent: another tick at the same instant adds nothing
    assert tick.tick(ws)["slots_queued"] == 0
    dashboard = igctl.json("model", "list")[0]
    assert dashboard["active"] == 10 and dashboard["tasks_done_7d"] >= 100

    # no flood after a pause: two days without ticks, then only slots within grace come in
    clock.set("2026-03-11T12:00:00")
    result = tick.tick(ws)
    assert result["slots_skipped"] > 0
    queued = db.query("SELECT due_at FROM tasks WHERE status = 'queued' AND kind IN ('post', 'story')")
    assert all(from_db(r["due_at"]) > parse_instant("2026-03-11T06:00:00") for r in queued)
    drain(ws, bot)

    # a reassignment to a second model through cleanup: first refused (no proxy with room), then done
    igctl("model", "create", "Bella")
    (ws_path / "content" / "bella" / "pfp" / "b.jpg").write_bytes(IMAGE_BYTES + b"bella")
    (ws_path / "content" / "bella" / "texts.yaml").write_text("bio: [Bella]\n")
    igctl("model", "sync", "Bella")
    mover = alice[0]
    out = igctl.json("model", "assign", "Bella", mover, "--reassign")
    assert (
        out["reassigning"] == []
        and "no other active proxy with room may serve model Bella" in out["skipped"][0]["reason"]
    )
    assert by_name(ws, mover)["lifecycle_state"] == "active"
    fresh = proxies.add(ws, "10.4.0.1:8080:u:p", location="DE", actor="test")["id"]
    out = igctl.json("model", "assign", "Bella", mover, "--reassign")
    assert out["reassigning"] == [mover]
    assert by_name(ws, mover)["lifecycle_state"] == "cleanup"
    check_one_model_per_proxy(ws)
    work = drain(ws, bot)
    assert [(t["kind"], t["step_name"]) for t in work if t["account"]["username"] == mover][:3] == [
        ("cleanup", "reset_pfp"),
        ("cleanup", "reset_bio"),
        ("cleanup", "delete_posts"),
    ]
    account = by_name(ws, mover)
    assert account["lifecycle_state"] == "active" and account["proxy_id"] == fresh
    assert db.scalar("SELECT name FROM models WHERE id = ?", [account["model_id"]]) == "Bella"
    assert account["onboarded_at"] is not None  # Bella's onboarding ran too
    check_one_model_per_proxy(ws)

    # unassign one account: cleanup, then ready without a model
    igctl("model", "unassign", "Alice", alice[1])
    check_one_model_per_proxy(ws)
    drain(ws, bot)
    assert by_name(ws, alice[1])["lifecycle_state"] == "ready" and by_name(ws, alice[1])["model_id"] is None
    check_one_model_per_proxy(ws)

    # delete Alice: every account back to ready, its proxies released, history kept
    out = igctl.json("model", "delete", "Alice", "--yes")
    assert sorted(out["cleanup"]) == sorted(alice[2:])
    check_one_model_per_proxy(ws)
    assert (
        db.scalar(
            "SELECT COUNT(*) FROM tasks WHERE status = 'queued' AND kind IN ('post', 'story')"
            " AND model_id = (SELECT id FROM models WHERE name = 'Alice')"
        )
        == 0
    )
    clock.set("2026-03-11T13:00:00")
    drain(ws, bot)
    tick.tick(ws)
    check_one_model_per_proxy(ws)
    assert {by_name(ws, u)["lifecycle_state"] for u in alice[1:]} == {"ready"}
    assert (
        db.scalar("SELECT COUNT(*) FROM proxies WHERE assigned_model_id = (SELECT id FROM models WHERE name = 'Alice')")
        == 0
    )
    assert [m["name"] for m in igctl.json("model", "list")] == ["Bella"]
    kinds = {r["kind"] for r in db.query("SELECT DISTINCT kind FROM events")}
    assert {
        "model.created",
        "model.assigned",
        "model.onboarded",
        "model.reassign",
        "model.deleted",
        "proxy.model",
    } <= kinds


def test_strategy_change_replans_queued_slots(igctl, ws_path, ws, clock, write):
    clock.set("2026-03-02T08:00:00")
    igctl(
        "model", "create", "Alice", "--strategy", write("s.yaml", "onboarding: []\nschedule:\n  story: {per_day: 1}\n")
    )
    p = proxies.add(ws, "10.5.0.1:8080", actor="test")["id"]
    add_accounts(ws, 1, state="ready", proxy_ids=[p], prefix="a")
    igctl("model", "assign", "Alice", "a00001")
    assert igctl.json("warmup", "tick")["slots_queued"] in (1, 2)
    (ws_path / "models" / "alice.yaml").write_text("onboarding: []\nschedule:\n  story: {per_day: 4}\n")
    igctl("model", "sync", "Alice")
    db = ws.db()
    assert db.scalar("SELECT COUNT(*) FROM tasks WHERE kind = 'story' AND status = 'queued'") == 0
    tick.tick(ws)
    queued = db.query("SELECT due_at FROM tasks WHERE kind = 'story' AND status = 'queued' ORDER BY due_at")
    assert len(queued) >= 4  # four a day, within the next 24 hours
    horizon = parse_instant("2026-03-03T08:00:00")
    assert all(from_db(r["due_at"]) <= horizon for r in queued)


def test_tick_with_nothing_due_reads_no_account(igctl, ws_path, ws, clock):
    """The scheduling step looks only at accounts whose next slot is within the horizon."""
    clock.set("2026-03-02T08:00:00")
    igctl("model", "create", "Alice")
    (ws_path / "models" / "alice.yaml").write_text("onboarding: []\nschedule:\n  post: {per_week: 1}\n")
    p = proxies.add(ws, "10.6.0.1:8080", actor="test")["id"]
    add_accounts(ws, 3, state="ready", proxy_ids=[p], prefix="a")
    igctl("model", "assign", "Alice", "--count", "3")
    first = tick.tick(ws)
    again = tick.tick(ws)
    assert again["slots_queued"] == 0 and not tick.did_something(again)
    nexts = [r["next_slot_at"] for r in ws.db().query("SELECT next_slot_at FROM accounts")]
    assert all(n is not None and n > to_db(parse_instant("2026-03-03T08:00:00")) for n in nexts), (first, nexts)
    plan = ws.db().query("EXPLAIN QUERY PLAN " + models.DUE_ACCOUNTS_SQL, ["2026-03-03T08:00:00.000Z"])
    assert any("accounts_next_slot" in r["detail"] for r in plan)


def test_bot_side_over_http(igctl, ws_path, ws, clock):
    """A model's onboarding, a scheduled story and the metrics the model pages show, over the
    real bot API (cheroot on 127.0.0.1, a free port)."""
    from botserver_helpers import LiveServer

    clock.set("2026-03-02T09:00:00")
    igctl("model", "create", "Alice")
    folder = ws_path / "content" / "alice"
    (folder / "pfp" / "me.jpg").write_bytes(IMAGE_BYTES)
    (folder / "story" / "s.jpg").write_bytes(IMAGE_BYTES + b"story")
    (folder / "texts.yaml").write_text("bio: [Alice]\n")
    (ws_path / "models" / "alice.yaml").write_text("schedule:\n  story: {per_day: 1}\nactive_hours: '10:00-11:00'\n")
    igctl("model", "sync", "Alice")
    p = proxies.add(ws, "10.7.0.1:8080:u:p", actor="test")["id"]
    add_accounts(ws, 1, state="ready", proxy_ids=[p], prefix="a")
    igctl("model", "assign", "Alice", "a00001")
    token = igctl.json("bot", "add", "pc1")["token"]
    bot_id = ws.db().scalar("SELECT id FROM bots WHERE name = 'pc1'")
    server = LiveServer(ws_path)
    try:
        seen = []
        for _ in range(2):
            status, _h, task = server.call("GET", f"/api/bot/next-task/{bot_id}", token=token)
            assert status == 200
            seen.append((task["kind"], task["step_name"]))
            status, _h, _b = server.call(
                "POST", "/api/bot/step-complete", token=token, body={"task_id": task["task_id"], "bot_id": bot_id}
            )
            assert status == 200
        assert seen == [("onboarding", "change_pfp"), ("onboarding", "change_bio")]
        assert server.call("GET", f"/api/bot/next-task/{bot_id}", token=token)[0] == 204
        clock.set("2026-03-02T10:30:00")
        igctl("warmup", "tick")
        clock.set("2026-03-02T11:00:00")
        status, _h, task = server.call("GET", f"/api/bot/next-task/{bot_id}", token=token)
        assert status == 200 and (task["kind"], task["step_name"]) == ("story", "story")
        assert task["content"]["images"][0]["content_id"]
        account_id = task["account"]["id"]
        for when, followers in (("2026-02-20T10:00:00", 100), ("2026-03-02T11:00:00", 130)):
            clock.set(when)
            status, _h, _b = server.call(
                "POST",
                f"/api/bot/account/{account_id}/metrics",
                token=token,
                body={"followers": followers, "following": 10, "posts": 3},
            )
            assert status in (200, 201)
    finally:
        server.stop()
    row = igctl.json("model", "show", "Alice")[0]
    assert row["followers"] == 130 and row["followers_change_7d"] == 30
    assert igctl.json("model", "list")[0]["followers_total"] == 130
