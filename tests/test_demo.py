"""`igctl demo`: the README's first command. A small fleet taken through the whole lifecycle by
simulated phones over real HTTP, and the report's numbers checked against each other and
against the database."""

from __future__ import annotations

import json
import os
import re
import socket
from pathlib import Path
from urllib.parse import urlparse

import pytest

from igctl.demo import png
from igctl.engine.store.migrations import STATES
from igctl.engine.store.workspace import Workspace

ACCOUNTS = 7


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    """One demo run for the module's checks (it takes a few seconds): its JSON and workspace."""
    from click.testing import CliRunner

    from igctl.cli import cli

    path = tmp_path_factory.mktemp("demo") / "ws"
    mp = pytest.MonkeyPatch()
    for var in ("IGCTL_WORKSPACE", "IGCTL_SECRET_KEY"):
        mp.delenv(var, raising=False)
    mp.setenv("IGCTL_NOW", "2026-03-02T10:00:00")
    mp.setenv("HOME", str(path.parent / "home"))
    try:
        result = CliRunner().invoke(
            cli, ["demo", str(path), "--accounts", str(ACCOUNTS), "--days", "2", "--json"], catch_exceptions=False
        )
        assert result.exit_code == 0, result.output
        now_after = os.environ.get("IGCTL_NOW")
    finally:
        mp.undo()
    data = json.loads(result.stdout)
    ws = Workspace.open(path)
    yield {"data": data, "ws": ws, "path": path, "now_after": now_after}
    ws.close()


def test_the_json_is_pure_and_names_the_workspace_and_the_html_report(ran):
    data = ran["data"]
    assert Path(data["workspace"]) == ran["path"]
    html = Path(data["html_report"])
    assert html.parent == ran["path"] and html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert "igctl demo report" in html.read_text(encoding="utf-8")
    assert data["accounts"] == ACCOUNTS and len(data["usernames"]) == ACCOUNTS


def test_the_accounts_by_state_add_up_to_the_accounts(ran):
    states = ran["data"]["report"]["accounts_by_state"]
    assert list(states) == list(STATES)
    assert sum(states.values()) == ACCOUNTS
    # the story's end: one retired (banned), the deleted model's accounts cleaned up and ready,
    # the rest active in alice; nothing stuck anywhere
    assert states["retired"] == 1
    for state in ("imported", "proxy_assigned", "warming_up", "human_review", "cleanup"):
        assert states[state] == 0, state
    db = ran["ws"].db()
    assert dict(db.query("SELECT lifecycle_state, COUNT(*) FROM accounts GROUP BY 1")) == {
        s: n for s, n in states.items() if n
    }


def test_the_funnel_is_consistent(ran):
    conv = ran["data"]["report"]["conversion"]
    funnel = conv["funnel"]
    assert [f["stage"] for f in funnel] == ["imported", "proxy_assigned", "warming_up", "ready", "active"]
    counts = [f["accounts"] for f in funnel]
    assert counts[0] == conv["cohort"] == ACCOUNTS
    assert counts == sorted(counts, reverse=True), counts  # never more at a later stage
    assert counts[3] == ACCOUNTS  # every account finished the warm-up
    assert counts[4] == ACCOUNTS  # and every one was assigned to a model
    for f, previous in zip(funnel[1:], counts, strict=False):
        assert f["rate_from_previous"] == round(f["accounts"] / previous, 4)
    assert conv["went_to_review"] >= 1  # the challenge on day 2
    assert conv["retired"] == 1


