"""The report page and its charts (`report`, `report --html`)."""

from __future__ import annotations

from urllib.parse import urlencode

from bottle import Bottle, request, response

from igctl.dashboard.face import Face
from igctl.engine.store.timeparse import operator_instant
from igctl.engine.views import models as model_views
from igctl.engine.views import reports

REPORT_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
)


def install(app: Bottle, face: Face) -> None:
    ws, render = face.ws, face.render

    def _report_args() -> dict:
        q = request.query.decode()
        model = (q.get("model") or "").strip() or None
        since = (q.get("since") or "").strip() or None
        until = (q.get("until") or "").strip() or None
        return {
            "model": model,
            "since": operator_instant(since, ws.tz) if since else None,
            "until": operator_instant(until, ws.tz) if until else None,
            "_given": {"model": model or "", "since": since or "", "until": until or ""},
        }

    @app.get("/report")
    def report_page():
        args = _report_args()
        given = args.pop("_given")
        data = reports.build_report(ws, daily=False, **args)
        return render(
            "report",
            title="Report",
            nav="report",
            r=data,
            given=given,
            charts="/report/charts?" + urlencode({k: v for k, v in given.items() if v}),
            model_names=[m["name"] for m in model_views.list_models(ws)],
        )

    @app.get("/report/charts")
    def report_charts():
        from igctl import report_html

        args = _report_args()
        args.pop("_given")
        data = reports.build_report(ws, daily=True, **args)
        response.set_header("Content-Security-Policy", REPORT_CSP)
        response.content_type = "text/html; charset=utf-8"
        return report_html.render(data, title="igctl report" + (f" — model {args['model']}" if args["model"] else ""))
