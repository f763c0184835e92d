"""Content: folders ⇄ database (`content sync/list/add`) and the choice of content for a task."""

from __future__ import annotations

import itertools
import json

import pytest

from igctl.engine.domain import content
from igctl.engine.store.errors import NotFound

TABLES = ("content", "content_usage", "tasks", "events", "models", "accounts")


def snapshot(ws) -> dict:
    db = ws.db()
    return {t: [tuple(r) for r in db.query(f"SELECT * FROM {t} ORDER BY id")] for t in TABLES}


def put(ws_path, rel: str, data: bytes | str = b"img") -> None:
    path = ws_path / "content" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)


def make_model(ws, name: str, templates: bool = False) -> int:
    db = ws.db()
    now = ws.now()
    with db.write():
        return db.execute(
            "INSERT INTO models (name, slug, strategy_json, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
            [name, name.lower(), json.dumps({"templates": templates}), now, now],
        ).lastrowid


def make_proxy(ws, host: str = "10.0.0.1") -> int:
    db = ws.db()
    now = ws.now()
    with db.write():
        return db.execute(
            "INSERT INTO proxies (host, port, created_at, updated_at) VALUES (?, 8000, ?, ?)", [host, now, now]
        ).lastrowid


def make_account(ws, username: str, proxy_id=None, model_id=None, state="warming_up") -> int:
    db = ws.db()
    now = ws.now()
    with db.write():
        return db.execute(
            "INSERT INTO accounts (username, password_enc, lifecycle_state, proxy_id, model_id, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [username, ws.cipher.encrypt("pw"), state, proxy_id, model_id, now, now],
        ).lastrowid


TASK_KEYS = itertools.count(1)  # unique idempotency keys, not random ones that could collide


def make_task(ws, account_id: int, step_name: str, kind: str = "warmup", model_id=None) -> int:
    db = ws.db()
    now = ws.now()
    with db.write():
        return db.execute(
            "INSERT INTO tasks (account_id, kind, step_name, model_id, idempotency_key, due_at, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                account_id,
                kind,
                step_name,
                model_id,
                f"{account_id}:{kind}:{step_name}:{next(TASK_KEYS)}",
                now,
                now,
                now,
            ],
        ).lastrowid


def choose(ws, task_id: int):
    db = ws.db()
    with db.write():
        task = db.one("SELECT * FROM tasks WHERE id = ?", [task_id])
        account = db.one("SELECT * FROM accounts WHERE id = ?", [task["account_id"]])
        return content.choose_for_task(ws, db, task, account)


def use(ws, account: int, step_name: str = "change_pfp", kind: str = "warmup", model_id=None):
    """A task for the account, its content chosen; returns the choice."""
    return choose(ws, make_task(ws, account, step_name, kind, model_id))


def image_id(choice) -> int:
    return choice["images"][0]["content_id"]


def cid(ws, rel: str) -> int:
    return ws.db().scalar("SELECT id FROM content WHERE path = ? AND active = 1", [rel])


def sync(ws, model=None):
    return content.sync(ws, model, actor="test")


# -- sync --------------------------------------------------------------------------------------
def test_sync_registers_images_and_texts_and_list_shows_them(igctl, ws_path, ws):
    put(ws_path, "_templates/pfp/10_beach.jpg", b"beach")
    put(ws_path, "_templates/post/city.PNG", b"city")
    put(ws_path, "_templates/any/2_x.webp", b"x")
    put(ws_path, "_templates/story/a.heic", b"story")
    put(ws_path, "_templates/highlight/h.jpeg", b"hl")
    put(ws_path, "_templates/texts.yaml", "# pools\nbio: [first bio, second bio]\npost:\n  - a caption\nname: [Anna]\n")
    out = igctl.json("content", "sync")
    assert out["images_added"] == 5 and out["texts_added"] == 4
    assert out["images_retired"] == 0 and out["refused"] == []

    rows = igctl.json("content", "list", "_templates")
    assert len(rows) == 9
    by_path = {r["path"]: r for r in rows if r["kind"] == "image"}
    beach = by_path["_templates/pfp/10_beach.jpg"]
    assert isinstance(beach["content_id"], int)
    assert beach["type"] == "pfp" and beach["usage_count"] == 0 and beach["active"] is True
    assert beach["order_priority"] == 10 and beach["text"] is None
    import hashlib

    assert beach["sha256"] == hashlib.sha256(b"beach").hexdigest()
    assert by_path["_templates/any/2_x.webp"]["order_priority"] == 2
    assert by_path["_templates/post/city.PNG"]["order_priority"] == content.DEFAULT_IMAGE_PRIORITY
    texts = [(r["type"], r["text"], r["order_priority"]) for r in rows if r["kind"] == "text"]
    assert ("bio", "first bio", 0) in texts and ("bio", "second bio", 1) in texts and ("name", "Anna", 0) in texts
    assert all(r["path"] is None for r in rows if r["kind"] == "text")

    csv_out = igctl("content", "list", "_templates", "--csv").stdout.splitlines()
    assert csv_out[0].startswith("content_id,") and len(csv_out) == 10
    table = igctl("content", "list", "_templates").stdout
    assert "10_beach.jpg" in table and "first bio" in table
    assert ws.db().scalar("SELECT count(*) FROM events WHERE kind = 'content.sync'") == 1
    assert ws.db().scalar("SELECT count(*) FROM events WHERE kind = 'command' AND message = 'content sync'") == 1


