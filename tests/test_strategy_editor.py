"""The strategy editor's engine (engine/flows/strategy_editor.py): a strategy as a form and back,
field errors, the file written atomically with its top comments, applied as `model sync`."""

from __future__ import annotations

import pytest
from test_dashboard_models import state

from igctl.engine.domain import strategy as strategies
from igctl.engine.flows import strategy_editor as editor
from igctl.engine.store.changes import Command, operator_change
from igctl.engine.store.errors import InvalidInput

RICH = """\
# Alice's strategy: kept
#   (both lines)

display_name: Alice A.
templates: [summer, default]
onboarding: [change_pfp, change_bio, change_name]
schedule:
  highlight: {per_week: 0}
  post: {per_week: 3}   # a comment that is lost
  story: {per_day: 2}
active_hours: "18:00-24:00"
locations: [DE, at]
max_accounts: 0
notes: |-
  two
  lines
"""


@pytest.fixture
def alice(igctl, ws):
    igctl("model", "create", "Alice")
    igctl("content", "set-create", "summer")
    return ws.db().one("SELECT * FROM models WHERE name = 'Alice'")


def save(ws, form):
    with operator_change(ws, Command("model strategy", "operator:test", "dashboard")):
        return editor.save(ws, "Alice", form, actor="operator:test")


def test_a_saved_form_reads_back_as_the_same_strategy(ws, alice):
    path = strategies.path_of(ws, "alice")
    path.write_text(RICH, encoding="utf-8")
    opened = editor.editor(ws, alice)
    assert opened["file_error"] is None and opened["missing_sets"] == []
    assert opened["sets"] == ["default", "summer"]
    form = opened["form"]
    assert form.templates == ("summer", "default") and form.schedule["story"] == ("2", "per_day")
    before = strategies.read_file(path, "x")[1]
    result = save(ws, form)
    assert result["written"] is True and result["strategy_changed"] is True
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Alice's strategy: kept\n#   (both lines)\n\ndisplay_name: Alice A.\n")
    assert "a comment that is lost" not in text
    assert strategies.read_file(path, "x")[1] == before
    # the schedule's kinds in the order post, story, highlight; a text of lines as a block
    assert text.index("post:") < text.index("story:") < text.index("highlight:")
    assert "notes: |-\n  two\n  lines\n" in text
    assert strategies.stored(ws.db().one("SELECT * FROM models WHERE id = ?", [alice["id"]])) == before


def test_an_invalid_form_writes_nothing_and_names_every_field(ws, alice):
    before = state(ws)
    form = editor.StrategyForm(
        display_name="x" * 101,
        templates=("summer", "nope"),
        onboarding="change pfp",
        schedule={"post": ("3", "per_month"), "story": ("-1", "per_day")},
        active_hours="9-5",
        locations="DE",
        max_accounts="many",
    )
    with pytest.raises(editor.StrategyRefused) as caught:
        save(ws, form)
    assert list(caught.value.fields) == [
        "display_name",
        "onboarding",
        "schedule.post",
        "schedule.story",
        "active_hours",
        "max_accounts",
    ]
    assert caught.value.message.startswith("models/alice.yaml: nothing was saved: display_name: ")
    assert state(ws) == before
    # only the sets remain wrong: named on their field
    with pytest.raises(editor.StrategyRefused) as caught:
        save(ws, editor.StrategyForm(templates=("summer", "nope")))
    assert caught.value.fields == {"templates": "no template set named nope"}
    assert state(ws) == before


def test_when_applying_is_refused_the_old_file_is_put_back(ws, alice):
    (ws.path / "content/alice/texts.yaml").write_text("bio: [unclosed\n", encoding="utf-8")
    before = state(ws)
    with pytest.raises(InvalidInput, match="texts.yaml: not valid YAML"):
        save(ws, editor.StrategyForm(display_name="New"))
    assert state(ws) == before
    assert not strategies.path_of(ws, "alice").with_name("alice.yaml.tmp").exists()


def test_a_broken_or_missing_file_opens_with_the_strategy_in_force(ws, alice):
    path = strategies.path_of(ws, "alice")
    path.write_text("display_name: Applied\n", encoding="utf-8")
    save(ws, editor.StrategyForm(display_name="Applied"))
    path.write_text("display_name: [\n", encoding="utf-8")
    opened = editor.editor(ws, ws.db().one("SELECT * FROM models WHERE id = ?", [alice["id"]]))
    assert "not valid YAML" in opened["file_error"] and opened["form"].display_name == "Applied"
    path.unlink()
    opened = editor.editor(ws, ws.db().one("SELECT * FROM models WHERE id = ?", [alice["id"]]))
    assert "not found" in opened["file_error"] and opened["form"].display_name == "Applied"
    save(ws, editor.StrategyForm(display_name="Again"))
    assert path.read_text(encoding="utf-8") == "display_name: Again\ntemplates: false\nonboarding: []\n"


def test_a_set_the_file_names_that_is_gone_is_reported(ws, alice):
    strategies.path_of(ws, "alice").write_text("templates: [summer, gone]\n", encoding="utf-8")
    opened = editor.editor(ws, alice)
    assert opened["missing_sets"] == ["gone"] and opened["form"].templates == ("summer", "gone")
