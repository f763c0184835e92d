"""The strategy editor: a model's strategy file as a form of fields, and saving such a form back
into `models/<slug>.yaml` (docs/models.md, "The strategy editor").

The file stays the source of truth. `form_of` fills the form from the file as it is now (a file
edited by hand is picked up as `model sync` would read it); when the file is missing or broken
the form holds the strategy in force and the reason is given. `save` checks every field with
the `Strategy` schema, writes nothing when one is invalid (`StrategyRefused` names each field
and its message), writes the file atomically, keeping the comment lines at its top, and applies
it as `model sync NAME` does, in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import ValidationError

from ..domain import strategy as strategies
from ..domain.content import pools
from ..domain.strategy import DEFAULT_SET, Strategy
from ..store.errors import InvalidInput
from ..store.files import atomic_write, put_back
from ..store.records import ModelRow
from ..store.workspace import Workspace
from . import models

KINDS = ("post", "story", "highlight")
PERIODS = ("per_day", "per_week")
# the form's fields, in the file's order; a schedule kind is `schedule.<kind>`
FIELDS = (
    "display_name",
    "templates",
    "onboarding",
    *(f"schedule.{k}" for k in KINDS),
    "active_hours",
    "locations",
    "max_accounts",
    "notes",
)


@dataclass(frozen=True)
class StrategyForm:
    """A strategy as an operator types it: texts, one step a line, locations separated by
    commas or lines, a number and its period per recurring kind, the template sets ticked."""

    display_name: str = ""
    templates: tuple[str, ...] = ()
    onboarding: str = ""
    schedule: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # kind -> (number, period)
    active_hours: str = ""
    locations: str = ""
    max_accounts: str = ""
    notes: str = ""


class StrategyRefused(InvalidInput):
    """A form with invalid fields: `fields` maps each field (FIELDS) to its message."""

    def __init__(self, label: str, fields: dict[str, str]):
        message = f"{label}: nothing was saved: " + "; ".join(f"{k}: {v}" for k, v in fields.items())
        super().__init__(message, detail={"fields": fields}, about=tuple(fields))
        self.fields = fields


def form_of(strategy: Strategy) -> StrategyForm:
    """The form showing `strategy`."""
    schedule: dict[str, tuple[str, str]] = {}
    for kind in KINDS:
        rec = getattr(strategy.schedule, kind)
        if rec is not None:
            period = "per_day" if rec.per_day is not None else "per_week"
            schedule[kind] = (str(getattr(rec, period)), period)
    return StrategyForm(
        display_name=strategy.display_name or "",
        templates=tuple(strategy.template_sets),
        onboarding="\n".join(strategy.onboarding),
        schedule=schedule,
        active_hours=strategy.active_hours or "",
        locations=", ".join(strategy.locations),
        max_accounts="" if strategy.max_accounts is None else str(strategy.max_accounts),
        notes=strategy.notes or "",
    )


def template_set_names(ws: Workspace) -> list[str]:
    """The template sets a strategy may list: the default set first, then each named set."""
    return [p["set"] for p in pools(ws, kind="sets")]


def editor(ws: Workspace, model: ModelRow) -> dict[str, Any]:
    """What the editor opens with: the form of the file as it is now (read, never applied), or
    of the strategy in force with `file_error` saying why the file cannot be read; the template
    sets that exist, and `missing_sets`: sets the file lists that do not exist."""
    label = strategies.label(model["slug"])
    path = strategies.path_of(ws, model["slug"])
    file_error = None
    try:
        strategy = strategies.read_file(path, label)[1]
    except InvalidInput as exc:
        strategy, file_error = strategies.stored(model), exc.message
    existing = template_set_names(ws)
    return {
        "form": form_of(strategy),
        "file": label,
        "file_error": file_error,
        "sets": existing,
        "missing_sets": [s for s in strategy.template_sets if s not in existing],
    }


def _lines(text: str, *, commas: bool = False) -> list[str]:
    if commas:
        text = text.replace(",", "\n")
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def to_data(form: StrategyForm) -> tuple[dict[str, Any], dict[str, str]]:
    """The strategy file's mapping for `form` (keys in FIELDS order; an empty optional field is
    left out, so its default applies), and the errors found before the schema's."""
    errors: dict[str, str] = {}
    data: dict[str, Any] = {}
    if form.display_name.strip():
        data["display_name"] = form.display_name.strip()
    sets = list(dict.fromkeys(s.strip() for s in form.templates if s.strip()))
    # `true` is the default set alone, as the file has always said it; otherwise the names
    data["templates"] = (sets == [DEFAULT_SET]) or (sets if sets else False)
    data["onboarding"] = _lines(form.onboarding)
    schedule: dict[str, Any] = {}
    for kind in KINDS:
        number, period = form.schedule.get(kind, ("", ""))
        if not (number or "").strip():
            continue
        if period not in PERIODS:
            errors[f"schedule.{kind}"] = "choose per_day or per_week"
            continue
        schedule[kind] = {period: number.strip()}
    if schedule:
        data["schedule"] = schedule
    if form.active_hours.strip():
        data["active_hours"] = form.active_hours.strip()
    locations = _lines(form.locations, commas=True)
    if locations:
        data["locations"] = locations
    if form.max_accounts.strip():
        data["max_accounts"] = form.max_accounts.strip()
    if form.notes.strip():
        data["notes"] = form.notes.strip()
    return data, errors


