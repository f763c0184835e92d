"""Models through the CLI: create, strategy files and sync, list, assign rules, unassign,
delete, the views, and every kind of bad input (one-line error, exit 1, nothing changed)."""

from __future__ import annotations

import json

import pytest
from warmup_helpers import IMAGE_BYTES, add_accounts, add_bot, by_name, seed_model_content, seed_templates, snapshot

from igctl.engine.domain import proxies
from igctl.engine.flows import botwork

STRATEGY = """\
display_name: Alice A.
templates: false
onboarding: [change_pfp, change_bio]
schedule:
  post: {per_week: 3}
  story: {per_day: 1}
active_hours: "10:00-22:00"
locations: [DE]
"""


def full_snapshot(ws, ws_path):
    snap = snapshot(ws)
    snap["models"] = [tuple(r) for r in ws.db().query("SELECT * FROM models ORDER BY id")]
    snap["content"] = [tuple(r) for r in ws.db().query("SELECT * FROM content ORDER BY id")]
    snap["files"] = sorted(
        str(p.relative_to(ws_path))
        for p in ws_path.rglob("*")
        if "logs" not in p.parts and p.suffix not in (".db", ".db-wal", ".db-shm") and not p.name.startswith("igctl.db")
    )
    return snap


def proxy(ws, n: int, location: str | None = "DE") -> int:
    return proxies.add(ws, f"10.1.0.{n}:8080:u{n}:p{n}", location=location, actor="test")["id"]


def ready_on(ws, proxy_id: int, n: int, prefix: str, start: int = 1) -> list[int]:
    return add_accounts(
        ws,
        n,
        state="ready",
        proxy_ids=[proxy_id],
        per_proxy=n,
        prefix=prefix,
        start=start,
        warmup_started_at="2026-02-20T10:00:00.000Z",
        warmup_completed_at="2026-02-25T10:00:00.000Z",
    )


# -- create -------------------------------------------------------------------------------------
def test_create_writes_strategy_and_content_folders(igctl, ws_path, ws):
    out = igctl.json("model", "create", "Alice Summer")
    assert out["name"] == "Alice Summer" and out["slug"] == "alice-summer"
    text = (ws_path / "models" / "alice-summer.yaml").read_text()
    assert text.startswith("# Strategy of model Alice Summer") and "# schedule:" in text
    folder = ws_path / "content" / "alice-summer"
    assert sorted(p.name for p in folder.iterdir()) == ["any", "highlight", "pfp", "post", "story", "texts.yaml"]
    rows = igctl.json("model", "list")
    assert [r["name"] for r in rows] == ["Alice Summer"]
    assert rows[0]["schedule"] == {} and rows[0]["templates"] is False
    # the commented example gives every default of product.md §3
    strategy = json.loads(ws.db().scalar("SELECT strategy_json FROM models"))
    assert strategy["onboarding"] == ["change_pfp", "change_bio"] and strategy["locations"] == []
    assert strategy["active_hours"] is None
    assert ws.db().scalar("SELECT COUNT(*) FROM events WHERE kind = 'model.created'") == 1


def test_create_with_strategy_file_and_slug_collisions(igctl, ws_path, write):
    igctl("model", "create", "Alice", "--strategy", write("s.yaml", STRATEGY))
    assert (ws_path / "models" / "alice.yaml").read_text() == STRATEGY
    row = igctl.json("model", "list")[0]
    assert row["display_name"] == "Alice A." and row["schedule"] == {"post": {"per_week": 3}, "story": {"per_day": 1}}
    # a name with the same slug gets its own; the example file in models/ is never overwritten
    assert igctl.json("model", "create", "alice!")["slug"] == "alice-2"
    assert igctl.json("model", "create", "Example")["slug"] == "example-2"
    assert "Every key is optional" in (ws_path / "models" / "example.yaml").read_text()


