"""Content: every pool (each model, the default template set, each named set) and one pool's
images and text pools; uploading images, disabling, enabling and deleting items, editing a text
pool one entry a line, and creating, renaming and deleting template sets. Images are served to
the operator's browser here too (thumbnails, the bot console's previews)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from bottle import Bottle, request, response, static_file

from igctl.dashboard.face import Face, local_path, save_upload
from igctl.engine.domain import content
from igctl.engine.store.errors import InvalidInput
from igctl.engine.views import dashboard

ITEM_ACTIONS = ("disable", "enable", "delete")
TEXT_TYPES = ("bio", "post", "story", "highlight")


def pool_href(pool: str) -> str:
    return f"/content/{pool}"


def install(app: Bottle, face: Face) -> None:
    ws, render, change, actor, done, forms, max_upload = (
        face.ws,
        face.render,
        face.change,
        face.actor,
        face.done,
        face.forms,
        face.max_upload,
    )

    @app.get("/content/images/<content_id:int>")
    def content_image(content_id):
        """An image by its content id, as the bot API serves it (content.image_path: inside
        content/ only, a replaced file is not served under its old id)."""
        path = content.image_path(ws, content_id)
        reply = static_file(path.name, root=str(path.parent), mimetype=content.image_mime(path))
        response.set_header("Cache-Control", "private, max-age=300")
        return reply

    def warnings_by_pool() -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for notes in dashboard.content_short(ws).values():
            for note in notes:
                out.setdefault(note["pool"], []).append(note["message"])
        return out

    @app.get("/content")
    def content_pools():
        """Every pool with its counts and warnings (as `content list` without a pool)."""
        return render(
            "content",
            title="Content",
            nav="content",
            pools=content.pools(ws),
            warnings=warnings_by_pool(),
        )

    def pool_page(pool: str):
        detail = content.pool_detail(ws, pool)
        return render(
            "content_pool",
            title=f"Content · {detail['name']}",
            nav="content",
            p=detail,
            warnings=warnings_by_pool().get(detail["pool"], []),
            image_types=content.IMAGE_TYPES,
            text_types=[
                *TEXT_TYPES,
                *sorted((set(detail["text_lists"]) | set(detail["text_items"])) - set(TEXT_TYPES)),
            ],
            max_mb=ws.config.import_.max_file_mb,
            accept=",".join(content.IMAGE_EXTENSIONS),
        )

    @app.get("/content/<pool>")
    def content_pool(pool):
        return pool_page(pool)

    @app.get("/content/_templates/<set_name>")
    def content_set(set_name):
        return pool_page(f"{content.TEMPLATES}/{set_name}")

    # -- changes ----------------------------------------------------------------------------
    @app.post("/content/upload")
    def upload():
        """Images into one category of one pool (`content add`): each file checked by its first
        bytes and limited to import.max_file_mb; one bad file and nothing is kept."""
        f = forms()
        pool = (f.get("pool") or "").strip()
        kind = (f.get("type") or "").strip()
        if kind not in content.IMAGE_TYPES:
            raise InvalidInput(f"choose a category: {', '.join(content.IMAGE_TYPES)}")
        uploads = [u for u in request.files.getall("files") if getattr(u, "raw_filename", None)]
        if not uploads:
            raise InvalidInput("choose one or more images to upload")
        folder = Path(tempfile.mkdtemp(prefix="igctl-content-"))
        try:
            paths, names = [], []
            for index, up in enumerate(uploads):
                name = content.safe_file_name(up.raw_filename)
                if Path(name).suffix.lower() not in content.IMAGE_EXTENSIONS:
                    raise InvalidInput(
                        f"{name}: not an image ({', '.join(e[1:] for e in content.IMAGE_EXTENSIONS)}); nothing was uploaded"
                    )
                path = folder / f"{index}{Path(name).suffix.lower()}"
                save_upload(
                    up,
                    path,
                    max_upload,
                    f"{name} is over the limit of {ws.config.import_.max_file_mb:g} MB"
                    " (import.max_file_mb); nothing was uploaded",
                )
                paths.append(path)
                names.append(name)
            with change("content add", pool=pool, type=kind, files=names):
                result = content.add(ws, pool, kind, paths, actor=actor(), names=names)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        ref = result["model"]
        done(f"{len(result['images'])} image(s) added to {ref} {kind}", pool_href(_key(pool)) + f"#images-{kind}")

    def _key(pool: str) -> str:
        return content.resolve_pool(ws.db(), pool).key

    @app.post("/content/items")
    def items():
        """Disable, enable or delete images and texts (`content disable|enable|delete ID…`).
        `act` is `disable`, `enable` or `delete` for the ticked items, or `<act>:<id>` for one.
        Delete asks first (a page that changes nothing), then runs with `confirm`."""
        f = forms()
        act = (f.get("act") or "").strip()
        verb, _, one = act.partition(":")
        if verb not in ITEM_ACTIONS:
            raise InvalidInput("choose disable, enable or delete")
        raw = [one] if one else f.getall("ids")
        ids = [face.number(v, "a content id") for v in raw]
        ids = [i for i in ids if i is not None]
        if not ids:
            raise InvalidInput("tick at least one item")
        target = local_path(f.get("next"), "/content")
        if verb == "delete" and not f.get("confirm"):
            return render(
                "content_delete",
                title="Delete content?",
                nav="content",
                items=content.items_to_delete(ws, ids),
                ids=ids,
                next=target,
            )
        with change(f"content {verb}", ids=ids):
            if verb == "delete":
                result = content.delete_items(ws, ids, actor=actor())
                message = f"{len(result['deleted'])} item(s) deleted"
            else:
                result = content.set_disabled(ws, ids, verb == "disable", actor=actor())
                message = f"{len(result['changed'])} item(s) {verb}d" + (
                    f"; {len(result['already'])} already {verb}d" if result["already"] else ""
                )
        done(message, target)

    @app.post("/content/texts")
    def texts():
        """A text pool, one entry a line, into the pool's texts.yaml, then synced."""
        f = forms()
        pool = (f.get("pool") or "").strip()
        kind = (f.get("type") or "").strip()
        with change("content texts", pool=pool, type=kind):
            result = content.set_texts(ws, pool, kind, f.get("lines") or "", actor=actor())
        message = (
            f"{kind}: {result['texts']} text(s) saved"
            if result["changed"]
            else f"{kind}: nothing changed ({result['texts']} text(s))"
        )
        done(message, pool_href(result["pool"]) + f"#texts-{kind}")

    @app.post("/content/set-create")
    def set_create():
        name = (forms().get("name") or "").strip()
        with change("content set-create", set=name):
            result = content.create_set(ws, name, actor=actor())
        done(f"template set {result['set']} created ({result['folder']})", pool_href(f"_templates/{result['set']}"))

    @app.post("/content/set-rename")
    def set_rename():
        f = forms()
        old, new = (f.get("old") or "").strip(), (f.get("new") or "").strip()
        with change("content set-rename", old=old, new=new):
            result = content.rename_set(ws, old, new, actor=actor())
        done(f"template set {result['old']} renamed to {result['new']}", pool_href(f"_templates/{result['new']}"))

    @app.post("/content/set-delete")
    def set_delete():
        f = forms()
        name = (f.get("name") or "").strip()
        if not f.get("confirm"):
            raise InvalidInput(f"tick the box to confirm deleting template set {name}")
        with change("content set-delete", set=name):
            result = content.delete_set(ws, name, actor=actor())
        done(f"template set {result['set']} deleted: {result['retired']} item(s) retired", "/content")
