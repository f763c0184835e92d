"""Uploading an accounts or proxies file (`accounts import`, `proxy import`)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from bottle import Bottle, request

from igctl.dashboard.face import Face, save_upload
from igctl.engine.domain import accounts, proxies
from igctl.engine.store.errors import InvalidInput


def install(app: Bottle, face: Face) -> None:
    ws, render, change, actor, forms, max_upload = (
        face.ws,
        face.render,
        face.change,
        face.actor,
        face.forms,
        face.max_upload,
    )

    @app.get("/import")
    def import_page():
        kind = "proxies" if request.query.get("kind") == "proxies" else "accounts"  # the Proxies page links here
        return render("import", title="Import", nav="import", result=None, kind=kind)

    @app.post("/import")
    def import_post():
        f = forms()
        kind = f.get("kind") or "accounts"
        if kind not in ("accounts", "proxies"):
            raise InvalidInput("choose what the file holds: accounts or proxies")
        upload = request.files.get("file")
        if upload is None or not getattr(upload, "raw_filename", None):
            raise InvalidInput("choose a file to upload")
        # The file holds passwords in plain text: it goes to a private folder outside the
        # workspace and is deleted as soon as it is imported.
        folder = Path(tempfile.mkdtemp(prefix="igctl-upload-"))
        try:
            path = folder / (upload.filename or "upload.txt")
            save_upload(
                upload,
                path,
                max_upload,
                f"{upload.filename} is over the limit of {ws.config.import_.max_file_mb:g} MB (import.max_file_mb)",
            )
            if kind == "accounts":
                assign = not f.get("no_assign")
                with change("accounts import", file=upload.filename, assign=assign):
                    result = accounts.import_file(ws, path, assign=assign, actor=actor())
            else:
                cost = (f.get("cost") or "").strip()
                try:
                    cost_value = float(cost) if cost else None
                except ValueError:
                    raise InvalidInput("the monthly cost must be a number") from None
                with change("proxy import", file=upload.filename):
                    result = proxies.import_file(
                        ws,
                        path,
                        provider=(f.get("provider") or "").strip() or None,
                        location=(f.get("location") or "").strip() or None,
                        cost=cost_value,
                        actor=actor(),
                    )
            result["file"] = upload.filename
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return render("import", title="Import", nav="import", result=result, kind=kind)
