"""The bot API: a thin Bottle application over igctl.engine."""

from .app import create_app

__all__ = ["create_app"]
