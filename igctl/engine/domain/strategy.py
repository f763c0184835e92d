"""A model's strategy file (`models/<slug>.yaml`), its name rules, and finding a model.

The strategy is a pydantic model (`Strategy`, unknown keys are errors); the file is read by
every command that uses it and by tick (`flows/models.py` applies a changed one). What is
stored on the `models` row (`strategy_json`, `strategy_sha256`) is the strategy in force.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..store.config import check_active_hours, check_step_names
from ..store.db import Database
from ..store.errors import Conflict, InvalidInput, NotFound
from ..store.records import ModelRow
from ..store.workspace import Workspace, template_dir
from ..store.yamlfile import parse_model

MODELS_DIR = "models"
EXAMPLE_NAME = "example.yaml"
TEMPLATES = "_templates"  # the templates' content pool, which no model may be named
DEFAULT_ONBOARDING = ["change_pfp", "change_bio"]
CLEANUP_STEPS = ["reset_pfp", "reset_bio", "delete_posts"]
MAX_PER_DAY = 48
MAX_PER_WEEK = 7 * MAX_PER_DAY
NAME_MAX = 60
DEFAULT_SET = "default"  # the template set in content/_templates/ itself; `templates: true` means it
SET_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
# a set's folder is content/_templates/<set>/, beside the default set's type folders
NOT_SET_NAMES = frozenset({"pfp", "post", "story", "highlight", "any"})


def check_set_name(name: object) -> str:
    """A template set's name: lower-case letters, digits, `-` and `_`, at most 40, not the name
    of a content type folder (those are the default set's)."""
    if not isinstance(name, str) or not SET_NAME.match(name):
        raise ValueError(
            f"template set name {name!r}: lower-case letters, digits, - and _ (at most 40, starting with a letter or digit)"
        )
    if name in NOT_SET_NAMES:
        raise ValueError(f"template set name {name!r} is a content type folder; choose another name")
    return name


# -- the strategy file ---------------------------------------------------------------------------
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Recurring(_Strict):
    """One recurring kind: `{per_day: n}` or `{per_week: n}`."""

    per_day: int | None = Field(default=None, ge=0, le=MAX_PER_DAY)
    per_week: int | None = Field(default=None, ge=0, le=MAX_PER_WEEK)

    @model_validator(mode="after")
    def _one(self) -> Recurring:
        if (self.per_day is None) == (self.per_week is None):
            raise ValueError("give exactly one of per_day or per_week, e.g. {per_week: 3}")
        return self


class ScheduleSpec(_Strict):
    post: Recurring | None = None
    story: Recurring | None = None
    highlight: Recurring | None = None


class Strategy(_Strict):
    """`models/<slug>.yaml`. Every key is optional; unknown keys are errors."""

    display_name: str | None = Field(default=None, max_length=100)
    # the template sets the model also draws from: true = [default], false = none, or their names
    templates: bool | list[str] = False
    onboarding: list[str] = Field(default_factory=lambda: list(DEFAULT_ONBOARDING), max_length=20)
    schedule: ScheduleSpec = Field(default_factory=ScheduleSpec)
    active_hours: str | None = None
    locations: list[str] = Field(default_factory=list)
    max_accounts: int | None = Field(default=None, ge=0)
    notes: str | None = None

    _steps = field_validator("onboarding")(classmethod(lambda cls, v: check_step_names(v)))

    @field_validator("locations")
    @classmethod
    def _locations(cls, values: list[str]) -> list[str]:
        out: list[str] = []
        for v in values:
            v = v.strip()
            if not v:
                raise ValueError("a location may not be empty")
            if v.lower() not in (o.lower() for o in out):
                out.append(v)
        return out

    @field_validator("templates")
    @classmethod
    def _templates(cls, value: bool | list[str]) -> bool | list[str]:
        if isinstance(value, bool):
            return value
        out: list[str] = []
        for name in value:
            if check_set_name(name) not in out:
                out.append(name)
        return out

    @property
    def template_sets(self) -> list[str]:
        """The sets drawn from, by name: `templates: true` is the default set."""
        if isinstance(self.templates, bool):
            return [DEFAULT_SET] if self.templates else []
        return list(self.templates)

    _hours = field_validator("active_hours")(classmethod(lambda cls, v: check_active_hours(v)))

    def schedule_dict(self) -> dict[str, Any]:
        return self.schedule.model_dump(exclude_none=True)

    @property
    def schedule_signature(self) -> str:
        """What the slot times depend on; part of each slot's idempotency key, so a changed
        schedule gives new slots instead of colliding with the old ones."""
        data = json.dumps({"schedule": self.schedule_dict(), "active_hours": self.active_hours}, sort_keys=True)
        return hashlib.sha256(data.encode()).hexdigest()[:10]


def stored(model: ModelRow) -> Strategy:
    """The strategy in force: what was last applied from the file."""
    return Strategy.model_validate(json.loads(model["strategy_json"] or "{}"))


def file_sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse_text(text: str, label: str) -> Strategy:
    return parse_model(text, Strategy, label)


def read_file(path: Path, label: str) -> tuple[bytes, Strategy]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InvalidInput(
            f"{label} not found: the model's strategy file is missing (recreate it, e.g. from models/{EXAMPLE_NAME})"
        ) from None
    except OSError as exc:
        raise InvalidInput(f"{label} cannot be read: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(f"{label} is not valid UTF-8") from None
    return data, parse_text(text, label)


# -- names ----------------------------------------------------------------------------------------
def check_name(name: str) -> str:
    value = (name or "").strip()
    if not value:
        raise InvalidInput("a model needs a name")
    if len(value) > NAME_MAX:
        raise InvalidInput(f"a model name has at most {NAME_MAX} characters")
    if any(unicodedata.category(ch).startswith("C") for ch in value):
        raise InvalidInput("a model name may not contain control characters")
    if value.lower() == TEMPLATES:
        raise InvalidInput(f"{TEMPLATES} is the templates' pool, not a model name")
    return value


def slugify(name: str) -> str:
    """`Alice Summer 2026!` → `alice-summer-2026`: ASCII letters and digits joined by `-`."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii").lower()
    slug = re.sub(r"[^a-z0-9]+", "-", folded).strip("-")[:NAME_MAX].strip("-")
    return slug


def path_of(ws: Workspace, slug: str) -> Path:
    return ws.path / MODELS_DIR / f"{slug}.yaml"


def label(slug: str) -> str:
    return f"{MODELS_DIR}/{slug}.yaml"


def find_model(db: Database, name: str) -> ModelRow:
    """A model by name (case-insensitive) or slug, archived or not; NotFound otherwise."""
    value = (name or "").strip()
    row = db.one("SELECT * FROM models WHERE name = ?", [value]) or db.one(
        "SELECT * FROM models WHERE slug = ?", [value.lower()]
    )
    if row is None:
        raise NotFound(f"no model named {value}")
    return row


def live_model(db: Database, name: str) -> ModelRow:
    """A model that is not archived."""
    row = find_model(db, name)
    if row["archived_at"] is not None:
        raise Conflict(
            f"model {row['name']} was deleted on {row['archived_at'][:10]}; it is archived and takes no accounts"
        )
    return row


# -- create, sync, delete -----------------------------------------------------------------------
def example_text(name: str) -> str:
    example = template_dir() / MODELS_DIR / EXAMPLE_NAME
    body = example.read_text(encoding="utf-8") if example.is_file() else ""
    return f"# Strategy of model {name}. Edit, then run: igctl model sync {json.dumps(name)}\n" + body


TEXTS_TEMPLATE = """\
# Text pools of this model: one list per type. After editing run: igctl content sync {name}
# Types used by default: bio (change_bio), post / story / highlight (captions and titles).
# Add any type a step needs, e.g. name: [...] for a change_name step.
bio: []
post: []
story: []
highlight: []
"""


def check_template_sets(db: Database, strategy: Strategy, label: str) -> Strategy:
    """A strategy may list only template sets that exist (`igctl content set-create`): one that
    names another is refused when applied, and the strategy in force stays."""
    live = {r["name"] for r in db.query("SELECT name FROM template_sets WHERE deleted_at IS NULL")}
    missing = [n for n in strategy.template_sets if n != DEFAULT_SET and n not in live]
    if missing:
        raise InvalidInput(
            f"{label}: templates: no template set named {', '.join(missing)}"
            f" (create it with igctl content set-create {missing[0]}, or see igctl content sets)",
            about=("templates",),
        )
    return strategy


def on_file(ws: Workspace, model: ModelRow) -> tuple[Strategy, str | None]:
    """The model's strategy as its file says now, validated (InvalidInput naming key and line),
    and the file's sha256 when that differs from the strategy in force (None when unchanged,
    which costs one read). Reads only; `flows/models.load_strategy` applies a changed file."""
    path = path_of(ws, model["slug"])
    name = label(model["slug"])
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InvalidInput(
            f"{name} not found: the model's strategy file is missing (recreate it, e.g. from models/{EXAMPLE_NAME})"
        ) from None
    sha = file_sha(data)
    if sha == model["strategy_sha256"]:
        return stored(model), None
    return check_template_sets(ws.db(), read_file(path, name)[1], name), sha


def shown(ws: Workspace, model: ModelRow) -> Strategy:
    """What a page shows: a live model's file as it is now (not applied), an archived model's
    last strategy."""
    return stored(model) if model["archived_at"] is not None else on_file(ws, model)[0]
