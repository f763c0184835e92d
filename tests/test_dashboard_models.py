"""The dashboard's model actions (issue 15, point 1): create a model, the strategy editor,
delete behind a confirmation page, unassign or move selected accounts. WSGI tests; every
refusal shows the engine's message and changes nothing."""

from __future__ import annotations

import html
import re

import pytest
import yaml
from dashboard_helpers import browser, dash, events_by, scene  # noqa: F401
from test_dashboard import everything
from warmup_helpers import add_bot, seed_model_content

from igctl.engine.domain import strategy as strategies
from igctl.engine.flows import botwork, models

ACTOR = "operator:alice"


def files(ws) -> list:
    """Every file under models/ and content/ with its bytes."""
    return sorted(
        (str(p.relative_to(ws.path)), p.read_bytes() if p.is_file() else None)
        for folder in ("models", "content")
        for p in (ws.path / folder).rglob("*")
    )


def state(ws) -> tuple:
    return everything(ws), files(ws)


def post(browser, path: str, data: dict | list):
    pairs = list(data.items()) if isinstance(data, dict) else list(data)
    return browser.post(path, [("csrf_token", browser.csrf()), *pairs])


def flash(browser, page) -> str:
    assert page.code == 303, page.text
    return html.unescape(browser.get(page.location).text)


def model_row(ws, name: str):
    return ws.db().one("SELECT * FROM models WHERE name = ?", [name])


def strategy_file(ws, slug: str = "alice"):
    return ws.path / "models" / f"{slug}.yaml"


# -- create -----------------------------------------------------------------------------------------
def test_empty_models_page_links_to_the_create_form(browser):
    home = browser.get("/")
    assert "igctl model create" not in home.text
    assert 'href="/models/new"' in home.text and "create one" in home.text
    page = browser.get("/models/new")
    assert page.code == 200
    assert 'action="/models"' in page.text and 'name="display_name"' in page.text
    assert 'name="csrf_token"' in page.text


def test_create_a_model_as_the_cli_does(browser, ws):
    page = post(browser, "/models", {"name": "Bella Summer", "display_name": "Bella ☀"})
    text = flash(browser, page)
    assert "Model Bella Summer created" in text
    row = model_row(ws, "Bella Summer")
    assert page.location == f"/models/{row['id']}/strategy"
    assert row["slug"] == "bella-summer" and row["display_name"] == "Bella ☀"
    assert strategies.read_file(strategy_file(ws, "bella-summer"), "x")[1].display_name == "Bella ☀"
    assert (ws.path / "content/bella-summer/pfp").is_dir()
    assert [e["kind"] for e in events_by(ws, ACTOR)][-2:] == ["command", "model.created"]
    command = events_by(ws, ACTOR)[-2]
    assert command["message"] == "model create" and '"via": "dashboard"' in command["details_json"]
    # the home page shows its card
    assert "Bella ☀" in browser.get("/").text


def test_cli_create_takes_a_display_name_too(igctl, ws):
    igctl("model", "create", "Carla", "--display-name", "Carla C.")
    assert model_row(ws, "Carla")["display_name"] == "Carla C."
    message = igctl.error("model", "create", "Dora", "--display-name", "D", "--strategy", strategy_file(ws, "carla"))
    assert "not both" in message
    assert model_row(ws, "Dora") is None


@pytest.mark.parametrize(
    "data, message",
    [
        ({"name": "", "display_name": ""}, "a model needs a name"),
        ({"name": "_templates", "display_name": ""}, "templates' pool"),
        ({"name": "x" * 61, "display_name": ""}, "at most 60"),
        ({"name": "alice", "display_name": "Another"}, "a model named Alice exists already"),
        ({"name": "Zed", "display_name": "z" * 101}, "display_name"),
    ],
)
def test_a_refused_create_shows_why_and_changes_nothing(browser, ws, scene, data, message):
    before = state(ws)
    page = post(browser, "/models", data)
    assert page.code in (400, 409) and "Not done" in page.text
    assert message in html.unescape(page.text)
    assert state(ws) == before


# -- the strategy editor -----------------------------------------------------------------------------
def form_data(**over) -> list:
    data = {
        "display_name": "Alice A.",
        "onboarding": "change_pfp\nchange_bio",
        "post_number": "3",
        "post_period": "per_week",
        "story_number": "1",
        "story_period": "per_day",
        "highlight_number": "",
        "highlight_period": "per_week",
        "active_hours": "10:00-22:00",
        "locations": "DE, AT",
        "max_accounts": "50",
        "notes": "Summer campaign",
    }
    templates = over.pop("templates", ["default"])
    data.update(over)
    return list(data.items()) + [("templates", t) for t in templates]


