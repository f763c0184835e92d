"""Reading igctl.yaml into the one settings type, `config.Config` (pydantic, `extra="forbid"`).

Validating needs pydantic, whose import alone costs about 50-70 ms: more than the rest of a small
listing. Yet every command must refuse a broken igctl.yaml at once (with the key and line),
whether it needs a setting or not. Both hold because the workspace remembers which text it last
found valid: `meta.settings_validated` holds the SHA-256 of that text (and of the igctl version),
nothing more. `check()` runs when a workspace is opened: an unchanged file costs one read and a
hash; a changed one is validated there and then. `Workspace.config` parses the file the first
time a command needs a setting, so a command that needs none (`accounts list --json`) imports
neither pydantic nor the settings schema.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from igctl import __version__

from .errors import InvalidInput

if TYPE_CHECKING:  # importing config costs pydantic: only where a file is validated
    from .config import Config
    from .db import Database

VALIDATED_KEY = "settings_validated"
OLD_CACHE_KEY = "settings_cache"  # a copy of the settings kept by igctl before 0.2; dropped on sight


def read_text(path: Path, label: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(f"{label} not found: {path}") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{label} is not valid UTF-8") from None


def parse(text: str, label: str = "igctl.yaml") -> Config:
    """The validated settings of igctl.yaml's text (InvalidInput naming key and line)."""
    from .config import Config  # pydantic: only when a file is validated (start-up time)
    from .yamlfile import parse_model

    return parse_model(text, Config, label)


def load(path: Path, label: str = "igctl.yaml") -> Config:
    return parse(read_text(path, label), label)


def check(path: Path, db: Database, label: str = "igctl.yaml") -> Config | None:
    """Refuse a broken igctl.yaml now. Returns the parsed settings when the file had to be
    validated (it changed since it was last found valid), None when its text is the one last
    found valid (nothing parsed, nothing imported)."""
    text = read_text(path, label)
    digest = hashlib.sha256(f"{__version__}\n{text}".encode()).hexdigest()
    if db.scalar("SELECT value FROM meta WHERE key = ?", [VALIDATED_KEY]) == digest:
        return None
    config = parse(text, label)  # an invalid file raises here and is never remembered
    try:
        with db.write():
            db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [VALIDATED_KEY, digest],
            )
            db.execute("DELETE FROM meta WHERE key = ?", [OLD_CACHE_KEY])
    except Exception:  # noqa: BLE001 - remembering saves time only; a read-only or busy db must not fail the command
        pass
    return config