def test_the_warm_up_steps_add_up(ran):
    report, data = ran["data"]["report"], ran["data"]
    steps = report["warmup_steps"]
    assert list(steps) == ["1", "2", "3", "4", "5"]
    assert all(s["completed"] == ACCOUNTS for s in steps.values())  # each account did each step once
    assert sum(s["completed_by_hand"] for s in steps.values()) >= 1  # the review resolved by hand
    assert sum(s["sent_to_review"] for s in steps.values()) >= 1
    for s in steps.values():
        total = s["completed"] + s["failed"]
        assert s["success_rate"] == round(s["completed"] / total, 4)
        assert s["median_seconds"] is not None and s["median_seconds"] <= s["p90_seconds"]
    # the bots' figures are the simulated phones' own counts
    bots = report["bots"]
    assert sorted(b["name"] for b in bots) == [f"phone-{i}" for i in range(1, data["bots"] + 1)]
    assert sum(b["completed"] for b in bots) == data["tasks"]["completed"]
    # the challenge is reported by a phone too, outside the random failures
    assert sum(b["failed"] for b in bots) == data["tasks"]["failed"] + len(data["challenged"])
    assert data["tasks"]["claimed"] == data["tasks"]["completed"] + data["tasks"]["failed"] + data["tasks"]["conflicts"]
    assert data["tasks"]["errors"] == 0


def test_each_models_figures(ran):
    report, ws = ran["data"]["report"], ran["ws"]
    db = ws.db()
    models = {m["name"]: m for m in report["models"]}
    assert set(models) == {"alice", "bella"}
    alice, bella = models["alice"], models["bella"]
    states = report["accounts_by_state"]
    # bella was deleted: its accounts left it through cleanup and are ready again
    assert bella["accounts"] == 0 and bella["active_accounts"] == 0 and bella["tasks_open"] == 0
    assert bella["tasks_completed"] > 0
    assert states["ready"] == db.scalar(
        """SELECT COUNT(DISTINCT account_id) FROM tasks WHERE kind = 'cleanup' AND status = 'completed'
           AND step_name = 'delete_posts'"""
    )
    # alice keeps her accounts: the active ones and the one retired while in her
    assert alice["active_accounts"] == states["active"] > 0
    assert alice["accounts"] == states["active"] + states["retired"]
    assert states["active"] + states["ready"] + states["retired"] == ACCOUNTS
    # each model's completed and failed attempts are those of its tasks' step log
    for m in (alice, bella):
        row = db.one(
            """SELECT SUM(s.status = 'completed') AS done, SUM(s.status != 'completed') AS failed
               FROM step_log s JOIN tasks t ON t.id = s.task_id
               WHERE t.model_id = ? AND s.status IN ('completed', 'failed', 'requires_review')""",
            [m["id"]],
        )
        assert (m["tasks_completed"], m["tasks_failed"]) == (row["done"], row["failed"] or 0)
        # onboarding and the schedule ran for the model's accounts
        kinds = {
            r[0]
            for r in db.query("SELECT DISTINCT kind FROM tasks WHERE model_id = ? AND status = 'completed'", [m["id"]])
        }
        assert {"onboarding", "story", "post"} <= kinds, kinds
    assert alice["accounts_measured"] > 0 and alice["follower_growth"] is not None
    p = report["proxies"]
    assert p["used_slots"] == ACCOUNTS - states["retired"]
    assert p["free_slots"] == p["slots"] - p["used_slots"]


def test_the_event_log_tells_the_story(ran):
    db = ran["ws"].db()
    kinds = {r[0] for r in db.query("SELECT DISTINCT kind FROM events")}
    assert {
        "command",
        "model.created",
        "model.deleted",
        "account.review_resolved",
        "account.state",
        "content.sync",
    } <= kinds
    assert db.scalar("SELECT COUNT(*) FROM events WHERE kind = 'command' AND message = 'demo'") == 1
    # every hand-out of credentials was logged, by a bot
    assert db.scalar("SELECT COUNT(*) FROM events WHERE kind = 'task.claimed' AND actor LIKE 'bot:phone-%'") > 0
    # the clock moved through the days: first day 2026-03-02 (the test's IGCTL_NOW), last after it
    first, last = db.one("SELECT MIN(at), MAX(at) FROM events")
    assert first.startswith("2026-03-02T06:00") and last > "2026-03-09"


