"""The drop folder: files dropped into `inbox/accounts/` and `inbox/proxies/` are imported once
complete, each content at most once, then moved to `inbox/processed/` or `inbox/failed/`.

The order that makes a crash harmless: import and record the content hash in one transaction,
commit, then move the file (a rename within one file system). A process that dies between the
commit and the move leaves the file in the inbox; the next pass finds its hash already handled
and only moves it. A file is never deleted and is at every moment in exactly one of the inbox,
`processed/` or `failed/`.

Whether a file is complete is decided by `observe()` and `is_settled()`: pure functions of
(size, mtime) snapshots and a time passed in, so the rule can be tested without waiting.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..domain import accounts, proxies
from ..store import clock as clockmod
from ..store import secrets
from ..store.db import Database
from ..store.errors import IgctlError, InvalidInput, SecretError, WorkspaceError
from ..store.events import redact
from ..store.files import sha256_file
from ..store.workspace import Workspace

if TYPE_CHECKING:  # watchdog is imported only when a watcher starts
    from watchdog.events import FileSystemEvent
    from watchdog.observers.api import BaseObserver

log = logging.getLogger("igctl.inbox")

KINDS = ("proxies", "accounts")  # handling order within a pass: proxies first, so that the
# accounts of the same drop can be auto-assigned to them
PROCESSED = "processed"
FAILED = "failed"
REPEAT = "repeat"
SKIPPED = "skipped"

# Names a writer uses while a file is incomplete; such files are never touched.
TEMPORARY_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload")
# The notes igctl writes beside handled files; an operator moving a failed file back together
# with its note must not get the note imported.
SIDECAR_SUFFIXES = (".error.txt", ".result.json")
ACTOR = "watch"
LOCK_NAME = ".watch.lock"

try:  # POSIX; on other systems two watchers on one workspace are not serialised
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]


# -- which files ------------------------------------------------------------------------
def ignore_reason(name: str) -> str | None:
    """Why a file in a drop folder is left alone, or None when it is to be imported."""
    if name.startswith("."):
        return "hidden file"
    if name.endswith("~"):
        return "backup/temporary name (~)"
    lower = name.lower()
    for suffix in TEMPORARY_SUFFIXES:
        if lower.endswith(suffix):
            return f"temporary name ({suffix}): rename it when complete"
    for suffix in SIDECAR_SUFFIXES:
        if lower.endswith(suffix):
            return f"an igctl note ({suffix})"
    return None


def folder(ws: Workspace, kind: str) -> Path:
    return ws.inbox / kind


def prepare(ws: Workspace) -> None:
    """Before the first file: the folders exist and the key opens this workspace's secrets
    (a wrong key stops the watcher at once instead of failing every file)."""
    for name in (*KINDS, PROCESSED, FAILED):
        (ws.inbox / name).mkdir(parents=True, exist_ok=True)
    _ = ws.cipher  # opening it checks the key
    seal_archive(ws)


NOTE_SUFFIXES = (".result.json", ".error.txt")


def seal_archive(ws: Workspace) -> int:
    """Seal any kept original in processed/ or failed/ that is still plain (a crash came
    between its move and its sealing). Notes hold no secrets and stay readable."""
    sealed = 0
    for where in (PROCESSED, FAILED):
        for path in sorted((ws.inbox / where).iterdir()):
            if path.is_file() and not path.name.startswith(".") and not path.name.endswith(NOTE_SUFFIXES):
                sealed += secrets.seal_file(ws.cipher, path)
    return sealed


def kind_of(ws: Workspace, path: Path) -> str | None:
    """`accounts` or `proxies` for a file directly inside that drop folder, else None."""
    for kind in KINDS:
        if path.parent == folder(ws, kind):
            return kind
    return None


def wanted(ws: Workspace, path: Path) -> bool:
    return kind_of(ws, path) is not None and ignore_reason(path.name) is None


def candidates(ws: Workspace) -> list[Path]:
    """The files waiting in the drop folders (regular files, not ignored), in handling order."""
    found = []
    for kind in KINDS:
        base = folder(ws, kind)
        if not base.is_dir():
            continue
        for entry in os.scandir(base):
            if ignore_reason(entry.name) is not None:
                continue
            try:
                if entry.is_file():
                    found.append(Path(entry.path))
            except OSError:
                continue
    return order(ws, found)


def order(ws: Workspace, paths: Iterable[Path]) -> list[Path]:
    """Proxies before accounts; within a folder, oldest first, then by name."""

    def key(p: Path) -> tuple[int, int, str]:
        try:
            mtime = p.stat().st_mtime_ns
        except OSError:
            mtime = 0
        return (KINDS.index(kind_of(ws, p)) if kind_of(ws, p) else len(KINDS), mtime, p.name)

    return sorted(paths, key=key)


# -- is it complete ---------------------------------------------------------------------
@dataclass(frozen=True)
class Snapshot:
    """What was seen of a file: its size and mtime, and since when they have not changed
    (`since`, on a monotonic clock)."""

    size: int
    mtime_ns: int
    since: float


def observe(previous: Snapshot | None, size: int, mtime_ns: int, observed_at: float) -> Snapshot:
    """The file's snapshot after looking at it again at `observed_at`: unchanged size and mtime
    keep the earlier `since`; any change starts the wait again."""
    if previous is not None and previous.size == size and previous.mtime_ns == mtime_ns:
        return previous
    return Snapshot(size, mtime_ns, observed_at)


def settles_at(snapshot: Snapshot, settle_seconds: float) -> float:
    return snapshot.since + settle_seconds


def is_settled(snapshot: Snapshot, now: float, settle_seconds: float) -> bool:
    """Complete once size and mtime have stayed the same for `settle_seconds`."""
    return now >= settles_at(snapshot, settle_seconds)


# -- handling one file ------------------------------------------------------------------


def _count(value: Any) -> int:
    if isinstance(value, (list, tuple, set, dict)):
        return len(value)
    return int(value or 0)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def counts_text(result: dict) -> str:
    parts = [
        f"{result['imported']} imported",
        _plural(result["duplicates"], "duplicate"),
        f"{result['invalid']} invalid",
    ]
    if result.get("proxies_assigned") is not None:
        parts.append(f"{result['proxies_assigned']} assigned to proxies")
    return ", ".join(parts)


class _NothingImported(Exception):
    """Raised inside the import transaction to roll it back when a file imported nothing."""

    def __init__(self, message: str, result: dict):
        super().__init__(message)
        self.result = result


def _import(ws: Workspace, kind: str, path: Path) -> dict[str, Any]:
    if kind == "accounts":
        return accounts.import_file(ws, path, actor=ACTOR)
    return proxies.import_file(ws, path, actor=ACTOR)


def _summary(kind: str, raw: dict) -> dict[str, Any]:
    """The import result without the temporary path and with any secret-named key masked."""
    clean = redact({k: v for k, v in raw.items() if k != "file"})
    summary = {
        "imported": _count(raw.get("imported")),
        "duplicates": _count(raw.get("duplicates")),
        "invalid": _count(raw.get("invalid")),
        "proxies_assigned": _count(raw.get("proxies_assigned")) if kind == "accounts" else None,
    }
    return {**summary, "result": clean}


def _nothing_imported_message(summary: dict) -> str:
    if summary["invalid"]:
        return f"nothing imported: none of its {_plural(summary['invalid'], 'data line')} is valid"
    return "nothing imported: the file holds no data lines (only blank lines, comments or a header)"


def _failure_hint(kind: str) -> str:
    return (
        f"fix the file and drop it into inbox/{kind}/ again (a file that failed is tried again "
        f"when it comes back, also unchanged, e.g. after raising import.max_file_mb); "
        f"or import it by hand: igctl {'accounts import' if kind == 'accounts' else 'proxy import'} FILE"
    )


def free_name(target_dir: Path, name: str, sidecar: str, stamp: str) -> Path:
    """A name in `target_dir` that neither the file nor its note (`sidecar` suffix) uses yet:
    the name itself, else with a time stamp, else with a time stamp and a counter."""
    base = Path(name)
    stem, suffix = (base.stem, base.suffix) if base.stem else (name, "")

    def free(candidate: str) -> bool:
        return not (target_dir / candidate).exists() and not (target_dir / (candidate + sidecar)).exists()

    if free(name):
        return target_dir / name
    n = 1
    while True:
        candidate = f"{stem}-{stamp}{suffix}" if n == 1 else f"{stem}-{stamp}-{n}{suffix}"
        if free(candidate):
            return target_dir / candidate
        n += 1


def _write_note(path: Path, text: str) -> None:
    """Write a note next to a handled file: a hidden temporary file, then a rename."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
    os.replace(tmp, path)


