"""The models grid (`/`) and each model's accounts page with its tabs (`model show`), and the
model's actions: create (`model create`), the strategy editor (`models/<slug>.yaml`, applied as
`model sync`), assign, unassign or move accounts (`model unassign`, `model assign --reassign`),
and delete behind a confirmation page (`model delete`)."""

from __future__ import annotations

from bottle import Bottle, request

from igctl.dashboard.face import Face
from igctl.engine.domain import accounts
from igctl.engine.domain.strategy import label as strategy_label
from igctl.engine.flows import models, strategy_editor
from igctl.engine.flows.strategy_editor import KINDS, StrategyForm, StrategyRefused
from igctl.engine.store.errors import InvalidInput
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
        try:
            summary, data = model_views.show(ws, row["name"], view, **filters)
        except InvalidInput as exc:
            if row["archived_at"] is not None or not exc.message.startswith(strategy_label(row["slug"])):
                raise
            # a broken strategy file: the editor shows why and saves a valid one
            return render(
                "error",
                status=exc.http_status,
                title="Not done",
                message=exc.message + " Open the strategy editor to see the fields and save a valid file.",
                back=f"/models/{model_id}/strategy",
            )
        extra = {}
        if view == "overview":
            extra["move_targets"] = [
                m for m in model_views.list_models(ws) if m["id"] != row["id"] and not m["archived_at"]
            ]
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

    # -- create ------------------------------------------------------------------------------------
    @app.get("/models/new")
    def model_new():
        return render("model_new", title="New model", nav="models", values={}, error=None)

    @app.post("/models")
    def model_create():
        f = forms()
        name = (f.get("name") or "").strip()
        display_name = (f.get("display_name") or "").strip() or None
        with change("model create", model=name, display_name=display_name):
            row = models.create(ws, name, display_name=display_name, actor=actor())
        done(
            f"Model {row['name']} created: its strategy is models/{row['slug']}.yaml, its content "
            f"content/{row['slug']}/. Set its strategy below, then add content and assign accounts.",
            f"/models/{row['id']}/strategy",
        )

    # -- the strategy editor -------------------------------------------------------------------------
    def strategy_page(row, data, status=200, errors=None, saved_form=None):
        return render(
            "model_strategy",
            status=status,
            title=f"Strategy of {row['display_name'] or row['name']}",
            nav="models",
            model=row,
            kinds=KINDS,
            form=saved_form or data["form"],
            errors=errors or {},
            **{k: v for k, v in data.items() if k != "form"},
        )

    @app.get("/models/<model_id:int>/strategy")
    def model_strategy(model_id):
        row = dashboard.model_by_id(ws, model_id)
        return strategy_page(row, strategy_editor.editor(ws, row))

    @app.post("/models/<model_id:int>/strategy")
    def model_strategy_save(model_id):
        row = dashboard.model_by_id(ws, model_id)
        f = forms()
        form = StrategyForm(
            display_name=f.get("display_name") or "",
            templates=tuple(f.getall("templates")),
            onboarding=f.get("onboarding") or "",
            schedule={k: (f.get(f"{k}_number") or "", f.get(f"{k}_period") or "") for k in KINDS},
            active_hours=f.get("active_hours") or "",
            locations=f.get("locations") or "",
            max_accounts=f.get("max_accounts") or "",
            notes=f.get("notes") or "",
        )
        try:
            with change("model strategy", model=row["name"]) as c:
                result = strategy_editor.save(ws, row["name"], form, actor=actor())
                c.note(written=result["written"], strategy_changed=result["strategy_changed"])
        except StrategyRefused as exc:
            # each message next to its field, and the form as it was typed
            return strategy_page(row, strategy_editor.editor(ws, row), 400, exc.fields, form)
        if not result["written"]:
            text = f"{result['file']} already says this: nothing to save."
        else:
            text = f"Saved {result['file']}" + (
                " and applied." if result["strategy_changed"] else " (the strategy in force is unchanged)."
            )
        done(text, f"/models/{model_id}/strategy")

    # -- delete ------------------------------------------------------------------------------------
    @app.get("/models/<model_id:int>/delete")
    def model_delete_page(model_id):
        row = dashboard.model_by_id(ws, model_id)
        preview = None if row["archived_at"] else models.delete_preview(ws, row["name"])
        return render("model_delete", title=f"Delete model {row['name']}?", nav="models", model=row, p=preview)

    @app.post("/models/<model_id:int>/delete")
    def model_delete(model_id):
        row = dashboard.model_by_id(ws, model_id)
        with change("model delete", model=row["name"]):
            result = models.delete(ws, row["name"], actor=actor())
        text = f"Model {result['model']} deleted (archived): {len(result['cleanup'])} account(s) sent to cleanup."
        if result["reassign_cancelled"]:
            text += " No longer joining it (they stay ready): " + ", ".join(result["reassign_cancelled"]) + "."
        done(text, f"/models/{model_id}/accounts")

    # -- unassign or move selected accounts ---------------------------------------------------------
    @app.post("/models/<model_id:int>/unassign")
    def model_unassign(model_id):
        row = dashboard.model_by_id(ws, model_id)
        f = forms()
        usernames = [u for u in f.getall("usernames") if u.strip()]
        back = f"/models/{model_id}/accounts?view=overview"
        if f.get("action") == "move":
            target_id = face.number(f.get("to_model"), "the model to move to")
            if target_id is None:
                raise InvalidInput("choose the model to move the accounts to")
            target = dashboard.model_by_id(ws, target_id)
            if not usernames:
                raise InvalidInput("select at least one account")
            with change("model assign", model=target["name"], usernames=usernames, reassign=True) as c:
                result = models.assign(ws, target["name"], usernames=usernames, reassign=True, actor=actor())
                c.note(assigned=len(result["assigned"]), reassigning=len(result["reassigning"]))
            parts = [
                f"{len(result['reassigning'])} account(s) leave {row['name']} through cleanup, then join "
                f"{result['model']}" + (": " + ", ".join(result["reassigning"]) if result["reassigning"] else "")
            ]
            if result["assigned"]:
                parts.append(f"assigned at once (they were ready): {', '.join(result['assigned'])}")
            parts += [f"skipped {s['username']}: {s['reason']}" for s in result["skipped"]]
            done("; ".join(parts), back)
        with change("model unassign", model=row["name"], usernames=usernames):
            result = models.unassign(ws, row["name"], usernames, actor=actor())
        done(
            f"{len(result['cleanup'])} account(s) of {result['model']} sent to cleanup: "
            + ", ".join(result["cleanup"]),
            back,
        )
