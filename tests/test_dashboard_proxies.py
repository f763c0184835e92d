"""The dashboard's proxies page (issue 15, point 5): add one, test one or many for real (the
`proxy test` engine call through local proxies, tests/proxy_servers.py; no internet), replace,
remove an empty one. Each action is the CLI's engine call in one change named for the operator;
each refusal shows the engine's message on a "Not done" page and changes nothing."""

from __future__ import annotations

import json
import logging
import re

import pytest
import yaml
from dashboard_helpers import PASSWORD, Browser
from proxy_servers import echo, http_proxy, refusing_port, socks_proxy  # noqa: F401 - fixtures
from warmup_helpers import add_accounts, snapshot

from igctl.dashboard import create_app
from igctl.dashboard.pages.proxies import TEST_LIMIT
from igctl.engine.domain import proxies
from igctl.engine.store.workspace import Workspace

SECRET = "Zq7-hunter2-Proxy"


def events(ws, kind):
    return [
        dict(r) | {"details": json.loads(r["details_json"] or "null")}
        for r in ws.db().query("SELECT * FROM events WHERE kind = ? ORDER BY id", [kind])
    ]


@pytest.fixture
def pws(ws_path, echo):
    """The workspace, its check URL the local echo server (set before the workspace reads its
    settings), a short timeout."""
    path = ws_path / "igctl.yaml"
    data = yaml.safe_load(path.read_text())
    data["proxies"].update(check_url=echo.url, test_timeout_seconds=0.5)
    path.write_text(yaml.safe_dump(data))
    workspace = Workspace.open(ws_path)
    yield workspace
    workspace.close()


@pytest.fixture
def pbrowser(igctl, pws):
    igctl("dashboard", "set-password", input=f"{PASSWORD}\n{PASSWORD}\n")
    b = Browser(create_app(pws))
    assert b.login().code == 303
    return b


def post(browser, path, data=None):
    return browser.post(path, {"csrf_token": browser.csrf(), **(data or {})})


def refused(browser, ws, path, data, message, code=None):
    before = snapshot(ws)
    page = post(browser, path, data)
    assert "Not done" in page.text and message in page.text, (data, page.text)
    assert page.code == (code or page.code) and page.code in (400, 404, 409)
    assert snapshot(ws) == before
    return page


def flash(browser, page) -> str:
    assert page.code == 303, page.text
    return re.search(r'id="flash">([^<]*)<', browser.get(page.location).text).group(1)


# -- the page -----------------------------------------------------------------------------------------
def test_the_page_offers_every_action(pbrowser, pws):
    used = proxies.add(pws, f"10.1.0.1:8080:u1:{SECRET}", location="DE", actor="test")["id"]
    empty = proxies.add(pws, "10.1.0.2:8080", location="US", actor="test")["id"]
    add_accounts(pws, 2, state="ready", proxy_ids=[used])
    page = pbrowser.get("/proxies")
    assert page.code == 200
    for text in (
        'action="/proxies/add"',
        'href="/import?kind=proxies"',
        'id="test-selected-button"',
        f'name="proxy_ids" value="{used}" form="test-selected"',
        f'id="test-button-{empty}"',
        f'href="/proxies/{used}/replace"',
        f'id="remove-button-{empty}"',
        f"At most {TEST_LIMIT} proxies a click",
    ):
        assert text in page.text, text
    assert f'id="remove-button-{used}"' not in page.text and f'href="/proxies/{empty}/replace"' not in page.text
    assert page.figure(f"proxy-{used}-account_count") == "2"
    assert SECRET not in page.text and "u1@10.1.0.1:8080" in page.text
    imports = pbrowser.get("/import?kind=proxies").text
    assert 'value="proxies" checked' in imports


def test_page_views_never_write(pbrowser, pws):
    used = proxies.add(pws, "10.1.0.1:8080:u1:p1", actor="test")["id"]
    add_accounts(pws, 1, state="ready", proxy_ids=[used])
    before = snapshot(pws)
    for path in ("/proxies", f"/proxies?tested={used},99,x,", f"/proxies/{used}/replace", "/import?kind=proxies"):
        assert pbrowser.get(path).code == 200, path
    assert pbrowser.get("/proxies/99/replace").code == 404
    assert snapshot(pws) == before


