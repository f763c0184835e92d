"""The operator's dashboard at the WSGI level (fast): the password, login, sessions, CSRF, every
page, every action through the engine with the operator as actor, refusals that change nothing,
and the figures of the pages against the `--json` of the matching CLI commands."""

from __future__ import annotations

import json
import re

import pytest
from dashboard_helpers import PASSWORD, Browser, browser, dash, events_by, scene  # noqa: F401  (fixtures)
from warmup_helpers import add_accounts, add_bot, snapshot

from igctl.dashboard import create_app
from igctl.dashboard.app import LoginThrottle, local_path
from igctl.engine.domain import operators


# -- the password -----------------------------------------------------------------------------------
def test_set_password_asks_twice_and_keeps_only_a_slow_hash(igctl, ws, ws_path):
    out = igctl("dashboard", "set-password", input="s3cret-password\ns3cret-password\n")
    assert "Dashboard password set." in out.stdout
    stored = ws.db().scalar("SELECT value FROM meta WHERE key = 'dashboard.password'")
    assert stored.startswith("scrypt$16384$8$1$") and "s3cret-password" not in stored
    assert operators.verify_password("s3cret-password", stored) and not operators.verify_password(
        "s3cret-passwore", stored
    )
    assert b"s3cret-password" not in (ws_path / "igctl.db").read_bytes()
    assert not any(b"s3cret-password" in p.read_bytes() for p in (ws_path / "logs").iterdir())
    kinds = [r["kind"] for r in ws.db().query("SELECT kind FROM events ORDER BY id")]
    assert kinds[-2:] == ["command", "dashboard.password_set"]
    assert "changed" in igctl("dashboard", "set-password", input="another-pass\nanother-pass\n").stdout


@pytest.mark.parametrize(
    "given, message",
    [
        ("abcdefgh1\nabcdefgh2\n", "the two passwords differ"),
        ("short\nshort\n", "at least 8 characters"),
        ("only-one-line\n", "give the new password twice"),
        (" padded-pass\n padded-pass\n", "must not start or end with a space"),
    ],
)
def test_set_password_bad_input_changes_nothing(igctl, ws, given, message):
    before = snapshot(ws)
    assert message in igctl.error("dashboard", "set-password", input=given)
    assert snapshot(ws) == before
    assert not operators.has_password(ws)


def test_password_length_boundaries():
    operators.check_password("x" * operators.MIN_PASSWORD_CHARS)
    operators.check_password("x" * operators.MAX_PASSWORD_CHARS)
    for bad in ("x" * (operators.MIN_PASSWORD_CHARS - 1), "x" * (operators.MAX_PASSWORD_CHARS + 1)):
        with pytest.raises(Exception, match="at (least|most)"):
            operators.check_password(bad)


def test_serving_needs_a_password_first(igctl, ws):
    assert "set-password" in igctl.error("dashboard", "--port", "0")


def test_password_is_never_an_argument(igctl, ws):
    assert igctl("dashboard", "set-password", "abcdefgh1", expect=2).exit_code == 2


