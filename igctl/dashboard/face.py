"""What every page module gets from `create_app` (app.py): the workspace and the few helpers
a route needs to read a form, run an engine call as the operator's change, and answer with a
page or a redirect. Each module in pages/ has `install(app, face)` and adds its routes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from igctl.engine.store.changes import Change
from igctl.engine.store.errors import InvalidInput


def whole_number(value: str | None, label: str) -> int | None:
    """A form field as a whole number (None when empty), as click's `type=int` reads an option:
    which numbers are allowed is the engine's rule, so its refusal is what the operator sees."""
    if value is None or value.strip() == "":
        return None
    text = value.strip()
    digits = text[1:] if text[:1] in "+-" else text
    if not digits.isascii() or not digits.isdigit() or len(digits) > 18:
        raise InvalidInput(f"{label} must be a whole number")
    return int(text)


def local_path(target: str | None, default: str = "/") -> str:
    """A redirect target from a form: only a path on this site (never `//host` or a URL)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target or "\n" in target:
        return default
    return target


def save_upload(upload: Any, path: Path, limit: int, over: str) -> None:
    """Write an uploaded file to `path` a MiB at a time, refusing it (`over`: the message)
    as soon as it passes `limit` bytes, so a huge upload never fills the disk."""
    written = 0
    with open(path, "wb") as out:
        while chunk := upload.file.read(1 << 20):
            written += len(chunk)
            if written > limit:
                raise InvalidInput(over)
            out.write(chunk)


@dataclass(frozen=True)
class Face:
    ws: Any
    # render(template, status=200, title=…, nav=…, **values) -> the page's HTML
    render: Callable[..., str]
    # change(name, **details): the operator's change as a context manager (engine/store/changes.py)
    change: Callable[..., Any]
    # the acting operator as an event actor: operator:<name>
    actor: Callable[[], str]
    # done(message, target): flash the message and redirect there (POST → redirect → GET)
    done: Callable[[str, str], None]
    # the POSTed form, decoded
    forms: Callable[[], Any]
    # the biggest upload accepted, in bytes (import.max_file_mb)
    max_upload: int

    @staticmethod
    def number(value: str | None, label: str) -> int | None:
        return whole_number(value, label)


__all__ = ["Change", "Face", "local_path", "save_upload", "whole_number"]