def test_sync_is_idempotent(ws_path, ws):
    put(ws_path, "_templates/pfp/a.jpg", b"a")
    put(ws_path, "_templates/texts.yaml", "bio: [one]\n")
    sync(ws)
    before = snapshot(ws)
    again = sync(ws)
    assert again["images_unchanged"] == 1 and again["texts_unchanged"] == 1
    assert sum(again[k] for k in content.COUNT_KEYS if not k.endswith("unchanged")) == 0
    assert snapshot(ws) == before  # no new row, no event


def test_changed_file_gets_a_new_row_and_the_old_one_is_retired(igctl, ws_path, ws, clock):
    put(ws_path, "_templates/pfp/a.jpg", b"old bytes")
    sync(ws)
    old_id = cid(ws, "_templates/pfp/a.jpg")
    clock.set("2026-03-02T11:00:00")
    put(ws_path, "_templates/pfp/a.jpg", b"new bytes")
    out = sync(ws)
    assert out["images_changed"] == 1 and out["images_added"] == 0
    new_id = cid(ws, "_templates/pfp/a.jpg")
    assert new_id != old_id
    rows = {r["content_id"]: r for r in igctl.json("content", "list", "_templates", "--include-retired")}
    assert rows[old_id]["active"] is False and rows[old_id]["retired_at"] == "2026-03-02T11:00:00.000Z"
    assert rows[new_id]["active"] is True
    assert [r["content_id"] for r in igctl.json("content", "list", "_templates")] == [new_id]


def test_removed_file_is_retired_never_deleted_and_comes_back_with_its_history(ws_path, ws):
    put(ws_path, "_templates/pfp/a.jpg", b"a")
    put(ws_path, "_templates/pfp/b.jpg", b"b")
    sync(ws)
    a_id = cid(ws, "_templates/pfp/a.jpg")
    (ws_path / "content/_templates/pfp/a.jpg").unlink()
    out = sync(ws)
    assert out["images_retired"] == 1 and out["images_unchanged"] == 1
    row = ws.db().one("SELECT * FROM content WHERE id = ?", [a_id])
    assert row["active"] == 0 and row["retired_at"] is not None
    put(ws_path, "_templates/pfp/a.jpg", b"a")  # the same bytes again: the same row, history kept
    out = sync(ws)
    assert out["images_restored"] == 1
    assert cid(ws, "_templates/pfp/a.jpg") == a_id
    assert ws.db().scalar("SELECT count(*) FROM content") == 2


def test_texts_removed_from_the_list_are_retired_and_reordering_changes_priority(ws_path, ws):
    put(ws_path, "_templates/texts.yaml", "bio: [one, two, three]\n")
    sync(ws)
    put(ws_path, "_templates/texts.yaml", "bio: [three, one]\n")
    out = sync(ws)
    assert out["texts_retired"] == 1 and out["texts_unchanged"] == 2 and out["texts_added"] == 0
    rows = ws.db().query("SELECT text_content, active, order_priority FROM content ORDER BY id")
    assert [(r[0], r[1], r[2]) for r in rows] == [("one", 1, 1), ("two", 0, 1), ("three", 1, 0)]
    put(ws_path, "_templates/texts.yaml", "bio: [three, one, two]\n")
    assert sync(ws)["texts_restored"] == 1
    assert ws.db().scalar("SELECT count(*) FROM content") == 3


