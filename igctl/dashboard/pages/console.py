"""The bot console: an operator steps through one bot's protocol in the browser, with the engine
calls the bot API makes (`botwork.claim_next`, `complete`, `fail`; `metrics.record`), each as the
operator's change. The events name the operator as actor (their bot_id stays the bot's); the
bot is not marked as seen (its phone was not). Passwords are masked until the operator reveals
them, which is an event of its own (`botwork.reveal_credentials`)."""

from __future__ import annotations

import json
import secrets

from bottle import Bottle

from igctl.dashboard.face import Face
from igctl.engine.domain import botaccess, metrics
from igctl.engine.flows import botwork
from igctl.engine.store.clock import show
from igctl.engine.views import bots as bot_views

CLAIM_KEY_PREFIX = "console-"
FIGURES = ("followers", "following", "posts")


def new_claim_key() -> str:
    """A claim's Idempotency-Key, one per rendering of the claim button: the same click sent
    twice gets the same task back instead of a second one."""
    return CLAIM_KEY_PREFIX + secrets.token_urlsafe(16)


def claim_key(value: str | None) -> str:
    text = (value or "").strip()
    if not (text.startswith(CLAIM_KEY_PREFIX) and 0 < len(text) <= 200 and text.isascii() and text.isprintable()):
        return new_claim_key()  # a form without its key still claims, once
    return text


def as_api(payload: dict) -> dict:
    """A claimed task as `GET /api/bot/next-task` answers it (content with image URLs)."""
    return {**payload, "content": botaccess.api_content(payload["content"] or {})}


def install(app: Bottle, face: Face) -> None:
    ws, render, change, actor, done, forms = face.ws, face.render, face.change, face.actor, face.done, face.forms

    def console_url(bot_id: int) -> str:
        return f"/bots/{bot_id}/console"

    def task_page(bot_id: int, payload: dict, *, revealed: bool):
        b = bot_views.show(ws, bot_id=bot_id, limit=1)
        shown = as_api(payload)
        return render(
            "console_task",
            title=f"Task {payload['task_id']} · bot {b['name']}",
            nav="bots",
            b=b,
            t=payload,
            api_json=json.dumps(shown, indent=2, ensure_ascii=False),
            revealed=revealed,
            error_kinds=botwork.ERROR_KINDS,
            figures=FIGURES,
        )

    @app.get("/bots/<bot_id:int>/console")
    def console(bot_id):
        b = bot_views.show(ws, bot_id=bot_id, limit=10)
        return render("console", title=f"Console · bot {b['name']}", nav="bots", b=b, claim_key=new_claim_key())

    @app.post("/bots/<bot_id:int>/console/claim")
    def console_claim(bot_id):
        key = claim_key(forms().get("claim_key"))
        with change("bot console claim", bot_id=bot_id, claim_key=key) as c:
            task = botwork.claim_next(ws, bot_id, idempotency_key=key, actor=actor())
            if task is not None:
                c.note(task_id=task["task_id"], account=task["account"]["username"])
            elif c.db.scalar("SELECT 1 FROM events WHERE id > ? LIMIT 1", [c.event_id]):
                c.note(task_id=None)  # the claim swept expired leases: their events keep their cause
            else:
                c.discard()
        if task is None:
            return done(
                "No task for this bot now (the API would answer 204): nothing is due for an account bound to it, "
                "or for an unbound one while it has a free slot.",
                console_url(bot_id),
            )
        return done(
            f"Claimed task {task['task_id']}: {task['kind']} {task['step_name']} of {task['account']['username']} "
            f"(slot {task['slot']}, attempt {task['attempt']}).",
            f"{console_url(bot_id)}/tasks/{task['task_id']}",
        )

    @app.post("/bots/<bot_id:int>/console/heartbeat")
    def console_heartbeat(bot_id):
        f = forms()
        with change("bot console heartbeat", bot_id=bot_id) as c:
            beat = botwork.heartbeat(ws, bot_id, actor=actor())
            c.note(leases_extended=beat["leases_extended"])
        text = (
            f"{beat['leases_extended']} lease(s) extended to {show(beat['lease_expires_at'], ws.tz)}."
            if beat["leases_extended"]
            else "No lease to extend: this bot holds no task whose lease is still running."
        )
        done(text, f.get("next") or console_url(bot_id))

    @app.get("/bots/<bot_id:int>/console/tasks/<task_id:int>")
    def console_task(bot_id, task_id):
        return task_page(bot_id, botwork.held_task(ws, bot_id, task_id), revealed=False)

    @app.post("/bots/<bot_id:int>/console/tasks/<task_id:int>/reveal")
    def console_reveal(bot_id, task_id):
        with change("bot console reveal", bot_id=bot_id, task_id=task_id):
            payload = botwork.reveal_credentials(ws, bot_id, task_id, actor=actor())
        # the passwords are on this answer only (no redirect; Cache-Control: no-store)
        return task_page(bot_id, payload, revealed=True)

    @app.post("/bots/<bot_id:int>/console/tasks/<task_id:int>/complete")
    def console_complete(bot_id, task_id):
        f = forms()
        execution_ms = face.number(f.get("execution_time_ms"), "execution time")
        figures = {k: n for k in FIGURES if (n := face.number(f.get(k), k)) is not None}
        if figures:
            metrics.check_figures(figures)  # a bad figure refuses the form before the step is completed
        with change("bot console complete", bot_id=bot_id, task_id=task_id, **figures) as c:
            result = botwork.complete(ws, task_id, bot_id, execution_time_ms=execution_ms, actor=actor())
            if figures:
                metrics.record(ws, result["account_id"], bot_id, figures)
            c.note(account_state=result["account_state"])
        following = result.get("next_task")
        text = f"Task {task_id} completed; the account is {result['account_state']}." + (
            f" Next: {following['step_name']} (task {following['task_id']}), due {show(following['due_at'], ws.tz)}."
            if following
            else ""
        )
        done(text + (" Figures recorded." if figures else ""), console_url(bot_id))

    @app.post("/bots/<bot_id:int>/console/tasks/<task_id:int>/fail")
    def console_fail(bot_id, task_id):
        f = forms()
        kind = (f.get("error_kind") or "").strip() or "other"
        message = f.get("error_message") or ""
        retry_after = face.number(f.get("retry_after_seconds"), "retry after (seconds)")
        review = bool(f.get("requires_review"))
        with change("bot console fail", bot_id=bot_id, task_id=task_id, error_kind=kind) as c:
            result = botwork.fail(
                ws,
                task_id,
                bot_id,
                error_message=message,
                error_kind=kind,
                requires_review=review,
                retry_after_seconds=retry_after,
                actor=actor(),
            )
            c.note(outcome=result["status"])
        outcome = {
            "retry_scheduled": f"a retry is due {show(result['retry_at'], ws.tz)}",
            "human_review": "the account went to human review",
            "cancelled": "the task was cancelled (the account has moved on)",
        }[result["status"]]
        done(
            f"Task {task_id} failed ({kind}, attempt {result['attempts']} of {result['max_attempts']}): {outcome}; "
            f"the account is {result['account_state']}.",
            console_url(bot_id),
        )