@pytest.mark.parametrize(
    "args, message",
    [
        (["Alice"], "a model named Alice exists already"),
        (["alice"], "a model named Alice exists already"),
        (["_templates"], "_templates is the templates' pool"),
        ([" "], "a model needs a name"),
        (["x" * 61], "at most 60 characters"),
        (["Bob", "--strategy", "missing.yaml"], "no such file"),
    ],
)
def test_create_bad_input_changes_nothing(igctl, ws_path, ws, args, message):
    igctl("model", "create", "Alice")
    before = full_snapshot(ws, ws_path)
    assert message in igctl.error("model", "create", *args)
    assert full_snapshot(ws, ws_path) == before


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "schedule:\n  post: {per_week: -1}\n",
            "schedule.post.per_week (line 2): Input should be greater than or equal to 0",
        ),
        ("templates: false\nfrequency: 3\n", "frequency (line 2): unknown setting"),
        ("schedule:\n  reel: {per_day: 1}\n", "schedule.reel (line 2): unknown setting"),
        ("schedule:\n  post: {per_day: 1, per_week: 2}\n", "exactly one of per_day or per_week"),
        ("active_hours: 22:00-10:00\n", "active_hours (line 1)"),
        ("onboarding: [Change PFP]\n", "onboarding (line 1)"),
        ("schedule: [\n", "not valid YAML"),
        ("- a\n- b\n", "expected a mapping"),
    ],
)
def test_strategy_errors_name_key_and_line(igctl, ws_path, ws, write, text, message):
    before = full_snapshot(ws, ws_path)
    error = igctl.error("model", "create", "Bob", "--strategy", write("bad.yaml", text))
    assert message in error and error.startswith("Error: bad.yaml")
    assert full_snapshot(ws, ws_path) == before


def test_sync_applies_an_edited_strategy_and_refuses_an_invalid_one(igctl, ws_path, ws):
    igctl("model", "create", "Alice")
    path = ws_path / "models" / "alice.yaml"
    path.write_text(STRATEGY)
    out = igctl.json("model", "sync", "Alice")
    assert out["strategy_changed"] is True and out["strategy"]["locations"] == ["DE"]
    assert igctl.json("model", "sync", "alice")["strategy_changed"] is False
    assert ws.db().scalar("SELECT display_name FROM models") == "Alice A."
    path.write_text(STRATEGY + "colour: blue\n")
    before = full_snapshot(ws, ws_path)
    assert "models/alice.yaml: colour (line 9): unknown setting" in igctl.error("model", "sync", "Alice")
    assert "colour (line 9)" in igctl.error("model", "show", "Alice")
    assert full_snapshot(ws, ws_path) == before
    # tick keeps the stored strategy in force and says why; review lists it
    result = igctl.json("warmup", "tick")
    assert result["strategy_errors"][0]["model"] == "Alice"
    assert any(i["kind"] == "strategy_invalid" for i in igctl.json("review", "list"))
    path.unlink()
    assert "models/alice.yaml not found" in igctl.error("model", "sync", "Alice")


def test_unknown_model_is_an_error_everywhere(igctl, ws_path, ws):
    before = full_snapshot(ws, ws_path)
    for args in (
        ["sync", "nope"],
        ["show", "nope"],
        ["assign", "nope", "--count", "1"],
        ["unassign", "nope", "x"],
        ["delete", "nope", "--yes"],
    ):
        assert "no model named nope" in igctl.error("model", *args)
    assert full_snapshot(ws, ws_path) == before


