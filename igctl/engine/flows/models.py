"""Models over time: create, sync and delete; batch assignment; onboarding; recurring
scheduling; cleanup and reassignment (docs/models.md explains them for operators).

A model is a row in `models` (name as given, a unique slug), a strategy file
`models/<slug>.yaml` (domain/strategy.py) and a content pool `content/<slug>/`. Its accounts go

    ready ──assign──▶ active (onboarding steps one after another, then recurring work by tick)
    active / human_review ──unassign, delete, --reassign──▶ cleanup (reset_pfp, reset_bio,
    delete_posts one after another) ──all done──▶ ready (model cleared, proxy's model released)
                                                  └──▶ active in the new model (--reassign)

Rules, each in one function here:
- only `ready` accounts on an active proxy that may serve the model (`proxies.check_model`) are
  assigned; preferred locations first (`candidates`);
- the strategy file is read by every command that changes the model and by tick: a changed
  file is validated and applied (`load_strategy`); a changed schedule re-plans the queued slots;
- tick materialises the slots due within the next 24 hours and those missed by less than
  `schedule.grace_hours` (`schedule_due`), from each account's `next_slot_at`, so its cost grows
  with the slots due, not with the fleet.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from ..domain import content, lifecycle, proxies, schedule
from ..domain import strategy as strategies
from ..domain.strategy import (
    CLEANUP_STEPS,
    EXAMPLE_NAME,
    Strategy,
    check_name,
    example_text,
    file_sha,
    find_model,
    label,
    live_model,
    path_of,
    read_file,
    slugify,
    stored,
)
from ..queue import tasks
from ..store.clock import from_db, to_db
from ..store.db import Database
from ..store.errors import Conflict, IllegalTransition, InvalidInput, NotFound
from ..store.records import AccountRow, ModelRow, TaskRow
from ..store.workspace import Workspace

HORIZON = timedelta(hours=24)

TEXTS_TEMPLATE = """\
# Text pools of this model: one list per type. After editing run: igctl content sync {name}
# Types used by default: bio (change_bio), post / story / highlight (captions and titles).
# Add any type a step needs, e.g. name: [...] for a change_name step.
bio: []
post: []
story: []
highlight: []
"""


def create(
    ws: Workspace,
    name: str,
    *,
    strategy_file: str | Path | None = None,
    display_name: str | None = None,
    actor: str,
) -> ModelRow:
    """`model create NAME [--strategy FILE] [--display-name TEXT]`: the row, `models/<slug>.yaml`
    (FILE's text, or the commented example followed by `display_name:` when one is given) and
    `content/<slug>/` with its type folders and texts.yaml. A name that is taken (also by an
    archived model) is a Conflict. Files written are taken back when the database refuses."""
    name = check_name(name)
    display_name = (display_name or "").strip() or None
    if strategy_file is not None and display_name is not None:
        raise InvalidInput(
            "give a display name or a strategy file, not both (a strategy file holds its own display_name)",
            about=("display_name", "strategy_file"),
        )
    if strategy_file is not None:
        src = Path(strategy_file)
        if not src.is_file():
            raise InvalidInput(f"{src}: no such file")
        data, strategy = read_file(src, src.name)
    else:
        text = example_text(name)
        if display_name is not None:
            text += yaml.safe_dump({"display_name": display_name}, allow_unicode=True, width=10_000)
        data = text.encode("utf-8")
        strategy = strategies.parse_text(data.decode("utf-8"), EXAMPLE_NAME)
    db = ws.db()
    strategies.check_template_sets(db, strategy, EXAMPLE_NAME if strategy_file is None else Path(strategy_file).name)
    created: list[Path] = []
    try:
        with db.write():
            taken = db.one("SELECT name, archived_at FROM models WHERE name = ? OR slug = ?", [name, name.lower()])
            if taken is not None:
                extra = " (deleted and archived; archived names stay taken)" if taken["archived_at"] else ""
                raise Conflict(f"a model named {taken['name']} exists already{extra}")
            base = slugify(name) or "model"
            slug, n = base, 1
            # a slug no model has, whose strategy file and content folder do not exist (so no
            # file of the operator's, e.g. models/example.yaml, is ever overwritten)
            while (
                db.one("SELECT 1 FROM models WHERE slug = ? OR name = ?", [slug, slug])
                or path_of(ws, slug).exists()
                or (ws.content_dir / slug).exists()
            ):
                n += 1
                slug = f"{base}-{n}"
            path = path_of(ws, slug)
            folder = ws.content_dir / slug
            at = ws.now()
            strategy_json = json.dumps(strategy.model_dump(mode="json"), sort_keys=True)
            model_id = db.execute(
                """INSERT INTO models (name, slug, display_name, strategy_json, strategy_sha256, created_at, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?)""",
                [name, slug, strategy.display_name or name, strategy_json, file_sha(data), at, at],
            ).lastrowid
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "xb") as fh:
                created.append(path)
                fh.write(data)
            folder.mkdir(parents=True)
            created.append(folder)
            for kind in content.IMAGE_TYPES:
                (folder / kind).mkdir(exist_ok=True)
            (folder / content.TEXTS_FILE).write_text(TEXTS_TEMPLATE.format(name=json.dumps(name)), encoding="utf-8")
            ws.events.record(
                db,
                at,
                "model.created",
                actor,
                model_id=model_id,
                message=f"model {name} created ({label(slug)}, content/{slug}/)",
                details={"model": name, "slug": slug, "strategy": strategy.model_dump(mode="json")},
            )
            content.apply(ws, content.scan(ws, name), actor=actor)
    except BaseException:
        for p in reversed(created):
            if p.is_dir():
                _remove_tree(p)
            else:
                p.unlink(missing_ok=True)
        raise
    model = db.one("SELECT * FROM models WHERE id = ?", [model_id])
    assert model is not None  # created just above
    return model


def _remove_tree(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def load_strategy(ws: Workspace, db: Database, model: ModelRow, *, actor: str, now: datetime | None = None) -> Strategy:
    """The model's strategy as its file says now. An unchanged file (same sha256) costs one
    read; a changed one is validated (InvalidInput naming key and line) and applied: stored,
    logged as `model.strategy`, and when the slot times change, the queued future slots of the
    model's accounts are cancelled and re-planned from now by the next tick."""
    strategy, sha = strategies.on_file(ws, model)
    if sha is not None:
        _apply_strategy(ws, db, model, strategy, sha, actor=actor, now=now)
    return strategy


def _apply_strategy(
    ws: Workspace, db: Database, model: ModelRow, strategy: Strategy, sha: str, *, actor: str, now: datetime | None
) -> dict[str, Any]:
    now = ws.instant(now)
    at = to_db(now)
    old = stored(model)
    replanned = cancelled = 0
    with db.write():
        db.execute(
            "UPDATE models SET strategy_json = ?, strategy_sha256 = ?, display_name = ?, updated_at = ? WHERE id = ?",
            [
                json.dumps(strategy.model_dump(mode="json"), sort_keys=True),
                sha,
                strategy.display_name or model["name"],
                at,
                model["id"],
            ],
        )
        if old.schedule_signature != strategy.schedule_signature:
            cancelled = len(
                tasks.cancel(
                    db,
                    ws.events,
                    old=[tasks.QUEUED],
                    where=f"model_id = ? AND kind IN {_kinds_sql()} AND due_at >= ?",
                    params=[model["id"], at],
                    at=at,
                    actor=actor,
                )
            )  # counted in the model.strategy event
            replanned = db.execute(
                """UPDATE accounts SET next_slot_at = ?, updated_at = ?
                   WHERE model_id = ? AND lifecycle_state = 'active' AND onboarded_at IS NOT NULL""",
                [at, at, model["id"]],
            ).rowcount
        old_d, new_d = old.model_dump(mode="json"), strategy.model_dump(mode="json")
        changed = {k: {"old": old_d.get(k), "new": v} for k, v in new_d.items() if old_d.get(k) != v}
        ws.events.record(
            db,
            at,
            "model.strategy",
            actor,
            model_id=model["id"],
            message=f"strategy of {model['name']} applied from {label(model['slug'])}"
            + (
                f"; schedule changed: {cancelled} queued slot(s) cancelled, {replanned} account(s) re-planned"
                if replanned or cancelled
                else ""
            ),
            details={
                "model": model["name"],
                "changed": changed,
                "slots_cancelled": cancelled,
                "accounts_replanned": replanned,
            },
        )
    return {"slots_cancelled": cancelled, "accounts_replanned": replanned, "changed": sorted(changed)}


def _kinds_sql() -> str:
    return "(" + ", ".join(f"'{k}'" for k in schedule.KINDS) + ")"


def sync(ws: Workspace, name: str, *, actor: str) -> dict[str, Any]:
    """`model sync NAME`: apply the strategy file and sync the model's content folder."""
    db = ws.db()
    model = live_model(db, name)
    scanned = content.scan(ws, model["name"])  # hashing outside the write lock
    with db.write():
        model = live_model(db, name)
        before = model["strategy_sha256"]
        strategy = load_strategy(ws, db, model, actor=actor)
        synced = content.apply(ws, scanned, actor=actor)
        row = db.one("SELECT * FROM models WHERE id = ?", [model["id"]])
        assert row is not None  # models are archived, never deleted
        model = row
    return {
        "model": model["name"],
        "strategy_changed": before != model["strategy_sha256"],
        "strategy": strategy.model_dump(mode="json"),
        "content": synced["pools"][0] if synced["pools"] else None,
    }


def delete(ws: Workspace, name: str, *, actor: str) -> dict[str, Any]:
    """`model delete NAME`: archive the model (history, strategy file and content stay) and send
    each of its accounts that is active or in review to cleanup. Proxies serving it are released
    as their accounts finish cleanup (at once for proxies without its accounts). Accounts
    waiting to be reassigned to it stay ready instead."""
    db = ws.db()
    now = ws.clock.now()
    at = to_db(now)
    with db.write():
        model = live_model(db, name)
        leaving = _leaving_candidates(db, model["id"])
        for account in leaving:
            start_cleanup(ws, db, account, now=now, actor=actor, cause=f"model {model['name']} deleted")
        pending = db.query("SELECT id, username FROM accounts WHERE reassign_to_model_id = ?", [model["id"]])
        for account in pending:
            db.execute(
                "UPDATE accounts SET reassign_to_model_id = NULL, updated_at = ? WHERE id = ?", [at, account["id"]]
            )
            ws.events.record(
                db,
                at,
                "model.reassign_cancelled",
                actor,
                account_id=account["id"],
                model_id=model["id"],
                message=f"{account['username']} will not join {model['name']}: the model was deleted",
            )
        db.execute("UPDATE models SET archived_at = ?, updated_at = ? WHERE id = ?", [at, at, model["id"]])
        for proxy in db.query("SELECT id FROM proxies WHERE assigned_model_id = ?", [model["id"]]):
            proxies.refresh_proxy_model(db, proxy["id"], events=ws.events, at=at, actor=actor)
        in_cleanup = db.scalar(
            "SELECT COUNT(*) FROM accounts WHERE model_id = ? AND lifecycle_state IN ('cleanup', 'human_review')",
            [model["id"]],
        )
        ws.events.record(
            db,
            at,
            "model.deleted",
            actor,
            model_id=model["id"],
            message=f"model {model['name']} deleted (archived): {len(leaving)} account(s) sent to cleanup",
            details={
                "model": model["name"],
                "cleanup": [a["username"] for a in leaving],
                "reassign_cancelled": [a["username"] for a in pending],
            },
        )
    return {
        "model": model["name"],
        "archived_at": at,
        "cleanup": [a["username"] for a in leaving],
        "accounts_leaving": in_cleanup,
        "reassign_cancelled": [a["username"] for a in pending],
    }


def delete_preview(ws: Workspace, name: str) -> dict[str, Any]:
    """What `model delete NAME` would do now, computed without writing (the dashboard's
    confirmation page): the accounts that go to cleanup, their open tasks that are cancelled,
    the tasks bots hold that run to their end, the accounts already leaving, the pending
    reassignments cancelled, and the proxies serving the model."""
    db = ws.db()
    model = live_model(db, name)
    leaving = _leaving_candidates(db, model["id"])
    ids = [a["id"] for a in leaving]
    marks = ", ".join("?" * len(ids))
    cancelled = (
        db.scalar(
            f"SELECT COUNT(*) FROM tasks WHERE account_id IN ({marks}) AND kind != 'cleanup'"
            " AND status IN ('queued', 'review')",
            ids,
        )
        if ids
        else 0
    )
    held = (
        db.scalar(
            f"SELECT COUNT(*) FROM tasks WHERE account_id IN ({marks}) AND kind != 'cleanup' AND status = 'claimed'",
            ids,
        )
        if ids
        else 0
    )
    already = [
        a
        for a in db.query(
            "SELECT id, username FROM accounts WHERE model_id = ? AND lifecycle_state IN ('cleanup', 'human_review')"
            " ORDER BY id",
            [model["id"]],
        )
        if a["id"] not in ids
    ]
    pending = db.query("SELECT username FROM accounts WHERE reassign_to_model_id = ? ORDER BY id", [model["id"]])
    return {
        "model": model["name"],
        "cleanup": [a["username"] for a in leaving],
        "tasks_cancelled": cancelled,
        "tasks_held": held,
        "already_leaving": [a["username"] for a in already],
        "reassign_cancelled": [a["username"] for a in pending],
        "proxies": db.scalar("SELECT COUNT(*) FROM proxies WHERE assigned_model_id = ?", [model["id"]]),
    }


def _leaving_candidates(db: Database, model_id: int) -> Sequence[AccountRow]:
    """The model's accounts that are not leaving it yet: active, or in review over a model task."""
    return db.query(
        """SELECT a.* FROM accounts a
           WHERE a.model_id = ? AND a.lifecycle_state IN ('active', 'human_review')
             AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.account_id = a.id AND t.kind = 'cleanup'
                             AND t.status IN ('queued', 'claimed', 'review'))
           ORDER BY a.id""",
        [model_id],
    )


# -- onboarding, cleanup, reassignment -----------------------------------------------------------
def _account(db: Database, account_id: int) -> AccountRow:
    account = db.one("SELECT * FROM accounts WHERE id = ?", [account_id])
    assert account is not None  # accounts are never deleted
    return account


def _step_key(prefix: str, number: int) -> str:
    return f"{prefix}:{number}"


def _prefix_of(task: TaskRow) -> str:
    return task["idempotency_key"].rsplit(":", 1)[0]


def _others_open(db: Database, task: TaskRow) -> bool:
    """Whether the account has another open task of the same kind (the phase is not over)."""
    return (
        db.one(
            "SELECT 1 FROM tasks WHERE account_id = ? AND kind = ? AND id != ? AND status IN ('queued', 'claimed', 'review') LIMIT 1",
            [task["account_id"], task["kind"], task["id"]],
        )
        is not None
    )


def join(
    ws: Workspace,
    db: Database,
    account: AccountRow,
    model: ModelRow,
    strategy: Strategy,
    *,
    now: datetime,
    actor: str,
    cause: str,
) -> dict[str, Any]:
    """ready → active in `model` (the proxy's model set, after `check_model`), and the first
    onboarding step queued due now; with no onboarding steps, recurring work starts at once."""
    at = to_db(now)
    proxies.check_model(db, account["proxy_id"], model["id"])
    lifecycle.move(
        db,
        ws.events,
        account,
        lifecycle.ACTIVE,
        at=at,
        actor=actor,
        cause=cause,
        fields={
            "model_id": model["id"],
            "assigned_to_model_at": at,
            "onboarded_at": None,
            "next_slot_at": None,
            "reassign_to_model_id": None,
            "requires_human_review": 0,
            "retry_count": 0,
        },
        details={"model": model["name"], "proxy_id": account["proxy_id"]},
    )
    proxies.set_proxy_model(db, account["proxy_id"], model["id"], events=ws.events, at=at, actor=actor)
    ws.events.record(
        db,
        at,
        "model.assigned",
        actor,
        account_id=account["id"],
        model_id=model["id"],
        proxy_id=account["proxy_id"],
        message=f"{account['username']} assigned to model {model['name']}",
    )
    if strategy.onboarding:
        prefix = f"onboarding:{account['id']}:{model['id']}:{at}"
        task_id = tasks.enqueue(
            db,
            ws.events,
            account_id=account["id"],
            kind="onboarding",
            step_number=1,
            step_name=strategy.onboarding[0],
            key=_step_key(prefix, 1),
            due_at=now,
            now=now,
            actor=actor,
            model_id=model["id"],
        )
        return {"task_id": task_id, "step_name": strategy.onboarding[0]}
    _onboarded(ws, db, account, model, now, actor)
    return {"task_id": None, "step_name": None}


def _onboarded(ws: Workspace, db: Database, account: AccountRow, model: ModelRow, now: datetime, actor: str) -> None:
    at = to_db(now)
    db.execute(
        "UPDATE accounts SET onboarded_at = ?, next_slot_at = ?, updated_at = ? WHERE id = ?",
        [at, at, at, account["id"]],
    )
    ws.events.record(
        db,
        at,
        "model.onboarded",
        actor,
        account_id=account["id"],
        model_id=model["id"],
        message=f"{account['username']} onboarded in {model['name']}: recurring work starts",
    )


def _next_step(
    ws: Workspace,
    db: Database,
    task: TaskRow,
    account: AccountRow,
    steps: list[str],
    number: int,
    now: datetime,
    actor: str,
    model_id: int | None,
) -> dict[str, Any]:
    """Step `number + 1` of the task's phase (onboarding or cleanup) queued due now, or the one
    queued before under the same key (a repeated completion); the completion's `next_task`."""
    key = _step_key(_prefix_of(task), number + 1)
    task_id = tasks.enqueue(
        db,
        ws.events,
        account_id=account["id"],
        kind=task["kind"],
        step_number=number + 1,
        step_name=steps[number],
        key=key,
        due_at=now,
        now=now,
        actor=actor,
        model_id=model_id,
    )
    if task_id is None:
        task_id = db.scalar("SELECT id FROM tasks WHERE idempotency_key = ?", [key])
    return {
        "next_task": {"task_id": task_id, "step_number": number + 1, "step_name": steps[number], "due_at": to_db(now)}
    }


def onboarding_step_done(
    ws: Workspace, db: Database, task: TaskRow, account: AccountRow, now: datetime, actor: str
) -> dict[str, Any]:
    """`botwork.FOLLOW_UPS['onboarding']`: the next onboarding step queued due now, or after the
    last one the account's recurring schedule starts (from now)."""
    if account["lifecycle_state"] != lifecycle.ACTIVE or account["model_id"] != task["model_id"]:
        return {}
    model = db.one("SELECT * FROM models WHERE id = ?", [task["model_id"]])
    assert model is not None  # the account's model (checked above); models are never deleted
    steps = stored(model).onboarding
    if _others_open(db, task):
        return {}  # tasks of this phase queued some other way (by hand, older data): they go first
    number = task["step_number"] or len(steps)
    if number < len(steps):
        return _next_step(ws, db, task, account, steps, number, now, actor, model["id"])
    if account["onboarded_at"] is None:
        _onboarded(ws, db, account, model, now, actor)
    return {}


def start_cleanup(
    ws: Workspace, db: Database, account: AccountRow, *, now: datetime, actor: str, cause: str
) -> int | None:
    """active / human_review → cleanup: the account's queued and in-review model tasks are
    cancelled (a task a bot holds runs to its end), and `reset_pfp` is queued due now; the other
    cleanup steps follow one after another."""
    at = to_db(now)
    model_id = account["model_id"]
    username = account["username"]
    # The account's move to cleanup is recorded before its tasks' cancellation (the order of the
    # log before issue 14), so the move's count is read first, in this same transaction.
    open_tasks = "account_id = ? AND kind != 'cleanup'"
    cancelling = db.scalar(
        f"SELECT COUNT(*) FROM tasks WHERE status IN ('queued', 'review') AND {open_tasks}", [account["id"]]
    )
    lifecycle.move(
        db,
        ws.events,
        account,
        lifecycle.CLEANUP,
        at=at,
        actor=actor,
        cause=cause,
        fields={"next_slot_at": None, "requires_human_review": 0, "retry_count": 0},
        details={"tasks_cancelled": cancelling},
    )
    tasks.cancel(
        db,
        ws.events,
        old=[tasks.QUEUED, tasks.REVIEW],
        where=open_tasks,
        params=[account["id"]],
        at=at,
        actor=actor,
        cause="cleanup",
        account_id=account["id"],
        model_id=model_id,
        summary=lambda n: f"{n} open task(s) of {username} cancelled: {cause}",
    )
    prefix = f"cleanup:{account['id']}:{model_id}:{at}"
    return tasks.enqueue(
        db,
        ws.events,
        account_id=account["id"],
        kind="cleanup",
        step_number=1,
        step_name=CLEANUP_STEPS[0],
        key=_step_key(prefix, 1),
        due_at=now,
        now=now,
        actor=actor,
        model_id=model_id,
    )


def cleanup_step_done(
    ws: Workspace, db: Database, task: TaskRow, account: AccountRow, now: datetime, actor: str
) -> dict[str, Any]:
    """`botwork.FOLLOW_UPS['cleanup']`: the next cleanup step queued due now; after the last one
    the account is ready again without a model, its proxy's model is released when no account of
    that model remains on it, and a pending reassignment is carried out."""
    if account["lifecycle_state"] != lifecycle.CLEANUP or _others_open(db, task):
        return {}
    number = task["step_number"] or len(CLEANUP_STEPS)
    if number < len(CLEANUP_STEPS):
        return _next_step(ws, db, task, account, CLEANUP_STEPS, number, now, actor, task["model_id"])
    at = to_db(now)
    old_model = account["model_id"]
    lifecycle.move(
        db,
        ws.events,
        account,
        lifecycle.READY,
        at=at,
        actor=actor,
        cause="cleanup completed",
        fields={
            "model_id": None,
            "assigned_to_model_at": None,
            "onboarded_at": None,
            "next_slot_at": None,
            "requires_human_review": 0,
            "retry_count": 0,
        },
        details={"left_model_id": old_model},
    )
    proxies.refresh_proxy_model(db, account["proxy_id"], events=ws.events, at=at, actor=actor)
    if account["reassign_to_model_id"] is not None:
        try_reassign(ws, db, _account(db, account["id"]), now=now, actor=actor)
    return {}


def try_reassign(ws: Workspace, db: Database, account: AccountRow, *, now: datetime, actor: str) -> str | None:
    """A ready account with a pending `reassign_to_model_id` joins that model: on its proxy when
    the proxy is active and may serve the model, else moved to the proxy auto-assignment would
    pick for the model. Returns None when it joined, else why it still waits (tick tries again)."""
    target = db.one("SELECT * FROM models WHERE id = ?", [account["reassign_to_model_id"]])
    at = to_db(now)
    if target is None or target["archived_at"] is not None:
        db.execute("UPDATE accounts SET reassign_to_model_id = NULL, updated_at = ? WHERE id = ?", [at, account["id"]])
        return "the target model was deleted"
    proxy = db.one("SELECT * FROM proxies WHERE id = ?", [account["proxy_id"]]) if account["proxy_id"] else None
    fits = proxy is not None and proxy["status"] == "active"
    if fits:
        assert proxy is not None  # fits says so
        try:
            proxies.check_model(db, proxy["id"], target["id"])
        except Conflict:
            fits = False
    if not fits:
        pick = proxies.pick_proxy(db, target["id"])  # the packing rule of auto-assignment, for this model
        if pick is None:
            return f"no active proxy with room may serve model {target['name']}"
        old = account["proxy_id"]
        db.execute(
            "UPDATE accounts SET proxy_id = ?, proxy_assigned_at = ?, updated_at = ? WHERE id = ?",
            [pick["id"], at, at, account["id"]],
        )
        ws.events.record(
            db,
            at,
            "proxy.moved",
            actor,
            account_id=account["id"],
            proxy_id=pick["id"],
            model_id=target["id"],
            cause="reassign",
            message=f"{account['username']}: proxy {old} → proxy {pick['id']} to join {target['name']}",
            details={"from_proxy_id": old, "to_proxy_id": pick["id"]},
        )
        proxies.refresh_proxy_model(db, old, events=ws.events, at=at, actor=actor)
        account = _account(db, account["id"])
    join(ws, db, account, target, stored(target), now=now, actor=actor, cause=f"reassigned to {target['name']}")
    return None


def reassign_pending(ws: Workspace, db: Database, now: datetime, actor: str) -> dict[str, Any]:
    """Tick: ready accounts whose reassignment waited for room try again."""
    joined, waiting = [], 0
    for account in db.query(
        "SELECT * FROM accounts WHERE reassign_to_model_id IS NOT NULL AND lifecycle_state = 'ready' ORDER BY id"
    ):
        if try_reassign(ws, db, account, now=now, actor=actor) is None:
            joined.append(account["username"])
        else:
            waiting += 1
    return {"joined": joined, "waiting": waiting}


def unassign(ws: Workspace, name: str, usernames: list[str], *, actor: str) -> dict[str, Any]:
    """`model unassign NAME USERNAME…`: each named account of the model (active, or in review
    over a model task) goes to cleanup. All or nothing: an unknown account, or one not in the
    model or already leaving it, is an error and nothing changes."""
    if not usernames:
        raise InvalidInput("name at least one account")
    db = ws.db()
    now = ws.clock.now()
    with db.write():
        model = find_model(db, name)
        leaving = {a["id"]: a for a in _leaving_candidates(db, model["id"])}
        chosen, problems, seen = [], [], set()
        for username in usernames:
            row = db.one("SELECT * FROM accounts WHERE username = ?", [username.strip()])
            if row is None:
                raise NotFound(f"no account named {username}")
            if row["id"] in seen:
                continue
            seen.add(row["id"])
            if row["id"] in leaving:
                chosen.append(row)
            elif row["model_id"] == model["id"]:
                problems.append(f"{row['username']} ({row['lifecycle_state']}, already leaving)")
            else:
                problems.append(f"{row['username']} ({row['lifecycle_state']}, not in {model['name']})")
        if problems:
            raise IllegalTransition(f"cannot unassign from {model['name']}: {', '.join(problems)}")
        for account in chosen:
            start_cleanup(ws, db, account, now=now, actor=actor, cause=f"unassigned from {model['name']}")
    return {"model": model["name"], "cleanup": [a["username"] for a in chosen]}


# -- batch assignment --------------------------------------------------------------------------------
def _followers_sql(alias: str = "a") -> str:
    return (
        f"(SELECT x.followers FROM account_metrics x WHERE x.account_id = {alias}.id AND x.followers IS NOT NULL"
        " ORDER BY x.at DESC, x.id DESC LIMIT 1)"
    )


def candidates(
    ws: Workspace,
    db: Database,
    model: ModelRow,
    strategy: Strategy,
    *,
    location: str | None = None,
    max_retries: int | None = None,
    min_followers: int | None = None,
    account_ids: list[int] | None = None,
) -> list[dict[str, Any]]:
    """View B and the pool of `assign`: the ready accounts (only `account_ids` when given; only
    on proxies in `location` when given), each with whether this model may take it and why not,
    best first: preferred location (the strategy's `locations`, in order), then a proxy that
    already serves the model, then the longest ready, then the lowest id."""
    where: list[str] = ["a.lifecycle_state = 'ready'"]
    params: list[Any] = []
    if account_ids is not None:
        where.append(f"a.id IN ({', '.join('?' * len(account_ids))})")
        params += account_ids
    if location is not None:
        where.append("p.location = ? COLLATE NOCASE")
        params.append(location.strip())
    rows = db.query(
        f"""SELECT a.id, a.username, a.lifecycle_state, a.proxy_id, a.model_id, a.warmup_started_at,
                   a.warmup_completed_at, a.reassign_to_model_id, p.location, p.status AS proxy_status,
                   p.assigned_model_id, pm.name AS proxy_model, {_followers_sql()} AS followers,
                   (SELECT COUNT(*) FROM step_log s WHERE s.account_id = a.id AND s.kind = 'warmup'
                      AND s.status IN ('failed', 'requires_review')) AS warmup_retries,
                   (SELECT m2.name FROM accounts o JOIN models m2 ON m2.id = o.model_id
                      WHERE o.proxy_id = a.proxy_id AND o.model_id IS NOT NULL AND o.model_id != :model
                        AND o.lifecycle_state != 'retired' LIMIT 1) AS other_model
            FROM accounts a LEFT JOIN proxies p ON p.id = a.proxy_id LEFT JOIN models pm ON pm.id = p.assigned_model_id
            WHERE {" AND ".join(where)}""".replace(":model", "?"),
        [model["id"], *params],
    )
    preferred = [loc.lower() for loc in strategy.locations]
    out = []
    for r in rows:
        reason = None
        if r["proxy_id"] is None:
            reason = "no proxy"
        elif r["proxy_status"] != "active":
            reason = f"proxy {r['proxy_id']} is {r['proxy_status']}"
        elif r["assigned_model_id"] not in (None, model["id"]):
            reason = f"proxy {r['proxy_id']} serves model {r['proxy_model']}"
        elif r["other_model"] is not None:
            reason = f"proxy {r['proxy_id']} serves model {r['other_model']}"
        elif r["reassign_to_model_id"] not in (None, model["id"]):
            reason = "waits to join another model (reassignment)"
        elif max_retries is not None and r["warmup_retries"] > max_retries:
            reason = f"{r['warmup_retries']} warm-up retries (more than the maximum of {max_retries})"
        elif min_followers is not None and (r["followers"] is None or r["followers"] < min_followers):
            have = "no followers reported" if r["followers"] is None else f"{r['followers']} followers"
            reason = f"{have} (fewer than the minimum of {min_followers})"
        loc = (r["location"] or "").lower()
        rank = preferred.index(loc) if loc in preferred else len(preferred)
        warmup_hours = None
        if r["warmup_started_at"] and r["warmup_completed_at"]:
            warmup_hours = round(
                (from_db(r["warmup_completed_at"]) - from_db(r["warmup_started_at"])).total_seconds() / 3600, 1
            )
        out.append(
            {
                "account_id": r["id"],
                "username": r["username"],
                "lifecycle_state": r["lifecycle_state"],
                "proxy_id": r["proxy_id"],
                "proxy_location": r["location"],
                "proxy_model": r["proxy_model"],
                "preferred_location": bool(preferred) and rank < len(preferred),
                "warmup_started_at": r["warmup_started_at"],
                "warmup_completed_at": r["warmup_completed_at"],
                "warmup_hours": warmup_hours,
                "warmup_retries": r["warmup_retries"],
                "followers": r["followers"],
                "eligible": reason is None,
                "reason": reason,
                "_key": (rank, r["assigned_model_id"] != model["id"], r["warmup_completed_at"] or "", r["id"]),
            }
        )
    out.sort(key=lambda c: c.pop("_key"))
    return out


def check_filters(count: int | None, max_retries: int | None, min_followers: int | None) -> None:
    for name, what, value, minimum in (
        ("count", "the number of accounts", count, 1),
        ("max_retries", "the maximum of warm-up retries", max_retries, 0),
        ("min_followers", "the minimum of followers", min_followers, 0),
    ):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < minimum):
            raise InvalidInput(f"{what} must be a whole number of at least {minimum}", about=(name,))


