"""Content: the folders under `content/` ⇄ the `content` table, and the choice of content for a
task.

A *pool* is the content of one model (`content/<slug>/`, `model_id` set) or the templates
(`content/_templates/`, `model_id` NULL, `is_template` 1). Images live in the type folders
(`pfp/ post/ story/ highlight/ any/`), texts in the pool's `texts.yaml`. Rows are never deleted:
a file that changed gets a new row (the old one is retired), a file or text that went away is
retired, so the usage history of every row stays true.

What a step needs comes from its name (`needs()`), so operators add plan steps without code.
`choose_for_task()` runs inside the caller's claim transaction and records its choice on the task.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..queue import tasks
from ..store.db import Database
from ..store.errors import Conflict, InvalidInput, NotFound
from ..store.files import atomic_write, put_back, sha256_file
from ..store.records import AccountRow, ModelRow, Record, TaskRow
from ..store.workspace import Workspace
from ..store.yamlfile import yaml_error
from . import strategy as strategies

TEMPLATES = "_templates"
IMAGE_TYPES = ("pfp", "post", "story", "highlight", "any")
# Image types whose text pool (if the pool has one) gives the caption / title.
CAPTION_TYPES = ("post", "story", "highlight")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".heic")
# ISO base media brands of HEIC/HEIF files (bytes 8-12 of an `ftyp` box)
HEIC_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1")
# the signature each image extension must have
EXTENSION_SIGNATURE = {".jpg": "jpeg", ".jpeg": "jpeg", ".png": "png", ".webp": "webp", ".heic": "heic"}
IMAGE_MIME = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".heic": "image/heic",
}
TEXTS_FILE = "texts.yaml"
TEXT_FILE_EXTENSIONS = (".txt",)
TYPE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
# texts.yaml keys that are not text pools. `priorities` maps an image (its path inside the pool
# folder, e.g. `post/beach.jpg`, or its bare file name) or a text (exactly as listed) to an
# order_priority that overrides the file-name prefix or the list position.
RESERVED_TEXT_KEYS = ("priorities",)
STEP_PREFIXES = ("change_", "post_", "reset_")
# A numeric prefix in a file name gives its order_priority: `10_beach.jpg` → 10.
PRIORITY_PREFIX = re.compile(r"^(\d{1,9})(?=[_\-. ])")
# Files without a prefix come after every prefixed file below this number.
DEFAULT_IMAGE_PRIORITY = 1000
# Instagram's own limits, so that a text that cannot work is refused at sync, not at the phone.
TEXT_LIMITS = {"bio": 150, "post": 2200, "story": 2200, "highlight": 2200}
USERNAME_TEXT = re.compile(r"^[A-Za-z0-9._]{1,30}$")
# Task kinds whose content always comes from the templates (an account in warm-up or cleanup
# belongs to no model, or is leaving it).
TEMPLATE_KINDS = ("warmup", "cleanup")


# -- what a step needs ----------------------------------------------------------------------
def step_type(step_name: str) -> str | None:
    """The content type a step works with: `change_X` / `post_X` / `reset_X` → X; a bare type
    name (`post`, `story`, `highlight`, …) → itself; anything else (`delete_posts`, `follow_…`)
    → None, the step needs no content."""
    for prefix in STEP_PREFIXES:
        if step_name.startswith(prefix) and len(step_name) > len(prefix):
            return step_name[len(prefix) :]
    if step_name in IMAGE_TYPES and step_name != "any":
        return step_name
    return None


def needs(step_name: str) -> list[str]:
    """The content types a step needs: [] or [type]. An image type needs one image (its own
    type, else `any`) and takes a caption from the same type's text pool when there is one; any
    other type needs one text from its pool."""
    kind = step_type(step_name)
    return [] if kind is None else [kind]


def is_image_type(content_type: str) -> bool:
    return content_type in IMAGE_TYPES


# -- pools ------------------------------------------------------------------------------------
def _set_where(alias: str, set_id: int | None) -> tuple[str, list]:
    """The rows of one template set: the default set (set_id NULL) or a named one."""
    if set_id is None:
        return f"({alias}.model_id IS NULL AND {alias}.is_template = 1 AND {alias}.set_id IS NULL)", []
    return f"({alias}.set_id = ?)", [set_id]


@dataclass(frozen=True)
class Pool:
    """Where content is drawn from: one model's content and the template sets it lists (by id,
    None = the default set, content/_templates/ itself), or only template sets."""

    model_id: int | None
    model_name: str  # the model's name, or "_templates"
    sets: tuple[int | None, ...] = ()

    def where(self, alias: str = "c") -> tuple[str, list]:
        parts, params = [], []
        if self.model_id is not None:
            parts.append(f"{alias}.model_id = ?")
            params.append(self.model_id)
        sets = self.sets if self.sets or self.model_id is not None else (None,)
        for set_id in sets:
            sql, more = _set_where(alias, set_id)
            parts.append(sql)
            params += more
        return "(" + " OR ".join(parts) + ")", params


@dataclass(frozen=True)
class PoolRef:
    """One pool as a folder: a model's (content/<slug>/), the default set's
    (content/_templates/) or a named set's (content/_templates/<set>/)."""

    model_id: int | None
    set_id: int | None
    name: str  # the model's name, `_templates`, or `_templates/<set>`
    folder: str  # relative to content/
    set_name: str | None = None  # `default` or the set's name; None for a model

    @property
    def key(self) -> str:
        """How the CLI and the dashboard's URLs name it: the model's slug, `_templates`,
        `_templates/<set>`."""
        return self.folder

    @property
    def is_set(self) -> bool:
        return self.model_id is None


DEFAULT_POOL = PoolRef(None, None, TEMPLATES, TEMPLATES, strategies.DEFAULT_SET)


def _model_row(db: Database, name: str) -> ModelRow | None:
    return db.one("SELECT * FROM models WHERE name = ? OR slug = ?", [name, name])


def _live_sets(db: Database) -> dict[str, int]:
    return {r["name"]: r["id"] for r in db.query("SELECT id, name FROM template_sets WHERE deleted_at IS NULL")}


def _strategy_set_ids(db: Database, model: ModelRow) -> tuple[int | None, ...]:
    """The template sets (ids; None = default) the model's strategy in force lists. A name
    with no live set is left out (a strategy naming one is refused when applied)."""
    try:
        names = strategies.stored(model).template_sets
    except ValueError:
        return ()
    live = _live_sets(db)
    return tuple(
        None if n == strategies.DEFAULT_SET else live[n] for n in names if n == strategies.DEFAULT_SET or n in live
    )


def pool_for(db: Database, kind: str, step_name: str, model_id: int | None) -> Pool:
    """The pool a task draws from (§7): warm-up and cleanup → the default template set; a
    model's task → that model's content plus every template set its strategy lists."""
    if kind in TEMPLATE_KINDS or model_id is None:
        return Pool(None, TEMPLATES, (None,))
    model = db.one("SELECT * FROM models WHERE id = ?", [model_id])
    if model is None:
        return Pool(None, TEMPLATES, (None,))
    return Pool(model["id"], model["name"], _strategy_set_ids(db, model))


# -- files ---------------------------------------------------------------------------------------


def _sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_priority(name: str) -> int:
    m = PRIORITY_PREFIX.match(name)
    return int(m.group(1)) if m else DEFAULT_IMAGE_PRIORITY


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def image_mime(path: Path | str) -> str:
    return IMAGE_MIME.get(Path(path).suffix.lower(), "application/octet-stream")


# -- texts.yaml ----------------------------------------------------------------------------------
def _node_line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def parse_texts(text: str, label: str) -> dict[str, list[str]]:
    """A texts.yaml: a mapping of type → list of strings. Errors name the file and the line."""
    return parse_texts_file(text, label)[0]


def _parse_priorities(node: yaml.Node, label: str) -> dict[str, int]:
    out: dict[str, int] = {}
    if _is_null(node):
        return out
    for key_node, value_node in node.value:
        line = _node_line(key_node)
        if not isinstance(key_node, yaml.ScalarNode) or not str(key_node.value).strip():
            raise InvalidInput(f"{label}: line {line}: a priorities key must be an image path or a text")
        if not isinstance(value_node, yaml.ScalarNode) or value_node.tag != "tag:yaml.org,2002:int":
            raise InvalidInput(
                f"{label}: line {_node_line(value_node)}: the priority of {key_node.value!r} must be a whole number"
            )
        out[str(key_node.value).strip()] = int(value_node.value)
    return out