# -- add ------------------------------------------------------------------------------------------------
def test_add_a_proxy(pbrowser, pws):
    done = post(
        pbrowser,
        "/proxies/add",
        {
            "spec": f" socks5://alice:{SECRET}@[2001:DB8::1]:1080 ",
            "provider": "acme",
            "location": "DE",
            "cost": "2.5",
            "max_accounts": "2",
        },
    )
    assert flash(pbrowser, done) == "Added proxy 1 (holds up to 2 accounts)."
    row = proxies.get_proxy(pws, 1)
    assert (row["scheme"], row["host"], row["port"], row["username"]) == ("socks5", "2001:db8::1", 1080, "alice")
    assert (row["provider"], row["location"], row["monthly_cost"], row["max_accounts"]) == ("acme", "DE", 2.5, 2)
    assert pws.cipher.decrypt(pws.db().scalar("SELECT password_enc FROM proxies")) == SECRET
    [added] = events(pws, "proxy.added")
    command = events(pws, "command")[-1]
    assert added["actor"] == command["actor"] == "operator:alice"
    assert command["message"] == "proxy add" and command["details"]["via"] == "dashboard"
    assert command["details"]["proxy"] == "socks5://alice:***@[2001:DB8::1]:1080"
    assert "socks5://alice@[2001:db8::1]:1080" in pbrowser.get("/proxies").text
    pws.close()
    for path in pws.path.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_add_with_defaults(pbrowser, pws):
    post(pbrowser, "/proxies/add", {"spec": "192.0.2.10:8080", "provider": "", "location": "", "cost": ""})
    row = proxies.get_proxy(pws, 1)
    assert (row["provider"], row["location"], row["monthly_cost"], row["max_accounts"]) == (None, None, None, 3)


@pytest.mark.parametrize(
    "data, message",
    [
        ({"spec": ""}, "give the proxy"),
        ({"spec": "192.0.2.1"}, "missing port"),
        ({"spec": "ftp://192.0.2.1:21"}, "unknown scheme"),
        ({"spec": "10.1.0.1:8080:u1:other"}, "is already stored (id 1)"),
        ({"spec": "192.0.2.1:80", "max_accounts": "4"}, "max accounts must be 1, 2 or 3"),
        ({"spec": "192.0.2.1:80", "max_accounts": "two"}, "max accounts must be a whole number"),
        ({"spec": "192.0.2.1:80", "cost": "-1"}, "cost must be a number of at least 0"),
        ({"spec": "192.0.2.1:80", "cost": "cheap"}, "is not a number"),
    ],
)
def test_add_refusals_change_nothing(pbrowser, pws, data, message):
    proxies.add(pws, "10.1.0.1:8080:u1:p1", actor="test")
    refused(pbrowser, pws, "/proxies/add", data, message)


# -- test -------------------------------------------------------------------------------------------------
def test_test_one_proxy_from_its_row(pbrowser, pws, http_proxy, echo):
    pid = proxies.add(pws, http_proxy.spec(), actor="test")["id"]
    done = post(pbrowser, "/proxies/test", {"proxy_ids": str(pid)})
    assert done.location == f"/proxies?tested={pid}"
    assert flash(pbrowser, done) == "Tested 1 proxy: 1 passed, 0 failed."
    assert http_proxy.requests == [f"GET {echo.url} HTTP/1.1"]
    page = pbrowser.get(f"/proxies?tested={pid}")
    assert 'id="test-results"' in page.text
    assert page.figure(f"tested-{pid}-result") == "ok"
    assert page.figure(f"tested-{pid}-exit_ip") == "127.0.0.2"
    assert re.fullmatch(r"\d+ ms", page.figure(f"tested-{pid}-latency"))
    row = proxies.get_proxy(pws, pid)
    assert row["last_test_ok"] is True and row["last_exit_ip"] == "127.0.0.2"
    [tested] = events(pws, "proxy.tested")
    command = events(pws, "command")[-1]
    assert tested["actor"] == command["actor"] == "operator:alice"
    assert command["message"] == "proxy test" and command["details"] == {"proxy_ids": [pid], "via": "dashboard"}
    assert command["id"] < tested["id"]


def test_test_selected_proxies_shows_each_result(pbrowser, pws, http_proxy, socks_proxy, refusing_port):
    good = proxies.add(pws, http_proxy.spec(), actor="test")["id"]
    dead = proxies.add(pws, f"127.0.0.1:{refusing_port.port}", actor="test")["id"]
    socks = proxies.add(pws, socks_proxy.spec(), actor="test")["id"]
    done = post_raw(pbrowser, "/proxies/test", [("proxy_ids", str(i)) for i in (socks, dead, good, socks)])
    assert flash(pbrowser, done) == "Tested 3 proxies: 2 passed, 1 failed."
    page = pbrowser.get(done.location)
    assert [page.figure(f"tested-{i}-result") for i in (good, dead, socks)] == ["ok", "failed", "ok"]
    assert page.figure(f"tested-{socks}-exit_ip") == "127.0.0.4"
    assert page.figure(f"tested-{dead}-latency") == ""
    assert "connection refused by the proxy" in page.text
    assert len(events(pws, "proxy.tested")) == 3
    assert [c["details"]["proxy_ids"] for c in events(pws, "command") if c["message"] == "proxy test"] == [
        [socks, dead, good]
    ]


