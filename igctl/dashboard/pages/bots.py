"""Bots: the list (`bot list`), adding one (`bot add`: its token shown once, on the page that
answers the form), one bot's page (`bot show`), its slot limit (`bot set-slots`) and revoking
it behind a confirmation page (`bot revoke`)."""

from __future__ import annotations

from bottle import Bottle

from igctl.dashboard.face import Face
from igctl.engine.domain import bots
from igctl.engine.views import bots as bot_views


def slot_limit(value: str | None, face: Face) -> int | None:
    """The slots field: empty or "none" is no limit, else a whole number (the engine says which)."""
    text = (value or "").strip()
    if text.lower() in ("", "none"):
        return None
    return face.number(text, "slots")


def install(app: Bottle, face: Face) -> None:
    ws, render, change, actor, done, forms = face.ws, face.render, face.change, face.actor, face.done, face.forms

    @app.get("/bots")
    def bots_page():
        return render("bots", title="Bots", nav="bots", rows=bots.list_bots(ws))

    @app.post("/bots")
    def bot_add():
        f = forms()
        name = (f.get("name") or "").strip()
        slots = slot_limit(f.get("slots"), face)
        with change("bot add", bot=name, slots=slots):
            added = bots.add(ws, name, slots=slots, actor=actor())
        # The token is on this page and nowhere else (only its hash is stored): no redirect, and
        # the page is not stored by the browser (Cache-Control: no-store, as every page).
        return render("bot_added", title=f"Bot {added['name']} added", nav="bots", bot=added)

    @app.get("/bots/<bot_id:int>")
    def bot_page(bot_id):
        data = bot_views.show(ws, bot_id=bot_id)
        return render("bot", title=f"Bot {data['name']}", nav="bots", b=data)

    @app.post("/bots/<bot_id:int>/slots")
    def bot_slots(bot_id):
        name = bots.by_id(ws.db(), bot_id)["name"]
        slots = slot_limit(forms().get("slots"), face)
        with change("bot set-slots", bot=name, slots=slots) as c:
            result = bots.set_slots(ws, name, slots, actor=actor())
            if not result["changed"]:
                c.discard()
        limit = "no slot limit" if result["slots"] is None else f"{result['slots']} slots"
        text = (
            f"Bot {name} now has {limit}." if result["changed"] else f"Bot {name} already has {limit}: nothing changed."
        )
        done(text, f"/bots/{bot_id}")

    @app.get("/bots/<bot_id:int>/revoke")
    def bot_revoke_page(bot_id):
        data = bot_views.show(ws, bot_id=bot_id, limit=1)
        return render("bot_revoke", title=f"Revoke bot {data['name']}?", nav="bots", b=data)

    @app.post("/bots/<bot_id:int>/revoke")
    def bot_revoke(bot_id):
        name = bots.by_id(ws.db(), bot_id)["name"]
        with change("bot revoke", bot=name):
            result = bots.revoke(ws, name, actor=actor())
        done(
            f"Bot {result['name']} revoked: its token no longer works; {result['tasks_released']} task(s) back in "
            f"the queue, {result['accounts_unbound']} account(s) unbound.",
            f"/bots/{bot_id}",
        )
