"""Template sets (content/_templates/<set>/), and disabling, enabling and deleting content: the
engine and `igctl content`. Issue 15, points 2 and 3."""

from __future__ import annotations

import json

import pytest
from test_content import choose, make_account, make_task, put, sync
from warmup_helpers import IMAGE_BYTES

from igctl.engine.domain import content
from igctl.engine.flows import models as model_flows

PNG_BYTES = b"\x89PNG\r\n\x1a\n not really a png"


def state(ws, ws_path) -> dict:
    """Every row a content command may touch, and every file under content/ and models/ with
    its bytes: a refused command must leave all of it as it was."""
    db = ws.db()
    snap = {
        t: [tuple(r) for r in db.query(f"SELECT * FROM {t} ORDER BY rowid")]
        for t in ("content", "content_usage", "template_sets", "models", "events", "tasks")
    }
    snap["files"] = sorted(
        (str(p.relative_to(ws_path)), p.read_bytes() if p.is_file() else None)
        for folder in ("content", "models")
        for p in (ws_path / folder).rglob("*")
    )
    return snap


def strategy_file(ws_path, slug: str, text: str) -> None:
    (ws_path / "models" / f"{slug}.yaml").write_text(text, encoding="utf-8")


def rows(ws, where: str = "1", params=()) -> list:
    return ws.db().query(f"SELECT * FROM content WHERE {where} ORDER BY id", list(params))


# -- creating a set, adding to it, listing -------------------------------------------------------
def test_set_create_makes_the_folder_and_content_goes_into_it(igctl, ws_path, ws, write):
    out = igctl.json("content", "set-create", "summer")
    assert out["set"] == "summer" and out["folder"] == "content/_templates/summer/"
    folder = ws_path / "content/_templates/summer"
    assert all((folder / t).is_dir() for t in content.IMAGE_TYPES) and (folder / "texts.yaml").is_file()
    added = igctl.json("content", "add", "_templates/summer", "pfp", write("in/10_sun.jpg", IMAGE_BYTES))
    assert added["images"][0]["path"] == "_templates/summer/pfp/10_sun.jpg"
    igctl("content", "add", "_templates/summer", "bio", write("bios.txt", "summer bio\n"))
    listed = igctl.json("content", "list", "_templates/summer")
    assert {(r["type"], r["model"], r["is_template"]) for r in listed} == {
        ("pfp", "_templates/summer", True),
        ("bio", "_templates/summer", True),
    }
    # the default set does not hold the set's content, and sync does not call the folder junk
    assert igctl.json("content", "list", "_templates") == []
    result = igctl.json("content", "sync")
    assert not [s for p in result["pools"] for s in p["skipped"]]
    assert [p["model"] for p in result["pools"]][:2] == ["_templates", "_templates/summer"]
    assert result["images_unchanged"] == 1 and result["texts_unchanged"] == 1
    sets = igctl.json("content", "sets")
    assert [(s["pool"], s["images"], s["texts"]) for s in sets] == [("_templates", 0, 0), ("_templates/summer", 1, 1)]
    pools = igctl.json("content", "list")  # no argument: every pool
    assert [p["pool"] for p in pools] == ["_templates", "_templates/summer"]
    text = igctl("content", "list").stdout
    assert "_templates/summer" in text
    event = ws.db().one("SELECT * FROM events WHERE kind = 'content.set_created'")
    assert json.loads(event["details_json"])["set"] == "summer"


def test_set_create_adopts_a_folder_that_is_there(igctl, ws_path, ws):
    put(ws_path, "_templates/winter/post/a.jpg", IMAGE_BYTES)
    put(ws_path, "_templates/winter/texts.yaml", "post: [snow]\n")
    skipped = content.sync(ws, actor="test")["pools"][0]["skipped"]
    assert "set-create winter" in skipped[0]["reason"]  # before: an unknown folder, with a hint
    out = igctl.json("content", "set-create", "winter")
    assert out["adopted"] and out["sync"]["images_added"] == 1 and out["sync"]["texts_added"] == 1


