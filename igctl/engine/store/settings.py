"""Reading igctl.yaml into the one settings type, `config.Config` (pydantic, `extra="forbid"`).

Validating needs pydantic, whose import alone costs about 50-70 ms: more than the rest of a small
listing. So the engine never reads the file eagerly: `Workspace.config` loads it the first time a
command needs a setting (the time zone, a limit, the plan), and a command that needs none (e.g.
`accounts list --json`) imports neither pydantic nor the settings schema. A broken igctl.yaml is
therefore reported by the first command that needs it, with the key and line, and never
half-used.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .errors import InvalidInput

if TYPE_CHECKING:  # importing config costs pydantic: only where a file is validated
    from .config import Config


def read_text(path: Path, label: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(f"{label} not found: {path}") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{label} is not valid UTF-8") from None


def load(path: Path, label: str = "igctl.yaml") -> Config:
    """The validated settings of the file at `path` (InvalidInput naming key and line)."""
    from .config import Config  # pydantic: imported when a setting is first needed (start-up time)
    from .yamlfile import parse_model

    return parse_model(read_text(path, label), Config, label)
