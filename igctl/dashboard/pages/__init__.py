"""The dashboard's pages, one module an area; each has `install(app, face)` (face.py)."""

from . import accounts, bots, console, content, imports, models, proxies, report, review

__all__ = ["accounts", "bots", "console", "content", "imports", "models", "proxies", "report", "review"]
