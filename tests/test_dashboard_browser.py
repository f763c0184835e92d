"""The dashboard end to end: a real `igctl dashboard` process on a free loopback port, driven by
headless Chromium (Debian's `chromium`, through Playwright with `executable_path`; Playwright's
own browser download is never used). The operator's day: log in, the model cards, a card's
accounts page and its five tabs, assigning two available accounts, retrying a review item,
importing a file with a duplicate and a bad line, logging out; and the clear pages for a wrong
password, a missing CSRF token and an expired session, each changing nothing. The screenshots
in docs/screenshots/ are taken here."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from dashboard_helpers import PASSWORD, scene  # noqa: F401  (the fixture)
from warmup_helpers import snapshot

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.slow,
    # CI installs chromium (.ci/run), so there a missing browser is a failure, not a skip.
    pytest.mark.skipif(
        CHROMIUM is None and not os.environ.get("CI"), reason="chromium is not installed (.ci/run installs it)"
    ),
]


@pytest.fixture
def server(igctl, ws, ws_path, scene):  # noqa: F811
    igctl("dashboard", "set-password", input=f"{PASSWORD}\n{PASSWORD}\n")
    env = {**os.environ, "IGCTL_WORKSPACE": str(ws_path), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "igctl", "dashboard", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        m = re.search(r"Serving the dashboard on (http://127\.0\.0\.1:\d+)", line)
        assert m, f"no start line: {line!r} {proc.stderr.read() if proc.poll() is not None else ''}"
        yield {"url": m.group(1), **scene}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        assert proc.returncode == 0, proc.stderr.read()


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "chromium is not installed: .ci/run installs it (apt-get install chromium)"
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def state_of(igctl, username: str) -> str:
    return igctl.json("accounts", "show", username)["lifecycle_state"]


def test_an_operators_day_in_chromium(igctl, ws, server, browser, tmp_path):
    url, mid = server["url"], server["model_id"]
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    problems = []
    page.on("pageerror", lambda e: problems.append(str(e)))

    # wrong password: a clear page, no session
    page.goto(url + "/")
    assert page.url.startswith(url + "/login")
    page.fill("input[name=operator]", "alice")
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    assert "Wrong password. Nothing was changed." in page.inner_text("#login-error")
    assert not [c for c in context.cookies() if c["name"] == "igctl_session"]
    shot(page, "login-wrong-password")

    # log in: the models dashboard
    page.fill("input[name=operator]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(url + "/")
    [cookie] = [c for c in context.cookies() if c["name"] == "igctl_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert page.locator("#model-cards .card").count() == 1
    assert "Alice" in page.inner_text("#model-cards")
    shot(page, "models")

    # a card leads to its accounts page; the five tabs
    page.click(f"#model-{mid}")
    page.wait_for_url(f"{url}/models/{mid}/accounts")
    assert page.locator("#view-overview").is_visible()
    for view in ("available", "pipeline", "proxies", "attention", "overview"):
        page.click(f"#tab-{view}")
        page.wait_for_url(f"{url}/models/{mid}/accounts?view={view}")
        assert page.locator(f"#view-{view}").is_visible()
        if view != "overview":
            shot(page, f"model-{view}")

    # select two available accounts and assign them
    page.click("#tab-available")
    page.check("input[name=usernames][value=ready00001]")
    page.check("input[name=usernames][value=ready00002]")
    page.click("#assign-selected")
    page.wait_for_url(f"{url}/models/{mid}/accounts?view=overview")
    assert "2 account(s) assigned to Alice: ready00001, ready00002" in page.inner_text("#flash")
    assert page.locator("#overview-table tbody tr").all_inner_texts()[0].strip().startswith("ready00001")
    assert page.locator("#overview-table tbody tr").count() == 2
    shot(page, "model-overview")
    assert state_of(igctl, "ready00001") == "active" and state_of(igctl, "ready00003") == "ready"

    # select-all (the one script) selects every eligible account
    page.click("#tab-available")
    page.check("input[data-select-all]")
    assert page.locator("input[name=usernames]:checked").count() == page.locator("input[name=usernames]").count() > 0

    # retry a review item
    page.click("text=Review")
    page.wait_for_url(url + "/review")
    shot(page, "review")
    page.locator('tr[data-username="warm00001"] button.retry').click()
    page.wait_for_url(url + "/review")
    assert "Queued again, due now: warm00001" in page.inner_text("#flash")
    assert state_of(igctl, "warm00001") == "warming_up"

    # a form without its CSRF token: refused, nothing changed
    before = snapshot(ws)
    page.evaluate("document.querySelectorAll('#retry-warm00002 input[name=csrf_token]').forEach(e => e.remove())")
    page.locator('tr[data-username="warm00002"] button.retry').click()
    assert "no valid CSRF token" in page.inner_text("#error") and "Nothing was changed" in page.inner_text("#error")
    shot(page, "csrf-refused")
    assert snapshot(ws) == before and state_of(igctl, "warm00002") == "human_review"

    # the account page
    page.goto(url + "/accounts/warm00002")
    assert "challenge on warm00002" in page.inner_text("#step-log")
    shot(page, "account")

    # import an accounts file with a duplicate and a bad line
    upload = tmp_path / "new-accounts.txt"
    upload.write_text(
        "fresh1,pw1,f1@example.com\nready00003,pw,dup@example.com\nbad user,pw,x@example.com\n", encoding="utf-8"
    )
    page.click("text=Import")
    page.check("input[name=kind][value=accounts]")
    page.set_input_files("input[name=file]", str(upload))
    page.click("#import-submit")
    result = page.inner_text("#import-result")
    assert "1 accounts imported" in result.replace("\n", " ")
    assert page.locator("#import-notes tr.duplicate").inner_text().split("\t")[:2] == ["2", "duplicate"]
    assert page.locator("#import-notes tr.invalid").inner_text().split("\t")[:2] == ["3", "invalid"]
    shot(page, "import")

    # the report with its charts
    page.click("text=Report")
    frame = page.frame_locator("#report-charts")
    frame.locator("#chart-sizes").wait_for(state="attached")
    page.wait_for_function(
        "() => { const f = document.querySelector('#report-charts').contentDocument;"
        " return f && f.querySelector('#chart-sizes') && f.querySelector('#chart-sizes').textContent.length > 0; }"
    )
    sizes = json.loads(page.frame_locator("#report-charts").locator("#chart-sizes").text_content())
    assert all(s["painted"] > 0 for s in sizes.values()), sizes
    shot(page, "report")

    # pages on a phone
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    phone.add_cookies(context.cookies())
    mobile = phone.new_page()
    mobile.goto(url + "/")
    assert mobile.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    shot(mobile, "models-phone")
    phone.close()

    # log out
    page.click("#logout")
    page.wait_for_url(url + "/login?out=1")
    assert "You are logged out." in page.content()
    page.goto(url + "/review")
    assert page.url.startswith(url + "/login")

    # an expired session: a clear page, nothing changed
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.goto(url + "/review")
    with sqlite3.connect(ws.db_path) as db:
        db.execute(
            "UPDATE meta SET value = json_set(value, '$.expires_at', '2000-01-01T00:00:00.000Z') "
            "WHERE key LIKE 'dashboard.session.%'"
        )
    before = snapshot(ws)
    page.locator('tr[data-username="warm00002"] button.retry').click()
    assert "Your session has expired" in page.inner_text("#error") and "Nothing was changed" in page.inner_text(
        "#error"
    )
    assert snapshot(ws) == before and state_of(igctl, "warm00002") == "human_review"
    page.goto(url + "/")
    assert page.url.startswith(url + "/login") and "Your session has expired" in page.content()
    assert problems == []
    context.close()
