"""Arranging a workspace for the warm-up tests: proxies, accounts in a given state, bots and
template content, through the real engine where it has a function for it and by plain rows
where a test needs a state directly (arranging, not transitioning)."""

from __future__ import annotations

from igctl.engine.domain import bots, content, proxies
from igctl.engine.store.clock import to_db
from igctl.engine.store.workspace import Workspace

# A tiny valid JPEG is not needed: content sync hashes bytes and checks the extension.
IMAGE_BYTES = b"\xff\xd8\xff\xe0 not really a jpeg, but bytes to hash \xff\xd9"


def add_proxies(ws: Workspace, n: int, *, status: str = "active", start: int = 1) -> list[int]:
    ids = []
    for i in range(start, start + n):
        p = proxies.add(ws, f"10.0.{i // 250}.{i % 250 + 1}:8080:user{i}:secret{i}", actor="test")
        ids.append(p["id"])
        if status != "active":
            proxies.set_status(ws, p["id"], status, actor="test")
    return ids


def add_accounts(
    ws: Workspace,
    n: int,
    *,
    state: str = "proxy_assigned",
    proxy_ids: list[int] | None = None,
    prefix: str = "acct",
    start: int = 1,
    per_proxy: int = 3,
    **fields,
) -> list[int]:
    """n accounts in `state`, spread over `proxy_ids` (per_proxy on each) when given."""
    db = ws.db()
    cipher = ws.cipher
    now = ws.now()
    ids = []
    with db.write():
        for k in range(n):
            i = start + k
            proxy_id = proxy_ids[k // per_proxy] if proxy_ids else None
            row = {
                "username": f"{prefix}{i:05d}",
                "password_enc": cipher.encrypt(f"pw-{prefix}-{i}"),
                "email": f"{prefix}{i}@example.com",
                "email_password_enc": cipher.encrypt(f"mailpw-{prefix}-{i}"),
                "lifecycle_state": state,
                "proxy_id": proxy_id,
                "proxy_assigned_at": now if proxy_id else None,
                "created_at": now,
                "updated_at": now,
                **fields,
            }
            cur = db.execute(
                f"INSERT INTO accounts ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", list(row.values())
            )
            ids.append(cur.lastrowid)
    return ids


def fleet(ws: Workspace, n: int, *, state: str = "proxy_assigned", prefix: str = "acct", **fields) -> list[int]:
    """n accounts, each three on one new active proxy."""
    proxy_ids = add_proxies(ws, (n + 2) // 3, start=_next_proxy_number(ws))
    return add_accounts(ws, n, state=state, proxy_ids=proxy_ids, prefix=prefix, **fields)


def _next_proxy_number(ws: Workspace) -> int:
    return (ws.db().scalar("SELECT MAX(id) FROM proxies") or 0) + 1


def add_bot(ws: Workspace, name: str, slots: int | None = None) -> int:
    return bots.add(ws, name, slots=slots, actor="test")["id"]


def seed_templates(ws: Workspace) -> None:
    """Template content for every default warm-up step, synced into the database."""
    root = ws.content_dir / "_templates"
    for kind in ("pfp", "post", "story", "highlight"):
        for i in range(3):
            (root / kind / f"{kind}{i}.jpg").write_bytes(IMAGE_BYTES + f"{kind}{i}".encode())
    (root / "texts.yaml").write_text(
        "bio: [first bio, second bio, third bio]\npost: [a caption]\nstory: [a story text]\nhighlight: [Highlights]\n",
        encoding="utf-8",
    )
    content.sync(ws, "_templates", actor="test")


def seed_model_content(ws: Workspace, *names: str) -> None:
    """A profile picture and a bio in each model's own pool: what the default onboarding
    (change_pfp, change_bio) needs before the model may take accounts."""
    for name in names:
        slug = ws.db().scalar("SELECT slug FROM models WHERE name = ?", [name])
        folder = ws.content_dir / slug
        (folder / "pfp").mkdir(parents=True, exist_ok=True)
        (folder / "pfp" / f"{slug}-face.jpg").write_bytes(IMAGE_BYTES + slug.encode())
        (folder / "texts.yaml").write_text(f"bio: [{slug} bio one, {slug} bio two]\n", encoding="utf-8")
        content.sync(ws, name, actor="test")


def account(ws: Workspace, account_id: int):
    return ws.db().one("SELECT * FROM accounts WHERE id = ?", [account_id])


def by_name(ws: Workspace, username: str):
    return ws.db().one("SELECT * FROM accounts WHERE username = ?", [username])


def open_tasks(ws: Workspace, account_id: int) -> list:
    return ws.db().query(
        "SELECT * FROM tasks WHERE account_id = ? AND status IN ('queued', 'claimed', 'review') ORDER BY id",
        [account_id],
    )


def snapshot(ws: Workspace) -> dict:
    """Every row of the tables the warm-up touches, to check that a refused command changed nothing."""
    db = ws.db()
    return {
        t: [tuple(r) for r in db.query(f"SELECT * FROM {t} ORDER BY rowid")]
        for t in ("accounts", "tasks", "step_log", "events", "bots", "proxies", "content_usage")
    }


def utc(text: str) -> str:
    """An ISO time with offset as the stored form."""
    from igctl.engine.store.clock import parse_instant

    return to_db(parse_instant(text))