# -- content of a model ---------------------------------------------------------------------------
def test_content_add_and_list_for_a_model(igctl, ws_path, ws, write):
    igctl("model", "create", "Alice")
    out = igctl.json("content", "add", "Alice", "pfp", write("10_me.jpg", IMAGE_BYTES))
    assert out["images"][0]["path"] == "alice/pfp/10_me.jpg"
    igctl("content", "add", "Alice", "bio", write("bios.txt", "hello\nworld\n"))
    rows = igctl.json("content", "list", "Alice")
    assert {(r["type"], r["order_priority"]) for r in rows} >= {("pfp", 10), ("bio", 0), ("bio", 1)}
    before = full_snapshot(ws, ws_path)
    assert "not an image" in igctl.error("content", "add", "Alice", "pfp", write("notes.pdf", b"%PDF"))
    assert "takes images only" in igctl.error("content", "add", "Alice", "pfp", write("x.txt", "a\n"))
    assert "no model named Nobody" in igctl.error("content", "add", "Nobody", "pfp", write("y.jpg", IMAGE_BYTES))
    assert "is not a content type" in igctl.error("content", "add", "Alice", "Bad Type", write("z.jpg", IMAGE_BYTES))
    assert full_snapshot(ws, ws_path) == before
    assert igctl.json("model", "list")[0]["content"] == {"bio": 2, "pfp": 1}


# -- assignment rules ------------------------------------------------------------------------------
def test_assign_only_ready_accounts_on_proxies_free_of_other_models(igctl, ws_path, ws, write):
    igctl("model", "create", "Alice", "--strategy", write("s.yaml", STRATEGY))
    igctl("model", "create", "Bella")
    seed_model_content(ws, "Alice", "Bella")
    p_de, p_us, p_shared = proxy(ws, 1, "DE"), proxy(ws, 2, "US"), proxy(ws, 3, "DE")
    ready_on(ws, p_us, 2, "us")
    ready_on(ws, p_de, 2, "de")
    ready_on(ws, p_shared, 2, "sh")
    igctl("model", "assign", "Bella", "sh00001")
    add_accounts(ws, 1, state="warming_up", proxy_ids=[proxy(ws, 4)], prefix="warm")

    # named: a warming_up account is an error and nothing changes
    before = full_snapshot(ws, ws_path)
    assert "only ready accounts can be assigned: warm00001 is warming_up" in igctl.error(
        "model", "assign", "Alice", "de00001", "warm00001"
    )
    assert "no account named ghost" in igctl.error("model", "assign", "Alice", "ghost")
    assert "active in model Bella (it can be reassigned) (--reassign)" in igctl.error(
        "model", "assign", "Alice", "sh00001"
    )
    assert "give a number of accounts or their usernames, not both (--count N, USERNAME…)" in igctl.error(
        "model", "assign", "Alice"
    )
    assert "give a number of accounts or their usernames, not both" in igctl.error(
        "model", "assign", "Alice", "de00001", "--count", "1"
    )
    assert "the number of accounts must be a whole number of at least 1 (--count N)" in igctl.error(
        "model", "assign", "Alice", "--count", "0"
    )
    assert "reassignment works on named accounts: give their usernames (--reassign, USERNAME…)" in igctl.error(
        "model", "assign", "Alice", "--count", "1", "--reassign"
    )
    assert "the maximum of warm-up retries must be a whole number of at least 0 (--max-retries N)" in igctl.error(
        "model", "assign", "Alice", "--count", "1", "--max-retries", "-1"
    )
    assert full_snapshot(ws, ws_path) == before

    # dry run: the answer, nothing kept
    out = igctl.json("model", "assign", "Alice", "--count", "10", "--dry-run")
    assert out["dry_run"] is True and full_snapshot(ws, ws_path) == before
    # preferred location (DE) first; the proxy shared with Bella is skipped with the reason
    assert out["assigned"] == ["de00001", "de00002", "us00001", "us00002"]
    assert out["skipped"] == [{"username": "sh00002", "reason": f"proxy {p_shared} serves model Bella"}]

    out = igctl.json("model", "assign", "Alice", "--count", "3")
    assert out["assigned"] == ["de00001", "de00002", "us00001"]
    assert {by_name(ws, u)["lifecycle_state"] for u in out["assigned"]} == {"active"}
    assert ws.db().scalar("SELECT assigned_model_id FROM proxies WHERE id = ?", [p_de]) == 1
    # --location restricts; fewer eligible than --count: those, exit 0
    out = igctl.json("model", "assign", "Alice", "--count", "5", "--location", "us")
    assert out["assigned"] == ["us00002"] and out["skipped"] == []
    # named: already in the model → skipped with the reason
    out = igctl.json("model", "assign", "Alice", "de00001")
    assert out["assigned"] == [] and out["skipped"][0]["reason"] == "already in model Alice (active)"