def test_editor_opens_with_the_file_and_has_a_field_for_every_key(browser, ws, scene):
    mid = scene["model_id"]
    path = strategy_file(ws)
    path.write_text(
        path.read_text(encoding="utf-8")
        + "display_name: Hand Edited\ntemplates: true\nschedule:\n  post: {per_week: 4}\nlocations: [FR]\n",
        encoding="utf-8",
    )
    before = state(ws)
    page = browser.get(f"/models/{mid}/strategy")
    assert page.code == 200
    assert state(ws) == before  # a page view never writes (the edit is not applied)
    text = page.text
    for name in (
        "display_name",
        "templates",
        "onboarding",
        "post_number",
        "post_period",
        "story_number",
        "highlight_period",
        "active_hours",
        "locations",
        "max_accounts",
        "notes",
    ):
        assert f'name="{name}"' in text, name
    assert 'value="Hand Edited"' in text
    assert re.search(r'name="templates" value="default" checked', text)
    assert 'id="f-post_number" ' not in text and 'name="post_number" value="4"' in text
    assert 'name="locations" value="FR"' in text
    assert ">change_pfp\nchange_bio</textarea>" in text


def test_editor_lists_every_template_set_and_shows_one_the_file_names_that_is_gone(browser, ws, scene, igctl):
    igctl("content", "set-create", "summer")
    igctl("content", "set-create", "winter")
    path = strategy_file(ws)
    path.write_text("templates: [summer, winter]\n", encoding="utf-8")
    igctl("model", "sync", "Alice")
    # the file is edited by hand to name a set that does not exist
    path.write_text("templates: [summer, autumn]\n", encoding="utf-8")
    page = browser.get(f"/models/{scene['model_id']}/strategy")
    assert page.code == 200
    for s in ("default", "summer", "winter"):
        assert f'name="templates" value="{s}"' in page.text
    assert re.search(r'value="summer" checked', page.text)
    assert not re.search(r'value="winter" checked', page.text)
    assert re.search(r'value="autumn" checked> autumn: no such template set', page.text)
    assert 'id="error-templates-missing"' in page.text
    # saving with it still ticked is refused next to the field; unticked, it saves
    before = state(ws)
    refused = post(browser, f"/models/{scene['model_id']}/strategy", form_data(templates=["summer", "autumn"]))
    assert refused.code == 400 and 'id="error-templates"' in refused.text
    assert "no template set named autumn" in refused.text
    assert state(ws) == before
    saved = post(browser, f"/models/{scene['model_id']}/strategy", form_data(templates=["summer", "default"]))
    assert "Saved models/alice.yaml" in flash(browser, saved)
    assert strategies.stored(model_row(ws, "Alice")).template_sets == ["summer", "default"]


def test_save_writes_the_file_keeps_its_top_comments_and_applies_it(browser, ws, scene):
    mid = scene["model_id"]
    path = strategy_file(ws)
    header = [line for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("#")]
    assert header  # the commented example
    page = post(browser, f"/models/{mid}/strategy", form_data())
    assert "Saved models/alice.yaml and applied." in flash(browser, page)
    text = path.read_text(encoding="utf-8")
    assert text.splitlines()[: len(header)] == header
    assert not (ws.path / "models/alice.yaml.tmp").exists()
    data = yaml.safe_load(text)
    assert data == {
        "display_name": "Alice A.",
        "templates": True,
        "onboarding": ["change_pfp", "change_bio"],
        "schedule": {"post": {"per_week": 3}, "story": {"per_day": 1}},
        "active_hours": "10:00-22:00",
        "locations": ["DE", "AT"],
        "max_accounts": 50,
        "notes": "Summer campaign",
    }
    row = model_row(ws, "Alice")
    assert row["strategy_sha256"] == strategies.file_sha(path.read_bytes())  # applied: in force
    assert row["display_name"] == "Alice A."
    kinds = [e["kind"] for e in events_by(ws, ACTOR)]
    assert kinds[-2:] == ["command", "model.strategy"]
    assert events_by(ws, ACTOR)[-2]["message"] == "model strategy"
    # the CLI agrees: model sync finds nothing new
    assert models.sync(ws, "Alice", actor="test")["strategy_changed"] is False
    # the same form again: the file already says it
    again = post(browser, f"/models/{mid}/strategy", form_data())
    assert "already says this" in flash(browser, again)