def parse_texts_file(text: str, label: str) -> tuple[dict[str, list[str]], dict[str, int]]:
    """A texts.yaml: its text pools and its `priorities:` map."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        raise yaml_error(exc, label) from None
    if root is None:
        return {}, {}
    if not isinstance(root, yaml.MappingNode):
        raise InvalidInput(f"{label}: line {_node_line(root)}: expected a mapping of text pools, e.g. `bio: [...]`")
    pools: dict[str, list[str]] = {}
    priorities: dict[str, int] = {}
    for key_node, value_node in root.value:
        key = key_node.value
        line = _node_line(key_node)
        if not isinstance(key_node, yaml.ScalarNode) or not TYPE_NAME.match(str(key)):
            raise InvalidInput(
                f"{label}: line {line}: {key!r} is not a content type (lower-case letters, digits and _)"
            )
        if key in pools:
            raise InvalidInput(f"{label}: line {line}: {key} appears twice")
        if key in RESERVED_TEXT_KEYS:
            if not isinstance(value_node, yaml.MappingNode) and not _is_null(value_node):
                raise InvalidInput(f"{label}: line {line}: {key} must be a mapping")
            priorities = _parse_priorities(value_node, label)
            continue
        if _is_null(value_node):
            pools[key] = []  # `bio:` with nothing after it: an empty pool
            continue
        if not isinstance(value_node, yaml.SequenceNode):
            raise InvalidInput(f"{label}: line {line}: {key} must be a list of texts")
        texts: list[str] = []
        for item in value_node.value:
            item_line = _node_line(item)
            if not isinstance(item, yaml.ScalarNode) or item.tag != "tag:yaml.org,2002:str":
                raise InvalidInput(
                    f"{label}: line {item_line}: every {key} entry must be a text (quote it if it looks like a number, a date or yes/no)"
                )
            value = item.value.strip()
            problem = text_problem(key, value)
            if problem:
                raise InvalidInput(f"{label}: line {item_line}: {problem}")
            if value not in texts:
                texts.append(value)
        pools[key] = texts
    return pools, priorities


def text_problem(content_type: str, value: str) -> str | None:
    """Why a text cannot be used for `content_type`, or None."""
    if not value:
        return f"an empty {content_type} text"
    limit = TEXT_LIMITS.get(content_type)
    if limit is not None and len(value) > limit:
        return f"a {content_type} text of {len(value)} characters (Instagram allows {limit})"
    if content_type == "username" and not USERNAME_TEXT.match(value):
        return f"{value!r} is not a possible username (1-30 letters, digits, . and _)"
    return None


def _read_texts_file(path: Path, label: str) -> dict[str, list[str]]:
    return _read_texts_and_priorities(path, label)[0]


def _read_texts_and_priorities(path: Path, label: str) -> tuple[dict[str, list[str]], dict[str, int]]:
    if not path.exists():
        return {}, {}
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(f"{label}: not valid UTF-8") from None
    return parse_texts_file(text, label)


# -- scanning the folders (no database writes) --------------------------------------------------
@dataclass
class PoolScan:
    model_id: int | None
    set_id: int | None
    name: str  # model name or _templates
    folder: str  # path relative to the workspace
    images: dict[str, tuple[str, int, str]] = field(default_factory=dict)  # relpath → (sha256, priority, type)
    texts: dict[str, list[str]] = field(default_factory=dict)
    text_priorities: dict[str, int] = field(default_factory=dict)  # text → priority from `priorities:`
    refused: list[dict] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)


@dataclass
class Scan:
    pools: list[PoolScan]


def _set_pools(db: Database) -> list[PoolRef]:
    rows = db.query("SELECT id, name FROM template_sets WHERE deleted_at IS NULL ORDER BY name")
    return [_set_ref(r["id"], r["name"]) for r in rows]


def _set_ref(set_id: int, name: str) -> PoolRef:
    return PoolRef(None, set_id, f"{TEMPLATES}/{name}", f"{TEMPLATES}/{name}", name)


def _pools_to_sync(db: Database, model: str | None) -> list[PoolRef]:
    """The pools `sync` covers: no MODEL → the default set, every named set and every model;
    `_templates` → the default set and every named set; `_templates/<set>` → that set."""
    if model is None:
        rows = db.query("SELECT id, name, slug FROM models ORDER BY id")
        return [DEFAULT_POOL, *_set_pools(db)] + [PoolRef(r["id"], None, r["name"], r["slug"]) for r in rows]
    if model == TEMPLATES:
        return [DEFAULT_POOL, *_set_pools(db)]
    return [resolve_pool(db, model)]


def scan(ws: Workspace, model: str | None = None) -> Scan:
    """Read the pool folders and hash their files. Writes nothing, so it may run outside any
    transaction (hashing a large folder must not hold the write lock that bots wait on)."""
    db = ws.db()
    root = ws.content_dir.resolve()
    set_folders = set(_live_sets(db))
    pools = []
    for ref in _pools_to_sync(db, model):
        pools.append(_scan_pool(ws, root, ref, set_folders if ref == DEFAULT_POOL else set()))
    return Scan(pools)


def _scan_pool(ws: Workspace, root: Path, ref: PoolRef, set_folders: set[str]) -> PoolScan:
    """One pool's folder. `set_folders`: the named sets' folders inside the default set's
    folder, which are pools of their own."""
    model_id, name, slug = ref.model_id, ref.name, ref.folder
    folder = ws.content_dir / slug
    rel_folder = f"content/{slug}"
    ps = PoolScan(model_id, ref.set_id, name, rel_folder)
    if folder.is_symlink() or folder.exists():
        real = folder.resolve()
        if not _inside(real, root) or real == root:
            ps.refused.append(
                {"path": rel_folder, "reason": "the folder points outside the workspace's content folder"}
            )
            return ps
    if not folder.is_dir():
        return ps
    ps.texts, priorities = _read_texts_and_priorities(folder / TEXTS_FILE, f"{rel_folder}/{TEXTS_FILE}")
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or entry.name == TEXTS_FILE or (entry.name in IMAGE_TYPES and entry.is_dir()):
            continue
        if entry.name in set_folders and entry.is_dir():
            continue  # a named template set: a pool of its own
        hint = ""
        if ref == DEFAULT_POOL and entry.is_dir():
            hint = f"; a template set? igctl content set-create {entry.name}"
        ps.skipped.append(
            {
                "path": f"{rel_folder}/{entry.name}",
                "reason": f"not a content folder ({', '.join(IMAGE_TYPES)}) or {TEXTS_FILE}{hint}",
            }
        )
    for content_type in IMAGE_TYPES:
        type_dir = folder / content_type
        if not type_dir.is_dir():
            continue
        if type_dir.is_symlink() and not _inside(type_dir.resolve(), root):
            ps.refused.append(
                {
                    "path": f"{rel_folder}/{content_type}",
                    "reason": "the folder points outside the workspace's content folder",
                }
            )
            continue
        for dirpath, dirnames, filenames in os.walk(type_dir):
            here = Path(dirpath)
            for d in sorted(dirnames):
                sub = here / d
                if sub.is_symlink():
                    rel = _rel(ws, sub)
                    if _inside(sub.resolve(), root):
                        ps.skipped.append({"path": rel, "reason": "a linked folder is not followed"})
                    else:
                        ps.refused.append(
                            {"path": rel, "reason": "the link points outside the workspace's content folder"}
                        )
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and not (here / d).is_symlink())
            for fname in sorted(filenames):
                if fname.startswith("."):
                    continue
                path = here / fname
                rel = _rel(ws, path)
                if path.suffix.lower() not in IMAGE_EXTENSIONS:
                    ps.skipped.append(
                        {"path": rel, "reason": f"not an image ({', '.join(e[1:] for e in IMAGE_EXTENSIONS)})"}
                    )
                    continue
                real = path.resolve()
                if not _inside(real, root):
                    ps.refused.append({"path": rel, "reason": "the link points outside the workspace's content folder"})
                    continue
                if not real.is_file():
                    ps.refused.append({"path": rel, "reason": "a link to nothing"})
                    continue
                try:
                    if real.stat().st_size == 0:
                        ps.refused.append({"path": rel, "reason": "an empty file"})
                        continue
                    digest = sha256_file(real)
                except OSError as exc:
                    ps.refused.append({"path": rel, "reason": f"cannot be read: {exc.strerror or exc}"})
                    continue
                in_pool = path.relative_to(folder).as_posix()  # e.g. post/beach.jpg
                priority = priorities.get(in_pool, priorities.get(fname, file_priority(fname)))
                ps.images[rel] = (digest, priority, content_type)
    listed = {t for texts in ps.texts.values() for t in texts}
    ps.text_priorities = {k: v for k, v in priorities.items() if k in listed}
    return ps


def _rel(ws: Workspace, path: Path) -> str:
    """A path under content/ as stored: relative to content/, with forward slashes."""
    return path.relative_to(ws.content_dir).as_posix()


# -- registering (inside a write transaction) ----------------------------------------------------
def _pool_sql(model_id: int | None, set_id: int | None = None) -> tuple[str, list]:
    if model_id is None:
        if set_id is None:
            return "model_id IS NULL AND is_template = 1 AND set_id IS NULL", []
        return "set_id = ?", [set_id]
    return "model_id = ?", [model_id]


def _register_image(
    db: Database,
    model_id: int | None,
    rel: str,
    sha: str,
    priority: int,
    content_type: str,
    now: str,
    set_id: int | None = None,
) -> str:
    """Make `rel` with this hash the active row of its path. Returns what happened:
    'unchanged', 'added', 'restored' (a retired row of the same bytes back in use, keeping its
    usage history) or 'changed' (the old row retired, a new one added)."""
    where, params = _pool_sql(model_id, set_id)
    current = db.one(f"SELECT * FROM content WHERE {where} AND path = ? AND active = 1", [*params, rel])
    if current is not None:
        if current["sha256"] == sha:
            if current["order_priority"] != priority or current["content_type"] != content_type:
                db.execute(
                    "UPDATE content SET order_priority = ?, content_type = ?, updated_at = ? WHERE id = ?",
                    [priority, content_type, now, current["id"]],
                )
            return "unchanged"
        _retire(db, current["id"], now)
    previous = db.one(
        f"SELECT id FROM content WHERE {where} AND path = ? AND sha256 = ? AND active = 0 ORDER BY id DESC LIMIT 1",
        [*params, rel, sha],
    )
    if previous is not None:
        db.execute(
            "UPDATE content SET active = 1, retired_at = NULL, order_priority = ?, content_type = ?, updated_at = ? WHERE id = ?",
            [priority, content_type, now, previous["id"]],
        )
        return "changed" if current is not None else "restored"
    db.execute(
        "INSERT INTO content (model_id, is_template, set_id, content_type, path, sha256, order_priority, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [model_id, int(model_id is None), set_id, content_type, rel, sha, priority, now, now],
    )
    return "changed" if current is not None else "added"


def _register_text(
    db: Database,
    model_id: int | None,
    content_type: str,
    text: str,
    priority: int,
    now: str,
    set_id: int | None = None,
) -> str:
    where, params = _pool_sql(model_id, set_id)
    current = db.one(
        f"SELECT * FROM content WHERE {where} AND content_type = ? AND text_content = ? AND active = 1",
        [*params, content_type, text],
    )
    if current is not None:
        if current["order_priority"] != priority:
            db.execute(
                "UPDATE content SET order_priority = ?, updated_at = ? WHERE id = ?", [priority, now, current["id"]]
            )
        return "unchanged"
    previous = db.one(
        f"SELECT id FROM content WHERE {where} AND content_type = ? AND text_content = ? AND active = 0 ORDER BY id DESC LIMIT 1",
        [*params, content_type, text],
    )
    if previous is not None:
        db.execute(
            "UPDATE content SET active = 1, retired_at = NULL, order_priority = ?, updated_at = ? WHERE id = ?",
            [priority, now, previous["id"]],
        )
        return "restored"
    db.execute(
        "INSERT INTO content (model_id, is_template, set_id, content_type, sha256, text_content, order_priority, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [model_id, int(model_id is None), set_id, content_type, _sha256_text(text), text, priority, now, now],
    )
    return "added"


def _retire(db: Database, content_id: int, now: str) -> None:
    db.execute("UPDATE content SET active = 0, retired_at = ?, updated_at = ? WHERE id = ?", [now, now, content_id])


COUNT_KEYS = (
    "images_added",
    "images_changed",
    "images_restored",
    "images_retired",
    "images_unchanged",
    "texts_added",
    "texts_restored",
    "texts_retired",
    "texts_unchanged",
)


def apply(ws: Workspace, result: Scan, *, actor: str) -> dict[str, Any]:
    """Bring the database in line with a scan: one write transaction for every pool."""
    db = ws.db()
    now = ws.now()
    pools: list[dict[str, Any]] = []
    with db.write():
        for ps in result.pools:
            counts = dict.fromkeys(COUNT_KEYS, 0)
            where, params = _pool_sql(ps.model_id, ps.set_id)
            for rel, (sha, priority, content_type) in ps.images.items():
                outcome = _register_image(db, ps.model_id, rel, sha, priority, content_type, now, ps.set_id)
                counts[f"images_{outcome}"] += 1
            for row in db.query(
                f"SELECT id, path FROM content WHERE {where} AND path IS NOT NULL AND active = 1", params
            ):
                if row["path"] not in ps.images:
                    _retire(db, row["id"], now)
                    counts["images_retired"] += 1
            wanted = set()
            for content_type, texts in ps.texts.items():
                for index, text in enumerate(texts):
                    wanted.add((content_type, text))
                    priority = ps.text_priorities.get(text, index)
                    outcome = _register_text(db, ps.model_id, content_type, text, priority, now, ps.set_id)
                    counts[f"texts_{outcome}"] += 1
            rows = db.query(
                f"SELECT id, content_type, text_content FROM content WHERE {where} AND text_content IS NOT NULL AND active = 1",
                params,
            )
            for row in rows:
                if (row["content_type"], row["text_content"]) not in wanted:
                    _retire(db, row["id"], now)
                    counts["texts_retired"] += 1
            changed = any(counts[k] for k in COUNT_KEYS if not k.endswith("_unchanged"))
            if changed or ps.refused:
                ws.events.record(
                    db,
                    now,
                    "content.sync",
                    actor,
                    model_id=ps.model_id,
                    message=f"content of {ps.name} synced",
                    details={"model": ps.name, **counts, "refused": ps.refused, "set_id": ps.set_id},
                )
            pools.append(
                {"model": ps.name, "folder": ps.folder, **counts, "refused": ps.refused, "skipped": ps.skipped}
            )
    totals = {k: sum(p[k] for p in pools) for k in COUNT_KEYS}
    return {**totals, "refused": [r for p in pools for r in p["refused"]], "pools": pools}


def sync(ws: Workspace, model: str | None = None, *, actor: str) -> dict[str, Any]:
    """`content sync [MODEL]`: no MODEL → every template set and every model; `_templates` →
    the template sets only; `_templates/<set>` → that set; a model's name → that model.
    Returns counts per pool and in total."""
    return apply(ws, scan(ws, model), actor=actor)


# -- listing ---------------------------------------------------------------------------------------
def resolve_pool(db: Database, name: str) -> PoolRef:
    """A pool by how operators name it: a model's name or slug, `_templates` (the default
    template set) or `_templates/<set>`; NotFound otherwise."""
    value = (name or "").strip().strip("/")
    if value == TEMPLATES:
        return DEFAULT_POOL
    if value.startswith(TEMPLATES + "/"):
        set_name = value[len(TEMPLATES) + 1 :]
        if set_name == strategies.DEFAULT_SET:
            return DEFAULT_POOL
        found = db.one("SELECT id, name FROM template_sets WHERE name = ? AND deleted_at IS NULL", [set_name])
        if found is None:
            raise NotFound(f"no template set named {set_name} (igctl content sets lists them)")
        return _set_ref(found["id"], found["name"])
    row = _model_row(db, value)
    if row is None:
        raise NotFound(f"no model named {value} (content belongs to a model, to _templates or to _templates/<set>)")
    return PoolRef(row["id"], None, row["name"], row["slug"])


def content_row(row: Record, model_name: str) -> dict[str, Any]:
    is_image = row["path"] is not None
    return {
        "content_id": row["id"],
        "model": model_name,
        "type": row["content_type"],
        "kind": "image" if is_image else "text",
        "path": row["path"],
        "text": row["text_content"],
        "sha256": row["sha256"],
        "order_priority": row["order_priority"],
        "usage_count": row["usage_count"],
        "active": bool(row["active"]),
        "disabled": row["disabled_at"] is not None,
        "is_template": bool(row["is_template"]),
        "created_at": row["created_at"],
        "retired_at": row["retired_at"],
    }


def list_content(ws: Workspace, model: str, *, include_retired: bool = False) -> list[dict[str, Any]]:
    """`content list MODEL`: the pool's rows, images and texts, by type then priority."""
    db = ws.db()
    ref = resolve_pool(db, model)
    where, params = _pool_sql(ref.model_id, ref.set_id)
    if not include_retired:
        where += " AND active = 1"
    rows = db.query(
        f"SELECT * FROM content WHERE {where} ORDER BY path IS NULL, content_type, order_priority, id",
        params,
    )
    return [content_row(r, ref.name) for r in rows]


