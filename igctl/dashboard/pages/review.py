"""The review queue (`review list`) and retry / resolve."""

from __future__ import annotations

from bottle import Bottle

from igctl.dashboard.face import Face
from igctl.engine.flows import review
from igctl.engine.views import attention


def install(app: Bottle, face: Face) -> None:
    ws, render, change, actor, done, forms = face.ws, face.render, face.change, face.actor, face.done, face.forms

    @app.get("/review")
    def review_page():
        return render("review", title="Needs attention", nav="review", items=attention.attention(ws))

    def _review_names(f) -> list[str]:
        return [u for u in f.getall("usernames") if u.strip()]

    @app.post("/review/retry")
    def review_retry():
        f = forms()
        names = _review_names(f)
        with change("review retry") as c:
            result = review.retry(ws, names, actor=actor())
            c.note(usernames=[d["username"] for d in result])
        done(
            "Queued again, due now: " + ", ".join(f"{d['username']} ({d['step_name']})" for d in result) + ".",
            f.get("next") or "/review",
        )

    @app.post("/review/resolve")
    def review_resolve():
        f = forms()
        names = _review_names(f)
        note = (f.get("note") or "").strip()
        with change("review resolve", note=note) as c:
            result = review.resolve(ws, names, note=note, actor=actor())
            c.note(usernames=[d["username"] for d in result])
        done(
            "Recorded as done by hand: "
            + ", ".join(f"{d['username']} ({d['step_name']}) → {d['account_state']}" for d in result)
            + ".",
            f.get("next") or "/review",
        )