def test_templates_ticks_map_to_false_true_or_names(browser, ws, scene, igctl):
    igctl("content", "set-create", "summer")
    mid = scene["model_id"]
    for ticked, expected in (
        ([], False),
        (["default"], True),
        (["summer"], ["summer"]),
        (["default", "summer"], ["default", "summer"]),
    ):
        post(browser, f"/models/{mid}/strategy", form_data(templates=ticked))
        assert yaml.safe_load(strategy_file(ws).read_text(encoding="utf-8"))["templates"] == expected


def test_empty_fields_leave_their_keys_out(browser, ws, scene):
    mid = scene["model_id"]
    blank = form_data(
        display_name="",
        onboarding="",
        post_number="",
        story_number="",
        active_hours="",
        locations="",
        max_accounts="",
        notes="",
        templates=[],
    )
    post(browser, f"/models/{mid}/strategy", blank)
    data = yaml.safe_load(strategy_file(ws).read_text(encoding="utf-8"))
    assert data == {"templates": False, "onboarding": []}
    strategy = strategies.stored(model_row(ws, "Alice"))
    assert strategy.schedule_dict() == {} and strategy.active_hours is None and strategy.max_accounts is None


def test_invalid_fields_are_shown_each_next_to_its_field_and_nothing_is_written(browser, ws, scene):
    mid = scene["model_id"]
    before = state(ws)
    page = post(
        browser,
        f"/models/{mid}/strategy",
        form_data(
            display_name="d" * 101,
            onboarding="change_pfp\nChange Bio",
            post_number="lots",
            story_number="49",
            highlight_number="2",
            highlight_period="hourly",
            active_hours="22:00-10:00",
            max_accounts="-1",
        ),
    )
    assert page.code == 400
    assert state(ws) == before
    text = html.unescape(page.text)
    assert "Nothing was saved" in text
    for field, message in (
        ("display_name", "at most 100 characters"),
        ("onboarding", "lower-case letters"),
        ("schedule-post", "valid integer"),
        ("schedule-story", "less than or equal to 48"),
        ("schedule-highlight", "per_day or per_week"),
        ("active_hours", "end of active hours"),
        ("max_accounts", "greater than or equal to 0"),
    ):
        m = re.search(rf'id="error-{field}">([^<]*)<', text)
        assert m and message in m.group(1), (field, m and m.group(1))
    # what was typed is kept
    assert 'value="lots"' in page.text and "Change Bio</textarea>" in page.text and 'value="22:00-10:00"' in page.text
    assert not re.search(r'id="error-(locations|notes|templates)"', text)


def test_a_broken_file_is_explained_and_a_valid_one_can_be_saved(browser, ws, scene):
    mid = scene["model_id"]
    path = strategy_file(ws)
    path.write_text("schedule:\n  post: {per_week: 3\nnotes: [unclosed\n", encoding="utf-8")
    page = browser.get(f"/models/{mid}/strategy")
    assert page.code == 200 and 'id="file-error"' in page.text
    assert "not valid YAML" in page.text
    path.write_text("# mine\nbogus_key: 1\n", encoding="utf-8")
    page = browser.get(f"/models/{mid}/strategy")
    assert "bogus_key" in page.text and "unknown setting" in page.text
    saved = post(browser, f"/models/{mid}/strategy", form_data())
    assert "Saved models/alice.yaml and applied." in flash(browser, saved)
    assert path.read_text(encoding="utf-8").startswith("# mine\ndisplay_name: Alice A.\n")
    path.unlink()
    page = browser.get(f"/models/{mid}/strategy")
    assert "not found" in page.text
    saved = post(browser, f"/models/{mid}/strategy", form_data(notes="back"))
    assert "Saved" in flash(browser, saved) and yaml.safe_load(path.read_text(encoding="utf-8"))["notes"] == "back"


def test_a_changed_schedule_replans_as_model_sync_does(browser, ws, scene, igctl):
    mid = scene["model_id"]
    strategy_file(ws).write_text("onboarding: []\n", encoding="utf-8")
    igctl("model", "sync", "Alice")
    igctl("model", "assign", "Alice", "ready00001")  # onboarded at once, no recurring work yet
    post(browser, f"/models/{mid}/strategy", form_data(onboarding=""))
    events = [e for e in events_by(ws, ACTOR) if e["kind"] == "model.strategy"]
    assert events and "schedule changed" in events[-1]["message"]


