"""`igctl report` against a scenario whose true figures are known (tests/report_scenario.py):
exact funnel, success rates, medians and p90s, proxy, bot, model and error figures; the scope
options with their boundaries; the CSV export; bad input."""

from __future__ import annotations

import csv
import json

import pytest
import report_scenario
from warmup_helpers import snapshot

from igctl.engine.views import reports

STATES = ["imported", "proxy_assigned", "warming_up", "human_review", "ready", "active", "cleanup", "retired"]


@pytest.fixture
def scenario(ws, clock, write):
    return report_scenario.build(ws, clock, write)


def test_report_json_has_the_known_figures(igctl, ws, scenario):
    r = igctl.json("report")
    assert list(r["accounts_by_state"]) == STATES
    assert r["accounts_by_state"] == {
        "imported": 2,
        "proxy_assigned": 0,
        "warming_up": 0,
        "human_review": 1,
        "ready": 2,
        "active": 2,
        "cleanup": 0,
        "retired": 1,
    }

    steps = r["warmup_steps"]
    assert list(steps) == ["1", "2", "3", "4", "5"]
    one = steps["1"]
    assert (one["step_name"], one["completed"], one["failed"]) == ("change_pfp", 5, 2)
    assert one["success_rate"] == round(5 / 7, 4)
    assert one["median_seconds"] == 180.0  # 60, 120, 180, 240, 300
    assert one["p90_seconds"] == 300.0  # nearest rank: the 5th of 5
    assert one["sent_to_review"] == 1
    three = steps["3"]
    assert (three["completed"], three["failed"], three["success_rate"]) == (5, 1, round(5 / 6, 4))
    for n in ("2", "4", "5"):
        assert (steps[n]["completed"], steps[n]["failed"], steps[n]["success_rate"]) == (5, 0, 1.0)
        assert steps[n]["median_seconds"] == steps[n]["p90_seconds"] == 100.0

    assert r["proxies"] == {
        "total": 3,
        "in_use": 2,
        "slots": 9,
        "used_slots": 5,
        "free_slots": 1,
        "utilization": round(5 / 9, 4),
        "active": 2,
        "inactive": 1,
        "in_error": 0,
        "monthly_cost": 30.0,
        "active_accounts": 2,
        "cost_per_active_account": 15.0,
    }

    bots = {b["name"]: b for b in r["bots"]}
    b1, b2 = bots["b1"], bots["b2"]
    # b1: step 1 of u1..u4, steps 2-5 of u1..u4, alice's post; failed: u1's rate limit, u2's story
    assert (b1["completed"], b1["failed"], b1["throughput"]) == (21, 2, 21)
    assert b1["failure_rate"] == round(2 / 23, 4)
    assert b1["median_execution_ms"] == 90_000  # 50k, 16 × 90k, 110k, 170k, 230k
    assert (b2["completed"], b2["failed"], b2["failure_rate"]) == (5, 2, round(2 / 7, 4))
    assert b2["median_execution_ms"] == 80_000  # 4 × 80k, 290k
    assert b1["last_seen_at"] == "2026-03-06T09:06:40.000Z"  # day 5: four steps of 100 s from 09:00
    assert b2["last_seen_at"] == "2026-03-06T10:01:40.000Z"

    (alice,) = r["models"]
    assert alice == {
        "id": scenario["model_id"],
        "name": "alice",
        "display_name": "alice",
        "accounts": 2,
        "active_accounts": 2,
        "tasks_completed": 1,
        "tasks_failed": 1,
        "tasks_open": 1,
        "success_rate": 0.5,
        "accounts_measured": 2,
        "followers_start": 300,
        "followers_now": 340,
        "follower_growth": 40,
    }

    assert r["errors"] == {"action_blocked": 1, "challenge": 1, "rate_limited": 1, "ui_not_found": 1}
    assert r["errors_by_step"] == {
        "story/story": {"action_blocked": 1},
        "warmup/change_pfp": {"challenge": 1, "ui_not_found": 1},
        "warmup/post_highlight": {"rate_limited": 1},
    }

    c = r["conversion"]
    assert [(f["stage"], f["accounts"]) for f in c["funnel"]] == [
        ("imported", 8),
        ("proxy_assigned", 6),
        ("warming_up", 6),
        ("ready", 5),
        ("active", 2),
    ]
    assert [f["rate_from_previous"] for f in c["funnel"]] == [1.0, 0.75, 1.0, round(5 / 6, 4), 0.4]
    assert [f["rate_from_imported"] for f in c["funnel"]] == [1.0, 0.75, 0.75, 0.625, 0.25]
    assert (c["cohort"], c["went_to_review"], c["retired"]) == (8, 1, 1)
    assert (c["imported_to_ready"], c["ready_to_active"], c["imported_to_active"]) == (0.625, 0.4, 0.25)