@pytest.mark.parametrize(
    "name, message",
    [
        ("pfp", "content type folder"),
        ("default", "content/_templates/ itself"),
        ("Summer", "lower-case letters"),
        ("../x", "lower-case letters"),
        ("", "lower-case letters"),
    ],
)
def test_set_create_refuses_bad_names_and_changes_nothing(igctl, ws_path, ws, name, message):
    before = state(ws, ws_path)
    assert message in igctl.error("content", "set-create", name)
    assert state(ws, ws_path) == before


def test_set_create_refuses_a_taken_name_and_changes_nothing(igctl, ws_path, ws):
    igctl("content", "set-create", "summer")
    before = state(ws, ws_path)
    assert "exists already" in igctl.error("content", "set-create", "summer")
    assert state(ws, ws_path) == before


def test_unknown_set_is_not_found(igctl, ws_path, ws, write):
    before = state(ws, ws_path)
    assert "no template set named nope" in igctl.error("content", "list", "_templates/nope")
    assert "no template set named nope" in igctl.error(
        "content", "add", "_templates/nope", "pfp", write("a.jpg", IMAGE_BYTES)
    )
    assert state(ws, ws_path) == before


# -- which pool a task draws from ---------------------------------------------------------------
def test_a_model_draws_from_its_content_and_the_sets_it_lists_warmup_from_the_default_only(igctl, ws_path, ws):
    igctl("content", "set-create", "summer")
    igctl("model", "create", "Alice")
    igctl("model", "create", "Bob")
    put(ws_path, "_templates/pfp/default.jpg", IMAGE_BYTES + b"d")
    put(ws_path, "_templates/summer/pfp/summer.jpg", IMAGE_BYTES + b"s")
    strategy_file(ws_path, "alice", "templates: [summer]\n")
    strategy_file(ws_path, "bob", "templates: true\n")
    igctl("model", "sync", "Alice")
    igctl("model", "sync", "Bob")
    sync(ws)
    alice = ws.db().scalar("SELECT id FROM models WHERE slug = 'alice'")
    bob = ws.db().scalar("SELECT id FROM models WHERE slug = 'bob'")
    a = make_account(ws, "a1", model_id=alice, state="active")
    b = make_account(ws, "b1", model_id=bob, state="active")

    def path(account, kind, model_id):
        return choose(ws, make_task(ws, account, "change_pfp", kind, model_id))["images"][0]["path"]

    assert path(a, "onboarding", alice) == "_templates/summer/pfp/summer.jpg"
    assert path(a, "post", alice) == "_templates/summer/pfp/summer.jpg"  # reused: never the default set
    assert path(b, "onboarding", bob) == "_templates/pfp/default.jpg"
    assert path(b, "onboarding", bob) == "_templates/pfp/default.jpg"  # never summer: Bob lists only the default
    # warm-up and cleanup: the default set only, whatever the model lists
    assert path(a, "warmup", None) == "_templates/pfp/default.jpg"
    assert path(a, "cleanup", alice) == "_templates/pfp/default.jpg"


def test_a_strategy_naming_a_missing_set_is_refused_and_the_old_one_stays(igctl, ws_path, ws):
    igctl("model", "create", "Alice")
    model_before = ws.db().one("SELECT * FROM models WHERE slug = 'alice'")
    strategy_file(ws_path, "alice", "templates: [nope]\n")
    error = igctl.error("model", "sync", "Alice")
    assert "templates: no template set named nope" in error and "set-create nope" in error
    after = ws.db().one("SELECT * FROM models WHERE slug = 'alice'")
    assert tuple(after) == tuple(model_before)  # the strategy in force stays
    problems = model_flows.strategy_problems(ws)
    assert problems and "no template set named nope" in problems[0]["error"]
    # once the set exists the same file is applied
    igctl("content", "set-create", "nope")
    igctl("model", "sync", "Alice")
    assert json.loads(ws.db().scalar("SELECT strategy_json FROM models WHERE slug = 'alice'"))["templates"] == ["nope"]
    assert model_flows.strategy_problems(ws) == []


