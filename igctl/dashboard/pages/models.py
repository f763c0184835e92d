"""The models grid (`/`) and each model's accounts page with its tabs (`model show`), and assignment."""

from __future__ import annotations

from bottle import Bottle, request

from igctl.dashboard.face import Face
from igctl.engine.domain import accounts
from igctl.engine.flows import models
from igctl.engine.views import dashboard
from igctl.engine.views import models as model_views


def install(app: Bottle, face: Face) -> None:
    ws, render, change, actor, done, forms = face.ws, face.render, face.change, face.actor, face.done, face.forms

    @app.get("/")
    def home():
        return render(
            "home",
            title="Models",
            nav="models",
            models=model_views.list_models(ws),
            fleet=dashboard.fleet(ws),
            short=dashboard.content_short(ws),
        )

    @app.get("/models/<model_id:int>/accounts")
    def model_accounts(model_id):
        row = dashboard.model_by_id(ws, model_id)
        q = request.query.decode()
        view = q.get("view") or "overview"
        filters = {
            "location": (q.get("location") or "").strip() or None,
            "max_retries": face.number(q.get("max_retries"), "max retries"),
            "min_followers": face.number(q.get("min_followers"), "min followers"),
        }
        if view != "available":
            filters = {"location": None, "max_retries": None, "min_followers": None}
        summary, data = model_views.show(ws, row["name"], view, **filters)
        extra = {}
        if view == "proxies":
            extra["ready_or_unplaced"] = [a["username"] for a in accounts.list_accounts(ws, state="imported")]
        return render(
            "model",
            title=summary["display_name"],
            nav="models",
            summary=summary,
            view=view,
            data=data,
            views=model_views.VIEWS,
            filters=filters,
            **extra,
        )

    @app.post("/models/<model_id:int>/assign")
    def model_assign(model_id):
        row = dashboard.model_by_id(ws, model_id)
        f = forms()
        usernames = [u for u in f.getall("usernames") if u.strip()]
        count = face.number(f.get("count"), "count")
        # the filters shown on the Available tab, so "the best N" are the best of those on screen
        filters = {
            "location": (f.get("location") or "").strip() or None,
            "max_retries": face.number(f.get("max_retries"), "max retries"),
            "min_followers": face.number(f.get("min_followers"), "min followers"),
        }
        given = {k: v for k, v in filters.items() if v is not None}
        with change("model assign", model=row["name"], usernames=usernames or None, count=count, **given) as c:
            result = models.assign(ws, row["name"], usernames=usernames or None, count=count, actor=actor(), **filters)
            c.note(assigned=len(result["assigned"]))
        parts = [
            f"{len(result['assigned'])} account(s) assigned to {result['model']}"
            + (": " + ", ".join(result["assigned"]) if result["assigned"] else ".")
        ]
        parts += [f"skipped {s['username']}: {s['reason']}" for s in result["skipped"]]
        done("; ".join(parts), f"/models/{model_id}/accounts?view=overview")