def test_archived_models_strategy_cannot_be_saved(browser, ws, scene, igctl):
    igctl("model", "delete", "Alice", "--yes")
    mid = scene["model_id"]
    assert "cannot be changed" in browser.get(f"/models/{mid}/strategy").text
    before = state(ws)
    page = post(browser, f"/models/{mid}/strategy", form_data())
    assert page.code == 409 and "archived" in page.text
    assert state(ws) == before


def test_strategy_form_needs_the_csrf_token(browser, ws, scene):
    before = state(ws)
    page = browser.post(f"/models/{scene['model_id']}/strategy", form_data())
    assert page.code == 403
    assert state(ws) == before


# -- delete ----------------------------------------------------------------------------------------
def test_delete_confirmation_says_what_will_happen_without_writing(browser, ws, scene, igctl):
    mid = scene["model_id"]
    igctl("model", "assign", "Alice", "ready00001", "ready00002")
    before = state(ws)
    page = browser.get(f"/models/{mid}/delete")
    assert page.code == 200
    assert state(ws) == before
    assert page.figure("delete-cleanup") == "2"
    assert page.figure("delete-tasks-cancelled") == "2"  # their queued onboarding steps
    assert "ready00001, ready00002" in page.text
    assert f'action="/models/{mid}/delete"' in page.text and 'name="csrf_token"' in page.text
    assert f'href="/models/{mid}/delete"' in browser.get(f"/models/{mid}/accounts").text


def test_delete_runs_model_delete(browser, ws, scene, igctl):
    mid = scene["model_id"]
    igctl("model", "assign", "Alice", "ready00001")
    page = post(browser, f"/models/{mid}/delete", {})
    assert "Model Alice deleted (archived): 1 account(s) sent to cleanup." in flash(browser, page)
    assert model_row(ws, "Alice")["archived_at"] is not None
    assert ws.db().scalar("SELECT lifecycle_state FROM accounts WHERE username = 'ready00001'") == "cleanup"
    assert [e["kind"] for e in events_by(ws, ACTOR)][:2] == ["dashboard.login", "command"]
    # deleted: the confirmation says so, and deleting again is refused with nothing changed
    assert "was deleted" in browser.get(f"/models/{mid}/delete").text
    before = state(ws)
    again = post(browser, f"/models/{mid}/delete", {})
    assert again.code == 409 and "archived" in again.text
    assert state(ws) == before


def test_delete_of_an_unknown_model_is_404(browser, ws, scene):
    before = state(ws)
    assert browser.get("/models/999/delete").code == 404
    assert post(browser, "/models/999/delete", {}).code == 404
    assert state(ws) == before


# -- unassign or move --------------------------------------------------------------------------------
def test_overview_has_checkboxes_and_the_other_models(browser, ws, scene, igctl):
    igctl("model", "create", "Bob")
    seed_model_content(ws, "Bob")
    igctl("model", "assign", "Alice", "ready00001")
    page = browser.get(f"/models/{scene['model_id']}/accounts")
    assert 'name="usernames" value="ready00001"' in page.text
    assert f'action="/models/{scene["model_id"]}/unassign"' in page.text
    bob = model_row(ws, "Bob")["id"]
    assert f'<option value="{bob}">Bob (Bob)</option>' in page.text
    assert f'<option value="{scene["model_id"]}">' not in page.text


def test_unassign_selected_sends_them_to_cleanup(browser, ws, scene, igctl):
    mid = scene["model_id"]
    igctl("model", "assign", "Alice", "ready00001", "ready00002")
    page = post(browser, f"/models/{mid}/unassign", [("usernames", "ready00001"), ("action", "unassign")])
    assert "1 account(s) of Alice sent to cleanup: ready00001" in flash(browser, page)
    states = dict(ws.db().query("SELECT username, lifecycle_state FROM accounts WHERE username LIKE 'ready%'"))
    assert states["ready00001"] == "cleanup" and states["ready00002"] == "active"
    assert (
        ws.db().scalar(
            "SELECT step_name FROM tasks WHERE kind = 'cleanup' AND account_id = (SELECT id FROM accounts WHERE username = 'ready00001')"
        )
        == "reset_pfp"
    )