def test_no_plaintext_password_anywhere_in_the_workspace(ran):
    # Generated passwords look like Pw-12345678! and Mail-123456; proxies' demo-proxy-pw-N.
    # Whole shapes are searched: a short marker such as "Pw-" turns up by chance in Fernet's
    # url-safe base64 (it did, once in CI); "!" is not a base64 character, and the other two are
    # long enough that chance is out of the question.
    secret = re.compile(rb"Pw-\d{8}!|Mail-\d{6}(?!\d)|demo-proxy-pw-\d")
    for f in ran["path"].rglob("*"):
        if f.is_file():
            found = secret.search(f.read_bytes())
            assert found is None, (f, found and found.group())


def test_the_clock_and_the_server_are_put_back(ran):
    assert ran["now_after"] == "2026-03-02T10:00:00"
    port = urlparse(ran["data"]["server"]).port
    with socket.socket() as s:
        s.settimeout(1)
        assert s.connect_ex(("127.0.0.1", port)) != 0  # nothing listens any more


def test_the_human_output_ends_with_the_report_and_its_html_path(igctl, tmp_path, clock):
    clock.set("2026-03-04T12:00:00")
    out = igctl("demo", tmp_path / "small", "--accounts", 3, "--days", 1).stdout
    lines = out.splitlines()
    assert lines[0].startswith(f"Workspace {tmp_path / 'small'}")
    assert any("a bot met a challenge" in line for line in lines)
    assert any("operator: resolved" in line for line in lines)
    assert "Accounts by state" in out and "Conversion" in out and "Models" in out
    assert lines[-3] == f"HTML report: {tmp_path / 'small' / 'report.html'}"
    assert (tmp_path / "small" / "report.html").is_file()
    assert os.environ["IGCTL_NOW"] == "2026-03-04T12:00:00"


def test_a_folder_that_is_not_empty_is_refused_and_left_alone(igctl, tmp_path):
    folder = tmp_path / "busy"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    line = igctl.error("demo", folder, "--accounts", 3)
    assert "not empty" in line
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]


def test_an_existing_workspace_is_refused(igctl, ws_path):
    before = sorted(p.name for p in ws_path.iterdir())
    line = igctl.error("demo", ws_path, "--accounts", 3)
    assert "already holds a workspace" in line
    assert sorted(p.name for p in ws_path.iterdir()) == before


@pytest.mark.parametrize(
    "args",
    [
        ["--accounts", "2"],
        ["--accounts", "3001"],
        ["--days", "0"],
        ["--days", "29"],
        ["--failure-rate", "0.6"],
        ["--bots", "0"],
    ],
)
def test_out_of_range_options_are_usage_errors(igctl, tmp_path, args):
    result = igctl("demo", tmp_path / "x", *args, expect=2)
    assert "Invalid value" in result.stderr
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    "option,value,parsed",
    [
        ("--accounts", "3", 3),
        ("--accounts", "3000", 3000),
        ("--days", "1", 1),
        ("--days", "28", 28),
        ("--failure-rate", "0.5", 0.5),
        ("--bots", "1", 1),
    ],
)
def test_boundary_values_are_accepted(option, value, parsed):
    from igctl.commands.demo import demo

    ctx = demo.make_context("demo", ["somewhere", option, value])
    name = option.lstrip("-").replace("-", "_")
    assert ctx.params[name] == parsed and ctx.params["path"] == Path("somewhere")


def test_generated_images_are_valid_pngs():
    import struct
    import zlib

    data = png(5, 4, (10, 200, 30), seed=3)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (5, 4)
    idat_len = struct.unpack(">I", data[33:37])[0]
    raw = zlib.decompress(data[41 : 41 + idat_len])
    assert len(raw) == height * (1 + 3 * width)
    assert png(5, 4, (10, 200, 30), seed=4) != data