def test_funnel_counts_accounts_that_reached_a_stage_not_where_they_are(igctl, ws, scenario):
    """u5 was ready and is retired now, u3 and u4 are ready and not active: the funnel still
    counts u5 as having reached ready, from its account.state events."""
    r = igctl.json("report")
    assert r["accounts_by_state"]["ready"] == 2
    assert r["conversion"]["reached_ready"] == 5


def test_daily_series_in_the_html_data(ws, scenario):
    d = reports.build_report(ws)["daily"]
    assert d["days"] == ["2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05", "2026-03-06", "2026-03-07"]
    assert d["completed"] == [5, 5, 5, 5, 5, 1]
    assert d["failed"] == [2, 0, 1, 0, 0, 1]
    assert d["errors_by_kind"]["rate_limited"] == [0, 0, 1, 0, 0, 0]
    assert d["completed_by_bot"] == {"b1": [4, 4, 4, 4, 4, 1], "b2": [1, 1, 1, 1, 1, 0]}


def test_daily_series_uses_the_workspace_calendar_day(ws_path, igctl, clock, write):
    """An attempt settled at 23:30 UTC belongs to the next day in Europe/Berlin."""
    (ws_path / "igctl.yaml").write_text(
        (ws_path / "igctl.yaml").read_text().replace("timezone: UTC", "timezone: Europe/Berlin")
    )
    from igctl.engine.store.workspace import Workspace

    ws = Workspace.open(ws_path)
    db = ws.db()
    with db.write():
        a = db.execute(
            "INSERT INTO accounts (username, password_enc, created_at, updated_at) VALUES ('x', 'e', '2026-03-01T00:00:00.000Z', '2026-03-01T00:00:00.000Z')"
        ).lastrowid  # noqa: E501
        for done in ("2026-03-02T22:59:00.000Z", "2026-03-02T23:30:00.000Z"):
            db.execute(
                "INSERT INTO step_log (account_id, kind, step_number, step_name, started_at, completed_at, status)"
                " VALUES (?, 'warmup', 1, 'change_pfp', ?, ?, 'completed')",
                [a, done, done],
            )
    d = reports.build_report(ws)["daily"]
    assert d["days"] == ["2026-03-02", "2026-03-03"] and d["completed"] == [1, 1]
    ws.close()


def test_model_scope(igctl, ws, scenario):
    r = igctl.json("report", "--model", "alice")
    assert r["scope"]["model"] == "alice"
    assert r["accounts_by_state"] == {s: (2 if s == "active" else 0) for s in STATES}
    one = r["warmup_steps"]["1"]
    assert (one["completed"], one["failed"], one["median_seconds"], one["p90_seconds"]) == (2, 0, 90.0, 120.0)
    # p1 holds u1, u2 (and u3)
    p = r["proxies"]
    assert (p["total"], p["slots"], p["used_slots"], p["utilization"], p["cost_per_active_account"]) == (
        1,
        3,
        3,
        1.0,
        6.25,
    )
    assert [b["name"] for b in r["bots"]] == ["b1"]
    assert [m["name"] for m in r["models"]] == ["alice"]
    assert [f["accounts"] for f in r["conversion"]["funnel"]] == [2, 2, 2, 2, 2]
    assert r["errors"] == {"action_blocked": 1, "rate_limited": 1}


def test_since_until_window_and_its_boundaries(igctl, ws, scenario):
    r = igctl.json("report", "--since", "2026-03-03", "--until", "2026-03-05")
    steps = r["warmup_steps"]
    assert [steps[n]["completed"] for n in "12345"] == [0, 5, 5, 0, 0]
    assert steps["3"]["failed"] == 1
    assert r["conversion"]["cohort"] == 0  # everyone was imported on 2026-03-02
    b1 = next(b for b in r["bots"] if b["name"] == "b1")
    assert (b1["completed"], b1["failed"]) == (8, 1)
    # accounts per state and proxies are "now", whatever the window
    assert r["accounts_by_state"]["active"] == 2 and r["proxies"]["used_slots"] == 5

    # u1's step 1 completed at 09:01:00.000 exactly: `since` includes it, `until` excludes it
    at_since = igctl.json("report", "--since", "2026-03-02T09:01:00", "--until", "2026-03-02T09:01:00.001")
    assert at_since["warmup_steps"]["1"]["completed"] == 1
    just_after = igctl.json("report", "--since", "2026-03-02T09:01:00.001", "--until", "2026-03-02T09:03:00")
    assert just_after["warmup_steps"]["1"]["completed"] == 0
    until_it = igctl.json("report", "--until", "2026-03-02T09:01:00")
    assert until_it["warmup_steps"]["1"]["completed"] == 0
    assert until_it["conversion"]["cohort"] == 8  # imported at 08:00