@pytest.mark.parametrize(
    "data, message",
    [
        ([("usernames", "ready00003"), ("action", "unassign")], "not in Alice"),
        ([("usernames", "nobody"), ("action", "unassign")], "no account named nobody"),
        ([("action", "unassign")], "name at least one account"),
        ([("usernames", "ready00001"), ("action", "move")], "choose the model"),
        ([("usernames", "ready00001"), ("action", "move"), ("to_model", "999")], "no model with id 999"),
        ([("action", "move"), ("to_model", "BOB")], "select at least one account"),
    ],
)
def test_refused_unassign_or_move_changes_nothing(browser, ws, scene, igctl, data, message):
    igctl("model", "create", "Bob")
    seed_model_content(ws, "Bob")
    igctl("model", "assign", "Alice", "ready00001")
    bob = str(model_row(ws, "Bob")["id"])
    data = [(k, bob if v == "BOB" else v) for k, v in data]
    before = state(ws)
    page = post(browser, f"/models/{scene['model_id']}/unassign", data)
    assert page.code in (400, 404, 409) and message in html.unescape(page.text), page.text
    assert state(ws) == before


def test_move_selected_to_another_model_goes_through_cleanup_then_joins(browser, ws, scene, igctl):
    igctl("model", "create", "Bob")
    seed_model_content(ws, "Bob")
    igctl("model", "assign", "Alice", "ready00001", "ready00002")
    bob = model_row(ws, "Bob")
    page = post(
        browser,
        f"/models/{scene['model_id']}/unassign",
        [("usernames", "ready00001"), ("action", "move"), ("to_model", str(bob["id"]))],
    )
    assert "1 account(s) leave Alice through cleanup, then join Bob: ready00001" in flash(browser, page)
    acc = ws.db().one("SELECT * FROM accounts WHERE username = 'ready00001'")
    assert acc["lifecycle_state"] == "cleanup" and acc["reassign_to_model_id"] == bob["id"]
    cmd = [e for e in events_by(ws, ACTOR) if e["kind"] == "command"][-1]
    assert cmd["message"] == "model assign" and '"reassign": true' in cmd["details_json"]
    # the cleanup runs (a bot), then the account joins Bob by itself
    bot = add_bot(ws, "phone9")
    for _ in range(10):
        t = botwork.claim_next(ws, bot)
        if t is None:
            break
        botwork.complete(ws, t["task_id"], bot)
        acc = ws.db().one("SELECT * FROM accounts WHERE username = 'ready00001'")
        if acc["model_id"] == bob["id"]:
            break
    assert acc["lifecycle_state"] == "active" and acc["model_id"] == bob["id"]


def test_a_move_of_an_account_in_review_is_refused(browser, ws, scene, igctl):
    igctl("model", "create", "Bob")
    seed_model_content(ws, "Bob")
    igctl("model", "assign", "Alice", "ready00001")
    with ws.db().write():
        ws.db().execute("UPDATE accounts SET lifecycle_state = 'human_review' WHERE username = 'ready00001'")
    before = state(ws)
    page = post(
        browser,
        f"/models/{scene['model_id']}/unassign",
        [("usernames", "ready00001"), ("action", "move"), ("to_model", str(model_row(ws, "Bob")["id"]))],
    )
    assert page.code == 409 and "only ready accounts can be assigned" in html.unescape(page.text)
    assert state(ws) == before


def test_model_pages_never_write(browser, ws, scene, igctl):
    igctl("model", "create", "Bob")
    seed_model_content(ws, "Bob")
    igctl("model", "assign", "Alice", "ready00001")
    mid = scene["model_id"]
    path = strategy_file(ws)
    path.write_text(path.read_text(encoding="utf-8") + "\nmax_accounts: 2\n", encoding="utf-8")
    before = state(ws)
    for page in ("/", "/models/new", f"/models/{mid}/strategy", f"/models/{mid}/delete", f"/models/{mid}/accounts"):
        assert browser.get(page).code == 200, page
    assert browser.get("/models/999/strategy").code == 404
    assert state(ws) == before


def test_a_broken_file_on_the_model_page_leads_to_the_editor(browser, ws, scene):
    mid = scene["model_id"]
    strategy_file(ws).write_text("schedule: {post: {per_week: lots}}\n", encoding="utf-8")
    page = browser.get(f"/models/{mid}/accounts")
    assert page.code == 400 and "schedule.post.per_week" in page.text
    assert f'href="/models/{mid}/strategy"' in page.text


def test_a_missing_set_on_the_model_page_leads_to_the_editor(browser, ws, scene):
    mid = scene["model_id"]
    strategy_file(ws).write_text("templates: [gone]\n", encoding="utf-8")
    page = browser.get(f"/models/{mid}/accounts")
    assert page.code == 400 and "no template set named gone" in page.text
    assert f'href="/models/{mid}/strategy"' in page.text