def assign(
    ws: Workspace,
    name: str,
    *,
    usernames: list[str] | None = None,
    count: int | None = None,
    location: str | None = None,
    max_retries: int | None = None,
    min_followers: int | None = None,
    reassign: bool = False,
    actor: str,
    now: datetime | str | None = None,
) -> dict[str, Any]:
    """`model assign`: `--count N` takes the N best eligible ready accounts (fewer when fewer
    are eligible); named accounts are each assigned or skipped with the reason. A named account
    that does not exist or is not `ready` is an error and nothing changes, except with
    `reassign` an account active in another model, which goes through cleanup first and joins
    this model by itself afterwards. Returns `{"model", "assigned": [usernames], "skipped":
    [{"username", "reason"}], "reassigning": [usernames], "dry_run"}`. Joins the caller's
    transaction (an operator's change, engine/store/changes.py); `dry_run` says whether that
    transaction is a dry run, which will be rolled back."""
    if (count is None) == (not usernames):
        raise InvalidInput("give a number of accounts or their usernames, not both", about=("count", "usernames"))
    if reassign and not usernames:
        raise InvalidInput(
            "reassignment works on named accounts: give their usernames", about=("reassign", "usernames")
        )
    check_filters(count, max_retries, min_followers)
    db = ws.db()
    now = ws.instant(now)
    with db.write():
        result = _assign(
            ws,
            db,
            model=live_model(db, name),
            usernames=usernames,
            count=count,
            location=location,
            max_retries=max_retries,
            min_followers=min_followers,
            reassign=reassign,
            now=now,
            actor=actor,
        )
        result["dry_run"] = db.dry_run
    return result


