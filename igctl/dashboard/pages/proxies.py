"""Proxies: the list (`proxy list`), status, putting accounts on proxies."""

from __future__ import annotations

from bottle import Bottle

from igctl.dashboard.face import Face
from igctl.engine.domain import accounts, proxies
from igctl.engine.store.errors import InvalidInput


def install(app: Bottle, face: Face) -> None:
    ws, render, change, actor, done, forms = face.ws, face.render, face.change, face.actor, face.done, face.forms

    @app.get("/proxies")
    def proxies_page():
        return render(
            "proxies",
            title="Proxies",
            nav="proxies",
            rows=proxies.list_proxies(ws),
            statuses=proxies.STATUSES,
            unplaced=[a["username"] for a in accounts.list_accounts(ws, state="imported")],
        )

    @app.post("/proxies/<proxy_id:int>/status")
    def proxy_status(proxy_id):
        f = forms()
        status = (f.get("status") or "").strip()
        with change("proxy set-status", proxy_id=proxy_id, status=status):
            result = proxies.set_status(
                ws, proxy_id, status, actor=actor(), cause=(f.get("reason") or "").strip() or None, acknowledge=True
            )
        text = (
            f"Proxy {proxy_id}: {result['old_status']} → {status}."
            if result["changed"]
            else f"Proxy {proxy_id} is already {status}."
        )
        done(text, f.get("next") or "/proxies")

    @app.post("/proxies/assign")
    def proxy_assign():
        f = forms()
        username = (f.get("username") or "").strip()
        if not username:
            raise InvalidInput("give the account to put on a proxy")
        proxy_id = face.number(f.get("proxy_id"), "proxy id")
        with change("proxy assign", username=username, proxy_id=proxy_id):
            result = proxies.assign(ws, username, proxy_id, actor=actor())
        done(
            f"{result['username']} is on proxy {result['proxy_id']}; state {result['lifecycle_state']}.",
            f.get("next") or "/proxies",
        )

    @app.post("/proxies/auto-assign")
    def proxy_auto_assign():
        f = forms()
        with change("proxy auto-assign"):
            result = proxies.auto_assign(ws, actor=actor())
        done(
            f"{result['assigned']} account(s) got a proxy; {result['left_without_proxy']} left without one.",
            f.get("next") or "/proxies",
        )
