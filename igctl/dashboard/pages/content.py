"""Content: images served to the operator's browser (thumbnails, the bot console's previews)."""

from __future__ import annotations

from bottle import Bottle, response, static_file

from igctl.dashboard.face import Face
from igctl.engine.domain import content


def install(app: Bottle, face: Face) -> None:
    ws = face.ws

    @app.get("/content/images/<content_id:int>")
    def content_image(content_id):
        """An image by its content id, as the bot API serves it (content.image_path: inside
        content/ only, a replaced file is not served under its old id)."""
        path = content.image_path(ws, content_id)
        reply = static_file(path.name, root=str(path.parent), mimetype=content.image_mime(path))
        response.set_header("Cache-Control", "private, max-age=300")
        return reply
