"""Changing an account's credentials (issue 15, point 6): `igctl accounts update` and the form
on the dashboard's account page, over one engine function (engine/domain/credentials.py).
Secrets come from standard input or a password field, are stored encrypted, never shown back or
logged, leave an event naming the fields, and the next task handed out carries them. Every
refusal changes nothing."""

from __future__ import annotations

import json
import logging

import pytest
from dashboard_helpers import browser, dash  # noqa: F401 - fixtures
from warmup_helpers import add_accounts, add_bot, by_name, fleet, seed_templates, snapshot

from igctl.engine.domain import accounts, credentials
from igctl.engine.flows import botwork
from igctl.engine.store.errors import Conflict, InvalidInput, NotFound

NEW_PASSWORD = "N3w-Pa55:w0rd@reset"
NEW_MAIL_PASSWORD = "m@il-S3cret-2026"


def events(ws, kind):
    return [
        dict(r) | {"details": json.loads(r["details_json"] or "null")}
        for r in ws.db().query("SELECT * FROM events WHERE kind = ? ORDER BY id", [kind])
    ]


def stored(ws, username):
    row = by_name(ws, username)
    return row["email"], ws.cipher.decrypt(row["password_enc"]), ws.cipher.decrypt(row["email_password_enc"])


def no_plaintext_in(ws, *secrets):
    ws.close()
    for path in ws.path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for secret in secrets:
                assert secret.encode() not in data, (path, secret)


@pytest.fixture
def one(ws):
    """acct00001 in warm-up on a proxy, its first step due now, and a bot."""
    seed_templates(ws)
    fleet(ws, 1)
    return ws


# -- the CLI --------------------------------------------------------------------------------------
def test_update_all_three_from_stdin_and_an_argument(igctl, ws):
    add_accounts(ws, 1)
    out = igctl(
        "accounts",
        "update",
        "ACCT00001",
        "--email",
        " new@example.org ",
        "--password-stdin",
        "--email-password-stdin",
        input=f"{NEW_PASSWORD}\n{NEW_MAIL_PASSWORD}\n",
    )
    assert out.stdout.strip() == "acct00001: e-mail address, password and e-mail password changed."
    assert NEW_PASSWORD not in out.output and NEW_MAIL_PASSWORD not in out.output
    assert stored(ws, "acct00001") == ("new@example.org", NEW_PASSWORD, NEW_MAIL_PASSWORD)
    [event] = events(ws, "account.credentials")
    assert event["details"] == {
        "changed": ["email", "password", "email_password"],
        "old_email": "acct1@example.com",
        "new_email": "new@example.org",
    }
    assert event["actor"].startswith("user") and event["account_id"] == 1
    assert event["message"] == "acct00001: e-mail address, password and e-mail password changed"
    command = events(ws, "command")[-1]
    assert command["message"] == "accounts update"
    assert command["details"]["fields"] == ["email", "password", "email_password"]
    assert command["id"] < event["id"]
    no_plaintext_in(ws, NEW_PASSWORD, NEW_MAIL_PASSWORD)


def test_one_stdin_option_reads_line_one(igctl, ws):
    add_accounts(ws, 1)
    igctl("accounts", "update", "acct00001", "--email-password-stdin", input=f"{NEW_MAIL_PASSWORD}\n\n")
    assert stored(ws, "acct00001") == ("acct1@example.com", "pw-acct-1", NEW_MAIL_PASSWORD)
    out = igctl("accounts", "update", "acct00001", "--password-stdin", "--json", input=f"{NEW_PASSWORD}\r\n")
    result = json.loads(out.stdout)
    assert result == {
        "id": 1,
        "username": "acct00001",
        "changed": ["password"],
        "unchanged": [],
        "tasks_in_hand": [],
    }
    assert stored(ws, "acct00001") == ("acct1@example.com", NEW_PASSWORD, NEW_MAIL_PASSWORD)
    assert [e["details"]["changed"] for e in events(ws, "account.credentials")] == [["email_password"], ["password"]]


def test_a_value_already_stored_is_named_and_the_rest_changes(igctl, ws):
    add_accounts(ws, 1)
    out = igctl("accounts", "update", "acct00001", "--email", "x@example.net", "--password-stdin", input="pw-acct-1\n")
    assert out.stdout.strip() == "acct00001: e-mail address changed. Already as given: password."
    [event] = events(ws, "account.credentials")
    assert event["details"]["changed"] == ["email"]