def check_onboarding_content(db: Database, model: ModelRow, strategy: Strategy) -> None:
    """A model takes accounts only when its pool can serve every onboarding step: an account
    assigned without it would sit in onboarding with a task no bot can be given. The refusal
    names what is missing and where it goes."""
    lacking = content.lacking_for_steps(db, "onboarding", strategy.onboarding, model["id"])
    if not lacking:
        return
    sets = strategy.template_sets
    where = (
        f"its content or its template sets ({', '.join(sets)})" if sets else "its content (it lists no template set)"
    )
    parts = []
    for item in lacking:
        place = (
            f"content/{item['pool']}/{item['type']}/"
            if item["kind"] == "image"
            else (f"content/{item['pool']}/texts.yaml under {item['type']}:")
        )
        parts.append(f"a {item['type']} {item['kind']} for {', '.join(item['steps'])} (put it in {place})")
    raise Conflict(
        f"model {model['name']} cannot take accounts yet: nothing in {where} serves its onboarding: "
        + "; ".join(parts)
        + ". Add it (igctl content add, or the dashboard's Content page), then assign again."
    )


def _assign(
    ws: Workspace,
    db: Database,
    *,
    model: ModelRow,
    usernames: list[str] | None,
    count: int | None,
    location: str | None,
    max_retries: int | None,
    min_followers: int | None,
    reassign: bool,
    now: datetime,
    actor: str,
) -> dict[str, Any]:
    strategy = load_strategy(ws, db, model, actor=actor, now=now)
    check_onboarding_content(db, model, strategy)
    assigned: list[str] = []
    skipped: list[dict[str, Any]] = []
    reassigning: list[str] = []
    room = None
    if strategy.max_accounts is not None:
        current = db.scalar(
            "SELECT COUNT(*) FROM accounts WHERE model_id = ? AND lifecycle_state IN ('active', 'human_review')",
            [model["id"]],
        )
        room = max(strategy.max_accounts - current, 0)
    cause = f"assigned to model {model['name']}"
    if usernames:
        rows, problems, missing, seen = [], [], [], set()
        for username in usernames:
            row = db.one("SELECT * FROM accounts WHERE username = ?", [username.strip()])
            if row is None:
                missing.append(username)
                continue
            if row["id"] in seen:
                continue
            seen.add(row["id"])
            rows.append(row)
        if missing:
            raise NotFound(f"no account named {', '.join(missing)}")
        ready, moving = [], []
        for row in rows:
            state = row["lifecycle_state"]
            if state == lifecycle.READY:
                ready.append(row)
            elif row["model_id"] == model["id"] and state in (
                lifecycle.ACTIVE,
                lifecycle.HUMAN_REVIEW,
                lifecycle.CLEANUP,
            ):
                skipped.append({"username": row["username"], "reason": f"already in model {model['name']} ({state})"})
            elif state == lifecycle.ACTIVE and row["model_id"] is not None and reassign:
                moving.append(row)
            elif state == lifecycle.ACTIVE and row["model_id"] is not None:
                other = db.scalar("SELECT name FROM models WHERE id = ?", [row["model_id"]])
                problems.append(f"{row['username']} is active in model {other} (it can be reassigned)")
            else:
                problems.append(f"{row['username']} is {state}")
        if problems:
            reassignable = any("reassigned" in p for p in problems)
            raise IllegalTransition(
                "only ready accounts can be assigned: " + "; ".join(problems),
                about=("reassign",) if reassignable else (),
            )
        pool = (
            candidates(
                ws,
                db,
                model,
                strategy,
                location=location,
                max_retries=max_retries,
                min_followers=min_followers,
                account_ids=[r["id"] for r in ready],
            )
            if ready
            else []
        )
        in_pool = {c["account_id"] for c in pool}
        for row in ready:
            if row["id"] not in in_pool:
                skipped.append({"username": row["username"], "reason": f"its proxy is not in {location}"})
        by_id = {r["id"]: r for r in ready}
        for c in sorted(pool, key=lambda c: [r["id"] for r in ready].index(c["account_id"])):
            if not c["eligible"]:
                skipped.append({"username": c["username"], "reason": c["reason"]})
            elif room is not None and len(assigned) >= room:
                skipped.append(
                    {
                        "username": c["username"],
                        "reason": f"model {model['name']} is full (max_accounts {strategy.max_accounts})",
                    }
                )
            else:
                join(ws, db, by_id[c["account_id"]], model, strategy, now=now, actor=actor, cause=cause)
                assigned.append(c["username"])
        for row in moving:
            reason = _reassign_check(db, row, model, [m["id"] for m in moving])
            if reason is not None:
                skipped.append({"username": row["username"], "reason": reason})
                continue
            old = db.scalar("SELECT name FROM models WHERE id = ?", [row["model_id"]])
            start_cleanup(ws, db, row, now=now, actor=actor, cause=f"reassigned from {old} to {model['name']}")
            db.execute("UPDATE accounts SET reassign_to_model_id = ? WHERE id = ?", [model["id"], row["id"]])
            ws.events.record(
                db,
                to_db(now),
                "model.reassign",
                actor,
                account_id=row["id"],
                model_id=model["id"],
                message=f"{row['username']} leaves {old} through cleanup, then joins {model['name']}",
                details={"from_model": old, "to_model": model["name"]},
            )
            reassigning.append(row["username"])
    else:
        pool = candidates(
            ws, db, model, strategy, location=location, max_retries=max_retries, min_followers=min_followers
        )
        assert count is not None  # assign() takes a count or usernames
        limit = count if room is None else min(count, room)
        for c in pool:
            if not c["eligible"]:
                skipped.append({"username": c["username"], "reason": c["reason"]})
            elif len(assigned) < limit:
                join(ws, db, _account(db, c["account_id"]), model, strategy, now=now, actor=actor, cause=cause)
                assigned.append(c["username"])
    return {"model": model["name"], "assigned": assigned, "skipped": skipped, "reassigning": reassigning}


