"""The dashboard's content pages (issue 15, points 2 and 3): every pool, one pool's images and
texts, uploads, disable / enable / delete, text pools one a line, template sets. WSGI tests."""

from __future__ import annotations

import html
import re

import pytest
from dashboard_helpers import Browser, browser, dash, events_by, scene  # noqa: F401
from test_content import make_task
from test_dashboard import everything
from test_template_sets import PNG_BYTES, state
from warmup_helpers import IMAGE_BYTES

from igctl.dashboard import create_app
from igctl.engine.domain import content
from igctl.engine.store.workspace import Workspace

ACTOR = "operator:alice"


class Files(list):
    """Several files under one field name (`<input type="file" multiple>`), for Browser.post."""

    def items(self):
        return list(self)


def upload(browser, pool: str, kind: str, *files: tuple[str, bytes]):
    return browser.post(
        "/content/upload",
        {"csrf_token": browser.csrf(), "pool": pool, "type": kind},
        files=Files(("files", f) for f in files),
    )


def post(browser, path: str, data: dict | list):
    pairs = list(data.items()) if isinstance(data, dict) else list(data)
    return browser.post(path, [("csrf_token", browser.csrf()), *pairs])


def flash(browser, page) -> str:
    assert page.code == 303, page.text
    return html.unescape(browser.get(page.location).text)


# -- reading ---------------------------------------------------------------------------------------
def test_content_page_lists_every_pool_with_counts(browser, ws, scene, igctl):
    igctl("content", "set-create", "summer")
    page = browser.get("/content")
    assert page.code == 200
    assert 'href="/content"' in page.text  # the nav link
    for pool in ("_templates", "_templates/summer", "alice"):
        assert f'href="/content/{pool}"' in page.text
    row = re.search(r'data-pool="_templates".*?</tr>', page.text, re.S).group(0)
    expected = len([r for r in content.list_content(ws, "_templates") if r["kind"] == "image"])
    assert f'data-figure="images">{expected}<' in row


def test_pool_pages_render_and_never_write(browser, ws, ws_path, scene, igctl):
    """As test_dashboard's test_a_page_view_never_writes: every table, the logs and the files
    under content/ and models/ are as they were after a GET of each content page, also with a
    file put in a folder and not synced."""
    igctl("content", "set-create", "summer")
    (ws_path / "content/_templates/summer/post/unsynced.png").write_bytes(PNG_BYTES)
    before = (everything(ws), state(ws, ws_path))
    for path in ("/content", "/content/_templates", "/content/_templates/summer", "/content/alice"):
        page = browser.get(path)
        assert page.code == 200, path
    for path in ("/content/nobody", "/content/_templates/nope"):
        assert browser.get(path).code == 404
    assert (everything(ws), state(ws, ws_path)) == before
    page = browser.get("/content/_templates")
    cid = ws.db().scalar("SELECT id FROM content WHERE path IS NOT NULL AND active = 1 ORDER BY id LIMIT 1")
    assert f'<img class="thumb" loading="lazy" src="/content/images/{cid}"' in page.text
    assert 'type="file" name="files" multiple' in page.text
    assert browser.get("/content/nobody").code == 404
    assert browser.get("/content/_templates/nope").code == 404


def test_warnings_link_to_the_pools_content_page(browser, ws, scene):
    # a queued onboarding task of Alice's that needs a type her pool does not have
    acc = ws.db().scalar("SELECT id FROM accounts ORDER BY id LIMIT 1")
    make_task(ws, acc, "change_name", kind="onboarding", model_id=scene["model_id"])
    home = browser.get("/")
    assert re.search(r'<a href="/content/alice">Alice has no name text at all', home.text)
    review = browser.get("/review")
    assert re.search(r'<a href="/content/alice">Alice has no name text at all', review.text)
    assert "Alice has no name text" in browser.get("/content").text
    assert "Alice has no name text" in browser.get("/content/alice").text


# -- uploads ------------------------------------------------------------------------------------------
def test_upload_many_images_into_a_category(browser, ws, ws_path, scene):
    page = upload(browser, "alice", "post", ("a.jpg", IMAGE_BYTES + b"a"), ("b.png", PNG_BYTES))
    assert "2 image(s) added to Alice post" in flash(browser, page)
    assert page.location.startswith("/content/alice")
    assert (ws_path / "content/alice/post/a.jpg").read_bytes() == IMAGE_BYTES + b"a"
    assert (ws_path / "content/alice/post/b.png").read_bytes() == PNG_BYTES
    rows = {r["path"] for r in content.list_content(ws, "Alice") if r["kind"] == "image"}
    assert rows >= {"alice/post/a.jpg", "alice/post/b.png"}
    kinds = [e["kind"] for e in events_by(ws, ACTOR)]
    assert kinds[-2:] == ["command", "content.add"]


