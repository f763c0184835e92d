"""Issue 15's path through the dashboard, end to end: a real `igctl dashboard` process and
Debian's chromium (tests/test_dashboard_browser.py's fixtures). Create a model → upload images
and a bio pool → give it a template set → assign two ready accounts → run their onboarding from
the bot console → change one account's password and see the next claim carry it → delete the
model → watch the cleanup finish from the bot console. Screenshots of the new pages go to
docs/screenshots/."""

from __future__ import annotations

import re

from dashboard_helpers import scene  # noqa: F401  (the fixture server uses)
from test_dashboard_browser import PASSWORD, browser, pytestmark, server, shot, state_of  # noqa: F401

from igctl.demo import png

NEW_PASSWORD = "brand-new-secret-77"


def login(page, url: str) -> None:
    page.goto(url + "/login")
    page.fill("input[name=operator]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(url + "/")


def flash(page) -> str:
    return page.inner_text("#flash")


def run_console(page, url: str, bot_id: int, on_task=None) -> list[tuple[str, str]]:
    """Claim and complete this bot's tasks until none is due; `on_task(page, username)` looks at
    each task's page first. Returns (username, step) of each task done."""
    done = []
    for _ in range(20):
        page.goto(f"{url}/bots/{bot_id}/console")
        page.click("#claim-button")
        page.wait_for_load_state()
        if "/console/tasks/" not in page.url:
            assert "No task" in flash(page) or "nothing" in flash(page).lower(), flash(page)
            return done
        username = page.inner_text("#task-account")
        step = re.search(r"Task \d+ · \w+ (\w+)", page.inner_text("h1")).group(1)
        if on_task:
            on_task(page, username, step)
        page.click("#complete-button")
        page.wait_for_url(f"{url}/bots/{bot_id}/console")
        done.append((username, step))
    raise AssertionError(f"the console kept handing out tasks: {done}")


def test_issue_15_path_in_chromium(igctl, ws, server, browser, tmp_path):  # noqa: F811
    url, bot_id = server["url"], server["bot"]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    login(page, url)

    # 1. create a model
    page.goto(url + "/models/new")
    page.fill("input[name=name]", "Bella")
    page.fill("input[name=display_name]", "Bella Rose")
    shot(page, "model-create")
    page.click("#create-model-button")
    page.wait_for_load_state()
    assert "Bella" in flash(page)
    bella = igctl.json("model", "list")
    model_id = next(m["id"] for m in bella if m["name"] == "Bella")

    # 2. upload profile pictures and write a bio pool
    files = []
    for i in range(2):
        f = tmp_path / f"face{i}.png"
        f.write_bytes(png(96, 96, (200 - 60 * i, 120, 90 + 60 * i), seed=i))
        files.append(str(f))
    page.goto(url + "/content/bella")
    page.select_option("#upload-type", "pfp")
    page.set_input_files("#upload-files", files)
    page.click("#upload-submit")
    page.wait_for_load_state()
    assert "2 image(s) added" in flash(page)
    page.fill("#texts-form-bio textarea", "Bella bio one\nBella bio two")
    page.click("#texts-save-bio")
    page.wait_for_load_state()
    assert page.locator("#images-pfp img").count() == 2
    shot(page, "content-pool")

    # 3. a template set with a post image, given to the model in its strategy
    page.goto(url + "/content")
    page.fill("#set-create input[name=name]", "summer")
    page.click("#set-create button[type=submit]")
    page.wait_for_load_state()
    assert "template set summer created" in flash(page)
    post = tmp_path / "beach.png"
    post.write_bytes(png(120, 90, (40, 150, 210), seed=7))
    page.select_option("#upload-type", "post")
    page.set_input_files("#upload-files", [str(post)])
    page.click("#upload-submit")
    page.wait_for_load_state()
    page.goto(url + "/content")
    shot(page, "content")
    page.goto(f"{url}/models/{model_id}/strategy")
    page.check("input[name=templates][value=summer]")
    shot(page, "strategy-editor")
    page.click("#save-strategy")
    page.wait_for_load_state()
    assert "summer" in (ws.path / "models" / "bella.yaml").read_text(encoding="utf-8")
    strategy = ws.db().scalar("SELECT strategy_json FROM models WHERE name = 'Bella'")
    assert '"summer"' in strategy  # applied, as `model sync` would

    # 4. assign two ready accounts
    page.goto(f"{url}/models/{model_id}/accounts?view=available")
    page.check("input[name=usernames][value=ready00001]")
    page.check("input[name=usernames][value=ready00002]")
    page.click("#assign-selected")
    page.wait_for_url(f"{url}/models/{model_id}/accounts?view=overview")
    assert "2 account(s) assigned to Bella" in flash(page)

    # 5. their onboarding from the bot console
    def look(p, username, step):
        if not look.shot_taken:
            shot(p, "console-task")
            look.shot_taken = True
        assert p.locator("#task-content img").count() == (1 if step == "change_pfp" else 0)

    look.shot_taken = False
    onboarded = run_console(page, url, bot_id, look)
    assert sorted(onboarded) == sorted(
        [(u, s) for u in ("ready00001", "ready00002") for s in ("change_pfp", "change_bio")]
    ), onboarded
    page.goto(f"{url}/bots/{bot_id}")
    shot(page, "bot")
    onboarded_events = ws.db().query(
        "SELECT a.username FROM events e JOIN accounts a ON a.id = e.account_id WHERE e.kind = 'model.onboarded'"
    )
    assert sorted(r["username"] for r in onboarded_events) == ["ready00001", "ready00002"]
    assert state_of(igctl, "ready00001") == state_of(igctl, "ready00002") == "active"

    # 6. change one account's password
    page.goto(url + "/accounts/ready00001")
    page.fill("#credentials-form input[name=password]", NEW_PASSWORD)
    page.fill("#credentials-form input[name=password_repeat]", NEW_PASSWORD)
    page.click("#credentials-submit")
    page.wait_for_load_state()
    assert "password" in flash(page).lower()
    assert NEW_PASSWORD not in page.content()
    shot(page, "account-credentials")

    # 7. delete the model, behind its confirmation page
    page.goto(f"{url}/models/{model_id}/delete")
    assert "2" in page.inner_text("main")
    shot(page, "model-delete")
    page.click("#delete-model-button")
    page.wait_for_load_state()

    # 8. the cleanup from the console; the changed account's tasks carry the new password
    seen = []

    def check_password(p, username, step):
        if username == "ready00001":
            p.click("#reveal-button")
            p.wait_for_load_state()
            assert p.inner_text("#account-password") == NEW_PASSWORD
            seen.append(step)

    cleaned = run_console(page, url, bot_id, check_password)
    assert {s for _, s in cleaned} == {"reset_pfp", "reset_bio", "delete_posts"} and seen, cleaned
    assert state_of(igctl, "ready00001") == "ready" and state_of(igctl, "ready00002") == "ready"
    reveals = ws.db().query("SELECT actor FROM events WHERE kind = 'bot.credentials_revealed'")
    assert reveals and all(r["actor"] == "operator:alice" for r in reveals)
    for name, path in (("proxies", "/proxies"), ("bots", "/bots"), ("content-used", "/content/bella")):
        page.goto(url + path)
        shot(page, name)
    assert problems == []
    context.close()