def test_the_next_task_carries_the_new_credentials(igctl, ws, one, clock):
    igctl("warmup", "tick")
    bot = add_bot(ws, "phone1")
    first = botwork.claim_next(ws, bot)
    assert first["account"]["password"] == "pw-acct-1"
    assert first["account"]["email_password"] == "mailpw-acct-1"
    out = igctl(
        "accounts",
        "update",
        "acct00001",
        "--email",
        "reset@example.org",
        "--password-stdin",
        "--email-password-stdin",
        input=f"{NEW_PASSWORD}\n{NEW_MAIL_PASSWORD}\n",
    )
    assert f"Task {first['task_id']} was handed out before the change with the old credentials" in out.stdout
    [event] = events(ws, "account.credentials")
    assert event["details"]["tasks_in_hand"] == [first["task_id"]]
    botwork.fail(ws, first["task_id"], bot, error_message="login failed: wrong password", error_kind="other")
    clock.set("2026-03-02T10:31:00")  # the retry is due 30 minutes after the failure
    second = botwork.claim_next(ws, bot)
    assert second["task_id"] == first["task_id"]
    assert second["account"] == {
        "id": 1,
        "username": "acct00001",
        "password": NEW_PASSWORD,
        "email": "reset@example.org",
        "email_password": NEW_MAIL_PASSWORD,
    }
    no_plaintext_in(ws, NEW_PASSWORD, NEW_MAIL_PASSWORD)


def test_a_password_at_the_length_limit_is_taken(igctl, ws):
    add_accounts(ws, 1)
    longest = "p" * credentials.MAX_SECRET_CHARS
    igctl("accounts", "update", "acct00001", "--password-stdin", input=longest + "\n")
    assert stored(ws, "acct00001")[1] == longest


REFUSALS = [
    (["ghost", "--email", "a@b.c"], None, "no account named ghost"),
    (["retired00001", "--password-stdin"], "x\n", "account retired00001 is retired"),
    (["acct00001"], None, "nothing to change: give a new e-mail address, password or e-mail password"),
    (["acct00001", "--password-stdin"], "\n", "a password may not be empty"),
    (["acct00001", "--email-password-stdin"], "\n", "an e-mail password may not be empty"),
    (
        ["acct00001", "--password-stdin"],
        "p" * (credentials.MAX_SECRET_CHARS + 1) + "\n",
        "a password is at most 256 characters",
    ),
    (["acct00001", "--password-stdin"], " padded\n", "a password may not begin or end with a space"),
    (["acct00001", "--password-stdin"], "tab\there\n", "a password may not contain control characters"),
    (["acct00001", "--email", "not-an-email"], None, "'not-an-email' is not an e-mail address"),
    (["acct00001", "--email", "two@at@x.org"], None, "is not an e-mail address"),
    (["acct00001", "--email", " "], None, "an e-mail address may not be empty"),
    (["acct00001", "--email", "a@" + "b" * 253], None, "an e-mail address is at most 254 characters"),
    (["acct00001", "--password-stdin"], "", "give the password on line 1 of standard input (0 lines given)"),
    (["acct00001", "--password-stdin"], "one\ntwo\n", "(2 lines given)"),
    (
        ["acct00001", "--password-stdin", "--email-password-stdin"],
        "only-one\n",
        "give the password on line 1 and the e-mail password on line 2 of standard input (1 line given)",
    ),
    (["acct00001", "--password-stdin"], "pw-acct-1\n", "nothing to change: acct00001 already has the password given"),
    (
        ["acct00001", "--email", "acct1@example.com", "--email-password-stdin"],
        "mailpw-acct-1\n",
        "already has the e-mail address and e-mail password given",
    ),
]


@pytest.mark.parametrize("args, stdin, message", REFUSALS)
def test_refusals_change_nothing(igctl, ws, args, stdin, message):
    add_accounts(ws, 1)
    add_accounts(ws, 1, prefix="retired", state="retired", start=1)
    before = snapshot(ws)
    line = igctl.error("accounts", "update", *args, input=stdin)
    assert message in line, line
    assert snapshot(ws) == before


@pytest.mark.parametrize("secret", [" Sekrit-Padded", "Sekrit\tTabbed", "Sekrit-Long" * 30])
def test_a_refused_password_is_never_quoted_back(igctl, ws, secret):
    add_accounts(ws, 1)
    line = igctl.error("accounts", "update", "acct00001", "--password-stdin", input=secret + "\n")
    assert "Sekrit" not in line


def test_secrets_are_never_arguments(igctl, ws):
    add_accounts(ws, 1)
    for option in ("--password", "--email-password"):
        result = igctl("accounts", "update", "acct00001", option, "hunter2", expect=2)
        assert "No such option" in result.stderr


def test_the_engine_refusals_change_nothing(ws):
    add_accounts(ws, 1)
    before = snapshot(ws)
    with pytest.raises(InvalidInput, match="nothing to change"):
        credentials.update_credentials(ws, "acct00001", actor="test")
    with pytest.raises(NotFound, match="no account named nobody"):
        credentials.update_credentials(ws, "nobody", password="x", actor="test")
    with pytest.raises(InvalidInput, match="may not be empty"):
        credentials.update_credentials(ws, "acct00001", email_password="", actor="test")
    assert snapshot(ws) == before
    accounts.retire(ws, ["acct00001"], reason="banned", actor="test")
    before = snapshot(ws)
    with pytest.raises(Conflict, match="retired"):
        credentials.update_credentials(ws, "acct00001", password="x", actor="test")
    assert snapshot(ws) == before