@pytest.mark.parametrize(
    "files, message",
    [
        ([("a.jpg", IMAGE_BYTES), ("evil.jpg", b"MZ\x90\x00 not a picture")], "evil.jpg: not an image"),
        ([("a.jpg", IMAGE_BYTES), ("notes.txt", b"a caption")], "notes.txt: not an image"),
        ([("a.jpg", IMAGE_BYTES), ("b.jpg", PNG_BYTES)], "b.jpg: its first bytes are those of a PNG file"),
        ([("../../../etc/x.jpg", IMAGE_BYTES), ("..", IMAGE_BYTES)], "cannot be a file name"),
        ([("a.jpg", IMAGE_BYTES), ("A.JPG", IMAGE_BYTES)], "given twice"),
    ],
)
def test_a_bad_upload_is_refused_with_its_file_name_and_nothing_is_kept(browser, ws, ws_path, scene, files, message):
    before = state(ws, ws_path)
    page = upload(browser, "alice", "post", *files)
    assert page.code in (400, 409) and "Not done" in page.text
    assert message in html.unescape(page.text)
    assert state(ws, ws_path) == before


def test_upload_never_overwrites_and_paths_stay_under_content(browser, ws, ws_path, scene):
    upload(browser, "alice", "pfp", ("../../me.jpg", IMAGE_BYTES + b"1"))
    assert (ws_path / "content/alice/pfp/me.jpg").read_bytes() == IMAGE_BYTES + b"1"
    assert not (ws_path / "me.jpg").exists() and not (ws_path / "content/me.jpg").exists()
    before = state(ws, ws_path)
    page = upload(browser, "alice", "pfp", ("me.jpg", IMAGE_BYTES + b"2"))
    assert page.code == 409 and "already exists" in page.text
    assert state(ws, ws_path) == before


def test_upload_over_the_size_limit_is_refused(igctl, ws, ws_path, dash):
    """import.max_file_mb limits each uploaded image (read when the dashboard starts)."""
    (ws_path / "igctl.yaml").write_text(
        (ws_path / "igctl.yaml").read_text() + "\nimport:\n  max_file_mb: 0.001\n", encoding="utf-8"
    )
    b = Browser(create_app(Workspace.open(ws_path)))
    assert b.login().code == 303
    before = state(ws, ws_path)
    page = upload(b, "_templates", "pfp", ("big.jpg", IMAGE_BYTES + b"x" * 2000))
    assert page.code == 400 and "big.jpg is over the limit" in page.text
    assert state(ws, ws_path) == before


def test_upload_refusals_for_category_and_pool(browser, ws, ws_path, scene):
    before = state(ws, ws_path)
    assert "choose a category" in upload(browser, "alice", "bio", ("a.jpg", IMAGE_BYTES)).text
    assert "no model named ghost" in upload(browser, "ghost", "pfp", ("a.jpg", IMAGE_BYTES)).text
    page = browser.post("/content/upload", {"csrf_token": browser.csrf(), "pool": "alice", "type": "pfp"})
    assert "choose one or more images" in page.text
    assert state(ws, ws_path) == before


def test_upload_without_csrf_is_refused(browser, ws, ws_path, scene):
    before = state(ws, ws_path)
    page = browser.post(
        "/content/upload", {"pool": "alice", "type": "pfp"}, files=Files([("files", ("a.jpg", IMAGE_BYTES))])
    )
    assert page.code == 403
    assert state(ws, ws_path) == before


# -- disable, enable, delete ------------------------------------------------------------------------------
def test_disable_enable_and_delete_an_image_from_its_page(browser, ws, ws_path, scene):
    upload(browser, "alice", "pfp", ("a.jpg", IMAGE_BYTES + b"a"), ("b.jpg", IMAGE_BYTES + b"b"))
    a = ws.db().scalar("SELECT id FROM content WHERE path = 'alice/pfp/a.jpg'")
    b = ws.db().scalar("SELECT id FROM content WHERE path = 'alice/pfp/b.jpg'")
    page = post(browser, "/content/items", {"act": f"disable:{a}", "next": "/content/alice#images-pfp"})
    assert "1 item(s) disabled" in flash(browser, page)
    assert ws.db().scalar("SELECT disabled_at FROM content WHERE id = ?", [a]) is not None
    assert f'value="enable:{a}"' in browser.get("/content/alice").text
    content.sync(ws, actor="test")  # sync keeps it disabled
    assert ws.db().scalar("SELECT disabled_at FROM content WHERE id = ?", [a]) is not None
    page = post(browser, "/content/items", [("act", "enable"), ("ids", a), ("ids", b), ("next", "/content/alice")])
    assert "1 item(s) enabled; 1 already enabled" in flash(browser, page)
    # delete asks first, changing nothing
    before = state(ws, ws_path)
    page = post(browser, "/content/items", {"act": f"delete:{b}", "next": "/content/alice"})
    assert page.code == 200 and 'id="delete-confirm"' in page.text and "alice/pfp/b.jpg" in page.text
    assert state(ws, ws_path) == before
    page = post(browser, "/content/items", {"act": "delete", "ids": b, "confirm": "1", "next": "/content/alice"})
    assert "1 item(s) deleted" in flash(browser, page)
    assert not (ws_path / "content/alice/pfp/b.jpg").exists()
    assert ws.db().scalar("SELECT active FROM content WHERE id = ?", [b]) == 0
    assert [e["kind"] for e in events_by(ws, ACTOR)][-2:] == ["command", "content.deleted"]
    # the confirmation page itself refuses what the delete would refuse: b is retired now
    again = post(browser, "/content/items", {"act": f"delete:{b}", "next": "/content/alice"})
    assert again.code == 409 and f"content {b} is retired" in again.text and 'id="delete-confirm"' not in again.text