# -- choosing content for a task ---------------------------------------------------------------
def _candidate(db: Database, pool: Pool, types: list[str], image: bool, account: AccountRow) -> dict[str, Any] | None:
    """The best item of `types` in `pool` for this account, by §7's order: fewest uses by this
    account (never used first), the step's own type before `any`, fewest uses by other accounts
    on the same proxy, fewest uses overall, order_priority, lowest id."""
    where, params = pool.where("c")
    marks = ", ".join("?" * len(types))
    row = db.one(
        f"""
        SELECT c.*,
          (SELECT count(*) FROM content_usage u WHERE u.account_id = ? AND u.content_id = c.id) AS account_uses,
          (SELECT count(*) FROM content_usage u WHERE u.proxy_id = ? AND u.content_id = c.id AND u.account_id != ?) AS proxy_uses
        FROM content c
        WHERE c.active = 1 AND c.disabled_at IS NULL AND {where} AND c.content_type IN ({marks})
          AND c.{"path" if image else "text_content"} IS NOT NULL
        ORDER BY account_uses, c.content_type = 'any', proxy_uses, c.usage_count, c.order_priority, c.id
        LIMIT 1
        """,
        [account["id"], account["proxy_id"], account["id"], *params, *types],
    )
    return None if row is None else dict(row)