def test_model_create_with_a_strategy_naming_a_missing_set_is_refused(igctl, ws_path, ws, write):
    before = state(ws, ws_path)
    assert "no template set named ghost" in igctl.error(
        "model", "create", "Alice", "--strategy", write("s.yaml", "templates: [ghost]\n")
    )
    assert state(ws, ws_path) == before


# -- rename and delete ------------------------------------------------------------------------------
def test_set_rename_moves_the_folder_and_the_paths(igctl, ws_path, ws, write):
    igctl("content", "set-create", "summer")
    cid = igctl.json("content", "add", "_templates/summer", "post", write("a.jpg", IMAGE_BYTES))["images"][0][
        "content_id"
    ]
    out = igctl.json("content", "set-rename", "summer", "sunny")
    assert out["folder"] == "content/_templates/sunny/"
    assert not (ws_path / "content/_templates/summer").exists()
    assert (ws_path / "content/_templates/sunny/post/a.jpg").is_file()
    assert content.image_path(ws, cid) == (ws_path / "content/_templates/sunny/post/a.jpg").resolve()
    result = sync(ws)
    assert result["images_unchanged"] == 1 and result["images_added"] == result["images_retired"] == 0
    assert [r["content_id"] for r in igctl.json("content", "list", "_templates/sunny")] == [cid]
    assert "no template set named summer" in igctl.error("content", "list", "_templates/summer")


def test_set_rename_and_delete_are_refused_while_a_model_lists_the_set(igctl, ws_path, ws):
    igctl("content", "set-create", "summer")
    igctl("model", "create", "Alice")
    strategy_file(ws_path, "alice", "templates: [summer]\n")  # not applied yet: the file counts too
    before = state(ws, ws_path)
    assert "listed by model(s) Alice" in igctl.error("content", "set-rename", "summer", "sunny")
    assert "listed by model(s) Alice" in igctl.error("content", "set-delete", "summer")
    assert state(ws, ws_path) == before


def test_set_rename_refusals_change_nothing(igctl, ws_path, ws):
    igctl("content", "set-create", "summer")
    igctl("content", "set-create", "winter")
    before = state(ws, ws_path)
    assert "exists already" in igctl.error("content", "set-rename", "summer", "winter")
    assert "no template set named autumn" in igctl.error("content", "set-rename", "autumn", "fall")
    assert "content type folder" in igctl.error("content", "set-rename", "summer", "post")
    assert state(ws, ws_path) == before


def test_set_delete_retires_its_content_keeps_the_rows_and_frees_the_name(igctl, ws_path, ws, write):
    igctl("content", "set-create", "summer")
    igctl("content", "add", "_templates/summer", "post", write("a.jpg", IMAGE_BYTES))
    igctl("content", "add", "_templates/summer", "bio", write("b.txt", "hi\n"))
    out = igctl.json("content", "set-delete", "summer")
    assert out["retired"] == 2 and out["moved_to"].startswith("content/_templates/.deleted/summer-")
    assert not (ws_path / "content/_templates/summer").exists()
    assert [r["active"] for r in rows(ws, "set_id IS NOT NULL")] == [0, 0]
    assert igctl.json("content", "sets") == [s for s in igctl.json("content", "sets") if s["pool"] == "_templates"]
    assert sync(ws)["refused"] == [] and sync(ws)["pools"][0]["skipped"] == []  # the trash is hidden
    again = igctl.json("content", "set-create", "summer")  # a new set of the same name
    assert not again["adopted"] and again["set_id"] != out.get("set_id")


def test_a_set_name_deleted_twice_in_the_same_second_gets_a_second_trash_folder(igctl, ws_path, ws, write):
    """The workspace clock stands still (IGCTL_NOW): the second delete of a re-created set must
    not collide with the first one's folder in .deleted/."""
    moved = []
    for i in range(2):
        igctl("content", "set-create", "summer")
        igctl("content", "add", "_templates/summer", "post", write(f"a{i}.jpg", IMAGE_BYTES + bytes([i])))
        moved.append(igctl.json("content", "set-delete", "summer")["moved_to"])
    assert moved[1] == moved[0].rstrip("/") + "-2/"
    assert (ws_path / moved[0] / "post" / "a0.jpg").is_file() and (ws_path / moved[1] / "post" / "a1.jpg").is_file()


