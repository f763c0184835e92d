"""Secrets at rest: Fernet, with the key in `secret.key` (mode 0600) or `IGCTL_SECRET_KEY`.

The key file holds one key a line, the first one current. During `secrets rotate` it briefly
holds the new key and the old one (MultiFernet), so a crash half-way leaves every secret
readable; when every value is re-encrypted the old key is dropped.

A known value encrypted at `init` (`meta.key_check`) tells a wrong key from damaged data, so a
wrong key is a clear error at once and never garbage.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from .errors import SecretError

ENV_KEY = "IGCTL_SECRET_KEY"
KEY_CHECK_PLAINTEXT = "igctl key check"

# Every column that holds a secret, as (table, column). `secrets rotate` walks this list.
SECRET_COLUMNS = [
    ("accounts", "password_enc"),
    ("accounts", "email_password_enc"),
    ("accounts", "extras_enc"),
    ("proxies", "password_enc"),
    ("meta", "value"),  # only the row key_check; see rotate()
]


def write_key_file(path: Path, keys: list[bytes]) -> None:
    """Write atomically with mode 0600 from the first byte (never briefly world-readable)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, b"\n".join(keys) + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _parse_keys(text: str, source: str) -> list[bytes]:
    keys = [line.strip().encode() for line in text.splitlines() if line.strip()]
    if not keys:
        raise SecretError(f"{source} holds no key")
    for key in keys:
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise SecretError(f"{source} does not hold a valid Fernet key") from None
    return keys


def load_keys(key_path: Path) -> tuple[list[bytes], str]:
    """The keys (current first) and where they came from."""
    env = os.environ.get(ENV_KEY)
    if env:
        return _parse_keys(env.replace(",", "\n"), ENV_KEY), ENV_KEY
    try:
        st = key_path.stat()
    except FileNotFoundError:
        raise SecretError(
            f"the key file {key_path} is missing (restore it from your backup, or set {ENV_KEY})"
        ) from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretError(
            f"the key file {key_path} is readable by others (mode {stat.S_IMODE(st.st_mode):04o}); "
            f"run: chmod 600 {key_path}"
        )
    return _parse_keys(key_path.read_text(encoding="ascii", errors="replace"), str(key_path.name)), str(key_path)


class Cipher:
    def __init__(self, keys: list[bytes], source: str = "key"):
        self.keys = keys
        self.source = source
        self._fernet = MultiFernet([Fernet(k) for k in keys])

    def encrypt(self, plaintext: str | None) -> str | None:
        if plaintext is None:
            return None
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str | None) -> str | None:
        if token is None:
            return None
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise SecretError(
                f"cannot decrypt a stored secret with the key from {self.source}: "
                "wrong key for this workspace"
            ) from None

    def rotate_token(self, token: str | None) -> str | None:
        if token is None:
            return None
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except InvalidToken:
            raise SecretError(f"cannot re-encrypt a stored secret with the key from {self.source}") from None

    def check(self, key_check: str | None) -> None:
        if key_check is not None and self.decrypt(key_check) != KEY_CHECK_PLAINTEXT:
            raise SecretError(f"the key from {self.source} is not this workspace's key")


def new_key() -> bytes:
    return Fernet.generate_key()


def rotate(ws, actor: str = "operator") -> dict:
    """A new key; every stored secret re-encrypted with it; the old key dropped.

    Order matters for crash safety: (1) the key file gets [new, old] — both accepted;
    (2) one transaction re-encrypts every value with the new key; (3) the key file gets [new].
    A crash after (1) or (2) leaves a file that still decrypts everything; running rotate again
    finishes the job.
    """
    if os.environ.get(ENV_KEY):
        raise SecretError(
            f"{ENV_KEY} is set: rotate the key where it is kept, or unset it to rotate secret.key"
        )
    old_keys, _ = load_keys(ws.key_path)
    old = Cipher(old_keys, ws.key_path.name)
    db = ws.db()
    old.check(db.scalar("SELECT value FROM meta WHERE key = 'key_check'"))
    key = new_key()
    write_key_file(ws.key_path, [key, *old_keys])
    both = Cipher([key, *old_keys], ws.key_path.name)
    counts: dict[str, int] = {}
    with db.write():
        for table, column in SECRET_COLUMNS:
            where = f"{column} IS NOT NULL" + (" AND key = 'key_check'" if table == "meta" else "")
            pk = "key" if table == "meta" else "id"
            rows = db.query(f"SELECT {pk} AS pk, {column} AS value FROM {table} WHERE {where}")
            db.conn.executemany(
                f"UPDATE {table} SET {column} = ? WHERE {pk} = ?",
                [(both.rotate_token(r["value"]), r["pk"]) for r in rows],
            )
            if table != "meta":
                counts[table] = counts.get(table, 0) + len(rows)
        ws.events.record(db, ws.now(), "secrets.rotate", actor, details={"re_encrypted": counts})
    write_key_file(ws.key_path, [key])
    ws.forget_cipher()
    return {"re_encrypted": counts, "total": sum(counts.values())}