def test_failed_tests_in_a_row_quarantine_and_the_message_says_so(pbrowser, pws, refusing_port):
    dead = proxies.add(pws, f"127.0.0.1:{refusing_port.port}", actor="test")["id"]
    for _ in range(2):
        post(pbrowser, "/proxies/test", {"proxy_ids": str(dead)})
    third = post(pbrowser, "/proxies/test", {"proxy_ids": str(dead)})
    assert flash(pbrowser, third) == f"Tested 1 proxy: 0 passed, 1 failed. Set to error: {dead}."
    assert proxies.get_proxy(pws, dead)["status"] == "error"


def post_raw(browser, path, pairs):
    return browser.post(path, [("csrf_token", browser.csrf()), *pairs])


@pytest.mark.parametrize(
    "pairs, message",
    [
        ([], "choose the proxies to test"),
        ([("proxy_ids", "")], "choose the proxies to test"),
        ([("proxy_ids", "1"), ("proxy_ids", "9")], "no proxy with id 9"),
        ([("proxy_ids", "one")], "proxy id must be a whole number"),
        (
            [("proxy_ids", str(i)) for i in range(1, TEST_LIMIT + 2)],
            f"{TEST_LIMIT + 1} proxies chosen: at most {TEST_LIMIT} are tested a click",
        ),
    ],
)
def test_test_refusals_send_nothing_and_change_nothing(pbrowser, pws, http_proxy, pairs, message):
    proxies.add(pws, http_proxy.spec(), actor="test")
    before = snapshot(pws)
    page = post_raw(pbrowser, "/proxies/test", pairs)
    assert page.code in (400, 404) and "Not done" in page.text and message in page.text, page.text
    assert snapshot(pws) == before and http_proxy.requests == []


def test_the_limit_itself_is_allowed(pbrowser, pws, refusing_port):
    ids = [
        proxies.add(pws, f"127.0.0.1:{refusing_port.port}:user{i}:pw", actor="test")["id"]
        for i in range(1, TEST_LIMIT + 1)
    ]
    done = post_raw(pbrowser, "/proxies/test", [("proxy_ids", str(i)) for i in ids])
    assert done.code == 303
    assert len(events(pws, "proxy.tested")) == TEST_LIMIT


# -- replace ------------------------------------------------------------------------------------------------
def in_model(ws, igctl, model, username):
    """Arrange: `username` active in `model` (created here), its proxy serving the model."""
    igctl("model", "create", model)
    db = ws.db()
    with db.write():
        model_id = db.scalar("SELECT id FROM models WHERE name = ?", [model])
        db.execute(
            "UPDATE accounts SET model_id = ?, lifecycle_state = 'active' WHERE username = ?", [model_id, username]
        )
        db.execute(
            "UPDATE proxies SET assigned_model_id = ? WHERE id = (SELECT proxy_id FROM accounts WHERE username = ?)",
            [model_id, username],
        )


@pytest.fixture
def two(igctl, pws):
    """Proxy 1 with two ready accounts, proxy 2 empty and active, proxy 3 inactive, proxy 4 with
    one account of model Bella and room, proxy 5 empty with room for one."""
    for spec in ("10.1.0.1:8080:u1:p1", "10.1.0.2:8080", "10.1.0.3:8080", "10.1.0.4:8080"):
        proxies.add(pws, spec, location="DE", actor="test")
    proxies.add(pws, "10.1.0.5:8080", max_accounts=1, actor="test")
    proxies.set_status(pws, 3, "inactive", actor="test")
    add_accounts(pws, 2, state="ready", proxy_ids=[1], prefix="old")
    add_accounts(pws, 1, state="ready", proxy_ids=[4], prefix="bella")
    in_model(pws, igctl, "Bella", "bella00001")
    return pws


def test_the_replace_page_lists_what_moves_and_where_it_can_go(pbrowser, two):
    page = pbrowser.get("/proxies/1/replace")
    assert page.code == 200 and page.figure("replace-count") == "2"
    assert "old00001" in page.text and "old00002" in page.text
    options = re.findall(r'<option value="(\d+)">', page.text)
    assert options == ["2", "4"]  # active with room for both, not itself, not the inactive one
    assert 'id="no-candidates"' not in page.text


def test_the_replace_page_offers_no_proxy_serving_another_model(pbrowser, two, igctl):
    """The engine's rule (one proxy serves one model) decides the choices, as it decides the
    replace: with old00001 in Alice, proxy 4 (Bella's) is not offered."""
    in_model(two, igctl, "Alice", "old00001")
    page = pbrowser.get("/proxies/1/replace")
    assert re.findall(r'<option value="(\d+)">', page.text) == ["2"]
    assert [p["id"] for p in proxies.replacement_candidates(two, 1)] == [2]