# -- login, sessions, CSRF --------------------------------------------------------------------------
def test_login_sets_an_httponly_samesite_cookie_and_logs_the_operator(dash, ws):
    b = Browser(dash)
    first = b.get("/models/1/accounts?view=available")
    assert first.code == 303 and first.location.startswith("/login?next=%2Fmodels%2F1%2Faccounts%3Fview%3Davailable")
    page = b.login(operator="alice")
    assert page.code == 303 and page.location == "/"
    cookie = next(v for k, v in page.headers if k == "Set-Cookie" and v.startswith("igctl_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie and "Secure" not in cookie
    assert [e["kind"] for e in events_by(ws, "operator:alice")] == ["dashboard.login"]
    token = b.cookies["igctl_session"]
    assert token not in json.dumps([dict(r) for r in ws.db().query("SELECT * FROM meta")])  # only its hash is kept
    assert b.get("/").code == 200


def test_secure_cookie_behind_a_tls_proxy(igctl, ws):
    igctl("dashboard", "set-password", input=f"{PASSWORD}\n{PASSWORD}\n")
    page = Browser(create_app(ws, secure_cookies=True)).login()
    assert "Secure" in next(v for k, v in page.headers if k == "Set-Cookie" and v.startswith("igctl_session="))


def test_wrong_password_gets_a_clear_page_and_no_session(dash, ws):
    b = Browser(dash)
    before = ws.db().query("SELECT key FROM meta ORDER BY key")
    page = b.login(password="not the password")
    assert page.code == 401 and "Wrong password. Nothing was changed." in page.text
    assert "igctl_session" not in b.cookies
    assert ws.db().query("SELECT key FROM meta ORDER BY key") == before
    assert [e["kind"] for e in events_by(ws, "operator:alice")] == ["dashboard.login_failed"]
    assert b.get("/").code == 303


def test_login_form_without_its_token_is_refused(dash):
    b = Browser(dash)
    b.get("/login")
    page = b.post("/login", {"password": PASSWORD, "next": "/"})
    assert page.code == 403 and "no valid token" in page.text and "igctl_session" not in b.cookies


def test_bad_operator_name_is_refused(dash):
    page = Browser(dash).login(operator="eve<script>")
    assert page.code == 400 and "operator name" in page.text and "<script>" not in page.text


def test_login_throttle_after_ten_wrong_passwords(dash):
    b = Browser(dash, address="10.9.9.9")
    for _ in range(10):
        assert b.login(password="wrong-password").code == 401
    page = b.login()  # even the right password waits now
    assert page.code == 429 and page.header("Retry-After") == "60"
    assert Browser(dash, address="10.9.9.8").login().code == 303  # other addresses are not throttled


def test_throttle_window_boundary():
    now = [0.0]
    t = LoginThrottle(allowed=2, window=60, clock=lambda: now[0])
    t.failed("a")
    t.failed("a")
    now[0] = 59.9
    assert t.blocked("a")
    now[0] = 60.0
    assert not t.blocked("a")


def test_next_only_goes_to_a_path_on_this_site():
    assert local_path("/models/1/accounts?view=b") == "/models/1/accounts?view=b"
    for bad in ("//evil.example/x", "https://evil.example/", "evil", "/\\evil", "", None):
        assert local_path(bad) == "/"


def test_missing_or_wrong_csrf_token_is_refused_and_changes_nothing(browser, ws, scene):
    before = snapshot(ws)
    for data in ({"usernames": "warm00001"}, {"usernames": "warm00001", "csrf_token": "forged"}):
        page = browser.post("/review/retry", data)
        assert page.code == 403 and "no valid CSRF token" in page.text and "Nothing was changed" in page.text
    assert snapshot(ws) == before


def test_session_expires_after_twelve_hours(browser, ws, scene, clock):
    clock.set("2026-03-02T21:59:00")  # logged in at 10:00: just inside
    assert browser.get("/").code == 200
    csrf = browser.csrf()
    clock.set("2026-03-02T22:00:00")  # exactly 12 hours: over
    page = browser.get("/review")
    assert page.code == 303 and "expired=1" in page.location
    assert "Your session has expired" in browser.get(page.location).text
    before = snapshot(ws)
    page = browser.post("/review/retry", {"usernames": "warm00001", "csrf_token": csrf})
    assert page.code == 401 and "Your session has expired" in page.text and "Nothing was changed" in page.text
    assert snapshot(ws) == before


def test_logout_ends_the_session(browser, ws):
    token = browser.cookies["igctl_session"]
    page = browser.post("/logout", {"csrf_token": browser.csrf()})
    assert page.code == 303 and page.location == "/login?out=1"
    assert "igctl_session" not in browser.cookies
    assert operators.session(ws, token) is None
    browser.cookies["igctl_session"] = token  # a copied cookie opens nothing any more
    assert browser.get("/").code == 303
    assert [e["kind"] for e in events_by(ws, "operator:alice")][-1] == "dashboard.logout"


def test_a_new_password_ends_every_session(igctl, browser, ws):
    igctl("dashboard", "set-password", input="brand-new-pass\nbrand-new-pass\n")
    assert browser.get("/").code == 303


def test_pages_carry_security_headers(browser):
    page = browser.get("/")
    assert page.header("X-Frame-Options") == "SAMEORIGIN" and page.header("X-Content-Type-Options") == "nosniff"
    assert "script-src 'self'" in page.header("Content-Security-Policy") and page.header("Cache-Control") == "no-store"


# -- pages --------------------------------------------------------------------------------------------
def test_every_page_renders(browser, scene):
    mid = scene["model_id"]
    pages = {
        "/": ["Alice", "Fleet", f'href="/models/{mid}/accounts"'],
        f"/models/{mid}/accounts": ["A · Overview", "No accounts in this model yet"],
        f"/models/{mid}/accounts?view=available": ["ready00001", "usready00001", "Assign selected to this model"],
        f"/models/{mid}/accounts?view=pipeline": ["Step 1 · change_pfp", "warm00001", "challenge on warm00001"],
        f"/models/{mid}/accounts?view=proxies": [
            "Free proxies with room",
            "10.1.0.2:8080",
            "Put an account on a proxy",
        ],
        f"/models/{mid}/accounts?view=attention": ["Nothing needs attention."],
        "/accounts": ["ready00001", "warm00002"],
        "/accounts/warm00001": ["human_review", "Retry the stuck step", "challenge on warm00001", "Step log", "Events"],
        "/proxies": ["10.1.0.2:8080", "US"],
        "/bots": ["phone1"],
        "/review": ["warm00001", "Retry selected", "Resolve selected"],
        "/report": ["Accounts by state", "Warm-up steps", 'src="/report/charts?"'],
        "/import": ["accounts", "proxies", 'enctype="multipart/form-data"'],
    }
    for path, wanted in pages.items():
        page = browser.get(path)
        assert page.code == 200, (path, page.text)
        for text in wanted:
            assert text in page.text, (path, text)
    charts = browser.get("/report/charts?since=2026-03-01")
    assert (
        charts.code == 200
        and "chart-funnel" in charts.text
        and "unsafe-inline" in charts.header("Content-Security-Policy")
    )


def everything(ws) -> dict:
    """Every row of every table, and every byte under logs/: what a page view must leave alone."""
    db = ws.db()
    tables = [r[0] for r in db.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    state: dict = {t: [tuple(r) for r in db.query(f'SELECT * FROM "{t}" ORDER BY rowid')] for t in tables}
    state["logs/"] = sorted(
        (str(p.relative_to(ws.path)), p.read_bytes()) for p in (ws.path / "logs").rglob("*") if p.is_file()
    )
    return state


def test_a_page_view_never_writes(browser, ws, scene, clock):
    """GET every page over a lived-in workspace (a model whose strategy file was edited and not
    applied, content not synced, a screenshot, accounts in review, hours later): the
    database and the logs are as they were."""
    from igctl.engine.domain import evidence

    mid = scene["model_id"]
    task_id = ws.db().scalar(
        "SELECT id FROM tasks WHERE account_id = (SELECT id FROM accounts WHERE username = 'warm00001')"
    )
    evidence.add_screenshot(ws, task_id, scene["bot"], b"\x89PNG\r\n\x1a\n" + b"\x00" * 32)
    strategy = ws.path / "models" / "alice.yaml"
    strategy.write_text(strategy.read_text(encoding="utf-8") + "\nmax_accounts: 2\n", encoding="utf-8")
    for pool in ("_templates", "alice"):
        (ws.path / "content" / pool / "post").mkdir(parents=True, exist_ok=True)
        (ws.path / "content" / pool / "post" / "new-unsynced.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x01" * 40)
    clock.set("2026-03-02T21:00:00")  # later the same day (the session lasts 12 hours)
    screenshot = f"/accounts/warm00001/screenshots/{ws.db().scalar('SELECT max(id) FROM step_log WHERE screenshot_path IS NOT NULL')}"
    pages = [
        "/",
        "/health",
        "/login",
        "/accounts",
        "/accounts/warm00001",
        "/accounts/ready00001",
        "/accounts/warm00002",
        screenshot,
        "/proxies",
        "/bots",
        "/review",
        "/report",
        "/report?since=2026-03-01",
        "/report/charts",
        "/report/charts?model=Alice",
        "/import",
        "/no/such/page",
        "/accounts/nobody",
        "/models/999/accounts",
    ]
    pages += [
        f"/models/{mid}/accounts?view={view}" for view in ("overview", "available", "pipeline", "proxies", "attention")
    ]
    pages += [f"/models/{mid}/accounts?view=available&location=US&max_retries=0&min_followers=0"]
    # the pages of issue 15: model forms, content, bots and the console (a task the bot holds)
    from igctl.engine.flows import botwork, models

    models.assign(ws, "Alice", usernames=["ready00001"], actor="test")
    held = botwork.claim_next(ws, scene["bot"])
    content_id = ws.db().scalar("SELECT min(id) FROM content WHERE path IS NOT NULL")
    pages += ["/models/new", f"/models/{mid}/strategy", f"/models/{mid}/delete", f"/proxies/{scene['p1']}/replace"]
    pages += [f"/bots/{scene['bot']}", f"/bots/{scene['bot']}/revoke", f"/bots/{scene['bot']}/console"]
    pages += [f"/bots/{scene['bot']}/console/tasks/{held['task_id']}", f"/content/images/{content_id}"]
    pages += ["/content", "/content/alice", "/content/_templates", "/content/_templates/nosuchset"]
    before = everything(ws)
    visited = set()
    for path in pages:
        page = browser.get(path)
        assert page.code in (200, 404), (path, page.code, page.text)
        if path != "/no/such/page":
            route, _ = browser.app.router.match({"PATH_INFO": path.partition("?")[0], "REQUEST_METHOD": "GET"})
            visited.add(route.rule)
    assert everything(ws) == before
    # a new page cannot be left out of this test
    every_get = {r.rule for r in browser.app.routes if r.method == "GET" and not r.rule.startswith("/static/")}
    assert every_get - visited == set()


def test_unknown_things_get_a_clear_page(browser, scene):
    assert "no model with id 999" in browser.get("/models/999/accounts").text
    assert browser.get("/accounts/nobody").code == 404
    assert browser.get("/no/such/page").code == 404
    bad = browser.get(f"/models/{scene['model_id']}/accounts?view=available&max_retries=-1")
    # the engine's rule and words (views/models.py), as `model show --max-retries -1` says them
    assert bad.code == 400 and "the maximum of warm-up retries must be a whole number of at least 0" in bad.text
    bad = browser.get(f"/models/{scene['model_id']}/accounts?view=available&max_retries=many")
    assert bad.code == 400 and "max retries must be a whole number" in bad.text  # the form field is not a number
    assert "unknown view" in browser.get(f"/models/{scene['model_id']}/accounts?view=nope").text
    assert "not a date" in browser.get("/report?since=yesterday").text


def test_available_filters_as_the_cli(igctl, browser, scene):
    mid = scene["model_id"]
    page = browser.get(f"/models/{mid}/accounts?view=available&location=US")
    assert "usready00001" in page.text and ">ready00001<" not in page.text
    cli = igctl.json("model", "show", "Alice", "--view", "available", "--location", "US")
    assert [r["username"] for r in cli] == re.findall(r'<tr data-username="([^"]+)"', page.text)


# -- actions ------------------------------------------------------------------------------------------
def test_assign_two_selected_accounts(igctl, browser, ws, scene):
    mid = scene["model_id"]
    csrf = browser.get(f"/models/{mid}/accounts?view=available").csrf
    page = browser.post(
        f"/models/{mid}/assign", [("csrf_token", csrf), ("usernames", "ready00001"), ("usernames", "ready00002")]
    )
    assert page.code == 303 and page.location == f"/models/{mid}/accounts?view=overview"
    overview = browser.get(page.location)
    assert "2 account(s) assigned to Alice: ready00001, ready00002" in overview.text
    assert re.findall(r'<tr data-username="([^"]+)"', overview.text) == ["ready00001", "ready00002"]
    assert [a["username"] for a in igctl.json("accounts", "list", "--model", "Alice")] == ["ready00001", "ready00002"]
    command = [e for e in events_by(ws, "operator:alice") if e["kind"] == "command"]
    assert command[-1]["message"] == "model assign" and json.loads(command[-1]["details_json"])["via"] == "dashboard"
    moves = [e for e in events_by(ws, "operator:alice") if e["kind"] == "account.state"]
    assert {(e["old_state"], e["new_state"]) for e in moves} == {("ready", "active")}
    assert "flash" not in browser.get("/").text  # the message is shown once


def test_assign_best_n_and_refusals_change_nothing(browser, ws, scene):
    mid = scene["model_id"]
    csrf = browser.csrf()
    before = snapshot(ws)
    for data, message in (
        # the engine's rules and words (flows/models.py assign), as the CLI says them
        ({"csrf_token": csrf}, "give a number of accounts or their usernames, not both"),
        ({"csrf_token": csrf, "usernames": "ready00001", "count": "2"}, "not both"),
        ({"csrf_token": csrf, "count": "0"}, "the number of accounts must be a whole number of at least 1"),
        ({"csrf_token": csrf, "count": "two"}, "count must be a whole number"),
        ({"csrf_token": csrf, "usernames": "warm00001"}, "warm00001"),  # not ready: the engine refuses
        ({"csrf_token": csrf, "usernames": "ghost"}, "ghost"),
    ):
        page = browser.post(f"/models/{mid}/assign", data)
        assert page.code in (400, 404, 409) and message in page.text and "Not done" in page.text, (data, page.text)
    assert snapshot(ws) == before
    page = browser.post(f"/models/{mid}/assign", {"csrf_token": csrf, "count": "1"})
    assert "1 account(s) assigned to Alice" in browser.get(page.location).text


def test_retry_and_resolve_single_and_bulk(igctl, browser, ws, scene):
    csrf = browser.csrf()
    page = browser.post("/review/retry", {"csrf_token": csrf, "usernames": "warm00001", "next": "/review"})
    assert page.code == 303 and page.location == "/review"
    assert "Queued again, due now: warm00001 (change_pfp)." in browser.get("/review").text
    assert igctl.json("accounts", "show", "warm00001")["lifecycle_state"] == "warming_up"
    before = snapshot(ws)
    refused = browser.post("/review/resolve", {"csrf_token": csrf, "usernames": "warm00002", "note": "  "})
    assert refused.code == 400 and "a note saying what was done is required to resolve a review" in refused.text
    refused = browser.post("/review/retry", {"csrf_token": csrf})
    assert refused.code == 400 and "name at least one account" in refused.text
    refused = browser.post("/review/retry", {"csrf_token": csrf, "usernames": ["warm00002", "warm00001"]})
    assert refused.code == 409 and "not in human review: warm00001" in refused.text
    assert snapshot(ws) == before
    page = browser.post(
        "/review/resolve", {"csrf_token": csrf, "usernames": ["warm00002"], "note": "fixed on the phone"}
    )
    assert "warm00002 (change_pfp) → warming_up" in browser.get(page.location).text
    resolved = [e for e in events_by(ws, "operator:alice") if e["kind"] == "account.review_resolved"]
    assert "fixed on the phone" in resolved[0]["message"]


def test_account_actions_move_and_retire(igctl, browser, ws, scene):
    add_bot(ws, "phone2")
    csrf = browser.csrf()
    page = browser.post("/accounts/ready00003/move", {"csrf_token": csrf, "bot": "phone2"})
    assert "ready00003 moved to bot phone2 slot 1." in browser.get(page.location).text
    before = snapshot(ws)
    assert browser.post("/accounts/ready00003/retire", {"csrf_token": csrf, "reason": " "}).code == 400
    assert browser.post("/accounts/ready00003/move", {"csrf_token": csrf, "bot": "nobot"}).code == 404
    assert snapshot(ws) == before
    page = browser.post("/accounts/ready00003/retire", {"csrf_token": csrf, "reason": "banned"})
    assert "ready00003 retired (was ready)." in browser.get(page.location).text
    assert igctl.json("accounts", "show", "ready00003")["lifecycle_state"] == "retired"
    assert browser.post("/accounts/ready00003/retire", {"csrf_token": csrf, "reason": "again"}).code == 409


def test_account_page_shows_a_failed_steps_screenshot(browser, ws, scene):
    from igctl.engine.domain import evidence

    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
    task_id = ws.db().scalar(
        "SELECT id FROM tasks WHERE account_id = (SELECT id FROM accounts WHERE username = 'warm00001')"
    )
    evidence.add_screenshot(ws, task_id, scene["bot"], png)
    page = browser.get("/accounts/warm00001")
    [url] = set(re.findall(r'src="(/accounts/warm00001/screenshots/\d+)"', page.text))
    shot = browser.get(url)
    assert shot.code == 200 and shot.header("Content-Type") == "image/png"
    assert browser.get("/accounts/warm00002/screenshots/1").code == 404


def test_proxy_status_and_assignment(igctl, browser, ws, scene):
    add_accounts(ws, 1, state="imported", prefix="loose")
    csrf = browser.csrf()
    page = browser.post(f"/proxies/{scene['p2']}/status", {"csrf_token": csrf, "status": "inactive"})
    assert f"Proxy {scene['p2']}: active → inactive." in browser.get(page.location).text
    before = snapshot(ws)
    assert browser.post(f"/proxies/{scene['p2']}/status", {"csrf_token": csrf, "status": "broken"}).code == 400
    refused = browser.post(
        "/proxies/assign", {"csrf_token": csrf, "username": "loose00001", "proxy_id": str(scene["p2"])}
    )
    assert refused.code in (400, 409) and "Not done" in refused.text
    assert snapshot(ws) == before
    page = browser.post("/proxies/assign", {"csrf_token": csrf, "username": "loose00001", "next": "/proxies"})
    proxy_id = igctl.json("accounts", "show", "loose00001")["proxy_id"]
    assert proxy_id not in (None, scene["p1"], scene["p2"])  # p1 is full, p2 inactive
    assert f"loose00001 is on proxy {proxy_id}; state proxy_assigned." in browser.get(page.location).text


def test_import_accounts_reports_duplicates_and_bad_lines(igctl, browser, ws, scene):
    content = b"fresh1,Fresh1-Secret-Zq,f1@example.com\nready00001,pw,dup@example.com\nbad user,pw,x@example.com\nfresh2,pw2,f2@example.com\nfresh1,pw,again@example.com\n"
    page = browser.post(
        "/import", {"csrf_token": browser.csrf(), "kind": "accounts"}, files={"file": ("new.txt", content)}
    )
    assert page.code == 200
    assert page.figure("imported") == "2" and page.figure("duplicates") == "2" and page.figure("invalid") == "1"
    rows = re.findall(r'<tr class="(\w+)"><td>(\d+)</td>', page.text)
    assert rows == [("duplicate", "2"), ("invalid", "3"), ("duplicate", "5")]
    assert {a["username"] for a in igctl.json("accounts", "list", "--state", "proxy_assigned")} >= {"fresh1", "fresh2"}
    assert b"Fresh1-Secret-Zq" not in (ws.path / "igctl.db").read_bytes()
    assert not list(ws.path.rglob("new.txt"))
    assert [e["message"] for e in events_by(ws, "operator:alice") if e["kind"] == "command"] == ["accounts import"]


def test_import_proxies_and_refused_files(browser, ws, scene):
    csrf = browser.csrf()
    page = browser.post(
        "/import",
        {"csrf_token": csrf, "kind": "proxies", "location": "FR"},
        files={"file": ("p.txt", b"10.2.0.1:3128\n10.1.0.1:8080:u1:p1\nnot a proxy\n")},
    )
    assert page.figure("imported") == "1" and page.figure("duplicates") == "1" and page.figure("invalid") == "1"
    before = snapshot(ws)
    bad = browser.post("/import", {"csrf_token": csrf, "kind": "accounts"}, files={"file": ("b.bin", b"\x00\x01\x02")})
    assert bad.code == 400 and "not a text file" in bad.text
    assert browser.post("/import", {"csrf_token": csrf, "kind": "photos"}, files={"file": ("a.txt", b"x")}).code == 400
    assert browser.post("/import", {"csrf_token": csrf, "kind": "accounts"}).code == 400
    assert snapshot(ws) == before


# -- consistency with the CLI ---------------------------------------------------------------------------
def test_page_figures_equal_the_cli_json(igctl, browser, ws, scene):
    mid = scene["model_id"]
    csrf = browser.csrf()
    browser.post(f"/models/{mid}/assign", {"csrf_token": csrf, "usernames": ["ready00001", "ready00002"]})
    home = browser.get("/")
    [model] = igctl.json("model", "list")
    for key in ("active", "onboarding", "cleanup", "human_review", "tasks_done_7d", "tasks_failed_7d"):
        assert home.figure(f"model-{mid}-{key}") == str(model[key]), key
    report = igctl.json("report")
    for state, n in report["accounts_by_state"].items():
        assert home.figure(f"state-{state}") == str(n)
    assert home.figure("fleet-free-slots") == str(report["proxies"]["free_slots"])
    assert home.figure("fleet-proxies-with-room") == str(len(igctl.json("proxy", "list", "--free")))
    assert home.figure("fleet-bots-online") == str(sum(b["online"] for b in igctl.json("bot", "list")))
    page = browser.get("/report")
    for state, n in report["accounts_by_state"].items():
        assert page.figure(f"report-state-{state}") == str(n)
    for step, figures in report["warmup_steps"].items():
        assert page.figure(f"report-step-{step}-failed") == str(figures["failed"])
    for f in report["conversion"]["funnel"]:
        assert page.figure(f"report-funnel-{f['stage']}") == str(f["accounts"])
    proxies_page = browser.get("/proxies")
    for p in igctl.json("proxy", "list"):
        assert proxies_page.figure(f"proxy-{p['id']}-account_count") == str(p["account_count"])
    assert browser.get("/review").figure("review-items") == str(len(igctl.json("review", "list")))
    bots_page = browser.get("/bots")
    for b in igctl.json("bot", "list"):
        assert bots_page.figure(f"bot-{b['id']}-bound_accounts") == str(b["bound_accounts"])
    overview = browser.get(f"/models/{mid}/accounts")
    cli = igctl.json("model", "show", "Alice")
    assert re.findall(r'<tr data-username="([^"]+)"', overview.text) == [r["username"] for r in cli]
    pipeline = igctl.json("model", "show", "Alice", "--view", "pipeline")
    page = browser.get(f"/models/{mid}/accounts?view=pipeline")
    for s in pipeline["warmup"]["steps"]:
        assert page.figure(f"pipeline-step-{s['step_number']}") == str(s["accounts"])
    accounts_page = browser.get("/accounts")
    assert accounts_page.figure("accounts-count") == str(len(igctl.json("accounts", "list")))
