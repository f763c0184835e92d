"""An account's credentials: changing its e-mail address, password and e-mail password
(`igctl accounts update`, the account page of the dashboard).

Secrets are encrypted with the workspace key as the import stores them (`ws.cipher`), never
written to an event (the `account.credentials` event names the fields that changed) and never
returned. The bot API decrypts them from the account at each claim, so the next task handed out
for the account carries the new ones; a task a bot already holds keeps what it was handed.
"""

from __future__ import annotations

from typing import Any

from ..store.errors import Conflict, InvalidInput
from ..store.workspace import Workspace
from . import accounts, lifecycle

# Longer than any password a person or a provider sets, short enough that a pasted file or a
# key by mistake is refused rather than stored.
MAX_SECRET_CHARS = 256
MAX_EMAIL_CHARS = 254  # the longest address SMTP carries (RFC 5321)
FIELDS = ("email", "password", "email_password")
COLUMNS = {"email": "email", "password": "password_enc", "email_password": "email_password_enc"}
WORDS = {"email": "e-mail address", "password": "password", "email_password": "e-mail password"}


def _check_email(email: str) -> str:
    email = email.strip()
    if not email:
        raise InvalidInput("an e-mail address may not be empty", about=("email",))
    if len(email) > MAX_EMAIL_CHARS:
        raise InvalidInput(f"an e-mail address is at most {MAX_EMAIL_CHARS} characters", about=("email",))
    if accounts.CONTROL.search(email) or not accounts.EMAIL.match(email):
        raise InvalidInput(f"{email[:60]!r} is not an e-mail address", about=("email",))
    return email


def _check_secret(value: str, field: str) -> str:
    """A password as given: never quoted back in an error."""
    word = WORDS[field]
    if value == "":
        raise InvalidInput(f"{_a(word)} may not be empty", about=(field,))
    if len(value) > MAX_SECRET_CHARS:
        raise InvalidInput(f"{_a(word)} is at most {MAX_SECRET_CHARS} characters", about=(field,))
    if accounts.CONTROL.search(value) or "\t" in value:
        raise InvalidInput(f"{_a(word)} may not contain control characters", about=(field,))
    if value != value.strip():
        # an accounts file's fields are stripped, so such a password could never be imported either
        raise InvalidInput(f"{_a(word)} may not begin or end with a space", about=(field,))
    return value


def _a(word: str) -> str:
    return ("an " if word[0] in "aeiou" else "a ") + word


def field_words(fields: list[str]) -> str:
    """Fields in words: ["password", "email_password"] → "password and e-mail password"."""
    names = [WORDS[f] for f in fields]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def update_credentials(
    ws: Workspace,
    username: str,
    *,
    email: str | None = None,
    password: str | None = None,
    email_password: str | None = None,
    actor: str,
) -> dict[str, Any]:
    """Change the given credentials of `username` (None: keep). Refused, with nothing changed:
    nothing given, an empty or malformed value, a secret over MAX_SECRET_CHARS (InvalidInput),
    an unknown account (NotFound), a retired one (Conflict: it never gets a task again), and
    values that are all the ones stored already (InvalidInput, nothing to change).

    Writes the new values (secrets encrypted) and one `account.credentials` event naming the
    changed fields, without any secret. Returns `{"id", "username", "changed": [fields],
    "unchanged": [fields given with their stored value], "tasks_in_hand": [ids of tasks bots
    hold now, handed out with the old credentials]}`."""
    given = {"email": email, "password": password, "email_password": email_password}
    if all(v is None for v in given.values()):
        raise InvalidInput(
            "nothing to change: give a new e-mail address, password or e-mail password",
            about=("email", "password", "email_password"),
        )
    if email is not None:
        email = _check_email(email)
    if password is not None:
        password = _check_secret(password, "password")
    if email_password is not None:
        email_password = _check_secret(email_password, "email_password")
    db = ws.db()
    with db.write():
        row = accounts.get_account(ws, username, db)
        name = row["username"]
        if row["lifecycle_state"] == lifecycle.RETIRED:
            raise Conflict(
                f"account {name} is retired: it never gets a task again, so its credentials stay as they are"
            )
        cipher = ws.cipher
        changed: list[str] = []
        unchanged: list[str] = []
        stored = {
            "email": row["email"],
            "password": cipher.decrypt(row["password_enc"]),
            "email_password": cipher.decrypt(row["email_password_enc"]),
        }
        given = {"email": email, "password": password, "email_password": email_password}
        for field in FIELDS:
            if given[field] is not None:
                (changed if given[field] != stored[field] else unchanged).append(field)
        if not changed:
            raise InvalidInput(f"nothing to change: {name} already has the {field_words(unchanged)} given")
        at = ws.now()
        sets = {COLUMNS[f]: (given[f] if f == "email" else cipher.encrypt(given[f])) for f in changed}
        db.execute(
            f"UPDATE accounts SET {', '.join(f'{c} = ?' for c in sets)}, updated_at = ? WHERE id = ?",
            [*sets.values(), at, row["id"]],
        )
        in_hand = [
            r["id"]
            for r in db.query(
                "SELECT id FROM tasks WHERE account_id = ? AND status = 'claimed' ORDER BY id", [row["id"]]
            )
        ]
        details: dict[str, Any] = {"changed": changed}
        if "email" in changed:
            details["old_email"], details["new_email"] = row["email"], email
        if in_hand:
            details["tasks_in_hand"] = in_hand
        ws.events.record(
            db,
            at,
            "account.credentials",
            actor,
            account_id=row["id"],
            model_id=row["model_id"],
            message=f"{name}: {field_words(changed)} changed",
            details=details,
        )
        return {"id": row["id"], "username": name, "changed": changed, "unchanged": unchanged, "tasks_in_hand": in_hand}
