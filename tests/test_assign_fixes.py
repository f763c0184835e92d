"""Issue 15, point 8: "the best N" on the Available tab takes the filters shown on screen, and a
model whose pool cannot serve its onboarding is refused accounts, saying what is missing
(the CLI and the dashboard, the same engine rule)."""

from __future__ import annotations

import re
import shutil

from dashboard_helpers import browser, dash, scene  # noqa: F401  (fixtures)
from warmup_helpers import IMAGE_BYTES, snapshot


def available_form(page) -> dict[str, str]:
    form = re.search(r'<form method="post" action="/models/\d+/assign" id="assign-form">(.*?)</form>', page.text, re.S)
    assert form, page.text
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form.group(1)))


def test_best_n_takes_the_location_shown(igctl, browser, ws, scene):
    mid = scene["model_id"]
    page = browser.get(f"/models/{mid}/accounts?view=available&location=US")
    assert "usready00001" in page.text and 'data-username="ready00001"' not in page.text
    fields = available_form(page)
    assert fields["location"] == "US" and "max_retries" not in fields and "eligible of those shown" in page.text
    reply = browser.post(f"/models/{mid}/assign", {**fields, "count": "3"})
    assert reply.code == 303
    assert "1 account(s) assigned to Alice: usready00001" in browser.get(reply.location).text
    states = {a["username"]: a["lifecycle_state"] for a in igctl.json("accounts", "list")}
    assert states["usready00001"] == "active"
    assert all(states[f"ready0000{i}"] == "ready" for i in (1, 2, 3))  # the DE ones stay
    event = ws.db().one("SELECT details_json FROM events WHERE kind = 'command' ORDER BY id DESC LIMIT 1")
    assert '"location": "US"' in event["details_json"] and '"count": 3' in event["details_json"]


def test_best_n_takes_the_retry_and_follower_filters_and_refuses_bad_ones(browser, ws, scene):
    mid = scene["model_id"]
    page = browser.get(f"/models/{mid}/accounts?view=available&min_followers=10")
    fields = (
        available_form(page) if "assign-form" in page.text else {"csrf_token": browser.csrf(), "min_followers": "10"}
    )
    assert fields["min_followers"] == "10"
    reply = browser.post(f"/models/{mid}/assign", {**fields, "count": "2"})
    # no account has reported followers: none is eligible, none assigned
    assert "0 account(s) assigned to Alice." in browser.get(reply.location).text
    before = snapshot(ws)
    bad = browser.post(f"/models/{mid}/assign", {**fields, "min_followers": "-1", "count": "1"})
    assert bad.code == 400 and "the minimum of followers must be a whole number of at least 0" in bad.text
    bad = browser.post(f"/models/{mid}/assign", {**fields, "max_retries": "x", "count": "1"})
    assert bad.code == 400 and "max retries must be a whole number" in bad.text
    assert snapshot(ws) == before


def empty_pool(ws, slug: str) -> None:
    """Take every item out of a model's pool (its folder and the template sets it lists stay
    as they are), and sync."""
    shutil.rmtree(ws.content_dir / slug / "pfp")
    (ws.content_dir / slug / "texts.yaml").write_text("bio: []\n", encoding="utf-8")


def test_a_model_without_onboarding_content_is_refused_accounts(igctl, browser, ws, scene):
    mid = scene["model_id"]
    empty_pool(ws, "alice")
    igctl("content", "sync", "Alice")
    before = snapshot(ws)
    error = igctl.error("model", "assign", "Alice", "--count", "2")
    assert "model Alice cannot take accounts yet" in error
    assert "a pfp image for change_pfp (put it in content/alice/pfp/)" in error
    assert "a bio text for change_bio (put it in content/alice/texts.yaml under bio:)" in error
    assert "it lists no template set" in error
    assert "model Alice cannot take accounts yet" in igctl.error("model", "assign", "Alice", "ready00001")
    page = browser.post(f"/models/{mid}/assign", {"csrf_token": browser.csrf(), "usernames": ["ready00001"]})
    assert page.code == 409 and "Not done" in page.text and "a pfp image for change_pfp" in page.text
    assert snapshot(ws) == before
    assert igctl.json("accounts", "show", "ready00001")["lifecycle_state"] == "ready"

    # a bio only: the message names just the image
    (ws.content_dir / "alice" / "texts.yaml").write_text("bio: [hello]\n", encoding="utf-8")
    igctl("content", "sync", "Alice")
    error = igctl.error("model", "assign", "Alice", "--count", "1")
    assert "a pfp image for change_pfp" in error and "bio" not in error

    # an `any` image serves a pfp step; then the model takes accounts
    (ws.content_dir / "alice" / "any").mkdir(parents=True, exist_ok=True)
    (ws.content_dir / "alice" / "any" / "x.jpg").write_bytes(IMAGE_BYTES + b"x")
    igctl("content", "sync", "Alice")
    assert igctl.json("model", "assign", "Alice", "ready00001")["assigned"] == ["ready00001"]


def test_a_template_set_the_model_lists_serves_its_onboarding(igctl, ws, scene):
    empty_pool(ws, "alice")
    igctl("content", "sync", "Alice")
    strategy = ws.path / "models" / "alice.yaml"
    strategy.write_text(strategy.read_text(encoding="utf-8") + "\ntemplates: true\n", encoding="utf-8")
    igctl("model", "sync", "Alice")
    # the default set (seeded by the scene) has pfp images and bios
    assert igctl.json("model", "assign", "Alice", "--count", "1")["assigned"] == ["ready00001"]


def test_a_disabled_item_does_not_count(igctl, ws, scene):
    shutil.rmtree(ws.content_dir / "alice" / "pfp")
    igctl("content", "sync", "Alice")
    (ws.content_dir / "alice" / "pfp").mkdir()
    (ws.content_dir / "alice" / "pfp" / "only.jpg").write_bytes(IMAGE_BYTES + b"only")
    igctl("content", "sync", "Alice")
    only = next(r for r in igctl.json("content", "list", "Alice") if r["path"] and r["path"].endswith("only.jpg"))
    igctl("content", "disable", str(only["content_id"]))
    assert "a pfp image for change_pfp" in igctl.error("model", "assign", "Alice", "--count", "1")
    igctl("content", "enable", str(only["content_id"]))
    assert igctl.json("model", "assign", "Alice", "--count", "1")["assigned"]