def test_the_priorities_map_overrides_prefixes_and_list_positions(igctl, ws_path, ws):
    """texts.yaml's `priorities:` names an image by its path in the pool folder or by its bare
    file name, or a text as listed; lower comes first."""
    put(ws_path, "_templates/post/10_beach.jpg", b"beach")
    put(ws_path, "_templates/post/city.jpg", b"city")
    put(ws_path, "_templates/pfp/face.jpg", b"face")
    put(
        ws_path,
        "_templates/texts.yaml",
        "bio: [one, two]\npriorities:\n  post/10_beach.jpg: 50\n  face.jpg: 3\n  two: -1\n",
    )
    sync(ws)
    rows = {r["path"] or r["text"]: r["order_priority"] for r in igctl.json("content", "list", "_templates")}
    assert rows["_templates/post/10_beach.jpg"] == 50  # the map beats the name's prefix
    assert rows["_templates/post/city.jpg"] == content.DEFAULT_IMAGE_PRIORITY
    assert rows["_templates/pfp/face.jpg"] == 3
    assert rows["one"] == 0 and rows["two"] == -1  # the map beats the list position
    put(ws_path, "_templates/texts.yaml", "bio: [one, two]\n")  # map removed: back to the defaults
    sync(ws)
    rows = {r["path"] or r["text"]: r["order_priority"] for r in igctl.json("content", "list", "_templates")}
    assert rows["_templates/post/10_beach.jpg"] == 10 and rows["two"] == 1


def test_a_missing_texts_file_retires_every_text(ws_path, ws):
    put(ws_path, "_templates/texts.yaml", "bio: [one]\n")
    sync(ws)
    (ws_path / "content/_templates/texts.yaml").unlink()
    assert sync(ws)["texts_retired"] == 1


def test_duplicates_in_a_list_are_one_text_and_null_lists_are_empty(ws_path, ws):
    put(ws_path, "_templates/texts.yaml", "bio: [same, '  same  ']\npost:\nstory: []\n")
    out = sync(ws)
    assert out["texts_added"] == 1


def test_symlink_pointing_outside_is_refused_and_reported(igctl, ws_path, ws, tmp_path):
    outside = tmp_path / "secret.jpg"
    outside.write_bytes(b"outside")
    (ws_path / "content/_templates/pfp/evil.jpg").symlink_to(outside)
    put(ws_path, "_templates/any/real.jpg", b"real")
    (ws_path / "content/_templates/pfp/inside.jpg").symlink_to(ws_path / "content/_templates/any/real.jpg")
    outside_dir = tmp_path / "elsewhere"
    outside_dir.mkdir()
    (outside_dir / "x.jpg").write_bytes(b"x")
    (ws_path / "content/_templates/post/linked").symlink_to(outside_dir)
    out = igctl.json("content", "sync")
    refused = {r["path"]: r["reason"] for r in out["refused"]}
    assert "_templates/pfp/evil.jpg" in refused and "outside" in refused["_templates/pfp/evil.jpg"]
    assert "_templates/post/linked" in refused
    paths = {r["path"] for r in igctl.json("content", "list", "_templates")}
    assert paths == {"_templates/any/real.jpg", "_templates/pfp/inside.jpg"}
    human = igctl("content", "sync").stdout
    assert "refused _templates/pfp/evil.jpg" in human


def test_non_image_files_are_skipped_and_reported(igctl, ws_path, ws):
    put(ws_path, "_templates/pfp/notes.txt", "not an image")
    put(ws_path, "_templates/pfp/.DS_Store", b"junk")
    put(ws_path, "_templates/reels/a.jpg", b"a")
    out = igctl.json("content", "sync")
    skipped = {s["path"] for p in out["pools"] for s in p["skipped"]}
    assert skipped == {"_templates/pfp/notes.txt", "content/_templates/reels"}
    assert out["images_added"] == 0