def _reassign_check(db: Database, account: AccountRow, target: ModelRow, moving_ids: list[int]) -> str | None:
    """Why an active account cannot be reassigned to `target` (None: it can). Its proxy will do
    when no account of another model stays on it (besides those leaving with it); else another
    active proxy with room must be able to serve the target."""
    marks = ", ".join("?" * len(moving_ids))
    other = db.scalar(
        f"""SELECT m.name FROM accounts a JOIN models m ON m.id = a.model_id
            WHERE a.proxy_id = ? AND a.lifecycle_state != 'retired' AND a.model_id != ? AND a.id NOT IN ({marks}) LIMIT 1""",
        [account["proxy_id"], target["id"], *moving_ids],
    )
    proxy_ok = db.scalar("SELECT status FROM proxies WHERE id = ?", [account["proxy_id"]]) == "active"
    if other is None and proxy_ok:
        return None
    if proxies.pick_proxy(db, target["id"]) is not None:
        return None
    why = (
        f"its proxy {account['proxy_id']} keeps serving {other}"
        if other
        else f"its proxy {account['proxy_id']} is not active"
    )
    return f"{why} and no other active proxy with room may serve model {target['name']}"


# -- tick: strategies and recurring slots ---------------------------------------------------------
def sync_strategies(ws: Workspace, db: Database, now: datetime, actor: str) -> dict[str, Any]:
    """Tick: apply every live model's changed strategy file. A file that is missing or invalid
    leaves the stored strategy in force; it is reported (and shown under needs attention)."""
    applied, errors = [], []
    for model in db.query("SELECT * FROM models WHERE archived_at IS NULL ORDER BY id"):
        before = model["strategy_sha256"]
        try:
            load_strategy(ws, db, model, actor=actor, now=now)
        except InvalidInput as exc:
            errors.append({"model": model["name"], "error": exc.message})
            continue
        if db.scalar("SELECT strategy_sha256 FROM models WHERE id = ?", [model["id"]]) != before:
            applied.append(model["name"])
    return {"applied": applied, "errors": errors}