# -- disable, enable, delete --------------------------------------------------------------------------
def test_disabled_content_is_never_chosen_and_survives_sync(igctl, ws_path, ws):
    put(ws_path, "_templates/pfp/a.jpg", IMAGE_BYTES + b"a")
    put(ws_path, "_templates/pfp/b.jpg", IMAGE_BYTES + b"b")
    sync(ws)
    a_id = ws.db().scalar("SELECT id FROM content WHERE path = '_templates/pfp/a.jpg'")
    assert igctl.json("content", "disable", str(a_id))["changed"] == [a_id]
    sync(ws)
    assert igctl.json("content", "sync")["images_unchanged"] == 2
    listed = {r["content_id"]: r["disabled"] for r in igctl.json("content", "list", "_templates")}
    assert listed[a_id] is True
    acc = make_account(ws, "u1")
    for _ in range(3):  # b is reused rather than the disabled a
        assert choose(ws, make_task(ws, acc, "change_pfp"))["images"][0]["path"] == "_templates/pfp/b.jpg"
    again = igctl.json("content", "disable", str(a_id))
    assert again["changed"] == [] and again["already"] == [a_id]
    igctl("content", "enable", str(a_id))
    assert choose(ws, make_task(ws, acc, "change_pfp"))["images"][0]["path"] == "_templates/pfp/a.jpg"
    kinds = [r["kind"] for r in ws.db().query("SELECT kind FROM events WHERE kind LIKE 'content.%abled'")]
    assert kinds == ["content.disabled", "content.enabled"]


def test_a_disabled_only_item_counts_as_missing(igctl, ws_path, ws):
    put(ws_path, "_templates/pfp/a.jpg", IMAGE_BYTES)
    sync(ws)
    a_id = ws.db().scalar("SELECT id FROM content")
    igctl("content", "disable", str(a_id))
    acc = make_account(ws, "u1")
    task = make_task(ws, acc, "change_pfp")
    assert choose(ws, task) is None
    assert [m["type"] for m in content.missing_types(ws)] == ["pfp"]


def test_delete_removes_the_file_and_retires_the_row_a_used_item_keeps_its_record(igctl, ws_path, ws):
    put(ws_path, "_templates/pfp/used.jpg", IMAGE_BYTES + b"u")
    put(ws_path, "_templates/texts.yaml", "bio: [one, two]\n")
    sync(ws)
    acc = make_account(ws, "u1")
    task = make_task(ws, acc, "change_pfp")
    used = choose(ws, task)["images"][0]["content_id"]
    two = ws.db().scalar("SELECT id FROM content WHERE text_content = 'two'")
    out = igctl.json("content", "delete", str(used), str(two))
    assert out["deleted"] == [used, two] and out["files_removed"] == ["_templates/pfp/used.jpg"]
    assert not (ws_path / "content/_templates/pfp/used.jpg").exists()
    assert content.parse_texts((ws_path / "content/_templates/texts.yaml").read_text(), "t")["bio"] == ["one"]
    row = ws.db().one("SELECT * FROM content WHERE id = ?", [used])
    assert row["active"] == 0 and row["retired_at"] is not None and row["usage_count"] == 1
    assert ws.db().scalar("SELECT count(*) FROM content_usage WHERE content_id = ?", [used]) == 1
    assert (
        json.loads(ws.db().scalar("SELECT content_json FROM tasks WHERE id = ?", [task]))["images"][0]["content_id"]
        == used
    )
    assert sync(ws)["images_retired"] == 0 and sync(ws)["texts_retired"] == 0  # sync agrees
    assert igctl.json("content", "list", "_templates")[0]["text"] == "one"


def test_delete_and_disable_refusals_change_nothing(igctl, ws_path, ws):
    put(ws_path, "_templates/pfp/a.jpg", IMAGE_BYTES)
    sync(ws)
    a_id = ws.db().scalar("SELECT id FROM content")
    before = state(ws, ws_path)
    assert "no content with id 999" in igctl.error("content", "delete", str(a_id), "999")
    assert "no content with id 999" in igctl.error("content", "disable", str(a_id), "999")
    assert state(ws, ws_path) == before
    igctl("content", "delete", str(a_id))
    before = state(ws, ws_path)
    assert "is retired" in igctl.error("content", "delete", str(a_id))
    assert "is retired" in igctl.error("content", "enable", str(a_id))
    assert state(ws, ws_path) == before


