"""Bots: the list (`bot list`)."""

from __future__ import annotations

from bottle import Bottle

from igctl.dashboard.face import Face
from igctl.engine.domain import bots


def install(app: Bottle, face: Face) -> None:
    ws, render = face.ws, face.render

    @app.get("/bots")
    def bots_page():
        return render("bots", title="Bots", nav="bots", rows=bots.list_bots(ws))
