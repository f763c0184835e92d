"""The accounts list and one account's page, with its actions."""

from __future__ import annotations

from urllib.parse import quote

from bottle import Bottle, request, static_file

from igctl.dashboard.face import Face
from igctl.engine.domain import accounts, bots, credentials, plan
from igctl.engine.store.errors import IgctlError, InvalidInput
from igctl.engine.store.migrations import STATES
from igctl.engine.views import dashboard


def install(app: Bottle, face: Face) -> None:
    ws, render, change, actor, done, forms = face.ws, face.render, face.change, face.actor, face.done, face.forms

    @app.get("/accounts")
    def accounts_list():
        state = request.query.get("state") or None
        return render(
            "accounts",
            title="Accounts",
            nav="accounts",
            rows=accounts.list_accounts(ws, state=state),
            state=state,
            states=STATES,
        )

    @app.get("/accounts/<username>")
    def account_page(username):
        data = accounts.show_account(ws, username, actor=actor())
        plan_data = None
        if data["lifecycle_state"] in ("warming_up", "human_review") and data["warmup_completed_at"] is None:
            try:
                plan_data = plan.account_plan(ws, data["username"])
            except IgctlError:
                plan_data = None
        bot_names = [b["name"] for b in bots.list_bots(ws) if not b["revoked"]]
        return render("account", title=data["username"], nav="accounts", a=data, plan=plan_data, bots=bot_names)

    @app.get("/accounts/<username>/screenshots/<step_id:int>")
    def account_screenshot(username, step_id):
        path = dashboard.screenshot_file(ws, username, step_id)
        return static_file(path.name, root=str(path.parent))

    @app.post("/accounts/<username>/retire")
    def account_retire(username):
        reason = (forms().get("reason") or "").strip()
        with change("accounts retire", usernames=[username], reason=reason):
            retired = accounts.retire(ws, [username], reason=reason, actor=actor())
        done(f"{retired[0]['username']} retired (was {retired[0]['old_state']}).", f"/accounts/{quote(username)}")

    @app.post("/accounts/<username>/move")
    def account_move(username):
        bot = (forms().get("bot") or "").strip()
        if not bot:
            raise InvalidInput("choose a bot to move the account to")
        with change("accounts move", username=username, bot=bot):
            moved = bots.move_account(ws, username, bot, actor=actor())
        text = (
            f"{moved['username']} moved to bot {moved['bot']} slot {moved['slot']}."
            if moved["changed"]
            else f"{moved['username']} is already on bot {moved['bot']}."
        )
        done(text, f"/accounts/{quote(username)}")

    @app.post("/accounts/<username>/credentials")
    def account_credentials(username):
        f = forms()
        # An empty field keeps what is stored (a form cannot leave a field out); a secret is
        # typed twice, since it is never shown back.
        given: dict[str, str | None] = {}
        for field in credentials.FIELDS:
            value = f.get(field) or ""
            if field != "email" and value != (f.get(field + "_repeat") or ""):
                raise InvalidInput(f"the two {credentials.WORDS[field]}s differ; nothing was changed")
            given[field] = (value.strip() if field == "email" else value) or None
        fields = [k for k, v in given.items() if v is not None]
        with change("accounts update", username=username, fields=fields):
            result = credentials.update_credentials(ws, username, **given, actor=actor())
        text = f"{result['username']}: {credentials.field_words(result['changed'])} changed."
        if result["tasks_in_hand"]:
            text += " A task handed out before keeps the old ones; the next task carries the new ones."
        done(text, f"/accounts/{quote(username)}")