def test_item_action_refusals_change_nothing(browser, ws, ws_path, scene):
    before = state(ws, ws_path)
    assert "choose disable, enable or delete" in post(browser, "/content/items", {"act": "burn:1"}).text
    assert "tick at least one item" in post(browser, "/content/items", {"act": "disable"}).text
    assert "no content with id 99999" in post(browser, "/content/items", {"act": "disable:99999"}).text
    assert "must be a whole number" in post(browser, "/content/items", {"act": "disable:x"}).text
    assert state(ws, ws_path) == before


# -- text pools ---------------------------------------------------------------------------------------------
def test_edit_a_text_pool_one_entry_a_line(browser, ws, ws_path, scene):
    page = post(browser, "/content/texts", {"pool": "alice", "type": "bio", "lines": "first bio\r\n\r\nsecond bio\r\n"})
    assert "bio: 2 text(s) saved" in flash(browser, page)
    assert content.parse_texts((ws_path / "content/alice/texts.yaml").read_text(), "t")["bio"] == [
        "first bio",
        "second bio",
    ]
    texts = {r["text"] for r in content.list_content(ws, "Alice") if r["type"] == "bio"}
    assert texts == {"first bio", "second bio"}
    page = browser.get("/content/alice")
    assert "first bio\nsecond bio</textarea>" in page.text
    assert re.search(r"<td class=\"msg\">first bio</td>\s*<td data-figure=\"used-\d+\">0", page.text)
    # a line taken out is retired
    post(browser, "/content/texts", {"pool": "alice", "type": "bio", "lines": "second bio"})
    assert {r["text"] for r in content.list_content(ws, "Alice") if r["type"] == "bio"} == {"second bio"}


def test_a_bad_text_is_refused_and_nothing_is_written(browser, ws, ws_path, scene):
    before = state(ws, ws_path)
    page = post(browser, "/content/texts", {"pool": "alice", "type": "bio", "lines": "ok\n" + "y" * 151})
    assert page.code == 400 and "bio line 2: a bio text of 151 characters" in page.text
    page = post(browser, "/content/texts", {"pool": "alice", "type": "pfp", "lines": "x"})
    assert "not a text pool" in page.text
    assert state(ws, ws_path) == before


# -- template sets ---------------------------------------------------------------------------------------------
def test_create_rename_and_delete_a_template_set(browser, ws, ws_path, scene):
    page = post(browser, "/content/set-create", {"name": "summer"})
    assert "template set summer created" in flash(browser, page)
    assert page.location == "/content/_templates/summer"
    assert (ws_path / "content/_templates/summer/pfp").is_dir()
    upload(browser, "_templates/summer", "story", ("s.jpg", IMAGE_BYTES))
    assert (ws_path / "content/_templates/summer/story/s.jpg").is_file()
    page = post(browser, "/content/set-rename", {"old": "summer", "new": "sunny"})
    assert "renamed to sunny" in flash(browser, page)
    assert (ws_path / "content/_templates/sunny/story/s.jpg").is_file()
    page = browser.get("/content/_templates/sunny")
    cid = ws.db().scalar("SELECT id FROM content WHERE set_id IS NOT NULL")
    assert f"/content/images/{cid}" in page.text and browser.get(f"/content/images/{cid}").code == 200
    before = state(ws, ws_path)
    assert "tick the box" in post(browser, "/content/set-delete", {"name": "sunny"}).text
    assert state(ws, ws_path) == before
    page = post(browser, "/content/set-delete", {"name": "sunny", "confirm": "1"})
    assert "1 item(s) retired" in flash(browser, page)
    assert not (ws_path / "content/_templates/sunny").exists()
    kinds = [e["kind"] for e in events_by(ws, ACTOR) if e["kind"].startswith("content.set")]
    assert kinds == ["content.set_created", "content.set_renamed", "content.set_deleted"]


def test_set_refusals_show_the_engines_message_and_change_nothing(browser, ws, ws_path, scene, igctl):
    igctl("content", "set-create", "summer")
    (ws_path / "models/alice.yaml").write_text("templates: [summer]\n", encoding="utf-8")
    igctl("model", "sync", "Alice")
    before = state(ws, ws_path)
    assert "content type folder" in post(browser, "/content/set-create", {"name": "post"}).text
    assert "exists already" in post(browser, "/content/set-create", {"name": "summer"}).text
    page = post(browser, "/content/set-delete", {"name": "summer", "confirm": "1"})
    assert page.code == 409 and "listed by model(s) Alice" in page.text
    assert "listed by model(s) Alice" in post(browser, "/content/set-rename", {"old": "summer", "new": "x"}).text
    assert state(ws, ws_path) == before
    assert "listed by Alice" in browser.get("/content/_templates/summer").text
