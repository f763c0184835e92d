"""A workspace: a folder with igctl.yaml, igctl.db, secret.key, models/, content/, inbox/, logs/.

`Workspace.open()` finds and loads it; `init_workspace()` creates one from the template that
ships inside the package.
"""

from __future__ import annotations

import os
import shutil
import threading
from datetime import datetime
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from . import migrations, settings
from .clock import Clock, parse_instant
from .db import Database
from .errors import InvalidInput, WorkspaceError
from .events import EventLog

if TYPE_CHECKING:
    from .config import Config
    from .secrets import Cipher

CONFIG_NAME = "igctl.yaml"
DB_NAME = "igctl.db"
KEY_NAME = "secret.key"
ENV_WORKSPACE = "IGCTL_WORKSPACE"

FOLDERS = [
    "models",
    "content/_templates/pfp",
    "content/_templates/post",
    "content/_templates/story",
    "content/_templates/highlight",
    "content/_templates/any",
    "inbox/accounts",
    "inbox/proxies",
    "inbox/processed",
    "inbox/failed",
    "logs",
]


def template_dir() -> Path:
    """The workspace template: inside the installed package, or at the top of a checkout."""
    packaged = Path(str(resources.files("igctl"))) / "workspace_template"
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[3] / "workspace-template"
    if checkout.is_dir():
        return checkout
    raise WorkspaceError("the workspace template is missing from this installation of igctl")


def find_workspace(explicit: str | os.PathLike[str] | None = None, cwd: Path | None = None) -> Path:
    """--workspace, else IGCTL_WORKSPACE, else the nearest folder upwards holding igctl.yaml."""
    given = explicit if explicit not in (None, "") else os.environ.get(ENV_WORKSPACE) or None
    if given is not None:
        path = Path(given).expanduser()
        if not (path / CONFIG_NAME).is_file():
            raise WorkspaceError(
                f"{path} is not an igctl workspace (no {CONFIG_NAME}); create one with: igctl init {path}"
            )
        return path.resolve()
    here = (cwd or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_NAME).is_file():
            return folder
    raise WorkspaceError(
        "no workspace here: pass --workspace PATH, set IGCTL_WORKSPACE, or run inside a folder made by `igctl init`"
    )


class Workspace:
    """An open workspace: its folder, this thread's database connection, its settings (read on
    first use), its clock, its event log and its cipher."""

    def __init__(self, path: Path, config: Config | None = None, clock: Clock | None = None):
        self.path = Path(path)
        if config is not None:
            self.__dict__["config"] = config
        if clock is not None:
            self.__dict__["clock"] = clock
        self.events = EventLog(self.path / "logs")
        self._local = threading.local()

    @cached_property
    def config(self) -> Config:
        """igctl.yaml, parsed the first time a setting is needed (store/settings.py says why)."""
        return settings.load(self.path / CONFIG_NAME, CONFIG_NAME)

    @cached_property
    def clock(self) -> Clock:
        return Clock(self.config.tz)

    @classmethod
    def open(cls, explicit: str | os.PathLike[str] | None = None, clock: Clock | None = None) -> Workspace:
        path = find_workspace(explicit)
        if not (path / DB_NAME).exists():
            settings.read_text(path / CONFIG_NAME, CONFIG_NAME)  # a broken igctl.yaml is named first
            raise WorkspaceError(f"{path / DB_NAME} is missing: this workspace was not created by `igctl init`")
        db = Database(path / DB_NAME)
        try:
            migrations.migrate(db)
            config = settings.check(path / CONFIG_NAME, db, CONFIG_NAME)
        except BaseException:
            db.close()
            raise
        ws = cls(path, config, clock)
        ws._local.db = db  # this thread's connection, already open
        return ws

    # -- paths ---------------------------------------------------------------------------
    @property
    def db_path(self) -> Path:
        return self.path / DB_NAME

    @property
    def key_path(self) -> Path:
        return self.path / KEY_NAME

    @property
    def content_dir(self) -> Path:
        return self.path / "content"

    @property
    def inbox(self) -> Path:
        return self.path / "inbox"

    @property
    def tz(self) -> ZoneInfo:
        return self.config.tz

    def now(self) -> str:
        return self.clock.now_db()

    def instant(self, now: datetime | str | None = None) -> datetime:
        """`now` as an aware UTC datetime: given (a datetime, or a stored or ISO string, naive
        meaning this workspace's zone) or, when None, the clock's."""
        if now is None:
            return self.clock.now()
        if isinstance(now, str):
            return parse_instant(now, self.tz)
        return now

    # -- database ------------------------------------------------------------------------
    def connect(self) -> Database:
        """A new connection, migrated. Callers in threads each take their own."""
        db = Database(self.db_path)
        migrations.migrate(db)
        return db

    def db(self) -> Database:
        """This thread's connection, opened on first use."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = self.connect()
        return db

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    # -- secrets -------------------------------------------------------------------------
    @cached_property
    def cipher(self) -> Cipher:
        # cryptography costs ~15 ms of start-up: imported by the commands that use a secret
        from .secrets import ENV_KEY, Cipher, load_keys

        keys, source = load_keys(self.key_path)
        # the key file is followed for changes (another process's rotation); an env key is not
        cipher = Cipher(keys, source, key_path=None if source == ENV_KEY else self.key_path)
        cipher.check(self.db().scalar("SELECT value FROM meta WHERE key = 'key_check'"))
        return cipher

    def forget_cipher(self) -> None:
        self.__dict__.pop("cipher", None)


def init_workspace(
    path: Path, timezone: str | None = None, clock: Clock | None = None, actor: str = "operator"
) -> Workspace:
    path = Path(path).expanduser()
    if (path / CONFIG_NAME).exists() or (path / DB_NAME).exists():
        raise WorkspaceError(f"{path} already holds a workspace; refusing to overwrite it")
    if path.exists() and not path.is_dir():
        raise InvalidInput(f"{path} exists and is not a folder")
    if path.exists() and any(path.iterdir()):
        raise WorkspaceError(f"{path} is not empty; choose a new or empty folder")
    if timezone is not None:
        from .config import check_timezone  # pydantic: only when a workspace is made (start-up time)

        try:
            check_timezone(timezone)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None

    path.mkdir(parents=True, exist_ok=True)
    shutil.copytree(template_dir(), path, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    for folder in FOLDERS:
        (path / folder).mkdir(parents=True, exist_ok=True)
    if timezone is not None:
        cfg = path / CONFIG_NAME
        text = cfg.read_text(encoding="utf-8")
        cfg.write_text(text.replace("timezone: UTC", f"timezone: {timezone}", 1), encoding="utf-8")

    config = settings.load(path / CONFIG_NAME, CONFIG_NAME)
    ws = Workspace(path, config, clock)
    from .secrets import KEY_CHECK_PLAINTEXT, Cipher, load_keys, new_key, write_key_file  # (start-up time)

    key = new_key()
    if not os.environ.get("IGCTL_SECRET_KEY"):
        write_key_file(ws.key_path, [key])
    db = ws.db()
    with db.write():
        keys, source = load_keys(ws.key_path)
        check = Cipher(keys, source).encrypt(KEY_CHECK_PLAINTEXT)
        db.execute("INSERT INTO meta (key, value) VALUES ('key_check', ?)", [check])
        db.execute("INSERT INTO meta (key, value) VALUES ('created_at', ?)", [ws.now()])
        ws.events.record(db, ws.now(), "workspace.init", actor, details={"timezone": config.timezone})
    settings.check(path / CONFIG_NAME, db, CONFIG_NAME)  # remembered as valid: the next command skips pydantic
    return ws