@contextlib.contextmanager
def _inbox_lock(ws: Workspace) -> Iterator[None]:
    """Serialises the handling of files between igctl processes watching one workspace."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    ws.inbox.mkdir(parents=True, exist_ok=True)
    with open(ws.inbox / LOCK_NAME, "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _relative(ws: Workspace, path: Path) -> str:
    try:
        return path.relative_to(ws.path).as_posix()
    except ValueError:
        return str(path)


def handle_file(ws: Workspace, path: Path) -> dict[str, Any] | None:
    """Import one settled file from a drop folder and move it to processed/ or failed/.
    Returns the outcome (see docs/watch.md), or None when the file is no longer there
    (another watcher took it)."""
    path = Path(path)
    kind = kind_of(ws, path)
    if kind is None:
        raise ValueError(f"{path} is not in a drop folder")
    with _inbox_lock(ws):
        if not path.is_file():
            return None
        return _handle_locked(ws, path, kind)


def _blank(kind: str | None, name: str, handled_at: str | None) -> dict[str, Any]:
    """The outcome of one file, as `watch --json` prints it and the notes hold it."""
    return {
        "file": name,
        "kind": kind,
        "sha256": None,
        "outcome": None,
        "handled_at": handled_at,
        "moved_to": None,
        "imported": 0,
        "duplicates": 0,
        "invalid": 0,
        "proxies_assigned": 0 if kind == "accounts" else None,
        "error": None,
        "hint": None,
        "repeat_of": None,
        "move_error": None,
        "result": None,
    }


def _handle_locked(ws: Workspace, path: Path, kind: str) -> dict[str, Any]:
    db = ws.db()
    out = _blank(kind, path.name, ws.now())
    label = f"{kind}/{path.name}"
    prior = None
    try:
        if secrets.is_sealed(path):
            try:
                secrets.unseal_in_place(ws.cipher, path)
            except SecretError as exc:  # sealed elsewhere: this file's problem, not the workspace's
                raise InvalidInput(exc.message) from None
        out["sha256"] = sha = sha256_file(path)
        with db.write():
            row = db.one("SELECT * FROM inbox_files WHERE sha256 = ?", [sha])
            if row is not None and row["outcome"] == PROCESSED:
                prior = row  # imported before: this copy is only moved, below
            else:  # new, or failed before (a failure changed nothing, so it is tried again)
                summary = _summary(kind, _import(ws, kind, path))
                if summary["imported"] == 0 and summary["duplicates"] == 0:
                    raise _NothingImported(_nothing_imported_message(summary), summary)
                out.update(summary, outcome=PROCESSED)
                _record(ws, db, out)
                ws.events.record(
                    db,
                    out["handled_at"],
                    "inbox.processed",
                    ACTOR,
                    message=f"{label}: {counts_text(out)}",
                    details=_event_details(out),
                )
    except (SecretError, WorkspaceError):
        raise  # the workspace cannot work (e.g. a wrong key): no file is to blame, none is moved
    except _NothingImported as exc:
        out.update(exc.result, outcome=FAILED, error=str(exc))
        if kind == "accounts":  # the auto-assignment was rolled back with the file
            out["proxies_assigned"] = 0
            if isinstance(out.get("result"), dict):
                out["result"] = {**out["result"], "proxies_assigned": 0}
    except IgctlError as exc:
        # the importers name the file by its path in the inbox, where it will no longer be
        out.update(outcome=FAILED, error=exc.message.replace(str(path), f"inbox/{kind}/{path.name}"))
    except sqlite3.Error:
        raise  # the database, not the file, is in trouble: stop rather than blame the file
    except OSError as exc:
        out.update(outcome=FAILED, error=f"cannot read the file: {exc.strerror or exc}")
    except Exception as exc:
        # A bug in igctl. The traceback goes to the log (stderr); the file goes to failed/ so
        # that one file cannot stop the drop folder.
        log.exception("internal error while importing %s", label)
        out.update(outcome=FAILED, error=f"internal error in igctl ({type(exc).__name__}: {exc}); please report it")

    if out["outcome"] == FAILED:
        out["hint"] = _failure_hint(kind)
        with db.write():
            if out["sha256"] is not None:
                _record(ws, db, out)
            ws.events.record(
                db,
                out["handled_at"],
                "inbox.failed",
                ACTOR,
                message=f"{label}: {out['error']}",
                details=_event_details(out),
            )
        _move(ws, path, out, FAILED, ".error.txt", _error_text(ws, label, out))
    elif prior is not None:
        out.update(
            outcome=REPEAT,
            repeat_of={"name": prior["name"], "kind": prior["kind"], "handled_at": prior["handled_at"]},
            error=None,
        )
        first = json.loads(prior["result_json"]) if prior["result_json"] else None
        note = {
            **_note_fields(out),
            "note": f"the same content was already imported from {prior['kind']}/{prior['name']} at "
            f"{prior['handled_at']}; not imported again",
            "first_result": first,
        }
        if _move(ws, path, out, PROCESSED, ".result.json", lambda o: _json_note({**note, "moved_to": o["moved_to"]})):
            with db.write():
                ws.events.record(
                    db,
                    ws.now(),
                    "inbox.processed",
                    ACTOR,
                    message=f"{label}: repeat of {prior['kind']}/{prior['name']}, not imported again",
                    details={**_event_details(out), "repeat_of": out["repeat_of"]},
                )
    else:
        _move(ws, path, out, PROCESSED, ".result.json", lambda o: _json_note(_note_fields(o)))
    return out


def _note_fields(out: dict) -> dict[str, Any]:
    keys = (
        "file",
        "kind",
        "sha256",
        "outcome",
        "handled_at",
        "moved_to",
        "imported",
        "duplicates",
        "invalid",
        "proxies_assigned",
        "repeat_of",
        "result",
    )
    return {k: out[k] for k in keys if not (k == "proxies_assigned" and out["kind"] != "accounts")}


def _json_note(data: dict) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"


def _event_details(out: dict) -> dict[str, Any]:
    details = {k: out[k] for k in ("file", "kind", "sha256", "imported", "duplicates", "invalid")}
    if out["kind"] == "accounts":
        details["proxies_assigned"] = out["proxies_assigned"]
    return details


def _record(ws: Workspace, db: Database, out: dict[str, Any]) -> None:
    stored = {k: out[k] for k in ("imported", "duplicates", "invalid", "proxies_assigned", "error", "result")}
    db.execute(
        """INSERT INTO inbox_files (sha256, kind, name, outcome, result_json, handled_at)
           VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (sha256) DO UPDATE SET kind = excluded.kind, name = excluded.name,
               outcome = excluded.outcome, result_json = excluded.result_json, handled_at = excluded.handled_at""",
        [out["sha256"], out["kind"], out["file"], out["outcome"], json.dumps(stored, default=str), out["handled_at"]],
    )


def _error_text(ws: Workspace, label: str, out: dict[str, Any]) -> Callable[[dict[str, Any]], str]:
    def render(o: dict) -> str:
        lines = [
            f"igctl watch could not import {label}",
            f"at {clockmod.show(o['handled_at'], ws.tz)} ({ws.config.timezone}); nothing of it was imported.",
            "",
            f"Error: {o['error']}",
        ]
        invalid = (o.get("result") or {}).get("invalid")
        if isinstance(invalid, list) and invalid:
            lines += ["", "Invalid lines:"]
            for item in invalid:
                if isinstance(item, dict):
                    lines.append(f"  line {item.get('line')}: {item.get('reason')}")
                else:
                    lines.append(f"  {item}")
        lines += ["", f"Hint: {o['hint']}", ""]
        if o.get("sha256"):
            lines.insert(3, f"sha256: {o['sha256']}")
        return "\n".join(lines)

    return render


def _move(ws: Workspace, path: Path, out: dict, where: str, sidecar: str, note: Callable[[dict], str]) -> bool:
    """Move the handled file (a rename, never a copy) to processed/ or failed/, then write its
    note beside it. A failed move leaves the file in the inbox; the next pass moves it."""
    target_dir = ws.inbox / where
    stamp = clockmod.from_db(out["handled_at"]).strftime("%Y%m%dT%H%M%SZ")
    try:
        target_dir.mkdir(parents=True, exist_ok=True)
        target = free_name(target_dir, path.name, sidecar, stamp)
        os.rename(path, target)
    except OSError as exc:
        out["move_error"] = (
            f"could not move the file to inbox/{where}/: {exc.strerror or exc}; it stays in the inbox and is moved on the next pass without being imported again"
        )
        log.warning("%s/%s: %s", out["kind"], out["file"], out["move_error"])
        return False
    out["moved_to"] = _relative(ws, target)
    try:
        # The kept original holds plaintext passwords, and none may stay in the workspace:
        # it is sealed (encrypted in place, same name; `igctl secrets unseal` reads it).
        # A crash before this line leaves it plain; `seal_archive` at the next start seals it.
        secrets.seal_file(ws.cipher, target)
    except OSError as exc:
        log.warning("could not seal %s: %s", out["moved_to"], exc)
    try:
        _write_note(target.with_name(target.name + sidecar), note(out))
    except OSError as exc:  # the file is safe; only its note is missing (the database has it)
        log.warning("could not write the note beside %s: %s", out["moved_to"], exc)
    return True


# -- passes -----------------------------------------------------------------------------
def run_once(
    ws: Workspace,
    *,
    max_wait: float = 60,
    on_result: Callable[[dict], None] | None = None,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[dict[str, Any]]:
    """Handle the files present now, each once it has settled (`watch.settle_seconds`). Files
    still changing after `max_wait` seconds (at least settle_seconds) are left for the next run
    and reported as `skipped`. `monotonic`/`sleep` are the real-time clock of the settle wait."""
    prepare(ws)
    settle = ws.config.watch.settle_seconds
    limit = max(max_wait, settle)
    start = monotonic()
    pending: dict[Path, Snapshot | None] = {p: None for p in candidates(ws)}
    results: list[dict] = []

    def emit(result: dict[str, Any]) -> None:
        results.append(result)
        if on_result:
            on_result(result)

    while pending:
        for path in order(ws, pending):
            now = monotonic()
            snap = _look(path, pending[path], now)
            if snap is None:
                pending.pop(path)
            elif is_settled(snap, now, settle):
                pending.pop(path)
                result = handle_file(ws, path)
                if result is not None:
                    emit(result)
            else:
                pending[path] = snap
        if not pending:
            break
        now = monotonic()
        if now - start >= limit:
            for path in order(ws, pending):
                emit(_skipped(ws, path, f"still being written after {limit:g} s; left for the next run"))
            break
        wake = min(settles_at(s, settle) for s in pending.values() if s is not None)
        sleep(max(0.0, min(wake, start + limit) - now))
    return results


def _look(path: Path, previous: Snapshot | None, now: float) -> Snapshot | None:
    try:
        st = path.stat()
    except OSError:
        return None
    if not path.is_file():
        return None
    return observe(previous, st.st_size, st.st_mtime_ns, now)


def _skipped(ws: Workspace, path: Path, reason: str) -> dict[str, Any]:
    return {**_blank(kind_of(ws, path), path.name, None), "outcome": SKIPPED, "error": reason}


class Watcher:
    """The long-running `igctl watch`: file-system events plus a rescan every
    `watch.scan_interval_seconds` (events can be lost), each file handled once settled.
    `run()` returns when `stop()` is called (e.g. from a signal handler)."""

    MAX_WAIT = 1.0  # the loop checks for a stop request at least this often

    def __init__(
        self,
        ws: Workspace,
        *,
        on_result: Callable[[dict], None] | None = None,
        on_warning: Callable[[str], None] | None = None,
    ):
        self.ws = ws
        self.on_result = on_result or (lambda r: None)
        self.on_warning = on_warning or (lambda m: log.warning("%s", m))
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._seen: list[Path] = []
        self._seen_lock = threading.Lock()
        self.observing = False

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    # called from watchdog's thread: only note the path and wake the loop
    def _notice(self, raw: str | bytes) -> None:
        if isinstance(raw, bytes):
            raw = os.fsdecode(raw)
        with self._seen_lock:
            self._seen.append(Path(raw))
        self._wake.set()

    def _drain(self) -> list[Path]:
        with self._seen_lock:
            seen, self._seen = self._seen, []
        return seen

    def _start_observer(self) -> BaseObserver | None:
        try:
            from watchdog.events import FileSystemEventHandler
            from watchdog.observers import Observer
        except ImportError as exc:  # pragma: no cover - watchdog is a dependency
            self.on_warning(f"file-system events unavailable ({exc}); scanning only")
            return None
        watcher = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                if event.is_directory:
                    return
                dest = getattr(event, "dest_path", None)
                watcher._notice(dest or event.src_path)

        observer = Observer()
        try:
            for kind in KINDS:
                observer.schedule(Handler(), str(folder(self.ws, kind)), recursive=False)
            observer.start()
        except OSError as exc:  # e.g. the inotify watch limit is reached
            self.on_warning(
                f"file-system events unavailable ({exc}); scanning every "
                f"{self.ws.config.watch.scan_interval_seconds:g} s only"
            )
            return None
        self.observing = True
        return observer

    def run(self, on_ready: Callable[[], None] | None = None) -> None:
        ws = self.ws
        prepare(ws)
        settle = ws.config.watch.settle_seconds
        interval = ws.config.watch.scan_interval_seconds
        observer = self._start_observer()
        if on_ready:
            on_ready()
        pending: dict[Path, Snapshot | None] = {}
        next_scan = time.monotonic()
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                if now >= next_scan:
                    for path in candidates(ws):
                        pending.setdefault(path, None)
                    next_scan = now + interval
                for path in self._drain():
                    if wanted(ws, path):
                        pending.setdefault(path, None)
                for path in order(ws, pending):
                    if self._stop.is_set():
                        break
                    now = time.monotonic()
                    snap = _look(path, pending[path], now)
                    if snap is None:
                        pending.pop(path)
                    elif is_settled(snap, now, settle):
                        pending.pop(path)
                        result = handle_file(ws, path)
                        if result is not None:
                            self.on_result(result)
                    else:
                        pending[path] = snap
                wake = min([next_scan] + [settles_at(s, settle) for s in pending.values() if s is not None])
                self._wake.wait(max(0.0, min(wake - time.monotonic(), self.MAX_WAIT)))
                self._wake.clear()
        finally:
            if observer is not None:
                observer.stop()
                observer.join(timeout=5)