def strategy_problems(ws: Workspace, db: Database | None = None) -> list[dict[str, Any]]:
    """Live models whose strategy file is missing or invalid (for needs attention)."""
    db = db or ws.db()
    out = []
    for model in db.query("SELECT * FROM models WHERE archived_at IS NULL ORDER BY id"):
        path = path_of(ws, model["slug"])
        try:
            data = path.read_bytes()
            if file_sha(data) != model["strategy_sha256"]:
                strategies.check_template_sets(db, read_file(path, label(model["slug"]))[1], label(model["slug"]))
        except FileNotFoundError:
            out.append({"model": model["name"], "model_id": model["id"], "error": f"{label(model['slug'])} not found"})
        except InvalidInput as exc:
            out.append({"model": model["name"], "model_id": model["id"], "error": exc.message})
    return out


# The partial index holds only active accounts with a next slot; INDEXED BY keeps the planner
# from scanning every active account instead (tick's cost must follow the work due).
DUE_ACCOUNTS_SQL = """
    SELECT id, username, model_id, next_slot_at FROM accounts INDEXED BY accounts_next_slot
    WHERE lifecycle_state = 'active' AND next_slot_at IS NOT NULL AND next_slot_at <= ?
    ORDER BY next_slot_at, id
"""


def schedule_due(ws: Workspace, db: Database, now: datetime, actor: str) -> dict[str, Any]:
    """Tick: for every active account whose next slot falls within the next 24 hours, queue a
    task for each slot from its `next_slot_at` up to now + 24 h that was not missed by
    `schedule.grace_hours` or more (older ones are skipped, with one event per account), each
    stale `grace_hours` after its slot; then move `next_slot_at` to the first slot after the
    horizon. One indexed query finds the accounts; nothing else is read when none is due."""
    horizon = now + HORIZON
    grace = timedelta(hours=ws.config.schedule.grace_hours)
    at = to_db(now)
    rows = db.query(DUE_ACCOUNTS_SQL, [to_db(horizon)])
    strategies: dict[int, Strategy] = {}
    queued = skipped = 0
    for r in rows:
        if r["model_id"] not in strategies:
            model = db.one("SELECT * FROM models WHERE id = ?", [r["model_id"]])
            assert model is not None  # models are archived, never deleted
            strategies[r["model_id"]] = stored(model)
        strategy = strategies[r["model_id"]]
        plan_ = strategy.schedule_dict()
        start = from_db(r["next_slot_at"]) - timedelta(milliseconds=1)
        floor = now - grace
        if start < floor:
            missed = len(schedule.slots_between(plan_, strategy.active_hours, ws.tz, r["id"], start, floor))
            if missed:
                skipped += missed
                ws.events.record(
                    db,
                    at,
                    "schedule.skipped",
                    actor,
                    account_id=r["id"],
                    model_id=r["model_id"],
                    message=f"{missed} slot(s) of {r['username']} missed by more than {ws.config.schedule.grace_hours:g} h skipped",
                    details={"slots": missed, "from": r["next_slot_at"], "until": to_db(floor)},
                )
            start = floor
        for slot in schedule.slots_between(plan_, strategy.active_hours, ws.tz, r["id"], start, horizon):
            key = f"{slot.kind}:{r['id']}:{r['model_id']}:{strategy.schedule_signature}:{to_db(slot.at)}"
            if (
                tasks.enqueue(
                    db,
                    ws.events,
                    account_id=r["id"],
                    kind=slot.kind,
                    step_name=slot.kind,
                    key=key,
                    due_at=slot.at,
                    now=now,
                    actor=actor,
                    model_id=r["model_id"],
                    stale_at=slot.at + grace,
                )
                is not None
            ):
                queued += 1
        following = schedule.next_after(plan_, strategy.active_hours, ws.tz, r["id"], horizon)
        db.execute(
            "UPDATE accounts SET next_slot_at = ? WHERE id = ?", [to_db(following) if following else None, r["id"]]
        )
    return {"accounts": len(rows), "queued": queued, "skipped": skipped}