def test_assign_filters_max_retries_min_followers_and_max_accounts(igctl, ws_path, ws, write):
    igctl("model", "create", "Alice", "--strategy", write("s.yaml", STRATEGY + "max_accounts: 2\n"))
    seed_model_content(ws, "Alice")
    ids = ready_on(ws, proxy(ws, 1), 3, "a")
    db = ws.db()
    with db.write():
        db.execute(
            "INSERT INTO step_log (account_id, kind, step_number, step_name, started_at, status) VALUES (?, 'warmup', 1, 'change_pfp', ?, 'failed')",
            [ids[0], ws.now()],
        )
        for i, followers in ((ids[1], 150), (ids[2], 99)):
            db.execute(
                "INSERT INTO account_metrics (account_id, at, followers) VALUES (?, ?, ?)", [i, ws.now(), followers]
            )
    out = igctl.json("model", "show", "Alice", "--view", "available", "--max-retries", "0", "--min-followers", "100")
    marks = {r["username"]: r["reason"] for r in out}
    assert marks["a00001"].startswith("1 warm-up retries")
    assert marks["a00002"] is None
    assert marks["a00003"] == "99 followers (fewer than the minimum of 100)"
    out = igctl.json("model", "assign", "Alice", "a00001", "a00002", "a00003", "--max-retries", "0")
    assert out["assigned"] == ["a00002", "a00003"] and out["skipped"][0]["username"] == "a00001"
    ready_on(ws, proxy(ws, 2), 1, "b")
    out = igctl.json("model", "assign", "Alice", "b00001")
    assert out["skipped"] == [{"username": "b00001", "reason": "model Alice is full (max_accounts 2)"}]
    assert igctl.json("model", "assign", "Alice", "--count", "1")["assigned"] == []


# -- unassign / delete -------------------------------------------------------------------------------
def test_unassign_and_delete_bad_input(igctl, ws_path, ws):
    igctl("model", "create", "Alice")
    seed_model_content(ws, "Alice")
    ready_on(ws, proxy(ws, 1), 2, "a")
    igctl("model", "assign", "Alice", "a00001")
    before = full_snapshot(ws, ws_path)
    assert "a00002 (ready, not in Alice)" in igctl.error("model", "unassign", "Alice", "a00001", "a00002")
    assert "no account named zz" in igctl.error("model", "unassign", "Alice", "zz")
    assert "confirm with --yes" in igctl.error("model", "delete", "Alice")
    assert full_snapshot(ws, ws_path) == before
    igctl("model", "unassign", "Alice", "a00001")
    assert by_name(ws, "a00001")["lifecycle_state"] == "cleanup"
    assert "a00001 (cleanup, already leaving)" in igctl.error("model", "unassign", "Alice", "a00001")


def test_delete_archives_keeps_name_taken_and_history(igctl, ws_path, ws):
    igctl("model", "create", "Alice")
    out = igctl.json("model", "delete", "Alice", "--yes")
    assert out["cleanup"] == [] and out["archived_at"]
    assert igctl.json("model", "list") == []
    assert igctl.json("model", "list", "--archived")[0]["archived_at"] == out["archived_at"]
    assert (ws_path / "models" / "alice.yaml").exists() and (ws_path / "content" / "alice").is_dir()
    assert "archived names stay taken" in igctl.error("model", "create", "Alice")
    assert "archived and takes no accounts" in igctl.error("model", "assign", "Alice", "--count", "1")
    assert "archived" in igctl.error("model", "delete", "Alice", "--yes")
    assert igctl.json("model", "show", "Alice") == []