def test_report_is_read_only(igctl, ws, scenario):
    before = snapshot(ws)
    igctl("report")
    igctl("report", "--json")
    assert snapshot(ws) == before


def test_terminal_tables(igctl, ws, scenario):
    out = igctl("report").stdout
    for heading in ("Accounts by state", "Conversion", "Warm-up steps", "Proxies", "Bots", "Models", "Errors"):
        assert heading in out
    assert "71.4%" in out  # step 1's success rate
    assert "slots 5/9 used (55.6%)" in out
    assert "per active account 15.00" in out


def test_csv_export_writes_one_file_per_table(igctl, ws, scenario, tmp_path):
    target = tmp_path / "export" / "today"
    out = igctl("report", "--csv", target).stdout
    names = {p.name for p in target.iterdir()}
    assert names == {
        "accounts_by_state.csv",
        "warmup_steps.csv",
        "conversion.csv",
        "proxies.csv",
        "bots.csv",
        "models.csv",
        "errors.csv",
        "errors_by_step.csv",
        "daily.csv",
    }
    assert f"wrote {target / 'bots.csv'}" in out
    with open(target / "warmup_steps.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["step"] for r in rows] == ["1", "2", "3", "4", "5"]
    assert (rows[0]["completed"], rows[0]["failed"], rows[0]["median_seconds"]) == ("5", "2", "180.0")
    with open(target / "conversion.csv", newline="") as fh:
        conv = {r["stage"]: r["accounts"] for r in csv.DictReader(fh)}
    assert conv == {
        "imported": "8",
        "proxy_assigned": "6",
        "warming_up": "6",
        "ready": "5",
        "active": "2",
        "went_to_review": "1",
        "retired": "1",
    }
    # --csv with --json: the files, and pure JSON on stdout
    r = json.loads(igctl("report", "--csv", tmp_path / "again", "--json").stdout)
    assert r["accounts_by_state"]["active"] == 2 and (tmp_path / "again" / "daily.csv").exists()


def test_empty_workspace_report(igctl, ws_path):
    r = igctl.json("report")
    assert r["accounts_by_state"] == {s: 0 for s in STATES}
    assert all(v["success_rate"] is None and v["median_seconds"] is None for v in r["warmup_steps"].values())
    assert r["proxies"]["utilization"] is None and r["proxies"]["cost_per_active_account"] is None
    assert r["bots"] == [] and r["models"] == [] and r["errors"] == {}
    assert r["conversion"]["cohort"] == 0 and r["conversion"]["imported_to_ready"] is None


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "nobody"], "Error: no model named nobody"),
        (["--since", "yesterday"], "Error: not a date"),
        (["--until", "2026-13-01"], "Error: not a date"),
        (
            ["--since", "2026-03-05", "--until", "2026-03-05"],
            "Error: the start of the period must be before its end (--since, --until)",
        ),
        (
            ["--since", "2026-03-06", "--until", "2026-03-05"],
            "Error: the start of the period must be before its end (--since, --until)",
        ),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(igctl, ws, scenario, args, message, tmp_path):
    before = snapshot(ws)
    line = igctl.error("report", *args, "--csv", tmp_path / "out", "--html", tmp_path / "r.html")
    assert line.startswith(message), line
    assert snapshot(ws) == before
    assert not (tmp_path / "out").exists() and not (tmp_path / "r.html").exists()


def test_bad_output_targets(igctl, ws_path, tmp_path):
    (tmp_path / "a-file").write_text("x")
    assert (
        igctl.error("report", "--csv", tmp_path / "a-file")
        == f"Error: --csv wants a folder; {tmp_path / 'a-file'} is a file"
    )
    assert igctl.error("report", "--html", tmp_path / "missing" / "r.html").startswith("Error: --html: folder")
    assert not (tmp_path / "missing").exists()
    assert igctl.error("report", "--html", tmp_path).startswith("Error: --html wants a file name")


def test_percentile_and_median_by_hand():
    assert reports.median([]) is None and reports.percentile([], 90) is None
    assert reports.median([1, 2, 3, 4]) == 2.5 and reports.median([7]) == 7.0
    values = list(range(1, 11))  # 1..10: the 90th percentile is the 9th value, just inside
    assert reports.percentile(values, 90) == 9.0
    assert reports.percentile(values + [11], 90) == 10.0  # ceil(9.9) = 10th of 11
    assert reports.fraction(1, 3) == 0.3333 and reports.fraction(1, 0) is None
