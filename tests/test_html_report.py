"""`igctl report --html`: one self-contained file, opened in headless Chromium: it loads with no
console error and every chart draws (non-zero size, painted pixels).

Chromium runs with `--dump-dom`: the page's own script writes each chart's drawn size and any
error into the DOM (`#chart-sizes`, `#report-problems`), and Chromium's console log goes to
stderr (`--enable-logging=stderr`), which the test reads too. `.ci/run` installs Debian's
`chromium` when it is missing.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess

import pytest
import report_scenario

from igctl import report_html

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHARTS = ["chart-funnel", "chart-daily", "chart-steps", "chart-proxies", "chart-errors", "chart-bots"]
# CI installs chromium (.ci/run), so there a missing browser is a failure, not a skip.
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"), reason="chromium is not installed (.ci/run installs it)"
)


def open_in_chromium(page, profile, screenshot=None) -> tuple[str, str]:
    """(the DOM after the page's scripts ran, Chromium's stderr)."""
    assert CHROMIUM, "chromium is not installed: .ci/run installs it (apt-get install chromium)"
    args = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=10000",
        "--window-size=1400,1800",
    ]
    args += [f"--screenshot={screenshot}"] if screenshot else ["--dump-dom"]
    result = subprocess.run([*args, page.as_uri()], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout, result.stderr


def pre(dom: str, element_id: str) -> str:
    match = re.search(rf'<pre id="{element_id}">(.*?)</pre>', dom, re.S)
    assert match, f"#{element_id} missing from the page"
    return html.unescape(match.group(1))


def console_errors(stderr: str) -> list[str]:
    # Chromium logs a page's console messages as `CONSOLE(line)] "message", source: …`, and uncaught
    # exceptions as "Uncaught …"; its own start-up noise (dbus, GPU) is not the page's.
    return [line for line in stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]


@pytest.fixture
def scenario(ws, clock, write):
    return report_scenario.build(ws, clock, write)


@needs_chromium
@pytest.mark.slow
def test_html_report_draws_every_chart_in_chromium(igctl, ws, scenario, tmp_path):
    page = tmp_path / "report.html"
    out = igctl("report", "--html", page).stdout
    assert f"wrote {page}" in out
    dom, stderr = open_in_chromium(page, tmp_path / "profile")
    assert pre(dom, "report-problems") == ""
    assert console_errors(stderr) == []
    sizes = json.loads(pre(dom, "chart-sizes"))
    assert sorted(sizes) == sorted(CHARTS)
    for chart, size in sizes.items():
        assert size["width"] > 0 and size["height"] > 0 and size["painted"] > 0, (chart, size)
    # the tables are filled from the embedded data
    assert "change_pfp" in dom and "b1" in dom and "alice" in dom


@needs_chromium
@pytest.mark.slow
def test_html_report_of_an_empty_workspace_draws_too(igctl, ws_path, tmp_path):
    page = tmp_path / "empty.html"
    igctl("report", "--html", page)
    dom, stderr = open_in_chromium(page, tmp_path / "profile")
    assert pre(dom, "report-problems") == "" and console_errors(stderr) == []
    sizes = json.loads(pre(dom, "chart-sizes"))
    assert all(s["width"] > 0 and s["height"] > 0 for s in sizes.values()) and len(sizes) == len(CHARTS)


@needs_chromium
@pytest.mark.slow
def test_a_broken_page_is_caught(tmp_path):
    """The check can fail: a page whose data does not parse shows its error and draws nothing."""
    page = tmp_path / "broken.html"
    text = report_html.render({"scope": {}}, title="broken")
    page.write_text(text, encoding="utf-8")
    dom, stderr = open_in_chromium(page, tmp_path / "profile")
    assert "Cannot convert undefined or null to object" in pre(dom, "report-problems")
    assert any("Uncaught TypeError" in line for line in console_errors(stderr))
    assert pre(dom, "chart-sizes") == ""


def test_html_is_self_contained(igctl, ws, scenario, tmp_path):
    page = tmp_path / "report.html"
    igctl("report", "--html", page, "--model", "alice")
    text = page.read_text(encoding="utf-8")
    # no fetch of anything: no src= or href= to a file or the network, the chart library inlined
    assert not re.search(r"""(src|href)\s*=\s*["'](https?:|//|[^"'#])""", text)
    assert "sourceMappingURL" not in text
    assert f"Chart.js v{report_html.CHART_JS_VERSION}" in text
    data = json.loads(
        re.search(r'<script type="application/json" id="report-data">(.*?)</script>', text, re.S).group(1)
    )
    assert data["scope"]["model"] == "alice" and data["accounts_by_state"]["active"] == 2
    assert "<title>igctl report — model alice</title>" in text


def test_data_cannot_break_out_of_its_script_element(tmp_path):
    text = report_html.render({"scope": {"model": "</script><script>alert(1)</script>"}}, title="<b>x</b>")
    assert "</script><script>alert(1)" not in text
    assert "<title>&lt;b&gt;x&lt;/b&gt;</title>" in text
    data = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', text, re.S).group(1)
    assert json.loads(data)["scope"]["model"] == "</script><script>alert(1)</script>"
