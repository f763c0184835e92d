"""igctl.yaml as the program uses it, without paying for pydantic on every command.

Validating igctl.yaml needs pydantic (engine/config.py), whose import alone costs ~70 ms — more
than the rest of a small listing. So a validated file is remembered: the `meta` table keeps the
SHA-256 of the file's text (and the igctl version) with the validated settings as JSON. A
command whose igctl.yaml is unchanged builds its settings from that JSON; any change to the
file (or a new igctl) validates it again, so a typo is still reported at once, and an invalid
file is never remembered.

`Settings` gives the same attribute access as the pydantic model (`ws.config.warmup.steps`,
`ws.config.import_.max_file_mb`, `ws.config.tz`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from igctl import __version__

from .errors import InvalidInput

CACHE_KEY = "settings_cache"
ALIASES = {"import": "import_"}  # YAML keys that are Python keywords


class Settings(SimpleNamespace):
    """Validated settings: sections are nested Settings, `spacing` is "calendar_day" or a
    Settings with min_hours and max_hours."""

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def from_dict(data: dict) -> Settings:
    def convert(value):
        if isinstance(value, dict):
            return Settings(**{ALIASES.get(k, k): convert(v) for k, v in value.items()})
        if isinstance(value, list):
            return [convert(v) for v in value]
        return value

    return convert(data)


def read_text(path: Path, label: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(f"{label} not found: {path}") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{label} is not valid UTF-8") from None


def validate(text: str, label: str) -> dict:
    """The validated settings of igctl.yaml's text as plain JSON data (pydantic is imported here)."""
    from .config import Config
    from .yamlfile import parse_model

    return parse_model(text, Config, label).model_dump(mode="json", by_alias=True)


def load(path: Path, db, label: str = "igctl.yaml") -> Settings:
    """The settings of the file at `path`, from the remembered validation when the file is
    unchanged; `db` is the workspace's (migrated) database."""
    text = read_text(path, label)
    digest = hashlib.sha256(f"{__version__}\n{text}".encode("utf-8")).hexdigest()
    row = db.one("SELECT value FROM meta WHERE key = ?", [CACHE_KEY])
    if row is not None:
        try:
            cached = json.loads(row["value"])
            if cached.get("sha256") == digest:
                return from_dict(cached["settings"])
        except (ValueError, KeyError, TypeError):
            pass  # a damaged entry is validated afresh and replaced
    data = validate(text, label)
    try:
        with db.write():
            db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [CACHE_KEY, json.dumps({"sha256": digest, "settings": data}, sort_keys=True)],
            )
    except Exception:  # noqa: BLE001 - remembering is an optimisation; a read-only or busy db must not fail the command
        pass
    return from_dict(data)