def _field_of(loc: tuple[int | str, ...]) -> str:
    parts = [p for p in loc if not (isinstance(p, str) and p.startswith("function-"))]
    if parts and parts[0] == "schedule" and len(parts) > 1 and parts[1] in KINDS:
        return f"schedule.{parts[1]}"
    return str(parts[0]) if parts else "display_name"


def validate(ws: Workspace, form: StrategyForm, label: str) -> tuple[dict[str, Any], Strategy]:
    """The form checked by the Strategy schema and against the template sets that exist:
    the data to write and its strategy, or StrategyRefused with every field's message."""
    data, errors = to_data(form)
    strategy = None
    try:
        strategy = Strategy.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            name = _field_of(tuple(err["loc"]))
            msg = "unknown setting" if err["type"] == "extra_forbidden" else err["msg"].removeprefix("Value error, ")
            errors.setdefault(name, msg)
    if strategy is not None:
        existing = set(template_set_names(ws))
        missing = [s for s in strategy.template_sets if s not in existing]
        if missing:
            errors["templates"] = f"no template set named {', '.join(missing)}"
    if errors or strategy is None:
        raise StrategyRefused(label, {k: errors[k] for k in FIELDS if k in errors})
    # numbers typed as text are written as numbers
    return strategy.model_dump(mode="json", include=set(data), exclude_none=True), strategy


def _header(old: bytes | None) -> str:
    """The comment lines (and blank lines) at the top of the old file."""
    if old is None:
        return ""
    try:
        text = old.decode("utf-8-sig")
    except UnicodeDecodeError:
        return ""
    header = ""
    for line in text.splitlines(keepends=True):
        if line.startswith("#") or not line.strip():
            header += line
        else:
            break
    if header and not header.endswith("\n"):
        header += "\n"
    return header


class _Dumper(yaml.SafeDumper):
    """Texts of several lines (notes) as a `|` block, as an operator would write them."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _text)


def render(data: dict[str, Any], old: bytes | None) -> bytes:
    """The file's new text: the old file's top comments, then the keys in FIELDS order."""
    ordered = dict(data)
    if "schedule" in ordered:
        ordered["schedule"] = {k: ordered["schedule"][k] for k in KINDS if k in ordered["schedule"]}
    body = yaml.dump(
        ordered, Dumper=_Dumper, allow_unicode=True, sort_keys=False, default_flow_style=None, width=10_000
    )
    return (_header(old) + body).encode("utf-8")


def save(ws: Workspace, name: str, form: StrategyForm, *, actor: str) -> dict[str, Any]:
    """The editor's "Save": `form` checked field by field (StrategyRefused, nothing written),
    written to `models/<slug>.yaml` atomically with the old file's top comments kept, then
    applied and the content synced as `model sync NAME` does, in the caller's transaction.
    When that refuses, the old file is put back. Returns `model sync`'s answer with `file` and
    `written` (False when the file already said exactly this)."""
    db = ws.db()
    model = strategies.live_model(db, name)
    label = strategies.label(model["slug"])
    path = strategies.path_of(ws, model["slug"])
    data, strategy = validate(ws, form, label)
    try:
        old: bytes | None = path.read_bytes()
    except FileNotFoundError:
        old = None
    new = render(data, old)
    if strategies.parse_text(new.decode("utf-8"), label) != strategy:  # the file reads back as checked
        raise AssertionError(f"{label}: the written strategy would not read back as saved")
    written = new != old
    if written:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, new)
    try:
        result = models.sync(ws, model["name"], actor=actor)
    except BaseException:
        if written:
            put_back(path, old)
        raise
    return {**result, "file": label, "written": written}