@pytest.mark.parametrize(
    "text, where",
    [
        ("bio: [one\n  - two: [\n", "line"),  # not YAML
        ("- just\n- a list\n", "line 1"),  # not a mapping
        ("bio: [one, 2]\n", "line 1"),  # not a string
        ("bio: [one]\npost:\n  - fine\n  - {a: b}\n", "line 4"),  # a mapping in the list
        ("bio: just text\n", "line 1"),  # not a list
        ("Bio Texts: [a]\n", "line 1"),  # not a type name
        ("bio: [one]\nbio: [two]\n", "line 2"),  # twice
        ("bio: ['" + "x" * 151 + "']\n", "line 1"),  # longer than Instagram allows
        ("username: ['not a name!']\n", "line 1"),
        ("bio: ['']\n", "line 1"),
        ("bio: [one]\npriorities:\n  one: first\n", "line 3"),  # a priority that is not a number
        ("priorities: [a, b]\n", "line 1"),  # not a mapping
    ],
)
def test_bad_texts_yaml_is_a_clear_error_naming_file_and_line_and_changes_nothing(igctl, ws_path, ws, text, where):
    put(ws_path, "_templates/pfp/a.jpg", b"a")
    put(ws_path, "_templates/texts.yaml", text)
    before = snapshot(ws)
    error = igctl.error("content", "sync")
    assert "content/_templates/texts.yaml" in error and where in error
    assert snapshot(ws) == before


def test_bio_of_exactly_150_characters_is_accepted(ws_path, ws):
    put(ws_path, "_templates/texts.yaml", "bio: ['" + "x" * 150 + "']\n")
    assert sync(ws)["texts_added"] == 1


def test_unknown_model_is_an_error_and_changes_nothing(igctl, ws_path, ws):
    before = snapshot(ws)
    assert "no model named ghost" in igctl.error("content", "sync", "ghost")
    assert "no model named ghost" in igctl.error("content", "list", "ghost")
    assert "no model named ghost" in igctl.error("content", "add", "ghost", "pfp", str(ws_path / "igctl.yaml"))
    assert snapshot(ws) == before


def test_sync_of_one_model_and_of_everything(igctl, ws_path, ws):
    alice = make_model(ws, "Alice")
    put(ws_path, "alice/pfp/a.jpg", b"alice")
    put(ws_path, "alice/texts.yaml", "bio: [alice bio]\n")
    put(ws_path, "_templates/pfp/t.jpg", b"template")
    out = igctl.json("content", "sync", "Alice")
    assert [p["model"] for p in out["pools"]] == ["Alice"]
    rows = igctl.json("content", "list", "Alice")
    assert {(r["type"], r["model"]) for r in rows} == {("pfp", "Alice"), ("bio", "Alice")}
    assert all(r["is_template"] is False for r in rows)
    assert ws.db().scalar("SELECT model_id FROM content WHERE path = 'alice/pfp/a.jpg'") == alice
    assert igctl.json("content", "list", "_templates") == []
    out = igctl.json("content", "sync")
    assert [p["model"] for p in out["pools"]] == ["_templates", "Alice"]
    assert [r["path"] for r in igctl.json("content", "list", "_templates")] == ["_templates/pfp/t.jpg"]


# -- what a step needs ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "step, expected",
    [
        ("change_pfp", ["pfp"]),
        ("change_bio", ["bio"]),
        ("post_highlight", ["highlight"]),
        ("post_story", ["story"]),
        ("post_post", ["post"]),
        ("change_name", ["name"]),
        ("change_username", ["username"]),
        ("post", ["post"]),
        ("story", ["story"]),
        ("highlight", ["highlight"]),
        ("reset_pfp", ["pfp"]),
        ("reset_bio", ["bio"]),
        ("delete_posts", []),
        ("follow_accounts", []),
        ("change_", []),
    ],
)
def test_needs_comes_from_the_step_name(step, expected):
    assert content.needs(step) == expected


# -- choosing ---------------------------------------------------------------------------------
def test_an_item_this_account_never_used_comes_first(ws_path, ws):
    put(ws_path, "_templates/pfp/1_a.jpg", b"a")
    put(ws_path, "_templates/pfp/2_b.jpg", b"b")
    sync(ws)
    acc = make_account(ws, "u1")
    assert image_id(use(ws, acc)) == cid(ws, "_templates/pfp/1_a.jpg")
    # a is now used by this account; b (never used by it) wins even though priority says a
    assert image_id(use(ws, acc)) == cid(ws, "_templates/pfp/2_b.jpg")