def _task_model_id(task: TaskRow, account: AccountRow) -> int | None:
    model_id = task["model_id"]
    return model_id if model_id is not None else account["model_id"]


def choose_for_task(
    ws: Workspace,
    db: Database,
    task: TaskRow,
    account: AccountRow,
    *,
    actor: str = "system",
    now: str | None = None,
    record: bool = True,
) -> dict[str, Any] | None:
    """The content of a task, chosen once and recorded on the task (`tasks.content_json`), so
    every later call answers the same. None when a needed type has no item at all in the pool:
    the task is not handed out and waits (see `missing_types`). Runs inside the caller's claim
    transaction on `db`; opens none of its own (a nested `write()` joins the caller's).
    `now` (a stored time) defaults to the workspace clock. With `record=False` the caller
    writes the choice to the task itself (the claim does, in its own UPDATE of the task)."""
    if task["content_json"]:
        return json.loads(task["content_json"])
    pool = pool_for(db, task["kind"], task["step_name"], _task_model_id(task, account))
    choice: dict = {"texts": {}, "images": []}
    picked: list[dict] = []
    for content_type in needs(task["step_name"]):
        if is_image_type(content_type):
            types = [content_type] if content_type == "any" else [content_type, "any"]
            image = _candidate(db, pool, types, True, account)
            if image is None:
                return None
            picked.append(image)
            choice["images"].append(
                {
                    "content_id": image["id"],
                    "type": image["content_type"],
                    "sha256": image["sha256"],
                    "path": image["path"],
                }
            )
            if content_type in CAPTION_TYPES:
                caption = _candidate(db, pool, [content_type], False, account)
                if caption is not None:
                    picked.append(caption)
                    choice["texts"][content_type] = {"content_id": caption["id"], "text": caption["text_content"]}
        else:
            text = _candidate(db, pool, [content_type], False, account)
            if text is None:
                return None
            picked.append(text)
            choice["texts"][content_type] = {"content_id": text["id"], "text": text["text_content"]}

    now = now or ws.now()
    with db.write():
        db.conn.executemany(
            "INSERT INTO content_usage (content_id, account_id, proxy_id, task_id, used_at) VALUES (?, ?, ?, ?, ?)",
            [[item["id"], account["id"], account["proxy_id"], task["id"], now] for item in picked],
        )
        db.conn.executemany(
            "UPDATE content SET usage_count = usage_count + 1 WHERE id = ?", [[item["id"]] for item in picked]
        )
        for item in picked:
            if item["account_uses"] > 0:
                kind = "image" if item["path"] is not None else "text"
                ws.events.record(
                    db,
                    now,
                    "content.running_short",
                    actor,
                    account_id=account["id"],
                    model_id=pool.model_id,
                    task_id=task["id"],
                    message=f"{pool.model_name}: no {item['content_type']} {kind} left that this account has not used; reusing content {item['id']}",
                    details={
                        "model": pool.model_name,
                        "type": _need_type(task["step_name"], item),
                        "kind": kind,
                        "content_id": item["id"],
                    },
                )
        if record:
            tasks.record_content(db, task["id"], json.dumps(choice, sort_keys=True), at=now)
    return choice


def _need_type(step_name: str, item: dict) -> str:
    """The type that ran short: the step's type (an `any` image stands in for it)."""
    return step_type(step_name) or item["content_type"]


# -- for the review list -----------------------------------------------------------------------
def _has_item(db: Database, pool: Pool, content_type: str) -> bool:
    where, params = pool.where("c")
    if is_image_type(content_type):
        types = [content_type] if content_type == "any" else [content_type, "any"]
        column = "path"
    else:
        types, column = [content_type], "text_content"
    marks = ", ".join("?" * len(types))
    return (
        db.one(
            f"SELECT 1 FROM content c WHERE c.active = 1 AND c.disabled_at IS NULL AND {where}"
            f" AND c.content_type IN ({marks}) AND c.{column} IS NOT NULL LIMIT 1",
            [*params, *types],
        )
        is not None
    )


def missing_types(ws: Workspace, db: Database | None = None) -> list[dict[str, Any]]:
    """Which model lacks which type: queued tasks whose step needs a type that has no item at
    all in their pool, so they wait. One row per (model, type)."""
    db = db or ws.db()
    groups = db.query(
        """
        SELECT t.kind, t.step_name, COALESCE(t.model_id, a.model_id) AS model_id,
               count(*) AS waiting, min(t.due_at) AS oldest_due_at
        FROM tasks t JOIN accounts a ON a.id = t.account_id
        WHERE t.status = 'queued' AND t.content_json IS NULL
        GROUP BY t.kind, t.step_name, COALESCE(t.model_id, a.model_id)
        """
    )
    found: dict[tuple, dict] = {}
    for g in groups:
        pool = pool_for(db, g["kind"], g["step_name"], g["model_id"])
        for content_type in needs(g["step_name"]):
            if _has_item(db, pool, content_type):
                continue
            key = (pool.model_id, content_type)
            entry = found.setdefault(
                key,
                {
                    "model": pool.model_name,
                    "model_id": pool.model_id,
                    "type": content_type,
                    "kind": "image" if is_image_type(content_type) else "text",
                    "folder": _pool_hint(db, pool, content_type),
                    "pool": pool_key(db, pool.model_id),
                    "waiting_tasks": 0,
                    "steps": [],
                    "oldest_due_at": g["oldest_due_at"],
                },
            )
            entry["waiting_tasks"] += g["waiting"]
            if g["step_name"] not in entry["steps"]:
                entry["steps"].append(g["step_name"])
            entry["oldest_due_at"] = min(entry["oldest_due_at"], g["oldest_due_at"])
    return sorted(found.values(), key=lambda e: (e["model"], e["type"]))