# -- the dashboard ----------------------------------------------------------------------------------
def post_credentials(browser, username, **fields):
    page = browser.get(f"/accounts/{username}")
    return browser.post(f"/accounts/{username}/credentials", {"csrf_token": page.csrf, **fields})


def test_the_account_page_has_the_form_and_shows_only_set(browser, ws):
    add_accounts(ws, 1)
    add_accounts(ws, 1, prefix="nomail", start=1, email_password_enc=None)
    page = browser.get("/accounts/acct00001")
    assert page.code == 200
    assert 'id="account-password">set<' in page.text and 'id="account-email-password">set<' in page.text
    for name in ("password", "password_repeat", "email_password", "email_password_repeat"):
        assert f'<input type="password" name="{name}" autocomplete="off">' in page.text
    assert 'action="/accounts/acct00001/credentials"' in page.text
    assert "pw-acct-1" not in page.text and "mailpw-acct-1" not in page.text
    assert 'id="account-email-password">not set<' in browser.get("/accounts/nomail00001").text


def test_the_form_changes_the_credentials(browser, ws, caplog):
    caplog.set_level(logging.DEBUG)
    add_accounts(ws, 1)
    done = post_credentials(
        browser,
        "acct00001",
        email="",
        password=NEW_PASSWORD,
        password_repeat=NEW_PASSWORD,
        email_password="",
        email_password_repeat="",
    )
    assert done.code == 303 and done.location == "/accounts/acct00001"
    page = browser.get(done.location)
    assert "acct00001: password changed." in page.text
    assert stored(ws, "acct00001") == ("acct1@example.com", NEW_PASSWORD, "mailpw-acct-1")
    [event] = events(ws, "account.credentials")
    assert event["actor"] == "operator:alice" and event["details"] == {"changed": ["password"]}
    command = events(ws, "command")[-1]
    assert command["message"] == "accounts update" and command["details"]["via"] == "dashboard"
    assert command["details"]["fields"] == ["password"]
    post_credentials(
        browser,
        "acct00001",
        email="fresh@example.org",
        email_password=NEW_MAIL_PASSWORD,
        email_password_repeat=NEW_MAIL_PASSWORD,
    )
    assert stored(ws, "acct00001") == ("fresh@example.org", NEW_PASSWORD, NEW_MAIL_PASSWORD)
    assert NEW_PASSWORD not in caplog.text and NEW_MAIL_PASSWORD not in caplog.text
    assert NEW_PASSWORD not in browser.get("/accounts/acct00001").text
    no_plaintext_in(ws, NEW_PASSWORD, NEW_MAIL_PASSWORD)


@pytest.mark.parametrize(
    "username, fields, message",
    [
        ("acct00001", {"password": "one-pass", "password_repeat": "other-pass"}, "the two passwords differ"),
        (
            "acct00001",
            {"email_password": "one-pass", "email_password_repeat": ""},
            "the two e-mail passwords differ",
        ),
        ("acct00001", {}, "nothing to change"),
        ("acct00001", {"email": "nope"}, "&#039;nope&#039; is not an e-mail address"),
        ("acct00001", {"password": " x", "password_repeat": " x"}, "may not begin or end with a space"),
        ("ghost", {"password": "abc", "password_repeat": "abc"}, "no account named ghost"),
        ("retired00001", {"password": "abc", "password_repeat": "abc"}, "is retired"),
    ],
)
def test_form_refusals_change_nothing(browser, ws, username, fields, message):
    add_accounts(ws, 1)
    add_accounts(ws, 1, prefix="retired", state="retired", start=1)
    csrf = browser.get("/accounts/acct00001").csrf
    before = snapshot(ws)
    page = browser.post(f"/accounts/{username}/credentials", {"csrf_token": csrf, **fields})
    assert page.code in (400, 404, 409) and "Not done" in page.text and message in page.text, page.text
    assert snapshot(ws) == before


def test_the_form_needs_its_csrf_token(browser, ws):
    add_accounts(ws, 1)
    before = snapshot(ws)
    page = browser.post("/accounts/acct00001/credentials", {"password": NEW_PASSWORD, "password_repeat": NEW_PASSWORD})
    assert page.code == 403 and "Form refused" in page.text
    assert snapshot(ws) == before


def test_a_retired_account_has_no_form(browser, ws):
    add_accounts(ws, 1, prefix="retired", state="retired")
    page = browser.get("/accounts/retired00001")
    assert page.code == 200 and "credentials-form" not in page.text


def test_the_account_page_view_never_writes(browser, ws):
    add_accounts(ws, 1)
    before = snapshot(ws)
    assert browser.get("/accounts/acct00001").code == 200
    assert snapshot(ws) == before