def test_then_an_item_no_other_account_on_the_same_proxy_used(ws_path, ws):
    put(ws_path, "_templates/pfp/1_a.jpg", b"a")
    put(ws_path, "_templates/pfp/2_b.jpg", b"b")
    sync(ws)
    p1, p2 = make_proxy(ws, "10.0.0.1"), make_proxy(ws, "10.0.0.2")
    a, b = cid(ws, "_templates/pfp/1_a.jpg"), cid(ws, "_templates/pfp/2_b.jpg")
    neighbour = make_account(ws, "neighbour", proxy_id=p1)
    assert image_id(use(ws, neighbour)) == a  # a: used once, on proxy 1
    stranger = make_account(ws, "stranger", proxy_id=p2)
    assert image_id(use(ws, stranger)) == b  # b: used once, on proxy 2
    # both used once overall; on proxy 1 only a was used, so b comes first there
    me = make_account(ws, "me", proxy_id=p1)
    assert image_id(use(ws, me)) == b


def test_the_proxy_rule_beats_the_least_used_rule(ws_path, ws):
    put(ws_path, "_templates/pfp/1_a.jpg", b"a")
    put(ws_path, "_templates/pfp/2_b.jpg", b"b")
    sync(ws)
    p1, p2 = make_proxy(ws, "10.0.0.1"), make_proxy(ws, "10.0.0.2")
    a, b = cid(ws, "_templates/pfp/1_a.jpg"), cid(ws, "_templates/pfp/2_b.jpg")
    db = ws.db()
    # arrange: a used once on proxy 1, b used three times on proxy 2
    neighbour = make_account(ws, "neighbour", proxy_id=p1)
    far = make_account(ws, "far", proxy_id=p2)
    with db.write():
        db.execute(
            "INSERT INTO content_usage (content_id, account_id, proxy_id, used_at) VALUES (?, ?, ?, ?)",
            [a, neighbour, p1, ws.now()],
        )
        for _ in range(3):
            db.execute(
                "INSERT INTO content_usage (content_id, account_id, proxy_id, used_at) VALUES (?, ?, ?, ?)",
                [b, far, p2, ws.now()],
            )
        db.execute("UPDATE content SET usage_count = CASE id WHEN ? THEN 1 ELSE 3 END", [a])
    me = make_account(ws, "me", proxy_id=p1)
    assert image_id(use(ws, me)) == b
    # without a proxy the proxy rule cannot apply: the least used wins
    loner = make_account(ws, "loner")
    assert image_id(use(ws, loner)) == a


def test_then_the_least_used_overall(ws_path, ws):
    put(ws_path, "_templates/pfp/1_a.jpg", b"a")
    put(ws_path, "_templates/pfp/2_b.jpg", b"b")
    put(ws_path, "_templates/pfp/3_c.jpg", b"c")
    sync(ws)
    a, b, c = (cid(ws, f"_templates/pfp/{n}") for n in ("1_a.jpg", "2_b.jpg", "3_c.jpg"))
    first = make_account(ws, "first")
    assert image_id(use(ws, first)) == a
    assert image_id(use(ws, first)) == b
    other = make_account(ws, "other")
    assert image_id(use(ws, other)) == c  # never used by anyone: c (used 0) before a and b (used 1)
    # now all used once; a fourth account takes by priority
    fourth = make_account(ws, "fourth")
    assert image_id(use(ws, fourth)) == a


def test_then_order_priority_then_lowest_id(ws_path, ws):
    put(ws_path, "_templates/pfp/zz_no_prefix.jpg", b"z")
    put(ws_path, "_templates/pfp/9_nine.jpg", b"9")
    sync(ws)
    put(ws_path, "_templates/pfp/5_five.jpg", b"5")  # a higher id than the others, a lower priority
    sync(ws)
    acc = make_account(ws, "u")
    order = [ws.db().scalar("SELECT path FROM content WHERE id = ?", [image_id(use(ws, acc))]) for _ in range(3)]
    assert order == ["_templates/pfp/5_five.jpg", "_templates/pfp/9_nine.jpg", "_templates/pfp/zz_no_prefix.jpg"]
    # equal priority: lowest id
    put(ws_path, "_templates/post/b.jpg", b"pb")
    sync(ws)
    put(ws_path, "_templates/post/a.jpg", b"pa")
    sync(ws)
    acc2 = make_account(ws, "u2")
    assert image_id(use(ws, acc2, "post_post")) == cid(ws, "_templates/post/b.jpg")