def pool_key(db: Database, model_id: int | None) -> str:
    """The key of a model's pool (its slug), or `_templates`: what the dashboard's content page
    and `content list` take."""
    if model_id is None:
        return TEMPLATES
    return db.scalar("SELECT slug FROM models WHERE id = ?", [model_id]) or TEMPLATES


def _pool_hint(db: Database, pool: Pool, content_type: str) -> str:
    """Where an operator puts the missing content."""
    slug = TEMPLATES
    if pool.model_id is not None:
        slug = db.scalar("SELECT slug FROM models WHERE id = ?", [pool.model_id]) or TEMPLATES
    if is_image_type(content_type):
        return f"content/{slug}/{content_type}/"
    return f"content/{slug}/{TEXTS_FILE} ({content_type}:)"


def running_short(ws: Workspace, db: Database | None = None) -> list[dict[str, Any]]:
    """Which model has exhausted which type: accounts had to reuse content (a
    `content.running_short` event) since the pool last got new or restored content of that
    type. One row per (model, type)."""
    db = db or ws.db()
    rows = db.query(
        """
        SELECT e.model_id, json_extract(e.details_json, '$.model') AS model,
               json_extract(e.details_json, '$.type') AS type,
               json_extract(e.details_json, '$.kind') AS kind, e.at, e.account_id
        FROM events e WHERE e.kind = 'content.running_short' ORDER BY e.id
        """
    )
    out: dict[tuple, dict] = {}
    fresh_cache: dict[tuple, str | None] = {}
    for r in rows:
        key = (r["model_id"], r["type"], r["kind"])
        if key not in fresh_cache:
            fresh_cache[key] = _last_new_content(db, r["model_id"], r["type"], r["kind"])
        since = fresh_cache[key]
        if since is not None and r["at"] <= since:
            continue
        entry = out.setdefault(
            key,
            {
                "model": r["model"],
                "model_id": r["model_id"],
                "type": r["type"],
                "kind": r["kind"],
                "pool": pool_key(db, r["model_id"]),
                "reuses": 0,
                "accounts": set(),
                "first_at": r["at"],
                "last_at": r["at"],
            },
        )
        entry["reuses"] += 1
        entry["accounts"].add(r["account_id"])
        entry["last_at"] = r["at"]
    result = []
    for entry in out.values():
        entry["accounts"] = len(entry["accounts"])
        result.append(entry)
    return sorted(result, key=lambda e: (e["model"] or "", e["type"] or "", e["kind"] or ""))


def _last_new_content(db: Database, model_id: int | None, content_type: str, kind: str) -> str | None:
    """When the pool last got an item that could end the shortage (new, or back in use)."""
    where, params = pool_for(db, "post", "", model_id).where("c")
    if kind == "image":
        types = [content_type, "any"]
        column = "path"
    else:
        types, column = [content_type], "text_content"
    marks = ", ".join("?" * len(types))
    return db.scalar(
        f"SELECT max(c.updated_at) FROM content c"
        f" WHERE {where} AND c.active = 1 AND c.disabled_at IS NULL AND c.content_type IN ({marks}) AND c.{column} IS NOT NULL",
        [*params, *types],
    )