def test_the_replace_page_says_when_no_proxy_has_room(pbrowser, two):
    proxies.set_status(two, 2, "inactive", actor="test")
    add_accounts(two, 1, state="ready", proxy_ids=[4], prefix="more")
    page = pbrowser.get("/proxies/1/replace")
    assert re.findall(r'<option value="(\d+)">', page.text) == []
    assert "No active proxy has room for all 2 accounts" in page.text


def test_replace_moves_every_account(pbrowser, two):
    done = post(pbrowser, "/proxies/1/replace", {"new_proxy_id": "2"})
    assert flash(pbrowser, done) == "2 accounts moved from proxy 1 to proxy 2: old00001, old00002."
    assert [r["proxy_id"] for r in two.db().query("SELECT proxy_id FROM accounts WHERE username LIKE 'old%'")] == [2, 2]
    assert {e["actor"] for e in events(two, "proxy.moved")} == {"operator:alice"}
    [replaced] = events(two, "proxy.replaced")
    assert replaced["details"]["to_proxy_id"] == 2
    command = events(two, "command")[-1]
    assert command["message"] == "proxy replace" and command["details"]["new_proxy_id"] == 2


def test_replace_of_an_empty_proxy_moves_nothing(pbrowser, two):
    done = post(pbrowser, "/proxies/2/replace", {"new_proxy_id": "1"})
    assert flash(pbrowser, done) == "Proxy 2 has no accounts; nothing to move."


@pytest.mark.parametrize(
    "old, new, message",
    [
        (1, "", "choose the proxy to move the accounts to"),
        (1, "1", "cannot replace proxy 1 with itself"),
        (1, "9", "no proxy with id 9"),
        (9, "2", "no proxy with id 9"),
        (1, "3", "proxy 3 is inactive; only active proxies get accounts"),
        (1, "x", "new proxy id must be a whole number"),
        (1, "5", "proxy 5 has room for 1 more account (0 of 1); proxy 1 has 2 accounts"),
    ],
)
def test_replace_refusals_change_nothing(pbrowser, two, old, new, message):
    refused(pbrowser, two, f"/proxies/{old}/replace", {"new_proxy_id": new}, message)


def test_replace_onto_a_proxy_of_another_model_is_refused(pbrowser, two, igctl):
    in_model(two, igctl, "Alice", "old00001")
    refused(pbrowser, two, "/proxies/1/replace", {"new_proxy_id": "4"}, "proxy 4 serves model Bella")


# -- remove -------------------------------------------------------------------------------------------------
def test_remove_an_empty_proxy(pbrowser, two):
    done = post(pbrowser, "/proxies/2/remove")
    assert flash(pbrowser, done) == "Removed proxy 2 (http://10.1.0.2:8080)."
    assert [r["id"] for r in proxies.list_proxies(two)] == [1, 3, 4, 5]
    [removed] = events(two, "proxy.removed")
    assert removed["actor"] == "operator:alice" and removed["proxy_id"] == 2


def test_remove_frees_a_proxy_whose_accounts_are_retired(pbrowser, two, igctl):
    igctl("accounts", "retire", "old00001", "old00002", "--reason", "banned")
    post(pbrowser, "/proxies/1/remove")
    assert 1 not in [r["id"] for r in proxies.list_proxies(two)]


@pytest.mark.parametrize(
    "pid, message",
    [
        (1, "proxy 1 is used by 2 accounts; move them off first"),
        (9, "no proxy with id 9"),
    ],
)
def test_remove_refusals_change_nothing(pbrowser, two, pid, message):
    refused(pbrowser, two, f"/proxies/{pid}/remove", {}, message)


# -- every form carries the token -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path, data",
    [
        ("/proxies/add", {"spec": "192.0.2.9:80"}),
        ("/proxies/test", {"proxy_ids": "2"}),
        ("/proxies/1/replace", {"new_proxy_id": "2"}),
        ("/proxies/2/remove", {}),
    ],
)
def test_a_post_without_the_csrf_token_changes_nothing(pbrowser, two, path, data):
    before = snapshot(two)
    page = pbrowser.post(path, data)
    assert page.code == 403 and "Form refused" in page.text
    assert snapshot(two) == before


def test_every_form_on_the_pages_carries_the_token(pbrowser, two):
    for path in ("/proxies", "/proxies/1/replace"):
        text = pbrowser.get(path).text
        forms = re.findall(r'<form method="post"[^>]*>(.*?)</form>', text, re.S)
        assert forms and all('name="csrf_token"' in f for f in forms), path


def test_no_proxy_password_in_the_logs(pbrowser, pws, caplog, http_proxy):
    caplog.set_level(logging.DEBUG)
    post(pbrowser, "/proxies/add", {"spec": f"http://bob:{SECRET}@127.0.0.1:{http_proxy.port}"})
    post(pbrowser, "/proxies/test", {"proxy_ids": "1"})
    assert SECRET not in caplog.text