def test_the_steps_type_comes_before_any_and_any_before_reuse(ws_path, ws):
    put(ws_path, "_templates/any/1_generic.jpg", b"g")
    put(ws_path, "_templates/story/9_story.jpg", b"s")
    sync(ws)
    acc = make_account(ws, "u")
    first = use(ws, acc, "post_story")
    assert first["images"][0]["type"] == "story"  # despite any's lower order_priority
    second = use(ws, acc, "post_story")
    assert second["images"][0]["type"] == "any"  # an unused any beats reusing the story image
    assert ws.db().scalar("SELECT count(*) FROM events WHERE kind = 'content.running_short'") == 0


def test_same_answer_every_time_and_usage_counted_once(ws_path, ws):
    put(ws_path, "_templates/post/p.jpg", b"p")
    put(ws_path, "_templates/texts.yaml", "post: [a caption]\n")
    sync(ws)
    proxy = make_proxy(ws)
    acc = make_account(ws, "u", proxy_id=proxy)
    task = make_task(ws, acc, "post_post")
    first = choose(ws, task)
    assert first["images"] == [
        {
            "content_id": cid(ws, "_templates/post/p.jpg"),
            "type": "post",
            "sha256": first["images"][0]["sha256"],
            "path": "_templates/post/p.jpg",
        }
    ]
    assert first["texts"]["post"]["text"] == "a caption"
    assert choose(ws, task) == first
    db = ws.db()
    assert json.loads(db.scalar("SELECT content_json FROM tasks WHERE id = ?", [task])) == first
    assert db.scalar("SELECT sum(usage_count) FROM content") == 2
    usage = db.query("SELECT content_id, account_id, proxy_id, task_id FROM content_usage ORDER BY content_id")
    assert [tuple(u) for u in usage] == [
        (first["images"][0]["content_id"], acc, proxy, task),
        (first["texts"]["post"]["content_id"], acc, proxy, task),
    ]


def test_caption_is_optional_and_a_text_step_takes_a_text(ws_path, ws):
    put(ws_path, "_templates/post/p.jpg", b"p")
    put(ws_path, "_templates/texts.yaml", "bio: [my bio]\n")
    sync(ws)
    acc = make_account(ws, "u")
    assert use(ws, acc, "post_post")["texts"] == {}
    bio = use(ws, acc, "change_bio")
    assert bio["images"] == [] and bio["texts"]["bio"]["text"] == "my bio"


def test_a_step_without_content_gets_an_empty_choice(ws_path, ws):
    acc = make_account(ws, "u", state="cleanup")
    assert use(ws, acc, "delete_posts", kind="cleanup") == {"texts": {}, "images": []}


def test_running_short_reuses_the_least_used_and_is_listed_until_new_content_comes(ws_path, ws, clock):
    put(ws_path, "_templates/texts.yaml", "bio: [one, two]\n")
    sync(ws)
    acc, other = make_account(ws, "u"), make_account(ws, "other")
    one = ws.db().scalar("SELECT id FROM content WHERE text_content = 'one'")
    two = ws.db().scalar("SELECT id FROM content WHERE text_content = 'two'")
    assert use(ws, other, "change_bio")["texts"]["bio"]["content_id"] == one  # one: used once elsewhere
    assert use(ws, acc, "change_bio")["texts"]["bio"]["content_id"] == two
    assert use(ws, acc, "change_bio")["texts"]["bio"]["content_id"] == one
    assert content.running_short(ws) == []
    clock.set("2026-03-02T11:00:00")
    # both used by this account once: reuse the least used overall (two: 1 use, one: 2 uses)
    assert use(ws, acc, "change_bio")["texts"]["bio"]["content_id"] == two
    event = ws.db().one("SELECT * FROM events WHERE kind = 'content.running_short'")
    assert event["account_id"] == acc and json.loads(event["details_json"])["type"] == "bio"
    short = content.running_short(ws)
    assert [(s["model"], s["type"], s["kind"], s["reuses"], s["accounts"]) for s in short] == [
        ("_templates", "bio", "text", 1, 1)
    ]
    clock.set("2026-03-02T12:00:00")
    put(ws_path, "_templates/texts.yaml", "bio: [one, two, three]\n")
    sync(ws)
    assert content.running_short(ws) == []