# -- content add -----------------------------------------------------------------------------------
def image_signature(head: bytes) -> str | None:
    """What an image file's first bytes say it is (jpeg, png, webp, heic), or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp" and head[8:12] in HEIC_BRANDS:
        return "heic"
    return None


def safe_file_name(name: str) -> str:
    """An uploaded file's name as a file name under content/: its last path part (no folder,
    no `..`), without control characters; a name that is empty, hidden or only dots is refused."""
    base = re.split(r"[/\\]", name or "")[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip()
    if not base or base.startswith(".") or len(base) > 200:
        raise InvalidInput(f"{name!r} cannot be a file name under content/ (empty, hidden or too long)")
    return base


def add(
    ws: Workspace,
    model: str,
    content_type: str,
    files: list[str | Path],
    *,
    actor: str,
    names: list[str] | None = None,
) -> dict[str, Any]:
    """`content add POOL TYPE FILE…`: copy images into the pool's TYPE folder (never over an
    existing file) and register them; a `.txt` file's lines (blank lines skipped) are appended
    to the TYPE list of the pool's texts.yaml and registered. Every image must be one by its
    first bytes (JPEG, PNG, WebP, HEIC). Everything is checked before the first file is written;
    a failure later takes the copies back. `names`: the file names to store them under (an
    upload's own names; they are made safe), else each FILE's own name."""
    db = ws.db()
    ref = resolve_pool(db, model)
    model_id, name, slug = ref.model_id, ref.name, ref.folder
    if names is not None and len(names) != len(files):
        raise InvalidInput("one name for each file")
    if not TYPE_NAME.match(content_type) or content_type in RESERVED_TEXT_KEYS:
        raise InvalidInput(
            f"{content_type!r} is not a content type (e.g. {', '.join(IMAGE_TYPES)}, bio, name, username)"
        )
    if not files:
        raise InvalidInput("no files given")
    pool_dir = ws.content_dir / slug
    root = ws.content_dir.resolve()
    images: list[tuple[Path, Path]] = []
    new_texts: list[str] = []
    names_seen: set[str] = set()
    for index, given in enumerate(files):
        src = Path(given)
        if not src.is_file():
            raise InvalidInput(f"{src}: no such file")
        file_name = safe_file_name(names[index]) if names is not None else src.name
        suffix = Path(file_name).suffix.lower()
        if suffix in IMAGE_EXTENSIONS:
            if not is_image_type(content_type):
                raise InvalidInput(f"{file_name}: {content_type} is a text type; give a .txt file with one text a line")
            if src.stat().st_size == 0:
                raise InvalidInput(f"{file_name}: an empty file")
            with open(src, "rb") as fh:
                found = image_signature(fh.read(32))
            if found is None:
                raise InvalidInput(
                    f"{file_name}: not an image (its first bytes are not those of a JPEG, PNG, WebP or HEIC file); nothing was added"
                )
            if found != EXTENSION_SIGNATURE[suffix]:
                raise InvalidInput(
                    f"{file_name}: its first bytes are those of a {found.upper()} file, not {EXTENSION_SIGNATURE[suffix].upper()};"
                    " give it the right extension; nothing was added"
                )
            dest = pool_dir / content_type / file_name
            existing = dest.parent.iterdir() if dest.parent.is_dir() else []
            if dest.exists() or dest.is_symlink() or any(p.name.lower() == file_name.lower() for p in existing):
                raise Conflict(f"{_rel(ws, dest)} already exists; rename the file (nothing was copied)")
            if file_name.lower() in names_seen:
                raise InvalidInput(f"{file_name} is given twice")
            names_seen.add(file_name.lower())
            images.append((src, dest))
        elif suffix in TEXT_FILE_EXTENSIONS:
            if content_type in IMAGE_TYPES and content_type not in CAPTION_TYPES:
                raise InvalidInput(
                    f"{file_name}: {content_type} takes images only ({', '.join(e[1:] for e in IMAGE_EXTENSIONS)})"
                )
            new_texts += _read_text_lines(src, content_type)
        else:
            raise InvalidInput(
                f"{file_name}: not an image ({', '.join(e[1:] for e in IMAGE_EXTENSIONS)}) nor a .txt file of texts"
            )
    if pool_dir.exists() and not _inside(pool_dir.resolve(), root):
        raise InvalidInput(f"content/{slug} points outside the workspace's content folder")

    texts_path = pool_dir / TEXTS_FILE
    texts_label = f"content/{slug}/{TEXTS_FILE}"
    old_texts_file = texts_path.read_bytes() if texts_path.exists() else None
    current = _read_texts_file(texts_path, texts_label)
    pool_list = list(current.get(content_type, []))
    added_texts = [t for t in dict.fromkeys(new_texts) if t not in pool_list]
    duplicate_texts = [t for t in dict.fromkeys(new_texts) if t in pool_list]

    created: list[Path] = []
    new_folders: list[Path] = []  # made for this add: removed again when it fails
    now = ws.now()
    try:
        for src, dest in images:
            if not _inside(dest.parent.resolve() if dest.parent.exists() else pool_dir.resolve(), root):
                raise InvalidInput(f"{_rel(ws, dest.parent)} points outside the workspace's content folder")
            if not dest.parent.exists():
                new_folders.append(dest.parent)
            dest.parent.mkdir(parents=True, exist_ok=True)
            with open(src, "rb") as fin, open(dest, "xb") as fout:  # "x": never overwrite
                created.append(dest)
                shutil.copyfileobj(fin, fout)
        if added_texts:
            _write_texts_file(texts_path, old_texts_file, content_type, pool_list + added_texts)
        result: dict[str, Any] = {
            "model": name,
            "type": content_type,
            "images": [],
            "texts_added": len(added_texts),
            "texts_already_there": duplicate_texts,
        }
        with db.write():
            for _src, dest in images:
                rel = _rel(ws, dest)
                sha = sha256_file(dest)
                _register_image(db, model_id, rel, sha, file_priority(dest.name), content_type, now, ref.set_id)
                cid = db.scalar("SELECT id FROM content WHERE path = ? AND active = 1 AND sha256 = ?", [rel, sha])
                result["images"].append({"content_id": cid, "path": rel, "sha256": sha})
            for index, text in enumerate(pool_list + added_texts):
                if text in added_texts:
                    _register_text(db, model_id, content_type, text, index, now, ref.set_id)
            ws.events.record(
                db,
                now,
                "content.add",
                actor,
                model_id=model_id,
                message=f"{len(images)} image(s) and {len(added_texts)} text(s) added to {name} {content_type}",
                details={
                    "model": name,
                    "type": content_type,
                    "images": [i["path"] for i in result["images"]],
                    "texts_added": len(added_texts),
                },
            )
    except BaseException:
        for path in created:
            path.unlink(missing_ok=True)
        for folder in reversed(new_folders):
            with contextlib.suppress(OSError):
                folder.rmdir()  # only when empty
        if added_texts:
            put_back(texts_path, old_texts_file)
        raise
    return result


def _read_text_lines(src: Path, content_type: str) -> list[str]:
    try:
        raw = src.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(f"{src.name}: not UTF-8 text") from None
    texts = []
    for number, line in enumerate(raw.splitlines(), 1):
        value = line.strip()
        if not value:
            continue
        problem = text_problem(content_type, value)
        if problem:
            raise InvalidInput(f"{src.name}: line {number}: {problem}")
        texts.append(value)
    if not texts:
        raise InvalidInput(f"{src.name}: no texts in it (one text a line)")
    return texts


def _write_texts_file(path: Path, old: bytes | None, content_type: str, texts: list[str]) -> None:
    """Rewrite texts.yaml with the new list, keeping the comment lines at its top (PyYAML
    cannot keep comments elsewhere; docs/content.md says so)."""
    header = ""
    data: dict = {}
    if old is not None:
        text = old.decode("utf-8-sig")
        lines = text.splitlines(keepends=True)
        for line in lines:
            if line.startswith("#") or not line.strip():
                header += line
            else:
                break
        data = yaml.safe_load(text) or {}
    data[content_type] = texts
    body = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, default_flow_style=False, width=10_000)
    if header and not header.endswith("\n"):
        header += "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, (header + body).encode("utf-8"))


# -- for the bot API ----------------------------------------------------------------------------
def image_path(ws: Workspace, content_id: int, db: Database | None = None) -> Path:
    """The absolute path of an image, guaranteed inside content/ (links resolved). A retired
    row is served only while the file still holds its bytes (a bot may fetch the image of a
    task chosen before the file changed); anything else is NotFound."""
    db = db or ws.db()
    row = db.one("SELECT * FROM content WHERE id = ?", [content_id])
    if row is None or row["path"] is None:
        raise NotFound(f"no image with content id {content_id}")
    root = ws.content_dir.resolve()
    real = (ws.content_dir / row["path"]).resolve()
    if not _inside(real, root) or not real.is_file():
        raise NotFound(f"image {content_id} is not in the content folder any more")
    if not row["active"]:
        try:
            same = sha256_file(real) == row["sha256"]
        except OSError:
            same = False
        if not same:
            raise NotFound(f"image {content_id} was replaced or removed")
    return real


# -- pools at a glance -------------------------------------------------------------------------------
def _counts(db: Database, ref: PoolRef) -> dict[str, Any]:
    where, params = _pool_sql(ref.model_id, ref.set_id)
    row = db.one(
        f"""SELECT sum(path IS NOT NULL AND disabled_at IS NULL) AS images,
                   sum(text_content IS NOT NULL AND disabled_at IS NULL) AS texts,
                   sum(disabled_at IS NOT NULL) AS disabled
            FROM content WHERE {where} AND active = 1""",
        params,
    )
    by_type = {
        r["content_type"]: r["n"]
        for r in db.query(
            f"SELECT content_type, count(*) AS n FROM content WHERE {where} AND active = 1 AND disabled_at IS NULL"
            " GROUP BY content_type",
            params,
        )
    }
    assert row is not None
    return {
        "images": row["images"] or 0,
        "texts": row["texts"] or 0,
        "disabled": row["disabled"] or 0,
        "by_type": by_type,
    }


def _models_listing(db: Database, set_name: str) -> list[str]:
    """Live models whose strategy in force lists the set."""
    out = []
    for m in db.query("SELECT * FROM models WHERE archived_at IS NULL ORDER BY name"):
        try:
            if set_name in strategies.stored(m).template_sets:
                out.append(m["name"])
        except ValueError:
            continue
    return out


def pools(ws: Workspace, *, kind: str | None = None) -> list[dict[str, Any]]:
    """Every pool: the default template set, each named set, each live model; with active
    image and text counts (disabled items counted apart), and for a set the models listing
    it. `kind`: "sets" for the template sets only."""
    db = ws.db()
    refs = [DEFAULT_POOL, *_set_pools(db)]
    if kind != "sets":
        refs += [
            PoolRef(r["id"], None, r["name"], r["slug"])
            for r in db.query("SELECT id, name, slug FROM models WHERE archived_at IS NULL ORDER BY name")
        ]
    out = []
    for ref in refs:
        out.append(
            {
                "pool": ref.key,
                "name": ref.name,
                "kind": "model" if ref.model_id is not None else "set",
                "set": ref.set_name,
                "model_id": ref.model_id,
                "set_id": ref.set_id,
                "folder": f"content/{ref.folder}/",
                **_counts(db, ref),
                "models": _models_listing(db, ref.set_name) if ref.set_name else [],
            }
        )
    return out


def pool_detail(ws: Workspace, pool: str) -> dict[str, Any]:
    """One pool for its page: its rows (active ones, disabled included) by type, and its text
    pools as texts.yaml lists them (`multiline` when one of them spans lines)."""
    db = ws.db()
    ref = resolve_pool(db, pool)
    rows = list_content(ws, ref.key)
    texts_path = ws.content_dir / ref.folder / TEXTS_FILE
    texts_error = None
    try:
        listed = _read_texts_file(texts_path, f"content/{ref.folder}/{TEXTS_FILE}")
    except InvalidInput as exc:
        listed, texts_error = {}, exc.message
    return {
        "pool": ref.key,
        "name": ref.name,
        "kind": "model" if ref.model_id is not None else "set",
        "set": ref.set_name,
        "folder": f"content/{ref.folder}/",
        "image_items": {t: [r for r in rows if r["kind"] == "image" and r["type"] == t] for t in IMAGE_TYPES},
        "text_items": {
            t: [r for r in rows if r["kind"] == "text" and r["type"] == t]
            for t in sorted({r["type"] for r in rows if r["kind"] == "text"})
        },
        "text_lists": listed,
        "texts_error": texts_error,
        **_counts(db, ref),
        "models": _models_listing(db, ref.set_name) if ref.set_name else [],
    }


# -- template sets ---------------------------------------------------------------------------------
def _set_name(name: str) -> str:
    try:
        value = strategies.check_set_name((name or "").strip())
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    if value == strategies.DEFAULT_SET:
        raise InvalidInput(f"{strategies.DEFAULT_SET} is the set in content/{TEMPLATES}/ itself; choose another name")
    return value


def _live_set(db: Database, name: str) -> Record:
    row = db.one("SELECT * FROM template_sets WHERE name = ? AND deleted_at IS NULL", [(name or "").strip()])
    if row is None:
        raise NotFound(f"no template set named {name} (igctl content sets lists them)")
    return row


def _models_naming(ws: Workspace, db: Database, set_name: str) -> list[str]:
    """Live models whose strategy in force, or whose file as it is now, lists the set."""
    out = []
    for m in db.query("SELECT * FROM models WHERE archived_at IS NULL ORDER BY name"):
        names: set[str] = set()
        try:
            names.update(strategies.stored(m).template_sets)
        except ValueError:
            pass
        try:
            names.update(
                strategies.read_file(strategies.path_of(ws, m["slug"]), strategies.label(m["slug"]))[1].template_sets
            )
        except InvalidInput:
            pass
        if set_name in names:
            out.append(m["name"])
    return out


def create_set(ws: Workspace, name: str, *, actor: str) -> dict[str, Any]:
    """`content set-create NAME`: a named template set in content/_templates/<NAME>/ with its type
    folders and texts.yaml. A folder that is there already is adopted and synced."""
    db = ws.db()
    name = _set_name(name)
    folder = ws.content_dir / TEMPLATES / name
    rel = f"content/{TEMPLATES}/{name}/"
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise Conflict(f"{rel} exists and is not a folder")
    if db.one("SELECT 1 FROM template_sets WHERE name = ? AND deleted_at IS NULL", [name]):
        raise Conflict(f"a template set named {name} exists already")
    existed = folder.exists()
    made: list[Path] = []
    try:
        if not existed:
            folder.mkdir(parents=True)
            made.append(folder)
        for kind in IMAGE_TYPES:
            (folder / kind).mkdir(exist_ok=True)
        if not (folder / TEXTS_FILE).exists():
            (folder / TEXTS_FILE).write_text(SET_TEXTS_TEMPLATE.format(name=name), encoding="utf-8")
        now = ws.now()
        with db.write():
            set_id = db.execute(
                "INSERT INTO template_sets (name, created_at, updated_at) VALUES (?, ?, ?)", [name, now, now]
            ).lastrowid
            ws.events.record(
                db,
                now,
                "content.set_created",
                actor,
                message=f"template set {name} created ({rel})",
                details={"set": name, "set_id": set_id, "folder": rel, "adopted": existed},
            )
            synced = apply(ws, scan(ws, f"{TEMPLATES}/{name}"), actor=actor)
    except BaseException:
        for p in made:
            shutil.rmtree(p, ignore_errors=True)
        raise
    return {"set": name, "set_id": set_id, "folder": rel, "adopted": existed, "sync": synced["pools"][0]}


def rename_set(ws: Workspace, old: str, new: str, *, actor: str) -> dict[str, Any]:
    """`content set-rename OLD NEW`: move the folder and the stored paths of its content. Refused
    while a live model's strategy (in force, or its file) lists OLD: strategies are the
    operator's files, igctl does not rewrite them."""
    db = ws.db()
    row = _live_set(db, old)
    new = _set_name(new)
    old_name = row["name"]
    if new == old_name:
        raise InvalidInput("the new name is the old one")
    naming = _models_naming(ws, db, old_name)
    if naming:
        raise Conflict(
            f"template set {old_name} is listed by model(s) {', '.join(naming)}: take it out of their strategy "
            f"(templates:) first, rename, then list the new name"
        )
    if db.one("SELECT 1 FROM template_sets WHERE name = ? AND deleted_at IS NULL", [new]):
        raise Conflict(f"a template set named {new} exists already")
    src = ws.content_dir / TEMPLATES / old_name
    dest = ws.content_dir / TEMPLATES / new
    if dest.exists() or dest.is_symlink():
        raise Conflict(f"content/{TEMPLATES}/{new} exists already; move it away first")
    old_prefix, new_prefix = f"{TEMPLATES}/{old_name}/", f"{TEMPLATES}/{new}/"
    moved = False
    try:
        if src.exists():
            os.rename(src, dest)
            moved = True
        now = ws.now()
        with db.write():
            db.execute("UPDATE template_sets SET name = ?, updated_at = ? WHERE id = ?", [new, now, row["id"]])
            db.execute(
                "UPDATE content SET path = ? || substr(path, ?) WHERE set_id = ? AND path IS NOT NULL AND substr(path, 1, ?) = ?",
                [new_prefix, len(old_prefix) + 1, row["id"], len(old_prefix), old_prefix],
            )
            ws.events.record(
                db,
                now,
                "content.set_renamed",
                actor,
                message=f"template set {old_name} renamed to {new}",
                details={"set_id": row["id"], "old": old_name, "new": new},
            )
    except BaseException:
        if moved:
            os.rename(dest, src)
        raise
    return {"set_id": row["id"], "old": old_name, "new": new, "folder": f"content/{TEMPLATES}/{new}/"}


def delete_set(ws: Workspace, name: str, *, actor: str) -> dict[str, Any]:
    """`content set-delete NAME`: refused while a live model's strategy lists it; otherwise its
    content is retired (rows kept for history) and its folder is moved to
    content/_templates/.deleted/<NAME>-<time>/ (hidden, so sync ignores it; the operator may
    remove it)."""
    db = ws.db()
    row = _live_set(db, name)
    naming = _models_naming(ws, db, row["name"])
    if naming:
        raise Conflict(
            f"template set {row['name']} is listed by model(s) {', '.join(naming)}: take it out of their strategy "
            "(templates:) first"
        )
    now = ws.now()
    src = ws.content_dir / TEMPLATES / row["name"]
    stamp = f"{row['name']}-{re.sub(r'[^0-9]', '', now)[:14]}"
    trash = ws.content_dir / TEMPLATES / ".deleted" / stamp
    number = 1
    while trash.exists() or trash.is_symlink():  # the same name deleted twice within a second
        number += 1
        trash = trash.with_name(f"{stamp}-{number}")
    moved = False
    try:
        if src.exists() or src.is_symlink():
            trash.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.rename(src, trash)
            except OSError as exc:
                raise Conflict(
                    f"could not move content/{_rel(ws, src)}/ aside: {exc.strerror}; nothing changed"
                ) from None
            moved = True
        with db.write():
            retired = db.execute(
                "UPDATE content SET active = 0, retired_at = ?, updated_at = ? WHERE set_id = ? AND active = 1",
                [now, now, row["id"]],
            ).rowcount
            db.execute("UPDATE template_sets SET deleted_at = ?, updated_at = ? WHERE id = ?", [now, now, row["id"]])
            ws.events.record(
                db,
                now,
                "content.set_deleted",
                actor,
                message=f"template set {row['name']} deleted: {retired} item(s) retired",
                details={
                    "set_id": row["id"],
                    "set": row["name"],
                    "retired": retired,
                    "moved_to": _rel(ws, trash) if moved else None,
                },
            )
    except BaseException:
        if moved:
            os.rename(trash, src)
        raise
    return {"set": row["name"], "retired": retired, "moved_to": f"content/{_rel(ws, trash)}/" if moved else None}


SET_TEXTS_TEMPLATE = """\
# Text pools of template set {name}. After editing run: igctl content sync _templates/{name}
bio: []
post: []
story: []
highlight: []
"""


# -- disable, enable, delete -----------------------------------------------------------------------
def _items(db: Database, ids: list[int]) -> list[Record]:
    if not ids:
        raise InvalidInput("name at least one content id")
    rows: list[Record] = []
    for cid in dict.fromkeys(ids):
        row = db.one("SELECT * FROM content WHERE id = ?", [cid])
        if row is None:
            raise NotFound(f"no content with id {cid}")
        if not row["active"]:
            raise Conflict(f"content {cid} is retired (its file or text is gone); nothing was changed")
        rows.append(row)
    return rows


def items_to_delete(ws: Workspace, ids: list[int]) -> list[dict[str, Any]]:
    """What `delete_items(ids)` would delete, as `content list` rows (reads only): the same
    checks, so a confirmation page refuses what the delete would refuse."""
    return [content_row(r, "") for r in _items(ws.db(), ids)]


def _item_label(row: Record) -> str:
    return row["path"] if row["path"] is not None else f"{row['content_type']} text {row['id']}"


def set_disabled(ws: Workspace, ids: list[int], disabled: bool, *, actor: str) -> dict[str, Any]:
    """`content disable ID…` / `content enable ID…`: a disabled item stays in its pool (and in
    its folder or texts.yaml) but is never chosen for a task; sync keeps it disabled. Items
    already so are reported, not an error."""
    db = ws.db()
    now = ws.now()
    changed, already = [], []
    with db.write():
        for row in _items(db, ids):
            if (row["disabled_at"] is not None) == disabled:
                already.append(row["id"])
                continue
            db.execute(
                "UPDATE content SET disabled_at = ?, updated_at = ? WHERE id = ?",
                [now if disabled else None, now, row["id"]],
            )
            changed.append(row["id"])
            ws.events.record(
                db,
                now,
                "content.disabled" if disabled else "content.enabled",
                actor,
                model_id=row["model_id"],
                message=f"{_item_label(row)} {'disabled' if disabled else 'enabled'}",
                details={
                    "content_id": row["id"],
                    "type": row["content_type"],
                    "path": row["path"],
                    "set_id": row["set_id"],
                },
            )
    return {"changed": changed, "already": already, "disabled": disabled}


def _pool_folder_of(db: Database, row: Record) -> str:
    if row["model_id"] is not None:
        return pool_key(db, row["model_id"])
    if row["set_id"] is not None:
        return f"{TEMPLATES}/" + (db.scalar("SELECT name FROM template_sets WHERE id = ?", [row["set_id"]]) or "")
    return TEMPLATES


def delete_items(ws: Workspace, ids: list[int], *, actor: str) -> dict[str, Any]:
    """`content delete ID…`: an image's file is removed from content/, a text is taken out of
    its pool's texts.yaml; the row is retired (never deleted), so an item already used keeps
    its record (tasks' content_json, the step log, content_usage). An unused item's row is
    retired the same way. Everything is checked first; one transaction."""
    db = ws.db()
    rows = _items(db, ids)
    root = ws.content_dir.resolve()
    files: list[Path] = []
    texts: dict[str, dict[str, list[str]]] = {}
    for row in rows:
        if row["path"] is not None:
            path = ws.content_dir / row["path"]
            if not _inside(path.parent.resolve(), root):
                raise InvalidInput(f"{row['path']} is not inside the content folder; nothing was deleted")
            files.append(path)
        else:
            folder = _pool_folder_of(db, row)
            texts.setdefault(folder, {}).setdefault(row["content_type"], []).append(row["text_content"])
    # texts.yaml files rewritten first (kept to restore), then the files removed, then the rows
    backups: dict[Path, bytes | None] = {}
    removed: list[tuple[Path, bytes]] = []
    now = ws.now()
    try:
        for folder, by_type in texts.items():
            path = ws.content_dir / folder / TEXTS_FILE
            old = path.read_bytes() if path.exists() else None
            current = _read_texts_file(path, f"content/{folder}/{TEXTS_FILE}")
            backups[path] = old
            for content_type, gone in by_type.items():
                kept = [t for t in current.get(content_type, []) if t not in gone]
                _write_texts_file(path, old, content_type, kept)
                old = path.read_bytes()
        for path in files:
            if path.is_symlink() or path.exists():
                data = path.read_bytes() if path.is_file() else b""
                path.unlink()
                removed.append((path, data))
        with db.write():
            for row in rows:
                _retire(db, row["id"], now)
                ws.events.record(
                    db,
                    now,
                    "content.deleted",
                    actor,
                    model_id=row["model_id"],
                    message=f"{_item_label(row)} deleted"
                    + (f" (used {row['usage_count']} time(s); its record stays)" if row["usage_count"] else ""),
                    details={
                        "content_id": row["id"],
                        "type": row["content_type"],
                        "path": row["path"],
                        "text": row["text_content"],
                        "set_id": row["set_id"],
                        "usage_count": row["usage_count"],
                    },
                )
    except BaseException:
        for path, data in removed:
            path.write_bytes(data)
        for path, old_bytes in backups.items():
            if old_bytes is None:
                path.unlink(missing_ok=True)
            else:
                atomic_write(path, old_bytes)
        raise
    return {"deleted": [r["id"] for r in rows], "files_removed": [_rel(ws, p) for p, _ in removed]}


# -- a text pool as one entry a line ----------------------------------------------------------------
def set_texts(ws: Workspace, pool: str, content_type: str, lines: str, *, actor: str) -> dict[str, Any]:
    """The dashboard's text editor: `lines` (one text a line, blank lines skipped) becomes the
    whole `content_type` list of the pool's texts.yaml, checked by the same rules as sync, and
    the pool is synced (texts taken out are retired, new ones registered). A list holding a
    text of several lines is refused (edit texts.yaml): one a line would break it."""
    db = ws.db()
    ref = resolve_pool(db, pool)
    if (
        not TYPE_NAME.match(content_type)
        or content_type in RESERVED_TEXT_KEYS
        or (content_type in IMAGE_TYPES and content_type not in CAPTION_TYPES)
    ):
        raise InvalidInput(f"{content_type!r} is not a text pool (bio, post, story, highlight, name, …)")
    path = ws.content_dir / ref.folder / TEXTS_FILE
    label_ = f"content/{ref.folder}/{TEXTS_FILE}"
    if not _inside((ws.content_dir / ref.folder).resolve(), ws.content_dir.resolve()):
        raise InvalidInput(f"content/{ref.folder} points outside the workspace's content folder")
    old = path.read_bytes() if path.exists() else None
    current = _read_texts_file(path, label_)
    if any("\n" in t for t in current.get(content_type, [])):
        raise InvalidInput(
            f"the {content_type} list of {label_} holds a text of several lines; edit that file (one a line would break it)"
        )
    texts: list[str] = []
    for number, line in enumerate((lines or "").splitlines(), 1):
        value = line.strip()
        if not value:
            continue
        problem = text_problem(content_type, value)
        if problem:
            raise InvalidInput(f"{content_type} line {number}: {problem}; nothing was saved")
        if value not in texts:
            texts.append(value)
    before = current.get(content_type, [])
    if texts == before:
        return {"pool": ref.key, "type": content_type, "texts": len(texts), "changed": False, "sync": None}
    _write_texts_file(path, old, content_type, texts)
    try:
        synced = apply(ws, scan(ws, ref.key), actor=actor)
    except BaseException:
        if old is None:
            path.unlink(missing_ok=True)
        else:
            atomic_write(path, old)
        raise
    return {"pool": ref.key, "type": content_type, "texts": len(texts), "changed": True, "sync": synced["pools"][0]}


def lacking_for_steps(db: Database, kind: str, steps: Sequence[str], model_id: int | None) -> list[dict[str, Any]]:
    """What the steps of one kind would wait for in a model's pool: one row per content type
    that has no active item (for images: neither the type nor `any`), with the steps that need
    it and where to put it. Empty when every step can be served."""
    out: dict[str, dict[str, Any]] = {}
    for step in steps:
        pool = pool_for(db, kind, step, model_id)
        for content_type in needs(step):
            if content_type in out:
                out[content_type]["steps"].append(step)
            elif not _has_item(db, pool, content_type):
                out[content_type] = {
                    "type": content_type,
                    "kind": "image" if is_image_type(content_type) else "text",
                    "steps": [step],
                    "folder": _pool_hint(db, pool, content_type),
                    "pool": pool_key(db, pool.model_id),
                }
    return list(out.values())