# -- images are what they claim to be -----------------------------------------------------------------
@pytest.mark.parametrize(
    "name, data, message",
    [
        ("notes.jpg", b"just some text", "notes.jpg: not an image"),
        ("photo.jpg", PNG_BYTES, "photo.jpg: its first bytes are those of a PNG file, not JPEG"),
        ("photo.png", IMAGE_BYTES, "photo.png: its first bytes are those of a JPEG file, not PNG"),
    ],
)
def test_add_checks_each_image_by_its_first_bytes_and_keeps_nothing(igctl, ws_path, ws, write, name, data, message):
    good = write("in/good.jpg", IMAGE_BYTES)
    bad = write(f"in/{name}", data)
    before = state(ws, ws_path)
    assert message in igctl.error("content", "add", "_templates", "post", good, bad)
    assert state(ws, ws_path) == before


def test_add_takes_every_kind_of_image_each_file_its_own_bytes(igctl, ws_path, ws, write):
    files = {
        "a.jpg": IMAGE_BYTES,
        "b.png": PNG_BYTES,
        "c.webp": b"RIFF\x10\x00\x00\x00WEBPVP8 ",
        "d.heic": b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00",
    }
    out = igctl.json("content", "add", "_templates", "post", *[write(f"in/{n}", d) for n, d in files.items()])
    assert len(out["images"]) == 4
    for name, data in files.items():
        assert (ws_path / "content/_templates/post" / name).read_bytes() == data


def test_safe_file_names():
    assert content.safe_file_name("../../etc/x.jpg") == "x.jpg"
    assert content.safe_file_name("C:\\pics\\y.png") == "y.png"
    assert content.safe_file_name("a\x00b.jpg") == "ab.jpg"
    for bad in ("..", ".", "", ".hidden.jpg", "dir/"):
        with pytest.raises(content.InvalidInput):
            content.safe_file_name(bad)


# -- a text pool as one entry a line --------------------------------------------------------------------
def test_set_texts_writes_texts_yaml_and_syncs(ws_path, ws):
    put(ws_path, "_templates/texts.yaml", "# header kept\nbio: [old one, kept]\npost: [caption]\n")
    sync(ws)
    out = content.set_texts(ws, "_templates", "bio", "kept\n\n  new one  \nkept\n", actor="test")
    assert out["changed"] and out["texts"] == 2
    text = (ws_path / "content/_templates/texts.yaml").read_text()
    assert text.startswith("# header kept")
    assert content.parse_texts(text, "t") == {"bio": ["kept", "new one"], "post": ["caption"]}
    active = {r["text_content"] for r in rows(ws, "active = 1 AND content_type = 'bio'")}
    assert active == {"kept", "new one"}
    assert content.set_texts(ws, "_templates", "bio", "kept\nnew one", actor="test")["changed"] is False


def test_set_texts_refusals_change_nothing(ws_path, ws):
    put(ws_path, "_templates/texts.yaml", 'bio: [a]\npost: ["two\\nlines"]\n')
    sync(ws)
    before = state(ws, ws_path)
    with pytest.raises(content.InvalidInput, match="line 2: a bio text of 151 characters"):
        content.set_texts(ws, "_templates", "bio", "ok\n" + "x" * 151, actor="test")
    with pytest.raises(content.InvalidInput, match="several lines"):
        content.set_texts(ws, "_templates", "post", "one", actor="test")
    with pytest.raises(content.InvalidInput, match="not a text pool"):
        content.set_texts(ws, "_templates", "pfp", "one", actor="test")
    with pytest.raises(content.InvalidInput, match="is not a possible username"):
        content.set_texts(ws, "_templates", "username", "no spaces allowed", actor="test")
    assert state(ws, ws_path) == before