def test_a_type_with_no_item_returns_none_records_nothing_and_is_listed(ws_path, ws):
    put(ws_path, "_templates/texts.yaml", "post: [caption without image]\n")
    sync(ws)
    alice = make_model(ws, "Alice")
    acc = make_account(ws, "u")
    task = make_task(ws, acc, "post_highlight")
    make_task(ws, acc, "change_name")
    active = make_account(ws, "active", model_id=alice, state="active")
    make_task(ws, active, "change_pfp", kind="onboarding", model_id=alice)
    before = snapshot(ws)
    assert choose(ws, task) is None
    assert snapshot(ws) == before
    missing = content.missing_types(ws)
    assert [(m["model"], m["type"], m["kind"], m["waiting_tasks"]) for m in missing] == [
        ("Alice", "pfp", "image", 1),
        ("_templates", "highlight", "image", 1),
        ("_templates", "name", "text", 1),
    ]
    assert missing[1]["folder"] == "content/_templates/highlight/"
    assert missing[2]["folder"] == "content/_templates/texts.yaml (name:)"
    # an `any` image is enough for an image step
    put(ws_path, "_templates/any/a.jpg", b"a")
    sync(ws)
    assert choose(ws, task)["images"][0]["type"] == "any"
    assert [m["type"] for m in content.missing_types(ws)] == ["pfp", "name"]


def test_pools_warmup_uses_templates_a_model_its_own_and_templates_only_when_opted_in(ws_path, ws):
    alice = make_model(ws, "Alice", templates=False)
    bob = make_model(ws, "Bob", templates=True)
    put(ws_path, "_templates/pfp/t.jpg", b"t")
    put(ws_path, "alice/pfp/a.jpg", b"a")
    sync(ws)
    acc = make_account(ws, "u", model_id=alice, state="active")
    assert use(ws, acc, "change_pfp", kind="warmup")["images"][0]["path"] == "_templates/pfp/t.jpg"
    assert use(ws, acc, "reset_pfp", kind="cleanup")["images"][0]["path"] == "_templates/pfp/t.jpg"
    # onboarding in Alice: Alice's content only, even once used (reuse, not templates)
    assert use(ws, acc, "change_pfp", kind="onboarding", model_id=alice)["images"][0]["path"] == "alice/pfp/a.jpg"
    assert use(ws, acc, "change_pfp", kind="onboarding", model_id=alice)["images"][0]["path"] == "alice/pfp/a.jpg"
    # Bob has no content of his own but opted in to the templates
    bob_acc = make_account(ws, "b", model_id=bob, state="active")
    assert use(ws, bob_acc, "change_pfp", kind="onboarding")["images"][0]["path"] == "_templates/pfp/t.jpg"


# -- content add ------------------------------------------------------------------------------
def test_add_copies_images_and_registers_them(igctl, ws_path, ws, write):
    src = write("in/10_new.JPG", b"\xff\xd8\xffnew image")
    out = igctl.json("content", "add", "_templates", "pfp", src)
    assert out["images"][0]["path"] == "_templates/pfp/10_new.JPG"
    assert (ws_path / "content/_templates/pfp/10_new.JPG").read_bytes() == b"\xff\xd8\xffnew image"
    rows = igctl.json("content", "list", "_templates")
    assert [(r["content_id"], r["order_priority"]) for r in rows] == [(out["images"][0]["content_id"], 10)]
    assert sync(ws)["images_unchanged"] == 1  # add and sync agree


def test_add_refuses_a_name_clash_and_changes_nothing(igctl, ws_path, ws, write):
    put(ws_path, "_templates/pfp/a.jpg", b"original")
    sync(ws)
    fresh = write("in/fresh.jpg", b"\xff\xd8\xfffresh")
    clash = write("in/A.jpg", b"\xff\xd8\xffother")  # the same name but for case: refused too
    before = snapshot(ws)
    error = igctl.error("content", "add", "_templates", "pfp", fresh, clash)
    assert "already exists" in error
    assert snapshot(ws) == before
    assert (ws_path / "content/_templates/pfp/a.jpg").read_bytes() == b"original"
    assert not (ws_path / "content/_templates/pfp/fresh.jpg").exists()


