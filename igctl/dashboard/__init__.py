"""The operator's web dashboard (product.md §10): `create_app(ws)` in app.py, served by
`igctl dashboard` (serve.py). Templates in views/, CSS and the select-all script in static/."""

from .app import create_app

__all__ = ["create_app"]