# -- review of model tasks -------------------------------------------------------------------------------
def test_failed_model_tasks_go_to_review_and_come_back(igctl, ws_path, ws, clock):
    seed_templates(ws)
    igctl("model", "create", "Alice")
    path = ws_path / "content" / "alice"
    (path / "pfp" / "me.jpg").write_bytes(IMAGE_BYTES)
    (path / "texts.yaml").write_text("bio: [hi there]\n")
    igctl("model", "sync", "Alice")
    ready_on(ws, proxy(ws, 1), 1, "a")
    bot = add_bot(ws, "pc1")
    igctl("model", "assign", "Alice", "a00001")
    task = botwork.claim_next(ws, bot)
    assert (task["kind"], task["step_name"]) == ("onboarding", "change_pfp")
    assert task["content"]["images"][0]["path"] == "alice/pfp/me.jpg"
    botwork.fail(ws, task["task_id"], bot, error_message="challenge shown", error_kind="challenge")
    assert by_name(ws, "a00001")["lifecycle_state"] == "human_review"
    item = [i for i in igctl.json("model", "show", "Alice", "--view", "attention") if i["kind"] == "human_review"][0]
    assert item["username"] == "a00001" and item["task_kind"] == "onboarding"
    igctl("review", "retry", "a00001")
    assert by_name(ws, "a00001")["lifecycle_state"] == "active"
    task = botwork.claim_next(ws, bot)
    botwork.fail(ws, task["task_id"], bot, error_message="captcha", error_kind="captcha")
    igctl("review", "resolve", "a00001", "--note", "changed by hand")
    # resolved like a completion: the next onboarding step is queued, the account active
    task = botwork.claim_next(ws, bot)
    assert (task["kind"], task["step_name"], task["content"]["texts"]["bio"]["text"]) == (
        "onboarding",
        "change_bio",
        "hi there",
    )
    botwork.complete(ws, task["task_id"], bot)
    assert by_name(ws, "a00001")["onboarded_at"] is not None
    # a cleanup step failing goes to review and back to cleanup
    igctl("model", "unassign", "Alice", "a00001")
    task = botwork.claim_next(ws, bot)
    assert (task["kind"], task["step_name"]) == ("cleanup", "reset_pfp")
    assert task["content"]["images"][0]["path"].startswith("_templates/pfp/")
    botwork.fail(ws, task["task_id"], bot, error_message="login", error_kind="login_failed")
    assert by_name(ws, "a00001")["lifecycle_state"] == "human_review"
    igctl("review", "retry", "a00001")
    assert by_name(ws, "a00001")["lifecycle_state"] == "cleanup"


def test_unassign_records_state_change_before_the_cancelled_tasks(igctl, ws_path, ws):
    # the account's move to cleanup comes before the task.cancelled event of its open tasks
    igctl("model", "create", "Alice")
    seed_model_content(ws, "Alice")
    ready_on(ws, proxy(ws, 1), 1, "a")
    igctl("model", "assign", "Alice", "a00001")  # onboarding step 1 queued
    igctl("model", "unassign", "Alice", "a00001")
    kinds = [
        r["kind"]
        for r in ws.db().query(
            "SELECT kind FROM events WHERE cause = 'cleanup' OR message LIKE '%unassigned%' ORDER BY id"
        )
    ]
    cancelled = kinds.index("task.cancelled")
    assert any(k.startswith("account.") for k in kinds[:cancelled]), kinds
    moved = ws.db().one("SELECT details_json FROM events WHERE kind = 'account.state' AND new_state = 'cleanup'")
    assert '"tasks_cancelled": 1' in moved["details_json"]
    assert (
        ws.db()
        .scalar("SELECT message FROM events WHERE kind = 'task.cancelled'")
        .startswith("1 open task(s) of a00001")
    )
