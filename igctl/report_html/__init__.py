"""The self-contained HTML report: `template.html` with Chart.js (MIT, vendored from the npm
package `chart.js`, its licence in `chart.js-LICENSE.md`) and the report's JSON inlined, so the
file opens offline, from anywhere, with no server.

Nothing here knows of click: `render(report)` takes the dict of `engine.reports.build_report`
and returns the page as text.
"""

from __future__ import annotations

import json
from importlib import resources

CHART_JS = "chart.umd.min.js"
CHART_JS_VERSION = "4.6.1"
_MARKERS = ("/*@CHART_JS@*/", "/*@REPORT_JSON@*/", "@TITLE@")


def _read(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def _script_safe(text: str) -> str:
    """Script text that cannot end the <script> element it sits in."""
    if "</" in text or "<!--" in text:
        raise ValueError("script text would end its <script> element")
    return text


def _json_safe(data) -> str:
    """JSON for a <script type="application/json"> element: every `<` written as \\u003c."""
    return json.dumps(data, ensure_ascii=False, default=str).replace("<", "\\u003c")


def chart_js() -> str:
    # The source-map comment would point at a file that is not there; drop it.
    lines = [line for line in _read(CHART_JS).splitlines() if not line.startswith("//# sourceMappingURL=")]
    return "\n".join(lines)


def render(report: dict, *, title: str = "igctl report") -> str:
    page = _read("template.html")
    safe_title = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    # Replace the markers in one pass over the template, so nothing inserted is read again.
    out, rest = [], page
    values = {_MARKERS[0]: _script_safe(chart_js()), _MARKERS[1]: _json_safe(report), _MARKERS[2]: safe_title}
    while True:
        found = [(rest.find(m), m) for m in _MARKERS if rest.find(m) >= 0]
        if not found:
            out.append(rest)
            break
        at, marker = min(found)
        out.append(rest[:at])
        out.append(values[marker])
        rest = rest[at + len(marker) :]
    return "".join(out)