def test_add_text_lines_into_texts_yaml_keeping_its_header(igctl, ws_path, ws, write):
    src = write("bios.txt", "\ufefffirst bio\n\nsecond bio\r\nfirst bio\n")
    out = igctl.json("content", "add", "_templates", "bio", src)
    assert out["texts_added"] == 2
    text = (ws_path / "content/_templates/texts.yaml").read_text(encoding="utf-8")
    assert text.startswith("# Text pools used during warm-up")
    assert content.parse_texts(text, "t")["bio"] == ["first bio", "second bio"]
    assert sorted(r["text"] for r in igctl.json("content", "list", "_templates")) == ["first bio", "second bio"]
    again = igctl.json("content", "add", "_templates", "bio", src)
    assert again["texts_added"] == 0 and again["texts_already_there"] == ["first bio", "second bio"]
    assert sync(ws)["texts_unchanged"] == 2


@pytest.mark.parametrize(
    "type_, name, data, message",
    [
        ("bio", "x.jpg", b"img", "text type"),
        ("pfp", "x.txt", b"a text", "images only"),
        ("pfp", "x.gif", b"gif", "not an image"),
        ("bio", "x.txt", b"\xff\xfe\x00bad", "not UTF-8"),
        ("bio", "x.txt", b"\n\n", "no texts"),
        ("bio", "x.txt", ("y" * 151).encode(), "line 1"),
        ("Bad Type", "x.jpg", b"img", "not a content type"),
        ("pfp", "empty.jpg", b"", "empty"),
    ],
)
def test_add_bad_input_is_an_error_and_changes_nothing(igctl, ws_path, ws, write, type_, name, data, message):
    src = write(f"in/{name}", data)
    texts_before = (ws_path / "content/_templates/texts.yaml").read_bytes()
    before = snapshot(ws)
    assert message in igctl.error("content", "add", "_templates", type_, src)
    assert snapshot(ws) == before
    assert (ws_path / "content/_templates/texts.yaml").read_bytes() == texts_before
    assert not any(p.is_file() for p in (ws_path / "content/_templates").rglob("*") if p.name != "texts.yaml")


def test_add_missing_file_is_an_error(igctl, ws_path, ws):
    assert "no such file" in igctl.error("content", "add", "_templates", "pfp", ws_path / "nope.jpg")


# -- image_path --------------------------------------------------------------------------------
def test_image_path_is_inside_content_and_refuses_everything_else(ws_path, ws, tmp_path):
    put(ws_path, "_templates/pfp/a.jpg", b"a")
    put(ws_path, "_templates/texts.yaml", "bio: [b]\n")
    sync(ws)
    a = cid(ws, "_templates/pfp/a.jpg")
    assert content.image_path(ws, a) == (ws_path / "content/_templates/pfp/a.jpg").resolve()
    text_id = ws.db().scalar("SELECT id FROM content WHERE text_content = 'b'")
    with pytest.raises(NotFound):
        content.image_path(ws, text_id)
    with pytest.raises(NotFound):
        content.image_path(ws, 9999)
    # the file swapped for a link to a file outside the workspace: refused
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(b"a")
    target = ws_path / "content/_templates/pfp/a.jpg"
    target.unlink()
    target.symlink_to(outside)
    with pytest.raises(NotFound):
        content.image_path(ws, a)


def test_image_path_of_a_retired_row_only_while_the_bytes_are_the_same(ws_path, ws):
    put(ws_path, "_templates/pfp/a.jpg", b"a")
    put(ws_path, "_templates/pfp/b.jpg", b"b")
    sync(ws)
    a, b = cid(ws, "_templates/pfp/a.jpg"), cid(ws, "_templates/pfp/b.jpg")
    put(ws_path, "_templates/pfp/a.jpg", b"changed")
    sync(ws)
    with pytest.raises(NotFound):
        content.image_path(ws, a)  # its bytes are gone
    # a retired row whose file still holds its bytes is still served (a task may hold it)
    ws.db().execute("UPDATE content SET active = 0 WHERE id = ?", [b])
    assert content.image_path(ws, b).read_bytes() == b"b"
    assert content.image_mime("x.JPG") == "image/jpeg" and content.image_mime("x.heic") == "image/heic"


def test_help_text_on_every_content_command(igctl):
    for sub in ("sync", "list", "add"):
        out = igctl("content", sub, "--help").stdout
        assert "Usage:" in out and len(out.splitlines()) > 3
